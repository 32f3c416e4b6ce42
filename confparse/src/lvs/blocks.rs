//! The `SSL`, `virtual_server_group`, `virtual_server` and `real_server`
//! blocks: keyword tables with keepalived 2.2.7's handlers, values and
//! messages (check_parser.c, check_data.c `alloc_vs`/`alloc_rs`/
//! `alloc_vsg_entry`), and the post-parse validation of one virtual server
//! (`link_vsg_to_vs` and `validate_check_config`).

use super::checkers::{self, CheckB};
use super::{
    fmt_rs, fmt_vs, Forwarding, Granularity, IpFamily, LvsConfig, Protocol, RealServerCfg,
    SorryServerCfg, SslCfg, SvcFlags, TunnelCsum, TunnelType, VirtualServerCfg,
    VirtualServerGroupCfg, VsKey, VsgEntryCfg, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DELAY_LOOP,
    DEFAULT_PERSISTENCE_TIMEOUT, DEFAULT_SCHEDULER, MAX_PERSISTENCE_TIMEOUT, SCHEDULERS,
    WEIGHT_LIMIT,
};
use crate::diag::Diagnostic;
use crate::global::script_at;
use crate::keywords::{true_false, Block, Cx, Dispatch, Kw, Table, Tier};
use crate::lexer::{LogicalLine, Word};
use crate::model::{BfdInstanceCfg, ScriptCfg, TrackFileCfg};
use crate::source::Span;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// `TIMER_MAXIMUM` (`ULONG_MAX - 1` µs): the upper bound of unbounded timers.
pub(crate) const TIMER_MAX_US: u64 = u64::MAX - 1;
/// `UINT_MAX` µs: the upper bound of `connect_timeout`.
pub(crate) const CONNECT_TIMEOUT_MAX_US: u64 = u32::MAX as u64;

// ---------------------------------------------------------------------------
// Shared value readers

/// A word that is an address, with an optional port word, as keepalived's
/// `inet_stosockaddr`: a port of only zeros means "no port" (accepted since
/// 2.0.7), any other port must be 1-65535 (keepalived's number message), and
/// anything from the first `-` or `/` of the address is ignored.
pub(crate) fn sockaddr(cx: &mut Cx, ip: &str, port: Option<&Word>) -> Option<(IpAddr, u16)> {
    let mut p = 0u16;
    if let Some(w) = port {
        if !is_zero_port(&w.text) {
            p = u16::try_from(cx.unsigned(w, 1, 65535)?).ok()?;
        }
    }
    let cut = ip
        .bytes()
        .position(|b| b == b'-' || b == b'/')
        .map_or(ip, |i| &ip[..i]);
    let a: IpAddr = if ip.bytes().any(|b| b == b':') {
        IpAddr::V6(cut.parse::<Ipv6Addr>().ok()?)
    } else {
        IpAddr::V4(cut.parse::<Ipv4Addr>().ok()?)
    };
    Some((a, p))
}

/// `port[strspn(port, "0")] == '\0'`: the port is empty or all zeros.
pub(crate) fn is_zero_port(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

/// An optional boolean after a flag keyword (`check_true_false`); an
/// invalid word gives `msg` (GENERAL_ERROR) and `None`.
pub(crate) fn opt_bool(cx: &mut Cx, l: &LogicalLine, msg: &str) -> Option<bool> {
    let Some(w) = l.words.get(1) else {
        return Some(true);
    };
    match true_false(&w.text) {
        Some(b) => Some(b),
        None => {
            cx.general(w.span, format!("{msg} {}", w.text));
            None
        }
    }
}

/// `read_timer(strvec, 1, …)` followed by the keyword's own message.
pub(crate) fn timer_arg(
    cx: &mut Cx,
    l: &LogicalLine,
    min_us: u64,
    max_us: u64,
    msg: impl FnOnce(&str) -> String,
) -> Option<Duration> {
    let w = cx.arg(l, 1)?;
    match cx.timer(w, min_us, max_us) {
        Some(d) => Some(d),
        None => {
            cx.general(w.span, msg(&w.text));
            None
        }
    }
}

/// `read_unsigned_strvec(strvec, 1, …)` followed by the keyword's message.
pub(crate) fn unsigned_arg(
    cx: &mut Cx,
    l: &LogicalLine,
    min: u32,
    max: u32,
    msg: impl FnOnce(&str) -> String,
) -> Option<u32> {
    let w = cx.arg(l, 1)?;
    match cx.unsigned(w, min, max) {
        Some(v) => Some(v),
        None => {
            cx.general(w.span, msg(&w.text));
            None
        }
    }
}

/// keepalived's `svr_forwarding_handler`: `NAT|DR|TUN [type ipip|gue|gre]
/// [port N] [nocsum|csum|remcsum]`. `prev` is the current setting; the
/// result is the new one (`None` = unchanged). As in keepalived, the method
/// is taken even when a tunnel option is then rejected (the tunnel
/// parameters then stay as they were).
pub(crate) fn forwarding(
    cx: &mut Cx,
    l: &LogicalLine,
    prev: Option<Forwarding>,
    s_type: &str,
) -> Option<Forwarding> {
    let w = cx.arg(l, 1)?;
    let is_tun = match w.text.as_str() {
        "NAT" => false,
        "DR" => false,
        "TUN" => true,
        other => {
            cx.general(
                w.span,
                format!("PARSER : unknown [{other}] routing method for {s_type} server."),
            );
            return None;
        }
    };
    let method_only = match w.text.as_str() {
        "NAT" => Forwarding::Nat,
        "DR" => Forwarding::Dr,
        _ => match prev {
            Some(t @ Forwarding::Tun { .. }) => t,
            _ => Forwarding::Tun {
                tunnel_type: TunnelType::Ipip,
                port: 0,
                csum: TunnelCsum::NoCsum,
            },
        },
    };
    let mut tun_type = TunnelType::Ipip;
    let mut port: u16 = 0;
    let mut csum = TunnelCsum::NoCsum;
    let mut i = 2;
    while let Some(o) = l.words.get(i) {
        match o.text.as_str() {
            "type" => {
                let Some(t) = l.words.get(i + 1) else {
                    cx.general(o.span, format!("Missing tunnel type for {s_type} server."));
                    return Some(method_only);
                };
                tun_type = match t.text.as_str() {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue,
                    "gre" => TunnelType::Gre,
                    x => {
                        cx.general(
                            t.span,
                            format!("Unknown tunnel type {x} for {s_type} server."),
                        );
                        return Some(method_only);
                    }
                };
                i += 1;
            }
            "port" => {
                let Some(p) = l.words.get(i + 1) else {
                    cx.general(
                        o.span,
                        format!("Missing port for {s_type} server gue tunnel."),
                    );
                    return Some(method_only);
                };
                match cx.unsigned(p, 1, 65535).and_then(|v| u16::try_from(v).ok()) {
                    Some(v) => port = v,
                    None => {
                        cx.general(
                            p.span,
                            format!("Invalid gue tunnel port {} for {s_type} server.", p.text),
                        );
                        return Some(method_only);
                    }
                }
                i += 1;
            }
            "nocsum" => csum = TunnelCsum::NoCsum,
            "csum" => csum = TunnelCsum::Csum,
            "remcsum" => csum = TunnelCsum::RemCsum,
            x => {
                cx.general(
                    o.span,
                    format!("Invalid tunnel option {x} for {s_type} server."),
                );
                return Some(method_only);
            }
        }
        i += 1;
    }
    if (tun_type == TunnelType::Gue) != (port != 0) {
        cx.general(
            l.span,
            "gue tunnels require port, otherwise cannot have port.",
        );
        return Some(method_only);
    }
    if tun_type == TunnelType::Ipip && csum != TunnelCsum::NoCsum {
        cx.general(l.span, "ipip tunnels do not support checksum option.");
        return Some(method_only);
    }
    if tun_type == TunnelType::Gre && csum == TunnelCsum::RemCsum {
        cx.general(l.span, "gre tunnels do not support remote checksum option.");
        return Some(method_only);
    }
    Some(if is_tun {
        Forwarding::Tun {
            tunnel_type: tun_type,
            port,
            csum,
        }
    } else {
        method_only
    })
}

// ---------------------------------------------------------------------------
// SSL

/// The `SSL` block's state.
#[derive(Default)]
pub(crate) struct SslB(SslCfg);

impl Block for SslB {
    const NAME: &'static str = "SSL";
    fn table() -> &'static Table<Self> {
        &SSL
    }
}

