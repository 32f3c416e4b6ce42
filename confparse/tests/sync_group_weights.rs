//! Weighted trackers on `vrrp_sync_group` members: keepalived 2.2.7 ignores
//! them unless the group sets `sync_group_tracking_weight`. Each case was
//! run through the real `keepalived -t` (2.2.7, Debian): with the weights
//! it exits 5 with the messages asserted here, with
//! `sync_group_tracking_weight` it exits 0.

use confparse::{check_str, LoadOptions};

fn opts() -> LoadOptions {
    LoadOptions {
        interfaces: Some(["lo", "eth0"].iter().map(|s| s.to_string()).collect()),
        check_scripts: true,
        ..Default::default()
    }
}

/// Two members: V tracks a weighted script and an unweighted one, W a
/// weighted interface and a track file with the file's weight.
fn conf(tracking_weight: bool) -> String {
    format!(
        "global_defs {{\n enable_script_security\n script_user root\n}}\n\
         vrrp_script chk {{\n script \"/bin/true\"\n weight 10\n}}\n\
         vrrp_script plain {{\n script \"/bin/true\"\n}}\n\
         track_file tf {{\n file /tmp/keepalived-rs-sg-weights\n weight 5\n}}\n\
         vrrp_sync_group G {{\n{} group {{\n  V\n  W\n }}\n}}\n\
         vrrp_instance V {{\n interface eth0\n virtual_router_id 1\n track_script {{\n  chk\n  plain\n }}\n virtual_ipaddress {{\n  192.0.2.1\n }}\n}}\n\
         vrrp_instance W {{\n interface eth0\n virtual_router_id 2\n track_interface {{\n  lo weight 5\n }}\n track_file {{\n  tf\n }}\n virtual_ipaddress {{\n  192.0.2.2\n }}\n}}\n",
        if tracking_weight {
            " sync_group_tracking_weight\n"
        } else {
            ""
        }
    )
}

#[test]
fn weights_on_members_are_ignored_with_keepalived_messages() {
    let r = check_str(&conf(false), &opts());
    let msgs: Vec<&str> = r
        .diagnostics
        .items
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(r.exit_status(), 5, "{msgs:?}");
    for m in [
        "(V) ignoring tracked script chk with weights due to SYNC group",
        "(W) ignoring lo tracked interface weight due to SYNC group",
        "(W) ignoring tracked file tf with weight 5 due to SYNC group",
    ] {
        assert!(msgs.contains(&m), "{m} missing from {msgs:?}");
    }
    let m = r.model.as_ref().expect("a model");
    let v = &m.instances[0];
    // The weighted script is gone, the unweighted one stays.
    let names: Vec<&str> = v.track_scripts.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["plain"]);
    let w = &m.instances[1];
    assert_eq!(w.track_interfaces[0].weight, Some(0));
    // keepalived drops a weighted tracked file altogether (no FAULT either).
    assert!(w.track_files.is_empty(), "{:?}", w.track_files);
}

#[test]
fn sync_group_tracking_weight_keeps_them() {
    let r = check_str(&conf(true), &opts());
    assert_eq!(r.exit_status(), 0, "{:?}", r.diagnostics.items);
    let m = r.model.as_ref().expect("a model");
    assert_eq!(m.instances[0].track_scripts.len(), 2);
    assert_eq!(m.instances[1].track_interfaces[0].weight, Some(5));
}
