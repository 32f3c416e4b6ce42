//! keepalived 2.2.7 as the oracle for the codec and the receive checks (lab:
//! root, network namespaces, keepalived, python3).
//!
//! keepalived runs four BACKUP instances (VRRPv2 plain, PASS and AH, VRRPv3)
//! in one namespace; from another namespace we send the adverts our encoder
//! builds (whole IPv4 packets through a raw socket), as a higher-priority
//! master. keepalived must accept them (it stays BACKUP while we send, and
//! takes over once we stop), and for each spoiled advert it must log the
//! same rejection our `Receiver` reports.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use testlab::keepalived::Keepalived;
use testlab::netns::Topology;
use testlab::Need;

use vrrp::auth;
use vrrp::check::{AuthCfg, Receiver};
use vrrp::fsm::InstanceCfg;
use vrrp::packet::{self, AhHeader, Ipv4Header, Ipv4Packet, Version};

const KEEPALIVED_CONF: &str = "
vrrp_instance V2 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.61.1
        192.168.61.2
    }
}
vrrp_instance V2P {
    interface eth0
    virtual_router_id 52
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.168.62.1
    }
}
vrrp_instance V2AH {
    interface eth0
    virtual_router_id 53
    priority 100
    advert_int 1
    authentication {
        auth_type AH
        auth_pass k3y
    }
    virtual_ipaddress {
        192.168.63.1
    }
}
vrrp_instance V2AHU {
    interface eth0
    virtual_router_id 55
    priority 100
    advert_int 1
    unicast_src_ip 10.61.0.2
    unicast_peer {
        10.61.0.1
    }
    authentication {
        auth_type AH
        auth_pass k3y
    }
    virtual_ipaddress {
        192.168.65.1
    }
}
vrrp_instance V3 {
    version 3
    interface eth0
    virtual_router_id 54
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.64.1
        192.168.64.2
    }
}
";

/// Sends `offset hex` lines at their offsets from a raw IPv4 socket (the
/// packets carry their own IP header) bound to eth0.
const SENDER: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
t0 = time.monotonic()
for line in open(sys.argv[1]):
    off, h = line.split()
    d = t0 + float(off) - time.monotonic()
    if d > 0:
        time.sleep(d)
    p = bytes.fromhex(h)
    s.sendto(p, (".".join(str(b) for b in p[16:20]), 0))
"#;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Our side of one of keepalived's instances.
struct Peer {
    name: &'static str,
    cfg: InstanceCfg,
    ah_seq: u32,
    id: u16,
}

impl Peer {
    fn new(name: &'static str, version: Version, vrid: u8, vips: &[&str], auth: AuthCfg) -> Peer {
        let mut cfg = InstanceCfg::new(name, version, vrid, vips.iter().map(|v| ip(v)).collect());
        cfg.auth = auth;
        Peer {
            name,
            cfg,
            ah_seq: 0,
            id: 0,
        }
    }

    /// A valid advert with `priority` from `src`, as a whole IPv4 packet.
    fn packet(&mut self, src: Ipv4Addr, priority: u8) -> Vec<u8> {
        self.id = self.id.wrapping_add(1).max(1);
        let ah = match self.cfg.auth {
            AuthCfg::Ah(_) => {
                self.ah_seq += 1;
                Some(AhHeader {
                    next_header: packet::IPPROTO_VRRP,
                    spi: u32::from(src),
                    seq: self.ah_seq,
                    icv: [0; 12],
                })
            }
            _ => None,
        };
        // Unicast: to keepalived's address, with a TTL only multicast must
        // keep at 255, and the TTL left out of the AH ICV.
        let (dst, ttl, unicast) = match self.cfg.unicast_peers.first().map(|p| p.addr) {
            Some(IpAddr::V4(d)) => (d, 64, true),
            _ => (packet::MCAST_V4, 255, false),
        };
        let p = Ipv4Packet {
            ip: Ipv4Header {
                tos: packet::TOS_INTERNETCONTROL,
                id: self.id,
                frag: 0,
                ttl,
                protocol: if ah.is_some() {
                    packet::IPPROTO_AH
                } else {
                    packet::IPPROTO_VRRP
                },
                src,
                dst,
            },
            ah,
            advert: self.cfg.advert(priority),
        };
        let key = match &self.cfg.auth {
            AuthCfg::Ah(k) => *k,
            _ => [0; 8],
        };
        p.encode_signed(&key, unicast, false)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }
}

