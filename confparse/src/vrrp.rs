//! The VRRP side of keepalived.conf (reference 2.3-2.8): `vrrp_instance`,
//! `vrrp_script`, `vrrp_sync_group`, `track_file`, `vrrp_track_process`,
//! `bfd_instance`, `track_group`, `garp_group`, the static address, route
//! and rule blocks, `linkbeat_interfaces`, `interface_up_down_delays`.
//! Handlers reproduce keepalived 2.2.7's messages
//! (keepalived/vrrp/vrrp_parser.c, vrrp_ipaddress.c, vrrp_track.c,
//! vrrp_data.c); the post-parse rules live in `validate`.

use crate::diag::ErrClass;
use crate::global::{raw, script_at, user_group, ConfB};
use crate::keywords::{parse_ip, Block, Cx, Dispatch, Kw, Table, Tier};
use crate::lexer::{LogicalLine, Word};
use crate::model::{
    AddrScopeCfg, AuthTypeCfg, BfdInstanceCfg, GarpGroupCfg, LinkbeatIfCfg, NotifyCfg, RawKwCfg,
    RouteCfg, RuleCfg, ScriptCfg, SyncGroupCfg, TrackFileCfg, TrackGroupCfg, TrackProcessCfg,
    TrackRefCfg, UnicastPeerCfg, UpDownDelayCfg, VipCfg, VmacCfg, VrrpScriptCfg, VrrpStateCfg,
};
use crate::source::Span;
use std::net::IpAddr;
use std::time::Duration;

/// Name kinds for [`Cx::define`].
pub const K_SCRIPT: &str = "vrrp_script";
pub const K_TRACK_FILE: &str = "track_file";
pub const K_PROCESS: &str = "vrrp_track_process";
pub const K_BFD: &str = "bfd_instance";
pub const K_INSTANCE: &str = "vrrp_instance";
pub const K_SYNC_GROUP: &str = "vrrp_sync_group";
pub const K_TRACK_GROUP: &str = "track_group";

/// Everything VRRP-side collected while parsing; `validate` resolves it
/// into the model.
#[derive(Default)]
pub struct VrrpB {
    /// Boxed: an instance is large and moves through several stages.
    pub instances: Vec<Box<InstB>>,
    pub scripts: Vec<VrrpScriptCfg>,
    pub sync_groups: Vec<SyncGroupCfg>,
    pub track_files: Vec<TrackFileCfg>,
    pub track_processes: Vec<TrackProcessCfg>,
    pub bfds: Vec<BfdInstanceCfg>,
    pub track_groups: Vec<TrackGroupCfg>,
    pub garp_groups: Vec<GarpGroupCfg>,
}

/// keepalived's `if_get_by_ifname(…, IF_CREATE_IF_DYNAMIC)`: a missing
/// interface is reported and, unless `dynamic_interfaces` was given,
/// makes the VRRP process stop with "Non-existent interface specified in
/// configuration" (CONFIG_BAD_IF) after parsing.
fn interface_exists(cx: &mut Cx, name: &str) -> bool {
    let exists = match &cx.opts.interfaces {
        None => true,
        Some(set) => set.contains(name),
    };
    if exists || cx.is_defined("dynamic_interfaces", "") {
        return true;
    }
    cx.define("!bad_if", name);
    false
}

// ---------------------------------------------------------------- instance

/// A `vrrp_instance` as written; `validate` resolves it.
pub struct InstB {
    pub name: String,
    pub span: Span,
    pub state: Option<VrrpStateCfg>,
    pub interface: Option<String>,
    pub interface_span: Option<Span>,
    /// 0 = not set ("the virtual router id must be set").
    pub vrid: u8,
    /// 0 = not set.
    pub priority: u8,
    pub version: Option<u8>,
    pub advert_us: Option<u64>,
    pub auth_type: Option<AuthTypeCfg>,
    pub auth_pass: Option<Vec<u8>>,
    pub auth_span: Option<Span>,
    /// Family of the first VIP; later VIPs must match.
    pub ipv6: Option<bool>,
    pub native_ipv6: bool,
    pub vips: Vec<VipCfg>,
    pub evips: Vec<VipCfg>,
    pub routes: Vec<RouteCfg>,
    pub rules: Vec<RuleCfg>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub track_interfaces: Vec<TrackRefCfg>,
    pub track_scripts: Vec<TrackRefCfg>,
    pub track_files: Vec<TrackRefCfg>,
    pub track_processes: Vec<TrackRefCfg>,
    pub track_bfds: Vec<TrackRefCfg>,
    pub dont_track_primary: bool,
    pub track_src_ip: bool,
    pub mcast_src_ip: Option<IpAddr>,
    pub unicast_src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeerCfg>,
    /// A unicast keyword was used (keepalived's VRRP_FLAG_UNICAST).
    pub unicast: bool,
    pub unicast_ttl: Option<u8>,
    pub unicast_fault_no_peer: bool,
    pub check_unicast_src: bool,
    pub use_vmac: Option<VmacCfg>,
    pub vmac_xmit_base: bool,
    pub accept: Option<bool>,
    pub strict_mode: Option<bool>,
    pub skip_check_adv_addr: Option<bool>,
    pub promote_secondaries: bool,
    pub garp_master_delay: Option<Duration>,
    pub garp_master_repeat: Option<u32>,
    pub garp_master_refresh: Option<Duration>,
    pub garp_master_refresh_repeat: Option<u32>,
    pub garp_lower_prio_delay: Option<Duration>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub down_timer_adverts: Option<u32>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    /// Created by the first notify keyword: seven inline script slots were
    /// half of every instance's parse state (784 of 1,416 bytes; 7.8 MB at
    /// 10,000 instances, heaptrack) and most instances have none.
    pub notify: Option<Box<NotifyCfg>>,
    pub smtp_alert: Option<bool>,
    pub other: Vec<RawKwCfg>,
}

impl InstB {
    /// The notify scripts, created on first use.
    fn notify_mut(&mut self) -> &mut NotifyCfg {
        self.notify.get_or_insert_with(Box::default)
    }

    fn new(name: String, span: Span) -> Self {
        InstB {
            name,
            span,
            state: None,
            interface: None,
            interface_span: None,
            vrid: 0,
            priority: 0,
            version: None,
            advert_us: None,
            auth_type: None,
            auth_pass: None,
            auth_span: None,
            ipv6: None,
            native_ipv6: false,
            vips: Vec::new(),
            evips: Vec::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_bfds: Vec::new(),
            dont_track_primary: false,
            track_src_ip: false,
            mcast_src_ip: None,
            unicast_src_ip: None,
            mcast_dst_ip: None,
            unicast_peers: Vec::new(),
            unicast: false,
            unicast_ttl: None,
            unicast_fault_no_peer: false,
            check_unicast_src: false,
            use_vmac: None,
            vmac_xmit_base: false,
            accept: None,
            strict_mode: None,
            skip_check_adv_addr: None,
            promote_secondaries: false,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            down_timer_adverts: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            notify: None,
            smtp_alert: None,
            other: Vec::new(),
        }
    }
}

impl Block for InstB {
    const NAME: &'static str = "vrrp_instance";
    fn table() -> &'static Table<Self> {
        &INSTANCE
    }
}

/// A named top-level block: `KW NAME`, with keepalived's checks.
fn block_name<'l>(
    cx: &mut Cx,
    l: &'l LogicalLine,
    exact_two: bool,
    missing: &str,
) -> Option<&'l Word> {
    let ok = if exact_two {
        l.words.len() == 2
    } else {
        l.words.len() >= 2
    };
    if !ok {
        cx.general(l.span, missing.to_string());
        return None;
    }
    l.words.get(1)
}

pub fn open_instance(s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let _ = s;
    let Some(w) = block_name(cx, l, true, "vrrp_instance must have a name") else {
        // keepalived's handlers then work on no instance: "(null)".
        return cx.skip_block_or(InstB::new("(null)".to_string(), l.span));
    };
    if !cx.define(K_INSTANCE, &w.text) {
        cx.general(w.span, format!("vrrp instance {} already defined", w.text));
        return cx.skip_block_or(InstB::new(w.text.to_string(), l.span));
    }
    cx.open(
        InstB::new(w.text.to_string(), l.span),
        |p: &mut ConfB, c, _cx| p.vrrp.instances.push(Box::new(c)),
    )
}

/// `weight W [reverse|noreverse]` after a tracked name, with keepalived's
/// messages (vrrp_track.c). `range` is the accepted weight range; ±254 is
/// accepted and clamped to ±253 with an error when `clamp254`.
#[allow(clippy::too_many_arguments)]
fn track_ref(
    cx: &mut Cx,
    owner: &str,
    what: &str,
    l: &LogicalLine,
    range: (i32, i32),
    clamp254: bool,
    allow_noreverse: bool,
) -> Option<TrackRefCfg> {
    let name = l.words.first()?;
    let mut r = TrackRefCfg {
        name: name.text.to_string(),
        weight: None,
        reverse: false,
        span: name.span,
    };
    if let Some(opt) = l.words.get(1) {
        if opt.text != "weight" {
            cx.general(
                opt.span,
                format!("({owner}) unknown {what} option {} - ignoring", opt.text),
            );
            return None;
        }
        let Some(v) = l.words.get(2) else {
            cx.general(
                opt.span,
                format!(
                    "({owner}) weight without value specified for {what} {} - ignoring",
                    name.text
                ),
            );
            return None;
        };
        match cx.int(v, range.0, range.1) {
            Some(mut wgt) => {
                if clamp254 && wgt.abs() == 254 {
                    cx.general(
                        v.span,
                        format!(
                            "({owner}) weight for {} cannot be +/-254. Setting to +/-253",
                            name.text
                        ),
                    );
                    wgt = wgt.signum() * 253;
                }
                r.weight = Some(wgt);
            }
            None => r.weight = Some(0),
        }
        if let Some(rev) = l.words.get(3) {
            match rev.text.as_str() {
                "reverse" => r.reverse = true,
                "noreverse" if allow_noreverse => r.reverse = false,
                _ => cx.general(
                    rev.span,
                    format!(
                        "({owner}) unknown {what} {} weight option {} - ignoring",
                        name.text, rev.text
                    ),
                ),
            }
        }
    }
    Some(r)
}

