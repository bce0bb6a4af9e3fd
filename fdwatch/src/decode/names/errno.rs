//! errno numbers -> their symbolic names ("EBADF"), as errno(3) and strace print them.

use nix::errno::Errno;

/// Kernel-internal error codes from include/linux/errno.h.
///
/// User programs never see these, but a probe on syscall exit does: the
/// header itself notes that "ptrace can observe these at syscall exit
/// tracing". ERESTARTSYS and friends show up whenever a blocking call
/// (connect, accept, read on a socket) is interrupted by a signal and is
/// about to be restarted or turned into EINTR. nix only knows the uapi
/// numbers, so without this table they would print as "E512".
const KERNEL_INTERNAL: &[(i32, &str)] = &[
    (512, "ERESTARTSYS"),
    (513, "ERESTARTNOINTR"),
    (514, "ERESTARTNOHAND"),
    (515, "ENOIOCTLCMD"),
    (516, "ERESTART_RESTARTBLOCK"),
    (517, "EPROBE_DEFER"),
    (518, "EOPENSTALE"),
    (519, "ENOPARAM"),
    // 521..=529 are "Defined for the NFSv3 protocol" in the same header;
    // ENOTSUPP (524) in particular is known to leak out of some drivers.
    (521, "EBADHANDLE"),
    (522, "ENOTSYNC"),
    (523, "EBADCOOKIE"),
    (524, "ENOTSUPP"),
    (525, "ETOOSMALL"),
    (526, "ESERVERFAULT"),
    (527, "EBADTYPE"),
    (528, "EJUKEBOX"),
    (529, "EIOCBQUEUED"),
];

/// The symbolic name of a (positive) errno value: 9 -> "EBADF".
///
/// Values nix does not know (and that are not kernel-internal codes, see
/// [`KERNEL_INTERNAL`]) come back as "E<number>", e.g. "E4000", so the
/// output is always a single token that still carries the raw value.
/// Aliases print under the name nix uses for the shared number
/// (EWOULDBLOCK -> "EAGAIN", ENOTSUP -> "EOPNOTSUPP"), as strace does.
///
/// The caller passes the errno, not the raw negative syscall return value.
pub fn errno_name(errno: i32) -> String {
    if let Some((_, name)) = KERNEL_INTERNAL.iter().find(|(n, _)| *n == errno) {
        return (*name).to_string();
    }
    // Errno::from_raw maps anything it does not know to UnknownErrno, whose
    // Debug text would hide the number; print the number instead.
    match Errno::from_raw(errno) {
        Errno::UnknownErrno => format!("E{errno}"),
        known => format!("{known:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_man_pages() {
        assert_eq!(errno_name(9), "EBADF");
        assert_eq!(errno_name(106), "EISCONN");
        assert_eq!(errno_name(111), "ECONNREFUSED");
        assert_eq!(errno_name(114), "EALREADY");
        assert_eq!(errno_name(libc::EINPROGRESS), "EINPROGRESS");
        assert_eq!(errno_name(libc::EMFILE), "EMFILE");
    }

    #[test]
    fn aliases_use_the_common_name() {
        assert_eq!(errno_name(libc::EWOULDBLOCK), "EAGAIN");
        assert_eq!(errno_name(libc::ENOTSUP), "EOPNOTSUPP");
    }

    #[test]
    fn kernel_internal_codes() {
        assert_eq!(errno_name(512), "ERESTARTSYS");
        assert_eq!(errno_name(516), "ERESTART_RESTARTBLOCK");
        assert_eq!(errno_name(524), "ENOTSUPP");
        assert_eq!(errno_name(520), "E520");
    }

    #[test]
    fn unknown_values_keep_the_number() {
        assert_eq!(errno_name(4000), "E4000");
        assert_eq!(errno_name(0), "E0");
        assert_eq!(errno_name(-9), "E-9");
        assert_eq!(errno_name(i32::MAX), format!("E{}", i32::MAX));
    }
}
