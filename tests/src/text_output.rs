//! fdwatch's human-readable output (no `--json`): a [`Child`] whose stdout and stderr
//! are kept as the raw bytes it wrote, for tests that check them byte by byte.
//! ([`crate::Fdwatch`] parses stdout as NDJSON and would reject text lines.)
use std::{
    ffi::OsStr,
    process::{Command, ExitStatus},
    time::{Duration, Instant},
};

use crate::{
    START_DEADLINE,
    child::{self, Child, Spawn},
    fdwatch_bin, require_root,
};

/// A running `fdwatch ARGS` in text mode. Dropping it kills the process.
pub struct TextFdwatch {
    child: Child,
}

impl TextFdwatch {
    /// Starts `$FDWATCH_BIN ARGS` exactly as given and waits (up to 60 s) for the
    /// text-mode ready line on stderr.
    pub fn start(args: &[&str]) -> TextFdwatch {
        require_root();
        let mut cmd = Command::new(fdwatch_bin());
        cmd.args(args);
        let fw = TextFdwatch { child: Spawn::new(cmd, format!("fdwatch {args:?}")).stdin_null().spawn() };
        fw.wait_for("the ready line on stderr", START_DEADLINE, |_, err| err.starts_with(b"fdwatch: ready: "));
        fw
    }

    /// Waits up to `deadline` until `pred(stdout, stderr)` holds; panics naming `what`,
    /// with both outputs, if it does not.
    #[track_caller]
    pub fn wait_for(&self, what: &str, deadline: Duration, pred: impl Fn(&[u8], &[u8]) -> bool) {
        if let Err(gave_up) =
            self.child.try_wait_for(deadline, true, |out| pred(out.stdout(), out.stderr()).then_some(()))
        {
            let out = self.child.output();
            panic!("fdwatch: expected {what}: {gave_up}\n{}", dump(out.stdout(), out.stderr()));
        }
    }

    /// SIGINT, then everything it wrote: (exit status, stdout, stderr). Panics if it is
    /// not done within 30 s.
    pub fn stop(mut self) -> (ExitStatus, Vec<u8>, Vec<u8>) {
        self.child.signal(libc::SIGINT);
        let deadline = Duration::from_secs(30);
        let until = Instant::now() + deadline;
        let ended = self.child.wait_output_end(deadline, true);
        let status = self.child.wait_exit(until.saturating_duration_since(Instant::now()));
        let out = self.child.output();
        match (status, ended) {
            (Some(status), true) => (status, out.stdout().to_vec(), out.stderr().to_vec()),
            _ => panic!("fdwatch did not stop within {deadline:?}\n{}", dump(out.stdout(), out.stderr())),
        }
    }
}

/// Runs `$FDWATCH_BIN ARGS` to its end (at most `deadline`): (status, stdout, stderr).
pub fn run_to_end(args: &[&OsStr], deadline: Duration) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    let mut cmd = Command::new(fdwatch_bin());
    cmd.args(args);
    child::run_to_end(cmd, &format!("fdwatch {args:?}"), deadline)
}

/// Both outputs for a failure message, with every byte visible (Rust's escaping).
pub fn dump(stdout: &[u8], stderr: &[u8]) -> String {
    let show = |b: &[u8]| {
        b.split_inclusive(|&c| c == b'\n').map(|l| format!("  {}", l.escape_ascii())).collect::<Vec<_>>().join("\n")
    };
    format!("stdout:\n{}\nstderr:\n{}", show(stdout), show(stderr))
}