fn add_track(
    cx: &mut Cx,
    list: &mut Vec<TrackRefCfg>,
    owner: &str,
    kind: &'static str,
    what: &str,
    l: &LogicalLine,
    range: (i32, i32),
) {
    let Some(name) = l.words.first() else { return };
    if !cx.is_defined(kind, &name.text) {
        // keepalived resolves the name against what was defined earlier in
        // the text (vrrp_track.c); a later definition does not count.
        let mut d = crate::diag::Diagnostic::error(
            ErrClass::GeneralError,
            Some(name.span),
            format!("({owner}) {what} {} not found, ignoring...", name.text),
        );
        d = d.with_hint(format!("define `{kind} {}` before this point", name.text));
        cx.diags.push(d);
        return;
    }
    if list.iter().any(|t| t.name == name.text) {
        cx.general(
            name.span,
            format!(
                "({owner}) duplicate {} {} - ignoring",
                l_kw(what),
                name.text
            ),
        );
        return;
    }
    if let Some(r) = track_ref(cx, owner, what, l, range, true, true) {
        list.push(r);
    }
}

/// keepalived's "duplicate track_script" spelling of `what`.
fn l_kw(what: &str) -> String {
    what.replace(' ', "_")
}

pub fn track_if_entry(cx: &mut Cx, list: &mut Vec<TrackRefCfg>, owner: &str, l: &LogicalLine) {
    let Some(name) = l.words.first() else { return };
    if !interface_exists(cx, &name.text) {
        cx.general(
            name.span,
            format!("({owner}) tracked interface {} doesn't exist", name.text),
        );
        return;
    }
    if list.iter().any(|t| t.name == name.text) {
        cx.general(
            name.span,
            format!(
                "({owner}) duplicate track_interface {} - ignoring",
                name.text
            ),
        );
        return;
    }
    if let Some(r) = track_ref(cx, owner, "track_interface", l, (-254, 254), true, false) {
        list.push(r);
    }
}

fn notify_slot(cx: &mut Cx, slot: &mut Option<ScriptCfg>, owner: &str, l: &LogicalLine) {
    if slot.is_some() {
        let arg = l.words.get(1).map(|w| w.text.as_str()).unwrap_or("");
        cx.general(
            l.span,
            format!(
                "({owner}) {} script already specified - ignoring {arg}",
                l.keyword()
            ),
        );
        return;
    }
    *slot = script_at(cx, l, 1);
}

fn inst_flag(cx: &mut Cx, l: &LogicalLine, owner: &str) -> Option<bool> {
    let Some(w) = l.words.get(1) else {
        return Some(true);
    };
    match crate::keywords::true_false(&w.text) {
        Some(b) => Some(b),
        None => {
            cx.general(
                w.span,
                format!("({owner}) invalid {} {} specified", l.keyword(), w.text),
            );
            None
        }
    }
}

fn secs(cx: &mut Cx, l: &LogicalLine) -> Option<Duration> {
    let w = cx.arg(l, 1)?;
    cx.unsigned(w, 0, u32::MAX / 1_000_000)
        .map(|v| Duration::from_secs(u64::from(v)))
}

fn repeat(cx: &mut Cx, l: &LogicalLine, owner: &str) -> Option<u32> {
    let w = cx.arg(l, 1)?;
    let v = cx.unsigned(w, 0, u32::MAX)?;
    if v == 0 {
        cx.general(
            w.span,
            format!(
                "({owner}): {} must be greater than 0, setting to 1",
                l.keyword()
            ),
        );
        return Some(1);
    }
    Some(v)
}

type KI = Kw<InstB>;

