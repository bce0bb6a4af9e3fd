//! Where records go: NDJSON or text, on stdout. Records are assembled in a buffer and
//! written when the collector has drained a batch from the ring buffer, so every line
//! is complete and none waits longer than one batch. Text lines, here and on stderr,
//! go out only through `escape::line`: one record, one line, no control characters.
mod alerts;
#[cfg(test)]
mod hostile_text;
pub mod json;
pub mod stdout;
pub mod text;

use std::io::{self, Write};

use fdwatch_common::Kind;

use crate::{
    clock::Clock,
    decode::{Event, args},
    escape,
    value::{Fields, Value},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// Counts per record kind (index = kind id).
pub type PerKind = [u64; fdwatch_common::MAX_KIND as usize];

/// Where events were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossSite {
    /// The probes found the ring buffer full.
    KernelRingBuffer,
    /// The collector could not decode a record.
    Userspace,
    /// The fd model reached its `--max-fds` limit and left new fds untracked.
    FdModel,
}

impl LossSite {
    fn name(self) -> &'static str {
        match self {
            LossSite::KernelRingBuffer => "kernel_ring_buffer",
            LossSite::Userspace => "userspace",
            LossSite::FdModel => "fd_model",
        }
    }
}

/// Each write(2) to a file also pays a fixed cost (on ext4, an mtime update through
/// the journal), so larger writes cost less per event; past the CPU's L2 the buffer's
/// own cache misses cost more. Measured at 1M events/s to an ext4 file, collector CPU
/// per event: 64 KiB 460-473 ns, 128 KiB 420-447 ns, 1 MiB 510-573 ns.
const BUF_CAPACITY: usize = 1 << 17;
const BUF_KEEP_MAX: usize = 4 << 20;
/// Events and fd records are written out whenever this much is buffered, so a burst
/// (100k fds opened at once: 16 MB of event records) does not grow the buffer to its
/// size and leave it resident (12 bytes per tracked fd in the bench, measured).
const WRITE_AT: usize = BUF_CAPACITY - 2048;

pub struct Sink {
    format: Format,
    clock: Clock,
    host: String,
    /// `","host":"<host>","pid":`, the middle of every event record.
    host_then_pid: Vec<u8>,
    buf: Vec<u8>,
    /// A text line being assembled, raw (escape::line writes it out).
    line: Vec<u8>,
    event_ts: crate::clock::Rfc3339Cache,
    event_thread: json::ThreadFields,
    out: Box<dyn Write>,
    /// A write made mid-batch failed; `flush` reports it.
    broken: Option<io::Error>,
}

pub struct Ready {
    pub probes: usize,
    pub watched: Vec<u32>,
    pub follow: bool,
    /// The startup reading of /proc.
    pub processes: usize,
    pub fds: usize,
    pub scan_ns: u64,
}

pub struct Stats {
    pub events: PerKind,
    pub kernel_lost: u64,
    pub userspace_lost: u64,
    /// Events of pids outside the scope, not reported (see collect.rs).
    pub out_of_scope: u64,
    pub elapsed_ns: u64,
    pub tracked_fds: usize,
    pub processes: usize,
}

fn kind_counts(counts: &PerKind) -> Value {
    Value::Object(
        Kind::ALL
            .iter()
            .filter(|k| counts[**k as usize] > 0)
            .map(|k| (k.name(), Value::Int(counts[*k as usize] as i64)))
            .collect(),
    )
}

impl Sink {
    pub fn new(format: Format, clock: Clock, out: Box<dyn Write>) -> Self {
        let host =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        Self::named(format, clock, host, out)
    }

    /// A sink whose records say they come from `host` (`new` reads the host name; the
    /// fuzz target, which does no I/O, names one).
    pub fn named(format: Format, clock: Clock, host: String, out: Box<dyn Write>) -> Self {
        let mut host_then_pid = b"\",\"host\":".to_vec();
        json::write_value(&mut host_then_pid, &Value::Str(host.clone().into()));
        host_then_pid.extend_from_slice(b",\"pid\":");
        Self {
            format,
            clock,
            host,
            host_then_pid,
            buf: Vec::with_capacity(BUF_CAPACITY),
            line: Vec::new(),
            event_ts: Default::default(),
            event_thread: Default::default(),
            out,
            broken: None,
        }
    }

