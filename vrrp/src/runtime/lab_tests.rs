//! Lab tests of the runtime alone (no config parser, no daemon): two
//! runtimes, each on a thread inside its own lab namespace, elect a master,
//! fail over on a stop, and count hostile packets. They need root.

use super::{InstanceStatus, Runtime, RuntimeOpts, StateEvent};
use crate::check::DropReason;
use crate::fsm::{NotifyState, State};
use crate::packet::{Addrs, Advert, AuthType, Checksum, Version};
use confparse::model::{
    AuthCfg, AuthTypeCfg, Model, NotifyCfg, ScriptCfg, TrackRefCfg, VipCfg, VrrpInstanceCfg,
    VrrpScriptCfg, VrrpStateCfg,
};
use confparse::{FileId, Span};
use std::net::IpAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;
use testlab::netns::{Lab, Topology};
use testlab::Need;

const NEEDS: &[Need] = &[Need::Root, Need::Program("ip")];

fn span() -> Span {
    Span::new(FileId(0), 1, 1, 0)
}

/// A v2 instance on eth0 with keepalived's defaults.
pub(crate) fn instance(vrid: u8, priority: u8, vip: &str, version: u8) -> VrrpInstanceCfg {
    let (addr, prefix) = vip.split_once('/').unwrap_or((vip, "32"));
    let addr: IpAddr = addr.parse().unwrap_or_else(|e| panic!("{vip}: {e}"));
    let prefix: u8 = prefix.parse().unwrap_or(32);
    VrrpInstanceCfg {
        name: format!("VI_{vrid}"),
        state: VrrpStateCfg::Backup,
        interface: Some("eth0".into()),
        vrid,
        priority,
        version,
        ipv6: addr.is_ipv6(),
        advert_int: Duration::from_secs(1),
        auth: (version == 2).then(|| AuthCfg {
            auth_type: AuthTypeCfg::Pass,
            auth_pass: b"s3cr3t".to_vec(),
        }),
        vips: vec![VipCfg {
            addr,
            prefix,
            dev: None,
            label: None,
            broadcast: None,
            scope: None,
            peer: None,
            flags: Vec::new(),
            preferred_lft: None,
            no_track: false,
            use_vmac: false,
            track_group: None,
            span: span(),
        }],
        evips: Vec::new(),
        routes: Vec::new(),
        rules: Vec::new(),
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_files: Vec::new(),
        track_processes: Vec::new(),
        track_bfds: Vec::new(),
        dont_track_primary: false,
        track_src_ip: false,
        mcast_src_ip: None,
        mcast_dst_ip: None,
        unicast_src_ip: None,
        unicast_peers: Vec::new(),
        unicast_ttl: 255,
        unicast_fault_no_peer: false,
        check_unicast_src: false,
        use_vmac: None,
        vmac_xmit_base: false,
        accept: true,
        strict_mode: false,
        skip_check_adv_addr: false,
        promote_secondaries: false,
        garp_master_delay: Duration::from_secs(5),
        garp_master_repeat: 5,
        garp_master_refresh: Duration::ZERO,
        garp_master_refresh_repeat: 1,
        garp_lower_prio_delay: Duration::from_secs(5),
        garp_lower_prio_repeat: 5,
        down_timer_adverts: 3,
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        notify: NotifyCfg::default(),
        smtp_alert: false,
        sync_group: None,
        other: Vec::new(),
        span: span(),
    }
}

pub(crate) enum Cmd {
    Stop,
    Status(mpsc::Sender<Vec<InstanceStatus>>),
    Reload(Box<Model>, mpsc::Sender<Result<(), String>>),
}

/// A runtime running `model` on a thread inside namespace `ns`; dropping
/// the handle (or `stop`) stops it the way SIGTERM does.
pub(crate) struct InNs {
    /// Every state transition seen through `Runtime::subscribe_states`.
    events: Arc<Mutex<Vec<StateEvent>>>,
    stop: Option<mpsc::Sender<Cmd>>,
    thread: Option<thread::JoinHandle<Result<(), String>>>,
}

