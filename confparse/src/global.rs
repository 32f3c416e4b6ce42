//! The top level of keepalived.conf and its `global_defs` block (reference
//! 2.2 and the top-level scalars): the top-level keyword table (which hands
//! VRRP blocks to `vrrp` and falls back to `lvs::KEYWORDS`), and the
//! `global_defs` table with keepalived 2.2.7's messages
//! (keepalived/core/global_parser.c).

use crate::diag::ErrClass;
use crate::keywords::{Block, Cx, Dispatch, Kw, Table, Tier};
use crate::lexer::LogicalLine;
use crate::lvs::LvsConfig;
use crate::model::{GarpExtraIfCfg, GlobalDefsCfg, LvsSyncDaemonCfg, Model, RawKwCfg, ScriptCfg};
use std::any::{Any, TypeId};
use std::net::IpAddr;
use std::time::Duration;

/// The top-level state: the model being built, plus what later checks need
/// .
#[derive(Default)]
pub struct ConfB {
    pub model: Model,
    pub vrrp: crate::vrrp::VrrpB,
    /// `global_defs` may appear more than once; keepalived merges them.
    pub seen_global_defs: bool,
}

impl Block for ConfB {
    const NAME: &'static str = "";
    fn table() -> &'static Table<Self> {
        &TOP
    }
    fn fallback(&mut self, cx: &mut Cx, line: &LogicalLine) -> Option<Dispatch> {
        match crate::keywords::dispatch(&crate::lvs::KEYWORDS, &mut self.model.lvs, cx, line) {
            Dispatch::Unknown => None,
            d => Some(d),
        }
    }
    fn fallback_names() -> Vec<&'static str> {
        crate::lvs::KEYWORDS.names().collect()
    }
    fn project(&mut self, want: TypeId) -> Option<&mut dyn Any> {
        if want == TypeId::of::<LvsConfig>() {
            Some(&mut self.model.lvs)
        } else if want == TypeId::of::<crate::vrrp::VrrpB>() {
            Some(&mut self.vrrp)
        } else {
            None
        }
    }
}

/// A statement kept as it was written (keyword and arguments), for the
/// keywords the model records without interpreting (global_defs and
/// vrrp_instance both use it).
pub(crate) fn raw(line: &LogicalLine) -> RawKwCfg {
    RawKwCfg {
        keyword: line.keyword().to_string(),
        args: line
            .words
            .iter()
            .skip(1)
            .map(|w| w.text.to_string())
            .collect(),
        span: line.span,
    }
}

/// A script line that the shell-like split rejects, reported with
/// keepalived's class for it (`None`: only logged).
pub(crate) fn report_shell_error(cx: &mut Cx, e: &crate::shell::ShellError, span: crate::Span) {
    cx.diags.push(crate::diag::Diagnostic::new(
        crate::diag::Severity::Error,
        e.class(),
        Some(span),
        e.to_string(),
    ));
}

/// A command keyword: `KW CMD [USER [[:]GROUP]]` (notify scripts,
/// `script`, `startup_script`, fifo scripts). As keepalived's
/// `notify_script_init`/`set_script_params_array`: the raw line is split
/// with the shell-like rules (reference 1.3), word `i` is the command,
/// which is split again into argv; the words after it are the user and
/// group.
pub fn script_at(cx: &mut Cx, line: &LogicalLine, i: usize) -> Option<ScriptCfg> {
    let w = cx.arg(line, i)?;
    let span = w.span;
    let words = match crate::shell::split(&line.raw) {
        Ok(v) => v,
        Err(e) => {
            report_shell_error(cx, &e, span);
            return None;
        }
    };
    let cmd = words.get(i)?.clone();
    let args = match crate::shell::split(&cmd) {
        Ok(a) if !a.is_empty() => a,
        Ok(_) => return None,
        Err(e) => {
            report_shell_error(cx, &e, span);
            return None;
        }
    };
    let (user, group) = match words.get(i + 1) {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
            None => (
                Some(u.clone()),
                words
                    .get(i + 2)
                    .map(|g| g.trim_start_matches(':').to_string()),
            ),
        },
    };
    Some(ScriptCfg {
        raw: cmd,
        args,
        user,
        group,
        span,
    })
}

/// `USER [[:]GROUP]` or `USER:GROUP` starting at word `i`.
pub fn user_group(line: &LogicalLine, i: usize) -> (Option<String>, Option<String>) {
    let Some(u) = line.words.get(i) else {
        return (None, None);
    };
    if let Some((a, b)) = u.text.split_once(':') {
        return (Some(a.to_string()), Some(b.to_string()));
    }
    let g = line
        .words
        .get(i + 1)
        .map(|g| g.text.trim_start_matches(':').to_string());
    (Some(u.text.to_string()), g)
}

type KT = Kw<ConfB>;

