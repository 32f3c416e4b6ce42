//! Network-namespace lab: hosts on bridges, programs run inside them, observation of addresses and packets, partitions; torn down on drop.
//!
//! A [`Lab`] is built from a [`Topology`]: every host is a network namespace
//! named `kr<id>-<host>`, every bridge lives in the lab's own "switch"
//! namespace `kr<id>` (never in the root namespace), and every host interface
//! is one end of a veth pair whose other end (the "port") sits in the switch
//! namespace, on a bridge or alone. Nothing here touches an interface of the
//! root namespace, so VRRP adverts and gratuitous ARPs stay inside the lab
//! (labs.md, network rule).
//!
//! `<id>` is six random characters, so tests run in parallel; interface names
//! are only unique inside a lab's own namespaces and therefore fit IFNAMSIZ.
//! Each lab registers its owner process under [`REGISTRY_DIR`]; dropping the
//! lab kills every process inside its namespaces and deletes them, also when
//! the test panics, and [`sweep_leftovers`] removes the labs of owners that
//! died without dropping (crashed or killed test runs).
//!
//! All external commands (`ip`, `nft`, programs under test) run with a
//! deadline: no wait in this module is unbounded.
//!
//! ```no_run
//! use std::time::Duration;
//! use testlab::netns::Topology;
//! # fn main() -> Result<(), testlab::netns::LabError> {
//! // Two hosts on bridge `lan`: a has 10.0.0.1/24 + fd00::1/64, b .2 / ::2.
//! let mut lab = Topology::lan(&["a", "b"], "10.0.0").build()?;
//! let a = lab.host("a")?.clone();
//! let out = a.run(&["busybox", "ping", "-c1", "10.0.0.2"], Duration::from_secs(5))?;
//! assert_eq!(out.code(), Some(0));
//! let mut daemon = a.spawn(&["some-daemon", "-n"])?; // output in files
//! let vip = std::net::IpAddr::from([10, 0, 0, 100]);
//! let took = lab.wait_sole_holder(vip, "a", Duration::from_secs(5))?.elapsed;
//! lab.partition("a")?; // nft drops a's frames on the bridge
//! lab.heal("a")?;
//! daemon.stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(3))?;
//! # let _ = took; Ok(()) }
//! // Dropping `lab` kills what runs inside and deletes the namespaces.
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Read};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// Where labs record their owner process (pid and start time), one file per
/// lab id, so that a sweep can tell a live parallel test from a crashed one.
pub const REGISTRY_DIR: &str = "/run/keepalived-rs-lab";

/// Prefix of every namespace a lab creates.
pub const PREFIX: &str = "kr";

/// Deadline for the lab's own setup and teardown commands (`ip`, `nft`).
const CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// Linux IFNAMSIZ minus the terminating NUL.
const IFNAME_MAX: usize = 15;

/// Errors of the lab harness.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A command ran and exited unsuccessfully.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// A command or a wait did not finish before its deadline.
    #[error("`{what}` did not finish within {timeout:?}")]
    Timeout {
        /// The command line or the condition waited for.
        what: String,
        /// The deadline.
        timeout: Duration,
    },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The topology description is invalid.
    #[error("bad topology: {0}")]
    Topology(String),
    /// A host name that the lab does not have.
    #[error("the lab has no host `{0}`")]
    UnknownHost(String),
    /// Output of `ip -j` that could not be understood.
    #[error("cannot understand `{cmd}` output: {why}")]
    Parse {
        /// The command line.
        cmd: String,
        /// What was wrong.
        why: String,
    },
}

/// Results of the lab harness.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

// ---------------------------------------------------------------------------
// Running commands with deadlines
// ---------------------------------------------------------------------------

/// What a command run to completion produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// The exit code, or `None` when a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to completion within `timeout` and returns its status and
/// output, whatever the status. The command gets its own process group; on
/// timeout the whole group is killed with SIGKILL (so children it started
/// die too) and [`LabError::Timeout`] is returned. Background children still
/// in the group when the command exits are killed too: use
/// [`Host::spawn`] for anything meant to keep running.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let what = describe(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(io_err(format!("spawn `{what}`")))?;
    // Drain both pipes on threads so a chatty command cannot block on a full
    // pipe while we poll for its exit.
    let out_reader = child.stdout.take().map(drain);
    let err_reader = child.stderr.take().map(drain);
    let status =
        wait_deadline(&mut child, timeout).map_err(io_err(format!("wait for `{what}`")))?;
    // Whatever the command left running in its group dies with it: "run to
    // completion" leaves nothing behind, and nothing keeps the pipes open.
    kill_group(&child, Signal::SIGKILL);
    let status = match status {
        Some(s) => s,
        None => {
            // Bounded: the group is gone after SIGKILL, only reaping remains.
            let _ = wait_deadline(&mut child, Duration::from_secs(5));
            return Err(LabError::Timeout { what, timeout });
        }
    };
    // A process that left the group (setsid) may still hold a pipe: bound
    // the reads too.
    let grace = Duration::from_secs(2);
    let stdout = out_reader.map(|r| join_drain(r, grace)).unwrap_or_default();
    let stderr = err_reader.map(|r| join_drain(r, grace)).unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Like [`run_with_timeout`] but a non-zero exit is an error.
pub fn run_ok(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let out = run_with_timeout(cmd, timeout)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(LabError::Command {
            cmd: describe(cmd),
            status: out.status.to_string(),
            stderr: out.stderr.trim().to_string(),
        })
    }
}