/// Re-checksum a VRRPv2 message at `off` in `pkt` (the IP header's own
/// checksum is filled in by the kernel: IPPROTO_RAW sockets always do).
fn fix_v2_checksum(pkt: &mut [u8], off: usize) {
    pkt[off + 6] = 0;
    pkt[off + 7] = 0;
    let c = packet::internet_checksum(&pkt[off..]);
    pkt[off + 6..off + 8].copy_from_slice(&c.to_be_bytes());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn keepalived_accepts_our_adverts_and_rejects_what_we_reject() {
    if !testlab::lab_guard(
        "keepalived_accepts_our_adverts_and_rejects_what_we_reject",
        &[
            Need::Root,
            Need::Program("keepalived"),
            Need::Program("python3"),
        ],
    ) {
        return;
    }
    let lab = Topology::lan(&["us", "ka"], "10.61.0")
        .build()
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let us = lab.host("us").unwrap_or_else(|e| panic!("{e}"));
    let ka_host = lab.host("ka").unwrap_or_else(|e| panic!("{e}"));
    let src = Ipv4Addr::new(10, 61, 0, 1);

    let mut peers = [
        Peer::new(
            "V2",
            Version::V2,
            51,
            &["192.168.61.1", "192.168.61.2"],
            AuthCfg::None,
        ),
        Peer::new(
            "V2P",
            Version::V2,
            52,
            &["192.168.62.1"],
            AuthCfg::Pass(auth::pass_bytes("secret")),
        ),
        Peer::new(
            "V2AH",
            Version::V2,
            53,
            &["192.168.63.1"],
            AuthCfg::Ah(auth::pass_bytes("k3y")),
        ),
        Peer::new(
            "V3",
            Version::V3,
            54,
            &["192.168.64.1", "192.168.64.2"],
            AuthCfg::None,
        ),
        {
            // Unicast with AH: TTL 64 and the TTL outside the ICV.
            let mut p = Peer::new(
                "V2AHU",
                Version::V2,
                55,
                &["192.168.65.1"],
                AuthCfg::Ah(auth::pass_bytes("k3y")),
            );
            p.cfg.unicast_peers = vec![vrrp::check::UnicastPeer::new(ip("10.61.0.2"))];
            p
        },
    ];

    // Valid adverts every second from 0 to 9 s; spoiled ones between.
    let mut schedule = String::new();
    for t in 0..10 {
        for p in peers.iter_mut() {
            let _ = writeln!(schedule, "{t}.0 {}", hex(&p.packet(src, 150)));
        }
    }
    // (instance, spoiled packet), each sent once after keepalived follows us.
    let mut spoiled: Vec<(usize, Vec<u8>)> = Vec::new();
    let base = peers[0].packet(src, 150);
    let mut m = |f: &dyn Fn(&mut Vec<u8>), fix: bool| {
        let mut p = base.clone();
        f(&mut p);
        if fix {
            fix_v2_checksum(&mut p, 20);
        }
        spoiled.push((0, p));
    };
    m(&|p| p[8] = 64, false); // TTL
    m(&|p| p[27] ^= 0x40, false); // checksum
    m(&|p| p[25] = 3, true); // interval
    m(&|p| p[20] = 0x21 | 0x30, true); // type 1, version 3: sized as v3
    m(&|p| p[20] = 0x22, true); // type 2
    m(&|p| p[24] = 1, true); // auth type PASS on a no-auth instance
    m(&|p| p[24] = 5, true); // unknown auth type
    m(&|p| p[31] = 99, true); // a VIP we do not have
    m(&|p| p[23] = 1, true); // address count 1 (length then too long)
    {
        // One address fewer, consistently: count 1 and 4 bytes shorter.
        let mut p = base.clone();
        p[23] = 1;
        p.drain(28..32);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        fix_v2_checksum(&mut p, 20);
        spoiled.push((0, p));
    }
    {
        let mut p = peers[1].packet(src, 150);
        let n = p.len();
        p[n - 1] ^= 1; // password "secres"
        fix_v2_checksum(&mut p, 20);
        spoiled.push((1, p));
    }
    {
        let mut p = peers[2].packet(src, 150);
        p[46] ^= 1; // priority changed after signing: ICV mismatch
        spoiled.push((2, p));
    }
    {
        // VRRPv3 checksummed without the pseudo-header.
        let mut p = peers[3].packet(src, 150);
        p[26] = 0;
        p[27] = 0;
        let c = packet::internet_checksum(&p[20..]);
        p[26..28].copy_from_slice(&c.to_be_bytes());
        spoiled.push((3, p));
    }
    let mut expected_logs = Vec::new();
    for (k, (i, p)) in spoiled.iter().enumerate() {
        let mut rx = Receiver::new(peers[*i].cfg.rx_cfg());
        // Our checks, in the state keepalived is in: following us.
        match rx.check_ipv4(p, Some(IpAddr::V4(src))) {
            Ok(a) => panic!(
                "spoiled packet {k} for {} passed our checks: {a:?}",
                peers[*i].name
            ),
            Err(e) => expected_logs.push(format!("({}) {e}", peers[*i].name)),
        }
        let _ = writeln!(schedule, "{}.{} {}", 4 + k / 9, 1 + k % 9, hex(p));
    }
    // Keep the schedule in time order for the sender.
    let mut lines: Vec<(f64, String)> = schedule
        .lines()
        .map(|l| {
            let (t, h) = l.split_once(' ').unwrap_or_else(|| panic!("{l}"));
            (
                t.parse::<f64>().unwrap_or_else(|e| panic!("{t}: {e}")),
                h.to_string(),
            )
        })
        .collect();
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let file = lab.dir().join("schedule.txt");
    let text: String = lines.iter().map(|(t, h)| format!("{t} {h}\n")).collect();
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let script = lab.dir().join("send.py");
    std::fs::write(&script, SENDER).unwrap_or_else(|e| panic!("{e}"));

    // The valid ones pass our own checks too.
    for p in &peers {
        let mut rx = Receiver::new(p.cfg.rx_cfg());
        let mut again = Peer {
            name: p.name,
            cfg: p.cfg.clone(),
            ah_seq: 1000,
            id: 0,
        };
        let pkt = again.packet(src, 150);
        assert!(
            rx.check_ipv4(&pkt, None).is_ok(),
            "{} rejects our own advert",
            p.name
        );
    }

    let mut ka =
        Keepalived::start(ka_host, KEEPALIVED_CONF).unwrap_or_else(|e| panic!("keepalived: {e}"));
    for name in ["V2", "V2P", "V2AH", "V3", "V2AHU"] {
        ka.wait_for_log(
            &format!("({name}) Entering BACKUP STATE (init)"),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{name} did not start: {e}\n{}", ka.log()));
    }
    let out = us
        .run(
            &[
                "python3",
                &script.to_string_lossy(),
                &file.to_string_lossy(),
            ],
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("sender: {e}"));
    assert_eq!(out.code(), Some(0), "sender failed: {out:?}");
    let log_while_sending = ka.log();
    assert!(
        !log_while_sending.contains("Entering MASTER STATE"),
        "keepalived took over while we advertised:\n{log_while_sending}"
    );
    for want in &expected_logs {
        eprintln!("keepalived logged, as we reject: {want}");
        assert!(
            log_while_sending.contains(want.as_str()),
            "keepalived did not log `{want}`:\n{log_while_sending}"
        );
    }
    // Once we stop, every instance takes over (3 x 1 s + skew after our last advert).
    for name in ["V2", "V2P", "V2AH", "V3", "V2AHU"] {
        ka.wait_for_log(
            &format!("({name}) Entering MASTER STATE"),
            Duration::from_secs(8),
        )
        .unwrap_or_else(|e| panic!("{name} never took over: {e}\n{}", ka.log()));
    }
    drop(ka);
    lab.teardown().unwrap_or_else(|e| panic!("teardown: {e}"));
}

const ELECTION_CONF: &str = "
vrrp_instance VI_A {
    interface eth0
    virtual_router_id 61
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.71.1
    }
}
vrrp_instance VI_B {
    interface eth0
    virtual_router_id 62
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.168.72.1
    }
}
vrrp_instance VI_C {
    state BACKUP
    nopreempt
    interface eth0
    virtual_router_id 63
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.73.1
    }
}
vrrp_instance VI_D {
    state MASTER
    interface eth0
    virtual_router_id 64
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.168.74.1
    }
}
vrrp_instance VI_E {
    interface eth0
    virtual_router_id 65
    priority 150
    preempt_delay 3.5
    advert_int 1
    virtual_ipaddress {
        192.168.75.1
    }
}
vrrp_instance VI_G {
    interface eth0
    virtual_router_id 67
    priority 100
    advert_int 1
    lower_prio_no_advert
    virtual_ipaddress {
        192.168.77.1
    }
}
vrrp_instance VI_F {
    version 3
    interface eth0
    virtual_router_id 66
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.76.1
    }
}
";

