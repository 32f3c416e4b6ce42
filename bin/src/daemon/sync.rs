//! `lvs_sync_daemon`: which IPVS connection-sync daemons run, and the
//! follower that keeps them in step with the named VRRP instance.
//!
//! keepalived 2.2.7 splits the job between its two children:
//! - without a VRRP instance (`lvs_sync_daemon IF [id N] ...`), the checker
//!   process starts the master and the backup daemon at start and stops
//!   them at exit (`checker_ipvs_syncd_needed`; observed in the VM lab);
//! - with one (`lvs_sync_daemon IF VI ...`), the VRRP process runs the
//!   daemon of the instance's role: `vrrp_state_become_master` calls
//!   `ipvs_syncd_master` (stop the backup daemon, then start the master),
//!   `vrrp_state_leave_master` (to BACKUP or FAULT) `ipvs_syncd_backup`
//!   (stop the master, then start the backup); an instance that is not
//!   master runs the backup daemon; at exit the daemon of the current role is
//!   stopped (`vrrp_terminate_phase2`, even with `-I`, which only concerns
//!   the checker's table). With `-C` nobody runs it; with `-P` the
//!   instance-less form is not run either.
//!
//! [`wanted`] is that decision as a pure function, [`plan`] the ops from the
//! daemons running to the wanted ones (stops first, as keepalived does),
//! [`SyncDaemons`] applies them through any [`IpvsClient`], and [`Follower`]
//! is the VRRP side's driver, fed with `Runtime::subscribe_states` events.
//! Unlike keepalived, which stops and restarts the daemon on every reload,
//! a reload that leaves the daemon's settings and role alone touches
//! nothing (the sync stream is not interrupted; observed in the VM lab:
//! keepalived's reload costs two thread starts and a stop, ours none), and
//! a daemon the kernel refused is tried again every [`RETRY_INTERVAL`]
//! (keepalived tries once).

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use confparse::model::GlobalDefsCfg;
use confparse::Model;
use ipvs::model as desired;
use ipvs::{Daemon, DaemonState, IpvsClient, NetlinkIpvs, Op};
use tracing::{error, info};
use vrrp::fsm::{NotifyState, State};
use vrrp::runtime::{InstanceStatus, StateEvent};

/// Which keepalived process would run the daemons (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The LVS side: `lvs_sync_daemon` without a VRRP instance.
    Checker,
    /// The VRRP side: `lvs_sync_daemon` naming an instance.
    Vrrp,
}

/// What the named VRRP instance is doing, as far as the sync daemon cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    /// BACKUP, FAULT or still INIT: keepalived runs the backup daemon.
    NotMaster,
    /// Stopped or not running at all: no daemon.
    Gone,
}

impl Role {
    /// From a transition the runtime published.
    pub fn of_notify(s: NotifyState) -> Role {
        match s {
            NotifyState::Master => Role::Master,
            NotifyState::Backup | NotifyState::Fault => Role::NotMaster,
            NotifyState::Stop => Role::Gone,
        }
    }

    /// From the runtime's status of the instance.
    pub fn of_state(s: State) -> Role {
        match s {
            State::Master => Role::Master,
            State::Init | State::Backup | State::Fault => Role::NotMaster,
            State::Stop => Role::Gone,
        }
    }

    /// The role of `instance` in a status listing (absent: gone).
    pub fn in_status(status: &[InstanceStatus], instance: &str) -> Role {
        status
            .iter()
            .find(|s| s.name == instance)
            .map_or(Role::Gone, |s| Role::of_state(s.state))
    }
}

