//! Between a detection and the sinks: alerts wait a short window so the failures that
//! follow them can join their evidence; the same alert (kind, process, object) is
//! written once, and later occurrences are counted and reported per interval.
use rustc_hash::FxHashMap as HashMap;

use fdwatch_common::agent::{self, takes_fd_first};

use super::alert::{Alert, AlertKind, Evidence, Output};
use crate::{decode::Event, model::Pid};

/// What makes two alerts "the same": kind, process, and the object concerned (an
/// object id, a pipe inode, or 0), plus a variant for kinds with several shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: AlertKind,
    pub pid: Pid,
    pub object: u64,
    pub variant: u8,
}

/// Which later failures count as symptoms of a pending alert.
#[derive(Clone, Debug)]
pub struct SymptomRule {
    pub pid: Pid,
    pub fds: FdMatch,
    pub errnos: &'static [i32],
}

#[derive(Clone, Debug)]
pub enum FdMatch {
    AnyOf(Vec<i32>),
    AtLeast(i32),
}

impl SymptomRule {
    /// A failed call by the same process, on a matching fd, with one of the errnos.
    /// Every traced call that takes an fd takes it as its first argument. Agent mode
    /// drops in the kernel the failures no rule can match (fdwatch_common::agent): the
    /// rules' fds are stdio (0-2) or at least FD_SETSIZE (`raise` checks).
    fn matches(&self, event: &Event) -> bool {
        if event.header.pid != self.pid || !takes_fd_first(event.kind) {
            return false;
        }
        let (Some(errno), crate::decode::Body::Syscall { args, .. }) = (event.errno(), &event.body) else {
            return false;
        };
        let fd = args[0] as i32;
        let fd_ok = match &self.fds {
            FdMatch::AnyOf(fds) => fds.contains(&fd),
            FdMatch::AtLeast(min) => fd >= *min,
        };
        fd_ok && self.errnos.contains(&errno)
    }

    /// Every fd this rule can match is one whose failures agent mode delivers.
    fn within_agent_mode(&self) -> bool {
        match &self.fds {
            FdMatch::AnyOf(fds) => fds.iter().all(|&fd| agent::failure_on_fd_kept(fd)),
            FdMatch::AtLeast(min) => *min >= agent::FD_SETSIZE,
        }
    }
}

/// At most this many symptoms join one alert; the rest are only counted.
const MAX_SYMPTOMS: usize = 8;
/// After its window a written alert's symptoms still count for this long, each written
/// as a `symptom` record (at most MAX_SYMPTOMS of them), so a failure that comes late
/// is tied to its cause instead of lost.
const FOLLOW_UP_NS: u64 = 60_000_000_000;

/// A written alert still collecting its later symptoms.
struct FollowUp {
    id: u64,
    kind: AlertKind,
    comm: String,
    rule: SymptomRule,
    until_ns: u64,
    left: usize,
}

struct Pending {
    key: Key,
    due_ns: u64,
    /// Occurrences while it waited, reported as its first repeat count.
    repeats: u64,
    alert: Alert,
    symptoms: Option<SymptomRule>,
}

/// An alert already written, counting its repeats.
struct Written {
    id: u64,
    comm: String,
    count: u64,
    reported_ns: u64,
}

/// What `seen` found for a key.
pub enum Seen<'a> {
    /// Never raised: build the alert and `raise` it.
    New,
    /// Raised and still waiting: merge into it.
    Pending(&'a mut Alert),
    /// Already written: counted as a repeat.
    Repeated,
}

pub struct Outbox {
    window_ns: u64,
    repeat_every_ns: u64,
    next_id: u64,
    pending: Vec<Pending>,
    written: HashMap<Key, Written>,
    follow_ups: Vec<FollowUp>,
    out: Vec<Output>,
}