/// One instance of ELECTION_CONF, and the interval our adverts to it carry.
struct Spec {
    name: &'static str,
    vrid: u8,
    priority: u8,
    state_master: bool,
    nopreempt: bool,
    preempt_delay: f64,
    version: Version,
    vip: &'static str,
    our_interval: Duration,
    lower_prio_no_advert: bool,
}

/// The election log lines both sides write (keepalived with `-D`).
fn election_line(l: &str) -> bool {
    [
        "Entering",
        "Receive advertisement timeout",
        "Received advert",
        "Master received",
        "Backup received",
        "lower priority",
        "CONFIGURATION ERROR",
        "preempt delay",
        "interval",
    ]
    .iter()
    .any(|p| l.contains(p))
}

/// keepalived's election lines for `name`, from `(name) ` on.
fn keepalived_lines(log: &str, name: &str) -> Vec<String> {
    let tag = format!("({name}) ");
    log.lines()
        .filter_map(|l| l.find(&tag).map(|i| l[i..].to_string()))
        .filter(|l| election_line(l))
        .collect()
}

/// The same adverts fed to keepalived (as packets) and to our state machine
/// (configured like keepalived's instance, with keepalived's address): both
/// must write the same election log lines in the same order. Covers BACKUP
/// accepting, master-down timeout, lower-priority discard and preemption,
/// nopreempt, the master's "forcing new election", equal priority with the
/// lower address, higher priority, priority-0 resignation, 2.2.7's
/// two-owners rule, preempt_delay, lower_prio_no_advert and VRRPv3
/// interval learning.
#[test]
fn keepalived_elections_match_our_state_machine() {
    use vrrp::fsm::{Action, InitialState, Input, Instance};
    use vrrp::timers::Instant;

    if !testlab::lab_guard(
        "keepalived_elections_match_our_state_machine",
        &[
            Need::Root,
            Need::Program("keepalived"),
            Need::Program("python3"),
        ],
    ) {
        return;
    }
    let lab = Topology::lan(&["us", "ka"], "10.62.0")
        .build()
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let us = lab.host("us").unwrap_or_else(|e| panic!("{e}"));
    let ka_host = lab.host("ka").unwrap_or_else(|e| panic!("{e}"));
    let src = Ipv4Addr::new(10, 62, 0, 1);
    let ka_addr = IpAddr::V4(Ipv4Addr::new(10, 62, 0, 2));

    let spec = |name, vrid, priority, version| Spec {
        name,
        vrid,
        priority,
        state_master: false,
        nopreempt: false,
        preempt_delay: 0.0,
        version,
        vip: "",
        our_interval: Duration::from_secs(1),
        lower_prio_no_advert: false,
    };
    let specs = [
        Spec {
            vip: "192.168.71.1",
            ..spec("VI_A", 61, 100, Version::V2)
        },
        Spec {
            vip: "192.168.72.1",
            ..spec("VI_B", 62, 150, Version::V2)
        },
        Spec {
            vip: "192.168.73.1",
            nopreempt: true,
            ..spec("VI_C", 63, 100, Version::V2)
        },
        Spec {
            vip: "192.168.74.1",
            state_master: true,
            ..spec("VI_D", 64, 255, Version::V2)
        },
        Spec {
            vip: "192.168.75.1",
            preempt_delay: 3.5,
            ..spec("VI_E", 65, 150, Version::V2)
        },
        Spec {
            vip: "192.168.76.1",
            our_interval: Duration::from_millis(500),
            ..spec("VI_F", 66, 100, Version::V3)
        },
        Spec {
            vip: "192.168.77.1",
            lower_prio_no_advert: true,
            ..spec("VI_G", 67, 100, Version::V2)
        },
    ];
    // Our adverts: (seconds after keepalived's start, instance index, priority).
    let mut events: Vec<(f64, usize, u8)> = vec![
        (5.0, 0, 50),
        (5.5, 0, 100),
        (6.0, 0, 150),
        (7.0, 0, 150),
        (8.0, 0, 150),
        (8.5, 0, 0),
        (2.0, 3, 255),
        (3.0, 3, 255),
        (4.0, 3, 255),
    ];
    // VI_B: a lower master it ignores, then answers once master. No advert
    // near its takeover (3.41 s after keepalived's start, which precedes
    // our t0 by an unknown fraction of a second).
    for t in [0.0, 1.0, 2.0, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5] {
        events.push((t, 1, 100));
    }
    for t in 0..6 {
        events.push((f64::from(t), 2, 50));
    }
    // VI_E: a lower master it follows for the preempt delay, then preempts.
    for t in 0..12 {
        events.push((f64::from(t), 4, 100));
    }
    // VI_G: a master answering lower priorities without an advert.
    events.push((5.0, 6, 50));
    events.push((6.0, 6, 80));
    // VI_F: a v3 master at twice our rate; we learn its interval.
    for t in 0..10 {
        events.push((0.2 + f64::from(t) * 0.5, 5, 200));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let end = 12.0;

    let mut peers: Vec<Peer> = specs
        .iter()
        .map(|s| {
            let mut p = Peer::new(s.name, s.version, s.vrid, &[s.vip], AuthCfg::None);
            p.cfg.adver_int = s.our_interval;
            p
        })
        .collect();
    let mut schedule = String::new();
    for (t, i, prio) in &events {
        let _ = writeln!(schedule, "{t} {}", hex(&peers[*i].packet(src, *prio)));
    }
    let file = lab.dir().join("elections.txt");
    std::fs::write(&file, schedule).unwrap_or_else(|e| panic!("{e}"));
    let script = lab.dir().join("send.py");
    std::fs::write(&script, SENDER).unwrap_or_else(|e| panic!("{e}"));

    // Our side: the same instances, fed the same adverts on a fake clock.
    let mut ours: Vec<Vec<String>> = Vec::new();
    for (idx, sp) in specs.iter().enumerate() {
        let mut c = InstanceCfg::new(sp.name, sp.version, sp.vrid, vec![ip(sp.vip)]);
        c.priority = sp.priority;
        c.initial_state = if sp.state_master {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        c.nopreempt = sp.nopreempt;
        c.preempt_delay = Duration::from_secs_f64(sp.preempt_delay);
        c.lower_prio_no_advert = sp.lower_prio_no_advert;
        c.src_addr = Some(ka_addr);
        let mut inst = Instance::new(c).unwrap_or_else(|e| panic!("{e}"));
        let mut acts: Vec<Action> = Vec::new();
        inst.step_into(Instant::ZERO, Input::Startup, &mut acts);
        let run_to = |inst: &mut Instance, t: Instant, acts: &mut Vec<Action>| {
            while let Some(d) = inst.next_deadline().filter(|d| *d <= t) {
                inst.step_into(d, Input::Timer, acts);
            }
        };
        for (t, _, p) in events.iter().filter(|e| e.1 == idx) {
            let now = Instant::from_duration(Duration::from_secs_f64(*t));
            run_to(&mut inst, now, &mut acts);
            let adv = vrrp::check::RxAdvert {
                src: IpAddr::V4(src),
                priority: *p,
                adver_int: sp.our_interval,
            };
            inst.step_into(now, Input::Advert(adv), &mut acts);
        }
        run_to(
            &mut inst,
            Instant::from_duration(Duration::from_secs_f64(end)),
            &mut acts,
        );
        ours.push(
            acts.iter()
                .filter_map(|a| match a {
                    Action::Log(l) if election_line(l) => Some(l.clone()),
                    _ => None,
                })
                .collect(),
        );
    }

    let mut ka =
        Keepalived::start(ka_host, ELECTION_CONF).unwrap_or_else(|e| panic!("keepalived: {e}"));
    ka.wait_for_log(
        "(VI_A) Entering BACKUP STATE (init)",
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("keepalived did not start: {e}\n{}", ka.log()));
    let out = us
        .run(
            &[
                "python3",
                &script.to_string_lossy(),
                &file.to_string_lossy(),
            ],
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("sender: {e}"));
    assert_eq!(out.code(), Some(0), "sender failed: {out:?}");
    // The sender returns after its last advert (11 s); by `end` every timer
    // our side ran has run out on keepalived's side too.
    std::thread::sleep(Duration::from_secs_f64(end - 11.0));
    let log = ka.log();
    drop(ka);
    for (k, Spec { name, .. }) in specs.iter().enumerate() {
        let theirs = keepalived_lines(&log, name);
        eprintln!("{name}: keepalived {theirs:#?}");
        assert_eq!(
            theirs, ours[k],
            "{name}: keepalived's election lines differ from ours\n{log}"
        );
    }
    lab.teardown().unwrap_or_else(|e| panic!("teardown: {e}"));
}

const FAULT_CONF: &str = "
vrrp_instance VI_M {
    interface eth0
    virtual_router_id 81
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.81.1
    }
}
vrrp_instance VI_S {
    interface eth0
    virtual_router_id 82
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.82.1
    }
}
";

