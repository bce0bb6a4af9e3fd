//! Where records go. Each record is rendered once per format (JSON, text) into the
//! buffer of a *lane*, the records one group of outputs takes (the same format, record
//! types and minimum severity); a record that several lanes of a format take is copied
//! from the first. When the collector has drained a batch from the ring buffer (or a
//! lane holds `WRITE_AT` bytes), each lane's records go to its outputs as one shared
//! chunk (outputs/): every line is complete, none waits longer than one batch, and no
//! output is handed anything per record. Text lines, here and on stderr, go out only
//! through `escape::line`: one record, one line, no control characters.
mod alerts;
#[cfg(test)]
mod hostile_text;
pub mod json;
pub mod text;

// The output contract's record types, the formats and stdout are the outputs' (one layer
// down): named here too for the collector and the tests that speak of sinks.
use crate::outputs::{Format, record};

use std::{
    io::{self, Write},
    sync::Arc,
};

use bytes::BytesMut;
use fdwatch_common::Kind;

use crate::{
    clock::Clock,
    containers::Cgroup,
    decode::{Event, args},
    detect::alert::Severity,
    escape,
    outputs::record::{Filter, RecordType, TypeCounts},
    outputs::{Chunk, Frame, OutputConfig, Outputs},
    value::{Fields, Value},
};

/// Counts per record kind (index = kind id).
pub type PerKind = [u64; fdwatch_common::MAX_KIND as usize];

/// Where events or records were lost.
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
    pub fn name(self) -> &'static str {
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
/// Events and fd records are handed to the outputs whenever a lane holds this much, so
/// a burst (100k fds opened at once: 16 MB of event records) does not grow the buffer
/// to its size and leave it resident (12 bytes per tracked fd in the bench, measured).
const WRITE_AT: usize = BUF_CAPACITY - 2048;

/// What renders records: the clock, the host, and the caches of the event hot path.
struct Render {
    clock: Clock,
    host: String,
    /// `","host":"<host>","v":1,"pid":`, the middle of every event record.
    host_then_pid: Vec<u8>,
    /// A text line being assembled, raw (escape::line writes it out).
    line: Vec<u8>,
    event_ts: crate::clock::Rfc3339Cache,
    event_thread: json::ThreadFields,
}

impl Render {
    /// `{"type":KIND,"ts":..,"host":..,"v":1` and the fields the caller adds.
    fn record<'b>(&self, buf: &'b mut BytesMut, kind: &str, ts_ns: u64) -> json::Obj<'b, BytesMut> {
        let ts = self.clock.rfc3339(ts_ns);
        let mut obj = json::Obj::new(buf);
        obj.str("type", kind).str("ts", &ts).str("host", &self.host).int("v", record::SCHEMA_VERSION as i64);
        obj
    }
}

/// The records of one group of outputs, as they accumulate during a batch.
struct Lane {
    format: Format,
    filter: Filter,
    buf: BytesMut,
    counts: TypeCounts,
    /// Record ends, kept when an output of the lane sends records one by one (syslog).
    frames: Option<Vec<Frame>>,
    /// Indices into `Sink::outputs`.
    outputs: Vec<usize>,
}

impl Lane {
    fn new(format: Format, filter: Filter) -> Self {
        Self {
            format,
            filter,
            buf: BytesMut::with_capacity(BUF_CAPACITY),
            counts: [0; RecordType::COUNT],
            frames: None,
            outputs: Vec::new(),
        }
    }

    #[inline]
    fn note(&mut self, ty: RecordType, severity: u8) {
        self.counts[ty as usize] += 1;
        if let Some(frames) = &mut self.frames {
            frames.push(Frame { end: self.buf.len() as u32, ty, severity });
        }
    }
}

pub struct Sink {
    r: Render,
    lanes: Vec<Lane>,
    /// Per record type, per format: the lanes that take it, in order.
    routes: [[Vec<u8>; 2]; RecordType::COUNT],
    outputs: Outputs,
}

