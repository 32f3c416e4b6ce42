//! The LVS side of the daemon: keeps the kernel's IPVS table equal to the
//! configuration's `virtual_server` blocks — at start, after every reload,
//! and periodically to repair drift — and releases it at stop.
//!
//! keepalived behaviours matched (2.2.7, `check/ipwrapper.c`,
//! `check/check_daemon.c`):
//! - `lvs_flush` flushes the whole table before the first pass; otherwise
//!   only services the configuration names are touched (an operator's own
//!   `ipvsadm` entries survive start, reload and stop);
//! - a reload applies only the difference: unchanged services and
//!   destinations are left alone (their counters and connections survive),
//!   changed ones are edited in place;
//! - a configuration that fails to load on reload keeps the running one;
//! - at stop every real server then every virtual server is deleted
//!   (`lvs_flush_on_stop`: flush all; `lvs_flush_on_stop VS`: delete the
//!   virtual servers), nothing with `-I`/`--dont-release-ipvs`;
//! - `lvs_timeouts` are set with the table; `lvs_sync_daemon` without a
//!   VRRP instance starts the master and backup sync daemons here (with
//!   one, the VRRP side follows that instance: `super::sync`).
//!
//! Unlike keepalived (which trusts its own memory, issue #1018), a periodic
//! pass reads the kernel table back and repairs entries deleted or edited
//! behind our back; an op the kernel refused is retried by that pass too.
//!
//! The netlink client blocks, so the side runs on its own thread, driven by
//! [`Lvs`]; the logic itself is [`LvsState`], generic over the client so the
//! unit tests drive it with [`ipvs::FakeIpvs`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use confparse::lvs::{LvsConfig, VsKey};
use confparse::Model;
use ipvs::model::{self as desired, Health};
use ipvs::reconcile::ReconcileReport;
use ipvs::{DesiredTable, IpvsClient, IpvsError, NetlinkIpvs, Op, Reconciler};

use super::sync;
use tracing::{error, info, warn};

/// Shortest time between two drift-repair passes. A pass reads the whole
/// table (one dump per service), so the interval also grows to ten times
/// the last pass's duration: large tables are not re-read back to back.
pub const REPAIR_INTERVAL: Duration = Duration::from_secs(5);

/// Where a virtual server comes from, to name it in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    /// `virtual_server 10.0.0.1 80`, `virtual_server fwmark 1`, ...
    name: String,
    /// `file:line` of its block.
    place: String,
}

/// The LVS side's state and logic, over any IPVS client.
#[derive(Debug)]
pub struct LvsState<C: IpvsClient> {
    client: C,
    rec: Reconciler,
    /// The configuration in force (its `lvs` and `global` parts are used).
    model: Model,
    /// Files of the configuration, by `FileId` (spans name them).
    sources: Vec<PathBuf>,
    /// Real server health, by position in `model.lvs` (fed by the checkers
    /// once they exist; empty means keepalived's start-up values).
    health: Health,
    table: DesiredTable,
    origins: BTreeMap<ipvs::ServiceKey, Origin>,
    /// Sync daemons the LVS side started (stopped again at stop).
    sync: sync::SyncDaemons,
}

fn vs_name(key: &VsKey) -> String {
    match key {
        VsKey::Addr { addr, port } => format!("virtual_server {addr} {port}"),
        VsKey::Fwmark { mark } => format!("virtual_server fwmark {mark}"),
        VsKey::Group { name } => format!("virtual_server group {name}"),
    }
}

/// Which service each IPVS key belongs to, for error messages.
fn origins(lvs: &LvsConfig, sources: &[PathBuf]) -> BTreeMap<ipvs::ServiceKey, Origin> {
    let mut m = BTreeMap::new();
    for vs in &lvs.virtual_servers {
        let file = sources
            .get(vs.span.file.0 as usize)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("<file {}>", vs.span.file.0));
        let origin = Origin {
            name: vs_name(&vs.key),
            place: format!("{file}:{}", vs.span.line),
        };
        for k in desired::service_keys(lvs, vs).unwrap_or_default() {
            m.entry(k).or_insert_with(|| origin.clone());
        }
    }
    m
}

