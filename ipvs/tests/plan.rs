//! The reconciler against the fake: `plan` snapshots (insta) for the cases
//! keepalived distinguishes, and full reconcile passes (drift repair, foreign
//! services left alone, no-change passes that write nothing, stop policies).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipvs::reconcile::{plan, plan_stop, read_table};
use ipvs::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

fn rs(addr: &str, weight: u32, up: bool) -> RealServer {
    RealServer {
        dest: Dest::new(ip(addr), 80, FwdMethod::Route, weight),
        up,
        inhibit_on_failure: false,
    }
}

fn vs(addr: &str, sched: &str, reals: Vec<RealServer>) -> VirtualServer {
    VirtualServer::new(Service::new(tcp(addr, 80), sched), reals)
}

fn table(services: Vec<VirtualServer>) -> DesiredTable {
    DesiredTable {
        services,
        timeouts: None,
    }
}

/// The plan as one op per line (the `Display` form used in logs).
/// The keys of the services `c` lists, in its order.
fn service_keys<C: IpvsClient>(c: &mut C) -> Vec<ServiceKey> {
    c.services()
        .unwrap()
        .into_iter()
        .map(|s| s.service.key)
        .collect()
}

/// Two services: rr with two real servers (weights 1, 2), wlc with one.
fn two_services() -> DesiredTable {
    table(vec![
        vs(
            "10.0.0.1",
            "rr",
            vec![rs("192.168.1.11", 1, true), rs("192.168.1.12", 2, true)],
        ),
        vs("10.0.0.2", "wlc", vec![rs("192.168.1.21", 1, true)]),
    ])
}

fn lines(ops: &[Op]) -> String {
    ops.iter().map(|o| format!("{o}\n")).collect()
}

fn keys(d: &DesiredTable) -> BTreeSet<ServiceKey> {
    d.services.iter().map(|v| v.service.key).collect()
}

/// Builds the kernel-side state for `d` in a fake.
fn fake_with(d: &DesiredTable) -> FakeIpvs {
    let mut f = FakeIpvs::new();
    let ops = plan(d, &ActualTable::default(), &BTreeSet::new());
    assert!(apply(&mut f, &ops).is_ok());
    f
}

#[test]
fn plan_from_empty() {
    let mut nat = vs("10.0.0.2", "wlc", vec![rs("192.168.1.21", 3, true)]);
    nat.service.persistence = Some(Persistence {
        timeout: 360,
        prefix: 24,
    });
    nat.reals[0].dest.fwd = FwdMethod::Masq;
    let d = table(vec![
        vs(
            "10.0.0.1",
            "rr",
            vec![rs("192.168.1.11", 1, true), rs("192.168.1.12", 2, true)],
        ),
        nat,
    ]);
    insta::assert_snapshot!(lines(&plan(&d, &ActualTable::default(), &BTreeSet::new())));
}

#[test]
fn plan_no_change_is_empty() {
    let d = table(vec![vs(
        "10.0.0.1",
        "rr",
        vec![rs("192.168.1.11", 1, true)],
    )]);
    let mut f = fake_with(&d);
    // Counters in the kernel never make a difference.
    f.set_stats(
        &tcp("10.0.0.1", 80),
        Stats {
            conns: 5,
            ..Stats::default()
        },
    );
    let actual = read_table(&mut f).unwrap();
    assert_eq!(plan(&d, &actual, &keys(&d)), vec![]);
}

#[test]
fn plan_health_changes() {
    // One server goes down (removed), an inhibited one goes down (weight 0),
    // a down one comes back (added).
    let before = table(vec![vs(
        "10.0.0.1",
        "rr",
        vec![
            rs("192.168.1.11", 1, true),
            RealServer {
                inhibit_on_failure: true,
                ..rs("192.168.1.12", 2, true)
            },
            rs("192.168.1.13", 1, false),
        ],
    )]);
    let mut f = fake_with(&before);
    let mut after = before.clone();
    after.services[0].reals[0].up = false;
    after.services[0].reals[1].up = false;
    after.services[0].reals[2].up = true;
    let actual = read_table(&mut f).unwrap();
    insta::assert_snapshot!(lines(&plan(&after, &actual, &keys(&before))));
}

