//! Process lifecycle from the scheduler's BTF tracepoints (include/trace/events/sched.h),
//! which every variant of fork, exec and exit passes through.
use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use fdwatch_common::{ExecEvent, ExitEvent, ForkEvent, Kind};

use crate::{config, emit, maps::WATCHED, report, task, user};

/// sched_process_fork(struct task_struct *parent, struct task_struct *child): called in
/// kernel_clone() after copy_process() and before wake_up_new_task(), so this record
/// is in the ring buffer before the child can make a syscall of its own.
#[btf_tracepoint(function = "sched_process_fork")]
#[inline(always)]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    let parent: *const u8 = ctx.arg(0);
    let child: *const u8 = ctx.arg(1);
    let parent_tgid = task::tgid_of(parent);
    let child_tgid = task::tgid_of(child);
    // The parent is the current task here (kernel_clone() runs in it), and the child
    // starts in its cgroups (cgroup_post_fork()).
    if parent_tgid == config::own_tgid() || !emit::in_container() {
        return 0;
    }
    if config::filter_watched() {
        if !emit::watched(parent_tgid) {
            return 0;
        }
        // --follow: the new process joins the watched set before it can run.
        if config::follow_children() && child_tgid != parent_tgid {
            if let Err(err) = WATCHED.insert(child_tgid, 1, 0) {
                report::follow_failed(child_tgid, parent_tgid, err);
            }
        }
    }
    let Some(mut entry) = emit::reserve::<ForkEvent>(Kind::Fork) else { return 0 };
    let record = entry.as_mut_ptr();
    // SAFETY: `record` points at the ForkEvent just reserved: 8-byte aligned, writable,
    // ours until submit; so is its header, as fill_header requires.
    unsafe {
        // sched_process_fork runs in the parent: it is the current task.
        emit::fill_header(
            &raw mut (*record).header,
            Kind::Fork,
            task::current_btf(),
            parent_tgid,
            task::pid_of(parent),
        );
        (*record).child_pid = child_tgid;
        (*record).child_tid = task::pid_of(child);
        (*record).shares_files = (task::files_of(parent) == task::files_of(child)) as u32;
        (*record).is_thread = (child_tgid == parent_tgid) as u32;
    }
    emit::submit(entry);
    0
}

/// sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm):
/// the new image is in place (comm already updated); CLOEXEC fds are already closed.
#[btf_tracepoint(function = "sched_process_exec")]
#[inline(always)]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    let Some((task, tgid, tid)) = emit::wanted() else { return 0 };
    let old_tid: u32 = ctx.arg::<u64>(1) as u32;
    let bprm: *const u8 = ctx.arg(2);
    let Some(mut entry) = emit::reserve::<ExecEvent>(Kind::Exec) else { return 0 };
    let record = entry.as_mut_ptr();
    // SAFETY: `record` points at the ExecEvent just reserved: 8-byte aligned, writable,
    // ours until submit; so is its header, as fill_header requires.
    unsafe {
        emit::fill_header(&raw mut (*record).header, Kind::Exec, task, tgid, tid);
        (*record).old_tid = old_tid;
        (*record)._pad = 0;
        user::kernel_path(task::binprm_filename(bprm), &mut (*record).filename);
        // The new argv was just copied onto the new stack (copy_strings): resident.
        let (start, len) = task::args_span();
        let (copied, more) = user::bytes(start, len, &mut (*record).args);
        (*record).args_len = copied;
        (*record).args_truncated = more as u32;
    }
    emit::submit(entry);
    0
}

/// sched_process_exit(struct task_struct *p, bool group_dead): `group_dead` is true for
/// the last thread of the process, whose fd table is then released.
#[btf_tracepoint(function = "sched_process_exit")]
#[inline(always)]
pub fn sched_process_exit(ctx: BtfTracePointContext) -> i32 {
    let Some((task, tgid, tid)) = emit::wanted() else { return 0 };
    let group_dead = ctx.arg::<u64>(1) & 0xff != 0;
    if let Some(mut entry) = emit::reserve::<ExitEvent>(Kind::Exit) {
        let record = entry.as_mut_ptr();
        // SAFETY: `record` points at the ExitEvent just reserved: 8-byte aligned,
        // writable, ours until submit; so is its header, as fill_header requires.
        unsafe {
            emit::fill_header(&raw mut (*record).header, Kind::Exit, task, tgid, tid);
            (*record).exit_code = task::exit_code_of(task::current_task());
            (*record).group_dead = group_dead as u32;
        }
        emit::submit(entry);
    }
    if group_dead && config::filter_watched() {
        let _ = WATCHED.remove(tgid);
    }
    0
}