pub(crate) fn ssl_open(lvs: &mut LvsConfig, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    if lvs.ssl.is_some() {
        cx.general(l.span, "SSL context already specified - replacing");
    }
    cx.open(SslB::default(), |p: &mut LvsConfig, c: SslB, _cx| {
        p.ssl = Some(c.0)
    })
}

fn ssl_file(cx: &mut Cx, l: &LogicalLine, slot: &mut Option<String>, what: &str) {
    let Some(w) = l.words.get(1) else {
        cx.general(l.span, format!("SSL {what} missing"));
        return;
    };
    if slot.is_some() {
        cx.general(w.span, format!("SSL {what} already specified - replacing"));
    }
    *slot = Some(w.text.to_string());
}

static SSL: Table<SslB> = Table::new(&[
    Kw::set("password", "STRING", |s: &mut SslB, cx, l| {
        ssl_file(cx, l, &mut s.0.password, "password")
    }),
    Kw::set("ca", "FILE", |s: &mut SslB, cx, l| {
        ssl_file(cx, l, &mut s.0.ca, "cafile")
    }),
    Kw::set("certificate", "FILE", |s: &mut SslB, cx, l| {
        ssl_file(cx, l, &mut s.0.certificate, "certfile")
    }),
    Kw::set("key", "FILE", |s: &mut SslB, cx, l| {
        ssl_file(cx, l, &mut s.0.key, "keyfile")
    }),
]);

// ---------------------------------------------------------------------------
// virtual_server_group

/// A `virtual_server_group` being read: every line is an entry
/// (keepalived reads it as a value block).
pub(crate) struct VsgB {
    name: String,
    span: Span,
    entries: Vec<VsgEntryCfg>,
    have_ipv4: bool,
    have_ipv6: bool,
    fwmark_no_family: bool,
}

static VSG: Table<VsgB> = Table::new(&[]);

impl Block for VsgB {
    const NAME: &'static str = "virtual_server_group";
    fn table() -> &'static Table<Self> {
        &VSG
    }
    fn fallback(&mut self, cx: &mut Cx, line: &LogicalLine) -> Option<Dispatch> {
        vsg_entry(self, cx, line);
        Some(Dispatch::Done)
    }
}

pub(crate) fn vsg_open(_lvs: &mut LvsConfig, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let name = cx.arg(l, 1).map(|w| w.text.to_string()).unwrap_or_default();
    let st = VsgB {
        name,
        span: l.span,
        entries: vec![],
        have_ipv4: false,
        have_ipv6: false,
        fwmark_no_family: false,
    };
    cx.open(st, vsg_close)
}

