//! The real keepalived 2.2.7 as a peer (VRRP) and as an oracle (`-t`), run inside lab hosts.
//!
//! [`Keepalived::start`] runs `keepalived -n -l -D -f CONF -p PIDF -r
//! VRRP_PIDF -c CHECK_PIDF` inside a [`Host`], every file in a temp dir of its
//! own, because a second instance sharing the default pid files refuses to
//! start (labs.md). [`config_test`] runs `keepalived -t` inside a host, whose
//! interfaces decide part of the verdict. [`VrrpInstanceCfg`] and
//! [`KeepalivedCfg`] write the simple configurations interop tests need.
//!
//! ```no_run
//! use std::time::Duration;
//! use testlab::keepalived::{Keepalived, KeepalivedCfg, StartOpts, VrrpInstanceCfg};
//! use testlab::netns::Topology;
//! # fn main() -> Result<(), testlab::netns::LabError> {
//! let lab = Topology::lan(&["a", "b"], "10.0.0").build()?;
//! let cfg = VrrpInstanceCfg::new("eth0", 51, 150).vip("10.0.0.100/24");
//! let text = KeepalivedCfg::single("a", cfg.clone()).render();
//! let mut ka = Keepalived::start(lab.host("a")?, &text)?;
//! // The same command line for keepalived-rs: StartOpts { program: Some(path), .. }.
//! let vip = std::net::IpAddr::from([10, 0, 0, 100]);
//! lab.wait_sole_holder(vip, "a", cfg.master_down_interval() + Duration::from_secs(2))?;
//! ka.kill()?; // SIGKILL to the group, then its leftover VIP removed
//! let verdict = testlab::keepalived::config_test_text(lab.host("b")?, &text)?;
//! assert_eq!(verdict.status, Some(0));
//! # Ok(()) }
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::netns::{AddrInfo, Host, HostProcess, LabError, Output, Result};

/// The keepalived binary (from PATH; Debian installs `/usr/sbin/keepalived`).
pub const KEEPALIVED: &str = "keepalived";

/// Deadline for `keepalived -t`: an include cycle makes 2.2.7 recurse until
/// EMFILE before it answers (labs.md), which takes well under this.
const CONFIG_TEST_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Configuration generation
// ---------------------------------------------------------------------------

/// VRRP authentication (keepalived's `authentication` block; RFC 2338 types,
/// accepted by keepalived for VRRPv2 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `auth_type PASS` with `auth_pass` (keepalived keeps 8 characters).
    Pass(String),
    /// `auth_type AH` with `auth_pass`.
    Ah(String),
}

