//! The collector loop: drain the ring buffer, decode, keep the fd model, run the
//! detectors, report what was lost or re-read, stop cleanly on SIGINT/SIGTERM/--duration. SIGUSR1 dumps the
//! model's fds. SIGHUP reopens file outputs and reloads the config file: detector
//! settings, the allowlist, outputs and the stats interval change in place; the
//! probes, the ring and the fd model stay as they are.
use std::time::Duration;

use rustc_hash::FxHashMap as HashMap;

use aya::maps::{MapData, PerCpuArray};
use fdwatch_common::{Kind, MAX_KIND};
use tokio::{
    io::{Interest, unix::AsyncFd},
    signal::unix::{SignalKind, signal},
    time::{Interval, MissedTickBehavior, interval, interval_at, sleep},
};

use crate::{
    clock::Clock,
    config::{Loader, Settings},
    containers::{self, Cgroup},
    control,
    decode::{Body, Event, Timebase, decode},
    detect::Detectors,
    detect::Output,
    error::{Failure, report},
    heap, metrics,
    model::{Applied, Model, ObjectKind, Pid, Step, describe, snapshot::ProcSnapshot},
    outputs::EXIT_DRAIN,
    probes::{Probes, TaskFiles, ring::EventRing},
    procfs, scan,
    scope::Watch,
    sinks::{LossSite, PerKind, Reload, Sink, Stats},
};

/// How often the ring buffer is drained when no wake-up came (the probes wake us only
/// once `--wakeup-bytes` have piled up).
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// Once this many drains in a row found nothing (100 ms of quiet), the loop drains
/// every IDLE_DRAIN_EVERY instead, until a drain finds records again. Each wake-up of
/// an idle agent cost this VM ~100 us of CPU (timer, context switches, the loop):
/// 1.4% of a CPU at 100 a second. A burst still wakes it at once (`--wakeup-bytes`);
/// the first record after a quiet spell waits at most IDLE_DRAIN_EVERY.
const IDLE_AFTER: u32 = 10;
const IDLE_DRAIN_EVERY: Duration = Duration::from_millis(100);
/// At most this many bytes of records are read before the loop looks at its signals,
/// timers and stdout again: under a flood that never lets the reader catch up, an
/// unbounded drain would starve SIGTERM and the loss reports. 1 MiB is ~5000 events,
/// a few ms of work.
const DRAIN_BUDGET: usize = 1 << 20;
/// How often the kernel's loss counters are read.
const LOSS_EVERY: Duration = Duration::from_secs(1);
/// A process is re-read from /proc at most this often; further requests wait.
const RESYNC_MIN_GAP_NS: u64 = 50_000_000;

pub struct Options {
    pub show_events: bool,
    pub duration: Option<Duration>,
    pub dump_on_exit: bool,
    /// The processes reported, kept current as they fork and exit.
    pub watch: Watch,
    /// The host's cgroup hierarchies (containers/layout.rs).
    pub layout: containers::layout::Layout,
    /// Standard output, watched for a reader that went away.
    pub stdout: Option<crate::outputs::stdout::Stdout>,
    /// Reads the probes' tick-count timestamps (agent mode) as ns.
    pub timebase: Timebase,
}

/// What the always-on agent adds to a run (`Collector::serve`): periodic stats, SIGHUP
/// reloads, the metrics endpoint. None of it by default.
#[derive(Default)]
pub struct Service {
    /// A `stats` record this often (None: only the last).
    pub stats_interval: Option<Duration>,
    /// What SIGHUP re-reads, and the configuration running now.
    pub reload: Option<(Loader, Settings)>,
    /// The Prometheus endpoint, when configured.
    pub metrics: Option<metrics::Metrics>,
    /// Queries from the control socket (control/), when it listens.
    pub queries: Option<control::server::Inbox>,
}

struct Counters {
    events: PerKind,
    kernel_lost: PerKind,
    kernel_lost_total: u64,
    undecodable: u64,
    userspace_lost_total: u64,
    fd_model_lost_total: u64,
    /// Alerts written, by (kind, severity).
    alerts: std::collections::BTreeMap<(&'static str, &'static str), u64>,
    /// Events of pids outside the scope (a pid of --pid reused after its exit, in the
    /// moment before the kernel's watch list lost it): not reported, counted in stats.
    out_of_scope: u64,
}

