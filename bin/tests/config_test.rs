//! `keepalived-rs -t` end to end: keepalived 2.2.7's exit statuses,
//! `--json` diagnostics, `-d/--dump-conf=json`.

use std::process::Command;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write config");
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keepalived-rs"))
        .args(args)
        .output()
        .expect("run keepalived-rs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Uses `lo` (present everywhere) so the result does not depend on the
// host's interfaces; keepalived refuses lo for VRRP with a GENERAL_ERROR.
#[test]
fn statuses_and_rendering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = write(&dir, "clean.conf", "global_defs {\n router_id x\n}\n");
    let (rc, _, err) = run(&["-t", "-f", clean.to_str().unwrap_or_default()]);
    assert_eq!(rc, 0, "{err}");
    assert!(err.is_empty());

    let bad = write(&dir, "bad.conf", "global_defs {\n router_idd x\n}\n");
    let (rc, _, err) = run(&["--config-test", "-f", bad.to_str().unwrap_or_default()]);
    assert_eq!(rc, 5);
    assert!(
        err.contains("bad.conf:2:2: error: Unknown keyword 'router_idd'"),
        "{err}"
    );
    assert!(err.contains("did you mean `router_id`?"), "{err}");

    let missing = write(&dir, "missing.conf", "global_defs {\n vrrp_version\n}\n");
    let (rc, _, _) = run(&["-t", "-f", missing.to_str().unwrap_or_default()]);
    assert_eq!(rc, 2);
}

#[test]
fn json_diagnostics_and_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(&dir, "bad.conf", "global_defs {\n vrrp_version 4\n}\n");
    let (rc, out, _) = run(&["-t", "--json", "-f", bad.to_str().unwrap_or_default()]);
    assert_eq!(rc, 5);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let first = &v[0];
    assert_eq!(first["line"], 2);
    assert_eq!(first["class"], "general_error");

    let ok = write(&dir, "ok.conf", "global_defs {\n router_id lb7\n}\n");
    let (rc, out, _) = run(&[
        "-t",
        "--dump-conf=json",
        "-f",
        ok.to_str().unwrap_or_default(),
    ]);
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON model");
    assert_eq!(v["global"]["router_id"], "lb7");
}
