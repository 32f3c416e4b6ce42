//! Post-parse validation of the VRRP side, in keepalived 2.2.7's order
//! (keepalived/vrrp/vrrp.c `vrrp_complete_init`, reference 1.9, 2.3, 4.2):
//! the non-existent-interface stop, script security, minimum instance
//! configuration, sync groups, per-instance completion (defaults, priority
//! and state, advert interval per version, authentication), VRID
//! conflicts. Produces the resolved `VrrpInstanceCfg`s.

use crate::diag::{Diagnostic, ErrClass};
use crate::global::ConfB;
use crate::keywords::Cx;
use crate::model::{
    AuthCfg, AuthTypeCfg, GlobalDefsCfg, Model, ScriptCfg, VrrpInstanceCfg, VrrpStateCfg,
};
use crate::vrrp::InstB;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMER_HZ: u64 = 1_000_000;
const CENTI: u64 = 10_000;

/// Validate what was parsed and build the model.
pub fn finish(mut conf: ConfB, cx: &mut Cx) -> Model {
    let g = &mut conf.model.global;
    // vrrp_complete_init: lower-priority GARP defaults follow the master's.
    if g.vrrp_garp_lower_prio_delay.is_none() {
        g.vrrp_garp_lower_prio_delay = Some(g.vrrp_garp_master_delay);
    }
    if g.vrrp_garp_lower_prio_repeat.is_none() {
        g.vrrp_garp_lower_prio_repeat = Some(g.vrrp_garp_master_repeat);
    }
    let mut model = conf.model;
    let v = conf.vrrp;
    model.vrrp_scripts = v.scripts;
    model.track_files = v.track_files;
    model.track_processes = v.track_processes;
    model.bfd_instances = v.bfds;
    model.track_groups = v.track_groups;
    model.garp_groups = v.garp_groups;
    model.sync_groups = v.sync_groups;
    crate::lvs::validate(&mut model, cx); // the checker process validates on its own

    start_stop_script_security(&model.global, cx);

    // vrrp_daemon.c: a non-existent interface stops the VRRP process right
    // after parsing, before any validation.
    if has_bad_if(cx) {
        cx.error(
            ErrClass::BadIf,
            None,
            "Non-existent interface specified in configuration",
        );
        model.instances = v
            .instances
            .into_iter()
            .map(|i| resolve_plain(i, &model.global))
            .collect();
        return model;
    }
    if cx.missing_parameter {
        model.instances = v
            .instances
            .into_iter()
            .map(|i| resolve_plain(i, &model.global))
            .collect();
        return model;
    }

    let mut instances = v.instances;
    vrrp_script_security(&mut model, &mut instances, cx);

    // chk_min_cfg, for every instance before anything else; the first
    // failure stops the VRRP validation.
    for i in &instances {
        if i.vrid == 0 {
            cx.general(
                i.span,
                format!("({}) the virtual router id must be set", i.name),
            );
            model.instances = instances
                .into_iter()
                .map(|i| resolve_plain(i, &model.global))
                .collect();
            return model;
        }
        // 2.2.7 sets its unicast flag only later, so a unicast instance
        // without an interface fails here too (observed).
        if i.interface.is_none() {
            cx.general(i.span, format!("({}) Unknown interface!", i.name));
            model.instances = instances
                .into_iter()
                .map(|i| resolve_plain(i, &model.global))
                .collect();
            return model;
        }
    }

    // vrrp_sync_set_group: members must exist; a group without any is
    // removed.
    let names: HashMap<String, usize> = instances
        .iter()
        .enumerate()
        .map(|(n, i)| (i.name.clone(), n))
        .collect();
    let mut member_of: HashMap<usize, String> = HashMap::new();
    let mut groups = std::mem::take(&mut model.sync_groups);
    groups.retain_mut(|sg| {
        // vrrp_complete_init: a group without a `group` block is removed.
        if sg.group.is_empty() {
            cx.general(
                sg.span,
                format!("Sync group {} has no virtual router(s). removing", sg.name),
            );
            return false;
        }
        // vrrp_sync.c vrrp_sync_set_group.
        let mut kept = Vec::new();
        for m in &sg.group {
            match names.get(m) {
                None => cx.general(
                    sg.span,
                    format!(
                        "Virtual router {m} specified in sync group {} doesn't exist - ignoring",
                        sg.name
                    ),
                ),
                Some(&n) => {
                    if let std::collections::hash_map::Entry::Vacant(e) = member_of.entry(n) {
                        e.insert(sg.name.clone());
                        kept.push(m.clone());
                    } else {
                        cx.general(
                            sg.span,
                            format!(
                                "Virtual router {m} cannot exist in more than one sync group; ignoring {}",
                                sg.name
                            ),
                        );
                    }
                }
            }
        }
        sg.group = kept;
        if sg.group.is_empty() {
            cx.general(
                sg.span,
                format!(
                    "Sync group {}, no matching virtual router found in group declaration - removing",
                    sg.name
                ),
            );
            return false;
        }
        if sg.group.len() == 1 {
            cx.general(
                sg.span,
                format!(
                    "Sync group {} has only 1 virtual router(s) - this probably isn't what you want",
                    sg.name
                ),
            );
        }
        true
    });
    model.sync_groups = groups;

    let mut out = Vec::with_capacity(instances.len());
    for (n, i) in instances.into_iter().enumerate() {
        let sync = member_of.get(&n).cloned();
        match complete_instance(i, sync, &model.global, cx) {
            Some(c) => out.push(c),
            None => {
                // vrrp_complete_instance failed: the VRRP process stops.
                model.instances = out;
                return model;
            }
        }
    }
    vrid_conflicts(&out, &model.global, cx);
    sync_group_weights(&mut out, &model, cx);
    model.instances = out;

    lvs_syncd_instance(&mut model, cx);
    model
}

