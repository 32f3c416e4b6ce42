//! Test labs: network-namespace topologies, the IPVS VM, keepalived as a
//! peer; shared by the integration suites and `keepalived-rs demo`.
//!
//! Lab tests call [`lab_guard`] first. With `KEEPALIVED_RS_LABS=require`
//! (set by `.ci/run`) a missing prerequisite fails the test; otherwise the
//! test is skipped with a one-line reason on stderr. It never passes
//! silently.

pub mod capture;
pub mod confgen;
pub mod keepalived;
pub mod netns;
pub mod vm;

/// What a lab test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Effective uid 0 (namespaces, raw sockets).
    Root,
    /// A program on PATH, e.g. "keepalived", "ipvsadm", "qemu-system-x86_64".
    Program(&'static str),
    /// The cached kernel image and modules for the IPVS VM.
    VmKernel,
}

/// Whether lab tests must run (`KEEPALIVED_RS_LABS=require`).
pub fn labs_required() -> bool {
    std::env::var("KEEPALIVED_RS_LABS").is_ok_and(|v| v == "require")
}

/// The first unmet need, described for a human.
pub fn missing(needs: &[Need]) -> Option<String> {
    for n in needs {
        match n {
            Need::Root => {
                if !nix::unistd::geteuid().is_root() {
                    return Some("needs root (network namespaces, raw sockets)".into());
                }
            }
            Need::Program(p) => {
                if !on_path(p) {
                    return Some(format!("needs `{p}` on PATH (run .ci/setup)"));
                }
            }
            Need::VmKernel => {
                if let Err(e) = vm::kernel_dir() {
                    return Some(format!("needs the VM kernel ({e}; run .ci/setup)"));
                }
            }
        }
    }
    None
}

/// Call at the top of a lab test: `if !lab_guard("name", &[..]) { return; }`.
/// Panics (fails the test) when labs are required and a need is unmet.
pub fn lab_guard(test: &str, needs: &[Need]) -> bool {
    match missing(needs) {
        None => true,
        Some(why) if labs_required() => {
            panic!("lab test {test} cannot run and KEEPALIVED_RS_LABS=require: {why}")
        }
        Some(why) => {
            eprintln!(
                "SKIPPED lab test {test}: {why} (set KEEPALIVED_RS_LABS=require to fail instead)"
            );
            false
        }
    }
}

/// Benchmarks that live beside the lab tests (they need the same VMs and
/// namespaces) run only when `KEEPALIVED_RS_BENCH=1`: they measure, they do
/// not check, and some take minutes (keepalived 2.2.7 needs ~2 min to stop
/// with 1,000 services). Otherwise they print why they did not run.
pub fn bench_enabled(bench: &str) -> bool {
    if std::env::var("KEEPALIVED_RS_BENCH").is_ok_and(|v| v == "1") {
        return true;
    }
    eprintln!(
        "NOT RUN benchmark {bench}: set KEEPALIVED_RS_BENCH=1 to measure (see BENCHMARKS.md)"
    );
    false
}

/// Whether `prog` is an executable on PATH (or an executable path).
pub fn on_path(prog: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if prog.contains('/') {
        return is_exec(std::path::Path::new(prog));
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).any(|d| is_exec(&d.join(prog)))
}