impl InNs {
    pub(crate) fn start(ns: &str, model: Model) -> InNs {
        let (stop_tx, stop_rx) = mpsc::channel::<Cmd>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let ns = ns.to_string();
        let events: Arc<Mutex<Vec<StateEvent>>> = Arc::default();
        let seen = events.clone();
        let thread = thread::spawn(move || -> Result<(), String> {
            let f = std::fs::File::open(format!("/run/netns/{ns}")).map_err(|e| e.to_string())?;
            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| e.to_string())?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let mut r = match Runtime::start(&model, RuntimeOpts::default()).await {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return Err(e.to_string());
                    }
                };
                let mut states = r.subscribe_states();
                tokio::spawn(async move {
                    while let Ok(ev) = states.recv().await {
                        if let Ok(mut v) = seen.lock() {
                            v.push(ev);
                        }
                    }
                });
                let _ = ready_tx.send(Ok(()));
                // Poll the std channel without blocking the runtime.
                loop {
                    match stop_rx.try_recv() {
                        Err(mpsc::TryRecvError::Empty) => {
                            tokio::time::sleep(Duration::from_millis(10)).await
                        }
                        Ok(Cmd::Status(tx)) => {
                            let _ = tx.send(r.status().await);
                        }
                        Ok(Cmd::Reload(m, tx)) => {
                            let res = r.reload(&m).await.map(drop).map_err(|e| e.to_string());
                            let _ = tx.send(res);
                        }
                        Ok(Cmd::Stop) | Err(mpsc::TryRecvError::Disconnected) => break,
                    }
                }
                r.stop().await;
                Ok(())
            })
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("runtime in {}: {e}", "namespace"),
            Err(e) => panic!("runtime did not start: {e}"),
        }
        InNs {
            events,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub(crate) fn stop(mut self) {
        self.halt();
    }

    /// The (instance, state) transitions seen so far.
    pub(crate) fn transitions(&self) -> Vec<(String, NotifyState)> {
        self.events
            .lock()
            .map(|v| v.iter().map(|e| (e.instance.clone(), e.state)).collect())
            .unwrap_or_default()
    }

    /// The instances' state and counters.
    pub(crate) fn status(&self) -> Vec<InstanceStatus> {
        let (tx, rx) = mpsc::channel();
        if let Some(s) = &self.stop {
            let _ = s.send(Cmd::Status(tx));
        }
        rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
    }

    /// Applies a new model as SIGHUP does.
    pub(crate) fn reload(&self, model: Model) {
        let (tx, rx) = mpsc::channel();
        if let Some(s) = &self.stop {
            let _ = s.send(Cmd::Reload(Box::new(model), tx));
        }
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("reload: {e}"),
            Err(e) => panic!("reload did not answer: {e}"),
        }
    }

    fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(Cmd::Stop);
        }
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("runtime thread: {e}"),
                Err(_) => eprintln!("runtime thread panicked"),
            }
        }
    }
}

impl Drop for InNs {
    fn drop(&mut self) {
        self.halt();
    }
}

pub(crate) fn model(instances: Vec<VrrpInstanceCfg>) -> Model {
    Model {
        instances,
        ..Model::default()
    }
}

pub(crate) fn lab() -> Lab {
    lab_of(&["a", "b"])
}