fn has_bad_if(cx: &Cx) -> bool {
    cx.any_defined("!bad_if")
}

/// global `lvs_sync_daemon IF VI`: the instance must exist; the sync id
/// defaults to its VRID.
fn lvs_syncd_instance(model: &mut Model, cx: &mut Cx) {
    let Some(sd) = model.global.lvs_sync_daemon.as_mut() else {
        return;
    };
    let Some(vi) = sd.vrrp_instance.clone() else {
        if sd.syncid.is_none() {
            sd.syncid = Some(0);
        }
        return;
    };
    match model.instances.iter().find(|i| i.name == vi) {
        Some(i) => {
            if sd.syncid.is_none() {
                sd.syncid = Some(u32::from(i.vrid));
            }
        }
        None => {
            let span = sd.span;
            // keepalived checks this after the point where -t stops
            // (vrrp_complete_init), so it does not change the -t status.
            cx.info(
                span,
                format!(
                    "Unable to find vrrp instance {vi} for lvs_syncd - clearing lvs_syncd config"
                ),
            );
            model.global.lvs_sync_daemon = None;
        }
    }
}

/// Values as written with global defaults, for a model whose validation
/// stopped early (keepalived would not run it; `-d` still shows it).
fn resolve_plain(i: Box<InstB>, g: &GlobalDefsCfg) -> VrrpInstanceCfg {
    let ipv6 = i.ipv6.unwrap_or(false);
    let version = i.version.unwrap_or(if ipv6 { 3 } else { g.vrrp_version });
    let priority = match (i.priority, i.state) {
        (0, Some(VrrpStateCfg::Master)) => 255,
        (0, _) => 100,
        (p, _) => p,
    };
    build(i, None, g, priority, version, ipv6)
}

