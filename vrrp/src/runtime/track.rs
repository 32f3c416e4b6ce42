//! Tracked objects of an instance (`track_script`, `track_interface`) and
//! the `vrrp_script` runner that feeds them.
//!
//! keepalived (reference 4.6): an unweighted (weight 0) object that fails
//! puts the instance in FAULT; a weighted one adjusts the priority: a
//! positive weight is added while the object is OK, a negative one is added
//! while it has failed; `reverse` swaps OK and failed. A vrrp_script runs
//! every `interval`, is killed at `timeout` (a failure); `rise` successes in
//! a row make it OK and `fall` failures make it KO, except that the first
//! result is applied at once. Log lines: "VRRP_Script(chk) succeeded",
//! "... failed", "... timed_out".

use super::{CtlTx, InstanceMsg};
use crate::io::notify::NotifyCmd;
use std::collections::HashMap;
use std::time::Duration;
use tracing::info;

/// One tracked object as an instance sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    pub weight: i32,
    pub reverse: bool,
}

/// Which kind of object a tracked name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Script,
    Interface,
}

/// The tracked objects of one instance and their last known states.
#[derive(Debug, Clone, Default)]
pub struct Tracking {
    refs: HashMap<(TrackKind, String), TrackRef>,
    up: HashMap<(TrackKind, String), bool>,
}

impl Tracking {
    pub fn add(&mut self, kind: TrackKind, name: &str, r: TrackRef, initially_up: bool) {
        self.refs.insert((kind, name.to_string()), r);
        self.up.insert((kind, name.to_string()), initially_up);
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// Whether `name` is tracked as `kind`.
    pub fn tracks(&self, kind: TrackKind, name: &str) -> bool {
        self.refs.contains_key(&(kind, name.to_string()))
    }

    /// Records a state; returns whether it changed.
    pub fn set(&mut self, kind: TrackKind, name: &str, up: bool) -> bool {
        match self.up.get_mut(&(kind, name.to_string())) {
            Some(v) if *v != up => {
                *v = up;
                true
            }
            _ => false,
        }
    }

    /// (any unweighted object failed, sum of the weights in force).
    pub fn evaluate(&self) -> (bool, i32) {
        let mut fault = false;
        let mut delta = 0i32;
        for (key, r) in &self.refs {
            let up = self.up.get(key).copied().unwrap_or(true);
            let ok = up != r.reverse;
            if r.weight == 0 {
                fault |= !ok;
            } else if (r.weight > 0) == ok {
                // Positive weights count while OK, negative ones while failed.
                delta = delta.saturating_add(r.weight);
            }
        }
        (fault, delta)
    }
}

/// A `vrrp_script` as the runner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub cmd: NotifyCmd,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}

/// rise/fall bookkeeping of one script, separate from the process runs so
/// it can be tested without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptState {
    /// `None` until the first result.
    pub ok: Option<bool>,
    run: u32,
}

impl ScriptState {
    pub fn new(init_fail: bool) -> Self {
        ScriptState {
            ok: init_fail.then_some(false),
            run: 0,
        }
    }

    /// Feeds one result; returns the new state when it changed.
    pub fn result(&mut self, success: bool, rise: u32, fall: u32) -> Option<bool> {
        match self.ok {
            // The first result counts at once, whatever rise/fall say.
            None => {
                self.ok = Some(success);
                self.run = 0;
                Some(success)
            }
            Some(cur) if cur == success => {
                self.run = 0;
                None
            }
            Some(_) => {
                self.run += 1;
                let need = if success { rise } else { fall }.max(1);
                if self.run >= need {
                    self.run = 0;
                    self.ok = Some(success);
                    Some(success)
                } else {
                    None
                }
            }
        }
    }
}

/// Runs the script once; `Some(success)` or `None` on timeout.
async fn run_once(s: &ScriptSpec) -> Option<bool> {
    let mut c = crate::io::notify::script_command(&s.cmd.argv, true)?;
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        // keepalived's child exits 0 when exec fails (issue #2126), so a
        // missing binary counts as success; we count it as a failure, which
        // is what the configuration means.
        Err(_) => return Some(false),
    };
    match tokio::time::timeout(s.timeout.max(Duration::from_millis(1)), child.wait()).await {
        Ok(Ok(st)) => Some(st.success()),
        Ok(Err(_)) => Some(false),
        Err(_) => {
            // Timeout: kill the whole group, as keepalived does.
            if let Some(pid) = child.id() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.wait().await;
            None
        }
    }
}

/// Runs `s` every interval for as long as a subscriber listens, sending
/// each state change to the instances that track it.
pub async fn run_script(s: ScriptSpec, subscribers: Vec<CtlTx>) {
    let mut st = ScriptState::new(s.init_fail);
    let mut tick = tokio::time::interval(s.interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let res = run_once(&s).await;
        if res.is_none() {
            info!("VRRP_Script({}) timed_out", s.name);
        }
        if let Some(ok) = st.result(res.unwrap_or(false), s.rise, s.fall) {
            info!(
                "VRRP_Script({}) {}",
                s.name,
                if ok { "succeeded" } else { "failed" }
            );
            let mut alive = false;
            for tx in &subscribers {
                let msg = InstanceMsg::Track {
                    kind: TrackKind::Script,
                    name: s.name.clone(),
                    up: ok,
                };
                alive |= tx.send(msg).await;
            }
            if !alive {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_result_counts_at_once_then_rise_and_fall() {
        let mut s = ScriptState::new(false);
        assert_eq!(s.result(true, 2, 3), Some(true));
        assert_eq!(s.result(false, 2, 3), None);
        assert_eq!(s.result(false, 2, 3), None);
        assert_eq!(s.result(false, 2, 3), Some(false));
        assert_eq!(s.result(true, 2, 3), None);
        // A failure in between restarts the rise count.
        assert_eq!(s.result(false, 2, 3), None);
        assert_eq!(s.result(true, 2, 3), None);
        assert_eq!(s.result(true, 2, 3), Some(true));
        let mut f = ScriptState::new(true);
        assert_eq!(f.ok, Some(false));
        assert_eq!(f.result(true, 1, 1), Some(true));
    }

    #[test]
    fn weights_fault_and_reverse() {
        let mut t = Tracking::default();
        let r = |weight, reverse| TrackRef { weight, reverse };
        t.add(TrackKind::Script, "up", r(10, false), true);
        t.add(TrackKind::Script, "neg", r(-20, false), true);
        t.add(TrackKind::Interface, "eth1", r(0, false), true);
        assert_eq!(t.evaluate(), (false, 10));
        assert!(t.set(TrackKind::Script, "neg", false));
        assert!(!t.set(TrackKind::Script, "neg", false));
        assert_eq!(t.evaluate(), (false, -10));
        t.set(TrackKind::Interface, "eth1", false);
        assert_eq!(t.evaluate(), (true, -10));
        let mut rev = Tracking::default();
        rev.add(TrackKind::Script, "x", r(0, true), true);
        assert_eq!(rev.evaluate(), (true, 0), "reverse: FAULT while up");
        assert!(!rev.set(TrackKind::Script, "unknown", false));
    }
}
