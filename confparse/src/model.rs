//! The validated configuration: typed, every default filled in and every
//! derived value resolved (effective priority, advert interval per version,
//! VIPs parsed into addresses), in keepalived's vocabulary with a `Cfg`
//! suffix. This is what the vrrp, ipvs and checkers crates consume.

use crate::lvs::LvsConfig;
use crate::source::Span;
use serde::Serialize;
use std::net::IpAddr;
use std::time::Duration;

/// A whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Model {
    pub global: GlobalDefsCfg,
    /// Top-level scalars outside `global_defs`.
    pub top: TopLevelCfg,
    pub vrrp_scripts: Vec<VrrpScriptCfg>,
    pub track_files: Vec<TrackFileCfg>,
    pub track_processes: Vec<TrackProcessCfg>,
    pub bfd_instances: Vec<BfdInstanceCfg>,
    pub instances: Vec<VrrpInstanceCfg>,
    pub sync_groups: Vec<SyncGroupCfg>,
    pub static_addresses: Vec<VipCfg>,
    pub static_routes: Vec<RouteCfg>,
    pub static_rules: Vec<RuleCfg>,
    pub track_groups: Vec<TrackGroupCfg>,
    pub garp_groups: Vec<GarpGroupCfg>,
    pub linkbeat_interfaces: Vec<LinkbeatIfCfg>,
    pub interface_up_down_delays: Vec<UpDownDelayCfg>,
    pub lvs: LvsConfig,
}

/// `net_namespace`, `instance`, ... (reference 2, top-level scalars).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TopLevelCfg {
    pub net_namespace: Option<String>,
    pub net_namespace_ipvs: Option<String>,
    pub namespace_with_ipsets: bool,
    pub instance: Option<String>,
    pub use_pid_dir: bool,
    /// `child_wait_time` (default 5 s).
    pub child_wait_time: Duration,
    pub linkbeat_use_polling: bool,
}

/// A command with its user (`notify_*`, `script`, `startup_script`, ...):
/// the raw text and its words as keepalived's shell-like splitter gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptCfg {
    pub raw: String,
    pub args: Vec<String>,
    /// `USER [[:]GROUP]` after the command, if given.
    pub user: Option<String>,
    pub group: Option<String>,
    pub span: Span,
}

/// A keyword kept as written: accepted, syntax-checked where keepalived
/// checks it, not acted on by keepalived-rs (the load reports which).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawKwCfg {
    pub keyword: String,
    pub args: Vec<String>,
    pub span: Span,
}

/// `lvs_sync_daemon IF [[inst] VRRP_INST] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvsSyncDaemonCfg {
    pub interface: String,
    pub vrrp_instance: Option<String>,
    pub syncid: Option<u32>,
    pub maxlen: Option<u32>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
    pub span: Span,
}

/// `lvs_timeouts [tcp S] [tcpfin S] [udp S]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LvsTimeoutsCfg {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

