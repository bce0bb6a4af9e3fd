//! interrupted_wait: a blocking call cut short by a stop, whose restart then failed
//! (incident 4). php-fpm's slowlog ptrace-attaches to a slow worker (PTRACE_ATTACH sends
//! SIGSTOP, kernel/ptrace.c) to read its stack, then detaches. A worker sleeping in
//! nanosleep or poll is woken by the stop: the call returns -ERESTART_RESTARTBLOCK
//! inside the kernel and leaves its deadline in `current->restart_block`; without a
//! handler to run, the task resumes by calling restart_syscall(2) (arch_do_signal_or_restart,
//! arch/x86/kernel/signal.c). Docker 1.10.3's seccomp profile lacked restart_syscall, so
//! the filter refused it with EPERM, and the sleep returned EPERM early: a 5 s sleep
//! ended after 2 s. select, pselect6 and ppoll restart by re-running the same call
//! (-ERESTARTNOHAND), which can fail the same way. epoll_wait is never restarted after
//! a stop (signal(7): "not restarted ... even if SA_RESTART"): it returns EINTR early
//! by design, which programs must handle; that is reported as info.
//!
//! Evidence: the interrupted call (with its timeout and how long it had waited), who
//! stopped and resumed it (ptrace requests, SIGSTOP/SIGCONT from the signal_generate
//! tracepoint), the failed restart with its errno and the task's seccomp state.
use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;

use fdwatch_common::Kind;

use super::{
    alert::{Alert, AlertKind, Evidence, Fact, Severity},
    explain,
    outbox::{Key, Outbox},
};
use crate::{
    clock::Clock,
    decode::{Body, Event, Payload, names::errno::errno_name, names::flags},
    model::{Model, Pid},
    value::Value,
};

/// include/linux/errno.h
const ERESTARTSYS: i64 = 512;
const ERESTART_RESTARTBLOCK: i64 = 516;
const EINTR: i64 = 4;
/// A stop counts for an interruption it precedes by at most this much (the stop
/// signal is generated, then the task wakes), or follows by at most EINTR_WAIT (a
/// tracer's own record can come after its tracee's).
const STOP_BEFORE_NS: u64 = 1_000_000_000;
const EINTR_WAIT_NS: u64 = 250_000_000;
/// Stop and resume records kept per task.
const STOPS_KEPT: usize = 8;
/// Tasks with an interrupted call or recent stops, at most (the oldest go first).
const MAX_TASKS: usize = 65536;

const SIGCONT: u32 = 18;

/// A wait cut short, waiting to see its restart.
#[derive(Clone, Copy)]
struct Cut {
    event: Event,
}

#[derive(Default)]
pub struct Interrupted {
    /// By thread id.
    cut: HashMap<u32, Cut>,
    /// Stop and resume records by the task they target (a tgid, or the thread id a
    /// tracer named), newest last.
    stops: HashMap<u32, VecDeque<Event>>,
    /// epoll waits that returned EINTR, waiting a moment for the stop record.
    eintr: Vec<(Event, u64)>,
}

fn is_epoll(kind: Kind) -> bool {
    matches!(kind, Kind::EpollWait | Kind::EpollPwait | Kind::EpollPwait2)
}

fn restarting(ret: i64) -> bool {
    (-ERESTART_RESTARTBLOCK..=-ERESTARTSYS).contains(&ret) && ret != -515
}

/// A stop or resume record targeting `pid` or `tid`.
fn targets(event: &Event) -> Option<u32> {
    event.target()
}

/// What the stop or resume was: `PTRACE_ATTACH`, `SIGSTOP`.
fn what(event: &Event) -> String {
    match &event.body {
        Body::Signal(s) => flags::signal_name(s.sig as i32),
        Body::Syscall { args, .. } => flags::ptrace_request(args[0]),
        _ => event.kind.name().to_owned(),
    }
}