fn vsg_close(lvs: &mut LvsConfig, g: VsgB, cx: &mut Cx) {
    if g.entries.is_empty() {
        cx.general(
            g.span,
            format!("virtual server group {} has no entries - removing", g.name),
        );
        return;
    }
    if g.have_ipv4 && g.have_ipv6 && g.fwmark_no_family {
        cx.general(
            g.span,
            format!(
                "virtual server group {} cannot have IPv4, IPv6 and fwmark without family - removing",
                g.name
            ),
        );
        return;
    }
    lvs.groups.push(VirtualServerGroupCfg {
        name: g.name,
        entries: g.entries,
        span: g.span,
    });
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn from_u128(like: IpAddr, v: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// keepalived's `alloc_vsg_entry`.
fn vsg_entry(g: &mut VsgB, cx: &mut Cx, l: &LogicalLine) {
    let Some(first) = l.words.first() else {
        return;
    };
    let addr_str = first.text.as_str();
    if addr_str == "fwmark" {
        let Some(w) = cx.arg(l, 1) else {
            return;
        };
        let Some(mark) = cx.unsigned(w, 0, u32::MAX) else {
            cx.general(
                w.span,
                format!(
                    "({}): fwmark '{}' must be in [0, {}] - ignoring",
                    g.name,
                    w.text,
                    u32::MAX
                ),
            );
            return;
        };
        let family = match l.words.get(2) {
            None => {
                g.fwmark_no_family = true;
                None
            }
            Some(f) if f.text == "inet" => {
                g.have_ipv4 = true;
                Some(IpFamily::Inet)
            }
            Some(f) if f.text == "inet6" => {
                g.have_ipv6 = true;
                Some(IpFamily::Inet6)
            }
            Some(f) => {
                cx.general(
                    f.span,
                    format!(
                        "({}): fwmark '{mark}' family {} unknown - ignoring",
                        g.name, f.text
                    ),
                );
                return;
            }
        };
        g.entries.push(VsgEntryCfg::Fwmark { mark, family });
        return;
    }
    let port_w = l.words.get(1).filter(|w| !is_zero_port(&w.text));
    let Some((addr, port)) = sockaddr(cx, addr_str, port_w) else {
        let p = port_w.map(|w| w.text.as_str());
        cx.general(
            first.span,
            format!(
                "Invalid virtual server group IP address {} {}{}{} - skipping",
                addr_str,
                if p.is_some() { "/port" } else { "" },
                if p.is_some() { "/" } else { "" },
                p.unwrap_or("")
            ),
        );
        return;
    };
    let bits: u32 = if addr.is_ipv4() { 32 } else { 128 };
    let last: IpAddr;
    if let Some(i) = addr_str.find('/') {
        let m = &addr_str[i + 1..];
        let mask = match m.parse::<u32>() {
            Ok(v) if v != 0 && v <= bits => v,
            _ => {
                cx.general(
                    first.span,
                    format!("Invalid netmask - {addr_str} - skipping"),
                );
                return;
            }
        };
        let host: u128 = if mask >= bits {
            0
        } else {
            (1u128 << (bits - mask)) - 1
        };
        let a = to_u128(addr);
        if a & host != 0 {
            cx.general(
                first.span,
                format!("Address mask bits not empty - {addr_str} - skipping"),
            );
            return;
        }
        last = from_u128(addr, a | host);
    } else if let Some(i) = addr_str.find('-') {
        let end_str = &addr_str[i + 1..];
        let full_end = if addr.is_ipv4() {
            end_str.contains('.')
        } else {
            end_str.contains(':')
        };
        if full_end {
            let Some((end, _)) = sockaddr(cx, end_str, port_w) else {
                cx.general(
                    first.span,
                    format!("Invalid range end {addr_str} - skipping"),
                );
                return;
            };
            if end.is_ipv4() != addr.is_ipv4() {
                cx.general(
                    first.span,
                    format!("Range address families do not match {addr_str} - skipping"),
                );
                return;
            }
            if to_u128(end) < to_u128(addr) {
                cx.general(
                    first.span,
                    format!(
                        "Address range end is less than address range start - {addr_str} - skipping"
                    ),
                );
                return;
            }
            last = end;
        } else {
            // inet_stor: the last byte (IPv4, decimal) or the last 16-bit
            // group (IPv6, hex) of the end address.
            let (radix, limit) = if addr.is_ipv4() {
                (10, 255)
            } else {
                (16, 0xffff)
            };
            let digits_end = end_str
                .find(|c: char| !c.is_digit(radix))
                .unwrap_or(end_str.len());
            if digits_end < end_str.len() {
                cx.error(
                    crate::diag::ErrClass::InvalidNumber,
                    Some(first.span),
                    format!(
                        "Virtual server group range '{addr_str}' has extra characters at end '{}'",
                        &end_str[digits_end..]
                    ),
                );
                return;
            }
            let range = u64::from_str_radix(&end_str[..digits_end], radix).unwrap_or(0);
            if range > limit {
                cx.error(
                    crate::diag::ErrClass::InvalidNumber,
                    Some(first.span),
                    format!("Virtual server group range '{addr_str}' end '{end_str}' too large"),
                );
                return;
            }
            let (shift_mask, start) = if addr.is_ipv4() {
                (0xffu128, to_u128(addr) & 0xff)
            } else {
                (0xffffu128, to_u128(addr) & 0xffff)
            };
            if start >= u128::from(range) {
                cx.general(
                    first.span,
                    format!(
                        "Address range end is not greater than address range start - {addr_str} - skipping"
                    ),
                );
                return;
            }
            last = from_u128(addr, (to_u128(addr) & !shift_mask) | u128::from(range));
        }
    } else {
        last = addr;
    }
    if addr.is_ipv4() {
        g.have_ipv4 = true;
    } else {
        g.have_ipv6 = true;
    }
    g.entries.push(VsgEntryCfg::Range {
        first: addr,
        last,
        port,
    });
}

// ---------------------------------------------------------------------------
// virtual_server

/// A sorry server being read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SorryB {
    addr: IpAddr,
    port: u16,
    fwd: Option<Forwarding>,
    inhibit: bool,
}

/// A virtual server as parsed (keepalived's `virtual_server_t` before
/// `validate_check_config`): `None` = not set in the configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VsB {
    key: VsKey,
    span: Span,
    af: Option<IpFamily>,
    protocol: Option<Protocol>,
    sched: Option<String>,
    flags: SvcFlags,
    fwd: Option<Forwarding>,
    persistence_timeout: Option<u32>,
    granularity: Option<Granularity>,
    engine: Option<String>,
    delay_loop: Duration,
    connect_timeout: Duration,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    weight: u32,
    quorum: u32,
    hysteresis: u32,
    quorum_up: Option<ScriptCfg>,
    quorum_down: Option<ScriptCfg>,
    alpha: bool,
    omega: bool,
    inhibit: bool,
    ha_suspend: bool,
    virtualhost: Option<String>,
    snmp_name: Option<String>,
    smtp_alert: Option<bool>,
    sorry: Option<SorryB>,
    /// Boxed: the vector grows by doubling as real servers close, and with
    /// the states inline its slack was a third of the parse states' memory
    /// (14 MiB for 40,000 real servers where 9 MiB were used; heaptrack).
    #[allow(clippy::vec_box)] // deliberate, see above
    rs: Vec<Box<RsB>>,
}

impl VsB {
    fn new(key: VsKey, span: Span, af: Option<IpFamily>) -> Self {
        VsB {
            key,
            span,
            af,
            protocol: None,
            sched: None,
            flags: SvcFlags::default(),
            fwd: None,
            persistence_timeout: None,
            granularity: None,
            engine: None,
            delay_loop: DEFAULT_DELAY_LOOP,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            weight: 1,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            alpha: false,
            omega: false,
            inhibit: false,
            ha_suspend: false,
            virtualhost: None,
            snmp_name: None,
            smtp_alert: None,
            sorry: None,
            rs: vec![],
        }
    }

    /// The group name as keepalived prints `vs->vsgname` ("(null)" unset).
    fn vsgname(&self) -> &str {
        match &self.key {
            VsKey::Group { name } => name,
            _ => "(null)",
        }
    }

    fn fmt(&self) -> String {
        fmt_vs(&self.key, self.protocol)
    }
}

impl Block for VsB {
    const NAME: &'static str = "virtual_server";
    fn table() -> &'static Table<Self> {
        &VS
    }
}

pub(crate) fn vs_open(_lvs: &mut LvsConfig, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let Some(p1) = cx.arg(l, 1) else {
        return cx.skip_block();
    };
    let p2 = l.words.get(2);
    let (key, af) = match p1.text.as_str() {
        "group" => {
            let Some(name) = p2 else {
                cx.general(p1.span, "virtual server group name missing - skipping");
                return cx.skip_block();
            };
            (
                VsKey::Group {
                    name: name.text.to_string(),
                },
                None,
            )
        }
        "fwmark" => {
            let mark = p2.and_then(|w| cx.unsigned(w, 0, u32::MAX));
            let Some(mark) = mark else {
                cx.general(
                    p1.span,
                    format!(
                        "virtual server fwmark '{}' must be in [0, {}] - ignoring",
                        p2.map_or("(null)", |w| w.text.as_str()),
                        u32::MAX
                    ),
                );
                return cx.skip_block();
            };
            (VsKey::Fwmark { mark }, None)
        }
        ip => {
            let port_w = p2.filter(|w| !is_zero_port(&w.text));
            match sockaddr(cx, ip, port_w) {
                Some((addr, port)) => (VsKey::Addr { addr, port }, Some(IpFamily::of(&addr))),
                None => {
                    let p = port_w.map(|w| w.text.as_str());
                    cx.general(
                        p1.span,
                        format!(
                            "Invalid virtual server IP address{} {}{}{} - skipping",
                            if p.is_some() { "/port" } else { "" },
                            ip,
                            if p.is_some() { "/" } else { "" },
                            p.unwrap_or("")
                        ),
                    );
                    return cx.skip_block();
                }
            }
        }
    };
    cx.open(VsB::new(key, l.span, af), vs_close)
}