#[test]
fn plan_edits_in_place() {
    // Scheduler, persistence and a weight change: edits, no delete/re-add.
    let before = table(vec![vs(
        "10.0.0.1",
        "rr",
        vec![rs("192.168.1.11", 1, true)],
    )]);
    let mut f = fake_with(&before);
    let mut after = before.clone();
    after.services[0].service.scheduler = "wlc".into();
    after.services[0].service.persistence = Some(Persistence {
        timeout: 50,
        prefix: 32,
    });
    after.services[0].reals[0].dest.weight = 5;
    after.services[0].reals[0].dest.u_threshold = 100;
    let actual = read_table(&mut f).unwrap();
    insta::assert_snapshot!(lines(&plan(&after, &actual, &keys(&before))));
}

#[test]
fn plan_touches_only_owned_services() {
    let ours = table(vec![
        vs("10.0.0.1", "rr", vec![rs("192.168.1.11", 1, true)]),
        vs("10.0.0.2", "rr", vec![rs("192.168.1.21", 1, true)]),
    ]);
    let mut f = fake_with(&ours);
    // An operator's own service, with a destination.
    let foreign = Service::new(tcp("10.0.0.9", 80), "lc");
    f.new_service(&foreign).unwrap();
    f.new_dest(
        &foreign.key,
        &Dest::new(ip("192.168.1.99"), 80, FwdMethod::Masq, 1),
    )
    .unwrap();
    // The configuration drops 10.0.0.2.
    let mut after = ours.clone();
    after.services.pop();
    let actual = read_table(&mut f).unwrap();
    let ops = plan(&after, &actual, &keys(&ours));
    insta::assert_snapshot!(lines(&ops));
    assert!(!ops.iter().any(|o| o.to_string().contains("10.0.0.9")));
}

#[test]
fn plan_quorum_and_sorry_server() {
    let mut v = vs(
        "10.0.0.1",
        "rr",
        vec![
            rs("192.168.1.11", 1, true),
            RealServer {
                inhibit_on_failure: true,
                ..rs("192.168.1.12", 1, true)
            },
        ],
    );
    v.quorum = 2;
    v.hysteresis = 0;
    v.sorry = Some(SorryServer {
        dest: Dest::new(ip("192.168.1.200"), 80, FwdMethod::Masq, 1),
        inhibit: false,
    });
    let up = table(vec![v.clone()]);
    let mut f = fake_with(&up);
    // One server fails: live weight 1 < quorum 2, so the sorry server takes
    // over: the live non-inhibited server is removed too, the inhibited one
    // stays at weight 0.
    v.reals[0].up = false;
    assert!(v.update_quorum(), "quorum lost");
    let down = table(vec![v.clone()]);
    let actual = read_table(&mut f).unwrap();
    let ops = plan(&down, &actual, &keys(&up));
    assert!(apply(&mut f, &ops).is_ok());
    // It comes back: quorum regained, sorry server removed.
    v.reals[0].up = true;
    assert!(v.update_quorum(), "quorum regained");
    let back = table(vec![v]);
    let actual = read_table(&mut f).unwrap();
    let ops2 = plan(&back, &actual, &keys(&up));
    insta::assert_snapshot!(format!(
        "-- quorum lost\n{}-- quorum regained\n{}",
        lines(&ops),
        lines(&ops2)
    ));
}

#[test]
fn quorum_hysteresis() {
    let mut v = vs(
        "10.0.0.1",
        "rr",
        vec![
            rs("192.168.1.11", 2, true),
            rs("192.168.1.12", 2, true),
            rs("192.168.1.13", 2, true),
        ],
    );
    v.quorum = 4;
    v.hysteresis = 1;
    // 6 live: up. Down to 4 (>= 4-1): still up. Down to 2 (< 3): down.
    assert!(!v.update_quorum() && v.quorum_up);
    v.reals[0].up = false;
    assert!(!v.update_quorum() && v.quorum_up);
    v.reals[1].up = false;
    assert!(v.update_quorum() && !v.quorum_up);
    // Back to 4: not enough to come up (needs 4+1).
    v.reals[1].up = true;
    assert!(!v.update_quorum() && !v.quorum_up);
    v.reals[0].up = true;
    assert!(v.update_quorum() && v.quorum_up);
}

