//! VRRP benchmark: takeover times and the steady-state cost of 1,000 master instances, keepalived-rs against keepalived 2.2.7 in one run, printed as markdown tables.
//!
//! **Takeover.** Two labs, one per implementation, each two hosts `a`
//! (master, priority 150, `state MASTER`) and `b` (backup, priority 100) on
//! one bridge; both sides of a lab run the same program. The trials of the
//! two implementations are interleaved (SIGKILL then SIGTERM, keepalived
//! then ours), so a load change on the shared host hits both alike. Per
//! trial the master is started, the bench waits until `a` alone holds the
//! VIP, waits a random 1-2 advert intervals (so the kill lands anywhere in
//! the advert cycle) and then either SIGKILLs the master's process group or
//! sends it SIGTERM. Measured, with kernel timestamps of an AF_PACKET
//! capture on `b`'s interface:
//! - wire → GARP: from the master's last advert seen at `b` (SIGKILL) or its
//!   priority-0 advert (SIGTERM) to `b`'s first gratuitous ARP for the VIP.
//!   The protocol bound is Master_Down_Interval = 3 x Advertisement_Interval
//!   plus Skew_Time after the last advert (RFC 3768 6.4.2 / RFC 5798 6.4.2), and
//!   Skew_Time after a priority-0 advert (same clauses); the difference to
//!   the bound is printed signed, so a takeover earlier than the protocol
//!   allows shows as negative.
//! - signal → GARP and signal → VIP on `b` (the latter from `ip -ts monitor
//!   address` inside `b`).
//!
//! **Scale.** One host with N interfaces (veth, each alone on its port),
//! M instances spread over them (VRID 1.. per interface, one VIP each,
//! `state MASTER`), run by one daemon. After every VIP is up and the second
//! GARP burst (`vrrp_garp_master_delay`, 5 s) is over, a window of W seconds:
//! CPU = utime+stime of the daemon's processes (keepalived: parent and VRRP
//! child) from /proc/PID/stat over the window, as % of one core; RSS and
//! peak RSS (VmRSS, VmHWM from /proc/PID/status, summed over the processes);
//! advert jitter = |interval between two consecutive adverts of one
//! instance - advert_int|, from kernel timestamps of captures on all N
//! interfaces, over every instance.
//!
//! Needs root, keepalived on PATH and the keepalived-rs binary next to this
//! one (or `KEEPALIVED_RS_BIN`). Every lab is removed on exit.
//!
//! Usage (see BENCHMARKS.md):
//!   cargo build --release -p keepalived-rs -p keepalived-rs-tests --bin keepalived-rs --bin bench_vrrp
//!   sudo target/release/bench_vrrp [--trials 20] [--advert 1] [--version 2]
//!        [--instances 1000] [--ifaces 40] [--window 30]
//!        [--jitter-window 20] [--skip-takeover] [--skip-scale]
//!        [--perf DIR]  (after each scale window, 20 s of `perf record -g` into DIR)

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testlab::capture::{Capture, Frame, Kind};
use testlab::confgen::run;
use testlab::keepalived::{Keepalived, KeepalivedCfg, StartOpts, VrrpInstanceCfg};
use testlab::netns::{Host, Lab, Topology};

type Res<T> = Result<T, String>;

/// Turns any displayable error into the bench's `String` error with context.
fn ctx<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

