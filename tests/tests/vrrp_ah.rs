//! VRRPv2 `auth_type AH` between keepalived-rs and the real keepalived 2.2.7
//! in network namespaces, each way round: the higher priority holds the VIP
//! alone, the backup takes over when the master is stopped with SIGTERM
//! (its priority-0 advert must verify), the restarted master preempts again
//! (its AH sequence numbers restart at 1 while the backup's counter is
//! higher: keepalived's shared counter makes the preempting side continue
//! above the peer's numbers), and a node with a wrong AH password is ignored
//! by the other, so both hold the VIP. Multicast and unicast (where the ICV
//! leaves the TTL out).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;
use testlab::keepalived::{Auth, Keepalived, KeepalivedCfg, StartOpts, VrrpInstanceCfg};
use testlab::netns::{Lab, Topology};
use testlab::Need;

const NEEDS: &[Need] = &[Need::Root, Need::Program("keepalived"), Need::Program("ip")];
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 32, 0, 100));
const HIGH: u8 = 150;
const LOW: u8 = 100;

/// One scenario at a time: parallel daemons on 2 cores skew the timings.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Ours,
    Keepalived,
}

fn our_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BIN.get_or_init(testlab::confgen::run::our_binary)
        .clone()
        .unwrap_or_else(|e| panic!("keepalived-rs binary: {e}"))
}

/// Host `me` (1 or 2) at 10.32.0.`me`; `unicast` sends to the other host
/// (the ICV then leaves the TTL out, as keepalived does).
fn config(me: u8, priority: u8, pass: &str, unicast: bool) -> String {
    let mut inst = VrrpInstanceCfg::new("eth0", 53, priority)
        .version(2)
        .advert_int(1.0)
        .vip("10.32.0.100/24")
        .auth(Auth::Ah(pass.to_string()));
    if unicast {
        let addr = |i: u8| IpAddr::V4(Ipv4Addr::new(10, 32, 0, i));
        inst = inst.unicast(Some(addr(me)), &[addr(3 - me)]);
    }
    KeepalivedCfg::single(&format!("r{me}"), inst).render()
}

fn start(which: Impl, lab: &Lab, host: &str, config: &str) -> Keepalived {
    let h = lab
        .host(host)
        .unwrap_or_else(|e| panic!("host {host}: {e}"));
    let opts = StartOpts {
        // keepalived logs every rejected advert; no syslog flood (labs.md).
        no_syslog: which == Impl::Keepalived,
        extra_args: Vec::new(),
        program: (which == Impl::Ours).then(our_binary),
    };
    Keepalived::start_with(h, config, &opts).unwrap_or_else(|e| panic!("start {which:?}: {e}"))
}

fn logs(ds: &[&Keepalived]) -> String {
    ds.iter()
        .map(|d| d.log())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// `host` alone holds the VIP within `timeout`, then for 3 s sampled every
/// 20 ms.
fn sole_steady(lab: &Lab, host: &str, timeout: Duration, ds: &[&Keepalived]) {
    if let Err(e) = lab.wait_sole_holder(VIP, host, timeout) {
        panic!("{host} never became the sole holder: {e}\n{}", logs(ds));
    }
    let s = lab
        .sample_holders(VIP, Duration::from_secs(3), Duration::from_millis(20))
        .unwrap_or_else(|e| panic!("sample: {e}"));
    let bad = s.not_solely(host);
    assert!(
        bad.is_empty(),
        "{host} not the sole holder in {} of {} samples, first {:?}\n{}",
        bad.len(),
        s.len(),
        bad.first(),
        logs(ds)
    );
}

fn run(high: Impl, low: Impl, unicast: bool) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Topology::new()
        .iface("a", "eth0", Some("lan"), &["10.32.0.1/24"])
        .iface("b", "eth0", Some("lan"), &["10.32.0.2/24"])
        .build()
        .unwrap_or_else(|e| panic!("build lab: {e}"));

    // 1. Election over AH: exactly one holder.
    let mut hi = start(high, &lab, "a", &config(1, HIGH, "k3y", unicast));
    let mut lo = start(low, &lab, "b", &config(2, LOW, "k3y", unicast));
    sole_steady(&lab, "a", Duration::from_secs(15), &[&hi, &lo]);

    // 2. SIGTERM of the master: its priority-0 AH advert makes the backup
    //    take over after its skew (< 1 s), well before the 3 s down timer.
    let (st, in_time) = hi
        .stop(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("stop: {e}"));
    assert!(in_time && st.success(), "{high:?} did not exit 0: {st:?}");
    if let Err(e) = lab.wait_sole_holder(VIP, "b", Duration::from_secs(2)) {
        panic!("no takeover within 2 s of SIGTERM: {e}\n{}", logs(&[&lo]));
    }

    // 3. The master comes back with its sequence numbers from 1 and
    //    preempts; the backup releases.
    let mut hi = start(high, &lab, "a", &config(1, HIGH, "k3y", unicast));
    sole_steady(&lab, "a", Duration::from_secs(10), &[&hi, &lo]);
    let _ = hi.stop(Duration::from_secs(5));
    let _ = lab.wait_sole_holder(VIP, "b", Duration::from_secs(5));

    // 4. Wrong password on the higher priority: each side drops the other's
    //    adverts (ICV mismatch), so both are master.
    let mut bad = start(high, &lab, "a", &config(1, HIGH, "wr0ng", unicast));
    if let Err(e) = lab.wait_holders(VIP, Duration::from_secs(10), |h| h.len() == 2) {
        panic!(
            "a wrong AH password was not ignored: {e}\n{}",
            logs(&[&bad, &lo])
        );
    }
    let s = lab
        .sample_holders(VIP, Duration::from_secs(3), Duration::from_millis(50))
        .unwrap_or_else(|e| panic!("sample: {e}"));
    let lapses: Vec<_> = s.0.iter().filter(|(_, h)| h.len() != 2).collect();
    assert!(
        !s.is_empty() && lapses.is_empty(),
        "one side accepted adverts signed with a wrong password: {lapses:?}\n{}",
        logs(&[&bad, &lo])
    );
    let _ = bad.stop(Duration::from_secs(5));
    let _ = lo.stop(Duration::from_secs(5));
}

/// One lab test per direction and transport.
macro_rules! lab {
    ($name:ident, $high:expr, $low:expr, $unicast:expr) => {
        #[test]
        fn $name() {
            if !testlab::lab_guard(stringify!($name), NEEDS) {
                return;
            }
            run($high, $low, $unicast);
        }
    };
}

lab!(
    vrrp_ah_ours_master_keepalived_backup,
    Impl::Ours,
    Impl::Keepalived,
    false
);
lab!(
    vrrp_ah_keepalived_master_ours_backup,
    Impl::Keepalived,
    Impl::Ours,
    false
);
lab!(
    vrrp_ah_unicast_ours_master_keepalived_backup,
    Impl::Ours,
    Impl::Keepalived,
    true
);
lab!(
    vrrp_ah_unicast_keepalived_master_ours_backup,
    Impl::Keepalived,
    Impl::Ours,
    true
);