pub(crate) fn lab_of(hosts: &[&str]) -> Lab {
    Topology::lan(hosts, "10.41.0")
        .build()
        .unwrap_or_else(|e| panic!("lab: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn two_runtimes_elect_the_higher_priority_and_fail_over_on_stop() {
    if !testlab::lab_guard(
        "two_runtimes_elect_the_higher_priority_and_fail_over_on_stop",
        NEEDS,
    ) {
        return;
    }
    let lab = lab();
    let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
    let vip = ip("10.41.0.100");
    let a = InNs::start(
        &ns("a"),
        model(vec![instance(51, 150, "10.41.0.100/24", 2)]),
    );
    let b = InNs::start(
        &ns("b"),
        model(vec![instance(51, 100, "10.41.0.100/24", 2)]),
    );
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("a never sole master: {e}"));
    let s = lab
        .sample_holders(vip, Duration::from_secs(2), Duration::from_millis(20))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.always_sole("a"), "{:?}", s.not_solely("a"));
    // The state feed (what lvs_sync_daemon follows) saw a become master.
    let name = a
        .status()
        .first()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    assert!(
        a.transitions()
            .contains(&(name.clone(), NotifyState::Master)),
        "{:?}",
        a.transitions()
    );
    assert!(!b
        .transitions()
        .contains(&(name.clone(), NotifyState::Master)));
    // Stop: priority 0 then VIP removal; b takes over after its skew.
    let t0 = std::time::Instant::now();
    a.stop();
    lab.wait_sole_holder(vip, "b", Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("b never took over: {e}"));
    assert!(
        b.transitions().contains(&(name, NotifyState::Master)),
        "{:?}",
        b.transitions()
    );
    assert!(
        t0.elapsed() < Duration::from_millis(1200),
        "takeover after stop took {:?}",
        t0.elapsed()
    );
    b.stop();
    assert!(lab.holders(vip).unwrap_or_default().is_empty());
}

/// keepalived's config for the same instance as [`instance`].
fn keepalived_conf(vrid: u8, priority: u8, vip: &str, version: u8) -> String {
    let auth = if version == 2 {
        "    authentication {\n        auth_type PASS\n        auth_pass s3cr3t\n    }\n"
    } else {
        ""
    };
    format!(
        "global_defs {{\n    vrrp_version {version}\n}}\nvrrp_instance VI_{vrid} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n{auth}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

fn keepalived(lab: &Lab, host: &str, conf: &str) -> testlab::keepalived::Keepalived {
    let h = lab.host(host).unwrap_or_else(|e| panic!("{e}"));
    let opts = testlab::keepalived::StartOpts {
        no_syslog: true,
        ..Default::default()
    };
    testlab::keepalived::Keepalived::start_with(h, conf, &opts)
        .unwrap_or_else(|e| panic!("start keepalived: {e}"))
}

fn runtime_and_keepalived(test: &str, version: u8, vip_cidr: &str) {
    if !testlab::lab_guard(
        test,
        &[Need::Root, Need::Program("ip"), Need::Program("keepalived")],
    ) {
        return;
    }
    let lab = lab();
    let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
    let vip = ip(vip_cidr.split('/').next().unwrap_or_default());
    // Ours higher: ours becomes master, keepalived stays backup.
    let ours = InNs::start(&ns("a"), model(vec![instance(51, 150, vip_cidr, version)]));
    let mut ka = keepalived(&lab, "b", &keepalived_conf(51, 100, vip_cidr, version));
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("ours never sole master: {e}\n{}", ka.log()));
    let s = lab
        .sample_holders(vip, Duration::from_secs(3), Duration::from_millis(20))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.always_sole("a"), "{:?}\n{}", s.not_solely("a"), ka.log());
    // Our graceful stop: keepalived takes over after its skew (0.61 s).
    let t0 = std::time::Instant::now();
    ours.stop();
    lab.wait_sole_holder(vip, "b", Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("keepalived never took over: {e}\n{}", ka.log()));
    assert!(
        t0.elapsed() < Duration::from_millis(1100),
        "{:?}",
        t0.elapsed()
    );
    // Ours back with the higher priority: preempts keepalived.
    let ours = InNs::start(&ns("a"), model(vec![instance(51, 150, vip_cidr, version)]));
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("ours did not preempt: {e}\n{}", ka.log()));
    // keepalived stopping while backup changes nothing.
    let _ = ka.stop(Duration::from_secs(5));
    let s = lab
        .sample_holders(vip, Duration::from_secs(1), Duration::from_millis(20))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.always_sole("a"));
    ours.stop();
}

