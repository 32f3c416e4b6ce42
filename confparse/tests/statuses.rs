//! Each class of problem gives keepalived 2.2.7's `-t` exit status. Every
//! case here was run through the real `keepalived -t` (2.2.7, Debian) in a
//! network namespace holding lo, eth0 and eth1; the status it gave is the
//! one asserted, and the message checked is keepalived's wording.

use confparse::{check_str, ErrClass, LoadOptions};

fn opts() -> LoadOptions {
    LoadOptions {
        interfaces: Some(
            ["lo", "eth0", "eth1"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        check_scripts: true,
        ..Default::default()
    }
}

/// Status and messages of `text`.
fn run(text: &str) -> (i32, Vec<String>) {
    let r = check_str(text, &opts());
    let msgs = r
        .diagnostics
        .items
        .iter()
        .map(|d| d.message.clone())
        .collect();
    (r.exit_status(), msgs)
}

fn inst(body: &str) -> String {
    format!(
        "vrrp_instance V {{\n interface eth0\n virtual_router_id 5\n{body}\n virtual_ipaddress {{\n  10.0.0.1\n }}\n}}\n"
    )
}

fn has(msgs: &[String], m: &str) -> bool {
    msgs.iter().any(|x| x == m)
}

#[test]
fn clean_instance_is_0() {
    let (rc, msgs) = run(&inst(" priority 100"));
    assert_eq!(rc, 0, "{msgs:?}");
}

// keepalived: "(V) unknown state 'master', defaulting to BACKUP", rc 5.
#[test]
fn lower_case_state_is_5() {
    let (rc, msgs) = run(&inst(" state master"));
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "(V) unknown state 'master', defaulting to BACKUP"
    ));
}

// keepalived: "(V) Warning - nopreempt will not work with initial state
// MASTER - clearing", rc 5.
#[test]
fn nopreempt_with_master_is_5() {
    let (rc, msgs) = run(&inst(" state MASTER\n nopreempt\n priority 100"));
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "(V) Warning - nopreempt will not work with initial state MASTER - clearing"
    ));
}

// keepalived: "(V) VRRPv2 advertisement interval 1.500000s must be an
// integer. rounding", rc 5.
#[test]
fn v2_fractional_advert_is_5_and_rounded() {
    let r = check_str(&inst(" advert_int 1.5"), &opts());
    assert_eq!(r.exit_status(), 5);
    let m = r.model.expect("runs");
    assert_eq!(m.instances[0].advert_int, std::time::Duration::from_secs(2));
}

// keepalived: "(V) VRRP version 3 does not support authentication.
// Ignoring.", rc 5.
#[test]
fn auth_with_v3_is_5() {
    let (rc, msgs) = run(&inst(
        " version 3\n authentication {\n  auth_type PASS\n  auth_pass secret\n }",
    ));
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "(V) VRRP version 3 does not support authentication. Ignoring."
    ));
}

// keepalived: track script defined after the instance -> "(V) track script
// chk not found, ignoring..." and, /bin/true existing, the security
// violation: rc 6.
#[test]
fn script_defined_after_use_is_not_found() {
    let text = format!(
        "{}vrrp_script chk {{\n script \"/bin/true\"\n}}\n",
        inst(" track_script {\n  chk\n }")
    );
    let (rc, msgs) = run(&text);
    assert!(has(&msgs, "(V) track script chk not found, ignoring..."));
    assert_eq!(rc, 6);
}

// keepalived: an existing script without enable_script_security -> rc 6.
#[test]
fn script_without_security_is_6() {
    let text = format!(
        "vrrp_script chk {{\n script \"/bin/true\"\n}}\n{}",
        inst(" track_script {\n  chk\n }")
    );
    let (rc, msgs) = run(&text);
    assert_eq!(rc, 6);
    assert!(has(
        &msgs,
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
    ));
}

// keepalived: with enable_script_security and script_user root -> rc 0.
#[test]
fn script_with_security_is_0() {
    let text = format!(
        "global_defs {{\n enable_script_security\n script_user root\n}}\nvrrp_script chk {{\n script \"/bin/true\"\n}}\n{}",
        inst(" track_script {\n  chk\n }")
    );
    let (rc, msgs) = run(&text);
    assert_eq!(rc, 0, "{msgs:?}");
}

// keepalived: a missing script -> "Disabling track script chk since not
// found/accessible", rc 5 (no security violation: nothing would run).
#[test]
fn missing_script_is_5() {
    let text = format!(
        "vrrp_script chk {{\n script \"/nonexistent/x\"\n}}\n{}",
        inst(" track_script {\n  chk\n }")
    );
    let (rc, msgs) = run(&text);
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "Disabling track script chk since not found/accessible"
    ));
}

// keepalived: a missing notify script is only logged -> rc 0; an existing
// one without script security -> rc 6.
#[test]
fn notify_scripts_security() {
    let (rc, _) = run(&inst(" notify_master /nonexistent/script"));
    assert_eq!(rc, 0);
    let (rc, _) = run(&inst(" notify_master /bin/true"));
    assert_eq!(rc, 6);
}

// keepalived: "V and W both use VRID 5 with IPv4 on interface eth0", rc 5;
// the same VRID for IPv6 on the same interface is fine (rc 0).
#[test]
fn duplicate_vrid_per_interface_and_family() {
    let two = |vip2: &str| {
        format!(
            "{}vrrp_instance W {{\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {{\n  {vip2}\n }}\n}}\n",
            inst("")
        )
    };
    let (rc, msgs) = run(&two("10.0.0.2"));
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "V and W both use VRID 5 with IPv4 on interface eth0"
    ));
    let (rc, _) = run(&two("fe80::1"));
    assert_eq!(rc, 0);
}