/// The daemons `owner` must run for `global`'s `lvs_sync_daemon`, the named
/// instance being in `role` (ignored for the checker side).
pub fn wanted(global: &GlobalDefsCfg, owner: Owner, role: Role) -> Vec<Daemon> {
    let Some(cfg) = global.lvs_sync_daemon.as_ref() else {
        return Vec::new();
    };
    let states: &[DaemonState] = match (owner, cfg.vrrp_instance.is_some(), role) {
        (Owner::Checker, false, _) => &[DaemonState::Backup, DaemonState::Master],
        (Owner::Vrrp, true, Role::Master) => &[DaemonState::Master],
        (Owner::Vrrp, true, Role::NotMaster) => &[DaemonState::Backup],
        _ => &[],
    };
    states
        .iter()
        .filter_map(|st| desired::sync_daemon(global, *st))
        .collect()
}

/// Ops taking the kernel from `running` to `wanted`: every running daemon
/// not wanted as it is is stopped first (the kernel knows one daemon per
/// role, so a changed setting is a stop and a start), then the missing
/// ones are started.
pub fn plan(running: &[Daemon], wanted: &[Daemon]) -> Vec<Op> {
    let stops = running
        .iter()
        .filter(|d| !wanted.contains(d))
        .map(|d| Op::DelDaemon(d.state));
    let starts = wanted
        .iter()
        .filter(|d| !running.contains(d))
        .map(|d| Op::NewDaemon(d.clone()));
    stops.chain(starts).collect()
}

/// How long the VRRP side waits before trying a wanted sync daemon that
/// could not be started again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// The sync daemons this process started (only those are stopped again:
/// an operator's own `ipvsadm --start-daemon` is left alone).
#[derive(Debug, Default)]
pub struct SyncDaemons {
    running: Vec<Daemon>,
    /// Roles found taken by someone else's daemon, said once.
    foreign_noted: Vec<DaemonState>,
}

impl SyncDaemons {
    /// Daemons started by us and still running.
    #[cfg(test)]
    pub fn running(&self) -> &[Daemon] {
        &self.running
    }

    /// Whether ours are exactly `wanted` (in any order).
    pub fn reached(&self, wanted: &[Daemon]) -> bool {
        self.running.len() == wanted.len() && wanted.iter().all(|d| self.running.contains(d))
    }

    /// Starts and stops daemons until ours are `wanted`. A role the kernel
    /// already runs for someone else is not started (it would be refused
    /// with EEXIST). Errors are logged, never fatal; a daemon that failed
    /// to start is tried again by the next call.
    pub fn apply<C: IpvsClient>(&mut self, client: &mut C, wanted: &[Daemon]) {
        let ops = plan(&self.running, wanted);
        let mut foreign: Option<Vec<DaemonState>> = None;
        for op in ops {
            match op {
                Op::DelDaemon(st) => {
                    // Forgotten either way: a daemon the kernel no longer
                    // has (ESRCH) is not ours to stop again.
                    self.running.retain(|d| d.state != st);
                    match client.execute_one(Op::DelDaemon(st)) {
                        Ok(()) => info!("IPVS: stopped the {st:?} sync daemon"),
                        Err(e) => error!("IPVS: stopping the {st:?} sync daemon: {e}"),
                    }
                }
                Op::NewDaemon(d) => {
                    let others = foreign.get_or_insert_with(|| match client.daemons() {
                        Ok(ds) => ds.iter().map(|d| d.state).collect(),
                        Err(e) => {
                            error!("IPVS: cannot list the sync daemons: {e}");
                            Vec::new()
                        }
                    });
                    if others.contains(&d.state) {
                        if !self.foreign_noted.contains(&d.state) {
                            self.foreign_noted.push(d.state);
                            info!(
                                "IPVS: a {:?} sync daemon already runs; not starting ours",
                                d.state
                            );
                        }
                        continue;
                    }
                    self.foreign_noted.retain(|s| *s != d.state);
                    let (st, ifname) = (d.state, d.ifname.clone());
                    match client.execute_one(Op::NewDaemon(d.clone())) {
                        Ok(()) => {
                            info!("IPVS: started the {st:?} sync daemon on {ifname}");
                            self.running.push(d);
                        }
                        Err(e) => error!("IPVS: lvs_sync_daemon {ifname} ({st:?}): {e}"),
                    }
                }
                other => error!("IPVS: unexpected sync daemon op {other}"),
            }
        }
    }
}

