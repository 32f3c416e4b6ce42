//! The IPVS table in Rust terms: identities (`ServiceKey`, `DestKey`) kept
//! apart from settings (`Service`, `Dest`) and from counters (`Stats`,
//! `ServiceEntry`, `DestEntry`), so a reconciler compares what it configures
//! and never trips over counters.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

use crate::consts::*;

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
    pub fn to_af(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        }
    }
    pub fn from_af(af: u16) -> Option<Family> {
        match af {
            AF_INET => Some(Family::Inet),
            AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
    /// Full prefix length, the "no persistence granularity" netmask.
    pub fn max_prefix(self) -> u8 {
        match self {
            Family::Inet => 32,
            Family::Inet6 => 128,
        }
    }
}

/// Transport protocol of an address-based service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn to_ipproto(self) -> u16 {
        match self {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
            Protocol::Sctp => IPPROTO_SCTP,
        }
    }
    pub fn from_ipproto(p: u16) -> Option<Protocol> {
        match p {
            IPPROTO_TCP => Some(Protocol::Tcp),
            IPPROTO_UDP => Some(Protocol::Udp),
            IPPROTO_SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

/// Identity of a virtual service: the kernel looks services up by
/// protocol+address+port, or by firewall mark and family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ServiceKey {
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        family: Family,
        mark: u32,
    },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

impl fmt::Display for ServiceKey {
    /// `ipvsadm -Ln` spelling: `TCP  10.0.0.1:80`, `[2001:db8::1]:80`, `FWM  1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{protocol} {}", SockAddrFmt(*addr, *port)),
            ServiceKey::Fwmark { family, mark } => match family {
                Family::Inet => write!(f, "FWM {mark}"),
                Family::Inet6 => write!(f, "FWM {mark} IPv6"),
            },
        }
    }
}

struct SockAddrFmt(IpAddr, u16);

impl fmt::Display for SockAddrFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// Persistence (`persistence_timeout` / `persistence_granularity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Persistence {
    /// Seconds.
    pub timeout: u32,
    /// Granularity as a prefix length (IPv4 netmask 255.255.255.0 = 24).
    pub prefix: u8,
}

/// Scheduler flags (`flag-1..3`, `sh-fallback`/`sh-port`, `mh-fallback`/`mh-port`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchedFlags {
    pub flag1: bool,
    pub flag2: bool,
    pub flag3: bool,
}

impl SchedFlags {
    pub fn bits(self) -> u32 {
        (if self.flag1 { IP_VS_SVC_F_SCHED1 } else { 0 })
            | (if self.flag2 { IP_VS_SVC_F_SCHED2 } else { 0 })
            | (if self.flag3 { IP_VS_SVC_F_SCHED3 } else { 0 })
    }
    pub fn from_bits(b: u32) -> SchedFlags {
        SchedFlags {
            flag1: b & IP_VS_SVC_F_SCHED1 != 0,
            flag2: b & IP_VS_SVC_F_SCHED2 != 0,
            flag3: b & IP_VS_SVC_F_SCHED3 != 0,
        }
    }
}

/// A virtual service as configured: identity plus settings (no counters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler name as the kernel knows it (`rr`, `wlc`, `sh`, ...).
    pub scheduler: String,
    #[serde(default)]
    pub persistence: Option<Persistence>,
    /// `ops`: one-packet scheduling.
    #[serde(default)]
    pub one_packet: bool,
    #[serde(default)]
    pub sched_flags: SchedFlags,
    /// Persistence engine (`persistence_engine sip`).
    #[serde(default)]
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with scheduler `scheduler` and no options.
    pub fn new(key: ServiceKey, scheduler: &str) -> Service {
        Service {
            key,
            scheduler: scheduler.to_string(),
            persistence: None,
            one_packet: false,
            sched_flags: SchedFlags::default(),
            pe_name: None,
        }
    }

    /// The `IP_VS_SVC_F_*` bits this service sets (HASHED is the kernel's own).
    pub fn flag_bits(&self) -> u32 {
        (if self.persistence.is_some() {
            IP_VS_SVC_F_PERSISTENT
        } else {
            0
        }) | (if self.one_packet {
            IP_VS_SVC_F_ONEPACKET
        } else {
            0
        }) | self.sched_flags.bits()
    }
}

/// Tunnel encapsulation of a TUN destination (kernel 5.3+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    #[default]
    Ipip,
    Gue,
    Gre,
}

/// Tunnel checksum option (`nocsum`, `csum`, `remcsum`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelCsum {
    #[default]
    NoCsum,
    Csum,
    RemCsum,
}