impl Outbox {
    pub fn new(window_ns: u64, repeat_every_ns: u64) -> Self {
        Self {
            window_ns,
            repeat_every_ns,
            next_id: 1,
            pending: Vec::new(),
            written: HashMap::default(),
            follow_ups: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Look `key` up; a written alert counts one more repeat.
    pub fn seen(&mut self, key: Key) -> Seen<'_> {
        if let Some(w) = self.written.get_mut(&key) {
            w.count += 1;
            return Seen::Repeated;
        }
        match self.pending.iter_mut().find(|p| p.key == key) {
            Some(p) => Seen::Pending(&mut p.alert),
            None => Seen::New,
        }
    }

    /// Drop the alert for `key` if it is still waiting: what it warned of is over.
    pub fn cancel(&mut self, key: Key) {
        self.pending.retain(|p| p.key != key);
    }

    /// The alert waiting under `from`, now waiting under `to` (it changed shape).
    pub fn rekey(&mut self, from: Key, to: Key) -> Option<&mut Alert> {
        let p = self.pending.iter_mut().find(|p| p.key == from)?;
        p.key = to;
        Some(&mut p.alert)
    }

    pub fn set_windows(&mut self, window_ns: u64, repeat_every_ns: u64) {
        self.window_ns = window_ns;
        self.repeat_every_ns = repeat_every_ns;
    }

    /// The alert waiting under `key`, to change in place.
    pub fn pending_mut(&mut self, key: Key) -> Option<&mut Alert> {
        self.pending.iter_mut().find(|p| p.key == key).map(|p| &mut p.alert)
    }

    /// Take the alert waiting under `key` out (another alert tells the same incident).
    pub fn take_pending(&mut self, key: Key) -> Option<Alert> {
        let i = self.pending.iter().position(|p| p.key == key)?;
        Some(self.pending.remove(i).alert)
    }

    /// Write the alert waiting under `key` at `due_ns` instead (held longer, or sooner).
    pub fn set_due(&mut self, key: Key, due_ns: u64) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.key == key) {
            p.due_ns = due_ns;
        }
    }

    /// When the alert under `key` would be written if nothing else happens.
    pub fn window_end(&self, ts_ns: u64) -> u64 {
        ts_ns.saturating_add(self.window_ns)
    }

    /// Whether an alert for `key` is waiting, or was written.
    pub fn is_pending(&self, key: Key) -> bool {
        self.pending.iter().any(|p| p.key == key)
    }

    /// Queue `alert`. It is written after the window, or at once without `symptoms`
    /// to wait for; its id is given then (cancelled alerts take none).
    pub fn raise(&mut self, key: Key, alert: Alert, symptoms: Option<SymptomRule>) {
        // A rule on other fds would wait for failures agent mode drops in the kernel.
        debug_assert!(symptoms.as_ref().is_none_or(SymptomRule::within_agent_mode), "{symptoms:?}");
        // Event times come from records (hostile like every field): one near the end of
        // the clock must not wrap round to a window already over.
        let due_ns = if symptoms.is_some() { alert.ts_ns.saturating_add(self.window_ns) } else { alert.ts_ns };
        self.pending.push(Pending { key, due_ns, repeats: 0, alert, symptoms });
    }

    /// Count one more occurrence of a known alert, waiting or written; false if
    /// `key` is new.
    pub fn repeat(&mut self, key: Key) -> bool {
        if let Some(w) = self.written.get_mut(&key) {
            w.count += 1;
            return true;
        }
        match self.pending.iter_mut().find(|p| p.key == key) {
            Some(p) => {
                p.repeats += 1;
                true
            }
            None => false,
        }
    }

    /// The id of the written alert for `key`.
    pub fn id_of(&self, key: Key) -> Option<u64> {
        self.written.get(&key).map(|w| w.id)
    }

    /// Attach `event` to every pending alert it is a symptom of; after an alert's
    /// window, write it as a `symptom` record tied to the alert.
    pub fn observe(&mut self, event: &Event) {
        if (self.pending.is_empty() && self.follow_ups.is_empty()) || event.errno().is_none() {
            return;
        }
        for f in &mut self.follow_ups {
            if f.left > 0 && event.header.ts_ns <= f.until_ns && f.rule.matches(event) {
                f.left -= 1;
                self.out.push(Output::Symptom {
                    id: f.id,
                    kind: f.kind,
                    pid: f.rule.pid,
                    comm: f.comm.clone(),
                    event: Box::new(*event),
                });
            }
        }
        for p in &mut self.pending {
            let Some(rule) = &p.symptoms else { continue };
            let symptoms = p.alert.evidence.iter().filter(|e| matches!(e, Evidence::Symptom(_))).count();
            if symptoms < MAX_SYMPTOMS && rule.matches(event) {
                p.alert.evidence.push(Evidence::Symptom(*event));
            }
        }
    }

    /// Write what is due at `now`, and repeat counts older than the interval.
    pub fn tick(&mut self, now_ns: u64) {
        self.release(|p| p.due_ns <= now_ns);
        self.follow_ups.retain(|f| f.left > 0 && f.until_ns >= now_ns);
        for (key, w) in &mut self.written {
            if w.count > 0 && now_ns.saturating_sub(w.reported_ns) >= self.repeat_every_ns {
                self.out.push(Output::Repeat {
                    id: w.id,
                    kind: key.kind,
                    pid: key.pid,
                    comm: w.comm.clone(),
                    count: std::mem::take(&mut w.count),
                    ts_ns: now_ns,
                });
                w.reported_ns = now_ns;
            }
        }
    }

    /// `pid` is gone: nothing more can follow its alerts. Write them and their counts,
    /// and forget them (the pid may be reused).
    pub fn process_gone(&mut self, pid: Pid, now_ns: u64) {
        self.release(|p| p.key.pid == pid);
        self.follow_ups.retain(|f| f.rule.pid != pid);
        let keys: Vec<Key> = self.written.keys().filter(|k| k.pid == pid).copied().collect();
        for key in keys {
            if let Some(w) = self.written.remove(&key) {
                self.report_count(key, w, now_ns);
            }
        }
    }

    /// The end of the run: write everything.
    pub fn finish(&mut self, now_ns: u64) {
        self.release(|_| true);
        for (key, w) in std::mem::take(&mut self.written) {
            self.report_count(key, w, now_ns);
        }
    }

    pub fn push(&mut self, output: Output) {
        self.out.push(output);
    }

    pub fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    fn report_count(&mut self, key: Key, w: Written, now_ns: u64) {
        if w.count > 0 {
            self.out.push(Output::Repeat {
                id: w.id,
                kind: key.kind,
                pid: key.pid,
                comm: w.comm,
                count: w.count,
                ts_ns: now_ns,
            });
        }
    }

    fn release(&mut self, due: impl Fn(&Pending) -> bool) {
        if !self.pending.iter().any(&due) {
            return;
        }
        let (now, later): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending).into_iter().partition(due);
        self.pending = later;
        for mut p in now {
            p.alert.id = self.next_id;
            self.next_id += 1;
            p.alert.sort_evidence();
            let written =
                Written { id: p.alert.id, comm: p.alert.comm.clone(), count: p.repeats, reported_ns: p.alert.ts_ns };
            if let Some(rule) = p.symptoms {
                let left = MAX_SYMPTOMS
                    .saturating_sub(p.alert.evidence.iter().filter(|e| matches!(e, Evidence::Symptom(_))).count());
                self.follow_ups.push(FollowUp {
                    id: p.alert.id,
                    kind: p.alert.kind,
                    comm: p.alert.comm.clone(),
                    rule,
                    until_ns: p.alert.ts_ns.saturating_add(FOLLOW_UP_NS),
                    left,
                });
            }
            self.written.insert(p.key, written);
            self.out.push(Output::Alert(p.alert));
        }
    }
}
