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

/// The whole listing, header included.
pub fn ipvsadm_ln(info: &Info, table: &[(ServiceEntry, Vec<DestEntry>)]) -> String {
    let mut out = format!(
        "IP Virtual Server version {} (size={})\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
        info.version_string(),
        info.conn_tab_size
    );
    for (s, dests) in table {
        out.push_str(&service_line(&s.service));
        out.push('\n');
        for d in dests {
            out.push_str(&dest_line(d));
            out.push('\n');
        }
    }
    out
}
