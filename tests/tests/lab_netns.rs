//! Proof that the network-namespace lab works: the harness's own behaviour
//! (unique names, teardown, sweep, bounded waits) and two real keepalived
//! 2.2.7 peers electing, failing over, splitting under a partition and
//! healing, observed through addresses and captured packets.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use testlab::netns::{self, Lab, LabError, Topology};
use testlab::Need;

const NEEDS: &[Need] = &[Need::Root, Need::Program("ip"), Need::Program("busybox")];

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("test address {s}: {e}"))
}

fn lan(hosts: &[&str], net: &str) -> Lab {
    Topology::lan(hosts, net)
        .build()
        .unwrap_or_else(|e| panic!("build lab: {e}"))
}

#[test]
fn hosts_reach_each_other_and_nothing_else() {
    if !testlab::lab_guard("hosts_reach_each_other_and_nothing_else", NEEDS) {
        return;
    }
    let lab = lan(&["a", "b"], "10.9.0");
    let a = lab.host("a").unwrap_or_else(|e| panic!("{e}"));
    let out = a
        .run(
            &["busybox", "ping", "-c", "1", "-W", "2", "10.9.0.2"],
            Duration::from_secs(5),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.code(),
        Some(0),
        "ping a->b: {} {}",
        out.stdout,
        out.stderr
    );
    let out = a
        .run(
            &["busybox", "ping", "-6", "-c", "1", "-W", "2", "fd00::2"],
            Duration::from_secs(5),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.code(),
        Some(0),
        "ping6 a->b: {} {}",
        out.stdout,
        out.stderr
    );
    // Only lo and eth0 inside a host: no root-namespace interface leaks in.
    let links = a
        .ip(&["-o", "link", "show"])
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = links
        .stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n))
        .collect();
    assert_eq!(names, vec!["lo", "eth0"], "{}", links.stdout);
    assert_eq!(
        lab.holders(ip("10.9.0.2")).unwrap_or_default(),
        vec!["b".to_string()]
    );
}

#[test]
fn names_are_unique_and_teardown_removes_everything() {
    if !testlab::lab_guard("names_are_unique_and_teardown_removes_everything", NEEDS) {
        return;
    }
    let l1 = lan(&["a"], "10.9.1");
    let l2 = lan(&["a"], "10.9.1");
    assert_ne!(l1.id(), l2.id());
    assert!(l1.id().starts_with(netns::PREFIX) && l1.id().len() == 8);
    let mut all: Vec<String> = l1.namespaces().to_vec();
    all.extend(l2.namespaces().iter().cloned());
    let dir = l1.dir().to_path_buf();
    // A process inside must not keep the namespace alive after teardown.
    let mut p = l1
        .host("a")
        .and_then(|h| h.spawn(&["sleep", "60"]))
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = netns::list_namespaces().unwrap_or_else(|e| panic!("{e}"));
    for ns in &all {
        assert!(listed.contains(ns), "{ns} missing from {listed:?}");
    }
    l1.teardown().unwrap_or_else(|e| panic!("{e}"));
    drop(l2);
    let listed = netns::list_namespaces().unwrap_or_else(|e| panic!("{e}"));
    for ns in &all {
        assert!(!listed.contains(ns), "{ns} left after teardown");
    }
    assert!(!dir.exists(), "lab dir left");
    assert!(
        p.wait_timeout(Duration::from_secs(5))
            .ok()
            .flatten()
            .is_some(),
        "process inside survived the teardown"
    );
}

#[test]
fn teardown_runs_when_the_test_panics() {
    if !testlab::lab_guard("teardown_runs_when_the_test_panics", NEEDS) {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let r = std::thread::spawn(move || {
        let lab = lan(&["a", "b"], "10.9.2");
        let _ = tx.send(lab.namespaces().to_vec());
        panic!("deliberate panic with a live lab");
    })
    .join();
    assert!(r.is_err());
    let created = rx.recv().unwrap_or_else(|e| panic!("{e}"));
    let listed = netns::list_namespaces().unwrap_or_else(|e| panic!("{e}"));
    for ns in &created {
        assert!(!listed.contains(ns), "{ns} left after a panic");
    }
}

#[test]
fn sweep_removes_leftovers_of_dead_owners_only() {
    if !testlab::lab_guard("sweep_removes_leftovers_of_dead_owners_only", NEEDS) {
        return;
    }
    let live = lan(&["a"], "10.9.3");
    // Fake a crashed run: a registered lab whose owner is dead, with a
    // process inside one of its namespaces, and an unregistered namespace.
    let dead_id = "krzz9dd0";
    let ns = format!("{dead_id}-x");
    let orphan = "krzz9dd1";
    for n in [ns.as_str(), orphan] {
        let out = std::process::Command::new("ip")
            .args(["netns", "add", n])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(
        std::path::Path::new(netns::REGISTRY_DIR).join(dead_id),
        "1 0\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut sleeper = std::process::Command::new("ip")
        .args(["netns", "exec", &ns, "sleep", "60"])
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while netns::namespace_pids(&ns).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "sleeper never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A lab built in parallel by another test sweeps too, so the leftovers
    // may be gone before (or during) this sweep: check the outcome.
    let sweep = netns::sweep_leftovers().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !std::path::Path::new(netns::REGISTRY_DIR)
            .join(dead_id)
            .exists(),
        "{sweep:?}"
    );
    let listed = netns::list_namespaces().unwrap_or_else(|e| panic!("{e}"));
    assert!(!listed.contains(&ns) && !listed.iter().any(|n| n == orphan));
    for n in live.namespaces() {
        assert!(listed.contains(n), "the live lab's {n} was swept");
    }
    let status = sleeper.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(!status.success(), "the sleeper was not killed");
}

#[test]
fn background_process_output_signals_and_deadlines() {
    if !testlab::lab_guard("background_process_output_signals_and_deadlines", NEEDS) {
        return;
    }
    let lab = Topology::isolated(&["eth0", "eth1"])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let h = lab.host("h").unwrap_or_else(|e| panic!("{e}"));
    // Output is readable while the program runs; SIGTERM is delivered.
    let mut p = h
        .spawn(&[
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo started; ip -o link show >&2; while :; do sleep 0.05; done",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    p.wait_for_output("started", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    p.wait_for_output("eth1", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}: {}", p.stderr()));
    let (status, graceful) = p
        .stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(graceful);
    assert_eq!(status.code(), Some(7));
    assert!(p.stdout().contains("got-term"));
    // A program ignoring SIGTERM is killed hard, children included, within
    // the grace period plus a bound.
    let mut p = h
        .spawn(&[
            "sh",
            "-c",
            "trap '' TERM; echo ready; sleep 60 & sleep 60; wait",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    // The trap must be in place before the signal is sent.
    p.wait_for_output("ready", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let (_, graceful) = p
        .stop(
            nix::sys::signal::Signal::SIGTERM,
            Duration::from_millis(300),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!graceful);
    assert!(start.elapsed() < Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !h.pids().unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "children survived a hard kill");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Run to completion with a timeout.
    let start = Instant::now();
    let r = h.run(&["sleep", "30"], Duration::from_millis(200));
    assert!(matches!(r, Err(LabError::Timeout { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    // A wait for holders is bounded too.
    let start = Instant::now();
    let r = lab.wait_holder(ip("10.9.4.1"), "h", Duration::from_millis(150));
    assert!(matches!(r, Err(LabError::Timeout { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
}
