//! The LVS side of the configuration: `virtual_server_group`,
//! `virtual_server`, `real_server`, the health checkers and the top-level
//! `SSL` block (reference 2.9-2.11), read the way keepalived 2.2.7's checker
//! process reads them (keepalived/check/check_parser.c, check_data.c and
//! the `install_*_check_keyword()` of each checker).
//!
//! Parsing fills block states in [`blocks`] and [`checkers`]; [`validate`]
//! then applies keepalived's post-parse rules (`validate_check_config`):
//! defaults (scheduler `wlc`, forwarding NAT, protocol UDP, each with
//! keepalived's message), the inheritance virtual server -> real server ->
//! checker, port and family fix-ups, quorum, and the check-script security
//! check, and produces the typed, defaults-filled model below. The `ipvs`
//! crate builds its desired IPVS table from [`VirtualServerCfg`], the
//! `checkers` crate its checks from [`CheckerCfg`].

pub mod blocks;
pub mod checkers;

use crate::diag::ErrClass;
use crate::keywords::{Cx, Kw, Table, Tier};
use crate::model::{Model, ScriptCfg};
use crate::source::Span;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

pub use checkers::{
    BfdCheckCfg, CheckerCfg, CheckerKind, CheckerTiming, ConnCfg, DnsCheckCfg, FileCheckCfg,
    HttpCheckCfg, HttpProtocol, MiscCheckCfg, SmtpCheckCfg, UdpCheckCfg, UrlCfg,
};

/// keepalived's `KEEPALIVED_DEFAULT_DELAY`: the virtual server `delay_loop`.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// The virtual server `connect_timeout` default (`5 * TIMER_HZ`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `persistence_timeout` without a value (`IPVS_SVC_PERSISTENT_TIMEOUT`).
pub const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 360;
/// `LVS_MAX_TIMEOUT`: 31 days.
pub const MAX_PERSISTENCE_TIMEOUT: u32 = 86_400 * 31;
/// `IPVS_WEIGHT_LIMIT` (`INT_MAX`).
pub const WEIGHT_LIMIT: u32 = i32::MAX as u32;
/// `IPVS_DEF_SCHED`.
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// The schedulers keepalived 2.2.7 accepts (`lvs_schedulers[]`), matched
/// case-sensitively.
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

/// Every LVS object of a configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LvsConfig {
    /// The top-level `SSL` block (client TLS context of SSL_GET checks).
    pub ssl: Option<SslCfg>,
    pub groups: Vec<VirtualServerGroupCfg>,
    /// Valid virtual servers, defaults filled, after [`validate`].
    pub virtual_servers: Vec<VirtualServerCfg>,
    /// Virtual servers as parsed, before validation.
    #[serde(skip)]
    pub(crate) parsed: Vec<blocks::VsB>,
}

impl LvsConfig {
    /// The `virtual_server_group` named `name` (the first one, as keepalived).
    pub fn group(&self, name: &str) -> Option<&VirtualServerGroupCfg> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Every script the LVS side may run (for script security checks).
    pub fn scripts(&self) -> impl Iterator<Item = &ScriptCfg> + '_ {
        self.virtual_servers.iter().flat_map(|vs| {
            vs.quorum_up
                .iter()
                .chain(vs.quorum_down.iter())
                .chain(vs.real_servers.iter().flat_map(|rs| {
                    rs.notify_up
                        .iter()
                        .chain(rs.notify_down.iter())
                        .map(|b| &**b)
                        .chain(rs.checkers.iter().filter_map(|c| match &c.kind {
                            CheckerKind::Misc(m) => Some(&m.script),
                            _ => None,
                        }))
                }))
        })
    }
}

/// `SSL { password ; ca ; certificate ; key }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SslCfg {
    pub password: Option<String>,
    pub ca: Option<String>,
    pub certificate: Option<String>,
    pub key: Option<String>,
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Inet,
    Inet6,
}

impl IpFamily {
    pub fn of(a: &IpAddr) -> Self {
        if a.is_ipv4() {
            IpFamily::Inet
        } else {
            IpFamily::Inet6
        }
    }
}

/// `virtual_server_group NAME { … }` (reference 2.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerGroupCfg {
    pub name: String,
    pub entries: Vec<VsgEntryCfg>,
    pub span: Span,
}

/// One line of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VsgEntryCfg {
    /// `IP [PORT]`, `A.B.C.D-E [PORT]`, `A-B [PORT]` or `PREFIX/LEN [PORT]`:
    /// every address from `first` to `last` inclusive (equal for one
    /// address); port 0 = none given.
    Range {
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark { mark: u32, family: Option<IpFamily> },
}

