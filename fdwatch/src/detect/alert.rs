//! What the detectors produce: alerts with their evidence, and the follow-ups (repeat
//! counts, resolutions). Plain data; the sinks render it.
use crate::{decode::Event, model::Pid, value::Fields};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// interrupted_wait of an epoll wait (returns EINTR after a stop by design); an
    /// output's `min_severity` may name it.
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    SelectHighFd,
    StdioHijack,
    PipeLeak,
    InterruptedWait,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::SelectHighFd => "select_high_fd",
            AlertKind::StdioHijack => "stdio_hijack",
            AlertKind::PipeLeak => "pipe_leak",
            AlertKind::InterruptedWait => "interrupted_wait",
        }
    }
}

/// A model fact in words, with the structured fields behind it (fd, object, origin).
#[derive(Clone, Debug)]
pub struct Fact {
    pub ts_ns: u64,
    pub pid: Pid,
    pub text: String,
    pub fields: Fields,
}

/// One link of the chain that explains an alert, in time order.
#[derive(Clone, Debug)]
pub enum Evidence {
    /// A syscall (or fork/exec/exit) that led to the alert.
    Event(Event),
    /// A failure that followed it: what the user would otherwise have to explain.
    Symptom(Event),
    Fact(Fact),
}

impl Evidence {
    pub fn ts_ns(&self) -> u64 {
        match self {
            Evidence::Event(e) | Evidence::Symptom(e) => e.header.ts_ns,
            Evidence::Fact(f) => f.ts_ns,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Alert {
    /// Unique in this run; repeat and resolved records refer to it.
    pub id: u64,
    pub kind: AlertKind,
    pub severity: Severity,
    /// The process at risk.
    pub pid: Pid,
    pub comm: String,
    pub exe: Option<String>,
    /// One sentence a person understands without strace.
    pub message: String,
    pub evidence: Vec<Evidence>,
    /// Kind-specific fields (DESIGN.md: e.g. `holders` for pipe_leak).
    pub fields: Fields,
    /// The cgroup and container of the process at risk, as the model knew them when the
    /// alert was raised (the process may be gone when it is written).
    pub cgroup: Option<std::rc::Rc<crate::containers::Cgroup>>,
    /// When it was detected (monotonic ns).
    pub ts_ns: u64,
}

impl Alert {
    /// Evidence in time order (stable: facts of one moment keep their order), each
    /// event once (one recvmsg can move two fds, an absorbed alert can bring an event
    /// again) and each fact's sentence once.
    pub fn sort_evidence(&mut self) {
        self.evidence.sort_by_key(Evidence::ts_ns);
        let mut seen: Vec<(Event, bool)> = Vec::new();
        let mut facts: Vec<(Pid, String)> = Vec::new();
        self.evidence.retain(|e| match e {
            Evidence::Event(ev) | Evidence::Symptom(ev) => {
                let symptom = matches!(e, Evidence::Symptom(_));
                if seen.iter().any(|(s, was_symptom)| *was_symptom == symptom && s.same_record(ev)) {
                    false
                } else {
                    seen.push((*ev, symptom));
                    true
                }
            }
            Evidence::Fact(f) => {
                let id = (f.pid, f.text.clone());
                if facts.contains(&id) {
                    false
                } else {
                    facts.push(id);
                    true
                }
            }
        });
    }
}

/// What the detectors hand to the sinks.
#[derive(Clone, Debug)]
pub enum Output {
    Alert(Alert),
    /// The same alert happened `count` more times since it (or its last repeat) was written.
    Repeat {
        id: u64,
        kind: AlertKind,
        pid: Pid,
        comm: String,
        count: u64,
        ts_ns: u64,
    },
    /// A failure that followed alert `id` after its window: written on its own, tied
    /// to the alert, rather than lost.
    Symptom {
        id: u64,
        kind: AlertKind,
        pid: Pid,
        comm: String,
        /// Boxed: an event is several times the size of the other outputs.
        event: Box<Event>,
    },
    /// The condition of alert `id` is over.
    Resolved {
        id: u64,
        kind: AlertKind,
        pid: Pid,
        comm: String,
        message: String,
        waited_ns: u64,
        ts_ns: u64,
    },
}
