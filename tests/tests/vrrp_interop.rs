//! keepalived-rs and the real keepalived 2.2.7 as VRRP peers in network
//! namespaces: who holds the VIP in steady state, how fast a crash (SIGKILL)
//! or a graceful stop (SIGTERM) of the master moves it, what a partition and
//! its healing do, and the gratuitous ARPs / NAs on the wire. Each scenario
//! runs with ours as master and keepalived as backup, and the reverse.
//!
//! Bounds (the brief, from RFC 3768/5798 6.4.2 timers): takeover after
//! SIGKILL within 3 x advert_int + skew + 0.4 s, after SIGTERM (priority-0
//! advert) within skew + 0.4 s, the lower priority node releases within
//! 1.5 s of a partition healing; exactly one holder in steady state sampled
//! every 20 ms.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use testlab::capture::{Capture, Kind};
use testlab::keepalived::{Auth, Keepalived, KeepalivedCfg, StartOpts, VrrpInstanceCfg};
use testlab::netns::{Lab, Topology};
use testlab::Need;

const NEEDS: &[Need] = &[Need::Root, Need::Program("keepalived"), Need::Program("ip")];
/// Slack on every timing bound: scheduling in a busy 2-core lab.
const SLACK: Duration = Duration::from_millis(400);

/// One timed scenario at a time: on a 2-core machine, parallel scenarios
/// (each polling addresses every 10-20 ms) delay each other's daemons by
/// more than the slack.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn fail<T, E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> T + '_ {
    move |e| panic!("{what}: {e}")
}

// ---------------------------------------------------------------------------
// The two implementations behind one face
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Ours,
    Keepalived,
}

/// A VRRP daemon (ours or keepalived) running in a lab host, through the
/// lab's keepalived wrapper (same command line for both).
struct Daemon {
    which: Impl,
    host: String,
    k: Keepalived,
}

/// Our binary, built (by `our_binary`) once per test process rather than
/// before every daemon start.
fn our_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BIN.get_or_init(testlab::confgen::run::our_binary)
        .clone()
        .unwrap_or_else(|e| panic!("keepalived-rs binary: {e}"))
}

impl Daemon {
    fn start(which: Impl, lab: &Lab, host: &str, config: &str) -> Daemon {
        let h = lab.host(host).unwrap_or_else(fail("host"));
        let opts = StartOpts {
            // No syslog: keepalived logs every rejected advert (labs.md).
            no_syslog: which == Impl::Keepalived,
            extra_args: Vec::new(),
            program: (which == Impl::Ours).then(our_binary),
        };
        let k = Keepalived::start_with(h, config, &opts).unwrap_or_else(fail("start"));
        Daemon {
            which,
            host: host.to_string(),
            k,
        }
    }

    fn log(&self) -> String {
        format!(
            "--- {:?} on {} ---\n{}",
            self.which,
            self.host,
            self.k.log()
        )
    }

    /// Crash: SIGKILL, then drop the VIPs it left (a crashed host has none).
    fn kill(&mut self) {
        self.k.kill().unwrap_or_else(fail("kill"));
    }

    /// Graceful stop; whether it exited 0 within 5 s.
    fn term(&mut self) -> bool {
        let (st, in_time) = self
            .k
            .stop(Duration::from_secs(5))
            .unwrap_or_else(fail("stop"));
        in_time && st.success()
    }
}

// ---------------------------------------------------------------------------
// Scenario parameters
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    high: Impl,
    low: Impl,
    version: u8,
    ipv6: bool,
    advert_int: f64,
    auth: Option<&'static str>,
    unicast: bool,
    nopreempt: bool,
}

impl Scenario {
    fn v2(name: &'static str, high: Impl, low: Impl) -> Scenario {
        Scenario {
            name,
            high,
            low,
            version: 2,
            ipv6: false,
            advert_int: 1.0,
            auth: Some("s3cr3t"),
            unicast: false,
            nopreempt: false,
        }
    }

