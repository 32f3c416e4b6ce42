//! Tracked objects of an instance (`track_script`, `track_interface`,
//! `track_file`) and the `vrrp_script` runner and `track_file` watcher that
//! feed them.
//!
//! keepalived (reference 4.6): an unweighted (weight 0) object that fails
//! puts the instance in FAULT; a weighted one adjusts the priority: a
//! positive weight is added while the object is OK, a negative one is added
//! while it has failed; `reverse` swaps OK and failed. A vrrp_script runs
//! every `interval`, is killed at `timeout` (a failure); `rise` successes in
//! a row make it OK and `fall` failures make it KO, except that the first
//! result is applied at once. Log lines: "VRRP_Script(chk) succeeded",
//! "... failed", "... timed_out".
//!
//! A `track_file` (reference 2.8, keepalived `trackers/track_file.c`) holds
//! an integer, read like C `strtol(buf, NULL, 0)`; a missing, unreadable or
//! empty file reads as 0 and a value outside the 32-bit range is ignored
//! (the last value stays). With weight 0 a non-zero value (a zero one with
//! `reverse`) means FAULT; otherwise value x weight (negated by `reverse`)
//! is added to the priority, clamped to -254..253, and -254 means FAULT.
//! The file's directory is watched with inotify, so a file replaced by
//! rename (editors) or deleted and re-created is seen as well.

use super::{CtlTx, InstanceMsg};
use crate::io::notify::NotifyCmd;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{info, warn};

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
    /// A `track_file`, whose state is an integer (see [`file_effect`]).
    File,
}

/// The tracked objects of one instance and their last known states.
#[derive(Debug, Clone, Default)]
pub struct Tracking {
    refs: HashMap<(TrackKind, String), TrackRef>,
    up: HashMap<(TrackKind, String), bool>,
    /// Last value of each tracked file.
    values: HashMap<String, i64>,
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

    /// Tracks the file tracker `name`, whose value is now `value`.
    pub fn add_file(&mut self, name: &str, r: TrackRef, value: i64) {
        self.refs.insert((TrackKind::File, name.to_string()), r);
        self.values.insert(name.to_string(), value);
    }

    /// Records a tracked file's new value; returns whether it changed.
    pub fn set_value(&mut self, name: &str, value: i64) -> bool {
        match self.values.get_mut(name) {
            Some(v) if *v != value => {
                *v = value;
                true
            }
            _ => false,
        }
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
            if key.0 == TrackKind::File {
                let value = self.values.get(&key.1).copied().unwrap_or(0);
                match file_effect(value, r) {
                    Some(d) => delta = delta.saturating_add(d),
                    None => fault = true,
                }
                continue;
            }
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

/// What a tracked file's `value` does to an instance: `None` is FAULT,
/// `Some(d)` adds `d` to the priority. keepalived
/// (`process_update_track_file_status`): weight 0 faults on a non-zero
/// value (on zero with `reverse`); else value x weight x (reverse ? -1 : 1)
/// clamped to -254..253, where -254 faults.
pub fn file_effect(value: i64, r: &TrackRef) -> Option<i32> {
    if r.weight == 0 {
        return ((value != 0) == r.reverse).then_some(0);
    }
    let mult = if r.reverse { -1 } else { 1 };
    let status = value
        .saturating_mul(i64::from(r.weight))
        .saturating_mul(mult)
        .clamp(-254, 253);
    if status == -254 {
        None
    } else {
        i32::try_from(status).ok()
    }
}

/// Parses a tracked file's text like C `strtol(text, NULL, 0)`: leading
/// white space, an optional sign, then hex (`0x`), octal (leading `0`) or
/// decimal digits up to the first other character; no digits read as 0.
/// `None` for a value outside the 32-bit range, which keepalived logs as
/// "Invalid number" and ignores.
pub fn parse_value(text: &str) -> Option<i64> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if (t.starts_with("0x") || t.starts_with("0X"))
        && t[2..].starts_with(|c: char| c.is_ascii_hexdigit())
    {
        (16, &t[2..])
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let mut v: i64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        v = v
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    let v = if neg { -v } else { v };
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&v)
        .then_some(v)
}

/// Reads a tracked file: 0 when it cannot be opened or is empty (as
/// keepalived's `process_track_file`), `None` for an out-of-range number.
pub fn read_value(path: &Path) -> Option<i64> {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return Some(0);
    };
    // keepalived reads at most 127 bytes.
    let mut buf = Vec::with_capacity(128);
    if f.take(127).read_to_end(&mut buf).is_err() {
        return Some(0);
    }
    parse_value(&String::from_utf8_lossy(&buf))
}

