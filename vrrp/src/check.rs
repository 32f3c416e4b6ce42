//! Receive checks: every test keepalived 2.2.7 applies to an incoming advert
//! before the state machine sees it (vrrp.c `vrrp_check_packet`, RFC 3768
//! 7.1, RFC 5798 7.1), in keepalived's order, with one counter per reason.
//!
//! Use: build a [`Receiver`] from the instance's [`RxCfg`], hand it every
//! packet read for the instance's VRID, and feed only the `Ok` result
//! ([`RxAdvert`]) to [`crate::fsm::Instance::step`]. The path allocates
//! nothing. Error texts are keepalived's log lines without the `(VI_1) `
//! prefix.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth;
use crate::packet::{self, AhHeader, AuthType, Checksum, Family, Version};

/// Authentication an instance expects (VRRPv2 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthCfg {
    /// No authentication.
    None,
    /// `auth_type PASS`: the 8-byte zero-padded password.
    Pass([u8; auth::PASS_LEN]),
    /// `auth_type AH`: keepalived's HMAC-MD5-96 AH header keyed with the password.
    Ah([u8; auth::PASS_LEN]),
}

impl AuthCfg {
    /// The auth type field this configuration sends and expects.
    pub fn auth_type(&self) -> AuthType {
        match self {
            AuthCfg::None => AuthType::None,
            AuthCfg::Pass(_) => AuthType::Pass,
            AuthCfg::Ah(_) => AuthType::Ah,
        }
    }
}

/// One `unicast_peer` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnicastPeer {
    /// The peer's address.
    pub addr: IpAddr,
    /// `min_ttl` (default 0).
    pub min_ttl: u8,
    /// `max_ttl` (default 255).
    pub max_ttl: u8,
}

impl UnicastPeer {
    /// A peer without a TTL window.
    pub fn new(addr: IpAddr) -> UnicastPeer {
        UnicastPeer {
            addr,
            min_ttl: 0,
            max_ttl: 255,
        }
    }
}

/// What a receiving instance checks adverts against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxCfg {
    /// Our VRRP version: adverts of the other version are dropped.
    pub version: Version,
    /// Our address family.
    pub family: Family,
    /// Our VRID.
    pub vrid: u8,
    /// Expected authentication (VRRPv2).
    pub auth: AuthCfg,
    /// Our interval field (v2 seconds, v3 centiseconds). VRRPv2 adverts must
    /// carry the same (RFC 3768 7.1); VRRPv3 learns the master's.
    pub adver_int: u16,
    /// Our advertised addresses (`virtual_ipaddress`, not the excluded ones).
    pub vips: Vec<IpAddr>,
    /// `skip_check_adv_addr`: skip the address list check when the advert
    /// comes from the master we already follow.
    pub skip_check_adv_addr: bool,
    /// `unicast_peer` entries; empty means multicast.
    pub unicast_peers: Vec<UnicastPeer>,
    /// `check_unicast_src` (or global `vrrp_check_unicast_src`).
    pub check_unicast_src: bool,
    /// `v3_checksum_as_v2`: VRRPv3 over IPv4 without the pseudo-header.
    pub v3_checksum_as_v2: bool,
}

impl RxCfg {
    fn unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }
}

/// A valid advert, reduced to what the state machine needs (`Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxAdvert {
    /// Source address of the IP packet (the sender's primary address).
    pub src: IpAddr,
    /// The sender's priority (0 = resigning).
    pub priority: u8,
    /// The sender's advertised interval.
    pub adver_int: Duration,
}

