//! Whether the machine was quiet: the load average, and tracers that were not ours (another
//! fdwatch, bpftrace, perf or strace, or BPF programs on tracing hooks) before and after the
//! bench. Another system-wide tracer slows the "untraced" rounds too, so the report says so.

use std::process::{Command, Stdio};

use serde_json::Value;

pub struct Snapshot {
    pub loadavg: String,
    /// "comm (pid)" of tracer processes.
    pub tracers: Vec<String>,
    /// "name (type)" of loaded BPF programs on tracing hooks.
    pub bpf_progs: Vec<String>,
}

impl Snapshot {
    pub fn quiet(&self) -> bool {
        self.tracers.is_empty() && self.bpf_progs.is_empty()
    }
}

/// A snapshot after the bench's own tracers exited. The kernel frees an exited
/// process's BPF programs a moment later (after an RCU grace period), so the bench's
/// last hook-floor program can still be listed: look again for up to 3 s.
pub fn snapshot_after() -> Snapshot {
    let mut snap = snapshot();
    for _ in 0..30 {
        if snap.quiet() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        snap = snapshot();
    }
    snap
}

pub fn snapshot() -> Snapshot {
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let me = std::process::id();
    let mut tracers = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if ["fdwatch", "bpftrace", "perf", "strace"].contains(&comm) {
            tracers.push(format!("{comm} ({pid})"));
        }
    }
    let mut bpf_progs = Vec::new();
    let out = Command::new("bpftool").args(["prog", "show", "--json"]).stderr(Stdio::null()).output();
    if let Some(Value::Array(progs)) = out.ok().and_then(|o| serde_json::from_slice(&o.stdout).ok()) {
        for p in &progs {
            let kind = p["type"].as_str().unwrap_or("");
            let name = p["name"].as_str().unwrap_or("?");
            if ["tracing", "raw_tracepoint", "tracepoint", "kprobe", "perf_event"].contains(&kind)
                && name != "iter_task_file"
            {
                bpf_progs.push(format!("{name} ({kind})"));
            }
        }
    }
    Snapshot { loadavg, tracers, bpf_progs }
}