/// A `track_file` as the watcher needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub name: String,
    pub path: PathBuf,
    /// `init_file [VALUE] [overwrite]`.
    pub init: Option<(i64, bool)>,
}

/// `init_file`: writes VALUE to a missing file, or to any with `overwrite`
/// (keepalived does this when it reads the configuration).
pub fn init_file(spec: &FileSpec) {
    let Some((value, overwrite)) = spec.init else {
        return;
    };
    if !overwrite && spec.path.exists() {
        return;
    }
    if let Err(e) = std::fs::write(&spec.path, format!("{value}\n")) {
        warn!(
            "track_file {}: cannot write {}: {e}",
            spec.name,
            spec.path.display()
        );
    }
}

/// The initial value of a tracked file: applies `init_file`, then reads it.
pub fn initial_value(spec: &FileSpec) -> i64 {
    init_file(spec);
    read_value(&spec.path).unwrap_or(0)
}

/// The inotify descriptor as tokio's [`AsyncFd`](tokio::io::unix::AsyncFd)
/// wants it (nix's `Inotify` has `AsFd` only).
struct Watch(nix::sys::inotify::Inotify);

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// An inotify watch on the directory of `path`: the directory rather than
/// the file, so that a replacement by rename or a re-creation is seen. No
/// IN_CREATE: a new file is read when its writer closes it
/// (IN_CLOSE_WRITE), not while still empty, which would read as 0.
fn watch_dir(path: &Path) -> std::io::Result<tokio::io::unix::AsyncFd<Watch>> {
    use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    ino.add_watch(
        dir,
        F::IN_CLOSE_WRITE | F::IN_MOVED_TO | F::IN_MOVED_FROM | F::IN_DELETE,
    )?;
    watch_reg::register(Watch(ino))
}

/// Registering the inotify descriptor with tokio's reactor, the one
/// `unsafe` call of this file.
#[allow(unsafe_code)]
mod watch_reg {
    use super::Watch;
    use tokio::io::unix::AsyncFd;

    pub(super) fn register(w: Watch) -> std::io::Result<AsyncFd<Watch>> {
        // SAFETY: `Watch` owns its inotify descriptor and closes it only on
        // drop; the `AsyncFd` takes ownership of it, so the descriptor stays
        // open and the same for the whole life of the registration.
        unsafe { AsyncFd::register(w) }.map_err(|e| e.into_parts().1)
    }
}

