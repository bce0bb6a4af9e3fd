//! Reads from kernel memory at the BTF offsets the collector resolved.
//!
//! Two kinds of read. Through a BTF-typed pointer (the current task from
//! `bpf_get_current_task_btf`) a field is a direct load that the verifier checks against
//! the struct's BTF; everywhere else `bpf_probe_read_kernel` copies it, which cannot fault.
use aya_ebpf::helpers::{bpf_get_current_task, bpf_get_current_task_btf, bpf_probe_read_kernel};
use fdwatch_common::FdObject;

use crate::{config::offset, report};

/// `*(base + offset)`, copied with bpf_probe_read_kernel. `None` for a NULL `base` (a
/// slot that holds nothing, e.g. an fd another thread closed meanwhile) and when the
/// helper gives up; that is reported, since every `base` here was just read from a live
/// kernel object. `T` is an integer or a raw pointer.
#[inline(always)]
fn read<T: Copy>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel copies with copy_from_kernel_nofault (mm/maccess.c),
    // which returns an error for an address that is not mapped kernel memory instead of
    // faulting, so any address is sound to pass (the pointer is never dereferenced here).
    // The callers' `T` are integers and raw pointers, for which any bytes are a value.
    match unsafe { bpf_probe_read_kernel(base.add(offset as usize).cast::<T>()) } {
        Ok(value) => Some(value),
        Err(err) => {
            report::kernel_read_failed(offset, err);
            None
        }
    }
}

#[inline(always)]
pub fn current_task() -> *const u8 {
    // SAFETY: the helper takes no arguments and returns the current task's address as a
    // plain integer (kernel/trace/bpf_trace.c); it is only ever passed to `read` above.
    unsafe { bpf_get_current_task() as *const u8 }
}

/// The current task as a BTF-typed pointer. Loads through it are checked by the
/// verifier against task_struct's BTF (the offsets are known to it: they come from
/// frozen .rodata) and JITed as plain loads with a fault handler: no helper call per
/// field. The header of every event reads through it; measured on the dup2/close
/// loop, `bpf_get_current_comm` (strscpy_pad, a memset) and two
/// `bpf_probe_read_kernel` for the parent were a fifth of the traced process's time.
#[inline(always)]
pub fn current_btf() -> *const u8 {
    // SAFETY: the helper takes no arguments; it returns `current`, which is never NULL
    // in a tracing program (kernel/trace/bpf_trace.c, bpf_get_current_task_btf).
    unsafe { bpf_get_current_task_btf() as *const u8 }
}

/// `*(base + offset)` for `base` from `current_btf()` or a field loaded through it.
#[inline(always)]
fn load<T: Copy>(base: *const u8, offset: u32) -> T {
    // SAFETY: `base` is a BTF-typed task_struct pointer (PTR_TO_BTF_ID), or one loaded
    // from such a task's field. The verifier checks each load against the BTF type at
    // load time (the offset is a known constant from frozen .rodata) and rejects the
    // program if it falls outside the struct or reads a different type; the JIT emits
    // the load with an exception-table entry (BPF_PROBE_MEM), so a bad address reads 0.
    unsafe { base.add(offset as usize).cast::<T>().read() }
}

/// `(task->tgid, task->pid)`: the process id and the thread id, as
/// bpf_get_current_pid_tgid would give them for the current task.
#[inline(always)]
pub fn ids_btf(task: *const u8) -> (u32, u32) {
    (load::<u32>(task, offset!(task_tgid)), load::<u32>(task, offset!(task_pid)))
}

/// `current->real_parent->tgid`. Non-sleepable programs run under RCU, which keeps
/// the parent (an __rcu pointer) alive while we read it.
#[inline(always)]
pub fn parent_tgid_btf(task: *const u8) -> u32 {
    let (real_parent, tgid) = (offset!(task_real_parent), offset!(task_tgid));
    load::<u32>(load::<*const u8>(task, real_parent), tgid)
}

/// `current->comm` as it lies in memory: NUL-padded (set_task_comm uses strscpy_pad),
/// so two loads copy it whole.
#[inline(always)]
pub fn comm_btf(task: *const u8) -> [u64; 2] {
    let at = offset!(task_comm);
    [load::<u64>(task, at), load::<u64>(task, at + 8)]
}