#[test]
fn runtime_and_keepalived_v2_pass() {
    runtime_and_keepalived("runtime_and_keepalived_v2_pass", 2, "10.41.0.100/24");
}

#[test]
fn runtime_and_keepalived_v3_ipv4() {
    runtime_and_keepalived("runtime_and_keepalived_v3_ipv4", 3, "10.41.0.100/24");
}

#[test]
fn runtime_and_keepalived_v3_ipv6() {
    runtime_and_keepalived("runtime_and_keepalived_v3_ipv6", 3, "fd00::100/64");
}

// ---------------------------------------------------------------------------
// Flood of hostile adverts
// ---------------------------------------------------------------------------

/// The kinds of hostile packet sent, each aimed at one receive check.
const KINDS: usize = 6;

/// An IPv4 packet (header + `payload`) from 10.41.0.3 to 224.0.0.18.
fn ipv4(ttl: u8, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0]);
    p.extend_from_slice(&[10, 41, 0, 3, 224, 0, 0, 18]);
    let sum = crate::packet::internet_checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Hostile packet number `i` (kind `i % KINDS`), against VRID 51, v2, PASS
/// "s3cr3t", VIP 10.41.0.100.
fn hostile(i: usize, rng: &mut impl rand::RngExt) -> Vec<u8> {
    let good = |priority: u8, pass: &[u8]| {
        let mut auth_data = [0u8; 8];
        auth_data[..pass.len()].copy_from_slice(pass);
        Advert {
            version: Version::V2,
            vrid: 51,
            priority,
            adver_int: 1,
            auth_type: AuthType::Pass,
            auth_data,
            addrs: Addrs::V4(vec![std::net::Ipv4Addr::new(10, 41, 0, 100)]),
        }
        .encode(&Checksum::V3AsV2)
        .unwrap_or_default()
    };
    match i % KINDS {
        // Random bytes with our VRID (so they are not merely "not ours").
        0 => {
            let n = rng.random_range(2..80);
            let mut b: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            b[1] = 51;
            ipv4(255, &b)
        }
        // Truncated valid advert.
        1 => {
            let g = good(100, b"s3cr3t");
            let n = rng.random_range(1..g.len());
            ipv4(255, &g[..n])
        }
        // Wrong TTL (RFC 3768 7.1: must be 255).
        2 => ipv4(64, &good(100, b"s3cr3t")),
        // Wrong checksum.
        3 => {
            let mut g = good(100, b"s3cr3t");
            g[6] ^= 0x5a;
            ipv4(255, &g)
        }
        // Wrong password (valid checksum).
        4 => ipv4(255, &good(100, b"wrong")),
        // Spoofed higher priority with a bad checksum.
        _ => {
            let mut g = good(254, b"s3cr3t");
            g[7] ^= 0xff;
            ipv4(255, &g)
        }
    }
}

/// Sends `count` hostile packets from inside `ns`, `per_ms` per millisecond
/// at most; returns how many were sent of each kind.
fn flood(ns: &str, count: usize, per_ms: usize) -> [usize; KINDS] {
    let ns = ns.to_string();
    let t = thread::spawn(move || -> Result<[usize; KINDS], String> {
        let f = std::fs::File::open(format!("/run/netns/{ns}")).map_err(|e| e.to_string())?;
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())?;
        // IPPROTO_RAW implies IP_HDRINCL: we write the TTL ourselves.
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(255)),
        )
        .map_err(|e| e.to_string())?;
        s.bind_device(Some(b"eth0")).map_err(|e| e.to_string())?;
        let dst = socket2::SockAddr::from(std::net::SocketAddr::from(([224, 0, 0, 18], 0)));
        let mut rng = rand::rng();
        let mut sent = [0usize; KINDS];
        let start = std::time::Instant::now();
        for i in 0..count {
            let p = hostile(i, &mut rng);
            // ENOBUFS under pressure: retry shortly rather than lose count.
            let mut tries = 0;
            while s.send_to(&p, &dst).is_err() && tries < 100 {
                tries += 1;
                thread::sleep(Duration::from_micros(200));
            }
            if tries < 100 {
                sent[i % KINDS] += 1;
            }
            if i % per_ms == per_ms - 1 {
                let due = start + Duration::from_millis(u64::try_from(i / per_ms + 1).unwrap_or(0));
                let now = std::time::Instant::now();
                if due > now {
                    thread::sleep(due - now);
                }
            }
        }
        Ok(sent)
    });
    match t.join() {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => panic!("flood: {e}"),
        Err(_) => panic!("flood thread panicked"),
    }
}