/// A record that stops a task: a stop signal, PTRACE_ATTACH (which sends SIGSTOP) or
/// PTRACE_INTERRUPT. PTRACE_SEIZE attaches without stopping.
fn is_stop(event: &Event) -> bool {
    match &event.body {
        Body::Signal(s) => s.sig != SIGCONT,
        Body::Syscall { args, .. } => matches!(args[0], 16 | 0x4207),
        _ => false,
    }
}

fn is_resume(event: &Event) -> bool {
    match &event.body {
        Body::Signal(s) => s.sig == SIGCONT,
        // PTRACE_CONT, PTRACE_DETACH, PTRACE_LISTEN
        Body::Syscall { args, .. } => matches!(args[0], 7 | 17 | 0x4208),
        _ => false,
    }
}

/// The requested timeout of a wait, in ns (None: forever, or not known at exit).
fn timeout_ns(event: &Event) -> Option<u64> {
    let Body::Syscall { args, payload, .. } = &event.body else { return None };
    match (event.kind, payload) {
        (Kind::Poll | Kind::EpollWait | Kind::EpollPwait, _) => {
            let ms = if event.kind == Kind::Poll { args[2] } else { args[3] } as i32;
            (ms >= 0).then(|| ms as u64 * 1_000_000)
        }
        (_, Payload::Sleep(s)) if s.has_timeout != 0 && s.timeout_sec >= 0 => {
            Some((s.timeout_sec as u64).saturating_mul(1_000_000_000).saturating_add(s.timeout_nsec.max(0) as u64))
        }
        _ => None,
    }
}

/// When the wait began (monotonic ns), from what the kernel kept for its restart: a
/// sleep's `rem` (the time not slept) or deadline, a poll's deadline.
fn started_ns(event: &Event, clock: &Clock) -> Option<u64> {
    let Body::Syscall { args, payload, .. } = &event.body else { return None };
    let timeout = timeout_ns(event)?;
    let at = event.header.ts_ns;
    match payload {
        // clock_nanosleep(.., TIMER_ABSTIME, ..) sleeps until a time, not for one.
        Payload::Sleep(_) if event.kind == Kind::ClockNanosleep && args[1] & 1 != 0 => None,
        Payload::Sleep(s) if s.has_rem != 0 && s.rem_sec >= 0 => {
            let rem = (s.rem_sec as u64).saturating_mul(1_000_000_000).saturating_add(s.rem_nsec.max(0) as u64);
            Some(at.saturating_sub(timeout.saturating_sub(rem)))
        }
        Payload::Sleep(s) if s.expires_ns != 0 => {
            // The hrtimer's clock: CLOCK_REALTIME (glibc's nanosleep and sleep) or
            // CLOCK_MONOTONIC/BOOTTIME (bpf_ktime_get_ns is CLOCK_MONOTONIC).
            let end = if s.clockid == 0 { clock.monotonic_of_realtime(s.expires_ns) } else { s.expires_ns };
            Some(end.saturating_sub(timeout))
        }
        Payload::Wait(w) if w.deadline_ns != 0 => Some(w.deadline_ns.saturating_sub(timeout)),
        _ => None,
    }
}

