//! The VRRP runtime: one tokio task per `vrrp_instance`, each the single
//! owner of its state machine, sockets, VIPs and timers (holo's pattern).
//! A task waits on its advert socket, its control channel and its next
//! deadline; every event becomes a synchronous `fsm::Instance::step` and
//! the resulting actions are executed here (send, VIPs, GARP/NA, notify).
//! No lock is held across an await; dropping the runtime aborts the tasks.

use crate::auth::AhTx;
use crate::check::{AuthCfg, DropReason, Receiver, RxError, RxStats};
use crate::fsm::{Action, FsmStats, Input, Instance, NotifyState, State};
use crate::io::garp::FrameSender;
use crate::io::garp_plan::GarpPacer;
use crate::io::netlink::{LinkEvent, LinkMonitor, Netlink, Vip};
use crate::io::notify;
use crate::io::socket::{RecvMeta, VrrpSocket};
use crate::io::IoError;
use crate::packet::{parse_ipv4, Ipv4Rx};
use crate::timers;
use futures::channel::mpsc;
use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;
use tracing::{debug, info, warn};

pub mod group;
mod report;
mod spec;
pub mod track;
pub use report::{render_data, render_stats};
pub use spec::{InstanceSpec, SpecError};
use track::TrackKind;

#[cfg(test)]
mod lab_tests;

/// Errors that stop the runtime from starting.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("({instance}) {source}")]
    Io {
        instance: String,
        #[source]
        source: IoError,
    },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{0}")]
    Setup(IoError),
}

/// Daemon-level switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeOpts {
    /// Remove VIPs on stop (false with `-V/--dont-release-vrrp`).
    pub release_on_stop: bool,
}

impl Default for RuntimeOpts {
    fn default() -> Self {
        RuntimeOpts {
            release_on_stop: true,
        }
    }
}

/// Messages to an instance task.
#[derive(Debug)]
pub enum InstanceMsg {
    /// Link state of an interface changed.
    Link {
        ifindex: u32,
        name: String,
        up: bool,
    },
    /// A tracked object (vrrp_script, interface) changed state.
    Track {
        kind: TrackKind,
        name: String,
        up: bool,
    },
    /// A tracked file (`track_file`) holds a new value.
    TrackValue { name: String, value: i64 },
    /// Stop: resign (priority 0) if master, remove VIPs, run notify_stop,
    /// then acknowledge.
    Stop(oneshot::Sender<()>),
    /// Report state and counters.
    Status(oneshot::Sender<InstanceStatus>),
    /// Its sync group's decision ([`Input::GroupMaster`] etc.).
    Group(Input),
    /// Join a sync group's coordinator (on start and reload): the task
    /// reports its state now and after every change.
    SetGroup(group::GroupLink),
}

/// What an instance reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    pub name: String,
    pub state: State,
    pub version: u8,
    pub vrid: u8,
    pub interface: String,
    pub src: IpAddr,
    pub priority: u8,
    pub effective_priority: u8,
    pub advert_int: Duration,
    /// Receive checks: valid adverts and drops per reason.
    pub rx: RxStats,
    /// State machine counters (adverts sent, became master, ...).
    pub fsm: FsmStats,
}

/// A state transition of one instance, as its notify scripts see it: what
/// keepalived's `notify_fifo` would carry. The LVS side follows these to run
/// `lvs_sync_daemon` as master or backup with its VRRP instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEvent {
    pub instance: String,
    pub state: NotifyState,
    pub priority: u8,
}

/// How many transitions a slow subscriber may fall behind before it sees
/// `Lagged` (and should ask `status()` instead): one per instance of a large
/// configuration all becoming master at once.
const STATE_EVENTS_CAP: usize = 1024;

/// A task handle that aborts the task when dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct InstanceHandle {
    name: String,
    /// Fingerprint of the configuration it runs (spans removed), to match
    /// on reload.
    key: CfgKey,
    tracking: track::Tracking,
    tx: CtlTx,
    task: Option<AbortOnDrop>,
}

