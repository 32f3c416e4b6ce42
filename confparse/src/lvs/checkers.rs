//! The health-checker blocks inside `real_server` (reference 2.11):
//! TCP_CHECK, HTTP_GET/SSL_GET (with `url` blocks), MISC_CHECK, SMTP_CHECK
//! (with the deprecated `host` blocks), DNS_CHECK, UDP_CHECK, PING_CHECK,
//! FILE_CHECK and BFD_CHECK, with keepalived 2.2.7's keywords, messages and
//! end-of-block checks (check_api.c and check_*.c), and the resolution of
//! the timing values checker -> real server -> virtual server -> the
//! checker type's default (`validate_check_config`).

use super::blocks::{
    general_at, opt_bool, sockaddr, timer_arg, unsigned_arg, RsB, ValidateCx,
    CONNECT_TIMEOUT_MAX_US, TIMER_MAX_US,
};
use super::{fmt_rs, Protocol, RealServerCfg, WEIGHT_LIMIT};
use crate::keywords::{dispatch, Block, Cx, Dispatch, Kw, Table, Tier};
use crate::lexer::LogicalLine;
use crate::model::ScriptCfg;
use crate::source::Span;
use serde::Serialize;
use std::net::IpAddr;
use std::time::Duration;

/// The checker keywords of a `real_server` block.
pub(crate) const CHECKER_NAMES: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

// ---------------------------------------------------------------------------
// The model

/// One health check of a real server, all values resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckerCfg {
    pub kind: CheckerKind,
    pub span: Span,
    /// `None` for FILE_CHECK and BFD_CHECK, which keepalived does not run
    /// on a timer.
    pub timing: Option<CheckerTiming>,
    /// Where to connect; `None` for MISC_CHECK, FILE_CHECK and BFD_CHECK.
    pub conn: Option<ConnCfg>,
}

/// Timing of a checker (checker value, else real server, else virtual
/// server, else the checker type's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckerTiming {
    /// Failed attempts tolerated before the real server is marked down
    /// (default 1; DNS_CHECK 3; MISC_CHECK 0).
    pub retry: u32,
    /// Default 1 s; HTTP_GET/SSL_GET 3 s; DNS_CHECK the delay_loop.
    pub delay_before_retry: Duration,
    pub delay_loop: Duration,
    /// Upper bound of the random delay before the first check; defaults to
    /// the delay_loop.
    pub warmup: Duration,
    /// Start with the real server down until the first success.
    pub alpha: bool,
    /// `None` = the global `checker_log_all_failures`.
    pub log_all_failures: Option<bool>,
}

/// Connection options of a network checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnCfg {
    /// `connect_ip`, else the real server's address.
    pub dst: IpAddr,
    /// `connect_port`, else the real server's port as written (0 if none).
    pub port: u16,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    pub connect_timeout: Duration,
    /// SO_MARK on the check socket.
    pub fwmark: Option<u32>,
}

/// What a checker checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CheckerKind {
    Tcp,
    Http(HttpCheckCfg),
    Ssl(HttpCheckCfg),
    /// Boxed: the script makes it the largest kind by far, and every
    /// checker of every kind was as large as it.
    Misc(Box<MiscCheckCfg>),
    Smtp(SmtpCheckCfg),
    Dns(DnsCheckCfg),
    Udp(UdpCheckCfg),
    Ping,
    File(FileCheckCfg),
    Bfd(BfdCheckCfg),
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HttpProtocol {
    #[serde(rename = "1.0")]
    V1_0,
    /// HTTP/1.0 with `Connection: close`.
    #[serde(rename = "1.0C")]
    V1_0C,
    #[serde(rename = "1.1")]
    V1_1,
}

/// HTTP_GET / SSL_GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheckCfg {
    /// All must pass.
    pub urls: Vec<UrlCfg>,
    pub http_protocol: HttpProtocol,
    /// The checker's `virtualhost`, else the real server's, else the
    /// virtual server's (a `url`'s own one wins over all).
    pub virtualhost: Option<String>,
    pub fast_recovery: bool,
    pub enable_sni: bool,
}

/// One `url { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlCfg {
    pub path: String,
    /// Lower-case hex MD5 of the body.
    pub digest: Option<String>,
    /// Inclusive ranges; default 200-299.
    pub status_codes: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    pub regex: Option<String>,
    pub regex_no_match: bool,
    pub regex_options: Vec<String>,
    pub regex_min_offset: Option<u64>,
    pub regex_max_offset: Option<u64>,
}

/// MISC_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MiscCheckCfg {
    pub script: ScriptCfg,
    /// `misc_timeout`; `None` = the checker's delay_loop.
    pub timeout: Option<Duration>,
    /// Exit status 2-255 sets the weight to status - 2.
    pub dynamic: bool,
}

/// SMTP_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpCheckCfg {
    pub helo_name: String,
}

/// DNS_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsCheckCfg {
    /// Query type, upper case (default SOA).
    pub qtype: String,
    /// Query name (default "", the root).
    pub name: String,
}

/// UDP_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdpCheckCfg {
    pub payload: Vec<u8>,
    pub require_reply: bool,
    pub reply: Vec<u8>,
    /// Per byte: bits set where the reply pattern had an `X` wildcard.
    pub reply_mask: Vec<u8>,
    pub min_reply_length: u16,
    pub max_reply_length: u16,
}

/// FILE_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheckCfg {
    pub track_file: String,
    /// The FILE_CHECK's weight, else the track_file's.
    pub weight: i32,
    pub reverse: bool,
}

/// BFD_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BfdCheckCfg {
    pub name: String,
}