/// The signals the loop answers: SIGINT/SIGTERM stop, SIGUSR1 dumps the model, SIGHUP
/// reloads.
pub struct Signals {
    sigint: tokio::signal::unix::Signal,
    sigterm: tokio::signal::unix::Signal,
    sigusr1: tokio::signal::unix::Signal,
    sighup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Needs a running tokio runtime.
    pub fn install() -> Result<Self, Failure> {
        let failed = |e: std::io::Error| Failure::env(format!("cannot install signal handlers: {e}"));
        Ok(Self {
            sigint: signal(SignalKind::interrupt()).map_err(failed)?,
            sigterm: signal(SignalKind::terminate()).map_err(failed)?,
            sigusr1: signal(SignalKind::user_defined1()).map_err(failed)?,
            sighup: signal(SignalKind::hangup()).map_err(failed)?,
        })
    }
}

/// What the collector reads from the host besides the ring buffer: the clock, /proc,
/// and the cgroups and runtimes' state (containers::Source). The loop's pure part
/// (decode, model, detectors, sinks) runs the same over any host: [`Proc`] for real,
/// and the fuzz target (fuzz/) one that answers from its input without I/O.
pub trait Host: containers::Source {
    /// CLOCK_MONOTONIC now: the clock event times are on.
    fn now_ns(&self) -> u64;
    /// A fresh reading of `pid` and its fds, or None if it is gone.
    fn snapshot(&mut self, pid: Pid) -> Option<ProcSnapshot>;
    /// What fd `fd` of `pid` points to now (a file's current path).
    fn fd_link(&mut self, pid: Pid, fd: i32) -> Option<Vec<u8>>;
}

/// The running system.
pub struct Proc {
    cgroups: containers::SystemSource,
}

impl Proc {
    pub fn new(layout: &containers::layout::Layout) -> Self {
        Proc { cgroups: containers::SystemSource::new(layout) }
    }
}

impl containers::Source for Proc {
    fn proc_cgroup(&mut self, pid: Pid) -> Option<String> {
        self.cgroups.proc_cgroup(pid)
    }
    fn gone(&mut self, pid: Pid) -> bool {
        self.cgroups.gone(pid)
    }
    fn unified_path(&mut self, id: u64) -> Option<String> {
        self.cgroups.unified_path(id)
    }
    fn unified_id(&mut self, path: &str) -> Option<u64> {
        self.cgroups.unified_id(path)
    }
    fn details(&mut self, container: &mut containers::ContainerRef) -> containers::Details {
        self.cgroups.details(container)
    }
    fn probe(&mut self, path: &str) -> Option<(containers::ContainerRef, containers::Details)> {
        self.cgroups.probe(path)
    }
}

impl Host for Proc {
    fn now_ns(&self) -> u64 {
        Clock::monotonic_now_ns()
    }

    fn snapshot(&mut self, pid: Pid) -> Option<ProcSnapshot> {
        procfs::snapshot(pid)
    }

    fn fd_link(&mut self, pid: Pid, fd: i32) -> Option<Vec<u8>> {
        procfs::fd_link(pid, fd)
    }
}

/// Everything the loop owns besides the kernel maps.
pub struct Collector<H = Proc> {
    pub model: Model,
    detectors: Detectors,
    sink: Sink,
    clock: Clock,
    options: Options,
    service: Service,
    counters: Counters,
    last_resync_ns: HashMap<Pid, u64>,
    pending_resync: HashMap<Pid, &'static str>,
    /// Cgroup ids -> paths -> containers (containers/cache.rs).
    cgroups: containers::Cache,
    host: H,
}

/// What the startup reading of /proc found.
pub struct StartupScan {
    pub processes: usize,
    pub fds: usize,
    pub elapsed_ns: u64,
}

impl Collector<Proc> {
    pub fn new(model: Model, detectors: Detectors, sink: Sink, clock: Clock, options: Options) -> Self {
        let layout = options.layout.clone();
        Self::with_host(model, detectors, sink, clock, options, Proc::new(&layout))
    }
}

