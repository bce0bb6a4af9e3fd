//! Giving freed heap memory back to the kernel. glibc keeps freed memory for reuse and
//! returns only a free stretch at the very top of the heap on its own; an always-on
//! agent whose model shrinks (a process with 100k fds exits) should not carry the peak
//! forever. malloc_trim(3) also releases whole free pages inside the heap.

/// How often the collector gives free memory back; a trim walks the free chunks, a
/// fraction of a millisecond for tens of MB.
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

pub fn trim() {
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe { libc::malloc_trim(0) };
}

/// Give back a `Vec`'s growth slack when it is over a quarter, keeping an eighth of
/// headroom: shrunk to the exact length, the next push would double it again and copy
/// it whole, at every trim.
pub fn shrink_vec<T>(v: &mut Vec<T>) {
    let keep = v.len() + v.len() / 8 + 8;
    if v.capacity() > keep + v.len() / 8 {
        v.shrink_to(keep);
    }
}

/// `shrink_vec` for a hash map.
pub fn shrink_map<K: Eq + std::hash::Hash, V, S: std::hash::BuildHasher>(m: &mut std::collections::HashMap<K, V, S>) {
    let keep = m.len() + m.len() / 8 + 8;
    if m.capacity() > 2 * keep {
        m.shrink_to(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrunk_vec_takes_a_push_without_growing() {
        let mut v: Vec<u64> = Vec::with_capacity(4096);
        v.extend(0..1000);
        shrink_vec(&mut v);
        let cap = v.capacity();
        assert!((1000..1200).contains(&cap), "slack given back: {cap}");
        v.push(1);
        assert_eq!(v.capacity(), cap, "one more does not reallocate");
        shrink_vec(&mut v);
        assert_eq!(v.capacity(), cap, "a little slack is kept");
    }
}
