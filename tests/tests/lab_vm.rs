//! VM lab suite: IPVS on a real kernel (Debian's, under qemu TCG), which the
//! host kernel lacks. One boot serves the basic group (`ipvs-basics.sh`):
//! the tests share its output, each asserting its part.
//!
//! Needs no root: qemu's TCG emulation, ldd and reading the cached kernel
//! work as any user. Needs qemu, the kernel from `.ci/fetch-kernel`, and the
//! host programs copied into the image (busybox-static, iproute2, ipvsadm).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testlab::vm::{
    cpio_entries, fixtures_dir, ipvs_identity, parse_ipvsadm_ln, run_lvs_dr_director,
    shared_libraries, which, DirectorSpec, Initramfs, InitramfsBuilder, IpvsOps, IpvsadmDest,
    Kernel, Scenario, VmError, VmOutput, BACKUP_CONF, DIRECTOR_CONF, S_IFCHR, S_IFREG,
};
use testlab::{lab_guard, Need};

const NEEDS: &[Need] = testlab::vm::VM_NEEDS;

/// The group's image, built once per test binary (and cached on disk).
fn image() -> &'static Initramfs {
    static IMAGE: OnceLock<Result<Initramfs, String>> = OnceLock::new();
    let built = IMAGE.get_or_init(|| {
        let kernel = Kernel::cached().map_err(|e| e.to_string())?;
        InitramfsBuilder::new(kernel)
            .build()
            .map_err(|e| e.to_string())
    });
    match built {
        Ok(i) => i,
        Err(e) => panic!("building the VM image: {e}"),
    }
}

/// The one boot of `ipvs-basics.sh`, shared by the tests below.
fn basics() -> &'static VmOutput {
    static OUT: OnceLock<Result<VmOutput, String>> = OnceLock::new();
    let out = OUT.get_or_init(|| {
        let scenario = Scenario::fixture("ipvs-basics.sh").map_err(|e| e.to_string())?;
        let start = Instant::now();
        let out = image().run(&scenario).map_err(|e| e.to_string());
        if let Ok(o) = &out {
            report_time("ipvs-basics", start, o);
        }
        out
    });
    match out {
        Ok(o) => o,
        Err(e) => panic!("VM scenario ipvs-basics failed: {e}"),
    }
}

/// Wall time of a run and where the guest's time went.
fn report_time(name: &str, start: Instant, out: &VmOutput) {
    eprintln!(
        "VM run {name}: {:?} wall; guest uptime {}s at scenario start, {}s at end",
        start.elapsed(),
        out.value("uptime.scenario-start").unwrap_or("?"),
        out.value("uptime.scenario-end").unwrap_or("?"),
    );
}

/// The operations that happened, by function name.
fn nonzero(ops: &IpvsOps) -> Vec<(&str, u64)> {
    ops.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| (f.as_str(), *n))
        .collect()
}

fn dest(address: &str, weight: i64) -> (String, String, i64) {
    (address.to_string(), "Route".to_string(), weight)
}

fn identity(d: &IpvsadmDest) -> (String, String, i64) {
    (d.address.clone(), d.forward.clone(), d.weight)
}

#[test]
fn vm_ipvsadm_dr_service_reads_back() {
    if !lab_guard("vm_ipvsadm_dr_service_reads_back", NEEDS) {
        return;
    }
    let out = basics();
    assert_eq!(out.value("basic.ipvsadm.rc").ok(), Some("0"));
    let listing = out.text("basic.ipvsadm").expect("ipvsadm -Ln output");
    assert!(
        listing.starts_with("IP Virtual Server version"),
        "the kernel's IPVS answered: {listing}"
    );
    let services = parse_ipvsadm_ln(&listing).expect("parsable ipvsadm -Ln");
    assert_eq!(services.len(), 1, "{listing}");
    let s = &services[0];
    assert_eq!(
        (
            s.protocol.as_str(),
            s.address.as_str(),
            s.scheduler.as_str()
        ),
        ("TCP", "10.0.0.100:80", "rr")
    );
    assert!(s.flags.is_empty(), "{listing}");
    let mut got: Vec<_> = s.destinations.iter().map(identity).collect();
    got.sort();
    assert_eq!(
        got,
        vec![dest("10.0.0.11:80", 1), dest("10.0.0.12:80", 2)],
        "{listing}"
    );
    assert!(s
        .destinations
        .iter()
        .all(|d| d.active == 0 && d.inactive == 0));
}