impl<H: Host> Collector<H> {
    pub fn with_host(model: Model, detectors: Detectors, sink: Sink, clock: Clock, options: Options, host: H) -> Self {
        let cgroups = containers::Cache::new(&options.layout);
        Self {
            model,
            detectors,
            sink,
            clock,
            options,
            service: Service::default(),
            counters: Counters {
                events: [0; MAX_KIND as usize],
                kernel_lost: [0; MAX_KIND as usize],
                kernel_lost_total: 0,
                undecodable: 0,
                userspace_lost_total: 0,
                fd_model_lost_total: 0,
                alerts: Default::default(),
                out_of_scope: 0,
            },
            last_resync_ns: HashMap::default(),
            pending_resync: HashMap::default(),
            cgroups,
            host,
        }
    }

    pub fn sink(&mut self) -> &mut Sink {
        &mut self.sink
    }

    /// Answer the control socket's queries (control/server.rs).
    pub fn listen(&mut self, inbox: control::server::Inbox) {
        self.service.queries = Some(inbox);
    }

    /// Run as the always-on agent: periodic stats, SIGHUP reloads, metrics.
    pub fn serve(mut self, service: Service) -> Self {
        self.service = service;
        self
    }

    /// The processes the model covers: the watched ones (with --follow, and their
    /// descendants now: some may have forked while their fork event was lost), or
    /// everyone but us.
    fn scope(&self) -> Vec<Pid> {
        let me = std::process::id();
        if self.options.watch.is_host() {
            return procfs::pids().into_iter().filter(|&p| p != me).collect();
        }
        if let Some(cgroup) = self.options.watch.cgroup() {
            return crate::scope::pids_in_cgroup(cgroup);
        }
        let mut pids = self.options.watch.members();
        if self.options.watch.follow() {
            procfs::add_descendants(&mut pids);
        }
        pids
    }

    /// Every process in scope, with all its fds: from the task_file iterator, or from
    /// /proc if the iterator fails.
    fn read_all(&self, task_files: &mut TaskFiles) -> Vec<ProcSnapshot> {
        let scope = (!self.options.watch.is_host()).then(|| self.scope());
        match task_files.read() {
            Ok(records) => scan::snapshots(&records, scope.as_deref()),
            Err(e) => {
                // Slower (a readlink and an fdinfo read per fd) but complete.
                crate::error::report(format_args!("the task_file iterator failed ({e:#}); reading /proc instead"));
                procfs::snapshots(&scope.unwrap_or_else(|| self.scope()))
            }
        }
    }

    /// Read every process in scope. Called after the probes are attached, so what
    /// changes during the reading arrives as events (applied if newer than it).
    pub fn scan_at_start(&mut self, task_files: &mut TaskFiles) -> StartupScan {
        let started = Clock::monotonic_now_ns();
        let snapshots = self.read_all(task_files);
        for snap in &snapshots {
            self.model.load_snapshot(snap, Step::PresentAtStart);
        }
        let processes = snapshots.len();
        self.model.shrink_to_fit();
        StartupScan { processes, fds: self.model.tracked_fds(), elapsed_ns: Clock::monotonic_now_ns() - started }
    }

    /// One record as the ring buffer holds it: decoded and handled, or counted as lost.
    pub fn record(&mut self, bytes: &[u8]) {
        match &decode(bytes, &self.options.timebase) {
            // Borrowed, not moved out of the Result: an `Event` is 432 bytes, and the
            // move was a memcpy per event (3.6% of the collector with --events).
            Ok(event) => self.handle(event),
            Err(_) => self.counters.undecodable += 1,
        }
    }