static TOP: Table<ConfB> = Table::new(&[
    KT::block(
        "global_defs",
        "{ … }",
        |s: &mut ConfB, cx: &mut Cx, _l: &LogicalLine| {
            s.seen_global_defs = true;
            let g = std::mem::take(&mut s.model.global);
            cx.open(GlobalB(g), |p: &mut ConfB, c: GlobalB, _cx| {
                p.model.global = c.0
            })
        },
    )
    .tier(Tier::T1),
    KT::set("net_namespace", "NAME", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "net_namespace name missing - ignoring");
            return;
        };
        if s.model.top.net_namespace.is_some() {
            cx.general(
                w.span,
                format!("Duplicate net_namespace definition {} - ignoring", w.text),
            );
            return;
        }
        s.model.top.net_namespace = Some(w.text.to_string());
    })
    .tier(Tier::T3)
    .not_acted("keepalived-rs runs in the namespace it is started in"),
    KT::set("net_namespace_ipvs", "[NAME]", |s, _cx, l| {
        s.model.top.net_namespace_ipvs = Some(
            l.words
                .get(1)
                .map(|w| w.text.to_string())
                .unwrap_or_default(),
        );
    })
    .tier(Tier::T3)
    .not_acted("IPVS is programmed in keepalived-rs's own namespace"),
    KT::set("namespace_with_ipsets", "", |s, _cx, _l| {
        s.model.top.namespace_with_ipsets = true;
    })
    .tier(Tier::T3)
    .not_acted("ipsets are not used"),
    KT::set("instance", "NAME", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "instance name missing - ignoring");
            return;
        };
        if s.model.top.instance.is_some() {
            cx.general(
                w.span,
                format!("Duplicate instance definition {} - ignoring", w.text),
            );
            return;
        }
        s.model.top.instance = Some(w.text.to_string());
    })
    .tier(Tier::T3),
    KT::set("use_pid_dir", "", |s, _cx, _l| {
        s.model.top.use_pid_dir = true
    })
    .tier(Tier::T3),
    KT::set("child_wait_time", "SECS", |s, cx, l| {
        if let Some(w) = cx.arg(l, 1) {
            if let Some(v) = cx.unsigned(w, 0, u32::MAX) {
                s.model.top.child_wait_time = Duration::from_secs(u64::from(v));
            }
        }
    })
    .tier(Tier::T3),
    KT::set("linkbeat_use_polling", "", |s, _cx, _l| {
        s.model.top.linkbeat_use_polling = true
    })
    .tier(Tier::T3)
    .not_acted("link state comes from netlink only"),
    // VRRP-side top-level blocks (vrrp.rs).
    KT::block("vrrp_instance", "NAME { … }", crate::vrrp::open_instance).tier(Tier::T1),
    KT::block("vrrp_script", "NAME { … }", crate::vrrp::open_script).tier(Tier::T1),
    KT::block(
        "vrrp_sync_group",
        "NAME { … }",
        crate::vrrp::open_sync_group,
    ),
    KT::block("track_file", "NAME { … }", crate::vrrp::open_track_file).tier(Tier::T3),
    KT::block(
        "vrrp_track_file",
        "NAME { … }",
        crate::vrrp::open_track_file,
    )
    .tier(Tier::T3)
    .old("track_file", None),
    KT::block(
        "vrrp_track_process",
        "NAME { … }",
        crate::vrrp::open_track_process,
    )
    .tier(Tier::T3)
    .not_acted("processes are not monitored; the tracker stays up"),
    KT::block("bfd_instance", "NAME { … }", crate::vrrp::open_bfd)
        .tier(Tier::T3)
        .not_acted("no BFD sessions are run"),
    KT::block("track_group", "NAME { … }", crate::vrrp::open_track_group).tier(Tier::T3),
    KT::block("garp_group", "{ … }", crate::vrrp::open_garp_group)
        .tier(Tier::T3)
        .not_acted("GARP/NA spacing per interface group is not applied"),
    KT::values(
        "static_ipaddress",
        "{ IP … }",
        crate::vrrp::static_ipaddress_entry,
    )
    .tier(Tier::T3),
    KT::values(
        "static_routes",
        "{ ROUTE … }",
        crate::vrrp::static_route_entry,
    )
    .tier(Tier::T3),
    KT::values("static_rules", "{ RULE … }", crate::vrrp::static_rule_entry).tier(Tier::T3),
    KT::values(
        "linkbeat_interfaces",
        "{ IF … }",
        crate::vrrp::linkbeat_entry,
    )
    .tier(Tier::T3)
    .not_acted("link state comes from netlink only"),
    KT::values(
        "interface_up_down_delays",
        "{ IF DOWN [UP] … }",
        crate::vrrp::up_down_delay_entry,
    )
    .tier(Tier::T3)
    .not_acted("link up/down delays are not applied"),
]);

/// `global_defs` state.
pub struct GlobalB(pub GlobalDefsCfg);

impl Block for GlobalB {
    const NAME: &'static str = "global_defs";
    fn table() -> &'static Table<Self> {
        &GLOBAL
    }
}

/// An optional-bool flag keyword storing into `Option<bool>`.
fn opt_flag(cx: &mut Cx, l: &LogicalLine, what: &str) -> Option<bool> {
    cx.flag(l, 1, &format!("global {what}"))
}

/// Keywords kept raw: tuning knobs of keepalived's processes and
/// interfaces keepalived-rs does not have.
fn keep(s: &mut GlobalB, _cx: &mut Cx, l: &LogicalLine) {
    s.0.other.push(raw(l));
}

/// A kept keyword whose handler reads word 1 unconditionally (keepalived
/// exits with status 2 when it is missing).
fn keep_arg(s: &mut GlobalB, cx: &mut Cx, l: &LogicalLine) {
    if cx.arg(l, 1).is_some() {
        keep(s, cx, l);
    }
}

/// A kept keyword that keepalived rejects with `msg` (GENERAL_ERROR) when
/// it has no value.
fn keep_or(s: &mut GlobalB, cx: &mut Cx, l: &LogicalLine, msg: &str) {
    if l.words.len() < 2 {
        cx.general(l.span, msg.to_string());
        return;
    }
    keep(s, cx, l);
}

/// Same, checking keepalived's "nice" priority range first.
fn keep_nice(s: &mut GlobalB, cx: &mut Cx, l: &LogicalLine) {
    if let Some(w) = l.words.get(1) {
        if cx.int(w, -20, 19).is_none() {
            return;
        }
    } else {
        cx.general(
            l.span,
            format!("No {} process priority specified", process_of(l)),
        );
        return;
    }
    keep(s, cx, l);
}

