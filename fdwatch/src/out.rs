//! Where rendered records are appended: a `Vec<u8>` (a text line being assembled, a
//! test, `fdwatch fds`) or an output lane's `BytesMut` (handed to the outputs as a
//! shared `Bytes` without a copy, sinks/mod.rs). The renderers (json.rs, escape.rs,
//! the clock's timestamps) are generic over it so the hot path appends straight into
//! the lane's buffer.
use bytes::{BufMut as _, BytesMut};

pub trait Out {
    fn push(&mut self, b: u8);
    fn extend_from_slice(&mut self, s: &[u8]);
    fn reserve(&mut self, n: usize);
}

impl Out for Vec<u8> {
    #[inline]
    fn push(&mut self, b: u8) {
        Vec::push(self, b)
    }
    #[inline]
    fn extend_from_slice(&mut self, s: &[u8]) {
        Vec::extend_from_slice(self, s)
    }
    #[inline]
    fn reserve(&mut self, n: usize) {
        Vec::reserve(self, n)
    }
}

impl Out for BytesMut {
    /// `put_u8` goes through `extend_from_slice` (a reserve and a one-byte copy); the
    /// renderers push single bytes (quotes, commas) several times per event.
    #[inline]
    fn push(&mut self, b: u8) {
        let len = self.len();
        if let Some(slot) = self.spare_capacity_mut().first_mut() {
            slot.write(b);
            // SAFETY: the byte at `len` was just initialised, within the capacity.
            unsafe { self.set_len(len + 1) };
        } else {
            self.put_u8(b)
        }
    }
    #[inline]
    fn extend_from_slice(&mut self, s: &[u8]) {
        BytesMut::extend_from_slice(self, s)
    }
    #[inline]
    fn reserve(&mut self, n: usize) {
        BytesMut::reserve(self, n)
    }
}