    /// One decoded event: counted, written with --events, shown to the detectors before
    /// and after the model applies it, and a contradiction re-read from the host.
    pub fn handle(&mut self, event: &Event) {
        let pid = event.header.pid;
        if !self.options.watch.admits(pid) && !event.target().is_some_and(|t| self.options.watch.admits(t)) {
            self.counters.out_of_scope += 1;
            return;
        }
        self.counters.events[event.kind as usize] += 1;
        let cgroup = self.attribute(pid, event.header.cgroup_id);
        if self.options.show_events {
            self.sink.event(event, Some(&cgroup));
        }
        self.detectors.before(&self.model, event);
        let applied = self.model.apply(event);
        self.detectors.after(&self.model, event);
        if let Applied::Resync { pid, reason } = applied {
            self.resync(pid, reason);
        }
        // Without --follow the kernel reports nothing of a watched process's children,
        // so the model must not keep them (their exit would never arrive).
        match &event.body {
            Body::Fork(f) if f.is_thread == 0 => {
                self.options.watch.forked(pid, f.child_pid);
                if !self.options.watch.admits(f.child_pid) {
                    self.model.remove_process(f.child_pid);
                }
            }
            Body::Exit(e) if e.group_dead != 0 => self.options.watch.exited(pid),
            _ => {}
        }
    }

    /// The cgroup (and container) of `pid`, whose event carries cgroup id `id`: the one
    /// the model keeps for it while the id is the same (one comparison per event), else
    /// resolved (containers/cache.rs: a read only for an id, or a process, not seen
    /// before) and kept.
    fn attribute(&mut self, pid: Pid, id: u64) -> std::rc::Rc<Cgroup> {
        if let Some(c) = self.model.processes.get(&pid).and_then(|p| p.cgroup.as_ref()) {
            if c.id == id {
                return std::rc::Rc::clone(c);
            }
        }
        let c = self.cgroups.resolve(&mut self.host, pid, id);
        if let Some(p) = self.model.processes.get_mut(&pid) {
            p.cgroup = Some(std::rc::Rc::clone(&c));
        }
        c
    }

    /// The cgroup of `pid` for a record that is not an event (an fd, a resync, a query):
    /// the model's, else read from /proc now and kept.
    pub fn cgroup_of(&mut self, pid: Pid) -> Option<std::rc::Rc<Cgroup>> {
        if let Some(c) = self.model.process(pid).and_then(|p| p.cgroup.clone()) {
            return Some(c);
        }
        let c = self.cgroups.resolve_pid(&mut self.host, pid)?;
        if let Some(p) = self.model.processes.get_mut(&pid) {
            p.cgroup = Some(std::rc::Rc::clone(&c));
        }
        Some(c)
    }

    /// Every second: the containers whose runtime state appeared since they were first
    /// seen (their processes get the new attribution), and the cgroups of exited
    /// containers forgotten.
    fn containers_tick(&mut self) {
        for (old, new) in self.cgroups.retry(&mut self.host) {
            for p in self.model.processes.values_mut() {
                if p.cgroup.as_ref().is_some_and(|c| std::rc::Rc::ptr_eq(c, &old)) {
                    p.cgroup = Some(std::rc::Rc::clone(&new));
                }
            }
        }
        self.cgroups.sweep();
    }

    /// Re-read `pid` from /proc now, or soon if it was re-read a moment ago.
    fn resync(&mut self, pid: Pid, reason: &'static str) {
        let now = self.host.now_ns();
        if self.last_resync_ns.get(&pid).is_some_and(|&t| now.saturating_sub(t) < RESYNC_MIN_GAP_NS) {
            self.pending_resync.entry(pid).or_insert(reason);
            return;
        }
        self.last_resync_ns.insert(pid, now);
        match self.host.snapshot(pid) {
            Some(snap) => {
                let differed = self.model.load_snapshot(&snap, Step::Resynced);
                let cgroup = self.cgroup_of(pid);
                self.sink.resync(Some((pid, snap.comm.as_slice(), cgroup.as_deref())), reason, 1, differed);
            }
            // Gone already: its exit is in flight or was lost; either way it is over.
            None => self.model.remove_process(pid),
        }
    }

