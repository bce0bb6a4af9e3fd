//! Per-program BPF run time during W1 runs, from the kernel's own accounting
//! (kernel.bpf_stats_enabled=1, restored after; `bpftool prog show --json`): fdwatch's
//! programs with every event written and in agent mode, and the empty tp_btf program
//! on sys_exit, the floor. sys_exit's ns per run minus the floor's is fdwatch's own cost
//! per traced syscall in the program. Separate, unmeasured runs: the accounting itself
//! adds two clock reads to every program run (the floor includes them).
//!
//! A program is ours when the process we started holds it (a prog_id line in
//! /proc/PID/fdinfo, for its program or link fds): other tracers, or other fdwatch
//! instances, may load programs of the same names meanwhile.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use serde_json::Value;

use super::collector::{FdWatch, Mode};
use super::measure::Ctx;
use super::peers;
use super::procs::{self, Sysctl};
use super::workloads::{self, Workload};
use crate::cmd::Result;

pub struct ProgStat {
    /// Which run: fdwatch's mode, or the floor.
    pub run: &'static str,
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

impl ProgStat {
    pub fn ns_per_run(&self) -> f64 {
        self.run_time_ns as f64 / self.run_cnt.max(1) as f64
    }
}

pub const EVENTS_RUN: &str = "fdwatch --json --events";
pub const AGENT_RUN: &str = "fdwatch agent mode";
pub const FLOOR_RUN: &str = "empty tp_btf on sys_exit";

pub fn measure(ctx: &Ctx, w: Workload) -> Result<Vec<ProgStat>> {
    let _stats = Sysctl::set("kernel.bpf_stats_enabled", "1")?;
    let mut out = Vec::new();
    for (run, mode) in [(EVENTS_RUN, Mode::Events), (AGENT_RUN, Mode::Agent)] {
        let fw = FdWatch::start_mode(&ctx.fdwatch, &ctx.dir, mode)?;
        let ids = prog_ids(fw.pid());
        let start = progs()?;
        let result = workloads::run("workload", &mut w.command(&ctx.bins));
        // Before the collector drains: the programs ran at the workload's syscalls, and
        // the host's other syscalls meanwhile would only dilute the count.
        let end = progs()?;
        fw.settle()?;
        fw.stop()?;
        result?;
        out.extend(deltas(run, &ids, &start, &end));
    }
    let mut floor = peers::attach_empty(ctx, true)?;
    let ids = prog_ids(floor.pid());
    let start = progs()?;
    let result = workloads::run("workload", &mut w.command(&ctx.bins));
    let end = progs()?;
    floor.stop(libc::SIGINT, Duration::from_secs(5))?;
    result?;
    out.extend(deltas(FLOOR_RUN, &ids, &start, &end));
    Ok(out)
}

/// sys_exit's ns per run in `run` minus the floor's: fdwatch's own work per syscall
/// of the W1 loop (nearly every sys_exit run of the run is one of its traced calls).
pub fn above_floor(progs: &[ProgStat], run: &str) -> Option<f64> {
    let of = |run: &str, name: &str| progs.iter().find(|p| p.run == run && p.name == name).map(ProgStat::ns_per_run);
    Some(of(run, "sys_exit")? - of(FLOOR_RUN, "bench_empty")?)
}

fn deltas(run: &'static str, ids: &HashSet<u64>, start: &[Value], end: &[Value]) -> Vec<ProgStat> {
    let field = |v: Option<&Value>, k: &str| v.and_then(|v| v[k].as_u64()).unwrap_or(0);
    end.iter()
        .filter_map(|p| {
            let id = p["id"].as_u64().filter(|id| ids.contains(id))?;
            let old = start.iter().find(|q| q["id"].as_u64() == Some(id));
            Some(ProgStat {
                run,
                name: p["name"].as_str().unwrap_or("?").to_owned(),
                run_cnt: field(Some(p), "run_cnt").saturating_sub(field(old, "run_cnt")),
                run_time_ns: field(Some(p), "run_time_ns").saturating_sub(field(old, "run_time_ns")),
            })
        })
        .collect()
}

/// The BPF programs `pid` holds, through program or link fds (proc_pid_fdinfo(5)
/// prints `prog_id:` for both).
fn prog_ids(pid: i32) -> HashSet<u64> {
    let dir = format!("/proc/{pid}/fdinfo");
    let Ok(entries) = std::fs::read_dir(&dir) else { return HashSet::new() };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .flat_map(|info| {
            info.lines()
                .filter_map(|l| l.strip_prefix("prog_id:").and_then(|id| id.trim().parse().ok()))
                .collect::<Vec<u64>>()
        })
        .collect()
}

fn progs() -> Result<Vec<Value>> {
    let (stdout, _) = procs::output("bpftool prog show", Command::new("bpftool").args(["prog", "show", "--json"]))?;
    let progs: Value =
        serde_json::from_str(&stdout).context("bpftool prog show --json printed something that is not JSON")?;
    Ok(match progs {
        Value::Array(progs) => progs,
        _ => Vec::new(),
    })
}