pub struct Ready {
    pub probes: usize,
    pub watched: Vec<u32>,
    pub follow: bool,
    /// `--container`: the container and its cgroup's path.
    pub container: Option<(crate::containers::Container, String)>,
    /// The startup reading of /proc.
    pub processes: usize,
    pub fds: usize,
    pub scan_ns: u64,
}

pub struct Stats {
    pub events: PerKind,
    pub kernel_lost: u64,
    pub userspace_lost: u64,
    /// Fds the model left untracked at its --max-fds limit.
    pub fd_model_lost: u64,
    /// Events of pids outside the scope, not reported (see collect.rs).
    pub out_of_scope: u64,
    pub elapsed_ns: u64,
    pub tracked_fds: usize,
    pub processes: usize,
    /// Cgroups the collector knows (containers/cache.rs), and those whose path could
    /// not be read.
    pub cgroups: usize,
    pub cgroups_unresolved: u64,
    /// Alerts written, by (kind, severity).
    pub alerts: Vec<((&'static str, &'static str), u64)>,
    /// Records each output dropped (queue full, or not deliverable), by output name.
    pub output_dropped: Vec<(String, u64)>,
    /// What became of the control socket's clients (None: it does not listen).
    pub queries: Option<Queries>,
    /// The collector's CPU time (user + system) and resident memory.
    pub cpu_ns: u64,
    pub rss_bytes: u64,
    /// The last stats record of the run.
    pub last: bool,
}

/// The control socket's clients since the start (control/server.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queries {
    /// Replies written whole.
    pub answered: u64,
    /// Clients whose uid is not 0.
    pub refused: u64,
    /// Clients that sent no complete request, or did not take their reply, in time.
    pub dropped: u64,
    /// Clients told the agent was busy.
    pub busy: u64,
}

/// A SIGHUP's outcome (the `reload` record).
pub struct Reload<'a> {
    pub path: Option<&'a str>,
    pub error: Option<&'a str>,
    /// Keys whose new value was applied.
    pub applied: &'a [String],
    /// Keys whose new value waits for a restart (new probes, a new scope).
    pub needs_restart: &'a [String],
    /// File outputs reopened.
    pub reopened: usize,
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

fn type_counts(counts: &TypeCounts) -> Value {
    Value::Object(
        RecordType::ALL
            .iter()
            .filter(|t| counts[**t as usize] > 0)
            .map(|t| (t.name(), Value::Int(counts[*t as usize] as i64)))
            .collect(),
    )
}

fn text_of(items: &[String]) -> Value {
    Value::List(items.iter().map(|s| Value::Str(s.clone().into())).collect())
}

impl Sink {
    /// One output, written synchronously by the collector (standard output when it is
    /// the only output, tests, the fuzz target): a write error is the run's error.
    pub fn new(format: Format, clock: Clock, out: Box<dyn Write>) -> Self {
        let mut sink = Self::empty(clock, Outputs::direct(out));
        sink.route(&[(format, Filter::default(), false)]);
        sink
    }

    /// Like `new`, with the format and record choice of `config` (standard output as
    /// the only output, from the command line or the config file).
    pub fn direct(config: &OutputConfig, clock: Clock, out: Box<dyn Write>) -> Self {
        let mut sink = Self::empty(clock, Outputs::direct(out));
        sink.route(&[(config.format, config.filter, false)]);
        sink
    }

    /// Outputs with writer threads and bounded queues (outputs/): none can stall the
    /// collector or another.
    pub fn with_outputs(clock: Clock, outputs: Outputs) -> Self {
        let mut sink = Self::empty(clock, outputs);
        sink.reroute();
        sink
    }

    /// A sink whose records say they come from `host` (`new` reads the host name; the
    /// fuzz target, which does no I/O, names one).
    pub fn named(format: Format, clock: Clock, host: String, out: Box<dyn Write>) -> Self {
        let mut sink = Self::empty_named(clock, host, Outputs::direct(out));
        sink.route(&[(format, Filter::default(), false)]);
        sink
    }

