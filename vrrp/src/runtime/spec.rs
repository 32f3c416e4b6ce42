//! From a configured `vrrp_instance` (confparse's model) to what its task
//! needs at run time: the interface resolved to an index and MAC, the
//! advert source address, sockets, receive checks, the state machine's
//! configuration, VIPs as netlink requests, the GARP schedule and the
//! notify commands.

use super::track::{FileSpec, ScriptSpec, TrackKind, TrackRef, Tracking};
use crate::auth;
use crate::check::{AuthCfg, UnicastPeer};
use crate::fsm::{self, GarpCfg, InitialState, NotifyState};
use crate::io::netlink::{Netlink, Vip, VipScope};
use crate::io::notify::{self, NotifyCmd};
use crate::io::socket::SocketCfg;
use crate::io::IoError;
use crate::packet::{Checksum, EncodeError, Family, Version};
use confparse::model::{
    AddrScopeCfg, AuthTypeCfg, Model, NotifyCfg, ScriptCfg, VipCfg, VrrpInstanceCfg, VrrpStateCfg,
};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// Why an instance cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("({instance}) {source}")]
    Io {
        instance: String,
        #[source]
        source: IoError,
    },
    #[error("({instance}) {what} is not supported by keepalived-rs yet")]
    Unsupported {
        instance: String,
        what: &'static str,
    },
    #[error("({instance}) no interface configured")]
    NoInterface { instance: String },
    #[error("({instance}) {source}")]
    Cfg {
        instance: String,
        #[source]
        source: fsm::CfgError,
    },
}

/// The notify commands of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyCmds {
    pub master: Option<NotifyCmd>,
    pub backup: Option<NotifyCmd>,
    pub fault: Option<NotifyCmd>,
    pub stop: Option<NotifyCmd>,
    pub generic: Option<NotifyCmd>,
    pub master_rx_lower_pri: Option<NotifyCmd>,
}

/// Everything one instance's task needs.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub name: String,
    pub socket: SocketCfg,
    pub fsm: fsm::InstanceCfg,
    pub vips: Vec<Vip>,
    pub evips: Vec<Vip>,
    pub notify: NotifyCmds,
    pub dont_track_primary: bool,
    /// Whether the interface was up (IFF_UP and IFF_RUNNING) at start.
    pub link_up: bool,
    /// track_script / track_interface.
    pub tracking: Tracking,
    macs: HashMap<u32, [u8; 6]>,
    link_locals: HashMap<u32, Ipv6Addr>,
}

/// Who runs notifies: the generic `notify` script's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notifier {
    Instance,
    Group,
}

impl NotifyCmds {
    /// Runs the notifies of a transition to `state`: the state's script,
    /// then the generic one with `INSTANCE|GROUP NAME STATE PRIORITY`
    /// appended (keepalived `send_instance_notifies` /
    /// `send_group_notifies`; a group passes priority 0).
    pub fn run(&self, who: Notifier, name: &str, state: NotifyState, priority: u8) {
        let (word, script) = match state {
            NotifyState::Master => ("MASTER", &self.master),
            NotifyState::Backup => ("BACKUP", &self.backup),
            NotifyState::Fault => ("FAULT", &self.fault),
            NotifyState::Stop => ("STOP", &self.stop),
        };
        if let Some(c) = script {
            notify::spawn(c);
        }
        if let Some(c) = &self.generic {
            let mut args = notify::generic_args(name, word, priority);
            if let (Notifier::Group, Some(first)) = (who, args.first_mut()) {
                *first = "GROUP".to_string();
            }
            notify::spawn(&c.with_args(args));
        }
    }
}

/// The notify commands of an instance or a sync group.
pub fn notify_cmds(n: &NotifyCfg) -> NotifyCmds {
    NotifyCmds {
        master: script(&n.master),
        backup: script(&n.backup),
        fault: script(&n.fault),
        stop: script(&n.stop),
        generic: script(&n.generic),
        master_rx_lower_pri: script(&n.master_rx_lower_pri),
    }
}