#[test]
fn plan_stop_policies() {
    let d = table(vec![
        vs(
            "10.0.0.1",
            "rr",
            vec![rs("192.168.1.11", 1, true), rs("192.168.1.12", 1, true)],
        ),
        vs("10.0.0.2", "rr", vec![rs("192.168.1.21", 1, true)]),
    ]);
    let mut f = fake_with(&d);
    f.new_service(&Service::new(tcp("10.0.0.9", 80), "lc"))
        .unwrap();
    let actual = read_table(&mut f).unwrap();
    let owned = keys(&d);
    let mut out = String::new();
    for p in [
        StopPolicy::DeleteEach,
        StopPolicy::DeleteServices,
        StopPolicy::FlushAll,
        StopPolicy::Keep,
    ] {
        out.push_str(&format!(
            "-- {p:?}\n{}",
            lines(&plan_stop(&actual, &owned, p))
        ));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn plan_timeouts_only_when_different() {
    let mut d = table(vec![]);
    d.timeouts = Some(Timeouts {
        tcp: 900,
        tcp_fin: 0,
        udp: 60,
    });
    let mut f = FakeIpvs::new();
    let actual = read_table(&mut f).unwrap();
    let ops = plan(&d, &actual, &BTreeSet::new());
    assert_eq!(lines(&ops), "set timeouts tcp 900 tcpfin 0 udp 60\n");
    assert!(apply(&mut f, &ops).is_ok());
    // tcp_fin 0 = unchanged: the kernel keeps its 120.
    assert_eq!(
        f.config().unwrap(),
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 60
        }
    );
    let actual = read_table(&mut f).unwrap();
    assert_eq!(plan(&d, &actual, &BTreeSet::new()), vec![]);
}

#[test]
fn reconcile_repairs_drift_and_spares_foreign() {
    let d = two_services();
    let mut f = FakeIpvs::new();
    let mut r = Reconciler::new();
    let rep = r.start(&mut f, &d, true).unwrap();
    assert!(rep.applied.is_ok());
    assert_eq!(rep.ops[0], Op::Flush);
    let foreign = Service::new(tcp("10.0.0.9", 80), "lc");
    f.new_service(&foreign).unwrap();

    // Behind our back: a destination deleted, a weight edited, a service gone.
    f.del_dest(
        &tcp("10.0.0.1", 80),
        &DestKey {
            addr: ip("192.168.1.12"),
            port: 80,
        },
    )
    .unwrap();
    f.set_dest(
        &tcp("10.0.0.1", 80),
        &Dest::new(ip("192.168.1.11"), 80, FwdMethod::Route, 9),
    )
    .unwrap();
    f.del_service(&tcp("10.0.0.2", 80)).unwrap();

    let rep = r.reconcile(&mut f, &d).unwrap();
    assert!(rep.applied.is_ok());
    insta::assert_snapshot!(lines(&rep.ops));

    // Converged: the next pass writes nothing.
    let writes = f.writes;
    let rep = r.reconcile(&mut f, &d).unwrap();
    assert!(rep.ops.is_empty());
    assert_eq!(f.writes, writes);
    assert!(f.service(&foreign.key).is_ok(), "foreign service survives");

    // Stop: our services go, the foreign one stays.
    r.stop(&mut f, StopPolicy::DeleteServices).unwrap();
    assert_eq!(service_keys(&mut f), vec![foreign.key]);
}

#[test]
fn apply_matches_errors_to_ops() {
    let mut f = FakeIpvs::new();
    let k = tcp("10.0.0.1", 80);
    let ops = vec![
        Op::NewService(Service::new(k, "rr")),
        Op::NewService(Service::new(k, "rr")),
        Op::NewService(Service::new(tcp("10.0.0.2", 80), "nosuch")),
        Op::NewDest {
            service: tcp("10.0.0.3", 80),
            dest: Dest::new(ip("192.168.1.1"), 80, FwdMethod::Route, 1),
        },
        Op::DelDest {
            service: k,
            dest: DestKey {
                addr: ip("192.168.1.1"),
                port: 80,
            },
        },
        Op::DelService(tcp("10.0.0.4", 80)),
        Op::NewDest {
            service: k,
            dest: Dest {
                u_threshold: 10,
                l_threshold: 20,
                ..Dest::new(ip("192.168.1.1"), 80, FwdMethod::Route, 1)
            },
        },
        Op::NewDest {
            service: k,
            dest: Dest::new(ip("2001:db8::1"), 80, FwdMethod::Route, 1),
        },
    ];
    let rep = apply(&mut f, &ops);
    assert_eq!(rep.done, 1);
    let got: Vec<(usize, Option<i32>)> = rep
        .failed
        .iter()
        .map(|f| (f.index, f.error.errno()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some(libc::EEXIST)),
            (2, Some(libc::ENOENT)),
            (3, Some(libc::ESRCH)),
            (4, Some(libc::ENOENT)),
            (5, Some(libc::ESRCH)),
            (6, Some(libc::ERANGE)),
            (7, Some(libc::EINVAL)),
        ]
    );
    // The message names the operation and the object.
    assert_eq!(
        rep.failed[0].error.to_string(),
        "add service TCP 10.0.0.1:80 sched rr: EEXIST (17): File exists (os error 17)"
    );
}

