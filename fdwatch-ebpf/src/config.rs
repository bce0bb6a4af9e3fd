//! Read-only settings the collector writes before loading (aya `override_global`).
//!
//! They live in .rodata, which the loader rewrites and then freezes: the verifier then
//! knows each value as a constant. Reads must stay volatile (aya's `Global::load`), or
//! LLVM folds the zero initialisers into the code.
use aya_ebpf::Global;
use fdwatch_common::KernelOffsets;

/// The collector's own tgid: its syscalls are never reported (no feedback loop).
#[unsafe(no_mangle)]
static FDWATCH_TGID: Global<u32> = Global::new(0);
/// 1 when `--pid` was given: report only tgids present in `maps::WATCHED`.
#[unsafe(no_mangle)]
static FILTER_WATCHED: Global<u32> = Global::new(0);
/// 1 with `--follow`: a watched process's children join `maps::WATCHED` at fork.
#[unsafe(no_mangle)]
static FOLLOW_CHILDREN: Global<u32> = Global::new(0);
/// Wake the reader only once this many bytes wait in the ring buffer; below it the
/// reader's own timer picks events up. Batching wake-ups is what keeps the cost per
/// event low at high rates (every wake-up is an irq_work plus a context switch).
#[unsafe(no_mangle)]
static WAKEUP_BYTES: Global<u64> = Global::new(0);
/// Struct field offsets from the running kernel's BTF (see fdwatch-common/offsets.rs).
/// A plain static rather than a `Global`, so that `offset!` can read one field alone.
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

#[inline(always)]
pub fn own_tgid() -> u32 {
    FDWATCH_TGID.load()
}

#[inline(always)]
pub fn filter_watched() -> bool {
    FILTER_WATCHED.load() != 0
}

#[inline(always)]
pub fn follow_children() -> bool {
    FOLLOW_CHILDREN.load() != 0
}

#[inline(always)]
pub fn wakeup_bytes() -> u64 {
    WAKEUP_BYTES.load()
}

/// One field of `OFFSETS`, read alone (a copy of the whole struct is 22 loads). The
/// verifier knows the value (a load from frozen .rodata), which is what lets the
/// probes load BTF-typed pointers at these offsets directly.
macro_rules! offset {
    ($field:ident) => {{
        // SAFETY: a pointer to a field of a static: non-null, aligned and initialised (the
        // loader only rewrites the bytes before the program exists). Volatile, so the
        // load is not folded into the zero initialiser.
        let value = unsafe { core::ptr::read_volatile(&raw const crate::config::OFFSETS.$field) };
        value
    }};
}
pub(crate) use offset;
