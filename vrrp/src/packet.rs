//! VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) messages,
//! the IPv4 header (and keepalived's IPsec-AH header) they arrive in, and the
//! checksums, as plain structs with `encode`/`decode`.
//!
//! Layers, from the wire up:
//! - [`Ipv4Header`] / [`AhHeader`]: what a raw `IPPROTO_VRRP` (or `IPPROTO_AH`)
//!   IPv4 socket hands over; [`Ipv4Packet`] is the whole thing, owned, and
//!   [`parse_ipv4`] the borrowing parse used on the receive path.
//! - [`Advert`]: the VRRP message itself (owned; [`AdvertView`] borrows and
//!   allocates nothing). IPv6 raw sockets deliver only this part: the source,
//!   destination and hop limit come from the socket (ancillary data).
//!
//! Checksums (RFC 3768 5.3.8 / RFC 5798 5.2.8): VRRPv2 covers the VRRP message
//! only; VRRPv3 adds the IPv4 or IPv6 pseudo-header, as keepalived, FRR and the
//! Linux kernel do. [`Checksum::V3AsV2`] leaves the pseudo-header out for
//! VRRPv3 over IPv4 (keepalived's `v3_checksum_as_v2`).
//!
//! Decoding checks only what makes the bytes a well-formed advert (lengths,
//! version, type, auth type, checksum). What depends on the receiving
//! instance (VRID, TTL, password, interval, address list, peers) is checked in
//! [`crate::check`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// IP protocol number of VRRP (RFC 3768 5.2.4, RFC 5798 5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of the IPsec Authentication Header (keepalived's v2 `auth_type AH`).
pub const IPPROTO_AH: u8 = 51;
/// TTL / hop limit every VRRP advert is sent with and (multicast) must arrive with.
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP (RFC 3768 5.2.2, RFC 5798 5.1.1.2).
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (RFC 5798 5.1.2.2).
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The type of an ADVERTISEMENT, the only VRRP packet type (RFC 3768 5.3.2).
pub const TYPE_ADVERT: u8 = 1;
/// IPv4 TOS keepalived sends adverts with (IPTOS_PREC_INTERNETCONTROL).
pub const TOS_INTERNETCONTROL: u8 = 0xc0;

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Version {
    /// RFC 3768: IPv4 only, interval in seconds, optional authentication.
    V2,
    /// RFC 5798: IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}

impl Version {
    /// The value of the 4-bit version field.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of an instance (all its advertised addresses share it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// IPv4: 4-byte addresses.
    V4,
    /// IPv6: 16-byte addresses (VRRPv3 only).
    V6,
}

impl Family {
    /// Bytes per address in the advert's address list.
    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// VRRPv2 authentication type (RFC 3768 5.3.6; RFC 2338 defined AH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthType {
    /// 0: no authentication.
    None,
    /// 1: simple text password, 8 bytes, zero padded.
    Pass,
    /// 2: IPsec AH (keepalived's own HMAC-MD5-96 header in front of VRRP).
    Ah,
}

impl AuthType {
    /// The on-wire value.
    pub fn number(self) -> u8 {
        match self {
            AuthType::None => 0,
            AuthType::Pass => 1,
            AuthType::Ah => 2,
        }
    }

    /// From the on-wire value; `None` for values no implementation defines.
    pub fn from_number(n: u8) -> Option<AuthType> {
        match n {
            0 => Some(AuthType::None),
            1 => Some(AuthType::Pass),
            2 => Some(AuthType::Ah),
            _ => None,
        }
    }
}

/// The addresses an advert carries, all of one family.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Addrs {
    /// IPv4 virtual addresses.
    V4(Vec<Ipv4Addr>),
    /// IPv6 virtual addresses.
    V6(Vec<Ipv6Addr>),
}

