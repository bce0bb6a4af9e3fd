//! Kernel timestamps (CLOCK_MONOTONIC, from bpf_ktime_get_ns) to wall-clock time.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, sampled at start, in ns.
    realtime_minus_monotonic: i128,
}

fn now_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the struct we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

impl Clock {
    pub fn sample() -> Self {
        // Sample monotonic on both sides of realtime to halve the error.
        let before = now_ns(libc::CLOCK_MONOTONIC);
        let real = now_ns(libc::CLOCK_REALTIME);
        let after = now_ns(libc::CLOCK_MONOTONIC);
        Self { realtime_minus_monotonic: real - (before + after) / 2 }
    }

    /// A clock `realtime_minus_monotonic` ns ahead of CLOCK_MONOTONIC, for tests and
    /// the fuzz target, which must not depend on the time they run at.
    pub fn fixed(realtime_minus_monotonic: i128) -> Self {
        Self { realtime_minus_monotonic }
    }

    pub fn monotonic_now_ns() -> u64 {
        now_ns(libc::CLOCK_MONOTONIC) as u64
    }

    /// A CLOCK_REALTIME time (an hrtimer's expiry on that clock) as CLOCK_MONOTONIC ns.
    pub fn monotonic_of_realtime(&self, realtime_ns: u64) -> u64 {
        (realtime_ns as i128 - self.realtime_minus_monotonic).clamp(0, u64::MAX as i128) as u64
    }

    pub fn wall(&self, monotonic_ns: u64) -> SystemTime {
        let ns = (monotonic_ns as i128 + self.realtime_minus_monotonic).max(0) as u128;
        UNIX_EPOCH + Duration::new((ns / 1_000_000_000) as u64, (ns % 1_000_000_000) as u32)
    }

    /// RFC 3339, UTC, nanoseconds: the `"ts"` of every record.
    pub fn rfc3339(&self, monotonic_ns: u64) -> String {
        humantime::format_rfc3339_nanos(self.wall(monotonic_ns)).to_string()
    }
}

/// RFC 3339 for a stream of nearby timestamps: the date and time of day change once
/// a second, so only the nanoseconds are formatted per event.
#[derive(Default)]
pub struct Rfc3339Cache {
    /// The monotonic ns at which the cached wall-clock second starts, and its length
    /// (0 while nothing is cached): a timestamp inside it costs a subtraction.
    second_start: u64,
    second_len: u64,
    /// `2026-11-21T21:35:26.`: fixed width for years 1000-9999, so copying it is a
    /// few moves rather than a call to memcpy.
    prefix: [u8; 20],
    text: Vec<u8>,
}

impl Rfc3339Cache {
    pub fn format(&mut self, clock: &Clock, monotonic_ns: u64) -> &str {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        self.write(clock, monotonic_ns, &mut text);
        self.text = text;
        // `write` writes ASCII only.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// Append the timestamp to `out`. Per event, inside the cached second: one
    /// subtraction and nine digits.
    pub fn write<O: crate::out::Out + ?Sized>(&mut self, clock: &Clock, monotonic_ns: u64, out: &mut O) {
        let mut nanos = monotonic_ns.wrapping_sub(self.second_start);
        if nanos >= self.second_len {
            nanos = self.enter_second(clock, monotonic_ns);
        }
        let nanos = nanos as u32;
        // Nine digits, two at a time: 0 and 12345678 -> "0" "12" "34" "56" "78".
        let pair = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        let (high, low) = (nanos / 10_000, nanos % 10_000);
        let (a, b) = (pair(high / 100 % 100), pair(high % 100));
        let (c, d) = (pair(low / 100), pair(low % 100));
        let mut text = [0u8; 30];
        text[..20].copy_from_slice(&self.prefix);
        text[20..].copy_from_slice(&[
            b'0' + (high / 10_000) as u8,
            a[0],
            a[1],
            b[0],
            b[1],
            c[0],
            c[1],
            d[0],
            d[1],
            b'Z',
        ]);
        out.extend_from_slice(&text);
    }

    /// Render the second `monotonic_ns` falls in; returns the nanoseconds into it.
    #[cold]
    fn enter_second(&mut self, clock: &Clock, monotonic_ns: u64) -> u64 {
        // The i128 divides in software: paid once a second, not per event.
        let ns = (monotonic_ns as i128 + clock.realtime_minus_monotonic).clamp(0, u64::MAX as i128) as u64;
        let (second, nanos) = (ns / 1_000_000_000, ns % 1_000_000_000);
        // `2026-11-21T21:35:26Z`; humantime renders years 0-9999 only, 4 digits.
        let text = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(second)).to_string();
        self.prefix[..19].copy_from_slice(&text.as_bytes()[..19]);
        self.prefix[19] = b'.';
        // Before the epoch everything clamps to 1970-01-01T00:00:00: no window.
        let clamped = ns == 0 || ns == u64::MAX;
        self.second_start = monotonic_ns.wrapping_sub(nanos);
        self.second_len = if clamped { 0 } else { 1_000_000_000 };
        nanos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_nanoseconds() {
        let clock = Clock::fixed(1_700_000_000_000_000_000);
        assert_eq!(clock.rfc3339(123), "2023-11-14T22:13:20.000000123Z");
    }

    #[test]
    fn the_cache_formats_like_humantime() {
        let clock = Clock::fixed(1_700_000_000_000_000_000);
        let mut cache = Rfc3339Cache::default();
        for ns in [123, 999_999_999, 1_000_000_000, 1_000_000_001, 86_400_000_000_007, 5, 1_000_000_000] {
            assert_eq!(cache.format(&clock, ns), clock.rfc3339(ns));
        }
        // A second that started before monotonic 0, and one whose end comes next.
        let clock = Clock::fixed(1_700_000_000_123_456_789);
        let mut cache = Rfc3339Cache::default();
        for ns in [5, 876_543_210, 876_543_211, 1_876_543_210, 1_876_543_211, 3] {
            assert_eq!(cache.format(&clock, ns), clock.rfc3339(ns));
        }
    }

    #[test]
    fn live_clock_is_close_to_now() {
        let clock = Clock::sample();
        let wall = clock.wall(Clock::monotonic_now_ns());
        let drift = SystemTime::now().duration_since(wall).unwrap_or_default();
        assert!(drift < Duration::from_secs(1), "{drift:?}");
    }
}
