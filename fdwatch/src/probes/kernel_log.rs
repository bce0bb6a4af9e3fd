//! The probes' rare failure reports (fdwatch-ebpf/src/report.rs): aya-log records in
//! the AYA_LOGS ring buffer, printed as one line each on stderr.
//!
//! aya-log 0.3's `EbpfLogger` reads only when told to (`flush`), so it gets a task of
//! its own on the collector's runtime, woken when the ring buffer's fd turns readable
//! (the kernel wakes a reader that has caught up as soon as a record is committed:
//! bpf_ringbuf_commit, kernel/bpf/ringbuf.c). Nothing runs while nothing is reported.
//! Lines are limited to a few a minute: a failure on every event (say, a wrong BTF
//! offset) must neither flood stderr nor stall the collector on a full stderr pipe.
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aya::Ebpf;
use aya_log::EbpfLogger;
use log::{Level, Log, Metadata, Record};
use tokio::io::{Interest, unix::AsyncFd};

use anyhow::Context as _;

/// aya-log-ebpf's ring buffer of records.
pub const MAP: &str = "AYA_LOGS";
/// Its size here: aya-log-ebpf declares 128 KiB, which the collector would map twice
/// (260 KiB of RSS). A record is at most 512 bytes and the task below drains the ring as
/// soon as one arrives, so 16 KiB only overflows in a flood, when all but 10 a minute
/// are left out anyway (the kernel then drops records uncounted, hence "at least").
pub const RING_BYTES: u32 = 16 << 10;

/// At most this many report lines per `WINDOW`; the rest are counted.
const LINES_PER_WINDOW: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);

/// The reader of the probes' reports, from load until the runtime runs it.
pub struct KernelLog {
    logger: EbpfLogger<Lines>,
}

impl KernelLog {
    /// Takes the AYA_LOGS map out of the loaded object.
    pub fn new(ebpf: &mut Ebpf) -> anyhow::Result<Self> {
        let logger = EbpfLogger::init_with_logger(ebpf, Lines::default())
            .with_context(|| format!("cannot read the eBPF programs' reports (map {MAP})"))?;
        Ok(Self { logger })
    }

    /// Prints reports as they come, in a task of its own. Needs a running tokio runtime.
    pub fn spawn(self) -> anyhow::Result<()> {
        // SAFETY: the logger owns the map's fd (aya's RingBuf<MapData>), which stays open
        // and refers to the same map for as long as the AsyncFd owns the logger.
        let mut ring = unsafe { AsyncFd::register_with_interest(self.logger, Interest::READABLE) }
            .context("cannot poll the eBPF programs' reports")?;
        tokio::spawn(async move {
            while let Ok(mut ready) = ring.readable_mut().await {
                ready.get_inner_mut().flush();
                ready.clear_ready();
            }
        });
        Ok(())
    }
}

/// A `log::Log` that writes each record as one line on stderr, rate-limited.
#[derive(Default)]
struct Lines {
    limiter: Mutex<Limiter>,
}

impl Log for Lines {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        let Ok(mut limiter) = self.limiter.lock() else { return };
        let Some(suppressed) = limiter.admit(Instant::now()) else { return };
        drop(limiter);
        // One write(2) per report, so lines from other writers never interleave in it.
        let _ = std::io::stderr().write_all(text(record, suppressed).as_bytes());
    }

    fn flush(&self) {}
}

/// The line (and, after a quiet spell was cut short, a count of what was left out).
fn text(record: &Record, suppressed: u64) -> String {
    let level = match record.level() {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    };
    let mut text = String::new();
    if suppressed > 0 {
        text = format!(
            "fdwatch: at least {suppressed} more eBPF reports were not shown (at most {LINES_PER_WINDOW} a minute)\n"
        );
    }
    text.push_str(&format!("fdwatch: eBPF {level}: {}\n", record.args()));
    text
}

/// Lets `LINES_PER_WINDOW` lines through per `WINDOW` and counts the others.
#[derive(Default)]
struct Limiter {
    window_start: Option<Instant>,
    shown: u32,
    suppressed: u64,
}

impl Limiter {
    /// `Some(n)`: print this line, after saying that `n` were left out since the last
    /// one printed; `None`: leave it out.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        if self.window_start.is_none_or(|start| now.duration_since(start) >= WINDOW) {
            self.window_start = Some(now);
            self.shown = 0;
        }
        if self.shown < LINES_PER_WINDOW {
            self.shown += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_and_counted() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..LINES_PER_WINDOW {
            assert_eq!(limiter.admit(t0), Some(0));
        }
        assert_eq!(limiter.admit(t0 + Duration::from_secs(1)), None);
        assert_eq!(limiter.admit(t0 + Duration::from_secs(59)), None);
        assert_eq!(limiter.admit(t0 + WINDOW), Some(2), "the next window says what was left out");
        assert_eq!(limiter.admit(t0 + WINDOW), Some(0));
    }

    #[test]
    fn one_line_per_report() {
        let line = |suppressed| {
            text(
                &Record::builder()
                    .level(Level::Warn)
                    .args(format_args!("pid {}: reading its memory at {:x} failed (error {})", 7, 0x1000, -14))
                    .build(),
                suppressed,
            )
        };
        assert_eq!(line(0), "fdwatch: eBPF warning: pid 7: reading its memory at 1000 failed (error -14)\n");
        assert_eq!(
            line(3),
            "fdwatch: at least 3 more eBPF reports were not shown (at most 10 a minute)\n\
             fdwatch: eBPF warning: pid 7: reading its memory at 1000 failed (error -14)\n"
        );
    }
}
