//! Wire types shared by the eBPF probes and the userspace collector.
//!
//! Every record in the ring buffer starts with a [`Header`] whose `kind` says which
//! typed record follows. The layouts are `#[repr(C)]`, 8-byte aligned (the ring buffer
//! reserves at 8-byte boundaries) and checked at compile time below, so kernel and
//! userspace cannot drift apart. Kinds have explicit ids that are never reused.
#![no_std]

pub mod agent;
pub mod clock;
pub mod config;
pub mod kind;
pub mod object;
pub mod offsets;

pub use config::ProbeConfig;
pub use kind::Kind;
pub use offsets::KernelOffsets;

/// `TASK_COMM_LEN` in include/linux/sched.h.
pub const COMM_LEN: usize = 16;
/// Bytes of a socket address we copy: `sizeof(struct sockaddr_storage)` is 128
/// (include/linux/socket.h); a unix path is at most 108 bytes plus the family.
pub const ADDR_LEN: usize = 128;
/// Bytes of a path we copy (open, openat, openat2, exec). Longer paths are cut, and the
/// record says so through `truncated`.
pub const PATH_LEN: usize = 256;
/// How many `struct pollfd` entries of a poll/ppoll we report on return.
pub const POLL_ENTRIES: usize = 8;
/// How many fds passed with SCM_RIGHTS one recvmsg/recvmmsg record carries (more are
/// counted in `Received::more`).
pub const RECV_FDS: usize = 8;
/// Size of the per-CPU loss counter array: one slot per kind id.
pub const MAX_KIND: u32 = 64;

/// Fixed header of every record.
///
/// 48 bytes, as before the cgroup id joined it: the id took the places of the CPU
/// number (which no consumer read) and of the padding after `ppid`, which moved up
/// beside `kind` to keep every field naturally aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// A [`Kind`] id.
    pub kind: u32,
    /// tgid of `current->real_parent`.
    pub ppid: u32,
    /// When the syscall ended: CLOCK_MONOTONIC ns (`bpf_ktime_get_ns()`), or in agent
    /// mode the tick count with [`clock::TS_JIFFIES`] set (see clock.rs); the collector
    /// turns both into ns where it decodes the header.
    pub ts_ns: u64,
    /// Process id (the kernel's tgid).
    pub pid: u32,
    /// Thread id (the kernel's pid).
    pub tid: u32,
    /// `bpf_get_current_cgroup_id()`: the id of the task's cgroup in the unified (v2)
    /// hierarchy (kernel/bpf/helpers.c; the root's on a host without one), which the
    /// collector turns into a path and a container (fdwatch/src/containers/).
    pub cgroup_id: u64,
    pub comm: [u8; COMM_LEN],
}

/// Identity and type of the open file behind a new fd, read in the kernel from
/// `current->files->fdt->fd[fd]` right after the syscall installed it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FdObject {
    /// `inode->i_ino`: the number in `pipe:[N]`, `socket:[N]` of /proc/PID/fd.
    pub ino: u64,
    /// `inode->i_sb->s_dev` (kernel `dev_t`: major << 20 | minor).
    pub dev: u32,
    /// `inode->i_rdev` for character and block devices (tty, /dev/null).
    pub rdev: u32,
    /// `file->f_flags` (O_ACCMODE tells a pipe's read end from its write end).
    pub file_flags: u32,
    /// `inode->i_mode` (S_IFMT tells pipe, socket, file, char device, anon inode).
    pub mode: u16,
    /// 1 when the fields above were read; 0 when the fd could not be resolved.
    pub valid: u16,
}

/// A syscall with up to six raw arguments and its return value; `P` carries what the
/// raw arguments only point to (user memory) or what the kernel created.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SyscallEvent<P> {
    pub header: Header,
    /// Return value as the syscall returned it: `-errno` on failure.
    pub ret: i64,
    /// Arguments in ABI order (rdi, rsi, rdx, r10, r8, r9).
    pub args: [u64; 6],
    pub payload: P,
}

/// dup, dup2, dup3, close, close_range, fcntl: the arguments say everything.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoPayload {}