/// The named instance's role as the runtime reports it, and the daemon set
/// that role asks for; says when that set changes (pure: the tests drive it
/// with event sequences).
#[derive(Debug)]
pub struct Tracker {
    global: GlobalDefsCfg,
    role: Role,
    /// The set last handed out.
    sent: Vec<Daemon>,
}

impl Tracker {
    pub fn new(model: &Model) -> Tracker {
        Tracker {
            global: model.global.clone(),
            role: Role::Gone,
            sent: Vec::new(),
        }
    }

    /// The instance being followed, if any.
    fn instance(&self) -> Option<&str> {
        self.global
            .lvs_sync_daemon
            .as_ref()
            .and_then(|c| c.vrrp_instance.as_deref())
    }

    /// A transition published by the runtime: the new wanted set, if it
    /// changed (transitions of other instances, or BACKUP -> FAULT, do not).
    pub fn on_event(&mut self, ev: &StateEvent) -> Option<Vec<Daemon>> {
        if self.instance() != Some(ev.instance.as_str()) {
            return None;
        }
        self.role = Role::of_notify(ev.state);
        self.update()
    }

    /// The role read from a status listing (at start, after a reload, after
    /// the event feed lagged).
    pub fn resync(&mut self, status: &[InstanceStatus]) -> Option<Vec<Daemon>> {
        self.role = match self.instance() {
            Some(i) => Role::in_status(status, i),
            None => Role::Gone,
        };
        self.update()
    }

    /// A reloaded configuration; [`Tracker::resync`] must follow (the
    /// instance may be another one now).
    pub fn reconfigure(&mut self, model: &Model) {
        self.global = model.global.clone();
    }

    /// The stop: nothing wanted any more.
    pub fn stop(&mut self) -> Option<Vec<Daemon>> {
        self.role = Role::Gone;
        self.update()
    }

    fn update(&mut self) -> Option<Vec<Daemon>> {
        let want = wanted(&self.global, Owner::Vrrp, self.role);
        if want == self.sent {
            return None;
        }
        self.sent = want.clone();
        Some(want)
    }
}

/// The VRRP side's sync daemon driver: a [`Tracker`] fed by the daemon's
/// select loop, and a thread owning its own netlink socket that applies each
/// new wanted set (the client blocks; starting and stopping the kernel's
/// sync threads must not stall the VRRP runtime). The thread and socket
/// exist only once a daemon is wanted.
pub struct Follower {
    tracker: Tracker,
    worker: Option<Worker>,
}

struct Worker {
    tx: mpsc::Sender<Vec<Daemon>>,
    thread: JoinHandle<()>,
}

impl Follower {
    pub fn new(model: &Model) -> Follower {
        Follower {
            tracker: Tracker::new(model),
            worker: None,
        }
    }

    /// See [`Tracker::on_event`].
    pub fn on_event(&mut self, ev: &StateEvent) {
        let want = self.tracker.on_event(ev);
        self.send(want);
    }

    /// See [`Tracker::resync`].
    pub fn resync(&mut self, status: &[InstanceStatus]) {
        let want = self.tracker.resync(status);
        self.send(want);
    }

    /// See [`Tracker::reconfigure`].
    pub fn reconfigure(&mut self, model: &Model) {
        self.tracker.reconfigure(model);
    }

    /// Stops the daemons this follower started, then its thread.
    pub fn stop(mut self) {
        let want = self.tracker.stop();
        self.send(want);
        if let Some(w) = self.worker.take() {
            drop(w.tx);
            if w.thread.join().is_err() {
                error!("IPVS: the sync daemon thread panicked");
            }
        }
    }

    fn send(&mut self, want: Option<Vec<Daemon>>) {
        let Some(want) = want else {
            return;
        };
        if self.worker.is_none() {
            if want.is_empty() {
                return;
            }
            // On failure (logged) the next change tries again.
            self.worker = Worker::spawn();
        }
        if let Some(w) = &self.worker {
            if w.tx.send(want).is_err() {
                error!("IPVS: the sync daemon thread is gone");
            }
        }
    }
}