/// The service an op is about.
fn op_service(op: &Op) -> Option<ipvs::ServiceKey> {
    match op {
        Op::NewService(s) | Op::SetService(s) => Some(s.key),
        Op::DelService(k) => Some(*k),
        Op::NewDest { service, .. } | Op::SetDest { service, .. } | Op::DelDest { service, .. } => {
            Some(*service)
        }
        Op::Zero(k) => *k,
        Op::Flush | Op::SetConfig(_) | Op::NewDaemon(_) | Op::DelDaemon(_) => None,
    }
}

/// Identity of a real server across reloads: its virtual server's key
/// (with protocol and family) and its own address and port.
type RsIdentity = (String, IpAddr, u16);

fn vs_identity(vs: &confparse::lvs::VirtualServerCfg) -> String {
    format!("{:?}/{:?}/{:?}", vs.key, vs.protocol, vs.family)
}

/// Carries health over a reload: positions change when blocks are added or
/// removed, identities do not. Servers that are new get their start-up
/// value (absent from the map).
pub fn rekey_health(old: &LvsConfig, new: &LvsConfig, health: &Health) -> Health {
    let mut by_id: BTreeMap<RsIdentity, bool> = BTreeMap::new();
    let mut quorum: BTreeMap<String, bool> = BTreeMap::new();
    for (vi, vs) in old.virtual_servers.iter().enumerate() {
        let id = vs_identity(vs);
        if let Some(q) = health.quorum_up.get(&vi) {
            quorum.insert(id.clone(), *q);
        }
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            if let Some(up) = health.real_servers.get(&(vi, ri)) {
                by_id.insert((id.clone(), rs.addr, rs.port), *up);
            }
        }
    }
    let mut out = Health::default();
    for (vi, vs) in new.virtual_servers.iter().enumerate() {
        let id = vs_identity(vs);
        if let Some(q) = quorum.get(&id) {
            out.quorum_up.insert(vi, *q);
        }
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            if let Some(up) = by_id.get(&(id.clone(), rs.addr, rs.port)) {
                out.real_servers.insert((vi, ri), *up);
            }
        }
    }
    out
}

/// Seconds since boot now and at this process's start (`/proc/uptime`, the
/// clock the VM lab's scripts time with, and field 22 of `/proc/self/stat`
/// in clock ticks): with the pass times, the start-up phases (exec, config
/// loaded, table read, last reply) the IPVS benchmark reports.
fn boot_clock() -> String {
    let now = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    let now = now.split_whitespace().next().unwrap_or("?");
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields count from the ')' closing the command name; starttime is 22nd.
    let started = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|t| t.parse::<u64>().ok())
        .map_or("?".to_string(), |t| format!("{:.2}", t as f64 / 100.0));
    format!("uptime {now} s, process started at {started} s")
}

/// One line per start or stop pass: ops and where the time went.
fn log_pass(phase: &str, r: &ReconcileReport) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    info!(
        "IPVS {phase}: {} op(s), {} failed; read {:.1} ms, plan {:.1} ms, apply {:.1} ms ({})",
        r.ops.len(),
        r.applied.failed.len(),
        ms(r.times.read),
        ms(r.times.plan),
        ms(r.times.apply),
        boot_clock()
    );
}