fn drain<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

fn join_drain(rx: mpsc::Receiver<String>, grace: Duration) -> String {
    rx.recv_timeout(grace).unwrap_or_default()
}

/// Polls `child` until it exits or `timeout` passes (`Ok(None)`).
fn wait_deadline(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Signals the process group led by `child` (spawned with `process_group(0)`).
fn kill_group(child: &Child, sig: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = signal::killpg(Pid::from_raw(pid), sig);
    }
}

fn ip_cmd(args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(args);
    c
}

fn ip_in(ns: &str, args: &[&str]) -> Result<Output> {
    let mut c = Command::new("ip");
    c.arg("-n").arg(ns).args(args);
    run_ok(&mut c, CMD_TIMEOUT)
}

fn exec_in(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

/// Writes sysctls inside namespace `ns` (one `sh` for all of them).
fn sysctls(ns: &str, settings: &[(&str, &str)]) -> Result<()> {
    let mut script = String::new();
    for (k, v) in settings {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        script.push_str(&format!("echo {v} > {path} && "));
    }
    script.push_str("true");
    run_ok(&mut exec_in(ns, &["sh", "-c", &script]), CMD_TIMEOUT).map(drop)
}

// ---------------------------------------------------------------------------
// Topology description
// ---------------------------------------------------------------------------

/// One interface of a host: a veth end named `name` inside the host, whose
/// peer (the port) is on bridge `bridge` in the switch namespace, or alone
/// there when `bridge` is `None` (carrier up, nobody listening).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceSpec {
    /// Interface name inside the host, e.g. `eth0`.
    pub name: String,
    /// Bridge the port joins.
    pub bridge: Option<String>,
    /// Addresses with prefix length, e.g. `10.0.0.1/24`, `fd00::1/64`.
    pub addrs: Vec<String>,
}

/// One host (network namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// Short name, unique in the topology.
    pub name: String,
    /// Interfaces besides `lo`.
    pub ifaces: Vec<IfaceSpec>,
}

/// The shape of a lab: hosts, their interfaces, the bridges joining them.
///
/// Built with [`Topology::host`] / [`Topology::iface`], or parsed from a short
/// description (see [`Topology::parse`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// The hosts in creation order.
    pub hosts: Vec<HostSpec>,
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Self::default()
    }

    /// `n` hosts on one bridge `lan`, each with `eth0` holding
    /// `<v4_net>.<i+1>/24` and `fd00::<i+1>/64` (hosts named as given).
    pub fn lan(hosts: &[&str], v4_net: &str) -> Self {
        let mut t = Self::new();
        for (i, h) in hosts.iter().enumerate() {
            let v4 = format!("{v4_net}.{}/24", i + 1);
            let v6 = format!("fd00::{:x}/64", i + 1);
            t = t.iface(h, "eth0", Some("lan"), &[&v4, &v6]);
        }
        t
    }

    /// One host `h` whose only interfaces are `ifaces` (veth ends with
    /// carrier up, no addresses): the namespace for a config test that needs
    /// those interface names to exist.
    pub fn isolated(ifaces: &[&str]) -> Self {
        let mut t = Self::new().host("h");
        for i in ifaces {
            t = t.iface("h", i, None, &[]);
        }
        t
    }

    /// Adds host `name` (no interfaces yet) unless it exists.
    pub fn host(mut self, name: &str) -> Self {
        if !self.hosts.iter().any(|h| h.name == name) {
            self.hosts.push(HostSpec {
                name: name.to_string(),
                ifaces: Vec::new(),
            });
        }
        self
    }

    /// Adds interface `ifname` to `host` (creating the host if needed), on
    /// `bridge` or alone, with `addrs`.
    pub fn iface(mut self, host: &str, ifname: &str, bridge: Option<&str>, addrs: &[&str]) -> Self {
        self = self.host(host);
        if let Some(h) = self.hosts.iter_mut().find(|h| h.name == host) {
            h.ifaces.push(IfaceSpec {
                name: ifname.to_string(),
                bridge: bridge.map(str::to_string),
                addrs: addrs.iter().map(|a| a.to_string()).collect(),
            });
        }
        self
    }

    /// Parses a short description: hosts separated by `;` or newlines, each
    /// `HOST: IFACE[@BRIDGE] [ADDR ...], IFACE[@BRIDGE] [ADDR ...]`.
    ///
    /// ```
    /// let t = testlab::netns::Topology::parse(
    ///     "a: eth0@lan 10.0.0.1/24 fd00::1/64; b: eth0@lan 10.0.0.2/24, eth1",
    /// ).unwrap();
    /// assert_eq!(t.hosts.len(), 2);
    /// assert_eq!(t.hosts[1].ifaces[1].bridge, None);
    /// ```
    pub fn parse(desc: &str) -> Result<Self> {
        let mut t = Self::new();
        for item in desc
            .split([';', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (host, rest) = item
                .split_once(':')
                .ok_or_else(|| LabError::Topology(format!("`{item}`: expected `HOST: ...`")))?;
            let host = host.trim();
            t = t.host(host);
            for ifdesc in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let mut words = ifdesc.split_whitespace();
                let Some(first) = words.next() else { continue };
                let (ifname, bridge) = match first.split_once('@') {
                    Some((i, b)) => (i, Some(b)),
                    None => (first, None),
                };
                let addrs: Vec<&str> = words.collect();
                t = t.iface(host, ifname, bridge, &addrs);
            }
        }
        t.validate()?;
        Ok(t)
    }

    /// Checks names and addresses before anything is created.
    pub fn validate(&self) -> Result<()> {
        if self.hosts.is_empty() {
            return Err(LabError::Topology("no hosts".into()));
        }
        let mut seen = BTreeSet::new();
        for h in &self.hosts {
            let ok_name = !h.name.is_empty()
                && h.name.len() <= 32
                && h.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok_name {
                return Err(LabError::Topology(format!(
                    "host name `{}`: use 1-32 of [A-Za-z0-9_]",
                    h.name
                )));
            }
            if !seen.insert(&h.name) {
                return Err(LabError::Topology(format!("host `{}` twice", h.name)));
            }
            let mut ifs = BTreeSet::new();
            for i in &h.ifaces {
                let ok_if = !i.name.is_empty()
                    && i.name.len() <= IFNAME_MAX
                    && i.name != "lo"
                    && !i.name.contains(['/', ' ', ':']);
                if !ok_if {
                    return Err(LabError::Topology(format!(
                        "interface `{}` of `{}`: not a valid name (IFNAMSIZ 15, not lo)",
                        i.name, h.name
                    )));
                }
                if !ifs.insert(&i.name) {
                    return Err(LabError::Topology(format!(
                        "interface `{}` twice on `{}`",
                        i.name, h.name
                    )));
                }
                for a in &i.addrs {
                    parse_cidr(a).map_err(LabError::Topology)?;
                }
            }
        }
        Ok(())
    }

    /// Builds the lab (see [`Lab::build`]).
    pub fn build(self) -> Result<Lab> {
        Lab::build(self)
    }

    fn bridges(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for h in &self.hosts {
            for i in &h.ifaces {
                if let Some(b) = &i.bridge {
                    if !v.contains(b) {
                        v.push(b.clone());
                    }
                }
            }
        }
        v
    }
}

