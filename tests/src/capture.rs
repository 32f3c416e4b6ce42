//! Packet capture inside a lab namespace: an AF_PACKET socket on one interface, frames decoded into VRRP adverts, ARP and IPv6 neighbour advertisements with timestamps.
//!
//! The socket is opened by a thread that first enters the namespace
//! (`setns(CLONE_NEWNET)` affects only the calling thread); a packet socket
//! stays bound to the namespace it was created in, so the same thread reads
//! it until [`Capture::stop`] (or drop). Frames of other interfaces in that
//! namespace are skipped by ifindex. Only what the labs assert on is decoded:
//! VRRP v2/v3 (IP protocol 112, RFC 3768 5 / RFC 5798 5.1), ARP (RFC 826;
//! gratuitous when sender IP equals target IP) and ICMPv6 type 136
//! (RFC 4861 4.4); everything else is kept as [`Kind::Other`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::socket::{self, sockopt, AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType};
use nix::sys::time::TimeVal;
use pnet_packet::arp::ArpPacket;
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::icmpv6::ndp::{NeighborAdvertFlags, NeighborAdvertPacket};
use pnet_packet::icmpv6::{Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::Packet;

use crate::netns::{Host, Lab, LabError, Result};

/// Linux `PACKET_OUTGOING`: a frame the capturing host sent.
const PACKET_OUTGOING: u8 = 4;

/// How often the reader thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// A VRRP advertisement (RFC 3768 5.1 for v2, RFC 5798 5.1 for v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vrrp {
    /// Version nibble: 2 or 3.
    pub version: u8,
    /// Type nibble (1 = advertisement).
    pub kind: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority (0 = the master is leaving).
    pub priority: u8,
    /// IP source.
    pub src: IpAddr,
    /// IP destination (224.0.0.18 / ff02::12, or a unicast peer).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit (must be 255).
    pub ttl: u8,
    /// Advertisement interval in centiseconds (v2's seconds x 100).
    pub advert_int_cs: u16,
    /// v2 auth type (0 none, 1 simple password, 2 AH); 0 for v3.
    pub auth_type: u8,
    /// The virtual addresses carried.
    pub addrs: Vec<IpAddr>,
}

/// An ARP packet (RFC 826).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arp {
    /// Operation: 1 request, 2 reply.
    pub op: u16,
    /// Sender hardware address.
    pub sender_mac: [u8; 6],
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl Arp {
    /// Gratuitous ARP: sender IP equals target IP (RFC 5227 3; what
    /// keepalived sends for each VIP on becoming master).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

/// An IPv6 neighbour advertisement (ICMPv6 136, RFC 4861 4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborAdvert {
    /// IPv6 source.
    pub src: Ipv6Addr,
    /// IPv6 destination (ff02::1 when unsolicited).
    pub dst: Ipv6Addr,
    /// Hop limit (must be 255).
    pub hop_limit: u8,
    /// The target address announced.
    pub target: Ipv6Addr,
    /// R flag.
    pub router: bool,
    /// S flag (false when unsolicited).
    pub solicited: bool,
    /// O flag.
    pub override_flag: bool,
}

/// What a frame carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A VRRP packet.
    Vrrp(Vrrp),
    /// An ARP packet.
    Arp(Arp),
    /// A neighbour advertisement.
    NeighborAdvert(NeighborAdvert),
    /// Anything else (ethertype), or an undecodable frame.
    Other(u16),
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// When it was read.
    pub at: Instant,
    /// Time since the capture started.
    pub offset: Duration,
    /// Sent by the host the capture runs on (`PACKET_OUTGOING`).
    pub outgoing: bool,
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// Decoded content.
    pub kind: Kind,
}

impl Frame {
    /// The VRRP advert in it, if any.
    pub fn vrrp(&self) -> Option<&Vrrp> {
        match &self.kind {
            Kind::Vrrp(v) => Some(v),
            _ => None,
        }
    }

    /// The ARP packet in it, if any.
    pub fn arp(&self) -> Option<&Arp> {
        match &self.kind {
            Kind::Arp(a) => Some(a),
            _ => None,
        }
    }

    /// The neighbour advertisement in it, if any.
    pub fn neighbor_advert(&self) -> Option<&NeighborAdvert> {
        match &self.kind {
            Kind::NeighborAdvert(n) => Some(n),
            _ => None,
        }
    }
}

/// A running capture on one interface of one namespace.
#[derive(Debug)]
pub struct Capture {
    frames: Arc<Mutex<Vec<Frame>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
    started: Instant,
    what: String,
}