impl Addrs {
    /// Number of addresses.
    pub fn len(&self) -> usize {
        match self {
            Addrs::V4(v) => v.len(),
            Addrs::V6(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The family of the list.
    pub fn family(&self) -> Family {
        match self {
            Addrs::V4(_) => Family::V4,
            Addrs::V6(_) => Family::V6,
        }
    }

    /// The addresses as `IpAddr`s.
    pub fn to_ip_addrs(&self) -> Vec<IpAddr> {
        match self {
            Addrs::V4(v) => v.iter().copied().map(IpAddr::V4).collect(),
            Addrs::V6(v) => v.iter().copied().map(IpAddr::V6).collect(),
        }
    }
}

/// Which checksum a VRRP message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// VRRPv3: the IP pseudo-header (source, destination, protocol 112,
    /// VRRP length) is included (RFC 5798 5.2.8; keepalived and FRR default).
    /// VRRPv2 messages ignore the addresses and checksum the message alone.
    Pseudo {
        /// Source address of the IP packet.
        src: IpAddr,
        /// Destination address of the IP packet.
        dst: IpAddr,
    },
    /// Over the VRRP message alone, also for VRRPv3 (`v3_checksum_as_v2`; the
    /// only form VRRPv2 has).
    V3AsV2,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why bytes are not a well-formed VRRP advert. Each variant says which
/// field was wrong and what it held, so the receiver can log and count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the part being read needs.
    #[error("{what} truncated: {have} bytes, need {need}")]
    Truncated {
        /// The part being read ("IPv4 header", "AH header", "VRRP header", ...).
        what: &'static str,
        /// Bytes available.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The IPv4 header's version nibble is not 4.
    #[error("IP version {0}, expected 4")]
    IpVersion(u8),
    /// The IPv4 header length field is below 20 bytes.
    #[error("IPv4 header length {0} bytes is below 20")]
    IpHeaderLength(usize),
    /// The IPv4 total length differs from the bytes received.
    #[error("IPv4 total length {header} differs from the {received} bytes received")]
    IpTotalLength {
        /// `tot_len` from the header.
        header: u16,
        /// Bytes received.
        received: usize,
    },
    /// The IPv4 packet is neither VRRP (112) nor AH (51).
    #[error("IP protocol {0} is neither VRRP (112) nor AH (51)")]
    Protocol(u8),
    /// The AH header protects another protocol than VRRP.
    #[error("AH next header {0}, expected VRRP (112)")]
    AhNextHeader(u8),
    /// The AH payload length is not keepalived's (4 = 24-byte header with a 96-bit ICV).
    #[error("AH payload length {0}, expected 4")]
    AhLength(u8),
    /// The VRRP version is neither 2 nor 3.
    #[error("VRRP version {0}, expected 2 or 3")]
    Version(u8),
    /// VRRPv2 arrived over IPv6 (RFC 3768 is IPv4 only).
    #[error("VRRPv2 over IPv6")]
    V2OverIpv6,
    /// The type is not ADVERTISEMENT (1).
    #[error("VRRP packet type {0}, expected 1 (advertisement)")]
    Type(u8),
    /// The length does not match the address count.
    #[error("VRRP message is {got} bytes but {count} addresses make {expected}")]
    Length {
        /// Bytes of VRRP message.
        got: usize,
        /// Bytes the header's address count implies.
        expected: usize,
        /// The header's address count.
        count: u8,
    },
    /// A VRRPv2 authentication type other than 0, 1 or 2.
    #[error("VRRPv2 auth type {0} is not 0 (none), 1 (PASS) or 2 (AH)")]
    AuthType(u8),
    /// The checksum does not verify.
    #[error("bad VRRP checksum 0x{got:04x} (computed 0x{computed:04x})")]
    Checksum {
        /// The checksum field as received.
        got: u16,
        /// What the field should have held.
        computed: u16,
    },
}

/// Why an advert cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// More than 255 addresses (the count field is 8 bits).
    #[error("{0} addresses do not fit the 8-bit count field")]
    TooManyAddrs(usize),
    /// The interval does not fit the field (v2: 1-255 s; v3: 1-4095 cs).
    #[error("advert interval {0} does not fit the field")]
    Interval(u16),
    /// VRRPv2 with IPv6 addresses.
    #[error("VRRPv2 cannot carry IPv6 addresses")]
    V2Ipv6,
    /// The checksum addresses are of another family than the advert.
    #[error("checksum pseudo-header family differs from the advert's")]
    PseudoFamily,
}

// ---------------------------------------------------------------------------
// Internet checksum (RFC 1071)
// ---------------------------------------------------------------------------

/// One's-complement sum of 16-bit big-endian words; an odd last byte is
/// padded with zero (RFC 1071 4.1).
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The internet checksum of `data` (with its checksum field zeroed or not:
/// over a message whose checksum is correct the result is 0).
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold(sum16(0, data))
}

/// Sum of the pseudo-header for a VRRP message of `len` bytes (RFC 5798
/// 5.2.8: RFC 768's IPv4 form, RFC 8200 8.1's IPv6 form).
fn pseudo_sum(src: &IpAddr, dst: &IpAddr, len: usize) -> Option<u32> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let acc = sum16(0, &s.octets());
            let acc = sum16(acc, &d.octets());
            Some(acc + u32::from(IPPROTO_VRRP) + len as u32)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let acc = sum16(0, &s.octets());
            let acc = sum16(acc, &d.octets());
            let len = len as u32;
            Some(acc + (len >> 16) + (len & 0xffff) + u32::from(IPPROTO_VRRP))
        }
        _ => None,
    }
}