static INSTANCE: Table<InstB> = Table::new(&[
    KI::set("state", "MASTER|BACKUP", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match w.text.as_str() {
            "MASTER" => s.state = Some(VrrpStateCfg::Master),
            "BACKUP" => {
                if s.state == Some(VrrpStateCfg::Master) {
                    cx.general(
                        w.span,
                        format!("({}) state previously set as MASTER - ignoring BACKUP", s.name),
                    );
                } else {
                    s.state = Some(VrrpStateCfg::Backup);
                }
            }
            other => {
                let mut d = crate::diag::Diagnostic::error(
                    ErrClass::GeneralError,
                    Some(w.span),
                    format!("({}) unknown state '{other}', defaulting to BACKUP", s.name),
                );
                if other.eq_ignore_ascii_case("master") || other.eq_ignore_ascii_case("backup") {
                    d = d.with_hint(format!(
                        "states are case-sensitive: write `{}`",
                        other.to_ascii_uppercase()
                    ));
                }
                cx.diags.push(d);
                s.state = Some(VrrpStateCfg::Backup);
            }
        }
    })
    .tier(Tier::T1),
    KI::set("interface", "IFNAME", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if w.text.len() >= 16 {
            cx.general(
                w.span,
                format!("Interface name '{}' too long - ignoring", w.text),
            );
            return;
        }
        if !interface_exists(cx, &w.text) {
            let d = crate::diag::Diagnostic::error(
                ErrClass::GeneralError,
                Some(w.span),
                format!(
                    "WARNING - interface {} for vrrp_instance {} doesn't exist",
                    w.text, s.name
                ),
            );
            // In name order: the set's own order changes from run to run,
            // and with it which of two equally close names was suggested.
            let d = match cx.opts.interfaces.as_ref().and_then(|set| {
                let mut names: Vec<&str> = set.iter().map(|x| x.as_str()).collect();
                names.sort_unstable();
                crate::keywords::suggest(&w.text, names)
            }) {
                Some(m) => d.with_hint(format!("did you mean `{m}`?")),
                None => d.with_hint("set `dynamic_interfaces` in global_defs if it appears later"),
            };
            cx.diags.push(d);
        } else if w.text == "lo" {
            cx.general(
                w.span,
                format!(
                    "({}) cannot use a loopback interface ({}) for vrrp - ignoring",
                    s.name, w.text
                ),
            );
            return;
        }
        s.interface = Some(w.text.to_string());
        s.interface_span = Some(w.span);
    })
    .tier(Tier::T1),
    KI::set("virtual_router_id", "<1-255>", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 1, 255) {
            s.vrid = u8::try_from(v).unwrap_or(0);
        } else {
            cx.general(
                w.span,
                format!(
                    "({}): VRID '{}' not valid - must be between 1 & 255",
                    s.name, w.text
                ),
            );
        }
    })
    .tier(Tier::T1),
    KI::set("priority", "<1-255>", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.unsigned(w, 1, 255) {
            Some(v) => s.priority = u8::try_from(v).unwrap_or(100),
            None => {
                cx.general(
                    w.span,
                    format!(
                        "({}) Priority not valid! must be between 1 & 255. Using default 100",
                        s.name
                    ),
                );
                s.priority = 100;
            }
        }
    })
    .tier(Tier::T1),
    KI::set("advert_int", "SECS (0.01-255)", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.decimal(w, 10_000, 255_000_000, 6) {
            Some(v) if v > 0 => s.advert_us = Some(v),
            _ => cx.general(
                w.span,
                format!(
                    "({}) Advert interval ({}) not valid! Must be > 0 - ignoring",
                    s.name, w.text
                ),
            ),
        }
    })
    .tier(Tier::T1),
    KI::block("authentication", "{ auth_type … auth_pass … }", |s, cx, l| {
        s.auth_span = Some(l.span);
        cx.open(AuthB::default(), |p: &mut InstB, c: AuthB, _cx| {
            if c.auth_type.is_some() {
                p.auth_type = c.auth_type;
            }
            if c.auth_pass.is_some() {
                p.auth_pass = c.auth_pass;
            }
        })
    })
    .tier(Tier::T1),
    KI::values("virtual_ipaddress", "{ IP[/LEN] [dev IF] … }", |s, cx, l| {
        let owner = s.name.clone();
        if let Some(v) = parse_address(cx, l, false) {
            let v6 = v.addr.is_ipv6();
            match s.ipv6 {
                None => s.ipv6 = Some(v6),
                Some(f) if f != v6 => {
                    cx.general(
                        l.span,
                        format!(
                            "({owner}): address family must match VRRP instance [{}] - ignoring",
                            l.keyword()
                        ),
                    );
                    return;
                }
                _ => {}
            }
            s.vips.push(v);
        }
    })
    .tier(Tier::T1),
    KI::values("virtual_ipaddress_excluded", "{ IP[/LEN] … }", |s, cx, l| {
        if let Some(v) = parse_address(cx, l, false) {
            s.evips.push(v);
        }
    }),
    KI::values("virtual_routes", "{ ROUTE … }", |s, cx, l| {
        if let Some(r) = parse_route(cx, l, false) {
            s.routes.push(r);
        }
    }),
    KI::values("virtual_rules", "{ RULE … }", |s, cx, l| {
        if let Some(r) = parse_rule(cx, l, false) {
            s.rules.push(r);
        }
    }),
    KI::set("no_virtual_ipaddress", "", |s, _cx, l| s.other.push(raw(l))).tier(Tier::T3),
    KI::set("promote_secondaries", "", |s, _cx, _l| s.promote_secondaries = true)
        .tier(Tier::T3)
        .not_acted("secondary addresses are not promoted"),
    KI::set("nopreempt", "", |s, _cx, _l| s.nopreempt = true),
    KI::set("preempt", "", |s, _cx, _l| s.nopreempt = false).tier(Tier::T3),
    KI::set("preempt_delay", "SECS (0-1000)", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.decimal(w, 0, 1000 * 1_000_000, 6) {
            Some(v) => s.preempt_delay = Duration::from_micros(v),
            None => {
                cx.general(
                    w.span,
                    format!("({}) Preempt_delay not valid! must be between 0-1000", s.name),
                );
                s.preempt_delay = Duration::ZERO;
            }
        }
    }),
    KI::values("track_interface", "{ IF [weight W [reverse]] … }", |s, cx, l| {
        let owner = s.name.clone();
        track_if_entry(cx, &mut s.track_interfaces, &owner, l);
    }),
    KI::values("track_script", "{ NAME [weight W [reverse]] … }", |s, cx, l| {
        let owner = s.name.clone();
        add_track(cx, &mut s.track_scripts, &owner, K_SCRIPT, "track script", l, (-254, 254));
    })
    .tier(Tier::T1),
    KI::values("track_file", "{ NAME [weight W [reverse]] … }", |s, cx, l| {
        let owner = s.name.clone();
        add_track(cx, &mut s.track_files, &owner, K_TRACK_FILE, "track file", l, (-254, 254));
    })
    .tier(Tier::T3),
    KI::values("track_process", "{ NAME [weight W [reverse]] … }", |s, cx, l| {
        let owner = s.name.clone();
        add_track(cx, &mut s.track_processes, &owner, K_PROCESS, "track process", l, (-254, 254));
    })
    .tier(Tier::T3)
    .not_acted("processes are not monitored; the tracker stays up"),
    KI::values("track_bfd", "{ NAME [weight W [reverse]] … }", |s, cx, l| {
        let owner = s.name.clone();
        add_track(cx, &mut s.track_bfds, &owner, K_BFD, "track bfd", l, (-253, 253));
    })
    .tier(Tier::T3)
    .not_acted("no BFD sessions are run; the tracker stays up"),
    KI::set("dont_track_primary", "", |s, _cx, _l| s.dont_track_primary = true).tier(Tier::T3),
    KI::set("track_src_ip", "", |s, _cx, _l| s.track_src_ip = true).tier(Tier::T3),
    KI::set("mcast_src_ip", "IP", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let name = s.name.clone();
        s.mcast_src_ip = cx.ip(w, |t| {
            format!("Configuration error: VRRP instance[{name}] malformed src address[{t}]")
        });
    }),
    KI::set("unicast_src_ip", "IP", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let name = s.name.clone();
        s.unicast = true;
        s.unicast_src_ip = cx.ip(w, |t| {
            format!("Configuration error: VRRP instance[{name}] malformed src address[{t}]")
        });
    }),
    KI::set("mcast_dst_ip", "IP", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let name = s.name.clone();
        if let Some(a) = cx.ip(w, |t| format!("({name}) malformed mcast dest address {t}")) {
            if !a.is_multicast() {
                cx.general(
                    w.span,
                    format!("({}) mcast_dst_ip {} not multicast. Skipping...", s.name, w.text),
                );
                return;
            }
            s.mcast_dst_ip = Some(a);
        }
    })
    .tier(Tier::T3),
    KI::values_open(
        "unicast_peer",
        "{ IP [min_ttl N] [max_ttl N] … }",
        // An empty block still makes the instance "unicast" (observed:
        // keepalived's deprecation message for an empty unicast_peer).
        |s, _cx, _l| s.unicast = true,
        |s, cx, l| {
        let Some(w) = l.words.first() else { return };
        let name = s.name.clone();
        let Some(addr) = cx.ip(w, |t| {
            format!("Configuration error: VRRP instance[{name}] malformed unicast peer address[{t}]. Skipping...")
        }) else {
            return;
        };
        let mut p = UnicastPeerCfg {
            addr,
            min_ttl: None,
            max_ttl: None,
            span: w.span,
        };
        let mut i = 1;
        while let Some(o) = l.words.get(i) {
            let slot = match o.text.as_str() {
                "min_ttl" => &mut p.min_ttl,
                "max_ttl" => &mut p.max_ttl,
                _ => {
                    cx.general(
                        o.span,
                        format!("({name}) unknown unicast_peer option {}", o.text),
                    );
                    break;
                }
            };
            let Some(v) = l.words.get(i + 1) else {
                cx.general(o.span, format!("({name}) {} is missing a value", o.text));
                break;
            };
            *slot = cx.unsigned(v, 0, 255).and_then(|x| u8::try_from(x).ok());
            i += 2;
        }
        if let (Some(a), Some(b)) = (p.min_ttl, p.max_ttl) {
            if a > b {
                cx.general(
                    w.span,
                    format!("({name}) min_ttl {a} > max_ttl {b} - all packets will be discarded"),
                );
            }
        }
        s.unicast_peers.push(p);
    }),
    KI::set("unicast_ttl", "<0-255>", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.unsigned(w, 0, 255) {
            Some(v) => s.unicast_ttl = u8::try_from(v).ok(),
            None => cx.general(
                w.span,
                format!("({}): TTL '{}' not valid - must be between 0 & 255", s.name, w.text),
            ),
        }
    })
    .tier(Tier::T3),
    KI::set("unicast_fault_no_peer", "", |s, _cx, _l| {
        s.unicast = true;
        s.unicast_fault_no_peer = true
    })
    .tier(Tier::T3),
    KI::set("check_unicast_src", "", |s, _cx, _l| {
        s.unicast = true;
        s.check_unicast_src = true
    })
    .tier(Tier::T3),
    KI::set("old_unicast_checksum", "[never]", |s, cx, l| {
        s.unicast = true;
        if let Some(w) = l.words.get(1) {
            if w.text != "never" {
                cx.general(
                    w.span,
                    format!("({}) Unknown old_unicast_chksum mode {} - ignoring", s.name, w.text),
                );
                return;
            }
        }
        s.other.push(raw(l));
    })
    .tier(Tier::T3)
    .not_acted("the pre-1.3.6 unicast checksum is never used"),
    KI::set("version", "2|3", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.int(w, 2, 3) {
            Some(v) => s.version = u8::try_from(v).ok(),
            None => cx.general(
                w.span,
                format!("({}): Version must be either 2 or 3", s.name),
            ),
        }
    })
    .tier(Tier::T3),
    KI::set("native_ipv6", "", |s, cx, l| {
        if s.ipv6 == Some(false) {
            cx.general(
                l.span,
                format!("({}) Cannot specify native_ipv6 with IPv4 addresses", s.name),
            );
            return;
        }
        s.native_ipv6 = true;
        s.ipv6 = Some(true);
    })
    .tier(Tier::T3),
    KI::set("accept", "", |s, _cx, _l| s.accept = Some(true)).tier(Tier::T3),
    KI::set("no_accept", "", |s, _cx, _l| s.accept = Some(false))
        .tier(Tier::T3)
        .not_acted("no firewall rules drop traffic to VIPs in BACKUP"),
    KI::set("strict_mode", "[BOOL]", |s, cx, l| {
        let n = s.name.clone();
        if let Some(b) = inst_flag(cx, l, &n) {
            s.strict_mode = Some(b);
        }
    })
    .tier(Tier::T3),
    KI::set("skip_check_adv_addr", "[BOOL]", |s, cx, l| {
        let n = s.name.clone();
        if let Some(b) = inst_flag(cx, l, &n) {
            s.skip_check_adv_addr = Some(b);
        }
    })
    .tier(Tier::T3),
    KI::set("use_vmac", "[NAME] [MAC]", |s, _cx, l| {
        // keepalived takes the first word as the interface name whatever it
        // is (`use_vmac false` names an interface "false", reference Q5).
        let mut v = VmacCfg {
            name: None,
            mac: None,
        };
        for w in l.words.iter().skip(1) {
            if w.text.matches(':').count() == 5 {
                v.mac = Some(w.text.to_string());
            } else if v.name.is_none() {
                v.name = Some(w.text.to_string());
            }
        }
        s.use_vmac = Some(v);
    }),
    KI::set("use_vmac_addr", "", |s, _cx, l| s.other.push(raw(l)))
        .tier(Tier::T3)
        .not_acted("the VMAC address is not put on the base interface"),
    KI::set("vmac_xmit_base", "", |s, _cx, _l| s.vmac_xmit_base = true).tier(Tier::T3),
    KI::set("use_ipvlan", "[NAME] [IP] [TYPE]", |s, _cx, l| s.other.push(raw(l)))
        .tier(Tier::T3)
        .not_acted("no ipvlan interface is created"),
    KI::set("vrf", "IFNAME", |s, cx, l| {
        if cx.arg(l, 1).is_some() {
            s.other.push(raw(l));
        }
    })
    .tier(Tier::T3)
    .not_acted("VRF binding is not applied"),
    KI::set("linkbeat_use_polling", "", |s, cx, l| {
        cx.general(
            l.span,
            format!(
                "({}) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block",
                s.name
            ),
        );
    })
    .tier(Tier::T3),
    KI::set("debug", "<0-4>", |s, cx, l| {
        if let Some(w) = cx.arg(l, 1) {
            if cx.unsigned(w, 0, 4).is_none() {
                cx.general(
                    w.span,
                    format!("({}) Debug value '{}' not valid; must be between 0-4", s.name, w.text),
                );
            }
        }
    })
    .tier(Tier::T3),
    KI::set("notify_master", "CMD [USER [GROUP]]", |s, cx, l| {
        let n = s.name.clone();
        notify_slot(cx, &mut s.notify_mut().master, &n, l);
    }),
    KI::set("notify_backup", "CMD [USER [GROUP]]", |s, cx, l| {
        let n = s.name.clone();
        notify_slot(cx, &mut s.notify_mut().backup, &n, l);
    }),
    KI::set("notify_fault", "CMD [USER [GROUP]]", |s, cx, l| {
        let n = s.name.clone();
        notify_slot(cx, &mut s.notify_mut().fault, &n, l);
    }),
    KI::set("notify_stop", "CMD [USER [GROUP]]", |s, cx, l| {
        let n = s.name.clone();
        notify_slot(cx, &mut s.notify_mut().stop, &n, l);
    }),
    KI::set("notify", "CMD [USER [GROUP]]", |s, cx, l| {
        let n = s.name.clone();
        notify_slot(cx, &mut s.notify_mut().generic, &n, l);
    }),
    KI::set("notify_deleted", "[CMD]", |s, cx, l| {
        if l.words.len() > 1 {
            let n = s.name.clone();
            notify_slot(cx, &mut s.notify_mut().deleted, &n, l);
        } else {
            s.other.push(raw(l));
        }
    })
    .tier(Tier::T3),
    KI::set("notify_master_rx_lower_pri", "CMD", |s, cx, l| {
        let n = s.name.clone();
        notify_slot(cx, &mut s.notify_mut().master_rx_lower_pri, &n, l);
    })
    .tier(Tier::T3),
    KI::set("smtp_alert", "[BOOL]", |s, cx, l| {
        if let Some(w) = l.words.get(1) {
            match crate::keywords::true_false(&w.text) {
                Some(b) => s.smtp_alert = Some(b),
                None => cx.general(
                    w.span,
                    format!("Invalid vrrp_instance smtp_alert parameter {}", w.text),
                ),
            }
        } else {
            s.smtp_alert = Some(true);
        }
    })
    .not_acted("no e-mail is sent"),
    KI::set("notify_priority_changes", "BOOL", |s, cx, l| {
        if let Some(w) = l.words.get(1) {
            if crate::keywords::true_false(&w.text).is_none() {
                cx.general(
                    w.span,
                    format!(
                        "({}) Invalid value '{}' for notify_priority_changes specified",
                        s.name, w.text
                    ),
                );
                return;
            }
        }
        s.other.push(raw(l));
    })
    .tier(Tier::T3)
    .not_acted("priority changes are not written to a FIFO"),
    // Deprecated after 1.2.19 with two error-class lines (vrrp_parser.c).
    KI::set("lvs_sync_daemon_interface", "IF", |s, cx, l| {
        cx.general(
            l.span,
            format!(
                "({}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated. Please use global lvs_sync_daemon",
                s.name
            ),
        );
        if cx.arg(l, 1).is_some() {
            s.other.push(raw(l));
        }
    })
    .old("lvs_sync_daemon", None)
    .not_acted("use the global lvs_sync_daemon"),
    KI::set("garp_master_delay", "SECS", |s, cx, l| {
        if let Some(d) = secs(cx, l) {
            s.garp_master_delay = Some(d);
        }
    }),
    KI::set("garp_master_refresh", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        s.garp_master_refresh = Some(
            cx.unsigned(w, 0, u32::MAX)
                .map(|v| Duration::from_secs(u64::from(v)))
                .unwrap_or(Duration::ZERO),
        );
    }),
    KI::set("garp_master_repeat", "N", |s, cx, l| {
        let n = s.name.clone();
        if let Some(v) = repeat(cx, l, &n) {
            s.garp_master_repeat = Some(v);
        }
    }),
    KI::set("garp_master_refresh_repeat", "N", |s, cx, l| {
        let n = s.name.clone();
        if let Some(v) = repeat(cx, l, &n) {
            s.garp_master_refresh_repeat = Some(v);
        }
    }),
    KI::set("garp_lower_prio_delay", "SECS", |s, cx, l| {
        if let Some(d) = secs(cx, l) {
            s.garp_lower_prio_delay = Some(d);
        }
    })
    .tier(Tier::T3),
    KI::set("garp_lower_prio_repeat", "N", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 0, i32::MAX as u32) {
            s.garp_lower_prio_repeat = Some(v);
        }
    })
    .tier(Tier::T3),
    KI::set("down_timer_adverts", "<1-100>", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 1, 100) {
            s.down_timer_adverts = Some(v);
        }
    })
    .tier(Tier::T3),
    KI::set("garp_extra_if", "[all] SECS", |s, cx, l| {
        let i = if l.words.get(1).is_some_and(|w| w.text == "all") { 2 } else { 1 };
        let Some(w) = l.words.get(i) else {
            cx.general(
                l.span,
                format!("({}): garp_extra_if specified without time - ignoring", s.name),
            );
            return;
        };
        if cx.unsigned(w, 1, 86400).is_some() {
            s.other.push(raw(l));
        }
    })
        .tier(Tier::T3)
        .not_acted("no extra GARPs are sent on other interfaces"),
    KI::set("vmac_garp_intvl", "[all] SECS", |s, cx, l| {
        let i = if l.words.get(1).is_some_and(|w| w.text == "all") { 2 } else { 1 };
        let Some(w) = l.words.get(i) else {
            cx.general(
                l.span,
                format!("({}): vmac_garp_intvl specified without time - ignoring", s.name),
            );
            return;
        };
        if cx.unsigned(w, 1, 86400).is_some() {
            s.other.push(raw(l));
        }
    })
        .tier(Tier::T3)
        .old("garp_extra_if", Some(ErrClass::Deprecated))
        .not_acted("no extra GARPs are sent on other interfaces"),
    KI::set("lower_prio_no_advert", "[BOOL]", |s, cx, l| {
        let n = s.name.clone();
        if let Some(b) = inst_flag(cx, l, &n) {
            s.lower_prio_no_advert = Some(b);
        }
    })
    .tier(Tier::T3),
    KI::set("higher_prio_send_advert", "[BOOL]", |s, cx, l| {
        let n = s.name.clone();
        if let Some(b) = inst_flag(cx, l, &n) {
            s.higher_prio_send_advert = Some(b);
        }
    })
    .tier(Tier::T3),
    KI::set("kernel_rx_buf_size", "BYTES", |s, cx, l| {
        let ok = l
            .words
            .get(1)
            .is_some_and(|w| crate::keywords::strtoul(&w.text, 0).is_ok_and(|v| v > 0));
        if !ok {
            cx.general(
                l.span,
                format!("({}) invalid kernel_rx_buf_size specified", s.name),
            );
            return;
        }
        s.other.push(raw(l));
    })
    .tier(Tier::T3)
    .not_acted("socket buffer sizes are not changed"),
]);