    fn run_pending_resyncs(&mut self) {
        if self.pending_resync.is_empty() {
            return;
        }
        let now = self.host.now_ns();
        let due: Vec<(Pid, &'static str)> = self
            .pending_resync
            .iter()
            .filter(|(pid, _)| self.last_resync_ns.get(pid).is_none_or(|&t| now.saturating_sub(t) >= RESYNC_MIN_GAP_NS))
            .map(|(p, r)| (*p, *r))
            .collect();
        for (pid, reason) in due {
            self.pending_resync.remove(&pid);
            self.resync(pid, reason);
        }
    }

    /// After a loss nobody knows which processes missed events: re-read them all.
    fn resync_all(&mut self, task_files: &mut TaskFiles, reason: &'static str) {
        let snapshots = self.read_all(task_files);
        // With --follow, descendants whose fork was among the lost events joined the
        // kernel's watch list at their fork: they join here now.
        if self.options.watch.follow() {
            for snap in &snapshots {
                self.options.watch.adopt(snap.pid);
            }
        }
        let alive: std::collections::HashSet<Pid> = snapshots.iter().map(|s| s.pid).collect();
        let gone: Vec<Pid> = self.model.processes.keys().copied().filter(|p| !alive.contains(p)).collect();
        for pid in gone {
            self.model.remove_process(pid);
        }
        let differed: usize = snapshots.iter().map(|s| self.model.load_snapshot(s, Step::Resynced)).sum();
        self.sink.resync(None, reason, snapshots.len(), differed);
    }

    /// One `fd` record per fd of every process in the model, by pid and fd.
    pub fn dump(&mut self) {
        let mut pids: Vec<Pid> = self.model.processes.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            // Processes that made no event since the start are attributed now.
            self.cgroup_of(pid);
            let mut fds: Vec<i32> = self.model.table_of(pid).map(|t| t.fds.keys().collect()).unwrap_or_default();
            fds.sort_unstable();
            for fd in fds {
                // A file's path as opened may be relative or through a symlink, and it
                // may have been renamed or deleted since: /proc knows its current name.
                // Asked only here, so the event path pays nothing for it.
                let name = match self.model.fd(pid, fd) {
                    Some((_, o)) if matches!(o.kind, ObjectKind::File { .. }) => self.host.fd_link(pid, fd),
                    _ => None,
                };
                if let Some(fields) = describe::fd_fields(&self.model, pid, fd, &self.clock, name) {
                    self.sink.fd(&fields);
                }
            }
        }
    }

    /// This turn's share of the queries (control/turns.rs): the next one started if
    /// none is being answered (its processes attributed to their cgroups first), and a
    /// slice of the reply rendered from the model as it is after the drain.
    fn answer_queries(&mut self) {
        let Some(inbox) = &mut self.service.queries else { return };
        while let Ok(query) = inbox.queries.try_recv() {
            inbox.turns.push(query);
        }
        if let Some(query) = inbox.turns.to_start() {
            let fds = control::answer::matches(&self.model, &query.request);
            for pid in control::answer::pids(&fds) {
                self.cgroup_of(pid);
            }
            let host = self.sink.host().to_owned();
            let source = control::answer::Source::Agent;
            let reply = control::answer::Reply::new(&self.model, query.request, fds, &self.clock, &host, source);
            if let Some(inbox) = &mut self.service.queries {
                inbox.turns.start(query.reply, reply);
            }
        }
        if let Some(inbox) = &mut self.service.queries {
            inbox.turns.work(&self.model, &self.clock);
        }
    }

    /// Read at most `DRAIN_BUDGET` bytes of records: how many were read, and whether
    /// more are waiting.
    fn drain(&mut self, ring: &mut EventRing) -> Drained {
        let mut records = 0u64;
        let more = ring.drain(DRAIN_BUDGET, |bytes| {
            records += 1;
            self.record(bytes)
        });
        self.after_batch();
        Drained { records, more }
    }

    /// After each batch of records: the resyncs that had to wait, the detectors' timers,
    /// and what they have for the sinks.
    pub fn after_batch(&mut self) {
        self.run_pending_resyncs();
        self.detectors.tick(&self.model, self.host.now_ns());
        self.write_alerts();
        if let Some(why) = self.cgroups.take_first_failure() {
            report(format_args!(
                "{why}: records of its processes carry the cgroup id without a path (every such case is counted in \
                 stats as cgroups_unresolved)"
            ));
        }
    }

    fn write_alerts(&mut self) {
        for mut output in self.detectors.take() {
            if let Output::Alert(a) = &mut output {
                *self.counters.alerts.entry((a.kind.name(), a.severity.name())).or_default() += 1;
                // A process that made no event since the start (only its fds did).
                if a.cgroup.is_none() {
                    a.cgroup = self.cgroup_of(a.pid);
                }
            }
            self.sink.output(&output);
        }
    }