fn build(
    i: Box<InstB>,
    sync: Option<String>,
    g: &GlobalDefsCfg,
    priority: u8,
    version: u8,
    ipv6: bool,
) -> VrrpInstanceCfg {
    let strict = i.strict_mode.unwrap_or(g.vrrp_strict);
    let state = match i.state {
        Some(s) => s,
        None if priority == 255 => VrrpStateCfg::Master,
        None => VrrpStateCfg::Backup,
    };
    let auth = match (i.auth_type, i.auth_pass.clone()) {
        (Some(t), Some(p)) => Some(AuthCfg {
            auth_type: t,
            auth_pass: p,
        }),
        _ => None,
    };
    VrrpInstanceCfg {
        name: i.name,
        state,
        interface: i.interface,
        vrid: i.vrid,
        priority,
        version,
        ipv6,
        advert_int: Duration::from_micros(i.advert_us.unwrap_or(TIMER_HZ)),
        auth,
        vips: i.vips,
        evips: i.evips,
        routes: i.routes,
        rules: i.rules,
        nopreempt: i.nopreempt,
        preempt_delay: i.preempt_delay,
        track_interfaces: i.track_interfaces,
        track_scripts: i.track_scripts,
        track_files: i.track_files,
        track_processes: i.track_processes,
        track_bfds: i.track_bfds,
        dont_track_primary: i.dont_track_primary,
        track_src_ip: i.track_src_ip,
        mcast_src_ip: i.mcast_src_ip,
        mcast_dst_ip: i.mcast_dst_ip,
        unicast_src_ip: i.unicast_src_ip,
        unicast_peers: i.unicast_peers,
        unicast_ttl: i.unicast_ttl.unwrap_or(255),
        unicast_fault_no_peer: i.unicast_fault_no_peer,
        check_unicast_src: i.check_unicast_src || g.vrrp_check_unicast_src,
        use_vmac: i.use_vmac,
        vmac_xmit_base: i.vmac_xmit_base,
        // keepalived: accept by default; no_accept by default in strict
        // mode unless the address owner.
        accept: i.accept.unwrap_or(!strict || priority == 255),
        strict_mode: strict,
        skip_check_adv_addr: i.skip_check_adv_addr.unwrap_or(g.vrrp_skip_check_adv_addr),
        promote_secondaries: i.promote_secondaries,
        garp_master_delay: i.garp_master_delay.unwrap_or(g.vrrp_garp_master_delay),
        garp_master_repeat: i.garp_master_repeat.unwrap_or(g.vrrp_garp_master_repeat),
        garp_master_refresh: i.garp_master_refresh.unwrap_or(g.vrrp_garp_master_refresh),
        garp_master_refresh_repeat: i
            .garp_master_refresh_repeat
            .unwrap_or(g.vrrp_garp_master_refresh_repeat),
        garp_lower_prio_delay: i
            .garp_lower_prio_delay
            .or(g.vrrp_garp_lower_prio_delay)
            .unwrap_or(g.vrrp_garp_master_delay),
        garp_lower_prio_repeat: i
            .garp_lower_prio_repeat
            .or(g.vrrp_garp_lower_prio_repeat)
            .unwrap_or(g.vrrp_garp_master_repeat),
        down_timer_adverts: i.down_timer_adverts.unwrap_or(g.vrrp_down_timer_adverts),
        lower_prio_no_advert: i
            .lower_prio_no_advert
            .or(g.vrrp_lower_prio_no_advert)
            .unwrap_or(strict),
        higher_prio_send_advert: i
            .higher_prio_send_advert
            .unwrap_or(g.vrrp_higher_prio_send_advert || strict),
        notify: i.notify.map(|n| *n).unwrap_or_default(),
        smtp_alert: i
            .smtp_alert
            .or(g.smtp_alert_vrrp)
            .or(g.smtp_alert)
            .unwrap_or(false),
        sync_group: sync,
        other: i.other,
        span: i.span,
    }
}

