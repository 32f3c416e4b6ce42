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
//!
//! The other direction, for tests that play a misbehaving or fake peer:
//! [`RawIpSender`] sends whole IP packets (header included) out of one
//! interface of a namespace, and [`AdvertSpec::build`] writes VRRP adverts
//! independently of the code under test, checksums per RFC 3768 5.3.8 /
//! RFC 5798 5.2.8 (deliberately wrong ones on request).
//!
//! ```no_run
//! use std::time::Duration;
//! use testlab::capture::{AdvertSpec, Capture, RawIpSender};
//! use testlab::netns::Topology;
//! # fn main() -> Result<(), testlab::netns::LabError> {
//! let lab = Topology::lan(&["a", "b"], "10.0.0").build()?;
//! // On b's switch port: everything to and from b, even with b's eth0 down.
//! let cap = Capture::on_port(&lab, "b", "eth0")?;
//! let vip = std::net::IpAddr::from([10, 0, 0, 100]);
//! let advert = AdvertSpec::new(2, 51, 200, std::net::IpAddr::from([10, 0, 0, 1]), &[vip]);
//! RawIpSender::on_host(lab.host("a")?, "eth0", false)?.send(&advert.build())?;
//! cap.wait_for(Duration::from_secs(1), |f| f.iter().any(|x| x.vrrp().is_some()))?;
//! for (t, v) in cap.vrrp() {
//!     println!("{t:?}: vrid {} prio {} from {}", v.vrid, v.priority, v.src);
//! }
//! let garps = cap.garps(std::net::Ipv4Addr::new(10, 0, 0, 100));
//! # let _ = garps; Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::socket::{
    self, sockopt, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn,
    SockaddrIn6,
};
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
    /// When the kernel received (or sent) it.
    pub at: Instant,
    /// Time since the capture started.
    pub offset: Duration,
    /// Whether `at` is the kernel's timestamp (else the read time).
    pub kernel_time: bool,
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
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    while !stop.load(Ordering::Relaxed) {
        let (n, addr, kernel_ts) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match socket::recvmsg::<LinkAddr>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            ) {
                Ok(m) => {
                    let ts = m.cmsgs().ok().and_then(|mut it| {
                        it.find_map(|c| match c {
                            socket::ControlMessageOwned::ScmTimestampns(t) => Some(t),
                            _ => None,
                        })
                    });
                    (m.bytes, m.address, ts)
                }
                // EAGAIN on the receive timeout, EINTR: look at the flag again.
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                // The namespace or interface went away: nothing more to read.
                Err(_) => break,
            }
        };
        let at = kernel_ts.map_or_else(Instant::now, kernel_instant);
        let Some(addr) = addr else { continue };
        if addr.ifindex() != ifindex {
            continue;
        }
        let Some(data) = buf.get(..n) else { continue };
        if let Some(mut frame) = decode(
            data,
            at,
            at.saturating_duration_since(started),
            addr.pkttype() == PACKET_OUTGOING,
        ) {
            frame.kernel_time = kernel_ts.is_some();
            if let Ok(mut f) = frames.lock() {
                f.push(frame);
            }
        }
    }
}

/// Maps a kernel receive timestamp (CLOCK_REALTIME, SO_TIMESTAMPNS) to an
/// `Instant`, so frame times do not include the reader thread's scheduling
/// delay on a busy machine.
fn kernel_instant(ts: nix::sys::time::TimeSpec) -> Instant {
    let now_i = Instant::now();
    let now_r = std::time::SystemTime::now();
    let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec()).unwrap_or(0);
    let stamped = std::time::UNIX_EPOCH + Duration::new(secs, nanos);
    match now_r.duration_since(stamped) {
        Ok(age) => now_i.checked_sub(age).unwrap_or(now_i),
        // A stamp "in the future" (clock step): use the read time.
        Err(_) => now_i,
    }
}

/// Moves the calling thread (only) into network namespace `ns`.
fn enter_ns(ns: &str) -> Result<()> {
    let path = format!("/run/netns/{ns}");
    let nsfile = std::fs::File::open(&path).map_err(|e| LabError::Io {
        what: format!("open {path}"),
        source: e,
    })?;
    nix::sched::setns(&nsfile, CloneFlags::CLONE_NEWNET).map_err(|e| LabError::Io {
        what: format!("setns {ns}"),
        source: e.into(),
    })
}

