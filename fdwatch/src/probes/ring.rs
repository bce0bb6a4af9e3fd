//! The collector's end of the events ring buffer, read in place.
//!
//! Layout and protocol are the kernel's (kernel/bpf/ringbuf.c, include/uapi/linux/bpf.h):
//! the map's first page holds `consumer_pos` (ours to write), the second
//! `producer_pos` (the kernel's), then the data pages, mapped twice in a row so a
//! record that wraps around the end reads as one slice. Each record starts with an
//! 8-byte header whose first u32 is its length with a BUSY bit (not yet committed)
//! and a DISCARD bit; records are 8-byte aligned.
//!
//! Why not aya's `RingBuf`: it publishes `consumer_pos` after every record, and the
//! probes read that position in every `bpf_ringbuf_reserve` and `bpf_ringbuf_query`,
//! so every event moved that cache line between the CPUs twice. This reader
//! publishes once per [`PUBLISH_EVERY`] bytes and when it has caught up.
use std::{
    io,
    os::fd::{AsFd, AsRawFd, RawFd},
    ptr::NonNull,
    sync::atomic::{AtomicU32, AtomicUsize, Ordering},
};

use aya::maps::MapData;

/// `BPF_RINGBUF_BUSY_BIT`, `BPF_RINGBUF_DISCARD_BIT`, `BPF_RINGBUF_HDR_SZ` (uapi bpf.h).
const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
const HEADER: usize = 8;

/// Space handed back to the probes at least this often while a long batch is read: the
/// producers see the ring this much fuller than it is, at most (under 1% of 8 MiB).
const PUBLISH_EVERY: usize = 64 << 10;

pub struct EventRing {
    /// Owns the map's fd (polled for readiness by the collector). Not wrapped in aya's
    /// `RingBuf`, which maps the pages too: every mapping counts in RSS again.
    map: MapData,
    reader: Reader,
}

/// The reading protocol over the two mappings, apart from the map that owns them.
struct Reader {
    consumer: Mapping,
    producer: Mapping,
    /// Data size in bytes (a power of two) minus one.
    mask: usize,
    /// Where the next record starts; published to the kernel lazily.
    pos: usize,
    published: usize,
}