// keepalived: "(V): address family must match VRRP instance
// [2001:db8::1] - ignoring", rc 5.
#[test]
fn vip_family_mismatch_is_5() {
    let text = "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  10.0.0.1\n  2001:db8::1\n }\n}\n";
    let (rc, msgs) = run(text);
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "(V): address family must match VRRP instance [2001:db8::1] - ignoring"
    ));
}

// keepalived: "WARNING - interface eth9 for vrrp_instance V doesn't exist"
// (GENERAL_ERROR) + "Non-existent interface specified in configuration"
// (BAD_IF, masked): rc 5, and the configuration cannot run.
#[test]
fn missing_interface_is_5_and_cannot_run() {
    let text = "vrrp_instance V {\n interface eth9\n virtual_router_id 5\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";
    let r = check_str(text, &opts());
    assert_eq!(r.exit_status(), 5);
    assert!(r.model.is_none());
    assert!(r
        .diagnostics
        .items
        .iter()
        .any(|d| d.class == Some(ErrClass::BadIf)));
}

// keepalived: "(V) the virtual router id must be set", rc 5.
#[test]
fn missing_vrid_is_5() {
    let (rc, msgs) =
        run("vrrp_instance V {\n interface eth0\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n");
    assert_eq!(rc, 5);
    assert!(has(&msgs, "(V) the virtual router id must be set"));
}

// keepalived: "number '300' outside range [1, 255]" and "(V): VRID '300'
// not valid - must be between 1 & 255", then the VRID is unset: rc 5.
#[test]
fn vrid_out_of_range_is_5() {
    let text = "vrrp_instance V {\n interface eth0\n virtual_router_id 300\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";
    let (rc, msgs) = run(text);
    assert_eq!(rc, 5);
    // One diagnostic: keepalived's two lines, the number's as the hint.
    assert!(has(
        &msgs,
        "(V): VRID '300' not valid - must be between 1 & 255"
    ));
    assert!(!has(&msgs, "number '300' outside range [1, 255]"));
}

// keepalived exits at once with status 2 on `virtual_router_id` alone.
#[test]
fn missing_parameter_is_2() {
    let (rc, _) = run("vrrp_instance V {\n interface eth0\n virtual_router_id\n}\n");
    assert_eq!(rc, 2);
}

// keepalived: "Sync group G has only 1 virtual router(s) - this probably
// isn't what you want", rc 5; a missing member: rc 5.
#[test]
fn sync_group_checks() {
    let (rc, msgs) = run(&format!(
        "vrrp_sync_group G {{\n group {{\n  V\n }}\n}}\n{}",
        inst("")
    ));
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "Sync group G has only 1 virtual router(s) - this probably isn't what you want"
    ));
    let (rc, msgs) = run(&format!(
        "vrrp_sync_group G {{\n group {{\n  V\n  X\n }}\n}}\n{}",
        inst("")
    ));
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "Virtual router X specified in sync group G doesn't exist - ignoring"
    ));
}

// keepalived: "(V) No VIP specified; at least one is sensible" is
// CONFIG_WARNING: rc 5; with VRRPv3 it is "required" (rc 5, stops VRRP).
#[test]
fn no_vip() {
    let (rc, msgs) = run("vrrp_instance V {\n interface eth0\n virtual_router_id 5\n}\n");
    assert_eq!(rc, 5);
    assert!(has(&msgs, "(V) No VIP specified; at least one is sensible"));
    let (rc, msgs) = run(
        "global_defs {\n vrrp_version 3\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 5\n}\n",
    );
    assert_eq!(rc, 5);
    assert!(has(&msgs, "(V) No VIP specified; at least one is required"));
}

// keepalived's own sample sets vrrp_garp_interval 0 and vrrp_gna_interval
// 0; the range starts at 1 us (reference Q1): rc 5.
#[test]
fn garp_interval_zero_is_5() {
    let (rc, msgs) = run("global_defs {\n vrrp_garp_interval 0\n vrrp_gna_interval 0\n}\n");
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "number '0' outside range [0.000001, 4294.967295]"
    ));
}

// keepalived: the empty unicast_peer block is "deprecated" (rc 5).
#[test]
fn empty_unicast_peer_is_deprecated_class() {
    let (rc, _) = run(&inst(" unicast_peer {\n }"));
    assert_eq!(rc, 5);
}

// keepalived: extra words after a statement are ignored (rc 0).
#[test]
fn extra_words_ignored() {
    let (rc, msgs) = run(&inst(" priority 100 advert_int 3\n nopreempt 1"));
    assert_eq!(rc, 0, "{msgs:?}");
}

// keepalived: "Rule has no preference specified - setting to 16384. This is
// probably not what you want." rc 5.
#[test]
fn rule_without_preference_is_5() {
    let (rc, msgs) = run("static_rules {\n from 10.1.1.0/24 table 100\n}\n");
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "Rule has no preference specified - setting to 16384. This is probably not what you want."
    ));
}

// keepalived with dynamic_interfaces: missing interfaces are fine (rc 0).
#[test]
fn dynamic_interfaces_allows_missing() {
    let text = "global_defs {\n dynamic_interfaces\n}\nvrrp_instance V {\n interface eth9\n virtual_router_id 5\n virtual_ipaddress {\n  10.0.0.1 dev eth8\n }\n}\n";
    let (rc, msgs) = run(text);
    assert_eq!(rc, 0, "{msgs:?}");
}

// keepalived: "(V) Ignoring track_interface eth0 since own interface", rc 5.
#[test]
fn tracking_own_interface_is_5() {
    let (rc, msgs) = run(&inst(" track_interface {\n  eth1 weight -30\n  eth0\n }"));
    assert_eq!(rc, 5);
    assert!(has(
        &msgs,
        "(V) Ignoring track_interface eth0 since own interface"
    ));
}