/// Why an advert was dropped, one variant per counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DropReason {
    /// Malformed IP or AH header (too short, not IPv4, wrong protocol).
    IpHeader,
    /// Another VRID (not ours; keepalived ignores it silently).
    Vrid,
    /// Length differs from what the address count implies, or from the IP total length.
    PacketLength,
    /// TTL / hop limit not 255 (multicast) or outside the peer's window (unicast).
    IpTtl,
    /// VRRP version other than ours.
    Version,
    /// Auth type not 0, 1 or 2.
    InvalidAuthType,
    /// Auth type (or AH presence) differs from ours.
    AuthTypeMismatch,
    /// Wrong password, AH ICV, SPI or replayed sequence number.
    AuthFailure,
    /// VRRPv2 advert interval differs from ours.
    AdvertInterval,
    /// Type other than ADVERTISEMENT.
    InvalidType,
    /// Address count or list differs from ours, or unicast/multicast mismatch.
    AddrList,
    /// Bad checksum.
    Checksum,
    /// Unicast source not among our peers.
    UnicastSrc,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 13] = [
        DropReason::IpHeader,
        DropReason::Vrid,
        DropReason::PacketLength,
        DropReason::IpTtl,
        DropReason::Version,
        DropReason::InvalidAuthType,
        DropReason::AuthTypeMismatch,
        DropReason::AuthFailure,
        DropReason::AdvertInterval,
        DropReason::InvalidType,
        DropReason::AddrList,
        DropReason::Checksum,
        DropReason::UnicastSrc,
    ];

    /// Index into [`RxStats::drops`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A metric-friendly name (keepalived's stats field where one exists).
    pub fn name(self) -> &'static str {
        match self {
            DropReason::IpHeader => "ip_header_err",
            DropReason::Vrid => "vrid_err",
            DropReason::PacketLength => "packet_len_err",
            DropReason::IpTtl => "ip_ttl_err",
            DropReason::Version => "vers_err",
            DropReason::InvalidAuthType => "invalid_authtype",
            DropReason::AuthTypeMismatch => "authtype_mismatch",
            DropReason::AuthFailure => "auth_failure",
            DropReason::AdvertInterval => "advert_interval_err",
            DropReason::InvalidType => "invalid_type_rcvd",
            DropReason::AddrList => "addr_list_err",
            DropReason::Checksum => "chk_err",
            DropReason::UnicastSrc => "unicast_src_err",
        }
    }
}