/// `authentication { … }`.
#[derive(Default)]
pub struct AuthB {
    auth_type: Option<AuthTypeCfg>,
    auth_pass: Option<Vec<u8>>,
}

impl Block for AuthB {
    const NAME: &'static str = "authentication";
    fn table() -> &'static Table<Self> {
        &AUTH
    }
}

type KA = Kw<AuthB>;

static AUTH: Table<AuthB> = Table::new(&[
    KA::set("auth_type", "PASS|AH", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match w.text.as_str() {
            "PASS" => s.auth_type = Some(AuthTypeCfg::Pass),
            "AH" => s.auth_type = Some(AuthTypeCfg::Ah),
            other => {
                let d = crate::diag::Diagnostic::error(
                    ErrClass::GeneralError,
                    Some(w.span),
                    format!("(authentication) unknown authentication type '{other}'"),
                )
                .with_hint("auth_type is PASS or AH (case-sensitive)");
                cx.diags.push(d);
            }
        }
    }),
    KA::set("auth_pass", "STRING (≤8)", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let mut b = w.text.as_bytes().to_vec();
        if b.len() > 8 {
            cx.general(w.span, "Truncating auth_pass to 8 characters");
            b.truncate(8);
        }
        s.auth_pass = Some(b);
    }),
]);

// ------------------------------------------------------------- addresses

/// Parse an address entry (reference 2.4, vrrp_ipaddress.c
/// `alloc_ipaddress`). `static_addr` enables `track_group` and disables
/// `use_vmac`.
pub fn parse_address(cx: &mut Cx, l: &LogicalLine, static_addr: bool) -> Option<VipCfg> {
    let w = l.words.first()?;
    let (addr, prefix) = parse_prefix(cx, w)?;
    let mut v = VipCfg {
        addr,
        prefix,
        dev: None,
        label: None,
        broadcast: None,
        scope: None,
        peer: None,
        flags: Vec::new(),
        preferred_lft: None,
        no_track: false,
        use_vmac: false,
        track_group: None,
        span: w.span,
    };
    let mut brd_mode: Option<char> = None;
    let mut i = 1;
    while let Some(o) = l.words.get(i) {
        let p = l.words.get(i + 1);
        let needs = matches!(
            o.text.as_str(),
            "dev" | "scope" | "broadcast" | "brd" | "label" | "peer" | "preferred_lft"
        ) || (static_addr && o.text == "track_group");
        if needs && p.is_none() {
            cx.general(
                o.span,
                format!("No {} parameter specified for {}", o.text, w.text),
            );
            return None;
        }
        let pv = p.map(|x| x.text.as_str()).unwrap_or("");
        match o.text.as_str() {
            "dev" => {
                if v.dev.is_some() {
                    cx.general(
                        o.span,
                        format!(
                            "Cannot specify ipaddress device more than once for {}",
                            w.text
                        ),
                    );
                } else {
                    if !interface_exists(cx, pv) {
                        cx.general(
                            o.span,
                            format!(
                                "WARNING - interface {pv} for ip address {} doesn't exist",
                                w.text
                            ),
                        );
                    }
                    v.dev = Some(pv.to_string());
                }
                i += 2;
            }
            "scope" => {
                v.scope = match pv {
                    "global" => Some(AddrScopeCfg::Global),
                    "site" => Some(AddrScopeCfg::Site),
                    "link" => Some(AddrScopeCfg::Link),
                    "host" => Some(AddrScopeCfg::Host),
                    "nowhere" => Some(AddrScopeCfg::Nowhere),
                    _ => {
                        if let Some(n) = p {
                            cx.general(
                                n.span,
                                format!("Invalid scope '{pv}' specified for {} - ignoring", w.text),
                            );
                        }
                        v.scope
                    }
                };
                i += 2;
            }
            "broadcast" | "brd" => {
                if addr.is_ipv6() {
                    cx.general(
                        o.span,
                        format!(
                            "VRRP is trying to assign a broadcast {pv} to the IPv6 address {} !!?? WTF... skipping VIP...",
                            w.text
                        ),
                    );
                    return None;
                }
                match pv {
                    "-" => brd_mode = Some('-'),
                    "+" => brd_mode = Some('+'),
                    _ => match pv.parse::<std::net::Ipv4Addr>() {
                        Ok(b) => v.broadcast = Some(IpAddr::V4(b)),
                        Err(_) => {
                            cx.general(
                                o.span,
                                format!(
                                    "VRRP is trying to assign invalid broadcast {pv}. skipping VIP..."
                                ),
                            );
                            return None;
                        }
                    },
                }
                i += 2;
            }
            "label" => {
                if pv.len() >= 16 {
                    cx.general(
                        o.span,
                        format!(
                            "Address label {pv} is longer than maximum length 15 - removing address"
                        ),
                    );
                    return None;
                }
                v.label = Some(pv.to_string());
                i += 2;
            }
            "peer" => {
                match parse_ip(pv.split('/').next().unwrap_or(pv)) {
                    None => cx.general(o.span, format!("Invalid peer address {pv}")),
                    Some(a) if a.is_ipv6() != addr.is_ipv6() => cx.general(
                        o.span,
                        format!("Peer address {pv} does not match address family"),
                    ),
                    Some(a) => {
                        if v.peer.is_some() {
                            cx.general(
                                o.span,
                                format!("Peer {pv} - another peer has already been specified"),
                            );
                        } else {
                            v.peer = Some(a);
                        }
                    }
                }
                i += 2;
            }
            "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" => {
                v.flags.push(o.text.to_string());
                i += 1;
            }
            "no_track" => {
                v.no_track = true;
                i += 1;
            }
            "preferred_lft" => {
                if pv == "forever" {
                    v.preferred_lft = Some(u32::MAX);
                } else if let Some(n) = p.and_then(|n| cx.unsigned(n, 0, u32::MAX)) {
                    v.preferred_lft = Some(n);
                } else if let Some(n) = p {
                    cx.general(n.span, format!("preferred_lft {pv} is invalid"));
                }
                i += 2;
            }
            "track_group" if static_addr => {
                if v.track_group.is_some() {
                    cx.general(o.span, format!("track_group {pv} is a duplicate"));
                } else if !cx.is_defined(K_TRACK_GROUP, pv) {
                    cx.general(o.span, format!("track_group {pv} not found"));
                } else {
                    v.track_group = Some(pv.to_string());
                }
                i += 2;
            }
            "use_vmac" if !static_addr => {
                v.use_vmac = true;
                i += 1;
            }
            other => {
                let mut d = crate::diag::Diagnostic::error(
                    ErrClass::GeneralError,
                    Some(o.span),
                    format!("Unknown configuration entry '{other}' for ip address - ignoring"),
                );
                if let Some(m) = crate::keywords::suggest(other, ADDRESS_OPTIONS.iter().copied()) {
                    d = d.with_hint(format!("did you mean `{m}`?"));
                }
                cx.diags.push(d);
                i += 1;
            }
        }
    }
    if let (Some(_), Some(_)) = (v.broadcast, v.peer) {
        cx.general(
            w.span,
            "Cannot specify broadcast and peer addresses - ignoring broadcast address",
        );
        v.broadcast = None;
    }
    if let (Some(m), IpAddr::V4(a4)) = (brd_mode, addr) {
        if v.prefix <= 30 {
            let mask: u32 = if v.prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(v.prefix))
            };
            let base = u32::from(a4);
            let b = if m == '+' { base | !mask } else { base & mask };
            v.broadcast = Some(IpAddr::V4(b.into()));
        } else {
            cx.general(
                w.span,
                format!("Address prefix length {} too long for broadcast", v.prefix),
            );
        }
    }
    if addr.is_ipv6() {
        if v.scope.take().is_some() {
            cx.general(
                w.span,
                format!(
                    "Cannot specify scope for IPv6 addresses ({}) - ignoring scope",
                    w.text
                ),
            );
        }
        if v.label.take().is_some() {
            cx.general(
                w.span,
                format!(
                    "Cannot specify label for IPv6 addresses ({}) - ignoring label",
                    w.text
                ),
            );
        }
    }
    if v.use_vmac && v.dev.is_none() {
        cx.general(w.span, "use_vmac for a address requires an interface");
        v.use_vmac = false;
    }
    Some(v)
}