// ---------------------------------------------------------------------------
// Parse states

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TimingB {
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    delay_loop: Option<Duration>,
    alpha: Option<bool>,
    log_all_failures: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConnB {
    dst: Option<IpAddr>,
    port: u16,
    bindto: Option<IpAddr>,
    bind_port: Option<u16>,
    bind_if: Option<String>,
    connect_timeout: Option<Duration>,
    fwmark: Option<u32>,
}

impl ConnB {
    /// keepalived's `queue_checker`: connect to the real server.
    fn initial(addr: IpAddr, port: u16) -> Self {
        ConnB {
            dst: Some(addr),
            port,
            bindto: None,
            bind_port: None,
            bind_if: None,
            connect_timeout: None,
            fwmark: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpB {
    urls: Vec<UrlCfg>,
    http_protocol: HttpProtocol,
    virtualhost: Option<String>,
    fast_recovery: bool,
    enable_sni: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KindB {
    Tcp,
    Http {
        ssl: bool,
        h: Box<HttpB>,
    },
    Misc {
        script: Option<Box<ScriptCfg>>,
        timeout: Option<Duration>,
        dynamic: bool,
    },
    Smtp {
        helo: Option<String>,
        /// Deprecated `host { … }` blocks: one more connection each.
        hosts: Vec<ConnB>,
    },
    Dns {
        qtype: String,
        name: Option<String>,
    },
    Udp(Box<UdpCheckCfg>),
    Ping,
    File {
        track_file: Option<(String, Span)>,
        weight: Option<(i32, bool)>,
    },
    Bfd {
        name: Option<String>,
        failed: bool,
    },
}

/// A checker block being read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckB {
    kind: KindB,
    span: Span,
    timing: TimingB,
    conn: ConnB,
    rs_addr: IpAddr,
    rs_port: u16,
    /// The virtual server's protocol, for `FMT_RS` in messages.
    vs_protocol: Option<Protocol>,
}

impl CheckB {
    fn has_conn(&self) -> bool {
        !matches!(
            self.kind,
            KindB::Misc { .. } | KindB::File { .. } | KindB::Bfd { .. }
        )
    }
}

static EMPTY: Table<CheckB> = Table::new(&[]);

impl Block for CheckB {
    const NAME: &'static str = "checker";
    fn table() -> &'static Table<Self> {
        &EMPTY
    }
    fn fallback(&mut self, cx: &mut Cx, line: &LogicalLine) -> Option<Dispatch> {
        // install_checker_common_keywords(true/false) then the type's own.
        let own: &'static Table<CheckB> = match self.kind {
            KindB::Tcp | KindB::Ping => &EMPTY,
            KindB::Http { .. } => &HTTP,
            KindB::Misc { .. } => &MISC,
            KindB::Smtp { .. } => &SMTP,
            KindB::Dns { .. } => &DNS,
            KindB::Udp(_) => &UDP,
            KindB::File { .. } => {
                return known(dispatch(&FILE, self, cx, line));
            }
            KindB::Bfd { .. } => {
                return known(dispatch(&BFD, self, cx, line));
            }
        };
        if self.has_conn() {
            if let Some(d) = known(dispatch(&CONN, &mut self.conn, cx, line)) {
                return Some(d);
            }
        }
        if let Some(d) = known(dispatch(&TIMING, &mut self.timing, cx, line)) {
            return Some(d);
        }
        known(dispatch(own, self, cx, line))
    }
    fn fallback_names() -> Vec<&'static str> {
        let mut v: Vec<&'static str> = CONN.names().chain(TIMING.names()).collect();
        for t in [&HTTP, &MISC, &SMTP, &DNS, &UDP, &FILE, &BFD] {
            v.extend(t.names());
        }
        v
    }
}

fn known(d: Dispatch) -> Option<Dispatch> {
    match d {
        Dispatch::Unknown => None,
        d => Some(d),
    }
}

/// A checker keyword inside `real_server` opens its block.
pub(crate) fn dispatch_checker(rs: &mut RsB, cx: &mut Cx, l: &LogicalLine) -> Option<Dispatch> {
    let kind = match l.keyword() {
        "TCP_CHECK" => KindB::Tcp,
        "HTTP_GET" | "SSL_GET" => KindB::Http {
            ssl: l.keyword() == "SSL_GET",
            h: Box::new(HttpB {
                urls: vec![],
                http_protocol: HttpProtocol::V1_0,
                virtualhost: None,
                fast_recovery: false,
                enable_sni: false,
            }),
        },
        "MISC_CHECK" => KindB::Misc {
            script: None,
            timeout: None,
            dynamic: false,
        },
        "SMTP_CHECK" => KindB::Smtp {
            helo: None,
            hosts: vec![],
        },
        "DNS_CHECK" => KindB::Dns {
            qtype: "SOA".into(),
            name: None,
        },
        "UDP_CHECK" => KindB::Udp(Box::new(UdpCheckCfg {
            payload: vec![],
            require_reply: false,
            reply: vec![],
            reply_mask: vec![],
            min_reply_length: 0,
            max_reply_length: u16::from(u8::MAX),
        })),
        "PING_CHECK" => KindB::Ping,
        "FILE_CHECK" => KindB::File {
            track_file: None,
            weight: None,
        },
        "BFD_CHECK" => KindB::Bfd {
            name: None,
            failed: false,
        },
        _ => return None,
    };
    let st = CheckB {
        kind,
        span: l.span,
        timing: TimingB::default(),
        conn: ConnB::initial(rs.addr, rs.port),
        rs_addr: rs.addr,
        rs_port: rs.port,
        vs_protocol: rs.vs_protocol,
    };
    Some(cx.open(st, checker_close))
}

/// keepalived's `cmd_str`: each word in single quotes, blank-separated
/// (a leading `<`/`>` redirection word is left bare).
fn cmd_str(args: &[String]) -> String {
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 && (a.starts_with('<') || a.starts_with('>')) {
                a.clone()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The end handler of every checker type: drop what keepalived dequeues.
fn checker_close(rs: &mut RsB, c: CheckB, cx: &mut Cx) {
    // check_conn_opts: an IPv6 link-local target needs bind_if.
    if c.has_conn() {
        if let Some(IpAddr::V6(d)) = c.conn.dst {
            if d.segments()[0] & 0xffc0 == 0xfe80 && c.conn.bind_if.is_none() {
                cx.general(
                    c.span,
                    format!("Checker link local address {d} requires a bind_if"),
                );
                return;
            }
        }
    }
    match &c.kind {
        KindB::Http { h, .. } if h.urls.is_empty() => {
            cx.general(
                c.span,
                "HTTP/SSL_GET checker has no urls specified - ignoring",
            );
            return;
        }
        KindB::Misc { script: None, .. } => {
            cx.general(
                c.span,
                "No script path has been specified for MISC_CHECKER - skipping",
            );
            return;
        }
        // misc_end_handler / get_default_script_user: with script security
        // on and neither `user` nor `script_user`, the default user
        // keepalived_script must exist, else the checker is removed (the
        // same rule and messages as the back end's vrrp_script).
        KindB::Misc {
            script: Some(sc), ..
        } if sc.user.is_none()
            && !cx.is_defined("script_user", "")
            && cx.is_defined("script_security", "")
            && cx.opts.check_scripts
            && !crate::user_exists("keepalived_script") =>
        {
            if cx.define("!default_user_failed", "") {
                cx.general(
                    sc.span,
                    "Unable to set default user keepalived_script for script",
                );
            }
            cx.general(
                c.span,
                format!(
                    "Unable to set default user for misc script {} - removing",
                    cmd_str(&sc.args)
                ),
            );
            return;
        }
        KindB::Udp(u) if u.min_reply_length > u.max_reply_length => {
            // Reported, but the checker is kept (it will always fail).
            cx.general(
                c.span,
                format!(
                    "UDP_CHECK min_reply length {} > max_reply_length {} - will always fail",
                    u.min_reply_length, u.max_reply_length
                ),
            );
        }
        KindB::File {
            track_file: None, ..
        } => {
            cx.general(c.span, "FILE_CHECK has no track_file specified - ignoring");
            return;
        }
        KindB::Bfd { failed: true, .. } => return,
        KindB::Bfd { name: None, .. } => {
            cx.general(
                c.span,
                format!(
                    "({}) No name has been specified for BFD_CHECKER - skipping",
                    fmt_rs(&c.rs_addr, c.rs_port, c.vs_protocol)
                ),
            );
            return;
        }
        _ => {}
    }
    // Nearly every real server has one checker: a first push would reserve
    // four (~1.5 KiB wasted per real server, a quarter of `-t`'s memory on
    // 40k real servers); later pushes grow as usual.
    if rs.checkers.is_empty() {
        rs.checkers.reserve_exact(1);
    }
    rs.checkers.push(c);
}

// ---------------------------------------------------------------------------
// Common keywords (install_checker_common_keywords)

type KC = Kw<ConnB>;
type KT = Kw<TimingB>;

static CONN: Table<ConnB> = Table::new(&[
    KC::set("connect_ip", "IP", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match sockaddr(cx, &w.text, None) {
            None => cx.general(
                w.span,
                format!("Invalid connect_ip address {} - ignoring", w.text),
            ),
            Some((a, _)) => {
                if s.bindto.is_some_and(|b| b.is_ipv4() != a.is_ipv4()) {
                    cx.general(
                        w.span,
                        format!(
                            "connect_ip address {} does not match address family of bindto - skipping",
                            w.text
                        ),
                    );
                    s.dst = None;
                } else {
                    s.dst = Some(a);
                }
            }
        }
    })
    .tier(Tier::T3),
    KC::set("connect_port", "PORT", |s, cx, l| {
        if let Some(p) = unsigned_arg(cx, l, 1, 65535, |t| {
            format!("Invalid checker connect_port '{t}'")
        }) {
            s.port = u16::try_from(p).unwrap_or(0);
        }
    }),
    KC::set("bindto", "IP", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        match sockaddr(cx, &w.text, None) {
            None => cx.general(
                w.span,
                format!("Invalid bindto address {} - ignoring", w.text),
            ),
            Some((a, _)) => {
                if s.dst.is_some_and(|d| d.is_ipv4() != a.is_ipv4()) {
                    cx.general(
                        w.span,
                        format!(
                            "bindto address {} does not match address family of connect_ip - skipping",
                            w.text
                        ),
                    );
                    s.bindto = None;
                } else {
                    s.bindto = Some(a);
                }
            }
        }
    })
    .tier(Tier::T3),
    KC::set("bind_port", "PORT", |s, cx, l| {
        if let Some(p) = unsigned_arg(cx, l, 1, 65535, |t| {
            format!("Invalid checker bind_port '{t}'")
        }) {
            s.bind_port = u16::try_from(p).ok();
        }
    })
    .tier(Tier::T3),
    KC::set("bind_if", "IFNAME", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        // IFNAMSIZ is 16 with the NUL.
        if w.text.len() > 15 {
            cx.general(
                w.span,
                format!("Interface name {} is too long - ignoring", w.text),
            );
            return;
        }
        s.bind_if = Some(w.text.to_string());
    })
    .tier(Tier::T3),
    KC::set("connect_timeout", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 1, CONNECT_TIMEOUT_MAX_US, |t| {
            format!("connect_timeout {t} invalid - ignoring")
        }) {
            s.connect_timeout = Some(d);
        }
    })
    .tier(Tier::T1),
    KC::set("fwmark", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, u32::MAX, |t| {
            format!("Invalid fwmark connection value '{t}'")
        }) {
            s.fwmark = Some(v);
        }
    })
    .tier(Tier::T3),
]);

