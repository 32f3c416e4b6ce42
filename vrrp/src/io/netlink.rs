//! NETLINK_ROUTE through rtnetlink: interface lookup, the addresses an
//! instance sends from, VIP add/remove with `ip addr` options (reference
//! 2.4), and link up/down monitoring that drives instances to FAULT.

use super::IoError;
use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, MulticastGroup};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// errno values the kernel answers with for "already there" / "not there".
const EEXIST: i32 = libc::EEXIST;
const EADDRNOTAVAIL: i32 = libc::EADDRNOTAVAIL;

/// `scope` of an address entry (`ip addr ... scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VipScope {
    #[default]
    Global,
    Site,
    Link,
    Host,
    Nowhere,
}

/// One `virtual_ipaddress` / `virtual_ipaddress_excluded` entry, resolved
/// to an interface index (reference 2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub addr: IpAddr,
    /// Default /32 (IPv4) or /128 (IPv6).
    pub prefix: u8,
    pub ifindex: u32,
    /// Interface name, for log lines.
    pub ifname: String,
    pub label: Option<String>,
    /// Explicit broadcast (IPv4); `None` leaves it unset as `ip addr` does.
    pub brd: Option<Ipv4Addr>,
    pub scope: VipScope,
    pub peer: Option<IpAddr>,
    pub home: bool,
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    /// IPv6 preferred lifetime; keepalived gives /128 VIPs 0 (deprecated, so
    /// never chosen as a source address) unless `preferred_lft forever`.
    pub preferred_lft: Option<u32>,
}

impl Vip {
    /// A VIP with keepalived's defaults for the given address and prefix.
    pub fn new(addr: IpAddr, prefix: Option<u8>, ifindex: u32, ifname: &str) -> Self {
        let prefix = prefix.unwrap_or(if addr.is_ipv4() { 32 } else { 128 });
        let v6 = addr.is_ipv6();
        Vip {
            addr,
            prefix,
            ifindex,
            ifname: ifname.to_string(),
            label: None,
            brd: None,
            scope: VipScope::Global,
            peer: None,
            home: false,
            // reference 4.14: IPv6 VIPs are added with nodad.
            nodad: v6,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            preferred_lft: (v6 && prefix == 128).then_some(0),
        }
    }

    /// The RTM_NEWADDR / RTM_DELADDR message for this VIP.
    pub fn message(&self) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = if self.addr.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        m.header.prefix_len = self.prefix;
        m.header.index = self.ifindex;
        m.header.scope = match self.scope {
            VipScope::Global => AddressScope::Universe,
            VipScope::Site => AddressScope::Site,
            VipScope::Link => AddressScope::Link,
            VipScope::Host => AddressScope::Host,
            VipScope::Nowhere => AddressScope::Nowhere,
        };
        // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer for
        // point-to-point entries (ip-address(8)).
        m.attributes.push(AddressAttribute::Local(self.addr));
        m.attributes
            .push(AddressAttribute::Address(self.peer.unwrap_or(self.addr)));
        if let Some(b) = self.brd {
            m.attributes.push(AddressAttribute::Broadcast(b));
        }
        if let Some(l) = &self.label {
            if self.addr.is_ipv4() {
                m.attributes.push(AddressAttribute::Label(l.clone()));
            }
        }
        let mut flags = AddressFlags::empty();
        flags.set(AddressFlags::Nodad, self.nodad);
        flags.set(AddressFlags::Homeaddress, self.home);
        flags.set(AddressFlags::Managetempaddr, self.mngtmpaddr);
        flags.set(AddressFlags::Noprefixroute, self.noprefixroute);
        flags.set(AddressFlags::Mcautojoin, self.autojoin);
        if !flags.is_empty() {
            m.header.flags = AddressHeaderFlags::from_bits_truncate(flags.bits() as u8);
            m.attributes.push(AddressAttribute::Flags(flags));
        }
        if let Some(p) = self.preferred_lft {
            let mut ci = CacheInfo::default();
            ci.ifa_preferred = p;
            // INFINITY_LIFE_TIME: the VIP itself never expires.
            ci.ifa_valid = u32::MAX;
            m.attributes.push(AddressAttribute::CacheInfo(ci));
        }
        m
    }
}

/// What the runtime needs to know about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    /// IFF_UP and IFF_RUNNING: keepalived treats anything else as down.
    pub up: bool,
}

