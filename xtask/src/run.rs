//! `cargo xtask run -- ARGS...`: setup, a release build of fdwatch, then fdwatch ARGS as
//! root (through sudo if we are not root), forwarding its exit code.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};

use anyhow::anyhow;

use crate::cmd::{self, Result};
use crate::{setup, workspace};

pub fn run(args: &[OsString]) -> Result<ExitCode> {
    // Loading eBPF programs needs root (CAP_BPF, CAP_PERFMON, ...). Decided before the
    // build so a user who cannot become root learns it before minutes of compiling.
    let use_sudo = if cmd::is_root() {
        false
    } else if cmd::on_path("sudo") {
        true
    } else {
        return Err(anyhow!(
            "fdwatch needs root to load eBPF programs and sudo was not found; run `cargo xtask run` as root"
        ));
    };
    setup::setup()?;
    let bin = workspace::build_fdwatch()?;
    let mut fdwatch = if use_sudo {
        let mut sudo = Command::new("sudo");
        sudo.arg("--").arg(&bin);
        sudo
    } else {
        Command::new(&bin)
    };
    fdwatch.args(args);
    ignore_sigint();
    let status = cmd::status(&mut fdwatch)?;
    // Like a shell: the exit code, or 128 + the signal that killed it.
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Ok(ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)))
}

/// Ctrl-C goes to the whole foreground process group. fdwatch handles it (a clean stop,
/// exit 0); xtask must survive it to forward that exit code. A no-op handler rather than
/// SIG_IGN, because an ignored signal would stay ignored in fdwatch across exec, while a
/// handler is reset to the default there.
fn ignore_sigint() {
    extern "C" fn noop(_: libc::c_int) {}
    // SAFETY: installs an async-signal-safe handler (it does nothing) for SIGINT.
    unsafe {
        libc::signal(libc::SIGINT, noop as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}
