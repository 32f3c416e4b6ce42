//! From confparse's model to the reconciler's desired table: each
//! `virtual_server` (a `virtual_server_group` expanded to one service per
//! address or fwmark, as keepalived 2.2.7 does without `nftables_ipvs`) with
//! its real servers, their health, quorum and sorry server; plus the global
//! `lvs_timeouts`, `lvs_sync_daemon`, `lvs_flush` and `lvs_flush_on_stop`.

use std::collections::HashMap;
use std::net::IpAddr;

use confparse::lvs::{
    Forwarding, Granularity, IpFamily, LvsConfig, Protocol as CfgProtocol, RealServerCfg,
    TunnelCsum as CfgCsum, TunnelType as CfgTunType, VirtualServerCfg, VsKey, VsgEntryCfg,
};
use confparse::model::GlobalDefsCfg;
use thiserror::Error;

use crate::reconcile::{DesiredTable, RealServer, SorryServer, StopPolicy, VirtualServer};
use crate::types::*;

/// Addresses one `virtual_server_group` range may expand to. keepalived's
/// ranges stop at the last octet / hextet; a larger one is refused here
/// rather than creating a million services.
pub const MAX_RANGE: u128 = 65_536;

/// A model that cannot be turned into an IPVS table.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    #[error("virtual_server group {0}: no such virtual_server_group")]
    UnknownGroup(String),
    #[error(
        "virtual_server_group {group}: range {first}-{last} has more than {MAX_RANGE} addresses"
    )]
    RangeTooLarge {
        group: String,
        first: IpAddr,
        last: IpAddr,
    },
}

/// Health known so far, by position in `LvsConfig::virtual_servers` and in
/// each one's `real_servers` (the checker runner owns it; `bin` forwards it).
/// What is absent takes keepalived's start-up value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// (virtual server, real server) -> alive.
    pub real_servers: HashMap<(usize, usize), bool>,
    /// Virtual server -> quorum state after the previous update.
    pub quorum_up: HashMap<usize, bool>,
}

/// keepalived's start-up state of a real server: one without checkers is
/// always up; with checkers it starts up unless `alpha` (then it waits for
/// the first success).
pub fn initial_up(rs: &RealServerCfg) -> bool {
    rs.checkers.is_empty() || !rs.alpha
}

fn fwd(f: &Forwarding) -> FwdMethod {
    match f {
        Forwarding::Nat => FwdMethod::Masq,
        Forwarding::Dr => FwdMethod::Route,
        Forwarding::Tun {
            tunnel_type,
            port,
            csum,
        } => FwdMethod::Tunnel(Tunnel {
            tun_type: match tunnel_type {
                CfgTunType::Ipip => TunnelType::Ipip,
                CfgTunType::Gue => TunnelType::Gue,
                CfgTunType::Gre => TunnelType::Gre,
            },
            port: *port,
            csum: match csum {
                CfgCsum::NoCsum => TunnelCsum::NoCsum,
                CfgCsum::Csum => TunnelCsum::Csum,
                CfgCsum::RemCsum => TunnelCsum::RemCsum,
            },
        }),
    }
}

fn family(f: IpFamily) -> Family {
    match f {
        IpFamily::Inet => Family::Inet,
        IpFamily::Inet6 => Family::Inet6,
    }
}

fn protocol(p: Option<CfgProtocol>) -> Protocol {
    match p {
        Some(CfgProtocol::Tcp) => Protocol::Tcp,
        Some(CfgProtocol::Sctp) => Protocol::Sctp,
        // keepalived: "no protocol set - defaulting to UDP".
        Some(CfgProtocol::Udp) | None => Protocol::Udp,
    }
}

/// The service settings of a virtual server, for a given key.
fn service(vs: &VirtualServerCfg, key: ServiceKey) -> Service {
    let fam = key.family();
    Service {
        key,
        scheduler: vs.scheduler.clone(),
        persistence: vs.persistence_timeout.map(|timeout| Persistence {
            timeout,
            prefix: match vs.persistence_granularity {
                // A non-contiguous mask keeps its leading ones.
                Some(Granularity::V4(m)) if fam == Family::Inet => {
                    u32::from(m).leading_ones() as u8
                }
                Some(Granularity::V6(p)) if fam == Family::Inet6 => p.min(128),
                _ => fam.max_prefix(),
            },
        }),
        one_packet: vs.flags.one_packet,
        sched_flags: SchedFlags {
            flag1: vs.flags.sched1,
            flag2: vs.flags.sched2,
            flag3: vs.flags.sched3,
        },
        pe_name: vs.persistence_engine.clone(),
    }
}

/// Every address from `first` to `last` inclusive.
fn expand(group: &str, first: IpAddr, last: IpAddr) -> Result<Vec<IpAddr>, ModelError> {
    let too_large = || ModelError::RangeTooLarge {
        group: group.to_string(),
        first,
        last,
    };
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a {
                return Ok(vec![]);
            }
            if u128::from(b - a) >= MAX_RANGE {
                return Err(too_large());
            }
            Ok((a..=b)
                .map(|x| IpAddr::from(std::net::Ipv4Addr::from(x)))
                .collect())
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let (a, b) = (u128::from(a), u128::from(b));
            if b < a {
                return Ok(vec![]);
            }
            if b - a >= MAX_RANGE {
                return Err(too_large());
            }
            Ok((a..=b)
                .map(|x| IpAddr::from(std::net::Ipv6Addr::from(x)))
                .collect())
        }
        _ => Ok(vec![first]),
    }
}