/// Watches `s` for as long as a subscriber listens, sending its value to
/// the instances that track it at start and after each change.
pub async fn run_file(s: FileSpec, subscribers: Vec<CtlTx>) {
    let fname = s.path.file_name().map(|n| n.to_os_string());
    let watch = match watch_dir(&s.path) {
        Ok(w) => Some(w),
        Err(e) => {
            // keepalived logs and goes on without the watch as well.
            warn!(
                "track_file {}: cannot watch {}: {e}",
                s.name,
                s.path.display()
            );
            None
        }
    };
    let mut last: Option<i64> = None;
    loop {
        if let Some(v) = read_value(&s.path) {
            if last != Some(v) {
                last = Some(v);
                let mut alive = false;
                for tx in &subscribers {
                    let msg = InstanceMsg::TrackValue {
                        name: s.name.clone(),
                        value: v,
                    };
                    alive |= tx.send(msg).await;
                }
                if !alive {
                    return;
                }
            }
        } else {
            info!("Invalid number read from {} - ignoring", s.path.display());
        }
        let Some(w) = &watch else {
            return;
        };
        // Wait for an event naming our file.
        loop {
            let Ok(mut guard) = w.readable().await else {
                return;
            };
            match guard.get_inner().0.read_events() {
                Ok(evs) => {
                    if evs.iter().any(|e| e.name.as_ref() == fname.as_ref()) {
                        break;
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(e) => {
                    warn!("track_file {}: inotify: {e}", s.name);
                    return;
                }
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
    #[test]
    fn file_values_to_priority_delta_or_fault() {
        let r = |weight, reverse| TrackRef { weight, reverse };
        // weight 0: any non-zero value faults; reverse: zero faults.
        assert_eq!(file_effect(0, &r(0, false)), Some(0));
        assert_eq!(file_effect(3, &r(0, false)), None);
        assert_eq!(file_effect(-1, &r(0, false)), None);
        assert_eq!(file_effect(0, &r(0, true)), None);
        assert_eq!(file_effect(7, &r(0, true)), Some(0));
        // value x weight, reverse negates.
        assert_eq!(file_effect(1, &r(-60, false)), Some(-60));
        assert_eq!(file_effect(-60, &r(1, false)), Some(-60));
        assert_eq!(file_effect(2, &r(10, true)), Some(-20));
        // Clamped to -254..253, where -254 is FAULT.
        assert_eq!(file_effect(5, &r(-60, false)), None);
        assert_eq!(file_effect(-253, &r(1, false)), Some(-253));
        assert_eq!(file_effect(1000, &r(1, false)), Some(253));
        assert_eq!(file_effect(i64::from(i32::MAX), &r(254, false)), Some(253));
        assert_eq!(file_effect(i64::from(i32::MIN), &r(254, false)), None);
    }

    #[test]
    fn file_tracking_sums_with_other_objects() {
        let mut t = Tracking::default();
        let r = |weight, reverse| TrackRef { weight, reverse };
        t.add(TrackKind::Script, "s", r(10, false), true);
        t.add_file("f", r(-60, false), 0);
        t.add_file("g", r(0, false), 0);
        assert!(t.tracks(TrackKind::File, "f"));
        assert_eq!(t.evaluate(), (false, 10));
        assert!(t.set_value("f", 1));
        assert!(!t.set_value("f", 1));
        assert!(!t.set_value("unknown", 1));
        assert_eq!(t.evaluate(), (false, -50));
        assert!(t.set_value("g", 4));
        assert_eq!(t.evaluate(), (true, -50));
        t.set_value("g", 0);
        t.set_value("f", 9);
        assert_eq!(t.evaluate(), (true, 10), "-540 clamps to -254: FAULT");
    }

    #[test]
    fn values_parse_like_strtol_base_0() {
        assert_eq!(parse_value("12\n"), Some(12));
        assert_eq!(parse_value("  -7 junk"), Some(-7));
        assert_eq!(parse_value("+3"), Some(3));
        assert_eq!(parse_value("0x1f"), Some(31));
        assert_eq!(parse_value("0X10"), Some(16));
        assert_eq!(parse_value("010"), Some(8));
        assert_eq!(parse_value("09"), Some(0), "octal stops at 9");
        assert_eq!(parse_value("0xg"), Some(0));
        assert_eq!(parse_value(""), Some(0));
        assert_eq!(parse_value("abc"), Some(0));
        assert_eq!(parse_value("2147483647"), Some(2147483647));
        assert_eq!(parse_value("-2147483648"), Some(-2147483648));
        assert_eq!(parse_value("2147483648"), None);
        assert_eq!(parse_value("99999999999999999999999"), None);
    }

    #[test]
    fn missing_file_reads_zero_and_init_file_writes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        assert_eq!(read_value(&path), Some(0));
        let mut spec = FileSpec {
            name: "tf".into(),
            path: path.clone(),
            init: Some((5, false)),
        };
        assert_eq!(initial_value(&spec), 5);
        std::fs::write(&path, "9").expect("write");
        assert_eq!(initial_value(&spec), 9, "no overwrite: kept");
        spec.init = Some((2, true));
        assert_eq!(initial_value(&spec), 2, "overwrite");
        spec.init = None;
        std::fs::write(&path, "").expect("write");
        assert_eq!(initial_value(&spec), 0, "empty file reads 0");
    }

    /// The next `TrackValue` sent, waiting at most 5 s.
    async fn next(rx: &mut futures::channel::mpsc::Receiver<InstanceMsg>) -> Option<(String, i64)> {
        use futures::StreamExt;
        match tokio::time::timeout(Duration::from_secs(5), rx.next()).await {
            Ok(Some(InstanceMsg::TrackValue { name, value })) => Some((name, value)),
            _ => None,
        }
    }

    #[tokio::test]
    async fn watcher_sends_start_value_and_changes_including_rename() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v");
        std::fs::write(&path, "1\n").expect("write");
        let (tx, mut rx) = futures::channel::mpsc::channel(8);
        let spec = FileSpec {
            name: "tf".into(),
            path: path.clone(),
            init: None,
        };
        let task = tokio::spawn(run_file(spec, vec![CtlTx(tx)]));
        assert_eq!(next(&mut rx).await, Some(("tf".to_string(), 1)));
        // Written in place (`echo 4 > file`).
        std::fs::write(&path, "4\n").expect("write");
        assert_eq!(next(&mut rx).await, Some(("tf".to_string(), 4)));
        // Other files of the directory are not ours; an unchanged value is
        // not sent again.
        std::fs::write(dir.path().join("other"), "8").expect("write");
        std::fs::write(&path, "4").expect("write");
        // Replaced by rename, as editors do.
        let tmp = dir.path().join("v.tmp");
        std::fs::write(&tmp, "-3").expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
        assert_eq!(next(&mut rx).await, Some(("tf".to_string(), -3)));
        // Deleted: reads as 0.
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(next(&mut rx).await, Some(("tf".to_string(), 0)));
        task.abort();
    }
    /// Two runtimes in a namespace lab: `a` (150) tracks a file with
    /// weight -60 and one with weight 0; `b` (100) tracks nothing.
    #[test]
    fn track_file_weight_and_fault_move_the_vip() {
        use crate::fsm::State;
        use crate::runtime::lab_tests::{instance, lab, model, InNs};
        use confparse::model::{TrackFileCfg, TrackRefCfg};
        use testlab::Need;
        if !testlab::lab_guard(
            "track_file_weight_and_fault_move_the_vip",
            &[Need::Root, Need::Program("ip")],
        ) {
            return;
        }
        let lab = lab();
        let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
        let vip: std::net::IpAddr = [10, 41, 0, 100].into();
        let (wfile, ffile) = (lab.dir().join("weighted"), lab.dir().join("fault"));
        let span = confparse::Span::new(confparse::FileId(0), 1, 1, 0);
        let tf = |name: &str, file: &Path, weight, init| TrackFileCfg {
            name: name.into(),
            file: Some(file.display().to_string()),
            weight,
            weight_reverse: false,
            init_file: init,
            span,
        };
        let r = |name: &str| TrackRefCfg {
            name: name.into(),
            weight: None,
            reverse: false,
            span,
        };
        // "fault" does not exist: it reads as 0 (no fault).
        let mut m = model(vec![instance(51, 150, "10.41.0.100/24", 2)]);
        m.track_files = vec![
            tf("w", &wfile, -60, Some((0, false))),
            tf("f", &ffile, 0, None),
        ];
        m.instances[0].track_files = vec![r("w"), r("f")];
        let a = InNs::start(&ns("a"), m);
        let b = InNs::start(
            &ns("b"),
            model(vec![instance(51, 100, "10.41.0.100/24", 2)]),
        );
        let write = |p: &Path, v: &str| {
            // Replaced by rename, as editors do.
            let tmp = p.with_extension("tmp");
            std::fs::write(&tmp, v).unwrap_or_else(|e| panic!("{e}"));
            std::fs::rename(&tmp, p).unwrap_or_else(|e| panic!("{e}"));
        };
        let t = Duration::from_secs(8);
        lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("a never sole master: {e}"));
        assert_eq!(std::fs::read_to_string(&wfile).ok().as_deref(), Some("0\n"));
        // 1 x -60: a drops to 90 and b preempts.
        write(&wfile, "1");
        lab.wait_sole_holder(vip, "b", t)
            .unwrap_or_else(|e| panic!("b did not preempt a degraded a: {e}"));
        assert_eq!(a.status()[0].effective_priority, 90);
        std::fs::write(&wfile, "0\n").unwrap_or_else(|e| panic!("{e}"));
        lab.wait_sole_holder(vip, "a", t)
            .unwrap_or_else(|e| panic!("a did not come back: {e}"));
        assert_eq!(a.status()[0].effective_priority, 150);
        // Weight 0, non-zero value: FAULT.
        write(&ffile, "3");
        lab.wait_sole_holder(vip, "b", t)
            .unwrap_or_else(|e| panic!("a did not fault: {e}"));
        assert_eq!(a.status()[0].state, State::Fault);
        std::fs::remove_file(&ffile).unwrap_or_else(|e| panic!("{e}"));
        lab.wait_sole_holder(vip, "a", t)
            .unwrap_or_else(|e| panic!("a did not leave FAULT: {e}"));
        a.stop();
        b.stop();
    }
}
