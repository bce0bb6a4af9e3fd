//! The one child-process harness of the tests: every process a test runs (fdwatch, the
//! C helpers, shells, python) is a [`Child`]. It spawns with stdin, stdout and stderr
//! captured, reads stdout and stderr in background threads (so a full pipe never blocks
//! the process) into one [`Output`], lets the test wait for what it expects with a
//! deadline (waking as soon as output arrives, never a fixed sleep), and kills and reaps
//! the process on drop, on a panic too. When an expectation fails, the panic says what
//! was expected, why the wait ended, what did arrive, the exit status and stderr.
//!
//! What a line means (an fdops op, a JSON record, a model_procs event) is the business
//! of the layer above: [`crate::Fdops`], [`crate::Fdwatch`], [`crate::TextFdwatch`],
//! [`crate::model_check::Tree`], [`crate::alerts::Proc`].
use std::{
    fmt::Write as _,
    io::{Read, Write},
    os::unix::process::CommandExt,
    process::{self, ChildStdin, Command, ExitStatus, Stdio},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread,
    time::{Duration, Instant},
};

use crate::POLL;

/// Everything a child wrote so far.
#[derive(Default)]
pub struct Output {
    stdout: Vec<u8>,
    /// Where each complete line of `stdout` ends (the index just past its `\n`).
    ends: Vec<usize>,
    stdout_ended: bool,
    stderr: Vec<u8>,
    stderr_ended: bool,
    /// Lines moved out to the layer above by [`Child::take_new_lines`].
    handed_over: usize,
}

/// Lines moved out of a child's output by [`Child::take_new_lines`].
pub struct Lines {
    bytes: Vec<u8>,
    /// Where each line ends in `bytes` (just past its `\n`, or the end for a last line
    /// without one).
    ends: Vec<usize>,
}

impl Lines {
    /// Each line without its newline, and whether it had one.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], bool)> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(start, &end)| {
            let line = &self.bytes[start..end];
            match line.strip_suffix(b"\n") {
                Some(line) => (line, true),
                None => (line, false),
            }
        })
    }
}

impl Output {
    /// Every byte written to stdout so far.
    pub fn stdout(&self) -> &[u8] {
        &self.stdout
    }

    /// Every byte written to stderr so far.
    pub fn stderr(&self) -> &[u8] {
        &self.stderr
    }

    /// Stdout is closed (or no longer read): no more lines will come.
    pub fn stdout_ended(&self) -> bool {
        self.stdout_ended
    }

    /// Both pipes are closed: nothing more will come.
    pub fn ended(&self) -> bool {
        self.stdout_ended && self.stderr_ended
    }

    /// The lines of stdout so far: the complete ones, and once stdout ended, a last
    /// line without its newline if there is one.
    pub fn line_count(&self) -> usize {
        let tail = self.ends.last().copied().unwrap_or(0) < self.stdout.len();
        self.ends.len() + usize::from(self.stdout_ended && tail)
    }

    /// Line `i` (below [`Output::line_count`]) without its newline.
    pub fn line(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        match self.ends.get(i) {
            Some(&end) => &self.stdout[start..end - 1],
            None => &self.stdout[start..],
        }
    }

    /// Whether line `i` ended with a newline (only a last line can lack it).
    pub fn line_complete(&self, i: usize) -> bool {
        i < self.ends.len()
    }

    /// Line `i` as text (bytes that are not UTF-8 as U+FFFD).
    pub fn text(&self, i: usize) -> String {
        String::from_utf8_lossy(self.line(i)).into_owned()
    }
}

/// The output and the condition its readers signal whenever it grows or a pipe ends.
#[derive(Default)]
struct Shared {
    output: Mutex<Output>,
    grew: Condvar,
}

impl Shared {
    /// The output, even if a panicking test poisoned the lock: the reports that explain
    /// the panic (and Drop) still need it.
    fn lock(&self) -> MutexGuard<'_, Output> {
        self.output.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, add: impl FnOnce(&mut Output)) {
        add(&mut self.lock());
        self.grew.notify_all();
    }
}