/// `task->cgroups->dfl_cgrp->kn->id`: the task's cgroup id in the unified hierarchy,
/// what bpf_get_current_cgroup_id() returns for current (kernel/bpf/helpers.c:
/// task_dfl_cgroup(), then cgroup_id()), as four loads through BTF-typed pointers.
/// The helper, a call that takes and drops the RCU read lock around the same loads,
/// measured ~17 ns per event more on the dup2/close loop (bpf_stats, A/B); here the
/// program already runs under RCU (non-sleepable), which keeps the css_set alive.
#[inline(always)]
pub fn cgroup_id_btf(task: *const u8) -> u64 {
    let css_set = load::<*const u8>(task, offset!(task_cgroups));
    let cgroup = load::<*const u8>(css_set, offset!(css_set_dfl_cgrp));
    let kn = load::<*const u8>(cgroup, offset!(cgroup_kn));
    load::<u64>(kn, offset!(kernfs_node_id))
}

#[inline(always)]
pub fn tgid_of(task: *const u8) -> u32 {
    read::<u32>(task, offset!(task_tgid)).unwrap_or(0)
}

#[inline(always)]
pub fn pid_of(task: *const u8) -> u32 {
    read::<u32>(task, offset!(task_pid)).unwrap_or(0)
}

#[inline(always)]
pub fn files_of(task: *const u8) -> u64 {
    read::<u64>(task, offset!(task_files)).unwrap_or(0)
}

#[inline(always)]
pub fn exit_code_of(task: *const u8) -> u32 {
    read::<u32>(task, offset!(task_exit_code)).unwrap_or(0)
}

/// `bprm->filename`, the path exec was given (kernel memory).
#[inline(always)]
pub fn binprm_filename(bprm: *const u8) -> *const u8 {
    read::<*const u8>(bprm, offset!(binprm_filename)).unwrap_or(core::ptr::null())
}

/// `task->files->fdt`, the task's current fd table (include/linux/fdtable.h), or NULL.
#[inline(always)]
pub fn fdtable_of(task: *const u8) -> *const u8 {
    let files = read::<*const u8>(task, offset!(task_files)).unwrap_or(core::ptr::null());
    read::<*const u8>(files, offset!(files_fdt)).unwrap_or(core::ptr::null())
}

/// Whether `fd`'s close-on-exec bit is set in `fdt->close_on_exec`, a bitmap of
/// unsigned longs (include/linux/fdtable.h).
#[inline(always)]
pub fn close_on_exec(fdt: *const u8, fd: u32) -> bool {
    let bits = read::<*const u8>(fdt, offset!(fdtable_close_on_exec)).unwrap_or(core::ptr::null());
    let word = read::<u64>(bits, (fd / 64) * 8).unwrap_or(0);
    (word >> (fd % 64)) & 1 != 0
}

/// What the current task's `fd` refers to: `task->files->fdt->fd[fd]` (fs/file.c), then
/// its inode. `task` is the current task from `current_btf`. Called right after the
/// syscall installed the fd, in the same task, so the slot holds the new file unless
/// another thread raced a close in between.
#[inline(always)]
pub fn fd_object(task: *const u8, fd: i64) -> FdObject {
    fd_object_of(fd_file(task, fd))
}

/// `task->files->fdt->fd[fd]`, the open file on `fd`, or NULL. The table is reached by
/// direct loads through the BTF-typed task (files_struct and fdtable are typed
/// structs); the slot array is `struct file __rcu **`, whose elements the verifier
/// does not type, so the slot itself is copied. This was five bpf_probe_read_kernel
/// calls and a bpf_get_current_task.
#[inline(always)]
pub fn fd_file(task: *const u8, fd: i64) -> *const u8 {
    if fd < 0 {
        return core::ptr::null();
    }
    let files = load::<*const u8>(task, offset!(task_files));
    if files.is_null() {
        return core::ptr::null();
    }
    let fdt = load::<*const u8>(files, offset!(files_fdt));
    if fdt.is_null() || fd >= load::<u32>(fdt, offset!(fdtable_max_fds)) as i64 {
        return core::ptr::null();
    }
    let slots = load::<u64>(fdt, offset!(fdtable_fd)) as *const u8;
    if slots.is_null() {
        return core::ptr::null();
    }
    // 0 <= fd < max_fds, which sysctl fs.nr_open bounds by 2^30 (fs/file.c): the slot's
    // byte offset may need more than the 32 bits `read` takes as an offset.
    read::<*const u8>(slots.wrapping_add(fd as usize * 8), 0).unwrap_or(core::ptr::null())
}

/// The identity and type of `file` (NULL: an object marked not valid).
#[inline(always)]
pub fn fd_object_of(file: *const u8) -> FdObject {
    let Some((inode, file_flags)) = file_fields(file) else {
        return FdObject::default();
    };
    if inode.is_null() {
        return FdObject::default();
    }
    inode_fields(inode, file_flags)
}