/// `global_defs { … }` (reference 2.2), defaults filled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalDefsCfg {
    /// `router_id`; keepalived defaults to the host name.
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<IpAddr>,
    pub smtp_server_name: Option<String>,
    pub smtp_port: u16,
    pub smtp_helo_name: Option<String>,
    pub smtp_connect_timeout: Duration,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub no_email_faults: bool,
    pub no_checker_emails: bool,
    pub checker_log_all_failures: bool,
    pub enable_script_security: bool,
    pub script_user: Option<String>,
    pub script_group: Option<String>,
    pub startup_script: Option<ScriptCfg>,
    pub startup_script_timeout: Duration,
    pub shutdown_script: Option<ScriptCfg>,
    pub shutdown_script_timeout: Duration,
    pub default_interface: Option<String>,
    pub vrrp_version: u8,
    pub vrrp_mcast_group4: IpAddr,
    pub vrrp_mcast_group6: IpAddr,
    pub vrrp_garp_master_delay: Duration,
    pub vrrp_garp_master_repeat: u32,
    pub vrrp_garp_master_refresh: Duration,
    pub vrrp_garp_master_refresh_repeat: u32,
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    pub vrrp_garp_interval: Duration,
    pub vrrp_gna_interval: Duration,
    pub vrrp_min_garp: bool,
    pub vrrp_garp_extra_if: Option<GarpExtraIfCfg>,
    pub vrrp_down_timer_adverts: u32,
    pub vrrp_lower_prio_no_advert: Option<bool>,
    pub vrrp_higher_prio_send_advert: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_strict: bool,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_iptables: Option<Vec<String>>,
    pub vrrp_ipsets: Option<Vec<String>>,
    pub nftables: Option<String>,
    pub dynamic_interfaces: Option<bool>,
    pub vrrp_startup_delay: Duration,
    pub vrrp_notify_priority_changes: bool,
    pub notify_fifo: Option<ScriptCfg>,
    pub notify_fifo_script: Option<ScriptCfg>,
    pub vrrp_notify_fifo: Option<ScriptCfg>,
    pub vrrp_notify_fifo_script: Option<ScriptCfg>,
    pub lvs_notify_fifo: Option<ScriptCfg>,
    pub lvs_notify_fifo_script: Option<ScriptCfg>,
    pub max_auto_priority: Option<i32>,
    pub lvs_sync_daemon: Option<LvsSyncDaemonCfg>,
    pub lvs_timeouts: LvsTimeoutsCfg,
    pub lvs_flush: bool,
    pub lvs_flush_on_stop: Option<String>,
    pub vmac_prefix: Option<String>,
    pub vmac_addr_prefix: Option<String>,
    pub log_unknown_vrids: bool,
    pub rs_init_notifies: bool,
    /// Every other global keyword (process tuning, SNMP, D-Bus, netlink
    /// buffers, reload files, ...): accepted and checked, not acted on.
    pub other: Vec<RawKwCfg>,
}

/// `vrrp_garp_extra_if [all] SECS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GarpExtraIfCfg {
    pub all: bool,
    pub delay: Duration,
}

impl Default for GlobalDefsCfg {
    fn default() -> Self {
        GlobalDefsCfg {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_server_name: None,
            smtp_port: 25,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            no_email_faults: false,
            no_checker_emails: false,
            checker_log_all_failures: false,
            enable_script_security: false,
            script_user: None,
            script_group: None,
            startup_script: None,
            startup_script_timeout: Duration::from_secs(10),
            shutdown_script: None,
            shutdown_script_timeout: Duration::from_secs(10),
            default_interface: None,
            vrrp_version: 2,
            vrrp_mcast_group4: IpAddr::from([224, 0, 0, 18]),
            vrrp_mcast_group6: IpAddr::from([0xff02, 0, 0, 0, 0, 0, 0, 0x12]),
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_min_garp: false,
            vrrp_garp_extra_if: None,
            vrrp_down_timer_adverts: 3,
            vrrp_lower_prio_no_advert: None,
            vrrp_higher_prio_send_advert: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_strict: false,
            vrrp_check_unicast_src: false,
            vrrp_iptables: None,
            vrrp_ipsets: None,
            nftables: None,
            dynamic_interfaces: None,
            vrrp_startup_delay: Duration::ZERO,
            vrrp_notify_priority_changes: false,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            lvs_notify_fifo: None,
            lvs_notify_fifo_script: None,
            max_auto_priority: None,
            lvs_sync_daemon: None,
            lvs_timeouts: LvsTimeoutsCfg::default(),
            lvs_flush: false,
            lvs_flush_on_stop: None,
            vmac_prefix: None,
            vmac_addr_prefix: None,
            log_unknown_vrids: false,
            rs_init_notifies: false,
            other: Vec::new(),
        }
    }
}

/// VRRP state keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VrrpStateCfg {
    Master,
    Backup,
}

