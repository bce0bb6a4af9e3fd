//! The startup scan: a task_file iterator (kernel/bpf/task_iter.c) visits every open fd
//! of every process once, and writes one `TaskFile` record per fd into the reader's
//! seq_file. One read() replaces a readlink and an fdinfo read per fd in /proc, which
//! is what keeps startup under a second with 100k fds.
use core::ffi::c_void;

use aya_ebpf::helpers::{bpf_probe_read_kernel, generated::bpf_probe_read_kernel_str, generated::bpf_seq_write};
use fdwatch_common::{DENTRY_NAME_LEN, FdObject, TaskFile};

use crate::{config::offset, task};

/// struct bpf_iter__task_file: meta, task, fd, file, each in an 8-byte slot
/// (__bpf_md_ptr in kernel/bpf/task_iter.c).
const CTX_META: usize = 0;
const CTX_TASK: usize = 8;
const CTX_FD: usize = 16;
const CTX_FILE: usize = 24;

#[unsafe(no_mangle)]
#[unsafe(link_section = "iter/task_file")]
pub fn iter_task_file(ctx: *mut c_void) -> i32 {
    let ctx = ctx as *const u8;
    // Direct loads from the context and from meta keep the BTF types the verifier needs
    // for bpf_seq_write's seq_file argument.
    let (meta, task_ptr, fd, file) = unsafe {
        (
            *(ctx.add(CTX_META) as *const *const *mut c_void),
            *(ctx.add(CTX_TASK) as *const *const u8),
            *(ctx.add(CTX_FD) as *const u32),
            *(ctx.add(CTX_FILE) as *const *const u8),
        )
    };
    // The last call has no task: the iteration is over.
    if meta.is_null() || task_ptr.is_null() || file.is_null() {
        return 0;
    }
    let seq = unsafe { *meta };
    let mut record = TaskFile {
        pid: task::tgid_of(task_ptr),
        fd: fd as i32,
        object: FdObject::default(),
        cloexec: 0,
        _pad: 0,
        name: [0; DENTRY_NAME_LEN],
    };
    unsafe {
        let read_ptr = |base: *const u8, at: u32| -> *const u8 {
            bpf_probe_read_kernel(base.add(at as usize).cast::<*const u8>()).unwrap_or(core::ptr::null())
        };
        let inode = read_ptr(file, offset!(file_inode));
        if !inode.is_null() {
            record.object = task::inode_object(file, inode);
        }
        // close_on_exec is a bitmap of unsigned longs in the task's fd table.
        let files = read_ptr(task_ptr, offset!(task_files));
        let fdt = if files.is_null() { files } else { read_ptr(files, offset!(files_fdt)) };
        let bits = if fdt.is_null() { fdt } else { read_ptr(fdt, offset!(fdtable_close_on_exec)) };
        if !bits.is_null() {
            let word: u64 = bpf_probe_read_kernel(bits.add((fd / 64) as usize * 8).cast::<u64>()).unwrap_or(0);
            record.cloexec = ((word >> (fd % 64)) & 1) as u32;
        }
        let dentry = read_ptr(file, offset!(file_path) + offset!(path_dentry));
        if !dentry.is_null() {
            let name = read_ptr(dentry, offset!(dentry_name) + offset!(qstr_name));
            if !name.is_null() {
                bpf_probe_read_kernel_str(record.name.as_mut_ptr().cast(), DENTRY_NAME_LEN as u32, name.cast());
            }
        }
        bpf_seq_write(seq.cast(), (&raw const record).cast(), core::mem::size_of::<TaskFile>() as u32);
    }
    0
}