#[test]
fn vm_lvs_dr_by_hand_round_robins() {
    if !lab_guard("vm_lvs_dr_by_hand_round_robins", NEEDS) {
        return;
    }
    let out = basics();
    // Before any traffic the director lists exactly what the seed shows
    // (fixtures/vm/seed-ipvsadm-ln.txt, copied from the seed; the seed's
    // lines differ only in trailing blanks).
    let seed =
        std::fs::read_to_string(fixtures_dir().join("seed-ipvsadm-ln.txt")).expect("seed listing");
    let before = out
        .text("dr.ipvsadm-before")
        .expect("listing before traffic");
    let trimmed = |t: &str| t.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    assert_eq!(trimmed(&before), trimmed(&seed));

    let answers = out.values("dr.http");
    assert_eq!(answers.len(), 4, "four requests: {answers:?}");
    for a in answers {
        assert!(a == "rs1" || a == "rs2", "answer from a real server: {a:?}");
    }
    // rr: consecutive requests go to different real servers, so the four
    // answers alternate (rs1 rs2 rs1 rs2 or rs2 rs1 rs2 rs1).
    for pair in answers.windows(2) {
        assert_ne!(pair[0], pair[1], "rr alternates: {answers:?}");
    }

    // The director's table: the service with both DR destinations, each
    // having served two connections (closed by now, or closing).
    let listing = out.text("dr.ipvsadm").expect("director ipvsadm -Ln");
    let services = parse_ipvsadm_ln(&listing).expect("parsable");
    assert_eq!(services.len(), 1, "{listing}");
    assert_eq!(services[0].address, "192.168.1.100:80");
    let mut got: Vec<_> = services[0].destinations.iter().map(identity).collect();
    got.sort();
    assert_eq!(
        got,
        vec![dest("192.168.1.11:80", 1), dest("192.168.1.12:80", 1)]
    );
    for d in &services[0].destinations {
        assert_eq!(d.active + d.inactive, 2, "{listing}");
    }
    let stats = out.text("dr.stats").expect("director ipvsadm -Ln --stats");
    assert!(stats.contains("192.168.1.100:80"), "{stats}");

    // IPVS tables are per network namespace: the VM's own namespace still
    // has only the service of the other test, not the director's.
    let root = parse_ipvsadm_ln(&out.text("dr.root-ipvsadm").expect("root ipvsadm -Ln"))
        .expect("parsable");
    let addrs: Vec<&str> = root.iter().map(|s| s.address.as_str()).collect();
    assert_eq!(addrs, ["10.0.0.100:80"]);
}

/// The kprobe counters of `kr_trace_ipvs_*` tell what the kernel did: the
/// re-added destination came back from the trash (add without new).
#[test]
fn vm_ipvs_kprobe_counters() {
    if !lab_guard("vm_ipvs_kprobe_counters", NEEDS) {
        return;
    }
    let out = basics();
    let count = |f: &str| out.value(&format!("trace.{f}")).map(str::to_string);
    let got: Vec<(&str, String)> = [
        "ip_vs_add_service",
        "ip_vs_edit_service",
        "ip_vs_unlink_service",
        "ip_vs_add_dest",
        "ip_vs_new_dest",
        "ip_vs_edit_dest",
        "ip_vs_del_dest",
        "__ip_vs_del_dest",
    ]
    .into_iter()
    .map(|f| (f, count(f).unwrap_or_else(|e| panic!("{e}"))))
    .collect();
    let want: Vec<(&str, String)> = [
        ("ip_vs_add_service", 0),
        ("ip_vs_edit_service", 0),
        ("ip_vs_unlink_service", 1),
        ("ip_vs_add_dest", 2),
        ("ip_vs_new_dest", 1),
        ("ip_vs_edit_dest", 1),
        ("ip_vs_del_dest", 1),
        // One by `ipvsadm -d`, three when the service goes.
        ("__ip_vs_del_dest", 4),
    ]
    .into_iter()
    .map(|(f, n)| (f, n.to_string()))
    .collect();
    assert_eq!(got, want);
}

