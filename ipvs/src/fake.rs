//! An in-memory IPVS table implementing [`IpvsClient`] with the kernel's
//! answers (`net/netfilter/ipvs/ip_vs_ctl.c`): EEXIST on a duplicate add,
//! ESRCH for a missing service, ENOENT for a missing destination or an
//! unknown scheduler, ERANGE for lthreshold > uthreshold, EINVAL for a
//! destination of the other family unless tunnelled. For unit tests of
//! everything above the client, without root or an IPVS kernel.

use std::collections::BTreeMap;

use crate::client::{IpvsClient, Op};
use crate::error::IpvsError;
use crate::types::*;

/// Schedulers a Debian kernel ships as `ip_vs_*` modules.
pub const KERNEL_SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

#[derive(Debug, Clone)]
struct FakeService {
    service: Service,
    stats: Stats,
    /// Insertion order, like the kernel's destination list.
    dests: Vec<DestEntry>,
}

/// The fake table. `writes` counts successful writes, so a test can assert
/// that a no-change reconcile wrote nothing.
#[derive(Debug, Clone)]
pub struct FakeIpvs {
    services: BTreeMap<ServiceKey, FakeService>,
    /// Insertion order of services (the kernel dumps by hash bucket; a stable
    /// order is enough here).
    order: Vec<ServiceKey>,
    timeouts: Timeouts,
    daemons: Vec<Daemon>,
    pub writes: usize,
    /// Ops (matched by their `Display` text containing the string) that fail
    /// with the given errno, to test error paths.
    pub fail: Vec<(String, i32)>,
}

impl Default for FakeIpvs {
    fn default() -> Self {
        FakeIpvs {
            services: BTreeMap::new(),
            order: Vec::new(),
            // The kernel's defaults (ipvsadm -L --timeout on a fresh boot).
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            },
            daemons: Vec::new(),
            writes: 0,
            fail: Vec::new(),
        }
    }
}

impl FakeIpvs {
    pub fn new() -> FakeIpvs {
        FakeIpvs::default()
    }