/// socket, accept, accept4, and the new fd of open/openat/openat2.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewFd {
    pub object: FdObject,
}

/// pipe, pipe2, socketpair: the two fds the kernel wrote to user memory, and their objects.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FdPair {
    pub fds: [i32; 2],
    pub objects: [FdObject; 2],
}

/// A socket address copied from user memory (connect, sendto, sendmsg, sendmmsg,
/// accept's peer).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockAddr {
    /// Bytes valid in `bytes` (0: no address given).
    pub len: u32,
    pub _pad: u32,
    pub bytes: [u8; ADDR_LEN],
}

impl Default for SockAddr {
    fn default() -> Self {
        Self { len: 0, _pad: 0, bytes: [0; ADDR_LEN] }
    }
}

/// connect, sendto, sendmsg, sendmmsg.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrPayload {
    pub addr: SockAddr,
}

/// accept, accept4: the new fd's object and the peer address if the caller asked.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcceptPayload {
    pub object: FdObject,
    pub addr: SockAddr,
}

/// A NUL-terminated path from user or kernel memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    /// Bytes in `bytes` before the NUL.
    pub len: u32,
    /// 1 when the path did not fit.
    pub truncated: u32,
    pub bytes: [u8; PATH_LEN],
}

impl Default for Path {
    fn default() -> Self {
        Self { len: 0, truncated: 0, bytes: [0; PATH_LEN] }
    }
}

/// open, openat, openat2.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenPayload {
    pub object: FdObject,
    /// openat2's `struct open_how` (flags, mode, resolve); zero for open/openat.
    pub how: [u64; 3],
    /// A pseudo-terminal master (/dev/ptmx, char 5:2): the index N of its slave
    /// /dev/pts/N (`tty->index`, what TIOCGPTN returns); -1 for anything else.
    pub tty_index: i32,
    pub _pad: u32,
    pub path: Path,
}

/// select, pselect6, poll, ppoll: the timeout the kernel wrote back, and (poll/ppoll)
/// the first entries' returned events.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitPayload {
    /// select/pselect6/ppoll write the time *not* slept back into the caller's timeout
    /// (select(2) NOTES, ppoll(2)); this is that value, read at exit (seconds, and
    /// micro- or nanoseconds per the syscall). The timeout as passed in would need an
    /// entry hook, which on this kernel costs every syscall on the host (probes/mod.rs).
    pub timeout_sec: i64,
    pub timeout_subsec: i64,
    /// 0: the timeout pointer was NULL (wait forever), or poll's int timeout is used.
    pub has_timeout: u32,
    /// poll/ppoll: how many of `fds` are valid.
    pub nentries: u32,
    pub fds: [PollFd; POLL_ENTRIES],
    /// poll interrupted with -ERESTART_RESTARTBLOCK: the end of its timeout the kernel
    /// keeps for restart_syscall (`current->restart_block.poll`, CLOCK_MONOTONIC ns);
    /// 0 otherwise (no timeout, or not interrupted).
    pub deadline_ns: u64,
}

/// recvmsg(2), recvmmsg(2) that installed fds passed with SCM_RIGHTS (unix(7)): read
/// back from the caller's control buffer, and the objects now on them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// How many of `fds` are valid.
    pub nfds: u32,
    /// fds received beyond the first RECV_FDS (not reported one by one).
    pub more: u32,
    pub fds: [i32; RECV_FDS],
    pub objects: [FdObject; RECV_FDS],
}

/// nanosleep(2), clock_nanosleep(2), epoll_wait(2) and its variants, reported only
/// when cut short (interrupted by a signal or a stop).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SleepPayload {
    /// The timeout the caller passed (nanosleep, clock_nanosleep, epoll_pwait2: the
    /// `struct __kernel_timespec` it points to; epoll_wait/pwait: none, theirs is the
    /// int milliseconds argument).
    pub timeout_sec: i64,
    pub timeout_nsec: i64,
    /// What nanosleep/clock_nanosleep wrote back as the time not slept (`rem`).
    pub rem_sec: i64,
    pub rem_nsec: i64,
    /// -ERESTART_RESTARTBLOCK: the absolute end of the sleep the kernel keeps for
    /// restart_syscall (`current->restart_block.nanosleep.expires`, ns on the clock
    /// `clockid`); 0 otherwise.
    pub expires_ns: u64,
    pub clockid: i32,
    /// 1 when `timeout_*` / `rem_*` were read.
    pub has_timeout: u16,
    pub has_rem: u16,
}

