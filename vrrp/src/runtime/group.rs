//! `vrrp_sync_group`: the members of a group move together (keepalived
//! 2.2.7 `vrrp_sync.c`). [`Group`] is the sans-IO coordinator: it is told
//! each member's state after every change ([`MemberView`]) and answers with
//! the group inputs to feed to the other members' state machines and the
//! group notifies to run; [`run`] is the task that carries those messages
//! between the member tasks and runs the group's notify scripts.
//!
//! Semantics matched (keepalived reference 4.12):
//! - a member with a fault of its own puts every member in FAULT
//!   (`vrrp_sync_fault`); the group leaves FAULT, all members to BACKUP, only
//!   when no member has a fault of its own;
//! - a member becoming MASTER takes the BACKUP members to MASTER
//!   (`vrrp_sync_master`); a member going from MASTER to BACKUP takes the
//!   MASTER members to BACKUP (`vrrp_sync_backup`);
//! - a member whose master-down timer ran out only *wants* MASTER: the group
//!   goes MASTER once every member wants it or is MASTER already
//!   (`vrrp_sync_can_goto_master`, AND semantics);
//! - group notifies (`notify_master|backup|fault|stop`, generic `notify`
//!   with `GROUP NAME STATE 0`, keepalived `send_group_notifies`) run once
//!   per group transition; the log line is keepalived's
//!   `VRRP_Group(NAME) Syncing instances to STATE state`.

use super::spec::{Notifier, NotifyCmds};
use super::{CtlTx, InstanceMsg};
use crate::fsm::{Input, NotifyState, State};
use futures::channel::mpsc;
use tokio::sync::oneshot;
use tracing::info;

/// What the coordinator knows of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberView {
    pub state: State,
    /// FAULT because of its own interface or trackers (not the group's).
    pub own_fault: bool,
    /// Its master-down timer ran out: ready to become MASTER.
    pub want_master: bool,
}

impl MemberView {
    /// A member not heard from yet.
    pub const INIT: MemberView = MemberView {
        state: State::Init,
        own_fault: false,
        want_master: false,
    };
}

/// What the coordinator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupAction {
    /// Feed `input` to member number `member`'s state machine.
    Member { member: usize, input: Input },
    /// Run the group's notifies for this state.
    Notify(NotifyState),
    /// A log line in keepalived's wording.
    Log(String),
}

/// The sans-IO coordinator of one sync group.
#[derive(Debug, Clone)]
pub struct Group {
    name: String,
    members: Vec<MemberView>,
    /// The group's state: INIT until a member reports, then MASTER, BACKUP
    /// or FAULT, STOP at the end.
    state: State,
    /// Rebuilt on reload: the members' first reports restore the group's
    /// state without running its notifies again (its members kept theirs).
    quiet: bool,
}

impl Group {
    /// A group of `members` members, none heard from yet.
    pub fn new(name: &str, members: usize) -> Group {
        Group {
            name: name.to_string(),
            members: vec![MemberView::INIT; members],
            state: State::Init,
            quiet: false,
        }
    }

    /// A group rebuilt on reload: silent until every member has reported.
    pub fn resumed(name: &str, members: usize) -> Group {
        Group {
            quiet: true,
            ..Group::new(name, members)
        }
    }

    /// The group's state.
    pub fn state(&self) -> State {
        self.state
    }

    fn enter(&mut self, state: State, out: &mut Vec<GroupAction>) {
        if self.state == state {
            return;
        }
        let was = std::mem::replace(&mut self.state, state);
        if self.quiet {
            return;
        }
        let (word, n) = match state {
            State::Master => ("MASTER", NotifyState::Master),
            State::Backup => ("BACKUP", NotifyState::Backup),
            State::Fault => ("FAULT", NotifyState::Fault),
            State::Stop => ("STOP", NotifyState::Stop),
            State::Init => return,
        };
        // keepalived 2.2.7 logs no "Syncing" line for the start-up BACKUP
        // (its notify runs) nor for STOP (checked in a namespace).
        if state != State::Stop && !(was == State::Init && state == State::Backup) {
            out.push(GroupAction::Log(format!(
                "VRRP_Group({}) Syncing instances to {word} state",
                self.name
            )));
        }
        out.push(GroupAction::Notify(n));
    }

