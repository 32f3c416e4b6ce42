//! Raw VRRP sockets (IP protocol 112) for one instance: a receive socket
//! bound to the interface and joined to the multicast group, and a send
//! socket bound to the source address with TTL / hop limit 255.
//!
//! Two sockets because a raw socket bound to a unicast source address only
//! receives packets addressed to that address (the kernel's raw socket
//! lookup compares the bound address with the destination), which would hide
//! the multicast adverts; keepalived keeps separate send and receive sockets
//! for the same reason.
//!
//! With VRRPv2 `auth_type AH` (IPv4 only) both sockets use IP protocol 51
//! and the send socket has `IP_HDRINCL`: the AH ICV covers the IPv4 header,
//! so the caller builds the whole packet, as keepalived does.

use super::IoError;
use crate::check::Ipv6Meta;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;

/// IANA protocol number of VRRP (RFC 5798 5.1.1.4).
pub const IPPROTO_VRRP: i32 = 112;
/// IP protocol of the IPsec Authentication Header (RFC 2402).
pub const IPPROTO_AH: i32 = 51;
/// RFC 5798 5.1.1.3: adverts are sent with TTL / hop limit 255.
pub const VRRP_TTL: u8 = 255;
/// IP precedence "internetwork control", as keepalived marks adverts.
pub const IPTOS_PREC_INTERNETCONTROL: u32 = 0xc0;
/// The VRRP IPv4 multicast group (RFC 5798 5.1.1.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group (RFC 5798 5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// Where one instance sends and listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketCfg {
    /// Interface name (SO_BINDTODEVICE).
    pub ifname: String,
    /// Interface index (multicast membership, IPv6 scope).
    pub ifindex: u32,
    /// Source address of our adverts (mcast_src_ip / unicast_src_ip or the
    /// interface's primary / link-local address).
    pub src: IpAddr,
    /// Multicast group (vrrp_mcast_group4/6, mcast_dst_ip); ignored in
    /// unicast mode.
    pub group: IpAddr,
    /// unicast_peer addresses; empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// TTL / hop limit of unicast adverts (unicast_ttl, default 255).
    pub unicast_ttl: u8,
    /// VRRPv2 `auth_type AH` over IPv4: protocol 51 sockets, and
    /// [`VrrpSocket::send_to`] takes whole IPv4 packets (`IP_HDRINCL`).
    pub ah: bool,
}

impl SocketCfg {
    /// Whether adverts go to unicast peers rather than the group.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// The destinations of one advert: the group, or every peer.
    pub fn destinations(&self) -> Vec<IpAddr> {
        if self.is_unicast() {
            self.unicast_peers.clone()
        } else {
            vec![self.group]
        }
    }
}

/// What one read returned: for IPv4 the whole packet (the raw socket
/// delivers the IP header, which the receive checks need); for IPv6 the VRRP
/// message plus what the ancillary data said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvMeta {
    V4 { len: usize },
    V6 { len: usize, meta: Ipv6Meta },
}

impl RecvMeta {
    pub fn len(&self) -> usize {
        match self {
            RecvMeta::V4 { len } | RecvMeta::V6 { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Receive buffer asked for on the advert socket.
const RX_BUF_BYTES: usize = 4 << 20;

/// Largest packet read; VRRP adverts are far smaller (255 IPv6 VIPs fit).
pub const RECV_BUF: usize = 9216;

thread_local! {
    /// The one buffer every socket of a thread reads into. A buffer per
    /// instance was 9 MiB of the daemon's heap at 1,000 instances
    /// (heaptrack); keepalived too reads every socket into one shared
    /// buffer. What was read is copied out at its own length (an advert is
    /// 40-100 bytes), so no borrow of it outlives one synchronous read.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads one packet with `read` into the thread's scratch buffer and
/// returns a copy of what was read.
fn read_scratch(
    read: impl FnOnce(&mut [u8]) -> io::Result<RecvMeta>,
) -> io::Result<(Vec<u8>, RecvMeta)> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < RECV_BUF {
                buf.resize(RECV_BUF, 0);
            }
            let meta = read(&mut buf)?;
            Ok((buf[..meta.len().min(buf.len())].to_vec(), meta))
        }
        // Not reachable (no read calls another), but a private buffer is
        // the safe answer if it were.
        Err(_) => {
            let mut buf = vec![0; RECV_BUF];
            let meta = read(&mut buf)?;
            buf.truncate(meta.len());
            Ok((buf, meta))
        }
    })
}

/// The receive and send sockets of one instance.
pub struct VrrpSocket {
    cfg: SocketCfg,
    rx: AsyncFd<Socket>,
    tx: Socket,
}

fn err<'a>(what: &'static str, cfg: &'a SocketCfg) -> impl FnOnce(io::Error) -> IoError + 'a {
    move |source| IoError::Socket {
        what,
        ifname: cfg.ifname.clone(),
        source,
    }
}

impl VrrpSocket {
    /// Opens both sockets. Needs CAP_NET_RAW and a tokio runtime.
    pub fn open(cfg: SocketCfg) -> Result<Self, IoError> {
        let (rx, tx) = match cfg.src {
            IpAddr::V4(src) => open_v4(&cfg, src)?,
            IpAddr::V6(src) => open_v6(&cfg, src)?,
        };
        let rx = super::sys::async_fd(rx).map_err(err("register receive socket", &cfg))?;
        Ok(VrrpSocket { cfg, rx, tx })
    }