/// restart_syscall(2): the calling task's seccomp state (its filters decide whether
/// the restart may run).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartPayload {
    /// `task->seccomp.mode`: 0 disabled, 1 strict, 2 filter (SECCOMP_MODE_*).
    pub seccomp_mode: u32,
    /// `task->seccomp.filter_count`: filters attached.
    pub seccomp_filters: u32,
}

/// signal_generate (include/trace/events/signal.h) for SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
/// and SIGCONT: who (the header: the current task, the sender) stops or continues whom.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalEvent {
    pub header: Header,
    pub sig: u32,
    /// TRACE_SIGNAL_DELIVERED (0), IGNORED (1), ALREADY_PENDING (2), ...
    pub result: u32,
    /// The target's tgid and tid.
    pub target_pid: u32,
    pub target_tid: u32,
    /// 1 for a signal to the whole process (kill), 0 for one thread (tgkill, ptrace).
    pub group: u32,
    pub _pad: u32,
}

/// `struct pollfd` from include/uapi/asm-generic/poll.h.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollFd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

/// sched_process_fork: a new task (process or thread).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForkEvent {
    pub header: Header,
    pub child_pid: u32,
    pub child_tid: u32,
    /// 1 when the child shares the parent's fd table (CLONE_FILES, or a thread).
    pub shares_files: u32,
    /// 1 when the child is a thread of the parent's process (CLONE_THREAD).
    pub is_thread: u32,
}

/// Bytes of a new program's argument strings an exec record carries.
pub const ARGS_LEN: usize = 128;

/// sched_process_exec: the process now runs `filename`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecEvent {
    pub header: Header,
    /// The thread id before exec (a non-leader thread that execs takes over the tgid).
    pub old_tid: u32,
    pub _pad: u32,
    pub filename: Path,
    /// Bytes valid in `args`; `args_truncated` is 1 when there were more.
    pub args_len: u32,
    pub args_truncated: u32,
    /// The argument strings (argv), each NUL-terminated, as the new program's stack
    /// holds them (`mm->arg_start`..`arg_end`): tells `sh` (reads commands from stdin)
    /// from `sh -c CMD` and `sh script`.
    pub args: [u8; ARGS_LEN],
}

impl Default for ExecEvent {
    fn default() -> Self {
        Self {
            header: Header::default(),
            old_tid: 0,
            _pad: 0,
            filename: Path::default(),
            args_len: 0,
            args_truncated: 0,
            args: [0; ARGS_LEN],
        }
    }
}

/// sched_process_exit: a task ends; `group_dead` when it was the last of its process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitEvent {
    pub header: Header,
    /// `task->exit_code` (wait(2) status format).
    pub exit_code: u32,
    pub group_dead: u32,
}

/// Bytes of a dentry name the startup iterator copies (anonymous inodes are named
/// like `[eventfd]`; longer names are cut).
pub const DENTRY_NAME_LEN: usize = 48;

/// One open fd of one process, as the task_file iterator (probes/iter.rs) writes it
/// for the startup scan: everything /proc/PID/fd and fdinfo would say, but a path.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskFile {
    pub pid: u32,
    pub fd: i32,
    pub object: FdObject,
    /// 1 when the fd's bit is set in `fdt->close_on_exec`.
    pub cloexec: u32,
    /// A pseudo-terminal master: its slave's index (as in OpenPayload); else -1.
    pub tty_index: i32,
    /// The file's dentry name, NUL-terminated.
    pub name: [u8; DENTRY_NAME_LEN],
}