struct Args {
    trials: usize,
    advert: f64,
    version: u8,
    instances: usize,
    ifaces: usize,
    window: u64,
    jitter_window: u64,
    perf: Option<std::path::PathBuf>,
    takeover: bool,
    scale: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        trials: 20,
        advert: 1.0,
        version: 2,
        instances: 1000,
        ifaces: 40,
        window: 30,
        jitter_window: 20,
        takeover: true,
        scale: true,
        perf: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut num = |name: &str| -> Res<f64> {
            it.next()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0 && v.is_finite())
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match x.as_str() {
            "--trials" => a.trials = num("--trials")? as usize,
            "--advert" => a.advert = num("--advert")?,
            "--version" => a.version = num("--version")? as u8,
            "--instances" => a.instances = num("--instances")? as usize,
            "--ifaces" => a.ifaces = num("--ifaces")? as usize,
            "--window" => a.window = num("--window")? as u64,
            "--jitter-window" => a.jitter_window = num("--jitter-window")? as u64,
            "--skip-takeover" => a.takeover = false,
            "--skip-scale" => a.scale = false,
            "--perf" => a.perf = Some(it.next().ok_or("--perf needs a directory")?.into()),
            other => return Err(format!("unknown argument `{other}` (see the file's doc)")),
        }
    }
    if a.version != 2 && a.version != 3 {
        return Err("--version is 2 or 3".into());
    }
    // keepalived: VRRPv2 adverts carry whole seconds only (RFC 3768 5.3.7).
    if a.version == 2 && a.advert.fract() != 0.0 {
        return Err("VRRPv2 needs a whole-second --advert".into());
    }
    if a.ifaces == 0 || a.ifaces > 250 || a.instances == 0 {
        return Err("--ifaces 1..250 and --instances >= 1".into());
    }
    // VIP 10.200.IF.(100+VRID) must stay a valid host byte.
    if a.instances.div_ceil(a.ifaces) > 150 {
        return Err("at most 150 instances per interface".into());
    }
    Ok(a)
}

// ---------------------------------------------------------------------------
// Implementations under test
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Keepalived,
    Ours,
}

impl Impl {
    fn label(self) -> &'static str {
        match self {
            Impl::Keepalived => "keepalived 2.2.7",
            Impl::Ours => "keepalived-rs",
        }
    }
}

fn start(which: Impl, ours: &Path, host: &Host, text: &str) -> Res<Keepalived> {
    let opts = StartOpts {
        program: (which == Impl::Ours).then(|| ours.to_path_buf()),
        ..StartOpts::default()
    };
    Keepalived::start_with(host, text, &opts).map_err(ctx(&format!("start {}", which.label())))
}

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/// Nearest-rank percentile (`p` in 0..=100) of sorted `v`.
fn pct(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v.get(rank.min(v.len()) - 1).copied()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn ms(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn signed_ms(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:+.1}"))
}

fn since_ms(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(earlier.duration_since(later).as_secs_f64() * 1e3),
    }
}

// ---------------------------------------------------------------------------
// Address events from `ip -ts -o monitor address`
// ---------------------------------------------------------------------------

/// One address event: when (`ip`'s timestamp), added or deleted, which.
#[derive(Debug, Clone)]
struct AddrEvent {
    at: Instant,
    added: bool,
    addr: IpAddr,
}