impl Capture {
    /// Starts capturing on `iface` inside namespace `ns`. Returns once the
    /// socket is open, so every frame after the call is seen.
    pub fn start(ns: &str, iface: &str) -> Result<Capture> {
        let what = format!("capture on {iface} in {ns}");
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Instant>>();
        let (ns_s, if_s, f2, s2) = (
            ns.to_string(),
            iface.to_string(),
            Arc::clone(&frames),
            Arc::clone(&stop),
        );
        let thread = thread::Builder::new()
            .name(format!("capture-{iface}"))
            .spawn(move || reader(&ns_s, &if_s, &f2, &s2, &ready_tx))
            .map_err(|e| LabError::Io {
                what: format!("spawn the {what} thread"),
                source: e,
            })?;
        let started = match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                return Err(LabError::Timeout {
                    what: format!("{what} to open"),
                    timeout: Duration::from_secs(5),
                });
            }
        };
        Ok(Capture {
            frames,
            stop,
            thread: Some(thread),
            started,
            what,
        })
    }

    /// Captures on the host's own interface `iface` (sees what it sends and
    /// what reaches it).
    pub fn on_host(host: &Host, iface: &str) -> Result<Capture> {
        host.iface(iface)?;
        Self::start(host.ns(), iface)
    }

    /// Captures on the switch-side port of `host`'s `iface`: the same frames
    /// as [`Capture::on_host`], but it keeps capturing while the host's end
    /// is down, and `outgoing` means "towards the host".
    pub fn on_port(lab: &Lab, host: &str, iface: &str) -> Result<Capture> {
        let port = lab.host(host)?.iface(iface)?.port.clone();
        Self::start(lab.switch_ns(), &port)
    }

    /// When the socket was ready.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The frames captured so far.
    pub fn frames(&self) -> Vec<Frame> {
        self.frames.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// The VRRP adverts captured so far.
    pub fn vrrp(&self) -> Vec<(Duration, Vrrp)> {
        self.frames()
            .into_iter()
            .filter_map(|f| match f.kind {
                Kind::Vrrp(v) => Some((f.offset, v)),
                _ => None,
            })
            .collect()
    }

    /// Gratuitous ARPs for `ip` captured so far.
    pub fn garps(&self, ip: Ipv4Addr) -> Vec<(Duration, Arp)> {
        self.frames()
            .into_iter()
            .filter_map(|f| match f.kind {
                Kind::Arp(a) if a.is_gratuitous() && a.sender_ip == ip => Some((f.offset, a)),
                _ => None,
            })
            .collect()
    }

    /// Unsolicited neighbour advertisements for `target` captured so far.
    pub fn unsolicited_nas(&self, target: Ipv6Addr) -> Vec<(Duration, NeighborAdvert)> {
        self.frames()
            .into_iter()
            .filter_map(|f| match f.kind {
                Kind::NeighborAdvert(n) if !n.solicited && n.target == target => {
                    Some((f.offset, n))
                }
                _ => None,
            })
            .collect()
    }

    /// Polls every 10 ms until `done(frames)` holds, up to `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[Frame]) -> bool,
    ) -> Result<Vec<Frame>> {
        let deadline = Instant::now() + timeout;
        loop {
            let f = self.frames();
            if done(&f) {
                return Ok(f);
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!(
                        "a frame condition on the {} ({} frames)",
                        self.what,
                        f.len()
                    ),
                    timeout,
                });
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the capture and returns every frame.
    pub fn stop(mut self) -> Vec<Frame> {
        self.halt();
        self.frames()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // Bounded: the reader wakes every POLL to look at the flag.
            let _ = t.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.halt();
    }
}

fn reader(
    ns: &str,
    iface: &str,
    frames: &Mutex<Vec<Frame>>,
    stop: &AtomicBool,
    ready: &mpsc::Sender<Result<Instant>>,
) {
    let fd = match open_in_ns(ns, iface) {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let (sock, ifindex) = fd;
    let started = Instant::now();
    if ready.send(Ok(started)).is_err() {
        return;
    }
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let (n, addr) = match socket::recvfrom::<LinkAddr>(sock.as_raw_fd(), &mut buf) {
            Ok(x) => x,
            // EAGAIN on the receive timeout, EINTR: look at the flag again.
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            // The namespace or interface went away: nothing more to read.
            Err(_) => break,
        };
        let at = Instant::now();
        let Some(addr) = addr else { continue };
        if addr.ifindex() != ifindex {
            continue;
        }
        let Some(data) = buf.get(..n) else { continue };
        if let Some(frame) = decode(
            data,
            at,
            at.saturating_duration_since(started),
            addr.pkttype() == PACKET_OUTGOING,
        ) {
            if let Ok(mut f) = frames.lock() {
                f.push(frame);
            }
        }
    }
}

