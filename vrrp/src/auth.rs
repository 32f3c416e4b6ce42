//! VRRPv2 authentication (RFC 3768 5.3.6 / RFC 2338 5.3.6): the PASS password
//! compare and keepalived's IPsec-AH integrity check value (HMAC-MD5-96).
//!
//! keepalived's AH (not the kernel's IPsec): a 24-byte AH header between the
//! IPv4 header and the VRRP message; SPI = the sender's IPv4 address; the ICV
//! is HMAC-MD5 (RFC 2104) keyed with the 8-byte zero-padded `auth_pass`, over
//! the IPv4 header with its mutable fields zeroed (TOS, flags/fragment offset,
//! header checksum, and the TTL when unicast), the AH header with a zero ICV,
//! and the VRRP message, truncated to 96 bits (RFC 2404).

use hmac::{Hmac, KeyInit, Mac};

use std::net::Ipv4Addr;

use crate::packet::{
    Advert, AhHeader, EncodeError, Ipv4Header, Ipv4Packet, IPPROTO_AH, IPPROTO_VRRP,
};

type HmacMd5 = Hmac<md5::Md5>;

/// Bytes of a VRRPv2 password (RFC 3768 5.3.10 / RFC 2338: 8 octets).
pub const PASS_LEN: usize = 8;
/// Bytes of the truncated HMAC-MD5 ICV.
pub const ICV_LEN: usize = 12;

/// A configured `auth_pass` as sent: truncated to 8 bytes, zero padded
/// (keepalived truncates longer passwords).
pub fn pass_bytes(pass: &str) -> [u8; PASS_LEN] {
    let mut out = [0u8; PASS_LEN];
    for (o, b) in out.iter_mut().zip(pass.as_bytes()) {
        *o = *b;
    }
    out
}

/// Constant-time equality of two passwords, so a sender cannot learn the
/// password byte by byte from timing (keepalived: `memcmp_constant_time`).
pub fn pass_matches(got: &[u8; PASS_LEN], ours: &[u8; PASS_LEN]) -> bool {
    let diff = got
        .iter()
        .zip(ours.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    diff == 0
}

/// The 96-bit ICV of an AH-protected advert. `ip_header` is the IPv4
/// header as on the wire (options included), `ah` the 24 AH bytes (their ICV
/// is ignored), `vrrp` the VRRP message; `unicast` also zeroes the TTL.
pub fn ah_icv(
    ip_header: &[u8],
    ah: &[u8; AhHeader::LEN],
    vrrp: &[u8],
    key: &[u8; PASS_LEN],
    unicast: bool,
) -> [u8; ICV_LEN] {
    // new_from_slice only fails for fixed-size-key MACs; HMAC takes any key.
    let mut mac = match HmacMd5::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; ICV_LEN],
    };
    let mut hdr = [0u8; 60];
    let n = ip_header.len().min(hdr.len());
    hdr[..n].copy_from_slice(&ip_header[..n]);
    // Mutable fields (RFC 2402 3.3.3.1.1.1), as keepalived zeroes them.
    if n >= 20 {
        hdr[1] = 0;
        hdr[6] = 0;
        hdr[7] = 0;
        hdr[10] = 0;
        hdr[11] = 0;
        if unicast {
            hdr[8] = 0;
        }
    }
    mac.update(&hdr[..n]);
    let mut ah0 = *ah;
    ah0[12..].fill(0);
    mac.update(&ah0);
    mac.update(vrrp);
    let full = mac.finalize().into_bytes();
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&full[..ICV_LEN]);
    icv
}

/// Whether the ICV of a received AH-protected packet verifies (constant time).
/// `pkt` is the whole IPv4 packet and `ihl` its header length.
pub fn ah_verify(pkt: &[u8], ihl: usize, key: &[u8; PASS_LEN], unicast: bool) -> bool {
    let Some(ah_bytes) = pkt.get(ihl..ihl + AhHeader::LEN) else {
        return false;
    };
    let mut ah = [0u8; AhHeader::LEN];
    ah.copy_from_slice(ah_bytes);
    let want = ah_icv(&pkt[..ihl], &ah, &pkt[ihl + AhHeader::LEN..], key, unicast);
    let diff = want
        .iter()
        .zip(&ah[12..])
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    diff == 0
}

