//! What each traced syscall's arguments are to the kernel, so the raw registers the
//! probes hand over are read the way the kernel reads them, once, here.
//!
//! The probes copy all six argument registers as they were (rdi, rsi, rdx, r10, r8, r9).
//! The kernel does not: the x86-64 syscall wrappers (`SYSCALL_DEFINEx`,
//! arch/x86/include/asm/syscall_wrapper.h with include/linux/syscalls.h's `__SC_CAST`)
//! cast each register to the type the syscall declares, so for an `unsigned int fd` only
//! the low 32 bits count. `syscall(SYS_close, 0x100000001)` closes fd 1 (stdout), while
//! the register says 4294967297; registers a syscall does not take hold whatever the
//! caller left there. Anything above decode that used the register as it was (an index,
//! a comparison of two fds) saw a value the kernel never used. So every argument is cut
//! to its declared type here, and arguments a syscall does not have are zeroed.
//!
//! The types are the kernel's prototypes in include/linux/syscalls.h (quoted per entry);
//! where a man page says `int fd` and the kernel says `unsigned int fd` (close, dup,
//! dup2, dup3, fcntl, ioctl), the bits are the same 32 and the output shows them as the
//! man page's `int` (-1 for 0xffffffff), as before.
use fdwatch_common::Kind;

/// How the kernel takes one argument register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Not an argument of this syscall: zeroed.
    None,
    /// `int`, `pid_t`: the low 32 bits, sign-extended (`args[i] as i32` is the value).
    Int,
    /// `unsigned int`, `u32`, and `int` flag sets (a set of bits, shown and tested as
    /// its 32-bit pattern): the low 32 bits, zero-extended.
    UInt,
    /// `umode_t` (an `unsigned short`, include/linux/types.h): the low 16 bits.
    Mode,
    /// `unsigned long`, `size_t`, pointers: the whole register.
    Long,
}

use Arg::{Int, Long, Mode, None as No, UInt};

