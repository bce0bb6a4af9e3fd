//! Reads from the calling process's memory: the syscall's pointer arguments.
//!
//! sys_exit runs in the calling task right after the syscall, and the BPF helpers read
//! without faulting pages in (copy_from_user_nofault, mm/maccess.c). When the syscall
//! succeeded the kernel itself has just read or written these bytes, so their pages are
//! resident and a failed read is worth a report (`succeeded`). A failed syscall may have
//! failed on that very pointer (EFAULT): nothing to report then.
use aya_ebpf::helpers::{
    bpf_probe_read_user, generated::bpf_probe_read_kernel_str as read_kernel_str_raw,
    generated::bpf_probe_read_user as read_user_raw, generated::bpf_probe_read_user_str as read_user_str_raw,
};
use fdwatch_common::{ADDR_LEN, ARGS_LEN, PATH_LEN, Path, SockAddr};

use crate::report;

/// A `T` (an integer, an array of them, or a `#[repr(C)]` struct of them) from user
/// memory at `addr`; `None` when `addr` is NULL (an optional argument left out) or the
/// read failed.
#[inline(always)]
pub fn read<T: Copy>(addr: u64, succeeded: bool) -> Option<T> {
    if addr == 0 {
        return None;
    }
    // SAFETY: bpf_probe_read_user copies size_of::<T>() bytes into a local with
    // copy_from_user_nofault, which returns an error for any address it cannot read
    // instead of faulting, so any `addr` is sound to pass. The callers' `T` are plain
    // integers and arrays or structs of them, for which any bytes are a value.
    match unsafe { bpf_probe_read_user(addr as *const T) } {
        Ok(value) => Some(value),
        Err(err) => {
            if succeeded {
                report::user_read_failed(addr, err as i64);
            }
            None
        }
    }
}

/// A time the caller passed or got back (a `struct __kernel_timespec`, or select's
/// `struct timeval`: both two 64-bit words on x86-64) at `addr`, and whether it was
/// there: zeros and false when `read` gives nothing.
#[inline(always)]
pub fn read_time(addr: u64, succeeded: bool) -> ([i64; 2], bool) {
    match read::<[i64; 2]>(addr, succeeded) {
        Some(time) => (time, true),
        None => ([0, 0], false),
    }
}

/// Copy a socket address of `len` bytes (as the caller passed it) into `out`.
#[inline(always)]
pub fn sockaddr(addr: u64, len: u64, out: &mut SockAddr, succeeded: bool) {
    out.len = 0;
    out._pad = 0;
    if addr == 0 || len == 0 {
        return;
    }
    let len = if len > ADDR_LEN as u64 { ADDR_LEN as u32 } else { len as u32 };
    // SAFETY: the helper writes at most `len` <= ADDR_LEN bytes, the size of
    // `out.bytes`, an exclusive borrow; the source may be any address (see `read`).
    let ret = unsafe { read_user_raw(out.bytes.as_mut_ptr().cast(), len, addr as *const _) };
    if ret == 0 {
        out.len = len;
    } else if succeeded {
        report::user_read_failed(addr, ret);
    }
}

/// Copy a NUL-terminated path from user memory.
#[inline(always)]
pub fn path(addr: u64, out: &mut Path, succeeded: bool) {
    // SAFETY: the helper writes at most PATH_LEN bytes, the size of `out.bytes`, an
    // exclusive borrow; the source may be any address: strncpy_from_user_nofault stops
    // with an error where it cannot read (and the helper then zeroes the buffer).
    let n = unsafe { read_user_str_raw(out.bytes.as_mut_ptr().cast(), PATH_LEN as u32, addr as *const _) };
    if n < 0 && succeeded {
        report::user_read_failed(addr, n);
    }
    set_path_len(out, n);
}

/// Copy up to `out.len()` bytes at `addr` (of `len` available) into `out`; returns
/// (bytes copied, whether there were more).
#[inline(always)]
pub fn bytes(addr: u64, len: u64, out: &mut [u8; ARGS_LEN]) -> (u32, bool) {
    if addr == 0 || len == 0 {
        return (0, false);
    }
    let mut n = len;
    if n > ARGS_LEN as u64 {
        n = ARGS_LEN as u64;
    }
    // SAFETY: the helper writes `n` <= ARGS_LEN bytes into `out`, an exclusive borrow of
    // that size; the source may be any address (copy_from_user_nofault returns an error
    // instead of faulting).
    let ret = unsafe { read_user_raw(out.as_mut_ptr().cast(), n as u32, addr as *const _) };
    if ret != 0 {
        report::user_read_failed(addr, ret);
        return (0, false);
    }
    (n as u32, len > n)
}

/// Copy a NUL-terminated path from kernel memory (exec's `bprm->filename`).
#[inline(always)]
pub fn kernel_path(addr: *const u8, out: &mut Path) {
    // SAFETY: as in `path`, with strncpy_from_kernel_nofault: at most PATH_LEN bytes
    // into `out.bytes`, and no fault whatever `addr` is.
    let n = unsafe { read_kernel_str_raw(out.bytes.as_mut_ptr().cast(), PATH_LEN as u32, addr.cast()) };
    if n < 0 && !addr.is_null() {
        report::exec_filename_failed(n);
    }
    set_path_len(out, n);
}

/// The str helpers return the length including the NUL; a full buffer means the path
/// was (or may have been) cut.
#[inline(always)]
fn set_path_len(out: &mut Path, n: i64) {
    if n <= 0 {
        out.len = 0;
        out.truncated = 0;
    } else {
        out.len = (n - 1) as u32;
        out.truncated = (n as usize >= PATH_LEN) as u32;
    }
}