/// The options of an address entry, for did-you-mean hints.
const ADDRESS_OPTIONS: &[&str] = &[
    "dev",
    "scope",
    "broadcast",
    "brd",
    "label",
    "peer",
    "home",
    "-nodad",
    "mngtmpaddr",
    "noprefixroute",
    "autojoin",
    "no_track",
    "preferred_lft",
    "track_group",
    "use_vmac",
];

/// `IP[/LEN]` as keepalived's `parse_ipaddress`: the family is IPv6 when
/// the text has a ':'; a bad prefix falls back to the full length.
fn parse_prefix(cx: &mut Cx, w: &Word) -> Option<(IpAddr, u8)> {
    let text = w.text.as_str();
    let v6 = text.contains(':');
    let full: u8 = if v6 { 128 } else { 32 };
    let (a, p) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let mut prefix = full;
    if let Some(p) = p {
        match crate::keywords::strtoul(p, 10) {
            Ok(n) if !p.is_empty() && n <= u64::from(full) => {
                prefix = u8::try_from(n).unwrap_or(full)
            }
            _ => cx.general(
                w.span,
                format!("Invalid address prefix len {p} for address {text} - using {full}"),
            ),
        }
    }
    let parsed = if v6 {
        a.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    };
    match parsed {
        Some(addr) => Some((addr, prefix)),
        None => {
            cx.general(
                w.span,
                format!("VRRP parsed invalid IP {text}. skipping IP..."),
            );
            None
        }
    }
}

// ---------------------------------------------------------- routes, rules

/// Route options that take one value (iproute2 names, vrrp_iproute.c).
const ROUTE_VALUE_OPTS: &[&str] = &[
    "src",
    "via",
    "gw",
    "or",
    "dev",
    "table",
    "metric",
    "priority",
    "preference",
    "scope",
    "protocol",
    "tos",
    "dsfield",
    "realms",
    "mtu",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "ssthresh",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "hoplimit",
    "features",
    "congctl",
    "expires",
    "pref",
    "vrf",
    "track_group",
    "quickack",
    "fastopen_no_cookie",
    "to",
];
/// Route flags without a value.
const ROUTE_FLAGS: &[&str] = &[
    "onlink",
    "no_track",
    "inet6",
    "ttl-propagate",
    "add",
    "append",
    "prepend",
    "lock",
];
const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
];

fn prefix_or_default(w: &str) -> Option<Option<(IpAddr, u8)>> {
    if w == "default" || w == "default6" || w == "any" || w == "all" {
        return Some(None);
    }
    let (a, p) = match w.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (w, None),
    };
    let addr = parse_ip(a)?;
    let full = if addr.is_ipv6() { 128 } else { 32 };
    let prefix = match p {
        Some(p) => p.parse::<u8>().ok().filter(|&n| n <= full)?,
        None => full,
    };
    Some(Some((addr, prefix)))
}

/// A route entry (reference 2.5): the common attributes typed, the others
/// checked for a value and kept as written.
pub fn parse_route(cx: &mut Cx, l: &LogicalLine, static_route: bool) -> Option<RouteCfg> {
    let first = l.words.first()?;
    let mut r = RouteCfg {
        dst: None,
        ipv6: false,
        src: None,
        via: None,
        dev: None,
        table: None,
        metric: None,
        route_type: None,
        no_track: false,
        track_group: None,
        options: Vec::new(),
        span: l.span,
    };
    let mut have_dst = false;
    let mut i = 0;
    while let Some(w) = l.words.get(i) {
        let t = w.text.as_str();
        if ROUTE_TYPES.contains(&t) && !have_dst {
            r.route_type = Some(t.to_string());
            i += 1;
            continue;
        }
        if t == "nexthop" || t == "encap" {
            // Multipath and encapsulation: kept as written to the end.
            r.options
                .extend(l.words[i..].iter().map(|x| x.text.to_string()));
            break;
        }
        if ROUTE_FLAGS.contains(&t) {
            match t {
                "no_track" => r.no_track = true,
                "inet6" => r.ipv6 = true,
                _ => r.options.push(t.to_string()),
            }
            i += 1;
            continue;
        }
        if ROUTE_VALUE_OPTS.contains(&t) {
            let Some(v) = l.words.get(i + 1) else {
                // vrrp_iproute.c reads the value with strvec_slot: a
                // missing one stops keepalived (observed: status 2).
                cx.missing_param(l, i + 1);
                return None;
            };
            match t {
                "to" => {
                    match prefix_or_default(&v.text) {
                        Some(d) => r.dst = d,
                        None => {
                            cx.general(v.span, format!("Invalid route destination {}", v.text));
                            return None;
                        }
                    }
                    have_dst = true;
                }
                "src" => {
                    r.src = cx.ip(v, |x| format!("Invalid route source {x}"));
                }
                "via" | "gw" | "or" => {
                    if t != "via" {
                        cx.info(
                            w.span,
                            format!("\"{t}\" for routes is deprecated - please use \"via\""),
                        );
                    }
                    r.via = cx.ip(v, |x| format!("Invalid route gateway {x}"));
                }
                "dev" => {
                    if !interface_exists(cx, &v.text) {
                        cx.general(
                            v.span,
                            format!("WARNING - interface {} for route doesn't exist", v.text),
                        );
                    }
                    r.dev = Some(v.text.to_string());
                }
                "table" => r.table = Some(v.text.to_string()),
                "metric" | "priority" | "preference" => {
                    r.metric = cx.unsigned(v, 0, u32::MAX);
                }
                "track_group" if static_route => {
                    if cx.is_defined(K_TRACK_GROUP, &v.text) {
                        r.track_group = Some(v.text.to_string());
                    } else {
                        cx.general(v.span, format!("track_group {} not found", v.text));
                    }
                }
                _ => {
                    r.options.push(t.to_string());
                    r.options.push(v.text.to_string());
                }
            }
            i += 2;
            continue;
        }
        if !have_dst {
            match prefix_or_default(t) {
                Some(d) => {
                    r.dst = d;
                    have_dst = true;
                    i += 1;
                    continue;
                }
                None => {
                    cx.general(w.span, format!("Invalid route destination {t}"));
                    return None;
                }
            }
        }
        cx.general(w.span, format!("Unknown route option {t}"));
        i += 1;
    }
    if !have_dst {
        cx.general(first.span, "Route must have a destination");
        return None;
    }
    if !r.no_track && r.dev.is_none() {
        // vrrp_iproute.c: only routes with an interface can be tracked.
        let dest = match r.dst {
            Some((a, p)) => format!("{a}/{p}"),
            None => "default".to_string(),
        };
        cx.general(
            l.span,
            format!(
                "Warning - cannot track route {dest} with no interface specified, not tracking"
            ),
        );
        r.no_track = true;
    }
    if let Some((a, _)) = r.dst {
        r.ipv6 = a.is_ipv6();
    } else if let Some(v) = r.via {
        r.ipv6 = r.ipv6 || v.is_ipv6();
    }
    let _ = first;
    Some(r)
}