    /// Emit `loss` records for what was lost since the last report, per site; heal the
    /// model after a kernel loss.
    fn report_losses(&mut self, lost: &PerCpuArray<MapData, u64>, task_files: &mut TaskFiles) {
        let mut delta: PerKind = [0; MAX_KIND as usize];
        let mut total = 0;
        for kind in Kind::ALL {
            let Ok(per_cpu) = lost.get(&(kind as u32), 0) else { continue };
            let now: u64 = per_cpu.iter().sum();
            let seen = &mut self.counters.kernel_lost[kind as usize];
            if now > *seen {
                delta[kind as usize] = now - *seen;
                total += now - *seen;
                *seen = now;
            }
        }
        if total > 0 {
            self.counters.kernel_lost_total += total;
            self.sink.loss(LossSite::KernelRingBuffer, &delta, total);
            self.resync_all(task_files, "events were lost in the kernel ring buffer");
        }
        self.report_userspace_losses();
    }

    /// `loss` records for the records that did not decode and the fds the model left
    /// untracked since the last report.
    pub fn report_userspace_losses(&mut self) {
        if self.counters.undecodable > 0 {
            let n = std::mem::take(&mut self.counters.undecodable);
            self.counters.userspace_lost_total += n;
            self.sink.loss(LossSite::Userspace, &[0; MAX_KIND as usize], n);
        }
        let dropped = self.model.take_dropped();
        if dropped > 0 {
            self.counters.fd_model_lost_total += dropped;
            self.sink.loss(LossSite::FdModel, &[0; MAX_KIND as usize], dropped);
        }
        // Outputs that dropped records and take them again say how many they missed.
        for (name, lost) in self.sink.outputs().recovered() {
            report(format_args!(
                "output {name}: {} records were dropped; it takes records again",
                lost.iter().sum::<u64>()
            ));
            self.sink.output_loss(&name, &lost);
        }
    }

    /// SIGHUP: reopen file outputs (logrotate), then read the config file again and
    /// apply what can change without new probes; a bad file changes nothing.
    fn reload(&mut self) -> Option<Duration> {
        let reopened = self.sink.outputs().reopen();
        let Some((loader, running)) = self.service.reload.clone() else {
            self.sink.reload(&Reload { path: None, error: None, applied: &[], needs_restart: &[], reopened });
            return self.service.stats_interval;
        };
        let path = loader.path.as_ref().map(|p| p.display().to_string());
        let refuse = |this: &mut Self, why: &str| {
            report(format_args!("SIGHUP: {why}; the running configuration is kept"));
            this.sink.reload(&Reload {
                path: path.as_deref(),
                error: Some(why),
                applied: &[],
                needs_restart: &[],
                reopened,
            });
        };
        let new = match loader.load() {
            Ok(new) => new,
            Err(e) => {
                refuse(self, &e.0);
                return self.service.stats_interval;
            }
        };
        let (applied, needs_restart) = running.changes(&new);
        let next = running.reloaded(&new);
        if next.outputs != running.outputs {
            if let Err(e) = self.sink.replace_outputs(&next.outputs) {
                refuse(self, &e);
                return self.service.stats_interval;
            }
        }
        self.detectors.set_config(next.detect_config());
        self.options.show_events = next.events;
        self.options.dump_on_exit = next.dump_on_exit;
        self.service.stats_interval = next.stats_interval;
        if !needs_restart.is_empty() {
            report(format_args!(
                "SIGHUP: {} changed; that takes a restart (the running value is kept)",
                needs_restart.join(", ")
            ));
        }
        self.sink.reload(&Reload {
            path: path.as_deref(),
            error: None,
            applied: &applied,
            needs_restart: &needs_restart,
            reopened,
        });
        self.service.reload = Some((loader, next));
        self.service.stats_interval
    }

