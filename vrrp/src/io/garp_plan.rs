//! When a master sends its gratuitous ARPs / unsolicited NAs: keepalived's
//! schedule, kept apart from the sockets so it can be tested with a fake
//! clock.
//!
//! keepalived 2.2.7 (reference 4.8, measured in labs.md): on becoming
//! MASTER `garp_master_repeat` (5) at once, a second batch of the same size
//! `garp_master_delay` (5 s) later, then `garp_master_refresh_repeat` every
//! `garp_master_refresh` seconds while MASTER (off by default). A master that
//! receives a lower-priority advert sends `garp_lower_prio_repeat` after
//! `garp_lower_prio_delay`. `vrrp_garp_interval` / `vrrp_gna_interval`
//! space the packets of one batch. `vrrp_min_garp` means one GARP only.

use std::collections::VecDeque;
use std::time::Duration;

/// The GARP settings of one instance (already resolved from global and
/// instance keywords).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpCfg {
    pub master_delay: Duration,
    pub master_repeat: u32,
    pub master_refresh: Duration,
    pub master_refresh_repeat: u32,
    pub lower_prio_delay: Duration,
    pub lower_prio_repeat: u32,
    /// Spacing of packets within a batch (garp_interval / gna_interval).
    pub interval: Duration,
}

impl Default for GarpCfg {
    /// keepalived's defaults.
    fn default() -> Self {
        GarpCfg {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            interval: Duration::ZERO,
        }
    }
}

impl GarpCfg {
    /// `vrrp_min_garp`: a single GARP on becoming master, nothing more.
    pub fn min_garp() -> Self {
        GarpCfg {
            master_delay: Duration::ZERO,
            master_repeat: 1,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::ZERO,
            lower_prio_repeat: 1,
            interval: Duration::ZERO,
        }
    }
}

/// Pending GARP rounds of one instance. Each due "round" is one GARP (or
/// NA) per VIP. Generic over the clock so tests use plain durations.
#[derive(Debug, Clone, Default)]
pub struct GarpPlan<T> {
    due: VecDeque<T>,
    refresh_at: Option<T>,
}

impl<T> GarpPlan<T>
where
    T: Copy + Ord + std::ops::Add<Duration, Output = T>,
{
    pub fn new() -> Self {
        GarpPlan {
            due: VecDeque::new(),
            refresh_at: None,
        }
    }

    fn push_batch(&mut self, start: T, count: u32, cfg: &GarpCfg) {
        let mut at = start;
        for _ in 0..count {
            self.due.push_back(at);
            at = at + cfg.interval;
        }
        self.due.make_contiguous().sort();
    }

    /// Becoming MASTER: replaces whatever was pending.
    pub fn on_master(&mut self, now: T, cfg: &GarpCfg) {
        self.clear();
        self.push_batch(now, cfg.master_repeat, cfg);
        if !cfg.master_delay.is_zero() {
            self.push_batch(now + cfg.master_delay, cfg.master_repeat, cfg);
        }
        if !cfg.master_refresh.is_zero() {
            self.refresh_at = Some(now + cfg.master_refresh);
        }
    }

    /// A MASTER saw a lower-priority advert ("forcing new election").
    pub fn on_lower_prio(&mut self, now: T, cfg: &GarpCfg) {
        self.push_batch(now + cfg.lower_prio_delay, cfg.lower_prio_repeat, cfg);
    }

    /// Leaving MASTER: nothing more is sent.
    pub fn clear(&mut self) {
        self.due.clear();
        self.refresh_at = None;
    }

    /// The next instant something is due.
    pub fn next_due(&self) -> Option<T> {
        match (self.due.front().copied(), self.refresh_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes and counts the rounds due at `now`; a due refresh queues its
    /// batch and re-arms itself.
    pub fn take_due(&mut self, now: T, cfg: &GarpCfg) -> usize {
        if let Some(r) = self.refresh_at.filter(|r| *r <= now) {
            self.push_batch(r, cfg.master_refresh_repeat, cfg);
            self.refresh_at = Some(r + cfg.master_refresh);
        }
        let mut n = 0;
        while self.due.front().is_some_and(|t| *t <= now) {
            self.due.pop_front();
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    #[test]
    fn default_is_five_now_and_five_after_five_seconds() {
        let cfg = GarpCfg::default();
        let mut p = GarpPlan::new();
        p.on_master(s(10), &cfg);
        assert_eq!(p.take_due(s(10), &cfg), 5);
        assert_eq!(p.next_due(), Some(s(15)));
        assert_eq!(p.take_due(s(14), &cfg), 0);
        assert_eq!(p.take_due(s(15), &cfg), 5);
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn interval_spaces_a_batch_and_refresh_repeats() {
        let cfg = GarpCfg {
            master_delay: Duration::ZERO,
            master_repeat: 3,
            master_refresh: s(60),
            master_refresh_repeat: 2,
            interval: Duration::from_millis(100),
            ..GarpCfg::default()
        };
        let mut p = GarpPlan::new();
        p.on_master(Duration::ZERO, &cfg);
        assert_eq!(p.take_due(Duration::ZERO, &cfg), 1);
        assert_eq!(p.next_due(), Some(Duration::from_millis(100)));
        assert_eq!(p.take_due(Duration::from_millis(250), &cfg), 2);
        assert_eq!(p.next_due(), Some(s(60)));
        assert_eq!(p.take_due(s(60), &cfg), 1);
        assert_eq!(p.take_due(s(61), &cfg), 1);
        assert_eq!(p.next_due(), Some(s(120)));
        p.clear();
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn lower_prio_batch_comes_after_its_delay() {
        let cfg = GarpCfg::default();
        let mut p = GarpPlan::new();
        p.on_lower_prio(s(1), &cfg);
        assert_eq!(p.take_due(s(5), &cfg), 0);
        assert_eq!(p.take_due(s(6), &cfg), 5);
        let min = GarpCfg::min_garp();
        p.on_master(s(7), &min);
        assert_eq!(p.take_due(s(100), &min), 1);
    }
}
