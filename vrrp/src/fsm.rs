//! The VRRP state machine of one instance, sans-IO: `step(now, input)`
//! returns the actions to perform; it reads no clock, opens no socket and
//! arms no timer itself.
//!
//! Behaviour is RFC 3768 / RFC 5798 section 6 as keepalived 2.2.7 implements
//! it (vrrp.c `vrrp_state_backup`, `vrrp_state_master_rx`,
//! `vrrp_state_master_tx`, `vrrp_state_leave_master`, vrrp_scheduler.c
//! `vrrp_init_state`, vrrp_track.c `down_instance` / `try_up_instance`):
//! the timer arithmetic, the election rules, the log wording (as with `-D`).
//! One deliberate difference: keepalived's master re-arms its advert timer on
//! every packet it reads for its VRID, valid or not, so a flood silences it;
//! here only an advert we actually send moves the advert schedule.
//!
//! How a runtime drives it:
//! ```text
//! let mut inst = Instance::new(cfg)?;
//! let mut rx = Receiver::new(inst.cfg().rx_cfg());
//! perform(inst.step(now, Input::Startup));
//! loop {
//!     select! {
//!         sleep_until(inst.next_deadline()) => perform(inst.step(now, Input::Timer)),
//!         pkt = socket.recv() => if let Ok(adv) = rx.check_ipv4(&pkt, inst.followed_master()) {
//!             perform(inst.step(now, Input::Advert(adv)))
//!         }, // else: count/log the RxError; the state machine never sees it
//!         link = links.recv() => perform(inst.step(now, Input::InterfaceUp / InterfaceDown)),
//!     }
//! }
//! ```
//! `next_deadline()` is the only timer: after every step, sleep until it (or
//! forever when `None`) and then step with [`Input::Timer`], which handles
//! everything due.
//!
//! A `vrrp_sync_group` member (`InstanceCfg::sync_group`) does not go MASTER
//! on its own timeout: it then *wants* MASTER, and the group coordinator
//! (runtime/group.rs) moves it with [`Input::GroupMaster`],
//! [`Input::GroupBackup`] and [`Input::GroupFault`].
//!
//! Checked against keepalived 2.2.7 itself (vrrp/tests/lab_keepalived_oracle.rs):
//! the election log lines for the same adverts, FAULT and recovery, the
//! takeover instants (within 3 ms), a master's answer to a lower priority.
//!
//! Other differences and what is left to the caller:
//! - A pending second GARP burst after a lower-priority advert is replaced
//!   by the next one (keepalived queues one timer per advert).
//! - Leaving MASTER for FAULT sends one priority-0 advert (keepalived sends
//!   two, and logs "sent 0 priority").
//! - Sync groups, `vrrp_startup_delay` and waiting for the first tracker
//!   results before start-up are the caller's: it delays `Startup`, or
//!   feeds `TrackFault` / `PriorityDelta` first.
//! - Adding only the VIPs a reload added is the caller's diff
//!   ([`Instance::reconfigure`] keeps state and re-advertises).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::check::{AuthCfg, RxAdvert, RxCfg, UnicastPeer};
use crate::packet::{self, Addrs, Advert, Family, Version};
use crate::timers::{self, Instant};

/// Priority of the address owner (RFC 3768 5.3.4).
pub const PRIO_OWNER: u8 = 255;
/// Priority a resigning master advertises (RFC 3768 5.3.4).
pub const PRIO_STOP: u8 = 0;

/// Instance state (RFC 5798 6.4 plus keepalived's FAULT and STOP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Before `Startup`.
    Init,
    /// Listening for a master.
    Backup,
    /// Forwarding for the VIPs and advertising.
    Master,
    /// Interface down or a tracked object failed: silent, no VIPs.
    Fault,
    /// After `Shutdown`.
    Stop,
}

/// The configured `state` keyword: only where an instance starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InitialState {
    /// `state MASTER`: MASTER at once if the priority is 255, else like BACKUP.
    Master,
    /// `state BACKUP` (the default below priority 255).
    Backup,
}

/// Gratuitous ARP / unsolicited NA schedule (keepalived's `garp_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpCfg {
    /// `garp_master_delay`: second burst this long after becoming master (0 = none).
    pub master_delay: Duration,
    /// `garp_master_repeat`: rounds per burst.
    pub master_repeat: u32,
    /// `garp_master_refresh`: periodic burst while master (0 = off).
    pub master_refresh: Duration,
    /// `garp_master_refresh_repeat`: rounds per refresh.
    pub master_refresh_repeat: u32,
    /// `garp_lower_prio_delay`: second burst after a lower-priority advert.
    pub lower_prio_delay: Duration,
    /// `garp_lower_prio_repeat`: rounds sent when a lower-priority advert arrives.
    pub lower_prio_repeat: u32,
    /// `garp_interval` (IPv4) / `gna_interval` (IPv6): spacing between messages.
    pub interval: Duration,
}

impl Default for GarpCfg {
    /// keepalived 2.2.7's defaults: 5 now, 5 more after 5 s, no refresh;
    /// the lower-priority values default to the master ones.
    fn default() -> GarpCfg {
        GarpCfg {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            interval: Duration::ZERO,
        }
    }
}

impl GarpCfg {
    /// `vrrp_min_garp`: one message, no second burst, no refresh (keepalived
    /// applies it to the values still at their defaults; the lower-priority
    /// values then default to the master ones, so 1 and no delay too).
    pub fn min_garp() -> GarpCfg {
        GarpCfg {
            master_delay: Duration::ZERO,
            master_repeat: 1,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 0,
            lower_prio_delay: Duration::ZERO,
            lower_prio_repeat: 1,
            interval: Duration::ZERO,
        }
    }
}