/// A dropped advert with the detail for the log line (keepalived's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RxError {
    /// Not a decodable IP packet.
    #[error("malformed IP packet: {0}")]
    IpHeader(#[from] packet::DecodeError),
    /// Another VRID.
    #[error("received advert for VRID {0}, not ours")]
    Vrid(u8),
    /// Length mismatch.
    #[error("vrrp packet too {}, length {got} and expect {expected}", if got > expected { "long" } else { "short" })]
    PacketLength {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// IP total length mismatch.
    #[error("ip_tot_len mismatch against received length. {header} and received {got}")]
    IpTotLen {
        /// `tot_len` of the IP header.
        header: u16,
        /// Bytes received.
        got: usize,
    },
    /// TTL / hop limit not 255.
    #[error("invalid TTL/HL. Received {0} and expect 255")]
    Ttl(u8),
    /// TTL outside the unicast peer's window.
    #[error("TTL/HL {ttl} not in range {min} - {max}")]
    TtlRange {
        /// Received TTL.
        ttl: u8,
        /// `min_ttl`.
        min: u8,
        /// `max_ttl`.
        max: u8,
    },
    /// Version mismatch.
    #[error("wrong version. Received {got} and expect {ours}")]
    Version {
        /// Received version nibble.
        got: u8,
        /// Ours.
        ours: u8,
    },
    /// Unknown auth type.
    #[error("Invalid auth type: {0}")]
    InvalidAuthType(u8),
    /// AH header present without `auth_type AH`.
    #[error("Received AH header but auth type not AH")]
    UnexpectedAh,
    /// `auth_type AH` but no AH header.
    #[error("No AH header but auth type is AH")]
    MissingAh,
    /// Auth type mismatch.
    #[error("received a {got} auth, expecting {ours}!")]
    AuthTypeMismatch {
        /// Received auth type.
        got: u8,
        /// Ours.
        ours: u8,
    },
    /// Wrong password.
    #[error("received an invalid passwd!")]
    Password,
    /// AH protects another protocol.
    #[error("AH header for protocol {0}, not VRRP")]
    AhNextHeader(u8),
    /// AH ICV does not verify.
    #[error("IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !")]
    AhIcv,
    /// AH SPI is not the source address.
    #[error("IPSEC AH : invalid IPSEC SPI value. {spi} and expect {src}")]
    AhSpi {
        /// Received SPI.
        spi: u32,
        /// The source address as a number.
        src: u32,
    },
    /// Replayed AH sequence number.
    #[error("IPSEC-AH : sequence number {got} already processed. Packet dropped. Local({last})")]
    AhReplay {
        /// Received sequence number.
        got: u32,
        /// Last accepted.
        last: u32,
    },
    /// VRRPv2 interval mismatch.
    #[error("advertisement interval mismatch mine={ours} sec rcv'd={got} sec")]
    AdvertInterval {
        /// Ours, seconds.
        ours: u16,
        /// Received, seconds.
        got: u8,
    },
    /// Not an advertisement.
    #[error("Invalid packet type. {0} and expect 1")]
    Type(u8),
    /// Address count mismatch.
    #[error("received an unexpected ip number count {got}, expected {ours}!")]
    AddrCount {
        /// Received count.
        got: u8,
        /// Our VIP count.
        ours: usize,
    },
    /// One of our VIPs is missing from the advert.
    #[error("ip address associated with VRID {vrid} not present in MASTER advert: {addr}")]
    AddrMissing {
        /// Our VRID.
        vrid: u8,
        /// The missing VIP.
        addr: IpAddr,
    },
    /// Bad checksum.
    #[error("Invalid VRRPv{version} checksum")]
    Checksum {
        /// 2 or 3.
        version: u8,
    },
    /// Multicast advert on a unicast instance or the reverse.
    #[error("Expected {}icast packet but received {}icast packet", if *.expected_unicast { "un" } else { "mult" }, if *.expected_unicast { "mult" } else { "un" })]
    CastMismatch {
        /// Whether we are a unicast instance.
        expected_unicast: bool,
    },
    /// IPv6: a multicast advert on a unicast instance or the reverse,
    /// discarded before the other checks (keepalived's dispatcher).
    #[error("discarding {}icast packet on {}icast instance", if *.multicast { "mult" } else { "un" }, if *.multicast { "un" } else { "mult" })]
    DiscardCast {
        /// Whether the packet was multicast.
        multicast: bool,
    },
    /// Unicast source not a peer.
    #[error("unicast source address {0} not a unicast peer")]
    UnicastSrc(IpAddr),
}

impl RxError {
    /// The counter this drop goes to.
    pub fn reason(&self) -> DropReason {
        match self {
            RxError::IpHeader(_) | RxError::AhNextHeader(_) => DropReason::IpHeader,
            RxError::Vrid(_) => DropReason::Vrid,
            RxError::PacketLength { .. } | RxError::IpTotLen { .. } => DropReason::PacketLength,
            RxError::Ttl(_) | RxError::TtlRange { .. } => DropReason::IpTtl,
            RxError::Version { .. } => DropReason::Version,
            RxError::InvalidAuthType(_) => DropReason::InvalidAuthType,
            RxError::UnexpectedAh | RxError::MissingAh | RxError::AuthTypeMismatch { .. } => {
                DropReason::AuthTypeMismatch
            }
            RxError::Password
            | RxError::AhIcv
            | RxError::AhSpi { .. }
            | RxError::AhReplay { .. } => DropReason::AuthFailure,
            RxError::AdvertInterval { .. } => DropReason::AdvertInterval,
            RxError::Type(_) => DropReason::InvalidType,
            RxError::AddrCount { .. }
            | RxError::AddrMissing { .. }
            | RxError::CastMismatch { .. }
            | RxError::DiscardCast { .. } => DropReason::AddrList,
            RxError::Checksum { .. } => DropReason::Checksum,
            RxError::UnicastSrc(_) => DropReason::UnicastSrc,
        }
    }
}

/// Receive counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxStats {
    /// Adverts that passed the header checks (keepalived's `advert_rcvd`).
    pub adverts: u64,
    /// Valid adverts with priority 0 (`pri_zero_rcvd`).
    pub pri_zero: u64,
    /// Drops, indexed by [`DropReason::index`].
    pub drops: [u64; DropReason::ALL.len()],
}

impl RxStats {
    /// Drops for one reason.
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops[r.index()]
    }

    /// All drops.
    pub fn total_dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// Metadata of an IPv6 advert, from the socket (IPV6_RECVHOPLIMIT,
/// IPV6_RECVPKTINFO): the raw socket delivers no IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Meta {
    /// Source address (recvmsg's name).
    pub src: Ipv6Addr,
    /// Destination address (IPV6_PKTINFO).
    pub dst: Ipv6Addr,
    /// Hop limit (IPV6_HOPLIMIT); `None` when the ancillary data was absent,
    /// in which case keepalived skips the hop-limit check.
    pub hop_limit: Option<u8>,
}

/// The receive checks of one instance, with their counters and the AH
/// anti-replay sequence number.
#[derive(Debug, Clone)]
pub struct Receiver {
    cfg: RxCfg,
    ah_seq: u32,
    stats: RxStats,
}

impl Receiver {
    /// Checks for an instance configured as `cfg`.
    pub fn new(cfg: RxCfg) -> Receiver {
        Receiver {
            cfg,
            ah_seq: 0,
            stats: RxStats::default(),
        }
    }