/// The checksum a VRRP message `msg` (checksum field included as is) sums to
/// under `ck`: 0 when the field is right. Mixed-family pseudo addresses sum as
/// if absent.
fn message_checksum(version: Version, msg: &[u8], ck: &Checksum) -> u16 {
    let start = match (version, ck) {
        (Version::V3, Checksum::Pseudo { src, dst }) => {
            pseudo_sum(src, dst, msg.len()).unwrap_or(0)
        }
        _ => 0,
    };
    fold(sum16(start, msg))
}

// ---------------------------------------------------------------------------
// VRRP message
// ---------------------------------------------------------------------------

/// A VRRP ADVERTISEMENT.
///
/// VRRPv2 (RFC 3768 5.1):
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Adver Int   |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (1)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            .........                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (n)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (1)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (2)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// VRRPv3 (RFC 5798 5.1), no authentication data, IPv4 or IPv6 addresses:
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       IPvX Address(es)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Advert {
    /// 2 or 3.
    pub version: Version,
    /// Virtual Router ID, 1-255 (0 is decoded as is; the VRID check drops it).
    pub vrid: u8,
    /// Sender's priority: 255 owner, 1-254 backup, 0 master resigning.
    pub priority: u8,
    /// The interval field as on the wire: VRRPv2 whole seconds (8 bits),
    /// VRRPv3 centiseconds (12 bits). See [`Advert::interval`].
    pub adver_int: u16,
    /// VRRPv2 authentication type ([`AuthType::None`] for VRRPv3).
    pub auth_type: AuthType,
    /// VRRPv2 authentication data: the zero-padded password for PASS, zeros
    /// otherwise (absent from VRRPv3: all zero).
    pub auth_data: [u8; 8],
    /// The virtual addresses.
    pub addrs: Addrs,
}

/// Bytes of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// Bytes of VRRPv2 authentication data.
pub const AUTH_DATA_LEN: usize = 8;
/// Most addresses an advert can list (8-bit count).
pub const MAX_ADDRS: usize = 255;
/// Largest VRRPv3 interval in centiseconds (12 bits: 40.95 s).
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;

/// Length of a VRRP message of `version` with `count` addresses of `family`.
pub fn message_len(version: Version, family: Family, count: usize) -> usize {
    HEADER_LEN
        + count * family.addr_len()
        + match version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        }
}

impl Advert {
    /// The advertised interval as a duration (v2 seconds, v3 centiseconds).
    pub fn interval(&self) -> Duration {
        interval_of(self.version, self.adver_int)
    }

    /// Bytes of the encoded message.
    pub fn len(&self) -> usize {
        message_len(self.version, self.addrs.family(), self.addrs.len())
    }

