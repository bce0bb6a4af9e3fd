//! SIGUSR1 dumps of the fd model, cut out of fdwatch's output.
use std::{cell::RefCell, collections::BTreeMap};

use serde_json::{Value, json};

use crate::{DEADLINE, Fdwatch};

/// The fd records of one dump, by pid and fd.
pub type Dump = BTreeMap<i64, BTreeMap<i32, Value>>;

/// SIGUSR1 dumps of one collector, cut out of its output.
///
/// A dump writes its `fd` records sorted by (pid, fd), all at once (one buffer, one
/// flush), so in the output a dump is a maximal run of consecutive `fd` records with
/// strictly increasing (pid, fd): it ends at the first other record or where the
/// order starts over (the next dump). Nothing marks the end of the last dump, so each
/// [`Dumps::take`] sends a second SIGUSR1 whose dump is the end marker (and skipped).
///
/// Send the first SIGUSR1 only once the collector's loop runs ([`super::Tree::poke`]): until
/// its handler is installed, a SIGUSR1 kills fdwatch, and the `ready` record comes
/// before that (model_startup.rs checks this on its own).
#[derive(Default)]
pub struct Dumps {
    /// Dumps (segments) known to have started in the output.
    started: usize,
}

/// Index (0-based) of the segment each record of `records` belongs to (None: not an fd
/// record), computed incrementally.
#[derive(Default)]
struct Segmenter {
    count: usize,
    last: Option<(i64, i64)>,
}

impl Segmenter {
    fn feed(&mut self, v: &Value) -> Option<usize> {
        if v["type"] != "fd" {
            self.last = None;
            return None;
        }
        let key = (v["pid"].as_i64().unwrap_or(-1), v["fd"].as_i64().unwrap_or(-1));
        match self.last {
            Some(prev) if key > prev => {}
            _ => self.count += 1,
        }
        self.last = Some(key);
        Some(self.count - 1)
    }
}

impl Dumps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends SIGUSR1 and returns the dump it caused.
    pub fn take(&mut self, fw: &Fdwatch) -> Dump {
        let mine = self.started;
        fw.signal(libc::SIGUSR1);
        // Wait for it to start before the end marker: two SIGUSR1 pending at once
        // would be one dump.
        self.wait_started(fw, mine + 1);
        fw.signal(libc::SIGUSR1);
        let records = RefCell::new(Vec::new());
        let seg = RefCell::new(Segmenter::default());
        fw.expect(&format!("the end of dump #{mine} (the start of dump #{})", mine + 1), DEADLINE * 3, |v| {
            match seg.borrow_mut().feed(v) {
                Some(i) if i == mine => {
                    records.borrow_mut().push(v.clone());
                    false
                }
                Some(i) => i > mine,
                None => false,
            }
        });
        self.started = mine + 2;
        by_pid_fd(&records.into_inner())
    }

    fn wait_started(&self, fw: &Fdwatch, n: usize) {
        let seg = RefCell::new(Segmenter::default());
        fw.expect(&format!("dump #{} (fd records after SIGUSR1)", n - 1), DEADLINE * 3, |v| {
            seg.borrow_mut().feed(v).is_some_and(|i| i + 1 >= n)
        });
    }
}

/// Groups fd records by pid and fd (a repeated (pid, fd) is kept as a list so that
/// [`compare`] reports it).
pub fn by_pid_fd(records: &[Value]) -> Dump {
    let mut out: Dump = BTreeMap::new();
    for r in records.iter().filter(|r| r["type"] == "fd") {
        let pid = r["pid"].as_i64().unwrap_or(-1);
        let fd = r["fd"].as_i64().unwrap_or(-1) as i32;
        let slot = out.entry(pid).or_default();
        match slot.get_mut(&fd) {
            Some(prev) => {
                let mut list = prev.get("__repeated__").cloned().unwrap_or(json!([]));
                list.as_array_mut().unwrap().push(r.clone());
                prev["__repeated__"] = list;
            }
            None => {
                slot.insert(fd, r.clone());
            }
        }
    }
    out
}

/// The last dump in a finished run's records (the `--dump-on-exit` one).
pub fn last_dump(records: &[Value]) -> Dump {
    let mut seg = Segmenter::default();
    let idx: Vec<Option<usize>> = records.iter().map(|r| seg.feed(r)).collect();
    let Some(last) = idx.iter().flatten().max().copied() else { return Dump::new() };
    let mine: Vec<Value> =
        records.iter().zip(&idx).filter(|(_, i)| **i == Some(last)).map(|(r, _)| r.clone()).collect();
    by_pid_fd(&mine)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An fd record of a dump, for the unit tests of model_check.
    pub(in crate::model_check) fn fd(pid: i64, fd: i64) -> Value {
        json!({"type": "fd", "pid": pid, "fd": fd, "comm": "x", "cloexec": false,
               "object": {"name": "/dev/null", "ino": 3, "access": "read"}, "origin": []})
    }

    #[test]
    fn dumps_are_cut_at_other_records_and_where_the_order_starts_over() {
        let ev = json!({"type": "event"});
        let records = [fd(1, 0), fd(1, 1), fd(2, 0), fd(1, 0), fd(2, 5), ev.clone(), fd(1, 0), ev, fd(3, 3)];
        let mut seg = Segmenter::default();
        let idx: Vec<Option<usize>> = records.iter().map(|r| seg.feed(r)).collect();
        assert_eq!(idx, [Some(0), Some(0), Some(0), Some(1), Some(1), None, Some(2), None, Some(3)]);
        let last = last_dump(&records);
        assert_eq!(last.keys().copied().collect::<Vec<_>>(), [3]);
    }
}