    fn empty(clock: Clock, outputs: Outputs) -> Self {
        Self::empty_named(clock, hostname(), outputs)
    }

    fn empty_named(clock: Clock, host: String, outputs: Outputs) -> Self {
        let mut host_then_pid = b"\",\"host\":".to_vec();
        json::write_value(&mut host_then_pid, &Value::Str(host.clone().into()));
        host_then_pid.extend_from_slice(b",\"v\":");
        json::uint(&mut host_then_pid, record::SCHEMA_VERSION);
        host_then_pid.extend_from_slice(b",\"pid\":");
        Self {
            r: Render {
                clock,
                host,
                host_then_pid,
                line: Vec::new(),
                event_ts: Default::default(),
                event_thread: Default::default(),
            },
            lanes: Vec::new(),
            routes: Default::default(),
            outputs,
        }
    }

    /// Lanes for the outputs' (format, filter, framed) groups, in output order.
    fn reroute(&mut self) {
        let groups: Vec<(Format, Filter, bool)> =
            self.outputs.configs().map(|c| (c.format, c.filter, c.framed())).collect();
        self.route(&groups);
    }

    fn route(&mut self, outputs: &[(Format, Filter, bool)]) {
        self.lanes.clear();
        for (i, (format, filter, framed)) in outputs.iter().enumerate() {
            let li = match self.lanes.iter().position(|l| l.format == *format && l.filter == *filter) {
                Some(li) => li,
                None => {
                    self.lanes.push(Lane::new(*format, *filter));
                    self.lanes.len() - 1
                }
            };
            let lane = &mut self.lanes[li];
            lane.outputs.push(i);
            if *framed && lane.frames.is_none() {
                lane.frames = Some(Vec::new());
            }
        }
        self.routes = Default::default();
        for (li, lane) in self.lanes.iter().enumerate() {
            for ty in RecordType::ALL {
                if lane.filter.takes(ty) {
                    self.routes[ty as usize][lane.format as usize].push(li as u8);
                }
            }
        }
    }

    /// Swap the outputs for `configs` (SIGHUP): what is buffered goes to the old ones
    /// first; writers whose destination and options are unchanged carry on with their
    /// queues. Err: an output could not be opened; nothing changed.
    pub fn replace_outputs(&mut self, configs: &[OutputConfig]) -> Result<(), String> {
        let _ = self.flush();
        self.outputs.replace(configs, &self.r.host)?;
        self.reroute();
        Ok(())
    }

    /// The host name records carry.
    pub fn host(&self) -> &str {
        &self.r.host
    }

    pub fn outputs(&mut self) -> &mut Outputs {
        &mut self.outputs
    }

    /// Records each output dropped so far (stats, metrics).
    pub fn dropped(&self) -> Vec<(String, u64)> {
        self.outputs.dropped()
    }

    /// Whether some output takes records of `ty` (the collector skips describing
    /// events nobody takes).
    pub fn takes(&self, ty: RecordType) -> bool {
        self.routes[ty as usize].iter().any(|r| !r.is_empty())
    }

    /// Render one record: once per format into the first lane that takes it, copied
    /// into the others of that format. `severity` is an alert's (lanes may want only
    /// the graver ones).
    #[inline]
    fn emit(
        &mut self,
        ty: RecordType,
        severity: Option<Severity>,
        mut render: impl FnMut(&mut Render, Format, &mut BytesMut),
    ) {
        let syslog = severity.map_or(ty.syslog_severity(), record::syslog_severity);
        for format in [Format::Json, Format::Text] {
            let mut first: Option<(usize, usize)> = None;
            for &li in &self.routes[ty as usize][format as usize] {
                let li = li as usize;
                if severity.is_some() && !self.lanes[li].filter.admits(ty, severity) {
                    continue;
                }
                match first {
                    None => {
                        let lane = &mut self.lanes[li];
                        let start = lane.buf.len();
                        render(&mut self.r, format, &mut lane.buf);
                        lane.note(ty, syslog);
                        first = Some((li, start));
                    }
                    Some((fi, start)) => {
                        // Lanes are routed in order: the first is before this one.
                        let (before, from_here) = self.lanes.split_at_mut(li);
                        let lane = &mut from_here[0];
                        lane.buf.extend_from_slice(&before[fi].buf[start..]);
                        lane.note(ty, syslog);
                    }
                }
            }
        }
        self.write_if_full();
    }