/// Parses `ADDR/LEN` (also bare `ADDR`, taken as a host address).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = a.parse().map_err(|_| format!("`{s}`: not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("`{s}`: bad prefix length"))?,
        None => max,
    };
    Ok((ip, len))
}

// ---------------------------------------------------------------------------
// Registry of live labs, and the sweep of dead ones
// ---------------------------------------------------------------------------

/// Start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), which tells a live owner from a reused pid.
fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; the
    // fields after the last ')' are plain numbers.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn owner_record() -> String {
    let pid = std::process::id();
    format!("{pid} {}\n", proc_start_time(pid).unwrap_or(0))
}

fn owner_alive(record: &str) -> bool {
    let mut it = record.split_whitespace();
    let (Some(pid), Some(start)) = (it.next(), it.next()) else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    proc_start_time(pid) == Some(start)
}

/// The lab id of a namespace name made by this module (`kr` + 6 of
/// `[0-9a-z]`, then the end or `-host`).
pub fn lab_id_of(ns: &str) -> Option<&str> {
    let id = ns.get(..PREFIX.len() + 6)?;
    let suffix = id.strip_prefix(PREFIX)?;
    let ok = suffix
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    let rest = &ns[id.len()..];
    (ok && (rest.is_empty() || rest.starts_with('-'))).then_some(id)
}

