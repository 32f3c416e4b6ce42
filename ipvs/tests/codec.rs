//! Byte-level checks of the IPVS messages: requests against hex fixtures in
//! `fixtures/ipvs/`, replies decoded from fixtures, round trips of every
//! setting, and malformed replies (truncated, wrong lengths, unknown
//! attributes) giving typed errors, never panics.
//!
//! `IPVS_UPDATE_FIXTURES=1 cargo test -p ipvs --test codec` rewrites the
//! request fixtures from the encoder (review the diff before committing).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use ipvs::consts::*;
use ipvs::message::{self, CmdAttr, DestAttr, IpvsCmd, IpvsMessage, SvcAttr};
use ipvs::wire::{decode_replies, encode_request, split_replies, RawBody, ReplyBody};
use ipvs::*;
use proptest::prelude::*;
use std::net::IpAddr;
use std::path::PathBuf;

/// Family id used in fixtures (the kernel assigns one at module load).
const FAM: u16 = 0x1c;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/ipvs")
        .join(format!("{name}.hex"))
}

fn from_hex(text: &str) -> Vec<u8> {
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars())
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    (0..digits.len() / 2)
        .map(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn to_hex(comment: &str, b: &[u8]) -> String {
    let mut s = format!("# {comment}\n");
    for line in b.chunks(16) {
        let words: Vec<String> = line
            .chunks(4)
            .map(|w| w.iter().map(|x| format!("{x:02x}")).collect())
            .collect();
        s.push_str(&words.join(" "));
        s.push('\n');
    }
    s
}

/// Compares `bytes` with the fixture (or rewrites it on request).
fn check_fixture(name: &str, comment: &str, bytes: &[u8]) {
    let path = fixture_path(name);
    if std::env::var_os("IPVS_UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, to_hex(comment, bytes)).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (IPVS_UPDATE_FIXTURES=1 creates it)",
            path.display()
        )
    });
    assert_eq!(
        to_hex(comment, &from_hex(&text)),
        to_hex(comment, bytes),
        "fixture {name} differs"
    );
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    from_hex(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: v4(addr),
        port,
    }
}

fn sample_services() -> Vec<Service> {
    let mut nat = Service::new(tcp("10.0.0.2", 443), "wlc");
    nat.persistence = Some(Persistence {
        timeout: 360,
        prefix: 24,
    });
    let mut sh = Service::new(
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 7,
        },
        "sh",
    );
    sh.sched_flags.flag1 = true;
    sh.sched_flags.flag2 = true;
    let mut v6 = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: v4("2001:db8::10"),
            port: 53,
        },
        "rr",
    );
    v6.one_packet = true;
    v6.persistence = Some(Persistence {
        timeout: 60,
        prefix: 64,
    });
    let mut sip = Service::new(
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: v4("10.0.0.3"),
            port: 5060,
        },
        "rr",
    );
    sip.persistence = Some(Persistence {
        timeout: 30,
        prefix: 32,
    });
    sip.pe_name = Some("sip".into());
    vec![Service::new(tcp("10.0.0.1", 80), "rr"), nat, sh, v6, sip]
}

fn sample_dests() -> Vec<Dest> {
    let mut gue = Dest::new(
        v4("192.168.1.12"),
        80,
        FwdMethod::Tunnel(Tunnel {
            tun_type: TunnelType::Gue,
            port: 6080,
            csum: TunnelCsum::RemCsum,
        }),
        5,
    );
    gue.u_threshold = 1000;
    gue.l_threshold = 100;
    vec![
        Dest::new(v4("192.168.1.10"), 80, FwdMethod::Route, 1),
        Dest::new(v4("192.168.1.11"), 8080, FwdMethod::Masq, 3),
        gue,
        Dest::new(v4("2001:db8::21"), 53, FwdMethod::Masq, 2),
    ]
}