    fn vip(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 31, 0, 100))
        }
    }

    fn host_addr(&self, i: u8) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(i)))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 31, 0, i))
        }
    }

    fn instance(&self, me: u8, priority: u8) -> VrrpInstanceCfg {
        let mut c = VrrpInstanceCfg::new("eth0", 51, priority)
            .version(self.version)
            .advert_int(self.advert_int);
        c = if self.ipv6 {
            c.vip("fd00::100/64")
        } else {
            c.vip("10.31.0.100/24")
        };
        if let Some(p) = self.auth {
            c = c.auth(Auth::Pass(p.to_string()));
        }
        if self.unicast {
            let peer = self.host_addr(3 - me);
            c = c.unicast(Some(self.host_addr(me)), &[peer]);
        }
        if self.nopreempt {
            c = c.nopreempt();
        }
        c
    }

    fn config(&self, me: u8, priority: u8) -> String {
        KeepalivedCfg::single(&format!("r{me}"), self.instance(me, priority)).render()
    }

    fn advert(&self) -> Duration {
        Duration::from_secs_f64(self.advert_int)
    }

    /// RFC 5798 6.1 skew for `priority` (v2: (256-p)/256 s; v3 scaled).
    fn skew(&self, priority: u8) -> Duration {
        let unit = if self.version == 2 {
            Duration::from_secs(1)
        } else {
            self.advert()
        };
        unit.mul_f64(f64::from(256 - u32::from(priority)) / 256.0)
    }
}

const HIGH: u8 = 150;
const LOW: u8 = 100;

fn lab() -> Lab {
    Topology::new()
        .iface("a", "eth0", Some("lan"), &["10.31.0.1/24", "fd00::1/64"])
        .iface("b", "eth0", Some("lan"), &["10.31.0.2/24", "fd00::2/64"])
        .build()
        .unwrap_or_else(fail("build lab"))
}

fn sole(lab: &Lab, vip: IpAddr, host: &str, timeout: Duration, logs: &[&Daemon]) -> Duration {
    match lab.wait_sole_holder(vip, host, timeout) {
        Ok(w) => w.elapsed,
        Err(e) => {
            let l: Vec<String> = logs.iter().map(|d| d.log()).collect();
            panic!(
                "{host} never became the sole holder of {vip}: {e}\n{}",
                l.join("\n")
            )
        }
    }
}

fn steady(lab: &Lab, vip: IpAddr, host: &str, logs: &[&Daemon]) {
    let s = lab
        .sample_holders(vip, Duration::from_secs(3), Duration::from_millis(20))
        .unwrap_or_else(fail("sample"));
    let bad = s.not_solely(host);
    if !bad.is_empty() {
        let l: Vec<String> = logs.iter().map(|d| d.log()).collect();
        panic!(
            "{host} was not the sole holder of {vip} in {} of {} samples, first {:?}\n{}",
            bad.len(),
            s.len(),
            bad[0],
            l.join("\n")
        );
    }
}

/// The GARPs (or unsolicited NAs) for the VIP that reached the capturing
/// host from others, as offsets in the capture.
fn announcements(cap: &Capture, vip: IpAddr) -> Vec<Duration> {
    cap.frames()
        .into_iter()
        .filter(|f| !f.outgoing)
        .filter(|f| match (vip, &f.kind) {
            (IpAddr::V4(v), Kind::Arp(a)) => {
                a.is_gratuitous() && a.sender_ip == v && a.op == 1 && f.dst_mac == [0xff; 6]
            }
            (IpAddr::V6(v), Kind::NeighborAdvert(n)) => {
                n.target == v
                    && n.hop_limit == 255
                    && n.override_flag
                    && !n.solicited
                    && n.dst == Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)
            }
            _ => false,
        })
        .map(|f| f.offset)
        .collect()
}

/// keepalived's default GARP behaviour (labs.md, measured): 5 at once on
/// becoming master, 5 more 5 s later.
fn assert_garp_schedule(times: &[Duration], who: &str) {
    assert!(
        times.len() >= 10,
        "{who}: expected 10 announcements (5 + 5 after 5 s), saw {}: {times:?}",
        times.len()
    );
    let first = &times[..5];
    let second = &times[5..10];
    let spread = |b: &[Duration]| b[b.len() - 1] - b[0];
    assert!(
        spread(first) < Duration::from_millis(200),
        "{who}: first burst not at once: {first:?}"
    );
    assert!(
        spread(second) < Duration::from_millis(200),
        "{who}: second burst not at once: {second:?}"
    );
    let gap = second[0] - first[0];
    assert!(
        gap >= Duration::from_millis(4800) && gap <= Duration::from_millis(5600),
        "{who}: second burst {gap:?} after the first, expected 5 s"
    );
}