/// One `vrrp_instance`, as the state machine and the receive checks need it.
/// The daemon maps confparse's model into this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCfg {
    /// Instance name, for log lines (`(VI_1) Entering MASTER STATE`).
    pub name: String,
    /// `version` (2 or 3; IPv6 is always 3).
    pub version: Version,
    /// Family of the VIPs.
    pub family: Family,
    /// `virtual_router_id`, 1-255.
    pub vrid: u8,
    /// `priority`, 1-255 (255 = address owner).
    pub priority: u8,
    /// `advert_int`: whole seconds 1-255 for v2, 0.01-40.95 s in centiseconds for v3.
    pub adver_int: Duration,
    /// `state`.
    pub initial_state: InitialState,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` (0 = none).
    pub preempt_delay: Duration,
    /// `down_timer_adverts` (default 3).
    pub down_timer_adverts: u32,
    /// `lower_prio_no_advert`: a master does not answer a lower-priority advert.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`: a master sends one advert before yielding.
    pub higher_prio_send_advert: bool,
    /// GARP/NA schedule.
    pub garp: GarpCfg,
    /// Our source address (`mcast_src_ip`/`unicast_src_ip` or the interface's
    /// primary address), for the equal-priority tie-break. `None` = unknown:
    /// equal priority then counts as our own address (warning only).
    pub src_addr: Option<IpAddr>,
    /// `virtual_ipaddress` (advertised; at most 255).
    pub vips: Vec<IpAddr>,
    /// `authentication` (VRRPv2).
    pub auth: AuthCfg,
    /// `skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    /// `unicast_peer` (empty = multicast).
    pub unicast_peers: Vec<UnicastPeer>,
    /// `check_unicast_src`.
    pub check_unicast_src: bool,
    /// `v3_checksum_as_v2`.
    pub v3_checksum_as_v2: bool,
    /// Member of a `vrrp_sync_group`: a master-down timeout only makes it
    /// *want* MASTER; the group decides (see [`Input::GroupMaster`]).
    #[serde(default)]
    pub sync_group: bool,
}

impl InstanceCfg {
    /// A configuration with keepalived's defaults for everything but the
    /// identity: BACKUP, priority 100, 1 s, no auth, multicast.
    pub fn new(name: &str, version: Version, vrid: u8, vips: Vec<IpAddr>) -> InstanceCfg {
        let family = vips.first().map(Family::of).unwrap_or(Family::V4);
        InstanceCfg {
            name: name.to_string(),
            version,
            family,
            vrid,
            priority: 100,
            adver_int: Duration::from_secs(1),
            initial_state: InitialState::Backup,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            garp: GarpCfg::default(),
            src_addr: None,
            vips,
            auth: AuthCfg::None,
            skip_check_adv_addr: false,
            unicast_peers: Vec::new(),
            check_unicast_src: false,
            v3_checksum_as_v2: false,
            sync_group: false,
        }
    }

    /// The interval field we send: v2 seconds, v3 centiseconds.
    pub fn adver_int_field(&self) -> u16 {
        match self.version {
            Version::V2 => u16::try_from(self.adver_int.as_secs()).unwrap_or(u16::MAX),
            Version::V3 => u16::try_from(self.adver_int.as_millis() / 10).unwrap_or(u16::MAX),
        }
    }

    /// What the receive checks need.
    pub fn rx_cfg(&self) -> RxCfg {
        RxCfg {
            version: self.version,
            family: self.family,
            vrid: self.vrid,
            auth: self.auth.clone(),
            adver_int: self.adver_int_field(),
            vips: self.vips.clone(),
            skip_check_adv_addr: self.skip_check_adv_addr,
            unicast_peers: self.unicast_peers.clone(),
            check_unicast_src: self.check_unicast_src,
            v3_checksum_as_v2: self.v3_checksum_as_v2,
        }
    }

    /// The advert this instance sends with `priority` (encode it with
    /// [`Advert::encode`]; for AH also sign it with [`crate::auth::ah_sign`]).
    pub fn advert(&self, priority: u8) -> Advert {
        let addrs = match self.family {
            Family::V4 => Addrs::V4(
                self.vips
                    .iter()
                    .filter_map(|a| match a {
                        IpAddr::V4(v) => Some(*v),
                        IpAddr::V6(_) => None,
                    })
                    .collect::<Vec<Ipv4Addr>>(),
            ),
            Family::V6 => Addrs::V6(
                self.vips
                    .iter()
                    .filter_map(|a| match a {
                        IpAddr::V6(v) => Some(*v),
                        IpAddr::V4(_) => None,
                    })
                    .collect::<Vec<Ipv6Addr>>(),
            ),
        };
        let auth_data = match &self.auth {
            AuthCfg::Pass(p) => *p,
            AuthCfg::None | AuthCfg::Ah(_) => [0; 8],
        };
        Advert {
            version: self.version,
            vrid: self.vrid,
            priority,
            adver_int: self.adver_int_field(),
            auth_type: self.auth.auth_type(),
            auth_data,
            addrs,
        }
    }

    /// Check what the state machine relies on.
    pub fn validate(&self) -> Result<(), CfgError> {
        if self.vrid == 0 {
            return Err(CfgError::Vrid);
        }
        if self.priority == 0 {
            return Err(CfgError::Priority);
        }
        let ok = match self.version {
            Version::V2 => {
                self.adver_int.subsec_nanos() == 0 && (1..=255).contains(&self.adver_int.as_secs())
            }
            Version::V3 => {
                // Whole centiseconds only (the 12-bit field's unit).
                let cs = self.adver_int.as_millis() / 10;
                Duration::from_millis(u64::try_from(cs * 10).unwrap_or(u64::MAX)) == self.adver_int
                    && (1..=u128::from(packet::MAX_V3_INTERVAL_CS)).contains(&cs)
            }
        };
        if !ok {
            return Err(CfgError::AdverInt(self.adver_int));
        }
        if self.version == Version::V2 && self.family == Family::V6 {
            return Err(CfgError::V2Ipv6);
        }
        if let Some(bad) = self.vips.iter().find(|a| Family::of(a) != self.family) {
            return Err(CfgError::MixedFamily(*bad));
        }
        if self.vips.len() > packet::MAX_ADDRS {
            return Err(CfgError::TooManyVips(self.vips.len()));
        }
        if !(1..=100).contains(&self.down_timer_adverts) {
            return Err(CfgError::DownTimerAdverts(self.down_timer_adverts));
        }
        Ok(())
    }
}

/// An [`InstanceCfg`] the state machine cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfgError {
    /// VRID 0.
    #[error("the virtual router id must be set (1-255)")]
    Vrid,
    /// Priority 0.
    #[error("priority must be 1-255")]
    Priority,
    /// Interval outside the version's range or resolution.
    #[error("advert interval {0:?} out of range (v2: whole seconds 1-255; v3: 0.01-40.95 s in centiseconds)")]
    AdverInt(Duration),
    /// VRRPv2 with IPv6.
    #[error("VRRPv2 cannot run over IPv6")]
    V2Ipv6,
    /// A VIP of the other family.
    #[error("virtual address {0} is not of the instance's family")]
    MixedFamily(IpAddr),
    /// More VIPs than one advert carries.
    #[error("{0} virtual addresses exceed the 255 one advert carries")]
    TooManyVips(usize),
    /// `down_timer_adverts` outside 1-100.
    #[error("down_timer_adverts {0} out of range 1-100")]
    DownTimerAdverts(u32),
    /// A reload changed VRID, family or version: a different instance.
    #[error("VRID, family or version changed: not the same instance")]
    Identity,
}