/// `authentication { auth_type PASS|AH ; auth_pass STR }` (VRRPv2 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthCfg {
    pub auth_type: AuthTypeCfg,
    /// At most 8 bytes (keepalived truncates longer passwords).
    pub auth_pass: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthTypeCfg {
    Pass,
    Ah,
}

/// One address entry (reference 2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VipCfg {
    pub addr: IpAddr,
    /// Prefix length; /32 or /128 when not written.
    pub prefix: u8,
    /// `dev IF`; `None` = the instance's interface (or `default_interface`).
    pub dev: Option<String>,
    pub label: Option<String>,
    /// `brd`: an address, or computed from `+` (all host bits set).
    pub broadcast: Option<IpAddr>,
    pub scope: Option<AddrScopeCfg>,
    pub peer: Option<IpAddr>,
    pub flags: Vec<String>,
    pub preferred_lft: Option<u32>,
    pub no_track: bool,
    pub use_vmac: bool,
    pub track_group: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AddrScopeCfg {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
}

impl AddrScopeCfg {
    /// rtnetlink scope value (linux/rtnetlink.h `rt_scope_t`).
    pub fn rt_scope(self) -> u8 {
        match self {
            AddrScopeCfg::Global => 0,
            AddrScopeCfg::Site => 200,
            AddrScopeCfg::Link => 253,
            AddrScopeCfg::Host => 254,
            AddrScopeCfg::Nowhere => 255,
        }
    }
}

/// A route entry (reference 2.5): destination, the common attributes typed,
/// the rest of the options kept (validated for syntax) in `options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteCfg {
    /// `None` = `default`.
    pub dst: Option<(IpAddr, u8)>,
    /// The family the route belongs to (from the addresses or `inet6`).
    pub ipv6: bool,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub table: Option<String>,
    pub metric: Option<u32>,
    pub route_type: Option<String>,
    pub no_track: bool,
    pub track_group: Option<String>,
    /// Remaining options (`scope`, `mtu`, `nexthop …`, ...) as written.
    pub options: Vec<String>,
    pub span: Span,
}

/// A rule entry (reference 2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCfg {
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub ipv6: bool,
    pub table: Option<String>,
    pub preference: Option<u32>,
    pub no_track: bool,
    pub track_group: Option<String>,
    pub options: Vec<String>,
    pub span: Span,
}

/// A tracked object reference inside an instance or sync group:
/// `NAME [weight W [reverse|noreverse]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRefCfg {
    pub name: String,
    /// `None` = the object's own weight.
    pub weight: Option<i32>,
    pub reverse: bool,
    pub span: Span,
}

/// `unicast_peer` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeerCfg {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
    pub span: Span,
}

/// `use_vmac [NAME] [MAC]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmacCfg {
    pub name: Option<String>,
    pub mac: Option<String>,
}

/// The notify scripts of an instance or sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyCfg {
    pub master: Option<ScriptCfg>,
    pub backup: Option<ScriptCfg>,
    pub fault: Option<ScriptCfg>,
    pub stop: Option<ScriptCfg>,
    pub deleted: Option<ScriptCfg>,
    pub generic: Option<ScriptCfg>,
    pub master_rx_lower_pri: Option<ScriptCfg>,
}

