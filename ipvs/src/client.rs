//! The client interface every IPVS backend implements (the kernel over
//! generic netlink, and the in-memory fake), and `Op`, one write to the table.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::IpvsError;
use crate::message::IpvsMessage;
use crate::types::*;

/// One write to the IPVS table. `Display` names the operation and object the
/// way error messages and plan snapshots show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Op {
    NewService(Service),
    SetService(Service),
    DelService(ServiceKey),
    NewDest {
        service: ServiceKey,
        dest: Dest,
    },
    SetDest {
        service: ServiceKey,
        dest: Dest,
    },
    DelDest {
        service: ServiceKey,
        dest: DestKey,
    },
    /// Remove every service and destination (`lvs_flush`, `ipvsadm -C`).
    Flush,
    /// Zero counters of one service, or all.
    Zero(Option<ServiceKey>),
    SetConfig(Timeouts),
    NewDaemon(Daemon),
    DelDaemon(DaemonState),
}

impl Op {
    /// The generic netlink message that carries this op.
    pub fn to_message(&self) -> IpvsMessage {
        match self {
            Op::NewService(s) => IpvsMessage::new_service(s),
            Op::SetService(s) => IpvsMessage::set_service(s),
            Op::DelService(k) => IpvsMessage::del_service(k),
            Op::NewDest { service, dest } => IpvsMessage::new_dest(service, dest),
            Op::SetDest { service, dest } => IpvsMessage::set_dest(service, dest),
            Op::DelDest { service, dest } => IpvsMessage::del_dest(service, dest),
            Op::Flush => IpvsMessage::flush(),
            Op::Zero(k) => IpvsMessage::zero(k.as_ref()),
            Op::SetConfig(t) => IpvsMessage::set_config(t),
            Op::NewDaemon(d) => IpvsMessage::new_daemon(d),
            Op::DelDaemon(s) => IpvsMessage::del_daemon(*s),
        }
    }

    /// Checks what the kernel would reject with an unhelpful EINVAL, so the
    /// error names the field instead.
    pub fn validate(&self) -> Result<(), IpvsError> {
        let invalid = |why: String| {
            Err(IpvsError::Invalid {
                op: self.to_string(),
                why,
            })
        };
        let name_ok = |s: &str| !s.is_empty() && s.len() < crate::consts::IP_VS_SCHEDNAME_MAXLEN;
        match self {
            Op::NewService(s) | Op::SetService(s) => {
                if !name_ok(&s.scheduler) {
                    return invalid(format!(
                        "scheduler name {:?} must be 1-15 bytes",
                        s.scheduler
                    ));
                }
                if let Some(pe) = &s.pe_name {
                    if !name_ok(pe) {
                        return invalid(format!("persistence engine {pe:?} must be 1-15 bytes"));
                    }
                }
                if let Some(p) = s.persistence {
                    if p.prefix > s.key.family().max_prefix() {
                        return invalid(format!("persistence granularity /{} too long", p.prefix));
                    }
                }
            }
            // The kernel keeps weights as a signed int (ip_vs_dest_user).
            Op::NewDest { dest, .. } | Op::SetDest { dest, .. }
                if dest.weight > i32::MAX as u32 =>
            {
                return invalid(format!("weight {} out of range", dest.weight));
            }
            Op::NewDaemon(d)
                if d.ifname.is_empty() || d.ifname.len() >= crate::consts::IP_VS_IFNAME_MAXLEN =>
            {
                return invalid(format!("interface name {:?} must be 1-15 bytes", d.ifname));
            }
            _ => {}
        }
        Ok(())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::NewService(s) => write!(f, "add service {}{}", s.key, SvcOpts(s)),
            Op::SetService(s) => write!(f, "edit service {}{}", s.key, SvcOpts(s)),
            Op::DelService(k) => write!(f, "delete service {k}"),
            Op::NewDest { service, dest } => {
                write!(
                    f,
                    "add destination {} to {service}{}",
                    dest.key,
                    DestOpts(dest)
                )
            }
            Op::SetDest { service, dest } => {
                write!(
                    f,
                    "edit destination {} of {service}{}",
                    dest.key,
                    DestOpts(dest)
                )
            }
            Op::DelDest { service, dest } => write!(f, "delete destination {dest} of {service}"),
            Op::Flush => write!(f, "flush"),
            Op::Zero(None) => write!(f, "zero all counters"),
            Op::Zero(Some(k)) => write!(f, "zero counters of {k}"),
            Op::SetConfig(t) => write!(
                f,
                "set timeouts tcp {} tcpfin {} udp {}",
                t.tcp, t.tcp_fin, t.udp
            ),
            Op::NewDaemon(d) => write!(
                f,
                "start sync daemon {:?} on {} syncid {}",
                d.state, d.ifname, d.sync_id
            ),
            Op::DelDaemon(s) => write!(f, "stop sync daemon {s:?}"),
        }
    }
}