/// The IPVS service keys a virtual server stands for.
pub fn service_keys(lvs: &LvsConfig, vs: &VirtualServerCfg) -> Result<Vec<ServiceKey>, ModelError> {
    let proto = protocol(vs.protocol);
    Ok(match &vs.key {
        VsKey::Addr { addr, port } => vec![ServiceKey::Addr {
            protocol: proto,
            addr: *addr,
            port: *port,
        }],
        VsKey::Fwmark { mark } => vec![ServiceKey::Fwmark {
            family: family(vs.family),
            mark: *mark,
        }],
        VsKey::Group { name } => {
            let g = lvs
                .group(name)
                .ok_or_else(|| ModelError::UnknownGroup(name.clone()))?;
            let mut keys = Vec::new();
            for e in &g.entries {
                match e {
                    VsgEntryCfg::Range { first, last, port } => {
                        for addr in expand(name, *first, *last)? {
                            keys.push(ServiceKey::Addr {
                                protocol: proto,
                                addr,
                                port: *port,
                            });
                        }
                    }
                    VsgEntryCfg::Fwmark { mark, family: f } => keys.push(ServiceKey::Fwmark {
                        family: family(f.unwrap_or(vs.family)),
                        mark: *mark,
                    }),
                }
            }
            keys
        }
    })
}

/// The desired IPVS table for `lvs` given the health known so far.
pub fn desired_from_model(
    lvs: &LvsConfig,
    global: &GlobalDefsCfg,
    health: &Health,
) -> Result<DesiredTable, ModelError> {
    let mut services = Vec::new();
    for (vi, vs) in lvs.virtual_servers.iter().enumerate() {
        let reals: Vec<RealServer> = vs
            .real_servers
            .iter()
            .enumerate()
            .map(|(ri, rs)| {
                let mut dest = Dest::new(rs.addr, rs.port, fwd(&rs.forwarding), rs.weight);
                dest.u_threshold = rs.uthreshold;
                dest.l_threshold = rs.lthreshold;
                RealServer {
                    dest,
                    up: health
                        .real_servers
                        .get(&(vi, ri))
                        .copied()
                        .unwrap_or_else(|| initial_up(rs)),
                    inhibit_on_failure: rs.inhibit_on_failure,
                }
            })
            .collect();
        let sorry = vs.sorry_server.as_ref().map(|s| SorryServer {
            // keepalived gives the sorry server weight 1.
            dest: Dest::new(s.addr, s.port, fwd(&s.forwarding), 1),
            inhibit: s.inhibit,
        });
        for key in service_keys(lvs, vs)? {
            let mut v = VirtualServer::new(service(vs, key), reals.clone());
            v.quorum = vs.quorum;
            v.hysteresis = vs.hysteresis;
            v.sorry = sorry.clone();
            match health.quorum_up.get(&vi) {
                Some(prev) => {
                    v.quorum_up = *prev;
                    v.update_quorum();
                }
                // At start-up: up when the live weight reaches the quorum.
                None => v.quorum_up = v.alive_weight() >= u64::from(v.quorum),
            }
            services.push(v);
        }
    }
    let t = &global.lvs_timeouts;
    let timeouts = (t.tcp.is_some() || t.tcpfin.is_some() || t.udp.is_some()).then(|| Timeouts {
        tcp: t.tcp.unwrap_or(0),
        tcp_fin: t.tcpfin.unwrap_or(0),
        udp: t.udp.unwrap_or(0),
    });
    Ok(DesiredTable { services, timeouts })
}

/// `lvs_flush`: flush the table at start-up.
pub fn flush_at_start(global: &GlobalDefsCfg) -> bool {
    global.lvs_flush
}

/// What to do at shutdown: `-I`/`--dont-release-ipvs` keeps everything;
/// `lvs_flush_on_stop` flushes all, `lvs_flush_on_stop VS` deletes our
/// services; the default deletes each real server and virtual server.
pub fn stop_policy(global: &GlobalDefsCfg, dont_release_ipvs: bool) -> StopPolicy {
    if dont_release_ipvs {
        return StopPolicy::Keep;
    }
    match global.lvs_flush_on_stop.as_deref() {
        Some("VS") => StopPolicy::DeleteServices,
        Some(_) => StopPolicy::FlushAll,
        None => StopPolicy::DeleteEach,
    }
}

/// The sync daemon `lvs_sync_daemon` asks for, in role `state` (keepalived
/// runs the backup thread always and the master one while the named VRRP
/// instance is MASTER, or always without one). Kernel defaults: syncid 0.
pub fn sync_daemon(global: &GlobalDefsCfg, state: DaemonState) -> Option<Daemon> {
    let d = global.lvs_sync_daemon.as_ref()?;
    Some(Daemon {
        state,
        ifname: d.interface.clone(),
        sync_id: d.syncid.unwrap_or(0),
        sync_maxlen: d.maxlen.and_then(|m| u16::try_from(m).ok()),
        mcast_group: d.group,
        mcast_port: d.port,
        mcast_ttl: d.ttl,
    })
}
