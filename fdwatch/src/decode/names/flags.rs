//! Raw syscall flag/enum arguments -> the names from the man pages.
//!
//! Each function takes the argument as it sat in the syscall register (a
//! `u64`) and returns strace-style text: set bits joined with '|', a bare
//! "0" when nothing is set, and any bits we have no name for appended as
//! one hex number ("O_RDWR|0x80000000") so no information is dropped.
//!
//! Values come from the `libc` crate where it has them, so they follow the
//! target architecture the same way the kernel's uapi headers do (several
//! O_* / SOCK_* values differ between x86_64, arm64, mips, ...). Where
//! `libc` lacks a constant (or has a userspace value that is not the
//! kernel's, see [`O_LARGEFILE`]) the literal is written here with the
//! header it comes from.
//!
//! Arguments the kernel declares as `int` / `unsigned int` are truncated to
//! 32 bits first: the kernel ignores the upper half of the register for
//! them, so whatever happens to be there is noise, not flags.

/// `(value, name)` pair for a libc constant, so the name cannot drift from
/// the constant it labels.
macro_rules! lc {
    ($name:ident) => {
        (libc::$name as u64, stringify!($name))
    };
}

/// Names the set bits of `value` using `table`, in table order, joined with
/// '|'. Bits no entry claims are appended as one "0x..." number; 0 gives
/// "0".
///
/// An entry may cover several bits (O_SYNC is `__O_SYNC|O_DSYNC`, O_TMPFILE
/// is `__O_TMPFILE|O_DIRECTORY`); it only matches when all of them are set.
/// Wider entries claim their bits first, so O_SYNC is printed as "O_SYNC"
/// rather than "O_DSYNC|0x100000", while the output still follows the
/// table's (man page) order. Entries with value 0 never match.
pub fn join_bits(value: u64, table: &[(u64, &str)]) -> String {
    if value == 0 {
        return "0".to_string();
    }
    let mut order: Vec<usize> = (0..table.len()).collect();
    // Stable sort: among entries of equal width the table order decides.
    order.sort_by_key(|&i| std::cmp::Reverse(table[i].0.count_ones()));
    let mut matched = vec![false; table.len()];
    let mut left = value;
    for i in order {
        let bits = table[i].0;
        if bits != 0 && left & bits == bits {
            matched[i] = true;
            left &= !bits;
        }
    }
    let mut parts: Vec<String> =
        table.iter().zip(&matched).filter(|(_, m)| **m).map(|((_, name), _)| (*name).to_string()).collect();
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    parts.join("|")
}

/// Looks `value` up in a table of exact values (an enum, not bit flags);
/// unknown values print as the decimal number.
fn lookup(value: i64, table: &[(i64, &str)]) -> String {
    table.iter().find(|(v, _)| *v == value).map_or_else(|| value.to_string(), |(_, name)| (*name).to_string())
}

/// For `int` / `unsigned int` arguments: the kernel only looks at the low
/// 32 bits of the register.
fn low32(value: u64) -> u64 {
    value & 0xffff_ffff
}

// ---------------------------------------------------------------- open(2)

/// O_LARGEFILE as the kernel defines it. glibc's `<fcntl.h>` (and hence
/// `libc::O_LARGEFILE` on 64-bit gnu targets) defines it as 0 because 64-bit
/// programs never need it, but the kernel bit exists: 32-bit programs pass
/// it, and the kernel sets it itself on 64-bit (force_o_largefile()).
/// include/uapi/asm-generic/fcntl.h: 00100000; arm64 overrides it in
/// arch/arm64/include/uapi/asm/fcntl.h: 0400000.
#[cfg(target_arch = "aarch64")]
const O_LARGEFILE: u64 = 0o400000;
#[cfg(not(target_arch = "aarch64"))]
const O_LARGEFILE: u64 = 0o100000;

/// open(2) flags after the access mode, in the order the man page lists
/// them. O_SYNC and O_TMPFILE are multi-bit values (see [`join_bits`]).
const OPEN_FLAGS: &[(u64, &str)] = &[
    lc!(O_CREAT),
    lc!(O_EXCL),
    lc!(O_NOCTTY),
    lc!(O_TRUNC),
    lc!(O_APPEND),
    lc!(O_NONBLOCK),
    lc!(O_DSYNC),
    lc!(O_ASYNC),
    lc!(O_DIRECT),
    (O_LARGEFILE, "O_LARGEFILE"),
    lc!(O_DIRECTORY),
    lc!(O_NOFOLLOW),
    lc!(O_NOATIME),
    lc!(O_CLOEXEC),
    lc!(O_SYNC),
    lc!(O_PATH),
    lc!(O_TMPFILE),
];