/// Fill in the ICV of an encoded AH-protected packet (IPv4 header without
/// options, then AH, then VRRP) in place.
pub fn ah_sign(pkt: &mut [u8], key: &[u8; PASS_LEN], unicast: bool) {
    let ihl = 20;
    if pkt.len() < ihl + AhHeader::LEN {
        return;
    }
    let mut ah = [0u8; AhHeader::LEN];
    ah.copy_from_slice(&pkt[ihl..ihl + AhHeader::LEN]);
    // keepalived computes the ICV before the kernel fills the IP checksum.
    let icv = ah_icv(&pkt[..ihl], &ah, &pkt[ihl + AhHeader::LEN..], key, unicast);
    pkt[ihl + 12..ihl + AhHeader::LEN].copy_from_slice(&icv);
}

/// IP TOS keepalived writes into the IPv4 header it builds for AH adverts
/// (IPTOS_PREC_INTERNETCONTROL, seen in fixtures/vrrp/v2_ah.hex).
const AH_TOS: u8 = 0xc0;

/// keepalived's send state of one `auth_type AH` instance: it builds the
/// whole IPv4 packet itself (an `IP_HDRINCL` socket) so that the ICV can
/// cover the IP header.
///
/// keepalived 2.2.7 keeps ONE sequence counter per instance
/// (`ipsecah_counter.seq_number`) for both directions: each advert sends
/// counter + 1, and each accepted advert raises the counter to the peer's
/// number (`vrrp_in_chk_ipsecah`). So a backup that takes over continues
/// above the old master's numbers, which the old master (now backup) needs
/// to accept them. The IP identification counts up from 1 per advert and
/// does not follow peers: two keepalived 2.2.7 in namespaces, the backup
/// taking over after the master's 4 adverts sent ip id 1 with AH seq 5.
#[derive(Debug, Clone)]
pub struct AhTx {
    key: [u8; PASS_LEN],
    seq: u32,
    ip_id: u16,
}

impl AhTx {
    /// Send state for the password `key`, counters at 0 (keepalived's
    /// sequence numbers start from 0, so the first advert carries 1).
    pub fn new(key: [u8; PASS_LEN]) -> AhTx {
        AhTx {
            key,
            seq: 0,
            ip_id: 0,
        }
    }

    /// The sequence number of an accepted AH advert from a peer.
    pub fn saw(&mut self, seq: u32) {
        self.seq = self.seq.max(seq);
    }

    /// The last sequence number sent or seen.
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// Advance the counters for one advert round (one sequence number and
    /// IP id for all unicast peers of a round, as keepalived numbers once
    /// per advert). keepalived stops counting at 0xFFFFFFFE (it then treats
    /// the counter as cycled); we hold there too rather than wrap to 0,
    /// which every receiver would drop as a replay.
    pub fn next_round(&mut self) {
        if self.seq <= 0xFFFF_FFFD {
            self.seq += 1;
        }
        self.ip_id = self.ip_id.wrapping_add(1);
        if self.ip_id == 0 {
            // The kernel replaces an IP id of 0 with its own (raw(7)).
            self.ip_id = 1;
        }
    }