    /// Whether a text output takes `ty`: the records text mode says on stderr.
    fn text_takes(&self, ty: RecordType) -> bool {
        !self.routes[ty as usize][Format::Text as usize].is_empty()
    }

    /// First record, once every probe is attached: a script may start its workload.
    pub fn ready(&mut self, ready: &Ready) -> io::Result<()> {
        self.emit(RecordType::Ready, None, |r, format, buf| {
            if format == Format::Json {
                let watched = Value::List(ready.watched.iter().map(|p| Value::Int(*p as i64)).collect());
                let mut obj = r.record(buf, "ready", Clock::monotonic_now_ns());
                obj.int("probes", ready.probes as i64)
                    .int("collector_pid", std::process::id() as i64)
                    .value("watched", &watched)
                    .value("follow", &Value::Bool(ready.follow));
                if let Some((c, path)) = &ready.container {
                    obj.value("container", &c.value()).str("cgroup_path", path);
                }
                obj.int("processes", ready.processes as i64)
                    .int("fds", ready.fds as i64)
                    .int("scan_ns", ready.scan_ns as i64)
                    .end();
            }
        });
        if self.text_takes(RecordType::Ready) {
            let scope = if let Some((c, path)) = &ready.container {
                format!("{c}, cgroup {path} and below")
            } else if ready.watched.is_empty() {
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
        }
        self.flush()
    }

    /// One event of a process in `cgroup` (containers/): JSON adds its `cgroup` and
    /// `container`, text the container's short id beside the pid.
    pub fn event(&mut self, event: &Event, cgroup: Option<&Cgroup>) {
        if !self.takes(RecordType::Event) {
            return;
        }
        let fields = args::describe(event);
        let h = &event.header;
        let container = cgroup.and_then(|c| c.container.as_ref());
        self.emit(RecordType::Event, None, |r, format, buf| match format {
            Format::Json => {
                // The hot path of `--events`: the fixed keys as literals, the host as
                // rendered once, the thread's fields as rendered for its last event.
                buf.extend_from_slice(b"{\"type\":\"event\",\"ts\":\"");
                r.event_ts.write(&r.clock, h.ts_ns, buf);
                buf.extend_from_slice(&r.host_then_pid);
                r.event_thread.write(buf, (h.pid, h.tid, h.ppid), &h.comm);
                if let Some(c) = cgroup {
                    buf.extend_from_slice(b",");
                    buf.extend_from_slice(json::cgroup_fields(c));
                }
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
                let ts = r.event_ts.format(&r.clock, h.ts_ns);
                r.line.clear();
                text::event_line(&mut r.line, event, container, &fields, ts);
                escape::line(buf, &r.line);
            }
        });
    }

    /// Events lost since the last report, per kind.
    pub fn loss(&mut self, site: LossSite, lost: &PerKind, total: u64) {
        self.emit(RecordType::Loss, None, |r, format, buf| match format {
            Format::Json => {
                r.record(buf, "loss", Clock::monotonic_now_ns())
                    .str("where", site.name())
                    .int("count", total as i64)
                    .value("by_kind", &kind_counts(lost))
                    .end();
            }
            Format::Text => {
                r.line.clear();
                let _ = write!(r.line, "!! fdwatch lost {total} events ({}): ", site.name());
                text::write_value(&mut r.line, &kind_counts(lost));
                escape::line(buf, &r.line);
            }
        });
    }

    /// Records an output dropped (its queue was full, or its destination refused
    /// them) since the last report, per record type.
    pub fn output_loss(&mut self, output: &str, dropped: &TypeCounts) {
        let total: u64 = dropped.iter().sum();
        self.emit(RecordType::Loss, None, |r, format, buf| match format {
            Format::Json => {
                r.record(buf, "loss", Clock::monotonic_now_ns())
                    .str("where", "output")
                    .str("output", output)
                    .int("count", total as i64)
                    .value("by_type", &type_counts(dropped))
                    .end();
            }
            Format::Text => {
                r.line.clear();
                let _ = write!(r.line, "!! fdwatch output {output} dropped {total} records: ");
                text::write_value(&mut r.line, &type_counts(dropped));
                escape::line(buf, &r.line);
            }
        });
    }

    /// Totals so far: every `--stats-interval`, and last. Text outputs get only the
    /// last, as one line on stderr.
    pub fn stats(&mut self, stats: &Stats) {
        let total: u64 = stats.events.iter().sum();
        self.emit(RecordType::Stats, None, |r, format, buf| {
            if format != Format::Json {
                return;
            }
            let alerts = Value::List(
                stats
                    .alerts
                    .iter()
                    .map(|((kind, severity), n)| {
                        Value::Object(vec![
                            ("kind", Value::Str((*kind).into())),
                            ("severity", Value::Str((*severity).into())),
                            ("count", Value::Int(*n as i64)),
                        ])
                    })
                    .collect(),
            );
            let dropped = Value::List(
                stats
                    .output_dropped
                    .iter()
                    .map(|(name, n)| {
                        Value::Object(vec![
                            ("output", Value::Str(name.clone().into())),
                            ("dropped", Value::Int(*n as i64)),
                        ])
                    })
                    .collect(),
            );
            let queries = stats.queries.map(|q| {
                Value::Object(vec![
                    ("answered", Value::Int(q.answered as i64)),
                    ("refused", Value::Int(q.refused as i64)),
                    ("dropped", Value::Int(q.dropped as i64)),
                    ("busy", Value::Int(q.busy as i64)),
                ])
            });
            let mut obj = r.record(buf, "stats", Clock::monotonic_now_ns());
            obj.int("events", total as i64)
                .value("by_kind", &kind_counts(&stats.events))
                .int("kernel_lost", stats.kernel_lost as i64)
                .int("userspace_lost", stats.userspace_lost as i64)
                .int("fd_model_lost", stats.fd_model_lost as i64)
                .int("out_of_scope", stats.out_of_scope as i64)
                .value("alerts", &alerts)
                .value("outputs", &dropped)
                .int("elapsed_ns", stats.elapsed_ns as i64)
                .int("tracked_fds", stats.tracked_fds as i64)
                .int("processes", stats.processes as i64)
                .int("cgroups", stats.cgroups as i64)
                .int("cgroups_unresolved", stats.cgroups_unresolved as i64)
                .int("cpu_ns", stats.cpu_ns as i64)
                .int("rss_bytes", stats.rss_bytes as i64)
                .value("last", &Value::Bool(stats.last));
            if let Some(q) = &queries {
                obj.value("queries", q);
            }
            obj.end();
        });
        if stats.last && self.text_takes(RecordType::Stats) {
            crate::error::report(format_args!(
                "{total} events in {:.1} s, {} lost in the kernel ring buffer, {} in userspace",
                stats.elapsed_ns as f64 / 1e9,
                stats.kernel_lost,
                stats.userspace_lost
            ));
        }
    }

    /// A SIGHUP was handled: the config file re-read (or refused), files reopened.
    pub fn reload(&mut self, reload: &Reload<'_>) {
        self.emit(RecordType::Reload, None, |r, format, buf| match format {
            Format::Json => {
                let mut obj = r.record(buf, "reload", Clock::monotonic_now_ns());
                obj.value("ok", &Value::Bool(reload.error.is_none()))
                    .value("config", &reload.path.map_or(Value::Null, |p| Value::Str(p.to_owned().into())));
                if let Some(e) = reload.error {
                    obj.str("error", e);
                }
                obj.value("applied", &text_of(reload.applied))
                    .value("needs_restart", &text_of(reload.needs_restart))
                    .int("reopened", reload.reopened as i64)
                    .end();
            }
            Format::Text => {
                r.line.clear();
                match reload.error {
                    Some(e) => {
                        let _ = write!(r.line, "~ fdwatch kept its configuration: {e}");
                    }
                    None => {
                        let _ = write!(
                            r.line,
                            "~ fdwatch reloaded {}: applied [{}], needs a restart [{}], {} files reopened",
                            reload.path.unwrap_or("(no config file)"),
                            reload.applied.join(", "),
                            reload.needs_restart.join(", "),
                            reload.reopened
                        );
                    }
                }
                escape::line(buf, &r.line);
            }
        });
    }

    /// The model re-read `process` (or, with None, every process) from /proc; its comm
    /// as /proc gave it.
    pub fn resync(
        &mut self,
        process: Option<(u32, &[u8], Option<&Cgroup>)>,
        reason: &str,
        processes: usize,
        fds_changed: usize,
    ) {
        self.emit(RecordType::Resync, None, |r, format, buf| match format {
            Format::Json => {
                let mut obj = r.record(buf, "resync", Clock::monotonic_now_ns());
                match process {
                    Some((pid, comm, cgroup)) => {
                        obj.int("pid", pid as i64).bytes("comm", comm);
                        for (k, v) in cgroup.map(Cgroup::fields).unwrap_or_default() {
                            obj.value(k, &v);
                        }
                    }
                    None => {
                        obj.str("scope", "all");
                    }
                };
                obj.str("reason", reason)
                    .int("processes", processes as i64)
                    .int("fds_changed", fds_changed as i64)
                    .end();
            }
            Format::Text => {
                let line = &mut r.line;
                line.clear();
                line.extend_from_slice(b"~ fdwatch re-read ");
                match process {
                    Some((pid, comm, cgroup)) => {
                        let _ = write!(line, "pid {pid} (");
                        line.extend_from_slice(comm);
                        line.push(b')');
                        if let Some(c) = cgroup.and_then(|c| c.container.as_ref()) {
                            let _ = write!(line, " in {c}");
                        }
                    }
                    None => {
                        let _ = write!(line, "all {processes} processes");
                    }
                }
                let _ = write!(line, " from /proc: {reason}; {fds_changed} fds differed");
                escape::line(buf, line);
            }
        });
    }

    /// One fd of the model (SIGUSR1, --dump-on-exit).
    pub fn fd(&mut self, fields: &Fields) {
        self.emit(RecordType::Fd, None, |r, format, buf| match format {
            Format::Json => {
                let mut obj = r.record(buf, "fd", Clock::monotonic_now_ns());
                for (k, v) in fields {
                    obj.value(k, v);
                }
                obj.end();
            }
            Format::Text => {
                r.line.clear();
                text::write_fields(&mut r.line, fields);
                escape::line(buf, &r.line);
            }
        });
    }

    /// Hand a lane's records to its outputs once it holds `WRITE_AT` bytes, keeping
    /// the buffers small.
    #[inline]
    fn write_if_full(&mut self) {
        for li in 0..self.lanes.len() {
            if self.lanes[li].buf.len() >= WRITE_AT {
                self.hand_off(li);
            }
        }
    }

    fn hand_off(&mut self, li: usize) {
        let lane = &mut self.lanes[li];
        if lane.buf.is_empty() {
            return;
        }
        let chunk = Chunk {
            data: lane.buf.split().freeze(),
            counts: std::mem::take(&mut lane.counts),
            frames: lane.frames.as_mut().map(|f| Arc::from(std::mem::take(f))),
        };
        // Once every output has written the chunk, this takes its memory back.
        lane.buf.reserve(BUF_CAPACITY);
        for &o in &lane.outputs {
            self.outputs.push(o, &chunk);
        }
    }

    /// Hand everything buffered to the outputs. Err: the one synchronous output
    /// (`Sink::new`) could not be written (e.g. a closed pipe); queued outputs never
    /// fail here, they drop and count.
    pub fn flush(&mut self) -> io::Result<()> {
        for li in 0..self.lanes.len() {
            self.hand_off(li);
        }
        self.outputs.take_direct_error()
    }
}

/// The host name every record carries (`host`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::{cell::RefCell, rc::Rc};

