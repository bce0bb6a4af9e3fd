//! Who stops and resumes whom: ptrace(2) requests that stop or resume a tracee, and
//! stop/continue signals from the `signal_generate` tracepoint (which also sees the
//! SIGSTOP that PTRACE_ATTACH sends, ptrace_attach in kernel/ptrace.c, and the terminal
//! driver's SIGTSTP). The interrupted_wait detector pairs them with the waits they cut.
use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use fdwatch_common::{Kind, SignalEvent};

use crate::{emit, task};

/// include/uapi/linux/ptrace.h
const PTRACE_CONT: u64 = 7;
const PTRACE_ATTACH: u64 = 16;
const PTRACE_DETACH: u64 = 17;
const PTRACE_SEIZE: u64 = 0x4206;
const PTRACE_INTERRUPT: u64 = 0x4207;
const PTRACE_LISTEN: u64 = 0x4208;

/// ptrace(request, pid, addr, data): only the requests that stop or resume a tracee;
/// PEEK/POKE/GETREGS and PTRACE_SYSCALL (strace's every syscall) are dropped first.
#[inline(always)]
pub fn is_stop_or_resume(request: u64) -> bool {
    matches!(request, PTRACE_CONT | PTRACE_ATTACH | PTRACE_DETACH | PTRACE_SEIZE | PTRACE_INTERRUPT | PTRACE_LISTEN)
}

/// Signal numbers (arch/x86/include/uapi/asm/signal.h): SIGCONT (18), then the four
/// that stop a task, SIGSTOP (19), SIGTSTP, SIGTTIN, SIGTTOU (22).
const SIGCONT: i32 = 18;
const SIGTTOU: i32 = 22;

/// signal_generate(int sig, struct kernel_siginfo *info, struct task_struct *task,
/// int group, int result) (include/trace/events/signal.h). Runs for every signal the
/// kernel generates (SIGCHLD at every exit, timers, ...): all but the stop and continue
/// signals return at the first comparison.
#[btf_tracepoint(function = "signal_generate")]
#[inline(always)]
pub fn signal_generate(ctx: BtfTracePointContext) -> i32 {
    let sig = ctx.arg::<u64>(0) as i32;
    if !(SIGCONT..=SIGTTOU).contains(&sig) {
        return 0;
    }
    let target: *const u8 = ctx.arg(2);
    let target_tgid = task::tgid_of(target);
    let Some((task, tgid, tid)) = emit::wanted_with(target_tgid) else { return 0 };
    let Some(mut entry) = emit::reserve::<SignalEvent>(Kind::Signal) else { return 0 };
    let record = entry.as_mut_ptr();
    // SAFETY: `record` points at the SignalEvent just reserved: 8-byte aligned, writable,
    // ours until submit; so is its header, as fill_header requires.
    unsafe {
        emit::fill_header(&raw mut (*record).header, Kind::Signal, task, tgid, tid);
        (*record).sig = sig as u32;
        (*record).result = ctx.arg::<u64>(4) as u32;
        (*record).target_pid = target_tgid;
        (*record).target_tid = task::pid_of(target);
        (*record).group = (ctx.arg::<u64>(3) as u32 != 0) as u32;
        (*record)._pad = 0;
    }
    emit::submit(entry);
    0
}
