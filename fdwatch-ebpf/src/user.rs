//! Reads from the calling process's memory (pointer arguments of the syscall). At
//! fexit the kernel has just used these buffers, so their pages are resident.
use aya_ebpf::helpers::{
    bpf_probe_read_user, generated::bpf_probe_read_kernel_str as read_kernel_str_raw,
    generated::bpf_probe_read_user as read_user_raw, generated::bpf_probe_read_user_str as read_user_str_raw,
};
use fdwatch_common::{ADDR_LEN, PATH_LEN, Path, SockAddr};

#[inline(always)]
pub fn read<T>(addr: u64) -> Option<T> {
    if addr == 0 {
        return None;
    }
    unsafe { bpf_probe_read_user(addr as *const T).ok() }
}

/// Copy a socket address of `len` bytes (as the caller passed it) into `out`.
#[inline(always)]
pub fn sockaddr(addr: u64, len: u64, out: &mut SockAddr) {
    out.len = 0;
    out._pad = 0;
    if addr == 0 || len == 0 {
        return;
    }
    let len = if len > ADDR_LEN as u64 { ADDR_LEN as u32 } else { len as u32 };
    let ret = unsafe { read_user_raw(out.bytes.as_mut_ptr().cast(), len, addr as *const _) };
    if ret == 0 {
        out.len = len;
    }
}

/// Copy a NUL-terminated path from user memory.
#[inline(always)]
pub fn path(addr: u64, out: &mut Path) {
    let n = unsafe { read_user_str_raw(out.bytes.as_mut_ptr().cast(), PATH_LEN as u32, addr as *const _) };
    set_path_len(out, n);
}

/// Copy a NUL-terminated path from kernel memory (exec's `bprm->filename`).
#[inline(always)]
pub fn kernel_path(addr: *const u8, out: &mut Path) {
    let n = unsafe { read_kernel_str_raw(out.bytes.as_mut_ptr().cast(), PATH_LEN as u32, addr.cast()) };
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
