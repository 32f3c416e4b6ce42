//! keepalived.conf -> confparse model -> desired table -> plan: the IPVS ops
//! a configuration produces from an empty table, as insta snapshots.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use ipvs::model::{desired_from_model, flush_at_start, stop_policy, sync_daemon, Health};
use ipvs::*;

fn model(text: &str) -> confparse::Model {
    let r = confparse::check_str(text, &confparse::LoadOptions::default());
    match r.model {
        Some(m) => m,
        None => panic!("config does not load: {:?}", r.diagnostics),
    }
}

fn ops(m: &confparse::Model, h: &Health) -> String {
    let d = desired_from_model(&m.lvs, &m.global, h).unwrap();
    plan(&d, &ActualTable::default(), &BTreeSet::new())
        .iter()
        .map(|o| format!("{o}\n"))
        .collect()
}

const CONF: &str = r#"
global_defs {
    lvs_timeouts tcp 7200 udp 60
    lvs_flush
    lvs_flush_on_stop VS
    lvs_sync_daemon eth0 id 5
}
virtual_server_group WEB {
    10.0.0.10-12 80
    fwmark 9
}
virtual_server 192.168.200.100 80 {
    delay_loop 6
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 192.168.201.100 80 {
        weight 1
    }
    real_server 192.168.201.101 80 {
        weight 2
        inhibit_on_failure
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
virtual_server 10.10.10.2 1358 {
    lb_algo wlc
    lb_kind NAT
    protocol TCP
    persistence_timeout 50
    persistence_granularity 255.255.255.0
    sorry_server 192.168.200.200 1358
    quorum 3
    real_server 192.168.200.2 1358 {
        weight 1
        uthreshold 100
        lthreshold 10
    }
    real_server 192.168.200.3 1358 {
        weight 1
    }
}
virtual_server group WEB {
    lb_algo sh
    sh-port
    lb_kind TUN
    protocol TCP
    real_server 10.0.1.1 80 {
        weight 1
    }
}
virtual_server fwmark 1 {
    lb_algo mh
    lb_kind DR
    ip_family inet6
    real_server 2001:db8::5 {
        weight 3
    }
}
"#;

#[test]
fn config_to_plan_from_empty() {
    let m = model(CONF);
    insta::assert_snapshot!(ops(&m, &Health::default()));
}

#[test]
fn health_changes_the_table() {
    let m = model(CONF);
    let mut h = Health::default();
    // First virtual server: the inhibited real server fails (weight 0),
    // the other fails (removed).
    h.real_servers.insert((0, 0), false);
    h.real_servers.insert((0, 1), false);
    let d = desired_from_model(&m.lvs, &m.global, &h).unwrap();
    let first: Vec<String> = d.services[0]
        .effective_dests()
        .iter()
        .map(|x| format!("{} {}", x.key, x.weight))
        .collect();
    assert_eq!(first, vec!["192.168.201.101:80 0"]);
}

#[test]
fn globals() {
    let m = model(CONF);
    assert!(flush_at_start(&m.global));
    assert_eq!(stop_policy(&m.global, false), StopPolicy::DeleteServices);
    assert_eq!(stop_policy(&m.global, true), StopPolicy::Keep);
    let d = sync_daemon(&m.global, DaemonState::Master).unwrap();
    assert_eq!((d.ifname.as_str(), d.sync_id), ("eth0", 5));
    let t = desired_from_model(&m.lvs, &m.global, &Health::default())
        .unwrap()
        .timeouts;
    assert_eq!(
        t,
        Some(Timeouts {
            tcp: 7200,
            tcp_fin: 0,
            udp: 60
        })
    );
}
