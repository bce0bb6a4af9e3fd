//! `cargo xtask bench [--quick] [--rounds N]`: fdwatch's overhead side by side with the
//! tools people would use instead, on this machine, written to BENCHMARKS.md (issue 5).
//!
//! Order: setup and release build, peers and servers (installed if missing), the C
//! workloads in bench/, then W1 (traced loop), W2 (bystander), W3 (churn), the real
//! servers (redis, nginx), the rate ramp, fdwatch's footprint, the hook floor and
//! per-program BPF run time; then the report.

mod bpfstats;
mod collector;
mod footprint;
mod measure;
mod peers;
mod procs;
mod quiet;
mod ramp;
mod report;
mod servers;
mod workloads;

use std::ffi::OsString;

use anyhow::{Context as _, anyhow};

use crate::cmd::{self, Result};
use crate::{setup, workspace};
use measure::{Ctx, Row, Variant};
use workloads::Workload;

pub struct Options {
    pub quick: bool,
    pub rounds: usize,
}

/// Sizes: each untraced W1/W2 round takes about 1-2 s in a full run.
pub struct Sizes {
    pub w1_iters: u64,
    pub w2_iters: u64,
    pub churn_ms: u64,
    pub ramp_ms: u64,
    pub starts: usize,
    pub servers: servers::Sizes,
}

pub struct Results {
    pub options: Options,
    pub sizes: Sizes,
    pub peers: Vec<(String, String)>,
    pub w1: Vec<Row>,
    pub w2: Vec<Row>,
    /// W2r: the recvmsg bystander.
    pub w2r: Vec<Row>,
    pub w3: Vec<(&'static str, Vec<Row>)>,
    pub servers: Vec<servers::Scenario>,
    pub ramp: Vec<ramp::Step>,
    pub footprint: std::result::Result<footprint::Footprint, String>,
    pub hooks_w1: Vec<Row>,
    pub hooks_w2: Vec<Row>,
    pub progs: std::result::Result<Vec<bpfstats::ProgStat>, String>,
    /// The same for W2: what fdwatch's program does at a syscall it does not trace.
    pub progs_w2: std::result::Result<Vec<bpfstats::ProgStat>, String>,
    /// Whether the kernel takes fexit and BPF LSM programs (peers::trampolines).
    pub trampolines: Vec<(&'static str, std::result::Result<(), String>)>,
    pub before: quiet::Snapshot,
    pub after: quiet::Snapshot,
}

fn parse(args: &[OsString]) -> Result<Options> {
    let mut options = Options { quick: false, rounds: 0 };
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--rounds" => {
                let n = it.next().unwrap_or_default();
                options.rounds = n
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n >= 1)
                    .ok_or_else(|| anyhow!("--rounds wants a number >= 1, not {n:?}"))?;
            }
            other => {
                return Err(anyhow!(
                    "unknown bench option {other:?} (usage: cargo xtask bench [--quick] [--rounds N])"
                ));
            }
        }
    }
    if options.rounds == 0 {
        options.rounds = if options.quick { 3 } else { 5 };
    }
    Ok(options)
}

pub fn bench(args: &[OsString]) -> Result<()> {
    let options = parse(args)?;
    if !cmd::is_root() {
        return Err(anyhow!("the bench loads eBPF programs and installs its peers: run `cargo xtask bench` as root"));
    }
    setup::setup()?;
    let built = workspace::build_fdwatch()?;
    let peers = peers::ensure()?;
    let root = workspace::root();
    let dir = root.join("target").join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bins = workloads::compile(&root.join("bench"), &dir)?;
    // A private copy: other work in this tree may rebuild target/release/fdwatch while the
    // bench runs, and every round must measure the same binary.
    let fdwatch = dir.join("fdwatch");
    std::fs::copy(&built, &fdwatch)
        .with_context(|| format!("cannot copy {} to {}", built.display(), fdwatch.display()))?;
    procs::catch_sigint();
    let sizes = if options.quick {
        Sizes {
            w1_iters: 300_000,
            w2_iters: 1_000_000,
            churn_ms: 500,
            ramp_ms: 1000,
            starts: 1,
            servers: servers::Sizes { wrk_secs: 2, redis_secs: 1.0 },
        }
    } else {
        Sizes {
            w1_iters: 2_000_000,
            w2_iters: 5_000_000,
            churn_ms: 2000,
            ramp_ms: 3000,
            starts: 3,
            servers: servers::Sizes { wrk_secs: 5, redis_secs: 2.5 },
        }
    };
    let ctx = Ctx { bins, fdwatch, peers, dir };
    let results = run_all(&ctx, options, sizes)?;
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, report::render(&results)).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