fn script(s: &Option<ScriptCfg>) -> Option<NotifyCmd> {
    let s = s.as_ref()?;
    if s.args.is_empty() {
        NotifyCmd::parse(&s.raw)
    } else {
        Some(NotifyCmd {
            argv: s.args.clone(),
        })
    }
}

fn scope(s: Option<AddrScopeCfg>) -> VipScope {
    match s {
        None | Some(AddrScopeCfg::Global) => VipScope::Global,
        Some(AddrScopeCfg::Site) => VipScope::Site,
        Some(AddrScopeCfg::Link) => VipScope::Link,
        Some(AddrScopeCfg::Host) => VipScope::Host,
        Some(AddrScopeCfg::Nowhere) => VipScope::Nowhere,
    }
}

impl InstanceSpec {
    /// Resolves `cfg` against the kernel's interfaces and addresses.
    pub async fn resolve(
        model: &Model,
        cfg: &VrrpInstanceCfg,
        nl: &Netlink,
    ) -> Result<InstanceSpec, SpecError> {
        let name = cfg.name.clone();
        let io = |source| SpecError::Io {
            instance: name.clone(),
            source,
        };
        let ifname = cfg
            .interface
            .clone()
            .or_else(|| model.global.default_interface.clone())
            .ok_or_else(|| SpecError::NoInterface {
                instance: name.clone(),
            })?;
        if cfg.use_vmac.is_some() {
            return Err(SpecError::Unsupported {
                instance: name.clone(),
                what: "use_vmac",
            });
        }
        let link = nl.link_by_name(&ifname).await.map_err(io)?;
        let family = if cfg.ipv6 { Family::V6 } else { Family::V4 };
        let version = if cfg.version == 3 || cfg.ipv6 {
            Version::V3
        } else {
            Version::V2
        };
        let unicast = !cfg.unicast_peers.is_empty();
        let src = match family {
            Family::V4 => {
                let configured = if unicast {
                    cfg.unicast_src_ip.or(cfg.mcast_src_ip)
                } else {
                    cfg.mcast_src_ip
                };
                match configured {
                    Some(a) => a,
                    None => nl
                        .primary_v4(link.index)
                        .await
                        .map_err(io)?
                        .map(IpAddr::V4)
                        .ok_or_else(|| {
                            io(IoError::NoSourceAddress {
                                ifname: ifname.clone(),
                                family: "IPv4",
                            })
                        })?,
                }
            }
            Family::V6 => {
                let configured = if unicast {
                    cfg.unicast_src_ip.or(cfg.mcast_src_ip)
                } else {
                    cfg.mcast_src_ip
                };
                match configured {
                    Some(a) => a,
                    None => nl
                        .link_local_v6(link.index)
                        .await
                        .map_err(io)?
                        .map(IpAddr::V6)
                        .ok_or_else(|| {
                            io(IoError::NoSourceAddress {
                                ifname: ifname.clone(),
                                family: "IPv6 link-local",
                            })
                        })?,
                }
            }
        };
        let group = cfg.mcast_dst_ip.unwrap_or(match family {
            Family::V4 => model.global.vrrp_mcast_group4,
            Family::V6 => model.global.vrrp_mcast_group6,
        });
        let socket = SocketCfg {
            ifname: ifname.clone(),
            ifindex: link.index,
            src,
            group,
            unicast_peers: cfg.unicast_peers.iter().map(|p| p.addr).collect(),
            unicast_ttl: cfg.unicast_ttl,
            ah: false,
        };

        // Interfaces the VIPs live on: their MACs (GARP) and link-locals (NA).
        let mut macs = HashMap::new();
        let mut link_locals = HashMap::new();
        let mut resolve_vip = |v: &VipCfg| -> Vip {
            let dev = v.dev.clone().unwrap_or_else(|| ifname.clone());
            let mut vip = Vip::new(v.addr, Some(v.prefix), 0, &dev);
            vip.label = v.label.clone();
            vip.brd = match v.broadcast {
                Some(IpAddr::V4(b)) => Some(b),
                _ => None,
            };
            vip.scope = scope(v.scope);
            vip.peer = v.peer;
            for f in &v.flags {
                match f.as_str() {
                    "home" => vip.home = true,
                    "-nodad" | "nodad" => vip.nodad = true,
                    "mngtmpaddr" => vip.mngtmpaddr = true,
                    "noprefixroute" => vip.noprefixroute = true,
                    "autojoin" => vip.autojoin = true,
                    _ => {}
                }
            }
            if let Some(p) = v.preferred_lft {
                vip.preferred_lft = Some(p);
            }
            vip
        };
        let mut vips: Vec<Vip> = cfg.vips.iter().map(&mut resolve_vip).collect();
        let mut evips: Vec<Vip> = cfg.evips.iter().map(&mut resolve_vip).collect();
        let mut index_of: HashMap<String, u32> = HashMap::new();
        index_of.insert(ifname.clone(), link.index);
        if let Some(m) = link.mac {
            macs.insert(link.index, m);
        }
        for v in vips.iter_mut().chain(evips.iter_mut()) {
            let idx = match index_of.get(&v.ifname) {
                Some(i) => *i,
                None => {
                    let l = nl.link_by_name(&v.ifname).await.map_err(io)?;
                    if let Some(m) = l.mac {
                        macs.insert(l.index, m);
                    }
                    index_of.insert(v.ifname.clone(), l.index);
                    l.index
                }
            };
            v.ifindex = idx;
            if v.addr.is_ipv6() && !link_locals.contains_key(&idx) {
                if let Some(ll) = nl.link_local_v6(idx).await.map_err(io)? {
                    link_locals.insert(idx, ll);
                }
            }
        }

        let auth = match &cfg.auth {
            Some(a) if version == Version::V2 => {
                let mut p = [0u8; auth::PASS_LEN];
                let n = a.auth_pass.len().min(auth::PASS_LEN);
                p[..n].copy_from_slice(&a.auth_pass[..n]);
                match a.auth_type {
                    AuthTypeCfg::Pass => AuthCfg::Pass(p),
                    // keepalived's AH header sits after an IPv4 header; for
                    // IPv6 it ignores the authentication block.
                    AuthTypeCfg::Ah if src.is_ipv4() => AuthCfg::Ah(p),
                    AuthTypeCfg::Ah => AuthCfg::None,
                }
            }
            // keepalived ignores authentication for v3 (with a warning).
            _ => AuthCfg::None,
        };
        let socket = SocketCfg {
            ah: matches!(auth, AuthCfg::Ah(_)),
            ..socket
        };
        let g = &model.global;
        let garp = if g.vrrp_min_garp {
            GarpCfg::min_garp()
        } else {
            GarpCfg {
                master_delay: cfg.garp_master_delay,
                master_repeat: cfg.garp_master_repeat,
                master_refresh: cfg.garp_master_refresh,
                master_refresh_repeat: cfg.garp_master_refresh_repeat,
                lower_prio_delay: cfg.garp_lower_prio_delay,
                lower_prio_repeat: cfg.garp_lower_prio_repeat,
                interval: match family {
                    Family::V4 => g.vrrp_garp_interval,
                    Family::V6 => g.vrrp_gna_interval,
                },
            }
        };
        let fsm = fsm::InstanceCfg {
            name: name.clone(),
            version,
            family,
            vrid: cfg.vrid,
            priority: cfg.priority,
            adver_int: advert_int(version, cfg.advert_int),
            initial_state: match cfg.state {
                VrrpStateCfg::Master => InitialState::Master,
                VrrpStateCfg::Backup => InitialState::Backup,
            },
            nopreempt: cfg.nopreempt,
            preempt_delay: cfg.preempt_delay,
            down_timer_adverts: cfg.down_timer_adverts,
            lower_prio_no_advert: cfg.lower_prio_no_advert,
            higher_prio_send_advert: cfg.higher_prio_send_advert,
            garp,
            src_addr: Some(src),
            vips: cfg.vips.iter().map(|v| v.addr).collect(),
            auth,
            skip_check_adv_addr: cfg.skip_check_adv_addr,
            unicast_peers: cfg
                .unicast_peers
                .iter()
                .map(|p| UnicastPeer {
                    addr: p.addr,
                    min_ttl: p.min_ttl.unwrap_or(0),
                    max_ttl: p.max_ttl.unwrap_or(255),
                })
                .collect(),
            check_unicast_src: cfg.check_unicast_src || g.vrrp_check_unicast_src,
            v3_checksum_as_v2: other_flag(cfg, "v3_checksum_as_v2"),
            sync_group: cfg.sync_group.is_some(),
        };
        fsm.validate().map_err(|source| SpecError::Cfg {
            instance: name.clone(),
            source,
        })?;
        let mut tracking = Tracking::default();
        for t in &cfg.track_scripts {
            let Some(sc) = model.vrrp_scripts.iter().find(|s| s.name == t.name) else {
                continue;
            };
            let r = TrackRef {
                weight: t.weight.unwrap_or(sc.weight),
                reverse: t.reverse || (t.weight.is_none() && sc.weight_reverse),
            };
            // Undetermined until the first run; init_fail starts it failed.
            tracking.add(TrackKind::Script, &t.name, r, !sc.init_fail);
        }
        for t in &cfg.track_files {
            let Some(tf) = file_spec(model, &t.name) else {
                continue;
            };
            let Some(def) = model.track_files.iter().find(|f| f.name == t.name) else {
                continue;
            };
            // An instance's own weight overrides the track_file's one
            // (keepalived: the reference's weight, else the file's).
            let r = TrackRef {
                weight: t.weight.unwrap_or(def.weight),
                reverse: t.reverse || (t.weight.is_none() && def.weight_reverse),
            };
            tracking.add_file(&t.name, r, super::track::initial_value(&tf));
        }
        for t in &cfg.track_interfaces {
            let up = match nl.link_by_name(&t.name).await {
                Ok(l) => l.up,
                Err(_) => false,
            };
            let r = TrackRef {
                weight: t.weight.unwrap_or(0),
                reverse: t.reverse,
            };
            tracking.add(TrackKind::Interface, &t.name, r, up);
        }
        // The sync group's own track_interface / track_script apply to
        // every member (keepalived reference 2.6): a failure puts a member
        // in FAULT of its own, so the whole group goes FAULT. A group has no
        // priority, so they only fault (weight 0); an instance's own entry
        // for the same object wins.
        let group = cfg
            .sync_group
            .as_ref()
            .and_then(|g| model.sync_groups.iter().find(|sg| &sg.name == g));
        if let Some(sg) = group {
            for t in &sg.track_scripts {
                let Some(sc) = model.vrrp_scripts.iter().find(|s| s.name == t.name) else {
                    continue;
                };
                if !tracking.tracks(TrackKind::Script, &t.name) {
                    let r = TrackRef {
                        weight: 0,
                        reverse: t.reverse,
                    };
                    tracking.add(TrackKind::Script, &t.name, r, !sc.init_fail);
                }
            }
            // Unlike the others, a group's track_file keeps its weight:
            // keepalived 2.2.7 changes the member's priority by value x the
            // track_file's weight (observed: weight 5, value 2, "Changing
            // effective priority from 150 to 160"; tests/tests/vrrp_track_file.rs).
            for t in &sg.track_files {
                let (Some(tf), Some(def)) = (
                    file_spec(model, &t.name),
                    model.track_files.iter().find(|f| f.name == t.name),
                ) else {
                    continue;
                };
                if !tracking.tracks(TrackKind::File, &t.name) {
                    let r = TrackRef {
                        weight: t.weight.unwrap_or(def.weight),
                        reverse: t.reverse || (t.weight.is_none() && def.weight_reverse),
                    };
                    tracking.add_file(&t.name, r, super::track::initial_value(&tf));
                }
            }
            for t in &sg.track_interfaces {
                if !tracking.tracks(TrackKind::Interface, &t.name) {
                    let up = match nl.link_by_name(&t.name).await {
                        Ok(l) => l.up,
                        Err(_) => false,
                    };
                    let r = TrackRef {
                        weight: 0,
                        reverse: t.reverse,
                    };
                    tracking.add(TrackKind::Interface, &t.name, r, up);
                }
            }
        }
        let notify = notify_cmds(&cfg.notify);
        Ok(InstanceSpec {
            name,
            socket,
            fsm,
            vips,
            evips,
            notify,
            dont_track_primary: cfg.dont_track_primary,
            link_up: link.up,
            tracking,
            macs,
            link_locals,
        })
    }

