//! Byte fixtures captured from keepalived 2.2.7 (fixtures/vrrp/*.hex): each
//! decodes, re-encodes byte for byte, and passes the AH ICV check where it
//! has one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use vrrp::auth;
use vrrp::packet::{self, Addrs, AuthType, Checksum, Family, Ipv4Packet, Version};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/vrrp")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<String>();
    let hex = hex.trim();
    assert!(hex.len() & 1 == 0, "{name}: odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn v4(name: &str) -> (Vec<u8>, Ipv4Packet) {
    let bytes = fixture(name);
    let pkt = Ipv4Packet::decode(&bytes, false).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = pkt.encode(false).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(hex(&again), hex(&bytes), "{name}: re-encoding differs");
    (bytes, pkt)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn v2_plain() {
    for (name, prio) in [("v2_plain.hex", 100), ("v2_plain_prio0.hex", 0)] {
        let (_, p) = v4(name);
        let a = &p.advert;
        assert_eq!(
            (a.version, a.vrid, a.priority, a.adver_int),
            (Version::V2, 51, prio, 1),
            "{name}"
        );
        assert_eq!(a.auth_type, AuthType::None);
        assert_eq!(
            a.addrs,
            Addrs::V4(vec![ip4("192.168.200.16"), ip4("192.168.200.17")])
        );
        assert_eq!(
            (p.ip.ttl, p.ip.tos, p.ip.dst),
            (255, 0xc0, packet::MCAST_V4)
        );
        assert_eq!(p.ip.src, ip4("10.0.0.1"));
    }
}

#[test]
fn v2_pass() {
    for (name, prio) in [("v2_pass.hex", 150), ("v2_pass_prio0.hex", 0)] {
        let (_, p) = v4(name);
        let a = &p.advert;
        assert_eq!(
            (a.version, a.vrid, a.priority, a.adver_int),
            (Version::V2, 52, prio, 2),
            "{name}"
        );
        assert_eq!(a.auth_type, AuthType::Pass);
        assert_eq!(a.auth_data, auth::pass_bytes("secret"));
        assert_eq!(a.addrs, Addrs::V4(vec![ip4("192.168.201.1")]));
    }
}

#[test]
fn v2_ah() {
    for (name, prio) in [("v2_ah.hex", 254), ("v2_ah_prio0.hex", 0)] {
        let (bytes, p) = v4(name);
        let a = &p.advert;
        assert_eq!(
            (a.version, a.vrid, a.priority, a.adver_int),
            (Version::V2, 53, prio, 1),
            "{name}"
        );
        assert_eq!(a.auth_type, AuthType::Ah);
        assert_eq!(p.ip.protocol, packet::IPPROTO_AH);
        let ah = p.ah.unwrap_or_else(|| panic!("{name}: no AH header"));
        assert_eq!(
            ah.spi,
            u32::from(ip4("10.0.0.1")),
            "keepalived's SPI is the source address"
        );
        let key = auth::pass_bytes("k3y");
        assert!(
            auth::ah_verify(&bytes, 20, &key, false),
            "{name}: ICV does not verify"
        );
        assert!(!auth::ah_verify(
            &bytes,
            20,
            &auth::pass_bytes("k3z"),
            false
        ));
        // Signing the packet with its ICV zeroed reproduces keepalived's ICV.
        let mut resigned = bytes.clone();
        resigned[32..44].fill(0);
        auth::ah_sign(&mut resigned, &key, false);
        // The kernel filled the IP checksum after keepalived signed: zeroed in both.
        assert_eq!(hex(&resigned[20..]), hex(&bytes[20..]), "{name}");
        // Rebuilt from its fields and signed: keepalived's packet, byte for byte.
        let mut unsigned = p.clone();
        if let Some(ah) = unsigned.ah.as_mut() {
            ah.icv = [0; 12];
        }
        let rebuilt = unsigned
            .encode_signed(&key, false, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex(&rebuilt), hex(&bytes), "{name}");
    }
}

#[test]
fn v3_ipv4() {
    for (name, prio) in [("v3_ipv4.hex", 200), ("v3_ipv4_prio0.hex", 0)] {
        let (bytes, p) = v4(name);
        let a = &p.advert;
        assert_eq!(
            (a.version, a.vrid, a.priority, a.adver_int),
            (Version::V3, 54, prio, 50),
            "{name}"
        );
        assert_eq!(a.interval(), std::time::Duration::from_millis(500));
        assert_eq!(a.addrs.len(), 3);
        // keepalived includes the pseudo-header: the v2-style sum must fail.
        assert!(Ipv4Packet::decode(&bytes, true).is_err(), "{name}");
    }
}

#[test]
fn v3_ipv4_unicast() {
    for (name, prio) in [
        ("v3_ipv4_unicast.hex", 255),
        ("v3_ipv4_unicast_prio0.hex", 0),
    ] {
        let (_, p) = v4(name);
        assert_eq!(
            (p.advert.vrid, p.advert.priority, p.advert.adver_int),
            (56, prio, 100),
            "{name}"
        );
        assert_eq!((p.ip.src, p.ip.dst), (ip4("10.0.0.1"), ip4("10.0.0.2")));
    }
}

#[test]
fn v3_ipv6() {
    for (name, prio) in [("v3_ipv6.hex", 120), ("v3_ipv6_prio0.hex", 0)] {
        let bytes = fixture(name);
        // A raw IPv6 socket delivers the payload; addresses and hop limit come aside.
        assert_eq!(bytes[0] >> 4, 6);
        assert_eq!((bytes[6], bytes[7]), (packet::IPPROTO_VRRP, 255));
        let mut s = [0u8; 16];
        s.copy_from_slice(&bytes[8..24]);
        let mut d = [0u8; 16];
        d.copy_from_slice(&bytes[24..40]);
        let (src, dst) = (Ipv6Addr::from(s), Ipv6Addr::from(d));
        assert_eq!(dst, packet::MCAST_V6);
        let ck = Checksum::Pseudo {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
        };
        let payload = &bytes[40..];
        let a = packet::Advert::decode(payload, Family::V6, &ck)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (a.version, a.vrid, a.priority, a.adver_int),
            (Version::V3, 55, prio, 100),
            "{name}"
        );
        let fd = |x: u16| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, x);
        assert_eq!(a.addrs, Addrs::V6(vec![fd(0x55), fd(0x56)]));
        let again = a.encode(&ck).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex(&again), hex(payload), "{name}: re-encoding differs");
    }
}
