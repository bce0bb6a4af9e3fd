//! Read-only settings the collector writes before loading (aya `override_global`).
use fdwatch_common::KernelOffsets;

/// The collector's own tgid: its syscalls are never reported (no feedback loop).
#[unsafe(no_mangle)]
static FDWATCH_TGID: u32 = 0;
/// 1 when `--pid` was given: report only tgids present in `maps::WATCHED`.
#[unsafe(no_mangle)]
static FILTER_WATCHED: u32 = 0;
/// 1 with `--follow`: a watched process's children join `maps::WATCHED` at fork.
#[unsafe(no_mangle)]
static FOLLOW_CHILDREN: u32 = 0;
/// Wake the reader only once this many bytes wait in the ring buffer; below it the
/// reader's own timer picks events up. Batching wake-ups is what keeps the cost per
/// event low at high rates (every wake-up is an irq_work plus a context switch).
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 0;
/// Struct field offsets from the running kernel's BTF (see fdwatch-common/offsets.rs).
#[unsafe(no_mangle)]
pub static OFFSETS: KernelOffsets = KernelOffsets {
    task_pid: 0,
    task_tgid: 0,
    task_real_parent: 0,
    task_files: 0,
    task_exit_code: 0,
    files_fdt: 0,
    fdtable_max_fds: 0,
    fdtable_fd: 0,
    file_inode: 0,
    file_flags: 0,
    inode_mode: 0,
    inode_ino: 0,
    inode_rdev: 0,
    inode_sb: 0,
    super_block_dev: 0,
    binprm_filename: 0,
    fdtable_close_on_exec: 0,
    file_path: 0,
    path_dentry: 0,
    dentry_name: 0,
    qstr_name: 0,
    task_comm: 0,
};

// The volatile reads keep LLVM from folding the zero initialisers into the code: the
// real values only exist once the loader has rewritten .rodata.
#[inline(always)]
pub fn own_tgid() -> u32 {
    unsafe { core::ptr::read_volatile(&FDWATCH_TGID) }
}

#[inline(always)]
pub fn filter_watched() -> bool {
    unsafe { core::ptr::read_volatile(&FILTER_WATCHED) != 0 }
}

#[inline(always)]
pub fn follow_children() -> bool {
    unsafe { core::ptr::read_volatile(&FOLLOW_CHILDREN) != 0 }
}

#[inline(always)]
pub fn wakeup_bytes() -> u64 {
    unsafe { core::ptr::read_volatile(&WAKEUP_BYTES) }
}

/// One field of `OFFSETS`, read alone (a copy of the whole struct is 22 loads). The
/// verifier knows the value (a load from frozen .rodata), which is what lets the
/// probes load BTF-typed pointers at these offsets directly.
macro_rules! offset {
    ($field:ident) => {{
        #[allow(unused_unsafe)]
        let value = unsafe { core::ptr::read_volatile(&raw const crate::config::OFFSETS.$field) };
        value
    }};
}
pub(crate) use offset;