fn keep_rt_priority(s: &mut GlobalB, cx: &mut Cx, l: &LogicalLine) {
    let Some(w) = l.words.get(1) else {
        cx.general(
            l.span,
            format!("No {} process real-time priority specified", process_of(l)),
        );
        return;
    };
    if cx.int(w, i32::MIN, i32::MAX).is_some() {
        keep(s, cx, l);
    }
}

fn keep_rlimit(s: &mut GlobalB, cx: &mut Cx, l: &LogicalLine) {
    if let Some(w) = cx.arg(l, 1) {
        if cx.unsigned(w, 1, u32::MAX).is_some() {
            keep(s, cx, l);
        }
    }
}

fn keep_rcv_bufs(s: &mut GlobalB, cx: &mut Cx, l: &LogicalLine) {
    let Some(w) = l.words.get(1) else {
        let kw = l.keyword().trim_end_matches("_rcv_bufs");
        cx.general(l.span, format!("{kw}_rcv_bufs size missing"));
        return;
    };
    if cx.unsigned(w, 0, u32::MAX).is_some() {
        keep(s, cx, l);
    }
}

fn keep_bool(s: &mut GlobalB, cx: &mut Cx, l: &LogicalLine) {
    if opt_flag(cx, l, l.keyword()).is_some() {
        keep(s, cx, l);
    }
}

fn process_of(l: &LogicalLine) -> &'static str {
    match l.keyword().split('_').next() {
        Some("vrrp") => "vrrp",
        Some("checker") => "checker",
        _ => "bfd",
    }
}

fn garp_secs(cx: &mut Cx, l: &LogicalLine) -> Option<Duration> {
    let w = cx.arg(l, 1)?;
    cx.unsigned(w, 0, u32::MAX / 1_000_000)
        .map(|v| Duration::from_secs(u64::from(v)))
}

fn repeat(cx: &mut Cx, l: &LogicalLine) -> Option<u32> {
    let w = cx.arg(l, 1)?;
    let v = cx.unsigned(w, 0, u32::MAX)?;
    if v == 0 {
        cx.general(
            w.span,
            format!("{} must be greater than 0, setting to 1", l.keyword()),
        );
        return Some(1);
    }
    Some(v)
}

fn mcast_group(cx: &mut Cx, l: &LogicalLine, v6: bool) -> Option<IpAddr> {
    let w = cx.arg(l, 1)?;
    let kw = l.keyword();
    let Some(a) = crate::keywords::parse_ip(&w.text) else {
        cx.general(w.span, format!("Can't parse {kw} [{}]. Skipping", w.text));
        return None;
    };
    if a.is_ipv6() != v6 {
        let fam = if v6 { "IPv6" } else { "IPv4" };
        cx.general(w.span, format!("{kw} [{}] is not {fam}. Skipping", w.text));
        return None;
    }
    if !a.is_multicast() {
        cx.general(
            w.span,
            format!("{kw} [{}] is not multicast. Skipping", w.text),
        );
        return None;
    }
    Some(a)
}

fn garp_extra_if(cx: &mut Cx, l: &LogicalLine) -> Option<GarpExtraIfCfg> {
    let mut i = 1;
    let all = l.words.get(1).is_some_and(|w| w.text == "all");
    if all {
        i = 2;
    }
    let Some(w) = l.words.get(i) else {
        cx.general(
            l.span,
            format!("{} specified without time - ignoring", l.keyword()),
        );
        return None;
    };
    let v = cx.unsigned(w, 1, 86400)?;
    Some(GarpExtraIfCfg {
        all,
        delay: Duration::from_secs(u64::from(v)),
    })
}

/// A notify FIFO keyword; keepalived keeps the first one.
fn fifo_once(cx: &mut Cx, l: &LogicalLine, slot: &mut Option<ScriptCfg>) {
    if slot.is_some() {
        let kw = l.keyword();
        let arg = l.words.get(1).map(|w| w.text.as_str()).unwrap_or("");
        cx.general(l.span, format!("{kw} already specified - ignoring {arg}"));
        return;
    }
    *slot = fifo(cx, l);
}

fn fifo(cx: &mut Cx, l: &LogicalLine) -> Option<ScriptCfg> {
    if l.words.len() < 2 {
        let t = l
            .keyword()
            .trim_end_matches("notify_fifo")
            .trim_end_matches("notify_fifo_script");
        cx.general(l.span, format!("No {t}notify_fifo name specified"));
        return None;
    }
    script_at(cx, l, 1)
}

type KG = Kw<GlobalB>;