/// Every instance of a configuration, running.
pub struct Runtime {
    instances: Vec<InstanceHandle>,
    scripts: Vec<AbortOnDrop>,
    /// One coordinator task per `vrrp_sync_group`: name, channel, task.
    groups: Vec<(String, mpsc::UnboundedSender<group::GroupMsg>, AbortOnDrop)>,
    nl: Arc<Netlink>,
    frames: Arc<FrameSender>,
    epoch: TokioInstant,
    opts: RuntimeOpts,
    subscribers: Subscribers,
    states: broadcast::Sender<StateEvent>,
    _link_monitor: LinkMonitor,
    _link_pump: AbortOnDrop,
}

/// A fingerprint of an instance's configuration with every source span
/// removed: two loads of the same instance compare equal even when its lines
/// moved. Kept per running instance to match it on reload; the stripped JSON
/// tree itself was 11 MiB of the daemon's heap at 1,000 instances
/// (heaptrack), a 128-bit hash is 16 bytes. Two different configurations
/// collide with probability about 2^-128, i.e. never in practice.
fn cfg_key(cfg: &confparse::model::VrrpInstanceCfg) -> CfgKey {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("span");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(cfg).unwrap_or(serde_json::Value::Null);
    strip(&mut v);
    // Two SipHash states, the second fed a prefix byte first, make the 128
    // bits (streaming: the chunks serde_json writes do not matter).
    let mut w = KeyWriter(DefaultHasher::new(), DefaultHasher::new());
    w.1.write_u8(0x5a);
    if serde_json::to_writer(&mut w, &v).is_err() {
        // Not reachable for a Value; an unmatchable key restarts the
        // instance on reload, the safe side.
        return CfgKey(u64::MAX, rand::random());
    }
    CfgKey(w.0.finish(), w.1.finish())
}

/// See [`cfg_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CfgKey(u64, u64);

/// Feeds serialized JSON into the two hashers of [`cfg_key`].
struct KeyWriter(DefaultHasher, DefaultHasher);

impl std::io::Write for KeyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        self.1.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The senders the link pump fans out to; replaced on reload.
type Subscribers = Arc<std::sync::Mutex<Vec<CtlTx>>>;

/// The sending side of an instance's control channel. futures' bounded
/// channel rather than tokio's: tokio's allocates a block of 32 message
/// slots with every channel (1.5 MiB of heap at 1,000 instances, heaptrack),
/// futures' queues one node per message in flight.
#[derive(Debug, Clone)]
pub struct CtlTx(mpsc::Sender<InstanceMsg>);

impl CtlTx {
    /// Sends `msg`, waiting while the instance's queue is full; false once
    /// the instance has ended.
    pub async fn send(&self, msg: InstanceMsg) -> bool {
        // futures' `send` needs its own sender; a clone is one small
        // allocation on these rare messages (link, track, status, stop).
        let mut tx = self.0.clone();
        futures::SinkExt::send(&mut tx, msg).await.is_ok()
    }
}