    fn to_all(&self, input: Input, out: &mut Vec<GroupAction>) {
        out.extend((0..self.members.len()).map(|member| GroupAction::Member { member, input }));
    }

    fn to_others(&self, me: usize, input: Input, when: State, out: &mut Vec<GroupAction>) {
        for (member, m) in self.members.iter().enumerate() {
            if member != me && m.state == when {
                out.push(GroupAction::Member { member, input });
            }
        }
    }

    /// Member `idx` now looks like `view`: what the group does about it.
    pub fn update(&mut self, idx: usize, view: MemberView, out: &mut Vec<GroupAction>) {
        self.apply(idx, view, out);
        if self.quiet && self.members.iter().all(|m| m.state != State::Init) {
            self.quiet = false;
        }
    }

    fn apply(&mut self, idx: usize, view: MemberView, out: &mut Vec<GroupAction>) {
        let Some(slot) = self.members.get_mut(idx) else {
            return;
        };
        let old = std::mem::replace(slot, view);
        if self.state == State::Stop || view.state == State::Stop {
            return;
        }
        if self.members.iter().any(|m| m.own_fault) {
            if self.state != State::Fault {
                self.enter(State::Fault, out);
                // Every member, the faulted ones included: one whose own
                // fault clears must stay in FAULT while another's lasts.
                self.to_all(Input::GroupFault(true), out);
            }
            return;
        }
        if self.state == State::Fault {
            // No member has a fault of its own any more: all leave FAULT
            // together, to BACKUP (keepalived try_up_instance on the group).
            self.enter(State::Backup, out);
            self.to_all(Input::GroupFault(false), out);
            return;
        }
        match view.state {
            State::Master if old.state != State::Master => {
                self.enter(State::Master, out);
                self.to_others(idx, Input::GroupMaster, State::Backup, out);
            }
            State::Backup if old.state == State::Master => {
                self.enter(State::Backup, out);
                self.to_others(idx, Input::GroupBackup, State::Master, out);
            }
            State::Backup if self.state == State::Init => self.enter(State::Backup, out),
            _ => {}
        }
        if view.state == State::Backup && view.want_master {
            let all = self
                .members
                .iter()
                .all(|m| m.state == State::Master || (m.state == State::Backup && m.want_master));
            if all || self.state == State::Master {
                for (member, m) in self.members.iter().enumerate() {
                    if m.state == State::Backup {
                        out.push(GroupAction::Member {
                            member,
                            input: Input::GroupMaster,
                        });
                    }
                }
            }
        }
    }

    /// The daemon stops: the group's STOP notifies (keepalived
    /// `notify_shutdown`, after the instances').
    pub fn stop(&mut self, out: &mut Vec<GroupAction>) {
        self.enter(State::Stop, out);
    }
}

/// Messages to a group's task.
#[derive(Debug)]
pub enum GroupMsg {
    /// Member number `idx` changed.
    View(usize, MemberView),
    /// Run the STOP notifies, then acknowledge.
    Stop(oneshot::Sender<()>),
}

/// A member's link to its group: its number and the group's channel.
#[derive(Debug, Clone)]
pub struct GroupLink {
    pub idx: usize,
    pub tx: mpsc::UnboundedSender<GroupMsg>,
}