/// Enters `ns` (this thread only) and opens a packet socket for every
/// protocol; returns it with `iface`'s index.
fn open_in_ns(ns: &str, iface: &str) -> Result<(OwnedFd, usize)> {
    let err = |what: String| {
        move |e: nix::errno::Errno| LabError::Io {
            what,
            source: e.into(),
        }
    };
    enter_ns(ns)?;
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
    // Kernel receive timestamps: accurate frame times under load.
    socket::setsockopt(&sock, sockopt::ReceiveTimestampns, &true)
        .map_err(err("SO_TIMESTAMPNS".into()))?;
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
        kernel_time: false,
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

// ---------------------------------------------------------------------------
// Sending crafted packets
// ---------------------------------------------------------------------------

/// A raw `IPPROTO_RAW` socket inside a namespace, bound to one interface:
/// sends IP packets exactly as given (the kernel only fills the IPv4 header
/// checksum and total length, raw(7)).
#[derive(Debug)]
pub struct RawIpSender {
    fd: OwnedFd,
    ifindex: u32,
    what: String,
}

impl RawIpSender {
    /// Opens an IPv4 (`v6 == false`) or IPv6 sender on `iface` in `ns`.
    pub fn open(ns: &str, iface: &str, v6: bool) -> Result<Self> {
        let what = format!(
            "raw IPv{} sender on {iface} in {ns}",
            if v6 { 6 } else { 4 }
        );
        let (ns_s, if_s) = (ns.to_string(), iface.to_string());
        // The socket keeps the namespace it was created in; only this
        // short-lived thread enters the namespace.
        let opened = thread::spawn(move || -> Result<(OwnedFd, u32)> {
            enter_ns(&ns_s)?;
            let err = |what: &'static str| {
                move |e: nix::errno::Errno| LabError::Io {
                    what: what.into(),
                    source: e.into(),
                }
            };
            let ifindex =
                nix::net::if_::if_nametoindex(if_s.as_str()).map_err(err("no such interface"))?;
            let family = if v6 {
                AddressFamily::Inet6
            } else {
                AddressFamily::Inet
            };
            let fd = socket::socket(
                family,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                SockProtocol::Raw,
            )
            .map_err(err("IPPROTO_RAW socket"))?;
            socket::setsockopt(&fd, sockopt::BindToDevice, &std::ffi::OsString::from(&if_s))
                .map_err(err("SO_BINDTODEVICE"))?;
            Ok((fd, ifindex))
        })
        .join()
        .map_err(|_| LabError::Io {
            what: what.clone(),
            source: std::io::Error::other("the opening thread panicked"),
        })??;
        Ok(Self {
            fd: opened.0,
            ifindex: opened.1,
            what,
        })
    }

    /// Opens a sender on `host`'s `iface`.
    pub fn on_host(host: &Host, iface: &str, v6: bool) -> Result<Self> {
        host.iface(iface)?;
        Self::open(host.ns(), iface, v6)
    }

    /// Sends one whole IP packet; the destination is read from its header.
    pub fn send(&self, packet: &[u8]) -> Result<()> {
        let bad = |why: &str| LabError::Io {
            what: format!("{}: send", self.what),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()),
        };
        let sent = match packet.first().map(|b| b >> 4) {
            Some(4) => {
                let d = packet.get(16..20).ok_or_else(|| bad("short IPv4 header"))?;
                let dst = Ipv4Addr::new(d[0], d[1], d[2], d[3]);
                let sa = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                socket::sendto(self.fd.as_raw_fd(), packet, &sa, MsgFlags::empty())
            }
            Some(6) => {
                let d: [u8; 16] = packet
                    .get(24..40)
                    .and_then(|d| d.try_into().ok())
                    .ok_or_else(|| bad("short IPv6 header"))?;
                // Link-local and multicast destinations need the interface
                // as scope.
                let sa = SockaddrIn6::from(SocketAddrV6::new(d.into(), 0, 0, self.ifindex));
                socket::sendto(self.fd.as_raw_fd(), packet, &sa, MsgFlags::empty())
            }
            _ => return Err(bad("not an IP packet")),
        };
        sent.map(drop).map_err(|e| LabError::Io {
            what: format!("{}: send", self.what),
            source: e.into(),
        })
    }
}

/// A VRRP advertisement to build (IP header included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertSpec {
    /// 2 or 3.
    pub version: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// IP source.
    pub src: IpAddr,
    /// IP destination (224.0.0.18 / ff02::12 for multicast).
    pub dst: IpAddr,
    /// TTL / hop limit; RFC 3768 7.1 and RFC 5798 7.1 require 255.
    pub ttl: u8,
    /// Advert interval in centiseconds (v2 sends whole seconds).
    pub advert_int_cs: u16,
    /// Virtual addresses.
    pub addrs: Vec<IpAddr>,
    /// v2 simple-password authentication (auth type 1), up to 8 bytes.
    pub auth_pass: Option<String>,
    /// Write a wrong VRRP checksum.
    pub bad_checksum: bool,
}

impl AdvertSpec {
    /// A valid advert from `src` to the VRRP multicast group of its family.
    pub fn new(version: u8, vrid: u8, priority: u8, src: IpAddr, addrs: &[IpAddr]) -> Self {
        let dst = match src {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
        };
        Self {
            version,
            vrid,
            priority,
            src,
            dst,
            ttl: 255,
            advert_int_cs: 100,
            addrs: addrs.to_vec(),
            auth_pass: None,
            bad_checksum: false,
        }
    }

