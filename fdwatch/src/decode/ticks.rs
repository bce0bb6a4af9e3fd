//! Agent mode's tick-count timestamps to CLOCK_MONOTONIC ns (fdwatch_common::clock).
//!
//! jiffies_64 is advanced from the monotonic clock itself (kernel/time/tick-sched.c,
//! tick_do_update_jiffies64), so one calibration, a tick count and the ns read right
//! after it, maps every later tick count: ns = mark.ns + (jiffies - mark.jiffies)
//! ticks. The tick the kernel was in began no later than the ns read with it, so
//! `ns_of` gives the end of the event's tick: never before the event, at most one tick
//! after it. The model relies on that: it skips an event as already read from /proc
//! only when the event is certainly older than the reading (model/apply.rs).
use fdwatch_common::clock::{ClockMark, TS_JIFFIES};

/// The tick rates Linux offers (kernel/Kconfig.hz).
const HZ_CHOICES: [u64; 4] = [100, 250, 300, 1000];

/// How to read a record's timestamp: ns as they are, ticks through a calibration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timebase {
    /// The calibration and the ns per tick; None until calibrated, when a tick-count
    /// timestamp cannot be read.
    ticks: Option<(ClockMark, u64)>,
}

impl Timebase {
    /// The calibration the probes wrote when the collector rang the doorbell. The tick
    /// rate is the kernel's CONFIG_HZ, which the kernel does not publish; but jiffies
    /// start at INITIAL_JIFFIES = 2^32 - 300 HZ (include/linux/jiffies.h, so that they
    /// wrap 5 minutes after boot) and count HZ a second of uptime since, and only one
    /// choice of HZ fits a mark within a few seconds. None when none fits: the records
    /// are then stamped in ns (the caller reports it).
    pub fn calibrated(mark: ClockMark) -> Option<Timebase> {
        let uptime_ns = u128::from(mark.ns);
        let fit = |hz: u64| {
            let initial = (1u128 << 32) - 300 * u128::from(hz);
            let expected = initial + uptime_ns * u128::from(hz) / 1_000_000_000;
            expected.abs_diff(u128::from(mark.jiffies))
        };
        let hz = HZ_CHOICES.into_iter().min_by_key(|&hz| fit(hz))?;
        // Jiffies lag the monotonic clock by the time the tick took to start at boot
        // (0.26 s here); more than 5 s off means the guess is wrong.
        if fit(hz) > u128::from(5 * hz) {
            return None;
        }
        Some(Timebase { ticks: Some((mark, 1_000_000_000 / hz)) })
    }

    /// ns per tick, once calibrated.
    pub fn tick_ns(&self) -> Option<u64> {
        self.ticks.map(|(_, tick)| tick)
    }

    /// A header's timestamp as CLOCK_MONOTONIC ns; None for a tick count without a
    /// calibration or one that maps outside the clock's range.
    pub fn ns_of(&self, ts: u64) -> Option<u64> {
        if ts & TS_JIFFIES == 0 {
            return Some(ts);
        }
        let (mark, tick) = self.ticks?;
        let ticks_since = i128::from(ts & !TS_JIFFIES) - i128::from(mark.jiffies) + 1;
        let ns = i128::from(mark.ns) + ticks_since * i128::from(tick);
        u64::try_from(ns).ok().filter(|&ns| ns & TS_JIFFIES == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/timer_list on the development VM (CONFIG_HZ=250, 6.7 h up): "now at
    /// 24274664367157 nsecs", "jiffies: 4300960897".
    const VM: ClockMark = ClockMark { jiffies: 4_300_960_897, ns: 24_274_664_367_157 };

    #[test]
    fn the_tick_rate_is_the_one_that_fits_the_mark() {
        assert_eq!(Timebase::calibrated(VM).and_then(|t| t.tick_ns()), Some(4_000_000));
        for hz in HZ_CHOICES {
            for uptime_s in [1u64, 40, 100_000, 40_000_000] {
                // The tick started 0.3 s after the clock, as on a real boot.
                let jiffies = (1u64 << 32) - 300 * hz + (uptime_s * 10 - 3) * hz / 10;
                let mark = ClockMark { jiffies, ns: uptime_s * 1_000_000_000 };
                let got = Timebase::calibrated(mark).and_then(|t| t.tick_ns());
                assert_eq!(got, Some(1_000_000_000 / hz), "HZ={hz}, up {uptime_s} s");
            }
        }
    }

    #[test]
    fn a_mark_no_tick_rate_fits_is_refused() {
        assert_eq!(Timebase::calibrated(ClockMark { jiffies: 7, ns: 1_000_000_000 }), None);
        assert_eq!(Timebase::calibrated(ClockMark { jiffies: u64::MAX, ns: u64::MAX }), None);
        assert_eq!(Timebase::calibrated(ClockMark { jiffies: 0, ns: 0 }), None);
    }

    #[test]
    fn a_tick_count_maps_to_the_end_of_its_tick() {
        let t = Timebase::calibrated(VM).unwrap();
        assert_eq!(t.ns_of(VM.jiffies | TS_JIFFIES), Some(VM.ns + 4_000_000));
        assert_eq!(t.ns_of((VM.jiffies + 250) | TS_JIFFIES), Some(VM.ns + 1_004_000_000));
        assert_eq!(t.ns_of((VM.jiffies - 1) | TS_JIFFIES), Some(VM.ns), "a CPU a tick behind");
        assert_eq!(t.ns_of(123), Some(123), "ns stay ns");
    }

    #[test]
    fn hostile_tick_counts_map_to_nothing() {
        let t = Timebase::calibrated(VM).unwrap();
        assert_eq!(t.ns_of(TS_JIFFIES), None, "before the clock started");
        assert_eq!(t.ns_of(u64::MAX), None, "beyond the clock's range");
        assert_eq!(Timebase::default().ns_of(VM.jiffies | TS_JIFFIES), None, "no calibration");
    }
}