/// The group's task: coordinator decisions carried to the members, group
/// notifies run. Ends when every sender is gone.
pub async fn run(
    mut group: Group,
    members: Vec<CtlTx>,
    notify_cmds: NotifyCmds,
    mut rx: mpsc::UnboundedReceiver<GroupMsg>,
) {
    let mut out = Vec::new();
    while let Some(msg) = futures::StreamExt::next(&mut rx).await {
        let ack = match msg {
            GroupMsg::View(idx, v) => {
                group.update(idx, v, &mut out);
                None
            }
            GroupMsg::Stop(ack) => {
                group.stop(&mut out);
                Some(ack)
            }
        };
        for a in out.drain(..) {
            match a {
                GroupAction::Member { member, input } => {
                    if let Some(tx) = members.get(member) {
                        // Members never wait on this task (its channel is
                        // unbounded), so waiting on a full member queue
                        // cannot deadlock.
                        tx.send(InstanceMsg::Group(input)).await;
                    }
                }
                GroupAction::Notify(s) => {
                    // keepalived send_group_notifies: priority 0.
                    notify_cmds.run(Notifier::Group, &group.name, s, 0)
                }
                GroupAction::Log(l) => info!("{l}"),
            }
        }
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::fsm::{Action, Instance, InstanceCfg};
    use crate::packet::Version;
    use crate::timers::Instant;
    use std::net::IpAddr;
    use std::time::Duration;

    /// A group of real member state machines driven with a fake clock: the
    /// coordinator's member inputs are fed back until nothing changes.
    struct Lab {
        group: Group,
        members: Vec<Instance>,
        notifies: Vec<NotifyState>,
    }

    fn at(s: f64) -> Instant {
        Instant::from_duration(Duration::from_secs_f64(s))
    }

    /// An advert from a priority-150 master.
    fn hi_advert() -> Input {
        Input::Advert(crate::check::RxAdvert {
            src: "192.0.2.200".parse().unwrap(),
            priority: 150,
            adver_int: Duration::from_secs(1),
        })
    }

    impl Lab {
        fn new(n: usize, prio: u8) -> Lab {
            let members = (0..n)
                .map(|i| {
                    let vip: IpAddr = format!("192.0.2.{}", i + 1).parse().unwrap();
                    let mut c =
                        InstanceCfg::new(&format!("V{i}"), Version::V2, i as u8 + 1, vec![vip]);
                    c.priority = prio;
                    c.sync_group = true;
                    c.src_addr = Some("192.0.2.100".parse().unwrap());
                    Instance::new(c).unwrap()
                })
                .collect();
            Lab {
                group: Group::new("G", n),
                members,
                notifies: Vec::new(),
            }
        }

        fn view(&self, i: usize) -> MemberView {
            let m = &self.members[i];
            MemberView {
                state: m.state(),
                own_fault: m.own_fault(),
                want_master: m.wants_master(),
            }
        }

        /// Steps member `i` and lets the group react, to a fixed point.
        fn step(&mut self, now: Instant, i: usize, input: Input) -> Vec<Action> {
            let mut acts = Vec::new();
            let mut queue = vec![(i, input)];
            while let Some((m, inp)) = queue.pop() {
                let before = self.view(m);
                acts.extend(self.members[m].step(now, inp));
                let after = self.view(m);
                if after != before {
                    let mut out = Vec::new();
                    self.group.update(m, after, &mut out);
                    for a in out {
                        match a {
                            GroupAction::Member { member, input } => queue.push((member, input)),
                            GroupAction::Notify(s) => self.notifies.push(s),
                            GroupAction::Log(_) => {}
                        }
                    }
                }
            }
            acts
        }

        fn run_to(&mut self, t: Instant) {
            loop {
                let next = (0..self.members.len())
                    .filter_map(|i| self.members[i].next_deadline().map(|d| (d, i)))
                    .min();
                match next {
                    Some((d, i)) if d <= t => {
                        self.step(d, i, Input::Timer);
                    }
                    _ => return,
                }
            }
        }

        fn states(&self) -> Vec<State> {
            self.members.iter().map(|m| m.state()).collect()
        }
    }

    #[test]
    fn members_go_master_together_only_when_all_want_it() {
        let mut lab = Lab::new(2, 100);
        lab.step(at(0.0), 0, Input::Startup);
        lab.step(at(0.0), 1, Input::Startup);
        assert_eq!(lab.states(), vec![State::Backup; 2]);
        assert_eq!(lab.group.state(), State::Backup);
        // Member 1 keeps hearing a master: member 0's timeout alone does
        // not make anyone MASTER.
        for k in 0..6 {
            let t = at(f64::from(k));
            lab.step(t, 1, hi_advert());
            lab.run_to(t);
        }
        assert!(lab.members[0].wants_master());
        assert_eq!(lab.states(), vec![State::Backup; 2]);
        // The master goes quiet: once member 1 times out too, both go MASTER.
        lab.run_to(at(20.0));
        assert_eq!(lab.states(), vec![State::Master; 2]);
        assert_eq!(lab.notifies, vec![NotifyState::Backup, NotifyState::Master]);
    }

    #[test]
    fn one_member_fault_faults_all_until_none_is_faulted() {
        let mut lab = Lab::new(3, 100);
        for i in 0..3 {
            lab.step(at(0.0), i, Input::Startup);
        }
        lab.run_to(at(10.0));
        assert_eq!(lab.states(), vec![State::Master; 3]);
        let acts = lab.step(at(10.5), 1, Input::InterfaceDown);
        assert_eq!(lab.states(), vec![State::Fault; 3]);
        assert_eq!(lab.group.state(), State::Fault);
        // Every former master resigned with priority 0.
        let zeros = acts
            .iter()
            .filter(|a| matches!(a, Action::SendAdvert { priority: 0 }))
            .count();
        assert_eq!(zeros, 6);
        // A second member faults and the first recovers: still FAULT.
        lab.step(at(11.0), 2, Input::TrackFault(true));
        lab.step(at(11.5), 1, Input::InterfaceUp);
        assert_eq!(lab.states(), vec![State::Fault; 3]);
        // The last fault clears: all BACKUP, then MASTER together.
        lab.step(at(12.0), 2, Input::TrackFault(false));
        assert_eq!(lab.states(), vec![State::Backup; 3]);
        lab.run_to(at(20.0));
        assert_eq!(lab.states(), vec![State::Master; 3]);
        assert_eq!(
            lab.notifies,
            vec![
                NotifyState::Backup,
                NotifyState::Master,
                NotifyState::Fault,
                NotifyState::Backup,
                NotifyState::Master
            ]
        );
    }

    #[test]
    fn higher_priority_advert_on_one_member_takes_all_to_backup() {
        let mut lab = Lab::new(2, 100);
        lab.step(at(0.0), 0, Input::Startup);
        lab.step(at(0.0), 1, Input::Startup);
        lab.run_to(at(10.0));
        assert_eq!(lab.states(), vec![State::Master; 2]);
        lab.step(at(10.2), 0, hi_advert());
        assert_eq!(lab.states(), vec![State::Backup; 2]);
        assert_eq!(lab.group.state(), State::Backup);
    }

    #[test]
    fn a_group_rebuilt_on_reload_does_not_notify_again() {
        let master = MemberView {
            state: State::Master,
            own_fault: false,
            want_master: false,
        };
        let mut g = Group::resumed("G", 2);
        let mut out = Vec::new();
        g.update(0, master, &mut out);
        g.update(1, master, &mut out);
        assert_eq!(g.state(), State::Master);
        assert!(!out.iter().any(|a| matches!(a, GroupAction::Notify(_))));
        // Later transitions notify as usual.
        let fault = MemberView {
            state: State::Fault,
            own_fault: true,
            want_master: false,
        };
        g.update(1, fault, &mut out);
        assert!(out.contains(&GroupAction::Notify(NotifyState::Fault)));
    }

    #[test]
    fn start_up_backup_notifies_without_a_syncing_line() {
        let backup = MemberView {
            state: State::Backup,
            own_fault: false,
            want_master: false,
        };
        let mut g = Group::new("G", 2);
        let mut out = Vec::new();
        g.update(0, backup, &mut out);
        assert_eq!(out, vec![GroupAction::Notify(NotifyState::Backup)]);
    }

    #[test]
    fn stop_notifies_once() {
        let mut g = Group::new("G", 2);
        let mut out = Vec::new();
        g.stop(&mut out);
        g.stop(&mut out);
        assert_eq!(out, vec![GroupAction::Notify(NotifyState::Stop)]);
        // Nothing moves a stopped group.
        out.clear();
        g.update(
            0,
            MemberView {
                state: State::Master,
                own_fault: false,
                want_master: false,
            },
            &mut out,
        );
        assert!(out.is_empty());
    }
}
