//! Conformance scenarios as data: fixtures/vrrp/scenarios/NN-name.jsonl.
//!
//! Each file is JSON lines. The first line configures the instance
//! (`{"cfg": {...}}`, fields of [`ScenarioCfg`]). Then input lines, each
//! followed by the expected output lines it produces:
//! - `{"at": 0, "input": "startup"}` (also `interface_up`, `interface_down`,
//!   `shutdown`, `{"track_fault": true}`, `{"priority_delta": -20}`);
//! - `{"at": 1.5, "advert": {"src": "10.0.0.2", "priority": 150}}`: an advert
//!   that is built from the instance's own configuration, encoded as a real
//!   packet (`mutate` spoils it: `ttl`, `version`, `vrid`, `type`, `adver_int`,
//!   `pass`, `vips`, `checksum`, `truncate`, `dst`, `auth_type`, `as_v3`) and passed
//!   through the receive checks before the state machine;
//! - `{"until": 10}`: let time run to 10 s, firing every timer due on the way.
//!
//! Expected lines are `{"expect": {...}}`: the time, the input, the actions
//! (or the drop reason) and the resulting state and next deadline. Run with
//! `VRRP_BLESS=1` to rewrite the expected lines from the current behaviour.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use vrrp::auth;
use vrrp::check::{AuthCfg, Ipv6Meta, Receiver, UnicastPeer};
use vrrp::fsm::{Action, GarpCfg, InitialState, Input, Instance, InstanceCfg};
use vrrp::packet::{self, Checksum, Family, Ipv4Header, Version};
use vrrp::timers::Instant;

/// The instance of a scenario; everything but `vips` has keepalived's default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioCfg {
    #[serde(default = "default_name")]
    name: String,
    #[serde(default = "default_version")]
    version: u8,
    #[serde(default = "default_vrid")]
    vrid: u8,
    #[serde(default = "default_priority")]
    priority: u8,
    #[serde(default = "default_adver_int")]
    advert_int: f64,
    #[serde(default)]
    state_master: bool,
    #[serde(default)]
    nopreempt: bool,
    #[serde(default)]
    preempt_delay: f64,
    #[serde(default)]
    lower_prio_no_advert: bool,
    #[serde(default)]
    higher_prio_send_advert: bool,
    #[serde(default)]
    min_garp: bool,
    #[serde(default)]
    garp_master_refresh: f64,
    #[serde(default = "default_src")]
    src: IpAddr,
    vips: Vec<IpAddr>,
    #[serde(default)]
    auth_pass: Option<String>,
    #[serde(default)]
    skip_check_adv_addr: bool,
    #[serde(default)]
    unicast_peers: Vec<IpAddr>,
    #[serde(default)]
    check_unicast_src: bool,
}

fn default_name() -> String {
    "VI_1".into()
}
fn default_version() -> u8 {
    2
}
fn default_vrid() -> u8 {
    51
}
fn default_priority() -> u8 {
    100
}
fn default_adver_int() -> f64 {
    1.0
}
fn default_src() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
}

fn secs(f: f64) -> Duration {
    Duration::from_micros((f * 1e6).round() as u64)
}

fn instant(f: f64) -> Instant {
    Instant::from_duration(secs(f))
}

fn time_value(t: Instant) -> Value {
    // Microsecond precision, as keepalived's timers.
    let us = t.as_micros();
    let v = us as f64 / 1e6;
    json!(v)
}

