//! The reconciler: the desired table (virtual servers, their real servers and
//! health), the pure `plan(desired, actual, owned) -> Vec<Op>`, and `apply`,
//! which runs a plan through any [`IpvsClient`] and matches errors to ops.
//!
//! keepalived behaviours matched (keepalived.conf(5), check/ipwrapper.c):
//! - a real server whose checkers fail is removed, or kept with weight 0 when
//!   `inhibit_on_failure` is set (connections drain);
//! - quorum: the sum of the weights of live real servers, against `quorum`
//!   with `hysteresis`; losing quorum with a `sorry_server` removes the live
//!   real servers (weight 0 for inhibited ones) and adds the sorry server;
//!   regaining it reverses that (`sorry_server_inhibit`: weight 0, not removed);
//! - only services the configuration owns are touched: an operator's own
//!   `ipvsadm` entries survive; `lvs_flush` at start, `lvs_flush_on_stop [VS]`
//!   and `-I`/`--dont-release-ipvs` at stop.
//!
//! Unlike keepalived 2.2.7 (which diffs against its own memory, issue #1018),
//! each reconcile reads the kernel table, so drift (an entry deleted behind
//! our back) is repaired on the next pass.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::client::{IpvsClient, Op};
use crate::error::IpvsError;
use crate::types::*;

/// A real server: its destination settings and its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealServer {
    pub dest: Dest,
    /// Checkers report it alive (a server without checkers is always up).
    pub up: bool,
    /// `inhibit_on_failure`: when down, weight 0 instead of removal.
    #[serde(default)]
    pub inhibit_on_failure: bool,
}

/// `sorry_server`, used while quorum is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SorryServer {
    pub dest: Dest,
    /// `sorry_server_inhibit`: while quorum holds, weight 0 instead of removal.
    #[serde(default)]
    pub inhibit: bool,
}

/// A `virtual_server` block with its real servers' health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualServer {
    pub service: Service,
    pub reals: Vec<RealServer>,
    /// `quorum` (default 1).
    #[serde(default = "one")]
    pub quorum: u32,
    #[serde(default)]
    pub hysteresis: u32,
    #[serde(default)]
    pub sorry: Option<SorryServer>,
    /// Current quorum state; keep it with [`VirtualServer::update_quorum`]
    /// after each health change. Starts up (keepalived starts with quorum up
    /// and re-evaluates once the checkers report).
    #[serde(default = "yes")]
    pub quorum_up: bool,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

impl VirtualServer {
    pub fn new(service: Service, reals: Vec<RealServer>) -> VirtualServer {
        VirtualServer {
            service,
            reals,
            quorum: 1,
            hysteresis: 0,
            sorry: None,
            quorum_up: true,
        }
    }

    /// Sum of the weights of the live real servers.
    pub fn alive_weight(&self) -> u64 {
        self.reals
            .iter()
            .filter(|r| r.up)
            .map(|r| u64::from(r.dest.weight))
            .sum()
    }

    /// Recomputes `quorum_up` from the live weight, with keepalived's
    /// hysteresis (update_quorum_state): up once the weight reaches
    /// quorum + hysteresis, down when it is zero or below quorum - hysteresis.
    /// Returns whether the state changed.
    pub fn update_quorum(&mut self) -> bool {
        let w = self.alive_weight();
        let q = u64::from(self.quorum);
        let h = u64::from(self.hysteresis);
        let next = if self.quorum_up {
            !(w == 0 || w < q.saturating_sub(h))
        } else {
            w >= q + h
        };
        let changed = next != self.quorum_up;
        self.quorum_up = next;
        changed
    }

    /// The destinations this virtual server should have in the kernel now.
    pub fn effective_dests(&self) -> Vec<Dest> {
        let sorry_active = self.sorry.is_some() && !self.quorum_up;
        let mut out: Vec<Dest> = Vec::new();
        let mut push = |d: Dest| {
            if let Some(slot) = out.iter_mut().find(|x| x.key == d.key) {
                *slot = d;
            } else {
                out.push(d);
            }
        };
        for r in &self.reals {
            // With the sorry server in place even live servers are "removed".
            let serving = r.up && !sorry_active;
            if serving {
                push(r.dest.clone());
            } else if r.inhibit_on_failure {
                push(Dest {
                    weight: 0,
                    ..r.dest.clone()
                });
            }
        }
        if let Some(s) = &self.sorry {
            if sorry_active {
                push(s.dest.clone());
            } else if s.inhibit {
                push(Dest {
                    weight: 0,
                    ..s.dest.clone()
                });
            }
        }
        out
    }
}

