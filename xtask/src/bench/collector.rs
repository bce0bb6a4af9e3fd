//! Running fdwatch the way a host agent would (system-wide, stdout to a file): with every
//! event written (`--json --events`), or in agent mode (`--json`: alerts and stats only);
//! reading its `ready` and `stats` records, and its CPU and memory from /proc.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};

use serde_json::Value;

use super::procs::{self, Proc};
use crate::cmd::Result;

/// What fdwatch writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--json --events`: every event, as a record.
    Events,
    /// `--json`: agent mode, alerts and stats only.
    Agent,
}

impl Mode {
    fn args(self) -> &'static [&'static str] {
        match self {
            Mode::Events => &["--json", "--events"],
            Mode::Agent => &["--json"],
        }
    }
}

pub struct FdWatch {
    proc: Proc,
    out: PathBuf,
    err: PathBuf,
    /// The `ready` record.
    pub ready: Value,
    /// From spawn to the `ready` record appearing in the output file (polled every ms).
    pub startup: Duration,
    cpu_at_ready: f64,
}

pub struct Stopped {
    pub stats: Value,
    /// CPU seconds (user + sys) from `ready` until the output stopped growing.
    pub cpu_s: f64,
}

impl Stopped {
    pub fn lost(&self) -> u64 {
        self.stats["kernel_lost"].as_u64().unwrap_or(0) + self.stats["userspace_lost"].as_u64().unwrap_or(0)
    }

    pub fn events(&self) -> u64 {
        self.stats["events"].as_u64().unwrap_or(0)
    }

    /// Events of these syscalls (by_kind), e.g. the workload's dup2 and close.
    pub fn events_of(&self, kinds: &[&str]) -> u64 {
        kinds.iter().filter_map(|&k| self.stats["by_kind"][k].as_u64()).sum()
    }
}

impl FdWatch {
    /// `--json --events`.
    pub fn start(bin: &Path, dir: &Path) -> Result<FdWatch> {
        Self::start_mode(bin, dir, Mode::Events)
    }

    pub fn start_mode(bin: &Path, dir: &Path, mode: Mode) -> Result<FdWatch> {
        let out = dir.join("fdwatch.out");
        let err = dir.join("fdwatch.err");
        let create = |p: &Path| File::create(p).with_context(|| format!("cannot create {}", p.display()));
        let mut command = Command::new(bin);
        command.args(mode.args()).stdout(create(&out)?).stderr(create(&err)?);
        let t0 = Instant::now();
        let mut proc = Proc::spawn("fdwatch", &mut command)?;
        let end = t0 + Duration::from_secs(120);
        let ready = loop {
            procs::check_interrupted()?;
            if let Some(line) = first_line(&out) {
                break line;
            }
            if proc.try_wait()?.is_some() {
                let msg = std::fs::read_to_string(&err).unwrap_or_default();
                let msg = msg.lines().next().unwrap_or("no message");
                return Err(anyhow!("fdwatch exited before ready: {msg}"));
            }
            if Instant::now() > end {
                return Err(anyhow!("fdwatch printed no ready record within 120 s"));
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let startup = t0.elapsed();
        let ready = serde_json::from_str::<Value>(&ready)
            .ok()
            .filter(|r| r["type"] == "ready")
            .ok_or_else(|| anyhow!("fdwatch's first line is not a ready record: {ready}"))?;
        let cpu_at_ready = procs::cpu_seconds(proc.pid()).unwrap_or(0.0);
        Ok(FdWatch { proc, out, err, ready, startup, cpu_at_ready })
    }

    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    pub fn vm_bytes(&self, key: &str) -> Result<u64> {
        procs::vm_bytes(self.pid(), key).ok_or_else(|| anyhow!("cannot read {key} of fdwatch from /proc"))
    }

    /// Waits until the output file has not grown for 200 ms (the collector caught up with
    /// the ring buffer), at most 60 s.
    pub fn settle(&self) -> Result<()> {
        let size = || std::fs::metadata(&self.out).map(|m| m.len()).unwrap_or(0);
        let end = Instant::now() + Duration::from_secs(60);
        let mut last = size();
        loop {
            procs::sleep(Duration::from_millis(200))?;
            let now = size();
            if now == last || Instant::now() > end {
                return Ok(());
            }
            last = now;
        }
    }

    /// SIGINT, wait for the exit, read the final `stats` record; removes the output files.
    pub fn stop(mut self) -> Result<Stopped> {
        let cpu_s = procs::cpu_seconds(self.pid()).unwrap_or(0.0) - self.cpu_at_ready;
        let status = self.proc.stop(libc::SIGINT, Duration::from_secs(120))?;
        let stats = last_stats(&self.out);
        let err = std::fs::read_to_string(&self.err).unwrap_or_default();
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
        if !status.success() {
            let msg = err.lines().next().unwrap_or("no message");
            return Err(anyhow!("fdwatch exited with {status}: {msg}"));
        }
        let stats = stats.ok_or_else(|| anyhow!("fdwatch stopped without a stats record"))?;
        Ok(Stopped { stats, cpu_s })
    }
}

fn first_line(path: &Path) -> Option<String> {
    let mut buf = vec![0; 64 * 1024];
    let n = File::open(path).ok()?.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.find('\n').map(|i| text[..i].to_owned())
}

/// The last `stats` record of an output file that may be gigabytes long: only its tail is read.
fn last_stats(path: &Path) -> Option<Value> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(1 << 20))).ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    String::from_utf8_lossy(&tail)
        .lines()
        .rev()
        .filter(|l| l.contains("\"stats\""))
        .find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v["type"] == "stats"))
}
