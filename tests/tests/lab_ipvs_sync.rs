//! Two IPVS behaviours on a real kernel (the VM lab), keepalived 2.2.7 run
//! first in the same boot on the same configs as the oracle
//! (`fixtures/ipvs-daemon/sync-scenario.sh`):
//! - `lvs_sync_daemon sy0 VI_1 ...` follows VI_1: the backup sync daemon
//!   while VI_1 is not master, the master one once it is, none after
//!   SIGTERM (`fixtures/ipvs-daemon/sync.conf`; VI_1's adverts stay on a
//!   veth pair inside the VM), through a SIGHUP, FAULT (the veth peer down)
//!   and master again; the kernel's sync thread starts and stops counted
//!   with kprobes per phase;
//! - real servers behind ipip, gue (with port and each checksum flag) and
//!   gre tunnels reach the kernel as configured, read back with
//!   `ipvsadm -Ln --tun-info` (`fixtures/ipvs-daemon/tunnels.conf`).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testlab::vm::{InitramfsBuilder, Kernel, Scenario, VmOutput};
use testlab::{lab_guard, Need};

const NEEDS: &[Need] = testlab::vm::VM_NEEDS_WITH_KEEPALIVED;

use testlab::vm::ipvs_daemon_fixture as fixture;

/// The one boot, shared by the tests below.
fn run() -> &'static VmOutput {
    static OUT: OnceLock<Result<VmOutput, String>> = OnceLock::new();
    let out =
        OUT.get_or_init(|| {
            let ours = testlab::confgen::run::our_binary()?;
            let image = Kernel::cached()
                .and_then(|k| {
                    InitramfsBuilder::new(k)
                        .program("keepalived")?
                        .program_as(ours, "/usr/sbin/keepalived-rs")
                        .build()
                })
                .map_err(|e| format!("building the image: {e}"))?;
            let scenario = Scenario::new(fixture("sync-scenario.sh"))
            .file("/etc/keepalived/sync.conf", fixture("sync.conf"), 0o644)
            .file("/etc/keepalived/tunnels.conf", fixture("tunnels.conf"), 0o644)
            .env("KR_ORACLE", "yes")
            .env(
                "KR_CMD",
                "keepalived-rs -n -l -e -p /run/kr.pid -r /run/kr-vrrp.pid -c /run/kr-check.pid",
            )
            .timeout(Duration::from_secs(600));
            let start = Instant::now();
            let out = image.run(&scenario).map_err(|e| e.to_string())?;
            eprintln!("VM run ipvs-sync: {:?} wall", start.elapsed());
            Ok(out)
        });
    match out {
        Ok(o) => o,
        Err(e) => panic!("VM scenario ipvs-sync failed: {e}"),
    }
}

fn text(out: &VmOutput, key: &str) -> String {
    out.text(key)
        .unwrap_or_else(|e| panic!("{key}: {e}\n{}", out.console_tail(40)))
}

fn value<'a>(out: &'a VmOutput, key: &str) -> &'a str {
    out.value(key)
        .unwrap_or_else(|e| panic!("{key}: {e}\n{}", out.console_tail(40)))
}

/// Lines of a listing, trimmed and sorted (the kernel's order of real
/// servers is not what is compared).
fn lines(out: &VmOutput, key: &str) -> Vec<String> {
    let mut l: Vec<String> = text(out, key)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    l.sort();
    l
}

/// Both daemons' logs, for failure messages.
fn logs(out: &VmOutput, what: &str) -> String {
    format!(
        "--- keepalived:\n{}\n--- keepalived-rs:\n{}",
        out.text(&format!("ka.{what}.log")).unwrap_or_default(),
        out.text(&format!("kr.{what}.log")).unwrap_or_default()
    )
}

/// What sync.conf's `lvs_sync_daemon sy0 VI_1 maxlen 1400 port 8850 ttl 2`
/// runs in `role` (syncid: VI_1's VRID 61; group: the kernel default).
fn sync_line(role: &str) -> String {
    format!(
        "{role} sync daemon (mcast=sy0, syncid=61, maxlen=1400, group=224.0.0.81, port=8850, ttl=2)"
    )
}

/// The kernel's sync thread (starts, stops) in `phase` for daemon `p`.
fn ops(out: &VmOutput, p: &str, phase: &str) -> (u32, u32) {
    let n = |f: &str| {
        let k = format!("{p}.ops.{phase}.{f}");
        value(out, &k)
            .parse()
            .unwrap_or_else(|e| panic!("{k}: {e}"))
    };
    (n("start_sync_thread"), n("stop_sync_thread"))
}

/// Every phase of sync-scenario.sh with the daemon listing it must show.
const PHASES: &[(&str, Option<&str>)] = &[
    ("start", Some("backup")),
    ("master", Some("master")),
    ("reloaded", Some("master")),
    ("fault", Some("backup")),
    ("master2", Some("master")),
    ("after-stop", None),
];

