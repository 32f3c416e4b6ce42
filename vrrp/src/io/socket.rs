//! Raw VRRP sockets (IP protocol 112) for one instance: a receive socket
//! bound to the interface and joined to the multicast group, and a send
//! socket bound to the source address with TTL / hop limit 255.
//!
//! Two sockets because a raw socket bound to a unicast source address only
//! receives packets addressed to that address (the kernel's raw socket
//! lookup compares the bound address with the destination), which would hide
//! the multicast adverts; keepalived keeps separate send and receive sockets
//! for the same reason.

use super::IoError;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;

/// IANA protocol number of VRRP (RFC 5798 5.1.1.4).
pub const IPPROTO_VRRP: i32 = 112;
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

/// One received VRRP packet with what the receive checks need from the IP
/// layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit (RFC 5798 7.1 check).
    pub ttl: u8,
    /// The VRRP message (IP header removed).
    pub vrrp: Vec<u8>,
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

    /// Sends one encoded advert to every destination (group or peers).
    /// Errors of single peers are returned after trying all of them.
    pub fn send(&self, vrrp: &[u8]) -> Result<(), IoError> {
        let mut first_err = None;
        for dst in self.cfg.destinations() {
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
            if let Err(source) = self.tx.send_to(vrrp, &addr) {
                first_err.get_or_insert(IoError::Send {
                    ifname: self.cfg.ifname.clone(),
                    dst,
                    source,
                });
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Waits for the next packet. Packets too short to hold an IP header
    /// come back as `Ok(None)` so the caller can count them.
    pub async fn recv(&self) -> Result<Option<Received>, IoError> {
        loop {
            let mut guard = self
                .rx
                .readable()
                .await
                .map_err(err("poll receive socket", &self.cfg))?;
            let res = guard.try_io(|fd| match self.cfg.src {
                IpAddr::V4(_) => recv_v4(fd.get_ref()),
                IpAddr::V6(_) => recv_v6(fd.get_ref()),
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
    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
        .map_err(err("create raw socket", cfg))?;
    s.bind_device(Some(cfg.ifname.as_bytes()))
        .map_err(err("SO_BINDTODEVICE", cfg))?;
    s.set_nonblocking(true).map_err(err("O_NONBLOCK", cfg))?;
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

/// Largest packet read; VRRP adverts are far smaller (255 IPv6 VIPs fit).
const RECV_BUF: usize = 9216;

fn recv_v4(s: &Socket) -> io::Result<Option<Received>> {
    let mut buf = vec![0u8; RECV_BUF];
    // An IPv4 raw socket reads the IP header too (raw(7)).
    let n = nix::sys::socket::recv(s.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    buf.truncate(n);
    Ok(split_ipv4(&buf))
}

/// Splits a received IPv4 packet into its addresses, TTL and payload.
pub fn split_ipv4(pkt: &[u8]) -> Option<Received> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || pkt.len() < ihl {
        return None;
    }
    // The kernel reports the total length it received; trust the smaller.
    let end = total.clamp(ihl, pkt.len());
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    Some(Received {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl: pkt[8],
        vrrp: pkt[ihl..end].to_vec(),
    })
}

fn recv_v6(s: &Socket) -> io::Result<Option<Received>> {
    let mut buf = vec![0u8; RECV_BUF];
    let mut cmsg = nix::cmsg_space!(libc::c_int, libc::in6_pktinfo);
    let (n, src, ttl, dst) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<SockaddrIn6>(
            s.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let mut ttl = None;
        let mut dst = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                match c {
                    ControlMessageOwned::Ipv6HopLimit(h) => ttl = u8::try_from(h).ok(),
                    ControlMessageOwned::Ipv6PacketInfo(pi) => {
                        dst = Some(Ipv6Addr::from(pi.ipi6_addr.s6_addr))
                    }
                    _ => {}
                }
            }
        }
        (msg.bytes, msg.address.map(|a| a.ip()), ttl, dst)
    };
    let (Some(src), Some(ttl), Some(dst)) = (src, ttl, dst) else {
        return Ok(None);
    };
    buf.truncate(n);
    Ok(Some(Received {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        ttl,
        vrrp: buf,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ipv4_reads_ttl_addresses_and_payload() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        p.extend_from_slice(&[0x21, 51, 100, 1, 0, 1, 0, 0]);
        let r = split_ipv4(&p).expect("valid header");
        assert_eq!(r.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.dst, IpAddr::V4(VRRP_GROUP_V4));
        assert_eq!(r.ttl, 255);
        assert_eq!(r.vrrp, vec![0x21, 51, 100, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn split_ipv4_rejects_short_or_non_v4() {
        assert!(split_ipv4(&[0x45; 10]).is_none());
        assert!(split_ipv4(&[0x60; 40]).is_none());
        let mut bad_ihl = vec![0x4f; 20];
        bad_ihl[0] = 0x4f; // IHL 60 bytes > packet
        assert!(split_ipv4(&bad_ihl).is_none());
    }

    #[test]
    fn unicast_destinations_are_the_peers() {
        let mut c = SocketCfg {
            ifname: "eth0".into(),
            ifindex: 2,
            src: "10.0.0.1".parse().expect("addr"),
            group: IpAddr::V4(VRRP_GROUP_V4),
            unicast_peers: vec![],
            unicast_ttl: 255,
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