/// keepalived's `vs_end_handler`.
fn vs_close(lvs: &mut LvsConfig, mut vs: VsB, cx: &mut Cx) {
    // A tunnelled sorry server may be of another family.
    if let Some(s) = &vs.sorry {
        if !matches!(s.fwd, Some(Forwarding::Tun { .. })) {
            let fam = IpFamily::of(&s.addr);
            match vs.af {
                None => vs.af = Some(fam),
                Some(af) if af != fam => {
                    cx.general(
                        vs.span,
                        format!(
                            "Address family of virtual server and sorry server {} don't match - skipping sorry server.",
                            s.addr
                        ),
                    );
                    vs.sorry = None;
                }
                Some(_) => {}
            }
        }
    }
    if vs.af.is_none() && !matches!(vs.key, VsKey::Group { .. }) {
        // fwmark service whose real/sorry servers are all tunnelled: take
        // their family if they agree, else IPv4.
        let mut fams = vs
            .sorry
            .iter()
            .map(|s| IpFamily::of(&s.addr))
            .chain(vs.rs.iter().map(|r| IpFamily::of(&r.addr)));
        let first = fams.next();
        let mixed = first.is_some_and(|f| fams.any(|g| g != f));
        vs.af = Some(match first {
            Some(f) if !mixed => f,
            _ => IpFamily::Inet,
        });
    }
    lvs.parsed.push(vs);
}

type KV = Kw<VsB>;

fn sched_flag(s: &mut VsB, cx: &mut Cx, l: &LogicalLine) {
    let kw = l.keyword();
    let sched = s.sched.as_deref().unwrap_or("");
    match kw {
        "ops" => s.flags.one_packet = true,
        "flag-1" => s.flags.sched1 = true,
        "flag-2" => s.flags.sched2 = true,
        "flag-3" => s.flags.sched3 = true,
        // IP_VS_SVC_F_SCHED_SH_PORT/MH_PORT = SCHED2, *_FALLBACK = SCHED1.
        _ if sched == "sh" => match kw {
            "sh-port" => s.flags.sched2 = true,
            "sh-fallback" => s.flags.sched1 = true,
            _ => {}
        },
        _ if sched == "mh" => match kw {
            "mh-port" => s.flags.sched2 = true,
            "mh-fallback" => s.flags.sched1 = true,
            _ => {}
        },
        _ => {
            // keepalived 2.2.7 says "sh" for every one of these, mh-* and
            // hashed included.
            let span = l.words.first().map_or(l.span, |w| w.span);
            cx.general(
                span,
                format!("{kw} only applies to sh scheduler - ignoring"),
            );
        }
    }
}

fn lb_algo(s: &mut VsB, cx: &mut Cx, l: &LogicalLine) {
    let Some(w) = cx.arg(l, 1) else {
        return;
    };
    // IP_VS_SCHEDNAME_MAXLEN is 16 with the NUL.
    if !SCHEDULERS.contains(&w.text.as_str()) || w.text.len() >= 16 {
        cx.general(
            w.span,
            format!("Invalid lvs_scheduler '{}' - ignoring", w.text),
        );
        return;
    }
    s.sched = Some(w.text.to_string());
}

fn lb_kind(s: &mut VsB, cx: &mut Cx, l: &LogicalLine) {
    if let Some(f) = forwarding(cx, l, s.fwd, "virtual") {
        s.fwd = Some(f);
    }
}

fn quorum_script(cx: &mut Cx, l: &LogicalLine, slot: &mut Option<ScriptCfg>, vsg: &str) {
    if slot.is_some() {
        let what = l.keyword();
        let arg = l.words.get(1).map_or("(null)", |w| w.text.as_str());
        cx.general(
            l.span,
            format!("({vsg}) {what} script already specified - ignoring {arg}"),
        );
        return;
    }
    *slot = script_at(cx, l, 1);
}