impl Runtime {
    /// Resolves interfaces and addresses, opens sockets, removes VIPs left
    /// over from an earlier run and starts one task per instance. Needs a
    /// tokio runtime and CAP_NET_ADMIN + CAP_NET_RAW.
    pub async fn start(
        model: &confparse::Model,
        opts: RuntimeOpts,
    ) -> Result<Runtime, RuntimeError> {
        let nl = Arc::new(Netlink::open().map_err(RuntimeError::Setup)?);
        let frames = Arc::new(FrameSender::open().map_err(RuntimeError::Setup)?);
        let (monitor, mut link_rx) = LinkMonitor::spawn().map_err(RuntimeError::Setup)?;
        let epoch = TokioInstant::now();
        let subscribers: Subscribers = Arc::default();
        // Link events fan out to every instance; each keeps what concerns it.
        let subs = subscribers.clone();
        let pump = tokio::spawn(async move {
            while let Some(ev) = link_rx.recv().await {
                let (ifindex, name, up) = match ev {
                    LinkEvent::Changed(l) => (l.index, l.name, l.up),
                    LinkEvent::Deleted { index, name } => (index, name, false),
                };
                // Clone the list: no lock is held across the sends.
                let txs = subs.lock().map(|v| v.clone()).unwrap_or_default();
                for tx in &txs {
                    let msg = InstanceMsg::Link {
                        ifindex,
                        name: name.clone(),
                        up,
                    };
                    tx.send(msg).await;
                }
            }
        });
        let mut rt = Runtime {
            instances: Vec::new(),
            scripts: Vec::new(),
            groups: Vec::new(),
            nl,
            frames,
            epoch,
            opts,
            subscribers,
            states: broadcast::channel(STATE_EVENTS_CAP).0,
            _link_monitor: monitor,
            _link_pump: AbortOnDrop(pump),
        };
        for cfg in &model.instances {
            let h = rt.spawn_instance(model, cfg).await?;
            rt.instances.push(h);
        }
        rt.restart_scripts(model);
        rt.restart_groups(model).await;
        Ok(rt)
    }

    async fn spawn_instance(
        &self,
        model: &confparse::Model,
        cfg: &confparse::model::VrrpInstanceCfg,
    ) -> Result<InstanceHandle, RuntimeError> {
        let spec = InstanceSpec::resolve(model, cfg, &self.nl).await?;
        let name = spec.name.clone();
        let tracking = spec.tracking.clone();
        let task = InstanceTask::new(
            spec,
            self.nl.clone(),
            self.frames.clone(),
            self.epoch,
            self.opts,
            self.states.clone(),
        )?;
        let (tx, rx) = mpsc::channel(64);
        let tx = CtlTx(tx);
        let handle = tokio::spawn(Box::new(task).run(rx));
        Ok(InstanceHandle {
            name,
            key: cfg_key(cfg),
            tracking,
            tx,
            task: Some(AbortOnDrop(handle)),
        })
    }

    /// One runner per vrrp_script and one watcher per track_file that some
    /// instance tracks; the link pump learns the current instances too.
    fn restart_scripts(&mut self, model: &confparse::Model) {
        self.scripts.clear();
        let instances = &self.instances;
        let subs = |kind: TrackKind, name: &str| -> Vec<CtlTx> {
            instances
                .iter()
                .filter(|i| i.tracking.tracks(kind, name))
                .map(|i| i.tx.clone())
                .collect()
        };
        for sc in spec::scripts(model) {
            let subs = subs(TrackKind::Script, &sc.name);
            if !subs.is_empty() {
                self.scripts
                    .push(AbortOnDrop(tokio::spawn(track::run_script(sc, subs))));
            }
        }
        for f in spec::files(model) {
            let subs = subs(TrackKind::File, &f.name);
            if !subs.is_empty() {
                self.scripts
                    .push(AbortOnDrop(tokio::spawn(track::run_file(f, subs))));
            }
        }
        let txs = self.instances.iter().map(|i| i.tx.clone()).collect();
        if let Ok(mut v) = self.subscribers.lock() {
            *v = txs;
        }
    }

    /// Applies a new configuration (SIGHUP): instances whose configuration
    /// is unchanged keep running untouched (state, timers, VIPs); removed or
    /// changed ones stop as on SIGTERM (priority 0, VIPs removed) and new or
    /// changed ones start in BACKUP. keepalived matches instances by VRID,
    /// family and interface and keeps the state of a changed one; here a
    /// changed instance restarts. Returns the names (kept, stopped, started).
    pub async fn reload(
        &mut self,
        model: &confparse::Model,
    ) -> Result<(Vec<String>, Vec<String>, Vec<String>), RuntimeError> {
        let new_keys: Vec<CfgKey> = model.instances.iter().map(cfg_key).collect();
        let old = std::mem::take(&mut self.instances);
        let (keep, gone): (Vec<InstanceHandle>, Vec<InstanceHandle>) =
            old.into_iter().partition(|h| new_keys.contains(&h.key));
        let stopped: Vec<String> = gone.iter().map(|h| h.name.clone()).collect();
        stop_all(gone).await;
        let kept: Vec<String> = keep.iter().map(|h| h.name.clone()).collect();
        self.instances = keep;
        let mut started = Vec::new();
        for (cfg, key) in model.instances.iter().zip(&new_keys) {
            if self.instances.iter().any(|h| &h.key == key) {
                continue;
            }
            let h = self.spawn_instance(model, cfg).await?;
            started.push(h.name.clone());
            self.instances.push(h);
        }
        self.restart_scripts(model);
        self.restart_groups(model).await;
        Ok((kept, stopped, started))
    }