    /// The encoded advert with `priority` for destination `dst`.
    pub fn advert(&self, priority: u8, dst: IpAddr) -> Result<Vec<u8>, EncodeError> {
        let a = self.fsm.advert(priority);
        let ck = if a.version == Version::V3 && !self.fsm.v3_checksum_as_v2 {
            Checksum::Pseudo {
                src: self.socket.src,
                dst,
            }
        } else {
            Checksum::V3AsV2
        };
        a.encode(&ck)
    }

    pub fn mac_of(&self, ifindex: u32) -> Option<[u8; 6]> {
        self.macs.get(&ifindex).copied()
    }

    pub fn link_local_of(&self, ifindex: u32) -> Option<Ipv6Addr> {
        self.link_locals.get(&ifindex).copied()
    }
}

/// The vrrp_scripts of the model that have a command.
pub fn scripts(model: &Model) -> Vec<ScriptSpec> {
    model
        .vrrp_scripts
        .iter()
        .filter_map(|s| {
            let cmd = script(&s.script)?;
            Some(ScriptSpec {
                name: s.name.clone(),
                cmd,
                interval: s.interval,
                timeout: if s.timeout.is_zero() {
                    s.interval
                } else {
                    s.timeout
                },
                rise: s.rise,
                fall: s.fall,
                init_fail: s.init_fail,
            })
        })
        .collect()
}