/// What happens to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// Start: leave INIT (keepalived's `vrrp_init_state`).
    Startup,
    /// A received advert that passed every [`crate::check`] test.
    Advert(RxAdvert),
    /// `next_deadline()` has been reached: handle everything due.
    Timer,
    /// The instance's interface came up.
    InterfaceUp,
    /// The instance's interface went down (or vanished).
    InterfaceDown,
    /// Whether any unweighted tracked object (script, interface, file, ...)
    /// has failed: true puts the instance in FAULT until it is false again.
    TrackFault(bool),
    /// The sum of the weighted trackers' adjustments; effective priority =
    /// base + delta clamped to 1-254 (an owner is never adjusted).
    PriorityDelta(i32),
    /// Stop: a master resigns with priority 0.
    Shutdown,
    /// Sync group (keepalived `vrrp_sync_master`): another member became
    /// MASTER, or every member wants MASTER: a BACKUP member goes MASTER now.
    GroupMaster,
    /// Sync group (keepalived `vrrp_sync_backup`): another member went
    /// BACKUP: a MASTER member leaves MASTER for BACKUP.
    GroupBackup,
    /// Sync group (keepalived `vrrp_sync_fault`): whether some member is in
    /// FAULT of its own; true puts this member in FAULT too.
    GroupFault(bool),
}

/// State a notify reports (`notify_master` etc., generic `notify` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotifyState {
    /// MASTER.
    Master,
    /// BACKUP.
    Backup,
    /// FAULT.
    Fault,
    /// STOP.
    Stop,
}

/// Something the runtime must do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send one advert (to the group, or to each unicast peer) with this priority.
    SendAdvert {
        /// 0 to resign, else our effective priority.
        priority: u8,
    },
    /// Add the VIPs and excluded VIPs (and virtual routes/rules).
    AddVips,
    /// Remove them.
    RemoveVips,
    /// Send `count` rounds of gratuitous ARP (IPv4) / unsolicited NA (IPv6),
    /// one message per VIP per round, `spacing` apart.
    SendGarp {
        /// Rounds.
        count: u32,
        /// Gap between messages (`garp_interval` / `gna_interval`).
        spacing: Duration,
    },
    /// Run the notify scripts / FIFO for a state change.
    Notify {
        /// The new state.
        state: NotifyState,
        /// Our effective priority (the generic notify's 4th argument).
        priority: u8,
    },
    /// `notify_master_rx_lower_pri` / FIFO `MASTER_RX_LOWER_PRI`.
    NotifyMasterRxLowerPri {
        /// Our effective priority.
        priority: u8,
    },
    /// A log line in keepalived's wording, instance prefix included.
    Log(String),
}

/// Counters of one instance's state machine (keepalived's stats names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsmStats {
    /// Adverts sent (`advert_sent`), priority 0 included.
    pub advert_sent: u64,
    /// Priority-0 adverts sent (`pri_zero_sent`).
    pub pri_zero_sent: u64,
    /// Times it became MASTER (`become_master`).
    pub become_master: u64,
    /// Times it left MASTER (`release_master`).
    pub release_master: u64,
    /// Valid adverts handled.
    pub advert_rcvd: u64,
}

/// The state machine of one VRRP instance.
#[derive(Debug, Clone)]
pub struct Instance {
    cfg: InstanceCfg,
    state: State,
    /// Base priority (an owner conflict lowers it to 254, keepalived 2.2.7).
    base_priority: u8,
    /// Tracking adjustment.
    delta: i32,
    effective_priority: u8,
    /// Master_Adver_Interval: ours, or the master's in v3 backup.
    master_adver_int: Duration,
    /// The master-down interval in force (skew only after a priority 0).
    ms_down_timer: Duration,
    /// The one protocol timer: next advert (MASTER) or master down (BACKUP).
    sands: Option<Instant>,
    /// Second GARP burst after becoming master.
    garp_at: Option<Instant>,
    /// Second GARP burst after a lower-priority advert.
    lower_garp_at: Option<Instant>,
    /// Next GARP refresh, checked when an advert goes out (as keepalived).
    garp_refresh_at: Option<Instant>,
    /// End of the preempt delay once a lower-priority master was seen.
    preempt_time: Option<Instant>,
    /// The master we follow / last heard (BACKUP).
    master_addr: Option<IpAddr>,
    master_priority: u8,
    if_up: bool,
    track_fault: bool,
    /// Another sync-group member is in FAULT.
    group_fault: bool,
    /// Sync-group member whose master-down timer ran out (keepalived's
    /// `wantstate == MASTER` that `vrrp_sync_can_goto_master` checks).
    sync_want_master: bool,
    /// keepalived's `wantstate == MASTER` for an owner: go MASTER without
    /// waiting when leaving INIT or FAULT.
    want_master: bool,
    stats: FsmStats,
}

impl Instance {
    /// A new instance in INIT.
    pub fn new(cfg: InstanceCfg) -> Result<Instance, CfgError> {
        cfg.validate()?;
        let prio = cfg.priority;
        let adv = cfg.adver_int;
        let want_master = cfg.initial_state == InitialState::Master && prio == PRIO_OWNER;
        let mut inst = Instance {
            base_priority: prio,
            delta: 0,
            effective_priority: prio,
            master_adver_int: adv,
            ms_down_timer: Duration::ZERO,
            state: State::Init,
            sands: None,
            garp_at: None,
            lower_garp_at: None,
            garp_refresh_at: None,
            preempt_time: None,
            master_addr: None,
            master_priority: 0,
            if_up: true,
            track_fault: false,
            group_fault: false,
            sync_want_master: false,
            want_master,
            stats: FsmStats::default(),
            cfg,
        };
        inst.ms_down_timer = inst.mdi();
        Ok(inst)
    }