    /// Never empty: the fixed header alone is 8 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Append the message to `out`, checksum filled in for `ck`.
    pub fn encode_into(&self, ck: &Checksum, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let count = self.addrs.len();
        if count > MAX_ADDRS {
            return Err(EncodeError::TooManyAddrs(count));
        }
        if let Checksum::Pseudo { src, .. } = ck {
            if self.version == Version::V3 && Family::of(src) != self.addrs.family() {
                return Err(EncodeError::PseudoFamily);
            }
        }
        if self.version == Version::V2 && self.addrs.family() == Family::V6 {
            return Err(EncodeError::V2Ipv6);
        }
        let int_ok = match self.version {
            Version::V2 => (0..=255).contains(&self.adver_int),
            Version::V3 => self.adver_int <= MAX_V3_INTERVAL_CS,
        };
        if !int_ok {
            return Err(EncodeError::Interval(self.adver_int));
        }
        let start = out.len();
        out.push((self.version.number() << 4) | TYPE_ADVERT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(count as u8);
        match self.version {
            Version::V2 => {
                out.push(self.auth_type.number());
                out.push(self.adver_int as u8);
            }
            // RFC 5798 5.2.5: the 4 reserved bits are sent as zero.
            Version::V3 => out.extend_from_slice(&self.adver_int.to_be_bytes()),
        }
        out.extend_from_slice(&[0, 0]);
        match &self.addrs {
            Addrs::V4(v) => v.iter().for_each(|a| out.extend_from_slice(&a.octets())),
            Addrs::V6(v) => v.iter().for_each(|a| out.extend_from_slice(&a.octets())),
        }
        if self.version == Version::V2 {
            out.extend_from_slice(&self.auth_data);
        }
        let csum = message_checksum(self.version, &out[start..], ck);
        out[start + 6..start + 8].copy_from_slice(&csum.to_be_bytes());
        Ok(())
    }

    /// The encoded message, checksum filled in for `ck`.
    pub fn encode(&self, ck: &Checksum) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.len());
        self.encode_into(ck, &mut out)?;
        Ok(out)
    }

    /// Decode a VRRP message of `family` (the socket's), verifying its
    /// checksum under `ck`.
    pub fn decode(buf: &[u8], family: Family, ck: &Checksum) -> Result<Advert, DecodeError> {
        let view = AdvertView::parse(buf, family)?;
        view.verify_checksum(ck)?;
        Ok(view.to_owned())
    }
}

/// A duration from an interval field of `version`.
pub fn interval_of(version: Version, field: u16) -> Duration {
    match version {
        Version::V2 => Duration::from_secs(u64::from(field)),
        Version::V3 => Duration::from_millis(u64::from(field) * 10),
    }
}

/// A decoded advert that borrows its address list: the allocation-free form
/// the receive path uses. Same fields as [`Advert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertView<'a> {
    /// 2 or 3.
    pub version: Version,
    /// The type nibble (1 = advertisement; others are rejected by `parse`).
    pub kind: u8,
    /// Virtual Router ID.
    pub vrid: u8,
    /// Sender's priority.
    pub priority: u8,
    /// VRRPv2 auth type ([`AuthType::None`] for v3).
    pub auth_type: AuthType,
    /// Interval field as on the wire (v2 s, v3 cs).
    pub adver_int: u16,
    /// The checksum field.
    pub checksum: u16,
    /// Family of the address list.
    pub family: Family,
    /// The raw address list, `count * family.addr_len()` bytes.
    pub addr_bytes: &'a [u8],
    /// VRRPv2 authentication data (all zero for v3).
    pub auth_data: [u8; 8],
    /// The whole message (for the checksum).
    pub bytes: &'a [u8],
}