/// SIGTERM to the master `hi` (on host a) and the handover to `lo` (on b):
/// returns how long after the signal the priority-0 advert reached b, and
/// how long after that advert b was the sole holder. The master must exit
/// 0 within 5 s.
fn graceful_handover(
    lab: &Lab,
    vip: IpAddr,
    hi: &mut Daemon,
    lo: &Daemon,
    name: &str,
) -> (Duration, Duration) {
    let cap = Capture::on_host(lab.host("b").unwrap_or_else(fail("host")), "eth0")
        .unwrap_or_else(fail("capture"));
    let t_sig = Instant::now();
    hi.k.process()
        .signal(nix::sys::signal::Signal::SIGTERM)
        .unwrap_or_else(fail("SIGTERM"));
    // The takeover is b holding the VIP; the resigning master's own removal
    // of it is checked next without a tight bound (keepalived 2.2.7 was
    // seen to take over a second when it resigns right after becoming
    // master).
    lab.wait_holder(vip, "b", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{name}: no takeover after SIGTERM: {e}\n{}", lo.log()));
    let t_hold = Instant::now();
    lab.wait_sole_holder(vip, "b", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{name}: the stopped master kept the VIP: {e}\n{}", hi.log()));
    let st =
        hi.k.process()
            .wait_timeout(Duration::from_secs(5))
            .unwrap_or_else(fail("wait"));
    assert!(
        st.is_some_and(|s| s.success()),
        "{name}: master did not exit 0 within 5 s of SIGTERM ({st:?})\n{}",
        hi.log()
    );
    let t_adv = cap
        .frames()
        .into_iter()
        .find(|f| !f.outgoing && f.vrrp().is_some_and(|v| v.priority == 0))
        .map(|f| f.at)
        .unwrap_or_else(|| panic!("{name}: no priority-0 advert seen after SIGTERM"));
    (
        t_adv.saturating_duration_since(t_sig),
        t_hold.saturating_duration_since(t_adv),
    )
}

/// The whole scenario: election, steady state, crash takeover with GARPs,
/// preemption back, graceful-stop takeover, partition and healing.
fn run(sc: &Scenario) {
    let _one_at_a_time = serial();
    let lab = lab();
    let vip = sc.vip();
    let mut lab = lab;

    // 1. Election: the higher priority ends up the only holder.
    let mut hi = Daemon::start(sc.high, &lab, "a", &sc.config(1, HIGH));
    let mut lo = Daemon::start(sc.low, &lab, "b", &sc.config(2, LOW));
    sole(&lab, vip, "a", Duration::from_secs(15), &[&hi, &lo]);
    steady(&lab, vip, "a", &[&hi, &lo]);

    // 2. Crash of the master: the backup takes over within the master-down
    //    interval, and announces the VIP as keepalived does.
    let cap = Capture::on_host(lab.host("a").unwrap_or_else(fail("host")), "eth0")
        .unwrap_or_else(fail("capture"));
    let t0 = Instant::now();
    hi.kill();
    let bound = sc.advert() * 3 + sc.skew(LOW) + SLACK;
    let took = match lab.wait_holder(vip, "b", bound + Duration::from_secs(3)) {
        Ok(_) => t0.elapsed(),
        Err(e) => panic!("{}: no takeover after SIGKILL: {e}\n{}", sc.name, lo.log()),
    };
    assert!(
        took <= bound,
        "{}: takeover after SIGKILL took {took:?}, bound {bound:?}\n{}",
        sc.name,
        lo.log()
    );
    // The second GARP burst comes 5 s after the first; sample meanwhile.
    steady(&lab, vip, "b", &[&lo]);
    std::thread::sleep(Duration::from_millis(3000));
    let times = announcements(&cap, vip);
    drop(cap);
    assert_garp_schedule(&times, &format!("{} ({:?} as new master)", sc.name, sc.low));

    // 3. The higher priority comes back and preempts (unless nopreempt).
    let mut hi = Daemon::start(sc.high, &lab, "a", &sc.config(1, HIGH));
    if sc.nopreempt {
        steady(&lab, vip, "b", &[&hi, &lo]);
        lo.term();
        sole(
            &lab,
            vip,
            "a",
            sc.skew(HIGH) + SLACK + Duration::from_secs(2),
            &[&hi],
        );
        return;
    }
    sole(&lab, vip, "a", Duration::from_secs(10), &[&hi, &lo]);

    // 4. Graceful stop: priority 0 makes the backup take over after skew.
    let (resign, took) = graceful_handover(&lab, vip, &mut hi, &lo, sc.name);
    let bound = sc.skew(LOW) + SLACK;
    assert!(
        took <= bound,
        "{}: takeover {took:?} after the priority-0 advert, bound {bound:?}\n{}",
        sc.name,
        lo.log()
    );
    if sc.high == Impl::Ours {
        assert!(
            resign <= Duration::from_millis(200),
            "{}: our priority-0 advert came {resign:?} after SIGTERM",
            sc.name
        );
    }

    // 5. Partition and healing: both become master while cut apart; after
    //    healing the lower priority releases within 1.5 s.
    let hi = Daemon::start(sc.high, &lab, "a", &sc.config(1, HIGH));
    sole(&lab, vip, "a", Duration::from_secs(10), &[&hi, &lo]);
    lab.partition("b").unwrap_or_else(fail("partition"));
    lab.wait_holders(vip, Duration::from_secs(10), |h| h.len() == 2)
        .unwrap_or_else(|e| panic!("{}: partitioned backup did not take the VIP: {e}", sc.name));
    lab.heal("b").unwrap_or_else(fail("heal"));
    let t0 = Instant::now();
    lab.wait_sole_holder(vip, "a", Duration::from_secs(5))
        .unwrap_or_else(|e| {
            panic!(
                "{}: no release after healing: {e}\n{}\n{}",
                sc.name,
                hi.log(),
                lo.log()
            )
        });
    let took = t0.elapsed();
    assert!(
        took <= Duration::from_millis(1500) + sc.advert(),
        "{}: lower priority released {took:?} after healing",
        sc.name
    );
    drop(hi);
    drop(lo);
}

/// Both directions of one scenario are separate tests so a failure names
/// which side was ours.
macro_rules! both_ways {
    ($ours_master:ident, $ours_backup:ident, $make:expr) => {
        #[test]
        fn $ours_master() {
            if !testlab::lab_guard(stringify!($ours_master), NEEDS) {
                return;
            }
            let mut sc: Scenario = $make;
            sc.name = stringify!($ours_master);
            sc.high = Impl::Ours;
            sc.low = Impl::Keepalived;
            run(&sc);
        }

        #[test]
        fn $ours_backup() {
            if !testlab::lab_guard(stringify!($ours_backup), NEEDS) {
                return;
            }
            let mut sc: Scenario = $make;
            sc.name = stringify!($ours_backup);
            sc.high = Impl::Keepalived;
            sc.low = Impl::Ours;
            run(&sc);
        }
    };
}

fn base() -> Scenario {
    Scenario::v2("", Impl::Ours, Impl::Keepalived)
}

both_ways!(v2_pass_ours_master, v2_pass_ours_backup, base());

both_ways!(
    v3_ipv4_fast_ours_master,
    v3_ipv4_fast_ours_backup,
    Scenario {
        version: 3,
        advert_int: 0.1,
        auth: None,
        ..base()
    }
);

both_ways!(
    v3_ipv6_ours_master,
    v3_ipv6_ours_backup,
    Scenario {
        version: 3,
        ipv6: true,
        auth: None,
        ..base()
    }
);

both_ways!(
    v2_unicast_ours_master,
    v2_unicast_ours_backup,
    Scenario {
        unicast: true,
        ..base()
    }
);

both_ways!(
    v2_nopreempt_ours_master,
    v2_nopreempt_ours_backup,
    Scenario {
        nopreempt: true,
        ..base()
    }
);

/// Adverts that fail the peer's checks (another password, another VRID)
/// are ignored by both implementations: each side becomes master on its
/// own and stays so.
fn mismatch(name: &'static str, ours_cfg: String, theirs_cfg: String) {
    if !testlab::lab_guard(name, NEEDS) {
        return;
    }
    let _one_at_a_time = serial();
    let lab = lab();
    let vip = base().vip();
    let ours = Daemon::start(Impl::Ours, &lab, "a", &ours_cfg);
    let theirs = Daemon::start(Impl::Keepalived, &lab, "b", &theirs_cfg);
    lab.wait_holders(vip, Duration::from_secs(15), |h| h.len() == 2)
        .unwrap_or_else(|e| {
            panic!(
                "{name}: both should hold the VIP: {e}\n{}\n{}",
                ours.log(),
                theirs.log()
            )
        });
    let s = lab
        .sample_holders(vip, Duration::from_secs(3), Duration::from_millis(20))
        .unwrap_or_else(fail("sample"));
    let split = s.0.iter().filter(|(_, h)| h.len() != 2).count();
    assert_eq!(
        split, 0,
        "{name}: a side released the VIP on a mismatched advert"
    );
}

#[test]
fn mismatched_password_is_ignored_by_both() {
    let sc = base();
    let mut other = sc.instance(2, LOW);
    other.auth = Some(Auth::Pass("other".into()));
    mismatch(
        "mismatched_password_is_ignored_by_both",
        sc.config(1, HIGH),
        KeepalivedCfg::single("r2", other).render(),
    );
}

#[test]
fn mismatched_vrid_is_ignored_by_both() {
    let sc = base();
    let mut other = sc.instance(2, LOW);
    other.vrid = 52;
    mismatch(
        "mismatched_vrid_is_ignored_by_both",
        sc.config(1, HIGH),
        KeepalivedCfg::single("r2", other).render(),
    );
}

/// Takeover times with keepalived 2.2.7 as master and either
/// implementation as backup, for BENCHMARKS.md ("VRRP"): SIGTERM (the
/// priority-0 advert, then skew) and SIGKILL (master-down interval), three
/// runs each, printed with `--nocapture`. Each run must meet the bounds.
#[test]
fn failover_times_keepalived_vs_ours_as_backup() {
    if !testlab::lab_guard("failover_times_keepalived_vs_ours_as_backup", NEEDS) {
        return;
    }
    let _one_at_a_time = serial();
    let sc = base();
    let vip = sc.vip();
    let lab = lab();
    let mut rows = Vec::new();
    for backup in [Impl::Keepalived, Impl::Ours] {
        let mut lo = Daemon::start(backup, &lab, "b", &sc.config(2, LOW));
        for run in 0..3 {
            for crash in [false, true] {
                let mut hi = Daemon::start(Impl::Keepalived, &lab, "a", &sc.config(1, HIGH));
                sole(&lab, vip, "a", Duration::from_secs(15), &[&hi, &lo]);
                // Let the backup settle on the master's adverts first.
                std::thread::sleep(Duration::from_millis(1500));
                let bound = if crash {
                    sc.advert() * 3 + sc.skew(LOW) + SLACK
                } else {
                    sc.skew(LOW) + SLACK
                };
                let took = if crash {
                    let t0 = Instant::now();
                    hi.kill();
                    lab.wait_holder(vip, "b", bound + Duration::from_secs(3))
                        .unwrap_or_else(|e| panic!("no takeover: {e}\n{}", lo.log()));
                    t0.elapsed()
                } else {
                    graceful_handover(&lab, vip, &mut hi, &lo, "bench").1
                };
                assert!(
                    took <= bound,
                    "{backup:?} backup: takeover after {} took {took:?}, bound {bound:?}",
                    if crash {
                        "SIGKILL"
                    } else {
                        "the priority-0 advert"
                    }
                );
                rows.push((backup, crash, run, took));
                drop(hi);
            }
        }
        lo.term();
    }
    // SIGKILL: from the kill; SIGTERM: from the priority-0 advert on the wire.
    println!("backup      | master stop | run | VIP on backup after");
    for (b, crash, run, took) in rows {
        println!(
            "{:<11} | {:<11} | {run}   | {:.3} s",
            format!("{b:?}"),
            if crash { "SIGKILL" } else { "SIGTERM" },
            took.as_secs_f64()
        );
    }
}

// ---------------------------------------------------------------------------
// Flood of hostile adverts at a keepalived-rs master/backup pair
// ---------------------------------------------------------------------------

const FLOOD_KINDS: usize = 6;

fn inet_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A VRRPv2 advert for VRID 51, VIP 10.31.0.100, PASS `pass` (RFC 3768 5.1).
fn v2_advert(priority: u8, pass: &[u8]) -> Vec<u8> {
    let mut a = vec![0x21, 51, priority, 1, 1, 1, 0, 0, 10, 31, 0, 100];
    let mut p = [0u8; 8];
    p[..pass.len()].copy_from_slice(pass);
    a.extend_from_slice(&p);
    let c = inet_checksum(&a);
    a[6..8].copy_from_slice(&c.to_be_bytes());
    a
}

/// IPv4 header (TTL `ttl`, protocol 112, 10.31.0.3 -> 224.0.0.18) + payload.
fn ipv4_packet(ttl: u8, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0, 10, 31, 0, 3, 224, 0, 0, 18]);
    let c = inet_checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn hostile_packet(i: usize, rng: &mut impl rand::RngExt) -> Vec<u8> {
    match i % FLOOD_KINDS {
        0 => {
            let n = rng.random_range(2..80);
            let mut b: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            b[1] = 51;
            ipv4_packet(255, &b)
        }
        1 => {
            let g = v2_advert(100, b"s3cr3t");
            let n = rng.random_range(1..g.len());
            ipv4_packet(255, &g[..n])
        }
        2 => ipv4_packet(64, &v2_advert(100, b"s3cr3t")),
        3 => {
            let mut g = v2_advert(100, b"s3cr3t");
            g[6] ^= 0x5a;
            ipv4_packet(255, &g)
        }
        4 => ipv4_packet(255, &v2_advert(100, b"wrong")),
        _ => {
            let mut g = v2_advert(254, b"s3cr3t");
            g[7] ^= 0xff;
            ipv4_packet(255, &g)
        }
    }
}

/// Sends `count` hostile adverts from inside namespace `ns`, `per_ms` a
/// millisecond at most; returns how many went out.
fn send_flood(ns: &str, count: usize, per_ms: usize) -> usize {
    use nix::sys::socket::{
        self, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn,
    };
    let ns = ns.to_string();
    let t = std::thread::spawn(move || -> Result<usize, String> {
        let f = std::fs::File::open(format!("/run/netns/{ns}")).map_err(|e| e.to_string())?;
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())?;
        // IPPROTO_RAW implies IP_HDRINCL: the TTL is ours to set.
        let s = socket::socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Raw,
        )
        .map_err(|e| e.to_string())?;
        socket::setsockopt(&s, sockopt::BindToDevice, &std::ffi::OsString::from("eth0"))
            .map_err(|e| e.to_string())?;
        let dst = SockaddrIn::new(224, 0, 0, 18, 0);
        let mut rng = rand::rng();
        let mut sent = 0;
        let start = Instant::now();
        for i in 0..count {
            let p = hostile_packet(i, &mut rng);
            for _ in 0..100 {
                use std::os::fd::AsRawFd;
                if socket::sendto(s.as_raw_fd(), &p, &dst, MsgFlags::empty()).is_ok() {
                    sent += 1;
                    break;
                }
                // ENOBUFS under pressure: retry shortly.
                std::thread::sleep(Duration::from_micros(200));
            }
            if i % per_ms == per_ms - 1 {
                let due = start + Duration::from_millis(u64::try_from(i / per_ms + 1).unwrap_or(0));
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        }
        Ok(sent)
    });
    match t.join() {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => panic!("flood: {e}"),
        Err(_) => panic!("flood thread panicked"),
    }
}

