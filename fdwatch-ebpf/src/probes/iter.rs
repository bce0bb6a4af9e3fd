//! The startup scan: a task_file iterator (kernel/bpf/task_iter.c) visits every open fd
//! of every process once, and writes one `TaskFile` record per fd into the reader's
//! seq_file. One read() replaces a readlink and an fdinfo read per fd in /proc, which
//! is what keeps startup under a second with 100k fds.
use core::ffi::c_void;

use aya_ebpf::helpers::{generated::bpf_probe_read_kernel_str, generated::bpf_seq_write};
use fdwatch_common::{DENTRY_NAME_LEN, FdObject, TaskFile};

use crate::{report, task};

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
    // SAFETY: `ctx` is the program's context, a struct bpf_iter__task_file. The verifier
    // checks each load against that struct's BTF (btf_ctx_access, kernel/bpf/btf.c):
    // only these 8-byte slots, read with their own sizes, or the program is rejected.
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
    // SAFETY: `meta` is the context's struct bpf_iter_meta *, non-NULL (checked above)
    // and BTF-typed, so the verifier checks this load of its first field, `seq`.
    let seq = unsafe { *meta };
    let mut record = TaskFile {
        pid: task::tgid_of(task_ptr),
        fd: fd as i32,
        object: FdObject::default(),
        cloexec: 0,
        tty_index: -1,
        name: [0; DENTRY_NAME_LEN],
    };
    let inode = task::inode_of(file);
    if !inode.is_null() {
        record.object = task::inode_object(file, inode);
        record.tty_index = task::pty_master_index(file, &record.object);
    }
    let fdt = task::fdtable_of(task_ptr);
    record.cloexec = task::close_on_exec(fdt, fd) as u32;
    let name = task::dentry_name(file);
    if !name.is_null() {
        // SAFETY: the helper writes at most DENTRY_NAME_LEN bytes into `record.name`, a
        // local of that size; the source may be any address: it stops with an error
        // where it cannot read (strncpy_from_kernel_nofault, mm/maccess.c).
        let n =
            unsafe { bpf_probe_read_kernel_str(record.name.as_mut_ptr().cast(), DENTRY_NAME_LEN as u32, name.cast()) };
        if n < 0 {
            report::dentry_name_failed(n);
        }
    }
    // A record that does not fit is not lost: bpf_seq_read() shows the same object
    // again at the start of the next read() (kernel/bpf/bpf_iter.c), so the
    // -EOVERFLOW this may return is not worth a report.
    // SAFETY: `seq` is the seq_file from the iterator's meta (BTF-typed, which the
    // verifier requires of this argument); the helper copies size_of::<TaskFile>()
    // bytes from `record`, a live local.
    unsafe { bpf_seq_write(seq.cast(), (&raw const record).cast(), core::mem::size_of::<TaskFile>() as u32) };
    0
}
