//! Per-program BPF run time of fdwatch's programs during a W1 run, from the kernel's own
//! accounting (kernel.bpf_stats_enabled=1, restored after; `bpftool prog show --json`).
//! It is a separate, unmeasured run: the accounting itself adds time to every program run.

use std::collections::HashSet;
use std::process::Command;

use anyhow::Context as _;

use serde_json::Value;

use super::collector::FdWatch;
use super::measure::Ctx;
use super::procs::{self, Sysctl};
use super::workloads::{self, Workload};
use crate::cmd::Result;

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
    let before: HashSet<u64> = progs()?.iter().filter_map(|p| p["id"].as_u64()).collect();
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
        let Some(id) = p["id"].as_u64() else { continue };
        if before.contains(&id) || p["type"] != "tracing" {
            continue;
        }
        let old = start.iter().find(|q| q["id"].as_u64() == Some(id));
        let field = |v: Option<&Value>, k: &str| v.and_then(|v| v[k].as_u64()).unwrap_or(0);
        out.push(ProgStat {
            name: p["name"].as_str().unwrap_or("?").to_owned(),
            run_cnt: field(Some(&p), "run_cnt") - field(old, "run_cnt"),
            run_time_ns: field(Some(&p), "run_time_ns") - field(old, "run_time_ns"),
        });
    }
    Ok(out)
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