static VS: Table<VsB> = Table::new(&[
    KV::set("ip_family", "inet|inet6", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        let af = match w.text.as_str() {
            "inet" => IpFamily::Inet,
            "inet6" => IpFamily::Inet6,
            x => {
                cx.general(w.span, format!("unknown address family {x}"));
                return;
            }
        };
        if s.af.is_some_and(|a| a != af) {
            cx.general(
                w.span,
                format!(
                    "Virtual server specified family {} conflicts with server family",
                    w.text
                ),
            );
            return;
        }
        s.af = Some(af);
    })
    .tier(Tier::T3),
    KV::set("retry", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 1, u32::MAX, |t| format!("retry value invalid - {t}"))
        {
            s.retry = Some(v);
        }
    }),
    KV::set("delay_before_retry", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 0, TIMER_MAX_US, |t| {
            format!("virtual server delay before retry '{t}' invalid - ignoring")
        }) {
            s.delay_before_retry = Some(d);
        }
    }),
    KV::set("warmup", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 0, TIMER_MAX_US, |t| {
            format!("virtual server warmup '{t}' invalid - ignoring")
        }) {
            s.warmup = Some(d);
        }
    })
    .tier(Tier::T3),
    KV::set("connect_timeout", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 1, CONNECT_TIMEOUT_MAX_US, |t| {
            format!("virtual server connect_timeout {t} invalid - ignoring")
        }) {
            s.connect_timeout = d;
        }
    }),
    KV::set("delay_loop", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 1, TIMER_MAX_US, |t| {
            format!("virtual server delay loop '{t}' invalid - ignoring")
        }) {
            s.delay_loop = d;
        }
    })
    .tier(Tier::T1),
    KV::set("inhibit_on_failure", "", |s, _cx, _l| s.inhibit = true),
    KV::set("lb_algo", "rr|wrr|lc|wlc|…", lb_algo).tier(Tier::T1),
    KV::set("lvs_sched", "rr|wrr|lc|wlc|…", lb_algo).tier(Tier::T1),
    KV::set("hashed", "", sched_flag).tier(Tier::T3),
    KV::set("ops", "", sched_flag).tier(Tier::T3),
    KV::set("flag-1", "", sched_flag).tier(Tier::T3),
    KV::set("flag-2", "", sched_flag).tier(Tier::T3),
    KV::set("flag-3", "", sched_flag).tier(Tier::T3),
    KV::set("sh-port", "", sched_flag).tier(Tier::T3),
    KV::set("sh-fallback", "", sched_flag).tier(Tier::T3),
    KV::set("mh-port", "", sched_flag).tier(Tier::T3),
    KV::set("mh-fallback", "", sched_flag).tier(Tier::T3),
    KV::set(
        "lb_kind",
        "NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]",
        lb_kind,
    )
    .tier(Tier::T1),
    KV::set(
        "lvs_method",
        "NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]",
        lb_kind,
    )
    .tier(Tier::T1),
    KV::set("persistence_engine", "NAME", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        // IP_VS_PENAME_MAXLEN is 16 with the NUL.
        let mut name = w.text.clone();
        if name.len() > 15 {
            cx.general(
                w.span,
                format!("persistence_name too long, truncating - {}", w.text),
            );
            let mut cut = 15;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.truncate(cut);
        }
        s.engine = Some(name.into());
    })
    .tier(Tier::T3),
    KV::set("persistence_timeout", "[SECS]", |s, cx, l| {
        if l.words.len() < 2 {
            s.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
            return;
        }
        if let Some(v) = unsigned_arg(cx, l, 1, MAX_PERSISTENCE_TIMEOUT, |_| {
            "persistence_timeout invalid".to_string()
        }) {
            s.persistence_timeout = Some(v);
        }
    })
    .tier(Tier::T1),
    KV::set(
        "persistence_granularity",
        "NETMASK|PREFIXLEN",
        |s, cx, l| {
            let Some(w) = cx.arg(l, 1) else { return };
            let af = s.af.unwrap_or(if w.text.contains('.') {
                IpFamily::Inet
            } else {
                IpFamily::Inet6
            });
            let g = if af == IpFamily::Inet6 {
                match cx.unsigned(w, 1, 128).and_then(|v| u8::try_from(v).ok()) {
                    Some(v) => Granularity::V6(v),
                    None => {
                        cx.general(
                            w.span,
                            format!(
                                "Invalid IPv6 persistence_granularity specified - {}",
                                w.text
                            ),
                        );
                        return;
                    }
                }
            } else {
                match w.text.parse::<Ipv4Addr>() {
                    Ok(m) => Granularity::V4(m),
                    Err(_) => {
                        cx.general(
                            w.span,
                            format!(
                                "Invalid IPv4 persistence_granularity specified - {}",
                                w.text
                            ),
                        );
                        return;
                    }
                }
            };
            s.granularity = Some(g);
            if s.af.is_none() {
                s.af = Some(af);
            }
            if s.persistence_timeout.is_none() {
                s.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
            }
        },
    )
    .tier(Tier::T3),
    KV::set("protocol", "TCP|UDP|SCTP", |s, cx, l| {
        let Some(w) = cx.arg(l, 1) else { return };
        s.protocol = match w.text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "SCTP" => Some(Protocol::Sctp),
            "UDP" => Some(Protocol::Udp),
            _ => {
                cx.general(w.span, format!("Unknown protocol {} - ignoring", w.text));
                return;
            }
        };
    })
    .tier(Tier::T1),
    KV::set("ha_suspend", "", |s, _cx, _l| s.ha_suspend = true).tier(Tier::T3),
    KV::set("smtp_alert", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid virtual_server smtp_alert parameter") {
            s.smtp_alert = Some(b);
        }
    })
    .tier(Tier::T3),
    KV::set("virtualhost", "NAME", |s, cx, l| match l.words.get(1) {
        Some(w) => s.virtualhost = Some(w.text.to_string()),
        None => cx.general(l.span, "virtual server virtualhost missing"),
    })
    .tier(Tier::T3),
    KV::set("snmp_name", "NAME", |s, cx, l| {
        if l.words.len() != 2 {
            cx.general(
                l.span,
                "virtual server snmp_name missing or extra parameters",
            );
            return;
        }
        s.snmp_name = l.words.get(1).map(|w| w.text.to_string());
    })
    .tier(Tier::T3),
    KV::set("alpha", "", |s, _cx, _l| s.alpha = true).tier(Tier::T3),
    KV::set("omega", "", |s, _cx, _l| s.omega = true).tier(Tier::T3),
    KV::set("quorum_up", "CMD [USER [[:]GROUP]]", |s, cx, l| {
        let name = s.vsgname().to_string();
        quorum_script(cx, l, &mut s.quorum_up, &name)
    })
    .tier(Tier::T3),
    KV::set("quorum_down", "CMD [USER [[:]GROUP]]", |s, cx, l| {
        let name = s.vsgname().to_string();
        quorum_script(cx, l, &mut s.quorum_down, &name)
    })
    .tier(Tier::T3),
    KV::set("quorum", "N", |s, cx, l| {
        let v = unsigned_arg(cx, l, 1, u32::MAX, |t| {
            format!("Quorum {t} must be in [1, {}]. Setting to 1.", u32::MAX)
        });
        // An invalid quorum is set to 1, not ignored.
        if l.words.len() >= 2 {
            s.quorum = v.unwrap_or(1);
        }
    })
    .tier(Tier::T3),
    KV::set("hysteresis", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, u32::MAX, |t| {
            format!("Hysteresis {t} must be in [0, {}] - ignoring", u32::MAX)
        }) {
            s.hysteresis = v;
        }
    })
    .tier(Tier::T3),
    KV::set("weight", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 1, WEIGHT_LIMIT, |t| {
            format!("Virtual server weight {t} is outside range 1-{WEIGHT_LIMIT}")
        }) {
            s.weight = v;
        }
    })
    .tier(Tier::T3),
    KV::set("sorry_server", "IP [PORT]", |s, cx, l| {
        let Some(ip) = cx.arg(l, 1) else { return };
        let port_w = l.words.get(2).filter(|w| !is_zero_port(&w.text));
        match sockaddr(cx, &ip.text, port_w) {
            Some((addr, port)) => {
                s.sorry = Some(SorryB {
                    addr,
                    port,
                    fwd: s.fwd,
                    inhibit: false,
                })
            }
            None => cx.general(
                ip.span,
                format!("Invalid sorry server IP address {} - skipping", ip.text),
            ),
        }
    }),
    KV::set("sorry_server_inhibit", "", |s, cx, l| match &mut s.sorry {
        Some(ss) => ss.inhibit = true,
        None => cx.general(
            l.span,
            "Ignoring sorry_server inhibit used before or without sorry_server",
        ),
    })
    .tier(Tier::T3),
    KV::set(
        "sorry_server_lvs_method",
        "NAT|DR|TUN …",
        |s, cx, l| match &mut s.sorry {
            Some(ss) => {
                if let Some(f) = forwarding(cx, l, ss.fwd, "sorry") {
                    ss.fwd = Some(f);
                }
            }
            None => cx.general(l.span, "sorry_server forwarding used without sorry_server"),
        },
    )
    .tier(Tier::T3),
    KV::block("real_server", "IP [PORT] { … }", rs_open).tier(Tier::T1),
]);

// ---------------------------------------------------------------------------
// real_server

/// A real server as parsed; `None` = inherit from the virtual server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RsB {
    pub(crate) addr: IpAddr,
    pub(crate) port: u16,
    span: Span,
    weight: Option<u32>,
    fwd: Option<Forwarding>,
    uthreshold: u32,
    lthreshold: u32,
    inhibit: Option<bool>,
    alpha: Option<bool>,
    notify_up: Option<Box<ScriptCfg>>,
    notify_down: Option<Box<ScriptCfg>>,
    connect_timeout: Option<Duration>,
    delay_loop: Option<Duration>,
    warmup: Option<Duration>,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    smtp_alert: Option<bool>,
    virtualhost: Option<String>,
    snmp_name: Option<String>,
    pub(crate) checkers: Vec<CheckB>,
    /// The virtual server's protocol when the block opened, for messages.
    pub(crate) vs_protocol: Option<Protocol>,
}

impl Block for RsB {
    const NAME: &'static str = "real_server";
    fn table() -> &'static Table<Self> {
        &RS
    }
    fn fallback(&mut self, cx: &mut Cx, line: &LogicalLine) -> Option<Dispatch> {
        checkers::dispatch_checker(self, cx, line)
    }
    fn fallback_names() -> Vec<&'static str> {
        checkers::CHECKER_NAMES.to_vec()
    }
}