    /// The configuration.
    pub fn cfg(&self) -> &InstanceCfg {
        &self.cfg
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Current effective priority.
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// Master_Adver_Interval in force.
    pub fn master_adver_int(&self) -> Duration {
        self.master_adver_int
    }

    /// Counters.
    pub fn stats(&self) -> &FsmStats {
        &self.stats
    }

    /// The master a BACKUP follows (for `skip_check_adv_addr` in
    /// [`crate::check::Receiver`]); `None` in other states.
    pub fn followed_master(&self) -> Option<IpAddr> {
        match self.state {
            State::Backup => self.master_addr,
            _ => None,
        }
    }

    /// The address and priority of the last master heard (BACKUP).
    pub fn master(&self) -> Option<(IpAddr, u8)> {
        self.master_addr.map(|a| (a, self.master_priority))
    }

    /// Update our source address (the interface's primary address changed).
    pub fn set_src_addr(&mut self, addr: Option<IpAddr>) {
        self.cfg.src_addr = addr;
    }

    /// Apply a reloaded configuration of the same instance (keepalived
    /// matches instances across a reload by VRID, family and interface; the
    /// caller does that matching), keeping the state, the followed master
    /// and the tracking adjustment. A MASTER sends an advert at once and
    /// restarts its schedule from now, as keepalived does around a reload
    /// (GH acassen/keepalived#793), so peers see no gap. Adding or removing
    /// individual VIPs is the runtime's diff; this only returns adverts and
    /// log lines. On error the old configuration stays in force.
    pub fn reconfigure(&mut self, now: Instant, cfg: InstanceCfg) -> Result<Vec<Action>, CfgError> {
        cfg.validate()?;
        if cfg.vrid != self.cfg.vrid
            || cfg.family != self.cfg.family
            || cfg.version != self.cfg.version
        {
            return Err(CfgError::Identity);
        }
        let mut out = Vec::new();
        let base_changed = cfg.priority != self.cfg.priority;
        self.want_master = self.want_master
            && cfg.initial_state == InitialState::Master
            && cfg.priority == PRIO_OWNER;
        self.cfg = cfg;
        if base_changed {
            self.base_priority = self.cfg.priority;
            if self.base_priority == PRIO_OWNER {
                self.effective_priority = PRIO_OWNER;
            } else {
                // Recompute with the tracking delta (logs a change).
                self.update_priority(now, &mut out);
            }
        }
        match self.state {
            State::Master => {
                self.master_adver_int = self.cfg.adver_int;
                self.send_advert(self.effective_priority, &mut out);
                self.sands = Some(now + self.cfg.adver_int);
                let g = &self.cfg.garp;
                self.garp_refresh_at =
                    (g.master_refresh > Duration::ZERO).then(|| now + g.master_refresh);
            }
            State::Backup => {
                if self.cfg.version == Version::V2 {
                    self.master_adver_int = self.cfg.adver_int;
                }
                let old = self.ms_down_timer;
                self.ms_down_timer = self.mdi();
                if let Some(s) = self.sands {
                    let shifted = if self.ms_down_timer >= old {
                        s + (self.ms_down_timer - old)
                    } else {
                        s - (old - self.ms_down_timer)
                    };
                    self.sands = Some(shifted.max(now));
                }
            }
            _ => self.master_adver_int = self.cfg.adver_int,
        }
        Ok(out)
    }

    /// When the runtime must next step with [`Input::Timer`].
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.sands, self.garp_at, self.lower_garp_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The individual timers (advert/master-down, GARP burst, lower-priority
    /// GARP burst), for traces.
    pub fn timers(&self) -> (Option<Instant>, Option<Instant>, Option<Instant>) {
        (self.sands, self.garp_at, self.lower_garp_at)
    }

    /// Handle one input at `now`; the actions to perform, in order.
    pub fn step(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        self.step_into(now, input, &mut out);
        out
    }

    /// As [`Instance::step`], appending to a reused buffer.
    pub fn step_into(&mut self, now: Instant, input: Input, out: &mut Vec<Action>) {
        if self.state == State::Stop {
            return;
        }
        match input {
            Input::Startup => self.startup(now, out),
            Input::Advert(adv) => self.advert(now, adv, out),
            Input::Timer => self.timer(now, out),
            Input::InterfaceUp => {
                self.if_up = true;
                self.fault_changed(now, out);
            }
            Input::InterfaceDown => {
                self.if_up = false;
                self.fault_changed(now, out);
            }
            Input::TrackFault(failed) => {
                self.track_fault = failed;
                self.fault_changed(now, out);
            }
            Input::PriorityDelta(d) => {
                self.delta = d;
                self.update_priority(now, out);
            }
            Input::Shutdown => self.shutdown(out),
            Input::GroupMaster => {
                if self.state == State::Backup && !self.faulted() {
                    self.goto_master(now, out);
                }
            }
            Input::GroupBackup => {
                if self.state == State::Master {
                    self.leave_master_to_backup(now, out);
                }
            }
            Input::GroupFault(f) => {
                self.group_fault = f;
                self.fault_changed(now, out);
            }
        }
    }

    /// In FAULT of its own (interface down or a tracked object failed), as
    /// opposed to FAULT because another sync-group member is: the group
    /// leaves FAULT only when no member has a fault of its own.
    pub fn own_fault(&self) -> bool {
        !self.if_up || self.track_fault
    }

    /// A sync-group member waiting for the rest of its group to want MASTER.
    pub fn wants_master(&self) -> bool {
        self.sync_want_master
    }

    // -----------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------

    fn log(&self, out: &mut Vec<Action>, msg: std::fmt::Arguments<'_>) {
        out.push(Action::Log(format!("({}) {}", self.cfg.name, msg)));
    }

    fn faulted(&self) -> bool {
        self.own_fault() || self.group_fault
    }

    fn skew(&self) -> Duration {
        timers::skew(
            self.cfg.version,
            self.effective_priority,
            self.master_adver_int,
        )
    }

    fn mdi(&self) -> Duration {
        timers::master_down_interval(
            self.cfg.version,
            self.effective_priority,
            self.master_adver_int,
            self.cfg.down_timer_adverts,
        )
    }

    fn send_advert(&mut self, priority: u8, out: &mut Vec<Action>) {
        self.stats.advert_sent += 1;
        if priority == PRIO_STOP {
            self.stats.pri_zero_sent += 1;
        }
        out.push(Action::SendAdvert { priority });
    }

    fn garp(&self, count: u32, out: &mut Vec<Action>) {
        if count > 0 {
            out.push(Action::SendGarp {
                count,
                spacing: self.cfg.garp.interval,
            });
        }
    }

    fn notify(&self, state: NotifyState, out: &mut Vec<Action>) {
        out.push(Action::Notify {
            state,
            priority: self.effective_priority,
        });
    }

    /// Compare a sender's address with ours (keepalived `vrrp_saddr_cmp`):
    /// numeric order; unknown source or other family compare equal.
    fn addr_cmp(&self, src: &IpAddr) -> std::cmp::Ordering {
        match &self.cfg.src_addr {
            Some(ours) if Family::of(ours) == Family::of(src) => src.cmp(ours),
            _ => std::cmp::Ordering::Equal,
        }
    }

    fn clear_master_timers(&mut self) {
        self.garp_at = None;
        self.lower_garp_at = None;
        self.garp_refresh_at = None;
    }

    // -----------------------------------------------------------------------
    // Start-up (keepalived vrrp_init_state)
    // -----------------------------------------------------------------------

    fn startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Init {
            return;
        }
        // Leftover VIPs from a crash are removed first (keepalived "removing VIPs.").
        out.push(Action::RemoveVips);
        self.master_adver_int = self.cfg.adver_int;
        if self.faulted() {
            self.log(out, format_args!("Entering FAULT STATE (init)"));
            self.state = State::Fault;
            self.sands = None;
            self.notify(NotifyState::Fault, out);
        } else if self.want_master {
            // keepalived: "the simplest way to become master is to timeout
            // from the backup state very quickly (1usec)" - no BACKUP log or notify.
            self.state = State::Backup;
            self.ms_down_timer = Duration::from_micros(1);
            self.sands = Some(now + self.ms_down_timer);
        } else {
            self.log(out, format_args!("Entering BACKUP STATE (init)"));
            self.state = State::Backup;
            self.ms_down_timer = self.mdi();
            self.sands = Some(now + self.ms_down_timer);
            self.notify(NotifyState::Backup, out);
        }
    }

    // -----------------------------------------------------------------------
    // Timers
    // -----------------------------------------------------------------------

    fn timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.garp_at.is_some_and(|t| t <= now) {
            self.garp_at = None;
            if self.state == State::Master {
                self.garp(self.cfg.garp.master_repeat, out);
            }
        }
        if self.lower_garp_at.is_some_and(|t| t <= now) {
            self.lower_garp_at = None;
            if self.state == State::Master {
                self.garp(self.cfg.garp.lower_prio_repeat, out);
            }
        }
        let Some(due) = self.sands.filter(|t| *t <= now) else {
            return;
        };
        match self.state {
            State::Backup => {
                // RFC 3768 6.4.2 / RFC 5798 6.4.2: Master_Down_Timer fired.
                self.log(out, format_args!("Receive advertisement timeout"));
                if self.cfg.sync_group {
                    // keepalived vrrp_sync_can_goto_master: a member only
                    // goes MASTER when every member wants to (AND semantics,
                    // no thrashing); meanwhile it re-arms a longer timer
                    // (3 x Master_Adver_Interval + skew) and the group
                    // coordinator sends GroupMaster when all are ready.
                    self.sync_want_master = true;
                    self.sands = Some(now + self.master_adver_int * 3 + self.skew());
                } else {
                    self.goto_master(now, out);
                }
            }
            State::Master => {
                // RFC 5798 6.4.3: Adver_Timer fired. Keep the cadence from
                // the schedule, not from when we ran, unless a whole interval
                // was missed.
                self.send_advert(self.effective_priority, out);
                let next = due + self.cfg.adver_int;
                self.sands = Some(if next > now {
                    next
                } else {
                    now + self.cfg.adver_int
                });
                if let Some(r) = self.garp_refresh_at {
                    if now > r {
                        self.garp(self.cfg.garp.master_refresh_repeat, out);
                        self.garp_refresh_at = Some(now + self.cfg.garp.master_refresh);
                    }
                }
            }
            _ => self.sands = None,
        }
    }