// ---------------------------------------------------------------------------
// Requests against fixtures
// ---------------------------------------------------------------------------

#[test]
fn request_new_service_tcp_rr() {
    let s = &sample_services()[0];
    check_fixture(
        "req_new_service_tcp_rr",
        "NEW_SERVICE TCP 10.0.0.1:80 rr (ipvsadm -A -t 10.0.0.1:80 -s rr), seq 1, ACK",
        &encode_request(IpvsMessage::new_service(s), FAM, 1, 4),
    );
}

#[test]
fn request_new_service_persistent_netmask() {
    let s = &sample_services()[1];
    check_fixture(
        "req_new_service_tcp_wlc_persistent",
        "NEW_SERVICE TCP 10.0.0.2:443 wlc persistent 360 netmask 255.255.255.0, seq 2, ACK",
        &encode_request(IpvsMessage::new_service(s), FAM, 2, 4),
    );
}

#[test]
fn request_new_service_fwmark_sh_flags() {
    let s = &sample_services()[2];
    check_fixture(
        "req_new_service_fwmark_sh",
        "NEW_SERVICE FWM 7 sh sh-fallback sh-port, seq 3, ACK",
        &encode_request(IpvsMessage::new_service(s), FAM, 3, 4),
    );
}

#[test]
fn request_new_service_ipv6_ops() {
    let s = &sample_services()[3];
    check_fixture(
        "req_new_service_udp6_ops",
        "NEW_SERVICE UDP [2001:db8::10]:53 rr ops persistent 60 /64, seq 4, ACK",
        &encode_request(IpvsMessage::new_service(s), FAM, 4, 4),
    );
}

#[test]
fn request_new_dest_route_and_tunnel() {
    let k = tcp("10.0.0.1", 80);
    let d = sample_dests();
    check_fixture(
        "req_new_dest_route",
        "NEW_DEST 192.168.1.10:80 DR weight 1 in TCP 10.0.0.1:80, seq 5, ACK",
        &encode_request(IpvsMessage::new_dest(&k, &d[0]), FAM, 5, 4),
    );
    check_fixture(
        "req_new_dest_tunnel_gue",
        "NEW_DEST 192.168.1.12:80 TUN gue port 6080 remcsum weight 5 x 1000 y 100, seq 6, ACK",
        &encode_request(IpvsMessage::new_dest(&k, &d[2]), FAM, 6, 4),
    );
}

#[test]
fn request_deletes_flush_config_daemon() {
    let k = tcp("10.0.0.1", 80);
    check_fixture(
        "req_del_dest",
        "DEL_DEST 192.168.1.10:80 from TCP 10.0.0.1:80, seq 7, ACK",
        &encode_request(IpvsMessage::del_dest(&k, &sample_dests()[0].key), FAM, 7, 4),
    );
    check_fixture(
        "req_del_service",
        "DEL_SERVICE TCP 10.0.0.1:80, seq 8, ACK",
        &encode_request(IpvsMessage::del_service(&k), FAM, 8, 4),
    );
    check_fixture(
        "req_flush",
        "FLUSH, seq 9, ACK",
        &encode_request(IpvsMessage::flush(), FAM, 9, 4),
    );
    check_fixture(
        "req_set_config",
        "SET_CONFIG tcp 900 tcpfin 120 udp 300, seq 10, ACK",
        &encode_request(
            IpvsMessage::set_config(&Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }),
            FAM,
            10,
            4,
        ),
    );
    let d = Daemon {
        state: DaemonState::Master,
        ifname: "eth0".into(),
        sync_id: 51,
        sync_maxlen: Some(1460),
        mcast_group: Some(v4("224.0.0.81")),
        mcast_port: Some(8848),
        mcast_ttl: Some(1),
    };
    check_fixture(
        "req_new_daemon",
        "NEW_DAEMON master eth0 syncid 51 maxlen 1460 group 224.0.0.81 port 8848 ttl 1, seq 11, ACK",
        &encode_request(IpvsMessage::new_daemon(&d), FAM, 11, 4),
    );
    check_fixture(
        "req_dump_services",
        "GET_SERVICE dump (NLM_F_DUMP), seq 12",
        &encode_request(IpvsMessage::dump_services(), FAM, 12, 0x300),
    );
}