impl<'a> AdvertView<'a> {
    /// Parse the structure of a VRRP message of `family`: header, exact
    /// length, version, type, v2 auth type. The checksum is checked separately
    /// ([`AdvertView::verify_checksum`]) because it needs the IP addresses.
    pub fn parse(buf: &'a [u8], family: Family) -> Result<AdvertView<'a>, DecodeError> {
        if buf.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                what: "VRRP header",
                have: buf.len(),
                need: HEADER_LEN,
            });
        }
        let version = match buf[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            n => return Err(DecodeError::Version(n)),
        };
        if version == Version::V2 && family == Family::V6 {
            return Err(DecodeError::V2OverIpv6);
        }
        let kind = buf[0] & 0x0f;
        if kind != TYPE_ADVERT {
            return Err(DecodeError::Type(kind));
        }
        let count = buf[3];
        let expected = message_len(version, family, usize::from(count));
        if buf.len() != expected {
            return Err(DecodeError::Length {
                got: buf.len(),
                expected,
                count,
            });
        }
        let (auth_type, adver_int) = match version {
            Version::V2 => (
                AuthType::from_number(buf[4]).ok_or(DecodeError::AuthType(buf[4]))?,
                u16::from(buf[5]),
            ),
            // RFC 5798 5.2.5: the reserved bits are ignored on receipt.
            Version::V3 => (
                AuthType::None,
                u16::from_be_bytes([buf[4], buf[5]]) & MAX_V3_INTERVAL_CS,
            ),
        };
        let addr_end = HEADER_LEN + usize::from(count) * family.addr_len();
        let mut auth_data = [0u8; 8];
        if version == Version::V2 {
            auth_data.copy_from_slice(&buf[addr_end..addr_end + AUTH_DATA_LEN]);
        }
        Ok(AdvertView {
            version,
            kind,
            vrid: buf[1],
            priority: buf[2],
            auth_type,
            adver_int,
            checksum: u16::from_be_bytes([buf[6], buf[7]]),
            family,
            addr_bytes: &buf[HEADER_LEN..addr_end],
            auth_data,
            bytes: buf,
        })
    }

    /// Verify the checksum under `ck` (VRRPv2 always without pseudo-header).
    pub fn verify_checksum(&self, ck: &Checksum) -> Result<(), DecodeError> {
        if message_checksum(self.version, self.bytes, ck) == 0 {
            return Ok(());
        }
        // What the field should have held: the sum with the field zeroed.
        let mut acc = match (self.version, ck) {
            (Version::V3, Checksum::Pseudo { src, dst }) => {
                pseudo_sum(src, dst, self.bytes.len()).unwrap_or(0)
            }
            _ => 0,
        };
        acc = sum16(acc, &self.bytes[..6]);
        acc = sum16(acc, &self.bytes[8..]);
        Err(DecodeError::Checksum {
            got: self.checksum,
            computed: fold(acc),
        })
    }

    /// Number of addresses.
    pub fn count(&self) -> usize {
        self.addr_bytes.len() / self.family.addr_len()
    }

    /// The advertised interval as a duration.
    pub fn interval(&self) -> Duration {
        interval_of(self.version, self.adver_int)
    }

    /// Whether `addr` is in the address list (no allocation).
    pub fn lists(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) if self.family == Family::V4 => {
                self.addr_bytes.chunks_exact(4).any(|c| c == a.octets())
            }
            IpAddr::V6(a) if self.family == Family::V6 => {
                self.addr_bytes.chunks_exact(16).any(|c| c == a.octets())
            }
            _ => false,
        }
    }

    /// The owned form.
    pub fn to_owned(&self) -> Advert {
        let addrs = match self.family {
            Family::V4 => Addrs::V4(
                self.addr_bytes
                    .chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect(),
            ),
            Family::V6 => Addrs::V6(
                self.addr_bytes
                    .chunks_exact(16)
                    .map(|c| {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(c);
                        Ipv6Addr::from(o)
                    })
                    .collect(),
            ),
        };
        Advert {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            adver_int: self.adver_int,
            auth_type: self.auth_type,
            auth_data: self.auth_data,
            addrs,
        }
    }
}