fn rs_open(vs: &mut VsB, cx: &mut Cx, l: &LogicalLine) -> Dispatch {
    let new = |addr, port| RsB {
        addr,
        port,
        span: l.span,
        weight: None,
        fwd: vs.fwd,
        uthreshold: 0,
        lthreshold: 0,
        inhibit: None,
        alpha: None,
        notify_up: None,
        notify_down: None,
        connect_timeout: None,
        delay_loop: None,
        warmup: None,
        retry: None,
        delay_before_retry: None,
        smtp_alert: None,
        virtualhost: None,
        snmp_name: None,
        checkers: vec![],
        vs_protocol: vs.protocol,
    };
    let Some(ip) = cx.arg(l, 1) else {
        return cx.skip_block();
    };
    let port_raw = l.words.get(2);
    let port_w = port_raw.filter(|w| !is_zero_port(&w.text));
    match sockaddr(cx, &ip.text, port_w) {
        Some((addr, port)) => cx.open(new(addr, port), rs_close),
        None => {
            cx.general(
                ip.span,
                format!(
                    "Invalid real server ip address/port {}/{} - skipping",
                    ip.text,
                    port_raw.map_or("(null)", |w| w.text.as_str())
                ),
            );
            // keepalived's skip_block(true): the body is not read.
            cx.skip_block()
        }
    }
}

/// keepalived's `rs_end_handler`: unless tunnelled, a real server sets the
/// virtual server's family or must match it.
fn rs_close(vs: &mut VsB, rs: RsB, cx: &mut Cx) {
    if !matches!(rs.fwd, Some(Forwarding::Tun { .. })) {
        let fam = IpFamily::of(&rs.addr);
        match vs.af {
            None => vs.af = Some(fam),
            Some(af) if af != fam => {
                cx.general(
                    rs.span,
                    format!(
                        "Address family of virtual server and real server {} don't match - skipping real server.",
                        rs.addr
                    ),
                );
                return;
            }
            Some(_) => {}
        }
    }
    vs.rs.push(Box::new(rs));
}

type KR = Kw<RsB>;

fn rs_script(cx: &mut Cx, l: &LogicalLine, slot: &mut Option<Box<ScriptCfg>>) {
    if slot.is_some() {
        // keepalived prints vs->vsgname here, which is NULL unless the
        // virtual server is a group; the group name is not known to the
        // real server block, "(null)" covers the common case.
        let arg = l.words.get(1).map_or("(null)", |w| w.text.as_str());
        cx.general(
            l.span,
            format!(
                "((null)) {} script already specified - ignoring {arg}",
                l.keyword()
            ),
        );
        return;
    }
    *slot = script_at(cx, l, 1).map(Box::new);
}

static RS: Table<RsB> = Table::new(&[
    KR::set("weight", "0-2147483647", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, WEIGHT_LIMIT, |t| {
            format!("Real server weight {t} is outside range 0-{WEIGHT_LIMIT}")
        }) {
            s.weight = Some(v);
        }
    })
    .tier(Tier::T1),
    KR::set("lvs_method", "NAT|DR|TUN …", |s, cx, l| {
        if let Some(f) = forwarding(cx, l, s.fwd, "real") {
            s.fwd = Some(f);
        }
    })
    .tier(Tier::T3),
    KR::set("uthreshold", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, u32::MAX, |t| {
            format!("Invalid real_server uthreshold '{t}' - ignoring")
        }) {
            s.uthreshold = v;
        }
    })
    .tier(Tier::T3),
    KR::set("lthreshold", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 0, u32::MAX, |t| {
            format!("Invalid real_server lthreshold '{t}' - ignoring")
        }) {
            s.lthreshold = v;
        }
    })
    .tier(Tier::T3),
    KR::set("inhibit_on_failure", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid inhibit_on_failure parameter") {
            s.inhibit = Some(b);
        }
    }),
    KR::set("notify_up", "CMD [USER [[:]GROUP]]", |s, cx, l| {
        rs_script(cx, l, &mut s.notify_up)
    }),
    KR::set("notify_down", "CMD [USER [[:]GROUP]]", |s, cx, l| {
        rs_script(cx, l, &mut s.notify_down)
    }),
    KR::set("alpha", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid alpha parameter") {
            s.alpha = Some(b);
        }
    })
    .tier(Tier::T3),
    KR::set("retry", "N", |s, cx, l| {
        if let Some(v) = unsigned_arg(cx, l, 1, u32::MAX, |t| format!("retry value invalid - {t}"))
        {
            s.retry = Some(v);
        }
    }),
    KR::set("delay_before_retry", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 0, TIMER_MAX_US, |t| {
            format!("real server delay_before_retry '{t}' invalid - ignoring")
        }) {
            s.delay_before_retry = Some(d);
        }
    }),
    KR::set("warmup", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 0, TIMER_MAX_US, |t| {
            format!("real server warmup '{t}' invalid - ignoring")
        }) {
            s.warmup = Some(d);
        }
    })
    .tier(Tier::T3),
    KR::set("connect_timeout", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 1, CONNECT_TIMEOUT_MAX_US, |t| {
            format!("real server connect_timeout {t} invalid - ignoring")
        }) {
            s.connect_timeout = Some(d);
        }
    }),
    KR::set("delay_loop", "SECS", |s, cx, l| {
        if let Some(d) = timer_arg(cx, l, 1, TIMER_MAX_US, |t| {
            format!("real server delay_loop '{t}' invalid - ignoring")
        }) {
            s.delay_loop = Some(d);
        }
    }),
    KR::set("smtp_alert", "[BOOL]", |s, cx, l| {
        if let Some(b) = opt_bool(cx, l, "Invalid real_server smtp_alert parameter") {
            s.smtp_alert = Some(b);
        }
    })
    .tier(Tier::T3),
    KR::set("virtualhost", "NAME", |s, cx, l| match l.words.get(1) {
        Some(w) => s.virtualhost = Some(w.text.to_string()),
        None => cx.general(l.span, "real server virtualhost missing"),
    })
    .tier(Tier::T3),
    KR::set("snmp_name", "NAME", |s, cx, l| {
        if l.words.len() != 2 {
            cx.general(l.span, "real server snmp_name missing or extra parameters");
            return;
        }
        s.snmp_name = l.words.get(1).map(|w| w.text.to_string());
    })
    .tier(Tier::T3),
]);

// ---------------------------------------------------------------------------
// Validation

/// What validation needs from the rest of the model.
pub(crate) struct ValidateCx<'a> {
    pub groups: &'a [VirtualServerGroupCfg],
    pub track_files: &'a [TrackFileCfg],
    pub bfd_instances: &'a [BfdInstanceCfg],
    /// `smtp_alert_checker`, else `smtp_alert`, of global_defs.
    pub smtp_alert: Option<bool>,
}

fn rs_iseq(a: (&IpAddr, u16), b: (&IpAddr, u16)) -> bool {
    a == b
}