static TIMING: Table<TimingB> = Table::new(&[
    KT::set("retry", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, u32::MAX, |t| {
            format!("Invalid retry connection value '{t}'")
        }) {
            s.retry = Some(v);
        }
    }),
    KT::set("delay_before_retry", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 0, TIMER_MAX_US, |t| {
            format!("Invalid delay_before_retry connection value '{t}'")
        }) {
            s.delay_before_retry = Some(d);
        }
    }),
    KT::set("warmup", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 0, TIMER_MAX_US, |t| {
            format!("Invalid warmup connection value '{t}'")
        }) {
            s.warmup = Some(d);
        }
    })
    .tier(Tier::T3),
    KT::set("delay_loop", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 1, TIMER_MAX_US, |t| {
            format!("delay_loop '{t}' is invalid - ignoring")
        }) {
            s.delay_loop = Some(d);
        }
    })
    .tier(Tier::T3),
    KT::set("alpha", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid alpha parameter") {
            s.alpha = Some(b);
        }
    })
    .tier(Tier::T3),
    KT::set("log_all_failures", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid log_all_failures parameter") {
            s.log_all_failures = Some(b);
        }
    })
    .tier(Tier::T3),
]);

// ---------------------------------------------------------------------------
// HTTP_GET / SSL_GET