impl Worker {
    /// Connects to IPVS and starts the thread; `None` (logged) when IPVS
    /// cannot be used (keepalived's VRRP process then runs without it).
    fn spawn() -> Option<Worker> {
        let mut client = match NetlinkIpvs::connect() {
            Ok(c) => c,
            Err(e) => {
                error!("IPVS: lvs_sync_daemon: Can't initialize ipvs: {e}");
                return None;
            }
        };
        let (tx, rx) = mpsc::channel::<Vec<Daemon>>();
        let thread = std::thread::Builder::new()
            .name("lvs-sync".into())
            .spawn(move || {
                let mut daemons = SyncDaemons::default();
                let mut want: Vec<Daemon> = Vec::new();
                loop {
                    // A set not reached (the interface missing, the LVS
                    // side still stopping its own daemons after a reload
                    // that moved lvs_sync_daemon to an instance) is tried
                    // again; keepalived tries once.
                    let next = if daemons.reached(&want) {
                        rx.recv().map_err(|_| ())
                    } else {
                        match rx.recv_timeout(RETRY_INTERVAL) {
                            Ok(w) => Ok(w),
                            Err(mpsc::RecvTimeoutError::Timeout) => Ok(want.clone()),
                            Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
                        }
                    };
                    let Ok(mut w) = next else {
                        break;
                    };
                    // Only the latest wanted set matters: skip stale ones.
                    while let Ok(newer) = rx.try_recv() {
                        w = newer;
                    }
                    want = w;
                    daemons.apply(&mut client, &want);
                }
                // The follower is gone: what we started goes with it.
                daemons.apply(&mut client, &[]);
            });
        match thread {
            Ok(thread) => Some(Worker { tx, thread }),
            Err(e) => {
                error!("IPVS: cannot start the sync daemon thread: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lvs::tests::model;
    use super::*;
    use ipvs::FakeIpvs;

    const VI: &str = "
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
}
";

    fn global(syncd: &str) -> GlobalDefsCfg {
        model(&format!("global_defs {{\n {syncd}\n}}\n{VI}")).global
    }

    fn states(ds: &[Daemon]) -> Vec<DaemonState> {
        ds.iter().map(|d| d.state).collect()
    }

    #[test]
    fn the_vrrp_side_runs_the_daemon_of_the_instance_role() {
        let g = global("lvs_sync_daemon eth1 VI_1 maxlen 1400 port 8849 ttl 2");
        let m = wanted(&g, Owner::Vrrp, Role::Master);
        assert_eq!(states(&m), [DaemonState::Master]);
        // syncid defaults to the instance's VRID (keepalived does the same).
        assert_eq!(m[0].sync_id, 51);
        assert_eq!(m[0].ifname, "eth1");
        assert_eq!(
            (m[0].sync_maxlen, m[0].mcast_port, m[0].mcast_ttl),
            (Some(1400), Some(8849), Some(2))
        );
        assert_eq!(
            states(&wanted(&g, Owner::Vrrp, Role::NotMaster)),
            [DaemonState::Backup]
        );
        assert!(wanted(&g, Owner::Vrrp, Role::Gone).is_empty());
        // The checker side leaves an instance-bound daemon to VRRP.
        assert!(wanted(&g, Owner::Checker, Role::Master).is_empty());
    }

    #[test]
    fn without_an_instance_the_checker_side_runs_both() {
        let g = global("lvs_sync_daemon eth1 id 9");
        let c = wanted(&g, Owner::Checker, Role::Gone);
        assert_eq!(states(&c), [DaemonState::Backup, DaemonState::Master]);
        assert!(c.iter().all(|d| d.sync_id == 9));
        assert!(wanted(&g, Owner::Vrrp, Role::Master).is_empty());
        assert!(wanted(&global(""), Owner::Checker, Role::Gone).is_empty());
    }

    #[test]
    fn roles_from_transitions_and_status() {
        assert_eq!(Role::of_notify(NotifyState::Master), Role::Master);
        assert_eq!(Role::of_notify(NotifyState::Fault), Role::NotMaster);
        assert_eq!(Role::of_notify(NotifyState::Backup), Role::NotMaster);
        assert_eq!(Role::of_notify(NotifyState::Stop), Role::Gone);
        assert_eq!(Role::of_state(State::Init), Role::NotMaster);
        assert_eq!(Role::of_state(State::Master), Role::Master);
        assert_eq!(Role::of_state(State::Stop), Role::Gone);
        assert_eq!(Role::in_status(&[], "VI_1"), Role::Gone);
    }

    #[test]
    fn becoming_master_stops_the_backup_then_starts_the_master() {
        let g = global("lvs_sync_daemon eth1 VI_1");
        let backup = wanted(&g, Owner::Vrrp, Role::NotMaster);
        let master = wanted(&g, Owner::Vrrp, Role::Master);
        assert_eq!(
            plan(&backup, &master),
            vec![
                Op::DelDaemon(DaemonState::Backup),
                Op::NewDaemon(master[0].clone())
            ]
        );
        assert_eq!(
            plan(&master, &backup),
            vec![
                Op::DelDaemon(DaemonState::Master),
                Op::NewDaemon(backup[0].clone())
            ]
        );
        assert!(plan(&master, &master).is_empty());
        assert_eq!(plan(&master, &[]), vec![Op::DelDaemon(DaemonState::Master)]);
    }

    #[test]
    fn a_changed_setting_restarts_the_daemon() {
        let old = wanted(
            &global("lvs_sync_daemon eth1 VI_1"),
            Owner::Vrrp,
            Role::Master,
        );
        let new = wanted(
            &global("lvs_sync_daemon eth1 VI_1 id 3"),
            Owner::Vrrp,
            Role::Master,
        );
        assert_eq!(
            plan(&old, &new),
            vec![
                Op::DelDaemon(DaemonState::Master),
                Op::NewDaemon(new[0].clone())
            ]
        );
    }

    #[test]
    fn apply_follows_the_role_in_the_kernel() {
        let g = global("lvs_sync_daemon eth1 VI_1");
        let mut fake = FakeIpvs::new();
        let mut sd = SyncDaemons::default();
        for (role, want) in [
            (Role::NotMaster, vec![DaemonState::Backup]),
            (Role::Master, vec![DaemonState::Master]),
            (Role::NotMaster, vec![DaemonState::Backup]),
            (Role::Gone, vec![]),
        ] {
            sd.apply(&mut fake, &wanted(&g, Owner::Vrrp, role));
            let kernel = fake.daemons().expect("fake lists");
            assert_eq!(states(&kernel), want, "{role:?}");
            assert_eq!(states(sd.running()), want, "{role:?}");
        }
    }

    #[test]
    fn a_foreign_daemon_is_neither_replaced_nor_stopped() {
        let g = global("lvs_sync_daemon eth1 id 4");
        let mut fake = FakeIpvs::new();
        let mut theirs = wanted(&g, Owner::Checker, Role::Gone)[0].clone();
        theirs.ifname = "eth9".into();
        fake.new_daemon(&theirs).expect("fake");
        let mut sd = SyncDaemons::default();
        sd.apply(&mut fake, &wanted(&g, Owner::Checker, Role::Gone));
        assert_eq!(states(sd.running()), [DaemonState::Master]);
        sd.apply(&mut fake, &[]);
        assert_eq!(fake.daemons().expect("fake"), vec![theirs]);
    }

    #[test]
    fn a_refused_start_is_tried_again() {
        let g = global("lvs_sync_daemon eth1 VI_1");
        let mut fake = FakeIpvs::new();
        fake.fail.push(("eth1".into(), libc::ENODEV));
        let mut sd = SyncDaemons::default();
        let want = wanted(&g, Owner::Vrrp, Role::Master);
        sd.apply(&mut fake, &want);
        assert!(sd.running().is_empty());
        assert!(!sd.reached(&want));
        fake.fail.clear();
        sd.apply(&mut fake, &want);
        assert_eq!(states(sd.running()), [DaemonState::Master]);
        assert!(sd.reached(&want) && !sd.reached(&[]));
    }

    fn event(instance: &str, state: NotifyState) -> StateEvent {
        StateEvent {
            instance: instance.into(),
            state,
            priority: 100,
        }
    }

    fn status(name: &str, state: State) -> InstanceStatus {
        InstanceStatus {
            name: name.into(),
            state,
            version: 2,
            vrid: 51,
            interface: "eth0".into(),
            src: std::net::Ipv4Addr::UNSPECIFIED.into(),
            priority: 100,
            effective_priority: 100,
            advert_int: std::time::Duration::from_secs(1),
            rx: Default::default(),
            fsm: Default::default(),
        }
    }

    fn roles(want: Option<Vec<Daemon>>) -> Option<Vec<DaemonState>> {
        want.map(|w| states(&w))
    }

    #[test]
    fn the_tracker_follows_the_named_instance_only() {
        let m = model(&format!(
            "global_defs {{\n lvs_sync_daemon eth1 VI_1\n}}\n{VI}"
        ));
        let mut t = Tracker::new(&m);
        // At start the runtime has the instance in INIT/BACKUP.
        assert_eq!(
            roles(t.resync(&[status("VI_1", State::Init)])),
            Some(vec![DaemonState::Backup])
        );
        // Its own BACKUP notification changes nothing.
        assert_eq!(roles(t.on_event(&event("VI_1", NotifyState::Backup))), None);
        // Another instance becoming master is not ours.
        assert_eq!(roles(t.on_event(&event("VI_2", NotifyState::Master))), None);
        assert_eq!(
            roles(t.on_event(&event("VI_1", NotifyState::Master))),
            Some(vec![DaemonState::Master])
        );
        // MASTER -> FAULT: keepalived's leave_master runs the backup daemon.
        assert_eq!(
            roles(t.on_event(&event("VI_1", NotifyState::Fault))),
            Some(vec![DaemonState::Backup])
        );
        // FAULT -> BACKUP: the same daemon.
        assert_eq!(roles(t.on_event(&event("VI_1", NotifyState::Backup))), None);
        // A lagged feed: the status says master.
        assert_eq!(
            roles(t.resync(&[status("VI_1", State::Master)])),
            Some(vec![DaemonState::Master])
        );
        assert_eq!(roles(t.stop()), Some(vec![]));
        assert_eq!(roles(t.stop()), None);
    }

    #[test]
    fn a_reload_changes_the_daemon_only_when_its_settings_change() {
        let text = |syncd: &str| format!("global_defs {{\n {syncd}\n}}\n{VI}");
        let mut t = Tracker::new(&model(&text("lvs_sync_daemon eth1 VI_1")));
        let master = [status("VI_1", State::Master)];
        assert!(t.resync(&master).is_some());
        t.reconfigure(&model(&text("lvs_sync_daemon eth1 VI_1")));
        assert_eq!(t.resync(&master), None);
        t.reconfigure(&model(&text("lvs_sync_daemon eth2 VI_1")));
        let w = t.resync(&master).expect("a new interface is a new daemon");
        assert_eq!(w[0].ifname, "eth2");
        // lvs_sync_daemon removed: nothing wanted.
        t.reconfigure(&model(&text("")));
        assert_eq!(t.resync(&master), Some(vec![]));
    }

    #[test]
    fn a_follower_without_lvs_sync_daemon_opens_nothing() {
        let mut f = Follower::new(&model(VI));
        f.resync(&[status("VI_1", State::Master)]);
        f.on_event(&event("VI_1", NotifyState::Master));
        assert!(f.worker.is_none());
        f.stop();
    }
}
