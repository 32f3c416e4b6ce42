//! Property tests of the state machine under random input sequences (fake
//! clock): VIPs are held exactly while MASTER, a timer runs exactly in BACKUP
//! and MASTER, nothing happens after STOP, and packets that fail the receive
//! checks never change anything, the master's advert schedule included.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use proptest::prelude::*;

use vrrp::check::{Receiver, RxAdvert};
use vrrp::fsm::{Action, InitialState, Input, Instance, InstanceCfg, State};
use vrrp::packet::{self, Ipv4Header, Version};
use vrrp::timers::Instant;

fn cfg(
    version: Version,
    priority: u8,
    state_master: bool,
    nopreempt: bool,
    delay: u8,
) -> InstanceCfg {
    let vips = vec![IpAddr::V4(Ipv4Addr::new(192, 168, 200, 16))];
    let mut c = InstanceCfg::new("VI_P", version, 51, vips);
    c.priority = priority;
    c.initial_state = if state_master {
        InitialState::Master
    } else {
        InitialState::Backup
    };
    c.nopreempt = nopreempt;
    c.preempt_delay = Duration::from_secs(u64::from(delay % 4));
    c.src_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)));
    c
}

#[derive(Debug, Clone)]
enum Ev {
    Wait(u32),
    Advert { src: u8, priority: u8, int_cs: u16 },
    IfDown,
    IfUp,
    Track(bool),
    Delta(i16),
    Shutdown,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        4 => (1u32..3_000_000).prop_map(Ev::Wait),
        4 => (1u8..10, any::<u8>(), 1u16..300).prop_map(|(src, priority, int_cs)| Ev::Advert { src, priority, int_cs }),
        1 => Just(Ev::IfDown),
        1 => Just(Ev::IfUp),
        1 => any::<bool>().prop_map(Ev::Track),
        1 => any::<i16>().prop_map(Ev::Delta),
        1 => Just(Ev::Shutdown),
    ]
}

/// Steps `inst` and checks the invariants on what it did.
struct Driver {
    inst: Instance,
    now: Instant,
    vips_held: bool,
}

impl Driver {
    fn apply(&mut self, input: Input) -> Result<(), TestCaseError> {
        let before = self.inst.state();
        let acts = self.inst.step(self.now, input);
        for a in &acts {
            match a {
                Action::AddVips => {
                    prop_assert!(!self.vips_held, "VIPs added twice");
                    self.vips_held = true;
                }
                // Start-up removes leftovers whatever is held.
                Action::RemoveVips if before != State::Init => {
                    prop_assert!(self.vips_held, "VIPs removed while not held");
                    self.vips_held = false;
                }
                _ => {}
            }
        }
        let s = self.inst.state();
        prop_assert_eq!(
            self.vips_held,
            s == State::Master,
            "VIPs held iff MASTER ({:?})",
            s
        );
        let timer_expected = matches!(s, State::Master | State::Backup);
        prop_assert_eq!(
            self.inst.next_deadline().is_some(),
            timer_expected,
            "timer in {:?}",
            s
        );
        if let Some(t) = self.inst.next_deadline() {
            prop_assert!(t >= self.now, "deadline in the past");
        }
        if before == State::Stop {
            prop_assert!(acts.is_empty(), "acted after STOP");
        }
        Ok(())
    }

    fn wait(&mut self, d: Duration) -> Result<(), TestCaseError> {
        let until = self.now + d;
        for _ in 0..10_000 {
            match self.inst.next_deadline() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.apply(Input::Timer)?;
                }
                _ => break,
            }
        }
        self.now = until;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold(v3 in any::<bool>(), prio in 1u8..=255, sm in any::<bool>(), np in any::<bool>(), delay in any::<u8>(),
                       evs in prop::collection::vec(ev(), 0..60)) {
        let version = if v3 { Version::V3 } else { Version::V2 };
        let inst = Instance::new(cfg(version, prio, sm, np, delay)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut d = Driver { inst, now: Instant::ZERO, vips_held: false };
        d.apply(Input::Startup)?;
        for e in evs {
            match e {
                Ev::Wait(us) => d.wait(Duration::from_micros(u64::from(us)))?,
                Ev::Advert { src, priority, int_cs } => {
                    let adver_int = if v3 { Duration::from_millis(u64::from(int_cs) * 10) } else { Duration::from_secs(1) };
                    let adv = RxAdvert { src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, src)), priority, adver_int };
                    d.apply(Input::Advert(adv))?;
                }
                Ev::IfDown => d.apply(Input::InterfaceDown)?,
                Ev::IfUp => d.apply(Input::InterfaceUp)?,
                Ev::Track(b) => d.apply(Input::TrackFault(b))?,
                Ev::Delta(x) => d.apply(Input::PriorityDelta(i32::from(x)))?,
                Ev::Shutdown => d.apply(Input::Shutdown)?,
            }
        }
    }

    /// A master flooded with packets that fail the checks keeps sending one
    /// advert per interval on the original schedule (keepalived 2.2.7 does
    /// not: it re-arms its advert timer on every packet).
    #[test]
    fn master_schedule_survives_invalid_floods(junk in prop::collection::vec((0u32..1_000_000, prop::collection::vec(any::<u8>(), 0..64), 0usize..6), 1..200)) {
        let c = cfg(Version::V2, 100, false, false, 0);
        let mut rx = Receiver::new(c.rx_cfg());
        let mut inst = Instance::new(c.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut now = Instant::ZERO;
        inst.step(now, Input::Startup);
        // Become master at the master-down timeout.
        now = inst.next_deadline().ok_or_else(|| TestCaseError::fail("no timer"))?;
        inst.step(now, Input::Timer);
        prop_assert_eq!(inst.state(), State::Master);
        let start = now;
        let mut sent = Vec::new();
        // A valid packet from a higher-priority peer, then spoiled.
        let good = {
            let a = c.advert(200);
            let src = Ipv4Addr::new(10, 0, 0, 9);
            let p = packet::Ipv4Packet {
                ip: Ipv4Header { tos: 0xc0, id: 1, frag: 0, ttl: 255, protocol: packet::IPPROTO_VRRP, src, dst: packet::MCAST_V4 },
                ah: None,
                advert: a,
            };
            p.encode(false).map_err(|e| TestCaseError::fail(e.to_string()))?
        };
        for (gap, bytes, how) in junk {
            let t = now + Duration::from_micros(u64::from(gap));
            while let Some(dl) = inst.next_deadline().filter(|dl| *dl <= t) {
                for a in inst.step(dl, Input::Timer) {
                    if let Action::SendAdvert { .. } = a { sent.push(dl); }
                }
            }
            now = t;
            let pkt = match how {
                0 => bytes,
                1 => { let mut g = good.clone(); g[8] = 64; g }          // TTL
                2 => { let mut g = good.clone(); g[27] ^= 1; g }         // checksum
                3 => { let mut g = good.clone(); g[21] = 52; g }         // VRID
                4 => { let mut g = good.clone(); g.truncate(g.len() - 1); g } // length
                _ => { let mut g = good.clone(); g[20] = 0x31; g }       // version
            };
            if let Ok(adv) = rx.check_ipv4(&pkt, inst.followed_master()) {
                inst.step(now, Input::Advert(adv));
            }
            prop_assert_eq!(inst.state(), State::Master);
        }
        for (k, t) in sent.iter().enumerate() {
            prop_assert_eq!(*t, start + Duration::from_secs(k as u64 + 1), "advert {} off schedule", k);
        }
    }
}