type KK = Kw<CheckB>;

fn http(c: &mut CheckB) -> Option<&mut HttpB> {
    match &mut c.kind {
        KindB::Http { h, .. } => Some(h),
        _ => None,
    }
}

static HTTP: Table<CheckB> = Table::new(&[
    KK::set("nb_get_retry", "N", |s, cx, l| {
        // Deprecated, still works; keepalived's message is error class.
        cx.general(l.span, "nb_get_retry is deprecated - please use 'retry'");
        if let Some(v) = unsigned_arg(cx, l, 0, u32::MAX, |t| {
            format!("Invalid nb_get_retry value '{t}'")
        }) {
            s.timing.retry = Some(v);
        }
    }),
    KK::set("virtualhost", "NAME", |s, cx, l| match l.words.get(1) {
        Some(w) => {
            if let Some(h) = http(s) {
                h.virtualhost = Some(w.text.to_string());
            }
        }
        None => cx.general(l.span, "HTTP_GET virtualhost name missing"),
    })
    .tier(Tier::T3),
    KK::set("http_protocol", "1.0|1.0C|1.1", |s, cx, l| {
        let Some(w) = l.words.get(1) else {
            cx.general(l.span, "Missing http_protocol version");
            return;
        };
        let p = match w.text.as_str() {
            "1.0" => HttpProtocol::V1_0,
            "1.1" => HttpProtocol::V1_1,
            "1.0C" | "1.0c" => HttpProtocol::V1_0C,
            x => {
                cx.general(w.span, format!("Invalid http_protocol version {x}"));
                return;
            }
        };
        if let Some(h) = http(s) {
            h.http_protocol = p;
        }
    })
    .tier(Tier::T3),
    KK::set("enable_sni", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid enable_sni parameter") {
            if let Some(h) = http(s) {
                h.enable_sni = b;
            }
        }
    })
    .tier(Tier::T3),
    KK::set("fast_recovery", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid fast_recovery parameter") {
            if let Some(h) = http(s) {
                h.fast_recovery = b;
            }
        }
    })
    .tier(Tier::T3),
    KK::block("url", "{ … }", |_s, cx, _l| {
        cx.open(UrlB::default(), url_close)
    }),
]);

/// A `url` block being read.
#[derive(Default)]
struct UrlB {
    path: Option<String>,
    digest: Option<String>,
    status: Vec<(u16, u16)>,
    virtualhost: Option<String>,
    regex: Option<String>,
    regex_no_match: bool,
    regex_options: Vec<String>,
    regex_min_offset: Option<u64>,
    regex_max_offset: Option<u64>,
    span: Option<Span>,
}

impl Block for UrlB {
    const NAME: &'static str = "url";
    fn table() -> &'static Table<Self> {
        &URL
    }
}

/// keepalived's `url_check`.
fn url_close(c: &mut CheckB, u: UrlB, cx: &mut Cx) {
    let Some(path) = u.path else {
        cx.general(
            u.span.unwrap_or(c.span),
            "HTTP/SSL_GET checker url has no path - ignoring",
        );
        return;
    };
    if let Some(h) = http(c) {
        h.urls.push(UrlCfg {
            path,
            digest: u.digest,
            status_codes: if u.status.is_empty() {
                vec![(200, 299)]
            } else {
                u.status
            },
            virtualhost: u.virtualhost,
            regex: u.regex,
            regex_no_match: u.regex_no_match,
            regex_options: u.regex_options,
            regex_min_offset: u.regex_min_offset,
            regex_max_offset: u.regex_max_offset,
        });
    }
}

type KU = Kw<UrlB>;