fn run_all(ctx: &Ctx, options: Options, sizes: Sizes) -> Result<Results> {
    let n = options.rounds;
    let before = quiet::snapshot();
    if !before.quiet() {
        eprintln!(
            "bench: warning: other tracers are running ({}); every round, untraced too, pays for them",
            before.tracers.iter().chain(&before.bpf_progs).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let w1 = Workload::Dup2Close(sizes.w1_iters);
    let w2 = Workload::Getppid(sizes.w2_iters);
    use Variant::*;
    // The floor and agent mode run in the same rounds as fdwatch --events, so the cost
    // above the floor per traced syscall is a difference within one alternation.
    let w1_rows = measure::alternate(
        ctx,
        "W1",
        &[Untraced, EmptyTpBtf, FdWatchAgent, FdWatch, BpftracePrint, PerfTrace, Strace],
        w1,
        n,
    )?;
    let w2_rows = measure::alternate(ctx, "W2", &[Untraced, EmptyTpBtf, FdWatchAgent, FdWatch], w2, n)?;
    // Half of W2's iterations: a recvmsg round trip costs several getppids.
    let w2r = Workload::Recvmsg(sizes.w2_iters / 2);
    let w2r_rows = measure::alternate(ctx, "W2r", &[Untraced, EmptyTpBtf, FdWatchAgent, FdWatch], w2r, n)?;
    let mut w3 = Vec::new();
    for (name, w) in [
        ("fork + exec + exit", Workload::Fork(sizes.churn_ms)),
        ("pipe2 + 2 close", Workload::Pipe(sizes.churn_ms)),
        ("loopback TCP connect + accept + 2 close", Workload::Tcp(sizes.churn_ms)),
    ] {
        w3.push((name, measure::alternate(ctx, "W3", &[Untraced, FdWatch], w, n)?));
    }
    let servers = servers::run(ctx, sizes.servers, n)?;
    let ramp = ramp::ramp(ctx, sizes.ramp_ms)?;
    let footprint = footprint::measure(ctx, sizes.starts);
    procs::check_interrupted()?;
    let hooks = [Untraced, EmptyRawSyscalls, EmptyRawTp, EmptyTpBtf, EmptyClassic];
    let hooks_w1 = measure::alternate(ctx, "hook floor W1", &hooks, w1, n)?;
    let hooks_w2 = measure::alternate(ctx, "hook floor W2", &hooks, w2, n)?;
    let progs = bpfstats::measure(ctx, w1);
    let progs_w2 = bpfstats::measure(ctx, w2);
    let trampolines = peers::trampolines(ctx);
    procs::check_interrupted()?;
    let after = quiet::snapshot_after();
    Ok(Results {
        options,
        sizes,
        peers: ctx.peers.versions.clone(),
        w1: w1_rows,
        w2: w2_rows,
        w2r: w2r_rows,
        w3,
        servers,
        ramp,
        footprint: footprint.map_err(|e| format!("{e:#}")),
        hooks_w1,
        hooks_w2,
        progs: progs.map_err(|e| format!("{e:#}")),
        progs_w2: progs_w2.map_err(|e| format!("{e:#}")),
        trampolines,
        before,
        after,
    })
}