#[test]
fn invalid_requests_are_refused_before_sending() {
    let mut f = FakeIpvs::new();
    let e = f
        .new_service(&Service::new(
            tcp("10.0.0.1", 80),
            "a-scheduler-name-too-long",
        ))
        .unwrap_err();
    assert!(matches!(e, IpvsError::Invalid { .. }), "{e}");
    assert_eq!(f.writes, 0);
}

#[test]
fn desired_table_json_round_trip() {
    let mut v = vs("10.0.0.1", "sh", vec![rs("192.168.1.11", 1, true)]);
    v.service.sched_flags.flag1 = true;
    v.reals[0].dest.fwd = FwdMethod::Tunnel(Tunnel {
        tun_type: TunnelType::Gue,
        port: 6080,
        csum: TunnelCsum::Csum,
    });
    let d = table(vec![v]);
    let j = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<DesiredTable>(&j).unwrap(), d);
}

// ---------------------------------------------------------------------------
// Properties: one plan converges, the next is empty, foreign services are
// untouched, whatever the starting table.
// ---------------------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_key() -> impl Strategy<Value = ServiceKey> {
        (0u8..6).prop_map(|i| tcp(&format!("10.0.0.{}", i + 1), 80))
    }

    fn arb_dest() -> impl Strategy<Value = Dest> {
        (0u8..5, 0u32..4, any::<bool>(), 0u32..3).prop_map(|(i, w, nat, t)| Dest {
            u_threshold: t * 10,
            l_threshold: t,
            ..Dest::new(
                ip(&format!("192.168.1.{}", i + 1)),
                80,
                if nat {
                    FwdMethod::Masq
                } else {
                    FwdMethod::Route
                },
                w,
            )
        })
    }

    fn arb_vs() -> impl Strategy<Value = VirtualServer> {
        (
            arb_key(),
            prop_oneof![Just("rr"), Just("wlc"), Just("sh")],
            proptest::option::of(1u32..100),
            proptest::collection::vec((arb_dest(), any::<bool>(), any::<bool>()), 0..5),
            proptest::option::of(arb_dest()),
            0u32..5,
        )
            .prop_map(|(key, sched, pers, reals, sorry, quorum)| {
                let mut s = Service::new(key, sched);
                s.persistence = pers.map(|timeout| Persistence {
                    timeout,
                    prefix: 32,
                });
                let mut v = VirtualServer::new(
                    s,
                    reals
                        .into_iter()
                        .map(|(dest, up, inhibit_on_failure)| RealServer {
                            dest,
                            up,
                            inhibit_on_failure,
                        })
                        .collect(),
                );
                v.quorum = quorum;
                v.sorry = sorry.map(|dest| SorryServer {
                    dest,
                    inhibit: false,
                });
                v.quorum_up = v.alive_weight() >= u64::from(quorum);
                v
            })
    }

    fn arb_table() -> impl Strategy<Value = DesiredTable> {
        proptest::collection::vec(arb_vs(), 0..5).prop_map(|services| DesiredTable {
            services,
            timeouts: None,
        })
    }

    proptest! {
        #[test]
        fn plan_converges_and_spares_foreign(
            before in arb_table(),
            after in arb_table(),
            foreign_idx in 0u8..3,
        ) {
            let mut f = FakeIpvs::new();
            let mut r = Reconciler::new();
            let rep = r.reconcile(&mut f, &before).unwrap();
            // Duplicate keys in a generated table: the first block wins; an
            // inconsistent later block must not make the plan fail.
            prop_assert!(rep.applied.is_ok(), "{:?}", rep.applied.failed);
            // A foreign service on a key neither table uses.
            let foreign = Service::new(tcp(&format!("10.9.9.{}", foreign_idx + 1), 80), "lc");
            f.new_service(&foreign).unwrap();
            let rep = r.reconcile(&mut f, &after).unwrap();
            prop_assert!(rep.applied.is_ok(), "{:?}", rep.applied.failed);
            // Converged: nothing left to do, nothing written.
            let writes = f.writes;
            let again = r.reconcile(&mut f, &after).unwrap();
            prop_assert!(again.ops.is_empty(), "{:?}", again.ops);
            prop_assert_eq!(f.writes, writes);
            // The kernel holds exactly the desired services (first of each key) and the foreign one.
            let mut want: Vec<ServiceKey> = Vec::new();
            for v in &after.services {
                if !want.contains(&v.service.key) {
                    want.push(v.service.key);
                }
            }
            want.push(foreign.key);
            want.sort();
            let mut have: Vec<ServiceKey> = f.services().unwrap().into_iter().map(|s| s.service.key).collect();
            have.sort();
            prop_assert_eq!(have, want);
            prop_assert!(f.dests(&foreign.key).unwrap().is_empty());
        }

        /// The indexed `apply_all` (the cache of a pass) leaves the table
        /// one-op-at-a-time `apply` leaves, through adds, edits and deletes.
        #[test]
        fn apply_all_equals_apply(before in arb_table(), after in arb_table()) {
            let first = plan(&before, &ActualTable::default(), &BTreeSet::new());
            let mut one = ActualTable::default();
            first.iter().for_each(|op| one.apply(op));
            let mut all = ActualTable::default();
            all.apply_all(&first);
            prop_assert_eq!(&all, &one);
            let second = plan(&after, &one, &keys(&before));
            second.iter().for_each(|op| one.apply(op));
            all.apply_all(&second);
            prop_assert_eq!(all, one);
        }
    }
}