/// FAULT on carrier loss and recovery, keepalived against our state machine:
/// VI_M is MASTER when its link goes, VI_S a BACKUP following us.
#[test]
fn keepalived_fault_and_recovery_match_our_state_machine() {
    use vrrp::fsm::{Action, Input, Instance};
    use vrrp::timers::Instant;

    if !testlab::lab_guard(
        "keepalived_fault_and_recovery_match_our_state_machine",
        &[
            Need::Root,
            Need::Program("keepalived"),
            Need::Program("python3"),
        ],
    ) {
        return;
    }
    let lab = Topology::lan(&["us", "ka"], "10.63.0")
        .build()
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let us = lab.host("us").unwrap_or_else(|e| panic!("{e}"));
    let ka_host = lab.host("ka").unwrap_or_else(|e| panic!("{e}"));
    let src = Ipv4Addr::new(10, 63, 0, 1);
    let (down_at, up_at, end) = (6.0, 8.0, 13.0);

    // We advertise for VI_S (priority 150) every second until `end`.
    let mut peer = Peer::new("VI_S", Version::V2, 82, &["192.168.82.1"], AuthCfg::None);
    let mut schedule = String::new();
    let sends: Vec<f64> = (0..13).map(f64::from).collect();
    for t in &sends {
        let _ = writeln!(schedule, "{t} {}", hex(&peer.packet(src, 150)));
    }
    let file = lab.dir().join("fault.txt");
    std::fs::write(&file, schedule).unwrap_or_else(|e| panic!("{e}"));
    let script = lab.dir().join("send.py");
    std::fs::write(&script, SENDER).unwrap_or_else(|e| panic!("{e}"));

    // Our side.
    let at = |t: f64| Instant::from_duration(Duration::from_secs_f64(t));
    let mut ours: Vec<Vec<String>> = Vec::new();
    for (name, vrid, vip, adverts) in [
        ("VI_M", 81u8, "192.168.81.1", false),
        ("VI_S", 82, "192.168.82.1", true),
    ] {
        let mut c = InstanceCfg::new(name, Version::V2, vrid, vec![ip(vip)]);
        c.src_addr = Some(ip("10.63.0.2"));
        let mut inst = Instance::new(c).unwrap_or_else(|e| panic!("{e}"));
        let mut acts: Vec<Action> = Vec::new();
        inst.step_into(at(0.0), Input::Startup, &mut acts);
        let mut inputs: Vec<(f64, Input)> =
            vec![(down_at, Input::InterfaceDown), (up_at, Input::InterfaceUp)];
        if adverts {
            for t in &sends {
                let adv = vrrp::check::RxAdvert {
                    src: IpAddr::V4(src),
                    priority: 150,
                    adver_int: Duration::from_secs(1),
                };
                inputs.push((*t, Input::Advert(adv)));
            }
        }
        inputs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, input) in inputs {
            while let Some(d) = inst.next_deadline().filter(|d| *d <= at(t)) {
                inst.step_into(d, Input::Timer, &mut acts);
            }
            inst.step_into(at(t), input, &mut acts);
        }
        while let Some(d) = inst.next_deadline().filter(|d| *d <= at(end)) {
            inst.step_into(d, Input::Timer, &mut acts);
        }
        ours.push(
            acts.iter()
                .filter_map(|a| match a {
                    Action::Log(l) if election_line(l) => Some(l.clone()),
                    _ => None,
                })
                .collect(),
        );
    }

    let mut ka =
        Keepalived::start(ka_host, FAULT_CONF).unwrap_or_else(|e| panic!("keepalived: {e}"));
    ka.wait_for_log(
        "(VI_M) Entering BACKUP STATE (init)",
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("keepalived did not start: {e}\n{}", ka.log()));
    let t0 = std::time::Instant::now();
    let mut sender = us
        .spawn(&[
            "python3",
            &script.to_string_lossy(),
            &file.to_string_lossy(),
        ])
        .unwrap_or_else(|e| panic!("sender: {e}"));
    let sleep_until = |t: f64| {
        let target = t0 + Duration::from_secs_f64(t);
        std::thread::sleep(target.saturating_duration_since(std::time::Instant::now()));
    };
    sleep_until(down_at);
    lab.set_port("ka", "eth0", false)
        .unwrap_or_else(|e| panic!("port down: {e}"));
    sleep_until(up_at);
    lab.set_port("ka", "eth0", true)
        .unwrap_or_else(|e| panic!("port up: {e}"));
    sleep_until(end);
    let status = sender
        .wait_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("sender: {e}"));
    assert!(
        status.is_some_and(|s| s.success()),
        "sender failed: {status:?}"
    );
    let log = ka.log();
    drop(ka);
    for (k, name) in ["VI_M", "VI_S"].iter().enumerate() {
        let theirs = keepalived_lines(&log, name);
        eprintln!("{name}: keepalived {theirs:#?}");
        assert_eq!(
            theirs, ours[k],
            "{name}: keepalived's lines differ from ours\n{log}"
        );
    }
    lab.teardown().unwrap_or_else(|e| panic!("teardown: {e}"));
}

