//! Running a workload under each variant (untraced, fdwatch, a peer, an empty hook) in
//! alternating rounds, and the medians.

use std::path::PathBuf;

use super::collector::{FdWatch, Mode, Stopped};
use super::peers::{self, Peers};
use super::procs::{self, Proc};
use super::workloads::{self, Bins, Outcome, Workload};
use crate::cmd::Result;

pub struct Ctx {
    pub bins: Bins,
    pub fdwatch: PathBuf,
    pub peers: Peers,
    /// Scratch directory for output files (removed after each run).
    pub dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Variant {
    Untraced,
    /// fdwatch system-wide, `--json --events` to a file.
    FdWatch,
    /// fdwatch system-wide in agent mode: `--json` (alerts and stats) to a file.
    FdWatchAgent,
    BpftracePrint,
    PerfTrace,
    Strace,
    /// bpftrace `tracepoint:raw_syscalls:sys_exit {}`
    EmptyRawSyscalls,
    /// bench/emptyprog raw (BPF_PROG_TYPE_RAW_TRACEPOINT on sys_exit)
    EmptyRawTp,
    /// bench/emptyprog btf (tp_btf on sys_exit, fdwatch's hook type)
    EmptyTpBtf,
    /// bpftrace `tracepoint:syscalls:sys_exit_dup2 {}` (classic per-syscall tracepoint)
    EmptyClassic,
}

impl Variant {
    pub fn label(self) -> &'static str {
        match self {
            Variant::Untraced => "untraced",
            Variant::FdWatch => "fdwatch --json --events > file (system-wide)",
            Variant::FdWatchAgent => "fdwatch agent mode: --json (alerts) > file (system-wide)",
            Variant::BpftracePrint => "bpftrace, printf per dup2/close exit",
            Variant::PerfTrace => "perf trace -e dup2,close",
            Variant::Strace => "strace -f",
            Variant::EmptyRawSyscalls => "bpftrace `tracepoint:raw_syscalls:sys_exit {}`",
            Variant::EmptyRawTp => "empty raw_tracepoint on sys_exit (bench/emptyprog raw)",
            Variant::EmptyTpBtf => "empty tp_btf on sys_exit (bench/emptyprog btf)",
            Variant::EmptyClassic => "bpftrace `tracepoint:syscalls:sys_exit_dup2 {}`",
        }
    }