/// A client around the fake that can lose a service between the service
/// dump and that service's destination dump (an operator's `ipvsadm -D`
/// racing us), and counts destination dumps.
struct Racing {
    inner: FakeIpvs,
    victim: Option<ServiceKey>,
    dest_dumps: usize,
}

impl IpvsClient for Racing {
    fn execute(&mut self, ops: &[Op]) -> Vec<Result<(), IpvsError>> {
        self.inner.execute(ops)
    }
    fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        let s = self.inner.services();
        if let Some(v) = self.victim {
            let _ = self.inner.del_service(&v);
        }
        s
    }
    fn service(&mut self, key: &ServiceKey) -> Result<ServiceEntry, IpvsError> {
        self.inner.service(key)
    }
    fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, IpvsError> {
        self.dest_dumps += 1;
        self.inner.dests(key)
    }
    fn info(&mut self) -> Result<Info, IpvsError> {
        self.inner.info()
    }
    fn config(&mut self) -> Result<Timeouts, IpvsError> {
        self.inner.config()
    }
    fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        self.inner.daemons()
    }
}

#[test]
fn service_vanishing_mid_read_is_recreated() {
    let d = table(vec![
        vs("10.0.0.1", "rr", vec![rs("192.168.1.11", 1, true)]),
        vs("10.0.0.2", "rr", vec![rs("192.168.1.21", 1, true)]),
    ]);
    let mut c = Racing {
        inner: fake_with(&d),
        victim: Some(tcp("10.0.0.2", 80)),
        dest_dumps: 0,
    };
    let mut r = Reconciler::with_owned(keys(&d));
    let rep = r.reconcile(&mut c, &d).unwrap();
    assert_eq!(
        lines(&rep.ops),
        "add service TCP 10.0.0.2:80 sched rr\n\
         add destination 192.168.1.21:80 to TCP 10.0.0.2:80 Route weight 1\n"
    );
    assert!(rep.applied.is_ok());
}