    pub fn cfg(&self) -> &SocketCfg {
        &self.cfg
    }

    /// Sends one encoded advert to `dst` (the group or one peer; the VRRPv3
    /// checksum covers the destination, so each peer gets its own encoding).
    /// With `ah` set, `vrrp` is the whole IPv4 packet (IP header, AH, VRRP).
    pub fn send_to(&self, vrrp: &[u8], dst: IpAddr) -> Result<(), IoError> {
        let addr = match dst {
            IpAddr::V4(a) => SockAddr::from(SocketAddr::new(IpAddr::V4(a), 0)),
            IpAddr::V6(a) => {
                let scope = if is_link_scoped(&a) {
                    self.cfg.ifindex
                } else {
                    0
                };
                SockAddr::from(SocketAddrV6::new(a, 0, 0, scope))
            }
        };
        self.tx
            .send_to(vrrp, &addr)
            .map(|_| ())
            .map_err(|source| IoError::Send {
                ifname: self.cfg.ifname.clone(),
                dst,
                source,
            })
    }

    /// Waits for the next packet and returns it (at most [`RECV_BUF`]
    /// bytes). IPv6 packets whose source or destination the kernel did not
    /// report come back with length 0.
    pub async fn recv(&self) -> Result<(Vec<u8>, RecvMeta), IoError> {
        loop {
            let mut guard = self
                .rx
                .readable()
                .await
                .map_err(err("poll receive socket", &self.cfg))?;
            let res = guard.try_io(|fd| {
                read_scratch(|buf| match self.cfg.src {
                    IpAddr::V4(_) => recv_v4(fd.get_ref(), buf),
                    IpAddr::V6(_) => recv_v6(fd.get_ref(), buf),
                })
            });
            match res {
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(err("receive", &self.cfg)(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

fn is_link_scoped(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80 || (a.is_multicast() && (a.segments()[0] & 0x000f) <= 2)
}

fn raw(domain: Domain, cfg: &SocketCfg) -> Result<Socket, IoError> {
    // keepalived opens its AH sockets on IPPROTO_AH: a raw socket only sees
    // its own protocol, and AH adverts carry 51 in the IP header.
    let proto = if cfg.ah { IPPROTO_AH } else { IPPROTO_VRRP };
    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(proto)))
        .map_err(err("create raw socket", cfg))?;
    s.bind_device(Some(cfg.ifname.as_bytes()))
        .map_err(err("SO_BINDTODEVICE", cfg))?;
    s.set_nonblocking(true).map_err(err("O_NONBLOCK", cfg))?;
    // Room for a burst: hostile or broken senders must not push a peer's
    // real adverts out of a small queue before we drain it. The kernel
    // caps this at rmem_max.
    let _ = s.set_recv_buffer_size(RX_BUF_BYTES);
    Ok(s)
}

fn open_v4(cfg: &SocketCfg, src: Ipv4Addr) -> Result<(Socket, Socket), IoError> {
    let rx = raw(Domain::IPV4, cfg)?;
    if !cfg.is_unicast() {
        if let IpAddr::V4(group) = cfg.group {
            rx.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(cfg.ifindex))
                .map_err(err("IP_ADD_MEMBERSHIP", cfg))?;
        }
    }
    let tx = raw(Domain::IPV4, cfg)?;
    tx.bind(&SockAddr::from(SocketAddr::new(IpAddr::V4(src), 0)))
        .map_err(err("bind source address", cfg))?;
    if cfg.ah {
        // The caller writes TOS, TTL, id and addresses itself; the kernel
        // still fills the IP checksum (raw(7)), which the ICV leaves out.
        tx.set_header_included_v4(true)
            .map_err(err("IP_HDRINCL", cfg))?;
    }
    // keepalived sends adverts with TOS 0xc0 (IPTOS_PREC_INTERNETCONTROL),
    // seen in its captured adverts.
    tx.set_tos_v4(IPTOS_PREC_INTERNETCONTROL)
        .map_err(err("IP_TOS", cfg))?;
    tx.set_multicast_ttl_v4(u32::from(VRRP_TTL))
        .map_err(err("IP_MULTICAST_TTL", cfg))?;
    tx.set_ttl_v4(u32::from(cfg.unicast_ttl))
        .map_err(err("IP_TTL", cfg))?;
    // Our own adverts must not come back to us (keepalived sets it too).
    tx.set_multicast_loop_v4(false)
        .map_err(err("IP_MULTICAST_LOOP", cfg))?;
    tx.set_multicast_if_v4(&src)
        .map_err(err("IP_MULTICAST_IF", cfg))?;
    // The send socket also matches unicast packets to `src`; nobody reads
    // them, so keep its queue minimal.
    let _ = tx.set_recv_buffer_size(1);
    Ok((rx, tx))
}

fn open_v6(cfg: &SocketCfg, src: Ipv6Addr) -> Result<(Socket, Socket), IoError> {
    let rx = raw(Domain::IPV6, cfg)?;
    if !cfg.is_unicast() {
        if let IpAddr::V6(group) = cfg.group {
            rx.join_multicast_v6(&group, cfg.ifindex)
                .map_err(err("IPV6_ADD_MEMBERSHIP", cfg))?;
        }
    }
    // The IPv6 header is not part of what a raw socket reads: hop limit and
    // destination come as ancillary data.
    setsockopt(&rx, sockopt::Ipv6RecvHopLimit, &true)
        .map_err(|e| err("IPV6_RECVHOPLIMIT", cfg)(e.into()))?;
    setsockopt(&rx, sockopt::Ipv6RecvPacketInfo, &true)
        .map_err(|e| err("IPV6_RECVPKTINFO", cfg)(e.into()))?;
    let tx = raw(Domain::IPV6, cfg)?;
    let scope = if is_link_scoped(&src) { cfg.ifindex } else { 0 };
    tx.bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, scope)))
        .map_err(err("bind source address", cfg))?;
    tx.set_multicast_hops_v6(u32::from(VRRP_TTL))
        .map_err(err("IPV6_MULTICAST_HOPS", cfg))?;
    tx.set_unicast_hops_v6(u32::from(cfg.unicast_ttl))
        .map_err(err("IPV6_UNICAST_HOPS", cfg))?;
    tx.set_multicast_loop_v6(false)
        .map_err(err("IPV6_MULTICAST_LOOP", cfg))?;
    tx.set_multicast_if_v6(cfg.ifindex)
        .map_err(err("IPV6_MULTICAST_IF", cfg))?;
    let _ = tx.set_recv_buffer_size(1);
    Ok((rx, tx))
}

fn recv_v4(s: &Socket, buf: &mut [u8]) -> io::Result<RecvMeta> {
    // An IPv4 raw socket reads the IP header too (raw(7)).
    let len = nix::sys::socket::recv(s.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    Ok(RecvMeta::V4 { len })
}

fn recv_v6(s: &Socket, buf: &mut [u8]) -> io::Result<RecvMeta> {
    let mut cmsg = nix::cmsg_space!(libc::c_int, libc::in6_pktinfo);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn6>(
        s.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    let mut hop_limit = None;
    let mut dst = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv6HopLimit(h) => hop_limit = u8::try_from(h).ok(),
                ControlMessageOwned::Ipv6PacketInfo(pi) => {
                    dst = Some(Ipv6Addr::from(pi.ipi6_addr.s6_addr))
                }
                _ => {}
            }
        }
    }
    let src = msg.address.map(|a| a.ip());
    match (src, dst) {
        (Some(src), Some(dst)) => Ok(RecvMeta::V6 {
            len: msg.bytes,
            meta: Ipv6Meta {
                src,
                dst,
                hop_limit,
            },
        }),
        _ => Ok(RecvMeta::V6 {
            len: 0,
            meta: Ipv6Meta {
                src: Ipv6Addr::UNSPECIFIED,
                dst: Ipv6Addr::UNSPECIFIED,
                hop_limit,
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicast_destinations_are_the_peers() {
        let mut c = SocketCfg {
            ifname: "eth0".into(),
            ifindex: 2,
            src: "10.0.0.1".parse().expect("addr"),
            group: IpAddr::V4(VRRP_GROUP_V4),
            unicast_peers: vec![],
            unicast_ttl: 255,
            ah: false,
        };
        assert_eq!(c.destinations(), vec![IpAddr::V4(VRRP_GROUP_V4)]);
        c.unicast_peers = vec![
            "10.0.0.2".parse().expect("a"),
            "10.0.0.3".parse().expect("a"),
        ];
        assert!(c.is_unicast());
        assert_eq!(c.destinations().len(), 2);
    }
}