/// Enters `ns` (this thread only) and opens a packet socket for every
/// protocol; returns it with `iface`'s index.
fn open_in_ns(ns: &str, iface: &str) -> Result<(std::os::fd::OwnedFd, usize)> {
    let err = |what: String| {
        move |e: nix::errno::Errno| LabError::Io {
            what,
            source: e.into(),
        }
    };
    let path = format!("/run/netns/{ns}");
    let nsfile = std::fs::File::open(&path).map_err(|e| LabError::Io {
        what: format!("open {path}"),
        source: e,
    })?;
    nix::sched::setns(&nsfile, CloneFlags::CLONE_NEWNET).map_err(err(format!("setns {ns}")))?;
    let ifindex =
        nix::net::if_::if_nametoindex(iface).map_err(err(format!("no {iface} in {ns}")))?;
    let sock = socket::socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .map_err(err("AF_PACKET socket".into()))?;
    socket::setsockopt(
        &sock,
        sockopt::ReceiveTimeout,
        &TimeVal::from(libc::timeval {
            tv_sec: 0,
            tv_usec: libc::suseconds_t::try_from(POLL.as_micros()).unwrap_or(20_000),
        }),
    )
    .map_err(err("SO_RCVTIMEO".into()))?;
    // A burst (GARPs of many VIPs, a flood test) must not overflow the
    // default buffer; the kernel caps this at rmem_max silently.
    let _ = socket::setsockopt(&sock, sockopt::RcvBuf, &(4 << 20));
    Ok((sock, ifindex as usize))
}

/// Decodes one Ethernet frame; `None` only when it is too short to have an
/// Ethernet header.
pub fn decode(data: &[u8], at: Instant, offset: Duration, outgoing: bool) -> Option<Frame> {
    let eth = EthernetPacket::new(data)?;
    let ethertype = eth.get_ethertype();
    let kind = if ethertype == EtherTypes::Arp {
        decode_arp(eth.payload())
    } else if ethertype == EtherTypes::Ipv4 {
        decode_ipv4(eth.payload())
    } else if ethertype == EtherTypes::Ipv6 {
        decode_ipv6(eth.payload())
    } else {
        None
    }
    .unwrap_or(Kind::Other(ethertype.0));
    Some(Frame {
        at,
        offset,
        outgoing,
        src_mac: eth.get_source().octets(),
        dst_mac: eth.get_destination().octets(),
        kind,
    })
}

fn decode_arp(p: &[u8]) -> Option<Kind> {
    let a = ArpPacket::new(p)?;
    Some(Kind::Arp(Arp {
        op: a.get_operation().0,
        sender_mac: a.get_sender_hw_addr().octets(),
        sender_ip: a.get_sender_proto_addr(),
        target_ip: a.get_target_proto_addr(),
    }))
}

fn decode_ipv4(p: &[u8]) -> Option<Kind> {
    let ip = Ipv4Packet::new(p)?;
    if ip.get_next_level_protocol() != IpNextHeaderProtocols::Vrrp {
        return None;
    }
    decode_vrrp(
        ip.payload(),
        ip.get_source().into(),
        ip.get_destination().into(),
        ip.get_ttl(),
    )
}

fn decode_ipv6(p: &[u8]) -> Option<Kind> {
    let ip = Ipv6Packet::new(p)?;
    let next: IpNextHeaderProtocol = ip.get_next_header();
    if next == IpNextHeaderProtocols::Vrrp {
        return decode_vrrp(
            ip.payload(),
            ip.get_source().into(),
            ip.get_destination().into(),
            ip.get_hop_limit(),
        );
    }
    if next != IpNextHeaderProtocols::Icmpv6 {
        return None;
    }
    let icmp = Icmpv6Packet::new(ip.payload())?;
    if icmp.get_icmpv6_type() != Icmpv6Types::NeighborAdvert {
        return None;
    }
    let na = NeighborAdvertPacket::new(ip.payload())?;
    let flags = na.get_flags();
    Some(Kind::NeighborAdvert(NeighborAdvert {
        src: ip.get_source(),
        dst: ip.get_destination(),
        hop_limit: ip.get_hop_limit(),
        target: na.get_target_addr(),
        router: flags & NeighborAdvertFlags::Router != 0,
        solicited: flags & NeighborAdvertFlags::Solicited != 0,
        override_flag: flags & NeighborAdvertFlags::Override != 0,
    }))
}

