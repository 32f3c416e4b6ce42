//! The table as `ipvsadm -Ln` prints it (ipvsadm 1.31 layout), so a table
//! read through this crate can be compared line by line with ipvsadm's own
//! listing, and operators see the familiar format.

use std::fmt::Write;
use std::net::IpAddr;

use crate::types::*;

fn sockaddr(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Scheduler flags the way ipvsadm names them for `sh`, `mh` and others.
fn sched_flags(s: &Service) -> Option<String> {
    let f = s.sched_flags;
    let names: [&str; 3] = match s.scheduler.as_str() {
        "sh" => ["sh-fallback", "sh-port", "flag-3"],
        "mh" => ["mh-fallback", "mh-port", "flag-3"],
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    let on: Vec<&str> = [f.flag1, f.flag2, f.flag3]
        .iter()
        .zip(names)
        .filter(|(b, _)| **b)
        .map(|(_, n)| n)
        .collect();
    (!on.is_empty()).then(|| on.join(","))
}

/// One service line, without the trailing newline.
pub fn service_line(s: &Service) -> String {
    let mut line = match s.key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{protocol}  {} {}", sockaddr(&addr, port), s.scheduler),
        ServiceKey::Fwmark { family, mark } => match family {
            Family::Inet => format!("FWM  {mark} {}", s.scheduler),
            Family::Inet6 => format!("FWM  {mark} IPv6 {}", s.scheduler),
        },
    };
    if let Some(f) = sched_flags(s) {
        let _ = write!(line, " ({f})");
    }
    if let Some(p) = s.persistence {
        let _ = write!(line, " persistent {}", p.timeout);
        match s.key.family() {
            Family::Inet if p.prefix != 32 => {
                let m = if p.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(p.prefix.min(32)))
                };
                let _ = write!(line, " mask {}", std::net::Ipv4Addr::from(m));
            }
            Family::Inet6 if p.prefix != 128 => {
                let _ = write!(line, " mask {}", p.prefix);
            }
            _ => {}
        }
        if let Some(pe) = &s.pe_name {
            let _ = write!(line, " pe {pe}");
        }
    }
    if s.one_packet {
        line.push_str(" ops");
    }
    line
}

/// One destination line, without the trailing newline.
pub fn dest_line(d: &DestEntry) -> String {
    format!(
        "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
        sockaddr(&d.dest.key.addr, d.dest.key.port),
        d.dest.fwd.to_string(),
        d.dest.weight,
        d.active_conns,
        d.inact_conns
    )
    .trim_end()
    .to_string()
}

/// `ntohl(a) - ntohl(b)` as libipvs computes it: unsigned subtraction read
/// back as a C int, so (like ipvsadm) far-apart addresses can compare
/// "backwards". Kept for byte-identical listings.
fn c_sub(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Address words in host order, as libipvs walks `s6_addr32`.
fn words(a: &IpAddr) -> Vec<u32> {
    match a {
        IpAddr::V4(v) => vec![u32::from(*v)],
        IpAddr::V6(v) => v
            .octets()
            .chunks(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    }
}

fn cmp_addr(a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (words(a), words(b));
    wa.iter()
        .zip(wb.iter().chain(std::iter::repeat(&0)))
        .map(|(x, y)| c_sub(*x, *y))
        .find(|r| *r != 0)
        .unwrap_or(0)
}

/// libipvs `ipvs_cmp_services`: fwmark, family, protocol, address, port.
fn cmp_services(a: &Service, b: &Service) -> std::cmp::Ordering {
    let parts = |s: &Service| match s.key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (
            0u32,
            Family::of(&addr).to_af(),
            protocol.to_ipproto(),
            Some(addr),
            port,
        ),
        ServiceKey::Fwmark { family, mark } => (mark, family.to_af(), 0, None, 0),
    };
    let (fa, afa, pa, aa, porta) = parts(a);
    let (fb, afb, pb, ab, portb) = parts(b);
    let r = [
        c_sub(fa, fb),
        i32::from(afa) - i32::from(afb),
        i32::from(pa) - i32::from(pb),
        match (aa, ab) {
            (Some(x), Some(y)) => cmp_addr(&x, &y),
            _ => 0,
        },
        i32::from(porta) - i32::from(portb),
    ]
    .into_iter()
    .find(|r| *r != 0)
    .unwrap_or(0);
    r.cmp(&0)
}

/// libipvs `ipvs_cmp_dests`: address, then port.
fn cmp_dests(a: &DestEntry, b: &DestEntry) -> std::cmp::Ordering {
    let r = match cmp_addr(&a.dest.key.addr, &b.dest.key.addr) {
        0 => i32::from(a.dest.key.port) - i32::from(b.dest.key.port),
        r => r,
    };
    r.cmp(&0)
}

/// The whole listing, header included, sorted the way ipvsadm sorts it
/// (the kernel dumps in hash-table and insertion order).
pub fn ipvsadm_ln(info: &Info, table: &[(ServiceEntry, Vec<DestEntry>)]) -> String {
    let mut table: Vec<(ServiceEntry, Vec<DestEntry>)> = table.to_vec();
    table.sort_by(|a, b| cmp_services(&a.0.service, &b.0.service));
    for (_, d) in table.iter_mut() {
        d.sort_by(cmp_dests);
    }
    let mut out = format!(
        "IP Virtual Server version {} (size={})\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
        info.version_string(),
        info.conn_tab_size
    );
    for (s, dests) in &table {
        out.push_str(&service_line(&s.service));
        out.push('\n');
        for d in dests {
            out.push_str(&dest_line(d));
            out.push('\n');
        }
    }
    out
}
