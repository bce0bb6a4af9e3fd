//! Record kinds. Ids are explicit and never reused: a retired kind keeps its number.

/// What a record is. The probe that emits it is named after the syscall
/// (`fdwatch-ebpf/src/probes/*.rs`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Dup = 1,
    Dup2 = 2,
    Dup3 = 3,
    Close = 4,
    CloseRange = 5,
    Fcntl = 6,
    Socket = 7,
    Socketpair = 8,
    Pipe = 9,
    Pipe2 = 10,
    Open = 11,
    Openat = 12,
    Openat2 = 13,
    Accept = 14,
    Accept4 = 15,
    Connect = 16,
    Sendto = 17,
    Sendmsg = 18,
    Sendmmsg = 19,
    Select = 20,
    Pselect6 = 21,
    Poll = 22,
    Ppoll = 23,
    Fork = 24,
    Exec = 25,
    Exit = 26,
    Creat = 27,
    EpollCreate = 28,
    EpollCreate1 = 29,
    Eventfd = 30,
    Eventfd2 = 31,
    TimerfdCreate = 32,
    Signalfd = 33,
    Signalfd4 = 34,
    InotifyInit = 35,
    InotifyInit1 = 36,
    MemfdCreate = 37,
    PidfdOpen = 38,
    PidfdGetfd = 39,
    FanotifyInit = 40,
    Userfaultfd = 41,
    PerfEventOpen = 42,
    IoUringSetup = 43,
    OpenByHandleAt = 44,
    Ioctl = 45,
    Recvmsg = 46,
    Recvmmsg = 47,
    Nanosleep = 48,
    ClockNanosleep = 49,
    EpollWait = 50,
    EpollPwait = 51,
    EpollPwait2 = 52,
    RestartSyscall = 53,
    Ptrace = 54,
    /// The `signal_generate` tracepoint for a stop or continue signal (not a syscall).
    Signal = 55,
    /// ioctl(2) TIOCGPTPEER: a new fd on a pseudo-terminal's slave (openpty(3)).
    IoctlPtyPeer = 56,
}

/// Which typed record follows the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadShape {
    None,
    NewFd,
    FdPair,
    Addr,
    Accept,
    Open,
    Wait,
    Fork,
    Exec,
    Exit,
    /// recvmsg/recvmmsg that installed fds passed with SCM_RIGHTS.
    Received,
    /// nanosleep, clock_nanosleep, epoll_wait/pwait/pwait2 cut short.
    Sleep,
    /// restart_syscall.
    Restart,
    /// A stop or continue signal generated for a task.
    Signal,
}

impl Kind {
    pub const ALL: [Kind; 56] = [
        Kind::Dup,
        Kind::Dup2,
        Kind::Dup3,
        Kind::Close,
        Kind::CloseRange,
        Kind::Fcntl,
        Kind::Socket,
        Kind::Socketpair,
        Kind::Pipe,
        Kind::Pipe2,
        Kind::Open,
        Kind::Openat,
        Kind::Openat2,
        Kind::Accept,
        Kind::Accept4,
        Kind::Connect,
        Kind::Sendto,
        Kind::Sendmsg,
        Kind::Sendmmsg,
        Kind::Select,
        Kind::Pselect6,
        Kind::Poll,
        Kind::Ppoll,
        Kind::Fork,
        Kind::Exec,
        Kind::Exit,
        Kind::Creat,
        Kind::EpollCreate,
        Kind::EpollCreate1,
        Kind::Eventfd,
        Kind::Eventfd2,
        Kind::TimerfdCreate,
        Kind::Signalfd,
        Kind::Signalfd4,
        Kind::InotifyInit,
        Kind::InotifyInit1,
        Kind::MemfdCreate,
        Kind::PidfdOpen,
        Kind::PidfdGetfd,
        Kind::FanotifyInit,
        Kind::Userfaultfd,
        Kind::PerfEventOpen,
        Kind::IoUringSetup,
        Kind::OpenByHandleAt,
        Kind::Ioctl,
        Kind::Recvmsg,
        Kind::Recvmmsg,
        Kind::Nanosleep,
        Kind::ClockNanosleep,
        Kind::EpollWait,
        Kind::EpollPwait,
        Kind::EpollPwait2,
        Kind::RestartSyscall,
        Kind::Ptrace,
        Kind::Signal,
        Kind::IoctlPtyPeer,
    ];

    pub const fn from_u32(id: u32) -> Option<Kind> {
        if id == 0 || id as usize > Self::ALL.len() {
            return None;
        }
        let kind = Self::ALL[id as usize - 1];
        if kind as u32 == id { Some(kind) } else { None }
    }

    /// The blocking waits a signal or a stop can cut short (signal(7): poll, select and
    /// the sleeps come back through a restart; the epoll waits return EINTR): what
    /// interrupted_wait watches, and what agent mode keeps when they fail.
    pub const fn is_blocking_wait(self) -> bool {
        matches!(
            self,
            Kind::Poll
                | Kind::Ppoll
                | Kind::Select
                | Kind::Pselect6
                | Kind::Nanosleep
                | Kind::ClockNanosleep
                | Kind::EpollWait
                | Kind::EpollPwait
                | Kind::EpollPwait2
        )
    }

