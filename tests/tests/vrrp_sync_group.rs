//! `vrrp_sync_group` between keepalived-rs and the real keepalived 2.2.7 in
//! network namespaces: two directors, each with a sync group of two
//! instances on two interfaces (eth0 and eth1, each on its own bridge).
//! Taking one member's link down on the master must move *both* instances'
//! VIPs to the other director (the member with the link still up follows
//! its group into FAULT and resigns), and both come back when the link
//! returns (preemption by the higher priority). The group's generic notify
//! must run with `GROUP G FAULT 0` on the master. The same with a link
//! that no member uses but the group tracks (`track_interface` in the
//! `vrrp_sync_group` block). Run with ours as the master and keepalived as
//! the backup, and the reverse.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use testlab::keepalived::{Keepalived, StartOpts};
use testlab::netns::{Lab, Topology};
use testlab::Need;

const NEEDS: &[Need] = &[Need::Root, Need::Program("keepalived"), Need::Program("ip")];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Ours,
    Keepalived,
}

fn fail<T, E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> T + '_ {
    move |e| panic!("{what}: {e}")
}

fn our_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BIN.get_or_init(testlab::confgen::run::our_binary)
        .clone()
        .unwrap_or_else(|e| panic!("keepalived-rs binary: {e}"))
}

/// One timed scenario at a time (2-core host).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn vip(n: u8) -> IpAddr {
    IpAddr::from([10, 41 + n, 0, 100])
}

/// The director's configuration: group G of V0 (eth0) and V1 (eth1), and a
/// generic group notify that appends its arguments to `notify_log`.
/// With `group_tracks`, the group tracks eth2 (used by no member).
fn config(priority: u8, notify_script: &std::path::Path, group_tracks: bool) -> String {
    let mut s = format!(
        "global_defs {{\n    router_id sg{priority}\n    enable_script_security\n    script_user root\n}}\n\
         vrrp_sync_group G {{\n    group {{\n        V0\n        V1\n    }}\n    notify {}\n{}}}\n",
        notify_script.display(),
        if group_tracks {
            "    track_interface {\n        eth2\n    }\n"
        } else {
            ""
        }
    );
    for n in 0..2u8 {
        s.push_str(&format!(
            "vrrp_instance V{n} {{\n    interface eth{n}\n    virtual_router_id {}\n    priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {}/24\n    }}\n}}\n",
            51 + n,
            vip(n)
        ));
    }
    s
}

fn lab() -> Lab {
    Topology::new()
        .iface("a", "eth0", Some("lan0"), &["10.41.0.1/24"])
        .iface("a", "eth1", Some("lan1"), &["10.42.0.1/24"])
        .iface("b", "eth0", Some("lan0"), &["10.41.0.2/24"])
        .iface("b", "eth1", Some("lan1"), &["10.42.0.2/24"])
        .iface("a", "eth2", Some("lan2"), &["10.43.0.1/24"])
        .iface("b", "eth2", Some("lan2"), &["10.43.0.2/24"])
        .build()
        .unwrap_or_else(fail("build lab"))
}

fn start(which: Impl, lab: &Lab, host: &str, config: &str) -> Keepalived {
    let h = lab.host(host).unwrap_or_else(fail("host"));
    let opts = StartOpts {
        no_syslog: which == Impl::Keepalived,
        extra_args: Vec::new(),
        program: (which == Impl::Ours).then(our_binary),
    };
    Keepalived::start_with(h, config, &opts).unwrap_or_else(fail("start"))
}

/// Both VIPs solely on `host` within `timeout` each.
fn both_on(lab: &Lab, host: &str, timeout: Duration, what: &str, logs: &[&Keepalived]) {
    for n in 0..2 {
        if let Err(e) = lab.wait_sole_holder(vip(n), host, timeout) {
            let l: Vec<String> = logs.iter().map(|k| k.log()).collect();
            panic!(
                "{what}: {host} never became the sole holder of {}: {e}\n{}",
                vip(n),
                l.join("\n---\n")
            );
        }
    }
}

/// `down`: the link taken down on the master, eth1 (member V1's) or eth2
/// (tracked by the group only).
fn run(high: Impl, low: Impl, down: &str) {
    let group_tracks = down == "eth2";
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    // The generic notify: appends its arguments, one call per line.
    let notify_log = lab.dir().join("group-notify.log");
    let script = lab.dir().join("group-notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", notify_log.display()),
    )
    .unwrap_or_else(fail("write notify script"));
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(fail("chmod"));
    }
    let mut a = start(high, &lab, "a", &config(150, &script, group_tracks));
    let mut b = start(low, &lab, "b", &config(100, &script, group_tracks));
    // Start-up: both groups BACKUP, a's members time out and go MASTER
    // together (3 x 1 s + skew, plus the start).
    both_on(&lab, "a", Duration::from_secs(12), "start", &[&a, &b]);

    // a's eth1 goes down: V1 FAULT, the group takes V0 to FAULT too (it
    // resigns on eth0 with priority 0), b's group takes both. With eth2,
    // the group's own tracker faults both members.
    let ha = lab.host("a").unwrap_or_else(fail("host a"));
    ha.set_link(down, false).unwrap_or_else(fail("link down"));
    both_on(
        &lab,
        "b",
        Duration::from_secs(10),
        "link down on a",
        &[&a, &b],
    );
    // a's VIP on eth0 is gone although eth0 is up (the group's FAULT).
    assert!(
        !ha.has_addr(vip(0)).unwrap_or(true),
        "a kept {} in FAULT\n{}",
        vip(0),
        a.log()
    );

    // The link returns: a's group leaves FAULT, and with the higher
    // priority preempts both instances back.
    ha.set_link(down, true).unwrap_or_else(fail("link up"));
    both_on(
        &lab,
        "a",
        Duration::from_secs(12),
        "link up on a",
        &[&a, &b],
    );

    let _ = a.stop(Duration::from_secs(5));
    let _ = b.stop(Duration::from_secs(5));
    let calls = std::fs::read_to_string(&notify_log).unwrap_or_default();
    // keepalived send_group_notifies: "GROUP G STATE 0"; both directors
    // append to the same file, so look for a's FAULT (only a faulted).
    assert!(
        calls.lines().any(|l| l == "GROUP G FAULT 0"),
        "no group FAULT notify:\n{calls}\n{}",
        a.log()
    );
    assert!(
        calls.lines().any(|l| l == "GROUP G MASTER 0"),
        "no group MASTER notify:\n{calls}"
    );
    lab.teardown().unwrap_or_else(fail("teardown"));
}

/// One lab test per (master, backup, link taken down).
macro_rules! scenario {
    ($name:ident, $high:expr, $low:expr, $down:expr) => {
        #[test]
        fn $name() {
            if !testlab::lab_guard(stringify!($name), NEEDS) {
                return;
            }
            run($high, $low, $down);
        }
    };
}

scenario!(
    sync_group_link_down_moves_both_instances_ours_master,
    Impl::Ours,
    Impl::Keepalived,
    "eth1"
);
scenario!(
    sync_group_link_down_moves_both_instances_keepalived_master,
    Impl::Keepalived,
    Impl::Ours,
    "eth1"
);
scenario!(
    sync_group_tracked_interface_down_moves_both_instances_ours_master,
    Impl::Ours,
    Impl::Keepalived,
    "eth2"
);
scenario!(
    sync_group_tracked_interface_down_moves_both_instances_keepalived_master,
    Impl::Keepalived,
    Impl::Ours,
    "eth2"
);