/// Everything the configuration wants in the IPVS table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredTable {
    pub services: Vec<VirtualServer>,
    /// `lvs_timeouts` (0 = leave unchanged).
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
}

/// The kernel's table as read back: settings only, counters dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualTable {
    pub services: Vec<(Service, Vec<Dest>)>,
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
}

impl ActualTable {
    pub fn keys(&self) -> BTreeSet<ServiceKey> {
        self.services.iter().map(|(s, _)| s.key).collect()
    }

    /// The table after `op` succeeded in the kernel: what it now holds, as
    /// far as we know (the cache behind [`Reconciler::reconcile_cached`]).
    pub fn apply(&mut self, op: &Op) {
        self.apply_with(op, |t, k| t.services.iter().position(|(s, _)| s.key == *k));
    }

    /// [`ActualTable::apply`] for a whole plan, finding services through an
    /// index: a linear search per op made caching a 30,000-destination
    /// start cost 0.47 s under TCG (31,000 ops x up to 1,000 services).
    pub fn apply_all(&mut self, ops: &[Op]) {
        let index_of = |t: &ActualTable| -> HashMap<ServiceKey, usize> {
            let mut m = HashMap::with_capacity(t.services.len());
            for (i, (s, _)) in t.services.iter().enumerate() {
                // The first of duplicates, as the linear search finds.
                m.entry(s.key).or_insert(i);
            }
            m
        };
        let mut index = index_of(self);
        for op in ops {
            self.apply_with(op, |_, k| index.get(k).copied());
            match op {
                Op::NewService(s) => {
                    index.entry(s.key).or_insert(self.services.len() - 1);
                }
                // Positions moved.
                Op::DelService(_) | Op::Flush => index = index_of(self),
                _ => {}
            }
        }
    }

    fn apply_with(&mut self, op: &Op, svc: impl Fn(&ActualTable, &ServiceKey) -> Option<usize>) {
        match op {
            Op::NewService(s) => self.services.push((s.clone(), vec![])),
            Op::SetService(s) => {
                if let Some(i) = svc(self, &s.key) {
                    self.services[i].0 = s.clone();
                }
            }
            Op::DelService(k) => self.services.retain(|(s, _)| s.key != *k),
            Op::NewDest { service, dest } => {
                if let Some(i) = svc(self, service) {
                    self.services[i].1.push(dest.clone());
                }
            }
            Op::SetDest { service, dest } => {
                if let Some(i) = svc(self, service) {
                    for d in self.services[i].1.iter_mut().filter(|d| d.key == dest.key) {
                        *d = dest.clone();
                    }
                }
            }
            Op::DelDest { service, dest } => {
                if let Some(i) = svc(self, service) {
                    self.services[i].1.retain(|d| d.key != *dest);
                }
            }
            Op::Flush => self.services.clear(),
            Op::SetConfig(t) => {
                if let Some(have) = self.timeouts.as_mut() {
                    // 0 leaves a timeout unchanged.
                    for (h, w) in [
                        (&mut have.tcp, t.tcp),
                        (&mut have.tcp_fin, t.tcp_fin),
                        (&mut have.udp, t.udp),
                    ] {
                        if w != 0 {
                            *h = w;
                        }
                    }
                }
            }
            Op::Zero(_) | Op::NewDaemon(_) | Op::DelDaemon(_) => {}
        }
    }
}

/// Reads the whole table: one service dump, one destination dump per service.
/// A service deleted by someone else between the two dumps (ESRCH) is left
/// out rather than failing the pass.
pub fn read_table<C: IpvsClient + ?Sized>(client: &mut C) -> Result<ActualTable, IpvsError> {
    let mut t = ActualTable::default();
    let services = client.service_settings()?;
    t.services.reserve(services.len());
    for s in services {
        let dests = match client.dest_settings(&s.key) {
            Ok(d) => d,
            Err(err) if err.is_no_service() => continue,
            Err(err) => return Err(err),
        };
        t.services.push((s, dests));
    }
    t.timeouts = Some(client.config()?);
    Ok(t)
}