/// The VRID of the advert in a whole IPv4 packet (after any AH header), for
/// demultiplexing a shared socket before the full checks; `None` if the
/// packet is too short to hold one.
pub fn peek_vrid_ipv4(pkt: &[u8]) -> Option<u8> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    let off = if *pkt.get(9)? == IPPROTO_AH {
        ihl + AhHeader::LEN
    } else {
        ihl
    };
    pkt.get(off + 1).copied()
}

/// The VRID of a bare VRRP message (IPv6 sockets deliver only the message).
pub fn peek_vrid(msg: &[u8]) -> Option<u8> {
    msg.get(1).copied()
}

// ---------------------------------------------------------------------------
// IPv4 and AH headers
// ---------------------------------------------------------------------------

/// The IPv4 header (RFC 791 3.1) of an advert. Options are skipped on decode
/// and never sent.
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv4Header {
    /// Type of service (keepalived sends 0xc0).
    pub tos: u8,
    /// Identification (keepalived counts up per advert).
    pub id: u16,
    /// Flags and fragment offset.
    pub frag: u16,
    /// Time to live (255 for VRRP, RFC 3768 5.2.3).
    pub ttl: u8,
    /// 112 (VRRP) or 51 (AH).
    pub protocol: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address (224.0.0.18 or a unicast peer).
    pub dst: Ipv4Addr,
}

impl Ipv4Header {
    /// Bytes of an option-less header.
    pub const LEN: usize = 20;

    /// Append the header for a packet of `total_len` bytes, with its checksum.
    pub fn encode_into(&self, total_len: u16, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(0x45);
        out.push(self.tos);
        out.extend_from_slice(&total_len.to_be_bytes());
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.frag.to_be_bytes());
        out.push(self.ttl);
        out.push(self.protocol);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        let csum = internet_checksum(&out[start..]);
        out[start + 10..start + 12].copy_from_slice(&csum.to_be_bytes());
    }
}

/// keepalived's IPsec Authentication Header (RFC 2402 2, HMAC-MD5-96 ICV),
/// between the IPv4 header and a VRRPv2 message with auth type 2.
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Next Header   |  Payload Len  |          RESERVED             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Security Parameters Index (SPI)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Sequence Number Field                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Authentication Data (96-bit ICV)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// keepalived sets the SPI to the sender's IPv4 address and the payload
/// length to 4 ((24 / 4) - 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AhHeader {
    /// Protocol after the header: 112.
    pub next_header: u8,
    /// Security Parameters Index (keepalived: the source address).
    pub spi: u32,
    /// Anti-replay sequence number.
    pub seq: u32,
    /// Integrity check value: HMAC-MD5 truncated to 96 bits.
    pub icv: [u8; 12],
}

impl AhHeader {
    /// Bytes of keepalived's AH header.
    pub const LEN: usize = 24;
    /// The payload length field keepalived uses: (LEN / 4) - 2.
    pub const PAYLOAD_LEN: u8 = 4;

    /// Append the header.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.next_header);
        out.push(Self::PAYLOAD_LEN);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.spi.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.icv);
    }

    fn decode(buf: &[u8]) -> Result<AhHeader, DecodeError> {
        if buf.len() < Self::LEN {
            return Err(DecodeError::Truncated {
                what: "AH header",
                have: buf.len(),
                need: Self::LEN,
            });
        }
        if buf[0] != IPPROTO_VRRP {
            return Err(DecodeError::AhNextHeader(buf[0]));
        }
        if buf[1] != Self::PAYLOAD_LEN {
            return Err(DecodeError::AhLength(buf[1]));
        }
        let mut icv = [0u8; 12];
        icv.copy_from_slice(&buf[12..24]);
        Ok(AhHeader {
            next_header: buf[0],
            spi: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            seq: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            icv,
        })
    }
}

/// A received IPv4 packet split into its parts, borrowing the VRRP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Rx<'a> {
    /// The IP header.
    pub ip: Ipv4Header,
    /// Bytes of the IP header as received (options included).
    pub ihl: usize,
    /// The AH header, when protocol is 51.
    pub ah: Option<AhHeader>,
    /// The VRRP message.
    pub vrrp: &'a [u8],
}