/// The argument types of `kind`'s syscall, in order, from include/linux/syscalls.h.
/// fork, exec and exit come from scheduler tracepoints and carry no registers.
pub const fn args_of(kind: Kind) -> [Arg; 6] {
    match kind {
        // sys_dup(unsigned int fildes)
        Kind::Dup => [UInt, No, No, No, No, No],
        // sys_dup2(unsigned int oldfd, unsigned int newfd)
        Kind::Dup2 => [UInt, UInt, No, No, No, No],
        // sys_dup3(unsigned int oldfd, unsigned int newfd, int flags)
        Kind::Dup3 => [UInt, UInt, UInt, No, No, No],
        // sys_close(unsigned int fd)
        Kind::Close => [UInt, No, No, No, No, No],
        // sys_close_range(unsigned int fd, unsigned int max_fd, unsigned int flags)
        Kind::CloseRange => [UInt, UInt, UInt, No, No, No],
        // sys_fcntl(unsigned int fd, unsigned int cmd, unsigned long arg)
        Kind::Fcntl => [UInt, UInt, Long, No, No, No],
        // sys_ioctl(unsigned int fd, unsigned int cmd, unsigned long arg)
        Kind::Ioctl => [UInt, UInt, Long, No, No, No],
        // The same call, TIOCGPTPEER (its arg is open flags).
        Kind::IoctlPtyPeer => [UInt, UInt, Long, No, No, No],
        // sys_recvmsg(int fd, struct user_msghdr __user *msg, unsigned flags)
        Kind::Recvmsg => [Int, Long, UInt, No, No, No],
        // sys_recvmmsg(int fd, struct mmsghdr __user *msg, unsigned int vlen, unsigned flags,
        //              struct __kernel_timespec __user *timeout)
        Kind::Recvmmsg => [Int, Long, UInt, UInt, Long, No],
        // sys_nanosleep(struct __kernel_timespec __user *rqtp, struct __kernel_timespec __user *rmtp)
        Kind::Nanosleep => [Long, Long, No, No, No, No],
        // sys_clock_nanosleep(clockid_t which_clock, int flags,
        //                     const struct __kernel_timespec __user *rqtp, struct __kernel_timespec __user *rmtp)
        Kind::ClockNanosleep => [Int, UInt, Long, Long, No, No],
        // sys_epoll_wait(int epfd, struct epoll_event __user *events, int maxevents, int timeout)
        Kind::EpollWait => [Int, Long, Int, Int, No, No],
        // sys_epoll_pwait(int epfd, struct epoll_event __user *events, int maxevents, int timeout,
        //                 const sigset_t __user *sigmask, size_t sigsetsize)
        Kind::EpollPwait => [Int, Long, Int, Int, Long, Long],
        // sys_epoll_pwait2(int epfd, struct epoll_event __user *events, int maxevents,
        //                  const struct __kernel_timespec __user *timeout, const sigset_t __user *sigmask,
        //                  size_t sigsetsize)
        Kind::EpollPwait2 => [Int, Long, Int, Long, Long, Long],
        // sys_restart_syscall(void)
        Kind::RestartSyscall => [No, No, No, No, No, No],
        // sys_ptrace(long request, long pid, unsigned long addr, unsigned long data)
        Kind::Ptrace => [Long, Long, Long, Long, No, No],
        // sys_socket(int family, int type, int protocol); type carries SOCK_* flags
        Kind::Socket => [Int, UInt, Int, No, No, No],
        // sys_socketpair(int family, int type, int protocol, int __user *usockvec)
        Kind::Socketpair => [Int, UInt, Int, Long, No, No],
        // sys_pipe(int __user *fildes)
        Kind::Pipe => [Long, No, No, No, No, No],
        // sys_pipe2(int __user *fildes, int flags)
        Kind::Pipe2 => [Long, UInt, No, No, No, No],
        // sys_open(const char __user *filename, int flags, umode_t mode)
        Kind::Open => [Long, UInt, Mode, No, No, No],
        // sys_openat(int dfd, const char __user *filename, int flags, umode_t mode)
        Kind::Openat => [Int, Long, UInt, Mode, No, No],
        // sys_openat2(int dfd, const char __user *filename, struct open_how *how, size_t size)
        Kind::Openat2 => [Int, Long, Long, Long, No, No],
        // sys_creat(const char __user *pathname, umode_t mode)
        Kind::Creat => [Long, Mode, No, No, No, No],
        // sys_accept(int, struct sockaddr __user *, int __user *)
        Kind::Accept => [Int, Long, Long, No, No, No],
        // sys_accept4(int, struct sockaddr __user *, int __user *, int flags)
        Kind::Accept4 => [Int, Long, Long, UInt, No, No],
        // sys_connect(int, struct sockaddr __user *, int addrlen)
        Kind::Connect => [Int, Long, Int, No, No, No],
        // sys_sendto(int, void __user *, size_t, unsigned flags, struct sockaddr __user *, int addrlen)
        Kind::Sendto => [Int, Long, Long, UInt, Long, Int],
        // sys_sendmsg(int fd, struct user_msghdr __user *msg, unsigned flags)
        Kind::Sendmsg => [Int, Long, UInt, No, No, No],
        // sys_sendmmsg(int fd, struct mmsghdr __user *msg, unsigned int vlen, unsigned flags)
        Kind::Sendmmsg => [Int, Long, UInt, UInt, No, No],
        // sys_select(int n, fd_set __user *inp, *outp, *exp, struct __kernel_old_timeval __user *tvp)
        Kind::Select => [Int, Long, Long, Long, Long, No],
        // sys_pselect6(int, fd_set __user *, fd_set __user *, fd_set __user *,
        //              struct __kernel_timespec __user *, void __user *)
        Kind::Pselect6 => [Int, Long, Long, Long, Long, Long],
        // sys_poll(struct pollfd __user *ufds, unsigned int nfds, int timeout)
        Kind::Poll => [Long, UInt, Int, No, No, No],
        // sys_ppoll(struct pollfd __user *, unsigned int, struct __kernel_timespec __user *,
        //           const sigset_t __user *, size_t)
        Kind::Ppoll => [Long, UInt, Long, Long, Long, No],
        // sys_epoll_create(int size)
        Kind::EpollCreate => [Int, No, No, No, No, No],
        // sys_epoll_create1(int flags)
        Kind::EpollCreate1 => [UInt, No, No, No, No, No],
        // sys_eventfd(unsigned int count)
        Kind::Eventfd => [UInt, No, No, No, No, No],
        // sys_eventfd2(unsigned int count, int flags)
        Kind::Eventfd2 => [UInt, UInt, No, No, No, No],
        // sys_timerfd_create(int clockid, int flags)
        Kind::TimerfdCreate => [Int, UInt, No, No, No, No],
        // sys_signalfd(int ufd, sigset_t __user *user_mask, size_t sizemask)
        Kind::Signalfd => [Int, Long, Long, No, No, No],
        // sys_signalfd4(int ufd, sigset_t __user *user_mask, size_t sizemask, int flags)
        Kind::Signalfd4 => [Int, Long, Long, UInt, No, No],
        // sys_inotify_init(void)
        Kind::InotifyInit => [No, No, No, No, No, No],
        // sys_inotify_init1(int flags)
        Kind::InotifyInit1 => [UInt, No, No, No, No, No],
        // sys_memfd_create(const char __user *uname_ptr, unsigned int flags)
        Kind::MemfdCreate => [Long, UInt, No, No, No, No],
        // sys_pidfd_open(pid_t pid, unsigned int flags)
        Kind::PidfdOpen => [Int, UInt, No, No, No, No],
        // sys_pidfd_getfd(int pidfd, int fd, unsigned int flags)
        Kind::PidfdGetfd => [Int, Int, UInt, No, No, No],
        // sys_fanotify_init(unsigned int flags, unsigned int event_f_flags)
        Kind::FanotifyInit => [UInt, UInt, No, No, No, No],
        // sys_userfaultfd(int flags)
        Kind::Userfaultfd => [UInt, No, No, No, No, No],
        // sys_perf_event_open(struct perf_event_attr __user *attr_uptr, pid_t pid, int cpu,
        //                     int group_fd, unsigned long flags)
        Kind::PerfEventOpen => [Long, Int, Int, Int, Long, No],
        // sys_io_uring_setup(u32 entries, struct io_uring_params __user *p)
        Kind::IoUringSetup => [UInt, Long, No, No, No, No],
        // sys_open_by_handle_at(int mountdirfd, struct file_handle __user *handle, int flags)
        Kind::OpenByHandleAt => [Int, Long, UInt, No, No, No],
        // Scheduler and signal tracepoints: no registers.
        Kind::Fork | Kind::Exec | Kind::Exit | Kind::Signal => [No, No, No, No, No, No],
    }
}

