//! Differential lab test: the preprocessor against the real keepalived
//! 2.2.7. For flat configurations (every statement at top level, none a
//! keepalived keyword) keepalived's parent pass reports each statement as
//! "Unknown keyword 'FIRST_WORD'", in order; those words must equal the
//! first words of our statements. Strict-include cases compare the exit
//! status (6 when a checked include failed). Needs root (a network
//! namespace for keepalived) and keepalived on PATH; skipped otherwise.

use confparse::preproc::{read_config_full, PreprocOptions};
use confparse::{Diagnostics, SourceMap};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/preproc")
}

/// testlab's `lab_guard` rules (skip with a reason, or fail under
/// `KEEPALIVED_RS_LABS=require`), done here because confparse must not
/// depend on the other workspace crates (architecture.md), testlab
/// included.
fn lab_guard(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false);
    let on_path = |p: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    let why = if !root {
        Some("needs root (network namespaces)".to_string())
    } else {
        ["keepalived", "ip", "timeout"]
            .iter()
            .find(|p| !on_path(p))
            .map(|p| format!("needs `{p}` on PATH (run .ci/setup)"))
    };
    match why {
        None => true,
        Some(why) if std::env::var("KEEPALIVED_RS_LABS").is_ok_and(|v| v == "require") => {
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

/// A network namespace of our own, deleted on drop (also on panic).
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Self {
        // Tests run in parallel threads of one process: number each one.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("krpp-{}-{n}-{tag}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip netns add {name} failed");
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// keepalived -t on `conf` in a namespace of its own, bounded to 30 s:
/// (stderr, status).
fn keepalived_t(conf: &Path, tag: &str, extra: &[&str]) -> (String, Option<i32>) {
    let ns = Netns::new(tag);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "timeout",
            "30",
            "keepalived",
            "-t",
            "-f",
        ])
        .arg(conf)
        .args([
            "-i",
            "lb1",
            "-p",
            &p("k.pid"),
            "-r",
            &p("v.pid"),
            "-c",
            &p("c.pid"),
        ])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("keepalived -t: {e}"));
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

/// The words of keepalived's "Unknown keyword" lines in its first
/// (parent) pass: the children repeat everything prefixed with the main
/// file's name.
fn keepalived_words(stderr: &str, conf: &Path) -> Vec<String> {
    let child = format!("({}: Line", conf.display());
    stderr
        .lines()
        .take_while(|l| !l.starts_with(&child))
        .filter_map(|l| {
            let i = l.find("Unknown keyword '")?;
            let w = &l[i + "Unknown keyword '".len()..];
            Some(w.strip_suffix('\'').unwrap_or(w).to_string())
        })
        .collect()
}

fn ours(conf: &Path, all_config: bool) -> (Vec<String>, bool) {
    let opts = PreprocOptions {
        config_id: Some("lb1".into()),
        all_config,
        ..Default::default()
    };
    let mut s = SourceMap::new();
    let mut d = Diagnostics::new();
    let out = read_config_full(conf, &opts, &mut s, &mut d);
    let words = out
        .lines
        .iter()
        .filter(|l| !l.is_open())
        .map(|l| l.keyword().to_string())
        .collect();
    (words, out.include_failed)
}

#[test]
fn flat_configs_match_keepalived() {
    if !lab_guard("flat_configs_match_keepalived") {
        return;
    }
    for case in ["defs", "seq", "cond", "include", "quotes", "nesting"] {
        let conf = fixtures().join("differential").join(format!("{case}.conf"));
        let conf = std::fs::canonicalize(&conf).unwrap_or(conf);
        let (stderr, _) = keepalived_t(&conf, case, &[]);
        let want = keepalived_words(&stderr, &conf);
        let (got, _) = ours(&conf, false);
        assert!(
            !want.is_empty(),
            "{case}: keepalived said nothing:\n{stderr}"
        );
        assert_eq!(got, want, "{case}: keepalived said\n{stderr}");
    }
}

#[test]
fn checked_includes_match_keepalived_status() {
    if !lab_guard("checked_includes_match_keepalived_status") {
        return;
    }
    for case in ["strict", "include_check", "missing_plain", "include"] {
        let conf = fixtures().join(case).join("main.conf");
        let conf = std::fs::canonicalize(&conf).unwrap_or(conf);
        let (stderr, status) = keepalived_t(&conf, case, &[]);
        let (_, failed) = ours(&conf, false);
        assert_eq!(
            status == Some(6),
            failed,
            "{case}: keepalived status {status:?}\n{stderr}"
        );
    }
}

#[test]
fn all_config_matches_keepalived_status() {
    if !lab_guard("all_config_matches_keepalived_status") {
        return;
    }
    for case in ["missing_plain", "include"] {
        let conf = fixtures().join(case).join("main.conf");
        let conf = std::fs::canonicalize(&conf).unwrap_or(conf);
        let (stderr, status) = keepalived_t(&conf, case, &["-e"]);
        let (_, failed) = ours(&conf, true);
        assert_eq!(
            status == Some(6),
            failed,
            "{case} -e: keepalived status {status:?}\n{stderr}"
        );
    }
}