#[test]
fn hostile_flood_changes_no_state_and_is_counted() {
    if !testlab::lab_guard("hostile_flood_changes_no_state_and_is_counted", NEEDS) {
        return;
    }
    let lab = lab_of(&["a", "b", "c"]);
    let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
    let vip = ip("10.41.0.100");
    let a = InNs::start(
        &ns("a"),
        model(vec![instance(51, 150, "10.41.0.100/24", 2)]),
    );
    let b = InNs::start(
        &ns("b"),
        model(vec![instance(51, 100, "10.41.0.100/24", 2)]),
    );
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("a never sole master: {e}"));
    let before_a = a.status();
    let before_b = b.status();
    // 100,000 hostile adverts at 20 per ms (5 s), holders sampled meanwhile.
    let flood_ns = ns("c");
    let flooder = thread::spawn(move || flood(&flood_ns, 100_000, 20));
    let samples = lab
        .sample_holders(vip, Duration::from_secs(6), Duration::from_millis(20))
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = match flooder.join() {
        Ok(s) => s,
        Err(_) => panic!("flooder panicked"),
    };
    assert!(
        samples.always_sole("a"),
        "VIP holders changed under the flood: {:?}",
        samples.not_solely("a")
    );
    let (sa, sb) = (a.status(), b.status());
    assert_eq!(sa.len(), 1, "runtime a alive and reporting");
    assert_eq!(sb.len(), 1, "runtime b alive and reporting");
    assert_eq!(sa[0].state, State::Master);
    assert_eq!(sb[0].state, State::Backup);
    assert_eq!(sa[0].fsm.become_master, before_a[0].fsm.become_master);
    assert_eq!(sb[0].fsm.become_master, before_b[0].fsm.become_master);
    // Our advert schedule held: about one advert a second during the flood.
    let adverts = sa[0].fsm.advert_sent - before_a[0].fsm.advert_sent;
    assert!(
        adverts >= 5,
        "master sent {adverts} adverts during the flood"
    );
    let total: usize = sent.iter().sum();
    assert!(
        total >= 99_000,
        "only {total} hostile packets could be sent"
    );
    for st in [&sa[0], &sb[0]] {
        let d = |r: DropReason| st.rx.dropped(r);
        assert!(d(DropReason::IpTtl) > 0, "{:?}", st.rx);
        assert!(d(DropReason::Checksum) > 0, "{:?}", st.rx);
        assert!(d(DropReason::AuthFailure) > 0, "{:?}", st.rx);
        assert!(
            d(DropReason::PacketLength) + d(DropReason::IpHeader) > 0,
            "{:?}",
            st.rx
        );
        // Nearly every hostile packet reached the checks and was dropped
        // (the kernel may drop a few when the socket queue overflows).
        let dropped = st.rx.total_dropped();
        assert!(
            dropped >= (total as u64) * 9 / 10,
            "{} dropped {dropped} of {total} sent: {:?}",
            st.name,
            st.rx
        );
    }
    a.stop();
    b.stop();
}