/// One register as the kernel takes an argument of type `arg`.
pub const fn normalise(arg: Arg, raw: u64) -> u64 {
    match arg {
        Arg::None => 0,
        Arg::Int => raw as i32 as i64 as u64,
        Arg::UInt => raw as u32 as u64,
        Arg::Mode => raw as u16 as u64,
        Arg::Long => raw,
    }
}

/// All six registers of a `kind` record as the kernel took them.
pub fn normalise_args(kind: Kind, raw: [u64; 6]) -> [u64; 6] {
    let types = args_of(kind);
    std::array::from_fn(|i| normalise(types[i], raw[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_arguments_keep_the_32_bits_the_kernel_uses() {
        // close(0x100000001) closes fd 1: __SC_CAST to unsigned int.
        assert_eq!(normalise_args(Kind::Close, [0x1_0000_0001, 7, 7, 7, 7, 7]), [1, 0, 0, 0, 0, 0]);
        // glibc passes close(-1) sign-extended; the kernel sees 0xffffffff, shown as -1.
        let [fd, ..] = normalise_args(Kind::Close, [u64::MAX; 6]);
        assert_eq!((fd, fd as i32), (0xffff_ffff, -1));
        // An `int` fd is sign-extended, so `as i32` and `as i64` agree.
        let [sockfd, _, addrlen, ..] =
            normalise_args(Kind::Connect, [0xdead_0000_0003, u64::MAX, 0x1_0000_0010, 1, 1, 1]);
        assert_eq!((sockfd, addrlen), (3, 16));
        assert_eq!(normalise_args(Kind::Connect, [0xffff_fff6, 0, 0, 0, 0, 0])[0] as i64, -10);
        // openat's dirfd AT_FDCWD (-100) survives a register with garbage above it.
        assert_eq!(normalise_args(Kind::Openat, [0x5555_ffff_ff9c, 0, 0, 0, 0, 0])[0] as i64, -100);
    }

    #[test]
    fn wide_arguments_are_left_whole_and_absent_ones_zeroed() {
        let raw = [u64::MAX; 6];
        let [fd, buf, len, flags, addr, addrlen] = normalise_args(Kind::Sendto, raw);
        assert_eq!(
            (fd as i64, buf, len, flags, addr, addrlen as i64),
            (-1, u64::MAX, u64::MAX, 0xffff_ffff, u64::MAX, -1)
        );
        // umode_t is 16 bits.
        assert_eq!(normalise_args(Kind::Open, raw)[2], 0xffff);
        assert_eq!(normalise_args(Kind::InotifyInit, raw), [0; 6]);
        assert_eq!(normalise_args(Kind::Exit, raw), [0; 6]);
    }

    #[test]
    fn arguments_are_a_prefix_of_the_registers() {
        let taken = |k: Kind| args_of(k).iter().filter(|a| **a != Arg::None).count();
        for (kind, n) in [(Kind::Dup2, 2), (Kind::Sendto, 6), (Kind::PerfEventOpen, 5), (Kind::InotifyInit, 0)] {
            assert_eq!(taken(kind), n, "{kind:?}");
        }
        for kind in Kind::ALL {
            let types = args_of(kind);
            // Arguments are a prefix: no syscall skips a register.
            let first_none = types.iter().position(|a| *a == Arg::None).unwrap_or(6);
            assert!(types[first_none..].iter().all(|a| *a == Arg::None), "{kind:?}: {types:?}");
        }
    }
}