/// What the group's image holds, listed back from the cpio: the prologue,
/// static busybox, iproute2's ip and ipvsadm with their libraries at the
/// loader's paths, the console node, and the modules in a loadable order.
/// Needs no qemu.
#[test]
fn vm_image_contents() {
    let needs = [
        Need::VmKernel,
        Need::Program("busybox"),
        Need::Program("ip"),
        Need::Program("ipvsadm"),
        Need::Program("ldd"),
    ];
    if !lab_guard("vm_image_contents", &needs) {
        return;
    }
    let image = image();
    let bytes = std::fs::read(&image.path).expect("cached image readable");
    let entries = cpio_entries(&bytes).expect("valid newc");
    let by_name = |n: &str| entries.iter().find(|e| e.name == n);
    let init = by_name("init").expect("/init");
    assert_eq!(init.mode, S_IFREG | 0o755);
    assert!(init.data.starts_with(b"#!/bin/busybox sh"));
    assert!(by_name("bin/busybox").is_some());
    assert_eq!(
        by_name("bin/sh").map(|e| e.data.as_slice()),
        Some(&b"busybox"[..])
    );
    let console = by_name("dev/console").expect("console node");
    assert_eq!((console.mode & 0o170000, console.rdev), (S_IFCHR, (5, 1)));
    for prog in ["ip", "ipvsadm"] {
        let host = which(prog).expect("on the host");
        let guest = host.to_string_lossy();
        assert!(by_name(guest.trim_start_matches('/')).is_some(), "{guest}");
        for lib in shared_libraries(&host).expect("ldd") {
            let l = lib.to_string_lossy();
            assert!(
                by_name(l.trim_start_matches('/')).is_some(),
                "{l} for {prog}"
            );
        }
    }
    // Every parent directory comes before what it holds.
    for (i, e) in entries.iter().enumerate() {
        if let Some((parent, _)) = e.name.rsplit_once('/') {
            let p = entries.iter().position(|d| d.name == parent);
            assert!(p.is_some_and(|p| p < i), "{} before {}", parent, e.name);
        }
    }
    let order =
        String::from_utf8(by_name("etc/kr/modules").expect("list").data.clone()).expect("UTF-8");
    let names: Vec<&str> = order.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(names, image.modules);
    for line in order.lines() {
        let path = line.split(' ').nth(1).expect("name and path");
        assert!(by_name(path.trim_start_matches('/')).is_some(), "{path}");
    }
    let pos = |m: &str| names.iter().position(|n| *n == m);
    assert!(
        pos("crc32c_generic") < pos("libcrc32c"),
        "softdep first: {names:?}"
    );
    assert!(pos("nf_conntrack") < pos("ip_vs") && pos("ip_vs") < pos("ip_vs_rr"));
}

/// A VM that never reports is an error when its deadline passes, not a hang
/// or a skip (cheap: killed during boot).
#[test]
fn vm_deadline_is_an_error() {
    if !lab_guard("vm_deadline_is_an_error", NEEDS) {
        return;
    }
    let r = image().run(&Scenario::new("sleep 600\n").timeout(Duration::from_secs(2)));
    assert!(
        matches!(r, Err(VmError::Timeout { .. })),
        "expected a timeout, got {r:?}"
    );
}