    /// The whole IP packet.
    pub fn build(&self) -> Vec<u8> {
        // VRRP message.
        let mut m = vec![
            (self.version << 4) | 1,
            self.vrid,
            self.priority,
            u8::try_from(self.addrs.len()).unwrap_or(u8::MAX),
        ];
        if self.version == 2 {
            let auth_type = if self.auth_pass.is_some() { 1 } else { 0 };
            let secs = u8::try_from(self.advert_int_cs / 100).unwrap_or(u8::MAX);
            m.extend([auth_type, secs, 0, 0]);
        } else {
            m.extend((self.advert_int_cs & 0x0fff).to_be_bytes());
            m.extend([0, 0]);
        }
        for a in &self.addrs {
            match a {
                IpAddr::V4(v) => m.extend(v.octets()),
                IpAddr::V6(v) => m.extend(v.octets()),
            }
        }
        if self.version == 2 {
            let mut auth = [0u8; 8];
            if let Some(p) = &self.auth_pass {
                for (d, s) in auth.iter_mut().zip(p.bytes()) {
                    *d = s;
                }
            }
            m.extend(auth);
        }
        let len = u16::try_from(m.len()).unwrap_or(u16::MAX);
        // RFC 3768 5.3.8: v2 sums the VRRP message only; RFC 5798 5.2.8: v3
        // adds the pseudo-header of its IP family.
        let mut sum_over = Vec::new();
        if self.version == 3 {
            match (self.src, self.dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    sum_over.extend(s.octets());
                    sum_over.extend(d.octets());
                    sum_over.extend([0, 112]);
                    sum_over.extend(len.to_be_bytes());
                }
                (s, d) => {
                    sum_over.extend(ip6_octets(s));
                    sum_over.extend(ip6_octets(d));
                    sum_over.extend(u32::from(len).to_be_bytes());
                    sum_over.extend([0, 0, 0, 112]);
                }
            }
        }
        sum_over.extend(&m);
        let mut csum = inet_checksum(&sum_over);
        if self.bad_checksum {
            csum ^= 0x5a5a;
        }
        m[6..8].copy_from_slice(&csum.to_be_bytes());
        // IP header.
        let mut p = Vec::with_capacity(40 + m.len());
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = 20 + len;
                p.extend([0x45, 0xc0]);
                p.extend(total.to_be_bytes());
                p.extend([0, 0, 0, 0, self.ttl, 112, 0, 0]);
                p.extend(s.octets());
                p.extend(d.octets());
            }
            (s, d) => {
                p.extend([0x60, 0, 0, 0]);
                p.extend(len.to_be_bytes());
                p.extend([112, self.ttl]);
                p.extend(ip6_octets(s));
                p.extend(ip6_octets(d));
            }
        }
        p.extend(m);
        p
    }
}

fn ip6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

/// The Internet checksum (RFC 1071): one's complement of the one's
/// complement sum of 16-bit words.
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let w = match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(u16::try_from(sum).unwrap_or(0xffff))
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
    fn built_adverts_decode_and_checksum() {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let v6 = |last| IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last));
        let cases = [
            AdvertSpec::new(2, 9, 200, v4(10, 0, 0, 3), &[v4(10, 0, 0, 100)]),
            AdvertSpec::new(3, 9, 200, v4(10, 0, 0, 3), &[v4(10, 0, 0, 100)]),
            AdvertSpec::new(3, 9, 200, v6(3), &[v6(0x100)]),
        ];
        for spec in cases {
            let p = spec.build();
            let (ethertype, hdr) = if spec.src.is_ipv4() {
                (0x0800, 20)
            } else {
                (0x86dd, 40)
            };
            let Kind::Vrrp(v) = dec(&eth(ethertype, &p)) else {
                panic!("{spec:?} did not decode")
            };
            assert_eq!(
                (v.version, v.vrid, v.priority, v.ttl),
                (spec.version, 9, 200, 255)
            );
            assert_eq!(v.addrs, spec.addrs);
            assert_eq!(v.advert_int_cs, 100);
            // Summing the message with its checksum (and the pseudo-header
            // for v3) gives zero.
            let msg = &p[hdr..];
            let mut over = Vec::new();
            if spec.version == 3 {
                over.extend(ip6_or_v4(&p, spec.src.is_ipv4()));
            }
            over.extend(msg);
            assert_eq!(inet_checksum(&over), 0, "{spec:?}");
            let mut bad = spec.clone();
            bad.bad_checksum = true;
            let bp = bad.build();
            let mut over = Vec::new();
            if spec.version == 3 {
                over.extend(ip6_or_v4(&bp, spec.src.is_ipv4()));
            }
            over.extend(&bp[hdr..]);
            assert_ne!(inet_checksum(&over), 0);
        }
    }

    /// The v3 pseudo-header of a built packet (RFC 5798 5.2.8).
    fn ip6_or_v4(p: &[u8], v4: bool) -> Vec<u8> {
        let mut h = Vec::new();
        if v4 {
            h.extend(&p[12..20]);
            h.extend([0, 112]);
            h.extend(u16::try_from(p.len() - 20).unwrap_or(0).to_be_bytes());
        } else {
            h.extend(&p[8..40]);
            h.extend(u32::try_from(p.len() - 40).unwrap_or(0).to_be_bytes());
            h.extend([0, 0, 0, 112]);
        }
        h
    }

    #[test]
    fn checksum_matches_rfc_1071_example() {
        // RFC 1071 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, so the
        // checksum is its complement.
        assert_eq!(
            inet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
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