/// What a `virtual_server` line names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VsKey {
    /// `virtual_server IP [PORT]`; port 0 = none given.
    Addr { addr: IpAddr, port: u16 },
    /// `virtual_server fwmark N`.
    Fwmark { mark: u32 },
    /// `virtual_server group NAME`.
    Group { name: String },
}

/// `protocol TCP|UDP|SCTP` (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// keepalived's lower-case name in `[ip]:tcp:port`.
    pub fn name(p: Option<Protocol>) -> &'static str {
        match p {
            Some(Protocol::Tcp) => "tcp",
            Some(Protocol::Udp) => "udp",
            Some(Protocol::Sctp) => "sctp",
            None => "none",
        }
    }
}

/// Tunnel encapsulation of `lvs_method TUN type …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

/// Tunnel checksum option of `lvs_method TUN … nocsum|csum|remcsum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelCsum {
    NoCsum,
    Csum,
    RemCsum,
}

/// The IPVS forwarding method (`lb_kind` / `lvs_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Forwarding {
    /// `NAT` (IP_VS_CONN_F_MASQ).
    Nat,
    /// `DR` (IP_VS_CONN_F_DROUTE).
    Dr,
    /// `TUN` (IP_VS_CONN_F_TUNNEL); `port` is the GUE port (0 otherwise).
    Tun {
        tunnel_type: TunnelType,
        port: u16,
        csum: TunnelCsum,
    },
}

/// IPVS service flags set by keywords. `hashed` sets nothing in 2.2.7.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SvcFlags {
    /// `ops`: IP_VS_SVC_F_ONEPACKET.
    pub one_packet: bool,
    /// `flag-1`, `sh-fallback`, `mh-fallback`: IP_VS_SVC_F_SCHED1.
    pub sched1: bool,
    /// `flag-2`, `sh-port`, `mh-port`: IP_VS_SVC_F_SCHED2.
    pub sched2: bool,
    /// `flag-3`: IP_VS_SVC_F_SCHED3.
    pub sched3: bool,
}

/// `persistence_granularity`: an IPv4 netmask or an IPv6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    V4(Ipv4Addr),
    V6(u8),
}

/// `sorry_server IP [PORT]` with its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServerCfg {
    pub addr: IpAddr,
    pub port: u16,
    pub forwarding: Forwarding,
    pub inhibit: bool,
}

/// `virtual_server … { … }` after validation (reference 2.10).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServerCfg {
    pub key: VsKey,
    pub span: Span,
    pub family: IpFamily,
    /// `None` for fwmark services (the protocol is ignored there).
    pub protocol: Option<Protocol>,
    pub scheduler: String,
    pub flags: SvcFlags,
    pub forwarding: Forwarding,
    /// Seconds; `None` = not persistent.
    pub persistence_timeout: Option<u32>,
    pub persistence_granularity: Option<Granularity>,
    pub persistence_engine: Option<String>,
    pub delay_loop: Duration,
    pub connect_timeout: Duration,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    /// Default real server weight.
    pub weight: u32,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<ScriptCfg>,
    pub quorum_down: Option<ScriptCfg>,
    pub alpha: bool,
    pub omega: bool,
    pub inhibit_on_failure: bool,
    pub ha_suspend: bool,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    pub smtp_alert: bool,
    pub sorry_server: Option<SorryServerCfg>,
    pub real_servers: Vec<RealServerCfg>,
}

/// `real_server IP [PORT] { … }` after validation, inherited values
/// resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealServerCfg {
    pub addr: IpAddr,
    /// The port IPVS gets (the virtual server's unless NAT, 0 for fwmark).
    pub port: u16,
    pub span: Span,
    pub weight: u32,
    pub forwarding: Forwarding,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub inhibit_on_failure: bool,
    pub alpha: bool,
    pub smtp_alert: bool,
    /// Boxed: few real servers have notify scripts, and two inline
    /// [`ScriptCfg`]s were half the size of every real server (8 MiB of
    /// the model at 2,000 x 20 virtual servers).
    pub notify_up: Option<Box<ScriptCfg>>,
    pub notify_down: Option<Box<ScriptCfg>>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    pub connect_timeout: Duration,
    pub retry: Option<u32>,
    pub delay_loop: Duration,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    /// All must be up for the real server to be up; none = always up.
    pub checkers: Vec<CheckerCfg>,
}

