//! Text reports of the running instances in keepalived 2.2.7's formats:
//! `/tmp/keepalived.stats` (SIGUSR2) and the VRRP part of
//! `/tmp/keepalived.data` (SIGUSR1). Field names and layout were copied
//! from the files keepalived 2.2.7 writes; only fields keepalived-rs knows
//! are listed in the data dump.

use super::InstanceStatus;
use crate::check::DropReason;
use crate::fsm::State;
use std::fmt::Write as _;

fn state_name(s: State) -> &'static str {
    match s {
        State::Init => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
        State::Stop => "STOP",
    }
}

/// keepalived's `/tmp/keepalived.stats`, one block per instance.
pub fn render_stats(instances: &[InstanceStatus]) -> String {
    let mut s = String::new();
    for i in instances {
        let d = |r: DropReason| i.rx.dropped(r);
        let _ = write!(
            s,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    Sent: {}\n",
            i.name,
            i.rx.adverts,
            i.fsm.advert_sent,
            i.fsm.become_master,
            i.fsm.release_master,
            d(DropReason::PacketLength) + d(DropReason::IpHeader),
            d(DropReason::IpTtl),
            d(DropReason::InvalidType),
            d(DropReason::AdvertInterval),
            d(DropReason::AddrList),
            d(DropReason::InvalidAuthType),
            d(DropReason::AuthTypeMismatch),
            d(DropReason::AuthFailure),
            i.rx.pri_zero,
            i.fsm.pri_zero_sent,
        );
    }
    s
}

/// The "VRRP Topology" section of keepalived's `/tmp/keepalived.data`.
pub fn render_data(instances: &[InstanceStatus]) -> String {
    let mut s = String::from("------< VRRP Topology >------\n");
    for i in instances {
        let adv = i.advert_int;
        let interval = if adv.subsec_millis() == 0 {
            format!("{} sec", adv.as_secs())
        } else {
            format!("{} milli-sec", adv.as_millis())
        };
        let _ = write!(
            s,
            " VRRP Instance = {}\n   VRRP Version = {}\n   State = {}\n   Interface = {}\n   Using src_ip = {}\n   Virtual Router ID = {}\n   Priority = {}\n   Effective priority = {}\n   Advert interval = {interval}\n",
            i.name,
            i.version,
            state_name(i.state),
            i.interface,
            i.src,
            i.vrid,
            i.priority,
            i.effective_priority,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::RxStats;
    use crate::fsm::FsmStats;
    use std::time::Duration;

    fn status() -> InstanceStatus {
        let mut rx = RxStats {
            adverts: 7,
            pri_zero: 1,
            ..RxStats::default()
        };
        rx.drops[DropReason::IpTtl.index()] = 3;
        rx.drops[DropReason::AuthFailure.index()] = 2;
        InstanceStatus {
            name: "VI_1".into(),
            state: State::Master,
            version: 2,
            vrid: 51,
            interface: "eth0".into(),
            src: "10.9.0.1"
                .parse()
                .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
            priority: 150,
            effective_priority: 150,
            advert_int: Duration::from_secs(1),
            rx,
            fsm: FsmStats {
                advert_sent: 2,
                become_master: 1,
                ..FsmStats::default()
            },
        }
    }

    #[test]
    fn stats_have_keepalived_layout() {
        let s = render_stats(&[status()]);
        assert!(s.starts_with("VRRP Instance: VI_1\n  Advertisements:\n    Received: 7\n    Sent: 2\n  Became master: 1\n"));
        assert!(s.contains("    TTL: 3\n"));
        assert!(s.contains(
            "  Authentication Errors:\n    Invalid Type: 0\n    Type Mismatch: 0\n    Failure: 2\n"
        ));
        assert!(s.ends_with("  Priority Zero:\n    Received: 1\n    Sent: 0\n"));
    }

    #[test]
    fn data_names_state_and_priorities() {
        let s = render_data(&[status()]);
        assert!(s.contains(" VRRP Instance = VI_1\n   VRRP Version = 2\n   State = MASTER\n"));
        assert!(s.contains("   Virtual Router ID = 51\n"));
        assert!(s.contains("   Advert interval = 1 sec\n"));
    }
}