const TIMING_CONF: &str = "
vrrp_instance T1 {
    interface eth0
    virtual_router_id 91
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.91.1
    }
}
vrrp_instance T2 {
    interface eth0
    virtual_router_id 92
    priority 200
    advert_int 1
    virtual_ipaddress {
        192.168.92.1
    }
}
vrrp_instance T3 {
    version 3
    interface eth0
    virtual_router_id 93
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.93.1
    }
}
";

/// Sends the schedule (as SENDER) and captures, on the same clock, the VRRP
/// adverts others send: prints `tx|rx SECONDS VRID PRIORITY` lines.
const SEND_AND_CAPTURE: &str = r#"
import socket, sys, threading, time
sched = [(float(o), bytes.fromhex(h)) for o, h in (l.split() for l in open(sys.argv[1]))]
dur, me = float(sys.argv[2]), sys.argv[3]
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
rx.bind(("eth0", 0))
rx.settimeout(0.02)
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
tx.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
out = []
t0 = time.monotonic()
def send():
    for off, p in sched:
        d = t0 + off - time.monotonic()
        if d > 0:
            time.sleep(d)
        tx.sendto(p, (".".join(str(b) for b in p[16:20]), 0))
        out.append("tx %.6f %d %d" % (time.monotonic() - t0, p[21], p[22]))
