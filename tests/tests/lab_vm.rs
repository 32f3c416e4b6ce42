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
    parse_ipvsadm_ln, Initramfs, InitramfsBuilder, IpvsadmDest, Kernel, Scenario, VmError, VmOutput,
};
use testlab::{lab_guard, Need};

const NEEDS: &[Need] = &[
    Need::Program("qemu-system-x86_64"),
    Need::VmKernel,
    Need::Program("busybox"),
    Need::Program("ip"),
    Need::Program("ipvsadm"),
    Need::Program("ldd"),
];

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
/// config). What it does to the kernel is what keepalived-rs must do.
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
    let conf = std::fs::read(testlab::vm::fixtures_dir().join("lvs-dr-keepalived.conf"))
        .expect("fixture config");
    let scenario = Scenario::fixture("lvs-dr-director.sh")
        .expect("fixture scenario")
        .file("/etc/keepalived/keepalived.conf", conf, 0o644)
        .env(
            "KR_DIRECTOR_CMD",
            "keepalived -n -l -D -f /etc/keepalived/keepalived.conf",
        );
    let start = Instant::now();
    let out = image
        .run(&scenario)
        .unwrap_or_else(|e| panic!("VM scenario lvs-dr-director failed: {e}"));
    report_time("lvs-dr-director with keepalived", start, &out);
    let log = out.text("director.log").unwrap_or_default();

    assert_eq!(
        out.value("dr.vip").ok(),
        Some("yes"),
        "VRRP master adds the VIP:\n{log}"
    );
    assert_eq!(out.value("dr.dests").ok(), Some("2"), "{log}");
    assert_eq!(out.value("dr.director-alive").ok(), Some("yes"), "{log}");
    let answers = out.values("dr.http");
    assert_eq!(answers.len(), 4);
    for pair in answers.windows(2) {
        assert_ne!(pair[0], pair[1], "rr alternates: {answers:?}");
    }
    let services =
        parse_ipvsadm_ln(&out.text("dr.ipvsadm").expect("ipvsadm -Ln")).expect("parsable");
    assert_eq!(services.len(), 1);
    let s = &services[0];
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

    // keepalived's shutdown (SIGTERM): VIP removed, and the virtual servers
    // it created deleted (no --dont-release-ipvs).
    assert_eq!(out.value("director.stopped").ok(), Some("term"), "{log}");
    assert_eq!(out.value("dr.vip-after-stop").ok(), Some("no"), "{log}");
    let after = parse_ipvsadm_ln(&out.text("dr.ipvsadm-after-stop").expect("after stop"))
        .expect("parsable");
    assert!(after.is_empty(), "{after:?}");
}

/// A guest kernel panic ends the run at once as an error (sysrq crash).
#[test]
fn vm_kernel_panic_is_an_error() {
    if !lab_guard("vm_kernel_panic_is_an_error", NEEDS) {
        return;
    }
    let r = image().run(&Scenario::new("echo c >/proc/sysrq-trigger\nsleep 600\n"));
    match r {
        Err(VmError::Panic { console_tail }) => {
            assert!(console_tail.contains("Kernel panic"), "{console_tail}")
        }
        other => panic!("expected a kernel panic error, got {other:?}"),
    }
}
