//! insta snapshots (JSON) of the resolved model, VRRP and global side, for
//! the VRRP fixtures under fixtures/configs/ (the LVS part belongs to the
//! `lvs` module's own snapshots). Review changes with `cargo insta review`.

use confparse::{check, LoadOptions};
use std::path::Path;

fn snapshot(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/configs")
        .join(file);
    let opts = LoadOptions {
        interfaces: Some(
            ["lo", "eth0", "eth1"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        // Script checks depend on the machine; they have their own tests.
        check_scripts: false,
        ..Default::default()
    };
    let r = check(&path, &opts);
    let mut v = match &r.model {
        Some(m) => serde_json::to_value(m).unwrap_or_default(),
        None => serde_json::Value::Null,
    };
    if let Some(o) = v.as_object_mut() {
        o.remove("lvs");
    }
    let diags: Vec<String> = r
        .diagnostics
        .items
        .iter()
        .map(|d| {
            let at = d
                .span
                .map(|s| format!("{}:{}", s.line, s.col))
                .unwrap_or_default();
            format!("{at} {:?} {}", d.class, d.message)
        })
        .collect();
    let out = serde_json::json!({
        "status": r.exit_status(),
        "diagnostics": diags,
        "model": v,
    });
    insta::assert_json_snapshot!(file.trim_end_matches(".conf"), out);
}

#[test]
fn vrrp_pair_master() {
    snapshot("001-vrrp-pair-master.conf");
}
#[test]
fn vrrp_pair_backup_nopreempt() {
    snapshot("002-vrrp-pair-backup-nopreempt.conf");
}
#[test]
fn vrrp_unicast() {
    snapshot("003-vrrp-unicast.conf");
}
#[test]
fn vrrp_track_script_secure() {
    snapshot("004-vrrp-track-script-secure.conf");
}
#[test]
fn vrrp_notify_scripts() {
    snapshot("005-vrrp-notify-scripts.conf");
}
#[test]
fn vrrp_sync_group() {
    snapshot("006-vrrp-sync-group.conf");
}
#[test]
fn vrrp_ipv6() {
    snapshot("007-vrrp-ipv6.conf");
}
#[test]
fn vrrp_v3_fractional() {
    snapshot("008-vrrp-v3-fractional.conf");
}
#[test]
fn vrrp_track_interface() {
    snapshot("009-vrrp-track-interface.conf");
}
#[test]
fn vrrp_routes_rules() {
    snapshot("010-vrrp-routes-rules.conf");
}
#[test]
fn vrrp_garp_settings() {
    snapshot("011-vrrp-garp-settings.conf");
}
#[test]
fn vrrp_use_vmac() {
    snapshot("012-vrrp-use-vmac.conf");
}
#[test]
fn global_notification_email() {
    snapshot("013-global-notification-email.conf");
}
#[test]
fn vrrp_strict_clean() {
    snapshot("014-vrrp-strict-clean.conf");
}
