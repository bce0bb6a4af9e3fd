//! The outputs: any number at once, each with its own writer thread and bounded queue
//! (queue.rs), so a slow or dead one never stalls the collector or the others. The
//! collector hands each output whole chunks of records once per batch; a chunk that
//! does not fit in the queue is dropped whole and its records counted, per record type,
//! until the output takes chunks again, when a `loss` record (`where: "output"`) says
//! how many it missed. Records the writer took but could not deliver (a transport that
//! refuses a message, a queue left at exit) are counted the same way.
//!
//! One exception keeps the command line's contract (README, exit codes): standard
//! output as the *only* output is written by the collector itself, synchronously, as
//! before outputs existed. A reader that is slow holds the collector back (events are
//! then lost, counted, in the kernel ring buffer), one that goes away ends the run
//! (exit 0), and one that cannot be written ends it with exit 3. Among other outputs,
//! stdout is an output like the rest: dead, it drops and counts, and the agent carries on.
mod file;
mod queue;
pub mod record;
pub mod spec;
pub mod stdout;
mod stream;
mod syslog;

use std::{
    io::{self, Write},
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

pub use queue::{Chunk, Frame, Queue};
pub use spec::{Dest, Format, OutputConfig};

use crate::{
    error::report,
    outputs::record::{RecordType, TypeCounts},
};

impl OutputConfig {
    /// Whether the output sends records one by one and needs to know where each ends.
    pub fn framed(&self) -> bool {
        matches!(self.dest, Dest::Syslog(_))
    }
}

/// How long the outputs may take at exit to write what they hold.
pub const EXIT_DRAIN: Duration = Duration::from_secs(5);

/// A destination, written by its own thread (file.rs, syslog.rs, stream.rs, and
/// standard output below).
trait Writer: Send {
    /// Deliver `chunk`, retrying what can be retried (reconnect, reopen, with backoff)
    /// until it is delivered or `queue` is abandoned; what cannot be delivered is
    /// counted with `queue.undelivered`.
    fn deliver(&mut self, chunk: &Chunk, queue: &Queue);
    /// SIGHUP: reopen (a file logrotate renamed). Other destinations have nothing to do.
    fn reopen(&mut self) {}
}

/// Retry delays of a destination that fails: 100 ms, doubling, at most 5 s.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Self {
        Self(Self::FIRST)
    }

    fn reset(&mut self) {
        self.0 = Self::FIRST;
    }

    /// Sleep the current delay (cut short if the queue is abandoned); true if abandoned.
    fn wait(&mut self, queue: &Queue) -> bool {
        let d = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        queue.sleep(d)
    }
}

/// One line on stderr when a destination starts failing, one when it works again: an
/// outage is visible in the journal without a line per retry.
struct Health {
    name: String,
    failing: bool,
}

impl Health {
    fn new(name: String) -> Self {
        Self { name, failing: false }
    }

    fn failed(&mut self, what: std::fmt::Arguments<'_>) {
        if !self.failing {
            self.failing = true;
            report(format_args!("output {}: {what}; retrying", self.name));
        }
    }

    fn ok(&mut self) {
        if std::mem::take(&mut self.failing) {
            report(format_args!("output {}: working again", self.name));
        }
    }
}

/// Standard output among other outputs (the single-output case is `Outputs::direct`).
struct StdoutWriter {
    out: stdout::Stdout,
    health: Health,
    backoff: Backoff,
    /// The reader went away (EPIPE): it will not come back.
    gone: bool,
}

impl Writer for StdoutWriter {
    fn deliver(&mut self, chunk: &Chunk, queue: &Queue) {
        loop {
            if self.gone {
                queue.undelivered(&chunk.counts);
                return;
            }
            // Stdout::write_all cuts a partly written line back (a regular file), so a
            // retry starts at a line.
            match self.out.write_all(&chunk.data) {
                Ok(()) => {
                    self.health.ok();
                    self.backoff.reset();
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    report(format_args!("output stdout: its reader went away; the other outputs carry on"));
                    self.gone = true;
                }
                Err(e) => {
                    self.health.failed(format_args!("cannot write: {e}"));
                    if self.backoff.wait(queue) {
                        queue.undelivered(&chunk.counts);
                        return;
                    }
                }
            }
        }
    }
}

fn writer_thread(name: &str, mut writer: Box<dyn Writer>, queue: Arc<Queue>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        // The name shows in top -H and /proc/PID/task/*/comm (15 bytes).
        .name(format!("out:{}", name.chars().take(11).collect::<String>()))
        .stack_size(256 << 10)
        .spawn(move || {
            loop {
                if queue.take_reopen() {
                    writer.reopen();
                }
                match queue.pop() {
                    Some(chunk) => writer.deliver(&chunk, &queue),
                    None if queue.take_reopen() => writer.reopen(),
                    None if queue.is_closed() => break,
                    None => {}
                }
            }
        })
}