static GLOBAL: Table<GlobalB> = Table::new(&[
    KG::set("router_id", "STRING", |s, cx, l| match l.words.get(1) {
        Some(w) => s.0.router_id = Some(w.text.to_string()),
        None => cx.general(l.span, "routerid name missing - ignoring"),
    }),
    KG::values(
        "notification_email",
        "{ ADDR … }",
        |s: &mut GlobalB, _cx: &mut Cx, l: &LogicalLine| {
            // keepalived keeps each word of an entry line as an address.
            for w in &l.words {
                s.0.notification_email.push(w.text.to_string());
            }
        },
    )
    .not_acted("no e-mail is sent"),
    KG::set("notification_email_from", "ADDR", |s, cx, l| {
        match l.words.get(1) {
            Some(w) => s.0.notification_email_from = Some(w.text.to_string()),
            None => cx.general(l.span, "emailfrom missing - ignoring"),
        }
    })
    .not_acted("no e-mail is sent"),
    KG::set("smtp_server", "IP|NAME [PORT]", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let port = match l.words.get(2) {
            Some(p) => match cx.unsigned(p, 1, 65535) {
                Some(v) => u16::try_from(v).unwrap_or(25),
                None => return,
            },
            None => 25,
        };
        s.0.smtp_port = port;
        match crate::keywords::parse_ip(&w.text) {
            Some(a) => s.0.smtp_server = Some(a),
            None => s.0.smtp_server_name = Some(w.text.to_string()),
        }
    })
    .not_acted("no e-mail is sent"),
    KG::set("smtp_helo_name", "NAME", |s, _cx, l| {
        // global_parser.c: without a name the keyword is ignored.
        if let Some(w) = l.words.get(1) {
            s.0.smtp_helo_name = Some(w.text.to_string());
        }
    })
    .tier(Tier::T3)
    .not_acted("no e-mail is sent"),
    KG::set("smtp_connect_timeout", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 0, u32::MAX / 1_000_000) {
            if v == 0 {
                cx.general(
                    w.span,
                    "smtp_conect_timeout must be greater than 0, setting to 1",
                );
            }
            s.0.smtp_connect_timeout = Duration::from_secs(u64::from(v.max(1)));
        }
    })
    .not_acted("no e-mail is sent"),
    KG::set("smtp_alert", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "smtp_alert") {
            s.0.smtp_alert = Some(b);
        }
    })
    .tier(Tier::T3)
    .not_acted("no e-mail is sent"),
    KG::set("smtp_alert_vrrp", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "smtp_alert_vrrp") {
            s.0.smtp_alert_vrrp = Some(b);
        }
    })
    .tier(Tier::T3)
    .not_acted("no e-mail is sent"),
    KG::set("smtp_alert_checker", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "smtp_alert_checker") {
            s.0.smtp_alert_checker = Some(b);
        }
    })
    .tier(Tier::T3)
    .not_acted("no e-mail is sent"),
    KG::set("no_email_faults", "", |s, _cx, _l| {
        s.0.no_email_faults = true
    })
    .tier(Tier::T3),
    KG::set("no_checker_emails", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "no_checker_emails") {
            s.0.no_checker_emails = b;
        }
    })
    .tier(Tier::T3),
    KG::set("checker_log_all_failures", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "checker_log_all_failures") {
            s.0.checker_log_all_failures = b;
        }
    })
    .tier(Tier::T3),
    KG::set("enable_script_security", "", |s, cx, _l| {
        // Read by later vrrp_script blocks (keepalived's global flag).
        cx.define("script_security", "");
        s.0.enable_script_security = true
    }),
    KG::set("script_user", "USER [[:]GROUP]", |s, cx, l| {
        if l.words.len() < 2 {
            cx.general(l.span, "No script username specified");
            return;
        }
        let (u, g) = user_group(l, 1);
        cx.define("script_user", "");
        s.0.script_user = u;
        s.0.script_group = g;
    }),
    KG::set("startup_script", "CMD [USER [[:]GROUP]]", |s, cx, l| {
        if s.0.startup_script.is_some() {
            cx.general(l.span, "startup script already specified");
            return;
        }
        if l.words.len() < 2 {
            cx.general(l.span, "startup script missing");
            return;
        }
        s.0.startup_script = script_at(cx, l, 1);
    })
    .tier(Tier::T3),
    KG::set("shutdown_script", "CMD [USER [[:]GROUP]]", |s, cx, l| {
        if s.0.shutdown_script.is_some() {
            cx.general(l.span, "shutdown script already specified");
            return;
        }
        if l.words.len() < 2 {
            cx.general(l.span, "shutdown script missing");
            return;
        }
        s.0.shutdown_script = script_at(cx, l, 1);
    })
    .tier(Tier::T3),
    KG::set("startup_script_timeout", "<1-1000>", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "startup_script_timeout requires value");
            return;
        };
        if let Some(v) = cx.unsigned(w, 1, 1000) {
            s.0.startup_script_timeout = Duration::from_secs(u64::from(v));
        }
    })
    .tier(Tier::T3),
    KG::set("shutdown_script_timeout", "<1-1000>", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "shutdown_script_timeout requires value");
            return;
        };
        if let Some(v) = cx.unsigned(w, 1, 1000) {
            s.0.shutdown_script_timeout = Duration::from_secs(u64::from(v));
        }
    })
    .tier(Tier::T3),
    KG::set("default_interface", "IFNAME", |s, cx, l| {
        match l.words.get(1) {
            Some(w) => s.0.default_interface = Some(w.text.to_string()),
            None => cx.general(l.span, "default_interface requires interface name"),
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_version", "2|3", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match cx.int(w, 2, 3) {
            Some(v) => s.0.vrrp_version = if v == 3 { 3 } else { 2 },
            None => cx.general(w.span, "VRRP Error: Version must be either 2 or 3"),
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_mcast_group4", "IP", |s, cx, l| {
        if let Some(a) = mcast_group(cx, l, false) {
            s.0.vrrp_mcast_group4 = a;
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_mcast_group6", "IP", |s, cx, l| {
        if let Some(a) = mcast_group(cx, l, true) {
            s.0.vrrp_mcast_group6 = a;
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_garp_master_delay", "SECS", |s, cx, l| {
        if let Some(d) = garp_secs(cx, l) {
            s.0.vrrp_garp_master_delay = d;
        }
    }),
    KG::set("vrrp_garp_master_repeat", "N", |s, cx, l| {
        if let Some(v) = repeat(cx, l) {
            s.0.vrrp_garp_master_repeat = v;
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_garp_master_refresh", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        s.0.vrrp_garp_master_refresh = cx
            .unsigned(w, 0, u32::MAX)
            .map(|v| Duration::from_secs(u64::from(v)))
            .unwrap_or(Duration::ZERO);
    }),
    KG::set("vrrp_garp_master_refresh_repeat", "N", |s, cx, l| {
        if let Some(v) = repeat(cx, l) {
            s.0.vrrp_garp_master_refresh_repeat = v;
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_garp_lower_prio_delay", "SECS", |s, cx, l| {
        if let Some(d) = garp_secs(cx, l) {
            s.0.vrrp_garp_lower_prio_delay = Some(d);
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_garp_lower_prio_repeat", "N", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 0, i32::MAX as u32) {
            s.0.vrrp_garp_lower_prio_repeat = Some(v);
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_down_timer_adverts", "<1-100>", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.unsigned(w, 1, 100) {
            s.0.vrrp_down_timer_adverts = v;
        }
    })
    .tier(Tier::T3),
    // keepalived 2.2.7 reads these with a minimum of 1 µs, so the upstream
    // sample's `0` is an error (reference Q1).
    KG::set("vrrp_garp_interval", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.decimal(w, 1, u64::from(u32::MAX), 6) {
            s.0.vrrp_garp_interval = Duration::from_micros(v);
        }
    }),
    KG::set("vrrp_gna_interval", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(v) = cx.decimal(w, 1, u64::from(u32::MAX), 6) {
            s.0.vrrp_gna_interval = Duration::from_micros(v);
        }
    }),
    KG::set("vrrp_min_garp", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "vrrp_min_garp") {
            s.0.vrrp_min_garp = b;
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_garp_extra_if", "[all] SECS", |s, cx, l| {
        if let Some(g) = garp_extra_if(cx, l) {
            s.0.vrrp_garp_extra_if = Some(g);
        }
    })
    .tier(Tier::T3)
    .not_acted("no extra GARPs are sent on other interfaces"),
    KG::set("vrrp_vmac_garp_intvl", "[all] SECS", |s, cx, l| {
        if let Some(g) = garp_extra_if(cx, l) {
            s.0.vrrp_garp_extra_if = Some(g);
        }
    })
    .tier(Tier::T3)
    .old("vrrp_garp_extra_if", Some(ErrClass::Deprecated))
    .not_acted("no extra GARPs are sent on other interfaces"),
    KG::set("vrrp_lower_prio_no_advert", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "vrrp_lower_prio_no_advert") {
            s.0.vrrp_lower_prio_no_advert = Some(b);
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_higher_prio_send_advert", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "vrrp_higher_prio_send_advert") {
            s.0.vrrp_higher_prio_send_advert = b;
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_iptables", "[IN [OUT]]", |s, cx, l| {
        // keepalived 2.2.7 as packaged is built with nftables only.
        cx.general(
            l.span,
            "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option",
        );
        s.0.vrrp_iptables = Some(l.words.iter().skip(1).map(|w| w.text.to_string()).collect());
    })
    .tier(Tier::T3)
    .not_acted("no firewall rules are installed"),
    // vrrp_ipsets: an unknown keyword in keepalived 2.2.7 built with
    // nftables only (observed), so it is not in this table.

    KG::set("nftables", "[TABLE]", |s, _cx, l| {
        s.0.nftables = Some(
            l.words
                .get(1)
                .map(|w| w.text.to_string())
                .unwrap_or_else(|| "keepalived".into()),
        );
    })
    .tier(Tier::T3)
    .not_acted("no nftables rules are installed"),
    KG::set("nftables_priority", "N", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if cx.int(w, i32::MIN, i32::MAX).is_some() {
            keep(s, cx, l);
        }
    })
        .tier(Tier::T3)
        .not_acted("no nftables rules are installed"),
    KG::set("nftables_ifindex", "", keep)
        .tier(Tier::T3)
        .not_acted("no nftables rules are installed"),
    KG::set("nftables_counters", "", keep)
        .tier(Tier::T3)
        .not_acted("no nftables rules are installed"),
    KG::set("nftables_ipvs", "[TABLE]", keep)
        .tier(Tier::T3)
        .not_acted("no nftables rules are installed"),
    KG::set("nftables_ipvs_priority", "N", keep_arg)
        .tier(Tier::T3)
        .not_acted("no nftables rules are installed"),
    KG::set("nftables_ipvs_start_fwmark", "N", keep_arg)
        .tier(Tier::T3)
        .not_acted("no nftables rules are installed"),
    KG::set("vrrp_check_unicast_src", "", |s, _cx, _l| {
        s.0.vrrp_check_unicast_src = true
    })
    .tier(Tier::T3),
    KG::set("vrrp_skip_check_adv_addr", "", |s, _cx, _l| {
        // global_parser.c: the handler ignores any value.
        s.0.vrrp_skip_check_adv_addr = true
    }),
    KG::set("vrrp_strict", "", |s, _cx, _l| s.0.vrrp_strict = true),
    KG::set(
        "dynamic_interfaces",
        "[allow_if_changes]",
        |s, cx, l| match l.words.get(1) {
            // Interfaces named later may be missing (vrrp_if.c
            // if_get_by_ifname creates them dynamically).
            None => {
                cx.define("dynamic_interfaces", "");
                s.0.dynamic_interfaces = Some(false)
            }
            Some(w) if w.text == "allow_if_changes" => {
                cx.define("dynamic_interfaces", "");
                s.0.dynamic_interfaces = Some(true)
            }
            Some(w) => cx.general(
                w.span,
                format!("Unknown dynamic_interfaces option '{}'", w.text),
            ),
        },
    )
    .tier(Tier::T3),
    KG::set("vrrp_startup_delay", "SECS", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        if let Some(d) = cx.timer(w, 0, 3_600_000_000) {
            s.0.vrrp_startup_delay = d;
        }
    })
    .tier(Tier::T3),
    KG::set("vrrp_notify_priority_changes", "BOOL", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "vrrp_notify_priority_changes") {
            s.0.vrrp_notify_priority_changes = b;
        }
    })
    .tier(Tier::T3),
    KG::set("fifo_write_vrrp_states_on_reload", "", keep).tier(Tier::T3),
    KG::set("notify_fifo", "PATH [USER [GROUP]]", |s, cx, l| {
        fifo_once(cx, l, &mut s.0.notify_fifo);
    })
    .tier(Tier::T3)
    .not_acted("no notify FIFO is written"),
    KG::set("notify_fifo_script", "CMD", |s, cx, l| {
        fifo_once(cx, l, &mut s.0.notify_fifo_script);
    })
    .tier(Tier::T3)
    .not_acted("no notify FIFO is written"),
    KG::set("vrrp_notify_fifo", "PATH [USER [GROUP]]", |s, cx, l| {
        fifo_once(cx, l, &mut s.0.vrrp_notify_fifo);
    })
    .tier(Tier::T3)
    .not_acted("no notify FIFO is written"),
    KG::set("vrrp_notify_fifo_script", "CMD", |s, cx, l| {
        fifo_once(cx, l, &mut s.0.vrrp_notify_fifo_script);
    })
    .tier(Tier::T3)
    .not_acted("no notify FIFO is written"),
    KG::set("lvs_notify_fifo", "PATH [USER [GROUP]]", |s, cx, l| {
        fifo_once(cx, l, &mut s.0.lvs_notify_fifo);
    })
    .tier(Tier::T3)
    .not_acted("no notify FIFO is written"),
    KG::set("lvs_notify_fifo_script", "CMD", |s, cx, l| {
        fifo_once(cx, l, &mut s.0.lvs_notify_fifo_script);
    })
    .tier(Tier::T3)
    .not_acted("no notify FIFO is written"),
    KG::set("max_auto_priority", "[-1..99]", |s, cx, l| {
        let v = match l.words.get(1) {
            None => 99,
            Some(w) => match cx.int(w, -1, 99) {
                Some(v) => v,
                None => return,
            },
        };
        s.0.max_auto_priority = Some(v);
    })
    .tier(Tier::T3)
    .not_acted("no real-time scheduling is requested"),
    KG::set("min_auto_priority_delay", "USECS", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "min_auto_priority_delay requires delay time");
            return;
        };
        if cx.int(w, 1, 10_000_000).is_some() {
            keep(s, cx, l);
        }
    })
    .tier(Tier::T3)
    .not_acted("no real-time scheduling is requested"),
    KG::set(
        "lvs_sync_daemon",
        "IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]",
        |s, cx, l| {
            if let Some(old) = &s.0.lvs_sync_daemon {
                let msg = format!(
                    "lvs_sync_daemon has already been specified as {} {} - ignoring",
                    old.interface,
                    old.vrrp_instance.clone().unwrap_or_default()
                );
                cx.general(l.span, msg);
                return;
            }
            if let Some(d) = lvs_sync_daemon(cx, l) {
                s.0.lvs_sync_daemon = Some(d);
            }
        },
    ),
    KG::set("lvs_timeouts", "[tcp S] [tcpfin S] [udp S]", |s, cx, l| {
        if l.words.len() < 2 {
            cx.general(l.span, "lvs_timeouts requires at least one option");
            return;
        }
        let mut i = 1;
        while let Some(w) = l.words.get(i) {
            let slot = match w.text.as_str() {
                "tcp" => &mut s.0.lvs_timeouts.tcp,
                "tcpfin" => &mut s.0.lvs_timeouts.tcpfin,
                "udp" => &mut s.0.lvs_timeouts.udp,
                _ => {
                    cx.general(
                        w.span,
                        format!("Unknown option {} specified for lvs_timeouts", w.text),
                    );
                    i += 1;
                    continue;
                }
            };
            match l.words.get(i + 1) {
                None => {
                    cx.general(
                        w.span,
                        format!("No value specified for lvs_timeout {} - ignoring", w.text),
                    );
                }
                Some(v) => {
                    // LVS_MAX_TIMEOUT: 86400 * 31 seconds.
                    if let Some(n) = cx.unsigned(v, 0, 86400 * 31) {
                        *slot = Some(n);
                    }
                }
            }
            i += 2;
        }
    })
    .tier(Tier::T3),
    KG::set("lvs_flush", "", |s, _cx, _l| s.0.lvs_flush = true).tier(Tier::T3),
    KG::set("lvs_flush_on_stop", "[VS]", |s, cx, l| {
        match l.words.get(1) {
            None => s.0.lvs_flush_on_stop = Some("all".into()),
            Some(w) if w.text == "VS" => s.0.lvs_flush_on_stop = Some("VS".into()),
            Some(w) => cx.general(w.span, format!("Unknown lvs_flush_on_stop type {}", w.text)),
        }
    })
    .tier(Tier::T3),
    // A silent synonym in 2.2.7 (reference 3.5, observed).
    KG::set("lvs_flush_onstop", "[VS]", |s, cx, l| {
        match l.words.get(1) {
            None => s.0.lvs_flush_on_stop = Some("all".into()),
            Some(w) if w.text == "VS" => s.0.lvs_flush_on_stop = Some("VS".into()),
            Some(w) => cx.general(w.span, format!("Unknown lvs_flush_on_stop type {}", w.text)),
        }
    })
    .tier(Tier::T3),
    KG::set("vmac_prefix", "STRING", |s, cx, l| {
        if let Some(w) = cx.arg(l, 1) {
            if s.0.vmac_prefix.is_some() {
                cx.general(w.span, format!("vmac prefix has already been specified - ignoring {}", w.text));
                return;
            }
            s.0.vmac_prefix = Some(w.text.to_string());
        }
    })
    .tier(Tier::T3),
    KG::set("vmac_addr_prefix", "STRING", |s, cx, l| {
        if let Some(w) = cx.arg(l, 1) {
            if s.0.vmac_addr_prefix.is_some() {
                cx.general(w.span, format!("vmac_addr prefix has already been specified - ignoring {}", w.text));
                return;
            }
            s.0.vmac_addr_prefix = Some(w.text.to_string());
        }
    })
    .tier(Tier::T3),
    KG::set("log_unknown_vrids", "", |s, _cx, _l| {
        s.0.log_unknown_vrids = true
    })
    .tier(Tier::T3),
    KG::set("rs_init_notifies", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_flag(cx, l, "rs_init_notifies") {
            s.0.rs_init_notifies = b;
        }
    })
    .tier(Tier::T3),
    // Process tuning: keepalived-rs is one process with its own runtime.
    KG::set("process_names", "", keep)
        .tier(Tier::T3)
        .not_acted("process names are not changed"),
    KG::set("process_name", "NAME", keep_arg)
        .tier(Tier::T3)
        .not_acted("process names are not changed"),
    KG::set("vrrp_process_name", "NAME", keep_arg)
        .tier(Tier::T3)
        .not_acted("process names are not changed"),
    KG::set("checker_process_name", "NAME", keep_arg)
        .tier(Tier::T3)
        .not_acted("process names are not changed"),
    KG::set("lvs_process_name", "NAME", keep)
        .tier(Tier::T3)
        .old("checker_process_name", None)
        .not_acted("process names are not changed"),
    KG::set("bfd_process_name", "NAME", keep_arg)
        .tier(Tier::T3)
        .not_acted("process names are not changed"),
    KG::set("vrrp_priority", "<-20..19>", keep_nice)
        .tier(Tier::T3)
        .not_acted("process priorities are not changed"),
    KG::set("checker_priority", "<-20..19>", keep_nice)
        .tier(Tier::T3)
        .not_acted("process priorities are not changed"),
    KG::set("bfd_priority", "<-20..19>", keep_nice)
        .tier(Tier::T3)
        .not_acted("process priorities are not changed"),
    KG::set("vrrp_no_swap", "", keep)
        .tier(Tier::T3)
        .not_acted("memory is not locked"),
    KG::set("checker_no_swap", "", keep)
        .tier(Tier::T3)
        .not_acted("memory is not locked"),
    KG::set("bfd_no_swap", "", keep)
        .tier(Tier::T3)
        .not_acted("memory is not locked"),
    KG::set("vrrp_rt_priority", "<1-99>", keep_rt_priority)
        .tier(Tier::T3)
        .not_acted("no real-time scheduling is requested"),
    KG::set("checker_rt_priority", "<1-99>", keep_rt_priority)
        .tier(Tier::T3)
        .not_acted("no real-time scheduling is requested"),
    KG::set("bfd_rt_priority", "<1-99>", keep_rt_priority)
        .tier(Tier::T3)
        .not_acted("no real-time scheduling is requested"),
    KG::set("vrrp_cpu_affinity", "CPU…", |s, cx, l| keep_or(s, cx, l, "No vrrp cpu_id set specified"))
        .tier(Tier::T3)
        .not_acted("CPU affinity is not set"),
    KG::set("checker_cpu_affinity", "CPU…", |s, cx, l| keep_or(s, cx, l, "No checker cpu_id set specified"))
        .tier(Tier::T3)
        .not_acted("CPU affinity is not set"),
    KG::set("bfd_cpu_affinity", "CPU…", |s, cx, l| keep_or(s, cx, l, "No bfd cpu_id set specified"))
        .tier(Tier::T3)
        .not_acted("CPU affinity is not set"),
    KG::set("vrrp_rlimit_rttime", "USECS", keep_rlimit)
        .tier(Tier::T3)
        .not_acted("no real-time limit is set"),
    KG::set("checker_rlimit_rttime", "USECS", keep_rlimit)
        .tier(Tier::T3)
        .not_acted("no real-time limit is set"),
    KG::set("bfd_rlimit_rttime", "USECS", keep_rlimit)
        .tier(Tier::T3)
        .not_acted("no real-time limit is set"),
    KG::set("vrrp_rlimit_rtime", "USECS", keep_rlimit)
        .tier(Tier::T3)
        .old("vrrp_rlimit_rttime", None)
        .not_acted("no real-time limit is set"),
    KG::set("checker_rlimit_rtime", "USECS", keep_rlimit)
        .tier(Tier::T3)
        .old("checker_rlimit_rttime", None)
        .not_acted("no real-time limit is set"),
    KG::set("bfd_rlimit_rtime", "USECS", keep_rlimit)
        .tier(Tier::T3)
        .old("bfd_rlimit_rttime", None)
        .not_acted("no real-time limit is set"),
    // SNMP and D-Bus: keepalived-rs has neither.
    KG::set("snmp_socket", "SOCKET", |s, cx, l| keep_or(s, cx, l, "SNMP error : snmp socket name missing"))
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_traps", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_snmp_vrrp", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_snmp_keepalived", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_snmp_rfc", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_snmp_rfcv2", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_snmp_rfcv3", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_snmp_checker", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no SNMP agent"),
    KG::set("enable_dbus", "", keep)
        .tier(Tier::T3)
        .not_acted("there is no D-Bus interface"),
    KG::set("dbus_service_name", "NAME", |s, cx, l| {
        if l.words.len() < 2 {
            cx.general(l.span, "dbus_service_name missing - ignoring");
            return;
        }
        keep(s, cx, l);
    })
    .tier(Tier::T3)
    .not_acted("there is no D-Bus interface"),
    // Netlink and receive buffer sizes.
    KG::set("vrrp_netlink_cmd_rcv_bufs", "BYTES", keep_rcv_bufs)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("vrrp_netlink_cmd_rcv_bufs_force", "[BOOL]", keep_bool)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("vrrp_netlink_monitor_rcv_bufs", "BYTES", keep_rcv_bufs)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("vrrp_netlink_monitor_rcv_bufs_force", "[BOOL]", keep_bool)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("process_monitor_rcv_bufs", "BYTES", keep_rcv_bufs)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("process_monitor_rcv_bufs_force", "[BOOL]", keep_bool)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("lvs_netlink_cmd_rcv_bufs", "BYTES", keep_rcv_bufs)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("lvs_netlink_cmd_rcv_bufs_force", "[BOOL]", keep_bool)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("lvs_netlink_monitor_rcv_bufs", "BYTES", keep_rcv_bufs)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("lvs_netlink_monitor_rcv_bufs_force", "[BOOL]", keep_bool)
        .tier(Tier::T3)
        .not_acted("socket buffer sizes are not changed"),
    KG::set("vrrp_rx_bufs_policy", "MTU|ADVERT|N", |s, cx, l| {
        if l.words.len() < 2 {
            cx.general(l.span, "vrrp_rx_bufs_policy missing");
            return;
        }
        keep(s, cx, l);
    })
    .tier(Tier::T3)
    .not_acted("socket buffer sizes are not changed"),
    KG::set("vrrp_rx_bufs_multiplier", "N", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "Invalid vrrp_rx_bufs_multiplier");
            return;
        };
        if cx.unsigned(w, 1, u32::MAX).is_some() {
            keep(s, cx, l);
        }
    })
    .tier(Tier::T3)
    .not_acted("socket buffer sizes are not changed"),
    KG::set("disable_local_igmp", "", keep)
        .tier(Tier::T3)
        .not_acted("IGMP reports are not changed"),
    KG::set("umask", "NUMBER|BITS", keep_arg)
        .tier(Tier::T3)
        .not_acted("the umask is not changed"),
    KG::set("random_seed", "N", |s, cx, l| {
        if let Some(w) = cx.arg(l, 1) {
            if cx.unsigned(w, 0, u32::MAX).is_some() {
                keep(s, cx, l);
            }
        }
    })
    .tier(Tier::T3),
    KG::set("reload_check_config", "[LOGFILE]", keep)
        .tier(Tier::T3)
        .not_acted("reloads are not pre-checked by a separate run"),
    KG::set("reload_time_file", "PATH", |s, cx, l| keep_or(s, cx, l, "reload_time_file invalid"))
        .tier(Tier::T3)
        .not_acted("scheduled reloads are not supported"),
    KG::set("reload_repeat", "", keep)
        .tier(Tier::T3)
        .not_acted("scheduled reloads are not supported"),
    KG::set("reload_file", "[PATH]", keep)
        .tier(Tier::T3)
        .not_acted("no reload handshake file is written"),
    KG::set("include_check", "[OPTS…]", keep)
        .tier(Tier::T3)
        .not_acted("include files are not checked further"),
    KG::set("config_save_dir", "DIR", keep_arg)
        .tier(Tier::T3)
        .not_acted("configurations are not saved"),
    KG::set("tmp_config_directory", "DIR", |s, cx, l| keep_or(s, cx, l, "tmp_config_directory missing directory name"))
        .tier(Tier::T3)
        .not_acted("no flattened config copy is written"),
    KG::set("data_use_instance", "[BOOL]", keep_bool)
        .tier(Tier::T3)
        .not_acted("no dump files are written"),
    KG::set("linkbeat_use_polling", "", keep)
        .tier(Tier::T3)
        .not_acted("link state comes from netlink only"),
]);