/// The request layout, checked field by field against ip_vs.h rather than
/// against our own encoder: nlmsghdr, genlmsghdr, nested service attributes.
#[test]
fn request_layout_matches_uapi() {
    let b = read_fixture("req_new_service_tcp_rr");
    let u16_at = |o: usize| u16::from_ne_bytes([b[o], b[o + 1]]);
    let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    assert_eq!(u32_at(0) as usize, b.len(), "nlmsg_len");
    assert_eq!(u16_at(4), FAM, "nlmsg_type = family id");
    assert_eq!(u16_at(6), 1 | 4, "NLM_F_REQUEST|NLM_F_ACK");
    assert_eq!(u32_at(8), 1, "seq");
    assert_eq!(b[16], IPVS_CMD_NEW_SERVICE);
    assert_eq!(b[17], IPVS_GENL_VERSION);
    // CMD_ATTR_SERVICE, nested flag set, holding the rest of the message.
    assert_eq!(u16_at(20) as usize, b.len() - 20);
    assert_eq!(u16_at(22), IPVS_CMD_ATTR_SERVICE | 0x8000);
    // AF = AF_INET (u16), PROTOCOL = 6 (u16), ADDR 16 bytes, PORT be16 80.
    assert_eq!(
        (u16_at(24), u16_at(26), u16_at(28)),
        (6, IPVS_SVC_ATTR_AF, AF_INET)
    );
    assert_eq!(
        (u16_at(32), u16_at(34), u16_at(36)),
        (6, IPVS_SVC_ATTR_PROTOCOL, 6)
    );
    assert_eq!((u16_at(40), u16_at(42)), (20, IPVS_SVC_ATTR_ADDR));
    assert_eq!(
        &b[44..60],
        &[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!((u16_at(60), u16_at(62)), (6, IPVS_SVC_ATTR_PORT));
    assert_eq!(&b[64..66], &[0, 80]);
    // SCHED_NAME "rr\0".
    assert_eq!((u16_at(68), u16_at(70)), (7, IPVS_SVC_ATTR_SCHED_NAME));
    assert_eq!(&b[72..75], b"rr\0");
    // FLAGS {0, ~0}, TIMEOUT 0, NETMASK 255.255.255.255.
    assert_eq!((u16_at(76), u16_at(78)), (12, IPVS_SVC_ATTR_FLAGS));
    assert_eq!((u32_at(80), u32_at(84)), (0, u32::MAX));
    assert_eq!(
        (u16_at(88), u16_at(90), u32_at(92)),
        (8, IPVS_SVC_ATTR_TIMEOUT, 0)
    );
    assert_eq!((u16_at(96), u16_at(98)), (8, IPVS_SVC_ATTR_NETMASK));
    assert_eq!(&b[100..104], &[255, 255, 255, 255]);
    assert_eq!(b.len(), 104);
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// A kernel-style dump reply: one NEW_SERVICE message per service (flags
/// with HASHED, both stats nests), then NLMSG_DONE.
fn service_dump(entries: &[ServiceEntry], seq: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let msg = IpvsMessage {
            cmd: IpvsCmd::NewService,
            attrs: vec![CmdAttr::Service(message::service_reply_attrs(e))],
        };
        let mut m = encode_request(msg, FAM, seq, 2);
        // Replies do not carry NLM_F_REQUEST.
        m[6] &= !1;
        out.extend(m);
    }
    out.extend(done(seq));
    out
}

fn done(seq: u32) -> Vec<u8> {
    let mut m = vec![0u8; 20];
    m[0..4].copy_from_slice(&20u32.to_ne_bytes());
    m[4..6].copy_from_slice(&3u16.to_ne_bytes());
    m[6..8].copy_from_slice(&2u16.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m
}

fn stats(n: u64) -> Stats {
    Stats {
        conns: n,
        inpkts: n * 10,
        outpkts: n * 9,
        inbytes: n * 1_000_000_000_000,
        outbytes: n * 900,
        cps: 1,
        inpps: 2,
        outpps: 3,
        inbps: 4,
        outbps: 5,
    }
}

#[test]
fn reply_service_dump_fixture() {
    let entries: Vec<ServiceEntry> = sample_services()
        .into_iter()
        .enumerate()
        .map(|(i, service)| ServiceEntry {
            service,
            stats: stats(i as u64 + 1),
        })
        .collect();
    let bytes = service_dump(&entries, 42);
    check_fixture(
        "reply_service_dump",
        "dump of 5 services (rr, persistent wlc, fwmark sh, udp6 ops, sip pe) + DONE, seq 42",
        &bytes,
    );
    let replies = decode_replies(&read_fixture("reply_service_dump"), FAM).unwrap();
    assert_eq!(replies.len(), 6);
    assert_eq!(replies[5].body, ReplyBody::Done(0));
    let got: Vec<ServiceEntry> = replies[..5]
        .iter()
        .map(|r| match &r.body {
            ReplyBody::Message(m) => match &m.attrs[0] {
                CmdAttr::Service(s) => message::service_from_attrs(s).unwrap(),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(got, entries);
    // 64-bit counters survive (the STATS64 nest wins over the 32-bit one).
    assert_eq!(got[3].stats.inbytes, 4_000_000_000_000);
}

#[test]
fn reply_dest_with_tunnel_and_mixed_family() {
    for (i, d) in sample_dests().into_iter().enumerate() {
        let e = DestEntry {
            dest: d,
            active_conns: 7,
            inact_conns: 8,
            persist_conns: 9,
            stats: stats(i as u64),
        };
        let attrs = message::dest_reply_attrs(&e);
        // Through bytes and back.
        let msg = IpvsMessage {
            cmd: IpvsCmd::NewDest,
            attrs: vec![CmdAttr::Dest(attrs)],
        };
        let b = encode_request(msg, FAM, 1, 0);
        let r = decode_replies(&b, FAM).unwrap();
        let ReplyBody::Message(m) = &r[0].body else {
            panic!("not a message")
        };
        let CmdAttr::Dest(d) = &m.attrs[0] else {
            panic!("not a dest")
        };
        // The service family is v4; the v6 dest carries its own ADDR_FAMILY.
        assert_eq!(message::dest_from_attrs(d, Family::Inet).unwrap(), e);
    }
}

#[test]
fn reply_info_and_error_ack() {
    // GET_INFO reply: top-level IPVS_INFO_ATTR_VERSION / CONN_TAB_SIZE.
    let msg = IpvsMessage {
        cmd: IpvsCmd::SetInfo,
        attrs: vec![
            CmdAttr::InfoVersion(0x010201),
            CmdAttr::InfoConnTabSize(4096),
        ],
    };
    let mut b = encode_request(msg, FAM, 3, 0);
    b[6] = 0;
    // NLMSG_ERROR -ESRCH for seq 4 (capped: only the original header).
    let mut err = vec![0u8; 36];
    err[0..4].copy_from_slice(&36u32.to_ne_bytes());
    err[4..6].copy_from_slice(&2u16.to_ne_bytes());
    err[8..12].copy_from_slice(&4u32.to_ne_bytes());
    err[16..20].copy_from_slice(&(-libc::ESRCH).to_ne_bytes());
    b.extend(&err);
    check_fixture(
        "reply_info_then_esrch",
        "GET_INFO reply (version 1.2.1, 4096 buckets) seq 3, then NLMSG_ERROR -ESRCH seq 4",
        &b,
    );
    let r = decode_replies(&read_fixture("reply_info_then_esrch"), FAM).unwrap();
    assert_eq!(
        r[0].body,
        ReplyBody::Message(IpvsMessage {
            cmd: IpvsCmd::SetInfo,
            attrs: vec![
                CmdAttr::InfoVersion(0x010201),
                CmdAttr::InfoConnTabSize(4096)
            ],
        })
    );
    assert_eq!((r[1].seq, &r[1].body), (4, &ReplyBody::Error(libc::ESRCH)));
}

// ---------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------

#[test]
fn every_truncation_is_a_typed_error() {
    let full = read_fixture("reply_service_dump");
    for cut in 0..full.len() {
        // Any prefix either decodes (ends on a message boundary) or errors.
        let _ = decode_replies(&full[..cut], FAM);
    }
    // Cutting inside the first message's header is a Truncated error.
    assert!(matches!(
        decode_replies(&full[..10], FAM),
        Err(DecodeError::Truncated { .. })
    ));
    // A length field larger than the buffer.
    assert!(matches!(
        decode_replies(&full[..40], FAM),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn wrong_attribute_length_is_reported() {
    // PORT (u16) sent on 4 bytes.
    let mut nest = Vec::new();
    nest.extend(8u16.to_ne_bytes());
    nest.extend(IPVS_SVC_ATTR_PORT.to_ne_bytes());
    nest.extend([0, 80, 0, 0]);
    let e = message::parse_svc_attrs(&nest).unwrap_err();
    assert_eq!(
        e,
        DecodeError::BadLength {
            what: "service attribute",
            attr: IPVS_SVC_ATTR_PORT,
            expected: "2",
            got: 4
        }
    );
    // An attribute whose length is below its own header.
    let bad = [2u8, 0, 1, 0];
    assert!(matches!(
        message::parse_svc_attrs(&bad),
        Err(DecodeError::Truncated { .. })
    ));
    // A scheduler name without room for the NUL (16 bytes).
    let mut long = Vec::new();
    long.extend(20u16.to_ne_bytes());
    long.extend(IPVS_SVC_ATTR_SCHED_NAME.to_ne_bytes());
    long.extend([b'a'; 16]);
    assert!(matches!(
        message::parse_svc_attrs(&long),
        Err(DecodeError::BadLength { .. })
    ));
}

#[test]
fn unknown_attributes_are_kept_not_fatal() {
    // A future kernel's attribute 99 inside a service nest is carried as
    // Other and ignored by the typed conversion.
    let s = &sample_services()[0];
    let mut attrs = message::svc_full_attrs(s);
    attrs.push(SvcAttr::Other(netlink_packet_core_default(
        99,
        vec![1, 2, 3, 4],
    )));
    let msg = IpvsMessage {
        cmd: IpvsCmd::NewService,
        attrs: vec![CmdAttr::Service(attrs)],
    };
    let b = encode_request(msg, FAM, 1, 0);
    let r = decode_replies(&b, FAM).unwrap();
    let ReplyBody::Message(m) = &r[0].body else {
        panic!()
    };
    let CmdAttr::Service(attrs) = &m.attrs[0] else {
        panic!()
    };
    assert!(attrs.iter().any(|a| matches!(a, SvcAttr::Other(_))));
    assert_eq!(&message::service_from_attrs(attrs).unwrap().service, s);
}

fn netlink_packet_core_default(kind: u16, v: Vec<u8>) -> netlink_packet_core::DefaultNla {
    netlink_packet_core::DefaultNla::new(kind, v)
}

#[test]
fn missing_mandatory_attributes_are_named() {
    let e = message::service_from_attrs(&[SvcAttr::Af(AF_INET)]).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Missing {
            what: "service",
            attr: "IPVS_SVC_ATTR_PROTOCOL"
        }
    );
    let e = message::dest_from_attrs(&[DestAttr::Port(80)], Family::Inet).unwrap_err();
    assert!(matches!(e, DecodeError::Missing { .. }));
    // A non-contiguous IPv4 persistence netmask cannot be a granularity.
    let mut a = message::svc_full_attrs(&sample_services()[1]);
    for x in a.iter_mut() {
        if let SvcAttr::Netmask(m) = x {
            *m = [255, 0, 255, 0];
        }
    }
    assert!(matches!(
        message::service_from_attrs(&a),
        Err(DecodeError::BadValue { .. })
    ));
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

fn arb_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

fn arb_service() -> impl Strategy<Value = Service> {
    let key = prop_oneof![
        (
            prop_oneof![
                Just(Protocol::Tcp),
                Just(Protocol::Udp),
                Just(Protocol::Sctp)
            ],
            arb_addr(),
            any::<u16>()
        )
            .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                protocol,
                addr,
                port
            }),
        (prop_oneof![Just(Family::Inet), Just(Family::Inet6)], 1u32..)
            .prop_map(|(family, mark)| ServiceKey::Fwmark { family, mark }),
    ];
    (
        key,
        "[a-z]{1,15}",
        proptest::option::of((any::<u32>(), any::<u8>())),
        any::<bool>(),
        any::<(bool, bool, bool)>(),
        proptest::option::of("[a-z]{1,15}"),
    )
        .prop_map(
            |(key, scheduler, pers, one_packet, (f1, f2, f3), pe_name)| {
                let max = key.family().max_prefix();
                Service {
                    key,
                    scheduler,
                    persistence: pers.map(|(timeout, p)| Persistence {
                        timeout,
                        prefix: p % (max + 1),
                    }),
                    one_packet,
                    sched_flags: SchedFlags {
                        flag1: f1,
                        flag2: f2,
                        flag3: f3,
                    },
                    pe_name,
                }
            },
        )
}

fn arb_dest() -> impl Strategy<Value = Dest> {
    let fwd = prop_oneof![
        Just(FwdMethod::Masq),
        Just(FwdMethod::Local),
        Just(FwdMethod::Route),
        Just(FwdMethod::Bypass),
        (0u8..3, any::<u16>(), 0u8..3).prop_map(|(t, port, c)| FwdMethod::Tunnel(Tunnel {
            tun_type: [TunnelType::Ipip, TunnelType::Gue, TunnelType::Gre][t as usize],
            port,
            csum: [TunnelCsum::NoCsum, TunnelCsum::Csum, TunnelCsum::RemCsum][c as usize],
        })),
    ];
    (
        arb_addr(),
        any::<u16>(),
        fwd,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(addr, port, fwd, weight, u_threshold, l_threshold)| Dest {
            key: DestKey { addr, port },
            fwd,
            weight,
            u_threshold,
            l_threshold,
        })
}

proptest! {
    #[test]
    fn service_round_trips(s in arb_service(), n in any::<u64>()) {
        let e = ServiceEntry { service: s, stats: stats(n % 1000) };
        let b = service_dump(std::slice::from_ref(&e), 9);
        let r = decode_replies(&b, FAM).unwrap();
        let ReplyBody::Message(m) = &r[0].body else { panic!() };
        let CmdAttr::Service(a) = &m.attrs[0] else { panic!() };
        prop_assert_eq!(&message::service_from_attrs(a).unwrap(), &e);
        // The table read's lean path (counters skipped) gives the settings.
        let raw = split_replies(&b, FAM).unwrap();
        let RawBody::Message { cmd, attrs } = raw[0].body else { panic!() };
        prop_assert_eq!(message::service_settings_from_body(cmd, attrs).unwrap(), Some(e.service));
    }

    #[test]
    fn dest_round_trips(d in arb_dest()) {
        let e = DestEntry { dest: d, active_conns: 1, inact_conns: 2, persist_conns: 3, stats: stats(4) };
        let msg = IpvsMessage { cmd: IpvsCmd::NewDest, attrs: vec![CmdAttr::Dest(message::dest_reply_attrs(&e))] };
        let b = encode_request(msg, FAM, 1, 0);
        let r = decode_replies(&b, FAM).unwrap();
        let ReplyBody::Message(m) = &r[0].body else { panic!() };
        let CmdAttr::Dest(a) = &m.attrs[0] else { panic!() };
        prop_assert_eq!(&message::dest_from_attrs(a, Family::Inet).unwrap(), &e);
        let raw = split_replies(&b, FAM).unwrap();
        let RawBody::Message { cmd, attrs } = raw[0].body else { panic!() };
        prop_assert_eq!(message::dest_settings_from_body(cmd, attrs, Family::Inet).unwrap(), Some(e.dest));
        // Another command's message is not a destination.
        prop_assert_eq!(message::dest_settings_from_body(IpvsCmd::NewService.to_u8(), attrs, Family::Inet).unwrap(), None);
    }

    /// The one-pass request encoder writes what netlink-packet-core's
    /// `GenlMessage`/`NetlinkMessage` serialisation writes.
    #[test]
    fn requests_encode_like_netlink_packet_core(s in arb_service(), d in arb_dest(), seq in any::<u32>()) {
        for msg in [
            IpvsMessage::new_service(&s),
            IpvsMessage::set_service(&s),
            IpvsMessage::del_service(&s.key),
            IpvsMessage::new_dest(&s.key, &d),
            IpvsMessage::del_dest(&s.key, &d.key),
            IpvsMessage::dump_dests(&s.key),
            IpvsMessage::zero(Some(&s.key)),
        ] {
            let mut genl = netlink_packet_generic::GenlMessage::from_payload(msg.clone());
            genl.set_resolved_family_id(FAM);
            genl.finalize();
            let mut nl = netlink_packet_core::NetlinkMessage::from(genl);
            nl.header.flags = 4 | netlink_packet_core::NLM_F_REQUEST;
            nl.header.sequence_number = seq;
            nl.finalize();
            let mut want = vec![0u8; nl.buffer_len()];
            nl.serialize(&mut want);
            prop_assert_eq!(encode_request(msg, FAM, seq, 4), want);
        }
    }

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_replies(&b, FAM);
    }

    /// Corrupting one byte of a valid reply never panics either.
    #[test]
    fn corrupted_reply_never_panics(pos in any::<usize>(), val in any::<u8>()) {
        let mut b = read_fixture("reply_service_dump");
        let i = pos % b.len();
        b[i] = val;
        if let Ok(replies) = decode_replies(&b, FAM) {
            for r in replies {
                if let ReplyBody::Message(m) = r.body {
                    for a in m.attrs {
                        if let CmdAttr::Service(s) = a {
                            let _ = message::service_from_attrs(&s);
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Real kernel replies (captured by tests/tests/lab_ipvs.rs from Debian's 6.1
// kernel with IPVS_UPDATE_FIXTURES=1; the table was built by ipvsadm -R)
// ---------------------------------------------------------------------------

/// Bytes and the family id noted in the fixture's first line.
fn kernel_fixture(name: &str) -> (u16, Vec<u8>) {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let fam = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# family-id "))
        .and_then(|l| l.split(';').next())
        .and_then(|n| n.parse().ok())
        .expect("family-id comment");
    (fam, from_hex(&text))
}

fn kernel_messages(name: &str) -> Vec<CmdAttr> {
    let (fam, b) = kernel_fixture(name);
    let replies = decode_replies(&b, fam).unwrap();
    assert_eq!(replies.last().map(|r| &r.body), Some(&ReplyBody::Done(0)));
    replies
        .into_iter()
        .filter_map(|r| match r.body {
            ReplyBody::Message(m) => Some(m.attrs.into_iter().next().unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn kernel_service_dump_decodes() {
    let mut got: Vec<String> = kernel_messages("kernel_services_dump")
        .into_iter()
        .map(|a| match a {
            CmdAttr::Service(s) => {
                let e = message::service_from_attrs(&s).unwrap();
                assert_eq!(e.stats, Stats::default(), "fresh services");
                ipvs::show::service_line(&e.service)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    got.sort();
    // ipvsadm -Ln's lines for the same table (lab_ipvs checks them live).
    assert_eq!(
        got,
        vec![
            "FWM  7 sh (sh-fallback,sh-port)",
            "FWM  8 IPv6 wrr",
            "SCTP  10.0.0.104:9000 rr",
            "TCP  10.0.0.100:80 rr",
            "TCP  10.0.0.101:443 wlc persistent 360 mask 255.255.255.0",
            "TCP  10.0.0.102:80 lc",
            "UDP  10.0.0.103:5060 rr persistent 30 pe sip",
            "UDP  [2001:db8::100]:53 rr ops",
        ]
    );
}

#[test]
fn kernel_dest_dumps_decode() {
    let dests = |name: &str, fam: Family| -> Vec<Dest> {
        let mut v: Vec<Dest> = kernel_messages(name)
            .into_iter()
            .map(|a| match a {
                CmdAttr::Dest(d) => message::dest_from_attrs(&d, fam).unwrap().dest,
                other => panic!("{other:?}"),
            })
            .collect();
        v.sort_by_key(|d| d.key);
        // The table read's lean path over the same kernel bytes agrees.
        let (id, b) = kernel_fixture(name);
        let mut lean: Vec<Dest> = split_replies(&b, id)
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.body {
                RawBody::Message { cmd, attrs } => {
                    message::dest_settings_from_body(cmd, attrs, fam).unwrap()
                }
                _ => None,
            })
            .collect();
        lean.sort_by_key(|d| d.key);
        assert_eq!(lean, v, "{name}");
        v
    };
    let mut t = Dest::new(v4("10.0.0.22"), 8443, FwdMethod::Masq, 0);
    t.u_threshold = 100;
    t.l_threshold = 10;
    assert_eq!(
        dests("kernel_dests_dump_tcp_10_0_0_101_443", Family::Inet),
        vec![Dest::new(v4("10.0.0.21"), 8443, FwdMethod::Masq, 3), t]
    );
    assert_eq!(
        dests("kernel_dests_dump_tcp_10_0_0_102_80", Family::Inet),
        vec![Dest::new(
            v4("10.0.0.41"),
            80,
            FwdMethod::Tunnel(Tunnel::default()),
            1
        )]
    );
    assert_eq!(
        dests("kernel_dests_dump_udp_2001_db8__100_53", Family::Inet6),
        vec![Dest::new(v4("2001:db8::11"), 53, FwdMethod::Masq, 1)]
    );
    assert_eq!(
        dests("kernel_dests_dump_fwm_8", Family::Inet6),
        vec![Dest::new(v4("2001:db8::71"), 0, FwdMethod::Route, 4)]
    );
    assert_eq!(
        dests("kernel_dests_dump_sctp_10_0_0_104_9000", Family::Inet),
        vec![Dest::new(v4("10.0.0.61"), 9000, FwdMethod::Route, 1)]
    );
    assert_eq!(
        dests("kernel_dests_dump_fwm_7", Family::Inet),
        vec![
            Dest::new(v4("10.0.0.31"), 0, FwdMethod::Route, 1),
            Dest::new(v4("10.0.0.32"), 0, FwdMethod::Route, 1)
        ]
    );
}

#[test]
fn kernel_replies_survive_every_truncation() {
    let (fam, b) = kernel_fixture("kernel_services_dump");
    for cut in 0..b.len() {
        let _ = decode_replies(&b[..cut], fam);
    }
}