fn link_info(m: &LinkMessage) -> LinkInfo {
    let mut name = String::new();
    let mut mac = None;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Address(a) if a.len() == 6 => {
                let mut b = [0u8; 6];
                b.copy_from_slice(a);
                mac = Some(b);
            }
            _ => {}
        }
    }
    let f = m.header.flags;
    LinkInfo {
        index: m.header.index,
        name,
        mac,
        up: f.contains(LinkFlags::Up) && f.contains(LinkFlags::Running),
    }
}

/// One address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix: u8,
    pub secondary: bool,
    pub message: AddressMessage,
}

fn if_addr(m: AddressMessage) -> Option<IfAddr> {
    let mut local = None;
    let mut address = None;
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(l) => local = Some(*l),
            AddressAttribute::Address(l) => address = Some(*l),
            _ => {}
        }
    }
    let addr = local.or(address)?;
    Some(IfAddr {
        ifindex: m.header.index,
        addr,
        prefix: m.header.prefix_len,
        secondary: m.header.flags.contains(AddressHeaderFlags::Secondary),
        message: m,
    })
}

/// A NETLINK_ROUTE connection; its connection task ends when this is
/// dropped.
pub struct Netlink {
    handle: Handle,
    conn: JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

fn nl_err(what: &'static str) -> impl FnOnce(rtnetlink::Error) -> IoError {
    move |e| IoError::Netlink {
        what,
        message: e.to_string(),
    }
}

fn nl_code(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

impl Netlink {
    /// Opens the connection; needs a tokio runtime.
    pub fn open() -> Result<Self, IoError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|source| IoError::Socket {
            what: "open NETLINK_ROUTE",
            ifname: String::new(),
            source,
        })?;
        let conn = tokio::spawn(conn);
        Ok(Netlink { handle, conn })
    }

    /// Looks an interface up by name.
    pub async fn link_by_name(&self, name: &str) -> Result<LinkInfo, IoError> {
        let mut s = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match s.next().await {
            Some(Ok(m)) => Ok(link_info(&m)),
            Some(Err(e)) if nl_code(&e) == Some(libc::ENODEV) => {
                Err(IoError::NoInterface(name.to_string()))
            }
            Some(Err(e)) => Err(nl_err("get link")(e)),
            None => Err(IoError::NoInterface(name.to_string())),
        }
    }

    /// Every interface.
    pub async fn links(&self) -> Result<Vec<LinkInfo>, IoError> {
        let mut s = self.handle.link().get().execute();
        let mut out = Vec::new();
        while let Some(m) = s.next().await {
            out.push(link_info(&m.map_err(nl_err("dump links"))?));
        }
        Ok(out)
    }

    /// The addresses on `ifindex` (every interface with `None`).
    pub async fn addresses(&self, ifindex: Option<u32>) -> Result<Vec<IfAddr>, IoError> {
        let mut req = self.handle.address().get();
        if let Some(i) = ifindex {
            req = req.set_link_index_filter(i);
        }
        let mut s = req.execute();
        let mut out = Vec::new();
        while let Some(m) = s.next().await {
            if let Some(a) = if_addr(m.map_err(nl_err("dump addresses"))?) {
                if ifindex.is_none_or(|i| i == a.ifindex) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }

    /// The interface's primary IPv4 address (keepalived's default advert
    /// source): the first non-secondary one.
    pub async fn primary_v4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>, IoError> {
        Ok(self
            .addresses(Some(ifindex))
            .await?
            .into_iter()
            .filter(|a| !a.secondary)
            .find_map(|a| match a.addr {
                IpAddr::V4(v) => Some(v),
                IpAddr::V6(_) => None,
            }))
    }

    /// The interface's link-local IPv6 address (source of IPv6 adverts,
    /// reference 4.14).
    pub async fn link_local_v6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, IoError> {
        Ok(self
            .addresses(Some(ifindex))
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80 => Some(v),
                _ => None,
            }))
    }

