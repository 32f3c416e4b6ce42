//! Property tests of the codec: any advert that encodes decodes back to
//! itself (v2, v3/IPv4, v3/IPv6, whole IPv4 packets), and no byte string
//! makes the decoders or the receive checks panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use vrrp::check::{AuthCfg, Ipv6Meta, Receiver, RxCfg, UnicastPeer};
use vrrp::packet::{
    self, Addrs, Advert, AuthType, Checksum, Family, Ipv4Header, Ipv4Packet, Version,
};

fn v4_addrs() -> impl Strategy<Value = Vec<Ipv4Addr>> {
    prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..=20)
}

fn v6_addrs() -> impl Strategy<Value = Vec<Ipv6Addr>> {
    prop::collection::vec(any::<u128>().prop_map(Ipv6Addr::from), 0..=20)
}

fn v2_advert() -> impl Strategy<Value = Advert> {
    (
        any::<u8>(),
        any::<u8>(),
        0u16..=255,
        0u8..=2,
        any::<[u8; 8]>(),
        v4_addrs(),
    )
        .prop_map(|(vrid, priority, adver_int, at, auth_data, addrs)| Advert {
            version: Version::V2,
            vrid,
            priority,
            adver_int,
            auth_type: AuthType::from_number(at).unwrap_or(AuthType::None),
            auth_data,
            addrs: Addrs::V4(addrs),
        })
}

fn v3_advert() -> impl Strategy<Value = Advert> {
    let addrs = prop_oneof![
        v4_addrs().prop_map(Addrs::V4),
        v6_addrs().prop_map(Addrs::V6)
    ];
    (
        any::<u8>(),
        any::<u8>(),
        0u16..=packet::MAX_V3_INTERVAL_CS,
        addrs,
    )
        .prop_map(|(vrid, priority, adver_int, addrs)| Advert {
            version: Version::V3,
            vrid,
            priority,
            adver_int,
            auth_type: AuthType::None,
            auth_data: [0; 8],
            addrs,
        })
}

fn pseudo_for(a: &Advert, s: u128, d: u128) -> Checksum {
    match a.addrs.family() {
        Family::V4 => Checksum::Pseudo {
            src: IpAddr::V4(Ipv4Addr::from(s as u32)),
            dst: IpAddr::V4(Ipv4Addr::from(d as u32)),
        },
        Family::V6 => Checksum::Pseudo {
            src: IpAddr::V6(Ipv6Addr::from(s)),
            dst: IpAddr::V6(Ipv6Addr::from(d)),
        },
    }
}

proptest! {
    #[test]
    fn v2_roundtrip(a in v2_advert(), s in any::<u128>(), d in any::<u128>()) {
        // v2 ignores the pseudo-header addresses.
        let ck = pseudo_for(&a, s, d);
        let bytes = a.encode(&ck).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(bytes.len(), a.len());
        prop_assert_eq!(Advert::decode(&bytes, Family::V4, &Checksum::V3AsV2), Ok(a.clone()));
        prop_assert_eq!(Advert::decode(&bytes, Family::V4, &ck), Ok(a));
    }

    #[test]
    fn v3_roundtrip(a in v3_advert(), s in any::<u128>(), d in any::<u128>(), as_v2 in any::<bool>()) {
        let ck = if as_v2 { Checksum::V3AsV2 } else { pseudo_for(&a, s, d) };
        let bytes = a.encode(&ck).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Advert::decode(&bytes, a.addrs.family(), &ck), Ok(a));
    }

    #[test]
    fn ipv4_packet_roundtrip(a in prop_oneof![v2_advert(), v3_advert()], ttl in any::<u8>(), id in any::<u16>(), s in any::<u32>(), d in any::<u32>()) {
        prop_assume!(a.addrs.family() == Family::V4);
        let p = Ipv4Packet {
            ip: Ipv4Header { tos: 0xc0, id, frag: 0, ttl, protocol: packet::IPPROTO_VRRP, src: Ipv4Addr::from(s), dst: Ipv4Addr::from(d) },
            ah: None,
            advert: a,
        };
        let bytes = p.encode(false).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(packet::internet_checksum(&bytes[..20]), 0, "IP header checksum");
        prop_assert_eq!(Ipv4Packet::decode(&bytes, false), Ok(p));
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Ipv4Packet::decode(&bytes, false);
        let _ = Advert::decode(&bytes, Family::V6, &Checksum::V3AsV2);
        let _ = packet::peek_vrid_ipv4(&bytes);
        let cfg = RxCfg {
            version: Version::V2,
            family: Family::V4,
            vrid: bytes.get(21).copied().unwrap_or(1),
            auth: AuthCfg::Ah(*b"k3y\0\0\0\0\0"),
            adver_int: 1,
            vips: vec![IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))],
            skip_check_adv_addr: false,
            unicast_peers: vec![UnicastPeer::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))],
            check_unicast_src: true,
            v3_checksum_as_v2: false,
        };
        let _ = Receiver::new(cfg).check_ipv4(&bytes, None);
        let v6 = RxCfg {
            version: Version::V3,
            family: Family::V6,
            vrid: bytes.get(1).copied().unwrap_or(1),
            auth: AuthCfg::None,
            adver_int: 100,
            vips: vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
            skip_check_adv_addr: false,
            unicast_peers: vec![],
            check_unicast_src: false,
            v3_checksum_as_v2: false,
        };
        let meta = Ipv6Meta { src: Ipv6Addr::LOCALHOST, dst: packet::MCAST_V6, hop_limit: Some(255) };
        let _ = Receiver::new(v6).check_ipv6(&bytes, &meta, None);
    }
}
