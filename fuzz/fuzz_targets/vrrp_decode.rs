//! Fuzz target: the VRRP decoders and receive checks never panic on any
//! bytes (whole IPv4 packets, bare v2/v3 messages over IPv4 and IPv6, AH).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp::check::{AuthCfg, Ipv6Meta, Receiver, RxCfg, UnicastPeer};
use vrrp::packet::{self, Advert, Checksum, Family, Ipv4Packet, Version};

fn rx_cfg(version: Version, family: Family, vrid: u8, auth: AuthCfg, vips: Vec<IpAddr>) -> RxCfg {
    RxCfg {
        version,
        family,
        vrid,
        auth,
        adver_int: if version == Version::V2 { 1 } else { 100 },
        vips,
        skip_check_adv_addr: false,
        unicast_peers: Vec::new(),
        check_unicast_src: false,
        v3_checksum_as_v2: false,
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = Ipv4Packet::decode(data, false);
    let _ = Ipv4Packet::decode(data, true);
    let src = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let dst = IpAddr::V6(packet::MCAST_V6);
    let _ = Advert::decode(data, Family::V6, &Checksum::Pseudo { src, dst });
    let _ = Advert::decode(data, Family::V4, &Checksum::V3AsV2);
    let _ = packet::peek_vrid_ipv4(data);

    // The receive checks with the VRID taken from the input, so that fuzzing
    // reaches the checks after the VRID test.
    let vrid4 = packet::peek_vrid_ipv4(data).unwrap_or(1);
    let vip4 = vec![IpAddr::V4(Ipv4Addr::new(192, 168, 200, 16))];
    for auth in [
        AuthCfg::None,
        AuthCfg::Pass(*b"secret\0\0"),
        AuthCfg::Ah(*b"k3y\0\0\0\0\0"),
    ] {
        let _ = Receiver::new(rx_cfg(Version::V2, Family::V4, vrid4, auth, vip4.clone()))
            .check_ipv4(data, None);
    }
    let mut uni = rx_cfg(Version::V3, Family::V4, vrid4, AuthCfg::None, vip4);
    uni.unicast_peers = vec![UnicastPeer {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        min_ttl: 10,
        max_ttl: 200,
    }];
    uni.check_unicast_src = true;
    let _ = Receiver::new(uni).check_ipv4(data, None);

    let vrid6 = packet::peek_vrid(data).unwrap_or(1);
    let vip6 = vec![IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x55))];
    let meta = Ipv6Meta {
        src: Ipv6Addr::LOCALHOST,
        dst: packet::MCAST_V6,
        hop_limit: Some(255),
    };
    let _ = Receiver::new(rx_cfg(Version::V3, Family::V6, vrid6, AuthCfg::None, vip6))
        .check_ipv6(data, &meta, None);
});