    /// Run until stopped. `signals` must be installed before `ready` is written, or a
    /// signal sent right after it would find the default action (death).
    pub async fn run(mut self, probes: Probes, signals: Signals) -> Result<(), Failure> {
        let Probes { events, lost, mut task_files, mut mode, .. } = probes;
        let Signals { mut sigint, mut sigterm, mut sigusr1, mut sighup } = signals;
        // SAFETY: the EventRing owns its map fd, which stays open and unchanged for as
        // long as the AsyncFd owns the EventRing.
        let mut ring = unsafe { AsyncFd::register_with_interest(events, Interest::READABLE) }
            .map_err(|e| Failure::env(format!("cannot poll the ring buffer: {e}")))?;
        let mut drain_tick = drain_timer(DRAIN_EVERY);
        // Drains in a row that found nothing (IDLE_AFTER).
        let mut quiet = 0u32;
        let mut loss_tick = interval(LOSS_EVERY);
        loss_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut trim_tick = interval(heap::TRIM_EVERY);
        trim_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let deadline = sleep(self.options.duration.unwrap_or(Duration::from_secs(u64::MAX / 4)));
        tokio::pin!(deadline);
        let mut stats_tick = stats_timer(self.service.stats_interval);

        let started = Clock::monotonic_now_ns();
        let mut output: std::io::Result<()>;
        // Records left in the ring when the last drain ran out of budget: drain again
        // at once, after one fair look at everything else.
        let mut backlog = false;
        loop {
            let mut stop = false;
            let mut dump = false;
            // A reply half rendered: the next turn comes at once (after a drain).
            let replying = self.service.queries.as_ref().is_some_and(|q| q.turns.busy());
            tokio::select! {
                _ = std::future::ready(()), if backlog || replying => {}
                ready = ring.readable_mut() => match ready {
                    Ok(mut guard) => guard.clear_ready(),
                    Err(e) => return Err(Failure::env(format!("polling the ring buffer failed: {e}"))),
                },
                _ = drain_tick.tick() => {
                    // A reader that went away (`| head -1`) ends the run even when
                    // nothing is being written.
                    if self.options.stdout.as_ref().is_some_and(|o| o.hung_up()) {
                        output = Err(std::io::ErrorKind::BrokenPipe.into());
                        break;
                    }
                }
                _ = loss_tick.tick() => {
                    self.report_losses(&lost, &mut task_files);
                    self.publish(started);
                    self.containers_tick();
                }
                _ = next_tick(&mut stats_tick) => {
                    let stats = self.stats_now(started, false);
                    self.sink.stats(&stats);
                    if let Some(m) = &mut self.service.metrics {
                        m.publish(&stats);
                    }
                }
                _ = sighup.recv() => {
                    let before = self.service.stats_interval;
                    let after = self.reload();
                    if after != before {
                        stats_tick = stats_timer(after);
                    }
                    // `events` turned on: the probes deliver every call from now on.
                    if let Err(e) = mode.set_alerts_only(!self.options.show_events) {
                        report(format_args!("SIGHUP: {e:#}"));
                    }
                }
                _ = trim_tick.tick() => {
                    self.model.shrink_to_fit();
                    heap::trim();
                }
                query = next_query(&mut self.service.queries) => match query {
                    // Answered after this turn's drain: the model then has every event
                    // the kernel gave before the question came.
                    Some(query) => {
                        if let Some(inbox) = &mut self.service.queries {
                            inbox.turns.push(query);
                        }
                    }
                    // The accept task is gone (it never ends on its own): stop asking.
                    None => self.service.queries = None,
                },
                _ = sigusr1.recv() => dump = true,
                _ = sigint.recv() => stop = true,
                _ = sigterm.recv() => stop = true,
                _ = &mut deadline => stop = true,
            }
            let drained = self.drain(ring.get_mut());
            backlog = drained.more;
            if drained.records > 0 {
                if quiet >= IDLE_AFTER {
                    drain_tick = drain_timer(DRAIN_EVERY);
                }
                quiet = 0;
            } else {
                quiet = quiet.saturating_add(1);
                if quiet == IDLE_AFTER {
                    drain_tick = drain_timer(IDLE_DRAIN_EVERY);
                }
            }
            if let Some(m) = &self.service.metrics {
                m.beat(Clock::monotonic_now_ns());
            }
            if dump {
                self.dump();
            }
            self.answer_queries();
            output = self.sink.flush();
            if output.is_err() || stop {
                break;
            }
        }
        if output.is_ok() {
            // What the probes wrote before the stop, within reason: a flood that
            // outruns the reader would otherwise never let it stop.
            for _ in 0..16 {
                if !self.drain(ring.get_mut()).more {
                    break;
                }
            }
            self.report_losses(&lost, &mut task_files);
            self.end();
            // Outputs that dropped records and take them again say so before the end.
            for (name, lost) in self.sink.outputs().recovered() {
                self.sink.output_loss(&name, &lost);
            }
            let stats = self.stats_now(started, true);
            self.sink.stats(&stats);
            if let Some(m) = &mut self.service.metrics {
                m.publish(&stats);
            }
            output = self.sink.flush();
        }
        // Queued outputs write what they hold (a dead one is given up after a while).
        self.sink.outputs().finish(EXIT_DRAIN);
        match output {
            Ok(()) => Ok(()),
            // Whoever read our output is gone (`| head`): nobody to tell, a normal stop.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => {
                let s = self.stats(Clock::monotonic_now_ns().saturating_sub(started));
                Err(Failure::output(format!(
                    "cannot write to standard output: {e}; stopped after {} events ({} lost in the kernel ring \
                     buffer, {} in userspace); the output ends at its last complete record",
                    s.events.iter().sum::<u64>(),
                    s.kernel_lost,
                    s.userspace_lost
                )))
            }
        }
    }

    /// The end of a run: the alerts still waiting, and with --dump-on-exit the model.
    pub fn end(&mut self) {
        self.detectors.finish(self.host.now_ns());
        self.write_alerts();
        if self.options.dump_on_exit {
            self.dump();
        }
    }

    /// The totals of a run that took `elapsed_ns`.
    pub fn stats(&self, elapsed_ns: u64) -> Stats {
        Stats {
            events: self.counters.events,
            kernel_lost: self.counters.kernel_lost_total,
            userspace_lost: self.counters.userspace_lost_total,
            fd_model_lost: self.counters.fd_model_lost_total,
            out_of_scope: self.counters.out_of_scope,
            elapsed_ns,
            tracked_fds: self.model.tracked_fds(),
            processes: self.model.processes.len(),
            cgroups: self.cgroups.len(),
            cgroups_unresolved: self.cgroups.unresolved().cgroups,
            alerts: self.counters.alerts.iter().map(|(k, n)| (*k, *n)).collect(),
            output_dropped: self.sink.dropped(),
            queries: self.service.queries.as_ref().map(|q| q.counts.totals()),
            cpu_ns: 0,
            rss_bytes: 0,
            last: true,
        }
    }

    /// The totals now, with the collector's CPU and memory (`last`: the run's end).
    fn stats_now(&self, started: u64, last: bool) -> Stats {
        let (cpu_ns, rss_bytes) = metrics::usage();
        Stats { cpu_ns, rss_bytes, last, ..self.stats(Clock::monotonic_now_ns().saturating_sub(started)) }
    }

    /// The totals to the metrics endpoint (every second).
    fn publish(&mut self, started: u64) {
        if self.service.metrics.is_some() {
            let stats = self.stats_now(started, false);
            if let Some(m) = &mut self.service.metrics {
                m.publish(&stats);
            }
        }
    }
}

/// What one drain of the ring buffer did.
struct Drained {
    records: u64,
    /// It stopped at DRAIN_BUDGET: more records are waiting.
    more: bool,
}

/// The drain timer: first after one period.
fn drain_timer(every: Duration) -> Interval {
    let mut t = interval_at(tokio::time::Instant::now() + every, every);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// The periodic stats timer: first after one interval.
fn stats_timer(every: Option<Duration>) -> Option<Interval> {
    every.map(|d| {
        let mut t = interval_at(tokio::time::Instant::now() + d, d);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    })
}

/// The next query, or never when the socket is off.
async fn next_query(inbox: &mut Option<control::server::Inbox>) -> Option<control::protocol::Query> {
    match inbox {
        Some(inbox) => inbox.queries.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_tick(timer: &mut Option<Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}