    /// Slow tracers run fewer iterations (the result is per iteration anyway), so a
    /// round stays within seconds: here bpftrace printing is ~40x, perf trace ~100x.
    pub fn divisor(self) -> u64 {
        match self {
            Variant::Strace => 50,
            Variant::PerfTrace => 20,
            Variant::BpftracePrint => 10,
            _ => 1,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// ns per iteration, or operations per second.
    pub value: f64,
    /// Events the tracer delivered for the workload's syscalls.
    pub events: Option<u64>,
    /// Events the workload produced (2 per dup2/close iteration).
    pub expected: Option<u64>,
    pub lost: Option<u64>,
    /// fdwatch: CPU seconds (user + sys) per million events, all events of the run.
    pub cpu_per_mevent: Option<f64>,
}

impl Sample {
    pub fn plain(w: &Workload, o: Outcome) -> Sample {
        Sample { value: o.metric(w), ..Sample::default() }
    }

    pub fn traced(w: &Workload, o: Outcome, events: u64, lost: u64) -> Sample {
        Sample {
            value: o.metric(w),
            events: Some(events),
            expected: expected_events(w, o),
            lost: Some(lost),
            cpu_per_mevent: None,
        }
    }
}

fn expected_events(w: &Workload, o: Outcome) -> Option<u64> {
    matches!(w, Workload::Dup2Close(_) | Workload::Rate(..)).then_some(2 * o.iters)
}

pub fn sample(ctx: &Ctx, v: Variant, w: Workload) -> Result<Sample> {
    let w = w.scaled_down(v.divisor());
    match v {
        Variant::Untraced => {
            let (o, _) = workloads::run("workload", &mut w.command(&ctx.bins))?;
            Ok(Sample::plain(&w, o))
        }
        Variant::FdWatch => under_fdwatch(ctx, w, Mode::Events),
        Variant::FdWatchAgent => under_fdwatch(ctx, w, Mode::Agent),
        Variant::BpftracePrint => peers::bpftrace_print(ctx, w),
        Variant::PerfTrace => peers::perf_trace(ctx, w),
        Variant::Strace => peers::strace(ctx, w),
        Variant::EmptyRawSyscalls => peers::bpftrace_empty(ctx, "tracepoint:raw_syscalls:sys_exit", w),
        Variant::EmptyClassic => peers::bpftrace_empty(ctx, "tracepoint:syscalls:sys_exit_dup2", w),
        Variant::EmptyRawTp => peers::empty_prog(ctx, false, w),
        Variant::EmptyTpBtf => peers::empty_prog(ctx, true, w),
    }
}

fn under_fdwatch(ctx: &Ctx, w: Workload, mode: Mode) -> Result<Sample> {
    let fw = FdWatch::start_mode(&ctx.fdwatch, &ctx.dir, mode)?;
    let run = workloads::run("workload", &mut w.command(&ctx.bins));
    fw.settle()?;
    let stopped = fw.stop()?;
    let (o, _) = run?;
    let mut s = Sample::traced(&w, o, stopped.events_of(w.kinds()), stopped.lost());
    let events = stopped.events().max(1) as f64;
    s.cpu_per_mevent = Some(stopped.cpu_s / events * 1e6);
    Ok(s)
}

/// Something attached while a workload runs that is not a command wrapped around it:
/// fdwatch, or an empty program on fdwatch's hook (the floor). Started before the
/// workload, stopped after.
pub enum Tracer {
    None,
    Empty(Proc),
    FdWatch(FdWatch),
}

impl Tracer {
    /// `Untraced`, `EmptyTpBtf`, `EmptyRawTp`, `FdWatch` and `FdWatchAgent`; the peers
    /// wrap their workload (`-c`, `--`) and have no such form.
    pub fn start(ctx: &Ctx, v: Variant) -> Result<Tracer> {
        Ok(match v {
            Variant::Untraced => Tracer::None,
            Variant::EmptyTpBtf => Tracer::Empty(peers::attach_empty(ctx, true)?),
            Variant::EmptyRawTp => Tracer::Empty(peers::attach_empty(ctx, false)?),
            Variant::FdWatch => Tracer::FdWatch(FdWatch::start_mode(&ctx.fdwatch, &ctx.dir, Mode::Events)?),
            Variant::FdWatchAgent => Tracer::FdWatch(FdWatch::start_mode(&ctx.fdwatch, &ctx.dir, Mode::Agent)?),
            other => return Err(anyhow::anyhow!("{} cannot run beside a workload", other.label())),
        })
    }

    /// Detach; for fdwatch, once it caught up, its final stats and CPU.
    pub fn stop(self) -> Result<Option<Stopped>> {
        match self {
            Tracer::None => Ok(None),
            Tracer::Empty(mut prog) => {
                prog.stop(libc::SIGINT, std::time::Duration::from_secs(5))?;
                Ok(None)
            }
            Tracer::FdWatch(fw) => {
                fw.settle()?;
                fw.stop().map(Some)
            }
        }
    }
}

/// One variant's samples over the rounds, or the error that stopped it.
pub struct Row {
    pub variant: Variant,
    pub samples: Vec<Sample>,
    pub error: Option<String>,
}

impl Row {
    pub fn median(&self) -> Option<f64> {
        median(self.samples.iter().map(|s| s.value).collect())
    }

    pub fn median_of(&self, f: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
        median(self.samples.iter().filter_map(f).collect())
    }

    pub fn max_lost(&self) -> Option<u64> {
        self.samples.iter().filter_map(|s| s.lost).max()
    }
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// `rounds` rounds; each runs every variant once, starting one further along each round
/// (A B C, B C A, C A B, ...) so no variant always follows the same one. A variant that
/// fails is reported with its error and skipped afterwards; Ctrl-C stops everything.
pub fn alternate(ctx: &Ctx, title: &str, variants: &[Variant], w: Workload, rounds: usize) -> Result<Vec<Row>> {
    let mut rows: Vec<Row> =
        variants.iter().map(|&variant| Row { variant, samples: Vec::new(), error: None }).collect();
    for round in 0..rounds {
        for k in 0..rows.len() {
            let row = &mut rows[(k + round) % variants.len()];
            if row.error.is_some() {
                continue;
            }
            match sample(ctx, row.variant, w) {
                Ok(s) => {
                    eprintln!(
                        "bench: {title} round {}/{rounds}: {}: {}{}",
                        round + 1,
                        row.variant.label(),
                        show(&w, s.value),
                        s.lost.map(|l| format!(", lost {l}")).unwrap_or_default()
                    );
                    row.samples.push(s);
                }
                Err(e) => {
                    procs::check_interrupted()?;
                    eprintln!("bench: {title}: {}: {e:#}", row.variant.label());
                    row.error = Some(format!("{e:#}"));
                }
            }
        }
    }
    Ok(rows)
}

pub fn show(w: &Workload, value: f64) -> String {
    if w.per_iteration() { format!("{value:.0} ns/iter") } else { format!("{value:.0} ops/s") }
}