/// The top-level LVS keywords, consulted by the top level after its own
/// table (see `global::ConfB`).
pub(crate) static KEYWORDS: Table<LvsConfig> = Table::new(&[
    Kw::block("SSL", "{ … }", blocks::ssl_open).tier(Tier::T3),
    Kw::block("virtual_server_group", "NAME { … }", blocks::vsg_open).tier(Tier::T3),
    Kw::block(
        "virtual_server",
        "IP [PORT] | fwmark N | group NAME { … }",
        blocks::vs_open,
    )
    .tier(Tier::T1),
]);

/// keepalived's `FMT_VS`: `[NAME]:0`, `FWM N` or `[IP]:proto:PORT`.
pub(crate) fn fmt_vs(key: &VsKey, proto: Option<Protocol>) -> String {
    match key {
        VsKey::Group { name } => format!("[{name}]:0"),
        VsKey::Fwmark { mark } => format!("FWM {mark}"),
        VsKey::Addr { addr, port } => format!("[{addr}]:{}:{port}", Protocol::name(proto)),
    }
}

/// keepalived's `FMT_RS`: `[IP]:proto:PORT` with the virtual server's
/// protocol.
pub(crate) fn fmt_rs(addr: &IpAddr, port: u16, proto: Option<Protocol>) -> String {
    format!("[{addr}]:{}:{port}", Protocol::name(proto))
}

/// keepalived's post-parse validation of the checker configuration
/// (`link_vsg_to_vs` + `validate_check_config` + the script security check),
/// turning the parsed virtual servers into [`LvsConfig::virtual_servers`].
/// Messages go through the config-error reporter with keepalived's class
/// (nearly all GENERAL_ERROR: `-t` status 5), except the `link_vsg_to_vs`
/// ones, which keepalived only logs.
pub fn validate(model: &mut Model, cx: &mut Cx) {
    let parsed = std::mem::take(&mut model.lvs.parsed);
    if parsed.is_empty() {
        // Nothing parsed since the last call: validating twice is harmless.
        return;
    }
    let ctx = blocks::ValidateCx {
        groups: &model.lvs.groups,
        track_files: &model.track_files,
        bfd_instances: &model.bfd_instances,
        smtp_alert: model.global.smtp_alert_checker.or(model.global.smtp_alert),
    };
    let mut out = Vec::with_capacity(parsed.len());
    for vs in parsed {
        if let Some(v) = blocks::validate_vs(vs, &ctx, cx) {
            out.push(v);
        }
    }
    model.lvs.virtual_servers = out;
    check_script_security(model, cx);
}

/// keepalived's `check_check_script_security`: running any existing check
/// script (MISC_CHECK, notify_up/down, quorum_up/down, the global and LVS
/// notify FIFO scripts) without `enable_script_security` is a SECURITY_ERROR
/// (`-t` status 6). Scripts that do not exist are disabled by keepalived and
/// do not count; they are only looked up when the load options ask for
/// scripts to be checked on disk.
fn check_script_security(model: &Model, cx: &mut Cx) {
    if model.global.enable_script_security || !cx.opts.check_scripts {
        return;
    }
    if model.lvs.virtual_servers.is_empty() {
        return;
    }
    let g = &model.global;
    let mut first: Option<Span> = None;
    for s in model
        .lvs
        .scripts()
        .chain(g.notify_fifo_script.iter())
        .chain(g.lvs_notify_fifo_script.iter())
    {
        if script_runnable(s) {
            first = Some(s.span);
            break;
        }
    }
    if let Some(span) = first {
        let d = crate::diag::Diagnostic::error(
            ErrClass::SecurityError,
            Some(span),
            "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.",
        )
        .with_hint("add `enable_script_security` to global_defs (and a `script_user`)");
        cx.diags.push(d);
    }
}

