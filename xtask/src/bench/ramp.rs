//! Rate ramp: dup2/close producers paced at rising event rates, then unpaced with one and
//! two producer processes, each step under a fresh fdwatch; what it delivered and lost.

use anyhow::anyhow;

use super::collector::FdWatch;
use super::measure::Ctx;
use super::procs;
use super::workloads::{self, Workload};
use crate::cmd::Result;

pub struct Step {
    pub producers: u64,
    /// Events/s asked for in total; `None` = as fast as the producers go.
    pub target: Option<u64>,
    pub outcome: std::result::Result<StepOutcome, String>,
}

pub struct StepOutcome {
    /// Events/s the producers made (2 per iteration, over the longest producer's time).
    pub achieved: f64,
    /// dup2 + close events fdwatch delivered.
    pub delivered: u64,
    pub produced: u64,
    pub lost: u64,
    /// fdwatch's CPU (user + sys) per event it delivered, microseconds.
    pub cpu_us_per_event: f64,
    /// CPU time the hypervisor took from the VM during the step (both vCPUs), seconds.
    pub steal_s: Option<f64>,
}

pub fn ramp(ctx: &Ctx, ms: u64) -> Result<Vec<Step>> {
    let mut plan: Vec<(u64, Option<u64>)> =
        [100_000, 250_000, 500_000, 750_000, 1_000_000].iter().map(|&r| (1, Some(r))).collect();
    plan.extend([1_000_000, 1_500_000, 2_000_000].iter().map(|&r| (2, Some(r))));
    plan.extend([(1, None), (2, None)]);
    let mut steps = Vec::new();
    for (producers, target) in plan {
        let outcome = step(ctx, producers, target, ms);
        procs::check_interrupted()?;
        match &outcome {
            Ok(o) => eprintln!(
                "bench: rate ramp {producers} producer(s) at {}: {:.0} events/s, lost {}, stolen by the host {} ms",
                target.map_or("max".to_owned(), |t| t.to_string()),
                o.achieved,
                o.lost,
                o.steal_s.map_or("?".to_owned(), |s| format!("{:.0}", s * 1e3))
            ),
            Err(e) => eprintln!("bench: rate ramp step failed: {e:#}"),
        }
        steps.push(Step { producers, target, outcome: outcome.map_err(|e| format!("{e:#}")) });
    }
    Ok(steps)
}

fn step(ctx: &Ctx, producers: u64, target: Option<u64>, ms: u64) -> Result<StepOutcome> {
    let w = Workload::Rate(target.unwrap_or(0) / producers, ms);
    let fw = FdWatch::start(&ctx.fdwatch, &ctx.dir)?;
    let steal_before = procs::steal_seconds();
    let runs: Vec<Result<workloads::Outcome>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|_| s.spawn(|| workloads::run("producer", &mut w.command(&ctx.bins)).map(|r| r.0)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("producer thread panicked")))).collect()
    });
    fw.settle()?;
    let steal_s = procs::steal_seconds().zip(steal_before).map(|(after, before)| after - before);
    let stopped = fw.stop()?;
    let mut produced = 0;
    let mut longest = 1;
    for run in runs {
        let o = run?;
        produced += 2 * o.iters;
        longest = longest.max(o.ns);
    }
    Ok(StepOutcome {
        achieved: produced as f64 * 1e9 / longest as f64,
        delivered: stopped.events_of(w.kinds()),
        produced,
        lost: stopped.lost(),
        cpu_us_per_event: stopped.cpu_s * 1e6 / stopped.events().max(1) as f64,
        steal_s,
    })
}

/// The lowest paced rate (target, events/s) at which a step lost events or failed.
pub fn first_lossy_target(steps: &[Step]) -> Option<u64> {
    steps.iter().filter(|s| s.outcome.as_ref().map_or(true, |o| o.lost > 0)).filter_map(|s| s.target).min()
}

/// The step with zero loss at the highest achieved rate.
pub fn highest_lossless(steps: &[Step]) -> Option<&StepOutcome> {
    steps
        .iter()
        .filter_map(|s| s.outcome.as_ref().ok())
        .filter(|o| o.lost == 0)
        .max_by(|a, b| a.achieved.total_cmp(&b.achieved))
}
