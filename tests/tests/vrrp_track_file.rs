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

/// What a step does to the files in the lab directory before it waits.
enum Act {
    Nothing,
    Write(&'static str, &'static str),
    Remove(&'static str),
}

/// Runs `steps` with `a` run by keepalived (`ours` false) or by
/// keepalived-rs, `a`'s configuration being `blocks` (defined before the
/// instance: keepalived only finds earlier ones; `DIR` stands for the lab
/// directory) then the instance with `instance_lines`; returns (holder,
/// last priority of `a`) per step.
fn record(
    ours: bool,
    blocks: &str,
    instance_lines: &str,
    steps: &[(Act, &str)],
) -> Vec<(String, Option<u8>)> {
    let lab: Lab = Topology::lan(&["a", "b"], "10.42.0")
        .build()
        .unwrap_or_else(fail("lab"));
    let vip: IpAddr = [10, 42, 0, 100].into();
    let dir = lab.dir().to_path_buf();
    let a_cfg = format!(
        "global_defs {{\n    router_id a\n}}\n{}\n{}",
        blocks.replace("DIR", &dir.display().to_string()),
        VrrpInstanceCfg::new("eth0", 51, 150)
            .vip("10.42.0.100/24")
            .line(instance_lines)
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
    for (i, (act, holder)) in steps.iter().enumerate() {
        match act {
            Act::Nothing => {}
            Act::Write(name, v) => write(&dir.join(name), v),
            Act::Remove(name) => std::fs::remove_file(dir.join(name)).unwrap_or_else(fail("rm")),
        }
        if let Err(e) = lab.wait_sole_holder(vip, holder, Duration::from_secs(10)) {
            panic!(
                "step {i}: {holder} never sole holder: {e}\n--- a ---\n{}\n--- b ---\n{}",
                a.log(),
                b.log()
            );
        }
        // Two more adverts at 1 s.
        std::thread::sleep(Duration::from_millis(2500));
        out.push((holder.to_string(), last_priority(&cap)));
    }
    let _ = a.stop(Duration::from_secs(5));
    let _ = b.stop(Duration::from_secs(5));
    out
}

/// `record` for keepalived then for keepalived-rs; asserts keepalived
/// gave `expected` and ours the same.
fn same_as_keepalived(
    blocks: &str,
    instance_lines: &str,
    steps: &[(Act, &str)],
    expected: &[(&str, u8)],
) {
    let theirs = record(false, blocks, instance_lines, steps);
    let want: Vec<(String, Option<u8>)> = expected
        .iter()
        .map(|(h, p)| (h.to_string(), Some(*p)))
        .collect();
    assert_eq!(theirs, want, "keepalived");
    let ours = record(true, blocks, instance_lines, steps);
    assert_eq!(ours, theirs, "keepalived-rs vs keepalived");
}

#[test]
fn track_file_same_as_keepalived() {
    if !testlab::lab_guard("track_file_same_as_keepalived", NEEDS) {
        return;
    }
    // `f` missing reads as 0: no FAULT at start. 5 x -60 = -300, clamped
    // to -254: FAULT. keepalived 2.2.7, observed: 150, 90, priority 0 on
    // FAULT, 150 again.
    same_as_keepalived(
        "track_file w {\n    file DIR/w\n    weight -60\n    init_file 0\n}\n\
         track_file f {\n    file DIR/f\n    weight 0\n}\n",
        "track_file {\n        w\n        f\n    }",
        &[
            (Act::Nothing, "a"),
            (Act::Write("w", "1"), "a"),
            (Act::Write("w", "5"), "b"),
            (Act::Write("w", "0"), "a"),
            (Act::Write("f", "1"), "b"),
            (Act::Remove("f"), "a"),
        ],
        &[
            ("a", 150),
            ("a", 90),
            ("b", 0),
            ("a", 150),
            ("b", 0),
            ("a", 150),
        ],
    );
}

#[test]
fn track_file_reverse_same_as_keepalived() {
    if !testlab::lab_guard("track_file_reverse_same_as_keepalived", NEEDS) {
        return;
    }
    // The instance's own weight 10 reverse on `r` (whose block says the
    // default weight 1): 3 x 10 x -1 = -30.
    same_as_keepalived(
        "track_file r {\n    file DIR/r\n    init_file 0\n}\n",
        "track_file {\n        r weight 10 reverse\n    }",
        &[
            (Act::Nothing, "a"),
            (Act::Write("r", "3"), "a"),
            (Act::Write("r", "0"), "a"),
        ],
        &[("a", 150), ("a", 120), ("a", 150)],
    );
}

#[test]
fn track_file_of_a_sync_group_same_as_keepalived() {
    if !testlab::lab_guard("track_file_of_a_sync_group_same_as_keepalived", NEEDS) {
        return;
    }
    // A group's track_file keeps the weight of its block (5) in 2.2.7;
    // -40 x 5 = -200 leaves priority 1 (clamped, no FAULT).
    same_as_keepalived(
        "track_file g {\n    file DIR/g\n    weight 5\n}\n\
         vrrp_sync_group G {\n    group {\n        VI_51\n    }\n    track_file {\n        g\n    }\n}\n",
        "",
        &[
            (Act::Nothing, "a"),
            (Act::Write("g", "2"), "a"),
            (Act::Write("g", "-40"), "b"),
            (Act::Remove("g"), "a"),
        ],
        &[("a", 150), ("a", 160), ("b", 1), ("a", 150)],
    );
}

#[test]
fn track_file_weight_0_reverse_same_as_keepalived() {
    if !testlab::lab_guard("track_file_weight_0_reverse_same_as_keepalived", NEEDS) {
        return;
    }
    // Weight 0 reverse: a zero value is FAULT (keepalived 2.2.7 logs
    // "tracked file r has status -254"), a non-zero one is fine.
    same_as_keepalived(
        "track_file r {\n    file DIR/r\n    init_file 3\n}\n",
        "track_file {\n        r weight 0 reverse\n    }",
        &[
            (Act::Nothing, "a"),
            (Act::Write("r", "0"), "b"),
            (Act::Write("r", "5"), "a"),
        ],
        &[("a", 150), ("b", 0), ("a", 150)],
    );
}