/// Whether the program of `s` exists as an executable file (PATH searched
/// for a bare name, as execvp does).
fn script_runnable(s: &ScriptCfg) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(prog) = s.args.first() else {
        return false;
    };
    let is_exec = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if prog.contains('/') {
        return is_exec(std::path::Path::new(prog));
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).any(|d| is_exec(&d.join(prog)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::LoadOptions;

    /// Parse `text` and validate its LVS part; the model (if it can run),
    /// every diagnostic, and the `-t` status.
    fn load(text: &str) -> (Option<Model>, Diagnostics, i32) {
        let opts = LoadOptions::default();
        let r = crate::check_str(text, &opts);
        let mut diags = r.diagnostics;
        let mut model = r.model;
        if let Some(m) = model.as_mut() {
            let mut cx = Cx::new(&mut diags, &opts);
            validate(m, &mut cx);
        }
        let st = diags.exit_status();
        (model, diags, st)
    }

    fn messages(d: &Diagnostics) -> Vec<String> {
        d.items.iter().map(|i| i.message.clone()).collect()
    }

    fn has(d: &Diagnostics, needle: &str) -> bool {
        d.items.iter().any(|i| i.message.contains(needle))
    }

    fn vs0(m: &Option<Model>) -> &VirtualServerCfg {
        let m = m.as_ref().expect("model");
        assert!(!m.lvs.virtual_servers.is_empty(), "no virtual server");
        &m.lvs.virtual_servers[0]
    }

    const DR: &str = "virtual_server 192.168.10.100 80 {
    delay_loop 6
    lb_algo rr
    lb_kind DR
    persistence_timeout 50
    protocol TCP
    real_server 192.168.10.21 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 3
            connect_port 8080
        }
    }
    real_server 192.168.10.22 {
        TCP_CHECK {
        }
    }
}
";

    #[test]
    fn lvs_dr_model_with_defaults() {
        let (m, d, st) = load(DR);
        assert_eq!(st, 0, "{:?}", messages(&d));
        let vs = vs0(&m);
        assert_eq!(
            vs.key,
            VsKey::Addr {
                addr: "192.168.10.100"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                port: 80
            }
        );
        assert_eq!(vs.scheduler, "rr");
        assert_eq!(vs.forwarding, Forwarding::Dr);
        assert_eq!(vs.protocol, Some(Protocol::Tcp));
        assert_eq!(vs.persistence_timeout, Some(50));
        assert_eq!(vs.family, IpFamily::Inet);
        assert_eq!(vs.delay_loop, Duration::from_secs(6));
        assert_eq!(vs.real_servers.len(), 2);
        let r0 = &vs.real_servers[0];
        assert_eq!((r0.weight, r0.port, r0.forwarding), (3, 80, Forwarding::Dr));
        let c = &r0.checkers[0];
        assert_eq!(c.kind, CheckerKind::Tcp);
        let conn = c.conn.as_ref().expect("conn");
        assert_eq!(conn.port, 8080);
        assert_eq!(conn.connect_timeout, Duration::from_secs(3));
        let t = c.timing.expect("timing");
        assert_eq!(t.retry, 1);
        assert_eq!(t.delay_before_retry, Duration::from_secs(1));
        assert_eq!(t.delay_loop, Duration::from_secs(6));
        assert_eq!(t.warmup, Duration::from_secs(6));
        // No port on the real server: DR takes the virtual server's, the
        // weight defaults to the virtual server's (1), connect_timeout 5 s.
        let r1 = &vs.real_servers[1];
        assert_eq!((r1.port, r1.weight), (80, 1));
        let conn = r1.checkers[0].conn.as_ref().expect("conn");
        assert_eq!(
            (conn.port, conn.connect_timeout),
            (0, Duration::from_secs(5))
        );
        // Serializable for `-d json` and snapshots.
        let j = serde_json::to_string(&m.as_ref().map(|m| &m.lvs)).unwrap_or_default();
        assert!(j.contains("\"scheduler\":\"rr\""), "{j}");
    }

    #[test]
    fn missing_protocol_scheduler_and_method_take_keepalived_defaults() {
        let (m, d, st) = load("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n }\n}\n");
        assert_eq!(st, 5);
        assert!(has(
            &d,
            "Virtual server [10.0.0.1]:none:80: no protocol set - defaulting to UDP"
        ));
        assert!(has(
            &d,
            "Virtual server [10.0.0.1]:udp:80: no scheduler set, setting default 'wlc'"
        ));
        assert!(has(
            &d,
            "Virtual server [10.0.0.1]:udp:80: no forwarding method set, setting default NAT"
        ));
        let vs = vs0(&m);
        assert_eq!(vs.protocol, Some(Protocol::Udp));
        assert_eq!(vs.scheduler, "wlc");
        assert_eq!(vs.forwarding, Forwarding::Nat);
        assert_eq!(vs.real_servers[0].forwarding, Forwarding::Nat);
    }

    #[test]
    fn timing_inherits_checker_then_real_then_virtual_server() {
        let (m, d, st) = load(
            "virtual_server 10.0.0.92 80 {
    delay_loop 20
    lb_algo rr
    lb_kind DR
    protocol TCP
    connect_timeout 7
    retry 4
    delay_before_retry 6
    warmup 3
    real_server 10.0.14.1 80 {
        retry 2
        delay_loop 10
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.0.14.2 80 {
        HTTP_GET {
            url {
                path /ok
            }
        }
        DNS_CHECK {
        }
        MISC_CHECK {
            misc_path \"/bin/true a 'b c'\"
        }
    }
}
",
        );
        assert_eq!(st, 0, "{:?}", messages(&d));
        let vs = vs0(&m);
        let t = vs.real_servers[0].checkers[0].timing.expect("timing");
        assert_eq!(t.retry, 2);
        assert_eq!(t.delay_loop, Duration::from_secs(10));
        assert_eq!(t.delay_before_retry, Duration::from_secs(6));
        assert_eq!(t.warmup, Duration::from_secs(3));
        let c = vs.real_servers[0].checkers[0].conn.as_ref().expect("conn");
        assert_eq!(c.connect_timeout, Duration::from_secs(1));
        let r1 = &vs.real_servers[1];
        assert_eq!(r1.checkers.len(), 3);
        // VS values win over the checker types' own defaults.
        for ch in &r1.checkers {
            let t = ch.timing.expect("timing");
            assert_eq!((t.retry, t.delay_before_retry), (4, Duration::from_secs(6)));
        }
        match &r1.checkers[0].kind {
            CheckerKind::Http(h) => {
                assert_eq!(h.urls[0].path, "/ok");
                assert_eq!(h.urls[0].status_codes, vec![(200, 299)]);
                assert_eq!(h.http_protocol, HttpProtocol::V1_0);
            }
            k => panic!("{k:?}"),
        }
        match &r1.checkers[2].kind {
            CheckerKind::Misc(mc) => assert_eq!(mc.script.args, ["/bin/true", "a", "b c"]),
            k => panic!("{k:?}"),
        }
        assert_eq!(
            r1.checkers[2].conn, None,
            "MISC_CHECK has no connection options"
        );
    }

    #[test]
    fn checker_type_defaults_without_inheritance() {
        let (m, d, st) = load(
            "virtual_server 10.0.0.1 53 {
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 10.0.0.2 53 {
        HTTP_GET {
            url {
                path /
            }
        }
        DNS_CHECK {
            type aaaa
        }
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
",
        );
        assert_eq!(st, 0, "{:?}", messages(&d));
        let c = &vs0(&m).real_servers[0].checkers;
        let t: Vec<_> = c.iter().map(|c| c.timing.expect("timing")).collect();
        assert_eq!(
            (t[0].retry, t[0].delay_before_retry),
            (1, Duration::from_secs(3))
        );
        assert_eq!(
            (t[1].retry, t[1].delay_before_retry),
            (3, DEFAULT_DELAY_LOOP)
        );
        assert_eq!(
            (t[2].retry, t[2].delay_before_retry),
            (0, Duration::from_secs(1))
        );
        match &c[1].kind {
            CheckerKind::Dns(dns) => {
                assert_eq!((dns.qtype.as_str(), dns.name.as_str()), ("AAAA", ""))
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn scheduler_flags_need_their_scheduler_and_ops_needs_udp() {
        let (m, d, st) = load(
            "virtual_server 10.0.0.1 80 {
    sh-port
    lb_algo rr
    hashed
    ops
    lb_kind DR
    protocol TCP
    real_server 10.0.0.2 80 {
    }
}
virtual_server 10.0.0.3 80 {
    lb_algo sh
    sh-port
    sh-fallback
    lb_kind DR
    protocol TCP
    real_server 10.0.0.4 80 {
    }
}
",
        );
        assert_eq!(st, 5);
        assert!(has(&d, "sh-port only applies to sh scheduler - ignoring"));
        assert!(has(&d, "hashed only applies to sh scheduler - ignoring"));
        assert!(has(&d, "one packet scheduling requires UDP - resetting"));
        let m = m.expect("model");
        assert_eq!(m.lvs.virtual_servers[0].flags, SvcFlags::default());
        let f = m.lvs.virtual_servers[1].flags;
        assert!(f.sched1 && f.sched2 && !f.one_packet);
    }

    #[test]
    fn fwmark_service_drops_protocol_and_real_server_ports() {
        let (m, d, st) = load(
            "virtual_server fwmark 145 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.35.1 80 {
        TCP_CHECK {
            connect_port 80
        }
    }
}
",
        );
        assert_eq!(st, 5);
        assert!(has(&d, "Warning: Virtual server FWM 145: protocol specified for fwmark - protocol will be ignored"));
        assert!(has(&d, "WARNING - fwmark virtual server FWM 145, real server [10.0.35.1]:none:80 has port specified - clearing"));
        let vs = vs0(&m);
        assert_eq!(vs.protocol, None);
        assert_eq!(vs.real_servers[0].port, 0);
        assert_eq!(vs.key, VsKey::Fwmark { mark: 145 });
    }

    #[test]
    fn virtual_server_groups() {
        let (m, d, st) = load(
            "virtual_server_group WEB {
    10.10.0.1 80
    10.10.0.10-20 80
    10.10.1.0/29 80
    10.10.2.1-10.10.2.9 80
    fwmark 7 inet
}
virtual_server_group BAD {
    10.10.0.20-10 80
    10.10.0.999 80
    10.10.1.1/29 80
    fwmark abc
}
virtual_server group WEB {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.10.1 80 {
    }
}
virtual_server group NONE {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.10.1 80 {
    }
}
",
        );
        assert_eq!(st, 5);
        for msg in [
            "Address range end is not greater than address range start - 10.10.0.20-10 - skipping",
            "Invalid virtual server group IP address 10.10.0.999 /port/80 - skipping",
            "Address mask bits not empty - 10.10.1.1/29 - skipping",
            "(BAD): fwmark 'abc' must be in [0, 4294967295] - ignoring",
            "virtual server group BAD has no entries - removing",
        ] {
            assert!(has(&d, msg), "{msg}: {:?}", messages(&d));
        }
        let m = m.expect("model");
        let g = m.lvs.group("WEB").expect("WEB");
        let ip = |s: &str| {
            s.parse::<IpAddr>()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        assert_eq!(
            g.entries,
            vec![
                VsgEntryCfg::Range {
                    first: ip("10.10.0.1"),
                    last: ip("10.10.0.1"),
                    port: 80
                },
                VsgEntryCfg::Range {
                    first: ip("10.10.0.10"),
                    last: ip("10.10.0.20"),
                    port: 80
                },
                VsgEntryCfg::Range {
                    first: ip("10.10.1.0"),
                    last: ip("10.10.1.7"),
                    port: 80
                },
                VsgEntryCfg::Range {
                    first: ip("10.10.2.1"),
                    last: ip("10.10.2.9"),
                    port: 80
                },
                VsgEntryCfg::Fwmark {
                    mark: 7,
                    family: Some(IpFamily::Inet)
                },
            ]
        );
        assert!(m.lvs.group("BAD").is_none());
        // The group NONE does not exist: keepalived only logs and drops it.
        assert_eq!(m.lvs.virtual_servers.len(), 1);
    }

    #[test]
    fn invalid_addresses_skip_their_block_quietly() {
        let (m, d, st) = load(
            "virtual_server 10.0.0.300 80 {
    bogus_keyword
    real_server 10.0.43.1 70000 {
        weight 1
    }
}
virtual_server 10.0.0.1 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.43.1 70000 {
        weight x
    }
    real_server 10.0.43.2 80 {
    }
}
",
        );
        assert_eq!(st, 5);
        let msgs = messages(&d);
        assert!(
            has(
                &d,
                "Invalid virtual server IP address/port 10.0.0.300/80 - skipping"
            ),
            "{msgs:?}"
        );
        assert!(
            has(&d, "number '70000' outside range [1, 65535]"),
            "{msgs:?}"
        );
        assert!(
            has(
                &d,
                "Invalid real server ip address/port 10.0.43.1/70000 - skipping"
            ),
            "{msgs:?}"
        );
        assert!(!has(&d, "bogus_keyword"), "{msgs:?}");
        assert!(!has(&d, "invalid number 'x'"), "{msgs:?}");
        assert_eq!(vs0(&m).real_servers.len(), 1);
    }

    #[test]
    fn missing_parameter_exits_2() {
        let (_m, d, st) = load("virtual_server 10.0.0.161 80 {\n lb_algo\n lb_kind DR\n}\n");
        assert_eq!(st, 2, "{:?}", messages(&d));
        assert!(has(&d, "missing a parameter after keyword `lb_algo`"));
    }

    #[test]
    fn quorum_and_hysteresis_are_bounded() {
        let (m, d, _st) = load(
            "virtual_server 10.0.0.152 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    quorum 10
    hysteresis 5
    real_server 10.0.42.1 80 {
        weight 1
    }
    real_server 10.0.42.2 80 {
        weight 2
    }
}
",
        );
        assert!(has(&d, "Warning - quorum 10 for [10.0.0.152]:tcp:80 exceeds total weight of real servers 3, reducing quorum to 3"));
        assert!(has(&d, "hysteresis 5 >= quorum 3; setting hysteresis to 2"));
        let vs = vs0(&m);
        assert_eq!((vs.quorum, vs.hysteresis), (3, 2));
    }

    #[test]
    fn tunnel_options() {
        let (m, d, st) = load(
            "virtual_server 10.0.0.95 80 {
    lb_algo rr
    lb_kind TUN type gue port 6080 csum
    protocol TCP
    real_server 10.0.17.1 80 {
    }
    real_server 10.0.17.2 80 {
        lvs_method TUN type gue
    }
    real_server 10.0.17.3 80 {
        lvs_method TUN type ipip remcsum
    }
}
",
        );
        assert_eq!(st, 5);
        assert!(has(
            &d,
            "gue tunnels require port, otherwise cannot have port."
        ));
        assert!(has(&d, "ipip tunnels do not support checksum option."));
        let vs = vs0(&m);
        let gue = Forwarding::Tun {
            tunnel_type: TunnelType::Gue,
            port: 6080,
            csum: TunnelCsum::Csum,
        };
        assert_eq!(vs.forwarding, gue);
        assert_eq!(vs.real_servers[0].forwarding, gue);
        // A rejected option keeps the method, with the tunnel parameters it
        // had (inherited from the virtual server when the block opened).
        assert_eq!(vs.real_servers[1].forwarding, gue);
    }

    #[test]
    fn deprecated_nb_get_retry_works_with_an_error_class_message() {
        let (m, d, st) = load(
            "virtual_server 10.0.0.110 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.21.1 80 {
        HTTP_GET {
            url {
                path /
                status_code 200 300-302 999
            }
            nb_get_retry 7
        }
        HTTP_GET {
            url {
                status_code 200
            }
        }
    }
}
",
        );
        assert_eq!(st, 5);
        assert!(has(&d, "nb_get_retry is deprecated - please use 'retry'"));
        assert!(has(&d, "Invalid HTTP_GET status code '999'"));
        assert!(has(&d, "HTTP/SSL_GET checker url has no path - ignoring"));
        assert!(has(
            &d,
            "HTTP/SSL_GET checker has no urls specified - ignoring"
        ));
        let rs = &vs0(&m).real_servers[0];
        assert_eq!(rs.checkers.len(), 1);
        assert_eq!(rs.checkers[0].timing.map(|t| t.retry), Some(7));
        match &rs.checkers[0].kind {
            CheckerKind::Http(h) => {
                assert_eq!(h.urls[0].status_codes, vec![(200, 200), (300, 302)])
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn sorry_server_and_family_checks() {
        let (m, d, st) = load(
            "virtual_server 10.0.0.90 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    sorry_server_inhibit
    sorry_server 10.0.12.100 8080
    sorry_server_inhibit
    sorry_server_lvs_method NAT
    real_server 2001:db8::1 80 {
    }
    real_server 10.0.12.1 80 {
    }
}
",
        );
        assert_eq!(st, 5);
        assert!(has(
            &d,
            "Ignoring sorry_server inhibit used before or without sorry_server"
        ));
        assert!(has(&d, "Address family of virtual server and real server 2001:db8::1 don't match - skipping real server."));
        let vs = vs0(&m);
        assert_eq!(vs.real_servers.len(), 1);
        let s = vs.sorry_server.as_ref().expect("sorry");
        assert_eq!(
            (s.port, s.forwarding, s.inhibit),
            (8080, Forwarding::Nat, true)
        );
    }

    #[test]
    fn ssl_block_and_unknown_checker_keywords() {
        let (m, d, st) = load(
            "SSL {
    password secret
    ca /etc/ca.pem
}
virtual_server 10.0.0.1 443 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.0.2 443 {
        TCP_CHECK {
            nb_get_retry 3
            connect_timout 3
        }
    }
}
",
        );
        assert_eq!(st, 5);
        assert!(has(&d, "Unknown keyword 'nb_get_retry'"));
        assert!(has(&d, "Unknown keyword 'connect_timout'"));
        let m = m.expect("model");
        let ssl = m.lvs.ssl.as_ref().expect("ssl");
        assert_eq!(ssl.password.as_deref(), Some("secret"));
        assert_eq!(ssl.ca.as_deref(), Some("/etc/ca.pem"));
    }

    #[test]
    fn misc_check_needs_a_default_user_under_script_security() {
        let text = "global_defs {
    enable_script_security
}
virtual_server 10.0.0.1 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.0.2 80 {
        MISC_CHECK {
            misc_path \"/bin/true a\"
        }
        MISC_CHECK {
            misc_path /bin/true
            user root
        }
    }
}
";
        let opts = LoadOptions {
            check_scripts: true,
            ..Default::default()
        };
        let r = crate::check_str(text, &opts);
        let d = r.diagnostics;
        let m = r.model.expect("model");
        let n = m.lvs.virtual_servers[0].real_servers[0].checkers.len();
        if crate::user_exists("keepalived_script") {
            assert_eq!(n, 2);
        } else {
            assert!(has(
                &d,
                "Unable to set default user keepalived_script for script"
            ));
            assert!(has(
                &d,
                "Unable to set default user for misc script '/bin/true' 'a' - removing"
            ));
            // The one with its own user stays.
            assert_eq!(n, 1);
            assert_eq!(d.exit_status(), 5);
        }
    }

    /// The model the ipvs and checkers crates consume, for the reference
    /// LVS-DR director (fixtures/configs/176-lvs-seed-dr-full.conf).
    #[test]
    fn seed_lvs_dr_model_snapshot() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/configs/176-lvs-seed-dr-full.conf");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let (m, d, st) = load(&text);
        assert_eq!(st, 0, "{:?}", messages(&d));
        let m = m.expect("model");
        insta::assert_json_snapshot!("seed_lvs_dr", m.lvs);
    }

    #[test]
    fn no_real_servers_drops_the_virtual_server() {
        let (m, d, st) =
            load("virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n}\n");
        assert_eq!(st, 5);
        assert!(has(
            &d,
            "Virtual server [10.0.0.1]:tcp:80 has no real servers - ignoring"
        ));
        assert!(m.is_some_and(|m| m.lvs.virtual_servers.is_empty()));
    }
}