enum Kind {
    /// Written by the collector, synchronously; the first error is kept for `flush`.
    Direct {
        out: Box<dyn Write>,
        error: Option<io::Error>,
    },
    Queued {
        queue: Arc<Queue>,
        thread: Option<JoinHandle<()>>,
    },
}

struct Output {
    config: OutputConfig,
    name: String,
    kind: Kind,
    /// Dropped or undelivered records not yet reported in a `loss` record.
    pending: TypeCounts,
    /// Every record dropped or undelivered so far (stats, metrics).
    dropped_total: u64,
    /// The last chunk did not fit: the output is in an outage.
    refusing: bool,
}

impl Output {
    fn start(config: &OutputConfig, host: &str) -> Result<Output, String> {
        let name = config.dest.to_string();
        let writer: Box<dyn Writer> = match &config.dest {
            Dest::Stdout => Box::new(StdoutWriter {
                out: stdout::Stdout::new(),
                health: Health::new(name.clone()),
                backoff: Backoff::new(),
                gone: false,
            }),
            // Opened now, so a path that cannot be written is an error at startup (or
            // a refused reload), not a silent outage.
            Dest::File(path) => Box::new(
                file::FileWriter::open(path, config.rotate_bytes, config.rotate_keep, Health::new(name.clone()))
                    .map_err(|e| format!("output {name}: cannot open {}: {e}", path.display()))?,
            ),
            Dest::Syslog(to) => {
                Box::new(syslog::SyslogWriter::new(to.clone(), config.facility, host, Health::new(name.clone())))
            }
            Dest::Tcp(addr) => Box::new(stream::StreamWriter::tcp(addr.clone(), Health::new(name.clone()))),
            Dest::Unix(path) => Box::new(stream::StreamWriter::unix(path.clone(), Health::new(name.clone()))),
        };
        let queue = Queue::new(config.queue_bytes);
        let thread = writer_thread(&name, writer, Arc::clone(&queue))
            .map_err(|e| format!("output {name}: cannot start its thread: {e}"))?;
        Ok(Output {
            config: config.clone(),
            name,
            kind: Kind::Queued { queue, thread: Some(thread) },
            pending: [0; RecordType::COUNT],
            dropped_total: 0,
            refusing: false,
        })
    }

    fn count(&mut self, counts: &TypeCounts) {
        for (p, c) in self.pending.iter_mut().zip(counts) {
            *p += c;
            self.dropped_total += c;
        }
    }
}

pub struct Outputs {
    list: Vec<Output>,
    /// Outputs a reload removed, finishing their queues until the deadline.
    retiring: Vec<(Output, Instant)>,
}

impl Outputs {
    /// Standard output, written synchronously by the collector (see the module doc).
    pub fn direct(out: Box<dyn Write>) -> Self {
        let config = OutputConfig::new(Dest::Stdout, Format::Text);
        Self {
            retiring: Vec::new(),
            list: vec![Output {
                name: config.dest.to_string(),
                config,
                kind: Kind::Direct { out, error: None },
                pending: [0; RecordType::COUNT],
                dropped_total: 0,
                refusing: false,
            }],
        }
    }

    /// Start a writer for each output. Err: one could not be opened (the one line says
    /// which and why); none is left running.
    pub fn start(configs: &[OutputConfig], host: &str) -> Result<Self, String> {
        let mut outputs = Self { list: Vec::new(), retiring: Vec::new() };
        outputs.replace(configs, host)?;
        Ok(outputs)
    }

    /// The outputs of `configs`: a running writer whose destination and options are
    /// unchanged carries on (its queue too); the others start; the ones no longer
    /// wanted finish what they hold in the background. Err: a new one could not be
    /// started; nothing changed.
    pub fn replace(&mut self, configs: &[OutputConfig], host: &str) -> Result<(), String> {
        // New writers first, so a failure leaves everything as it was.
        let mut started = Vec::new();
        for config in configs {
            if self.list.iter().any(|o| o.config.same_writer(config)) {
                started.push(None);
                continue;
            }
            match Output::start(config, host) {
                Ok(o) => started.push(Some(o)),
                Err(e) => {
                    for o in started.into_iter().flatten() {
                        o.close();
                        o.abandon();
                    }
                    return Err(e);
                }
            }
        }
        let mut old: Vec<Option<Output>> = std::mem::take(&mut self.list).into_iter().map(Some).collect();
        for (config, new) in configs.iter().zip(started) {
            let output = match new {
                Some(o) => Some(o),
                None => old
                    .iter_mut()
                    .find(|o| o.as_ref().is_some_and(|o| o.config.same_writer(config)))
                    .and_then(Option::take)
                    .map(|mut o| {
                        o.config = config.clone();
                        o
                    }),
            };
            self.list.extend(output);
        }
        for o in old.into_iter().flatten() {
            // Not wanted any more: it writes what it holds, for EXIT_DRAIN at most.
            o.close();
            self.retiring.push((o, Instant::now() + EXIT_DRAIN));
        }
        Ok(())
    }