fn regex_offset(cx: &mut Cx, l: &LogicalLine, what: &str) -> Option<u64> {
    if l.words.len() != 2 {
        cx.info(
            l.span,
            format!("Missing or too may options for regex_{what}_offset"),
        );
        return None;
    }
    let w = &l.words[1];
    match w.text.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => {
            cx.info(
                w.span,
                format!("Invalid regex_{what}_offset {} specified", w.text),
            );
            None
        }
    }
}

static URL: Table<UrlB> = Table::new(&[
    KU::set("path", "PATH", |s, cx, l| {
        s.span.get_or_insert(l.span);
        if let Some(w) = cx.arg(l, 1) {
            s.path = Some(w.text.to_string());
        }
    }),
    KU::set("digest", "MD5HEX", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let d = &w.text;
        if s.digest.is_some() {
            cx.general(w.span, format!("Digest '{d}' is a duplicate"));
            return;
        }
        if d.len() != 32 {
            cx.general(
                w.span,
                format!(
                    "digest '{d}' character length should be 32 rather than {}",
                    d.len()
                ),
            );
            return;
        }
        // keepalived converts pairs from the end and reports the last bad
        // pair it meets, i.e. the last one in the string order.
        if let Some(i) = (0..16).rev().find(|i| {
            !d.as_bytes()[2 * i..2 * i + 2]
                .iter()
                .all(u8::is_ascii_hexdigit)
        }) {
            cx.general(
                w.span,
                format!(
                    "Unable to interpret hex digit in '{d}' at offset {}/{}",
                    2 * i,
                    2 * i + 1
                ),
            );
            return;
        }
        s.digest = Some(d.to_ascii_lowercase().into());
    })
    .tier(Tier::T3),
    KU::set("status_code", "N|N-M …", |s, cx, l| {
        for w in l.words.iter().skip(1) {
            let t = w.text.as_str();
            let (a, b) = match t.split_once('-') {
                Some((a, b)) => (a, b),
                None => (t, t),
            };
            let range = (a.parse::<u16>(), b.parse::<u16>());
            match range {
                (Ok(min), Ok(max))
                    if (100..=599).contains(&min) && (100..=599).contains(&max) && min <= max =>
                {
                    s.status.push((min, max));
                }
                _ => cx.general(w.span, format!("Invalid HTTP_GET status code '{t}'")),
            }
        }
    }),
    KU::set("virtualhost", "NAME", |s, cx, l| match l.words.get(1) {
        Some(w) => s.virtualhost = Some(w.text.to_string()),
        None => cx.general(l.span, "Missing HTTP_GET virtualhost name"),
    })
    .tier(Tier::T3),
    KU::set("regex", "PATTERN", |s, cx, l| {
        // The raw line re-split with quotes and escapes (reference 1.3).
        let rest = l
            .raw
            .trim_start()
            .strip_prefix("regex")
            .unwrap_or("")
            .trim();
        let words = crate::shell::split(rest).unwrap_or_default();
        if words.len() != 1 {
            cx.info(l.span, "regex missing or too many fields");
            return;
        }
        s.regex = words.into_iter().next();
    })
    .tier(Tier::T3),
    KU::set("regex_no_match", "", |s, _cx, _l| s.regex_no_match = true).tier(Tier::T3),
    KU::set("regex_options", "OPTION …", |s, _cx, l| {
        s.regex_options
            .extend(l.words.iter().skip(1).map(|w| w.text.to_string()));
    })
    .tier(Tier::T3),
    KU::set("regex_min_offset", "N", |s, cx, l| {
        s.regex_min_offset = regex_offset(cx, l, "min");
    })
    .tier(Tier::T3),
    KU::set("regex_max_offset", "N", |s, cx, l| {
        s.regex_max_offset = regex_offset(cx, l, "max");
    })
    .tier(Tier::T3),
    KU::set("regex_stack", "START MAX", |_s, cx, l| {
        let ok = l.words.len() == 3
            && l.words[1]
                .text
                .parse::<u64>()
                .ok()
                .zip(l.words[2].text.parse::<u64>().ok())
                .is_some_and(|(a, b)| a <= b);
        if !ok {
            cx.info(l.span, "regex_stack requires start and max values");
        }
    })
    .tier(Tier::T3),
]);

// ---------------------------------------------------------------------------
// MISC_CHECK

static MISC: Table<CheckB> = Table::new(&[
    KK::set("misc_path", "CMD", |s, cx, l| {
        // keepalived re-reads the raw line with quotes and escapes, takes
        // its second word and splits that again into program and
        // arguments; words after it are ignored (lib/notify.c
        // set_script_params_array).
        let split = |t: &str, cx: &mut Cx| match crate::shell::split(t) {
            Ok(a) => Some(a),
            Err(e) => {
                match e.class() {
                    Some(c) => cx.error(c, Some(l.span), e.to_string()),
                    None => cx.info(l.span, e.to_string()),
                }
                None
            }
        };
        let Some(line) = split(&l.raw, cx) else {
            return;
        };
        let Some(cmd) = line.get(1) else { return };
        let Some(args) = split(cmd, cx) else { return };
        if args.is_empty() {
            return;
        }
        let span = l.words.get(1).map_or(l.span, |w| w.span);
        if let KindB::Misc { script, .. } = &mut s.kind {
            *script = Some(Box::new(ScriptCfg {
                raw: cmd.clone(),
                args,
                user: None,
                group: None,
                span,
            }));
        }
    }),
    KK::set("misc_timeout", "SECS", |s, cx, l| {
        // UINT_MAX / TIMER_HZ whole seconds.
        if let Some(v) = unsigned_arg(cx, l, 0, u32::MAX / 1_000_000, |t| {
            format!("Invalid misc_timeout value '{t}'")
        }) {
            if let KindB::Misc { timeout, .. } = &mut s.kind {
                *timeout = Some(Duration::from_secs(u64::from(v)));
            }
        }
    }),
    KK::set("misc_dynamic", "", |s, _cx, _l| {
        if let KindB::Misc { dynamic, .. } = &mut s.kind {
            *dynamic = true;
        }
    }),
    KK::set("user", "USER [[:]GROUP]", |s, cx, l| {
        if l.words.len() < 2 {
            let cmd = match &s.kind {
                KindB::Misc {
                    script: Some(sc), ..
                } => sc.raw.clone(),
                _ => "(null)".into(),
            };
            cx.general(
                l.span,
                format!("No user specified for misc checker script {cmd}"),
            );
            return;
        }
        let (user, group) = crate::global::user_group(l, 1);
        if let KindB::Misc {
            script: Some(sc), ..
        } = &mut s.kind
        {
            sc.user = user;
            sc.group = group;
        }
    }),
]);

