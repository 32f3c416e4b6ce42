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

use crate::packet::AhHeader;

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
}