#[test]
fn kernel_forced_local_forwarding_is_not_drift() {
    // The kernel turns a destination on one of the director's own
    // addresses into LOCALNODE; the next pass must not fight it.
    let d = table(vec![vs("10.0.0.1", "rr", vec![rs("10.0.0.1", 1, true)])]);
    let mut actual = ActualTable::default();
    let mut local = Dest::new(ip("10.0.0.1"), 80, FwdMethod::Local, 1);
    actual
        .services
        .push((d.services[0].service.clone(), vec![local.clone()]));
    assert_eq!(plan(&d, &actual, &keys(&d)), vec![]);
    // A real change (weight) on such a destination is still applied.
    local.weight = 7;
    actual.services[0].1[0] = local;
    assert_eq!(
        lines(&plan(&d, &actual, &keys(&d))),
        "edit destination 10.0.0.1:80 of TCP 10.0.0.1:80 Route weight 1\n"
    );
}

#[test]
fn every_op_round_trips_through_json() {
    let k = tcp("10.0.0.1", 80);
    let d = Dest::new(ip("192.168.1.1"), 80, FwdMethod::Route, 1);
    let ops = vec![
        Op::NewService(Service::new(k, "rr")),
        Op::SetService(Service::new(k, "wlc")),
        Op::DelService(k),
        Op::NewDest {
            service: k,
            dest: d.clone(),
        },
        Op::SetDest {
            service: k,
            dest: d.clone(),
        },
        Op::DelDest {
            service: k,
            dest: d.key,
        },
        Op::Flush,
        Op::Zero(None),
        Op::Zero(Some(k)),
        Op::SetConfig(Timeouts::default()),
        Op::NewDaemon(Daemon {
            state: DaemonState::Backup,
            ifname: "eth0".into(),
            sync_id: 1,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }),
        Op::DelDaemon(DaemonState::Master),
    ];
    let j = serde_json::to_string(&ops).unwrap();
    assert_eq!(serde_json::from_str::<Vec<Op>>(&j).unwrap(), ops);
}

#[test]
fn cached_pass_writes_only_the_health_change() {
    let mut d = table(vec![
        vs(
            "10.0.0.1",
            "rr",
            vec![rs("192.168.1.11", 1, true), rs("192.168.1.12", 1, true)],
        ),
        vs("10.0.0.2", "rr", vec![rs("192.168.1.21", 1, true)]),
    ]);
    let mut f = FakeIpvs::new();
    let mut r = Reconciler::new();
    assert!(r.start(&mut f, &d, true).unwrap().applied.is_ok());
    // A health transition: one op, and the cached table agrees with a full
    // read of the kernel afterwards.
    d.services[0].reals[1].up = false;
    let rep = r.reconcile_cached(&mut f, &d).unwrap();
    assert_eq!(
        lines(&rep.ops),
        "delete destination 192.168.1.12:80 of TCP 10.0.0.1:80\n"
    );
    let full = r.reconcile(&mut f, &d).unwrap();
    assert!(full.ops.is_empty(), "{:?}", full.ops);
    // Drift is invisible to a cached pass, repaired by the next full one.
    f.del_service(&tcp("10.0.0.2", 80)).unwrap();
    assert!(r.reconcile_cached(&mut f, &d).unwrap().ops.is_empty());
    assert_eq!(r.reconcile(&mut f, &d).unwrap().ops.len(), 2);
    // A failed op drops the cache: the next cached pass reads the kernel.
    f.fail.push(("192.168.1.11".into(), libc::ENOMEM));
    d.services[0].reals[0].dest.weight = 5;
    assert!(!r.reconcile_cached(&mut f, &d).unwrap().applied.is_ok());
    f.fail.clear();
    f.del_service(&tcp("10.0.0.2", 80)).unwrap();
    let rep = r.reconcile_cached(&mut f, &d).unwrap();
    assert_eq!(rep.ops.len(), 3, "full read after a failure: {:?}", rep.ops);
}

