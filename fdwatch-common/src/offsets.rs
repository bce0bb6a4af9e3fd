//! Byte offsets of the kernel struct fields the probes read.
//!
//! aya has no CO-RE relocation for Rust programs, so the collector resolves these from
//! the running kernel's BTF (/sys/kernel/btf/vmlinux) at load time and hands them to
//! the probes as a read-only global. A field the kernel lacks fails the load with its
//! name instead of reading garbage.

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_files: u32,
    pub task_exit_code: u32,
    pub files_fdt: u32,
    pub fdtable_max_fds: u32,
    pub fdtable_fd: u32,
    pub file_inode: u32,
    pub file_flags: u32,
    pub inode_mode: u32,
    pub inode_ino: u32,
    pub inode_rdev: u32,
    pub inode_sb: u32,
    pub super_block_dev: u32,
    pub binprm_filename: u32,
    pub fdtable_close_on_exec: u32,
    pub file_path: u32,
    pub path_dentry: u32,
    pub dentry_name: u32,
    pub qstr_name: u32,
    /// `char comm[16]`, NUL-padded by set_task_comm (strscpy_pad).
    pub task_comm: u32,
    /// `task->restart_block` and, in it, the fields of the nanosleep and poll members
    /// of its union (include/linux/restart_block.h).
    pub task_restart_block: u32,
    pub restart_nanosleep_clockid: u32,
    pub restart_nanosleep_expires: u32,
    pub restart_poll_has_timeout: u32,
    pub restart_poll_tv_sec: u32,
    pub restart_poll_tv_nsec: u32,
    /// `task->seccomp` (struct seccomp: mode, filter_count).
    pub task_seccomp: u32,
    pub seccomp_mode: u32,
    pub seccomp_filter_count: u32,
    /// `file->private_data`; for a pty master a `struct tty_file_private` whose `tty`
    /// has the slave's `index` (drivers/tty/pty.c, ptmx_open).
    pub file_private_data: u32,
    pub tty_file_private_tty: u32,
    pub tty_struct_index: u32,
    /// `task->mm` and its `arg_start`/`arg_end`: where a program's argv lies in its memory.
    pub task_mm: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub _pad: u32,
}

impl KernelOffsets {
    /// All zero: what the eBPF object holds until the loader writes the real offsets.
    pub const UNSET: KernelOffsets = KernelOffsets {
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
        task_restart_block: 0,
        restart_nanosleep_clockid: 0,
        restart_nanosleep_expires: 0,
        restart_poll_has_timeout: 0,
        restart_poll_tv_sec: 0,
        restart_poll_tv_nsec: 0,
        task_seccomp: 0,
        seccomp_mode: 0,
        seccomp_filter_count: 0,
        file_private_data: 0,
        tty_file_private_tty: 0,
        tty_struct_index: 0,
        task_mm: 0,
        mm_arg_start: 0,
        mm_arg_end: 0,
        _pad: 0,
    };
}