    fn record(&mut self, kind: &str, ts_ns: u64) -> json::Obj<'_> {
        let ts = self.clock.rfc3339(ts_ns);
        let mut obj = json::Obj::new(&mut self.buf);
        obj.str("type", kind).str("ts", &ts).str("host", &self.host);
        obj
    }

    /// First record, once every probe is attached: a script may start its workload.
    pub fn ready(&mut self, ready: &Ready) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let watched = Value::List(ready.watched.iter().map(|p| Value::Int(*p as i64)).collect());
                self.record("ready", Clock::monotonic_now_ns())
                    .int("probes", ready.probes as i64)
                    .int("collector_pid", std::process::id() as i64)
                    .value("watched", &watched)
                    .value("follow", &Value::Bool(ready.follow))
                    .int("processes", ready.processes as i64)
                    .int("fds", ready.fds as i64)
                    .int("scan_ns", ready.scan_ns as i64)
                    .end();
                self.flush()
            }
            Format::Text => {
                let scope = if ready.watched.is_empty() {
                    "the whole host".to_owned()
                } else {
                    let pids: Vec<String> = ready.watched.iter().map(u32::to_string).collect();
                    format!("pid {}{}", pids.join(", "), if ready.follow { " and its children" } else { "" })
                };
                crate::error::report(format_args!(
                    "ready: {} probes attached, watching {scope}; {} fds of {} processes read from /proc in {} ms",
                    ready.probes,
                    ready.fds,
                    ready.processes,
                    ready.scan_ns / 1_000_000
                ));
                Ok(())
            }
        }
    }

    pub fn event(&mut self, event: &Event) {
        let fields = args::describe(event);
        let h = &event.header;
        match self.format {
            Format::Json => {
                // The hot path of `--events`: the fixed keys as literals, the host as
                // rendered once, the thread's fields as rendered for its last event.
                let buf = &mut self.buf;
                buf.extend_from_slice(b"{\"type\":\"event\",\"ts\":\"");
                self.event_ts.write(&self.clock, h.ts_ns, buf);
                buf.extend_from_slice(&self.host_then_pid);
                self.event_thread.write(buf, (h.pid, h.tid, h.ppid), &h.comm);
                buf.extend_from_slice(b",\"syscall\":");
                json::plain_string(buf, event.kind.name());
                let mut obj = json::Obj::after_fields(buf);
                for (k, v) in &fields {
                    obj.value(k, v);
                }
                if let Some(ret) = event.ret() {
                    obj.int("ret", ret);
                    if let Some(errno) = event.errno() {
                        obj.str("errno", &crate::decode::names::errno::errno_name(errno));
                    }
                }
                obj.end();
            }
            Format::Text => {
                let ts = self.event_ts.format(&self.clock, h.ts_ns);
                self.line.clear();
                text::event_line(&mut self.line, event, &fields, ts);
                escape::line(&mut self.buf, &self.line);
            }
        }
        self.write_if_full();
    }

    /// Events lost since the last report, per kind.
    pub fn loss(&mut self, site: LossSite, lost: &PerKind, total: u64) {
        match self.format {
            Format::Json => {
                self.record("loss", Clock::monotonic_now_ns())
                    .str("where", site.name())
                    .int("count", total as i64)
                    .value("by_kind", &kind_counts(lost))
                    .end();
            }
            Format::Text => {
                self.line.clear();
                let _ = write!(self.line, "!! fdwatch lost {total} events ({}): ", site.name());
                text::write_value(&mut self.line, &kind_counts(lost));
                escape::line(&mut self.buf, &self.line);
            }
        }
    }

    /// Totals at the end of a run.
    pub fn stats(&mut self, stats: &Stats) {
        let total: u64 = stats.events.iter().sum();
        match self.format {
            Format::Json => {
                self.record("stats", Clock::monotonic_now_ns())
                    .int("events", total as i64)
                    .value("by_kind", &kind_counts(&stats.events))
                    .int("kernel_lost", stats.kernel_lost as i64)
                    .int("userspace_lost", stats.userspace_lost as i64)
                    .int("out_of_scope", stats.out_of_scope as i64)
                    .int("elapsed_ns", stats.elapsed_ns as i64)
                    .int("tracked_fds", stats.tracked_fds as i64)
                    .int("processes", stats.processes as i64)
                    .end();
            }
            Format::Text => crate::error::report(format_args!(
                "{total} events in {:.1} s, {} lost in the kernel ring buffer, {} in userspace",
                stats.elapsed_ns as f64 / 1e9,
                stats.kernel_lost,
                stats.userspace_lost
            )),
        }
    }

    /// The model re-read `process` (or, with None, every process) from /proc; its comm
    /// as /proc gave it.
    pub fn resync(&mut self, process: Option<(u32, &[u8])>, reason: &str, processes: usize, fds_changed: usize) {
        match self.format {
            Format::Json => {
                let mut obj = self.record("resync", Clock::monotonic_now_ns());
                match process {
                    Some((pid, comm)) => obj.int("pid", pid as i64).bytes("comm", comm),
                    None => obj.str("scope", "all"),
                };
                obj.str("reason", reason)
                    .int("processes", processes as i64)
                    .int("fds_changed", fds_changed as i64)
                    .end();
            }
            Format::Text => {
                self.line.clear();
                self.line.extend_from_slice(b"~ fdwatch re-read ");
                match process {
                    Some((pid, comm)) => {
                        let _ = write!(self.line, "pid {pid} (");
                        self.line.extend_from_slice(comm);
                        self.line.push(b')');
                    }
                    None => {
                        let _ = write!(self.line, "all {processes} processes");
                    }
                }
                let _ = write!(self.line, " from /proc: {reason}; {fds_changed} fds differed");
                escape::line(&mut self.buf, &self.line);
            }
        }
    }

    /// One fd of the model (SIGUSR1, --dump-on-exit).
    pub fn fd(&mut self, fields: &Fields) {
        match self.format {
            Format::Json => {
                let mut obj = self.record("fd", Clock::monotonic_now_ns());
                for (k, v) in fields {
                    obj.value(k, v);
                }
                obj.end();
            }
            Format::Text => {
                self.line.clear();
                text::write_fields(&mut self.line, fields);
                escape::line(&mut self.buf, &self.line);
            }
        }
        self.write_if_full();
    }

    /// Write out what is buffered once it is `WRITE_AT` bytes, keeping the buffer
    /// small; a failure waits for `flush`.
    fn write_if_full(&mut self) {
        if self.buf.len() >= WRITE_AT && self.broken.is_none() {
            let result = self.out.write_all(&self.buf);
            self.buf.clear();
            self.broken = result.err();
        }
    }

    /// Write out everything buffered. Err means stdout is gone (e.g. a closed pipe).
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.broken.take() {
            self.buf.clear();
            return Err(e);
        }
        if !self.buf.is_empty() {
            let result = self.out.write_all(&self.buf).and_then(|()| self.out.flush());
            self.buf.clear();
            // A dump of every fd on the host, or a drain after a long stall, can grow
            // the buffer to tens of MB; do not keep that for the usual few KB.
            if self.buf.capacity() > BUF_KEEP_MAX {
                self.buf = Vec::with_capacity(BUF_CAPACITY);
            }
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::{cell::RefCell, rc::Rc};

    use super::*;
    use crate::{decode::Payload, model::synthetic::call};

    /// Records each write's length; fails every write once `fail` is set.
    #[derive(Clone, Default)]
    struct Writes {
        lens: Rc<RefCell<Vec<usize>>>,
        fail: Rc<RefCell<bool>>,
    }

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if *self.fail.borrow() {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            self.lens.borrow_mut().push(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sink(writes: &Writes) -> Sink {
        Sink::new(Format::Json, Clock::fixed(0), Box::new(writes.clone()))
    }

    /// `n` close events in a row, as one drain of a busy ring buffer hands them over.
    fn burst(sink: &mut Sink, n: usize) {
        let close = call(Kind::Close, 7, 1, 0, &[100], Payload::None);
        for _ in 0..n {
            sink.event(&close);
        }
    }

    #[test]
    fn a_burst_of_events_is_written_out_as_it_comes_in_whole_lines() {
        let writes = Writes::default();
        let mut sink = sink(&writes);
        let events = 10_000;
        burst(&mut sink, events);
        assert!(sink.buf.capacity() <= BUF_CAPACITY, "the buffer did not grow: {}", sink.buf.capacity());
        sink.flush().unwrap();
        let lens = writes.lens.borrow();
        assert!(lens.len() > 5, "written out during the burst: {lens:?}");
        let total: usize = lens.iter().sum();
        let one = {
            let mut s = super::tests::sink(&Writes::default());
            burst(&mut s, 1);
            s.buf.len()
        };
        assert_eq!(total, events * one, "every line once");
        assert!(lens.iter().all(|l| l % one == 0), "only whole lines per write");
    }

    #[test]
    fn a_write_failing_mid_batch_is_reported_by_flush() {
        let writes = Writes::default();
        let mut sink = sink(&writes);
        *writes.fail.borrow_mut() = true;
        burst(&mut sink, 10_000);
        assert!(sink.flush().is_err());
    }
}
