//! The C workloads in bench/: compiled with gcc into the bench's scratch directory, and
//! the command line and result of each workload.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::anyhow;

use crate::cmd::{self, Result};

pub struct Bins {
    pub loops: PathBuf,
    pub tiny: PathBuf,
    pub emptyprog: PathBuf,
}

pub fn compile(src: &Path, out: &Path) -> Result<Bins> {
    eprintln!("bench: compiling the workloads in {}", src.display());
    let bins = Bins { loops: out.join("loops"), tiny: out.join("tiny"), emptyprog: out.join("emptyprog") };
    let gcc = |source: &str, bin: &Path, extra: &[&str]| {
        cmd::run(Command::new("gcc").args(["-O2", "-Wall"]).args(extra).arg("-o").arg(bin).arg(src.join(source)))
    };
    gcc("loops.c", &bins.loops, &[])?;
    // Static: exec of the tiny program costs a fork+exec, not a dynamic loader.
    gcc("tiny.c", &bins.tiny, &["-static"])?;
    gcc("emptyprog.c", &bins.emptyprog, &[])?;
    Ok(bins)
}

#[derive(Clone, Copy, Debug)]
pub enum Workload {
    /// N x { dup2(1, 100); close(100) }
    Dup2Close(u64),
    /// N x getppid()
    Getppid(u64),
    /// N x { write(a, 1 byte); recvmsg(b) with a control buffer and no fds }
    Recvmsg(u64),
    /// fork + exec + exit of the tiny program, for this many ms
    Fork(u64),
    /// pipe2 + 2 x close, for this many ms
    Pipe(u64),
    /// loopback TCP socket + connect + accept + 2 x close, for this many ms
    Tcp(u64),
    /// dup2/close pairs at this many events/s (0: as fast as possible), for this many ms
    Rate(u64, u64),
}

impl Workload {
    pub fn args(&self, bins: &Bins) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        match *self {
            Workload::Dup2Close(n) => s(&["dup2close", &n.to_string()]),
            Workload::Getppid(n) => s(&["getppid", &n.to_string()]),
            Workload::Recvmsg(n) => s(&["recvmsg", &n.to_string()]),
            Workload::Fork(ms) => s(&["churn", "fork", &ms.to_string(), &bins.tiny.to_string_lossy()]),
            Workload::Pipe(ms) => s(&["churn", "pipe", &ms.to_string()]),
            Workload::Tcp(ms) => s(&["churn", "tcp", &ms.to_string()]),
            Workload::Rate(rate, ms) => s(&["rate", &rate.to_string(), &ms.to_string()]),
        }
    }

    pub fn command(&self, bins: &Bins) -> Command {
        let mut c = Command::new(&bins.loops);
        c.args(self.args(bins));
        c
    }

    /// The whole command line as one string (bpftrace -c takes it so).
    pub fn command_line(&self, bins: &Bins) -> String {
        let mut words = vec![bins.loops.to_string_lossy().into_owned()];
        words.extend(self.args(bins));
        words.join(" ")
    }

    /// The same workload with 1/`divisor` of the iterations (slow tracers: strace).
    pub fn scaled_down(self, divisor: u64) -> Workload {
        match self {
            Workload::Dup2Close(n) => Workload::Dup2Close((n / divisor).max(1000)),
            Workload::Getppid(n) => Workload::Getppid((n / divisor).max(1000)),
            Workload::Recvmsg(n) => Workload::Recvmsg((n / divisor).max(1000)),
            other => other,
        }
    }

    /// Whether the result is a time per iteration (lower is better) or a rate of operations.
    pub fn per_iteration(&self) -> bool {
        matches!(self, Workload::Dup2Close(_) | Workload::Getppid(_) | Workload::Recvmsg(_))
    }

    /// fdwatch events each iteration produces, for the kinds in `kinds()`.
    pub fn kinds(&self) -> &'static [&'static str] {
        match self {
            Workload::Dup2Close(_) | Workload::Rate(..) => &["dup2", "close"],
            // recvmsg without fds makes no event.
            Workload::Getppid(_) | Workload::Recvmsg(_) => &[],
            Workload::Fork(_) => &["fork", "exec", "exit"],
            Workload::Pipe(_) => &["pipe2", "close"],
            Workload::Tcp(_) => &["socket", "connect", "accept", "accept4", "close"],
        }
    }
}

/// What a workload prints: `iters=N ns=T` (T covers the measured loop only).
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    pub iters: u64,
    pub ns: u64,
}

impl Outcome {
    pub fn parse(stdout: &str) -> Option<Outcome> {
        let line = stdout.lines().find(|l| l.starts_with("iters="))?;
        let mut it = line.split_whitespace();
        let iters = it.next()?.strip_prefix("iters=")?.parse().ok()?;
        let ns = it.next()?.strip_prefix("ns=")?.parse().ok()?;
        Some(Outcome { iters, ns })
    }

    /// ns per iteration or operations per second, as `Workload::per_iteration` says.
    pub fn metric(&self, w: &Workload) -> f64 {
        if w.per_iteration() {
            self.ns as f64 / self.iters.max(1) as f64
        } else {
            self.iters as f64 * 1e9 / self.ns.max(1) as f64
        }
    }
}

/// Runs `command` to completion and parses its result line.
pub fn run(what: &str, command: &mut Command) -> Result<(Outcome, String)> {
    let (stdout, stderr) = super::procs::output(what, command)?;
    let outcome = Outcome::parse(&stdout).ok_or_else(|| anyhow!("{what} printed no result line (iters=N ns=T)"))?;
    Ok((outcome, stderr))
}
