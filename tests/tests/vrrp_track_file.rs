//! `track_file` side by side: keepalived 2.2.7 and keepalived-rs each run
//! the same configuration in host `a` (priority 150, a file `w` tracked with
//! weight -60 and a file `f` with weight 0) against a keepalived backup `b`
//! (priority 50); the test writes the files and records, for each step,
//! which host holds the VIP and the last priority `a` advertised (captured
//! on `b`). Both implementations must give the same record.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use testlab::capture::Capture;
use testlab::keepalived::{Keepalived, KeepalivedCfg, StartOpts, VrrpInstanceCfg};
use testlab::netns::{Lab, Topology};
use testlab::Need;

const NEEDS: &[Need] = &[Need::Root, Need::Program("keepalived"), Need::Program("ip")];

fn fail<T, E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> T + '_ {
    move |e| panic!("{what}: {e}")
}

/// Replaces `p` by rename, as editors do.
fn write(p: &Path, v: &str) {
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, v).unwrap_or_else(fail("write"));
    std::fs::rename(&tmp, p).unwrap_or_else(fail("rename"));
}

/// The last advert priority `a` (10.42.0.1) sent, as seen on `b`.
fn last_priority(cap: &Capture) -> Option<u8> {
    let a: IpAddr = [10, 42, 0, 1].into();
    cap.vrrp()
        .into_iter()
        .rev()
        .find(|(_, v)| v.src == a)
        .map(|(_, v)| v.priority)
}

/// Runs the steps with `a` run by keepalived (`ours` false) or by
/// keepalived-rs; returns (holder, last priority of `a`) per step.
fn record(ours: bool) -> Vec<(String, Option<u8>)> {
    let lab: Lab = Topology::lan(&["a", "b"], "10.42.0")
        .build()
        .unwrap_or_else(fail("lab"));
    let vip: IpAddr = [10, 42, 0, 100].into();
    let (w, f) = (lab.dir().join("w"), lab.dir().join("f"));
    // Defined before the instance: keepalived only finds earlier ones.
    let a_cfg = format!(
        "global_defs {{\n    router_id a\n}}\n\
         track_file w {{\n    file {}\n    weight -60\n    init_file 0\n}}\n\
         track_file f {{\n    file {}\n    weight 0\n}}\n{}",
        w.display(),
        f.display(),
        VrrpInstanceCfg::new("eth0", 51, 150)
            .vip("10.42.0.100/24")
            .line("track_file {\n        w\n        f\n    }")
            .render()
    );
    let b_cfg = KeepalivedCfg::single(
        "b",
        VrrpInstanceCfg::new("eth0", 51, 50).vip("10.42.0.100/24"),
    )
    .render();
    let host = |h: &str| lab.host(h).unwrap_or_else(fail("host"));
    let opts = StartOpts {
        no_syslog: true,
        extra_args: Vec::new(),
        program: ours.then(|| {
            testlab::confgen::run::our_binary().unwrap_or_else(|e| panic!("our binary: {e}"))
        }),
    };
    let cap = Capture::on_host(host("b"), "eth0").unwrap_or_else(fail("capture"));
    let mut a = Keepalived::start_with(host("a"), &a_cfg, &opts).unwrap_or_else(fail("start a"));
    let mut b = Keepalived::start(host("b"), &b_cfg).unwrap_or_else(fail("start b"));
    let mut out = Vec::new();
    let mut step = |what: &str, holder: &str, a: &Keepalived, b: &Keepalived| {
        if let Err(e) = lab.wait_sole_holder(vip, holder, Duration::from_secs(10)) {
            panic!(
                "{what}: {holder} never sole holder: {e}\n--- a ---\n{}\n--- b ---\n{}",
                a.log(),
                b.log()
            );
        }
        // Two more adverts at 1 s.
        std::thread::sleep(Duration::from_millis(2500));
        out.push((holder.to_string(), last_priority(&cap)));
    };
    // `f` missing reads as 0: no FAULT at start.
    step("start", "a", &a, &b);
    write(&w, "1");
    step("w=1", "a", &a, &b);
    // 5 x -60 = -300, clamped to -254: FAULT.
    write(&w, "5");
    step("w=5", "b", &a, &b);
    write(&w, "0");
    step("w=0", "a", &a, &b);
    write(&f, "1");
    step("f=1", "b", &a, &b);
    std::fs::remove_file(&f).unwrap_or_else(fail("remove"));
    step("f removed", "a", &a, &b);
    let _ = a.stop(Duration::from_secs(5));
    let _ = b.stop(Duration::from_secs(5));
    out
}

#[test]
fn track_file_same_as_keepalived() {
    if !testlab::lab_guard("track_file_same_as_keepalived", NEEDS) {
        return;
    }
    let theirs = record(false);
    let ours = record(true);
    let p = |s: &str, p: u8| (s.to_string(), Some(p));
    // keepalived 2.2.7, observed: 150, 90, priority 0 on FAULT, 150 again.
    assert_eq!(
        theirs,
        vec![
            p("a", 150),
            p("a", 90),
            p("b", 0),
            p("a", 150),
            p("b", 0),
            p("a", 150)
        ],
        "keepalived"
    );
    assert_eq!(ours, theirs, "keepalived-rs vs keepalived");
}