// ---------------------------------------------------------------------------
// SMTP_CHECK

static SMTP: Table<CheckB> = Table::new(&[
    KK::set("helo_name", "NAME", |s, cx, l| match l.words.get(1) {
        Some(w) => {
            if let KindB::Smtp { helo, .. } = &mut s.kind {
                *helo = Some(w.text.to_string());
            }
        }
        None => cx.general(l.span, "SMTP_CHECK helo name missing"),
    }),
    KK::block("host", "{ … }", |s, cx, _l| {
        // Deprecated (keepalived logs "The SMTP_CHECK host block is
        // deprecated"): each host block is one more connection to check,
        // defaulting to the real server. Timing keywords inside it apply to
        // the checker itself.
        let h = HostB {
            conn: ConnB::initial(s.rs_addr, s.rs_port),
            timing: s.timing.clone(),
        };
        cx.open(h, |c: &mut CheckB, h: HostB, _cx| {
            c.timing = h.timing;
            if let KindB::Smtp { hosts, .. } = &mut c.kind {
                hosts.push(h.conn);
            }
        })
    })
    .tier(Tier::T3),
]);

/// A deprecated SMTP_CHECK `host { … }` block.
struct HostB {
    conn: ConnB,
    timing: TimingB,
}

static HOST: Table<HostB> = Table::new(&[]);

impl Block for HostB {
    const NAME: &'static str = "host";
    fn table() -> &'static Table<Self> {
        &HOST
    }
    fn fallback(&mut self, cx: &mut Cx, line: &LogicalLine) -> Option<Dispatch> {
        known(dispatch(&CONN, &mut self.conn, cx, line))
            .or_else(|| known(dispatch(&TIMING, &mut self.timing, cx, line)))
    }
    fn fallback_names() -> Vec<&'static str> {
        CONN.names().chain(TIMING.names()).collect()
    }
}

// ---------------------------------------------------------------------------
// DNS_CHECK

/// The query types keepalived knows (matched case-insensitively).
const DNS_TYPES: &[&str] = &[
    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
];

static DNS: Table<CheckB> = Table::new(&[
    KK::set(
        "type",
        "A|NS|CNAME|SOA|MX|TXT|AAAA|RRSIG|DNSKEY",
        |s, cx, l| {
            let Some(w) = cx.arg(l, 1) else { return };
            let up = w.text.to_ascii_uppercase();
            if !DNS_TYPES.contains(&up.as_str()) {
                cx.general(
                    w.span,
                    format!("Unknown DNS check type {} - ignoring", w.text),
                );
                return;
            }
            if let KindB::Dns { qtype, .. } = &mut s.kind {
                *qtype = up.into();
            }
        },
    ),
    KK::set("name", "DOMAIN", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let KindB::Dns { name, .. } = &mut s.kind else {
            return;
        };
        if name.is_some() {
            cx.general(w.span, "DNS_CHECK name already specified - ignoring");
            return;
        }
        let n = w.text.as_str();
        let empty_label = (n.starts_with('.') && n.len() > 1) || n.contains("..");
        if empty_label {
            cx.general(
                w.span,
                format!("DNS_CHECK name '{n}' has empty label - ignoring"),
            );
            return;
        }
        *name = Some(n.to_string());
    }),
]);

// ---------------------------------------------------------------------------
// UDP_CHECK

/// keepalived's `read_hex_str`: hex digit pairs, blanks between bytes
/// allowed; with `wildcards`, `X`/`x` nibbles match anything (their mask
/// bits are set). `None` for an empty or invalid string.
pub(crate) fn read_hex(s: &str, wildcards: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    fn val(c: u8, wild: bool) -> Option<Option<u8>> {
        match c {
            b'0'..=b'9' => Some(Some(c - b'0')),
            b'a'..=b'f' => Some(Some(c - b'a' + 10)),
            b'A'..=b'F' => Some(Some(c - b'A' + 10)),
            b'x' | b'X' if wild => Some(None),
            _ => None,
        }
    }
    let b = s.as_bytes();
    let (mut data, mut mask) = (vec![], vec![]);
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let hi = val(b[i], wildcards)?;
        i += 1;
        let (mut v, mut m) = match hi {
            Some(x) => (x, 0u8),
            None => (0, 0x0f),
        };
        if i < b.len() && b[i] != b' ' {
            let lo = val(b[i], wildcards)?;
            i += 1;
            v <<= 4;
            m <<= 4;
            match lo {
                Some(x) => v |= x,
                None => m |= 0x0f,
            }
        }
        data.push(v);
        mask.push(m);
    }
    if data.is_empty() {
        None
    } else {
        Some((data, mask))
    }
}

