//! Protocol time: the state machine's clock type and the VRRP timer formulas
//! (skew time and master-down interval), computed in microseconds exactly as
//! keepalived 2.2.7 does so that failover happens at the same instant.

use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::packet::Version;

/// A point on a monotonic clock, as a duration since an arbitrary epoch (the
/// runtime's start). The state machine never reads a clock: every input
/// carries `now`, so tests drive it with a fake one.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Instant(Duration);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `d` after the epoch.
    pub const fn from_duration(d: Duration) -> Instant {
        Instant(d)
    }

    /// The instant `us` microseconds after the epoch.
    pub const fn from_micros(us: u64) -> Instant {
        Instant(Duration::from_micros(us))
    }

    /// Time since the epoch.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Microseconds since the epoch (saturating).
    pub fn as_micros(self) -> u64 {
        u64::try_from(self.0.as_micros()).unwrap_or(u64::MAX)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// Seconds since the epoch as a float (for traces and logs).
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d))
    }
}

/// Skew_Time for `priority` (RFC 3768 6.1: (256 - Priority) / 256 seconds;
/// RFC 5798 6.1: ((256 - Priority) * Master_Adver_Interval) / 256).
///
/// keepalived 2.2.7 computes it in whole microseconds: v2 as
/// `(256 - p) * 1_000_000 / 256` (independent of the interval, as RFC 3768
/// says), v3 as `(256 - p) * centiseconds * 625 / 16` (VRRP_TIMER_SKEW).
pub fn skew(version: Version, priority: u8, master_adver_int: Duration) -> Duration {
    skew_units(version, 256 - u64::from(priority), master_adver_int)
}

/// The smallest skew (one priority step), keepalived's VRRP_TIMER_SKEW_MIN.
pub fn skew_min(version: Version, master_adver_int: Duration) -> Duration {
    skew_units(version, 1, master_adver_int)
}

fn skew_units(version: Version, units: u64, master_adver_int: Duration) -> Duration {
    let us = match version {
        Version::V2 => units * 1_000_000 / 256,
        Version::V3 => {
            let cs = u64::try_from(master_adver_int.as_millis() / 10).unwrap_or(u64::MAX);
            units.saturating_mul(cs).saturating_mul(625) / 16
        }
    };
    Duration::from_micros(us)
}

/// Master_Down_Interval = down_timer_adverts (3 in the RFCs) x
/// Master_Adver_Interval + Skew_Time (RFC 3768 6.1, RFC 5798 6.1;
/// keepalived's VRRP_MS_DOWN_TIMER with `down_timer_adverts`).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_int: Duration,
    down_adverts: u32,
) -> Duration {
    master_adver_int.saturating_mul(down_adverts) + skew(version, priority, master_adver_int)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        let s = Duration::from_secs(1);
        // Priority 100, 1 s: 3.609375 s (anchors 1.1: "at most 3.6 seconds").
        assert_eq!(
            master_down_interval(Version::V2, 100, s, 3),
            Duration::from_micros(3_609_375)
        );
        assert_eq!(
            master_down_interval(Version::V3, 100, s, 3),
            Duration::from_micros(3_609_375)
        );
        // Priority 128: 3.5 s (keepalived.conf(5) preempt_delay text).
        assert_eq!(
            master_down_interval(Version::V2, 128, s, 3),
            Duration::from_millis(3500)
        );
        // v3 at 0.1 s: 0.3609375 s.
        let cs10 = Duration::from_millis(100);
        assert_eq!(
            master_down_interval(Version::V3, 100, cs10, 3),
            Duration::from_nanos(360_937_000)
        );
        // v2 skew ignores the interval; v3 scales with it.
        assert_eq!(
            skew(Version::V2, 1, Duration::from_secs(10)),
            Duration::from_micros(996_093)
        );
        assert_eq!(
            skew(Version::V3, 1, Duration::from_secs(10)),
            Duration::from_micros(9_960_937)
        );
        assert_eq!(skew(Version::V2, 255, s), Duration::from_micros(3906));
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_micros(5);
        assert_eq!(t - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!((t + Duration::from_micros(5)).as_micros(), 10);
    }
}