/// How to spawn a [`Child`]: `Spawn::new(command, what)`, options, then [`Spawn::spawn`].
/// By default stdin is a pipe the test writes with [`Child::send`], stdout and stderr
/// are read, and only the process itself is killed on drop.
pub struct Spawn {
    cmd: Command,
    what: String,
    group: bool,
    stdin: bool,
    stdout: StdoutTo,
    shown: usize,
    in_order: bool,
}

enum StdoutTo {
    Read { first_line_only: bool },
    Elsewhere,
}

impl Spawn {
    /// `what` names the process in every report ("fdops [\"dup2\", \"1\", \"100\"]").
    pub fn new(cmd: Command, what: impl Into<String>) -> Spawn {
        Spawn {
            cmd,
            what: what.into(),
            group: false,
            stdin: true,
            stdout: StdoutTo::Read { first_line_only: false },
            shown: 40,
            in_order: false,
        }
    }

    /// In a process group of its own, which is killed as a whole on drop (with every
    /// process it started that did not leave the group).
    pub fn process_group(mut self) -> Spawn {
        self.group = true;
        self
    }

    /// Stdin is /dev/null instead of a pipe.
    pub fn stdin_null(mut self) -> Spawn {
        self.stdin = false;
        self
    }

    /// Stdout goes to `to` (a file, /dev/full) and is not read.
    pub fn stdout_to(mut self, to: impl Into<Stdio>) -> Spawn {
        self.cmd.stdout(to);
        self.stdout = StdoutTo::Elsewhere;
        self
    }

    /// Stdout is read up to its first newline and then closed, as `cmd | head -1` does.
    pub fn stdout_first_line(mut self) -> Spawn {
        self.stdout = StdoutTo::Read { first_line_only: true };
        self
    }

    /// [`Child::take_line`] passes over for good the lines before the one it returns (a
    /// line is expected after the ones before it), instead of keeping them for later calls.
    pub fn lines_in_order(mut self) -> Spawn {
        self.in_order = true;
        self
    }

    /// Reports show the last `n` lines of stdout (default 40).
    pub fn show_last(mut self, n: usize) -> Spawn {
        self.shown = n;
        self
    }

    pub fn spawn(mut self) -> Child {
        self.cmd.stdin(if self.stdin { Stdio::piped() } else { Stdio::null() }).stderr(Stdio::piped());
        if let StdoutTo::Read { .. } = self.stdout {
            self.cmd.stdout(Stdio::piped());
        }
        if self.group {
            self.cmd.process_group(0);
        }
        let what = self.what;
        let mut child = self.cmd.spawn().unwrap_or_else(|e| panic!("cannot run {what} ({:?}): {e}", self.cmd));
        let shared = Arc::new(Shared::default());
        match self.stdout {
            StdoutTo::Read { first_line_only } => {
                let pipe = child.stdout.take().expect("stdout is piped");
                let sink = Arc::clone(&shared);
                thread::spawn(move || read_stdout(pipe, &sink, first_line_only));
            }
            StdoutTo::Elsewhere => shared.append(|o| o.stdout_ended = true),
        }
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&shared);
        thread::spawn(move || read_stderr(pipe, &sink));
        Child {
            pid: i64::from(child.id()),
            stdin: child.stdin.take(),
            child,
            what,
            shared,
            status: None,
            group: self.group,
            also_kill: Vec::new(),
            taken: Vec::new(),
            next: 0,
            in_order: self.in_order,
            shown: self.shown,
        }
    }
}

fn read_stdout(mut pipe: impl Read, shared: &Shared, first_line_only: bool) {
    let mut buf = [0u8; 16384];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut got_a_line = false;
        shared.append(|o| {
            let base = o.stdout.len();
            o.stdout.extend_from_slice(&buf[..n]);
            let ends = buf[..n].iter().enumerate().filter(|&(_, &b)| b == b'\n').map(|(i, _)| base + i + 1);
            o.ends.extend(ends);
            got_a_line = !o.ends.is_empty();
        });
        if first_line_only && got_a_line {
            break;
        }
    }
    // Closed before it is marked ended: a test that saw the end may rely on it.
    drop(pipe);
    shared.append(|o| o.stdout_ended = true);
}