#[test]
fn carrier_loss_faults_the_master_and_notify_scripts_run() {
    if !testlab::lab_guard(
        "carrier_loss_faults_the_master_and_notify_scripts_run",
        NEEDS,
    ) {
        return;
    }
    let lab = lab();
    let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
    let vip = ip("10.41.0.100");
    // The generic notify appends its four arguments to a file.
    let log = lab.dir().join("notify.log");
    let script = lab.dir().join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut inst_a = instance(51, 150, "10.41.0.100/24", 2);
    inst_a.notify.generic = Some(ScriptCfg {
        raw: script.display().to_string(),
        args: vec![script.display().to_string()],
        user: None,
        group: None,
        span: span(),
    });
    let a = InNs::start(&ns("a"), model(vec![inst_a]));
    let b = InNs::start(
        &ns("b"),
        model(vec![instance(51, 100, "10.41.0.100/24", 2)]),
    );
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("a never sole master: {e}"));
    // Pull a's cable: a goes FAULT (VIP removed, priority 0 attempted), b
    // takes over.
    lab.set_port("a", "eth0", false)
        .unwrap_or_else(|e| panic!("{e}"));
    lab.wait_sole_holder(vip, "b", Duration::from_secs(6))
        .unwrap_or_else(|e| panic!("b did not take over from a faulted a: {e}"));
    let st = a.status();
    assert_eq!(st[0].state, State::Fault, "{st:?}");
    // Cable back: a leaves FAULT for BACKUP, then preempts b.
    lab.set_port("a", "eth0", true)
        .unwrap_or_else(|e| panic!("{e}"));
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("a did not come back: {e}"));
    a.stop();
    b.stop();
    // Scripts run asynchronously: wait for the last line.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("STOP") {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    for want in [
        "INSTANCE VI_51 BACKUP 150",
        "INSTANCE VI_51 MASTER 150",
        "INSTANCE VI_51 FAULT 150",
        "INSTANCE VI_51 STOP 150",
    ] {
        assert!(text.contains(want), "notify log lacks `{want}`:\n{text}");
    }
}