/// open/openat flags and openat2's `how.flags`: the access mode first, then
/// the other flags, e.g. "O_RDWR|O_CLOEXEC".
///
/// Not truncated to 32 bits: openat2 takes a 64-bit flags field and fails
/// with EINVAL on unknown upper bits, so those are worth showing. For
/// open/openat (an `int`) the caller may pass the value masked to 32 bits.
pub fn open_flags(value: u64) -> String {
    // The access mode is a 2-bit number, not flags: O_RDONLY is 0.
    let accmode = value & libc::O_ACCMODE as u64;
    let mode = match accmode {
        m if m == libc::O_RDONLY as u64 => "O_RDONLY",
        m if m == libc::O_WRONLY as u64 => "O_WRONLY",
        m if m == libc::O_RDWR as u64 => "O_RDWR",
        // 3: Linux accepts it (needs read and write permission but allows
        // neither, see open(2) "File access mode"); strace calls it this.
        _ => "O_ACCMODE",
    };
    let rest = value & !(libc::O_ACCMODE as u64);
    if rest == 0 { mode.to_string() } else { format!("{mode}|{}", join_bits(rest, OPEN_FLAGS)) }
}

// -------------------------------------------------------------- socket(2)

/// Address families from include/linux/socket.h (the same on every
/// architecture). Spelled out because `libc` lacks several of them.
const DOMAINS: &[(i64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (6, "AF_NETROM"),
    (7, "AF_BRIDGE"),
    (8, "AF_ATMPVC"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (11, "AF_ROSE"),
    (12, "AF_DECnet"),
    (13, "AF_NETBEUI"),
    (14, "AF_SECURITY"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (18, "AF_ASH"),
    (19, "AF_ECONET"),
    (20, "AF_ATMSVC"),
    (21, "AF_RDS"),
    (22, "AF_SNA"),
    (23, "AF_IRDA"),
    (24, "AF_PPPOX"),
    (25, "AF_WANPIPE"),
    (26, "AF_LLC"),
    (27, "AF_IB"),
    (28, "AF_MPLS"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (32, "AF_IUCV"),
    (33, "AF_RXRPC"),
    (34, "AF_ISDN"),
    (35, "AF_PHONET"),
    (36, "AF_IEEE802154"),
    (37, "AF_CAIF"),
    (38, "AF_ALG"),
    (39, "AF_NFC"),
    (40, "AF_VSOCK"),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    (44, "AF_XDP"),
    (45, "AF_MCTP"),
];

/// socket(2) `domain`: "AF_INET", ...; unknown families as the number.
pub fn socket_domain(value: u64) -> String {
    lookup(i64::from(low32(value) as i32), DOMAINS)
}

/// The low bits of socket(2)'s `type` that select the type; the rest are
/// SOCK_NONBLOCK / SOCK_CLOEXEC. SOCK_TYPE_MASK in include/linux/net.h.
const SOCK_TYPE_MASK: u64 = 0xf;

/// Socket types. SOCK_RDM and SOCK_PACKET are missing from `libc` for
/// glibc targets; values from include/linux/net.h (enum sock_type).
const SOCK_TYPES: &[(i64, &str)] = &[
    (libc::SOCK_STREAM as i64, "SOCK_STREAM"),
    (libc::SOCK_DGRAM as i64, "SOCK_DGRAM"),
    (libc::SOCK_RAW as i64, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (libc::SOCK_SEQPACKET as i64, "SOCK_SEQPACKET"),
    (libc::SOCK_DCCP as i64, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

/// SOCK_* flags accepted by socket(2), socketpair(2) and accept4(2).
const SOCK_FLAGS: &[(u64, &str)] = &[lc!(SOCK_NONBLOCK), lc!(SOCK_CLOEXEC)];

/// socket(2) / socketpair(2) `type`: base type, then flags, e.g.
/// "SOCK_STREAM|SOCK_CLOEXEC". An unknown base type prints as its number.
pub fn socket_type(value: u64) -> String {
    let value = low32(value);
    let base = lookup((value & SOCK_TYPE_MASK) as i64, SOCK_TYPES);
    let flags = value & !SOCK_TYPE_MASK;
    if flags == 0 { base } else { format!("{base}|{}", join_bits(flags, SOCK_FLAGS)) }
}

/// accept4(2) `flags`: "SOCK_NONBLOCK|SOCK_CLOEXEC", or "0".
pub fn sock_flags(value: u64) -> String {
    join_bits(low32(value), SOCK_FLAGS)
}

/// IP protocol numbers (include/uapi/linux/in.h, IANA numbers). Spelled
/// out because `libc` lacks some on some targets; they are the same
/// everywhere.
const IP_PROTOCOLS: &[(i64, &str)] = &[
    (0, "IPPROTO_IP"),
    (1, "IPPROTO_ICMP"),
    (2, "IPPROTO_IGMP"),
    (6, "IPPROTO_TCP"),
    (17, "IPPROTO_UDP"),
    (58, "IPPROTO_ICMPV6"),
    (132, "IPPROTO_SCTP"),
    (136, "IPPROTO_UDPLITE"),
    (255, "IPPROTO_RAW"),
    (262, "IPPROTO_MPTCP"),
];

/// socket(2) `protocol`, which only has names relative to its domain: for
/// AF_INET / AF_INET6 the IPPROTO_* name ("IPPROTO_IP" for 0, as strace
/// prints it), for every other domain (and unknown protocols) the number.
pub fn socket_protocol(domain: u64, protocol: u64) -> String {
    let domain = low32(domain) as i32;
    let protocol = i64::from(low32(protocol) as i32);
    if domain == libc::AF_INET || domain == libc::AF_INET6 {
        lookup(protocol, IP_PROTOCOLS)
    } else {
        protocol.to_string()
    }
}

// ------------------------------------------------------ send(2) / recv(2)

/// MSG_* flags in bit order, from include/linux/socket.h. MSG_PROXY (0x10)
/// is not in `libc`. Kernel-internal bits (MSG_SENDPAGE_NOTLAST, MSG_BATCH,
/// MSG_SPLICE_PAGES, MSG_CMSG_COMPAT, ...) are left to the hex leftover.
const MSG_FLAGS: &[(u64, &str)] = &[
    lc!(MSG_OOB),
    lc!(MSG_PEEK),
    lc!(MSG_DONTROUTE),
    lc!(MSG_CTRUNC),
    (0x10, "MSG_PROXY"),
    lc!(MSG_TRUNC),
    lc!(MSG_DONTWAIT),
    lc!(MSG_EOR),
    lc!(MSG_WAITALL),
    lc!(MSG_FIN),
    lc!(MSG_SYN),
    lc!(MSG_CONFIRM),
    lc!(MSG_RST),
    lc!(MSG_ERRQUEUE),
    lc!(MSG_NOSIGNAL),
    lc!(MSG_MORE),
    lc!(MSG_WAITFORONE),
    // send(2) with SO_ZEROCOPY; Documentation/networking/msg_zerocopy.rst.
    (0x4000000, "MSG_ZEROCOPY"),
    lc!(MSG_FASTOPEN),
    lc!(MSG_CMSG_CLOEXEC),
];

/// send/recv/sendto/recvfrom/sendmsg/recvmsg/sendmmsg/recvmmsg `flags`.
pub fn msg_flags(value: u64) -> String {
    join_bits(low32(value), MSG_FLAGS)
}

// --------------------------------------------- dup3(2), pipe2(2), close_range(2)

/// dup3(2) `flags`: only O_CLOEXEC is valid; anything else is EINVAL and
/// shows up as hex.
pub fn dup3_flags(value: u64) -> String {
    join_bits(low32(value), &[lc!(O_CLOEXEC)])
}

/// pipe2(2) flags, in the man page's order. O_NOTIFICATION_PIPE is O_EXCL
/// reused: include/uapi/linux/watch_queue.h
/// `#define O_NOTIFICATION_PIPE O_EXCL /* Parameter to pipe2() selecting
/// notification pipe */`.
const PIPE2_FLAGS: &[(u64, &str)] =
    &[lc!(O_CLOEXEC), lc!(O_DIRECT), lc!(O_NONBLOCK), (libc::O_EXCL as u64, "O_NOTIFICATION_PIPE")];

/// pipe2(2) `flags`, e.g. "O_CLOEXEC|O_NONBLOCK", or "0".
pub fn pipe2_flags(value: u64) -> String {
    join_bits(low32(value), PIPE2_FLAGS)
}

/// close_range(2) `flags`: include/uapi/linux/close_range.h
/// (CLOSE_RANGE_UNSHARE = 1 << 1, CLOSE_RANGE_CLOEXEC = 1 << 2).
const CLOSE_RANGE_FLAGS: &[(u64, &str)] = &[lc!(CLOSE_RANGE_UNSHARE), lc!(CLOSE_RANGE_CLOEXEC)];

/// close_range(2) `flags`, or "0".
pub fn close_range_flags(value: u64) -> String {
    join_bits(low32(value), CLOSE_RANGE_FLAGS)
}

// -------------------------------------------------------------- fcntl(2)

/// fcntl commands. The first block is include/uapi/asm-generic/fcntl.h, the
/// 1024+ block (F_LINUX_SPECIFIC_BASE + n) include/uapi/linux/fcntl.h.
/// Literals are the ones `libc` lacks for glibc targets.
const FCNTL_CMDS: &[(i64, &str)] = &[
    (libc::F_DUPFD as i64, "F_DUPFD"),
    (libc::F_GETFD as i64, "F_GETFD"),
    (libc::F_SETFD as i64, "F_SETFD"),
    (libc::F_GETFL as i64, "F_GETFL"),
    (libc::F_SETFL as i64, "F_SETFL"),
    (libc::F_GETLK as i64, "F_GETLK"),
    (libc::F_SETLK as i64, "F_SETLK"),
    (libc::F_SETLKW as i64, "F_SETLKW"),
    (libc::F_SETOWN as i64, "F_SETOWN"),
    (libc::F_GETOWN as i64, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    // Only meaningful from 32-bit programs (asm-generic/fcntl.h defines
    // them for !CONFIG_64BIT); on a 64-bit kernel they arrive through the
    // compat fcntl64 entry point.
    (12, "F_GETLK64"),
    (13, "F_SETLK64"),
    (14, "F_SETLKW64"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (17, "F_GETOWNER_UIDS"),
    (libc::F_OFD_GETLK as i64, "F_OFD_GETLK"),
    (libc::F_OFD_SETLK as i64, "F_OFD_SETLK"),
    (libc::F_OFD_SETLKW as i64, "F_OFD_SETLKW"),
    (libc::F_SETLEASE as i64, "F_SETLEASE"),
    (libc::F_GETLEASE as i64, "F_GETLEASE"),
    (libc::F_NOTIFY as i64, "F_NOTIFY"),
    (1027, "F_DUPFD_QUERY"),
    (1028, "F_CREATED_QUERY"),
    (1029, "F_CANCELLK"),
    (libc::F_DUPFD_CLOEXEC as i64, "F_DUPFD_CLOEXEC"),
    (libc::F_SETPIPE_SZ as i64, "F_SETPIPE_SZ"),
    (libc::F_GETPIPE_SZ as i64, "F_GETPIPE_SZ"),
    (libc::F_ADD_SEALS as i64, "F_ADD_SEALS"),
    (libc::F_GET_SEALS as i64, "F_GET_SEALS"),
    (1035, "F_GET_RW_HINT"),
    (1036, "F_SET_RW_HINT"),
    (1037, "F_GET_FILE_RW_HINT"),
    (1038, "F_SET_FILE_RW_HINT"),
];

/// fcntl(2) `cmd`: "F_DUPFD_CLOEXEC", ...; unknown commands as the number.
pub fn fcntl_cmd(value: u64) -> String {
    lookup(i64::from(low32(value) as i32), FCNTL_CMDS)
}

/// The argument of fcntl(F_SETFD) / result of F_GETFD: "FD_CLOEXEC" or "0".
pub fn fd_flags(value: u64) -> String {
    join_bits(low32(value), &[lc!(FD_CLOEXEC)])
}

// ------------------------------------------------------------- *at(2)

/// openat2(2) `how.resolve` bits: include/uapi/linux/openat2.h.
const RESOLVE_FLAGS: &[(u64, &str)] = &[
    lc!(RESOLVE_NO_XDEV),
    lc!(RESOLVE_NO_MAGICLINKS),
    lc!(RESOLVE_NO_SYMLINKS),
    lc!(RESOLVE_BENEATH),
    lc!(RESOLVE_IN_ROOT),
    lc!(RESOLVE_CACHED),
];

/// openat2(2) `how.resolve`, e.g. "RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS"
/// (table order), or "0". A full 64-bit field, so not truncated.
pub fn resolve_flags(value: u64) -> String {
    join_bits(value, RESOLVE_FLAGS)
}

// ------------------------------------------------------ poll(2), ppoll(2)

/// poll events, include/uapi/asm-generic/poll.h (x86 uses the generic
/// file). POLLMSG is not in `libc` for Linux.
const POLL_EVENTS: &[(u64, &str)] = &[
    (libc::POLLIN as u16 as u64, "POLLIN"),
    (libc::POLLPRI as u16 as u64, "POLLPRI"),
    (libc::POLLOUT as u16 as u64, "POLLOUT"),
    (libc::POLLERR as u16 as u64, "POLLERR"),
    (libc::POLLHUP as u16 as u64, "POLLHUP"),
    (libc::POLLNVAL as u16 as u64, "POLLNVAL"),
    (libc::POLLRDNORM as u16 as u64, "POLLRDNORM"),
    (libc::POLLRDBAND as u16 as u64, "POLLRDBAND"),
    (libc::POLLWRNORM as u16 as u64, "POLLWRNORM"),
    (libc::POLLWRBAND as u16 as u64, "POLLWRBAND"),
    (0x400, "POLLMSG"),
    (libc::POLLRDHUP as u16 as u64, "POLLRDHUP"),
];

/// `struct pollfd` `events` / `revents` (a `short`), e.g. "POLLIN|POLLHUP",
/// or "0".
pub fn poll_events(value: i16) -> String {
    // Through u16 so a set top bit does not sign-extend into 48 bogus bits.
    join_bits(u64::from(value as u16), POLL_EVENTS)
}

// ------------------------------------------- ptrace(2), clocks, signals, seccomp

/// ptrace(2) requests fdwatch reports (include/uapi/linux/ptrace.h): those that stop or
/// resume a tracee.
const PTRACE_REQUESTS: &[(i64, &str)] = &[
    (7, "PTRACE_CONT"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
];

/// ptrace(2) `request`, e.g. "PTRACE_ATTACH"; others as the number.
pub fn ptrace_request(value: u64) -> String {
    lookup(value as i64, PTRACE_REQUESTS)
}

/// Clock ids (include/uapi/linux/time.h).
const CLOCKS: &[(i64, &str)] = &[
    (0, "CLOCK_REALTIME"),
    (1, "CLOCK_MONOTONIC"),
    (2, "CLOCK_PROCESS_CPUTIME_ID"),
    (3, "CLOCK_THREAD_CPUTIME_ID"),
    (4, "CLOCK_MONOTONIC_RAW"),
    (5, "CLOCK_REALTIME_COARSE"),
    (6, "CLOCK_MONOTONIC_COARSE"),
    (7, "CLOCK_BOOTTIME"),
    (8, "CLOCK_REALTIME_ALARM"),
    (9, "CLOCK_BOOTTIME_ALARM"),
    (11, "CLOCK_TAI"),
];

/// clock_nanosleep(2) `clockid`, e.g. "CLOCK_MONOTONIC"; others as the number.
pub fn clock_id(value: u64) -> String {
    lookup(i64::from(low32(value) as i32), CLOCKS)
}

/// clock_nanosleep(2) `flags`: TIMER_ABSTIME (1) or "0".
pub fn clock_flags(value: u64) -> String {
    join_bits(low32(value), &[(1, "TIMER_ABSTIME")])
}

/// A signal's name ("SIGSTOP"), or SIG<n>.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal).map_or_else(|_| format!("SIG{signal}"), |s| s.as_str().to_owned())
}

/// signal_generate's `result` (enum trace_signal_result, include/trace/events/signal.h).
pub fn signal_result(value: u32) -> String {
    match value {
        0 => "delivered".into(),
        1 => "ignored".into(),
        2 => "already_pending".into(),
        3 => "overflow_fail".into(),
        4 => "lose_info".into(),
        n => n.to_string(),
    }
}

/// task->seccomp.mode (include/uapi/linux/seccomp.h SECCOMP_MODE_*).
pub fn seccomp_mode(value: u32) -> String {
    match value {
        0 => "disabled".into(),
        1 => "strict".into(),
        2 => "filter".into(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptrace_clock_signal_seccomp_names() {
        assert_eq!(ptrace_request(16), "PTRACE_ATTACH");
        assert_eq!(ptrace_request(0x4206), "PTRACE_SEIZE");
        assert_eq!(ptrace_request(12), "12");
        assert_eq!(clock_id(1), "CLOCK_MONOTONIC");
        assert_eq!(clock_flags(1), "TIMER_ABSTIME");
        assert_eq!(signal_name(19), "SIGSTOP");
        assert_eq!(signal_result(2), "already_pending");
        assert_eq!(seccomp_mode(2), "filter");
    }

    #[test]
    fn join_bits_basics() {
        let table = &[(1, "A"), (2, "B"), (4, "C")];
        assert_eq!(join_bits(0, table), "0");
        assert_eq!(join_bits(5, table), "A|C");
        assert_eq!(join_bits(4 | 1, table), "A|C", "table order, not argument order");
        assert_eq!(join_bits(0x18, table), "0x18", "only unknown bits");
        assert_eq!(join_bits(0x13, table), "A|B|0x10");
        assert_eq!(join_bits(1, &[(0, "ZERO"), (1, "A")]), "A", "0 entries never match");
    }

    #[test]
    fn join_bits_multi_bit_entries() {
        // "WIDE" = 0b110 listed after "NARROW" = 0b010.
        let table = &[(0b010, "NARROW"), (0b110, "WIDE")];
        assert_eq!(join_bits(0b110, table), "WIDE");
        assert_eq!(join_bits(0b010, table), "NARROW");
        assert_eq!(join_bits(0b100, table), "0x4", "half of a wide entry");
    }

    #[test]
    fn open_flags_examples() {
        assert_eq!(open_flags(0o2000000 | 0o2), "O_RDWR|O_CLOEXEC");
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(1), "O_WRONLY");
        assert_eq!(open_flags(3), "O_ACCMODE");
        assert_eq!(
            open_flags((libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC) as u64),
            "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"
        );
        assert_eq!(
            open_flags((libc::O_RDONLY | libc::O_NONBLOCK | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64),
            "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC"
        );
        assert_eq!(open_flags((libc::O_PATH | libc::O_NOFOLLOW) as u64), "O_RDONLY|O_NOFOLLOW|O_PATH");
    }

    #[test]
    fn open_flags_multi_bit_values() {
        assert_eq!(open_flags(libc::O_SYNC as u64 | 1), "O_WRONLY|O_SYNC");
        assert_eq!(open_flags(libc::O_DSYNC as u64 | 1), "O_WRONLY|O_DSYNC");
        assert_eq!(open_flags(libc::O_TMPFILE as u64 | 2), "O_RDWR|O_TMPFILE");
        assert_eq!(open_flags(libc::O_DIRECTORY as u64), "O_RDONLY|O_DIRECTORY", "O_DIRECTORY alone is not O_TMPFILE");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn open_flags_x86_64_values() {
        // Literal x86_64 values, so a wrong libc constant would show up.
        assert_eq!(open_flags(0o100 | 0o200 | 0o1), "O_WRONLY|O_CREAT|O_EXCL");
        assert_eq!(open_flags(0o100000), "O_RDONLY|O_LARGEFILE");
        assert_eq!(open_flags(0o4010000), "O_RDONLY|O_SYNC");
        assert_eq!(open_flags(0o20200000), "O_RDONLY|O_TMPFILE");
        assert_eq!(open_flags(0o4000000), "O_RDONLY|0x100000", "__O_SYNC without O_DSYNC");
    }

    #[test]
    fn open_flags_leftovers_in_hex() {
        assert_eq!(open_flags(0x8000_0000 | 2), "O_RDWR|0x80000000");
        assert_eq!(open_flags(1 << 40), "O_RDONLY|0x10000000000");
        assert_eq!(open_flags(libc::O_CLOEXEC as u64 | 0x8000_0000), "O_RDONLY|O_CLOEXEC|0x80000000");
    }

    #[test]
    fn socket_domain_names() {
        assert_eq!(socket_domain(1), "AF_UNIX");
        assert_eq!(socket_domain(2), "AF_INET");
        assert_eq!(socket_domain(10), "AF_INET6");
        assert_eq!(socket_domain(16), "AF_NETLINK");
        assert_eq!(socket_domain(17), "AF_PACKET");
        assert_eq!(socket_domain(0), "AF_UNSPEC");
        assert_eq!(socket_domain(40), "AF_VSOCK");
        assert_eq!(socket_domain(46), "46");
        assert_eq!(socket_domain(0xffff_ffff_0000_0002), "AF_INET", "upper half ignored");
        assert_eq!(socket_domain(0xffff_ffff), "-1");
    }

    #[test]
    fn socket_domain_table_matches_libc() {
        for (value, name) in [
            (libc::AF_UNSPEC, "AF_UNSPEC"),
            (libc::AF_UNIX, "AF_UNIX"),
            (libc::AF_INET, "AF_INET"),
            (libc::AF_INET6, "AF_INET6"),
            (libc::AF_NETLINK, "AF_NETLINK"),
            (libc::AF_PACKET, "AF_PACKET"),
            (libc::AF_KEY, "AF_KEY"),
            (libc::AF_LLC, "AF_LLC"),
            (libc::AF_RDS, "AF_RDS"),
            (libc::AF_CAN, "AF_CAN"),
            (libc::AF_TIPC, "AF_TIPC"),
            (libc::AF_BLUETOOTH, "AF_BLUETOOTH"),
            (libc::AF_ALG, "AF_ALG"),
            (libc::AF_VSOCK, "AF_VSOCK"),
            (libc::AF_XDP, "AF_XDP"),
            (libc::AF_MPLS, "AF_MPLS"),
            (libc::AF_NFC, "AF_NFC"),
            (libc::AF_IB, "AF_IB"),
        ] {
            assert_eq!(socket_domain(value as u64), name);
        }
    }

    #[test]
    fn socket_type_names() {
        assert_eq!(socket_type(1 | 0o2000000), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(socket_type(libc::SOCK_DGRAM as u64), "SOCK_DGRAM");
        assert_eq!(
            socket_type((libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64),
            "SOCK_SEQPACKET|SOCK_NONBLOCK|SOCK_CLOEXEC"
        );
        assert_eq!(socket_type(libc::SOCK_RAW as u64), "SOCK_RAW");
        assert_eq!(socket_type(4), "SOCK_RDM");
        assert_eq!(socket_type(10), "SOCK_PACKET");
        assert_eq!(socket_type(0), "0");
        assert_eq!(socket_type(15), "15");
        assert_eq!(socket_type(1 | 0x100), "SOCK_STREAM|0x100");
    }

    #[test]
    fn accept4_flags() {
        assert_eq!(sock_flags(0), "0");
        assert_eq!(sock_flags((libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64), "SOCK_NONBLOCK|SOCK_CLOEXEC");
        assert_eq!(sock_flags(libc::SOCK_CLOEXEC as u64), "SOCK_CLOEXEC");
        assert_eq!(sock_flags(0x1), "0x1");
    }

    #[test]
    fn socket_protocol_names() {
        let inet = libc::AF_INET as u64;
        let inet6 = libc::AF_INET6 as u64;
        assert_eq!(socket_protocol(inet, 0), "IPPROTO_IP");
        assert_eq!(socket_protocol(inet, libc::IPPROTO_TCP as u64), "IPPROTO_TCP");
        assert_eq!(socket_protocol(inet, libc::IPPROTO_UDP as u64), "IPPROTO_UDP");
        assert_eq!(socket_protocol(inet, libc::IPPROTO_ICMP as u64), "IPPROTO_ICMP");
        assert_eq!(socket_protocol(inet6, libc::IPPROTO_ICMPV6 as u64), "IPPROTO_ICMPV6");
        assert_eq!(socket_protocol(inet6, 6), "IPPROTO_TCP");
        assert_eq!(socket_protocol(inet, 99), "99");
        // Other domains: the protocol is domain-specific, keep the number.
        assert_eq!(socket_protocol(libc::AF_UNIX as u64, 0), "0");
        assert_eq!(socket_protocol(libc::AF_NETLINK as u64, 6), "6");
    }

    #[test]
    fn msg_flags_names() {
        assert_eq!(msg_flags(0), "0");
        assert_eq!(msg_flags(libc::MSG_NOSIGNAL as u64), "MSG_NOSIGNAL");
        assert_eq!(msg_flags((libc::MSG_DONTWAIT | libc::MSG_PEEK) as u64), "MSG_PEEK|MSG_DONTWAIT");
        assert_eq!(msg_flags(0x10), "MSG_PROXY");
        assert_eq!(msg_flags(libc::MSG_CMSG_CLOEXEC as u64), "MSG_CMSG_CLOEXEC");
        assert_eq!(msg_flags(libc::MSG_FASTOPEN as u64 | 1), "MSG_OOB|MSG_FASTOPEN");
        assert_eq!(msg_flags(0x8000_0000), "0x80000000");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn msg_flags_literal_values() {
        assert_eq!(msg_flags(0x4000), "MSG_NOSIGNAL");
        assert_eq!(msg_flags(0x40 | 0x100), "MSG_DONTWAIT|MSG_WAITALL");
        assert_eq!(msg_flags(0x10000), "MSG_WAITFORONE");
        assert_eq!(msg_flags(0x2000), "MSG_ERRQUEUE");
    }

    #[test]
    fn dup3_and_pipe2() {
        assert_eq!(dup3_flags(0), "0");
        assert_eq!(dup3_flags(libc::O_CLOEXEC as u64), "O_CLOEXEC");
        assert_eq!(dup3_flags(libc::O_CLOEXEC as u64 | 1), "O_CLOEXEC|0x1");
        assert_eq!(pipe2_flags(0), "0");
        assert_eq!(pipe2_flags((libc::O_NONBLOCK | libc::O_CLOEXEC) as u64), "O_CLOEXEC|O_NONBLOCK");
        assert_eq!(pipe2_flags(libc::O_DIRECT as u64), "O_DIRECT");
        assert_eq!(pipe2_flags(libc::O_EXCL as u64), "O_NOTIFICATION_PIPE");
        assert_eq!(pipe2_flags(libc::O_APPEND as u64), format!("{:#x}", libc::O_APPEND));
    }

    #[test]
    fn close_range() {
        assert_eq!(close_range_flags(0), "0");
        assert_eq!(close_range_flags(1 << 1), "CLOSE_RANGE_UNSHARE");
        assert_eq!(close_range_flags(1 << 2), "CLOSE_RANGE_CLOEXEC");
        assert_eq!(close_range_flags(6), "CLOSE_RANGE_UNSHARE|CLOSE_RANGE_CLOEXEC");
        assert_eq!(close_range_flags(9), "0x9");
    }

    #[test]
    fn fcntl_commands() {
        assert_eq!(fcntl_cmd(0), "F_DUPFD");
        assert_eq!(fcntl_cmd(1), "F_GETFD");
        assert_eq!(fcntl_cmd(2), "F_SETFD");
        assert_eq!(fcntl_cmd(3), "F_GETFL");
        assert_eq!(fcntl_cmd(4), "F_SETFL");
        assert_eq!(fcntl_cmd(5), "F_GETLK");
        assert_eq!(fcntl_cmd(8), "F_SETOWN");
        assert_eq!(fcntl_cmd(10), "F_SETSIG");
        assert_eq!(fcntl_cmd(15), "F_SETOWN_EX");
        assert_eq!(fcntl_cmd(36), "F_OFD_GETLK");
        assert_eq!(fcntl_cmd(38), "F_OFD_SETLKW");
        assert_eq!(fcntl_cmd(1024), "F_SETLEASE");
        assert_eq!(fcntl_cmd(1026), "F_NOTIFY");
        assert_eq!(fcntl_cmd(1030), "F_DUPFD_CLOEXEC");
        assert_eq!(fcntl_cmd(1031), "F_SETPIPE_SZ");
        assert_eq!(fcntl_cmd(1034), "F_GET_SEALS");
        assert_eq!(fcntl_cmd(999), "999");
        assert_eq!(fcntl_cmd(u64::MAX), "-1");
    }

    #[test]
    fn fd_flags_values() {
        assert_eq!(fd_flags(0), "0");
        assert_eq!(fd_flags(1), "FD_CLOEXEC");
        assert_eq!(fd_flags(3), "FD_CLOEXEC|0x2");
    }

    #[test]
    fn resolve_flag_names() {
        assert_eq!(resolve_flags(0), "0");
        assert_eq!(resolve_flags(1), "RESOLVE_NO_XDEV");
        assert_eq!(resolve_flags(0x8 | 0x4), "RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH");
        assert_eq!(resolve_flags(0x10 | 0x20 | 0x2), "RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT|RESOLVE_CACHED");
        assert_eq!(resolve_flags(0x40), "0x40");
        assert_eq!(resolve_flags(1 << 63 | 1), "RESOLVE_NO_XDEV|0x8000000000000000");
    }

    #[test]
    fn poll_event_names() {
        assert_eq!(poll_events(0), "0");
        assert_eq!(poll_events(libc::POLLIN), "POLLIN");
        assert_eq!(poll_events(libc::POLLIN | libc::POLLOUT), "POLLIN|POLLOUT");
        assert_eq!(poll_events(libc::POLLERR | libc::POLLHUP | libc::POLLNVAL), "POLLERR|POLLHUP|POLLNVAL");
        assert_eq!(
            poll_events(libc::POLLRDNORM | libc::POLLRDBAND | libc::POLLWRNORM | libc::POLLWRBAND),
            "POLLRDNORM|POLLRDBAND|POLLWRNORM|POLLWRBAND"
        );
        assert_eq!(poll_events(0x400), "POLLMSG");
        assert_eq!(poll_events(0x2000), "POLLRDHUP");
        assert_eq!(poll_events(i16::MIN), "0x8000", "top bit does not sign-extend");
        assert_eq!(poll_events(0x1 | 0x1000), "POLLIN|0x1000");
    }
}
