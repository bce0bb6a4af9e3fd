//! Names for raw syscall values, as a user knows them from the man pages.
//!
//! The probes hand over arguments exactly as they were in the registers
//! (and a copy of any `struct sockaddr`); these pure functions (no I/O, no
//! lookups on the running system) turn them into the strace-like strings
//! used in the NDJSON output: "EISCONN", "O_RDWR|O_CLOEXEC",
//! "SOCK_STREAM|SOCK_CLOEXEC", "AT_FDCWD", "127.0.0.1:9", "@abstract".
//! Flag sets are joined with '|', an empty set is "0", and bits without a
//! name are kept as one hex number so nothing is silently dropped.

// Used by the event renderer, which does not call these yet.
#![allow(dead_code)]

pub mod errno;
pub mod flags;
pub mod sockaddr;

// Unused until the renderer imports them, like the functions themselves.
#[allow(unused_imports)]
pub use errno::errno_name;
#[allow(unused_imports)]
pub use flags::{
    close_range_flags, dup3_flags, fcntl_cmd, fd_flags, join_bits, msg_flags, open_flags, pipe2_flags, poll_events,
    resolve_flags, sock_flags, socket_domain, socket_protocol, socket_type,
};
#[allow(unused_imports)]
pub use sockaddr::format_sockaddr;