impl ScenarioCfg {
    fn instance_cfg(&self) -> InstanceCfg {
        let version = if self.version == 3 {
            Version::V3
        } else {
            Version::V2
        };
        let mut c = InstanceCfg::new(&self.name, version, self.vrid, self.vips.clone());
        c.priority = self.priority;
        c.adver_int = secs(self.advert_int);
        c.initial_state = if self.state_master {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        c.nopreempt = self.nopreempt;
        c.preempt_delay = secs(self.preempt_delay);
        c.lower_prio_no_advert = self.lower_prio_no_advert;
        c.higher_prio_send_advert = self.higher_prio_send_advert;
        if self.min_garp {
            c.garp = GarpCfg::min_garp();
        }
        c.garp.master_refresh = secs(self.garp_master_refresh);
        c.src_addr = Some(self.src);
        if let Some(p) = &self.auth_pass {
            c.auth = AuthCfg::Pass(auth::pass_bytes(p));
        }
        c.skip_check_adv_addr = self.skip_check_adv_addr;
        c.unicast_peers = self
            .unicast_peers
            .iter()
            .map(|a| UnicastPeer::new(*a))
            .collect();
        c.check_unicast_src = self.check_unicast_src;
        c
    }
}

/// An advert from a peer, built from our configuration and then spoiled.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvertIn {
    src: IpAddr,
    priority: u8,
    /// Seconds; defaults to ours.
    #[serde(default)]
    adver_int: Option<f64>,
    #[serde(default)]
    mutate: Mutate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mutate {
    ttl: Option<u8>,
    version: Option<u8>,
    vrid: Option<u8>,
    #[serde(rename = "type")]
    kind: Option<u8>,
    adver_int: Option<u16>,
    pass: Option<String>,
    auth_type: Option<u8>,
    vips: Option<Vec<IpAddr>>,
    #[serde(default)]
    checksum: bool,
    truncate: Option<usize>,
    dst: Option<IpAddr>,
    /// Send a well-formed VRRPv3 advert (interval 1 s) instead.
    #[serde(default)]
    as_v3: bool,
}

fn build_packet(cfg: &InstanceCfg, a: &AdvertIn) -> (Vec<u8>, Option<Ipv6Meta>) {
    let mut adv = cfg.advert(a.priority);
    if let Some(s) = a.adver_int {
        adv.adver_int = match cfg.version {
            Version::V2 => s.round() as u16,
            Version::V3 => (s * 100.0).round() as u16,
        };
    }
    let m = &a.mutate;
    if let Some(v) = &m.vips {
        let peer = InstanceCfg {
            vips: v.clone(),
            ..cfg.clone()
        };
        adv.addrs = peer.advert(a.priority).addrs;
    }
    if let Some(p) = &m.pass {
        adv.auth_data = auth::pass_bytes(p);
    }
    if m.as_v3 {
        adv.version = Version::V3;
        adv.adver_int = 100;
        adv.auth_type = vrrp::packet::AuthType::None;
        adv.auth_data = [0; 8];
    }
    let dst = m
        .dst
        .unwrap_or(match (cfg.family, cfg.unicast_peers.first()) {
            (_, Some(p)) => p.addr,
            (Family::V4, None) => IpAddr::V4(packet::MCAST_V4),
            (Family::V6, None) => IpAddr::V6(packet::MCAST_V6),
        });
    let ck = Checksum::Pseudo { src: a.src, dst };
    let mut msg = adv.encode(&ck).unwrap_or_else(|e| panic!("encode: {e}"));
    if let Some(v) = m.version {
        msg[0] = (v << 4) | (msg[0] & 0x0f);
    }
    if let Some(k) = m.kind {
        msg[0] = (msg[0] & 0xf0) | k;
    }
    if let Some(v) = m.vrid {
        msg[1] = v;
    }
    if let Some(at) = m.auth_type {
        msg[4] = at;
    }
    if let Some(i) = m.adver_int {
        if cfg.version == Version::V2 {
            msg[5] = i as u8;
        } else {
            msg[4..6].copy_from_slice(&i.to_be_bytes());
        }
    }
    if m.version.is_some()
        || m.kind.is_some()
        || m.vrid.is_some()
        || m.auth_type.is_some()
        || m.adver_int.is_some()
    {
        // Re-checksum so that only the spoiled field is wrong.
        msg[6..8].fill(0);
        let sum = recompute(&msg, &ck);
        msg[6..8].copy_from_slice(&sum.to_be_bytes());
    }
    if m.checksum {
        msg[7] ^= 0x5a;
    }
    let (bytes, meta) = match (a.src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ip = Ipv4Header {
                tos: packet::TOS_INTERNETCONTROL,
                id: 1,
                frag: 0,
                ttl: m.ttl.unwrap_or(255),
                protocol: packet::IPPROTO_VRRP,
                src: s,
                dst: d,
            };
            let mut out = Vec::new();
            ip.encode_into((Ipv4Header::LEN + msg.len()) as u16, &mut out);
            out.extend_from_slice(&msg);
            (out, None)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let meta = Ipv6Meta {
                src: s,
                dst: d,
                hop_limit: Some(m.ttl.unwrap_or(255)),
            };
            (msg, Some(meta))
        }
        _ => panic!("advert src and dst of different families"),
    };
    let mut bytes = bytes;
    if let Some(n) = m.truncate {
        bytes.truncate(bytes.len().saturating_sub(n));
        if meta.is_none() && bytes.len() >= 4 {
            let len = bytes.len() as u16;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
        }
    }
    (bytes, meta)
}