impl<C: IpvsClient> LvsState<C> {
    /// The first pass: `lvs_flush` if configured, then the configured
    /// services, `lvs_timeouts` and `lvs_sync_daemon`. Errors are logged;
    /// what failed is retried by the next [`LvsState::repair`].
    pub fn start(client: C, model: Model, sources: Vec<PathBuf>) -> LvsState<C> {
        let mut s = LvsState {
            client,
            rec: Reconciler::new(),
            origins: origins(&model.lvs, &sources),
            model,
            sources,
            health: Health::default(),
            table: DesiredTable::default(),
            sync: sync::SyncDaemons::default(),
        };
        s.table = match desired::desired_from_model(&s.model.lvs, &s.model.global, &s.health) {
            Ok(t) => t,
            Err(e) => {
                // Nothing is touched rather than half a table.
                error!("IPVS: {e}; no virtual server programmed");
                DesiredTable::default()
            }
        };
        let flush = desired::flush_at_start(&s.model.global);
        if flush {
            info!("IPVS: flushing the table (lvs_flush)");
        }
        match s.rec.start(&mut s.client, &s.table, flush) {
            Ok(r) => {
                log_pass("start", &r);
                s.log_report("start", &r);
            }
            Err(e) => error!("IPVS: cannot read the table at start: {e}"),
        }
        s.start_sync_daemons();
        s
    }

    /// The client, for the tests to look at the table.
    #[cfg(test)]
    pub fn client(&mut self) -> &mut C {
        &mut self.client
    }

    /// Reads the kernel table back and repairs what differs from the
    /// configuration (drift, or ops that failed before). Returns the number
    /// of ops it had to run.
    pub fn repair(&mut self) -> usize {
        match self.rec.reconcile(&mut self.client, &self.table) {
            Ok(r) => {
                if !r.ops.is_empty() {
                    warn!(
                        "IPVS: the table differed from the configuration; {} change(s) reapplied",
                        r.ops.len()
                    );
                    self.log_report("repair", &r);
                }
                r.ops.len()
            }
            Err(e) => {
                error!("IPVS: cannot read the table: {e}");
                0
            }
        }
    }

    /// New health from the checkers: applied at once, planned against the
    /// table the last pass left (no dumps: a transition costs its own ops;
    /// drift is still caught by the next periodic [`LvsState::repair`]).
    pub fn set_health(&mut self, health: Health) {
        self.health = health;
        match desired::desired_from_model(&self.model.lvs, &self.model.global, &self.health) {
            Ok(t) => {
                self.table = t;
                match self.rec.reconcile_cached(&mut self.client, &self.table) {
                    Ok(r) => self.log_report("health", &r),
                    Err(e) => error!("IPVS: cannot read the table: {e}"),
                }
            }
            Err(e) => error!("IPVS: {e}"),
        }
    }

    /// Switches to a new configuration, applying only the difference. A
    /// model that cannot be turned into a table keeps the old one.
    pub fn reload(&mut self, model: Model, sources: Vec<PathBuf>) {
        let health = rekey_health(&self.model.lvs, &model.lvs, &self.health);
        let table = match desired::desired_from_model(&model.lvs, &model.global, &health) {
            Ok(t) => t,
            Err(e) => {
                error!("IPVS: {e}; keeping the running configuration");
                return;
            }
        };
        let had_sync = self.model.global.lvs_sync_daemon.clone();
        self.origins = origins(&model.lvs, &sources);
        self.model = model;
        self.sources = sources;
        self.health = health;
        self.table = table;
        match self.rec.reconcile(&mut self.client, &self.table) {
            Ok(r) => {
                info!("IPVS: reloaded; {} change(s) applied", r.ops.len());
                self.log_report("reload", &r);
            }
            Err(e) => error!("IPVS: cannot read the table on reload: {e}"),
        }
        if had_sync != self.model.global.lvs_sync_daemon {
            self.stop_sync_daemons();
            self.start_sync_daemons();
        }
    }

    /// Releases the table per `lvs_flush_on_stop` / `-I`.
    pub fn stop(&mut self, dont_release_ipvs: bool) {
        let policy = desired::stop_policy(&self.model.global, dont_release_ipvs);
        match self.rec.stop(&mut self.client, policy) {
            Ok(r) => {
                log_pass("stop", &r);
                self.log_report("stop", &r);
            }
            Err(e) => error!("IPVS: cannot read the table at stop: {e}"),
        }
        if !dont_release_ipvs {
            self.stop_sync_daemons();
        }
    }