/// `N` bytes of `base` from `lo`, copied at once to take several fields of one struct
/// with one bpf_probe_read_kernel: each helper call is a function call (with the
/// return thunk of this CPU's speculation mitigations) and a fault-tolerant copy.
#[inline(always)]
fn window<const N: usize>(base: *const u8, lo: u32) -> Option<[u8; N]> {
    read::<[u8; N]>(base, lo)
}

/// The `T` at byte `off` of the struct a window was copied from at `lo`, if it lies
/// inside the window. The offsets come from frozen .rodata, so the verifier knows
/// which branch each caller takes and checks the load against the stack slot.
#[inline(always)]
fn in_window<T: Copy, const N: usize>(w: &[u8; N], lo: u32, off: u32) -> Option<T> {
    let rel = off.checked_sub(lo)? as usize;
    if rel + core::mem::size_of::<T>() > N {
        return None;
    }
    // SAFETY: rel + size_of::<T>() <= N (checked above), so the read stays inside `w`;
    // read_unaligned needs no alignment; the callers' `T` are integers and raw
    // pointers, for which any bytes are a value.
    Some(unsafe { w.as_ptr().add(rel).cast::<T>().read_unaligned() })
}

/// `(file->f_inode, file->f_flags)`: one copy when both fit in a window (6.x: 8 bytes
/// apart), else two.
#[inline(always)]
fn file_fields(file: *const u8) -> Option<(*const u8, u32)> {
    if file.is_null() {
        return None;
    }
    let (at_inode, at_flags) = (offset!(file_inode), offset!(file_flags));
    let lo = if at_inode < at_flags { at_inode } else { at_flags } & !7;
    if let Some(w) = window::<16>(file, lo) {
        if let (Some(inode), Some(flags)) = (in_window(&w, lo, at_inode), in_window(&w, lo, at_flags)) {
            return Some((inode, flags));
        }
    }
    Some((read::<*const u8>(file, at_inode)?, read::<u32>(file, at_flags).unwrap_or(0)))
}

/// The inode's identity and type, and the superblock's dev_t: one copy of the inode's
/// first bytes when its fields lie there (6.x: i_mode 0, i_sb 40, i_ino 64, i_rdev 76),
/// then the superblock.
#[inline(always)]
fn inode_fields(inode: *const u8, file_flags: u32) -> FdObject {
    let (at_mode, at_sb, at_ino, at_rdev) =
        (offset!(inode_mode), offset!(inode_sb), offset!(inode_ino), offset!(inode_rdev));
    let mut lo = at_mode;
    for at in [at_sb, at_ino, at_rdev] {
        if at < lo {
            lo = at;
        }
    }
    let lo = lo & !7;
    let mut fields = None;
    if let Some(w) = window::<96>(inode, lo) {
        if let (Some(mode), Some(sb), Some(ino), Some(rdev)) = (
            in_window::<u16, 96>(&w, lo, at_mode),
            in_window::<*const u8, 96>(&w, lo, at_sb),
            in_window::<u64, 96>(&w, lo, at_ino),
            in_window::<u32, 96>(&w, lo, at_rdev),
        ) {
            fields = Some((mode, sb, ino, rdev));
        }
    }
    let (mode, sb, ino, rdev) = fields.unwrap_or_else(|| {
        (
            read::<u16>(inode, at_mode).unwrap_or(0),
            read::<*const u8>(inode, at_sb).unwrap_or(core::ptr::null()),
            read::<u64>(inode, at_ino).unwrap_or(0),
            read::<u32>(inode, at_rdev).unwrap_or(0),
        )
    });
    FdObject { file_flags, mode, ino, rdev, dev: read::<u32>(sb, offset!(super_block_dev)).unwrap_or(0), valid: 1 }
}

/// `file->f_inode`, or NULL.
#[inline(always)]
pub fn inode_of(file: *const u8) -> *const u8 {
    read::<*const u8>(file, offset!(file_inode)).unwrap_or(core::ptr::null())
}

/// The identity and type of an open file and its inode, a field at a time: the startup
/// iterator's stack holds its record and has no room for `inode_fields`' window.
#[inline(always)]
pub fn inode_object(file: *const u8, inode: *const u8) -> FdObject {
    FdObject {
        file_flags: read::<u32>(file, offset!(file_flags)).unwrap_or(0),
        mode: read::<u16>(inode, offset!(inode_mode)).unwrap_or(0),
        ino: read::<u64>(inode, offset!(inode_ino)).unwrap_or(0),
        rdev: read::<u32>(inode, offset!(inode_rdev)).unwrap_or(0),
        dev: read::<*const u8>(inode, offset!(inode_sb))
            .and_then(|sb| read::<u32>(sb, offset!(super_block_dev)))
            .unwrap_or(0),
        valid: 1,
    }
}