    /// One coordinator per `vrrp_sync_group` (confparse has removed groups
    /// without members and kept each instance in one group at most); each
    /// member is told its new link and reports its state to it at once, so
    /// a reload rebuilds every group from its members' current states
    /// (without running the notifies of a group that existed already).
    async fn restart_groups(&mut self, model: &confparse::Model) {
        let old: Vec<String> = self.groups.drain(..).map(|g| g.0).collect();
        for sg in &model.sync_groups {
            let members: Vec<CtlTx> = sg
                .group
                .iter()
                .filter_map(|m| self.instances.iter().find(|h| &h.name == m))
                .map(|h| h.tx.clone())
                .collect();
            if members.is_empty() {
                continue;
            }
            let (tx, rx) = mpsc::unbounded();
            for (idx, m) in members.iter().enumerate() {
                let link = group::GroupLink {
                    idx,
                    tx: tx.clone(),
                };
                m.send(InstanceMsg::SetGroup(link)).await;
            }
            let coordinator = if old.contains(&sg.name) {
                group::Group::resumed(&sg.name, members.len())
            } else {
                group::Group::new(&sg.name, members.len())
            };
            let cmds = spec::notify_cmds(&sg.notify);
            let task = tokio::spawn(group::run(coordinator, members, cmds, rx));
            self.groups.push((sg.name.clone(), tx, AbortOnDrop(task)));
        }
    }

    /// Every state transition of every instance from now on (instances
    /// started by a later reload included).
    pub fn subscribe_states(&self) -> broadcast::Receiver<StateEvent> {
        self.states.subscribe()
    }

    /// Names of the running instances.
    pub fn instance_names(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.name.clone()).collect()
    }

    /// The state and counters of every instance.
    pub async fn status(&self) -> Vec<InstanceStatus> {
        let mut out = Vec::new();
        for i in &self.instances {
            let (tx, rx) = oneshot::channel();
            if i.tx.send(InstanceMsg::Status(tx)).await {
                if let Ok(s) = rx.await {
                    out.push(s);
                }
            }
        }
        out
    }

    /// Stops every instance (priority-0 adverts, VIPs removed) and waits
    /// for each, at most 5 s in all.
    pub async fn stop(mut self) {
        stop_all(std::mem::take(&mut self.instances)).await;
        // Then the groups' STOP notifies (keepalived notify_shutdown runs
        // them after the instances').
        for (_, tx, _task) in &self.groups {
            let (ack, done) = oneshot::channel();
            if tx.unbounded_send(group::GroupMsg::Stop(ack)).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(1), done).await;
            }
        }
    }
}

/// Stops instances (priority-0 adverts, VIPs removed) and waits for each,
/// at most 5 s in all.
async fn stop_all(mut instances: Vec<InstanceHandle>) {
    let mut acks = Vec::new();
    for i in &instances {
        let (tx, rx) = oneshot::channel();
        if i.tx.send(InstanceMsg::Stop(tx)).await {
            acks.push(rx);
        }
    }
    let all = futures::future::join_all(acks);
    if tokio::time::timeout(Duration::from_secs(5), all)
        .await
        .is_err()
    {
        warn!("some VRRP instances did not stop within 5 s");
    }
    for i in &mut instances {
        if let Some(mut t) = i.task.take() {
            // Let a finished task end normally; abort the rest on drop.
            let _ =
                tokio::time::timeout(Duration::from_millis(100), async { (&mut t.0).await }).await;
            drop(t);
        }
    }
}