    /// `lvs_sync_daemon` without a VRRP instance: the master and backup
    /// daemons run with the LVS side (keepalived's checker process; the
    /// instance-bound form is the VRRP side's, see [`super::sync`]).
    fn start_sync_daemons(&mut self) {
        let want = sync::wanted(&self.model.global, sync::Owner::Checker, sync::Role::Gone);
        self.sync.apply(&mut self.client, &want);
    }

    fn stop_sync_daemons(&mut self) {
        self.sync.apply(&mut self.client, &[]);
    }

    /// Logs each failed op with the virtual server and config line it
    /// belongs to.
    fn log_report(&self, phase: &str, r: &ReconcileReport) {
        for m in self.failures(phase, r) {
            error!("{m}");
        }
    }

    /// One message per failed op of `r`.
    fn failures(&self, phase: &str, r: &ReconcileReport) -> Vec<String> {
        r.applied
            .failed
            .iter()
            .map(
                |f| match op_service(&f.op).and_then(|k| self.origins.get(&k)) {
                    Some(o) => format!(
                        "IPVS ({phase}): {} ({}, {}); retried on the next pass",
                        f.error, o.name, o.place
                    ),
                    None => format!("IPVS ({phase}): {}; retried on the next pass", f.error),
                },
            )
            .collect()
    }
}

/// What the LVS thread is asked to do.
enum Cmd {
    /// Load the configuration again from `path`.
    Reload {
        path: PathBuf,
        opts: Box<confparse::LoadOptions>,
    },
    // Sent by the checker runner once it exists (a later issue).
    #[allow(dead_code)]
    Health(Health),
    Stop {
        dont_release_ipvs: bool,
    },
}

/// The running LVS side: a thread owning the netlink socket.
pub struct Lvs {
    tx: mpsc::Sender<Cmd>,
    thread: Option<JoinHandle<()>>,
}

/// Loads the configuration at `path` for a reload; on failure logs the
/// rendered diagnostics and returns `None` (the running one stays).
pub fn load_for_reload(
    path: &Path,
    opts: &confparse::LoadOptions,
) -> Option<(Model, Vec<PathBuf>)> {
    let mut report = confparse::check(path, opts);
    let rendered = report.render();
    let files = (0..report.sources.len())
        .filter_map(|i| {
            let id = confparse::FileId(u32::try_from(i).ok()?);
            report.sources.path(id).map(Path::to_path_buf)
        })
        .collect();
    match report.model.take() {
        Some(m) => {
            if !rendered.is_empty() {
                warn!("reload: {}", rendered.trim_end());
            }
            Some((m, files))
        }
        None => {
            error!(
                "reload: {} cannot be loaded; keeping the running configuration\n{}",
                path.display(),
                rendered.trim_end()
            );
            None
        }
    }
}

impl Lvs {
    /// Connects to the kernel's IPVS and runs the first pass on a thread of
    /// its own; `config` is the main configuration file (spans name it).
    pub fn start(model: &Model, config: &Path) -> Result<Lvs, IpvsError> {
        Lvs::start_with(model.clone(), vec![config.to_path_buf()])
    }

    /// [`Lvs::start`] with every file of the configuration known.
    fn start_with(model: Model, sources: Vec<PathBuf>) -> Result<Lvs, IpvsError> {
        info!("IPVS: configuration loaded ({})", boot_clock());
        let client = NetlinkIpvs::connect()?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("lvs".into())
            .spawn(move || run(LvsState::start(client, model, sources), rx))
            .map_err(|e| IpvsError::Io {
                op: "starting the LVS thread".into(),
                source: e,
            })?;
        Ok(Lvs {
            tx,
            thread: Some(thread),
        })
    }