impl Interrupted {
    pub fn after(&mut self, model: &Model, clock: &Clock, outbox: &mut Outbox, event: &Event) {
        let tid = event.header.tid;
        match (event.kind, &event.body) {
            (Kind::Signal, Body::Signal(_)) | (Kind::Ptrace, Body::Syscall { .. }) => {
                if event.kind == Kind::Ptrace && event.ret().is_some_and(|r| r < 0) {
                    return;
                }
                let Some(target) = targets(event) else { return };
                let list = self.stops.entry(target).or_default();
                list.push_back(*event);
                while list.len() > STOPS_KEPT {
                    list.pop_front();
                }
                self.bound();
                // An epoll EINTR that came just before its stop record.
                let waiting: Vec<Event> = self
                    .eintr
                    .iter()
                    .filter(|(e, _)| e.header.pid == target || e.header.tid == target)
                    .map(|(e, _)| *e)
                    .collect();
                if !waiting.is_empty() {
                    self.eintr.retain(|(e, _)| e.header.pid != target && e.header.tid != target);
                    for e in waiting {
                        self.epoll_eintr(model, clock, outbox, &e);
                    }
                }
            }
            (Kind::Exit, Body::Exit(e)) => {
                self.cut.remove(&tid);
                if e.group_dead != 0 {
                    let pid = event.header.pid;
                    self.stops.remove(&pid);
                    self.cut.retain(|_, c| c.event.header.pid != pid);
                    self.eintr.retain(|(e, _)| e.header.pid != pid);
                }
                self.stops.remove(&tid);
            }
            (kind, Body::Syscall { ret, .. }) => {
                let ret = *ret;
                // The call that follows an interruption in the same thread is its
                // restart: restart_syscall for -ERESTART_RESTARTBLOCK, the same call
                // again for the others. Anything else means a handler ran (EINTR).
                if let Some(cut) = if self.cut.is_empty() { None } else { self.cut.remove(&tid) } {
                    let expected = if cut.event.ret() == Some(-ERESTART_RESTARTBLOCK) {
                        Kind::RestartSyscall
                    } else {
                        cut.event.kind
                    };
                    if kind == expected && ret < 0 && ret != -EINTR && !restarting(ret) {
                        self.refused(model, clock, outbox, &cut, event);
                    }
                    if kind == expected && restarting(ret) {
                        // Interrupted again: keep the first interruption's story.
                        self.cut.insert(tid, cut);
                        return;
                    }
                }
                if !kind.is_blocking_wait() {
                    return;
                }
                if restarting(ret) {
                    self.cut.insert(tid, Cut { event: *event });
                    self.bound();
                } else if ret == -EINTR && is_epoll(kind) {
                    if self.stop_of(event, event.header.ts_ns).is_some() {
                        self.epoll_eintr(model, clock, outbox, event);
                    } else {
                        self.eintr.push((*event, event.header.ts_ns.saturating_add(EINTR_WAIT_NS)));
                    }
                }
            }
            _ => {}
        }
    }

    /// Timers: epoll EINTRs that saw no stop in time were a signal handler's.
    pub fn tick(&mut self, now_ns: u64) {
        self.eintr.retain(|(_, until)| *until >= now_ns);
    }

    fn bound(&mut self) {
        if self.cut.len() > MAX_TASKS {
            if let Some(&oldest) = self.cut.iter().min_by_key(|(_, c)| c.event.header.ts_ns).map(|(t, _)| t) {
                self.cut.remove(&oldest);
            }
        }
        if self.stops.len() > MAX_TASKS {
            let oldest = self.stops.iter().min_by_key(|(_, l)| l.back().map_or(0, |e| e.header.ts_ns)).map(|(t, _)| *t);
            if let Some(t) = oldest {
                self.stops.remove(&t);
            }
        }
    }