/// Weighted trackers of a sync-group member are dropped unless the group
/// sets `sync_group_tracking_weight`: a weighted `track_script` is removed
/// from the instance (keepalived then reports the script unused), and so is
/// a weighted `track_file` (observed in a namespace lab: the file's value
/// then has no effect at all), while a tracked interface's weight becomes 0
/// (it then puts the instance in FAULT). keepalived 2.2.7 reports each as a configuration error (`-t`
/// exits 5; messages checked against the installed keepalived).
fn sync_group_weights(out: &mut [VrrpInstanceCfg], model: &Model, cx: &mut Cx) {
    for i in out.iter_mut() {
        let Some(g) = &i.sync_group else { continue };
        if model
            .sync_groups
            .iter()
            .any(|sg| &sg.name == g && sg.sync_group_tracking_weight)
        {
            continue;
        }
        let name = i.name.clone();
        let span = i.span;
        i.track_scripts.retain(|t| {
            let own = model
                .vrrp_scripts
                .iter()
                .find(|s| s.name == t.name)
                .map_or(0, |s| s.weight);
            if t.weight.unwrap_or(own) == 0 {
                return true;
            }
            cx.general(
                span,
                format!(
                    "({name}) ignoring tracked script {} with weights due to SYNC group",
                    t.name
                ),
            );
            false
        });
        for t in &mut i.track_interfaces {
            if t.weight.unwrap_or(0) != 0 {
                cx.general(
                    span,
                    format!(
                        "({name}) ignoring {} tracked interface weight due to SYNC group",
                        t.name
                    ),
                );
                t.weight = Some(0);
            }
        }
        i.track_files.retain(|t| {
            let own = model
                .track_files
                .iter()
                .find(|f| f.name == t.name)
                .map_or(0, |f| f.weight);
            let w = t.weight.unwrap_or(own);
            if w == 0 {
                return true;
            }
            cx.general(
                span,
                format!(
                    "({name}) ignoring tracked file {} with weight {w} due to SYNC group",
                    t.name
                ),
            );
            false
        });
    }
}