    /// SIGHUP while the LVS side is not running: keepalived 2.2.7 starts
    /// its checker process when the new configuration has virtual servers
    /// (observed in the VM lab). A failure is logged; nothing starts.
    pub fn start_on_reload(path: &Path, opts: &confparse::LoadOptions) -> Option<Lvs> {
        let (model, sources) = load_for_reload(path, opts)?;
        if model.lvs.virtual_servers.is_empty() {
            return None;
        }
        match Lvs::start_with(model, sources) {
            Ok(l) => Some(l),
            Err(e) => {
                error!("IPVS: Can't initialize ipvs: {e}");
                None
            }
        }
    }

    /// SIGHUP: load the configuration again (on the LVS thread) and apply
    /// the difference.
    pub fn reload(&self, path: PathBuf, opts: confparse::LoadOptions) {
        let opts = Box::new(opts);
        if self.tx.send(Cmd::Reload { path, opts }).is_err() {
            error!("IPVS: the LVS thread is gone; reload ignored");
        }
    }

    /// Health from the checkers (their runner comes in a later issue).
    #[allow(dead_code)]
    pub fn set_health(&self, health: Health) {
        if self.tx.send(Cmd::Health(health)).is_err() {
            error!("IPVS: the LVS thread is gone; health update ignored");
        }
    }

    /// Releases the table (unless `dont_release_ipvs`) and waits for the
    /// thread to finish.
    pub fn stop(mut self, dont_release_ipvs: bool) {
        let _ = self.tx.send(Cmd::Stop { dont_release_ipvs });
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                error!("IPVS: the LVS thread panicked");
            }
        }
    }
}

