//! The capabilities fdwatch needs, and errors that name the one missing.
//!
//! fdwatch does not need uid 0, only these (capabilities(7); since Linux 5.8 CAP_BPF
//! and CAP_PERFMON split BPF and tracing out of CAP_SYS_ADMIN, which still implies
//! both):
//! - CAP_BPF: create maps and load programs (kernel/bpf/syscall.c, bpf_capable());
//! - CAP_PERFMON: load tracing programs (tp_btf, iterators) that read kernel memory
//!   (perfmon_capable() in bpf_prog_load());
//! - CAP_SYS_PTRACE: read every process's /proc/PID/fd and fdinfo at startup and when
//!   healing (proc_fd_access_allowed(): ptrace_may_access(PTRACE_MODE_READ_FSCREDS));
//! - CAP_DAC_READ_SEARCH: read /proc/PID/fd directories of other users (their mode is
//!   0500, owned by the process's uid).
//!
//! CAP_SYS_RESOURCE (to raise RLIMIT_MEMLOCK) is not needed since Linux 5.11, which
//! charges BPF memory to the memory cgroup instead.
use std::io;

use crate::error::Failure;

/// A capability by its number (include/uapi/linux/capability.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    pub bit: u32,
    pub name: &'static str,
}

pub const CAP_DAC_READ_SEARCH: Cap = Cap { bit: 2, name: "CAP_DAC_READ_SEARCH" };
pub const CAP_SYS_PTRACE: Cap = Cap { bit: 19, name: "CAP_SYS_PTRACE" };
pub const CAP_SYS_ADMIN: Cap = Cap { bit: 21, name: "CAP_SYS_ADMIN" };
pub const CAP_PERFMON: Cap = Cap { bit: 38, name: "CAP_PERFMON" };
pub const CAP_BPF: Cap = Cap { bit: 39, name: "CAP_BPF" };

/// Needed to load and attach the probes.
pub const FOR_PROBES: [Cap; 2] = [CAP_BPF, CAP_PERFMON];
/// Needed to read other processes' fds from /proc.
pub const FOR_PROC: [Cap; 2] = [CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH];

/// The effective capability set of this process (CapEff in /proc/self/status).
pub fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

/// Which of `caps` the set `effective` lacks. CAP_SYS_ADMIN stands in for CAP_BPF and
/// CAP_PERFMON, as the kernel's bpf_capable()/perfmon_capable() allow.
pub fn missing(effective: u64, caps: &[Cap]) -> Vec<Cap> {
    let has = |c: Cap| effective & (1u64 << c.bit) != 0;
    caps.iter().copied().filter(|&c| !has(c) && !((c == CAP_BPF || c == CAP_PERFMON) && has(CAP_SYS_ADMIN))).collect()
}

fn names(caps: &[Cap]) -> String {
    caps.iter().map(|c| c.name).collect::<Vec<_>>().join(" and ")
}

/// Refuse to start without the capabilities the probes need, naming them; only warn
/// (one line) about those /proc needs, since the probes still see everything new.
pub fn check() -> Result<(), Failure> {
    let Some(effective) = effective() else {
        return Err(Failure::env("cannot read this process's capabilities from /proc/self/status"));
    };
    let lacking = missing(effective, &FOR_PROBES);
    if !lacking.is_empty() {
        return Err(Failure::env(format!(
            "fdwatch needs {} to load its eBPF programs, and this process lacks {} (run it as root, or grant \
             them: setpriv --inh-caps +bpf,+perfmon --ambient-caps +bpf,+perfmon, or the systemd unit's \
             AmbientCapabilities=)",
            names(&FOR_PROBES),
            names(&lacking)
        )));
    }
    let lacking = missing(effective, &FOR_PROC);
    if !lacking.is_empty() {
        crate::error::report(format_args!(
            "warning: without {} the fds of other users' processes cannot be read from /proc at startup or \
             after a loss; their new fds are still seen",
            names(&lacking)
        ));
    }
    Ok(())
}

/// A failure to load or attach the probes, as one line: the whole chain of the error
/// (what failed, then why, down to the errno: "{e:#}"), and for EPERM/EACCES the
/// capability to grant, since the kernel answers a missing capability with EPERM.
pub fn explain(error: &anyhow::Error) -> Failure {
    let line = format!("{error:#}");
    let errno = error.chain().find_map(|e| e.downcast_ref::<io::Error>()?.raw_os_error());
    Failure::env(match errno {
        Some(libc::EPERM | libc::EACCES) => {
            let lacking = effective().map(|e| missing(e, &FOR_PROBES)).unwrap_or_default();
            let need = if lacking.is_empty() { names(&FOR_PROBES) } else { names(&lacking) };
            format!(
                "{line} (the kernel refused: fdwatch needs {need}; a security module or \
                 kernel.unprivileged_bpf_disabled can also refuse)"
            )
        }
        _ => line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_is_read_from_status() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000000c000080000\n";
        let eff = parse_cap_eff(status).unwrap();
        assert!(missing(eff, &FOR_PROBES).is_empty(), "bits 38, 39 are set");
        assert_eq!(missing(eff, &FOR_PROC), [CAP_DAC_READ_SEARCH]);
        assert_eq!(missing(0, &FOR_PROBES), [CAP_BPF, CAP_PERFMON]);
        assert!(missing(1 << CAP_SYS_ADMIN.bit, &FOR_PROBES).is_empty(), "CAP_SYS_ADMIN implies both");
    }

    use std::error::Error;

    #[test]
    fn a_refusal_names_the_errno_and_the_capability() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("failed to create map `WATCHED`")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let e =
            anyhow::Error::new(Outer(io::Error::from_raw_os_error(libc::EPERM))).context("cannot load the eBPF object");
        let f = explain(&e);
        assert!(
            f.message.contains(
                "cannot load the eBPF object: failed to create map `WATCHED`: Operation not permitted (os error 1)"
            ),
            "{f}"
        );
        assert!(f.message.contains("CAP_"), "{f}");
        let f = explain(&anyhow::Error::new(Outer(io::Error::from_raw_os_error(libc::E2BIG))).context("x"));
        assert!(!f.message.contains("CAP_"), "{f}");
    }
}