    pub fn configs(&self) -> impl Iterator<Item = &OutputConfig> {
        self.list.iter().map(|o| &o.config)
    }

    /// Hand `chunk` to output `i`; counted as dropped if it does not fit.
    pub fn push(&mut self, i: usize, chunk: &Chunk) {
        let o = &mut self.list[i];
        match &mut o.kind {
            Kind::Direct { out, error } => {
                if error.is_none() {
                    *error = out.write_all(&chunk.data).and_then(|()| out.flush()).err();
                }
            }
            Kind::Queued { queue, .. } => match queue.push(chunk) {
                true => o.refusing = false,
                false => {
                    if !o.refusing {
                        o.refusing = true;
                        report(format_args!(
                            "output {}: its queue is full ({} bytes): dropping records until it catches up",
                            o.name, o.config.queue_bytes
                        ));
                    }
                    o.count(&chunk.counts);
                }
            },
        }
    }

    /// The synchronous output's first write error, once.
    pub fn take_direct_error(&mut self) -> io::Result<()> {
        for o in &mut self.list {
            if let Kind::Direct { error, .. } = &mut o.kind {
                if let Some(e) = error.take() {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Outputs that lost records and take them again: (name, records lost per type
    /// since the last report), for their `loss` records.
    pub fn recovered(&mut self) -> Vec<(String, TypeCounts)> {
        let mut out = Vec::new();
        let now = Instant::now();
        let (done, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.retiring).into_iter().partition(|(o, until)| o.finished() || now >= *until);
        self.retiring = waiting;
        for (mut o, _) in done {
            o.finish_now();
            let lost = o.pending;
            if lost.iter().any(|&n| n > 0) {
                out.push((o.name.clone(), lost));
            }
        }
        for o in &mut self.list {
            if let Kind::Queued { queue, .. } = &o.kind {
                let undelivered = queue.take_undelivered();
                o.count(&undelivered);
            }
            if !o.refusing && o.pending.iter().any(|&n| n > 0) {
                out.push((o.name.clone(), std::mem::take(&mut o.pending)));
            }
        }
        out
    }

    /// Records dropped so far, per output (stats, metrics).
    pub fn dropped(&self) -> Vec<(String, u64)> {
        self.list.iter().map(|o| (o.name.clone(), o.dropped_total)).collect()
    }

    /// SIGHUP: every file output reopens its path. Returns how many.
    pub fn reopen(&self) -> usize {
        let mut n = 0;
        for o in &self.list {
            if let (Kind::Queued { queue, .. }, Dest::File(_)) = (&o.kind, &o.config.dest) {
                queue.request_reopen();
                n += 1;
            }
        }
        n
    }

    /// The end of the run: every writer gets up to `deadline` to write what it holds;
    /// what is left is counted and said on stderr.
    pub fn finish(&mut self, deadline: Duration) {
        for o in &self.list {
            o.close();
        }
        let until = Instant::now() + deadline;
        let all = self.list.iter_mut().chain(self.retiring.iter_mut().map(|(o, _)| o));
        for o in all {
            while !o.finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            o.finish_now();
            let n: u64 = o.pending.iter().sum();
            if n > 0 {
                report(format_args!("output {}: {n} records were not delivered", o.name));
            }
        }
    }
}

impl Output {
    fn close(&self) {
        if let Kind::Queued { queue, .. } = &self.kind {
            queue.close();
        }
    }

    fn abandon(&self) {
        if let Kind::Queued { queue, .. } = &self.kind {
            queue.abandon();
        }
    }

    /// Its writer thread has stopped (or there is none).
    fn finished(&self) -> bool {
        match &self.kind {
            Kind::Queued { thread, .. } => thread.as_ref().is_none_or(|t| t.is_finished()),
            Kind::Direct { .. } => true,
        }
    }

    /// Stop the writer if it is still at work, and count what it did not deliver.
    fn finish_now(&mut self) {
        let Kind::Queued { queue, thread } = &mut self.kind else { return };
        let mut left = queue.take_undelivered();
        if thread.as_ref().is_some_and(|t| !t.is_finished()) {
            // Stuck (a destination that does not answer): it is left to stop at its
            // next look at the queue, or with the process.
            queue.abandon();
        } else if let Some(t) = thread.take() {
            let _ = t.join();
        }
        for (l, d) in left.iter_mut().zip(queue.discard()) {
            *l += d;
        }
        self.count(&left);
    }
}
