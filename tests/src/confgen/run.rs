//! Running `keepalived -t` and `keepalived-rs -t` on the same file with the
//! same interfaces: a private, anonymous network namespace per run of
//! checks, our binary located (and built) from the test's own target
//! directory, and timed runs with peak RSS.
//!
//! keepalived's verdict depends on which interfaces exist (a missing
//! `interface` is an error), so both programs must see exactly the
//! interfaces a test names. [`in_private_netns`] runs a closure on a fresh
//! thread that has unshared its network namespace: children spawned from
//! that thread inherit it, and the namespace disappears with the thread, so
//! nothing is left behind even when the closure panics.

use super::wait4;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where our binary is, building it first when run under cargo.
///
/// `KEEPALIVED_RS_BIN` overrides. Otherwise the binary sits in the same
/// profile directory as the running executable (`target/debug/deps/x-hash`
/// for a test, `target/debug/x` for a bin). Under `cargo test`/`cargo run`
/// (`CARGO` is set) `cargo build -p keepalived-rs` runs first with that
/// profile, so the binary is never stale.
pub fn our_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("KEEPALIVED_RS_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| format!("{} has no parent", exe.display()))?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir
            .parent()
            .ok_or_else(|| format!("{} has no parent", dir.display()))?;
    }
    let bin = dir.join("keepalived-rs");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(p) => p.to_string(),
        };
        let target_dir = dir
            .parent()
            .ok_or_else(|| format!("{} has no parent", dir.display()))?;
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let out = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "keepalived-rs",
                "--profile",
                &profile,
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", target_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("running cargo build: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo build -p keepalived-rs failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: run `cargo build -p keepalived-rs` or set KEEPALIVED_RS_BIN",
            bin.display()
        ))
    }
}

/// Run `f` on a new thread inside a new, anonymous network namespace that
/// holds `lo` and exactly `n` more interfaces named `eth0` .. `eth{n-1}`
/// (veth pairs; an odd count gets one peer named `kprs-odd`, which no
/// configuration names), with that namespace's sysfs on /sys (in a private
/// mount namespace). Needs root. Both namespaces die with the thread.
pub fn in_private_netns<R, F>(n: usize, f: F) -> Result<R, String>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let h = std::thread::Builder::new()
        .name("private-netns".into())
        .spawn(move || -> Result<R, String> {
            // unshare() moves only the calling thread, which is why this
            // runs on a thread of its own. A mount namespace too, to mount a
            // sysfs of the new network namespace on /sys as `ip netns exec`
            // does: /sys/class/net shows the links of the namespace that
            // mounted sysfs, and programs read their interfaces there.
            use nix::mount::{mount, MsFlags};
            use nix::sched::{unshare, CloneFlags};
            unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("unshare(CLONE_NEWNET|CLONE_NEWNS): {e} (needs root)"))?;
            // Keep our mounts out of the host's mount namespace.
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| format!("making / a slave mount: {e}"))?;
            mount(
                Some("sysfs"),
                "/sys",
                Some("sysfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(|e| format!("mounting sysfs on /sys: {e}"))?;
            let mut cmds: Vec<Vec<String>> = vec![];
            let mut i = 0;
            while i < n {
                let a = format!("eth{i}");
                let b = if i + 1 < n {
                    format!("eth{}", i + 1)
                } else {
                    "kprs-odd".to_string()
                };
                cmds.push(
                    ["link", "add", &a, "type", "veth", "peer", "name", &b]
                        .map(String::from)
                        .to_vec(),
                );
                i += 2;
            }
            cmds.push(["link", "set", "lo", "up"].map(String::from).to_vec());
            for name in (0..n).map(|i| format!("eth{i}")) {
                cmds.push(["link", "set", &name, "up"].map(String::from).to_vec());
            }
            // One `ip -batch` for all, fed on stdin: 40 interfaces in one exec.
            let batch: String = cmds.iter().map(|c| c.join(" ") + "\n").collect();
            let mut child = Command::new("ip")
                .args(["-batch", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("running ip: {e}"))?;
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write as _;
                stdin
                    .write_all(batch.as_bytes())
                    .map_err(|e| format!("writing to ip -batch: {e}"))?;
            }
            let out = child
                .wait_with_output()
                .map_err(|e| format!("waiting for ip: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "ip -batch failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(f())
        })
        .map_err(|e| format!("spawning the namespace thread: {e}"))?;
    match h.join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// How one `-t` run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit status, `None` when killed by a signal.
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    pub stderr: String,
    pub wall: Duration,
    pub max_rss_kib: u64,
}

impl Outcome {
    /// The status as a shell shows it (128 + signal for a killed process),
    /// the form `fixtures/configs/expected.tsv` records.
    pub fn shell_status(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => -1,
        }
    }
}

/// Run `prog args..` with `cwd`, capturing stderr, timing it from spawn to
/// reap and taking its peak RSS. stdout is discarded.
pub fn run_timed(prog: &Path, args: &[&str], cwd: &Path) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", prog.display()))?;
    // Drain stderr on a thread so a chatty child never blocks on a full pipe.
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let reaped = wait4::wait4(child.id()).map_err(|e| format!("wait4: {e}"))?;
    let wall = start.elapsed();
    let stderr = reader.join().unwrap_or_default();
    let st = reaped.status;
    let (code, signal) = if libc::WIFEXITED(st) {
        (Some(libc::WEXITSTATUS(st)), None)
    } else if libc::WIFSIGNALED(st) {
        (None, Some(libc::WTERMSIG(st)))
    } else {
        (None, None)
    };
    Ok(Outcome {
        code,
        signal,
        stderr,
        wall,
        max_rss_kib: reaped.max_rss_kib,
    })
}

/// `prog -t -f conf`, run from the config's directory.
pub fn config_test(prog: &Path, conf: &Path) -> Result<Outcome, String> {
    let cwd = conf
        .parent()
        .filter(|p| p.is_dir())
        .unwrap_or(Path::new("/"));
    let conf_s = conf
        .to_str()
        .ok_or_else(|| format!("non-UTF-8 path {}", conf.display()))?;
    run_timed(prog, &["-t", "-f", conf_s], cwd)
}

/// The median of some durations (the upper one of the middle pair).
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