const RULE_VALUE_OPTS: &[&str] = &[
    "from",
    "to",
    "table",
    "lookup",
    "preference",
    "priority",
    "order",
    "iif",
    "oif",
    "fwmark",
    "tos",
    "dsfield",
    "realms",
    "goto",
    "uidrange",
    "sport",
    "dport",
    "ipproto",
    "protocol",
    "suppress_prefixlength",
    "sup_pl",
    "suppress_ifgroup",
    "sup_group",
    "tunnel-id",
    "type",
    "track_group",
];
const RULE_FLAGS: &[&str] = &["nop", "l3mdev", "inet6", "no_track", "not"];

/// A rule entry (reference 2.5).
pub fn parse_rule(cx: &mut Cx, l: &LogicalLine, static_rule: bool) -> Option<RuleCfg> {
    let mut r = RuleCfg {
        from: None,
        to: None,
        ipv6: false,
        table: None,
        preference: None,
        no_track: false,
        track_group: None,
        options: Vec::new(),
        span: l.span,
    };
    let mut i = 0;
    while let Some(w) = l.words.get(i) {
        let t = w.text.as_str();
        if RULE_FLAGS.contains(&t) {
            match t {
                "no_track" => r.no_track = true,
                "inet6" => r.ipv6 = true,
                _ => r.options.push(t.to_string()),
            }
            i += 1;
            continue;
        }
        if !RULE_VALUE_OPTS.contains(&t) {
            cx.general(w.span, format!("Unknown rule option {t}"));
            i += 1;
            continue;
        }
        let Some(v) = l.words.get(i + 1) else {
            cx.missing_param(l, i + 1);
            return None;
        };
        match t {
            "from" | "to" => match prefix_or_default(&v.text) {
                Some(p) => {
                    if let Some((a, _)) = p {
                        r.ipv6 = a.is_ipv6();
                    }
                    if t == "from" {
                        r.from = p;
                    } else {
                        r.to = p;
                    }
                }
                None => {
                    cx.general(v.span, format!("Invalid rule {t} address {}", v.text));
                    return None;
                }
            },
            "table" | "lookup" => r.table = Some(v.text.to_string()),
            "preference" | "priority" | "order" => {
                r.preference = cx.unsigned(v, 0, u32::MAX);
            }
            "track_group" if static_rule => {
                if cx.is_defined(K_TRACK_GROUP, &v.text) {
                    r.track_group = Some(v.text.to_string());
                } else {
                    cx.general(v.span, format!("track_group {} not found", v.text));
                }
            }
            _ => {
                r.options.push(t.to_string());
                r.options.push(v.text.to_string());
            }
        }
        i += 2;
    }
    if r.preference.is_none() {
        // vrrp_iprule.c: automatic priorities count down from 16384 per
        // family (observed with keepalived 2.2.7 -t, rc 5).
        let n = cx.next_count(if r.ipv6 { "rule_prio6" } else { "rule_prio4" });
        let prio = 16384u32.saturating_sub(n);
        cx.general(
            l.span,
            format!(
                "Rule has no preference specified - setting to {prio}. This is probably not what you want."
            ),
        );
        r.preference = Some(prio);
    }
    Some(r)
}

// ----------------------------------------------------- top-level entries

pub fn static_ipaddress_entry(s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) {
    if let Some(mut v) = parse_address(cx, l, true) {
        if v.dev.is_none() {
            let def = s
                .model
                .global
                .default_interface
                .clone()
                .unwrap_or_else(|| "eth0".to_string());
            let exists = cx.opts.interfaces.as_ref().is_none_or(|i| i.contains(&def));
            if !exists {
                cx.error(
                    ErrClass::Fatal,
                    Some(v.span),
                    format!(
                        "Static address {} requires either an interface or default interface must exist",
                        l.keyword()
                    ),
                );
                return;
            }
            v.dev = Some(def);
        }
        s.model.static_addresses.push(v);
    }
}

pub fn static_route_entry(s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) {
    if let Some(r) = parse_route(cx, l, true) {
        if r.track_group.is_some() && r.dev.is_none() {
            cx.general(
                l.span,
                "Static route cannot have track_group if interface not specified",
            );
        }
        s.model.static_routes.push(r);
    }
}

pub fn static_rule_entry(s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) {
    if let Some(r) = parse_rule(cx, l, true) {
        s.model.static_rules.push(r);
    }
}

pub fn linkbeat_entry(s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) {
    let Some(w) = l.words.first() else { return };
    if cx
        .opts
        .interfaces
        .as_ref()
        .is_some_and(|i| !i.contains(w.text.as_str()))
    {
        cx.error(
            ErrClass::Fatal,
            Some(w.span),
            format!(
                "unknown interface {} specified for linkbeat interface",
                w.text
            ),
        );
        return;
    }
    let method = l.words.get(1).map(|m| m.text.to_string());
    if let Some(m) = l.words.get(1) {
        if !matches!(m.text.as_str(), "MII" | "ETHTOOL" | "IOCTL") {
            cx.general(
                m.span,
                format!("extra characters {} in linkbeat interface", m.text),
            );
        }
    }
    s.model.linkbeat_interfaces.push(LinkbeatIfCfg {
        interface: w.text.to_string(),
        method,
        span: l.span,
    });
}

pub fn up_down_delay_entry(s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) {
    let Some(w) = l.words.first() else { return };
    if cx
        .opts
        .interfaces
        .as_ref()
        .is_some_and(|i| !i.contains(w.text.as_str()))
    {
        cx.error(
            ErrClass::Fatal,
            Some(w.span),
            format!("unknown interface {} specified for up/down delay", w.text),
        );
        return;
    }
    let Some(d) = cx.arg(l, 1) else { return };
    let Some(down) = cx.unsigned(d, 0, 255) else {
        return;
    };
    let up = match l.words.get(2) {
        Some(u) => match cx.unsigned(u, 0, 255) {
            Some(v) => v,
            None => return,
        },
        None => down,
    };
    s.model.interface_up_down_delays.push(UpDownDelayCfg {
        interface: w.text.to_string(),
        down_delay: Duration::from_secs(u64::from(down)),
        up_delay: Duration::from_secs(u64::from(up)),
        span: l.span,
    });
}

// ----------------------------------------------------------- vrrp_script

/// `vrrp_script NAME { … }` state.
pub struct ScriptB {
    cfg: VrrpScriptCfg,
    timeout_set: bool,
}

impl Block for ScriptB {
    const NAME: &'static str = "vrrp_script";
    fn table() -> &'static Table<Self> {
        &SCRIPT
    }
}

pub fn open_script(_s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let Some(w) = cx.arg(l, 1) else {
        return cx.skip_block();
    };
    let cfg = VrrpScriptCfg {
        name: w.text.to_string(),
        script: None,
        interval: Duration::from_secs(1),
        timeout: Duration::ZERO,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        user: None,
        group: None,
        init_fail: false,
        span: l.span,
    };
    cx.open(
        ScriptB {
            cfg,
            timeout_set: false,
        },
        |p: &mut ConfB, mut c: ScriptB, cx: &mut Cx| {
            // vrrp_vscript_end_handler: a script without `script` is removed.
            if c.cfg.script.is_none() {
                cx.general(
                    c.cfg.span,
                    format!("No script set for vrrp_script {} - removing", c.cfg.name),
                );
                return;
            }
            if !c.timeout_set {
                c.cfg.timeout = c.cfg.interval;
            }
            // vrrp_vscript_end_handler / get_default_script_user: with
            // script security on and no user given, the default user
            // keepalived_script must exist, else the script is removed.
            if c.cfg.user.is_none()
                && !cx.is_defined("script_user", "")
                && cx.is_defined("script_security", "")
                && cx.opts.check_scripts
                && !crate::user_exists("keepalived_script")
            {
                if cx.define("!default_user_failed", "") {
                    cx.general(
                        c.cfg.span,
                        "Unable to set default user keepalived_script for script",
                    );
                }
                let d = crate::diag::Diagnostic::error(
                    ErrClass::GeneralError,
                    Some(c.cfg.span),
                    format!("Unable to set default user for vrrp script {} - removing", c.cfg.name),
                )
                .with_hint("set `script_user` in global_defs or `user` in the vrrp_script, or create the keepalived_script user");
                cx.diags.push(d);
                return;
            }
            cx.define(K_SCRIPT, &c.cfg.name);
            p.vrrp.scripts.push(c.cfg);
        },
    )
}

type KS = Kw<ScriptB>;

