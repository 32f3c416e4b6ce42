//! Benchmark of the per-advert protocol work: the receive checks and one
//! state machine step (run with `cargo bench -p vrrp --bench rx_step`).
//! Prints nanoseconds per operation and what 1,000 instances at one advert
//! per second would cost (goal: <= 2% of a core for the whole daemon).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant as WallClock;

use vrrp::check::Receiver;
use vrrp::fsm::{Action, Input, Instance, InstanceCfg, State};
use vrrp::packet::{self, Ipv4Header, Ipv4Packet, Version};
use vrrp::timers::Instant;

fn measure(name: &str, iters: u64, mut f: impl FnMut(u64)) -> f64 {
    // Warm up, then time.
    for i in 0..iters / 10 {
        f(i);
    }
    let t = WallClock::now();
    for i in 0..iters {
        f(i);
    }
    let ns = t.elapsed().as_nanos() as f64 / iters as f64;
    println!(
        "{name:<48} {ns:>9.1} ns/op   1000 instances x 1/s: {:.4}% of a core",
        ns * 1000.0 / 1e9 * 100.0
    );
    ns
}

fn main() {
    let vips: Vec<IpAddr> = (1..=5)
        .map(|i| IpAddr::V4(Ipv4Addr::new(192, 168, 200, i)))
        .collect();
    let mut cfg = InstanceCfg::new("VI_1", Version::V2, 51, vips);
    cfg.src_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    let peer = Ipv4Packet {
        ip: Ipv4Header {
            tos: 0xc0,
            id: 1,
            frag: 0,
            ttl: 255,
            protocol: packet::IPPROTO_VRRP,
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: packet::MCAST_V4,
        },
        ah: None,
        advert: cfg.advert(150),
    };
    let good = match peer.encode(false) {
        Ok(b) => b,
        Err(e) => panic!("encode: {e}"),
    };
    let mut bad = good.clone();
    bad[27] ^= 1;

    let mut rx = Receiver::new(cfg.rx_cfg());
    measure("check_ipv4, valid advert (5 VIPs)", 2_000_000, |_| {
        black_box(rx.check_ipv4(black_box(&good), None).is_ok());
    });
    measure("check_ipv4, bad checksum", 2_000_000, |_| {
        black_box(rx.check_ipv4(black_box(&bad), None).is_err());
    });

    let mut backup = match Instance::new(cfg.clone()) {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    };
    backup.step(Instant::ZERO, Input::Startup);
    let mut out: Vec<Action> = Vec::with_capacity(8);
    measure(
        "check_ipv4 + step (BACKUP follows master)",
        2_000_000,
        |i| {
            let now = Instant::from_micros(i * 1000);
            if let Ok(adv) = rx.check_ipv4(&good, backup.followed_master()) {
                out.clear();
                backup.step_into(now, Input::Advert(adv), &mut out);
            }
            black_box(out.len());
        },
    );
    assert_eq!(backup.state(), State::Backup);

    let mut master = match Instance::new(cfg) {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    };
    master.step(Instant::ZERO, Input::Startup);
    let first = master.next_deadline().unwrap_or(Instant::ZERO);
    master.step(first, Input::Timer);
    measure("step_into, MASTER advert timer", 2_000_000, |_| {
        let now = master.next_deadline().unwrap_or(Instant::ZERO);
        out.clear();
        master.step_into(now, Input::Timer, &mut out);
        black_box(out.len());
    });
    measure("Advert::encode (5 VIPs)", 2_000_000, |_| {
        black_box(
            peer.advert
                .encode(&packet::Checksum::V3AsV2)
                .map(|v| v.len())
                .unwrap_or(0),
        );
    });
}