/// One `vrrp_instance` block.
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpInstanceCfg {
    /// Instance name (`vrrp_instance NAME`).
    pub name: String,
    /// `interface`.
    pub interface: String,
    /// `state MASTER|BACKUP`; `None` leaves keepalived's default (BACKUP).
    pub state: Option<String>,
    /// `virtual_router_id`.
    pub vrid: u8,
    /// `priority` (1-255; 255 is the address owner).
    pub priority: u8,
    /// `advert_int` in seconds (fractions only make sense for VRRPv3).
    pub advert_int: f64,
    /// `version` (2 or 3).
    pub version: u8,
    /// `authentication`.
    pub auth: Option<Auth>,
    /// `unicast_src_ip`.
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peer` addresses; empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// `virtual_ipaddress` lines, e.g. `10.0.0.100/24` or `fd00::100/64`.
    pub vips: Vec<String>,
    /// `nopreempt` (renders `state BACKUP` too, which keepalived requires).
    pub nopreempt: bool,
    /// Extra lines inside the block, verbatim.
    pub extra: Vec<String>,
}

impl VrrpInstanceCfg {
    /// An instance `VI_<vrid>` on `interface` with VRRPv2, advert_int 1, no
    /// auth, multicast, no VIPs yet.
    pub fn new(interface: &str, vrid: u8, priority: u8) -> Self {
        Self {
            name: format!("VI_{vrid}"),
            interface: interface.to_string(),
            state: None,
            vrid,
            priority,
            advert_int: 1.0,
            version: 2,
            auth: None,
            unicast_src: None,
            unicast_peers: Vec::new(),
            vips: Vec::new(),
            nopreempt: false,
            extra: Vec::new(),
        }
    }

    /// Adds a virtual address.
    pub fn vip(mut self, vip: &str) -> Self {
        self.vips.push(vip.to_string());
        self
    }

    /// Sets `advert_int` in seconds.
    pub fn advert_int(mut self, secs: f64) -> Self {
        self.advert_int = secs;
        self
    }

    /// Sets the VRRP version.
    pub fn version(mut self, v: u8) -> Self {
        self.version = v;
        self
    }

    /// Sets the authentication.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Unicast from `src` to `peers`.
    pub fn unicast(mut self, src: Option<IpAddr>, peers: &[IpAddr]) -> Self {
        self.unicast_src = src;
        self.unicast_peers = peers.to_vec();
        self
    }

    /// Sets `nopreempt`.
    pub fn nopreempt(mut self) -> Self {
        self.nopreempt = true;
        self
    }

    /// Sets the initial `state`.
    pub fn state(mut self, state: &str) -> Self {
        self.state = Some(state.to_string());
        self
    }

    /// Adds a verbatim line inside the block.
    pub fn line(mut self, line: &str) -> Self {
        self.extra.push(line.to_string());
        self
    }

    /// The skew time of RFC 3768 6.1 (v2: (256 - priority) / 256 s) or
    /// RFC 5798 6.1 (v3: ((256 - priority) * advert_int) / 256).
    pub fn skew(&self) -> Duration {
        let base = f64::from(256 - u16::from(self.priority)) / 256.0;
        Duration::from_secs_f64(if self.version == 3 {
            base * self.advert_int
        } else {
            base
        })
    }

    /// The master down interval: 3 x advert_int + skew (RFC 3768 6.1, RFC
    /// 5798 6.1).
    pub fn master_down_interval(&self) -> Duration {
        Duration::from_secs_f64(3.0 * self.advert_int) + self.skew()
    }

    /// The block's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "vrrp_instance {} {{", self.name);
        let state = if self.nopreempt {
            Some("BACKUP")
        } else {
            self.state.as_deref()
        };
        if let Some(st) = state {
            let _ = writeln!(s, "    state {st}");
        }
        let _ = writeln!(s, "    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    advert_int {}", self.advert_int);
        let _ = writeln!(s, "    version {}", self.version);
        if self.nopreempt {
            let _ = writeln!(s, "    nopreempt");
        }
        if let Some(a) = &self.auth {
            let (t, p) = match a {
                Auth::Pass(p) => ("PASS", p),
                Auth::Ah(p) => ("AH", p),
            };
            let _ = writeln!(
                s,
                "    authentication {{\n        auth_type {t}\n        auth_pass {p}\n    }}"
            );
        }
        if let Some(src) = self.unicast_src {
            let _ = writeln!(s, "    unicast_src_ip {src}");
        }
        if !self.unicast_peers.is_empty() {
            let _ = writeln!(s, "    unicast_peer {{");
            for p in &self.unicast_peers {
                let _ = writeln!(s, "        {p}");
            }
            let _ = writeln!(s, "    }}");
        }
        for l in &self.extra {
            let _ = writeln!(s, "    {l}");
        }
        let _ = writeln!(s, "    virtual_ipaddress {{");
        for v in &self.vips {
            let _ = writeln!(s, "        {v}");
        }
        let _ = writeln!(s, "    }}");
        s.push_str("}\n");
        s
    }
}

/// A whole keepalived.conf: `global_defs` plus VRRP instances and verbatim
/// blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeepalivedCfg {
    /// `router_id` in `global_defs`.
    pub router_id: String,
    /// Extra `global_defs` lines, verbatim.
    pub global: Vec<String>,
    /// The VRRP instances.
    pub instances: Vec<VrrpInstanceCfg>,
    /// Further top-level blocks, verbatim (virtual_server, vrrp_script, ...).
    pub blocks: Vec<String>,
}

impl KeepalivedCfg {
    /// A config with `router_id` and one instance.
    pub fn single(router_id: &str, instance: VrrpInstanceCfg) -> Self {
        Self {
            router_id: router_id.to_string(),
            global: Vec::new(),
            instances: vec![instance],
            blocks: Vec::new(),
        }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = String::from("global_defs {\n");
        if !self.router_id.is_empty() {
            let _ = writeln!(s, "    router_id {}", self.router_id);
        }
        for l in &self.global {
            let _ = writeln!(s, "    {l}");
        }
        s.push_str("}\n");
        for i in &self.instances {
            s.push_str(&i.render());
        }
        for b in &self.blocks {
            s.push_str(b);
            if !b.ends_with('\n') {
                s.push('\n');
            }
        }
        s
    }
}

// ---------------------------------------------------------------------------
// keepalived as a running peer
// ---------------------------------------------------------------------------

/// How to start keepalived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOpts {
    /// Add `-G` (no syslog): under a flood of rejected adverts keepalived
    /// with `-l` logs every one and stalls the lab (labs.md).
    pub no_syslog: bool,
    /// Further arguments, verbatim.
    pub extra_args: Vec<String>,
    /// Run this keepalived-compatible program instead of [`KEEPALIVED`]
    /// (e.g. the keepalived-rs binary) with the same command line, so one
    /// wrapper drives either side of an interop test.
    pub program: Option<PathBuf>,
}

/// A keepalived 2.2.7 (or, with [`StartOpts::program`], a compatible
/// program) running inside a lab host. Dropping it kills its whole process
/// group.
#[derive(Debug)]
pub struct Keepalived {
    proc: HostProcess,
    host: Host,
    dir: PathBuf,
    conf: PathBuf,
    baseline_addrs: Vec<AddrInfo>,
    baseline_links: Vec<String>,
}

impl Keepalived {
    /// Writes `config` and starts keepalived in `host` with default options.
    pub fn start(host: &Host, config: &str) -> Result<Self> {
        Self::start_with(host, config, &StartOpts::default())
    }

    /// Writes `config` and starts keepalived in `host`.
    pub fn start_with(host: &Host, config: &str, opts: &StartOpts) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-keepalived-", host.name()))
            .tempdir_in(host.dir())
            .map_err(|e| io_err("create keepalived's dir", e))?
            .keep();
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, config)
            .map_err(|e| io_err(&format!("write {}", conf.display()), e))?;
        // What the host had before: a SIGKILL leaves keepalived's VIPs and
        // VMAC links behind, which [`Keepalived::kill`] removes.
        let baseline_addrs = host.addrs()?;
        let baseline_links = link_names(host)?;
        let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
        let mut args: Vec<String> = vec![
            opts.program
                .as_ref()
                .map_or_else(|| KEEPALIVED.into(), |p| p.to_string_lossy().into_owned()),
            "-n".into(),
            "-l".into(),
            "-D".into(),
            "-f".into(),
            conf.to_string_lossy().into_owned(),
            "-p".into(),
            p("keepalived.pid"),
            "-r".into(),
            p("vrrp.pid"),
            "-c".into(),
            p("checkers.pid"),
        ];
        if opts.no_syslog {
            args.push("-G".into());
        }
        args.extend(opts.extra_args.iter().cloned());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let proc = host.spawn(&argv)?;
        Ok(Self {
            proc,
            host: host.clone(),
            dir,
            conf,
            baseline_addrs,
            baseline_links,
        })
    }

    /// The directory holding its config and pid files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config file it runs with.
    pub fn config_path(&self) -> &Path {
        &self.conf
    }

    /// The process (signals, waits, output files).
    pub fn process(&mut self) -> &mut HostProcess {
        &mut self.proc
    }

    /// Everything it logged so far (stdout then stderr).
    pub fn log(&self) -> String {
        let mut s = self.proc.stdout();
        s.push_str(&self.proc.stderr());
        s
    }

    /// Waits until its log contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<Duration> {
        self.proc.wait_for_output(needle, timeout)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.is_running()
    }

    /// Sends SIGHUP (reload).
    pub fn reload(&mut self) -> Result<()> {
        self.proc.signal(Signal::SIGHUP)
    }

    /// Graceful stop: SIGTERM, with which keepalived sends a priority-0
    /// advert and removes its VIPs; waits up to `grace`, then kills hard.
    /// Returns the exit status and whether it stopped within `grace`.
    pub fn stop(&mut self, grace: Duration) -> Result<(ExitStatus, bool)> {
        self.proc.stop(Signal::SIGTERM, grace)
    }

    /// Crash: SIGKILL to the whole process group (parent and VRRP/checker
    /// children at once, so no child sends a goodbye advert), then removes
    /// the VIPs and VMAC links it left, as a crashed host would have none.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        let status = self.proc.kill_hard()?;
        self.remove_leftovers()?;
        Ok(status)
    }

    /// Removes the addresses and links that appeared on the host since it
    /// started (what a SIGKILL leaves behind).
    pub fn remove_leftovers(&self) -> Result<()> {
        for a in self.host.addrs()? {
            if !self.baseline_addrs.contains(&a) {
                let cidr = format!("{}/{}", a.addr, a.prefix);
                // The address may vanish meanwhile (with its link): re-check.
                if let Err(e) = self.host.del_addr(&a.ifname, &cidr) {
                    if self.host.addrs()?.contains(&a) {
                        return Err(e);
                    }
                }
            }
        }
        for l in link_names(&self.host)? {
            if !self.baseline_links.contains(&l) {
                self.host.ip(&["link", "del", &l])?;
            }
        }
        Ok(())
    }
}

fn link_names(host: &Host) -> Result<Vec<String>> {
    let out = host.ip(&["-j", "link", "show"])?;
    let v: serde_json::Value = serde_json::from_str(&out.stdout).map_err(|e| LabError::Parse {
        cmd: "ip -j link show".into(),
        why: e.to_string(),
    })?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.get("ifname").and_then(|n| n.as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

fn io_err(what: &str, source: std::io::Error) -> LabError {
    LabError::Io {
        what: what.to_string(),
        source,
    }
}

// ---------------------------------------------------------------------------
// keepalived -t as the oracle
// ---------------------------------------------------------------------------

/// keepalived's `-t` verdict on a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigTest {
    /// Exit status: 0 clean, 4 fatal, 5 configuration problems, 6 script
    /// security (labs.md); `None` if a signal ended it.
    pub status: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error, where 2.2.7 writes the diagnostics with `-t`.
    pub stderr: String,
}

impl From<Output> for ConfigTest {
    fn from(o: Output) -> Self {
        Self {
            status: o.code(),
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }
}

/// Runs `keepalived -t -f CONF` inside `host` (its interfaces are the ones
/// the verdict sees), with pid files in a temp dir so a running instance's
/// default pid files play no part.
pub fn config_test(host: &Host, conf: &Path) -> Result<ConfigTest> {
    let dir = tempfile::Builder::new()
        .prefix("keepalived-t-")
        .tempdir_in(host.dir())
        .map_err(|e| io_err("create a temp dir", e))?;
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let conf = conf.to_string_lossy().into_owned();
    let (pf, rf, cf) = (p("k.pid"), p("v.pid"), p("c.pid"));
    let out = host.run(
        &[
            KEEPALIVED, "-t", "-f", &conf, "-p", &pf, "-r", &rf, "-c", &cf,
        ],
        CONFIG_TEST_TIMEOUT,
    )?;
    Ok(out.into())
}

/// Runs [`config_test`] in a fresh namespace whose only interfaces (besides
/// `lo`) are `ifaces`. Builds and deletes a lab per call: to check many
/// files, build one `Topology::isolated(ifaces)` lab and call
/// [`config_test`] on its host instead.
pub fn config_test_with_interfaces(ifaces: &[&str], conf: &Path) -> Result<ConfigTest> {
    let lab = crate::netns::Topology::isolated(ifaces).build()?;
    config_test(lab.host("h")?, conf)
}

/// Writes `text` to a file in the lab dir and runs [`config_test`] on it.
pub fn config_test_text(host: &Host, text: &str) -> Result<ConfigTest> {
    let file = tempfile::Builder::new()
        .prefix("keepalived-t-")
        .suffix(".conf")
        .tempfile_in(host.dir())
        .map_err(|e| io_err("create a temp config", e))?;
    std::fs::write(file.path(), text)
        .map_err(|e| io_err(&format!("write {}", file.path().display()), e))?;
    config_test(host, file.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_instance() {
        let peer: IpAddr = [10, 0, 0, 2].into();
        let i = VrrpInstanceCfg::new("eth0", 51, 150)
            .vip("10.0.0.100/24")
            .auth(Auth::Pass("secret".into()))
            .unicast(None, &[peer])
            .nopreempt();
        let text = KeepalivedCfg::single("a", i).render();
        for want in [
            "router_id a",
            "vrrp_instance VI_51 {",
            "state BACKUP",
            "nopreempt",
            "virtual_router_id 51",
            "priority 150",
            "advert_int 1\n",
            "auth_type PASS",
            "auth_pass secret",
            "unicast_peer {\n        10.0.0.2\n    }",
            "virtual_ipaddress {\n        10.0.0.100/24\n    }",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }

    #[test]
    fn timers_follow_the_rfcs() {
        let v2 = VrrpInstanceCfg::new("eth0", 1, 100);
        // RFC 3768 6.1: skew = (256 - 100) / 256 s.
        assert_eq!(v2.skew(), Duration::from_secs_f64(156.0 / 256.0));
        assert_eq!(
            v2.master_down_interval(),
            Duration::from_secs(3) + Duration::from_secs_f64(156.0 / 256.0)
        );
        // RFC 5798 6.1: skew scales with the advert interval.
        let v3 = VrrpInstanceCfg::new("eth0", 1, 100)
            .version(3)
            .advert_int(0.5);
        assert_eq!(v3.skew(), Duration::from_secs_f64(0.5 * 156.0 / 256.0));
    }
}