    /// Adds a VIP; an address already present counts as success.
    pub async fn add_vip(&self, vip: &Vip) -> Result<(), IoError> {
        let mut req = self.handle.address().add(vip.ifindex, vip.addr, vip.prefix);
        *req.message_mut() = vip.message();
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if nl_code(&e) == Some(EEXIST) => Ok(()),
            Err(e) => Err(IoError::Vip {
                addr: vip.addr,
                ifname: vip.ifname.clone(),
                op: "add",
                message: e.to_string(),
            }),
        }
    }

    /// Removes a VIP; an address already gone counts as success.
    pub async fn del_vip(&self, vip: &Vip) -> Result<(), IoError> {
        let mut m = vip.message();
        // The kernel matches on address and prefix; extra attributes such as
        // cache info would only be ignored.
        m.attributes
            .retain(|a| matches!(a, AddressAttribute::Local(_) | AddressAttribute::Address(_)));
        match self.handle.address().del(m).execute().await {
            Ok(()) => Ok(()),
            Err(e) if nl_code(&e) == Some(EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(IoError::Vip {
                addr: vip.addr,
                ifname: vip.ifname.clone(),
                op: "remove",
                message: e.to_string(),
            }),
        }
    }

    /// Whether `vip` is configured on its interface.
    pub async fn has_vip(&self, vip: &Vip) -> Result<bool, IoError> {
        Ok(self
            .addresses(Some(vip.ifindex))
            .await?
            .iter()
            .any(|a| a.addr == vip.addr && a.prefix == vip.prefix))
    }

    /// Whether IPv6 forwarding is on for `ifname` (the NA Router flag).
    pub fn ipv6_forwarding(ifname: &str) -> bool {
        std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{ifname}/forwarding"))
            .is_ok_and(|s| s.trim() == "1")
    }
}

/// A link state change seen on RTNLGRP_LINK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    Changed(LinkInfo),
    Deleted { index: u32, name: String },
}

/// Subscribes to link notifications; events arrive on the returned
/// channel until the monitor is dropped.
pub struct LinkMonitor {
    conn: JoinHandle<()>,
    pump: JoinHandle<()>,
}

impl Drop for LinkMonitor {
    fn drop(&mut self) {
        self.conn.abort();
        self.pump.abort();
    }
}

impl LinkMonitor {
    pub fn spawn() -> Result<(Self, mpsc::UnboundedReceiver<LinkEvent>), IoError> {
        let (conn, _handle, mut msgs) =
            rtnetlink::new_multicast_connection(&[MulticastGroup::Link]).map_err(|source| {
                IoError::Socket {
                    what: "subscribe to RTNLGRP_LINK",
                    ifname: String::new(),
                    source,
                }
            })?;
        let conn = tokio::spawn(conn);
        let (tx, rx) = mpsc::unbounded_channel();
        let pump = tokio::spawn(async move {
            while let Some((m, _)) = msgs.next().await {
                let ev = match m.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                        LinkEvent::Changed(link_info(&l))
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                        let i = link_info(&l);
                        LinkEvent::Deleted {
                            index: i.index,
                            name: i.name,
                        }
                    }
                    _ => continue,
                };
                if tx.send(ev).is_err() {
                    break;
                }
            }
        });
        Ok((LinkMonitor { conn, pump }, rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_host_vip_gets_nodad_and_preferred_lft_zero() {
        let v = Vip::new("2001:db8::10".parse().expect("a"), None, 3, "eth0");
        assert_eq!(v.prefix, 128);
        assert!(v.nodad);
        assert_eq!(v.preferred_lft, Some(0));
        let m = v.message();
        assert!(m
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Flags(f) if f.contains(AddressFlags::Nodad))));
    }

    #[test]
    fn v4_vip_defaults_to_host_prefix_without_broadcast() {
        let v = Vip::new("192.168.200.16".parse().expect("a"), None, 2, "eth0");
        assert_eq!(v.prefix, 32);
        let m = v.message();
        assert_eq!(m.header.index, 2);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Broadcast(_))));
        assert!(!v.nodad);
    }

    #[test]
    fn label_and_peer_and_scope_reach_the_message() {
        let mut v = Vip::new("10.1.1.1".parse().expect("a"), Some(24), 2, "eth0");
        v.label = Some("eth0:1".into());
        v.peer = Some("10.1.1.2".parse().expect("a"));
        v.scope = VipScope::Link;
        let m = v.message();
        assert_eq!(m.header.scope, AddressScope::Link);
        assert!(m
            .attributes
            .contains(&AddressAttribute::Label("eth0:1".into())));
        assert!(m
            .attributes
            .contains(&AddressAttribute::Address("10.1.1.2".parse().expect("a"))));
    }
}
