//! What each VRRP-side block puts into the model: typed values, defaults,
//! resolved values (reference 2.2-2.8, 4.2).

use confparse::model::{AddrScopeCfg, AuthTypeCfg, VrrpStateCfg};
use confparse::{check_str, LoadOptions, Model};
use std::net::IpAddr;
use std::time::Duration;

fn opts() -> LoadOptions {
    LoadOptions {
        interfaces: Some(
            ["lo", "eth0", "eth1"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        ..Default::default()
    }
}

fn model(text: &str) -> Model {
    let r = check_str(text, &opts());
    match r.model {
        Some(m) => m,
        None => panic!("config cannot run:\n{}", r.render()),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn global_defs_values_and_defaults() {
    let m = model(
        "global_defs {\n router_id lb1\n notification_email {\n  a@b.c\n  d@e.f\n }\n smtp_server 192.0.2.1 2525\n smtp_connect_timeout 20\n vrrp_version 3\n vrrp_mcast_group4 224.0.0.19\n vrrp_garp_master_delay 10\n vrrp_garp_interval 0.001\n vrrp_skip_check_adv_addr\n vrrp_strict\n lvs_timeouts tcp 900 udp 300\n lvs_sync_daemon eth0 inst VI_1 id 3 port 8848\n}\n",
    );
    let g = &m.global;
    assert_eq!(g.router_id.as_deref(), Some("lb1"));
    assert_eq!(g.notification_email, vec!["a@b.c", "d@e.f"]);
    assert_eq!(g.smtp_server, Some(ip("192.0.2.1")));
    assert_eq!(g.smtp_port, 2525);
    assert_eq!(g.smtp_connect_timeout, Duration::from_secs(20));
    assert_eq!(g.vrrp_version, 3);
    assert_eq!(g.vrrp_mcast_group4, ip("224.0.0.19"));
    assert_eq!(g.vrrp_mcast_group6, ip("ff02::12"));
    assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(10));
    assert_eq!(g.vrrp_garp_interval, Duration::from_micros(1000));
    assert!(g.vrrp_skip_check_adv_addr && g.vrrp_strict);
    assert_eq!(g.lvs_timeouts.tcp, Some(900));
    assert_eq!(g.lvs_timeouts.udp, Some(300));
    assert_eq!(g.lvs_timeouts.tcpfin, None);
    // The sync daemon's instance does not exist: keepalived clears it
    // (after -t's checks).
    assert!(g.lvs_sync_daemon.is_none());
    // Lower-priority GARP settings follow the master's.
    assert_eq!(g.vrrp_garp_lower_prio_delay, Some(Duration::from_secs(10)));
}

#[test]
fn instance_resolution() {
    let m = model(
        "vrrp_instance V {\n state MASTER\n interface eth0\n virtual_router_id 51\n advert_int 3\n authentication {\n  auth_type PASS\n  auth_pass 123456789\n }\n virtual_ipaddress {\n  192.0.2.1/24 dev eth1 label eth1:1 brd + scope link\n  192.0.2.2\n }\n}\n",
    );
    let i = &m.instances[0];
    assert_eq!(i.name, "V");
    assert_eq!(i.state, VrrpStateCfg::Master);
    // state MASTER without priority makes the address owner (reference 4.2).
    assert_eq!(i.priority, 255);
    assert_eq!(i.vrid, 51);
    assert_eq!(i.version, 2);
    assert_eq!(i.advert_int, Duration::from_secs(3));
    let a = i.auth.as_ref().expect("auth");
    assert_eq!(a.auth_type, AuthTypeCfg::Pass);
    // keepalived truncates to 8 characters.
    assert_eq!(a.auth_pass, b"12345678".to_vec());
    let v = &i.vips[0];
    assert_eq!((v.addr, v.prefix), (ip("192.0.2.1"), 24));
    assert_eq!(v.dev.as_deref(), Some("eth1"));
    assert_eq!(v.label.as_deref(), Some("eth1:1"));
    assert_eq!(v.broadcast, Some(ip("192.0.2.255")));
    assert_eq!(v.scope, Some(AddrScopeCfg::Link));
    assert_eq!((i.vips[1].addr, i.vips[1].prefix), (ip("192.0.2.2"), 32));
    assert_eq!(i.garp_master_delay, Duration::from_secs(5));
    assert_eq!(i.unicast_ttl, 255);
}

#[test]
fn ipv6_instance_is_v3_with_centisecond_advert() {
    let m = model(
        "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n priority 120\n advert_int 0.25\n virtual_ipaddress {\n  fe80::1/64\n  2001:db8::5\n }\n}\n",
    );
    let i = &m.instances[0];
    assert!(i.ipv6);
    assert_eq!(i.version, 3);
    assert_eq!(i.state, VrrpStateCfg::Backup);
    assert_eq!(i.priority, 120);
    assert_eq!(i.advert_int, Duration::from_millis(250));
    assert_eq!(i.vips[1].prefix, 128);
}

#[test]
fn trackers_scripts_sync_groups() {
    let m = model(
        "vrrp_script chk {\n script \"/usr/bin/test -f /x\"\n interval 2\n weight -20\n rise 2\n fall 3\n}\ntrack_file tf {\n file /tmp/state\n weight 5\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_script {\n  chk\n  }\n track_file {\n  tf weight -10 reverse\n }\n track_interface {\n  eth1 weight 30\n }\n unicast_src_ip 192.0.2.10\n unicast_peer {\n  192.0.2.11\n  192.0.2.12 min_ttl 5\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\nvrrp_instance W {\n interface eth1\n virtual_router_id 2\n virtual_ipaddress {\n  192.0.2.2\n }\n}\nvrrp_sync_group G {\n sync_group_tracking_weight\n group {\n  V\n  W\n }\n}\n",
    );
    let s = &m.vrrp_scripts[0];
    assert_eq!(
        s.script.as_ref().map(|c| c.args.clone()),
        Some(vec!["/usr/bin/test".to_string(), "-f".into(), "/x".into()])
    );
    assert_eq!(s.interval, Duration::from_secs(2));
    // timeout defaults to the interval.
    assert_eq!(s.timeout, Duration::from_secs(2));
    assert_eq!((s.weight, s.rise, s.fall), (-20, 2, 3));
    let v = &m.instances[0];
    assert_eq!(v.track_scripts[0].name, "chk");
    assert_eq!(v.track_scripts[0].weight, None);
    assert_eq!(v.track_files[0].weight, Some(-10));
    assert!(v.track_files[0].reverse);
    assert_eq!(v.track_interfaces[0].weight, Some(30));
    assert_eq!(v.unicast_peers.len(), 2);
    assert_eq!(v.unicast_peers[1].min_ttl, Some(5));
    assert_eq!(v.sync_group.as_deref(), Some("G"));
    assert_eq!(m.sync_groups[0].group, vec!["V", "W"]);
}

#[test]
fn routes_rules_and_static_blocks() {
    let m = model(
        "static_ipaddress {\n 10.1.1.1/24 dev eth0 scope link\n}\nstatic_routes {\n 10.2.0.0/16 via 10.1.1.254 dev eth0 metric 5\n}\nstatic_rules {\n from 10.1.1.0/24 table 100 priority 10\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n  10.0.0.1\n }\n virtual_routes {\n  default via 10.0.0.254 dev eth0\n  blackhole 10.9.0.0/16 no_track\n }\n}\n",
    );
    assert_eq!(m.static_addresses[0].dev.as_deref(), Some("eth0"));
    let r = &m.static_routes[0];
    assert_eq!(r.dst, Some((ip("10.2.0.0"), 16)));
    assert_eq!(r.via, Some(ip("10.1.1.254")));
    assert_eq!(r.metric, Some(5));
    assert_eq!(m.static_rules[0].preference, Some(10));
    assert_eq!(m.static_rules[0].table.as_deref(), Some("100"));
    let i = &m.instances[0];
    assert_eq!(i.routes[0].dst, None);
    assert_eq!(i.routes[1].route_type.as_deref(), Some("blackhole"));
}

#[test]
fn not_acted_keyword_warns_once_without_class() {
    let r = check_str(
        "global_defs {\n enable_snmp_vrrp\n enable_traps\n enable_snmp_checker\n}\n",
        &opts(),
    );
    assert_eq!(r.exit_status(), 0);
    let snmp: Vec<_> = r
        .diagnostics
        .items
        .iter()
        .filter(|d| d.message.contains("no SNMP agent"))
        .collect();
    assert_eq!(snmp.len(), 3, "one per keyword");
    assert!(snmp.iter().all(|d| d.class.is_none()));
}

#[test]
fn old_spelling_is_accepted_with_replacement_hint() {
    let r = check_str(
        "vrrp_track_file tf {\n file /tmp/x\n}\nglobal_defs {\n vrrp_rlimit_rtime 10000\n}\n",
        &opts(),
    );
    assert_eq!(r.exit_status(), 0);
    let m = r.model.expect("runs");
    assert_eq!(m.track_files[0].name, "tf");
    assert!(r
        .diagnostics
        .items
        .iter()
        .any(|d| d.hint.as_deref() == Some("replace with `track_file`")));
}
