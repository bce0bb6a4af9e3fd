//! Per-program BPF run time of fdwatch's programs during a W1 run, from the kernel's own
//! accounting (kernel.bpf_stats_enabled=1, restored after; `bpftool prog show --json`).
//! It is a separate, unmeasured run: the accounting itself adds time to every program run.

use std::collections::HashSet;
use std::process::Command;

use super::collector::FdWatch;
use super::json::{self, Value};
use super::measure::Ctx;
use super::procs::{self, Sysctl};
use super::workloads::{self, Workload};
use crate::cmd::{Fail, Result};

pub struct ProgStat {
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

impl ProgStat {
    pub fn ns_per_run(&self) -> f64 {
        self.run_time_ns as f64 / self.run_cnt.max(1) as f64
    }
}

pub fn measure(ctx: &Ctx, w: Workload) -> Result<Vec<ProgStat>> {
    let before: HashSet<u64> = progs()?.iter().filter_map(|p| p.u64("id")).collect();
    let _stats = Sysctl::set("kernel.bpf_stats_enabled", "1")?;
    let fw = FdWatch::start(&ctx.fdwatch, &ctx.dir)?;
    let start = progs()?;
    let run = workloads::run("workload", &mut w.command(&ctx.bins));
    fw.settle()?;
    let end = progs()?;
    fw.stop()?;
    run?;
    let mut out = Vec::new();
    for p in end {
        let Some(id) = p.u64("id") else { continue };
        if before.contains(&id) || p.str("type") != Some("tracing") {
            continue;
        }
        let old = start.iter().find(|q| q.u64("id") == Some(id));
        let field = |v: Option<&Value>, k: &str| v.and_then(|v| v.u64(k)).unwrap_or(0);
        out.push(ProgStat {
            name: p.str("name").unwrap_or("?").to_owned(),
            run_cnt: field(Some(&p), "run_cnt") - field(old, "run_cnt"),
            run_time_ns: field(Some(&p), "run_time_ns") - field(old, "run_time_ns"),
        });
    }
    Ok(out)
}

fn progs() -> Result<Vec<Value>> {
    let (stdout, _) = procs::output("bpftool prog show", Command::new("bpftool").args(["prog", "show", "--json"]))?;
    json::parse(&stdout)
        .map(|v| v.items().to_vec())
        .ok_or_else(|| Fail("bpftool prog show --json printed something that is not JSON".into()))
}