    /// Sets the counters of a service (to show they never disturb a plan).
    pub fn set_stats(&mut self, key: &ServiceKey, stats: Stats) {
        if let Some(s) = self.services.get_mut(key) {
            s.stats = stats;
            for d in &mut s.dests {
                d.stats = stats;
                d.active_conns = 3;
            }
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), i32> {
        if let Some((_, errno)) = self.fail.iter().find(|(m, _)| op.to_string().contains(m)) {
            return Err(*errno);
        }
        match op {
            Op::NewService(s) => {
                if self.services.contains_key(&s.key) {
                    return Err(libc::EEXIST);
                }
                check_service(s)?;
                self.services.insert(
                    s.key,
                    FakeService {
                        service: s.clone(),
                        stats: Stats::default(),
                        dests: Vec::new(),
                    },
                );
                self.order.push(s.key);
            }
            Op::SetService(s) => {
                check_service(s)?;
                let e = self.services.get_mut(&s.key).ok_or(libc::ESRCH)?;
                e.service = s.clone();
            }
            Op::DelService(k) => {
                self.services.remove(k).ok_or(libc::ESRCH)?;
                self.order.retain(|o| o != k);
            }
            Op::NewDest { service, dest } => {
                let e = self.services.get_mut(service).ok_or(libc::ESRCH)?;
                check_dest(service, dest)?;
                if e.dests.iter().any(|d| d.dest.key == dest.key) {
                    return Err(libc::EEXIST);
                }
                e.dests.push(DestEntry {
                    dest: dest.clone(),
                    active_conns: 0,
                    inact_conns: 0,
                    persist_conns: 0,
                    stats: Stats::default(),
                });
            }
            Op::SetDest { service, dest } => {
                let e = self.services.get_mut(service).ok_or(libc::ESRCH)?;
                check_dest(service, dest)?;
                let d = e
                    .dests
                    .iter_mut()
                    .find(|d| d.dest.key == dest.key)
                    .ok_or(libc::ENOENT)?;
                d.dest = dest.clone();
            }
            Op::DelDest { service, dest } => {
                let e = self.services.get_mut(service).ok_or(libc::ESRCH)?;
                let before = e.dests.len();
                e.dests.retain(|d| d.dest.key != *dest);
                if e.dests.len() == before {
                    return Err(libc::ENOENT);
                }
            }
            Op::Flush => {
                self.services.clear();
                self.order.clear();
            }
            Op::Zero(None) => {
                for s in self.services.values_mut() {
                    s.stats = Stats::default();
                    for d in &mut s.dests {
                        d.stats = Stats::default();
                    }
                }
            }
            Op::Zero(Some(k)) => {
                let s = self.services.get_mut(k).ok_or(libc::ESRCH)?;
                s.stats = Stats::default();
                for d in &mut s.dests {
                    d.stats = Stats::default();
                }
            }
            Op::SetConfig(t) => {
                // 0 leaves a timeout unchanged (ip_vs_set_timeout).
                if t.tcp != 0 {
                    self.timeouts.tcp = t.tcp;
                }
                if t.tcp_fin != 0 {
                    self.timeouts.tcp_fin = t.tcp_fin;
                }
                if t.udp != 0 {
                    self.timeouts.udp = t.udp;
                }
            }
            Op::NewDaemon(d) => {
                if self.daemons.iter().any(|x| x.state == d.state) {
                    return Err(libc::EEXIST);
                }
                self.daemons.push(d.clone());
            }
            Op::DelDaemon(s) => {
                let before = self.daemons.len();
                self.daemons.retain(|x| x.state != *s);
                if self.daemons.len() == before {
                    return Err(libc::ESRCH);
                }
            }
        }
        Ok(())
    }
}

fn check_service(s: &Service) -> Result<(), i32> {
    if !KERNEL_SCHEDULERS.contains(&s.scheduler.as_str()) {
        return Err(libc::ENOENT);
    }
    if let Some(pe) = &s.pe_name {
        if pe != "sip" {
            return Err(libc::ENOENT);
        }
    }
    Ok(())
}

fn check_dest(svc: &ServiceKey, d: &Dest) -> Result<(), i32> {
    if d.l_threshold > d.u_threshold && d.u_threshold != 0 {
        return Err(libc::ERANGE);
    }
    if Family::of(&d.key.addr) != svc.family() && !matches!(d.fwd, FwdMethod::Tunnel(_)) {
        return Err(libc::EINVAL);
    }
    Ok(())
}

impl IpvsClient for FakeIpvs {
    fn execute(&mut self, ops: &[Op]) -> Vec<Result<(), IpvsError>> {
        ops.iter()
            .map(|op| {
                op.validate()?;
                self.apply(op).map_err(|errno| IpvsError::Kernel {
                    op: op.to_string(),
                    errno,
                })?;
                self.writes += 1;
                Ok(())
            })
            .collect()
    }

    fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        Ok(self
            .order
            .iter()
            .filter_map(|k| self.services.get(k))
            .map(|s| ServiceEntry {
                service: s.service.clone(),
                stats: s.stats,
            })
            .collect())
    }

    fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, IpvsError> {
        self.services
            .get(key)
            .map(|s| ServiceEntry {
                service: s.service.clone(),
                stats: s.stats,
            })
            .ok_or(IpvsError::Kernel {
                op: format!("get service {key}"),
                errno: libc::ESRCH,
            })
    }

    fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, IpvsError> {
        self.services
            .get(key)
            .map(|s| s.dests.clone())
            .ok_or(IpvsError::Kernel {
                op: format!("list destinations of {key}"),
                errno: libc::ESRCH,
            })
    }

    fn info(&mut self) -> Result<Info, IpvsError> {
        Ok(Info {
            version: 0x010201,
            conn_tab_size: 4096,
        })
    }

    fn config(&mut self) -> Result<Timeouts, IpvsError> {
        Ok(self.timeouts)
    }

    fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        Ok(self.daemons.clone())
    }
}