/// The LVS thread: commands, and a repair pass when none comes in time.
fn run<C: IpvsClient>(mut state: LvsState<C>, rx: mpsc::Receiver<Cmd>) {
    let mut interval = REPAIR_INTERVAL;
    loop {
        match rx.recv_timeout(interval) {
            Ok(Cmd::Reload { path, opts }) => {
                if let Some((m, files)) = load_for_reload(&path, &opts) {
                    state.reload(m, files);
                }
            }
            Ok(Cmd::Health(h)) => state.set_health(h),
            Ok(Cmd::Stop { dont_release_ipvs }) => {
                state.stop(dont_release_ipvs);
                return;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let t = Instant::now();
                state.repair();
                interval = REPAIR_INTERVAL.max(t.elapsed() * 10);
            }
            // The daemon went away without asking for a stop (it cannot
            // know about -I then): leave the table serving.
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use ipvs::{Dest, FakeIpvs, FwdMethod, Protocol, Service, ServiceKey};

    /// A test configuration's model (the sync daemon tests use it too).
    pub(in crate::daemon) fn model(text: &str) -> Model {
        let opts = confparse::LoadOptions::default();
        let mut r = confparse::check_str(text, &opts);
        match r.model.take() {
            Some(m) => m,
            None => panic!("test config does not load:\n{}", r.render()),
        }
    }

    // Line 1 is empty: the fwmark block opens on line 13.
    const BASE: &str = "
virtual_server 10.0.0.1 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.1.1 80 {
        weight 1
    }
    real_server 10.0.1.2 80 {
        weight 2
    }
}
virtual_server fwmark 7 {
    lb_algo sh
    lb_kind DR
    real_server 10.0.1.3 0 {
        weight 1
    }
}
";

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: addr.parse().expect("test address"),
            port,
        }
    }

    fn foreign() -> Service {
        Service::new(tcp("192.0.2.9", 443), "wlc")
    }

    fn table(c: &mut FakeIpvs) -> ipvs::ActualTable {
        ipvs::read_table(c).expect("fake reads")
    }

    fn state(text: &str, fake: FakeIpvs) -> LvsState<FakeIpvs> {
        LvsState::start(fake, model(text), vec![PathBuf::from("/k.conf")])
    }

    #[test]
    fn start_programs_config_and_keeps_foreign_services() {
        let mut fake = FakeIpvs::new();
        fake.new_service(&foreign()).expect("fake");
        let mut s = state(BASE, fake);
        let t = table(s.client());
        assert_eq!(t.services.len(), 3);
        let (svc, dests) = t
            .services
            .iter()
            .find(|(s, _)| s.key == tcp("10.0.0.1", 80))
            .expect("configured service");
        assert_eq!(svc.scheduler, "rr");
        assert_eq!(dests.len(), 2);
        assert!(dests
            .iter()
            .all(|d: &Dest| d.fwd == FwdMethod::Route && d.weight >= 1));
        s.stop(false);
        let t = table(s.client());
        assert_eq!(
            t.keys().into_iter().collect::<Vec<_>>(),
            vec![foreign().key]
        );
    }

    #[test]
    fn lvs_flush_removes_foreign_services() {
        let mut fake = FakeIpvs::new();
        fake.new_service(&foreign()).expect("fake");
        let text = format!("global_defs {{\n lvs_flush\n}}\n{BASE}");
        let mut s = state(&text, fake);
        assert!(!table(s.client()).keys().contains(&foreign().key));
        assert_eq!(table(s.client()).services.len(), 2);
    }

    #[test]
    fn dont_release_keeps_the_table() {
        let mut s = state(BASE, FakeIpvs::new());
        s.stop(true);
        assert_eq!(table(s.client()).services.len(), 2);
    }

    #[test]
    fn drift_is_repaired_and_a_quiet_table_needs_nothing() {
        let mut s = state(BASE, FakeIpvs::new());
        assert_eq!(s.repair(), 0);
        s.client().del_service(&tcp("10.0.0.1", 80)).expect("fake");
        assert!(s.repair() > 0);
        let t = table(s.client());
        let (_, dests) = t
            .services
            .iter()
            .find(|(s, _)| s.key == tcp("10.0.0.1", 80))
            .expect("service restored");
        assert_eq!(dests.len(), 2);
        assert_eq!(s.repair(), 0);
    }

    #[test]
    fn reload_applies_only_the_difference() {
        let mut s = state(BASE, FakeIpvs::new());
        let writes = s.client().writes;
        // rs 10.0.1.2 removed, 10.0.1.1's weight changed, a service added.
        let new = BASE
            .replace("    real_server 10.0.1.2 80 {\n        weight 2\n    }\n", "")
            .replace("weight 1\n    }\n    \n", "")
            .replace(
                "real_server 10.0.1.1 80 {\n        weight 1",
                "real_server 10.0.1.1 80 {\n        weight 5",
            )
            + "virtual_server 10.0.0.2 53 {\n lb_algo rr\n protocol UDP\n real_server 10.0.1.4 53 {\n }\n}\n";
        s.reload(model(&new), vec![PathBuf::from("/k.conf")]);
        // del dest, edit dest, new service, new dest: four writes.
        assert_eq!(s.client().writes - writes, 4);
        assert_eq!(table(s.client()).services.len(), 3);
    }

    #[test]
    fn failed_ops_are_retried_on_the_next_pass() {
        let mut fake = FakeIpvs::new();
        fake.fail.push(("10.0.1.2".into(), libc::ENOMEM));
        let mut s = state(BASE, fake);
        let dests = |s: &mut LvsState<FakeIpvs>| {
            table(s.client())
                .services
                .iter()
                .find(|(s, _)| s.key == tcp("10.0.0.1", 80))
                .map(|(_, d)| d.len())
        };
        assert_eq!(dests(&mut s), Some(1));
        s.client().fail.clear();
        assert_eq!(s.repair(), 1);
        assert_eq!(dests(&mut s), Some(2));
    }

    #[test]
    fn sync_daemons_follow_lvs_sync_daemon() {
        let text = format!("global_defs {{\n lvs_sync_daemon eth0 id 7\n}}\n{BASE}");
        let mut s = state(&text, FakeIpvs::new());
        let mut d = s.client().daemons().expect("fake");
        d.sort_by_key(|d| d.state.bits());
        // No VRRP instance named: master and backup, syncid 7 on eth0.
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|d| d.ifname == "eth0" && d.sync_id == 7));
        s.stop(false);
        assert!(s.client().daemons().expect("fake").is_empty());
    }

    #[test]
    fn an_instance_bound_sync_daemon_is_left_to_the_vrrp_side() {
        let text = format!(
            "global_defs {{\n lvs_sync_daemon eth0 VI_1\n}}\n\
             vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 9\n priority 100\n}}\n{BASE}"
        );
        let mut s = state(&text, FakeIpvs::new());
        assert!(s.client().daemons().expect("fake").is_empty());
    }

    #[test]
    fn lvs_flush_on_stop_vs_deletes_services_only_ours() {
        let mut fake = FakeIpvs::new();
        fake.new_service(&foreign()).expect("fake");
        let text = format!("global_defs {{\n lvs_flush_on_stop VS\n}}\n{BASE}");
        let mut s = state(&text, fake);
        s.stop(false);
        assert_eq!(
            table(s.client()).keys().into_iter().collect::<Vec<_>>(),
            vec![foreign().key]
        );
    }

    #[test]
    fn kernel_errors_name_the_virtual_server_and_line() {
        let mut s = state(BASE, FakeIpvs::new());
        s.client().del_service(&tcp("10.0.0.1", 80)).expect("fake");
        s.client().fail.push(("10.0.1.2".into(), libc::ENOMEM));
        let r = s
            .rec
            .reconcile(&mut s.client, &s.table)
            .expect("fake reads");
        let msgs = s.failures("repair", &r);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].contains("10.0.1.2")
                && msgs[0].contains("(virtual_server 10.0.0.1 80, /k.conf:2)"),
            "{msgs:?}"
        );
    }

    #[test]
    fn a_dead_real_server_is_removed_and_comes_back() {
        let mut s = state(BASE, FakeIpvs::new());
        let dests = |s: &mut LvsState<FakeIpvs>| {
            table(s.client())
                .services
                .iter()
                .find(|(s, _)| s.key == tcp("10.0.0.1", 80))
                .map(|(_, d)| d.len())
        };
        let mut h = Health::default();
        h.real_servers.insert((0, 1), false);
        s.set_health(h);
        assert_eq!(dests(&mut s), Some(1));
        s.set_health(Health::default());
        assert_eq!(dests(&mut s), Some(2));
    }

    #[test]
    fn origins_name_the_block_and_line() {
        let m = model(BASE);
        let o = origins(&m.lvs, &[PathBuf::from("/k.conf")]);
        let fw = ServiceKey::Fwmark {
            family: ipvs::Family::Inet,
            mark: 7,
        };
        assert_eq!(
            o.get(&fw),
            Some(&Origin {
                name: "virtual_server fwmark 7".into(),
                place: "/k.conf:13".into()
            })
        );
    }

    #[test]
    fn health_follows_servers_across_reload() {
        let old = model(BASE);
        let mut h = Health::default();
        h.real_servers.insert((0, 1), false);
        h.real_servers.insert((1, 0), false);
        // The fwmark block moves first; 10.0.1.2 stays second of its block.
        let new_text = "
virtual_server fwmark 7 {
    lb_algo sh
    lb_kind DR
    real_server 10.0.1.3 0 {
        weight 1
    }
}
virtual_server 10.0.0.1 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.1.1 80 {
        weight 1
    }
    real_server 10.0.1.2 80 {
        weight 2
    }
}
";
        let new = model(new_text);
        let r = rekey_health(&old.lvs, &new.lvs, &h);
        assert_eq!(r.real_servers.get(&(0, 0)), Some(&false));
        assert_eq!(r.real_servers.get(&(1, 1)), Some(&false));
        assert_eq!(r.real_servers.len(), 2);
    }
}
