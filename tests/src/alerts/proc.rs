//! The processes the incident reproductions run: any command, a [`Child`] in a process
//! group of its own, its stdout read as lines of words `k=v`.
use std::{
    process::{Command, ExitStatus},
    time::Duration,
};

use crate::{
    DEADLINE, Fdwatch,
    child::{Child, Spawn},
    fdops_bin,
};

/// `fdops wait exec ARGS...`, the command of a [`Proc::waiting`]: fdops prints
/// `op=wait`, waits for "go" on stdin, then execs ARGS.
pub fn fdops_exec(args: &[&str]) -> Command {
    let mut cmd = Command::new(fdops_bin());
    cmd.args(["wait", "exec"]).args(args);
    cmd
}

/// A process the test runs (any command), in a process group of its own; stdout read as
/// lines, stdin kept for the test to write. Dropping it SIGKILLs the whole group and the
/// extra pids registered with [`Proc::also_kill`] (e.g. a daemon that left the group).
pub struct Proc {
    child: Child,
}

impl Proc {
    /// Spawns `cmd` with piped stdin/stdout/stderr in a new process group.
    pub fn spawn(cmd: Command, what: &str) -> Proc {
        Proc { child: Spawn::new(cmd, what).process_group().lines_in_order().spawn() }
    }

    /// Spawns `cmd` (an [`fdops_exec`]) and waits for its `op=wait` line.
    #[track_caller]
    pub fn waiting(cmd: Command, what: &str) -> Proc {
        let mut proc = Self::spawn(cmd, what);
        proc.line("op=wait");
        proc
    }

    /// Starts `fdwatch --pid <it> --follow`, then sends it "go", which every helper of
    /// the incident tests waits for before it does anything.
    #[track_caller]
    pub fn go_watched(&mut self) -> Fdwatch {
        let fw = Fdwatch::watch(self.pid(), &["--follow"]);
        self.send("go");
        fw
    }

    /// `spawn` of `program args...`.
    pub fn run(program: &str, args: &[&str], what: &str) -> Proc {
        let mut cmd = Command::new(program);
        cmd.args(args);
        Self::spawn(cmd, what)
    }

    pub fn pid(&self) -> i64 {
        self.child.pid()
    }

    /// Kill `pid` too on drop (SIGKILL, if it still exists).
    pub fn also_kill(&mut self, pid: i64) {
        self.child.also_kill(pid);
    }

    /// Writes one line to its stdin.
    #[track_caller]
    pub fn send(&mut self, line: &str) {
        self.child.send(line);
    }

    /// Closes its stdin.
    pub fn close_stdin(&mut self) {
        self.child.close_stdin();
    }

    pub fn report(&self, message: &str) -> String {
        self.child.report(message)
    }

    /// The next line (after the ones returned before) that starts with `prefix`, waiting
    /// up to `deadline`; lines before it are skipped.
    #[track_caller]
    pub fn line_within(&mut self, prefix: &str, deadline: Duration) -> String {
        self.child.take_line(&format!("a line starting with {prefix:?}"), deadline, |raw| {
            Ok(raw.starts_with(prefix.as_bytes()).then(|| String::from_utf8_lossy(raw).into_owned()))
        })
    }

    /// `line_within` with [`DEADLINE`].
    #[track_caller]
    pub fn line(&mut self, prefix: &str) -> String {
        self.line_within(prefix, DEADLINE)
    }

    /// The value of `key=` in a line of words `k=v`.
    #[track_caller]
    pub fn field(line: &str, key: &str) -> i64 {
        line.split(' ')
            .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
            .parse()
            .unwrap_or_else(|_| panic!("{key}= is not an integer in {line:?}"))
    }

    /// Waits up to `deadline` for it to exit, then up to 5 s for the rest of its output;
    /// returns the status.
    #[track_caller]
    pub fn wait_within(&mut self, deadline: Duration) -> ExitStatus {
        let status = self.child.exit_within(deadline);
        self.child.wait_output_end(Duration::from_secs(5), false);
        status
    }

    /// Waits ([`DEADLINE`]) for it to exit 0.
    #[track_caller]
    pub fn finish_ok(&mut self) {
        let s = self.wait_within(DEADLINE);
        assert!(s.success(), "{}", self.child.report(&format!("exited {s}")));
    }

    /// Every stdout line so far.
    pub fn all_lines(&self) -> Vec<String> {
        self.child.lines()
    }
}
