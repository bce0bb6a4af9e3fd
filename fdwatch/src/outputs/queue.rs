//! The bounded queue between the collector and one output's writer thread. The
//! collector hands over whole chunks (the records of one batch, or 128 KiB of them)
//! once per batch, never per record; a chunk that does not fit is refused whole, and
//! the collector counts its records as dropped (outputs/mod.rs). The writer thread
//! blocks here for work; `close` wakes it to finish.
use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use bytes::Bytes;

use crate::outputs::record::{RecordType, TypeCounts};

/// One record's end in a chunk, for outputs that send records one by one (syslog).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Offset just past the record's last byte (its `\n`).
    pub end: u32,
    pub ty: RecordType,
    /// RFC 5424 severity (record.rs).
    pub severity: u8,
}

/// Whole records, shared by every output of a lane (the bytes are not copied).
#[derive(Clone, Debug)]
pub struct Chunk {
    pub data: Bytes,
    /// Records in `data`, per type.
    pub counts: TypeCounts,
    /// Where each record ends, when an output of the lane needs it.
    pub frames: Option<Arc<[Frame]>>,
}

impl Chunk {
    pub fn records(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[derive(Default)]
struct State {
    chunks: VecDeque<Chunk>,
    bytes: usize,
    /// No more chunks will come: the writer finishes what is queued, then stops.
    closed: bool,
    /// Stop now (the exit deadline passed): what is left is counted by `discard`.
    abandoned: bool,
    reopen: bool,
    /// Records the writer took but could not deliver (a dead stdout, a message the
    /// transport refuses, what was left at exit), per type, not yet reported.
    undelivered: TypeCounts,
}

pub struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    limit: usize,
}

impl Queue {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { state: Mutex::default(), wake: Condvar::new(), limit })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A writer thread that panicked left the data consistent (plain pushes and pops).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `chunk` (a reference-counted copy) if it fits in the limit (an empty queue
    /// takes any one chunk, so a record larger than the limit still goes out); false if
    /// it did not.
    pub fn push(&self, chunk: &Chunk) -> bool {
        let mut st = self.lock();
        let len = chunk.data.len();
        if st.closed || st.abandoned || (st.bytes > 0 && st.bytes + len > self.limit) {
            return false;
        }
        st.bytes += len;
        st.chunks.push_back(chunk.clone());
        drop(st);
        self.wake.notify_one();
        true
    }

    /// The next chunk, waiting for one; None once closed and empty.
    pub fn pop(&self) -> Option<Chunk> {
        let mut st = self.lock();
        loop {
            if st.abandoned {
                return None;
            }
            if let Some(c) = st.chunks.pop_front() {
                st.bytes -= c.data.len();
                return Some(c);
            }
            if st.closed || st.reopen || st.abandoned {
                return None;
            }
            st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Sleep up to `d` (a writer's backoff), or less if the queue is abandoned
    /// meanwhile. True if it was abandoned: give up.
    pub fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut st = self.lock();
        while !st.abandoned {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self.wake.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Give up: the writer stops at its next look (a blocked write times out within
    /// a second, outputs/stream.rs).
    pub fn abandon(&self) {
        self.lock().abandoned = true;
        self.wake.notify_all();
    }

    pub fn is_abandoned(&self) -> bool {
        self.lock().abandoned
    }

    /// Ask the writer to reopen its destination (SIGHUP: a file renamed by logrotate).
    pub fn request_reopen(&self) {
        self.lock().reopen = true;
        self.wake.notify_all();
    }

    pub fn take_reopen(&self) -> bool {
        std::mem::take(&mut self.lock().reopen)
    }

    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Count the records of `counts` as taken but not delivered.
    pub fn undelivered(&self, counts: &TypeCounts) {
        let mut st = self.lock();
        for (u, c) in st.undelivered.iter_mut().zip(counts) {
            *u += c;
        }
    }

    pub fn take_undelivered(&self) -> TypeCounts {
        std::mem::take(&mut self.lock().undelivered)
    }

    /// Everything still queued (at exit, when the writer could not finish): counted
    /// as undelivered and dropped.
    pub fn discard(&self) -> TypeCounts {
        let mut st = self.lock();
        let mut counts = [0; RecordType::COUNT];
        for c in std::mem::take(&mut st.chunks) {
            for (n, k) in counts.iter_mut().zip(c.counts) {
                *n += k;
            }
        }
        st.bytes = 0;
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(len: usize) -> Chunk {
        let mut counts = [0; RecordType::COUNT];
        counts[RecordType::Event as usize] = 1;
        Chunk { data: Bytes::from(vec![b'x'; len]), counts, frames: None }
    }

    #[test]
    fn refuses_what_does_not_fit_and_takes_again_once_drained() {
        let q = Queue::new(100);
        assert!(q.push(&chunk(60)));
        assert!(!q.push(&chunk(60)), "over the limit");
        assert!(q.push(&chunk(40)));
        assert_eq!(q.queued_bytes(), 100);
        assert_eq!(q.pop().unwrap().data.len(), 60);
        assert!(q.push(&chunk(60)));
        let empty = Queue::new(10);
        assert!(empty.push(&chunk(50)), "an empty queue takes one oversized chunk");
        q.close();
        assert_eq!(q.discard()[RecordType::Event as usize], 2);
        assert!(q.pop().is_none());
        assert!(!q.push(&chunk(1)), "closed");
    }
}