    /// The whole signed IPv4 packet of `advert` from `src` to `dst` with the
    /// current counters: protocol 51, AH next header 112, SPI = `src`; `ttl`
    /// is 255 for multicast or `unicast_ttl`, and is left out of the ICV
    /// when `unicast` (keepalived zeroes it, since routers change it).
    pub fn packet(
        &self,
        advert: &Advert,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        unicast: bool,
    ) -> Result<Vec<u8>, EncodeError> {
        let pkt = Ipv4Packet {
            ip: Ipv4Header {
                tos: AH_TOS,
                id: self.ip_id,
                frag: 0,
                ttl,
                protocol: IPPROTO_AH,
                src,
                dst,
            },
            ah: Some(AhHeader {
                next_header: IPPROTO_VRRP,
                spi: u32::from(src),
                seq: self.seq,
                icv: [0; ICV_LEN],
            }),
            advert: advert.clone(),
        };
        pkt.encode_signed(&self.key, unicast, false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hmac_md5_rfc2104_vector() {
        // RFC 2104 appendix / RFC 2202 test case 2: key "Jefe".
        let mut mac = match HmacMd5::new_from_slice(b"Jefe") {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        mac.update(b"what do ya want for nothing?");
        let out = mac.finalize().into_bytes();
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn pass_is_truncated_and_padded() {
        assert_eq!(&pass_bytes("secret"), b"secret\0\0");
        assert_eq!(&pass_bytes("0123456789"), b"01234567");
        assert!(pass_matches(&pass_bytes("abc"), &pass_bytes("abc")));
        assert!(!pass_matches(&pass_bytes("abc"), &pass_bytes("abd")));
    }

    /// The hex packet of a captured keepalived fixture.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../fixtures/vrrp/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let hex: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<String>()
            .split_whitespace()
            .collect();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ah_tx_first_advert_is_keepalived_capture() {
        // fixtures/vrrp/v2_ah.hex: keepalived 2.2.7's first AH advert
        // (ip id 1, AH seq 1), auth_pass "k3y", 10.0.0.1 -> 224.0.0.18.
        let want = fixture("v2_ah.hex");
        let advert = Ipv4Packet::decode(&want, false).unwrap().advert;
        let build = |tx: &AhTx, dst: [u8; 4], ttl: u8, unicast: bool| {
            tx.packet(
                &advert,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::from(dst),
                ttl,
                unicast,
            )
            .unwrap()
        };
        let mut tx = AhTx::new(pass_bytes("k3y"));
        tx.next_round();
        assert_eq!(build(&tx, [224, 0, 0, 18], 255, false), want);
        // A different password changes the ICV only.
        let other = AhTx {
            key: pass_bytes("k3z"),
            ..tx.clone()
        };
        let bad = build(&other, [224, 0, 0, 18], 255, false);
        assert_eq!(bad[..32], want[..32]);
        assert_ne!(bad[32..44], want[32..44]);
        assert!(!ah_verify(&bad, 20, &pass_bytes("k3y"), false));
        // Unicast: the TTL (unicast_ttl, or lowered by routers) is outside
        // the ICV, the destination inside it.
        let mut uni = build(&tx, [10, 0, 0, 2], 64, true);
        assert!(ah_verify(&uni, 20, &pass_bytes("k3y"), true));
        uni[8] = 60;
        assert!(ah_verify(&uni, 20, &pass_bytes("k3y"), true));
        assert!(!ah_verify(&uni, 20, &pass_bytes("k3y"), false));
        uni[19] = 3;
        assert!(!ah_verify(&uni, 20, &pass_bytes("k3y"), true));
        // fixtures/vrrp/v2_ah_prio0.hex: the priority-0 advert keepalived
        // sent on SIGTERM as its 7th, ip id 7 and AH seq 7: both counters
        // move once per advert.
        let want0 = fixture("v2_ah_prio0.hex");
        let advert0 = Ipv4Packet::decode(&want0, false).unwrap().advert;
        for _ in 0..6 {
            tx.next_round();
        }
        let got0 = tx
            .packet(
                &advert0,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(224, 0, 0, 18),
                255,
                false,
            )
            .unwrap();
        assert_eq!(got0, want0);
    }

    #[test]
    fn ah_tx_sequence_follows_peers() {
        let mut tx = AhTx::new(pass_bytes("k"));
        tx.next_round();
        tx.next_round();
        assert_eq!(tx.seq(), 2);
        // A peer was master up to 40: our next advert must be above it.
        tx.saw(40);
        tx.next_round();
        assert_eq!(tx.seq(), 41);
        assert_eq!(tx.ip_id, 3, "the IP id is our own count");
        // An older number does not lower the counter.
        tx.saw(7);
        assert_eq!(tx.seq(), 41);
        tx.saw(u32::MAX);
        tx.next_round();
        assert_eq!(tx.seq(), u32::MAX, "never wraps to 0");
    }
}