impl TunnelCsum {
    pub fn bits(self) -> u16 {
        match self {
            TunnelCsum::NoCsum => IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM,
            TunnelCsum::Csum => IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
            TunnelCsum::RemCsum => IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
        }
    }
    /// REMCSUM wins over CSUM when both are set, as the kernel's GUE
    /// encapsulation checks it first.
    pub fn from_bits(b: u16) -> TunnelCsum {
        if b & IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM != 0 {
            TunnelCsum::RemCsum
        } else if b & IP_VS_TUNNEL_ENCAP_FLAG_CSUM != 0 {
            TunnelCsum::Csum
        } else {
            TunnelCsum::NoCsum
        }
    }
}

/// Tunnel parameters of a TUN destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tunnel {
    #[serde(rename = "type", default)]
    pub tun_type: TunnelType,
    /// UDP port for GUE; 0 otherwise.
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub csum: TunnelCsum,
}

/// Forwarding method (`lb_kind` / `lvs_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum FwdMethod {
    /// NAT (`IP_VS_CONN_F_MASQ`).
    Masq,
    /// `IP_VS_CONN_F_LOCALNODE`.
    Local,
    /// TUN, with its encapsulation.
    Tunnel(Tunnel),
    /// DR (`IP_VS_CONN_F_DROUTE`).
    Route,
    /// `IP_VS_CONN_F_BYPASS`.
    Bypass,
}

impl FwdMethod {
    pub fn bits(self) -> u32 {
        match self {
            FwdMethod::Masq => IP_VS_CONN_F_MASQ,
            FwdMethod::Local => IP_VS_CONN_F_LOCALNODE,
            FwdMethod::Tunnel(_) => IP_VS_CONN_F_TUNNEL,
            FwdMethod::Route => IP_VS_CONN_F_DROUTE,
            FwdMethod::Bypass => IP_VS_CONN_F_BYPASS,
        }
    }
}

impl fmt::Display for FwdMethod {
    /// `ipvsadm -Ln` "Forward" column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FwdMethod::Masq => "Masq",
            FwdMethod::Local => "Local",
            FwdMethod::Tunnel(_) => "Tunnel",
            FwdMethod::Route => "Route",
            FwdMethod::Bypass => "Bypass",
        })
    }
}

/// Identity of a destination inside its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SockAddrFmt(self.addr, self.port).fmt(f)
    }
}

/// A destination (real server) as configured: identity plus settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dest {
    pub key: DestKey,
    pub fwd: FwdMethod,
    pub weight: u32,
    #[serde(default)]
    pub u_threshold: u32,
    #[serde(default)]
    pub l_threshold: u32,
}

impl Dest {
    pub fn new(addr: IpAddr, port: u16, fwd: FwdMethod, weight: u32) -> Dest {
        Dest {
            key: DestKey { addr, port },
            fwd,
            weight,
            u_threshold: 0,
            l_threshold: 0,
        }
    }
}

/// Counters and rates of a service or destination, 64-bit
/// (`IPVS_*_ATTR_STATS64`; the 32-bit `STATS` nest is widened when alone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as read back from the kernel: settings plus counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
}

/// A destination as read back from the kernel: settings plus counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestEntry {
    pub dest: Dest,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

/// `IPVS_CMD_GET_INFO` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    /// Size of the connection hash table.
    pub conn_tab_size: u32,
}

impl Info {
    /// "1.2.1", as `ipvsadm -v` prints it.
    pub fn version_string(&self) -> String {
        format!(
            "{}.{}.{}",
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff
        )
    }
}

/// Connection timeouts in seconds (`lvs_timeouts`, `ipvsadm --set`); 0 in a
/// request leaves that timeout unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Role of a connection sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    Master,
    Backup,
}

impl DaemonState {
    pub fn bits(self) -> u32 {
        match self {
            DaemonState::Master => IP_VS_STATE_MASTER,
            DaemonState::Backup => IP_VS_STATE_BACKUP,
        }
    }
}

/// A connection synchronisation daemon (`lvs_sync_daemon`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Daemon {
    pub state: DaemonState,
    /// Multicast interface name.
    pub ifname: String,
    pub sync_id: u32,
    /// UDP payload size (`sync_maxlen`); `None` = kernel default.
    #[serde(default)]
    pub sync_maxlen: Option<u16>,
    /// Multicast group; `None` = kernel default 224.0.0.81.
    #[serde(default)]
    pub mcast_group: Option<IpAddr>,
    #[serde(default)]
    pub mcast_port: Option<u16>,
    #[serde(default)]
    pub mcast_ttl: Option<u8>,
}