    /// The configuration checked against.
    pub fn cfg(&self) -> &RxCfg {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &RxStats {
        &self.stats
    }

    /// Forget the last AH sequence number (keepalived resets its anti-replay
    /// counter when the sequence space cycles and it becomes master).
    pub fn reset_ah_seq(&mut self) {
        self.ah_seq = 0;
    }

    /// Check a whole IPv4 packet as read from a raw socket. `current_master`
    /// is the master the instance follows, for `skip_check_adv_addr` (pass
    /// [`crate::fsm::Instance::followed_master`]).
    pub fn check_ipv4(
        &mut self,
        pkt: &[u8],
        current_master: Option<IpAddr>,
    ) -> Result<RxAdvert, RxError> {
        let r = self.check_ipv4_inner(pkt, current_master);
        self.count(&r);
        r
    }

    /// Check a VRRP message read from a raw IPv6 socket.
    pub fn check_ipv6(
        &mut self,
        msg: &[u8],
        meta: &Ipv6Meta,
        current_master: Option<IpAddr>,
    ) -> Result<RxAdvert, RxError> {
        let r = self.check_ipv6_inner(msg, meta, current_master);
        self.count(&r);
        r
    }

    fn count(&mut self, r: &Result<RxAdvert, RxError>) {
        match r {
            Ok(a) => {
                if a.priority == 0 {
                    self.stats.pri_zero += 1;
                }
            }
            Err(e) => self.stats.drops[e.reason().index()] += 1,
        }
    }

    fn check_ipv4_inner(
        &mut self,
        pkt: &[u8],
        current_master: Option<IpAddr>,
    ) -> Result<RxAdvert, RxError> {
        if self.cfg.family != Family::V4 {
            return Err(RxError::IpHeader(packet::DecodeError::IpVersion(4)));
        }
        // Header layout first; tot_len is compared below in keepalived's order.
        if pkt.len() < packet::Ipv4Header::LEN {
            return Err(packet::DecodeError::Truncated {
                what: "IPv4 header",
                have: pkt.len(),
                need: packet::Ipv4Header::LEN,
            }
            .into());
        }
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        if pkt[0] >> 4 != 4 || ihl < packet::Ipv4Header::LEN {
            return Err(packet::DecodeError::IpHeaderLength(ihl).into());
        }
        let protocol = pkt[9];
        let is_ah = protocol == packet::IPPROTO_AH;
        if !is_ah && protocol != packet::IPPROTO_VRRP {
            return Err(packet::DecodeError::Protocol(protocol).into());
        }
        let hdr_len = ihl + if is_ah { AhHeader::LEN } else { 0 };
        if pkt.len() < hdr_len + packet::HEADER_LEN {
            return Err(packet::DecodeError::Truncated {
                what: if is_ah {
                    "AH + VRRP header"
                } else {
                    "VRRP header"
                },
                have: pkt.len(),
                need: hdr_len + packet::HEADER_LEN,
            }
            .into());
        }
        let msg = &pkt[hdr_len..];
        if msg[1] != self.cfg.vrid {
            return Err(RxError::Vrid(msg[1]));
        }
        let src = IpAddr::V4(std::net::Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]));
        let dst = IpAddr::V4(std::net::Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]));
        // RFC 2338 / keepalived: AH must be present exactly when configured.
        let want_ah = matches!(self.cfg.auth, AuthCfg::Ah(_));
        if is_ah != want_ah {
            return Err(if is_ah {
                RxError::UnexpectedAh
            } else {
                RxError::MissingAh
            });
        }
        // keepalived sizes the message by the packet's own version nibble
        // (expected_vrrp_pkt_len): only version 2 carries authentication data.
        let pkt_version = if msg[0] >> 4 == 2 {
            Version::V2
        } else {
            Version::V3
        };
        let expected = hdr_len + packet::message_len(pkt_version, Family::V4, usize::from(msg[3]));
        if pkt.len() != expected {
            return Err(RxError::PacketLength {
                got: pkt.len(),
                expected,
            });
        }
        let ttl = pkt[8];
        let multicast = matches!(dst, IpAddr::V4(d) if d.is_multicast());
        self.common(
            msg,
            src,
            dst,
            Some(ttl),
            multicast,
            current_master,
            || {
                let tot = u16::from_be_bytes([pkt[2], pkt[3]]);
                if usize::from(tot) != pkt.len() {
                    Err(RxError::IpTotLen {
                        header: tot,
                        got: pkt.len(),
                    })
                } else {
                    Ok(())
                }
            },
            Some((pkt, ihl)),
        )
    }

    fn check_ipv6_inner(
        &mut self,
        msg: &[u8],
        meta: &Ipv6Meta,
        current_master: Option<IpAddr>,
    ) -> Result<RxAdvert, RxError> {
        if self.cfg.family != Family::V6 {
            return Err(RxError::IpHeader(packet::DecodeError::IpVersion(6)));
        }
        if msg.len() < packet::HEADER_LEN {
            return Err(RxError::PacketLength {
                got: msg.len(),
                expected: packet::HEADER_LEN,
            });
        }
        if msg[1] != self.cfg.vrid {
            return Err(RxError::Vrid(msg[1]));
        }
        // keepalived's dispatcher drops an IPv6 advert of the wrong cast
        // before any other check (IPV6_PKTINFO tells the destination).
        let multicast = meta.dst.is_multicast();
        if multicast == self.cfg.unicast() {
            return Err(RxError::DiscardCast { multicast });
        }
        // No authentication data over IPv6, whatever the version nibble says.
        let expected = packet::message_len(Version::V3, Family::V6, usize::from(msg[3]));
        if msg.len() != expected {
            return Err(RxError::PacketLength {
                got: msg.len(),
                expected,
            });
        }
        let (src, dst) = (IpAddr::V6(meta.src), IpAddr::V6(meta.dst));
        self.common(
            msg,
            src,
            dst,
            meta.hop_limit,
            meta.dst.is_multicast(),
            current_master,
            || Ok(()),
            None,
        )
    }

    /// The checks after the length, shared by both families, in keepalived's
    /// order. `ipv4` carries the whole packet and header length for AH.
    #[allow(clippy::too_many_arguments)]
    fn common(
        &mut self,
        msg: &[u8],
        src: IpAddr,
        dst: IpAddr,
        ttl: Option<u8>,
        multicast: bool,
        current_master: Option<IpAddr>,
        tot_len_check: impl FnOnce() -> Result<(), RxError>,
        ipv4: Option<(&[u8], usize)>,
    ) -> Result<RxAdvert, RxError> {
        let cfg = &self.cfg;
        let unicast = cfg.unicast();
        // RFC 3768 7.1 / RFC 5798 7.1: TTL/hop limit must be 255; keepalived
        // skips this for unicast (peers may be routed).
        if let Some(t) = ttl {
            if !unicast && t != packet::VRRP_TTL {
                return Err(RxError::Ttl(t));
            }
        }
        let version = msg[0] >> 4;
        if version != cfg.version.number() {
            return Err(RxError::Version {
                got: version,
                ours: cfg.version.number(),
            });
        }
        if cfg.version == Version::V2 {
            let at = msg[4];
            if AuthType::from_number(at).is_none() {
                return Err(RxError::InvalidAuthType(at));
            }
            let ours = cfg.auth.auth_type().number();
            if at != ours {
                return Err(RxError::AuthTypeMismatch { got: at, ours });
            }
            match &cfg.auth {
                AuthCfg::None => {}
                AuthCfg::Pass(pw) => {
                    let mut got = [0u8; auth::PASS_LEN];
                    got.copy_from_slice(&msg[msg.len() - auth::PASS_LEN..]);
                    if !auth::pass_matches(&got, pw) {
                        return Err(RxError::Password);
                    }
                }
                AuthCfg::Ah(key) => {
                    let Some((pkt, ihl)) = ipv4 else {
                        return Err(RxError::MissingAh);
                    };
                    let ah = &pkt[ihl..ihl + AhHeader::LEN];
                    if ah[0] != packet::IPPROTO_VRRP {
                        return Err(RxError::AhNextHeader(ah[0]));
                    }
                    if !auth::ah_verify(pkt, ihl, key, unicast) {
                        return Err(RxError::AhIcv);
                    }
                    let spi = u32::from_be_bytes([ah[4], ah[5], ah[6], ah[7]]);
                    let src_n = u32::from_be_bytes([pkt[12], pkt[13], pkt[14], pkt[15]]);
                    if spi != src_n {
                        return Err(RxError::AhSpi { spi, src: src_n });
                    }
                    let seq = u32::from_be_bytes([ah[8], ah[9], ah[10], ah[11]]);
                    if seq <= self.ah_seq {
                        return Err(RxError::AhReplay {
                            got: seq,
                            last: self.ah_seq,
                        });
                    }
                    self.ah_seq = seq;
                }
            }
            // RFC 3768 7.1: the interval must equal ours, else drop (keepalived:
            // "to prevent concurrent VRID running").
            if u16::from(msg[5]) != cfg.adver_int {
                return Err(RxError::AdvertInterval {
                    ours: cfg.adver_int,
                    got: msg[5],
                });
            }
        }
        let kind = msg[0] & 0x0f;
        if kind != packet::TYPE_ADVERT {
            return Err(RxError::Type(kind));
        }
        // keepalived 2.2.7 re-checks addresses unless skip_check_adv_addr and
        // the advert comes from the master it already follows.
        let check_addrs = !(cfg.skip_check_adv_addr && current_master == Some(src));
        let count = msg[3];
        if check_addrs && usize::from(count) != cfg.vips.len() {
            return Err(RxError::AddrCount {
                got: count,
                ours: cfg.vips.len(),
            });
        }
        tot_len_check()?;
        if ipv4.is_some() {
            let ck = if cfg.version == Version::V3 && !cfg.v3_checksum_as_v2 {
                Checksum::Pseudo { src, dst }
            } else {
                Checksum::V3AsV2
            };
            let view = packet::AdvertView::parse(msg, Family::V4)?;
            if view.verify_checksum(&ck).is_err() {
                return Err(RxError::Checksum {
                    version: cfg.version.number(),
                });
            }
        } else {
            // IPv6: the kernel verifies the checksum (IPV6_CHECKSUM socket
            // option), as keepalived relies on; checking again costs little
            // and catches sockets opened without it.
            let view = packet::AdvertView::parse(msg, Family::V6)?;
            if view
                .verify_checksum(&Checksum::Pseudo { src, dst })
                .is_err()
            {
                return Err(RxError::Checksum {
                    version: cfg.version.number(),
                });
            }
        }
        if multicast == unicast {
            return Err(RxError::CastMismatch {
                expected_unicast: unicast,
            });
        }
        self.stats.adverts += 1;
        let family = cfg.family;
        let addr_bytes =
            &msg[packet::HEADER_LEN..packet::HEADER_LEN + usize::from(count) * family.addr_len()];
        if check_addrs {
            // RFC 3768 7.1 "MAY verify": keepalived 2.2.7 drops the advert when
            // any of our VIPs is missing from it.
            for vip in &cfg.vips {
                let present = match vip {
                    IpAddr::V4(a) => addr_bytes.chunks_exact(4).any(|c| c == a.octets()),
                    IpAddr::V6(a) => addr_bytes.chunks_exact(16).any(|c| c == a.octets()),
                };
                if !present {
                    return Err(RxError::AddrMissing {
                        vrid: cfg.vrid,
                        addr: *vip,
                    });
                }
            }
            if unicast && cfg.check_unicast_src {
                let Some(peer) = cfg.unicast_peers.iter().find(|p| p.addr == src) else {
                    return Err(RxError::UnicastSrc(src));
                };
                if let Some(t) = ttl {
                    if t < peer.min_ttl || t > peer.max_ttl {
                        return Err(RxError::TtlRange {
                            ttl: t,
                            min: peer.min_ttl,
                            max: peer.max_ttl,
                        });
                    }
                }
            }
        }
        let field = match cfg.version {
            Version::V2 => u16::from(msg[5]),
            Version::V3 => u16::from_be_bytes([msg[4], msg[5]]) & packet::MAX_V3_INTERVAL_CS,
        };
        Ok(RxAdvert {
            src,
            priority: msg[2],
            adver_int: packet::interval_of(cfg.version, field),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::packet::{Addrs, Advert, Ipv4Header, Ipv4Packet};
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v4_cfg() -> RxCfg {
        RxCfg {
            version: Version::V2,
            family: Family::V4,
            vrid: 51,
            auth: AuthCfg::None,
            adver_int: 1,
            vips: vec![ip("192.168.200.16")],
            skip_check_adv_addr: false,
            unicast_peers: Vec::new(),
            check_unicast_src: false,
            v3_checksum_as_v2: false,
        }
    }

    fn v4_packet(cfg: &RxCfg, src: &str, dst: Ipv4Addr, ttl: u8, vips: &[&str]) -> Vec<u8> {
        let addrs = Addrs::V4(vips.iter().map(|v| v.parse().unwrap()).collect());
        let advert = Advert {
            version: cfg.version,
            vrid: cfg.vrid,
            priority: 150,
            adver_int: cfg.adver_int,
            auth_type: cfg.auth.auth_type(),
            auth_data: match &cfg.auth {
                AuthCfg::Pass(p) => *p,
                _ => [0; 8],
            },
            addrs,
        };
        let ip = Ipv4Header {
            tos: 0xc0,
            id: 7,
            frag: 0,
            ttl,
            protocol: packet::IPPROTO_VRRP,
            src: src.parse().unwrap(),
            dst,
        };
        Ipv4Packet {
            ip,
            ah: None,
            advert,
        }
        .encode(cfg.v3_checksum_as_v2)
        .unwrap()
    }

    #[test]
    fn skip_check_adv_addr_only_for_the_followed_master() {
        let mut cfg = v4_cfg();
        cfg.skip_check_adv_addr = true;
        let mut rx = Receiver::new(cfg.clone());
        let pkt = v4_packet(&cfg, "10.0.0.2", packet::MCAST_V4, 255, &["192.168.200.99"]);
        assert!(matches!(
            rx.check_ipv4(&pkt, None),
            Err(RxError::AddrMissing { .. })
        ));
        assert!(matches!(
            rx.check_ipv4(&pkt, Some(ip("10.0.0.3"))),
            Err(RxError::AddrMissing { .. })
        ));
        assert!(rx.check_ipv4(&pkt, Some(ip("10.0.0.2"))).is_ok());
        // Without the option the followed master is checked too.
        let mut rx = Receiver::new(v4_cfg());
        assert!(rx.check_ipv4(&pkt, Some(ip("10.0.0.2"))).is_err());
        assert_eq!(rx.stats().dropped(DropReason::AddrList), 1);
    }

    #[test]
    fn unicast_ttl_window_and_peer_list() {
        let mut cfg = v4_cfg();
        cfg.unicast_peers = vec![UnicastPeer {
            addr: ip("10.0.0.2"),
            min_ttl: 250,
            max_ttl: 255,
        }];
        let dst: Ipv4Addr = "10.0.0.1".parse().unwrap();
        // Without check_unicast_src neither the peer list nor the window applies.
        let mut rx = Receiver::new(cfg.clone());
        assert!(rx
            .check_ipv4(
                &v4_packet(&cfg, "10.0.0.9", dst, 3, &["192.168.200.16"]),
                None
            )
            .is_ok());
        cfg.check_unicast_src = true;
        let mut rx = Receiver::new(cfg.clone());
        let ok = v4_packet(&cfg, "10.0.0.2", dst, 251, &["192.168.200.16"]);
        assert!(rx.check_ipv4(&ok, None).is_ok());
        let low = v4_packet(&cfg, "10.0.0.2", dst, 200, &["192.168.200.16"]);
        assert_eq!(
            rx.check_ipv4(&low, None),
            Err(RxError::TtlRange {
                ttl: 200,
                min: 250,
                max: 255
            })
        );
        let stranger = v4_packet(&cfg, "10.0.0.9", dst, 255, &["192.168.200.16"]);
        assert_eq!(
            rx.check_ipv4(&stranger, None),
            Err(RxError::UnicastSrc(ip("10.0.0.9")))
        );
        let mcast = v4_packet(&cfg, "10.0.0.2", packet::MCAST_V4, 255, &["192.168.200.16"]);
        assert_eq!(
            rx.check_ipv4(&mcast, None),
            Err(RxError::CastMismatch {
                expected_unicast: true
            })
        );
        assert_eq!(rx.stats().total_dropped(), 3);
        assert_eq!(
            rx.stats().adverts,
            3,
            "advert_rcvd counts all but the cast mismatch"
        );
    }

    #[test]
    fn v3_checksum_as_v2_both_ways() {
        let mut cfg = v4_cfg();
        cfg.version = Version::V3;
        cfg.adver_int = 100;
        let pseudo = v4_packet(&cfg, "10.0.0.2", packet::MCAST_V4, 255, &["192.168.200.16"]);
        let mut rx = Receiver::new(cfg.clone());
        assert!(rx.check_ipv4(&pseudo, None).is_ok());
        cfg.v3_checksum_as_v2 = true;
        let plain = v4_packet(&cfg, "10.0.0.2", packet::MCAST_V4, 255, &["192.168.200.16"]);
        assert_eq!(
            rx.check_ipv4(&plain, None),
            Err(RxError::Checksum { version: 3 })
        );
        let mut rx = Receiver::new(cfg);
        assert!(rx.check_ipv4(&plain, None).is_ok());
        assert_eq!(
            rx.check_ipv4(&pseudo, None),
            Err(RxError::Checksum { version: 3 })
        );
    }

    #[test]
    fn ipv6_hop_limit_absent_is_not_checked() {
        let vip: Ipv6Addr = "fd00::55".parse().unwrap();
        let cfg = RxCfg {
            version: Version::V3,
            family: Family::V6,
            adver_int: 100,
            vips: vec![IpAddr::V6(vip)],
            ..v4_cfg()
        };
        let src: Ipv6Addr = "fe80::2".parse().unwrap();
        let advert = Advert {
            version: Version::V3,
            vrid: 51,
            priority: 0,
            adver_int: 50,
            auth_type: AuthType::None,
            auth_data: [0; 8],
            addrs: Addrs::V6(vec![vip]),
        };
        let ck = Checksum::Pseudo {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(packet::MCAST_V6),
        };
        let msg = advert.encode(&ck).unwrap();
        let mut rx = Receiver::new(cfg);
        let meta = Ipv6Meta {
            src,
            dst: packet::MCAST_V6,
            hop_limit: None,
        };
        let got = rx.check_ipv6(&msg, &meta, None).unwrap();
        assert_eq!(
            (got.priority, got.adver_int),
            (0, Duration::from_millis(500))
        );
        assert_eq!(rx.stats().pri_zero, 1);
        let meta = Ipv6Meta {
            hop_limit: Some(1),
            ..meta
        };
        assert_eq!(rx.check_ipv6(&msg, &meta, None), Err(RxError::Ttl(1)));
        // A unicast advert on a multicast instance goes before any other check.
        let uni = Ipv6Meta {
            dst: "fe80::1".parse().unwrap(),
            hop_limit: Some(1),
            ..meta
        };
        assert_eq!(
            rx.check_ipv6(&msg, &uni, None),
            Err(RxError::DiscardCast { multicast: false })
        );
        // An IPv4 packet handed to an IPv6 receiver is refused, not misread.
        assert!(matches!(
            rx.check_ipv4(&msg, None),
            Err(RxError::IpHeader(_))
        ));
    }

    #[test]
    fn ah_replay_and_spi() {
        let key = auth::pass_bytes("k3y");
        let cfg = RxCfg {
            auth: AuthCfg::Ah(key),
            ..v4_cfg()
        };
        let build = |seq: u32, spi: u32| {
            let p = Ipv4Packet {
                ip: Ipv4Header {
                    tos: 0xc0,
                    id: 1,
                    frag: 0,
                    ttl: 255,
                    protocol: packet::IPPROTO_AH,
                    src: "10.0.0.2".parse().unwrap(),
                    dst: packet::MCAST_V4,
                },
                ah: Some(AhHeader {
                    next_header: packet::IPPROTO_VRRP,
                    spi,
                    seq,
                    icv: [0; 12],
                }),
                advert: Advert {
                    version: Version::V2,
                    vrid: 51,
                    priority: 150,
                    adver_int: 1,
                    auth_type: AuthType::Ah,
                    auth_data: [0; 8],
                    addrs: Addrs::V4(vec!["192.168.200.16".parse().unwrap()]),
                },
            };
            let mut b = p.encode(false).unwrap();
            auth::ah_sign(&mut b, &key, false);
            b
        };
        let spi = u32::from(Ipv4Addr::new(10, 0, 0, 2));
        let mut rx = Receiver::new(cfg);
        assert!(rx.check_ipv4(&build(5, spi), None).is_ok());
        assert_eq!(
            rx.check_ipv4(&build(5, spi), None),
            Err(RxError::AhReplay { got: 5, last: 5 })
        );
        assert!(rx.check_ipv4(&build(6, spi), None).is_ok());
        assert!(matches!(
            rx.check_ipv4(&build(7, 1), None),
            Err(RxError::AhSpi { spi: 1, .. })
        ));
        // A plain VRRP packet on an AH instance.
        let plain = v4_packet(
            &v4_cfg(),
            "10.0.0.2",
            packet::MCAST_V4,
            255,
            &["192.168.200.16"],
        );
        assert_eq!(rx.check_ipv4(&plain, None), Err(RxError::MissingAh));
        assert_eq!(rx.stats().dropped(DropReason::AuthFailure), 2);
        assert_eq!(rx.stats().dropped(DropReason::AuthTypeMismatch), 1);
    }
}