#[cfg(test)]
mod corpus {
    //! The LVS-only configurations of the parity corpus (no VRRP, so no
    //! interface dependence) must get keepalived 2.2.7's recorded `-t`
    //! status from the loader plus [`validate`].
    use super::*;
    use crate::diag::Diagnostics;
    use crate::LoadOptions;
    use std::path::Path;

    #[test]
    fn lvs_only_fixtures_get_keepalived_statuses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/configs");
        let Ok(tsv) = std::fs::read_to_string(dir.join("expected.tsv")) else {
            panic!("fixtures/configs/expected.tsv missing");
        };
        let opts = LoadOptions {
            check_scripts: true,
            ..Default::default()
        };
        let mut checked = 0;
        let mut bad = vec![];
        for line in tsv.lines().filter(|l| !l.starts_with('#')) {
            let Some((file, status)) = line.split_once('\t') else {
                continue;
            };
            let Ok(want) = status.trim().parse::<i32>() else {
                continue;
            };
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // keepalived itself crashes on some (status > 128); VRRP
            // configurations depend on interfaces, checked elsewhere.
            if want > 128 || text.contains("vrrp_instance") || !text.contains("virtual_server") {
                continue;
            }
            let r = crate::check(&path, &opts);
            let mut diags: Diagnostics = r.diagnostics;
            if let Some(mut m) = r.model {
                // FILE_CHECK and BFD_CHECK refer to top-level blocks read by
                // the VRRP side of the loader; skip the file while that side
                // does not read them yet (it reports them as unknown).
                let unread = (text.contains("\ntrack_file ") && m.track_files.is_empty())
                    || (text.contains("\nbfd_instance ") && m.bfd_instances.is_empty());
                if unread {
                    eprintln!(
                        "{file}: track_file/bfd_instance not read by the loader yet, skipped"
                    );
                    continue;
                }
                let mut cx = Cx::new(&mut diags, &opts);
                validate(&mut m, &mut cx);
            }
            checked += 1;
            let got = diags.exit_status();
            if got != want {
                let msgs: Vec<_> = diags.items.iter().map(|d| d.message.clone()).collect();
                bad.push(format!("{file}: ours {got}, keepalived {want}: {msgs:?}"));
            }
        }
        assert!(checked >= 40, "only {checked} LVS fixtures found");
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