fn recompute(msg: &[u8], ck: &Checksum) -> u16 {
    // The checksum of msg with a zero checksum field under our rules.
    let mut v = msg.to_vec();
    v[6..8].fill(0);
    let ver_is_3 = v[0] >> 4 == 3;
    let mut acc: Vec<u8> = Vec::new();
    if ver_is_3 {
        if let Checksum::Pseudo { src, dst } = ck {
            match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    acc.extend_from_slice(&s.octets());
                    acc.extend_from_slice(&d.octets());
                    acc.extend_from_slice(&[0, packet::IPPROTO_VRRP]);
                    acc.extend_from_slice(&(v.len() as u16).to_be_bytes());
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    acc.extend_from_slice(&s.octets());
                    acc.extend_from_slice(&d.octets());
                    acc.extend_from_slice(&(v.len() as u32).to_be_bytes());
                    acc.extend_from_slice(&[0, 0, 0, packet::IPPROTO_VRRP]);
                }
                _ => {}
            }
        }
    }
    acc.extend_from_slice(&v);
    packet::internet_checksum(&acc)
}

fn action_str(a: &Action) -> String {
    match a {
        Action::SendAdvert { priority } => format!("send_advert {priority}"),
        Action::AddVips => "add_vips".into(),
        Action::RemoveVips => "remove_vips".into(),
        Action::SendGarp { count, spacing } => {
            format!("send_garp {count} x {}ms", spacing.as_millis())
        }
        Action::Notify { state, priority } => {
            format!("notify {} {priority}", format!("{state:?}").to_uppercase())
        }
        Action::NotifyMasterRxLowerPri { priority } => {
            format!("notify_master_rx_lower_pri {priority}")
        }
        Action::Log(l) => format!("log {l}"),
    }
}

struct Run {
    inst: Instance,
    rx: Receiver,
    now: Instant,
    out: Vec<Value>,
}

impl Run {
    fn record(&mut self, input: &str, actions: &[Action], dropped: Option<String>) {
        let mut e = serde_json::Map::new();
        e.insert("at".into(), time_value(self.now));
        e.insert("input".into(), json!(input));
        if let Some(d) = dropped {
            e.insert("dropped".into(), json!(d));
        }
        if !actions.is_empty() {
            e.insert(
                "actions".into(),
                json!(actions.iter().map(action_str).collect::<Vec<_>>()),
            );
        }
        e.insert(
            "state".into(),
            json!(format!("{:?}", self.inst.state()).to_uppercase()),
        );
        e.insert("priority".into(), json!(self.inst.effective_priority()));
        e.insert(
            "next".into(),
            self.inst
                .next_deadline()
                .map(time_value)
                .unwrap_or(Value::Null),
        );
        self.out.push(json!({ "expect": Value::Object(e) }));
    }