/// `link_vsg_to_vs` and `validate_check_config` for one virtual server;
/// `None` when keepalived drops it.
pub(crate) fn validate_vs(mut vs: VsB, ctx: &ValidateCx, cx: &mut Cx) -> Option<VirtualServerCfg> {
    // link_vsg_to_vs: keepalived only logs these (no effect on `-t`).
    let group = match &vs.key {
        VsKey::Group { name } => {
            let Some(g) = ctx.groups.iter().find(|g| &g.name == name) else {
                cx.info(
                    vs.span,
                    format!(
                        "Virtual server group {name} specified but not configured - ignoring virtual server {}",
                        vs.fmt()
                    ),
                );
                return None;
            };
            let has4 = g.entries.iter().any(|e| match e {
                VsgEntryCfg::Range { first, .. } => first.is_ipv4(),
                VsgEntryCfg::Fwmark { family, .. } => *family == Some(IpFamily::Inet),
            });
            let has6 = g.entries.iter().any(|e| match e {
                VsgEntryCfg::Range { first, .. } => first.is_ipv6(),
                VsgEntryCfg::Fwmark { family, .. } => *family == Some(IpFamily::Inet6),
            });
            let vsg_af = match (has4, has6) {
                (true, false) => Some(IpFamily::Inet),
                (false, true) => Some(IpFamily::Inet6),
                _ => None,
            };
            if has4 && has6 && vs.af.is_some() {
                cx.info(
                    vs.span,
                    format!(
                        "{name}: virtual server group with IPv4 & IPv6 doesn't match virtual server {} - ignoring",
                        vs.fmt()
                    ),
                );
                return None;
            }
            if (has4 && vs.af == Some(IpFamily::Inet6)) || (has6 && vs.af == Some(IpFamily::Inet)) {
                cx.info(
                    vs.span,
                    format!(
                        "{name}: address family doesn't match virtual server {} - ignoring",
                        vs.fmt()
                    ),
                );
                return None;
            }
            if let Some(a) = vsg_af {
                if vs.af.is_none() {
                    vs.af = Some(a);
                }
            }
            Some(g)
        }
        _ => None,
    };
    let group_has_addr = group.is_some_and(|g| {
        g.entries
            .iter()
            .any(|e| matches!(e, VsgEntryCfg::Range { .. }))
    });
    let group_has_fwmark = group.is_some_and(|g| {
        g.entries
            .iter()
            .any(|e| matches!(e, VsgEntryCfg::Fwmark { .. }))
    });
    let is_fwmark = matches!(vs.key, VsKey::Fwmark { .. });
    let vs_port = match vs.key {
        VsKey::Addr { port, .. } => port,
        _ => 0,
    };

    if vs.rs.is_empty() {
        cx.general(
            vs.span,
            format!("Virtual server {} has no real servers - ignoring", vs.fmt()),
        );
        return None;
    }
    if vs.ha_suspend && (is_fwmark || group_has_fwmark) {
        cx.general(
            vs.span,
            format!(
                "Virtual server {}: cannot use ha_suspend with fwmarks - clearing ha_suspend",
                vs.fmt()
            ),
        );
        vs.ha_suspend = false;
    }
    if group_has_addr || (group.is_none() && !is_fwmark) {
        if vs.protocol.is_none() {
            // The kernel would default a protocol of 0 to UDP.
            cx.general(
                vs.span,
                format!(
                    "Virtual server {}: no protocol set - defaulting to UDP",
                    vs.fmt()
                ),
            );
            vs.protocol = Some(Protocol::Udp);
        }
        if vs.flags.one_packet && vs.protocol != Some(Protocol::Udp) {
            cx.general(
                vs.span,
                format!(
                    "Virtual server {}: one packet scheduling requires UDP - resetting",
                    vs.fmt()
                ),
            );
            vs.flags.one_packet = false;
        }
        if vs.persistence_timeout.is_none() && group.is_none() && !is_fwmark && vs_port == 0 {
            cx.general(
                vs.span,
                format!(
                    "Virtual server {}: zero port only valid for persistent services - setting",
                    vs.fmt()
                ),
            );
            vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
        }
    }
    if vs.persistence_timeout.is_none() {
        if let Some(g) = group {
            if g.entries
                .iter()
                .any(|e| matches!(e, VsgEntryCfg::Range { port: 0, .. }))
            {
                cx.general(
                    vs.span,
                    format!(
                        "Virtual server {}: zero port only valid for persistent services - setting",
                        vs.fmt()
                    ),
                );
                vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
            }
        }
    }
    if vs.protocol.is_some()
        && ((group.is_some() && !group_has_addr && group_has_fwmark)
            || (group.is_none() && is_fwmark))
    {
        cx.general(
            vs.span,
            format!(
                "Warning: Virtual server {}: protocol specified for fwmark - protocol will be ignored",
                vs.fmt()
            ),
        );
        vs.protocol = None;
    }
    let scheduler = match vs.sched.take() {
        Some(s) => s,
        None => {
            cx.general(
                vs.span,
                format!(
                    "Virtual server {}: no scheduler set, setting default '{DEFAULT_SCHEDULER}'",
                    vs.fmt()
                ),
            );
            DEFAULT_SCHEDULER.to_string()
        }
    };
    let vs_smtp = vs.smtp_alert.or(ctx.smtp_alert).unwrap_or(false);

    // The real servers: duplicates, forwarding, inherited values.
    let mut fwd_default_reported = false;
    let vs_span = vs.span;
    let mut resolve_fwd = |vs_fwd: &mut Option<Forwarding>, cx: &mut Cx, vsfmt: &str| {
        if vs_fwd.is_none() {
            if !fwd_default_reported {
                cx.general(
                    vs_span,
                    format!(
                        "Virtual server {vsfmt}: no forwarding method set, setting default NAT"
                    ),
                );
                fwd_default_reported = true;
            }
            *vs_fwd = Some(Forwarding::Nat);
        }
        vs_fwd.unwrap_or(Forwarding::Nat)
    };
    let vsfmt = vs.fmt();
    let mut rss: Vec<RealServerCfg> = Vec::with_capacity(vs.rs.len());
    let mut weight_sum: u64 = 0;
    let mut sorry = vs.sorry.take();
    let rs_list = std::mem::take(&mut vs.rs);
    for rs in rs_list {
        let rs = *rs;
        if rss
            .iter()
            .any(|o| rs_iseq((&o.addr, o.port), (&rs.addr, rs.port)))
        {
            cx.general(
                rs.span,
                format!(
                    "VS {vsfmt}: real server {} is duplicated - removing second rs",
                    fmt_rs(&rs.addr, rs.port, vs.protocol)
                ),
            );
            continue;
        }
        let forwarding = match rs.fwd {
            Some(f) => f,
            None => resolve_fwd(&mut vs.fwd, cx, &vsfmt),
        };
        let weight = rs.weight.unwrap_or(vs.weight);
        let inhibit = rs.inhibit.unwrap_or(vs.inhibit);
        let smtp_alert = rs
            .smtp_alert
            .or(ctx.smtp_alert)
            // Inconsistent with the other smtp_alert defaults, kept by
            // keepalived for backwards compatibility.
            .unwrap_or(true);
        weight_sum += u64::from(weight);
        if let Some(s) = &mut sorry {
            if (s.addr, s.port) == (rs.addr, rs.port) && s.inhibit != inhibit {
                cx.general(
                    vs.span,
                    format!(
                        "Virtual server {vsfmt}: real server {} matches sorry server, but inhibit setting differs, {}ing on sorry server",
                        fmt_rs(&rs.addr, rs.port, vs.protocol),
                        if inhibit { "sett" } else { "clear" }
                    ),
                );
                s.inhibit = inhibit;
            }
        }
        let mut r = RealServerCfg {
            addr: rs.addr,
            port: rs.port,
            span: rs.span,
            weight,
            forwarding,
            uthreshold: rs.uthreshold,
            lthreshold: rs.lthreshold,
            inhibit_on_failure: inhibit,
            alpha: rs.alpha.unwrap_or(vs.alpha),
            smtp_alert,
            notify_up: rs.notify_up,
            notify_down: rs.notify_down,
            virtualhost: rs.virtualhost.or_else(|| vs.virtualhost.clone()),
            snmp_name: rs.snmp_name,
            connect_timeout: rs.connect_timeout.unwrap_or(vs.connect_timeout),
            retry: rs.retry.or(vs.retry),
            delay_loop: rs.delay_loop.unwrap_or(vs.delay_loop),
            delay_before_retry: rs.delay_before_retry.or(vs.delay_before_retry),
            warmup: rs.warmup.or(vs.warmup),
            checkers: vec![],
        };
        // Sized from the blocks: collecting a flat_map starts at four
        // slots, which for the usual single checker wasted ~1 KiB per real
        // server (a third of `-t`'s memory on 40k real servers).
        let mut resolved = Vec::with_capacity(rs.checkers.len());
        for c in rs.checkers {
            resolved.extend(checkers::resolve(c, &r, ctx, cx));
        }
        r.checkers = resolved;
        rss.push(r);
    }
    let sorry = sorry.map(|s| SorryServerCfg {
        addr: s.addr,
        port: s.port,
        forwarding: s
            .fwd
            .unwrap_or_else(|| resolve_fwd(&mut vs.fwd, cx, &vsfmt)),
        inhibit: s.inhibit,
    });
    let mut sorry = sorry;

    // The quorum cannot exceed what the real servers can bring up.
    let weight_sum = u32::try_from(weight_sum).unwrap_or(u32::MAX);
    if vs.quorum > weight_sum {
        cx.general(
            vs.span,
            format!(
                "Warning - quorum {} for {vsfmt} exceeds total weight of real servers {weight_sum}, reducing quorum to {weight_sum}",
                vs.quorum
            ),
        );
        vs.quorum = weight_sum;
    }
    if vs.hysteresis >= vs.quorum {
        let h = vs.quorum.wrapping_sub(1);
        cx.general(
            vs.span,
            format!(
                "Virtual server {vsfmt}: hysteresis {} >= quorum {}; setting hysteresis to {h}",
                vs.hysteresis, vs.quorum
            ),
        );
        vs.hysteresis = h;
    }

    // Ports: unless NAT, real servers use the virtual server's port, and
    // none with a fwmark.
    if let Some(g) = group {
        if group_has_fwmark {
            for r in rss.iter().filter(|r| r.forwarding != Forwarding::Nat) {
                if r.port != 0 {
                    cx.general(
                        r.span,
                        format!(
                            "WARNING - fwmark virtual server {vsfmt}, real server {} has port specified - port will be ignored",
                            fmt_rs(&r.addr, r.port, vs.protocol)
                        ),
                    );
                }
            }
            if sorry
                .as_ref()
                .is_some_and(|s| s.forwarding != Forwarding::Nat && s.port != 0)
            {
                cx.general(
                    vs.span,
                    format!(
                        "WARNING - fwmark virtual server {vsfmt}, sorry server has port specified - port will be ignored"
                    ),
                );
            }
        }
        for e in &g.entries {
            let VsgEntryCfg::Range { first, last, port } = e else {
                continue;
            };
            let ge = if first == last {
                format!("{first},{port}")
            } else {
                format!("{first}-{last},{port}")
            };
            for r in rss.iter().filter(|r| r.forwarding != Forwarding::Nat) {
                if r.port != 0 && r.port != *port {
                    cx.general(
                        r.span,
                        format!(
                            "virtual server {vsfmt}:[{ge}] and real server {} ports don't match",
                            fmt_rs(&r.addr, r.port, vs.protocol)
                        ),
                    );
                }
            }
            if sorry
                .as_ref()
                .is_some_and(|s| s.forwarding != Forwarding::Nat && s.port != 0 && s.port != *port)
            {
                cx.general(
                    vs.span,
                    format!(
                        "WARNING - virtual server {vsfmt}, sorry server has port specified - port will be ignored"
                    ),
                );
            }
        }
    } else {
        for r in &mut rss {
            if r.forwarding == Forwarding::Nat {
                if !is_fwmark && r.port == 0 {
                    r.port = vs_port;
                }
                continue;
            }
            if is_fwmark {
                if r.port != 0 {
                    cx.general(
                        r.span,
                        format!(
                            "WARNING - fwmark virtual server {vsfmt}, real server {} has port specified - clearing",
                            fmt_rs(&r.addr, r.port, vs.protocol)
                        ),
                    );
                    r.port = 0;
                }
            } else if r.port == 0 {
                r.port = vs_port;
            } else if r.port != vs_port {
                cx.general(
                    r.span,
                    format!(
                        "WARNING - virtual server {vsfmt} and real server {} ports don't match - resetting",
                        fmt_rs(&r.addr, r.port, vs.protocol)
                    ),
                );
                r.port = vs_port;
            }
        }
        if let Some(s) = &mut sorry {
            if s.forwarding != Forwarding::Nat {
                if is_fwmark {
                    if s.port != 0 {
                        cx.general(
                            vs.span,
                            format!(
                                "WARNING - virtual server {vsfmt}, sorry server has port specified - clearing"
                            ),
                        );
                        s.port = 0;
                    }
                } else if s.port == 0 {
                    s.port = vs_port;
                } else if s.port != vs_port {
                    cx.general(
                        vs.span,
                        format!(
                            "WARNING - virtual server {vsfmt} and sorry server ports don't match - resetting"
                        ),
                    );
                    s.port = vs_port;
                }
            }
        }
    }

    let forwarding = vs.fwd.unwrap_or(Forwarding::Nat);
    Some(VirtualServerCfg {
        family: vs.af.unwrap_or(IpFamily::Inet),
        key: vs.key,
        span: vs.span,
        protocol: vs.protocol,
        scheduler,
        flags: vs.flags,
        forwarding,
        persistence_timeout: vs.persistence_timeout,
        persistence_granularity: vs.granularity,
        persistence_engine: vs.engine,
        delay_loop: vs.delay_loop,
        connect_timeout: vs.connect_timeout,
        retry: vs.retry,
        delay_before_retry: vs.delay_before_retry,
        warmup: vs.warmup,
        weight: vs.weight,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        quorum_up: vs.quorum_up,
        quorum_down: vs.quorum_down,
        alpha: vs.alpha,
        omega: vs.omega,
        inhibit_on_failure: vs.inhibit,
        ha_suspend: vs.ha_suspend,
        virtualhost: vs.virtualhost,
        snmp_name: vs.snmp_name,
        smtp_alert: vs_smtp,
        sorry_server: sorry,
        real_servers: rss,
    })
}

/// A diagnostic helper for checker resolution: GENERAL_ERROR at `span`.
pub(crate) fn general_at(cx: &mut Cx, span: Span, msg: String) {
    cx.diags.push(Diagnostic::error(
        crate::diag::ErrClass::GeneralError,
        Some(span),
        msg,
    ));
}