/// The counters our daemon logs when it stops:
/// "(VI_51) adverts received N, dropped M name=count ...".
fn drop_summary(log: &str) -> (u64, std::collections::HashMap<String, u64>) {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(") adverts received "))
        .unwrap_or_else(|| panic!("no drop summary in the log:\n{log}"));
    let mut total = 0;
    let mut by = std::collections::HashMap::new();
    let words: Vec<&str> = line.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if *w == "dropped" {
            total = words.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(0);
        }
        if let Some((k, v)) = w.split_once('=') {
            by.insert(k.to_string(), v.parse().unwrap_or(0));
        }
    }
    (total, by)
}

#[test]
fn hostile_flood_at_our_pair_changes_nothing_and_is_counted() {
    if !testlab::lab_guard(
        "hostile_flood_at_our_pair_changes_nothing_and_is_counted",
        NEEDS,
    ) {
        return;
    }
    let _one_at_a_time = serial();
    let sc = base();
    let vip = sc.vip();
    let lab = Topology::new()
        .iface("a", "eth0", Some("lan"), &["10.31.0.1/24"])
        .iface("b", "eth0", Some("lan"), &["10.31.0.2/24"])
        .iface("c", "eth0", Some("lan"), &["10.31.0.3/24"])
        .build()
        .unwrap_or_else(fail("build lab"));
    let mut hi = Daemon::start(Impl::Ours, &lab, "a", &sc.config(1, HIGH));
    let mut lo = Daemon::start(Impl::Ours, &lab, "b", &sc.config(2, LOW));
    sole(&lab, vip, "a", Duration::from_secs(15), &[&hi, &lo]);
    let attacker = lab.host("c").unwrap_or_else(fail("host")).ns().to_string();
    let flooder = std::thread::spawn(move || send_flood(&attacker, 100_000, 20));
    let samples = lab
        .sample_holders(vip, Duration::from_secs(6), Duration::from_millis(20))
        .unwrap_or_else(fail("sample"));
    let sent = flooder
        .join()
        .unwrap_or_else(|_| panic!("flooder panicked"));
    assert!(sent >= 99_000, "only {sent} hostile adverts went out");
    assert!(
        samples.always_sole("a"),
        "holders changed under the flood: {:?}\n{}\n{}",
        samples.not_solely("a"),
        hi.log(),
        lo.log()
    );
    assert!(
        hi.k.is_running() && lo.k.is_running(),
        "a daemon died under the flood"
    );
    assert!(hi.term(), "master did not stop cleanly\n{}", hi.log());
    assert!(lo.term(), "backup did not stop cleanly\n{}", lo.log());
    assert_eq!(
        hi.k.log().matches("Entering MASTER STATE").count(),
        1,
        "{}",
        hi.log()
    );
    assert_eq!(
        lo.k.log().matches("Entering MASTER STATE").count(),
        0,
        "{}",
        lo.log()
    );
    for d in [&hi, &lo] {
        let (total, by) = drop_summary(&d.k.log());
        assert!(
            total >= (sent as u64) * 9 / 10,
            "{} counted {total} drops of {sent} hostile adverts: {by:?}",
            d.host
        );
        for reason in ["ip_ttl_err", "chk_err", "auth_failure"] {
            assert!(
                by.get(reason).is_some_and(|n| *n > 0),
                "{}: no {reason} in {by:?}",
                d.host
            );
        }
    }
}