proptest::proptest! {
    /// The cached table after any plan equals a fresh read of the fake.
    #[test]
    fn cache_tracks_the_kernel(ups in proptest::collection::vec(proptest::prelude::any::<bool>(), 6)) {
        let mut d = table(vec![
            vs("10.0.0.1", "rr", vec![rs("192.168.1.11", 1, true), RealServer { inhibit_on_failure: true, ..rs("192.168.1.12", 2, true) }, rs("192.168.1.13", 1, true)]),
            vs("10.0.0.2", "wlc", vec![rs("192.168.1.21", 1, true), rs("192.168.1.22", 1, true), RealServer { inhibit_on_failure: true, ..rs("192.168.1.23", 1, true) }]),
        ]);
        let mut f = FakeIpvs::new();
        let mut r = Reconciler::new();
        r.start(&mut f, &d, true).unwrap();
        for (i, up) in ups.iter().enumerate() {
            d.services[i / 3].reals[i % 3].up = *up;
            r.reconcile_cached(&mut f, &d).unwrap();
            let full = r.reconcile(&mut f, &d).unwrap();
            proptest::prop_assert!(full.ops.is_empty(), "{:?}", full.ops);
        }
    }
}

/// The default stop deletes each destination the last pass left, then each
/// service, without reading the table again (keepalived 2.2.7 deletes what
/// its memory holds); a destination added behind our back goes with its
/// service, a foreign service stays. Without a trusted table (an op failed)
/// it reads the kernel first.
#[test]
fn stop_each_uses_the_last_pass_table() {
    let d = two_services();
    let mut c = Racing {
        inner: FakeIpvs::new(),
        victim: None,
        dest_dumps: 0,
    };
    let foreign = Service::new(tcp("10.0.0.9", 80), "lc");
    c.inner.new_service(&foreign).unwrap();
    let mut r = Reconciler::new();
    assert!(r.start(&mut c, &d, false).unwrap().applied.is_ok());
    let extra = Dest::new(ip("192.168.1.99"), 80, FwdMethod::Route, 1);
    c.inner.new_dest(&tcp("10.0.0.2", 80), &extra).unwrap();
    let dumps = c.dest_dumps;
    let rep = r.stop(&mut c, StopPolicy::DeleteEach).unwrap();
    assert_eq!(c.dest_dumps, dumps, "no destination dump at stop");
    assert!(rep.applied.is_ok());
    assert_eq!(
        lines(&rep.ops),
        "delete destination 192.168.1.11:80 of TCP 10.0.0.1:80\n\
         delete destination 192.168.1.12:80 of TCP 10.0.0.1:80\n\
         delete service TCP 10.0.0.1:80\n\
         delete destination 192.168.1.21:80 of TCP 10.0.0.2:80\n\
         delete service TCP 10.0.0.2:80\n"
    );
    assert_eq!(service_keys(&mut c), vec![foreign.key]);

    // A failed op leaves no trusted table: the stop reads the kernel.
    let mut r = Reconciler::new();
    c.inner.fail = vec![("192.168.1.12".into(), libc::ENOMEM)];
    assert!(!r.start(&mut c, &d, false).unwrap().applied.is_ok());
    c.inner.fail.clear();
    let dumps = c.dest_dumps;
    let rep = r.stop(&mut c, StopPolicy::DeleteEach).unwrap();
    assert!(c.dest_dumps > dumps, "the table was read");
    assert!(rep.applied.is_ok());
    assert!(!lines(&rep.ops).contains("192.168.1.12"), "never added");
}