fn udp(c: &mut CheckB) -> Option<&mut UdpCheckCfg> {
    match &mut c.kind {
        KindB::Udp(u) => Some(u),
        _ => None,
    }
}

fn hex_rest(l: &LogicalLine) -> String {
    l.words
        .iter()
        .skip(1)
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

static UDP: Table<CheckB> = Table::new(&[
    KK::set("payload", "HEX", |s, cx, l| {
        if l.words.len() == 1 {
            cx.general(l.span, "UDP_CHECK payload requires a payload");
            return;
        }
        match read_hex(&hex_rest(l), false) {
            Some((d, _)) => {
                if let Some(u) = udp(s) {
                    u.payload = d;
                }
            }
            None => cx.general(l.span, "Invalid hex string for UDP_CHECK payload"),
        }
    }),
    KK::set("require_reply", "[HEX]", |s, cx, l| {
        let Some(u) = udp(s) else { return };
        u.require_reply = true;
        if l.words.len() == 1 {
            return;
        }
        match read_hex(&hex_rest(l), true) {
            Some((d, m)) => {
                u.reply = d;
                u.reply_mask = m;
            }
            None => cx.general(l.span, "Invalid hex string for UDP_CHECK reply"),
        }
    }),
    KK::set("min_reply_length", "0-65535", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, 65535, |t| {
            format!("UDP_CHECK min length {t} not valid - must be between 0 & 65535")
        }) {
            if let Some(u) = udp(s) {
                u.min_reply_length = u16::try_from(v).unwrap_or(u16::MAX);
            }
        }
    }),
    KK::set("max_reply_length", "0-65535", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, 65535, |t| {
            format!("UDP_CHECK max length {t} not valid - must be between 0 & 65535")
        }) {
            if let Some(u) = udp(s) {
                u.max_reply_length = u16::try_from(v).unwrap_or(u16::MAX);
            }
        }
    }),
]);

// ---------------------------------------------------------------------------
// FILE_CHECK and BFD_CHECK

static FILE: Table<CheckB> = Table::new(&[
    KK::set("track_file", "NAME", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        // Looked up here, so it must be defined earlier in the text
        // (reference 1.8).
        if !cx.is_defined(crate::vrrp::K_TRACK_FILE, &w.text) {
            cx.general(w.span, format!("track_file {} not found", w.text));
            return;
        }
        if let KindB::File { track_file, .. } = &mut s.kind {
            *track_file = Some((w.text.to_string(), w.span));
        }
    }),
    KK::set(
        "weight",
        "-2147483647..2147483647 [reverse|noreverse]",
        |s, cx, l| {
            let Some(w) = l.words.get(1) else {
                cx.general(l.span, "track file weight missing");
                return;
            };
            let lim = WEIGHT_LIMIT as i32;
            let Some(v) = cx.int(w, -lim, lim) else {
                cx.general(
                    w.span,
                    format!(
                        "weight for track file must be in [{}..{lim}] inclusive. Ignoring...",
                        -lim
                    ),
                );
                return;
            };
            let reverse = match l.words.get(2).map(|w| w.text.as_str()) {
                None | Some("noreverse") => false,
                Some("reverse") => true,
                Some(x) => {
                    cx.general(
                        l.span,
                        format!("unknown track file weight option {x} - ignoring"),
                    );
                    return;
                }
            };
            if let KindB::File { weight, .. } = &mut s.kind {
                *weight = Some((v, reverse));
            }
        },
    ),
]);

static BFD: Table<CheckB> = Table::new(&[
    KK::set("name", "BFD_INSTANCE", |s, cx, l| {
        let rs_fmt = fmt_rs(&s.rs_addr, s.rs_port, s.vs_protocol);
        let KindB::Bfd { name, failed } = &mut s.kind else {
            return;
        };
        if *failed {
            return;
        }
        if l.words.len() != 2 {
            cx.general(
                l.span,
                format!("({rs_fmt}) BFD_CHECK - No or too many names specified - skipping checker"),
            );
            *failed = true;
            return;
        }
        if let Some(prev) = name {
            cx.general(
                l.span,
                format!(
                    "({rs_fmt}) BFD_CHECK - BFD {} already specified as {prev}",
                    l.words[1].text
                ),
            );
            *failed = true;
            return;
        }
        let n = &l.words[1].text;
        if !cx.is_defined(crate::vrrp::K_BFD, n) {
            cx.general(
                l.span,
                format!("({rs_fmt}) BFD_CHECK - BFD {n} not configured"),
            );
            *failed = true;
            return;
        }
        *name = Some(n.to_string());
    }),
    KK::set("alpha", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid alpha parameter") {
            s.timing.alpha = Some(b);
        }
    }),
]);

// ---------------------------------------------------------------------------
// Resolution