#[test]
fn two_instances_per_process_and_leftover_vips_removed_at_start() {
    if !testlab::lab_guard(
        "two_instances_per_process_and_leftover_vips_removed_at_start",
        NEEDS,
    ) {
        return;
    }
    let lab = lab();
    let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
    let (v51, v52) = (ip("10.41.0.151"), ip("10.41.0.152"));
    // A crashed earlier run of b left VRID 51's VIP behind.
    lab.host("b")
        .and_then(|h| h.add_addr("eth0", "10.41.0.151/24"))
        .unwrap_or_else(|e| panic!("{e}"));
    // Each host is master of one VRID and backup of the other; VRID 52's
    // VIP carries ip-addr options (label, scope) and an excluded VIP.
    let mut a52 = instance(52, 100, "10.41.0.152/24", 2);
    a52.vips[0].label = Some("eth0:52".into());
    let mut b52 = instance(52, 150, "10.41.0.152/24", 2);
    b52.vips[0].label = Some("eth0:52".into());
    let mut evip = b52.vips[0].clone();
    evip.addr = ip("fd00::152");
    evip.prefix = 64;
    evip.label = None;
    b52.evips = vec![evip.clone()];
    a52.evips = vec![evip];
    let a = InNs::start(
        &ns("a"),
        model(vec![instance(51, 150, "10.41.0.151/24", 2), a52]),
    );
    let b = InNs::start(
        &ns("b"),
        model(vec![instance(51, 100, "10.41.0.151/24", 2), b52]),
    );
    lab.wait_sole_holder(v51, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("VRID 51 not on a alone (leftover kept?): {e}"));
    lab.wait_sole_holder(v52, "b", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("VRID 52 not on b alone: {e}"));
    lab.wait_sole_holder(ip("fd00::152"), "b", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("excluded VIP not on b alone: {e}"));
    let out = lab
        .host("b")
        .and_then(|h| h.ip(&["-4", "addr", "show", "dev", "eth0"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.stdout
            .contains("10.41.0.152/24 scope global secondary eth0:52"),
        "label not applied:\n{}",
        out.stdout
    );
    let sa = a.status();
    let sb = b.status();
    let state = |s: &[InstanceStatus], n: &str| s.iter().find(|x| x.name == n).map(|x| x.state);
    assert_eq!(state(&sa, "VI_51"), Some(State::Master));
    assert_eq!(state(&sa, "VI_52"), Some(State::Backup));
    assert_eq!(state(&sb, "VI_51"), Some(State::Backup));
    assert_eq!(state(&sb, "VI_52"), Some(State::Master));
    a.stop();
    b.stop();
    for v in [v51, v52, ip("fd00::152")] {
        assert!(
            lab.holders(v).unwrap_or_default().is_empty(),
            "{v} left behind"
        );
    }
}

/// Makes the first instance of `m` track a vrrp_script `chk` that
/// succeeds while `flag` exists (rise = fall = `rise_fall`).
fn track_flag(
    m: &mut Model,
    flag: &std::path::Path,
    interval: Duration,
    weight: i32,
    rise_fall: u32,
) {
    m.vrrp_scripts = vec![VrrpScriptCfg {
        name: "chk".into(),
        script: Some(ScriptCfg {
            raw: format!("/bin/test -f {}", flag.display()),
            args: vec!["/bin/test".into(), "-f".into(), flag.display().to_string()],
            user: None,
            group: None,
            span: span(),
        }),
        interval,
        timeout: Duration::from_secs(1),
        weight,
        weight_reverse: false,
        rise: rise_fall,
        fall: rise_fall,
        user: None,
        group: None,
        init_fail: false,
        span: span(),
    }];
    if let Some(i) = m.instances.first_mut() {
        i.track_scripts = vec![TrackRefCfg {
            name: "chk".into(),
            weight: None,
            reverse: false,
            span: span(),
        }];
    }
}

#[test]
fn track_script_weight_moves_the_vip_and_back() {
    if !testlab::lab_guard("track_script_weight_moves_the_vip_and_back", NEEDS) {
        return;
    }
    let lab = lab();
    let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
    let vip = ip("10.41.0.100");
    let flag = lab.dir().join("healthy");
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    let mut m = model(vec![instance(51, 150, "10.41.0.100/24", 2)]);
    track_flag(&mut m, &flag, Duration::from_millis(200), -60, 2);
    let a = InNs::start(&ns("a"), m);
    let b = InNs::start(
        &ns("b"),
        model(vec![instance(51, 100, "10.41.0.100/24", 2)]),
    );
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("a never sole master: {e}"));
    // The check fails: a drops to 90, below b's 100, and b preempts.
    std::fs::remove_file(&flag).unwrap_or_else(|e| panic!("{e}"));
    lab.wait_sole_holder(vip, "b", Duration::from_secs(8))
        .unwrap_or_else(|e| panic!("b did not preempt a degraded a: {e}"));
    assert_eq!(a.status()[0].effective_priority, 90);
    // Healthy again: a is back at 150 and preempts b.
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    lab.wait_sole_holder(vip, "a", Duration::from_secs(8))
        .unwrap_or_else(|e| panic!("a did not come back: {e}"));
    assert_eq!(a.status()[0].effective_priority, 150);
    a.stop();
    b.stop();
}

#[test]
fn reload_keeps_unchanged_instances_and_swaps_the_rest() {
    if !testlab::lab_guard("reload_keeps_unchanged_instances_and_swaps_the_rest", NEEDS) {
        return;
    }
    let lab = lab();
    let ns = |h: &str| lab.host(h).map(|x| x.ns().to_string()).unwrap_or_default();
    let (v51, v52, v53) = (ip("10.41.0.151"), ip("10.41.0.152"), ip("10.41.0.153"));
    let i51 = || instance(51, 150, "10.41.0.151/24", 2);
    let a = InNs::start(
        &ns("a"),
        model(vec![i51(), instance(52, 150, "10.41.0.152/24", 2)]),
    );
    let b = InNs::start(
        &ns("b"),
        model(vec![instance(51, 100, "10.41.0.151/24", 2)]),
    );
    lab.wait_sole_holder(v51, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    lab.wait_sole_holder(v52, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    // VI_51 unchanged (its spans may differ), VI_52 removed, VI_53 new.
    let mut moved = i51();
    moved.span = Span::new(FileId(0), 40, 1, 0);
    a.reload(model(vec![moved, instance(53, 150, "10.41.0.153/24", 2)]));
    let s = lab
        .sample_holders(v51, Duration::from_millis(1500), Duration::from_millis(20))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        s.always_sole("a"),
        "VI_51 was disturbed: {:?}",
        s.not_solely("a")
    );
    assert!(
        lab.holders(v52).unwrap_or_default().is_empty(),
        "VI_52's VIP stayed"
    );
    lab.wait_sole_holder(v53, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("VI_53 did not start: {e}"));
    let st = a.status();
    let names: Vec<&str> = st.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["VI_51", "VI_53"]);
    assert_eq!(st[0].fsm.become_master, 1, "VI_51 restarted");
    a.stop();
    b.stop();
}

/// Priority-0 adverts for VRID 51 from `src` that reached the port of host
/// `a` while a master there faults (its track_script starts failing when
/// `flag` is removed), from the removal until the VIP has been gone 1 s.
fn prio_zero_on_fault(lab: &Lab, flag: &std::path::Path, vip: IpAddr, src: IpAddr) -> usize {
    let cap = testlab::capture::Capture::on_port(lab, "a", "eth0")
        .unwrap_or_else(|e| panic!("capture: {e}"));
    std::fs::remove_file(flag).unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while lab
        .holders(vip)
        .unwrap_or_default()
        .contains(&"a".to_string())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "a kept the VIP after its check failed"
        );
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_secs(1));
    cap.stop()
        .iter()
        .filter_map(|f| f.vrrp())
        .filter(|v| v.vrid == 51 && v.src == src && v.priority == 0)
        .count()
}