/// The oracle for the IPVS engineers: real keepalived 2.2.7 as the seed's
/// LVS-DR director inside the VM (`lvs-dr-director.sh` with the seed's
/// config), reloaded (SIGHUP) onto the same config with real server 2's
/// weight raised, then stopped with a backup director (state BACKUP,
/// priority 90) taking over. What it does to the kernel is what
/// keepalived-rs must do.
#[test]
fn vm_keepalived_director_lvs_dr() {
    let mut needs = NEEDS.to_vec();
    needs.push(Need::Program("keepalived"));
    if !lab_guard("vm_keepalived_director_lvs_dr", &needs) {
        return;
    }
    let image = Kernel::cached()
        .and_then(|k| InitramfsBuilder::new(k).program("keepalived")?.build())
        .unwrap_or_else(|e| panic!("building the keepalived image: {e}"));
    let conf = std::fs::read_to_string(fixtures_dir().join("lvs-dr-keepalived.conf"))
        .expect("fixture config");
    let rs2 = conf
        .find("real_server 192.168.1.12 80")
        .expect("RS2 in the seed");
    let reloaded = format!(
        "{}{}",
        &conf[..rs2],
        conf[rs2..].replacen("weight 1", "weight 3", 1)
    );
    let backup_conf =
        conf.replacen("state MASTER", "state BACKUP", 1)
            .replacen("priority 100", "priority 90", 1);
    assert_ne!(backup_conf, conf);
    let start = Instant::now();
    let run = run_lvs_dr_director(
        &image,
        &DirectorSpec {
            command: &format!("keepalived -n -l -D -f {DIRECTOR_CONF}"),
            config: conf.as_bytes(),
            reload_config: Some(reloaded.as_bytes()),
            backup: Some((
                &format!(
                    "keepalived -n -l -D -f {BACKUP_CONF} -p /run/kd2.pid -r /run/kd2-vrrp.pid \
                     -c /run/kd2-check.pid"
                ),
                backup_conf.as_bytes(),
            )),
        },
    )
    .unwrap_or_else(|e| panic!("VM scenario lvs-dr-director failed: {e}"));
    report_time("lvs-dr-director with keepalived", start, &run.output);
    let log = &run.log;

    assert!(run.vip, "VRRP master adds the VIP:\n{log}");
    assert_eq!(run.dests, 2, "{log}");
    assert!(run.alive, "{log}");
    assert_eq!(run.http.len(), 4);
    for pair in run.http.windows(2) {
        assert_ne!(pair[0], pair[1], "rr alternates: {:?}", run.http);
    }
    assert_eq!(run.ipvs.len(), 1);
    let s = &run.ipvs[0];
    assert_eq!(
        (
            s.protocol.as_str(),
            s.address.as_str(),
            s.scheduler.as_str()
        ),
        ("TCP", "192.168.1.100:80", "rr")
    );
    let mut got: Vec<_> = s.destinations.iter().map(identity).collect();
    got.sort();
    assert_eq!(
        got,
        vec![dest("192.168.1.11:80", 1), dest("192.168.1.12:80", 1)]
    );
    // Measured on keepalived 2.2.7: one service, two new destinations.
    assert_eq!(
        nonzero(&run.ops_start),
        [
            ("ip_vs_add_dest", 2),
            ("ip_vs_add_service", 1),
            ("ip_vs_new_dest", 2)
        ]
    );

    let reload = run.reload.as_ref().expect("reload reported");
    assert!(reload.alive, "{log}");
    // A weight change is one edit: nothing deleted and re-added.
    assert_eq!(nonzero(&reload.ops), [("ip_vs_edit_dest", 1)]);
    let mut got: Vec<_> = reload.ipvs[0].destinations.iter().map(identity).collect();
    got.sort();
    assert_eq!(
        got,
        vec![dest("192.168.1.11:80", 1), dest("192.168.1.12:80", 3)]
    );

    // keepalived's shutdown (SIGTERM): VIP removed, and the virtual servers
    // it created deleted (no --dont-release-ipvs).
    assert!(run.stopped_by_term, "{log}");
    // Each destination deleted on its own, then the service.
    assert_eq!(
        nonzero(&run.ops_stop),
        [
            ("__ip_vs_del_dest", 2),
            ("ip_vs_del_dest", 2),
            ("ip_vs_unlink_service", 1)
        ]
    );
    assert!(!run.vip_after_stop, "{log}");
    assert!(run.ipvs_after_stop.is_empty(), "{:?}", run.ipvs_after_stop);

    // The backup configured the same table without the VIP, took the VIP
    // over on the primary's stop, and served through its own IPVS table.
    let b = run.backup.as_ref().expect("backup reported");
    let blog = &b.log;
    assert_eq!(b.dests, 2, "{blog}");
    assert!(!b.vip_before, "a BACKUP must not hold the VIP: {blog}");
    assert_eq!(
        nonzero(&b.ops_start),
        [
            ("ip_vs_add_dest", 2),
            ("ip_vs_add_service", 1),
            ("ip_vs_new_dest", 2)
        ]
    );
    assert!(b.vip, "takeover: {blog}");
    assert_eq!(b.http.len(), 4);
    for pair in b.http.windows(2) {
        assert_ne!(pair[0], pair[1], "rr alternates: {:?}", b.http);
    }
    // Same config as the primary before its reload: the same table.
    assert_eq!(ipvs_identity(&b.ipvs), ipvs_identity(&run.ipvs));
    assert!(b.stopped_by_term, "{blog}");
}

/// A guest kernel panic ends the run at once as an error (sysrq crash).
#[test]
fn vm_kernel_panic_is_an_error() {
    if !lab_guard("vm_kernel_panic_is_an_error", NEEDS) {
        return;
    }
    let r = image().run(&Scenario::new("echo c >/proc/sysrq-trigger\nsleep 600\n"));
    match r {
        Err(VmError::Panic { message, .. }) => {
            assert!(message.contains("sysrq triggered crash"), "{message}")
        }
        other => panic!("expected a kernel panic error, got {other:?}"),
    }
}