#[test]
fn ipvs_sync_daemon_follows_its_vrrp_instance() {
    if !lab_guard("ipvs_sync_daemon_follows_its_vrrp_instance", NEEDS) {
        return;
    }
    let out = run();
    let mut report = String::new();
    for p in ["ka", "kr"] {
        for phase in ["start", "master", "reload", "fault", "master2", "stop"] {
            report += &format!("{p} {phase}: {:?}\n", ops(out, p, phase));
        }
    }
    eprintln!("sync thread (starts, stops) per phase:\n{report}");
    for p in ["ka", "kr"] {
        let who = if p == "ka" {
            "keepalived"
        } else {
            "keepalived-rs"
        };
        // Each listing was taken before its VIP check.
        for (phase, vip) in [
            ("at-start", "no"),
            ("master", "yes"),
            ("fault", "no"),
            ("master2", "yes"),
        ] {
            assert_eq!(
                value(out, &format!("{p}.vip-{phase}")),
                vip,
                "{who} {phase}"
            );
        }
        for (phase, role) in PHASES {
            let want: Vec<String> = role.iter().map(|r| sync_line(r)).collect();
            assert_eq!(
                lines(out, &format!("{p}.sync-{phase}")),
                want,
                "{who}: {phase}\n{}",
                logs(out, "sync")
            );
        }
        assert_eq!(value(out, &format!("{p}.sync.stopped")), "term", "{who}");
    }
    // keepalived's ipvs_syncd_master / _backup: stop the other role's
    // thread, start this one's; at exit the current role's is stopped.
    for (phase, want) in [
        ("start", (1, 0)),
        ("master", (1, 1)),
        ("fault", (1, 1)),
        ("master2", (1, 1)),
        ("stop", (0, 1)),
    ] {
        assert_eq!(ops(out, "kr", phase), want, "ours, {phase}\n{report}");
        assert_eq!(ops(out, "ka", phase), want, "keepalived, {phase}\n{report}");
    }
    // A reload that leaves lvs_sync_daemon and the role alone: keepalived
    // 2.2.7 stops the thread and starts it again (observed: 2 starts, 1
    // stop; reload_vrrp_thread), we leave it running (deliberate: the sync
    // stream is not interrupted). The listing after it is the same.
    assert_eq!(ops(out, "ka", "reload"), (2, 1), "{report}");
    assert_eq!(ops(out, "kr", "reload"), (0, 0), "{report}");
}

#[test]
fn ipvs_tunnel_real_servers_reach_the_kernel_as_configured() {
    if !lab_guard(
        "ipvs_tunnel_real_servers_reach_the_kernel_as_configured",
        NEEDS,
    ) {
        return;
    }
    let out = run();
    assert_eq!(value(out, "kr.tun-up"), "yes", "{}", logs(out, "tun"));
    assert_eq!(value(out, "ka.tun-up"), "yes", "{}", logs(out, "tun"));
    let ours = lines(out, "kr.tun");
    assert_eq!(
        ours,
        lines(out, "ka.tun"),
        "ipvsadm -Ln --tun-info, ours then keepalived's\n{}",
        logs(out, "tun")
    );
    assert_eq!(lines(out, "kr.tun-ln"), lines(out, "ka.tun-ln"));
    // Each real server as configured. ipvsadm 1.31's --tun-info column:
    // `ipip`, `gue:PORT:FLAG` or `gre:FLAG`, FLAG `-c` (nocsum), `+c`
    // (csum) or `r+c` (remcsum).
    let listed: Vec<(String, String, String)> = ours
        .iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["->", addr, "Tunnel", info, weight, ..] => {
                    Some((addr.to_string(), info.to_string(), weight.to_string()))
                }
                _ => None,
            }
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("10.1.0.11:80", "ipip", "1"),
        ("10.1.0.12:80", "ipip", "1"),
        ("10.1.0.13:80", "gue:6080:-c", "1"),
        ("10.1.0.14:80", "gue:6081:+c", "1"),
        ("10.1.0.15:80", "gue:6082:r+c", "1"),
        ("10.1.0.16:80", "gre:-c", "1"),
        ("10.1.0.17:80", "gre:+c", "1"),
        ("10.1.0.21:53", "ipip", "3"),
        ("10.1.0.22:53", "gue:5555:-c", "1"),
    ]
    .iter()
    .map(|(a, i, w)| (a.to_string(), i.to_string(), w.to_string()))
    .collect();
    assert_eq!(listed, want, "{}", text(out, "kr.tun"));
    // ipvsadm -Ln names every one of them a tunnel.
    let ln = text(out, "kr.tun-ln");
    assert_eq!(ln.matches("Tunnel").count(), 9, "{ln}");
    assert_eq!(value(out, "kr.tun.stopped"), "term");
    assert_eq!(
        text(out, "kr.tun-after-stop"),
        text(out, "ka.tun-after-stop")
    );
}
