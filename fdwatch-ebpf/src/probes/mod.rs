//! The syscall probes: one BTF raw tracepoint on `sys_exit` dispatches on the syscall
//! number to one module per syscall family.
//!
//! Why sys_exit: it sees the return value, and the arguments are still in the
//! `struct pt_regs` the syscall was entered with (regs.rs), so one program makes one
//! event per syscall with no enter/exit join. tp_btf needs no tracefs.
//!
//! Cost: a raw syscall tracepoint runs for every syscall of every process, and on this
//! machine each one costs a syscall about 150 ns (measured with a getppid loop), so
//! there is deliberately no `sys_enter` program. fentry/fexit would fire only for the
//! traced syscalls, but this kernel refuses them at load with EPERM (the README's
//! "Hooks"; `cargo xtask bench` checks). The loader's one table of hooks is
//! fdwatch/src/probes/programs.rs.
mod dup;
mod iter;
mod net;
mod open;
mod process;
mod recv;
mod sleep;
mod socket;
mod stop;
mod wait;

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use fdwatch_common::{Kind, NewFd, NoPayload, clock::DOORBELL_NR};

use crate::{
    clock,
    emit::{self, Call},
    regs, task,
};

/// x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
#[inline(always)]
fn kind_of(nr: u64) -> Option<Kind> {
    Some(match nr {
        2 => Kind::Open,
        16 => Kind::Ioctl,
        3 => Kind::Close,
        7 => Kind::Poll,
        22 => Kind::Pipe,
        23 => Kind::Select,
        32 => Kind::Dup,
        33 => Kind::Dup2,
        41 => Kind::Socket,
        42 => Kind::Connect,
        43 => Kind::Accept,
        44 => Kind::Sendto,
        46 => Kind::Sendmsg,
        53 => Kind::Socketpair,
        72 => Kind::Fcntl,
        257 => Kind::Openat,
        270 => Kind::Pselect6,
        271 => Kind::Ppoll,
        288 => Kind::Accept4,
        292 => Kind::Dup3,
        293 => Kind::Pipe2,
        307 => Kind::Sendmmsg,
        436 => Kind::CloseRange,
        437 => Kind::Openat2,
        85 => Kind::Creat,
        213 => Kind::EpollCreate,
        291 => Kind::EpollCreate1,
        284 => Kind::Eventfd,
        290 => Kind::Eventfd2,
        283 => Kind::TimerfdCreate,
        282 => Kind::Signalfd,
        289 => Kind::Signalfd4,
        253 => Kind::InotifyInit,
        294 => Kind::InotifyInit1,
        319 => Kind::MemfdCreate,
        434 => Kind::PidfdOpen,
        438 => Kind::PidfdGetfd,
        300 => Kind::FanotifyInit,
        323 => Kind::Userfaultfd,
        298 => Kind::PerfEventOpen,
        425 => Kind::IoUringSetup,
        304 => Kind::OpenByHandleAt,
        47 => Kind::Recvmsg,
        299 => Kind::Recvmmsg,
        35 => Kind::Nanosleep,
        230 => Kind::ClockNanosleep,
        232 => Kind::EpollWait,
        281 => Kind::EpollPwait,
        441 => Kind::EpollPwait2,
        219 => Kind::RestartSyscall,
        101 => Kind::Ptrace,
        _ => return None,
    })
}

/// sys_exit(struct pt_regs *regs, long ret) (include/trace/events/syscalls.h).
///
/// `inline(always)` reaches the function aya's macro nests inside the program: with the
/// report functions present LLVM stopped inlining it, and every syscall on the host paid
/// a BPF-to-BPF call.
#[btf_tracepoint(function = "sys_exit")]
#[inline(always)]
pub fn sys_exit(ctx: BtfTracePointContext) -> i32 {
    let regs: *const u8 = ctx.arg(0);
    let nr = regs::syscall_nr(regs);
    let Some(kind) = kind_of(nr) else {
        if nr == DOORBELL_NR {
            clock::answer_doorbell();
        }
        return 0;
    };
    let ret: i64 = ctx.arg(1);
    // Calls reported only when they carry something: decided on the return value (and
    // for ptrace its request) before anything else, so the usual case stays cheap.
    if emit::unneeded(kind, ret, regs::syscall_arg0(regs)) {
        return 0;
    }
    let wanted = match kind {
        Kind::Nanosleep | Kind::ClockNanosleep | Kind::EpollWait | Kind::EpollPwait | Kind::EpollPwait2 => {
            if !sleep::cut_short(ret) {
                return 0;
            }
            emit::wanted()
        }
        // recvmsg returns the bytes received (0 is a datagram that may still carry
        // fds), recvmmsg the messages received.
        Kind::Recvmsg if ret < 0 => return 0,
        Kind::Recvmmsg if ret <= 0 => return 0,
        Kind::Ptrace => {
            // ptrace(long request, pid_t pid, ...): the tracee counts as watched too.
            let args = regs::syscall_args(regs);
            if !stop::is_stop_or_resume(args[0]) {
                return 0;
            }
            emit::wanted_with(args[1] as u32)
        }
        _ => emit::wanted(),
    };
    let Some((task, tgid, tid)) = wanted else { return 0 };
    let call = Call { kind, task, tgid, tid, args: regs::syscall_args(regs), ret };
    match kind {
        Kind::Dup | Kind::Dup2 | Kind::Dup3 | Kind::Close | Kind::CloseRange => plain(&call),
        Kind::Fcntl => dup::fcntl(&call),
        Kind::Ioctl => dup::ioctl(&call),
        Kind::Socket => new_fd(&call),
        Kind::Socketpair => socket::fd_pair(&call, 3),
        Kind::Pipe | Kind::Pipe2 => socket::fd_pair(&call, 0),
        Kind::Accept | Kind::Accept4 => socket::accept(&call),
        Kind::Open | Kind::Creat => open::open(&call, 0),
        Kind::Openat | Kind::Openat2 => open::open(&call, 1),
        Kind::Connect | Kind::Sendto | Kind::Sendmsg | Kind::Sendmmsg => net::with_addr(&call),
        Kind::Select | Kind::Pselect6 | Kind::Poll | Kind::Ppoll => wait::exit(&call),
        Kind::Recvmsg | Kind::Recvmmsg => recv::exit(&call),
        Kind::Nanosleep | Kind::ClockNanosleep | Kind::EpollWait | Kind::EpollPwait | Kind::EpollPwait2 => {
            sleep::exit(&call)
        }
        Kind::RestartSyscall => sleep::restart(&call),
        Kind::Ptrace => plain(&call),
        Kind::Fork | Kind::Exec | Kind::Exit | Kind::Signal | Kind::IoctlPtyPeer => {}
        // eventfd, epoll, memfd, pidfd, ...: the fd model must know every fd in use.
        _ => new_fd(&call),
    }
    0
}

/// A syscall whose arguments say everything (dup family, close, close_range, fcntl).
#[inline(always)]
pub fn plain(call: &Call) {
    if let Some(entry) = emit::syscall_record::<NoPayload>(call) {
        emit::submit(entry);
    }
}

/// A syscall that returns a new fd: record the object the kernel installed on it.
#[inline(always)]
pub fn new_fd(call: &Call) {
    if let Some(mut entry) = emit::syscall_record::<NewFd>(call) {
        emit::payload(&mut entry).object = task::fd_object(call.task, call.ret);
        emit::submit(entry);
    }
}