#[test]
fn fault_from_master_sends_two_priority_zero_adverts_as_keepalived() {
    if !testlab::lab_guard(
        "fault_from_master_sends_two_priority_zero_adverts_as_keepalived",
        &[Need::Root, Need::Program("ip"), Need::Program("keepalived")],
    ) {
        return;
    }
    let lab = lab_of(&["a"]);
    let vip = ip("10.41.0.100");
    // a's primary address on the LAN (Topology::lan), the adverts' source.
    let src = ip("10.41.0.1");
    let flag = lab.dir().join("healthy");
    // keepalived 2.2.7 as the master whose check fails (fall 1).
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    let conf = format!(
        "global_defs {{\n    enable_script_security\n    script_user root\n}}\nvrrp_script chk {{\n    script \"/bin/test -f {}\"\n    interval 1\n    fall 1\n    rise 1\n}}\nvrrp_instance VI_51 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 150\n    advert_int 1\n    virtual_ipaddress {{\n        10.41.0.100/24\n    }}\n    track_script {{\n        chk\n    }}\n}}\n",
        flag.display()
    );
    let mut ka = keepalived(&lab, "a", &conf);
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("keepalived never master: {e}\n{}", ka.log()));
    let theirs = prio_zero_on_fault(&lab, &flag, vip, src);
    let _ = ka.stop(Duration::from_secs(5));
    // Ours, the same instance.
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    let mut m = model(vec![instance(51, 150, "10.41.0.100/24", 2)]);
    m.instances[0].state = VrrpStateCfg::Master;
    m.instances[0].auth = None;
    track_flag(&mut m, &flag, Duration::from_secs(1), 0, 1);
    let ns = lab
        .host("a")
        .map(|x| x.ns().to_string())
        .unwrap_or_default();
    let ours = InNs::start(&ns, m);
    lab.wait_sole_holder(vip, "a", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("ours never master: {e}"));
    let mine = prio_zero_on_fault(&lab, &flag, vip, src);
    assert_eq!(ours.status()[0].state, State::Fault);
    ours.stop();
    assert_eq!(
        theirs, 2,
        "keepalived 2.2.7 sent {theirs} priority-0 adverts"
    );
    assert_eq!(mine, theirs, "ours sent {mine}, keepalived {theirs}");
}
