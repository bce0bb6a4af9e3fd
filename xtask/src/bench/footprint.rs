//! fdwatch's memory and startup: idle, and with ~100k fds held open by other processes
//! before it starts (the nofile hard limit is per process, so several holders).

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::anyhow;

use super::collector::FdWatch;
use super::measure::{Ctx, median};
use super::procs::{self, Proc};
use crate::cmd::Result;

pub const HOLDERS: u64 = 6;
pub const FDS_PER_HOLDER: u64 = 17_000;

pub struct Start {
    /// VmHWM after ~2 s running, bytes: the peak, startup included.
    pub hwm: f64,
    /// VmRSS after ~2 s running, bytes: what it holds once started.
    pub rss: f64,
    /// RssAnon (the heap: the fd model and buffers), bytes.
    pub anon: f64,
    /// Resident pages of mapped BPF maps (the ring buffer), bytes.
    pub bpf_maps: f64,
    /// spawn -> ready record, seconds.
    pub startup_s: f64,
    /// The ready record's scan_ns, in seconds.
    pub scan_s: f64,
    /// The ready record's fds.
    pub fds: f64,
}

pub struct Footprint {
    pub idle: Start,
    pub loaded: Start,
    pub held: u64,
    pub starts: usize,
    /// The same fds opened while fdwatch runs (each with its creating syscall as
    /// provenance), then released.
    pub live: Live,
}

/// fdwatch's VmRSS, bytes, around ~100k fds opened and closed while it runs.
pub struct Live {
    pub before: f64,
    pub with: f64,
    /// After the holders exited and one `heap::TRIM_EVERY` passed.
    pub after: f64,
}

impl Live {
    pub fn bytes_per_fd(&self, held: u64) -> f64 {
        (self.with - self.before) / held as f64
    }
}

impl Footprint {
    /// Resident bytes held per tracked fd, once started (the peak mixes in startup's
    /// transient parse of the kernel's BTF, which fdwatch returns to the kernel).
    pub fn bytes_per_fd(&self) -> f64 {
        (self.loaded.rss - self.idle.rss) / (self.loaded.fds - self.idle.fds).max(1.0)
    }
}

pub fn measure(ctx: &Ctx, starts: usize) -> Result<Footprint> {
    let idle = starts_median(ctx, starts, "idle")?;
    let holders = hold(ctx)?;
    let loaded = starts_median(ctx, starts, "with 100k fds held")?;
    release(holders)?;
    let live = opened_live(ctx)?;
    Ok(Footprint { idle, loaded, held: HOLDERS * FDS_PER_HOLDER, starts, live })
}

/// Start the holders; back once every one holds its fds.
fn hold(ctx: &Ctx) -> Result<Vec<Proc>> {
    let mut holders = Vec::new();
    for _ in 0..HOLDERS {
        let mut command = Command::new(&ctx.bins.loops);
        command.args(["hold", &FDS_PER_HOLDER.to_string()]).stdout(Stdio::piped());
        let mut holder = Proc::spawn("fd holder", &mut command)?;
        let line = holder.first_line(Duration::from_secs(30))?;
        if !line.starts_with("holding") {
            return Err(anyhow!("fd holder: {line}"));
        }
        holders.push(holder);
    }
    Ok(holders)
}

fn release(holders: Vec<Proc>) -> Result<()> {
    for mut h in holders {
        h.stop(libc::SIGTERM, Duration::from_secs(10))?;
    }
    Ok(())
}

/// fdwatch first, then the holders open their fds: each arrives as an event.
fn opened_live(ctx: &Ctx) -> Result<Live> {
    let fw = FdWatch::start(&ctx.fdwatch, &ctx.dir)?;
    procs::sleep(Duration::from_secs(2))?;
    let before = fw.vm_bytes("VmRSS")? as f64;
    let holders = hold(ctx)?;
    fw.settle()?;
    let with = fw.vm_bytes("VmRSS")? as f64;
    release(holders)?;
    // fdwatch gives memory back every 10 s (fdwatch/src/heap.rs).
    procs::sleep(Duration::from_secs(12))?;
    let after = fw.vm_bytes("VmRSS")? as f64;
    let stopped = fw.stop()?;
    let live = Live { before, with, after };
    eprintln!(
        "bench: fdwatch with {} fds opened while it runs: VmRSS {:.1} -> {:.1} MiB ({:.0} bytes/fd), {:.1} MiB after they exit; {} events lost",
        HOLDERS * FDS_PER_HOLDER,
        before / 1048576.0,
        with / 1048576.0,
        live.bytes_per_fd(HOLDERS * FDS_PER_HOLDER),
        after / 1048576.0,
        stopped.lost()
    );
    Ok(live)
}

fn starts_median(ctx: &Ctx, starts: usize, what: &str) -> Result<Start> {
    let mut all = Vec::new();
    for _ in 0..starts {
        let fw = FdWatch::start(&ctx.fdwatch, &ctx.dir)?;
        procs::sleep(Duration::from_secs(2))?;
        let hwm = fw.vm_bytes("VmHWM")? as f64;
        let s = Start {
            hwm,
            rss: fw.vm_bytes("VmRSS")? as f64,
            anon: fw.vm_bytes("RssAnon")? as f64,
            bpf_maps: procs::bpf_map_rss(fw.pid()).unwrap_or(0) as f64,
            startup_s: fw.startup.as_secs_f64(),
            scan_s: fw.ready["scan_ns"].as_f64().unwrap_or(0.0) / 1e9,
            fds: fw.ready["fds"].as_f64().unwrap_or(0.0),
        };
        fw.stop()?;
        eprintln!(
            "bench: fdwatch {what}: VmRSS {:.1} MiB, VmHWM {:.1} MiB (RssAnon {:.1}, BPF maps {:.1}), ready after {:.3} s (scan {:.3} s), {} fds",
            s.rss / 1048576.0,
            s.hwm / 1048576.0,
            s.anon / 1048576.0,
            s.bpf_maps / 1048576.0,
            s.startup_s,
            s.scan_s,
            s.fds
        );
        all.push(s);
    }
    let m = |f: fn(&Start) -> f64| median(all.iter().map(f).collect()).unwrap_or(0.0);
    Ok(Start {
        hwm: m(|s| s.hwm),
        rss: m(|s| s.rss),
        anon: m(|s| s.anon),
        bpf_maps: m(|s| s.bpf_maps),
        startup_s: m(|s| s.startup_s),
        scan_s: m(|s| s.scan_s),
        fds: m(|s| s.fds),
    })
}