th = threading.Thread(target=send)
th.start()
while time.monotonic() - t0 < dur:
    try:
        f = rx.recv(4096)
    except socket.timeout:
        continue
    now = time.monotonic() - t0
    ip = f[14:]
    if len(ip) < 28 or ip[9] != 112 or socket.inet_ntoa(ip[12:16]) == me:
        continue
    v = ip[(ip[0] & 15) * 4:]
    out.append("rx %.6f %d %d" % (now, v[1], v[2]))
th.join()
print("\n".join(out))
"#;

/// When keepalived takes over after our last advert (or our priority-0
/// advert) equals when our state machine, fed the same adverts at the same
/// instants, takes over: v2 master-down (3 x 1 s + skew), v2 skew after
/// priority 0, v3 master-down with the learned 0.5 s interval.
#[test]
fn keepalived_takeover_times_match_our_timers() {
    use vrrp::fsm::{Action, Input, Instance};
    use vrrp::timers::Instant;

    if !testlab::lab_guard(
        "keepalived_takeover_times_match_our_timers",
        &[
            Need::Root,
            Need::Program("keepalived"),
            Need::Program("python3"),
        ],
    ) {
        return;
    }
    let lab = Topology::lan(&["us", "ka"], "10.64.0")
        .build()
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let us = lab.host("us").unwrap_or_else(|e| panic!("{e}"));
    let ka_host = lab.host("ka").unwrap_or_else(|e| panic!("{e}"));
    let src = Ipv4Addr::new(10, 64, 0, 1);

    // (name, vrid, keepalived's priority, version, our interval, our adverts (time, priority)).
    let t1: Vec<(f64, u8)> = (0..4).map(|t| (f64::from(t), 150)).collect();
    let t2: Vec<(f64, u8)> = vec![(0.0, 250), (1.0, 250), (2.0, 250), (3.0, 0)];
    let t3: Vec<(f64, u8)> = (0..7).map(|t| (f64::from(t) * 0.5, 200)).collect();
    let cases = [
        ("T1", 91u8, 100u8, Version::V2, Duration::from_secs(1), t1),
        ("T2", 92, 200, Version::V2, Duration::from_secs(1), t2),
        ("T3", 93, 100, Version::V3, Duration::from_millis(500), t3),
    ];
    let mut lines: Vec<(f64, String)> = Vec::new();
    for (name, vrid, _, version, int, adverts) in &cases {
        let vip = format!("192.168.{vrid}.1");
        let mut p = Peer::new(name, *version, *vrid, &[vip.as_str()], AuthCfg::None);
        p.cfg.adver_int = *int;
        for (t, prio) in adverts {
            lines.push((*t, hex(&p.packet(src, *prio))));
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let file = lab.dir().join("timing.txt");
    let text: String = lines.iter().map(|(t, h)| format!("{t} {h}\n")).collect();
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let script = lab.dir().join("send_capture.py");
    std::fs::write(&script, SEND_AND_CAPTURE).unwrap_or_else(|e| panic!("{e}"));

    let mut ka =
        Keepalived::start(ka_host, TIMING_CONF).unwrap_or_else(|e| panic!("keepalived: {e}"));
    ka.wait_for_log("(T3) Entering BACKUP STATE (init)", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("keepalived did not start: {e}\n{}", ka.log()));
    let out = us
        .run(
            &[
                "python3",
                &script.to_string_lossy(),
                &file.to_string_lossy(),
                "8",
                "10.64.0.1",
            ],
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("sender: {e}"));
    assert_eq!(out.code(), Some(0), "sender failed: {out:?}");
    drop(ka);
    let mut tx: Vec<(f64, u8, u8)> = Vec::new();
    let mut rx: Vec<(f64, u8, u8)> = Vec::new();
    for l in out.stdout.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 4 {
            continue;
        }
        let rec = (
            f[1].parse::<f64>().unwrap_or_else(|e| panic!("{l}: {e}")),
            f[2].parse::<u8>().unwrap_or_else(|e| panic!("{l}: {e}")),
            f[3].parse::<u8>().unwrap_or_else(|e| panic!("{l}: {e}")),
        );
        match f[0] {
            "tx" => tx.push(rec),
            "rx" => rx.push(rec),
            _ => {}
        }
    }

    for (name, vrid, prio, version, int, _) in &cases {
        // Our state machine, keepalived's configuration, the adverts at the
        // instants they really left.
        let mut c = InstanceCfg::new(
            name,
            *version,
            *vrid,
            vec![ip(&format!("192.168.{vrid}.1"))],
        );
        c.priority = *prio;
        c.src_addr = Some(ip("10.64.0.2"));
        let mut inst = Instance::new(c).unwrap_or_else(|e| panic!("{e}"));
        let at = |t: f64| Instant::from_duration(Duration::from_secs_f64(t));
        inst.step(at(0.0), Input::Startup);
        let mut predicted = None;
        let run_to = |inst: &mut Instance, t: Instant, predicted: &mut Option<Instant>| {
            while let Some(d) = inst.next_deadline().filter(|d| *d <= t) {
                let acts = inst.step(d, Input::Timer);
                if predicted.is_none()
                    && acts.iter().any(|a| matches!(a, Action::SendAdvert { .. }))
                {
                    *predicted = Some(d);
                }
            }
        };
        for (t, _, p) in tx.iter().filter(|r| r.1 == *vrid) {
            run_to(&mut inst, at(*t), &mut predicted);
            let adv = vrrp::check::RxAdvert {
                src: IpAddr::V4(src),
                priority: *p,
                adver_int: *int,
            };
            inst.step(at(*t), Input::Advert(adv));
        }
        run_to(&mut inst, at(8.0), &mut predicted);
        let predicted = predicted
            .unwrap_or_else(|| panic!("{name}: our instance never took over"))
            .as_secs_f64();
        let measured = rx
            .iter()
            .find(|r| r.1 == *vrid)
            .unwrap_or_else(|| panic!("{name}: keepalived never advertised\n{}", out.stdout))
            .0;
        eprintln!("{name}: keepalived took over at {measured:.4} s, ours at {predicted:.4} s");
        let diff = measured - predicted;
        assert!(
            // Measured on an idle lab: 1.5-2.5 ms apart. The bound is loose
            // for loaded machines; a wrong formula is off by 0.2 s or more
            // (skew vs master-down, learned vs configured interval).
            (-0.05..0.15).contains(&diff),
            "{name}: keepalived took over at {measured:.4} s, our state machine at {predicted:.4} s"
        );
    }
    lab.teardown().unwrap_or_else(|e| panic!("teardown: {e}"));
}

const MASTER_RX_CONF: &str = "
vrrp_instance M1 {
    interface eth0
    virtual_router_id 95
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.95.1
    }
}
vrrp_instance M2 {
    interface eth0
    virtual_router_id 96
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.96.1
    }
}
";