    use fdwatch_common::MAX_KIND;

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
            sink.event(&close, None);
        }
    }

    #[test]
    fn a_burst_of_events_is_written_out_as_it_comes_in_whole_lines() {
        let writes = Writes::default();
        let mut sink = sink(&writes);
        let events = 10_000;
        burst(&mut sink, events);
        assert!(
            sink.lanes[0].buf.capacity() <= BUF_CAPACITY,
            "the buffer did not grow: {}",
            sink.lanes[0].buf.capacity()
        );
        sink.flush().unwrap();
        let lens = writes.lens.borrow();
        assert!(lens.len() > 5, "written out during the burst: {lens:?}");
        let total: usize = lens.iter().sum();
        let one = {
            let mut s = super::tests::sink(&Writes::default());
            burst(&mut s, 1);
            s.lanes[0].buf.len()
        };
        assert_eq!(total, events * one, "every line once");
        assert!(lens.iter().all(|l| l % one == 0), "only whole lines per write");
    }

    #[test]
    fn lanes_take_their_records_rendered_once_per_format() {
        let mut sink = Sink::empty(Clock::fixed(0), Outputs::direct(Box::new(Writes::default())));
        let alerts_and_losses = Filter::new(&[RecordType::Alert, RecordType::Loss], Severity::Warning);
        sink.route(&[
            (Format::Json, Filter::default(), false),
            (Format::Json, alerts_and_losses, true),
            (Format::Text, Filter::default(), false),
            (Format::Json, Filter::default(), false),
        ]);
        assert_eq!(sink.lanes.len(), 3, "outputs with the same format and choice share a lane");
        assert_eq!(sink.lanes[0].outputs, [0, 3]);
        burst(&mut sink, 3);
        sink.loss(LossSite::Userspace, &[0; MAX_KIND as usize], 2);
        let (json, chosen, text) = (&sink.lanes[0], &sink.lanes[1], &sink.lanes[2]);
        let ev = RecordType::Event as usize;
        let loss = RecordType::Loss as usize;
        assert_eq!((json.counts[ev], json.counts[loss]), (3, 1));
        assert_eq!((chosen.counts[ev], chosen.counts[loss]), (0, 1));
        assert_eq!((text.counts[ev], text.counts[loss]), (3, 1));
        // The loss record: the same bytes in both JSON lanes, its end and syslog
        // severity (warning) kept where an output sends records one by one.
        let last_line = |b: &[u8]| b.split(|&c| c == b'\n').rfind(|l| !l.is_empty()).unwrap().to_vec();
        assert_eq!(last_line(&json.buf), last_line(&chosen.buf));
        assert!(last_line(&chosen.buf).starts_with(b"{\"type\":\"loss\""));
        assert_eq!(
            chosen.frames.as_deref(),
            Some(&[Frame { end: chosen.buf.len() as u32, ty: RecordType::Loss, severity: 4 }][..])
        );
        assert!(json.frames.is_none());
        let text = String::from_utf8(text.buf.to_vec()).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.lines().next().unwrap().ends_with("close(fd=100) = 0"), "{text}");
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