    /// The stop and resume records of the task of `event` between `from` and `to`.
    fn records(&self, event: &Event, from: u64, to: u64) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for target in [event.header.pid, event.header.tid] {
            for e in self.stops.get(&target).into_iter().flatten() {
                let ts = e.header.ts_ns;
                if ts >= from && ts <= to && !out.iter().any(|o| o.same_record(e)) {
                    out.push(*e);
                }
            }
        }
        out.sort_by_key(|e| e.header.ts_ns);
        out
    }

    /// The stop that cut `event` (an interrupted call) short, seen up to `until`: a
    /// tracer's request (PTRACE_ATTACH sends the SIGSTOP that is also recorded) rather
    /// than the signal, when both are there.
    fn stop_of(&self, event: &Event, until: u64) -> Option<Event> {
        let from = event.header.ts_ns.saturating_sub(STOP_BEFORE_NS);
        let stops: Vec<Event> = self
            .records(event, from, until.max(event.header.ts_ns.saturating_add(EINTR_WAIT_NS)))
            .into_iter()
            .filter(is_stop)
            .collect();
        let first = *stops.first()?;
        Some(
            stops.iter().find(|e| e.kind == Kind::Ptrace && e.header.pid == first.header.pid).copied().unwrap_or(first),
        )
    }

    fn refused(&self, model: &Model, clock: &Clock, outbox: &mut Outbox, cut: &Cut, restart: &Event) {
        let call = &cut.event;
        let pid = call.header.pid;
        let key = Key { kind: AlertKind::InterruptedWait, pid, object: 0, variant: 0 };
        if outbox.repeat(key) {
            return;
        }
        let at = restart.header.ts_ns;
        let stop = self.stop_of(call, at);
        let records = self.records(call, call.header.ts_ns.saturating_sub(STOP_BEFORE_NS), at);
        let name = call.kind.name();
        let comm = model.process(pid).map_or_else(|| call.comm().into_owned(), |p| p.comm.to_string());
        let errno = restart.errno().map(errno_name).unwrap_or_default();
        let timeout = timeout_ns(call);
        let started = started_ns(call, clock);
        let waited = started.map(|s| at.saturating_sub(s));
        let (seccomp_mode, seccomp_filters) = match &restart.body {
            Body::Syscall { payload: Payload::Restart(r), .. } => (Some(r.seccomp_mode), Some(r.seccomp_filters)),
            _ => (None, None),
        };
        let asked = match timeout {
            Some(t) => format!("to wait up to {}", explain::duration(t)),
            None => "to wait".to_owned(),
        };
        let cut_after = started.map(|s| format!(" after {}", explain::duration(call.header.ts_ns.saturating_sub(s))));
        let stopper = match &stop {
            Some(s) => {
                format!("{} stopped it with {}", explain::who_at(model, s.header.pid, s.header.ts_ns), what(s))
            }
            None => "a stop fdwatch did not see (a tracer or the cgroup freezer) interrupted it".to_owned(),
        };
        let resumed = records.iter().rfind(|e| is_resume(e)).map(|r| {
            let who = if stop.is_some_and(|s| s.header.pid == r.header.pid) {
                " and".to_owned()
            } else {
                format!(", and {}", explain::who_at(model, r.header.pid, r.header.ts_ns))
            };
            format!(
                "{who} resumed it with {} {} later",
                what(r),
                explain::duration(r.header.ts_ns.saturating_sub(call.header.ts_ns))
            )
        });
        let restart_name = restart.kind.name();
        let why = match seccomp_mode {
            Some(2) => format!(
                " (its seccomp filter{} refused it)",
                match seccomp_filters {
                    Some(n) if n > 1 => format!("s, {n} of them,"),
                    _ => String::new(),
                }
            ),
            Some(1) => " (strict seccomp mode refused it)".to_owned(),
            _ => String::new(),
        };
        let early = match (timeout, waited) {
            (Some(t), Some(w)) if t > w => format!(", {} early", explain::duration(t - w)),
            _ => String::new(),
        };
        let after = waited.map(|w| format!(" after {}", explain::duration(w))).unwrap_or_default();
        let message = format!(
            "pid {pid} ({comm}) asked {name}() {asked}; {stopper}{}{}; the kernel's restart of the call \
             ({restart_name}) then failed with {errno}{why}, so {name}() returned -1 {errno}{after}{early}: the wait \
             was cut short, and a program that retries on EINTR does not retry on {errno}",
            cut_after.unwrap_or_default(),
            resumed.unwrap_or_default(),
        );
        let mut evidence = vec![Evidence::Event(*call)];
        evidence.extend(records.iter().map(|e| Evidence::Event(*e)));
        evidence.push(Evidence::Event(*restart));
        if let (Some(s), Some(w)) = (started, waited) {
            evidence.push(Evidence::Fact(Fact {
                ts_ns: at,
                pid,
                text: format!(
                    "{name}() of {} began at {} and returned at {}: it waited {}{}",
                    explain::who(model, pid),
                    clock.rfc3339(s),
                    clock.rfc3339(at),
                    explain::duration(w),
                    timeout.map(|t| format!(" of the {} asked", explain::duration(t))).unwrap_or_default()
                ),
                fields: Vec::new(),
            }));
        }
        let fields = vec![
            ("syscall", Value::Str(name.into())),
            ("timeout_ns", int(timeout)),
            ("waited_ns", int(waited)),
            ("stopped_by", stop.as_ref().map_or(Value::Null, stopped_by)),
            ("restart", Value::Str(restart_name.into())),
            ("errno", Value::Str(errno.clone().into())),
            ("seccomp_mode", seccomp_mode.map_or(Value::Null, |m| Value::Str(flags::seccomp_mode(m).into()))),
            ("seccomp_filters", int(seccomp_filters.map(u64::from))),
        ];
        let alert = Alert { message, evidence, fields, ..alert_on(model, pid, comm, Severity::Critical, at) };
        outbox.raise(key, alert, None);
    }

    /// epoll_wait returned EINTR because its task was stopped: info.
    fn epoll_eintr(&self, model: &Model, clock: &Clock, outbox: &mut Outbox, call: &Event) {
        let _ = clock;
        let Some(stop) = self.stop_of(call, call.header.ts_ns.saturating_add(EINTR_WAIT_NS)) else { return };
        let pid = call.header.pid;
        let key = Key { kind: AlertKind::InterruptedWait, pid, object: 0, variant: 1 };
        if outbox.repeat(key) {
            return;
        }
        let name = call.kind.name();
        let comm = model.process(pid).map_or_else(|| call.comm().into_owned(), |p| p.comm.to_string());
        let timeout = timeout_ns(call);
        let message = format!(
            "pid {pid} ({comm}) waited in {name}(){}; {} stopped it ({}), and {name}() returned -1 EINTR: Linux does \
             not restart epoll waits after a stop, even with SA_RESTART (signal(7)), so the program sees an early \
             EINTR and must wait again",
            timeout.map(|t| format!(" with a timeout of {}", explain::duration(t))).unwrap_or_default(),
            explain::who_at(model, stop.header.pid, stop.header.ts_ns),
            what(&stop),
        );
        let mut evidence = vec![Evidence::Event(stop), Evidence::Event(*call)];
        evidence.sort_by_key(Evidence::ts_ns);
        let fields = vec![
            ("syscall", Value::Str(name.into())),
            ("timeout_ns", int(timeout)),
            ("waited_ns", Value::Null),
            ("stopped_by", stopped_by(&stop)),
            ("restart", Value::Null),
            ("errno", Value::Str("EINTR".into())),
            ("seccomp_mode", Value::Null),
            ("seccomp_filters", Value::Null),
        ];
        let alert =
            Alert { message, evidence, fields, ..alert_on(model, pid, comm, Severity::Info, call.header.ts_ns) };
        outbox.raise(key, alert, None);
    }
}

/// An interrupted_wait alert on `pid`, with its executable and cgroup as the model
/// knows them; the caller adds the message, evidence and fields.
fn alert_on(model: &Model, pid: Pid, comm: String, severity: Severity, ts_ns: u64) -> Alert {
    let process = model.process(pid);
    Alert {
        id: 0,
        kind: AlertKind::InterruptedWait,
        severity,
        pid,
        comm,
        exe: process.and_then(|p| p.exe.as_ref().map(|e| e.to_string())),
        cgroup: process.and_then(|p| p.cgroup.clone()),
        message: String::new(),
        evidence: Vec::new(),
        fields: Vec::new(),
        ts_ns,
    }
}

/// The `stopped_by` field: who stopped the task, and how.
fn stopped_by(stop: &Event) -> Value {
    Value::Object(vec![
        ("pid", Value::Int(stop.header.pid as i64)),
        ("comm", Value::Str(stop.comm().into_owned().into())),
        ("how", Value::Str(what(stop).into())),
    ])
}

fn int(v: Option<u64>) -> Value {
    v.map_or(Value::Null, |n| Value::Int(n as i64))
}