/// `vrrp_instance NAME { … }` (reference 2.3), resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstanceCfg {
    pub name: String,
    /// Initial state as configured/resolved (MASTER only if written).
    pub state: VrrpStateCfg,
    pub interface: Option<String>,
    pub vrid: u8,
    /// Effective base priority (255 when `state MASTER` and no priority).
    pub priority: u8,
    /// 2 or 3 (IPv6 instances are always 3).
    pub version: u8,
    pub ipv6: bool,
    /// Advertisement interval, rounded to whole seconds for v2.
    pub advert_int: Duration,
    pub auth: Option<AuthCfg>,
    pub vips: Vec<VipCfg>,
    pub evips: Vec<VipCfg>,
    pub routes: Vec<RouteCfg>,
    pub rules: Vec<RuleCfg>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub track_interfaces: Vec<TrackRefCfg>,
    pub track_scripts: Vec<TrackRefCfg>,
    pub track_files: Vec<TrackRefCfg>,
    pub track_processes: Vec<TrackRefCfg>,
    pub track_bfds: Vec<TrackRefCfg>,
    pub dont_track_primary: bool,
    pub track_src_ip: bool,
    pub mcast_src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeerCfg>,
    pub unicast_ttl: u8,
    pub unicast_fault_no_peer: bool,
    pub check_unicast_src: bool,
    pub use_vmac: Option<VmacCfg>,
    pub vmac_xmit_base: bool,
    pub accept: bool,
    pub strict_mode: bool,
    pub skip_check_adv_addr: bool,
    pub promote_secondaries: bool,
    pub garp_master_delay: Duration,
    pub garp_master_repeat: u32,
    pub garp_master_refresh: Duration,
    pub garp_master_refresh_repeat: u32,
    pub garp_lower_prio_delay: Duration,
    pub garp_lower_prio_repeat: u32,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub notify: NotifyCfg,
    pub smtp_alert: bool,
    pub sync_group: Option<String>,
    /// Keywords accepted but not acted on (use_ipvlan, vrf, ...).
    pub other: Vec<RawKwCfg>,
    pub span: Span,
}

/// `vrrp_script NAME { … }` (reference 2.7).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpScriptCfg {
    pub name: String,
    pub script: Option<ScriptCfg>,
    pub interval: Duration,
    /// Defaults to `interval`.
    pub timeout: Duration,
    pub weight: i32,
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub user: Option<String>,
    pub group: Option<String>,
    pub init_fail: bool,
    pub span: Span,
}

/// `track_file NAME { … }` (reference 2.8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackFileCfg {
    pub name: String,
    pub file: Option<String>,
    pub weight: i32,
    pub weight_reverse: bool,
    pub init_file: Option<(i64, bool)>,
    pub span: Span,
}

/// `vrrp_track_process NAME { … }` (reference 2.8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackProcessCfg {
    pub name: String,
    pub process: Option<String>,
    pub args: Option<String>,
    pub param_match: Option<String>,
    pub weight: i32,
    pub weight_reverse: bool,
    pub quorum: u32,
    pub quorum_max: u32,
    pub fork_delay: Duration,
    pub terminate_delay: Duration,
    pub full_command: bool,
    pub span: Span,
}

/// `bfd_instance NAME { … }` (reference 2.8); parsed, not run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BfdInstanceCfg {
    pub name: String,
    pub options: Vec<RawKwCfg>,
    pub span: Span,
}

/// `vrrp_sync_group NAME { … }` (reference 2.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncGroupCfg {
    pub name: String,
    pub group: Vec<String>,
    pub track_interfaces: Vec<TrackRefCfg>,
    pub track_scripts: Vec<TrackRefCfg>,
    pub track_files: Vec<TrackRefCfg>,
    pub track_processes: Vec<TrackRefCfg>,
    pub track_bfds: Vec<TrackRefCfg>,
    pub notify: NotifyCfg,
    pub smtp_alert: Option<bool>,
    pub notify_priority_changes: Option<bool>,
    pub sync_group_tracking_weight: bool,
    pub span: Span,
}

/// `track_group NAME { group { … } }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackGroupCfg {
    pub name: String,
    pub group: Vec<String>,
    pub span: Span,
}

/// `garp_group { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GarpGroupCfg {
    pub garp_interval: Option<Duration>,
    pub gna_interval: Option<Duration>,
    pub interfaces: Vec<String>,
    pub span: Span,
}

/// A `linkbeat_interfaces` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkbeatIfCfg {
    pub interface: String,
    pub method: Option<String>,
    pub span: Span,
}

/// An `interface_up_down_delays` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpDownDelayCfg {
    pub interface: String,
    pub down_delay: Duration,
    pub up_delay: Duration,
    pub span: Span,
}