/// `ip -ts -o monitor address` inside a host, its lines parsed as they come.
/// Its timestamps are taken when `ip` reads the netlink notification, so
/// they do not include this process's scheduling delay.
struct AddrMonitor {
    child: Child,
    events: Arc<Mutex<Vec<AddrEvent>>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl AddrMonitor {
    fn start(host: &Host) -> Res<Self> {
        let mut cmd = host.command(&["ip", "-ts", "-o", "monitor", "address"]);
        // The timestamps are local time: make that UTC to parse them.
        cmd.env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().map_err(ctx("spawn ip monitor"))?;
        let out = child.stdout.take().ok_or("ip monitor: no stdout")?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev2 = Arc::clone(&events);
        let (ref_i, ref_s) = (Instant::now(), SystemTime::now());
        // Ends at EOF, i.e. when the child is killed in Drop.
        let reader = thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(e) = parse_monitor_line(&line, ref_i, ref_s) {
                    if let Ok(mut v) = ev2.lock() {
                        v.push(e);
                    }
                }
            }
        });
        // `ip` subscribes right after exec; give it a moment before events
        // matter (the first trial starts seconds later anyway).
        thread::sleep(Duration::from_millis(200));
        Ok(Self {
            child,
            events,
            reader: Some(reader),
        })
    }

    /// The first time `addr` was added after `after`, waiting up to `wait`
    /// for the line to arrive.
    fn added_after(&self, addr: IpAddr, after: Instant, wait: Duration) -> Option<Instant> {
        let deadline = Instant::now() + wait;
        loop {
            let found = self.events.lock().ok().and_then(|v| {
                v.iter()
                    .find(|e| e.added && e.addr == addr && e.at > after)
                    .map(|e| e.at)
            });
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for AddrMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Parses `[2026-11-25T00:48:23.538243] [Deleted ]3: d0    inet 10.9.9.9/24 ...`.
fn parse_monitor_line(line: &str, ref_i: Instant, ref_s: SystemTime) -> Option<AddrEvent> {
    let rest = line.strip_prefix('[')?;
    let (ts, rest) = rest.split_once(']')?;
    let rest = rest.trim_start();
    let added = !rest.starts_with("Deleted");
    let mut words = rest.split_whitespace();
    words.find(|w| *w == "inet" || *w == "inet6")?;
    let addr: IpAddr = words.next()?.split('/').next()?.parse().ok()?;
    let sys = parse_utc(ts)?;
    let at = match sys.duration_since(ref_s) {
        Ok(d) => ref_i + d,
        Err(e) => ref_i.checked_sub(e.duration())?,
    };
    Some(AddrEvent { at, added, addr })
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC) → `SystemTime`.
fn parse_utc(ts: &str) -> Option<SystemTime> {
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    // Days from the civil date (proleptic Gregorian), H. Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

// ---------------------------------------------------------------------------
// Takeover
// ---------------------------------------------------------------------------

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);
const HIGH: u8 = 150;
const LOW: u8 = 100;

struct Trial {
    kill: bool,
    /// Master's last advert (SIGKILL) / priority-0 advert (SIGTERM) → GARP.
    wire_to_garp: Option<f64>,
    sig_to_garp: Option<f64>,
    sig_to_vip: Option<f64>,
}

/// One implementation's takeover lab: the backup runs throughout.
struct Pair {
    which: Impl,
    lab: Lab,
    backup: Keepalived,
    cap: Capture,
    mon: AddrMonitor,
    trials: Vec<Trial>,
}

fn instance(args: &Args, prio: u8) -> VrrpInstanceCfg {
    VrrpInstanceCfg::new("eth0", 51, prio)
        .vip(&format!("{VIP}/24"))
        .advert_int(args.advert)
        .version(args.version)
}

fn config(args: &Args, router: &str, prio: u8) -> String {
    let mut i = instance(args, prio);
    if prio == HIGH {
        // Master at once on start (keepalived `state MASTER`), so a trial
        // does not wait a Master_Down_Interval for the preemption.
        i = i.state("MASTER");
    }
    KeepalivedCfg::single(router, i).render()
}

fn is_garp_from_b(f: &Frame, after: Instant) -> bool {
    f.outgoing
        && f.at > after
        && matches!(&f.kind, Kind::Arp(a) if a.is_gratuitous() && a.sender_ip == VIP)
}

fn run_trial(pair: &mut Pair, args: &Args, ours: &Path, kill: bool) -> Res<Trial> {
    let vip = IpAddr::V4(VIP);
    let a = pair.lab.host("a").map_err(ctx("host a"))?.clone();
    let mut master = start(pair.which, ours, &a, &config(args, "a", HIGH))?;
    let mdi = instance(args, LOW).master_down_interval();
    pair.lab
        .wait_sole_holder(vip, "a", mdi + Duration::from_secs(10))
        .map_err(|e| {
            format!(
                "{}: master never alone: {e}\n{}",
                pair.which.label(),
                master.log()
            )
        })?;
    // Let the kill land anywhere in the advert cycle.
    let settle = args.advert * (1.0 + rand::random::<f64>());
    thread::sleep(Duration::from_secs_f64(settle));
    let t0 = Instant::now();
    if kill {
        master.kill().map_err(ctx("SIGKILL the master"))?;
    } else {
        master
            .stop(Duration::from_secs(5))
            .map_err(ctx("SIGTERM the master"))?;
    }
    let bound = if kill {
        mdi
    } else {
        instance(args, LOW).skew()
    };
    let frames = pair
        .cap
        .wait_for(bound + Duration::from_secs(5), |f| {
            f.iter().any(|x| is_garp_from_b(x, t0))
        })
        .map_err(|e| format!("{}: no GARP from the backup: {e}", pair.which.label()))?;
    let garp = frames.iter().find(|f| is_garp_from_b(f, t0)).map(|f| f.at);
    let from_a =
        |f: &&Frame| matches!(f.vrrp(), Some(v) if v.src == IpAddr::V4(A_IP)) && !f.outgoing;
    let wire = if kill {
        frames
            .iter()
            .filter(from_a)
            .filter(|f| f.at <= t0 && f.vrrp().is_some_and(|v| v.priority > 0))
            .map(|f| f.at)
            .next_back()
    } else {
        frames
            .iter()
            .filter(from_a)
            .find(|f| f.at >= t0 && f.vrrp().is_some_and(|v| v.priority == 0))
            .map(|f| f.at)
    };
    pair.lab
        .wait_holder(vip, "b", Duration::from_secs(5))
        .map_err(ctx("VIP on the backup"))?;
    let vip_at = pair.mon.added_after(vip, t0, Duration::from_secs(2));
    drop(master);
    Ok(Trial {
        kill,
        wire_to_garp: wire.zip(garp).map(|(w, g)| since_ms(g, w)),
        sig_to_garp: garp.map(|g| since_ms(g, t0)),
        sig_to_vip: vip_at.map(|v| since_ms(v, t0)),
    })
}

fn takeover_lab(which: Impl, ours: &Path, args: &Args) -> Res<Pair> {
    let lab = Topology::lan(&["a", "b"], "10.77.0")
        .build()
        .map_err(ctx("build the takeover lab"))?;
    let b = lab.host("b").map_err(ctx("host b"))?.clone();
    let cap = Capture::on_host(&b, "eth0").map_err(ctx("capture on b"))?;
    let mon = AddrMonitor::start(&b)?;
    let backup = start(which, ours, &b, &config(args, "b", LOW))?;
    Ok(Pair {
        which,
        lab,
        backup,
        cap,
        mon,
        trials: Vec::new(),
    })
}

fn takeover(args: &Args, ours: &Path) -> Res<String> {
    let mut pairs = vec![
        takeover_lab(Impl::Keepalived, ours, args)?,
        takeover_lab(Impl::Ours, ours, args)?,
    ];
    for t in 0..args.trials {
        for kill in [true, false] {
            for p in &mut pairs {
                let trial = run_trial(p, args, ours, kill)?;
                p.trials.push(trial);
            }
        }
        eprintln!("takeover: trial {}/{} done", t + 1, args.trials);
    }
    let cfg = instance(args, LOW);
    let mut s = String::new();
    s.push_str(&format!(
        "Takeover: VRRPv{}, advert_int {} s, master priority {HIGH}, backup {LOW}, {} trials per row; times in ms; p99 of {} samples is the nearest rank.\n\n",
        args.version, args.advert, args.trials, args.trials
    ));
    s.push_str("| master+backup | stop | bound | wire→GARP p50 / p99 | minus bound p50 / p99 / min | over bound + 20 ms | signal→GARP p50 / p99 | signal→VIP p50 / p99 |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for kill in [true, false] {
        let bound = if kill {
            cfg.master_down_interval()
        } else {
            cfg.skew()
        }
        .as_secs_f64()
            * 1e3;
        for p in &pairs {
            let rows: Vec<&Trial> = p.trials.iter().filter(|t| t.kill == kill).collect();
            let col =
                |f: fn(&Trial) -> Option<f64>| sorted(rows.iter().filter_map(|t| f(t)).collect());
            let wire = col(|t| t.wire_to_garp);
            let excess: Vec<f64> = wire.iter().map(|w| w - bound).collect();
            let sg = col(|t| t.sig_to_garp);
            let sv = col(|t| t.sig_to_vip);
            s.push_str(&format!(
                "| {} x2 | {} | {bound:.1} | {} / {} | {} / {} / {} | {} of {} | {} / {} | {} / {} |\n",
                p.which.label(),
                if kill { "SIGKILL" } else { "SIGTERM" },
                ms(pct(&wire, 50.0)),
                ms(pct(&wire, 99.0)),
                signed_ms(pct(&excess, 50.0)),
                signed_ms(pct(&excess, 99.0)),
                signed_ms(excess.first().copied()),
                excess.iter().filter(|e| **e > 20.0).count(),
                excess.len(),
                ms(pct(&sg, 50.0)),
                ms(pct(&sg, 99.0)),
                ms(pct(&sv, 50.0)),
                ms(pct(&sv, 99.0)),
            ));
            if wire.len() < rows.len() || sv.len() < rows.len() {
                s.push_str(&format!(
                    "|  | (of {} trials: {} with the master's advert seen, {} with the VIP event) | | | | | | |\n",
                    rows.len(),
                    wire.len(),
                    sv.len()
                ));
            }
        }
    }
    for mut p in pairs {
        let _ = p.backup.stop(Duration::from_secs(5));
        let _ = p.lab.teardown();
    }
    Ok(s)
}

// ---------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------

fn scale_vip(ifi: usize, vrid: usize) -> Ipv4Addr {
    // Bounded by parse_args: ifi < 250, vrid <= 150.
    Ipv4Addr::new(10, 200, ifi as u8, (100 + vrid) as u8)
}

fn scale_config(args: &Args) -> String {
    let instances = (0..args.instances)
        .map(|i| {
            let (ifi, vrid) = (i % args.ifaces, i / args.ifaces + 1);
            let mut c = VrrpInstanceCfg::new(&format!("eth{ifi}"), vrid as u8, 200)
                .vip(&format!("{}/24", scale_vip(ifi, vrid)))
                .advert_int(args.advert)
                .version(args.version)
                .state("MASTER");
            c.name = format!("VI_{i}");
            c
        })
        .collect();
    KeepalivedCfg {
        router_id: "scale".into(),
        global: Vec::new(),
        instances,
        blocks: Vec::new(),
    }
    .render()
}

/// utime+stime (clock ticks) of a process and all its threads.
fn cpu_ticks(pid: u32) -> Res<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(ctx("read stat"))?;
    // Fields after the command name, which may hold spaces: state is [0],
    // utime [11], stime [12] (proc(5) fields 14 and 15).
    let rest = stat.rsplit_once(')').map(|x| x.1).ok_or("bad stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or("bad stat field")
    };
    Ok(field(11)? + field(12)?)
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The daemon's processes: the leader and its direct children (keepalived's
/// VRRP child; script children are short-lived and absent here).
fn daemon_pids(leader: u32) -> Vec<u32> {
    let mut v = vec![leader];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                if parent_of(pid) == Some(leader) {
                    v.push(pid);
                }
            }
        }
    }
    v
}