/// The ops that turn `actual` into `desired`, touching only services in
/// `desired` or in `owned` (those the configuration managed before). Minimal:
/// an unchanged service or destination yields no op; a changed one is edited
/// in place (connections survive), never deleted and re-added.
pub fn plan(desired: &DesiredTable, actual: &ActualTable, owned: &BTreeSet<ServiceKey>) -> Vec<Op> {
    let mut ops = Vec::new();
    let actual_by_key: BTreeMap<ServiceKey, (&Service, &Vec<Dest>)> = actual
        .services
        .iter()
        .map(|(s, d)| (s.key, (s, d)))
        .collect();

    if let (Some(want), Some(have)) = (desired.timeouts, actual.timeouts) {
        let differs = |w: u32, h: u32| w != 0 && w != h;
        if differs(want.tcp, have.tcp)
            || differs(want.tcp_fin, have.tcp_fin)
            || differs(want.udp, have.udp)
        {
            ops.push(Op::SetConfig(want));
        }
    } else if let Some(want) = desired.timeouts {
        if want != Timeouts::default() {
            ops.push(Op::SetConfig(want));
        }
    }

    // First drop what we owned and no longer want: frees addresses and
    // weight before anything is added.
    let mut seen = BTreeSet::new();
    let wanted: BTreeSet<ServiceKey> = desired.services.iter().map(|v| v.service.key).collect();
    for k in owned {
        if !wanted.contains(k) && actual_by_key.contains_key(k) {
            ops.push(Op::DelService(*k));
        }
    }

    for vs in &desired.services {
        let key = vs.service.key;
        if !seen.insert(key) {
            continue; // a duplicate block: the first one wins
        }
        let want = vs.effective_dests();
        match actual_by_key.get(&key) {
            None => {
                ops.push(Op::NewService(vs.service.clone()));
                for d in want {
                    ops.push(Op::NewDest {
                        service: key,
                        dest: d,
                    });
                }
            }
            Some((svc, have)) => {
                if !same_service(svc, &vs.service) {
                    ops.push(Op::SetService(vs.service.clone()));
                }
                let want_keys: BTreeSet<DestKey> = want.iter().map(|d| d.key).collect();
                let mut extra: Vec<DestKey> = have
                    .iter()
                    .map(|d| d.key)
                    .filter(|k| !want_keys.contains(k))
                    .collect();
                extra.sort();
                for dk in extra {
                    ops.push(Op::DelDest {
                        service: key,
                        dest: dk,
                    });
                }
                for d in want {
                    match have.iter().find(|h| h.key == d.key) {
                        None => ops.push(Op::NewDest {
                            service: key,
                            dest: d,
                        }),
                        Some(h) if !same_dest(h, &d) => ops.push(Op::SetDest {
                            service: key,
                            dest: d,
                        }),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    ops
}

/// Destination equality as the kernel reports it back. Older kernels force
/// the forwarding method of a destination whose address is local to the
/// director to LOCALNODE (`__ip_vs_update_dest`), whatever was asked: that
/// is not drift, and editing it again would change nothing. (Debian's 6.1
/// keeps the method asked for; lab_ipvs checks the pass is quiet there too.)
fn same_dest(have: &Dest, want: &Dest) -> bool {
    let fwd_ok = have.fwd == want.fwd || have.fwd == FwdMethod::Local;
    fwd_ok
        && have.weight == want.weight
        && have.u_threshold == want.u_threshold
        && have.l_threshold == want.l_threshold
}

/// Settings equality as the kernel reports them back.
fn same_service(have: &Service, want: &Service) -> bool {
    have.scheduler == want.scheduler
        && have.persistence == want.persistence
        && have.one_packet == want.one_packet
        && have.sched_flags == want.sched_flags
        && have.pe_name.as_deref().unwrap_or("") == want.pe_name.as_deref().unwrap_or("")
}

/// What to do with our services when the daemon stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopPolicy {
    /// Default: delete each real server, then each virtual server.
    DeleteEach,
    /// `lvs_flush_on_stop VS`: delete each virtual server (the kernel drops
    /// its real servers with it).
    DeleteServices,
    /// `lvs_flush_on_stop`: flush the whole table.
    FlushAll,
    /// `-I` / `--dont-release-ipvs`: leave the table as it is.
    Keep,
}

/// The ops run at shutdown for the services in `owned`.
pub fn plan_stop(
    actual: &ActualTable,
    owned: &BTreeSet<ServiceKey>,
    policy: StopPolicy,
) -> Vec<Op> {
    let ours = actual
        .services
        .iter()
        .filter(|(s, _)| owned.contains(&s.key));
    match policy {
        StopPolicy::Keep => vec![],
        StopPolicy::FlushAll => vec![Op::Flush],
        StopPolicy::DeleteServices => ours.map(|(s, _)| Op::DelService(s.key)).collect(),
        StopPolicy::DeleteEach => {
            let mut ops = Vec::new();
            for (s, dests) in ours {
                for d in dests {
                    ops.push(Op::DelDest {
                        service: s.key,
                        dest: d.key,
                    });
                }
                ops.push(Op::DelService(s.key));
            }
            ops
        }
    }
}

/// The outcome of running a plan.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Ops that succeeded.
    pub done: usize,
    /// Ops that failed, with the kernel's reason.
    pub failed: Vec<FailedOp>,
}

/// One op of a plan that failed.
#[derive(Debug)]
pub struct FailedOp {
    /// Its position in the plan.
    pub index: usize,
    pub op: Op,
    pub error: IpvsError,
}

impl ApplyReport {
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Runs `ops` pipelined through `client`; each error is matched to its op.
pub fn apply<C: IpvsClient + ?Sized>(client: &mut C, ops: &[Op]) -> ApplyReport {
    let mut report = ApplyReport::default();
    for (index, (op, res)) in ops.iter().zip(client.execute(ops)).enumerate() {
        match res {
            Ok(()) => report.done += 1,
            Err(error) => report.failed.push(FailedOp {
                index,
                op: op.clone(),
                error,
            }),
        }
    }
    report
}

/// What happened in one reconcile pass.
#[derive(Debug)]
pub struct ReconcileReport {
    pub ops: Vec<Op>,
    pub applied: ApplyReport,
    /// Where the pass spent its time.
    pub times: PassTimes,
}

/// Wall-clock time of each phase of a pass (the daemon logs them; under
/// qemu TCG they show whether our work or the kernel's dominates).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassTimes {
    /// Reading the kernel table (dumps and decoding); zero for a cached pass.
    pub read: Duration,
    /// Planning the ops.
    pub plan: Duration,
    /// Sending them and collecting the replies.
    pub apply: Duration,
}

/// Keeps the set of services the configuration owns across passes, and
/// the table as of the last pass for cheap incremental passes.
#[derive(Debug, Default, Clone)]
pub struct Reconciler {
    owned: BTreeSet<ServiceKey>,
    /// The kernel table after the last pass, if every op of it succeeded.
    cache: Option<ActualTable>,
}

impl Reconciler {
    pub fn new() -> Reconciler {
        Reconciler::default()
    }

    /// A reconciler that already owns `owned` (e.g. restored after a restart
    /// with `-I`, or handed over by a previous generation).
    pub fn with_owned(owned: BTreeSet<ServiceKey>) -> Reconciler {
        Reconciler { owned, cache: None }
    }

    /// Services the configuration currently owns.
    pub fn owned(&self) -> &BTreeSet<ServiceKey> {
        &self.owned
    }

    /// First pass at start-up; `lvs_flush` flushes the table first.
    pub fn start<C: IpvsClient + ?Sized>(
        &mut self,
        client: &mut C,
        desired: &DesiredTable,
        lvs_flush: bool,
    ) -> Result<ReconcileReport, IpvsError> {
        if lvs_flush {
            let t = Instant::now();
            let mut ops = vec![Op::Flush];
            let timeouts = Some(client.config()?);
            let read = t.elapsed();
            ops.extend(plan(
                desired,
                &ActualTable {
                    services: vec![],
                    timeouts,
                },
                &BTreeSet::new(),
            ));
            let planned = t.elapsed();
            let applied = apply(client, &ops);
            let times = PassTimes {
                read,
                plan: planned - read,
                apply: t.elapsed() - planned,
            };
            self.owned = desired.services.iter().map(|v| v.service.key).collect();
            self.cache = if applied.is_ok() {
                let mut t = ActualTable {
                    services: vec![],
                    timeouts,
                };
                t.apply_all(&ops);
                Some(t)
            } else {
                None
            };
            return Ok(ReconcileReport {
                ops,
                applied,
                times,
            });
        }
        self.reconcile(client, desired)
    }

    /// Reads the kernel table, plans against it, applies. Services whose
    /// deletion failed stay owned, so the next pass retries them.
    pub fn reconcile<C: IpvsClient + ?Sized>(
        &mut self,
        client: &mut C,
        desired: &DesiredTable,
    ) -> Result<ReconcileReport, IpvsError> {
        let t = Instant::now();
        let actual = read_table(client)?;
        let read = t.elapsed();
        let mut r = self.pass(client, desired, actual)?;
        r.times.read = read;
        Ok(r)
    }

    /// Like [`Reconciler::reconcile`], but plans against the table as the
    /// last pass left it instead of reading the kernel: for health
    /// transitions, where a full read (one dump per service) would cost more
    /// than the change. Falls back to a full pass when there is no trusted
    /// cache (first pass, or an op failed). Drift made behind our back is
    /// only seen by the next full [`Reconciler::reconcile`].
    pub fn reconcile_cached<C: IpvsClient + ?Sized>(
        &mut self,
        client: &mut C,
        desired: &DesiredTable,
    ) -> Result<ReconcileReport, IpvsError> {
        match self.cache.take() {
            Some(actual) => self.pass(client, desired, actual),
            None => self.reconcile(client, desired),
        }
    }

    fn pass<C: IpvsClient + ?Sized>(
        &mut self,
        client: &mut C,
        desired: &DesiredTable,
        mut actual: ActualTable,
    ) -> Result<ReconcileReport, IpvsError> {
        let t = Instant::now();
        let ops = plan(desired, &actual, &self.owned);
        let planned = t.elapsed();
        let applied = apply(client, &ops);
        self.cache = if applied.is_ok() {
            actual.apply_all(&ops);
            Some(actual)
        } else {
            None
        };
        // `apply` includes updating the cached table.
        let times = PassTimes {
            read: Duration::ZERO,
            plan: planned,
            apply: t.elapsed() - planned,
        };
        let mut owned: BTreeSet<ServiceKey> =
            desired.services.iter().map(|v| v.service.key).collect();
        for f in &applied.failed {
            if let Op::DelService(k) = &f.op {
                if !f.error.is_no_service() {
                    owned.insert(*k);
                }
            }
        }
        self.owned = owned;
        Ok(ReconcileReport {
            ops,
            applied,
            times,
        })
    }

    /// Shutdown: removes our services per `policy`.
    pub fn stop<C: IpvsClient + ?Sized>(
        &mut self,
        client: &mut C,
        policy: StopPolicy,
    ) -> Result<ReconcileReport, IpvsError> {
        let t = Instant::now();
        let ops = match policy {
            StopPolicy::Keep => vec![],
            StopPolicy::FlushAll => vec![Op::Flush],
            // Only the service list is needed: skip the per-service dumps.
            StopPolicy::DeleteServices => {
                let actual = ActualTable {
                    services: client
                        .service_settings()?
                        .into_iter()
                        .map(|s| (s, vec![]))
                        .collect(),
                    timeouts: None,
                };
                plan_stop(&actual, &self.owned, policy)
            }
            // Each destination of ours, from the table the last pass left
            // when it is trusted (as keepalived 2.2.7 deletes what its own
            // memory holds): at 30,000 destinations the full read was half
            // of the stop under TCG. A destination added behind our back
            // still goes with its service; one deleted behind our back fails
            // its delete with ENOENT, which is reported.
            StopPolicy::DeleteEach => {
                let actual = match self.cache.take() {
                    Some(t) => t,
                    None => read_table(client)?,
                };
                plan_stop(&actual, &self.owned, policy)
            }
        };
        let planned = t.elapsed();
        let applied = apply(client, &ops);
        let times = PassTimes {
            // The read and the plan of a stop are one step.
            read: planned,
            plan: Duration::ZERO,
            apply: t.elapsed() - planned,
        };
        self.cache = None;
        if applied.is_ok() && policy != StopPolicy::Keep {
            self.owned.clear();
        }
        Ok(ReconcileReport {
            ops,
            applied,
            times,
        })
    }
}