    /// keepalived `vrrp_state_goto_master` + `vrrp_state_master_tx` +
    /// `vrrp_state_become_master`: advert first (so the old master drops the
    /// VIPs before our GARPs), then VIPs, GARPs, notify.
    fn goto_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.state = State::Master;
        self.sync_want_master = false;
        self.stats.become_master += 1;
        self.sands = Some(now + self.cfg.adver_int);
        self.send_advert(self.effective_priority, out);
        self.log(out, format_args!("Entering MASTER STATE"));
        if self.master_adver_int != self.cfg.adver_int {
            self.log(
                out,
                format_args!(
                    "changing advert interval from {}ms to locally configured {}ms",
                    self.master_adver_int.as_millis(),
                    self.cfg.adver_int.as_millis()
                ),
            );
            self.master_adver_int = self.cfg.adver_int;
        }
        out.push(Action::AddVips);
        self.garp(self.cfg.garp.master_repeat, out);
        let g = &self.cfg.garp;
        self.garp_at =
            (g.master_delay > Duration::ZERO && g.master_repeat > 0).then(|| now + g.master_delay);
        self.garp_refresh_at = (g.master_refresh > Duration::ZERO).then(|| now + g.master_refresh);
        self.lower_garp_at = None;
        self.notify(NotifyState::Master, out);
    }

    // -----------------------------------------------------------------------
    // Adverts
    // -----------------------------------------------------------------------

    fn advert(&mut self, now: Instant, adv: RxAdvert, out: &mut Vec<Action>) {
        match self.state {
            State::Backup => {
                self.stats.advert_rcvd += 1;
                self.backup_rx(now, adv, out);
            }
            State::Master => {
                self.stats.advert_rcvd += 1;
                self.master_rx(now, adv, out);
            }
            // INIT, FAULT and STOP do not listen (RFC 5798 6.4.1; keepalived
            // has no socket reading for them).
            _ => {}
        }
    }

    /// RFC 3768 6.4.2 / RFC 5798 6.4.2, keepalived `vrrp_state_backup`.
    fn backup_rx(&mut self, now: Instant, adv: RxAdvert, out: &mut Vec<Action>) {
        if adv.priority == PRIO_STOP {
            // The master resigns: take over after Skew_Time only.
            self.log(
                out,
                format_args!("Backup received priority 0 advertisement"),
            );
            self.ms_down_timer = self.skew();
            self.sands = Some(now + self.ms_down_timer);
            return;
        }
        let delay_running =
            self.cfg.preempt_delay > Duration::ZERO && self.preempt_time.is_none_or(|t| t > now);
        if self.cfg.nopreempt || adv.priority >= self.effective_priority || delay_running {
            // Accept this master (equal priority included: the first master keeps the role).
            if self.cfg.version == Version::V3 && self.master_adver_int != adv.adver_int {
                // RFC 5798 6.4.2: Master_Adver_Interval := the advert's interval.
                self.log(
                    out,
                    format_args!(
                        "advertisement interval updated from {}ms to {}ms by master",
                        self.master_adver_int.as_millis(),
                        adv.adver_int.as_millis()
                    ),
                );
                self.master_adver_int = adv.adver_int;
            }
            self.ms_down_timer = self.mdi();
            self.master_addr = Some(adv.src);
            self.master_priority = adv.priority;
            // A master is heard again: no longer ready to take over.
            self.sync_want_master = false;
            if self.cfg.preempt_delay > Duration::ZERO {
                if adv.priority >= self.effective_priority {
                    if self.preempt_time.take().is_some() {
                        self.log(out, format_args!("stop preempt delay"));
                    }
                } else if self.preempt_time.is_none() {
                    let d = self.cfg.preempt_delay;
                    self.log(
                        out,
                        format_args!(
                            "start preempt delay ({}.{:06})",
                            d.as_secs(),
                            d.subsec_micros()
                        ),
                    );
                    self.preempt_time = Some(now + d);
                }
            }
            self.sands = Some(now + self.ms_down_timer);
        } else {
            // Lower priority and free to preempt: ignore it and let the
            // master-down timer run out.
            self.log(
                out,
                format_args!(
                    "received lower priority ({}) advert from {} - discarding",
                    adv.priority, adv.src
                ),
            );
            self.master_addr = Some(adv.src);
        }
    }

    /// RFC 3768 6.4.3 / RFC 5798 6.4.3, keepalived `vrrp_state_master_rx`.
    fn master_rx(&mut self, now: Instant, adv: RxAdvert, out: &mut Vec<Action>) {
        use std::cmp::Ordering;
        let cmp = self.addr_cmp(&adv.src);
        let ours = self.effective_priority;
        let higher = adv.priority > ours || (adv.priority == ours && cmp == Ordering::Greater);
        if adv.priority == PRIO_STOP || (self.cfg.higher_prio_send_advert && higher) {
            // RFC 5798 6.4.3: a priority-0 advert is answered at once.
            self.send_advert(ours, out);
            self.sands = Some(now + self.cfg.adver_int);
            if adv.priority == PRIO_STOP {
                self.log(out, format_args!("Master received priority 0 message"));
                return;
            }
        }
        if adv.priority == self.effective_priority {
            if cmp == Ordering::Equal {
                self.log(
                    out,
                    format_args!("WARNING - equal priority advert received from remote host with our IP address."),
                );
            } else if self.effective_priority == PRIO_OWNER {
                // keepalived 2.2.7: two owners; whichever sees the other
                // first backs off to 254 for good (addresses not compared).
                self.log(
                    out,
                    format_args!(
                        "CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority"
                    ),
                );
                self.effective_priority = PRIO_OWNER - 1;
                self.base_priority = PRIO_OWNER - 1;
            }
        }
        let ours = self.effective_priority;
        if adv.priority < ours || (adv.priority == ours && cmp == Ordering::Less) {
            // A lower-priority router thinks it is master: reassert.
            self.log(
                out,
                format_args!(
                    "Received advert from {} with lower priority {}, ours {}{}",
                    adv.src,
                    adv.priority,
                    ours,
                    if self.cfg.lower_prio_no_advert {
                        ""
                    } else {
                        ", forcing new election"
                    }
                ),
            );
            if !self.cfg.lower_prio_no_advert {
                self.send_advert(ours, out);
                self.sands = Some(now + self.cfg.adver_int);
            }
            let g = &self.cfg.garp;
            if g.lower_prio_repeat > 0 {
                self.garp(g.lower_prio_repeat, out);
                if g.lower_prio_delay > Duration::ZERO {
                    self.lower_garp_at = Some(now + g.lower_prio_delay);
                }
            }
            out.push(Action::NotifyMasterRxLowerPri { priority: ours });
            return;
        }
        if adv.priority > ours || (adv.priority == ours && cmp == Ordering::Greater) {
            if adv.priority > ours {
                self.log(
                    out,
                    format_args!(
                        "Master received advert from {} with higher priority {}, ours {}",
                        adv.src, adv.priority, ours
                    ),
                );
            } else {
                self.log(
                    out,
                    format_args!(
                        "Master received advert from {} with same priority {} but higher IP address than ours",
                        adv.src, adv.priority
                    ),
                );
            }
            if self.cfg.version == Version::V3 {
                self.master_adver_int = adv.adver_int;
            }
            self.master_addr = Some(adv.src);
            self.master_priority = adv.priority;
            self.leave_master_to_backup(now, out);
        }
    }

    /// keepalived `vrrp_state_leave_master` with wantstate BACKUP.
    fn leave_master_to_backup(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.log(out, format_args!("Entering BACKUP STATE"));
        self.preempt_time = None;
        out.push(Action::RemoveVips);
        self.clear_master_timers();
        self.state = State::Backup;
        self.stats.release_master += 1;
        self.notify(NotifyState::Backup, out);
        self.ms_down_timer = self.mdi();
        self.sands = Some(now + self.ms_down_timer);
    }

    // -----------------------------------------------------------------------
    // Faults and tracking
    // -----------------------------------------------------------------------

    fn fault_changed(&mut self, now: Instant, out: &mut Vec<Action>) {
        match (self.state, self.faulted()) {
            (State::Master, true) => {
                // keepalived down_instance -> vrrp_state_leave_master(FAULT):
                // resign with priority 0 so a backup takes over after skew.
                // keepalived 2.2.7 sends two priority-0 adverts back to back
                // here (captured in a namespace lab: a master whose
                // track_script fails; lab test
                // fault_from_master_sends_two_priority_zero_adverts_as_keepalived),
                // one on a stop.
                self.log(out, format_args!("Entering FAULT STATE"));
                self.send_advert(PRIO_STOP, out);
                self.send_advert(PRIO_STOP, out);
                out.push(Action::RemoveVips);
                self.clear_master_timers();
                self.stats.release_master += 1;
                self.enter_fault(out);
            }
            (State::Backup, true) => {
                self.log(out, format_args!("Entering FAULT STATE"));
                self.enter_fault(out);
            }
            (State::Fault, false) => {
                // keepalived try_up_instance -> vrrp_state_leave_fault.
                self.master_adver_int = self.cfg.adver_int;
                if self.want_master {
                    self.goto_master(now, out);
                    return;
                }
                self.log(out, format_args!("Entering BACKUP STATE"));
                self.state = State::Backup;
                self.preempt_time = None;
                self.notify(NotifyState::Backup, out);
                self.ms_down_timer = self.mdi();
                self.sands = Some(now + self.ms_down_timer);
            }
            _ => {}
        }
    }

    fn enter_fault(&mut self, out: &mut Vec<Action>) {
        self.state = State::Fault;
        self.sync_want_master = false;
        // keepalived's wantstate becomes FAULT: an owner comes back via BACKUP.
        self.want_master = false;
        self.sands = None;
        self.master_addr = None;
        self.notify(NotifyState::Fault, out);
    }

    /// keepalived `vrrp_set_effective_priority`.
    fn update_priority(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.base_priority == PRIO_OWNER {
            return;
        }
        let total = i64::from(self.base_priority) + i64::from(self.delta);
        let new = total.clamp(1, i64::from(PRIO_OWNER - 1)) as u8;
        if new == self.effective_priority {
            return;
        }
        self.log(
            out,
            format_args!(
                "Changing effective priority from {} to {}",
                self.effective_priority, new
            ),
        );
        self.effective_priority = new;
        let old = self.ms_down_timer;
        self.ms_down_timer = self.mdi();
        if self.state == State::Backup {
            // Shift the running master-down timer by the change in skew; a
            // shift into the past means it is due now (keepalived fires it at
            // once).
            if let Some(s) = self.sands {
                let shifted = if self.ms_down_timer >= old {
                    s + (self.ms_down_timer - old)
                } else {
                    s - (old - self.ms_down_timer)
                };
                self.sands = Some(shifted.max(now));
            }
        }
    }

    // -----------------------------------------------------------------------
    // Shutdown
    // -----------------------------------------------------------------------

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Master {
            // RFC 5798 6.4.3: send an advert with priority 0 on shutdown.
            self.send_advert(PRIO_STOP, out);
            self.log(out, format_args!("sent 0 priority"));
            out.push(Action::RemoveVips);
            self.stats.release_master += 1;
        }
        self.state = State::Stop;
        self.sands = None;
        self.clear_master_timers();
        self.notify(NotifyState::Stop, out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cfg() -> InstanceCfg {
        let mut c = InstanceCfg::new("VI_1", Version::V2, 51, vec![v4("192.168.200.16")]);
        c.src_addr = Some(v4("10.0.0.1"));
        c
    }

    fn at(s: f64) -> Instant {
        Instant::from_micros((s * 1e6) as u64)
    }

    fn advert(src: &str, priority: u8) -> Input {
        Input::Advert(RxAdvert {
            src: v4(src),
            priority,
            adver_int: Duration::from_secs(1),
        })
    }

    /// Runs timers up to `t`; returns the actions.
    fn run_to(i: &mut Instance, t: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(d) = i.next_deadline().filter(|d| *d <= t) {
            i.step_into(d, Input::Timer, &mut out);
        }
        out
    }

    #[test]
    fn validate_rejects_what_cannot_run() {
        let mut c = cfg();
        c.vrid = 0;
        assert_eq!(Instance::new(c).err(), Some(CfgError::Vrid));
        let mut c = cfg();
        c.adver_int = Duration::from_millis(1500);
        assert!(matches!(
            Instance::new(c).err(),
            Some(CfgError::AdverInt(_))
        ));
        let mut c = cfg();
        c.version = Version::V3;
        c.adver_int = Duration::from_millis(1500);
        assert!(Instance::new(c.clone()).is_ok());
        c.adver_int = Duration::from_millis(41_000);
        assert!(matches!(
            Instance::new(c).err(),
            Some(CfgError::AdverInt(_))
        ));
        let mut c = cfg();
        c.vips.push(v4("fd00::1"));
        assert!(matches!(
            Instance::new(c).err(),
            Some(CfgError::MixedFamily(_))
        ));
        let mut c = cfg();
        c.down_timer_adverts = 0;
        assert_eq!(Instance::new(c).err(), Some(CfgError::DownTimerAdverts(0)));
    }

    #[test]
    fn state_master_below_255_starts_as_backup() {
        let mut c = cfg();
        c.initial_state = InitialState::Master;
        c.priority = 200;
        let mut i = Instance::new(c).unwrap();
        i.step(at(0.0), Input::Startup);
        assert_eq!(i.state(), State::Backup);
        // Full master-down interval: 3 s + (56/256) s.
        assert_eq!(i.next_deadline(), Some(at(3.21875)));
    }

    #[test]
    fn sync_member_only_wants_master_until_the_group_says_go() {
        // keepalived vrrp_sync_can_goto_master: the timeout re-arms
        // 3 x Master_Adver_Interval + skew and waits for the group.
        let mut c = cfg();
        c.sync_group = true;
        let mut i = Instance::new(c).unwrap();
        i.step(at(0.0), Input::Startup);
        let acts = run_to(&mut i, at(3.7));
        assert_eq!(i.state(), State::Backup);
        assert!(i.wants_master());
        assert!(!acts.contains(&Action::AddVips));
        // skew at priority 100 = (256 - 100) / 256 s.
        let mdi = 3.0 + 156.0 / 256.0;
        assert_eq!(
            i.next_deadline(),
            Some(at(mdi) + Duration::from_secs(3) + Duration::from_secs_f64(156.0 / 256.0))
        );
        // A master is heard: no longer ready.
        i.step(at(4.0), advert("10.0.0.9", 100));
        assert!(!i.wants_master());
        // The group's word moves it, FAULT of the group is not its own.
        i.step(at(4.1), Input::GroupMaster);
        assert_eq!(i.state(), State::Master);
        i.step(at(4.2), Input::GroupBackup);
        assert_eq!(i.state(), State::Backup);
        i.step(at(4.3), Input::GroupFault(true));
        assert_eq!(i.state(), State::Fault);
        assert!(!i.own_fault());
        i.step(at(4.4), Input::GroupMaster);
        assert_eq!(i.state(), State::Fault);
        i.step(at(4.5), Input::GroupFault(false));
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn owner_after_fault_comes_back_through_backup() {
        // keepalived: down_instance sets wantstate FAULT, so try_up_instance
        // sends even an owner to BACKUP first.
        let mut c = cfg();
        c.initial_state = InitialState::Master;
        c.priority = 255;
        let mut i = Instance::new(c).unwrap();
        i.step(at(0.0), Input::Startup);
        run_to(&mut i, at(0.5));
        assert_eq!(i.state(), State::Master);
        let acts = i.step(at(1.0), Input::InterfaceDown);
        assert_eq!(acts[1], Action::SendAdvert { priority: 0 });
        i.step(at(2.0), Input::InterfaceUp);
        assert_eq!(i.state(), State::Backup);
        run_to(&mut i, at(5.1));
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn fault_from_master_sends_two_priority_zero_adverts_and_a_stop_one() {
        // keepalived 2.2.7 (captured): a master that faults resigns with
        // two priority-0 adverts back to back; one that stops with one; one
        // that faults while backup sends none.
        let master = || {
            let mut c = cfg();
            c.initial_state = InitialState::Master;
            c.priority = 150;
            let mut i = Instance::new(c).unwrap();
            i.step(at(0.0), Input::Startup);
            run_to(&mut i, at(4.0));
            assert_eq!(i.state(), State::Master);
            i
        };
        let zeros = |acts: &[Action]| {
            acts.iter()
                .filter(|a| **a == Action::SendAdvert { priority: 0 })
                .count()
        };
        let mut i = master();
        let sent = i.stats().pri_zero_sent;
        let acts = i.step(at(4.5), Input::TrackFault(true));
        assert_eq!(i.state(), State::Fault);
        assert_eq!(zeros(&acts), 2, "{acts:?}");
        assert_eq!(i.stats().pri_zero_sent, sent + 2);
        let mut i = master();
        let acts = i.step(at(4.5), Input::Shutdown);
        assert_eq!(zeros(&acts), 1, "{acts:?}");
        let mut i = Instance::new(cfg()).unwrap();
        i.step(at(0.0), Input::Startup);
        let acts = i.step(at(1.0), Input::TrackFault(true));
        assert_eq!(i.state(), State::Fault);
        assert_eq!(zeros(&acts), 0, "{acts:?}");
    }

    #[test]
    fn owner_down_at_startup_goes_master_when_up() {
        let mut c = cfg();
        c.initial_state = InitialState::Master;
        c.priority = 255;
        let mut i = Instance::new(c).unwrap();
        i.step(at(0.0), Input::InterfaceDown);
        i.step(at(0.0), Input::Startup);
        assert_eq!(i.state(), State::Fault);
        i.step(at(1.0), Input::InterfaceUp);
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn owner_priority_is_never_adjusted_and_others_are_clamped() {
        let mut c = cfg();
        c.priority = 255;
        let mut i = Instance::new(c).unwrap();
        assert!(i.step(at(0.0), Input::PriorityDelta(-100)).is_empty());
        assert_eq!(i.effective_priority(), 255);
        let mut i = Instance::new(cfg()).unwrap();
        i.step(at(0.0), Input::PriorityDelta(500));
        assert_eq!(i.effective_priority(), 254, "tracking cannot make an owner");
        i.step(at(0.0), Input::PriorityDelta(-500));
        assert_eq!(i.effective_priority(), 1);
    }

    #[test]
    fn nothing_happens_after_stop() {
        let mut i = Instance::new(cfg()).unwrap();
        i.step(at(0.0), Input::Startup);
        let acts = i.step(at(1.0), Input::Shutdown);
        assert_eq!(
            acts,
            vec![Action::Notify {
                state: NotifyState::Stop,
                priority: 100
            }]
        );
        for input in [
            Input::Startup,
            Input::Timer,
            Input::InterfaceDown,
            advert("10.0.0.2", 200),
            Input::Shutdown,
        ] {
            assert!(i.step(at(2.0), input).is_empty());
        }
        assert_eq!(i.next_deadline(), None);
    }

    #[test]
    fn late_timer_does_not_burst_adverts() {
        let mut i = Instance::new(cfg()).unwrap();
        i.step(at(0.0), Input::Startup);
        run_to(&mut i, at(3.7));
        assert_eq!(i.state(), State::Master);
        // The runtime wakes 10 s late: one advert, then back on a 1 s cadence from now.
        let acts = i.step(at(14.0), Input::Timer);
        let sent = acts
            .iter()
            .filter(|a| matches!(a, Action::SendAdvert { .. }))
            .count();
        assert_eq!(sent, 1);
        assert_eq!(i.timers().0, Some(at(15.0)));
    }

    #[test]
    fn reconfigure_keeps_state_and_readvertises() {
        let mut i = Instance::new(cfg()).unwrap();
        i.step(at(0.0), Input::Startup);
        run_to(&mut i, at(4.0));
        assert_eq!(i.state(), State::Master);
        let mut c = cfg();
        c.priority = 120;
        c.adver_int = Duration::from_secs(2);
        let acts = i.reconfigure(at(4.2), c).unwrap();
        assert_eq!(
            acts,
            vec![
                Action::Log("(VI_1) Changing effective priority from 100 to 120".into()),
                Action::SendAdvert { priority: 120 }
            ]
        );
        assert_eq!(i.state(), State::Master);
        assert_eq!(i.timers().0, Some(at(6.2)));
        let mut other = cfg();
        other.vrid = 52;
        assert_eq!(i.reconfigure(at(5.0), other), Err(CfgError::Identity));
        // A BACKUP keeps following its master; its timer moves with the skew.
        let mut b = Instance::new(cfg()).unwrap();
        b.step(at(0.0), Input::Startup);
        b.step(at(1.0), advert("10.0.0.2", 200));
        assert_eq!(b.next_deadline(), Some(at(4.609375)));
        let mut c = cfg();
        c.priority = 128;
        b.reconfigure(at(1.5), c).unwrap();
        assert_eq!(b.state(), State::Backup);
        assert_eq!(b.next_deadline(), Some(at(4.5)));
        assert_eq!(b.master(), Some((v4("10.0.0.2"), 200)));
    }

    #[test]
    fn advert_template_carries_config() {
        let mut c = cfg();
        c.auth = AuthCfg::Pass(*b"secret\0\0");
        let a = c.advert(77);
        assert_eq!((a.vrid, a.priority, a.adver_int), (51, 77, 1));
        assert_eq!(a.auth_type, packet::AuthType::Pass);
        assert_eq!(&a.auth_data, b"secret\0\0");
        let mut c = cfg();
        c.version = Version::V3;
        c.adver_int = Duration::from_millis(250);
        assert_eq!(c.advert(1).adver_int, 25);
    }
}