static SCRIPT: Table<ScriptB> = Table::new(&[
    KS::set("script", "CMD", |s, cx, l| {
        // vrrp_vscript_script_handler: the quoted command is word 1 of the
        // re-split raw line; words after it are ignored.
        // Without a command nothing is set ("No script set" follows).
        // keepalived 2.2.7's handler splits the raw line with
        // alloc_strvec_quoted_escaped whatever the word split made of it:
        // an unterminated quote (`script "/bin/true`, whose word split
        // stopped at the quote) is reported there ("String '...': missing
        // terminating \"", CONFIG_UNMATCHED_QUOTE) and gives no script.
        // (2.2.7 then passes the failed split on and dies of SIGSEGV; the
        // end handler would say "No script set", as we do.)
        if l.words.len() < 2 {
            if let Err(e) = crate::shell::split(&l.raw) {
                crate::global::report_shell_error(cx, &e, l.span);
            }
            return;
        }
        if let Some(mut c) = script_at(cx, l, 1) {
            c.user = None;
            c.group = None;
            s.cfg.script = Some(c);
        }
    })
    .tier(Tier::T1),
    KS::set("interval", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 0, u32::MAX / 1_000_000) {
            let v = if v == 0 {
                cx.general(
                    w.span,
                    format!(
                        "({}): vrrp script interval must be greater than 0, setting to 1",
                        s.cfg.name
                    ),
                );
                1
            } else {
                v
            };
            s.cfg.interval = Duration::from_secs(u64::from(v));
        }
    })
    .tier(Tier::T1),
    KS::set("timeout", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 0, u32::MAX / 1_000_000) {
            let v = if v == 0 {
                cx.general(
                    w.span,
                    format!(
                        "({}): vrrp script timeout must be greater than 0, setting to 1",
                        s.cfg.name
                    ),
                );
                1
            } else {
                v
            };
            s.cfg.timeout = Duration::from_secs(u64::from(v));
            s.timeout_set = true;
        }
    }),
    KS::set("weight", "<-253..253> [reverse]", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        s.cfg.weight = cx.int(w, -253, 253).unwrap_or(0);
        if let Some(r) = l.words.get(2) {
            if r.text == "reverse" {
                s.cfg.weight_reverse = true;
            } else {
                cx.general(
                    r.span,
                    format!(
                        "vrrp_script {} unknown weight option {}",
                        s.cfg.name, r.text
                    ),
                );
            }
        }
    }),
    KS::set("rise", "N", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.unsigned(w, 1, i32::MAX as u32) {
            Some(v) => s.cfg.rise = v,
            None => s.cfg.rise = 1,
        }
    }),
    KS::set("fall", "N", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.unsigned(w, 1, i32::MAX as u32) {
            Some(v) => s.cfg.fall = v,
            None => s.cfg.fall = 1,
        }
    }),
    KS::set("user", "USER [[:]GROUP]", |s, cx, l| {
        if cx.arg(l, 1).is_none() {
            return;
        }
        let (u, g) = user_group(l, 1);
        s.cfg.user = u;
        s.cfg.group = g;
    }),
    KS::set("init_fail", "", |s, _cx, _l| s.cfg.init_fail = true).tier(Tier::T3),
]);

// ------------------------------------------------------- vrrp_sync_group

pub struct SyncB(SyncGroupCfg);

impl Block for SyncB {
    const NAME: &'static str = "vrrp_sync_group";
    fn table() -> &'static Table<Self> {
        &SYNC
    }
}

pub fn open_sync_group(_s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let Some(w) = block_name(cx, l, false, "vrrp_sync_group must have a name - skipping") else {
        return cx.skip_block();
    };
    if !cx.define(K_SYNC_GROUP, &w.text) {
        cx.general(
            w.span,
            format!("vrrp sync group {} already defined", w.text),
        );
        return cx.skip_block();
    }
    let g = SyncGroupCfg {
        name: w.text.to_string(),
        group: Vec::new(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_files: Vec::new(),
        track_processes: Vec::new(),
        track_bfds: Vec::new(),
        notify: NotifyCfg::default(),
        smtp_alert: None,
        notify_priority_changes: None,
        sync_group_tracking_weight: false,
        span: l.span,
    };
    cx.open(SyncB(g), |p: &mut ConfB, c: SyncB, _cx| {
        p.vrrp.sync_groups.push(c.0)
    })
}

type KY = Kw<SyncB>;

static SYNC: Table<SyncB> = Table::new(&[
    KY::values("group", "{ INSTANCE … }", |s, cx, l| {
        // Each word of each line is an instance name.
        let _ = cx;
        for w in &l.words {
            s.0.group.push(w.text.to_string());
        }
    }),
    KY::values("track_interface", "{ IF … }", |s, cx, l| {
        let n = s.0.name.clone();
        track_if_entry(cx, &mut s.0.track_interfaces, &n, l);
    })
    .tier(Tier::T3)
    ,
    KY::values("track_script", "{ NAME … }", |s, cx, l| {
        let n = s.0.name.clone();
        add_track(cx, &mut s.0.track_scripts, &n, K_SCRIPT, "track script", l, (-254, 254));
    })
    .tier(Tier::T3)
    ,
    KY::values("track_file", "{ NAME … }", |s, cx, l| {
        let n = s.0.name.clone();
        add_track(cx, &mut s.0.track_files, &n, K_TRACK_FILE, "track file", l, (-254, 254));
    })
    .tier(Tier::T3),
    KY::values("track_process", "{ NAME … }", |s, cx, l| {
        let n = s.0.name.clone();
        add_track(cx, &mut s.0.track_processes, &n, K_PROCESS, "track process", l, (-254, 254));
    })
    .tier(Tier::T3)
    .not_acted("processes are not monitored; the tracker stays up"),
    KY::values("track_bfd", "{ NAME … }", |s, cx, l| {
        let n = s.0.name.clone();
        add_track(cx, &mut s.0.track_bfds, &n, K_BFD, "track bfd", l, (-253, 253));
    })
    .tier(Tier::T3)
    .not_acted("no BFD sessions are run; the tracker stays up"),
    KY::set("notify_master", "CMD", |s, cx, l| {
        let n = format!("vrrp group {}:", s.0.name);
        group_notify(cx, &mut s.0.notify.master, &n, l);
    }),
    KY::set("notify_backup", "CMD", |s, cx, l| {
        let n = format!("vrrp group {}:", s.0.name);
        group_notify(cx, &mut s.0.notify.backup, &n, l);
    }),
    KY::set("notify_fault", "CMD", |s, cx, l| {
        let n = format!("vrrp group {}:", s.0.name);
        group_notify(cx, &mut s.0.notify.fault, &n, l);
    }),
    KY::set("notify_stop", "CMD", |s, cx, l| {
        let n = format!("vrrp group {}:", s.0.name);
        group_notify(cx, &mut s.0.notify.stop, &n, l);
    }),
    KY::set("notify", "CMD", |s, cx, l| {
        let n = format!("vrrp group {}:", s.0.name);
        group_notify(cx, &mut s.0.notify.generic, &n, l);
    }),
    KY::set("smtp_alert", "[BOOL]", |s, cx, l| match l.words.get(1) {
        None => s.0.smtp_alert = Some(true),
        Some(w) => match crate::keywords::true_false(&w.text) {
            Some(b) => s.0.smtp_alert = Some(b),
            None => cx.general(
                w.span,
                format!("Invalid vrrp_group smtp_alert parameter {}", w.text),
            ),
        },
    })
    .tier(Tier::T3)
    .not_acted("no e-mail is sent"),
    KY::set("global_tracking", "", |s, cx, l| {
        cx.general(
            l.span,
            format!(
                "({}) global_tracking is deprecated. Use track_interface/script/file on the sync group",
                s.0.name
            ),
        );
        s.0.sync_group_tracking_weight = true;
    })
    .tier(Tier::T3),
    KY::set("sync_group_tracking_weight", "", |s, _cx, _l| {
        s.0.sync_group_tracking_weight = true
    })
    .tier(Tier::T3),
    KY::set("notify_priority_changes", "BOOL", |s, cx, l| match l.words.get(1) {
        None => s.0.notify_priority_changes = Some(true),
        Some(w) => match crate::keywords::true_false(&w.text) {
            Some(b) => s.0.notify_priority_changes = Some(b),
            None => cx.general(
                w.span,
                format!(
                    "({}) Invalid value '{}' for sync group notify_priority_changes specified",
                    s.0.name, w.text
                ),
            ),
        },
    })
    .tier(Tier::T3)
    .not_acted("priority changes are not written to a FIFO"),
]);

fn group_notify(cx: &mut Cx, slot: &mut Option<ScriptCfg>, owner: &str, l: &LogicalLine) {
    if slot.is_some() {
        let arg = l.words.get(1).map(|w| w.text.as_str()).unwrap_or("");
        cx.general(
            l.span,
            format!(
                "{owner} {} script already specified - ignoring {arg}",
                l.keyword()
            ),
        );
        return;
    }
    *slot = script_at(cx, l, 1);
}

// ------------------------------------------------------------ track_file

pub struct TrackFileB(TrackFileCfg);

impl Block for TrackFileB {
    const NAME: &'static str = "track_file";
    fn table() -> &'static Table<Self> {
        &TRACK_FILE
    }
}

pub fn open_track_file(_s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let Some(w) = cx.arg(l, 1) else {
        return cx.skip_block();
    };
    if cx.is_defined(K_TRACK_FILE, &w.text) {
        cx.general(w.span, format!("track_file {} already defined", w.text));
        return cx.skip_block();
    }
    let t = TrackFileCfg {
        name: w.text.to_string(),
        file: None,
        weight: 1,
        weight_reverse: false,
        init_file: None,
        span: l.span,
    };
    cx.open(
        TrackFileB(t),
        |p: &mut ConfB, c: TrackFileB, cx: &mut Cx| {
            if c.0.file.is_none() {
                cx.general(
                    c.0.span,
                    format!("No file set for track_file {} - removing", c.0.name),
                );
                return;
            }
            cx.define(K_TRACK_FILE, &c.0.name);
            p.vrrp.track_files.push(c.0);
        },
    )
}

type KF = Kw<TrackFileB>;

static TRACK_FILE: Table<TrackFileB> = Table::new(&[
    KF::set("file", "PATH", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "track file file name missing");
            return;
        };
        if s.0.file.is_some() {
            cx.general(
                w.span,
                format!(
                    "File already set for track file {} - ignoring {}",
                    s.0.name, w.text
                ),
            );
            return;
        }
        s.0.file = Some(w.text.to_string());
    }),
    KF::set("weight", "<-254..254> [reverse]", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(
                l.span,
                format!("No weight specified for track file {} - ignoring", s.0.name),
            );
            return;
        };
        if let Some(v) = cx.int(w, -254, 254) {
            s.0.weight = v;
        }
        if let Some(r) = l.words.get(2) {
            if r.text == "reverse" {
                s.0.weight_reverse = true;
            } else {
                cx.general(
                    r.span,
                    format!("track_file {} unknown weight option {}", s.0.name, r.text),
                );
            }
        }
    }),
    KF::set("init_file", "[VALUE] [overwrite]", |s, cx, l| {
        let mut value = 0i64;
        let mut overwrite = false;
        for w in l.words.iter().skip(1) {
            if w.text == "overwrite" {
                overwrite = true;
            } else if let Some(v) = cx.int(w, i32::MIN, i32::MAX) {
                value = i64::from(v);
            }
        }
        s.0.init_file = Some((value, overwrite));
    }),
]);

// ---------------------------------------------------- vrrp_track_process

pub struct ProcessB(TrackProcessCfg);