/// VmRSS and VmHWM in KiB.
fn rss_kib(pid: u32) -> Res<(u64, u64)> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(ctx("read status"))?;
    let get = |key: &str| {
        st.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("no {key} in /proc/{pid}/status"))
    };
    Ok((get("VmRSS:")?, get("VmHWM:")?))
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0)
}

/// `perf record -g` of the daemon's processes for 20 s into
/// `DIR/perf-<impl>.data` (read with `perf report -i FILE`).
fn perf_record(dir: &Path, which: Impl, pids: &[u32]) -> Res<()> {
    std::fs::create_dir_all(dir).map_err(ctx(&format!("create {}", dir.display())))?;
    let file = dir.join(match which {
        Impl::Keepalived => "perf-keepalived.data",
        Impl::Ours => "perf-keepalived-rs.data",
    });
    let pid_list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let out = std::process::Command::new("timeout")
        .args(["60", "perf", "record", "-F", "999", "-g", "-o"])
        .arg(&file)
        .args(["-p", &pid_list.join(","), "--", "sleep", "20"])
        .output()
        .map_err(ctx("run perf"))?;
    if !out.status.success() {
        return Err(format!(
            "perf record: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!("scale: profile of {} in {}", which.label(), file.display());
    Ok(())
}

struct ScaleResult {
    which: Impl,
    up_after: f64,
    cpu_pct: f64,
    cpu_cap_pct: f64,
    procs: usize,
    rss: u64,
    hwm: u64,
    adverts: usize,
    expected: usize,
    jitter: Vec<f64>,
    mean_dev: f64,
}

fn scale_one(which: Impl, ours: &Path, args: &Args, lab: &Lab) -> Res<ScaleResult> {
    let h = lab.host("h").map_err(ctx("host h"))?.clone();
    let names: Vec<String> = (0..args.ifaces).map(|i| format!("eth{i}")).collect();
    let vips: Vec<IpAddr> = (0..args.instances)
        .map(|i| IpAddr::V4(scale_vip(i % args.ifaces, i / args.ifaces + 1)))
        .collect();
    let t_start = Instant::now();
    let mut d = start(which, ours, &h, &scale_config(args))?;
    let up_deadline = t_start + Duration::from_secs(120);
    loop {
        // One slow `ip` (RTNL contention from other labs on the host) is
        // retried; the whole wait stays bounded by `up_deadline`.
        let addrs = match h.addrs() {
            Ok(a) => a,
            Err(e) if Instant::now() < up_deadline => {
                eprintln!("scale: {e}; retrying");
                continue;
            }
            Err(e) => return Err(format!("ip addr: {e}")),
        };
        let n = vips
            .iter()
            .filter(|v| addrs.iter().any(|a| a.addr == **v))
            .count();
        if n == vips.len() {
            break;
        }
        if Instant::now() >= up_deadline || !d.is_running() {
            return Err(format!(
                "{}: only {n} of {} VIPs up\n{}",
                which.label(),
                vips.len(),
                d.log()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        thread::sleep(Duration::from_millis(250));
    }
    let up_after = t_start.elapsed().as_secs_f64();
    // Past the second GARP burst (vrrp_garp_master_delay 5 s) and a margin.
    thread::sleep(Duration::from_secs(7));
    let leader = d.process().pid();
    let pids = daemon_pids(leader);
    let ticks0: u64 = pids.iter().map(|p| cpu_ticks(*p)).sum::<Res<u64>>()?;
    let w0 = Instant::now();
    thread::sleep(Duration::from_secs(args.window));
    let ticks1: u64 = pids.iter().map(|p| cpu_ticks(*p)).sum::<Res<u64>>()?;
    let w1 = Instant::now();
    let (mut rss, mut hwm) = (0, 0);
    for p in &pids {
        let (r, h) = rss_kib(*p)?;
        rss += r;
        hwm += h;
    }
    let wall = w1.duration_since(w0).as_secs_f64();
    let cpu_pct = (ticks1 - ticks0) as f64 / clk_tck() / wall * 100.0;
    // Jitter in a second window, with captures on the switch-side ports:
    // packet sockets in the daemon's own namespace would get a clone of
    // every advert it sends and wake a reader thread for it, work the
    // kernel charges to the sender (seen with perf: 75 % of the daemon's
    // CPU in sock_def_readable under packet_rcv), so the CPU window above
    // runs without any capture.
    let caps = names
        .iter()
        .map(|n| Capture::on_port(lab, "h", n).map_err(ctx(&format!("capture on {n}'s port"))))
        .collect::<Res<Vec<_>>>()?;
    thread::sleep(Duration::from_secs(1));
    let ticks2: u64 = pids.iter().map(|p| cpu_ticks(*p)).sum::<Res<u64>>()?;
    let j0 = Instant::now();
    thread::sleep(Duration::from_secs(args.jitter_window));
    let ticks3: u64 = pids.iter().map(|p| cpu_ticks(*p)).sum::<Res<u64>>()?;
    let j1 = Instant::now();
    let jwall = j1.duration_since(j0).as_secs_f64();
    let cpu_cap_pct = (ticks3 - ticks2) as f64 / clk_tck() / jwall * 100.0;
    let frames: Vec<Vec<Frame>> = caps.into_iter().map(Capture::stop).collect();
    if let Some(dir) = &args.perf {
        // After the measured windows, so the profiler's cost is in neither.
        perf_record(dir, which, &pids)?;
        let smaps = std::fs::read_to_string(format!("/proc/{leader}/smaps")).unwrap_or_default();
        let _ = std::fs::write(
            dir.join(format!("smaps-{}", which.label().replace(' ', "-"))),
            smaps,
        );
    }
    let _ = d.stop(Duration::from_secs(15));
    // Per instance (interface, VRID): intervals between its adverts. On
    // the port, frames from the host are incoming (`outgoing` = towards it).
    let nominal = args.advert * 1e3;
    let mut jitter = Vec::new();
    let mut adverts = 0;
    // Signed: a schedule taken from "now" instead of the previous deadline
    // shows as a steady positive mean.
    let mut drift_sum = 0.0;
    for f_if in frames {
        let mut per: BTreeMap<u8, Vec<Instant>> = BTreeMap::new();
        for f in f_if {
            if let (false, true, Some(v)) = (f.outgoing, f.at >= j0 && f.at <= j1, f.vrrp()) {
                if v.priority > 0 {
                    per.entry(v.vrid).or_default().push(f.at);
                }
            }
        }
        for ts in per.values() {
            adverts += ts.len();
            for w in ts.windows(2) {
                let dev = since_ms(w[1], w[0]) - nominal;
                drift_sum += dev;
                jitter.push(dev.abs());
            }
        }
    }
    Ok(ScaleResult {
        which,
        up_after,
        cpu_pct,
        procs: pids.len(),
        rss,
        hwm,
        adverts,
        expected: (args.instances as f64 * jwall / args.advert) as usize,
        cpu_cap_pct,
        mean_dev: drift_sum / jitter.len().max(1) as f64,
        jitter: sorted(jitter),
    })
}

fn scale(args: &Args, ours: &Path) -> Res<String> {
    let mut topo = Topology::new();
    for i in 0..args.ifaces {
        topo = topo.iface(
            "h",
            &format!("eth{i}"),
            None,
            &[&format!("10.200.{i}.1/24")],
        );
    }
    let lab = topo.build().map_err(ctx("build the scale lab"))?;
    let mut results = Vec::new();
    for which in [Impl::Keepalived, Impl::Ours] {
        eprintln!("scale: {}", which.label());
        results.push(scale_one(which, ours, args, &lab)?);
    }
    let _ = lab.teardown();
    let mut s = format!(
        "Scale: {} instances as master over {} interfaces, VRRPv{}, advert_int {} s, one VIP each. CPU and RSS: {} s window starting 7 s after all VIPs are up, no capture running; jitter (and the CPU in brackets): the next {} s, captures on the switch-side ports.\n\n",
        args.instances, args.ifaces, args.version, args.advert, args.window, args.jitter_window
    );
    s.push_str("| daemon | all VIPs up after | CPU, % of one core (with captures) | processes | VmRSS sum | VmHWM sum | adverts seen / expected | jitter p50 / p99 / max (ms) | mean interval - advert_int (ms) |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in &results {
        s.push_str(&format!(
            "| {} | {:.1} s | {:.2} % ({:.2} %) | {} | {:.1} MiB | {:.1} MiB | {} / {} | {} / {} / {} | {:+.2} |\n",
            r.which.label(),
            r.up_after,
            r.cpu_pct,
            r.cpu_cap_pct,
            r.procs,
            r.rss as f64 / 1024.0,
            r.hwm as f64 / 1024.0,
            r.adverts,
            r.expected,
            ms(pct(&r.jitter, 50.0)),
            ms(pct(&r.jitter, 99.0)),
            ms(r.jitter.last().copied()),
            r.mean_dev,
        ));
    }
    Ok(s)
}

// ---------------------------------------------------------------------------

fn main_inner() -> Res<()> {
    let args = parse_args()?;
    if let Some(why) =
        testlab::missing(&[testlab::Need::Root, testlab::Need::Program("keepalived")])
    {
        return Err(format!("bench_vrrp {why}"));
    }
    let ours = run::our_binary()?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "VRRP benchmark; ours {}; load average at start {}\n",
        ours.display(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let started = Instant::now();
    if args.takeover {
        println!("{}", takeover(&args, &ours)?);
    }
    if args.scale {
        println!("{}", scale(&args, &ours)?);
    }
    println!("(whole run {:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    match main_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_line_timestamp_and_kind() {
        let ref_s = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let ref_i = Instant::now();
        // 1_795_000_000 s = 2026-11-18T11:06:40Z.
        let e = parse_monitor_line(
            "[2026-11-18T11:06:41.250000] 3: d0    inet 10.9.9.9/24 scope global d0\\ ",
            ref_i,
            ref_s,
        )
        .expect("parsed");
        assert!(e.added);
        assert_eq!(e.addr, IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)));
        assert_eq!(e.at.duration_since(ref_i), Duration::from_millis(1250));
        let d = parse_monitor_line(
            "[2026-11-18T11:06:40.000001] Deleted 3: d0    inet 10.9.9.10/24 scope global secondary d0",
            ref_i,
            ref_s,
        )
        .expect("parsed");
        assert!(!d.added);
        assert!(parse_monitor_line("garbage", ref_i, ref_s).is_none());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = sorted((1..=20).map(f64::from).collect());
        assert_eq!(pct(&v, 50.0), Some(10.0));
        assert_eq!(pct(&v, 99.0), Some(20.0));
        assert_eq!(pct(&[], 50.0), None);
    }
}