/// The VRRP header after the IP header.
///
/// ```text
/// v2 (RFC 3768 5.1)                     v3 (RFC 5798 5.1)
/// |Ver|Type| VRID | Prio | Count IPs |  |Ver|Type| VRID | Prio | Count IPvX |
/// | AuthType | AdvInt(s) | Checksum  |  |Rsvd| Max Adver Int (cs) | Checksum |
/// | addresses ... [auth data, 8 B]   |  | addresses ...                      |
/// ```
fn decode_vrrp(p: &[u8], src: IpAddr, dst: IpAddr, ttl: u8) -> Option<Kind> {
    let hdr = p.get(..8)?;
    let version = hdr[0] >> 4;
    let count = usize::from(hdr[3]);
    let (advert_int_cs, auth_type) = match version {
        2 => (u16::from(hdr[5]) * 100, hdr[4]),
        3 => (u16::from_be_bytes([hdr[4], hdr[5]]) & 0x0fff, 0),
        _ => return None,
    };
    let width = if src.is_ipv4() { 4 } else { 16 };
    let mut addrs = Vec::with_capacity(count);
    for i in 0..count {
        let start = 8 + i * width;
        let Some(b) = p.get(start..start + width) else {
            break;
        };
        addrs.push(match <[u8; 4]>::try_from(b) {
            Ok(v4) => IpAddr::from(v4),
            Err(_) => IpAddr::from(<[u8; 16]>::try_from(b).ok()?),
        });
    }
    Some(Kind::Vrrp(Vrrp {
        version,
        kind: hdr[0] & 0x0f,
        vrid: hdr[1],
        priority: hdr[2],
        src,
        dst,
        ttl,
        advert_int_cs,
        auth_type,
        addrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend([0x00, 0x00, 0x5e, 0x00, 0x01, 0x33]);
        f.extend(ethertype.to_be_bytes());
        f.extend(payload);
        f
    }

    fn dec(f: &[u8]) -> Kind {
        let now = Instant::now();
        decode(f, now, Duration::ZERO, false)
            .map(|f| f.kind)
            .unwrap_or(Kind::Other(0xffff))
    }

    #[test]
    fn decodes_a_vrrp_v2_advert() {
        // IPv4 header (20 B, proto 112, TTL 255, 10.0.0.1 -> 224.0.0.18),
        // then VRRP v2: vrid 51, prio 150, 1 addr, auth 0, advert 1 s.
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        ip.extend([
            0x21, 51, 150, 1, 0, 1, 0, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        let Kind::Vrrp(v) = dec(&eth(0x0800, &ip)) else {
            panic!("not decoded as VRRP")
        };
        assert_eq!(
            (v.version, v.kind, v.vrid, v.priority, v.ttl),
            (2, 1, 51, 150, 255)
        );
        assert_eq!(v.advert_int_cs, 100);
        assert_eq!(v.src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(v.addrs, vec![IpAddr::from([10, 0, 0, 100])]);
    }

    #[test]
    fn decodes_a_vrrp_v3_ipv6_advert() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 24, 112, 255];
        ip.extend(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets());
        ip.extend(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12).octets());
        // v3, vrid 7, prio 100, 1 addr, max adver int 50 cs.
        ip.extend([0x31, 7, 100, 1, 0, 50, 0, 0]);
        ip.extend(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100).octets());
        let Kind::Vrrp(v) = dec(&eth(0x86dd, &ip)) else {
            panic!("not decoded as VRRP")
        };
        assert_eq!(
            (v.version, v.vrid, v.priority, v.advert_int_cs),
            (3, 7, 100, 50)
        );
        assert_eq!(
            v.addrs,
            vec![IpAddr::from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100))]
        );
    }

    #[test]
    fn decodes_gratuitous_arp() {
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend([0, 0, 0x5e, 0, 1, 0x33, 10, 0, 0, 100]);
        arp.extend([0xff; 6]);
        arp.extend([10, 0, 0, 100]);
        let Kind::Arp(a) = dec(&eth(0x0806, &arp)) else {
            panic!("not decoded as ARP")
        };
        assert!(a.is_gratuitous());
        assert_eq!(a.op, 1);
        assert_eq!(a.sender_ip, Ipv4Addr::new(10, 0, 0, 100));
    }

    #[test]
    fn decodes_an_unsolicited_na() {
        let target = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
        let mut ip = vec![0x60, 0, 0, 0, 0, 24, 58, 255];
        ip.extend(target.octets());
        ip.extend(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets());
        // type 136, code 0, checksum, flags O=1 (0x20), reserved, target.
        ip.extend([136, 0, 0, 0, 0x20, 0, 0, 0]);
        ip.extend(target.octets());
        let Kind::NeighborAdvert(n) = dec(&eth(0x86dd, &ip)) else {
            panic!("not decoded as NA")
        };
        assert_eq!(n.target, target);
        assert!(n.override_flag && !n.solicited && !n.router);
        assert_eq!(n.hop_limit, 255);
    }

    #[test]
    fn other_and_truncated_frames_are_kept_as_other() {
        assert_eq!(dec(&eth(0x88cc, &[1, 2, 3])), Kind::Other(0x88cc));
        // IPv4 proto 112 with a VRRP header cut short.
        let ip = vec![
            0x45, 0, 0, 22, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18, 0x21, 1,
        ];
        assert_eq!(dec(&eth(0x0800, &ip)), Kind::Other(0x0800));
        assert!(decode(&[1, 2, 3], Instant::now(), Duration::ZERO, false).is_none());
    }
}