/// vrrp.c `vrrp_complete_instance`: `None` when keepalived's VRRP process
/// would stop here.
fn complete_instance(
    mut i: Box<InstB>,
    sync: Option<String>,
    g: &GlobalDefsCfg,
    cx: &mut Cx,
) -> Option<VrrpInstanceCfg> {
    let name = i.name.clone();
    let span = i.span;
    let strict = i.strict_mode.unwrap_or(g.vrrp_strict);
    let ipv6 = i.ipv6.unwrap_or(false);
    let mut version = i.version;
    if ipv6 {
        if version == Some(2) && strict {
            cx.general(
                span,
                format!("({name}) cannot use IPv6 with VRRP version 2; setting version 3"),
            );
            version = Some(3);
        } else if version.is_none() {
            version = Some(3);
        }
    }
    let version = version.unwrap_or(g.vrrp_version);

    if i.vips.is_empty() {
        if version == 3 || strict {
            cx.general(
                span,
                format!("({name}) No VIP specified; at least one is required"),
            );
            return None;
        }
        cx.warn_class(
            span,
            format!("({name}) No VIP specified; at least one is sensible"),
        );
    }

    // Priority from state, state from priority (reference 4.2).
    let mut priority = i.priority;
    if priority == 0 {
        priority = if i.state == Some(VrrpStateCfg::Master) {
            255
        } else {
            100
        };
    }
    match i.state {
        None => {
            i.state = Some(if priority == 255 {
                VrrpStateCfg::Master
            } else {
                VrrpStateCfg::Backup
            })
        }
        Some(s) if strict && ((s == VrrpStateCfg::Master) != (priority == 255)) => {
            cx.general(
                span,
                format!("({name}) State MASTER must match being address owner"),
            );
            i.state = Some(if priority == 255 {
                VrrpStateCfg::Master
            } else {
                VrrpStateCfg::Backup
            });
        }
        _ => {}
    }

    // Authentication (vrrp.c after the state checks).
    if i.auth_type.is_some() {
        let aspan = i.auth_span.unwrap_or(span);
        if strict {
            cx.general(
                aspan,
                format!("({name}) Strict mode does not support authentication. Ignoring."),
            );
            i.auth_type = None;
        } else if version == 3 {
            cx.general(
                aspan,
                format!("({name}) VRRP version 3 does not support authentication. Ignoring."),
            );
            i.auth_type = None;
        } else if i.auth_pass.is_none() {
            cx.general(
                aspan,
                format!("({name}) Authentication specified but no password given. Ignoring"),
            );
            i.auth_type = None;
        } else if ipv6 && i.auth_type == Some(AuthTypeCfg::Ah) {
            cx.general(
                aspan,
                format!("({name}) Cannot use AH authentication with IPv6. Ignoring"),
            );
            i.auth_type = None;
        } else if i.auth_type == Some(AuthTypeCfg::Ah) && i.state == Some(VrrpStateCfg::Master) {
            cx.general(
                aspan,
                format!("({name}) Initial state master is incompatible with AH authentication - clearing"),
            );
            i.state = Some(VrrpStateCfg::Backup);
        }
    }

    if !i.unicast_peers.is_empty() && strict {
        cx.general(
            span,
            format!("({name}) Unicast peers are not supported in strict mode"),
        );
        return None;
    }
    if i.unicast && i.unicast_peers.is_empty() && !i.unicast_fault_no_peer {
        cx.error(
            ErrClass::Deprecated,
            Some(span),
            format!("({name}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration."),
        );
    }

    if priority == 255 && i.nopreempt {
        cx.general(
            span,
            format!("({name}) nopreempt is incompatible with priority 255. resetting nopreempt"),
        );
        i.nopreempt = false;
    }
    if i.state == Some(VrrpStateCfg::Master) {
        if i.nopreempt {
            cx.general(
                span,
                format!("({name}) Warning - nopreempt will not work with initial state MASTER - clearing"),
            );
            i.nopreempt = false;
        }
        if !i.preempt_delay.is_zero() {
            cx.general(
                span,
                format!("({name}) Warning - preempt delay will not work with initial state MASTER - clearing"),
            );
            i.preempt_delay = Duration::ZERO;
        }
    }
    if !i.preempt_delay.is_zero() {
        if strict {
            cx.general(
                span,
                format!("({name}) preempt_delay is incompatible with strict mode - resetting"),
            );
            i.preempt_delay = Duration::ZERO;
        }
        if i.nopreempt {
            cx.general(
                span,
                format!("({name}) preempt_delay is incompatible with nopreempt mode - resetting"),
            );
            i.preempt_delay = Duration::ZERO;
        }
    }
    if i.down_timer_adverts.is_some_and(|d| d != 3) && strict {
        cx.general(
            span,
            format!("({name}) down_timer_adverts is incompatible with strict mode - resetting"),
        );
        i.down_timer_adverts = Some(3);
    }
    // vrrp.c: an IPv4 ipvlan needs its address.
    if !ipv6 {
        if let Some(r) = i.other.iter().find(|r| r.keyword == "use_ipvlan") {
            if !r.args.iter().any(|a| {
                a.split('/')
                    .next()
                    .and_then(crate::keywords::parse_ip)
                    .is_some()
            }) {
                cx.general(
                    r.span,
                    format!("({name}) IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state"),
                );
            }
        }
    }
    // vrrp.c: the instance's own interface is always tracked.
    if let Some(ifname) = i.interface.clone() {
        i.track_interfaces.retain(|t| {
            if t.name == ifname {
                cx.general(
                    t.span,
                    format!("({name}) Ignoring track_interface {ifname} since own interface"),
                );
                false
            } else {
                true
            }
        });
    }
    if i.mcast_dst_ip.is_some() && !i.unicast_peers.is_empty() {
        cx.general(
            span,
            format!("({name}) multicast destination specified with unicast - ignoring"),
        );
        i.mcast_dst_ip = None;
    }

    // Advert interval per version (vrrp.c): v2 whole seconds < 256,
    // v3 centiseconds < 4096.
    let mut adv = i.advert_us.unwrap_or(TIMER_HZ);
    if version == 2 {
        if adv >= 256 * TIMER_HZ {
            cx.general(
                span,
                format!(
                    "({name}) VRRPv2 advertisement interval {:.2}s is out of range. Must be less than 256s. Setting to 255s",
                    adv as f64 / TIMER_HZ as f64
                ),
            );
            adv = 255 * TIMER_HZ;
        } else if !adv.is_multiple_of(TIMER_HZ) {
            cx.general(
                span,
                format!(
                    "({name}) VRRPv2 advertisement interval {:.6}s must be an integer. rounding",
                    adv as f64 / TIMER_HZ as f64
                ),
            );
            adv += TIMER_HZ / 2;
            adv -= adv % TIMER_HZ;
            if adv == 0 {
                adv = TIMER_HZ;
            }
        }
    } else if adv >= 4096 * CENTI {
        cx.general(
            span,
            format!(
                "({name}) VRRPv3 advertisement interval {:.2}s is out of range. Must be less than 40.96s. Setting to 40.95s",
                adv as f64 / TIMER_HZ as f64
            ),
        );
        adv = 4095 * CENTI;
    } else if !adv.is_multiple_of(CENTI) {
        cx.general(
            span,
            format!(
                "({name}) VRRPv3 advertisement interval {:.6}s must be in units of 10ms - rounding",
                adv as f64 / TIMER_HZ as f64
            ),
        );
        adv += CENTI / 2;
        adv -= adv % CENTI;
        if adv == 0 {
            adv = CENTI;
        }
    }
    i.advert_us = Some(adv);

    // vrrp.c, after the advert interval: accept mode and the strict-mode
    // rules for GARPs and adverts (an unset value takes the strict-mode
    // default, a conflicting set value is reset with an error).
    let owner = priority == 255;
    let mut accept = i.accept.unwrap_or(owner || !strict);
    if accept && !owner && strict && version == 2 {
        cx.general(
            span,
            format!("({name}) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"),
        );
        accept = false;
    }
    i.accept = Some(accept);
    match i.garp_lower_prio_repeat {
        None if strict => i.garp_lower_prio_repeat = Some(0),
        Some(r) if strict && r != 0 => {
            cx.general(
                span,
                format!("({name}) Strict mode requires no repeat garps. resetting"),
            );
            i.garp_lower_prio_repeat = Some(0);
        }
        _ => {}
    }
    match i.garp_lower_prio_delay {
        None if strict => i.garp_lower_prio_delay = Some(Duration::ZERO),
        Some(d) if strict && !d.is_zero() => {
            cx.general(
                span,
                format!("({name}) Strict mode requires no repeat garp delay. resetting"),
            );
            i.garp_lower_prio_delay = Some(Duration::ZERO);
        }
        _ => {}
    }
    match i.lower_prio_no_advert {
        None => {
            i.lower_prio_no_advert = Some(strict || g.vrrp_lower_prio_no_advert.unwrap_or(false))
        }
        Some(false) if strict => {
            cx.general(
                span,
                format!("({name}) Strict mode requires no lower priority advert. resetting"),
            );
            i.lower_prio_no_advert = Some(true);
        }
        _ => {}
    }
    match i.higher_prio_send_advert {
        None => i.higher_prio_send_advert = Some(!strict && g.vrrp_higher_prio_send_advert),
        Some(true) if strict => {
            cx.general(
                span,
                format!(
                    "({name}) strict mode requires higher_prio_send_advert to be clear. resetting"
                ),
            );
            i.higher_prio_send_advert = Some(false);
        }
        _ => {}
    }
    // The first IPv6 VIP of a multicast instance must be link-local: an
    // error in strict mode, a log line otherwise.
    if ipv6 && !i.unicast {
        if let Some(first) = i.vips.first() {
            let ll =
                matches!(first.addr, std::net::IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
            if !ll {
                let msg = if strict {
                    format!("({name}) the first IPv6 VIP address must be link local")
                } else {
                    format!("({name}) the first IPv6 VIP address should be link local")
                };
                if strict {
                    cx.general(first.span, msg);
                } else {
                    cx.info(first.span, msg);
                }
            }
        }
    }

    let c = build(i, sync, g, priority, version, ipv6);
    Some(c)
}

/// check_vrid_conflicts: the same VRID twice for one family on one
/// interface (multicast to the same group).
fn vrid_conflicts(out: &[VrrpInstanceCfg], g: &GlobalDefsCfg, cx: &mut Cx) {
    let mut seen: HashMap<(&str, bool, u8, std::net::IpAddr), &str> =
        HashMap::with_capacity(out.len());
    for i in out {
        if !i.unicast_peers.is_empty() {
            continue;
        }
        let Some(ifname) = &i.interface else { continue };
        let group = match (i.mcast_dst_ip, i.ipv6) {
            (Some(a), _) => a,
            (None, false) => g.vrrp_mcast_group4,
            (None, true) => g.vrrp_mcast_group6,
        };
        let key = (ifname.as_str(), i.ipv6, i.vrid, group);
        if let Some(first) = seen.get(&key) {
            let d = Diagnostic::error(
                ErrClass::GeneralError,
                Some(i.span),
                format!(
                    "{} and {} both use VRID {} with IPv{} on interface {}",
                    first,
                    i.name,
                    i.vrid,
                    if i.ipv6 { 6 } else { 4 },
                    ifname
                ),
            )
            .with_hint(
                "each VRRP instance on one interface and family needs its own virtual_router_id",
            );
            cx.diags.push(d);
        } else {
            seen.insert(key, &i.name);
        }
    }
}

// ------------------------------------------------------ script security

/// lib/notify.c `check_script_secure` result bits.
#[derive(Default, Clone, Copy)]
struct ScFlags {
    is_script: bool,
    insecure: bool,
    not_found: bool,
    inhibit: bool,
}

/// Who runs a script: its own user, the global `script_user`, or the
/// default (`keepalived_script` if it exists, else root).
fn script_runs_as_root(own_user: Option<&str>, g: &GlobalDefsCfg, cx: &Cx) -> bool {
    match own_user.or(g.script_user.as_deref()) {
        Some(u) => u == "root" || u == "0",
        None => !user_exists("keepalived_script", cx),
    }
}

fn user_exists(name: &str, cx: &Cx) -> bool {
    cx.opts.check_scripts && crate::user_exists(name)
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// keepalived's `check_script_secure` for one command.
fn check_script(s: &ScriptCfg, root: bool, security: bool, cx: &Cx) -> ScFlags {
    let mut f = ScFlags::default();
    if !cx.opts.check_scripts {
        return f;
    }
    let Some(cmd) = s.args.first() else {
        return f;
    };
    // "</file": a file-openable check, not a script (SC_SYSTEM).
    if cmd.starts_with('<') && cmd[1..].trim_start().starts_with('/') {
        return f;
    }
    let path = if cmd.contains('/') {
        PathBuf::from(cmd)
    } else {
        match find_in_path(cmd) {
            Some(p) => p,
            None => {
                f.not_found = true;
                return f;
            }
        }
    };
    let Ok(real) = std::fs::canonicalize(&path) else {
        f.not_found = true;
        return f;
    };
    let Ok(meta) = std::fs::metadata(&real) else {
        f.not_found = true;
        return f;
    };
    f.is_script = true;
    let exec = meta.mode() & 0o111 != 0;
    if exec && root {
        // check_security: every component must be root-owned and not
        // group/world writable (directories with the sticky bit excepted).
        if path_insecure(&real) {
            f.insecure = true;
            f.inhibit = security;
        }
    }
    f
}

fn path_insecure(p: &Path) -> bool {
    let mut cur = PathBuf::new();
    for comp in p.components() {
        cur.push(comp);
        let Ok(m) = std::fs::symlink_metadata(&cur) else {
            return false;
        };
        let mode = m.mode();
        let is_dir = m.is_dir();
        let sticky = mode & 0o1000 != 0;
        if m.uid() != 0 {
            return true;
        }
        if ((is_dir && !sticky) || m.is_file())
            && ((m.gid() != 0 && mode & 0o020 != 0) || mode & 0o002 != 0)
        {
            return true;
        }
    }
    false
}

/// vrrp.c `check_vrrp_script_security`, run only when there are VRRP
/// instances.
fn vrrp_script_security(model: &mut Model, instances: &mut [Box<InstB>], cx: &mut Cx) {
    if instances.is_empty() {
        return;
    }
    let g = model.global.clone();
    let security = g.enable_script_security;
    let mut any = ScFlags::default();
    let merge = |a: &mut ScFlags, b: ScFlags| {
        a.is_script |= b.is_script;
        a.insecure |= b.insecure;
    };
    let mut removed: Vec<String> = Vec::new();
    for sc in &model.vrrp_scripts {
        let Some(cmd) = &sc.script else { continue };
        let root = script_runs_as_root(sc.user.as_deref(), &g, cx);
        let f = check_script(cmd, root, security, cx);
        merge(&mut any, f);
        if f.inhibit {
            cx.general(
                sc.span,
                format!("Disabling track script {} due to insecure", sc.name),
            );
            removed.push(sc.name.clone());
        } else if f.not_found {
            let d = Diagnostic::error(
                ErrClass::GeneralError,
                Some(cmd.span),
                format!(
                    "Disabling track script {} since not found/accessible",
                    sc.name
                ),
            )
            .with_hint(format!(
                "no executable `{}`",
                cmd.args.first().map(String::as_str).unwrap_or("")
            ));
            cx.diags.push(d);
            removed.push(sc.name.clone());
        }
    }
    let notify_flags = |n: &crate::model::NotifyCfg, cx: &Cx| {
        let mut acc = ScFlags::default();
        for s in [
            &n.backup,
            &n.master,
            &n.fault,
            &n.stop,
            &n.deleted,
            &n.generic,
            &n.master_rx_lower_pri,
        ]
        .into_iter()
        .flatten()
        {
            let root = script_runs_as_root(s.user.as_deref(), &g, cx);
            let f = check_script(s, root, security, cx);
            acc.is_script |= f.is_script;
            acc.insecure |= f.insecure;
        }
        acc
    };
    for i in instances.iter_mut() {
        if let Some(n) = &i.notify {
            let f = notify_flags(n, cx);
            merge(&mut any, f);
        }
        i.track_scripts.retain(|t| !removed.contains(&t.name));
    }
    for sg in &mut model.sync_groups {
        let f = notify_flags(&sg.notify, cx);
        merge(&mut any, f);
        sg.track_scripts.retain(|t| !removed.contains(&t.name));
    }
    for s in [&g.notify_fifo_script, &g.vrrp_notify_fifo_script]
        .into_iter()
        .flatten()
    {
        let root = script_runs_as_root(s.user.as_deref(), &g, cx);
        let f = check_script(s, root, security, cx);
        merge(&mut any, f);
    }
    if !security && any.is_script {
        let d = Diagnostic::error(
            ErrClass::SecurityError,
            None,
            format!(
                "SECURITY VIOLATION - scripts are being executed but script_security not enabled.{}",
                if any.insecure { " There are insecure scripts." } else { "" }
            ),
        )
        .with_hint("add `enable_script_security` to global_defs (and `script_user` if scripts must not run as root)");
        cx.diags.push(d);
    }
}

/// main.c: startup/shutdown scripts are checked by the parent.
fn start_stop_script_security(g: &GlobalDefsCfg, cx: &mut Cx) {
    let mut any = ScFlags::default();
    for s in [&g.startup_script, &g.shutdown_script]
        .into_iter()
        .flatten()
    {
        let root = script_runs_as_root(s.user.as_deref(), g, cx);
        let f = check_script(s, root, g.enable_script_security, cx);
        any.is_script |= f.is_script;
        any.insecure |= f.insecure;
    }
    if !g.enable_script_security && any.is_script {
        cx.error(
            ErrClass::SecurityError,
            None,
            format!(
                "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.{}",
                if any.insecure { " There are insecure scripts." } else { "" }
            ),
        );
    }
}
