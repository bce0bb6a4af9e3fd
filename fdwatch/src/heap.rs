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