/// Pid files as keepalived 2.2.7 handles them (checked against it here):
/// a second daemon with the same pid files says "daemon is already running"
/// and exits 0; a clean stop removes the files.
#[test]
fn pid_files_behave_like_keepalived() {
    if !testlab::lab_guard("pid_files_behave_like_keepalived", NEEDS) {
        return;
    }
    let _one_at_a_time = serial();
    let lab = lab();
    let conf = base().config(1, HIGH);
    for which in [Impl::Keepalived, Impl::Ours] {
        let mut first = Daemon::start(which, &lab, "a", &conf);
        let pid = first.k.dir().join("keepalived.pid");
        let vrrp_pid = first.k.dir().join("vrrp.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(pid.exists() && vrrp_pid.exists()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            pid.exists() && vrrp_pid.exists(),
            "{which:?} wrote no pid files"
        );
        // The same command line again, same pid files.
        let prog = match which {
            Impl::Ours => our_binary().to_string_lossy().into_owned(),
            Impl::Keepalived => "keepalived".into(),
        };
        let d = |n: &str| first.k.dir().join(n).to_string_lossy().into_owned();
        let args = [
            prog,
            "-n".into(),
            "-l".into(),
            "-G".into(),
            "-f".into(),
            d("keepalived.conf"),
            "-p".into(),
            d("keepalived.pid"),
            "-r".into(),
            d("vrrp.pid"),
            "-c".into(),
            d("checkers.pid"),
        ];
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = lab
            .host("a")
            .and_then(|h| h.run(&argv, Duration::from_secs(10)))
            .unwrap_or_else(fail("second daemon"));
        assert_eq!(out.code(), Some(0), "{which:?}: second daemon's status");
        assert!(
            format!("{}{}", out.stdout, out.stderr).contains("daemon is already running"),
            "{which:?}: second daemon said\n{}{}",
            out.stdout,
            out.stderr
        );
        assert!(first.k.is_running(), "{which:?}: the first daemon died");
        assert!(first.term(), "{which:?} did not stop cleanly");
        assert!(
            !pid.exists() && !vrrp_pid.exists(),
            "{which:?} left its pid files"
        );
    }
}