fn lvs_sync_daemon(cx: &mut Cx, l: &LogicalLine) -> Option<LvsSyncDaemonCfg> {
    let Some(ifw) = l.words.get(1) else {
        cx.general(l.span, "lvs_sync_daemon requires interface");
        return None;
    };
    let mut d = LvsSyncDaemonCfg {
        interface: ifw.text.to_string(),
        vrrp_instance: None,
        syncid: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
        span: l.span,
    };
    let mut i = 2;
    while let Some(w) = l.words.get(i) {
        let val = l.words.get(i + 1);
        let t = w.text.as_str();
        match t {
            "inst" => {
                match val {
                    Some(v) => d.vrrp_instance = Some(v.text.to_string()),
                    None => cx.general(w.span, "lvs_sync_daemon instance missing"),
                }
                i += 2;
            }
            "id" | "maxlen" | "port" | "ttl" | "group" => {
                let Some(v) = val else {
                    cx.general(
                        w.span,
                        format!("No value specified for lvs_sync_daemon {t} - ignoring"),
                    );
                    i += 1;
                    continue;
                };
                match t {
                    "id" => d.syncid = cx.unsigned(v, 0, 255),
                    "maxlen" => d.maxlen = cx.unsigned(v, 1, 65535 - 20 - 8),
                    "port" => d.port = cx.unsigned(v, 1, 65535).and_then(|p| u16::try_from(p).ok()),
                    "ttl" => d.ttl = cx.unsigned(v, 1, 255).and_then(|p| u8::try_from(p).ok()),
                    _ => match crate::keywords::parse_ip(&v.text) {
                        Some(a) if a.is_multicast() => d.group = Some(a),
                        Some(_) => cx.general(
                            v.span,
                            format!(
                                "lvs_sync_daemon group address {} is not multicast - ignoring",
                                v.text
                            ),
                        ),
                        None => cx.general(
                            v.span,
                            format!("Invalid lvs_sync_daemon group ({}) - ignoring", v.text),
                        ),
                    },
                }
                i += 2;
            }
            _ if i == 2 && d.vrrp_instance.is_none() => {
                // `lvs_sync_daemon IF VI_1`: the instance without `inst`.
                d.vrrp_instance = Some(w.text.to_string());
                i += 1;
            }
            _ => {
                cx.general(
                    w.span,
                    format!("Unknown option {t} specified for lvs_sync_daemon"),
                );
                i += 1;
            }
        }
    }
    Some(d)
}