/// What woke an instance's task.
enum Wake {
    Packet(Result<(Vec<u8>, RecvMeta), IoError>),
    Ctl(Option<InstanceMsg>),
    Due,
}

/// The state of one instance's task.
struct InstanceTask {
    spec: InstanceSpec,
    fsm: Instance,
    rx: Receiver,
    sock: VrrpSocket,
    nl: Arc<Netlink>,
    frames: Arc<FrameSender>,
    epoch: TokioInstant,
    opts: RuntimeOpts,
    garp: GarpPacer<TokioInstant>,
    vips_installed: bool,
    actions: Vec<Action>,
    track_fault: bool,
    track_delta: i32,
    states: broadcast::Sender<StateEvent>,
    /// Its sync group's coordinator and the state last reported to it.
    group: Option<(group::GroupLink, group::MemberView)>,
    /// `auth_type AH`: the IP id and AH sequence counters of our adverts.
    ah: Option<AhTx>,
}

impl InstanceTask {
    fn new(
        spec: InstanceSpec,
        nl: Arc<Netlink>,
        frames: Arc<FrameSender>,
        epoch: TokioInstant,
        opts: RuntimeOpts,
        states: broadcast::Sender<StateEvent>,
    ) -> Result<Self, RuntimeError> {
        let fsm = Instance::new(spec.fsm.clone()).map_err(|source| {
            RuntimeError::Spec(SpecError::Cfg {
                instance: spec.name.clone(),
                source,
            })
        })?;
        let sock = VrrpSocket::open(spec.socket.clone()).map_err(|source| RuntimeError::Io {
            instance: spec.name.clone(),
            source,
        })?;
        let rx = Receiver::new(fsm.cfg().rx_cfg());
        let ah = match (&spec.fsm.auth, spec.socket.ah) {
            (AuthCfg::Ah(key), true) => Some(AhTx::new(*key)),
            _ => None,
        };
        Ok(InstanceTask {
            ah,
            spec,
            fsm,
            rx,
            sock,
            nl,
            frames,
            epoch,
            opts,
            garp: GarpPacer::new(),
            vips_installed: false,
            actions: Vec::new(),
            track_fault: false,
            track_delta: 0,
            states,
            group: None,
        })
    }

    fn now(&self) -> timers::Instant {
        timers::Instant::from_duration(TokioInstant::now().saturating_duration_since(self.epoch))
    }

    /// Steps the state machine and performs what it asks for.
    async fn step(&mut self, input: Input) {
        let now = self.now();
        let mut actions = std::mem::take(&mut self.actions);
        self.fsm.step_into(now, input, &mut actions);
        for a in actions.drain(..) {
            self.perform(a).await;
        }
        self.actions = actions;
        self.report_to_group(false);
    }

    /// Tells the sync group's coordinator this member's state when it
    /// changed (or always, with `force`).
    fn report_to_group(&mut self, force: bool) {
        let Some((link, last)) = &mut self.group else {
            return;
        };
        let view = group::MemberView {
            state: self.fsm.state(),
            own_fault: self.fsm.own_fault(),
            want_master: self.fsm.wants_master(),
        };
        if force || view != *last {
            *last = view;
            // Fails only once the group's task is gone (reload, stop).
            let _ = link
                .tx
                .unbounded_send(group::GroupMsg::View(link.idx, view));
        }
    }