/// Turn a parsed checker into its model, taking defaults from its real
/// server (already resolved against the virtual server). Empty when
/// keepalived drops it at this stage; several for an SMTP_CHECK with
/// `host` blocks.
pub(crate) fn resolve(
    c: CheckB,
    rs: &RealServerCfg,
    ctx: &ValidateCx,
    cx: &mut Cx,
) -> Vec<CheckerCfg> {
    let CheckB {
        kind,
        span,
        timing: t,
        conn,
        rs_addr,
        rs_port,
        vs_protocol,
    } = c;
    let rs_fmt = || fmt_rs(&rs_addr, rs_port, vs_protocol);
    let (default_retry, default_dbr): (u32, Option<Duration>) = match &kind {
        KindB::Http { .. } => (1, Some(Duration::from_secs(3))),
        KindB::Dns { .. } => (3, None),
        KindB::Misc { .. } => (0, Some(Duration::from_secs(1))),
        _ => (1, Some(Duration::from_secs(1))),
    };
    let delay_loop = t.delay_loop.unwrap_or(rs.delay_loop);
    let timing = CheckerTiming {
        retry: t.retry.or(rs.retry).unwrap_or(default_retry),
        delay_before_retry: t
            .delay_before_retry
            .or(rs.delay_before_retry)
            .or(default_dbr)
            .unwrap_or(delay_loop),
        delay_loop,
        warmup: t.warmup.or(rs.warmup).unwrap_or(delay_loop),
        alpha: t.alpha.unwrap_or(rs.alpha),
        log_all_failures: t.log_all_failures,
    };
    let conn_cfg = |conn: ConnB| ConnCfg {
        dst: conn.dst.unwrap_or(rs.addr),
        port: conn.port,
        bindto: conn.bindto,
        bind_port: conn.bind_port,
        bind_if: conn.bind_if,
        connect_timeout: conn.connect_timeout.unwrap_or(rs.connect_timeout),
        fwmark: conn.fwmark,
    };
    let (kind, timing, conn) = match kind {
        KindB::Tcp => (CheckerKind::Tcp, Some(timing), Some(conn_cfg(conn))),
        KindB::Ping => (CheckerKind::Ping, Some(timing), Some(conn_cfg(conn))),
        KindB::Http { ssl, h } => {
            let cfg = HttpCheckCfg {
                urls: h.urls,
                http_protocol: h.http_protocol,
                virtualhost: h.virtualhost.or_else(|| rs.virtualhost.clone()),
                fast_recovery: h.fast_recovery,
                enable_sni: h.enable_sni,
            };
            let k = if ssl {
                CheckerKind::Ssl(cfg)
            } else {
                CheckerKind::Http(cfg)
            };
            (k, Some(timing), Some(conn_cfg(conn)))
        }
        KindB::Misc {
            script,
            timeout,
            dynamic,
        } => {
            let Some(script) = script else {
                return vec![];
            };
            (
                CheckerKind::Misc(Box::new(MiscCheckCfg {
                    script: *script,
                    timeout: timeout.filter(|d| !d.is_zero()),
                    dynamic,
                })),
                Some(timing),
                None,
            )
        }
        KindB::Smtp { helo, hosts } => {
            let kind = CheckerKind::Smtp(SmtpCheckCfg {
                helo_name: helo.unwrap_or_else(|| "smtpchecker.keepalived.org".into()),
            });
            // The checker's own connection is used when anything of it was
            // configured or there are no host blocks; each host block adds
            // a checker.
            let mut conns = vec![];
            if hosts.is_empty() || conn != ConnB::initial(rs_addr, rs_port) {
                conns.push(conn);
            }
            conns.extend(hosts);
            return conns
                .into_iter()
                .map(|c| CheckerCfg {
                    kind: kind.clone(),
                    span,
                    timing: Some(timing),
                    conn: Some(conn_cfg(c)),
                })
                .collect();
        }
        KindB::Dns { qtype, name } => (
            CheckerKind::Dns(DnsCheckCfg {
                qtype,
                name: name.unwrap_or_default(),
            }),
            Some(timing),
            Some(conn_cfg(conn)),
        ),
        KindB::Udp(u) => (CheckerKind::Udp(*u), Some(timing), Some(conn_cfg(conn))),
        KindB::File { track_file, weight } => {
            // keepalived looks the track_file up when FILE_CHECK's
            // `track_file` line is read; both messages count for `-t`.
            // Found when the FILE_CHECK was read (else it was reported and
            // dropped then); the track_file gives the default weight.
            let file =
                track_file.and_then(|(name, _)| ctx.track_files.iter().find(|f| f.name == name));
            let Some(f) = file else {
                return vec![];
            };
            let (weight, reverse) = weight.unwrap_or((f.weight, f.weight_reverse));
            (
                CheckerKind::File(FileCheckCfg {
                    track_file: f.name.clone(),
                    weight,
                    reverse,
                }),
                None,
                None,
            )
        }
        KindB::Bfd { name, .. } => {
            let Some(name) = name else {
                return vec![];
            };
            if !ctx.bfd_instances.iter().any(|b| b.name == name) {
                // Defined when read but dropped by the BFD side since.
                general_at(
                    cx,
                    span,
                    format!("({}) BFD_CHECK - BFD {name} not configured", rs_fmt()),
                );
                return vec![];
            }
            (CheckerKind::Bfd(BfdCheckCfg { name }), None, None)
        }
    };
    vec![CheckerCfg {
        kind,
        span,
        timing,
        conn,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_strings_as_keepalived_reads_them() {
        assert_eq!(
            read_hex("0a0b0c", false),
            Some((vec![0x0a, 0x0b, 0x0c], vec![0, 0, 0]))
        );
        assert_eq!(
            read_hex("0a 0b c", false).map(|x| x.0),
            Some(vec![0x0a, 0x0b, 0x0c])
        );
        assert_eq!(
            read_hex("0aXX", true),
            Some((vec![0x0a, 0x00], vec![0x00, 0xff]))
        );
        assert_eq!(read_hex("0aXX", false), None);
        assert_eq!(read_hex("zz", false), None);
        assert_eq!(read_hex("   ", false), None);
    }
}