fn read_stderr(mut pipe: impl Read, shared: &Shared) {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => shared.append(|o| o.stderr.extend_from_slice(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    shared.append(|o| o.stderr_ended = true);
}

/// Why a wait gave up.
#[derive(Debug)]
pub enum GaveUp {
    /// The output it watched ended (the text says which).
    Ended(&'static str),
    /// The deadline passed.
    Deadline(Duration),
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GaveUp::Ended(which) => f.write_str(which),
            GaveUp::Deadline(d) => write!(f, "nothing within {d:?}"),
        }
    }
}

/// A running process of the test. Dropping it kills it (its process group, with
/// [`Spawn::process_group`]; and the pids given to [`Child::also_kill`]) and reaps it.
pub struct Child {
    child: process::Child,
    pid: i64,
    what: String,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    status: Option<ExitStatus>,
    group: bool,
    also_kill: Vec<i64>,
    /// Lines already returned by [`Child::take_line`].
    taken: Vec<bool>,
    /// Where [`Child::take_line`] starts looking: the first line not returned, or with
    /// `in_order` the one after the last line returned.
    next: usize,
    in_order: bool,
    shown: usize,
}

impl Child {
    /// Spawns `cmd` with the default options of [`Spawn`].
    pub fn spawn(cmd: Command, what: impl Into<String>) -> Child {
        Spawn::new(cmd, what).spawn()
    }

    pub fn pid(&self) -> i64 {
        self.pid
    }

    /// What the reports call it.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Kill `pid` too on drop (SIGKILL), e.g. a daemon that left the process group.
    pub fn also_kill(&mut self, pid: i64) {
        self.also_kill.push(pid);
    }

    /// Writes `line` and a newline to its stdin.
    #[track_caller]
    pub fn send(&mut self, line: &str) {
        let result = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("its stdin is closed")),
        };
        if let Err(e) = result {
            panic!("{}", self.report(&format!("cannot write {line:?} to the stdin of {}: {e}", self.what)));
        }
    }

    /// Closes its stdin (it reads EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends `signal` to the process (not reaped yet, so the pid is still ours).
    #[track_caller]
    pub fn signal(&self, signal: i32) {
        assert!(self.status.is_none(), "{}", self.report(&format!("signal {signal} to a process already reaped")));
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's, which
        // is not reaped yet (the status is unknown), so not reused by another process.
        let r = unsafe { libc::kill(self.pid as i32, signal) };
        assert_eq!(r, 0, "kill({}, {signal}): {}", self.pid, std::io::Error::last_os_error());
    }

    /// Sends `signal` to its process group (spawned with [`Spawn::process_group`]).
    #[track_caller]
    pub fn signal_group(&self, signal: i32) {
        assert!(self.group, "{}: not in a process group of its own", self.what);
        // SAFETY: kill has no memory-safety preconditions. The group is ours: its id is
        // our child's pid, which leads it.
        let r = unsafe { libc::kill(-(self.pid as i32), signal) };
        assert_eq!(r, 0, "kill(-{}, {signal}): {}", self.pid, std::io::Error::last_os_error());
    }

    /// The output so far. Hold it briefly: the readers wait for it.
    pub fn output(&self) -> MutexGuard<'_, Output> {
        self.shared.lock()
    }

    /// Every stdout line so far, as text.
    pub fn lines(&self) -> Vec<String> {
        let out = self.output();
        (0..out.line_count()).map(|i| out.text(i)).collect()
    }

    /// Stderr so far, as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(self.output().stderr()).into_owned()
    }

    /// Calls `f` on the output now and whenever it grows, until `f` returns Some, up to
    /// `deadline`; gives up early once stdout ended (or, with `whole`, both pipes).
    pub fn try_wait_for<T>(
        &self,
        deadline: Duration,
        whole: bool,
        mut f: impl FnMut(&Output) -> Option<T>,
    ) -> Result<T, GaveUp> {
        self.wait_mut(deadline, whole, |out| f(out))
    }

    /// [`Child::try_wait_for`] with the output to change (only this module changes it).
    fn wait_mut<T>(
        &self,
        deadline: Duration,
        whole: bool,
        mut f: impl FnMut(&mut Output) -> Option<T>,
    ) -> Result<T, GaveUp> {
        let until = Instant::now() + deadline;
        let mut out = self.shared.lock();
        loop {
            if let Some(t) = f(&mut out) {
                return Ok(t);
            }
            let over = if whole { out.ended() } else { out.stdout_ended() };
            if over {
                return Err(GaveUp::Ended(if whole { "its output ended" } else { "its stdout ended" }));
            }
            let now = Instant::now();
            if now >= until {
                return Err(GaveUp::Deadline(deadline));
            }
            out = self.shared.grew.wait_timeout(out, until - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Moves the stdout lines that arrived out to the caller, waiting up to `deadline`
    /// for at least one: for a layer that keeps what it makes of them (fdwatch's
    /// records), so that a flood is not kept twice. The move is quick and the caller
    /// works on the lines outside the lock, so the reader is never held up (which would
    /// leave the process blocked on a full pipe).
    pub fn take_new_lines(&self, deadline: Duration) -> Result<Lines, GaveUp> {
        self.wait_mut(deadline, false, |out| {
            let n = out.line_count();
            if n == 0 {
                return None;
            }
            let cut = if n > out.ends.len() { out.stdout.len() } else { out.ends[n - 1] };
            let rest = out.stdout.split_off(cut);
            let bytes = std::mem::replace(&mut out.stdout, rest);
            let mut ends: Vec<usize> = out.ends.drain(..).collect();
            if ends.len() < n {
                ends.push(cut);
            }
            out.handed_over += n;
            Some(Lines { bytes, ends })
        })
    }

    /// [`Child::try_wait_for`] on stdout; panics with the report, naming `expected`.
    #[track_caller]
    pub fn wait_for<T>(&self, expected: &str, deadline: Duration, f: impl FnMut(&Output) -> Option<T>) -> T {
        self.try_wait_for(deadline, false, f).unwrap_or_else(|e| self.fail(expected, &e.to_string()))
    }

    /// [`Child::try_wait_for`] on stdout and stderr; panics with the report, naming
    /// `expected`.
    #[track_caller]
    pub fn wait_for_output<T>(&self, expected: &str, deadline: Duration, f: impl FnMut(&Output) -> Option<T>) -> T {
        self.try_wait_for(deadline, true, f).unwrap_or_else(|e| self.fail(expected, &e.to_string()))
    }

    /// The first stdout line not returned before for which `f` gives Some, waiting up to
    /// `deadline`. The lines before it stay for later calls, or with
    /// [`Spawn::lines_in_order`] are passed over for good. `f` says Err about a line that
    /// should not be there at all.
    #[track_caller]
    pub fn take_line<T>(
        &mut self,
        expected: &str,
        deadline: Duration,
        mut f: impl FnMut(&[u8]) -> Result<Option<T>, String>,
    ) -> T {
        let in_order = self.in_order;
        let taken = &self.taken;
        let mut i = self.next;
        let found = self.try_wait_for(deadline, false, |out| {
            while i < out.line_count() {
                if !taken.get(i).copied().unwrap_or(false) {
                    match f(out.line(i)) {
                        Ok(Some(t)) => return Some(Ok((i, t))),
                        Ok(None) => {}
                        Err(why) => return Some(Err(why)),
                    }
                }
                i += 1;
            }
            None
        });
        match found {
            Ok(Ok((i, t))) => {
                if self.taken.len() <= i {
                    self.taken.resize(i + 1, false);
                }
                self.taken[i] = true;
                if in_order {
                    self.next = i + 1;
                } else {
                    while self.taken.get(self.next).copied().unwrap_or(false) {
                        self.next += 1;
                    }
                }
                t
            }
            Ok(Err(why)) => self.fail(expected, &why),
            Err(gave_up) => self.fail(expected, &gave_up.to_string()),
        }
    }

    /// Waits up to `deadline` for stdout to end (both pipes, with `whole`); false if it
    /// did not.
    pub fn wait_output_end(&self, deadline: Duration, whole: bool) -> bool {
        matches!(self.try_wait_for(deadline, whole, |_| None::<()>), Err(GaveUp::Ended(_)))
    }

    /// The exit status, if it exited (reaping it).
    pub fn status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `deadline` for it to exit.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(s) = self.status() {
                return Some(s);
            }
            if Instant::now() >= until {
                return None;
            }
            // There is no way to wait for a child's exit with a timeout but polling (a
            // pidfd would do, but std's is unstable).
            thread::sleep(POLL);
        }
    }

    /// [`Child::wait_exit`], panicking with the report if it does not exit in time.
    #[track_caller]
    pub fn exit_within(&mut self, deadline: Duration) -> ExitStatus {
        match self.wait_exit(deadline) {
            Some(s) => s,
            None => self.fail(&format!("{} to exit", self.what), &format!("still running after {deadline:?}")),
        }
    }

    /// Waits up to `deadline` for it to exit and for its stdout to end (it may have
    /// handed stdout to a process that lives on: then this gives up at `deadline`,
    /// without a panic); panics with the report if it does not exit in time.
    #[track_caller]
    pub fn finish(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        let status = self.exit_within(deadline);
        self.wait_output_end(until.saturating_duration_since(Instant::now()), false);
        status
    }

    /// Waits up to `deadline` for it to exit and for both pipes to end, and returns the
    /// exit status, all of stdout and all of stderr; panics with the report if it is not
    /// over by then.
    #[track_caller]
    pub fn end_within(&mut self, deadline: Duration) -> (ExitStatus, Vec<u8>, Vec<u8>) {
        let until = Instant::now() + deadline;
        let status = self.exit_within(deadline);
        if !self.wait_output_end(until.saturating_duration_since(Instant::now()), true) {
            self.fail(&format!("the end of the output of {}", self.what), &format!("not within {deadline:?}"));
        }
        let out = self.output();
        (status, out.stdout().to_vec(), out.stderr().to_vec())
    }

    /// Panics with the report: `expected` did not come, because `why`.
    #[track_caller]
    pub fn fail(&self, expected: &str, why: &str) -> ! {
        panic!("{}", self.report(&format!("expected {expected}: {why}")))
    }

    /// `message`, then what the process is, its exit status, the last lines of its
    /// stdout and its stderr.
    pub fn report(&self, message: &str) -> String {
        let out = self.shared.lock();
        let status = match self.status {
            Some(s) => s.to_string(),
            None => "not exited (or not reaped yet)".into(),
        };
        let n = out.line_count();
        let first = n.saturating_sub(self.shown);
        let mut text = format!("{message}\n{} (pid {}), {status}; stdout, {n} lines", self.what, self.pid);
        if out.handed_over > 0 {
            let _ = write!(text, " after the {} read above", out.handed_over);
        }
        if first > 0 {
            let _ = write!(text, " (the last {})", n - first);
        }
        text.push(':');
        for i in first..n {
            let _ = write!(text, "\n  {}", out.text(i));
        }
        if n > 0 && !out.line_complete(n - 1) {
            text.push_str(" [no newline at the end]");
        }
        let err = String::from_utf8_lossy(out.stderr());
        let err = err.trim_end();
        if err.is_empty() {
            text.push_str("\nstderr: (nothing)");
        } else {
            let _ = write!(text, "\nstderr:\n  {}", err.replace('\n', "\n  "));
        }
        text
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.group {
            // SAFETY: kill has no memory-safety preconditions. The group is ours: its id
            // is our child's pid, which leads it.
            unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
        }
        for &pid in &self.also_kill {
            if pid > 1 {
                // SAFETY: kill has no memory-safety preconditions; a pid the test saw
                // belong to its scenario.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        }
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to its end (stdin /dev/null) within `deadline` and returns its exit
/// status, stdout and stderr; panics with the report if it is not done in time.
#[track_caller]
pub fn run_to_end(cmd: Command, what: &str, deadline: Duration) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    Spawn::new(cmd, what).stdin_null().spawn().end_within(deadline)
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        cmd
    }

    fn text(raw: &[u8]) -> Result<Option<String>, String> {
        Ok(Some(String::from_utf8_lossy(raw).into_owned()))
    }

    #[test]
    fn lines_are_taken_once_and_in_any_order() {
        let mut child = Child::spawn(sh("echo a; echo b; read x; echo c $x"), "sh");
        child.take_line("b", Duration::from_secs(5), |l| Ok((l == b"b").then_some(())));
        assert_eq!(child.take_line("any", Duration::from_secs(5), text), "a");
        child.send("go");
        assert_eq!(child.take_line("any", Duration::from_secs(5), text), "c go");
        assert!(child.finish(Duration::from_secs(5)).success());
        assert_eq!(child.lines(), ["a", "b", "c go"]);
    }

    #[test]
    fn in_order_lines_pass_over_the_ones_before() {
        let mut child = Spawn::new(sh("echo a; echo b; echo c"), "sh").lines_in_order().spawn();
        assert_eq!(child.take_line("b", Duration::from_secs(5), |l| Ok((l == b"b").then_some(1))), 1);
        assert_eq!(child.take_line("any", Duration::from_secs(5), text), "c");
        let r = catch_unwind(AssertUnwindSafe(|| {
            child.take_line("a", Duration::from_secs(5), |l| Ok((l == b"a").then_some(())))
        }));
        let why = *r.expect_err("a was passed over").downcast::<String>().unwrap();
        assert!(why.starts_with("expected a: its stdout ended\nsh (pid "), "{why}");
    }

    #[test]
    fn a_failed_wait_reports_what_arrived_and_stderr() {
        let mut child = Child::spawn(sh("echo out; echo err >&2; printf tail; exec sleep 30"), "sh");
        let r = catch_unwind(AssertUnwindSafe(|| {
            child.take_line("nothing", Duration::from_millis(300), |_| Ok(None::<()>))
        }));
        let why = *r.expect_err("nothing comes").downcast::<String>().unwrap();
        assert!(why.starts_with("expected nothing: nothing within 300ms\n"), "{why}");
        assert!(why.contains("stdout, 1 lines:\n  out\nstderr:\n  err"), "{why}");
        child.signal(libc::SIGTERM);
        let (status, out, err) = child.end_within(Duration::from_secs(5));
        assert!(!status.success());
        assert_eq!((out.as_slice(), err.as_slice()), (&b"out\ntail"[..], &b"err\n"[..]));
    }

    #[test]
    fn drop_kills_the_process_group() {
        let mut child = Spawn::new(sh("sleep 30 & echo $!; wait"), "sh").process_group().spawn();
        let bg: i32 =
            child.take_line("the pid", Duration::from_secs(5), |l| Ok(std::str::from_utf8(l).unwrap().parse().ok()));
        drop(child);
        let gone = Instant::now() + Duration::from_secs(5);
        // SAFETY: kill with signal 0 only checks that the process exists.
        while unsafe { libc::kill(bg, 0) } == 0
            && std::fs::read_to_string(format!("/proc/{bg}/stat")).is_ok_and(|s| !s.contains(") Z "))
        {
            assert!(Instant::now() < gone, "the background sleep {bg} outlived its group");
            thread::sleep(POLL);
        }
    }

    #[test]
    fn first_line_only_closes_the_pipe() {
        let mut child =
            Spawn::new(sh("echo one; sleep 0.2; echo two || exit 7"), "sh").stdin_null().stdout_first_line().spawn();
        assert!(child.wait_output_end(Duration::from_secs(5), false));
        let status = child.exit_within(Duration::from_secs(5));
        assert!(!status.success(), "the second echo met a closed pipe: {status}");
        assert_eq!(child.lines(), ["one"]);
    }
}
