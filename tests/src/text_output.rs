//! fdwatch's human-readable output (no `--json`): stdout and stderr kept as the raw
//! bytes it wrote, for tests that check them byte by byte. ([`crate::Fdwatch`] parses
//! stdout as NDJSON and would reject text lines.)
use std::{
    ffi::OsStr,
    io::Read,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use crate::{POLL, START_DEADLINE, fdwatch_bin, require_root};

/// A pipe read to its end in the background.
struct Capture {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: Arc<AtomicBool>,
}

impl Capture {
    fn start(mut pipe: impl Read + Send + 'static) -> Capture {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let (sink, finished) = (Arc::clone(&bytes), Arc::clone(&done));
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            finished.store(true, Ordering::Release);
        });
        Capture { bytes, done }
    }

    fn get(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
}

/// A running `fdwatch ARGS` in text mode. Dropping it kills the process.
pub struct TextFdwatch {
    child: Child,
    args: Vec<String>,
    stdout: Capture,
    stderr: Capture,
    reaped: Option<ExitStatus>,
}

impl TextFdwatch {
    /// Starts `$FDWATCH_BIN ARGS` exactly as given and waits (up to 60 s) for the
    /// text-mode ready line on stderr.
    pub fn start(args: &[&str]) -> TextFdwatch {
        require_root();
        let bin = fdwatch_bin();
        let mut child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let stdout = Capture::start(child.stdout.take().expect("piped stdout"));
        let stderr = Capture::start(child.stderr.take().expect("piped stderr"));
        let fw =
            TextFdwatch { child, args: args.iter().map(|s| s.to_string()).collect(), stdout, stderr, reaped: None };
        fw.wait_for("the ready line on stderr", START_DEADLINE, |_, err| err.starts_with(b"fdwatch: ready: "));
        fw
    }

    /// Waits up to `deadline` until `pred(stdout, stderr)` holds; panics naming `what`,
    /// with both outputs, if it does not.
    #[track_caller]
    pub fn wait_for(&self, what: &str, deadline: Duration, pred: impl Fn(&[u8], &[u8]) -> bool) {
        let until = Instant::now() + deadline;
        loop {
            let (out, err) = (self.stdout.get(), self.stderr.get());
            if pred(&out, &err) {
                return;
            }
            let ended = self.stdout.done.load(Ordering::Acquire) && self.stderr.done.load(Ordering::Acquire);
            if ended || Instant::now() >= until {
                let why = if ended { "fdwatch's output ended".to_string() } else { format!("not within {deadline:?}") };
                panic!("fdwatch {:?}: expected {what}: {why}\n{}", self.args, dump(&out, &err));
            }
            thread::sleep(POLL);
        }
    }

    /// SIGINT, then everything it wrote: (exit status, stdout, stderr). Panics if it is
    /// not done within 30 s.
    pub fn stop(mut self) -> (ExitStatus, Vec<u8>, Vec<u8>) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child, not yet
        // reaped (so not reused).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if self.reaped.is_none() {
                self.reaped = self.child.try_wait().ok().flatten();
            }
            let ended = self.stdout.done.load(Ordering::Acquire) && self.stderr.done.load(Ordering::Acquire);
            if let (Some(status), true) = (self.reaped, ended) {
                return (status, self.stdout.get(), self.stderr.get());
            }
            if Instant::now() >= until {
                panic!(
                    "fdwatch {:?} did not stop within 30 s\n{}",
                    self.args,
                    dump(&self.stdout.get(), &self.stderr.get())
                );
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for TextFdwatch {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `$FDWATCH_BIN ARGS` to its end (at most `deadline`): (status, stdout, stderr).
pub fn run_to_end(args: &[&OsStr], deadline: Duration) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    let bin = fdwatch_bin();
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stdout = Capture::start(child.stdout.take().expect("piped stdout"));
    let stderr = Capture::start(child.stderr.take().expect("piped stderr"));
    let until = Instant::now() + deadline;
    loop {
        let ended = stdout.done.load(Ordering::Acquire) && stderr.done.load(Ordering::Acquire);
        if let (Ok(Some(status)), true) = (child.try_wait(), ended) {
            return (status, stdout.get(), stderr.get());
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fdwatch {args:?} did not finish within {deadline:?}\n{}", dump(&stdout.get(), &stderr.get()));
        }
        thread::sleep(POLL);
    }
}

/// Both outputs for a failure message, with every byte visible (Rust's escaping).
pub fn dump(stdout: &[u8], stderr: &[u8]) -> String {
    let show = |b: &[u8]| {
        b.split_inclusive(|&c| c == b'\n').map(|l| format!("  {}", l.escape_ascii())).collect::<Vec<_>>().join("\n")
    };
    format!("stdout:\n{}\nstderr:\n{}", show(stdout), show(stderr))
}