/// The `track_file` called `name`, if it has a file.
fn file_spec(model: &Model, name: &str) -> Option<FileSpec> {
    let f = model.track_files.iter().find(|f| f.name == name)?;
    Some(FileSpec {
        name: f.name.clone(),
        path: f.file.as_ref()?.into(),
        init: f.init_file,
    })
}

/// The track_files of the model that have a file.
pub fn files(model: &Model) -> Vec<FileSpec> {
    model
        .track_files
        .iter()
        .filter_map(|f| file_spec(model, &f.name))
        .collect()
}

/// Whether a keyword kept as `other` is present and not `false`.
fn other_flag(cfg: &VrrpInstanceCfg, kw: &str) -> bool {
    cfg.other.iter().any(|o| {
        o.keyword == kw
            && !o
                .args
                .first()
                .is_some_and(|a| matches!(a.as_str(), "false" | "no" | "off" | "0"))
    })
}

/// The advert interval the protocol can carry: v2 whole seconds (1-255,
/// keepalived rounds), v3 centiseconds (0.01-40.95 s).
pub fn advert_int(version: Version, d: Duration) -> Duration {
    match version {
        Version::V2 => {
            let secs = (d.as_millis() + 500) / 1000;
            Duration::from_secs(u64::try_from(secs.clamp(1, 255)).unwrap_or(1))
        }
        Version::V3 => {
            let cs = (d.as_micros() + 5000) / 10_000;
            Duration::from_millis(u64::try_from(cs.clamp(1, 4095)).unwrap_or(100) * 10)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_int_rounds_to_what_the_version_carries() {
        let ms = Duration::from_millis;
        assert_eq!(advert_int(Version::V2, ms(1000)), ms(1000));
        assert_eq!(advert_int(Version::V2, ms(100)), ms(1000));
        assert_eq!(advert_int(Version::V2, ms(2600)), ms(3000));
        assert_eq!(advert_int(Version::V3, ms(100)), ms(100));
        assert_eq!(advert_int(Version::V3, ms(1)), ms(10));
        assert_eq!(
            advert_int(Version::V3, Duration::from_secs(100)),
            ms(40_950)
        );
    }
}
