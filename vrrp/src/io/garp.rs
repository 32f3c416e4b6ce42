//! Gratuitous ARP (IPv4) and unsolicited Neighbour Advertisements (IPv6)
//! for the VIPs of a new master, built with pnet_packet and sent as whole
//! Ethernet frames through an AF_PACKET socket.
//!
//! keepalived 2.2.7 (measured, labs.md): broadcast ARP with sender IP =
//! target IP = VIP; for IPv6 an NA to ff02::1 with hop limit 255, O=1, S=0.

use super::sys::link_sockaddr;
use super::IoError;
use pnet_base::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes};
use pnet_packet::icmpv6::{self, Icmpv6Code, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
use socket2::{Domain, Socket, Type};
use std::net::{Ipv4Addr, Ipv6Addr};

const ETH_HDR: usize = 14;
const ARP_LEN: usize = 28;
const IPV6_HDR: usize = 40;
/// NA header (24) + target link-layer address option (8).
const NA_LEN: usize = 32;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const BROADCAST: [u8; 6] = [0xff; 6];
/// ff02::1 (all nodes) maps to 33:33:00:00:00:01 (RFC 2464 7).
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// NA flag bits (RFC 4861 4.4): Router, Solicited, Override.
const NA_ROUTER: u8 = 0x80;
const NA_OVERRIDE: u8 = 0x20;

/// A gratuitous ARP frame announcing `vip` at `mac`: an ARP request,
/// broadcast, sender IP = target IP = VIP, as keepalived sends it.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; ETH_HDR + ARP_LEN];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(MacAddr::from(BROADCAST));
        eth.set_source(MacAddr::from(mac));
        eth.set_ethertype(EtherTypes::Arp);
    }
    if let Some(mut arp) = MutableArpPacket::new(&mut buf[ETH_HDR..]) {
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(MacAddr::from(mac));
        arp.set_sender_proto_addr(vip);
        arp.set_target_hw_addr(MacAddr::from(BROADCAST));
        arp.set_target_proto_addr(vip);
    }
    buf
}

/// An unsolicited Neighbour Advertisement (RFC 4861 7.2.6) for `vip`, from
/// the interface's link-local `src` to all nodes: hop limit 255, Override
/// set, Solicited clear, Router set when the node forwards (as keepalived).
pub fn na_frame(mac: [u8; 6], src: Ipv6Addr, vip: Ipv6Addr, router: bool) -> Vec<u8> {
    let mut buf = vec![0u8; ETH_HDR + IPV6_HDR + NA_LEN];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(MacAddr::from(ALL_NODES_MAC));
        eth.set_source(MacAddr::from(mac));
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    if let Some(mut ip) = MutableIpv6Packet::new(&mut buf[ETH_HDR..]) {
        ip.set_version(6);
        ip.set_payload_length(NA_LEN as u16);
        ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ip.set_hop_limit(255);
        ip.set_source(src);
        ip.set_destination(ALL_NODES);
    }
    let icmp_at = ETH_HDR + IPV6_HDR;
    if let Some(mut na) = MutableNeighborAdvertPacket::new(&mut buf[icmp_at..]) {
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_icmpv6_code(Icmpv6Code::new(0));
        let mut flags = NA_OVERRIDE;
        if router {
            flags |= NA_ROUTER;
        }
        na.set_flags(flags);
        na.set_target_addr(vip);
        na.set_options(&[NdpOption {
            option_type: NdpOptionTypes::TargetLLAddr,
            length: 1,
            data: mac.to_vec(),
        }]);
    }
    let sum = Icmpv6Packet::new(&buf[icmp_at..]).map(|p| icmpv6::checksum(&p, &src, &ALL_NODES));
    if let Some(sum) = sum {
        buf[icmp_at + 2..icmp_at + 4].copy_from_slice(&sum.to_be_bytes());
    }
    buf
}

/// An AF_PACKET socket that sends prepared frames; it receives nothing
/// (protocol 0).
pub struct FrameSender {
    sock: Socket,
}

impl FrameSender {
    pub fn open() -> Result<Self, IoError> {
        let sock =
            Socket::new(Domain::PACKET, Type::RAW, None).map_err(|source| IoError::Socket {
                what: "create AF_PACKET socket",
                ifname: String::new(),
                source,
            })?;
        Ok(FrameSender { sock })
    }

    /// Sends a gratuitous ARP for `vip` out of `ifindex`.
    pub fn send_garp(&self, ifindex: u32, mac: [u8; 6], vip: Ipv4Addr) -> Result<(), IoError> {
        let frame = garp_frame(mac, vip);
        self.sock
            .send_to(&frame, &link_sockaddr(ifindex, ETH_P_ARP, BROADCAST))
            .map(|_| ())
            .map_err(|source| IoError::Frame { ifindex, source })
    }

    /// Sends an unsolicited NA for `vip` out of `ifindex`.
    pub fn send_na(
        &self,
        ifindex: u32,
        mac: [u8; 6],
        src: Ipv6Addr,
        vip: Ipv6Addr,
        router: bool,
    ) -> Result<(), IoError> {
        let frame = na_frame(mac, src, vip, router);
        self.sock
            .send_to(&frame, &link_sockaddr(ifindex, ETH_P_IPV6, ALL_NODES_MAC))
            .map(|_| ())
            .map_err(|source| IoError::Frame { ifindex, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::arp::ArpPacket;
    use pnet_packet::icmpv6::ndp::NeighborAdvertPacket;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

    #[test]
    fn garp_is_broadcast_request_with_vip_as_sender_and_target() {
        let f = garp_frame(MAC, Ipv4Addr::new(192, 168, 200, 16));
        assert_eq!(f.len(), 42);
        assert_eq!(&f[0..6], &BROADCAST);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        let arp = ArpPacket::new(&f[14..]).expect("arp");
        assert_eq!(arp.get_operation(), ArpOperations::Request);
        assert_eq!(
            arp.get_sender_proto_addr(),
            Ipv4Addr::new(192, 168, 200, 16)
        );
        assert_eq!(
            arp.get_target_proto_addr(),
            Ipv4Addr::new(192, 168, 200, 16)
        );
        assert_eq!(arp.get_sender_hw_addr(), MacAddr::from(MAC));
    }

    #[test]
    fn na_has_hop_limit_255_override_and_valid_checksum() {
        let src: Ipv6Addr = "fe80::1".parse().expect("addr");
        let vip: Ipv6Addr = "2001:db8::10".parse().expect("addr");
        let f = na_frame(MAC, src, vip, false);
        assert_eq!(&f[0..6], &ALL_NODES_MAC);
        assert_eq!(f[ETH_HDR + 7], 255, "hop limit");
        let icmp = &f[ETH_HDR + IPV6_HDR..];
        let na = NeighborAdvertPacket::new(icmp).expect("na");
        assert_eq!(na.get_flags(), NA_OVERRIDE, "O=1 S=0 R=0");
        assert_eq!(na.get_target_addr(), vip);
        let p = Icmpv6Packet::new(icmp).expect("icmp");
        assert_eq!(icmpv6::checksum(&p, &src, &ALL_NODES), p.get_checksum());
        assert_ne!(p.get_checksum(), 0);
        // Target link-layer address option carries our MAC.
        assert_eq!(&icmp[24..26], &[2, 1]);
        assert_eq!(&icmp[26..32], &MAC);
    }
}
