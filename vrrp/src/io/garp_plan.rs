//! Pacing of gratuitous ARP / unsolicited NA messages. The state machine
//! decides when a burst is due (`Action::SendGarp { count, spacing }`:
//! keepalived's garp_master_repeat, garp_master_delay, refresh and
//! lower-priority bursts); this queue spreads the burst's messages
//! `spacing` apart (`vrrp_garp_interval` / `vrrp_gna_interval`) without
//! blocking the instance. Generic over the clock for tests.

use std::collections::VecDeque;
use std::time::Duration;

/// Messages waiting to go out: (due time, index of the VIP).
#[derive(Debug, Clone, Default)]
pub struct GarpPacer<T> {
    due: VecDeque<(T, usize)>,
}

impl<T> GarpPacer<T>
where
    T: Copy + Ord + std::ops::Add<Duration, Output = T>,
{
    pub fn new() -> Self {
        GarpPacer {
            due: VecDeque::new(),
        }
    }

    /// Queues `rounds` rounds of one message per VIP (`vips` of them),
    /// each message `spacing` after the previous one, starting at `now` or
    /// after what is already queued.
    pub fn queue(&mut self, now: T, rounds: u32, vips: usize, spacing: Duration) {
        let mut at = match self.due.back() {
            Some((last, _)) if *last >= now && !spacing.is_zero() => *last + spacing,
            Some((last, _)) if *last >= now => *last,
            _ => now,
        };
        for _ in 0..rounds {
            for i in 0..vips {
                self.due.push_back((at, i));
                at = at + spacing;
            }
        }
    }

    /// Drops everything queued (the instance left MASTER).
    pub fn clear(&mut self) {
        self.due.clear();
    }

    /// When the next message is due.
    pub fn next_due(&self) -> Option<T> {
        self.due.front().map(|(t, _)| *t)
    }

    /// Removes the messages due at `now`, returning their VIP indexes.
    pub fn take_due(&mut self, now: T) -> Vec<usize> {
        let mut out = Vec::new();
        while let Some((t, i)) = self.due.front().copied() {
            if t > now {
                break;
            }
            self.due.pop_front();
            out.push(i);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    #[test]
    fn zero_spacing_sends_the_whole_burst_at_once() {
        let mut p = GarpPacer::new();
        p.queue(ms(0), 5, 2, Duration::ZERO);
        assert_eq!(p.take_due(ms(0)), vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
        assert_eq!(p.next_due(), None);
    }

    #[test]
    fn spacing_spreads_messages_and_later_bursts_queue_behind() {
        let mut p = GarpPacer::new();
        p.queue(ms(0), 2, 1, ms(100));
        assert_eq!(p.take_due(ms(0)), vec![0]);
        assert_eq!(p.next_due(), Some(ms(100)));
        p.queue(ms(50), 1, 1, ms(100));
        assert_eq!(p.take_due(ms(150)), vec![0]);
        assert_eq!(p.next_due(), Some(ms(200)));
        assert_eq!(p.take_due(ms(200)), vec![0]);
        p.queue(ms(500), 1, 3, ms(10));
        p.clear();
        assert_eq!(p.next_due(), None);
    }
}