impl Block for ProcessB {
    const NAME: &'static str = "vrrp_track_process";
    fn table() -> &'static Table<Self> {
        &PROCESS
    }
}

pub fn open_track_process(_s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let Some(w) = cx.arg(l, 1) else {
        return cx.skip_block();
    };
    let t = TrackProcessCfg {
        name: w.text.to_string(),
        process: None,
        args: None,
        param_match: None,
        weight: 0,
        weight_reverse: false,
        quorum: 1,
        quorum_max: u32::MAX,
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::ZERO,
        full_command: false,
        span: l.span,
    };
    cx.open(ProcessB(t), |p: &mut ConfB, c: ProcessB, cx: &mut Cx| {
        if c.0.process.is_none() {
            cx.general(
                c.0.span,
                format!("track process '{}' process name not specified", c.0.name),
            );
            return;
        }
        cx.define(K_PROCESS, &c.0.name);
        p.vrrp.track_processes.push(c.0);
    })
}

type KP = Kw<ProcessB>;

static PROCESS: Table<ProcessB> = Table::new(&[
    KP::set("process", "NAME [ARGS…]", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if s.0.process.is_some() {
            cx.general(
                w.span,
                format!("Process already set for track process {}", s.0.name),
            );
            return;
        }
        s.0.process = Some(w.text.to_string());
        if l.words.len() > 2 {
            let args: Vec<&str> = l.words[2..].iter().map(|x| x.text.as_str()).collect();
            s.0.args = Some(args.join(" "));
        }
    }),
    KP::set("param_match", "initial|partial", |s, cx, l| {
        // Without a value keepalived keeps the exact match.
        let Some(w) = l.words.get(1) else { return };
        match w.text.as_str() {
            "initial" | "partial" => s.0.param_match = Some(w.text.to_string()),
            _ => cx.general(
                w.span,
                format!("Invalid param_match type {} - ignoring", w.text),
            ),
        }
    }),
    KP::set("weight", "<-254..254> [reverse]", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(
                l.span,
                format!(
                    "No weight specified for track process {} - ignoring",
                    s.0.name
                ),
            );
            return;
        };
        if let Some(v) = cx.int(w, -254, 254) {
            s.0.weight = v;
        }
        if let Some(r) = l.words.get(2) {
            if r.text == "reverse" {
                s.0.weight_reverse = true;
            } else {
                cx.general(
                    r.span,
                    format!(
                        "vrrp_track_process {} unknown weight option {}",
                        s.0.name, r.text
                    ),
                );
            }
        }
    }),
    KP::set("quorum", "N", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 1, 65535) {
            if v > s.0.quorum_max {
                cx.general(w.span, "Quorum is greater than quorum_max - ignoring");
                return;
            }
            s.0.quorum = v;
        }
    }),
    KP::set("quorum_max", "N", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 0, 65535) {
            if v < s.0.quorum {
                cx.general(w.span, "quorum_max is less than quorum - ignoring");
                return;
            }
            s.0.quorum_max = v;
        }
    }),
    KP::set("delay", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(d) = cx.timer(w, 0, 3_600_000_000) {
            s.0.fork_delay = d;
            s.0.terminate_delay = d;
        }
    }),
    KP::set("terminate_delay", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(d) = cx.timer(w, 0, 3_600_000_000) {
            s.0.terminate_delay = d;
        }
    }),
    KP::set("fork_delay", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(d) = cx.timer(w, 0, 3_600_000_000) {
            s.0.fork_delay = d;
        }
    }),
    KP::set("full_command", "", |s, _cx, _l| s.0.full_command = true),
]);

// ---------------------------------------------------------- bfd_instance

pub struct BfdB(BfdInstanceCfg);

impl Block for BfdB {
    const NAME: &'static str = "bfd_instance";
    fn table() -> &'static Table<Self> {
        &BFD
    }
}

pub fn open_bfd(_s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let Some(w) = cx.arg(l, 1) else {
        return cx.skip_block();
    };
    if w.text.len() >= 32 {
        cx.general(w.span, format!("BFD name {} too long", w.text));
        return cx.skip_block();
    }
    if !cx.define(K_BFD, &w.text) {
        cx.general(w.span, format!("BFD {} already specified", w.text));
        return cx.skip_block();
    }
    let b = BfdInstanceCfg {
        name: w.text.to_string(),
        options: Vec::new(),
        span: l.span,
    };
    cx.open(BfdB(b), |p: &mut ConfB, c: BfdB, _cx| p.vrrp.bfds.push(c.0))
}

fn bfd_keep(s: &mut BfdB, _cx: &mut Cx, l: &LogicalLine) {
    s.0.options.push(raw(l));
}

fn bfd_ip(s: &mut BfdB, cx: &mut Cx, l: &LogicalLine) {
    let Some(w) = cx.arg(l, 1) else { return };
    let kw = l.keyword().to_string();
    if cx
        .ip(w, |t| {
            format!("Configuration error: BFD instance has malformed {kw} address {t}")
        })
        .is_some()
    {
        bfd_keep(s, cx, l);
    }
}

fn bfd_uint(s: &mut BfdB, cx: &mut Cx, l: &LogicalLine, min: u32, max: u32) {
    let Some(w) = cx.arg(l, 1) else { return };
    if cx.unsigned(w, min, max).is_some() {
        bfd_keep(s, cx, l);
    }
}

type KB = Kw<BfdB>;

static BFD: Table<BfdB> = Table::new(&[
    KB::set("neighbor_ip", "IP", bfd_ip),
    KB::set("neighbour_ip", "IP", bfd_ip),
    KB::set("source_ip", "IP", bfd_ip),
    KB::set("min_rx", "MS", |s, cx, l| {
        bfd_uint(s, cx, l, 1, 1000 * 1000)
    }),
    KB::set("min_tx", "MS", |s, cx, l| {
        bfd_uint(s, cx, l, 1, 1000 * 1000)
    }),
    KB::set("idle_tx", "MS", |s, cx, l| {
        bfd_uint(s, cx, l, 1, 1000 * 1000)
    }),
    KB::set("multiplier", "N", |s, cx, l| bfd_uint(s, cx, l, 1, 255)),
    KB::set("passive", "", bfd_keep),
    KB::set("ttl", "N", |s, cx, l| bfd_uint(s, cx, l, 1, 255)),
    KB::set("hoplimit", "N", |s, cx, l| bfd_uint(s, cx, l, 1, 255)),
    KB::set("max_hops", "N", |s, cx, l| bfd_uint(s, cx, l, 0, 255)),
    KB::set("multihop", "[BOOL]", bfd_keep),
    KB::set("weight", "<-253..253> [reverse]", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if cx.int(w, -253, 253).is_some() {
            bfd_keep(s, cx, l);
        }
    }),
    KB::set("vrrp", "", bfd_keep),
    KB::set("checker", "", bfd_keep),
]);

// ----------------------------------------------------------- track_group

pub struct TrackGroupB(TrackGroupCfg);

impl Block for TrackGroupB {
    const NAME: &'static str = "track_group";
    fn table() -> &'static Table<Self> {
        &TRACK_GROUP
    }
}

pub fn open_track_group(_s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let Some(w) = block_name(cx, l, false, "track_group must have a name - skipping") else {
        return cx.skip_block();
    };
    if !cx.define(K_TRACK_GROUP, &w.text) {
        cx.general(w.span, format!("track_group {} already defined", w.text));
        return cx.skip_block();
    }
    let g = TrackGroupCfg {
        name: w.text.to_string(),
        group: Vec::new(),
        span: l.span,
    };
    cx.open(TrackGroupB(g), |p: &mut ConfB, c: TrackGroupB, _cx| {
        p.vrrp.track_groups.push(c.0)
    })
}

static TRACK_GROUP: Table<TrackGroupB> = Table::new(&[Kw::values(
    "group",
    "{ INSTANCE … }",
    |s: &mut TrackGroupB, _cx: &mut Cx, l: &LogicalLine| {
        for w in &l.words {
            s.0.group.push(w.text.to_string());
        }
    },
)]);

// ------------------------------------------------------------ garp_group

pub struct GarpGroupB(GarpGroupCfg);

impl Block for GarpGroupB {
    const NAME: &'static str = "garp_group";
    fn table() -> &'static Table<Self> {
        &GARP_GROUP
    }
}

pub fn open_garp_group(_s: &mut ConfB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let g = GarpGroupCfg {
        garp_interval: None,
        gna_interval: None,
        interfaces: Vec::new(),
        span: l.span,
    };
    cx.open(
        GarpGroupB(g),
        |p: &mut ConfB, c: GarpGroupB, cx: &mut Cx| {
            if c.0.garp_interval.is_none() && c.0.gna_interval.is_none() {
                cx.general(
                    c.0.span,
                    format!(
                        "garp group {} does not have any delay set - removing",
                        p.vrrp.garp_groups.len() + 1
                    ),
                );
                return;
            }
            p.vrrp.garp_groups.push(c.0)
        },
    )
}

fn garp_iface(cx: &mut Cx, s: &mut GarpGroupB, w: &Word) {
    if !interface_exists(cx, &w.text) {
        cx.general(
            w.span,
            format!(
                "WARNING - interface {} specified for garp_group doesn't exist",
                w.text
            ),
        );
        return;
    }
    s.0.interfaces.push(w.text.to_string());
}

type KQ = Kw<GarpGroupB>;

static GARP_GROUP: Table<GarpGroupB> = Table::new(&[
    KQ::set("garp_interval", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.decimal(w, 0, u64::from(u32::MAX), 6) {
            s.0.garp_interval = Some(Duration::from_micros(v));
        }
    }),
    KQ::set("gna_interval", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.decimal(w, 0, u64::from(u32::MAX), 6) {
            s.0.gna_interval = Some(Duration::from_micros(v));
        }
    }),
    KQ::set("interface", "IF", |s, cx, l| {
        if let Some(w) = cx.arg(l, 1) {
            garp_iface(cx, s, w);
        }
    }),
    KQ::values("interfaces", "{ IF … }", |s, cx, l| {
        for w in &l.words {
            garp_iface(cx, s, w);
        }
    }),
]);