/// Size of the record for each kind; the collector checks it before reading.
pub const fn record_size(kind: Kind) -> usize {
    use core::mem::size_of;
    match kind.payload() {
        kind::PayloadShape::None => size_of::<SyscallEvent<NoPayload>>(),
        kind::PayloadShape::NewFd => size_of::<SyscallEvent<NewFd>>(),
        kind::PayloadShape::FdPair => size_of::<SyscallEvent<FdPair>>(),
        kind::PayloadShape::Addr => size_of::<SyscallEvent<AddrPayload>>(),
        kind::PayloadShape::Accept => size_of::<SyscallEvent<AcceptPayload>>(),
        kind::PayloadShape::Open => size_of::<SyscallEvent<OpenPayload>>(),
        kind::PayloadShape::Wait => size_of::<SyscallEvent<WaitPayload>>(),
        kind::PayloadShape::Fork => size_of::<ForkEvent>(),
        kind::PayloadShape::Exec => size_of::<ExecEvent>(),
        kind::PayloadShape::Exit => size_of::<ExitEvent>(),
        kind::PayloadShape::Received => size_of::<SyscallEvent<Received>>(),
        kind::PayloadShape::Sleep => size_of::<SyscallEvent<SleepPayload>>(),
        kind::PayloadShape::Restart => size_of::<SyscallEvent<RestartPayload>>(),
        kind::PayloadShape::Signal => size_of::<SignalEvent>(),
    }
}

// Layout checks: any change here is a wire change and must be made on purpose.
const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<Header>() == 48);
    assert!(size_of::<FdObject>() == 24);
    assert!(size_of::<SyscallEvent<NoPayload>>() == 104);
    assert!(size_of::<SyscallEvent<NewFd>>() == 128);
    assert!(size_of::<SyscallEvent<FdPair>>() == 160);
    assert!(size_of::<SyscallEvent<AddrPayload>>() == 240);
    assert!(size_of::<SyscallEvent<AcceptPayload>>() == 264);
    assert!(size_of::<SyscallEvent<OpenPayload>>() == 424);
    assert!(size_of::<SyscallEvent<WaitPayload>>() == 104 + 24 + 8 * POLL_ENTRIES + 8);
    assert!(size_of::<SyscallEvent<Received>>() == 104 + 8 + (4 + 24) * RECV_FDS);
    assert!(size_of::<SyscallEvent<SleepPayload>>() == 104 + 48);
    assert!(size_of::<SyscallEvent<RestartPayload>>() == 112);
    assert!(size_of::<SignalEvent>() == 72);
    assert!(size_of::<ForkEvent>() == 64);
    assert!(size_of::<ExecEvent>() == 48 + 8 + 8 + PATH_LEN + 8 + ARGS_LEN);
    assert!(size_of::<ExitEvent>() == 56);
    assert!(size_of::<TaskFile>() == 40 + DENTRY_NAME_LEN);
    assert!(align_of::<SyscallEvent<OpenPayload>>() == 8);
    assert!(size_of::<KernelOffsets>().is_multiple_of(8));
    assert!(size_of::<ProbeConfig>() == 32 + size_of::<KernelOffsets>());
};

#[cfg(feature = "user")]
mod pod {
    //! aya reads globals and map values only for types marked plain-old-data.
    // SAFETY: KernelOffsets is #[repr(C)] with only u32 fields (44 of them, the last an
    // explicit `_pad`, a multiple of 8 bytes: asserted above), so it has no padding and
    // every bit pattern is a valid value.
    unsafe impl aya::Pod for super::KernelOffsets {}
    // SAFETY: ProbeConfig is #[repr(C)]: four u32, two u64 and a KernelOffsets (above),
    // 32 + its size bytes (asserted above): no implicit padding, and every bit pattern
    // is a valid value.
    unsafe impl aya::Pod for super::ProbeConfig {}
    // SAFETY: ClockMark is #[repr(C)] with two u64 fields: no padding, and every bit
    // pattern is a valid value.
    unsafe impl aya::Pod for super::clock::ClockMark {}
}