/// All network namespaces known to `ip netns`.
pub fn list_namespaces() -> Result<Vec<String>> {
    let out = run_ok(&mut ip_cmd(&["netns", "list"]), CMD_TIMEOUT)?;
    // Lines look like `name` or `name (id: 3)`.
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Pids of the processes inside namespace `ns`.
pub fn namespace_pids(ns: &str) -> Result<Vec<i32>> {
    let out = run_ok(&mut ip_cmd(&["netns", "pids", ns]), CMD_TIMEOUT)?;
    Ok(out
        .stdout
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect())
}

/// SIGKILLs every process inside `ns` and waits (bounded) until none is
/// left, so that deleting the namespace really frees it.
fn kill_namespace_processes(ns: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = namespace_pids(ns)?;
        if pids.is_empty() {
            return Ok(());
        }
        for p in &pids {
            let _ = signal::kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        if Instant::now() >= deadline {
            return Err(LabError::Timeout {
                what: format!("processes {pids:?} in {ns} to die"),
                timeout: Duration::from_secs(5),
            });
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn delete_namespace(ns: &str) -> Result<()> {
    kill_namespace_processes(ns)?;
    run_ok(&mut ip_cmd(&["netns", "delete", ns]), CMD_TIMEOUT).map(drop)
}

/// What [`sweep_leftovers`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// Namespaces deleted (their processes killed first).
    pub namespaces: Vec<String>,
    /// Lab ids whose registry entry was removed.
    pub labs: Vec<String>,
}

/// Removes what crashed earlier runs left: every `kr<id>…` namespace whose
/// lab owner is no longer alive (or which no lab registered), with the
/// processes inside it, and stale registry entries. Labs of live processes,
/// e.g. parallel tests, are left alone.
pub fn sweep_leftovers() -> Result<Sweep> {
    let mut sweep = Sweep::default();
    let mut dead_ids: BTreeSet<String> = BTreeSet::new();
    if let Ok(rd) = std::fs::read_dir(REGISTRY_DIR) {
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let rec = std::fs::read_to_string(e.path()).unwrap_or_default();
            if !owner_alive(&rec) {
                dead_ids.insert(id);
            }
        }
    }
    for ns in list_namespaces()? {
        let Some(id) = lab_id_of(&ns) else { continue };
        let registered = Path::new(REGISTRY_DIR).join(id).exists();
        if dead_ids.contains(id) || !registered {
            match delete_namespace(&ns) {
                Ok(()) => sweep.namespaces.push(ns),
                // A parallel sweep (another test process) got there first.
                Err(_) if !list_namespaces()?.contains(&ns) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for id in dead_ids {
        let _ = std::fs::remove_file(Path::new(REGISTRY_DIR).join(&id));
        sweep.labs.push(id);
    }
    Ok(sweep)
}

fn new_lab_id() -> Result<String> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    std::fs::create_dir_all(REGISTRY_DIR).map_err(io_err(format!("create {REGISTRY_DIR}")))?;
    for _ in 0..100 {
        let mut id = PREFIX.to_string();
        for _ in 0..6 {
            let i = rand::random::<u32>() as usize % ALPHABET.len();
            id.push(char::from(ALPHABET[i]));
        }
        // create_new makes the id ours even against a parallel process that
        // drew the same one.
        let path = Path::new(REGISTRY_DIR).join(&id);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(owner_record().as_bytes())
                    .map_err(io_err(format!("write {}", path.display())))?;
                return Ok(id);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(format!("create {}", path.display()))(e)),
        }
    }
    Err(LabError::Topology("no free lab id after 100 draws".into()))
}

// ---------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------

/// One interface of a built host.
#[derive(Debug, Clone)]
pub struct Iface {
    /// Name inside the host.
    pub name: String,
    /// The veth peer's name in the switch namespace.
    pub port: String,
    /// The bridge the port is on, by topology name.
    pub bridge: Option<String>,
}

/// A host of a built lab: a network namespace with its interfaces.
#[derive(Debug, Clone)]
pub struct Host {
    name: String,
    ns: String,
    ifaces: Vec<Iface>,
    dir: PathBuf,
}

/// A network-namespace lab, deleted on drop.
#[derive(Debug)]
pub struct Lab {
    id: String,
    switch_ns: String,
    hosts: Vec<Host>,
    bridges: Vec<(String, String)>,
    partitioned: BTreeSet<String>,
    blocked: BTreeSet<(String, String)>,
    dir: tempfile::TempDir,
    namespaces: Vec<String>,
}

impl Lab {
    /// Creates the namespaces, bridges, veth pairs and addresses of `topo`.
    ///
    /// First sweeps leftovers of crashed runs. Inside each host, `lo` is up,
    /// IPv6 duplicate address detection is off (addresses are usable at
    /// once, as VRRPv3 needs a usable link-local source) and every interface
    /// is up with its addresses. Bridges have multicast snooping off so VRRP
    /// multicast reaches every port. On any error the partial lab is removed.
    pub fn build(topo: Topology) -> Result<Lab> {
        topo.validate()?;
        sweep_leftovers()?;
        let id = new_lab_id()?;
        let dir = match tempfile::Builder::new().prefix(&format!("{id}-")).tempdir() {
            Ok(d) => d,
            Err(e) => {
                let _ = std::fs::remove_file(Path::new(REGISTRY_DIR).join(&id));
                return Err(io_err("create the lab's temp dir")(e));
            }
        };
        let mut lab = Lab {
            switch_ns: id.clone(),
            id,
            hosts: Vec::new(),
            bridges: Vec::new(),
            partitioned: BTreeSet::new(),
            blocked: BTreeSet::new(),
            dir,
            namespaces: Vec::new(),
        };
        // On error `lab` drops here and removes what was created.
        lab.create(&topo)?;
        Ok(lab)
    }

    fn add_namespace(&mut self, ns: &str) -> Result<()> {
        // On a fresh machine the first `ip netns add` also sets up the
        // /run/netns mount; parallel first calls can trip over each other,
        // so retry a failure a few times.
        let mut attempt = 0;
        loop {
            match run_ok(&mut ip_cmd(&["netns", "add", ns]), CMD_TIMEOUT) {
                Ok(_) => break,
                Err(LabError::Command { .. }) if attempt < 3 => {
                    attempt += 1;
                    thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
        self.namespaces.push(ns.to_string());
        ip_in(ns, &["link", "set", "lo", "up"])?;
        Ok(())
    }

    fn create(&mut self, topo: &Topology) -> Result<()> {
        let sw = self.switch_ns.clone();
        self.add_namespace(&sw)?;
        // Ports carry frames only; no IPv6 link-local chatter from them.
        sysctls(
            &sw,
            &[
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
            ],
        )?;
        for (i, b) in topo.bridges().into_iter().enumerate() {
            let dev = format!("br{i}");
            ip_in(
                &sw,
                &[
                    "link",
                    "add",
                    &dev,
                    "type",
                    "bridge",
                    "stp_state",
                    "0",
                    "mcast_snooping",
                    "0",
                    "forward_delay",
                    "0",
                ],
            )?;
            ip_in(&sw, &["link", "set", &dev, "up"])?;
            self.bridges.push((b, dev));
        }
        for (hi, hs) in topo.hosts.iter().enumerate() {
            let ns = format!("{}-{}", self.id, hs.name);
            self.add_namespace(&ns)?;
            sysctls(
                &ns,
                &[
                    ("net.ipv6.conf.all.accept_dad", "0"),
                    ("net.ipv6.conf.default.accept_dad", "0"),
                    ("net.ipv6.conf.all.dad_transmits", "0"),
                    ("net.ipv6.conf.default.dad_transmits", "0"),
                ],
            )?;
            let mut host = Host {
                name: hs.name.clone(),
                ns: ns.clone(),
                ifaces: Vec::new(),
                dir: self.dir.path().to_path_buf(),
            };
            for (ii, is) in hs.ifaces.iter().enumerate() {
                let port = format!("h{hi}i{ii}");
                ip_in(
                    &sw,
                    &[
                        "link", "add", &port, "type", "veth", "peer", "name", &is.name, "netns",
                        &ns,
                    ],
                )?;
                if let Some(b) = &is.bridge {
                    let dev = self.bridge_dev(b)?.to_string();
                    ip_in(&sw, &["link", "set", &port, "master", &dev])?;
                }
                ip_in(&sw, &["link", "set", &port, "up"])?;
                for a in &is.addrs {
                    ip_in(&ns, &["addr", "add", a, "dev", &is.name, "nodad"])?;
                }
                ip_in(&ns, &["link", "set", &is.name, "up"])?;
                host.ifaces.push(Iface {
                    name: is.name.clone(),
                    port,
                    bridge: is.bridge.clone(),
                });
            }
            self.hosts.push(host);
        }
        Ok(())
    }

    fn bridge_dev(&self, bridge: &str) -> Result<&str> {
        self.bridges
            .iter()
            .find(|(b, _)| b == bridge)
            .map(|(_, d)| d.as_str())
            .ok_or_else(|| LabError::Topology(format!("no bridge `{bridge}`")))
    }

    /// The lab id (`kr` + 6 characters), prefix of all its namespaces.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The switch namespace holding the bridges and ports.
    pub fn switch_ns(&self) -> &str {
        &self.switch_ns
    }

    /// Every namespace of the lab (switch first).
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// The lab's temp dir (deleted on drop): configs, logs, pid files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The hosts, in topology order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Host `name`.
    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| LabError::UnknownHost(name.to_string()))
    }

    /// The hosts that hold `ip` on any interface, right now.
    pub fn holders(&self, ip: IpAddr) -> Result<Vec<String>> {
        let mut v = Vec::new();
        for h in &self.hosts {
            if h.has_addr(ip)? {
                v.push(h.name.clone());
            }
        }
        Ok(v)
    }

    /// Polls [`Lab::holders`] every 10 ms until `done(holders)` is true and
    /// returns those holders and the time it took, or
    /// [`LabError::Timeout`] (naming the last holders seen) after `timeout`.
    pub fn wait_holders(
        &self,
        ip: IpAddr,
        timeout: Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> Result<Waited> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            let h = self.holders(ip)?;
            if done(&h) {
                return Ok(Waited {
                    holders: h,
                    elapsed: start.elapsed(),
                });
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!("holders of {ip} to change (last seen: {h:?})"),
                    timeout,
                });
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `host` is the only holder of `ip`.
    pub fn wait_sole_holder(&self, ip: IpAddr, host: &str, timeout: Duration) -> Result<Waited> {
        self.host(host)?;
        self.wait_holders(ip, timeout, |h| h.len() == 1 && h[0] == host)
    }

    /// Waits until `host` holds `ip` (others may too).
    pub fn wait_holder(&self, ip: IpAddr, host: &str, timeout: Duration) -> Result<Waited> {
        self.host(host)?;
        self.wait_holders(ip, timeout, |h| h.iter().any(|x| x == host))
    }

    /// Samples the holders of `ip` every `every` for `period`.
    pub fn sample_holders(&self, ip: IpAddr, period: Duration, every: Duration) -> Result<Samples> {
        let start = Instant::now();
        let mut samples = Vec::new();
        let mut next = start;
        while next < start + period {
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            }
            let at = start.elapsed();
            samples.push((at, self.holders(ip)?));
            next += every;
            // A slow sample must not make the next ones bunch up.
            if next < Instant::now() {
                next = Instant::now();
            }
        }
        Ok(Samples(samples))
    }

    /// Cuts `host` off the network while its carrier stays up: nftables
    /// bridge-family rules in the switch namespace drop every frame to or
    /// from its ports. [`Lab::heal`] undoes it.
    pub fn partition(&mut self, host: &str) -> Result<()> {
        self.host(host)?;
        self.partitioned.insert(host.to_string());
        self.apply_partitions()
    }

    /// Reconnects `host` after [`Lab::partition`].
    pub fn heal(&mut self, host: &str) -> Result<()> {
        self.partitioned.remove(host);
        self.apply_partitions()
    }

    /// Reconnects every partitioned host and lifts every [`Lab::block`].
    pub fn heal_all(&mut self) -> Result<()> {
        self.partitioned.clear();
        self.blocked.clear();
        self.apply_partitions()
    }

    /// Drops frames from `from` to `to` only (a one-way failure); the other
    /// direction and other hosts are unaffected. [`Lab::unblock`] undoes it.
    pub fn block(&mut self, from: &str, to: &str) -> Result<()> {
        self.host(from)?;
        self.host(to)?;
        self.blocked.insert((from.to_string(), to.to_string()));
        self.apply_partitions()
    }

    /// Lifts [`Lab::block`] of `from` to `to`.
    pub fn unblock(&mut self, from: &str, to: &str) -> Result<()> {
        self.blocked.remove(&(from.to_string(), to.to_string()));
        self.apply_partitions()
    }

    fn ports_of(&self, host: &str) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| h.name == host)
            .flat_map(|h| h.ifaces.iter().map(|i| format!("\"{}\"", i.port)))
            .collect()
    }

    /// Rewrites the switch's whole `bridge kr_partition` table atomically
    /// (one `nft -f` transaction) from the partitioned hosts and blocks.
    fn apply_partitions(&self) -> Result<()> {
        let ports: Vec<String> = self
            .partitioned
            .iter()
            .flat_map(|h| self.ports_of(h))
            .collect();
        let mut forward = Vec::new();
        if !ports.is_empty() {
            let set = ports.join(", ");
            forward.push(format!("iifname {{ {set} }} drop"));
            forward.push(format!("oifname {{ {set} }} drop"));
        }
        for (from, to) in &self.blocked {
            let (f, t) = (self.ports_of(from).join(", "), self.ports_of(to).join(", "));
            if !f.is_empty() && !t.is_empty() {
                forward.push(format!("iifname {{ {f} }} oifname {{ {t} }} drop"));
            }
        }
        // `add` then `delete` makes the delete valid whether or not the
        // table existed.
        let mut rules =
            String::from("add table bridge kr_partition\ndelete table bridge kr_partition\n");
        if !forward.is_empty() {
            rules.push_str("table bridge kr_partition {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n");
            for r in &forward {
                rules.push_str(&format!("    {r}\n"));
            }
            rules.push_str("  }\n");
            if !ports.is_empty() {
                // Frames for the bridge itself (captures on it) too.
                rules.push_str(&format!(
                    "  chain input {{\n    type filter hook input priority 0; policy accept;\n    iifname {{ {} }} drop\n  }}\n",
                    ports.join(", ")
                ));
            }
            rules.push_str("}\n");
        }
        let file = self.dir.path().join("partition.nft");
        std::fs::write(&file, rules).map_err(io_err(format!("write {}", file.display())))?;
        let path = file.to_string_lossy().into_owned();
        run_ok(
            &mut exec_in(&self.switch_ns, &["nft", "-f", &path]),
            CMD_TIMEOUT,
        )
        .map(drop)
    }

    /// Sets the switch-side port of `host`'s `iface` down or up: the host
    /// sees its carrier go (NO-CARRIER) and come back, as with a pulled
    /// cable.
    pub fn set_port(&self, host: &str, iface: &str, up: bool) -> Result<()> {
        let port = self.host(host)?.iface(iface)?.port.clone();
        ip_in(
            &self.switch_ns,
            &["link", "set", &port, if up { "up" } else { "down" }],
        )
        .map(drop)
    }

    /// Removes everything now and reports the first error (drop does the
    /// same but can only ignore errors).
    pub fn teardown(mut self) -> Result<()> {
        self.teardown_inner()
    }

    fn teardown_inner(&mut self) -> Result<()> {
        let mut first_err = None;
        // Hosts first (their processes die, their veth ends go), then the
        // switch.
        while let Some(ns) = self.namespaces.pop() {
            if let Err(e) = delete_namespace(&ns) {
                first_err.get_or_insert(e);
            }
        }
        let _ = std::fs::remove_file(Path::new(REGISTRY_DIR).join(&self.id));
        match first_err {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// Set (to anything) to keep each lab's directory (configs, logs, pid
/// files) after teardown for a post-mortem; namespaces are deleted anyway.
pub const KEEP_DIR_ENV: &str = "KEEPALIVED_RS_LAB_KEEP";

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.teardown_inner() {
            eprintln!("lab {}: teardown: {e}", self.id);
        }
        if std::env::var_os(KEEP_DIR_ENV).is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("lab {}: kept {}", self.id, self.dir.path().display());
        } else if thread::panicking() {
            eprintln!(
                "lab {}: set {KEEP_DIR_ENV}=1 to keep its logs and configs",
                self.id
            );
        }
    }
}

