//! Reads from kernel memory at the BTF offsets the collector resolved.
use aya_ebpf::helpers::{bpf_get_current_task, bpf_get_current_task_btf, bpf_probe_read_kernel};
use fdwatch_common::FdObject;

use crate::config::offset;

#[inline(always)]
unsafe fn read<T>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() {
        return None;
    }
    unsafe { bpf_probe_read_kernel(base.add(offset as usize).cast::<T>()).ok() }
}

#[inline(always)]
pub fn current_task() -> *const u8 {
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
    unsafe { bpf_get_current_task_btf() as *const u8 }
}

/// `*(base + offset)` for a BTF-typed `base`.
#[inline(always)]
unsafe fn load<T: Copy>(base: *const u8, offset: u32) -> T {
    unsafe { base.add(offset as usize).cast::<T>().read() }
}

/// `current->real_parent->tgid`. Non-sleepable programs run under RCU, which keeps
/// the parent (an __rcu pointer) alive while we read it.
#[inline(always)]
pub fn parent_tgid_btf(task: *const u8) -> u32 {
    let (real_parent, tgid) = (offset!(task_real_parent), offset!(task_tgid));
    unsafe { load::<u32>(load::<*const u8>(task, real_parent), tgid) }
}

/// `current->comm` as it lies in memory: NUL-padded (set_task_comm uses strscpy_pad),
/// so two loads copy it whole.
#[inline(always)]
pub fn comm_btf(task: *const u8) -> [u64; 2] {
    let at = offset!(task_comm);
    unsafe { [load::<u64>(task, at), load::<u64>(task, at + 8)] }
}

#[inline(always)]
pub fn tgid_of(task: *const u8) -> u32 {
    unsafe { read::<u32>(task, offset!(task_tgid)).unwrap_or(0) }
}

#[inline(always)]
pub fn pid_of(task: *const u8) -> u32 {
    unsafe { read::<u32>(task, offset!(task_pid)).unwrap_or(0) }
}

#[inline(always)]
pub fn files_of(task: *const u8) -> u64 {
    unsafe { read::<u64>(task, offset!(task_files)).unwrap_or(0) }
}

#[inline(always)]
pub fn exit_code_of(task: *const u8) -> u32 {
    unsafe { read::<u32>(task, offset!(task_exit_code)).unwrap_or(0) }
}

/// `bprm->filename`, the path exec was given (kernel memory).
#[inline(always)]
pub fn binprm_filename(bprm: *const u8) -> *const u8 {
    unsafe { read::<*const u8>(bprm, offset!(binprm_filename)).unwrap_or(core::ptr::null()) }
}

/// What the current task's `fd` refers to: `current->files->fdt->fd[fd]` (fs/file.c),
/// then its inode. Called right after the syscall installed the fd, in the same task,
/// so the slot holds the new file unless another thread raced a close in between.
#[inline(always)]
pub fn fd_object(fd: i64) -> FdObject {
    let object = FdObject::default();
    if fd < 0 {
        return object;
    }
    unsafe {
        let Some(files) = read::<*const u8>(current_task(), offset!(task_files)) else {
            return object;
        };
        let Some(fdt) = read::<*const u8>(files, offset!(files_fdt)) else {
            return object;
        };
        let Some(max_fds) = read::<u32>(fdt, offset!(fdtable_max_fds)) else {
            return object;
        };
        if fd >= max_fds as i64 {
            return object;
        }
        let Some(slots) = read::<*const u8>(fdt, offset!(fdtable_fd)) else {
            return object;
        };
        let Some(file) = read::<*const u8>(slots, (fd as u32) * 8) else {
            return object;
        };
        let Some(inode) = read::<*const u8>(file, offset!(file_inode)) else {
            return object;
        };
        inode_object(file, inode)
    }
}

/// The identity and type of an open file and its inode.
#[inline(always)]
pub fn inode_object(file: *const u8, inode: *const u8) -> FdObject {
    let mut object = FdObject::default();
    unsafe {
        object.file_flags = read::<u32>(file, offset!(file_flags)).unwrap_or(0);
        object.mode = read::<u16>(inode, offset!(inode_mode)).unwrap_or(0);
        object.ino = read::<u64>(inode, offset!(inode_ino)).unwrap_or(0);
        object.rdev = read::<u32>(inode, offset!(inode_rdev)).unwrap_or(0);
        object.dev = read::<*const u8>(inode, offset!(inode_sb))
            .and_then(|sb| read::<u32>(sb, offset!(super_block_dev)))
            .unwrap_or(0);
        object.valid = 1;
    }
    object
}