    /// Calls that create an fd of a kind the detectors do not look into (anonymous
    /// inodes, memfd, ...): traced so the fd model knows every fd number in use.
    pub const fn is_other_fd_creator(self) -> bool {
        (self as u32) >= Kind::EpollCreate as u32 && (self as u32) <= Kind::OpenByHandleAt as u32
    }

    /// The syscall's name as in its man page (the `"syscall"` field of the output).
    /// Fork, exec and exit come from the scheduler's tracepoints, which cover every
    /// variant (fork, vfork, clone, clone3; execve, execveat; exit, exit_group, signals).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Dup => "dup",
            Kind::Dup2 => "dup2",
            Kind::Dup3 => "dup3",
            Kind::Close => "close",
            Kind::CloseRange => "close_range",
            Kind::Fcntl => "fcntl",
            Kind::Socket => "socket",
            Kind::Socketpair => "socketpair",
            Kind::Pipe => "pipe",
            Kind::Pipe2 => "pipe2",
            Kind::Open => "open",
            Kind::Openat => "openat",
            Kind::Openat2 => "openat2",
            Kind::Accept => "accept",
            Kind::Accept4 => "accept4",
            Kind::Connect => "connect",
            Kind::Sendto => "sendto",
            Kind::Sendmsg => "sendmsg",
            Kind::Sendmmsg => "sendmmsg",
            Kind::Select => "select",
            Kind::Pselect6 => "pselect6",
            Kind::Poll => "poll",
            Kind::Ppoll => "ppoll",
            Kind::Fork => "fork",
            Kind::Exec => "exec",
            Kind::Exit => "exit",
            Kind::Creat => "creat",
            Kind::EpollCreate => "epoll_create",
            Kind::EpollCreate1 => "epoll_create1",
            Kind::Eventfd => "eventfd",
            Kind::Eventfd2 => "eventfd2",
            Kind::TimerfdCreate => "timerfd_create",
            Kind::Signalfd => "signalfd",
            Kind::Signalfd4 => "signalfd4",
            Kind::InotifyInit => "inotify_init",
            Kind::InotifyInit1 => "inotify_init1",
            Kind::MemfdCreate => "memfd_create",
            Kind::PidfdOpen => "pidfd_open",
            Kind::PidfdGetfd => "pidfd_getfd",
            Kind::FanotifyInit => "fanotify_init",
            Kind::Userfaultfd => "userfaultfd",
            Kind::PerfEventOpen => "perf_event_open",
            Kind::IoUringSetup => "io_uring_setup",
            Kind::OpenByHandleAt => "open_by_handle_at",
            Kind::Ioctl => "ioctl",
            Kind::Recvmsg => "recvmsg",
            Kind::Recvmmsg => "recvmmsg",
            Kind::Nanosleep => "nanosleep",
            Kind::ClockNanosleep => "clock_nanosleep",
            Kind::EpollWait => "epoll_wait",
            Kind::EpollPwait => "epoll_pwait",
            Kind::EpollPwait2 => "epoll_pwait2",
            Kind::RestartSyscall => "restart_syscall",
            Kind::Ptrace => "ptrace",
            Kind::Signal => "signal",
            Kind::IoctlPtyPeer => "ioctl",
        }
    }

    pub const fn payload(self) -> PayloadShape {
        match self {
            Kind::Dup
            | Kind::Dup2
            | Kind::Dup3
            | Kind::Close
            | Kind::CloseRange
            | Kind::Fcntl
            | Kind::Ioctl
            | Kind::Ptrace => PayloadShape::None,
            Kind::Socket | Kind::IoctlPtyPeer => PayloadShape::NewFd,
            Kind::Recvmsg | Kind::Recvmmsg => PayloadShape::Received,
            Kind::Nanosleep | Kind::ClockNanosleep | Kind::EpollWait | Kind::EpollPwait | Kind::EpollPwait2 => {
                PayloadShape::Sleep
            }
            Kind::RestartSyscall => PayloadShape::Restart,
            Kind::Signal => PayloadShape::Signal,
            Kind::Socketpair | Kind::Pipe | Kind::Pipe2 => PayloadShape::FdPair,
            Kind::Open | Kind::Openat | Kind::Openat2 => PayloadShape::Open,
            Kind::Accept | Kind::Accept4 => PayloadShape::Accept,
            Kind::Connect | Kind::Sendto | Kind::Sendmsg | Kind::Sendmmsg => PayloadShape::Addr,
            Kind::Select | Kind::Pselect6 | Kind::Poll | Kind::Ppoll => PayloadShape::Wait,
            Kind::Fork => PayloadShape::Fork,
            Kind::Exec => PayloadShape::Exec,
            Kind::Exit => PayloadShape::Exit,
            Kind::Creat => PayloadShape::Open,
            Kind::EpollCreate
            | Kind::EpollCreate1
            | Kind::Eventfd
            | Kind::Eventfd2
            | Kind::TimerfdCreate
            | Kind::Signalfd
            | Kind::Signalfd4
            | Kind::InotifyInit
            | Kind::InotifyInit1
            | Kind::MemfdCreate
            | Kind::PidfdOpen
            | Kind::PidfdGetfd
            | Kind::FanotifyInit
            | Kind::Userfaultfd
            | Kind::PerfEventOpen
            | Kind::IoUringSetup
            | Kind::OpenByHandleAt => PayloadShape::NewFd,
        }
    }
}

const _: () = assert!((Kind::ALL.len() as u32) < super::MAX_KIND);