/// One `mmap` of the map's fd, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(fd: RawFd, len: usize, offset: usize, writable: bool) -> io::Result<Self> {
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        // SAFETY: a fresh shared mapping of a BPF map fd; no Rust reference aliases it.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, offset as libc::off_t) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { ptr: NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned NULL"))?, len })
    }

    /// The word at the start of the mapping, shared with the kernel.
    fn position(&self) -> &AtomicUsize {
        // SAFETY: page-aligned, at least a page long, and the kernel only accesses the
        // word atomically (smp_load_acquire / smp_store_release).
        unsafe { self.ptr.cast::<AtomicUsize>().as_ref() }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly what `new` mapped; nothing borrows it past `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

impl EventRing {
    pub fn new(map: MapData) -> io::Result<Self> {
        // A ring buffer's max_entries is its data size in bytes, a power of two.
        let data_bytes = map.info().map_err(io::Error::other)?.max_entries() as usize;
        if !data_bytes.is_power_of_two() {
            return Err(io::Error::other(format!("ring buffer size {data_bytes} is not a power of two")));
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let fd = map.fd().as_fd().as_raw_fd();
        let consumer = Mapping::new(fd, page, 0, true)?;
        let producer = Mapping::new(fd, page + 2 * data_bytes, page, false)?;
        Ok(Self { map, reader: Reader::new(consumer, producer, data_bytes) })
    }

    /// Hand committed records to `handle`, in order, until the reader has caught up
    /// with the probes, meets a record still being written, or has read `budget` bytes.
    /// Returns true when it stopped for the budget: more records are waiting.
    pub fn drain(&mut self, budget: usize, handle: impl FnMut(&[u8])) -> bool {
        self.reader.drain(budget, handle)
    }
}

impl Reader {
    fn new(consumer: Mapping, producer: Mapping, data_bytes: usize) -> Self {
        let pos = consumer.position().load(Ordering::Acquire);
        Self { consumer, producer, mask: data_bytes - 1, pos, published: pos }
    }

    fn drain(&mut self, budget: usize, mut handle: impl FnMut(&[u8])) -> bool {
        let start = self.pos;
        loop {
            let end = self.producer.position().load(Ordering::Acquire);
            if self.pos == end {
                break;
            }
            while self.pos != end {
                if self.pos.wrapping_sub(start) >= budget {
                    self.publish();
                    return true;
                }
                let Some(header) = self.header_at(self.pos) else { break };
                let len = (header & !DISCARD) as usize;
                if header & DISCARD == 0 {
                    handle(self.bytes_at(self.pos + HEADER, len));
                }
                self.pos = self.pos.wrapping_add((HEADER + len).next_multiple_of(8));
                if self.pos.wrapping_sub(self.published) >= PUBLISH_EVERY {
                    self.publish();
                }
            }
            if self.pos != end {
                // A record still being written: the next drain takes it.
                break;
            }
        }
        self.publish();
        false
    }

    /// The length word of the record at `pos`, or None while it is BUSY.
    fn header_at(&self, pos: usize) -> Option<u32> {
        let offset = self.data_offset(pos);
        // SAFETY: records are 8-byte aligned inside the data pages; the kernel commits
        // the header with a fully ordered xchg, paired with this acquire load so the
        // record's bytes are visible once BUSY is clear.
        let word = unsafe { self.producer.ptr.add(offset).cast::<AtomicU32>().as_ref() }.load(Ordering::Acquire);
        (word & BUSY == 0).then_some(word)
    }

    fn bytes_at(&self, pos: usize, len: usize) -> &[u8] {
        let offset = self.data_offset(pos);
        // A record is at most the data size, and the data pages are mapped twice, so
        // any record starting inside the first copy ends inside the second.
        let len = len.min(self.mask + 1);
        // SAFETY: offset + len stays inside the double mapping (above); the kernel
        // leaves a committed record alone until `consumer_pos` passes it.
        unsafe { std::slice::from_raw_parts(self.producer.ptr.as_ptr().add(offset), len) }
    }

    /// Offset in the producer mapping: its first page is `producer_pos`.
    fn data_offset(&self, pos: usize) -> usize {
        self.producer.len - 2 * (self.mask + 1) + (pos & self.mask)
    }

    fn publish(&mut self) {
        if self.published != self.pos {
            self.consumer.position().store(self.pos, Ordering::Release);
            self.published = self.pos;
        }
    }
}

impl AsRawFd for EventRing {
    fn as_raw_fd(&self) -> RawFd {
        self.map.fd().as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;
    const DATA: usize = 4096;

    impl Mapping {
        /// Private anonymous memory standing in for the kernel's pages.
        fn anonymous(len: usize) -> Mapping {
            // SAFETY: a fresh private anonymous mapping; no Rust reference aliases it.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(ptr, libc::MAP_FAILED);
            Mapping { ptr: NonNull::new(ptr.cast()).unwrap(), len }
        }
    }

    /// A ring as the kernel lays it out, with a producer that writes records the way
    /// kernel/bpf/ringbuf.c does (8-byte header, 8-byte aligned, data pages mirrored).
    struct Fake {
        reader: Reader,
        head: usize,
    }

    impl Fake {
        fn new() -> Fake {
            let reader = Reader::new(Mapping::anonymous(PAGE), Mapping::anonymous(PAGE + 2 * DATA), DATA);
            Fake { reader, head: 0 }
        }

        fn byte(&mut self, pos: usize, value: u8) {
            // Both copies: the kernel maps the data pages twice in a row.
            for copy in [pos & (DATA - 1), (pos & (DATA - 1)) + DATA] {
                // SAFETY: inside the producer mapping (page + 2 * DATA bytes).
                unsafe { *self.reader.producer.ptr.as_ptr().add(PAGE + copy) = value };
            }
        }

        fn push(&mut self, payload: &[u8], flags: u32) {
            let header = (payload.len() as u32 | flags).to_ne_bytes();
            for (i, b) in header.iter().chain(&[0; 4]).chain(payload).enumerate() {
                self.byte(self.head + i, *b);
            }
            self.head += (HEADER + payload.len()).next_multiple_of(8);
        }

        fn publish(&self) {
            self.reader.producer.position().store(self.head, Ordering::Release);
        }

        fn drain(&mut self, budget: usize) -> (Vec<Vec<u8>>, bool) {
            let mut got = Vec::new();
            let more = self.reader.drain(budget, |r| got.push(r.to_vec()));
            (got, more)
        }
    }

    #[test]
    fn reads_records_in_order_across_the_wrap_and_skips_discarded_ones() {
        let mut ring = Fake::new();
        let mut want = Vec::new();
        for round in 0..60u8 {
            // 112 bytes with the header: the records wrap around every 36 or so.
            for k in 0..3u8 {
                let payload = vec![round.wrapping_mul(3).wrapping_add(k); 100];
                let discard = k == 1;
                ring.push(&payload, if discard { DISCARD } else { 0 });
                if !discard {
                    want.push(payload);
                }
            }
            ring.publish();
            let (got, more) = ring.drain(usize::MAX);
            assert!(!more);
            assert_eq!(got.len(), 2, "round {round}");
            assert_eq!(got, want[want.len() - 2..], "round {round}");
            assert_eq!(ring.reader.consumer.position().load(Ordering::Acquire), ring.head, "space handed back");
        }
        assert!(ring.head > 4 * DATA, "the test wrapped around several times");
    }

    #[test]
    fn a_record_still_being_written_stops_the_drain_until_it_is_committed() {
        let mut ring = Fake::new();
        ring.push(&[1; 16], 0);
        let busy_at = ring.head;
        ring.push(&[2; 16], BUSY);
        ring.push(&[3; 16], 0);
        ring.publish();
        let (got, _) = ring.drain(usize::MAX);
        assert_eq!(got, [vec![1; 16]]);
        ring.byte(busy_at + 3, 0); // clear BUSY (the length's top byte on little endian)
        let (got, _) = ring.drain(usize::MAX);
        assert_eq!(got, [vec![2; 16], vec![3; 16]]);
    }

    #[test]
    fn a_drain_stops_at_its_budget_and_says_more_is_waiting() {
        let mut ring = Fake::new();
        for i in 0..10u8 {
            ring.push(&[i; 56], 0); // 64 bytes with the header
        }
        ring.publish();
        let (got, more) = ring.drain(256);
        assert_eq!(got.len(), 4);
        assert!(more);
        let (got, more) = ring.drain(256);
        assert_eq!(got.first(), Some(&vec![4; 56]));
        assert_eq!(got.len(), 4);
        assert!(more);
        let (got, more) = ring.drain(256);
        assert_eq!(got.len(), 2);
        assert!(!more, "caught up within the budget");
    }
}
