//! Processes the bench starts, and what it reads about them from /proc. A `Proc` is
//! stopped when dropped, so every exit path (errors, Ctrl-C) cleans up; sysctls are
//! restored the same way.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};

use crate::cmd::{self, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C reaches the whole process group: our children stop by themselves, and we notice
/// at the next step and return an error, so the drops below clean up and restore.
pub fn catch_sigint() {
    extern "C" fn on_sigint(_: libc::c_int) {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) { Err(anyhow!("interrupted")) } else { Ok(()) }
}

pub fn sleep(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check_interrupted()?;
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    check_interrupted()
}

pub struct Proc {
    child: Child,
    pub name: String,
    done: bool,
}

impl Proc {
    /// Starts `command` (printed first, like every command xtask runs), stdin from /dev/null.
    pub fn spawn(name: &str, command: &mut Command) -> Result<Proc> {
        check_interrupted()?;
        eprintln!("+ {} &", cmd::display(command));
        let child = command.stdin(Stdio::null()).spawn().with_context(|| format!("cannot start {name}"))?;
        Ok(Proc { child, name: name.to_owned(), done: false })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: libc::c_int) {
        if !self.done {
            // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
            unsafe { libc::kill(self.pid(), signal) };
        }
    }

    /// The first line the process writes on its stdout (which must be piped), e.g. the
    /// "attached" of a loader; fails if it exits or stays silent for `timeout`.
    pub fn first_line(&mut self, timeout: Duration) -> Result<String> {
        let Some(stdout) = self.child.stdout.take() else {
            return Err(anyhow!("{}: stdout is not piped", self.name));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading so the process never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let end = Instant::now() + timeout;
        loop {
            check_interrupted()?;
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if !line.is_empty() => return Ok(line.trim_end().to_owned()),
                Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(anyhow!("{} exited before it was ready", self.name));
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() > end => {
                    return Err(anyhow!("{} said nothing for {} s", self.name, timeout.as_secs()));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        let status = self.child.try_wait().with_context(|| format!("waiting for {}", self.name))?;
        if status.is_some() {
            self.done = true;
        }
        Ok(status)
    }

    /// Sends `signal` and waits up to `timeout` for the exit; then SIGKILL and an error.
    pub fn stop(&mut self, signal: libc::c_int, timeout: Duration) -> Result<ExitStatus> {
        self.signal(signal);
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > end {
                self.kill();
                return Err(anyhow!(
                    "{} did not stop within {} s of signal {signal}; killed it",
                    self.name,
                    timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.done = true;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.done && self.stop(libc::SIGINT, Duration::from_secs(5)).is_err() {
            self.kill();
        }
    }
}

/// Runs `command` to completion and returns its stdout; the error names the command and
/// quotes the first line of its stderr.
pub fn output(what: &str, command: &mut Command) -> Result<(String, String)> {
    check_interrupted()?;
    eprintln!("+ {}", cmd::display(command));
    let out = command.stdin(Stdio::null()).output().with_context(|| format!("cannot start {what}"))?;
    check_interrupted()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(anyhow!("{what} failed ({}): {first}", out.status));
    }
    Ok((stdout, stderr))
}

/// utime + stime of `pid` in seconds, from /proc/PID/stat.
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| (utime + stime) / hz as f64)
}

/// CPU time the hypervisor took from this VM so far, all CPUs, in seconds: the
/// `steal` column of /proc/stat's `cpu` line (proc(5)). A vCPU descheduled by the
/// host for tens of ms stalls the collector as surely as a busy CPU does.
pub fn steal_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    // cpu user nice system idle iowait irq softirq steal ...
    let steal: f64 = cpu.split_whitespace().nth(8)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| steal / hz as f64)
}

/// A `Vm*` line of /proc/PID/status (e.g. "VmHWM") in bytes.
pub fn vm_bytes(pid: i32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(&format!("{key}:")))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resident bytes of the BPF maps `pid` has mapped (a ring buffer's pages count as its
/// RssFile once touched), from /proc/PID/smaps.
pub fn bpf_map_rss(pid: i32) -> Option<u64> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut in_map = false;
    let mut kb = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            in_map = line.contains("anon_inode:bpf-map");
        } else if in_map && first == "Rss:" {
            kb += line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
        }
    }
    Some(kb * 1024)
}

/// Sets a sysctl for as long as the guard lives, then restores the old value.
pub struct Sysctl {
    path: PathBuf,
    old: String,
}

impl Sysctl {
    pub fn set(name: &str, value: &str) -> Result<Sysctl> {
        let path = PathBuf::from("/proc/sys").join(name.replace('.', "/"));
        let old = std::fs::read_to_string(&path).with_context(|| format!("cannot read sysctl {name}"))?;
        std::fs::write(&path, value).with_context(|| format!("cannot set sysctl {name}={value}"))?;
        eprintln!("bench: sysctl {name}={value} (was {})", old.trim());
        Ok(Sysctl { path, old: old.trim().to_owned() })
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(&self.path, &self.old) {
            eprintln!("bench: could not restore {} to {}: {e}", self.path.display(), self.old);
        }
    }
}