    async fn run(mut self: Box<Self>, mut ctl: mpsc::Receiver<InstanceMsg>) {
        // Every instance's task lives as long as the daemon, so the size of
        // this future is paid 1,000 times at 1,000 instances: the rare paths
        // (start, control messages, errors) run as boxed futures, the loop
        // waits on one sleep, and only the hot ones (timer, packet) are
        // inline.
        Box::pin(self.start_up()).await;
        loop {
            let fsm_due = self
                .fsm
                .next_deadline()
                .map(|t| self.epoch + t.as_duration());
            let garp_due = self.garp.next_due();
            let due = match (fsm_due, garp_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wake = tokio::select! {
                r = self.sock.recv() => Wake::Packet(r),
                m = futures::StreamExt::next(&mut ctl) => Wake::Ctl(m),
                _ = sleep_until_opt(due) => Wake::Due,
            };
            match wake {
                Wake::Packet(Ok((pkt, meta))) => self.process_vrrp_packet(&pkt, meta).await,
                Wake::Packet(Err(e)) => {
                    warn!("({}) {e}", self.spec.name);
                    Box::pin(tokio::time::sleep(Duration::from_millis(100))).await;
                }
                Wake::Ctl(Some(msg)) => {
                    if !Box::pin(self.process_msg(msg)).await {
                        return;
                    }
                }
                Wake::Ctl(None) => return,
                Wake::Due => {
                    // The sleep ends at or after `due`; whichever of the two
                    // deadlines has passed is served (both when equal).
                    let now = TokioInstant::now();
                    if fsm_due.is_some_and(|t| t <= now) {
                        self.step(Input::Timer).await;
                    }
                    if garp_due.is_some_and(|t| t <= now) {
                        self.send_due_garps();
                    }
                }
            }
        }
    }

    /// The state an instance starts in: FAULT when its interface is down
    /// (as keepalived), tracked objects applied, then the state machine's
    /// Startup event.
    async fn start_up(&mut self) {
        if !self.spec.link_up && !self.spec.dont_track_primary {
            self.step(Input::InterfaceDown).await;
        }
        self.apply_tracking().await;
        self.step(Input::Startup).await;
    }

    /// One control message; false once the task is to end (stop).
    async fn process_msg(&mut self, msg: InstanceMsg) -> bool {
        match msg {
            InstanceMsg::Link { ifindex, name, up } => {
                self.process_track(TrackKind::Interface, &name, up).await;
                self.process_link(ifindex, up).await;
            }
            InstanceMsg::Track { kind, name, up } => self.process_track(kind, &name, up).await,
            InstanceMsg::TrackValue { name, value } => {
                if self.spec.tracking.set_value(&name, value) {
                    self.apply_tracking().await;
                }
            }
            InstanceMsg::Status(tx) => {
                let _ = tx.send(self.status());
            }
            InstanceMsg::Group(input) => self.step(input).await,
            InstanceMsg::SetGroup(link) => {
                self.group = Some((link, group::MemberView::INIT));
                self.report_to_group(true);
            }
            InstanceMsg::Stop(ack) => {
                self.process_stop().await;
                let _ = ack.send(());
                return false;
            }
        }
        true
    }

    fn status(&self) -> InstanceStatus {
        let cfg = self.fsm.cfg();
        InstanceStatus {
            name: self.spec.name.clone(),
            state: self.fsm.state(),
            version: cfg.version.number(),
            vrid: cfg.vrid,
            interface: self.spec.socket.ifname.clone(),
            src: self.spec.socket.src,
            priority: cfg.priority,
            effective_priority: self.fsm.effective_priority(),
            advert_int: cfg.adver_int,
            rx: self.rx.stats().clone(),
            fsm: self.fsm.stats().clone(),
        }
    }

    /// One packet from the advert socket: receive checks (counted per
    /// reason by the receiver), then the state machine.
    async fn process_vrrp_packet(&mut self, buf: &[u8], meta: RecvMeta) {
        let master = self.fsm.followed_master();
        let res = match meta {
            // `buf` is exactly what the read returned (socket.rs copies it
            // out at its length).
            RecvMeta::V4 { .. } => self.rx.check_ipv4(buf, master),
            RecvMeta::V6 { meta, .. } => self.rx.check_ipv6(buf, &meta, master),
        };
        match res {
            Ok(adv) => {
                if let Some(ah) = self.ah.as_mut() {
                    // keepalived's one AH counter also follows accepted
                    // peers' numbers, and holds what we sent: an advert at
                    // or below it is a replay, dropped (vrrp_in_chk_ipsecah
                    // "sequence number already processed").
                    if let Ok(Ipv4Rx { ah: Some(h), .. }) = parse_ipv4(buf) {
                        if h.seq <= ah.seq() {
                            debug!(
                                "({}) IPSEC-AH: sequence number {} already processed (local {})",
                                self.spec.name,
                                h.seq,
                                ah.seq()
                            );
                            return;
                        }
                        ah.saw(h.seq);
                    }
                }
                self.step(Input::Advert(adv)).await
            }
            Err(RxError::Vrid(_)) => {}
            Err(e) => debug!("({}) {e}", self.spec.name),
        }
    }

    /// A tracked object changed: recompute FAULT and the priority delta.
    async fn process_track(&mut self, kind: TrackKind, name: &str, up: bool) {
        if self.spec.tracking.set(kind, name, up) {
            self.apply_tracking().await;
        }
    }

    async fn apply_tracking(&mut self) {
        if self.spec.tracking.is_empty() {
            return;
        }
        let (fault, delta) = self.spec.tracking.evaluate();
        if fault != self.track_fault {
            self.track_fault = fault;
            self.step(Input::TrackFault(fault)).await;
        }
        if delta != self.track_delta {
            self.track_delta = delta;
            self.step(Input::PriorityDelta(delta)).await;
        }
    }

    async fn process_link(&mut self, ifindex: u32, up: bool) {
        if ifindex != self.spec.socket.ifindex || self.spec.dont_track_primary {
            return;
        }
        let state = self.fsm.state();
        // Only transitions matter; repeated notifications are common.
        if up == (state != State::Fault) {
            return;
        }
        if !up {
            info!("Netlink reports {} down", self.spec.socket.ifname);
        } else {
            info!("Netlink reports {} up", self.spec.socket.ifname);
        }
        self.step(if up {
            Input::InterfaceUp
        } else {
            Input::InterfaceDown
        })
        .await;
    }

    async fn process_stop(&mut self) {
        self.step(Input::Shutdown).await;
        if self.opts.release_on_stop && self.vips_installed {
            self.remove_vips().await;
        }
        info!("{}", self.stats_line());
    }

    /// One line with the receive counters: valid adverts and every drop
    /// reason seen (keepalived's stats names).
    fn stats_line(&self) -> String {
        let st = self.rx.stats();
        let mut line = format!(
            "({}) adverts received {}, dropped {}",
            self.spec.name,
            st.adverts,
            st.total_dropped()
        );
        for r in DropReason::ALL {
            let n = st.dropped(r);
            if n > 0 {
                line.push_str(&format!(" {}={n}", r.name()));
            }
        }
        line
    }

    async fn perform(&mut self, a: Action) {
        match a {
            Action::SendAdvert { priority } => self.send_advert(priority),
            Action::AddVips => self.add_vips().await,
            Action::RemoveVips => {
                // On stop with -V the VIPs stay (keepalived --dont-release-vrrp).
                if self.opts.release_on_stop || self.fsm.state() != State::Stop {
                    self.remove_vips().await;
                }
            }
            Action::SendGarp { count, spacing } => {
                let n = self.spec.vips.len() + self.spec.evips.len();
                if count > 0 && n > 0 {
                    let names: Vec<String> = self
                        .spec
                        .vips
                        .iter()
                        .chain(&self.spec.evips)
                        .map(|v| v.addr.to_string())
                        .collect();
                    // keepalived 2.2.7's wording per family (checked).
                    let what = match self.spec.fsm.family {
                        crate::packet::Family::V4 => "gratuitous ARPs",
                        crate::packet::Family::V6 => "Unsolicited Neighbour Adverts",
                    };
                    info!(
                        "({}) Sending/queueing {what} on {} for {}",
                        self.spec.name,
                        self.spec.socket.ifname,
                        names.join(" ")
                    );
                    self.garp.queue(TokioInstant::now(), count, n, spacing);
                    self.send_due_garps();
                }
            }
            Action::Notify { state, priority } => self.notify(state, priority),
            Action::NotifyMasterRxLowerPri { .. } => {
                if let Some(c) = &self.spec.notify.master_rx_lower_pri {
                    notify::spawn(c);
                }
            }
            Action::Log(line) => info!("{line}"),
        }
        if self.fsm.state() != State::Master {
            self.garp.clear();
        }
    }

    fn notify(&self, state: NotifyState, priority: u8) {
        // No subscriber is not an error: the send only fails then.
        let _ = self.states.send(StateEvent {
            instance: self.spec.name.clone(),
            state,
            priority,
        });
        self.spec
            .notify
            .run(spec::Notifier::Instance, &self.spec.name, state, priority);
    }

    fn send_advert(&mut self, priority: u8) {
        if let Some(ah) = self.ah.as_mut() {
            ah.next_round();
        }
        for dst in self.spec.socket.destinations() {
            let pkt = match (&self.ah, self.spec.socket.src, dst) {
                (Some(ah), IpAddr::V4(src), IpAddr::V4(d)) => {
                    let unicast = self.spec.socket.is_unicast();
                    // RFC 3768 5.2.3: multicast adverts go out with TTL 255;
                    // keepalived uses unicast_ttl towards peers.
                    let ttl = if unicast {
                        self.spec.socket.unicast_ttl
                    } else {
                        crate::io::socket::VRRP_TTL
                    };
                    ah.packet(&self.spec.fsm.advert(priority), src, d, ttl, unicast)
                }
                _ => self.spec.advert(priority, dst),
            };
            match pkt {
                Ok(pkt) => {
                    if let Err(e) = self.sock.send_to(&pkt, dst) {
                        debug!("({}) {e}", self.spec.name);
                    }
                }
                Err(e) => warn!("({}) cannot encode advert: {e}", self.spec.name),
            }
        }
    }

    async fn add_vips(&mut self) {
        info!("({}) setting VIPs.", self.spec.name);
        for v in self.spec.vips.iter().chain(&self.spec.evips) {
            if let Err(e) = self.nl.add_vip(v).await {
                warn!("({}) {e}", self.spec.name);
            }
        }
        self.vips_installed = true;
    }

    async fn remove_vips(&mut self) {
        info!("({}) removing VIPs.", self.spec.name);
        for v in self.spec.vips.iter().chain(&self.spec.evips) {
            if let Err(e) = self.nl.del_vip(v).await {
                warn!("({}) {e}", self.spec.name);
            }
        }
        self.vips_installed = false;
    }

    /// Sends the GARPs (IPv4) / unsolicited NAs (IPv6) now due.
    fn send_due_garps(&mut self) {
        let due = self.garp.take_due(TokioInstant::now());
        let all: Vec<&Vip> = self.spec.vips.iter().chain(&self.spec.evips).collect();
        for i in due {
            let Some(v) = all.get(i) else { continue };
            let Some(mac) = self.spec.mac_of(v.ifindex) else {
                continue;
            };
            let res = match v.addr {
                IpAddr::V4(a) => {
                    info!("Sending gratuitous ARP on {} for {a}", v.ifname);
                    self.frames.send_garp(v.ifindex, mac, a)
                }
                IpAddr::V6(a) => {
                    let Some(src) = self.spec.link_local_of(v.ifindex) else {
                        continue;
                    };
                    info!(
                        "Sending unsolicited Neighbour Advert on {} for {a}",
                        v.ifname
                    );
                    let router = Netlink::ipv6_forwarding(&v.ifname);
                    self.frames.send_na(v.ifindex, mac, src, a, router)
                }
            };
            if let Err(e) = res {
                debug!("({}) {e}", self.spec.name);
            }
        }
    }
}

async fn sleep_until_opt(t: Option<TokioInstant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