    fn advance(&mut self, until: Instant) {
        // Every timer due up to `until`, in order; bounded against a runaway.
        for _ in 0..100_000 {
            match self.inst.next_deadline() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let acts = self.inst.step(self.now, Input::Timer);
                    self.record("timer", &acts, None);
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
        panic!("timers never settle before {until:?}");
    }

    /// Fire the timers due before `line`'s time (recorded before the line).
    fn before(&mut self, line: &Value) {
        if line.get("until").is_none() {
            let at = line.get("at").and_then(Value::as_f64);
            self.advance(instant(
                at.unwrap_or_else(|| panic!("input without \"at\": {line}")),
            ));
        }
    }

    fn input(&mut self, line: &Value) {
        if let Some(u) = line.get("until").and_then(Value::as_f64) {
            self.advance(instant(u));
            return;
        }
        if let Some(a) = line.get("advert") {
            let a: AdvertIn =
                serde_json::from_value(a.clone()).unwrap_or_else(|e| panic!("{line}: {e}"));
            let (bytes, meta) = build_packet(self.inst.cfg(), &a);
            let master = self.inst.followed_master();
            let r = match meta {
                None => self.rx.check_ipv4(&bytes, master),
                Some(m) => self.rx.check_ipv6(&bytes, &m, master),
            };
            let label = format!("advert from {} prio {}", a.src, a.priority);
            match r {
                Ok(adv) => {
                    let acts = self.inst.step(self.now, Input::Advert(adv));
                    self.record(&label, &acts, None);
                }
                Err(e) => self.record(&label, &[], Some(format!("{}: {e}", e.reason().name()))),
            }
            return;
        }
        let (name, input) = match line.get("input") {
            Some(Value::String(s)) => (
                s.clone(),
                match s.as_str() {
                    "startup" => Input::Startup,
                    "interface_up" => Input::InterfaceUp,
                    "interface_down" => Input::InterfaceDown,
                    "shutdown" => Input::Shutdown,
                    other => panic!("unknown input {other}"),
                },
            ),
            Some(Value::Object(o)) => {
                if let Some(b) = o.get("track_fault").and_then(Value::as_bool) {
                    (format!("track_fault {b}"), Input::TrackFault(b))
                } else if let Some(d) = o.get("priority_delta").and_then(Value::as_i64) {
                    (
                        format!("priority_delta {d}"),
                        Input::PriorityDelta(d as i32),
                    )
                } else {
                    panic!("unknown input {line}")
                }
            }
            _ => panic!("line is neither input nor expectation: {line}"),
        };
        let acts = self.inst.step(self.now, input);
        self.record(&name, &acts, None);
    }
}

fn run_scenario(file: &str) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/vrrp/scenarios")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let raw: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let lines: Vec<Value> = raw
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{file}: {e}: {l}")))
        .collect();
    let cfg_line = lines
        .first()
        .and_then(|l| l.get("cfg"))
        .unwrap_or_else(|| panic!("{file}: first line must be {{\"cfg\": ...}}"));
    let scfg: ScenarioCfg =
        serde_json::from_value(cfg_line.clone()).unwrap_or_else(|e| panic!("{file}: cfg: {e}"));
    let icfg = scfg.instance_cfg();
    let inst = Instance::new(icfg.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut run = Run {
        rx: Receiver::new(icfg.rx_cfg()),
        inst,
        now: Instant::ZERO,
        out: Vec::new(),
    };
    let mut rewritten: Vec<String> = vec![raw[0].to_string()];
    let mut expected: Vec<Value> = Vec::new();
    for (line, raw) in lines.iter().zip(&raw).skip(1) {
        if line.get("expect").is_some() {
            expected.push(line.clone());
            continue;
        }
        let mark = run.out.len();
        run.before(line);
        rewritten.extend(run.out[mark..].iter().map(|v| v.to_string()));
        rewritten.push(raw.to_string());
        let mark = run.out.len();
        run.input(line);
        rewritten.extend(run.out[mark..].iter().map(|v| v.to_string()));
    }
    if std::env::var("VRRP_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, rewritten.join("\n") + "\n")
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    for (i, (got, want)) in run.out.iter().zip(expected.iter()).enumerate() {
        assert_eq!(
            got,
            want,
            "{file}: expectation {} differs (VRRP_BLESS=1 rewrites)",
            i + 1
        );
    }
    assert_eq!(
        run.out.len(),
        expected.len(),
        "{file}: number of expectations differs (VRRP_BLESS=1 rewrites)"
    );
}

// One line per scenario.
macro_rules! scenarios {
    ($($test:ident => $file:literal,)*) => {
        $(#[test]
        fn $test() {
            run_scenario($file);
        })*
    };
}

scenarios! {
    s01_startup_to_master => "01-startup-to-master.jsonl",
    s02_backup_with_higher_master => "02-backup-with-higher-master.jsonl",
    s03_preemption => "03-preemption.jsonl",
    s04_nopreempt => "04-nopreempt.jsonl",
    s05_preempt_delay => "05-preempt-delay.jsonl",
    s06_priority0_resignation => "06-priority0-resignation.jsonl",
    s07_equal_priority_tiebreak => "07-equal-priority-tiebreak.jsonl",
    s08_lower_priority_at_master => "08-lower-priority-at-master.jsonl",
    s09_fault_and_recovery => "09-fault-and-recovery.jsonl",
    s10_v3_interval_learning => "10-v3-interval-learning.jsonl",
    s11_invalid_packets_ignored => "11-invalid-packets-ignored.jsonl",
    s12_owner_starts_master => "12-owner-starts-master.jsonl",
    s13_both_owners => "13-both-owners.jsonl",
    s14_master_flood_keeps_schedule => "14-master-flood-keeps-schedule.jsonl",
    s15_tracking_priority => "15-tracking-priority.jsonl",
    s16_v3_ipv6 => "16-v3-ipv6.jsonl",
    s17_garp_refresh => "17-garp-refresh.jsonl",
    s18_unicast_checks => "18-unicast-checks.jsonl",
    s19_min_garp_and_advert_options => "19-min-garp-and-advert-options.jsonl",
    s20_pass_auth => "20-pass-auth.jsonl",
}