/// Split a whole IPv4 packet (as a raw socket delivers it) into header, AH
/// and VRRP message; checks IP version, header length, total length against
/// the bytes received and the protocol. The IP header checksum is the
/// kernel's job (it drops bad ones before raw sockets see them).
pub fn parse_ipv4(pkt: &[u8]) -> Result<Ipv4Rx<'_>, DecodeError> {
    if pkt.len() < Ipv4Header::LEN {
        return Err(DecodeError::Truncated {
            what: "IPv4 header",
            have: pkt.len(),
            need: Ipv4Header::LEN,
        });
    }
    if pkt[0] >> 4 != 4 {
        return Err(DecodeError::IpVersion(pkt[0] >> 4));
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    if ihl < Ipv4Header::LEN {
        return Err(DecodeError::IpHeaderLength(ihl));
    }
    if pkt.len() < ihl {
        return Err(DecodeError::Truncated {
            what: "IPv4 header",
            have: pkt.len(),
            need: ihl,
        });
    }
    let tot_len = u16::from_be_bytes([pkt[2], pkt[3]]);
    if usize::from(tot_len) != pkt.len() {
        return Err(DecodeError::IpTotalLength {
            header: tot_len,
            received: pkt.len(),
        });
    }
    let ip = Ipv4Header {
        tos: pkt[1],
        id: u16::from_be_bytes([pkt[4], pkt[5]]),
        frag: u16::from_be_bytes([pkt[6], pkt[7]]),
        ttl: pkt[8],
        protocol: pkt[9],
        src: Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]),
        dst: Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]),
    };
    match ip.protocol {
        IPPROTO_VRRP => Ok(Ipv4Rx {
            ip,
            ihl,
            ah: None,
            vrrp: &pkt[ihl..],
        }),
        IPPROTO_AH => {
            let ah = AhHeader::decode(&pkt[ihl..])?;
            Ok(Ipv4Rx {
                ip,
                ihl,
                ah: Some(ah),
                vrrp: &pkt[ihl + AhHeader::LEN..],
            })
        }
        p => Err(DecodeError::Protocol(p)),
    }
}

/// A whole IPv4 VRRP packet, owned: IP header, optional AH, advert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ipv4Packet {
    /// The IP header (its protocol field is 51 when `ah` is present).
    pub ip: Ipv4Header,
    /// keepalived's AH header (VRRPv2 `auth_type AH`).
    pub ah: Option<AhHeader>,
    /// The advert.
    pub advert: Advert,
}

impl Ipv4Packet {
    /// Decode a whole IPv4 packet; VRRPv3 checksums are verified with the
    /// pseudo-header unless `v3_checksum_as_v2`.
    pub fn decode(pkt: &[u8], v3_checksum_as_v2: bool) -> Result<Ipv4Packet, DecodeError> {
        let rx = parse_ipv4(pkt)?;
        let ck = if v3_checksum_as_v2 {
            Checksum::V3AsV2
        } else {
            Checksum::Pseudo {
                src: IpAddr::V4(rx.ip.src),
                dst: IpAddr::V4(rx.ip.dst),
            }
        };
        let advert = Advert::decode(rx.vrrp, Family::V4, &ck)?;
        Ok(Ipv4Packet {
            ip: rx.ip,
            ah: rx.ah,
            advert,
        })
    }

    /// Encode the whole packet: IP header (checksummed), AH as given (see
    /// [`crate::auth::ah_sign`] to fill in its ICV), advert.
    pub fn encode(&self, v3_checksum_as_v2: bool) -> Result<Vec<u8>, EncodeError> {
        let ck = if v3_checksum_as_v2 {
            Checksum::V3AsV2
        } else {
            Checksum::Pseudo {
                src: IpAddr::V4(self.ip.src),
                dst: IpAddr::V4(self.ip.dst),
            }
        };
        let ah_len = if self.ah.is_some() { AhHeader::LEN } else { 0 };
        let total = Ipv4Header::LEN + ah_len + self.advert.len();
        let mut out = Vec::with_capacity(total);
        self.ip.encode_into(total as u16, &mut out);
        if let Some(ah) = &self.ah {
            ah.encode_into(&mut out);
        }
        self.advert.encode_into(&ck, &mut out)?;
        Ok(out)
    }
}