/// A MASTER's adverts on the wire, keepalived against our state machine:
/// M1 answers a lower-priority advert at once and restarts its schedule
/// from that answer (both do); M2 is flooded with adverts that fail the
/// checksum, which silence keepalived 2.2.7 (it re-arms its advert timer on
/// every packet, labs.md) but not ours - the one deliberate difference.
#[test]
fn keepalived_master_adverts_versus_ours() {
    use vrrp::fsm::{Action, Input, Instance};
    use vrrp::timers::Instant;

    if !testlab::lab_guard(
        "keepalived_master_adverts_versus_ours",
        &[
            Need::Root,
            Need::Program("keepalived"),
            Need::Program("python3"),
        ],
    ) {
        return;
    }
    let lab = Topology::lan(&["us", "ka"], "10.65.0")
        .build()
        .unwrap_or_else(|e| panic!("lab: {e}"));
    let us = lab.host("us").unwrap_or_else(|e| panic!("{e}"));
    let ka_host = lab.host("ka").unwrap_or_else(|e| panic!("{e}"));
    let src = Ipv4Addr::new(10, 65, 0, 1);
    let (lower_at, flood_from, flood_to) = (5.3, 5.0, 8.0);

    let mut m1 = Peer::new("M1", Version::V2, 95, &["192.168.95.1"], AuthCfg::None);
    let mut m2 = Peer::new("M2", Version::V2, 96, &["192.168.96.1"], AuthCfg::None);
    let mut lines: Vec<(f64, String)> = vec![(lower_at, hex(&m1.packet(src, 50)))];
    let mut t = flood_from;
    while t < flood_to {
        let mut p = m2.packet(src, 200);
        p[27] ^= 0x01; // bad VRRP checksum
        lines.push((t, hex(&p)));
        t += 0.3;
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let file = lab.dir().join("master_rx.txt");
    let text: String = lines.iter().map(|(t, h)| format!("{t:.3} {h}\n")).collect();
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let script = lab.dir().join("send_capture.py");
    std::fs::write(&script, SEND_AND_CAPTURE).unwrap_or_else(|e| panic!("{e}"));

    // keepalived -G: under the flood it logs every rejected packet (labs.md).
    let opts = testlab::keepalived::StartOpts {
        no_syslog: true,
        ..Default::default()
    };
    let mut ka = Keepalived::start_with(ka_host, MASTER_RX_CONF, &opts)
        .unwrap_or_else(|e| panic!("keepalived: {e}"));
    ka.wait_for_log("(M2) Entering BACKUP STATE (init)", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("keepalived did not start: {e}\n{}", ka.log()));
    let out = us
        .run(
            &[
                "python3",
                &script.to_string_lossy(),
                &file.to_string_lossy(),
                "10",
                "10.65.0.1",
            ],
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("sender: {e}"));
    assert_eq!(out.code(), Some(0), "sender failed: {out:?}");
    drop(ka);
    let parse = |kind: &str, vrid: u8| -> Vec<f64> {
        out.stdout
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 4 && f[0] == kind && f[2] == vrid.to_string())
                    .then(|| f[1].parse::<f64>().unwrap_or(-1.0))
            })
            .collect()
    };

    // M1: keepalived answers the lower-priority advert within a few ms, then
    // one advert per second from that answer.
    let sent_lower = parse("tx", 95)[0];
    let theirs: Vec<f64> = parse("rx", 95)
        .into_iter()
        .filter(|t| *t >= sent_lower)
        .collect();
    assert!(
        theirs.len() >= 3,
        "keepalived M1 adverts after ours: {theirs:?}\n{}",
        out.stdout
    );
    assert!(
        theirs[0] - sent_lower < 0.100,
        "keepalived answered after {:.4} s",
        theirs[0] - sent_lower
    );
    assert!(
        (theirs[1] - theirs[0] - 1.0).abs() < 0.100,
        "keepalived's next advert {:?}",
        theirs
    );
    // Ours, master at the same instant keepalived became master.
    let first_m1 = parse("rx", 95)[0];
    // Our clock runs 10 s ahead so that a start before the sender's t0 stays positive.
    let at = |t: f64| Instant::from_duration(Duration::from_secs_f64(t + 10.0));
    let mut c = InstanceCfg::new("M1", Version::V2, 95, vec![ip("192.168.95.1")]);
    c.src_addr = Some(ip("10.65.0.2"));
    let mut inst = Instance::new(c).unwrap_or_else(|e| panic!("{e}"));
    inst.step(at(first_m1 - 3.609375), Input::Startup);
    while let Some(d) = inst.next_deadline().filter(|d| *d <= at(sent_lower)) {
        inst.step(d, Input::Timer);
    }
    let adv = vrrp::check::RxAdvert {
        src: IpAddr::V4(src),
        priority: 50,
        adver_int: Duration::from_secs(1),
    };
    let acts = inst.step(at(sent_lower), Input::Advert(adv));
    assert!(
        acts.contains(&Action::SendAdvert { priority: 100 }),
        "ours did not answer: {acts:?}"
    );
    assert_eq!(
        inst.next_deadline(),
        Some(at(sent_lower) + Duration::from_secs(1))
    );

    // M2: the flood silences keepalived...
    let flood: Vec<f64> = parse("tx", 96);
    let (f0, f1) = (flood[0], flood[flood.len() - 1]);
    let during: Vec<f64> = parse("rx", 96)
        .into_iter()
        .filter(|t| *t > f0 + 0.01 && *t < f1)
        .collect();
    eprintln!("keepalived M2 adverts during the flood {f0:.3}-{f1:.3}: {during:?}");
    assert!(
        during.is_empty(),
        "keepalived 2.2.7 is expected to fall silent under the flood: {during:?}"
    );
    // ...but not us: the same packets through our checks, our master keeps its cadence.
    let mut c = InstanceCfg::new("M2", Version::V2, 96, vec![ip("192.168.96.1")]);
    c.src_addr = Some(ip("10.65.0.2"));
    let mut rx = Receiver::new(c.rx_cfg());
    let mut inst = Instance::new(c).unwrap_or_else(|e| panic!("{e}"));
    inst.step(at(0.0), Input::Startup);
    let mut sent = 0;
    for (t, h) in &lines {
        let now = at(*t);
        while let Some(d) = inst.next_deadline().filter(|d| *d <= now) {
            if inst
                .step(d, Input::Timer)
                .iter()
                .any(|a| matches!(a, Action::SendAdvert { .. }))
                && d > at(f0)
            {
                sent += 1;
            }
        }
        let bytes: Vec<u8> = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0))
            .collect();
        if bytes[21] == 96 {
            assert!(
                rx.check_ipv4(&bytes, inst.followed_master()).is_err(),
                "a flood packet passed our checks"
            );
        }
    }
    assert!(
        sent >= 2,
        "our master stopped advertising under the flood ({sent} adverts)"
    );
    lab.teardown().unwrap_or_else(|e| panic!("teardown: {e}"));
}