/// `file->f_path.dentry->d_name.name`, the file's last path component (a kernel
/// string), or NULL.
#[inline(always)]
pub fn dentry_name(file: *const u8) -> *const u8 {
    let dentry = read::<*const u8>(file, offset!(file_path) + offset!(path_dentry)).unwrap_or(core::ptr::null());
    read::<*const u8>(dentry, offset!(dentry_name) + offset!(qstr_name)).unwrap_or(core::ptr::null())
}

/// `current->restart_block.nanosleep`: (clockid, expires), the absolute end of an
/// interrupted sleep that restart_syscall would resume (kernel/time/hrtimer.c,
/// do_nanosleep). Only meaningful right after a sleep returned -ERESTART_RESTARTBLOCK.
/// Copied with bpf_probe_read_kernel: the verifier refuses direct loads inside the
/// block's union (it checks them against its first member, futex's pointers).
#[inline(always)]
pub fn restart_nanosleep() -> (i32, u64) {
    let task = current_task();
    let block = offset!(task_restart_block);
    (
        read::<i32>(task, block + offset!(restart_nanosleep_clockid)).unwrap_or(-1),
        read::<u64>(task, block + offset!(restart_nanosleep_expires)).unwrap_or(0),
    )
}

/// `current->restart_block.poll`: the end of an interrupted poll's timeout (fs/select.c,
/// sys_poll: CLOCK_MONOTONIC, from poll_select_set_timeout) in ns, or 0 without one.
#[inline(always)]
pub fn restart_poll_deadline() -> u64 {
    let task = current_task();
    let block = offset!(task_restart_block);
    if read::<i32>(task, block + offset!(restart_poll_has_timeout)).unwrap_or(0) == 0 {
        return 0;
    }
    let sec = read::<u64>(task, block + offset!(restart_poll_tv_sec)).unwrap_or(0);
    let nsec = read::<u64>(task, block + offset!(restart_poll_tv_nsec)).unwrap_or(0);
    sec.wrapping_mul(1_000_000_000).wrapping_add(nsec)
}

/// `current->seccomp`: (mode, filter_count) (include/linux/seccomp_types.h).
#[inline(always)]
pub fn seccomp() -> (u32, u32) {
    let task = current_btf();
    let at = offset!(task_seccomp);
    (load::<u32>(task, at + offset!(seccomp_mode)), load::<u32>(task, at + offset!(seccomp_filter_count)))
}

/// The kernel's dev_t of /dev/ptmx (and of each devpts instance's ptmx): char 5:2
/// (Documentation/admin-guide/devices.txt), MKDEV(5, 2) = 5 << 20 | 2.
const PTMX_RDEV: u32 = (5 << 20) | 2;
const S_IFMT: u16 = 0o170000;
const S_IFCHR: u16 = 0o020000;

/// For an open pseudo-terminal master, the index N of its slave /dev/pts/N: ptmx_open
/// (drivers/tty/pty.c) leaves a `struct tty_file_private` in `file->private_data`, whose
/// `tty` is the master's tty_struct, numbered like its slave. -1 for any other file.
#[inline(always)]
pub fn pty_master_index(file: *const u8, object: &FdObject) -> i32 {
    if object.mode & S_IFMT != S_IFCHR || object.rdev != PTMX_RDEV {
        return -1;
    }
    let private = read::<*const u8>(file, offset!(file_private_data)).unwrap_or(core::ptr::null());
    let tty = read::<*const u8>(private, offset!(tty_file_private_tty)).unwrap_or(core::ptr::null());
    read::<i32>(tty, offset!(tty_struct_index)).unwrap_or(-1)
}

/// Where the current task's argument strings are: `current->mm->arg_start` and the
/// length up to `arg_end` (fs/exec.c sets both while building the new stack).
#[inline(always)]
pub fn args_span() -> (u64, u64) {
    let mm = read::<*const u8>(current_task(), offset!(task_mm)).unwrap_or(core::ptr::null());
    let start = read::<u64>(mm, offset!(mm_arg_start)).unwrap_or(0);
    let end = read::<u64>(mm, offset!(mm_arg_end)).unwrap_or(0);
    (start, end.saturating_sub(start))
}