/// What a wait for holders found.
#[derive(Debug, Clone)]
pub struct Waited {
    /// The holders when the condition became true.
    pub holders: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Holders of an address sampled over time: (time since start, holders).
#[derive(Debug, Clone)]
pub struct Samples(pub Vec<(Duration, Vec<String>)>);

impl Samples {
    /// The samples whose holders are not exactly `[host]`.
    pub fn not_solely(&self, host: &str) -> Vec<&(Duration, Vec<String>)> {
        self.0
            .iter()
            .filter(|(_, h)| !(h.len() == 1 && h[0] == host))
            .collect()
    }

    /// Whether every sample saw exactly one holder, `host`.
    pub fn always_sole(&self, host: &str) -> bool {
        !self.0.is_empty() && self.not_solely(host).is_empty()
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no sample was taken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Hosts
// ---------------------------------------------------------------------------

/// An address on an interface, as `ip -j addr` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    /// Interface name.
    pub ifname: String,
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Host {
    /// The host's short name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its network namespace's name (for `ip netns exec`).
    pub fn ns(&self) -> &str {
        &self.ns
    }

    /// Its interfaces besides `lo`.
    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    /// Interface `name`.
    pub fn iface(&self, name: &str) -> Result<&Iface> {
        self.ifaces
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| LabError::Topology(format!("host `{}` has no `{name}`", self.name)))
    }

    /// The lab directory (files for this host's programs go here).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A `Command` running `args` inside the host (`ip netns exec`).
    pub fn command(&self, args: &[&str]) -> Command {
        exec_in(&self.ns, args)
    }

    /// Runs `args` in the host to completion within `timeout`; returns
    /// status and output whatever the status (see [`run_with_timeout`]).
    pub fn run(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        run_with_timeout(&mut self.command(args), timeout)
    }

    /// `ip ARGS` in the host; a failure is an error.
    pub fn ip(&self, args: &[&str]) -> Result<Output> {
        ip_in(&self.ns, args)
    }

    /// Starts `args` in the host in the background, in its own process
    /// group, stdout and stderr going to files readable while it runs.
    pub fn spawn(&self, args: &[&str]) -> Result<HostProcess> {
        let label = args.first().copied().unwrap_or("cmd");
        let label: String = Path::new(label)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cmd".into());
        let base = tempfile::Builder::new()
            .prefix(&format!("{}-{label}-", self.name))
            .tempdir_in(&self.dir)
            .map_err(io_err("create a process dir"))?
            .keep();
        let stdout_path = base.join("stdout");
        let stderr_path = base.join("stderr");
        let out = std::fs::File::create(&stdout_path)
            .map_err(io_err(format!("create {}", stdout_path.display())))?;
        let err = std::fs::File::create(&stderr_path)
            .map_err(io_err(format!("create {}", stderr_path.display())))?;
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let what = describe(&cmd);
        let child = cmd.spawn().map_err(io_err(format!("spawn `{what}`")))?;
        Ok(HostProcess {
            child,
            what,
            stdout_path,
            stderr_path,
            status: None,
        })
    }

    /// Every address on every interface (`ip -j addr show`).
    pub fn addrs(&self) -> Result<Vec<AddrInfo>> {
        let out = self.ip(&["-j", "addr", "show"])?;
        parse_ip_addr_json(&out.stdout)
    }

    /// Whether the host holds `ip` on any interface.
    pub fn has_addr(&self, ip: IpAddr) -> Result<bool> {
        Ok(self.addrs()?.iter().any(|a| a.addr == ip))
    }

    /// Adds `cidr` to `iface` (without duplicate address detection).
    pub fn add_addr(&self, iface: &str, cidr: &str) -> Result<()> {
        self.ip(&["addr", "add", cidr, "dev", iface, "nodad"])
            .map(drop)
    }

    /// Removes `cidr` from `iface`.
    pub fn del_addr(&self, iface: &str, cidr: &str) -> Result<()> {
        self.ip(&["addr", "del", cidr, "dev", iface]).map(drop)
    }

    /// Sets the host's own end of `iface` down or up (a link cut as seen from
    /// the host: the interface goes down, its addresses stay).
    pub fn set_link(&self, iface: &str, up: bool) -> Result<()> {
        self.ip(&["link", "set", iface, if up { "up" } else { "down" }])
            .map(drop)
    }

    /// Sets sysctls inside the host (`("net.ipv4.conf.lo.arp_ignore",
    /// "1")`), e.g. for an LVS-DR real server.
    pub fn sysctl(&self, settings: &[(&str, &str)]) -> Result<()> {
        sysctls(&self.ns, settings)
    }

    /// Pids of the processes running inside the host.
    pub fn pids(&self) -> Result<Vec<i32>> {
        namespace_pids(&self.ns)
    }
}

/// Parses `ip -j addr show` output.
pub fn parse_ip_addr_json(json: &str) -> Result<Vec<AddrInfo>> {
    let bad = |why: String| LabError::Parse {
        cmd: "ip -j addr show".into(),
        why,
    };
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let links = v.as_array().ok_or_else(|| bad("not an array".into()))?;
    let mut out = Vec::new();
    for l in links {
        let ifname = l.get("ifname").and_then(|x| x.as_str()).unwrap_or_default();
        let Some(infos) = l.get("addr_info").and_then(|x| x.as_array()) else {
            continue;
        };
        for i in infos {
            let (Some(local), Some(prefix)) = (
                i.get("local").and_then(|x| x.as_str()),
                i.get("prefixlen").and_then(|x| x.as_u64()),
            ) else {
                continue;
            };
            let addr: IpAddr = local
                .parse()
                .map_err(|_| bad(format!("bad address `{local}`")))?;
            out.push(AddrInfo {
                ifname: ifname.to_string(),
                addr,
                prefix: u8::try_from(prefix).map_err(|_| bad(format!("prefix {prefix}")))?,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Background processes
// ---------------------------------------------------------------------------

/// A program running inside a host, in its own process group, with stdout
/// and stderr in files. Dropping it kills the group and reaps it.
pub struct HostProcess {
    child: Child,
    what: String,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    status: Option<ExitStatus>,
}

impl fmt::Debug for HostProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostProcess")
            .field("pid", &self.child.id())
            .field("cmd", &self.what)
            .field("status", &self.status)
            .finish()
    }
}

impl HostProcess {
    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line.
    pub fn command_line(&self) -> &str {
        &self.what
    }

    /// Path of the stdout file.
    pub fn stdout_path(&self) -> &Path {
        &self.stdout_path
    }

    /// Path of the stderr file.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// What it wrote on stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stdout_path).unwrap_or_default()).into_owned()
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr_path).unwrap_or_default()).into_owned()
    }

    /// Sends `sig` to the process only (not its children).
    pub fn signal(&mut self, sig: Signal) -> Result<()> {
        if self.try_status()?.is_some() {
            return Ok(());
        }
        self.pid_t()
            .and_then(|p| signal::kill(p, sig).map_err(|e| io_err("kill")(e.into())))
    }

    /// Sends `sig` to its whole process group.
    pub fn signal_group(&mut self, sig: Signal) -> Result<()> {
        if self.try_status()?.is_some() {
            // The leader has been reaped: once its group empties, the id
            // may be reused by an unrelated process, so do not signal it.
            return Ok(());
        }
        match signal::killpg(self.pid_t()?, sig) {
            // The group has already gone (a lab teardown killed it).
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(io_err("killpg")(e.into())),
        }
    }

    fn pid_t(&self) -> Result<Pid> {
        i32::try_from(self.child.id())
            .map(Pid::from_raw)
            .map_err(|_| io_err("pid")(io::Error::other("pid out of range")))
    }

    /// The exit status if it has exited (non-blocking).
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait().map_err(io_err("try_wait"))?;
        }
        Ok(self.status)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_status(), Ok(None))
    }

    /// Waits up to `timeout` for it to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = wait_deadline(&mut self.child, timeout).map_err(io_err("wait"))?;
        }
        Ok(self.status)
    }

    /// SIGKILLs the whole process group and reaps the leader.
    pub fn kill_hard(&mut self) -> Result<ExitStatus> {
        self.signal_group(Signal::SIGKILL)?;
        self.wait_timeout(Duration::from_secs(5))?
            .ok_or_else(|| LabError::Timeout {
                what: format!("`{}` to die after SIGKILL", self.what),
                timeout: Duration::from_secs(5),
            })
    }

    /// Sends `sig`, waits up to `grace` for an exit, then kills the group
    /// hard. Returns the exit status and whether the grace sufficed.
    pub fn stop(&mut self, sig: Signal, grace: Duration) -> Result<(ExitStatus, bool)> {
        self.signal(sig)?;
        if let Some(s) = self.wait_timeout(grace)? {
            // Children that outlived the leader would linger: end them too.
            if let Ok(p) = self.pid_t() {
                let _ = signal::killpg(p, Signal::SIGKILL);
            }
            return Ok((s, true));
        }
        Ok((self.kill_hard()?, false))
    }

    /// Waits until stdout or stderr contains `needle`, up to `timeout`.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if self.stdout().contains(needle) || self.stderr().contains(needle) {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= timeout {
                return Err(LabError::Timeout {
                    what: format!("`{needle}` in the output of `{}`", self.what),
                    timeout,
                });
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.kill_hard();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_description() {
        let t = Topology::parse(
            "a: eth0@lan 10.0.0.1/24 fd00::1/64, eth1\nb: eth0@lan 10.0.0.2/24; c:",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.hosts.len(), 3);
        assert_eq!(
            t.hosts[0].ifaces[0].addrs,
            vec!["10.0.0.1/24", "fd00::1/64"]
        );
        assert_eq!(t.hosts[0].ifaces[1].bridge, None);
        assert_eq!(t.bridges(), vec!["lan".to_string()]);
        assert!(t.hosts[2].ifaces.is_empty());
    }

    #[test]
    fn rejects_bad_descriptions() {
        for bad in [
            "a eth0",
            "a: eth0@lan 10.0.0.300/24",
            "a: waytoolonginterfacename",
            "a: eth0, eth0",
            "a: lo",
            "a-b: eth0",
            "a: eth0; a: eth1x 1.2.3.4/33",
            "",
        ] {
            assert!(Topology::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn lab_ids_are_recognised() {
        assert_eq!(lab_id_of("kr0a9zzz"), Some("kr0a9zzz"));
        assert_eq!(lab_id_of("kr0a9zzz-host1"), Some("kr0a9zzz"));
        assert_eq!(lab_id_of("kr0A9zzz-host1"), None);
        assert_eq!(lab_id_of("kr0a9zzzhost"), None);
        assert_eq!(lab_id_of("kpt0"), None);
        assert_eq!(lab_id_of("kr"), None);
    }

    #[test]
    fn owner_liveness() {
        assert!(owner_alive(&owner_record()));
        assert!(!owner_alive("1 0"));
        assert!(!owner_alive("garbage"));
        assert!(!owner_alive(""));
    }

    #[test]
    fn parses_ip_json() {
        let j = r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
                    {"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet6","local":"fd00::1","prefixlen":64},{"family":"inet"}]}]"#;
        let a = parse_ip_addr_json(j).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].ifname, "eth0");
        assert_eq!(
            a[1].addr,
            "fd00::1"
                .parse::<IpAddr>()
                .unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(parse_ip_addr_json("{").is_err());
    }

    #[test]
    fn timeout_bounds_a_command_and_kills_its_group() {
        let start = Instant::now();
        let mut c = Command::new("sh");
        // The child `sleep` inherits the pipe: if it survived, reading the
        // output would block past the deadline.
        c.args(["-c", "sleep 30 & sleep 30"]);
        let r = run_with_timeout(&mut c, Duration::from_millis(200));
        assert!(matches!(r, Err(LabError::Timeout { .. })), "{r:?}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn run_returns_status_and_output() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"]);
        let o = run_with_timeout(&mut c, Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.code(), Some(3));
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        assert!(run_ok(&mut c, Duration::from_secs(5)).is_err());
    }
}