impl Ipv4Packet {
    /// Encode the whole packet as keepalived sends it with `auth_type AH`
    /// (an `IP_HDRINCL` socket): the AH header's ICV is computed over the
    /// result with `key` (`unicast` also zeroes the TTL in the ICV input, as
    /// keepalived does). Without an AH header this is [`Ipv4Packet::encode`].
    pub fn encode_signed(
        &self,
        key: &[u8; crate::auth::PASS_LEN],
        unicast: bool,
        v3_checksum_as_v2: bool,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut out = self.encode(v3_checksum_as_v2)?;
        if self.ah.is_some() {
            crate::auth::ah_sign(&mut out, key, unicast);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v2() -> Advert {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            adver_int: 1,
            auth_type: AuthType::None,
            auth_data: [0; 8],
            addrs: Addrs::V4(vec![
                Ipv4Addr::new(192, 168, 200, 16),
                Ipv4Addr::new(192, 168, 200, 17),
            ]),
        }
    }

    #[test]
    fn v2_checksum_matches_keepalived_capture() {
        // Bytes of fixtures/vrrp/v2_plain.hex after the IP header.
        let enc = v2().encode(&Checksum::V3AsV2).unwrap();
        assert_eq!(enc[6..8], [0x69, 0x55]);
        assert_eq!(
            Advert::decode(&enc, Family::V4, &Checksum::V3AsV2).unwrap(),
            v2()
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let enc = v2().encode(&Checksum::V3AsV2).unwrap();
        for n in 0..enc.len() {
            assert!(
                Advert::decode(&enc[..n], Family::V4, &Checksum::V3AsV2).is_err(),
                "len {n}"
            );
        }
    }

    #[test]
    fn flipped_bit_fails_checksum() {
        let mut enc = v2().encode(&Checksum::V3AsV2).unwrap();
        enc[9] ^= 1;
        assert!(matches!(
            Advert::decode(&enc, Family::V4, &Checksum::V3AsV2),
            Err(DecodeError::Checksum { got: 0x6955, .. })
        ));
    }

    #[test]
    fn v3_pseudo_header_changes_checksum() {
        let mut a = v2();
        a.version = Version::V3;
        a.adver_int = 100;
        let ck = Checksum::Pseudo {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(MCAST_V4),
        };
        let with = a.encode(&ck).unwrap();
        let without = a.encode(&Checksum::V3AsV2).unwrap();
        assert_ne!(with[6..8], without[6..8]);
        assert!(Advert::decode(&with, Family::V4, &Checksum::V3AsV2).is_err());
        assert_eq!(Advert::decode(&with, Family::V4, &ck).unwrap(), a);
    }

    #[test]
    fn encode_rejects_what_does_not_fit() {
        let mut a = v2();
        a.adver_int = 256;
        assert_eq!(a.encode(&Checksum::V3AsV2), Err(EncodeError::Interval(256)));
        a.version = Version::V3;
        a.adver_int = 4096;
        assert_eq!(
            a.encode(&Checksum::V3AsV2),
            Err(EncodeError::Interval(4096))
        );
        a.adver_int = 100;
        a.addrs = Addrs::V4(vec![Ipv4Addr::LOCALHOST; 256]);
        assert_eq!(
            a.encode(&Checksum::V3AsV2),
            Err(EncodeError::TooManyAddrs(256))
        );
    }

    #[test]
    fn peek_vrid_skips_ah() {
        let mut pkt = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 255, IPPROTO_AH];
        pkt.resize(20 + 24, 0);
        pkt.extend_from_slice(&[0x21, 53]);
        assert_eq!(peek_vrid_ipv4(&pkt), Some(53));
        assert_eq!(peek_vrid_ipv4(&pkt[..44]), None);
    }
}