struct SvcOpts<'a>(&'a Service);

impl fmt::Display for SvcOpts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        write!(f, " sched {}", s.scheduler)?;
        if let Some(p) = s.persistence {
            write!(f, " persistent {} /{}", p.timeout, p.prefix)?;
        }
        if s.one_packet {
            write!(f, " ops")?;
        }
        for (on, name) in [
            (s.sched_flags.flag1, "flag-1"),
            (s.sched_flags.flag2, "flag-2"),
            (s.sched_flags.flag3, "flag-3"),
        ] {
            if on {
                write!(f, " {name}")?;
            }
        }
        if let Some(pe) = &s.pe_name {
            write!(f, " pe {pe}")?;
        }
        Ok(())
    }
}

struct DestOpts<'a>(&'a Dest);

impl fmt::Display for DestOpts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, " {} weight {}", d.fwd, d.weight)?;
        if let FwdMethod::Tunnel(t) = d.fwd {
            write!(f, " {:?}", t.tun_type)?;
            if t.port != 0 {
                write!(f, " port {}", t.port)?;
            }
            if t.csum != TunnelCsum::NoCsum {
                write!(f, " {:?}", t.csum)?;
            }
        }
        if d.u_threshold != 0 {
            write!(f, " uthreshold {}", d.u_threshold)?;
        }
        if d.l_threshold != 0 {
            write!(f, " lthreshold {}", d.l_threshold)?;
        }
        Ok(())
    }
}

/// An IPVS table: the kernel's ([`crate::NetlinkIpvs`]) or a fake
/// ([`crate::FakeIpvs`]).
pub trait IpvsClient {
    /// Runs `ops` in order, pipelined where the transport allows, and returns
    /// one result per op, in the same order. A failed op does not stop the
    /// ones after it (the kernel processes each request on its own).
    fn execute(&mut self, ops: &[Op]) -> Vec<Result<(), IpvsError>>;

    /// Every service with its counters.
    fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError>;
    /// One service.
    fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, IpvsError>;
    /// The destinations of a service.
    fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, IpvsError>;
    /// Every service's settings, without counters: what a table read
    /// compares. Backends may decode less than [`IpvsClient::services`].
    fn service_settings(&mut self) -> Result<Vec<Service>, IpvsError> {
        Ok(self.services()?.into_iter().map(|e| e.service).collect())
    }
    /// The settings of a service's destinations, without counters.
    fn dest_settings(&mut self, key: &ServiceKey) -> Result<Vec<Dest>, IpvsError> {
        Ok(self.dests(key)?.into_iter().map(|e| e.dest).collect())
    }
    /// IPVS version and connection table size.
    fn info(&mut self) -> Result<Info, IpvsError>;
    /// Connection timeouts.
    fn config(&mut self) -> Result<Timeouts, IpvsError>;
    /// Running sync daemons.
    fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError>;

    /// Runs one op.
    fn execute_one(&mut self, op: Op) -> Result<(), IpvsError> {
        let op_name = op.to_string();
        self.execute(std::slice::from_ref(&op))
            .pop()
            .unwrap_or(Err(IpvsError::NoReply { op: op_name }))
    }
    fn new_service(&mut self, s: &Service) -> Result<(), IpvsError> {
        self.execute_one(Op::NewService(s.clone()))
    }
    fn set_service(&mut self, s: &Service) -> Result<(), IpvsError> {
        self.execute_one(Op::SetService(s.clone()))
    }
    fn del_service(&mut self, k: &ServiceKey) -> Result<(), IpvsError> {
        self.execute_one(Op::DelService(*k))
    }
    fn new_dest(&mut self, k: &ServiceKey, d: &Dest) -> Result<(), IpvsError> {
        self.execute_one(Op::NewDest {
            service: *k,
            dest: d.clone(),
        })
    }
    fn set_dest(&mut self, k: &ServiceKey, d: &Dest) -> Result<(), IpvsError> {
        self.execute_one(Op::SetDest {
            service: *k,
            dest: d.clone(),
        })
    }
    fn del_dest(&mut self, k: &ServiceKey, d: &DestKey) -> Result<(), IpvsError> {
        self.execute_one(Op::DelDest {
            service: *k,
            dest: *d,
        })
    }
    fn flush(&mut self) -> Result<(), IpvsError> {
        self.execute_one(Op::Flush)
    }
    fn zero(&mut self, k: Option<&ServiceKey>) -> Result<(), IpvsError> {
        self.execute_one(Op::Zero(k.copied()))
    }
    fn set_config(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        self.execute_one(Op::SetConfig(*t))
    }
    fn new_daemon(&mut self, d: &Daemon) -> Result<(), IpvsError> {
        self.execute_one(Op::NewDaemon(d.clone()))
    }
    fn del_daemon(&mut self, s: DaemonState) -> Result<(), IpvsError> {
        self.execute_one(Op::DelDaemon(s))
    }
}
