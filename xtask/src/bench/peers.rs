//! The tools fdwatch is compared with (bpftrace, perf trace, strace), the helpers the
//! bench needs (bpftool) and the real servers it runs (redis, nginx and their clients,
//! servers.rs): installed from apt if missing; the peers are run around a workload.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::anyhow;

use super::measure::{Ctx, Sample};
use super::procs::Proc;
use super::workloads::{self, Workload};
use crate::cmd::{self, Result};

pub struct Peers {
    pub perf: PathBuf,
    /// name -> `--version` line, for the report.
    pub versions: Vec<(String, String)>,
    /// BTF id of `btf_trace_sys_exit` (the empty tp_btf program attaches by it).
    pub sys_exit_btf_id: Option<u32>,
    /// BTF ids of `do_dup2` and `bpf_lsm_file_open`, for the trampoline probe.
    pub do_dup2_btf_id: Option<u32>,
    pub lsm_file_open_btf_id: Option<u32>,
}

/// Checks each peer, installs the missing ones with apt (saying so), mounts tracefs if absent
/// (perf trace and bpftrace's syscall tracepoints need it).
pub fn ensure() -> Result<Peers> {
    let mut missing = Vec::new();
    for (program, args, package) in [
        ("bpftrace", &["--version"][..], "bpftrace"),
        ("strace", &["-V"][..], "strace"),
        ("bpftool", &["version"][..], "bpftool"),
    ] {
        if cmd::probe(program, args).is_none() {
            missing.push(package);
        }
    }
    if find_perf().is_none() {
        missing.push("linux-perf");
    }
    // The real servers and their clients (servers.rs); nginx-light is Debian's smallest
    // nginx. Checked by presence: `wrk -v` exits 1 and nginx -v writes to stderr.
    for (program, package) in
        [("redis-server", "redis-server"), ("redis-benchmark", "redis-tools"), ("nginx", "nginx-light"), ("wrk", "wrk")]
    {
        if !cmd::on_path(program) {
            missing.push(package);
        }
    }
    if !missing.is_empty() {
        eprintln!("bench: installing what the bench compares with and runs: {}", missing.join(" "));
        if !cmd::is_root() {
            return Err(anyhow!(
                "the bench needs root; as root it would run: apt-get install -y {}",
                missing.join(" ")
            ));
        }
        cmd::run(Command::new("apt-get").arg("update"))?;
        cmd::run(
            Command::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive").args(["install", "-y"]).args(&missing),
        )?;
    } else {
        eprintln!("bench: present: bpftrace, perf, strace, bpftool, redis-server, redis-benchmark, nginx, wrk");
    }
    let perf =
        find_perf().ok_or_else(|| anyhow!("linux-perf is installed but neither perf nor /usr/bin/perf_* runs"))?;
    mount_tracefs()?;
    let first_line = |program: &Path, args: &[&str]| {
        cmd::probe(&program.to_string_lossy(), args)
            .and_then(|out| out.lines().next().map(|l| l.trim().to_owned()))
            .unwrap_or_else(|| "unknown".into())
    };
    let versions = vec![
        ("bpftrace".into(), first_line(Path::new("bpftrace"), &["--version"])),
        ("perf".into(), first_line(&perf, &["--version"])),
        ("strace".into(), first_line(Path::new("strace"), &["-V"])),
        ("bpftool".into(), first_line(Path::new("bpftool"), &["version"])),
        ("gcc".into(), first_line(Path::new("gcc"), &["--version"])),
        ("redis".into(), first_line(Path::new("redis-server"), &["--version"])),
        ("nginx".into(), any_line(Command::new("nginx").arg("-v"))),
        ("wrk".into(), any_line(Command::new("wrk").arg("-v"))),
    ];
    let [sys_exit, do_dup2, lsm_file_open] =
        btf_ids(["TYPEDEF 'btf_trace_sys_exit'", "FUNC 'do_dup2'", "FUNC 'bpf_lsm_file_open'"]);
    Ok(Peers {
        perf,
        versions,
        sys_exit_btf_id: sys_exit,
        do_dup2_btf_id: do_dup2,
        lsm_file_open_btf_id: lsm_file_open,
    })
}

/// The first line a command prints on stdout or stderr, whatever its exit status
/// (`nginx -v` writes to stderr, `wrk -v` exits 1).
fn any_line(command: &mut Command) -> String {
    command
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            text.lines().next().map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `perf` if it runs (Debian's is a wrapper that picks a versioned binary), else the newest
/// `/usr/bin/perf_*` that does.
fn find_perf() -> Option<PathBuf> {
    if cmd::probe("perf", &["--version"]).is_some() {
        return Some(PathBuf::from("perf"));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/bin")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("perf_")))
        .collect();
    found.sort();
    found.into_iter().rev().find(|p| cmd::probe(&p.to_string_lossy(), &["--version"]).is_some())
}

fn mount_tracefs() -> Result<()> {
    if Path::new("/sys/kernel/tracing/events").is_dir() {
        return Ok(());
    }
    eprintln!("bench: tracefs is not mounted (perf trace and syscall tracepoints need it); mounting it");
    cmd::run(Command::new("mount").args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"]))
}

/// The ids of vmlinux BTF types, each named as `bpftool btf dump` prints it
/// (`KIND 'name'`).
fn btf_ids<const N: usize>(types: [&str; N]) -> [Option<u32>; N] {
    let dump = Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    types.map(|t| {
        let wanted = format!("] {t} ");
        dump.lines()
            .find(|l| l.contains(&wanted))
            .and_then(|l| l.trim_start_matches('[').split(']').next()?.parse().ok())
    })
}

/// Would this kernel take the hooks that touch only the traced calls (fexit on
/// do_dup2, BPF LSM on file_open) instead of every syscall's exit? Each loads an empty
/// program and attaches it; the answer is "attached" or the kernel's refusal.
pub fn trampolines(ctx: &Ctx) -> Vec<(&'static str, std::result::Result<(), String>)> {
    let probe = |mode: &str, id: Option<u32>| -> std::result::Result<(), String> {
        let id = id.ok_or("not in vmlinux BTF")?;
        let mut child = Command::new(&ctx.bins.emptyprog)
            .args([mode, &id.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let _ = child.kill();
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        if line.trim() == "attached" { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()) }
    };
    vec![
        ("fexit on do_dup2", probe("fexit", ctx.peers.do_dup2_btf_id)),
        ("BPF LSM on file_open", probe("lsm", ctx.peers.lsm_file_open_btf_id)),
    ]
}

/// bpftrace printing one line per dup2/close exit of the workload (-c: bpftrace starts it
/// once its probes are attached; `cpid` is its pid). Lost = its "Lost N events" lines.
pub fn bpftrace_print(ctx: &Ctx, w: Workload) -> Result<Sample> {
    let script = "tracepoint:syscalls:sys_exit_dup2 /pid == cpid/ { printf(\"%d %s dup2 %d\\n\", pid, comm, args->ret); }\n\
                  tracepoint:syscalls:sys_exit_close /pid == cpid/ { printf(\"%d %s close %d\\n\", pid, comm, args->ret); }";
    let out = ctx.dir.join("bpftrace.out");
    let (outcome, stderr) = workloads::run(
        "bpftrace",
        Command::new("bpftrace").arg("-o").arg(&out).args(["-e", script, "-c", &w.command_line(&ctx.bins)]),
    )?;
    let (events, mut lost) = scan(&out, &[" dup2 ", " close "], "Lost ", &["Lost", "events"]);
    lost += count_lost(&stderr, &["Lost", "events"]);
    let _ = std::fs::remove_file(&out);
    Ok(Sample::traced(&w, outcome, events, lost))
}

/// `perf trace -e dup2,close` on the workload. Lost = its "LOST N events!" lines.
pub fn perf_trace(ctx: &Ctx, w: Workload) -> Result<Sample> {
    let out = ctx.dir.join("perf.out");
    let (outcome, stderr) = workloads::run(
        "perf trace",
        Command::new(&ctx.peers.perf)
            .args(["trace", "-e", "dup2,close", "-o"])
            .arg(&out)
            .arg("--")
            .arg(&ctx.bins.loops)
            .args(w.args(&ctx.bins)),
    )?;
    let (events, mut lost) = scan(&out, &[" dup2(", " close("], "LOST ", &["LOST", "events"]);
    lost += count_lost(&stderr, &["LOST", "events"]);
    let _ = std::fs::remove_file(&out);
    Ok(Sample::traced(&w, outcome, events, lost))
}

/// `strace -f` on the workload (ptrace stops the tracee; nothing is ever lost).
pub fn strace(ctx: &Ctx, w: Workload) -> Result<Sample> {
    let out = ctx.dir.join("strace.out");
    let (outcome, _) = workloads::run(
        "strace",
        Command::new("strace").args(["-f", "-o"]).arg(&out).arg("--").arg(&ctx.bins.loops).args(w.args(&ctx.bins)),
    )?;
    let (events, _) = scan(&out, &["dup2(", "close("], "\u{0}", &[]);
    let _ = std::fs::remove_file(&out);
    Ok(Sample::traced(&w, outcome, events, 0))
}

/// bpftrace with an empty action on `probe`: only the cost of having a program there.
pub fn bpftrace_empty(ctx: &Ctx, probe: &str, w: Workload) -> Result<Sample> {
    let (outcome, _) = workloads::run(
        "bpftrace",
        Command::new("bpftrace").arg("-o").arg(ctx.dir.join("bpftrace-empty.out")).args([
            "-e",
            &format!("{probe} {{ }}"),
            "-c",
            &w.command_line(&ctx.bins),
        ]),
    )?;
    Ok(Sample::plain(&w, outcome))
}

/// bench/emptyprog's empty program on sys_exit (`raw`: raw tracepoint; `btf`: tp_btf,
/// fdwatch's own hook type), attached while the workload runs.
pub fn empty_prog(ctx: &Ctx, btf: bool, w: Workload) -> Result<Sample> {
    let mut prog = attach_empty(ctx, btf)?;
    let (outcome, _) = workloads::run("workload", &mut w.command(&ctx.bins))?;
    prog.stop(libc::SIGINT, Duration::from_secs(5))?;
    Ok(Sample::plain(&w, outcome))
}

/// bench/emptyprog's empty program on sys_exit, attached once this returns; it stays
/// attached until the returned process is stopped (or dropped).
pub fn attach_empty(ctx: &Ctx, btf: bool) -> Result<Proc> {
    let mut command = Command::new(&ctx.bins.emptyprog);
    if btf {
        let id = ctx
            .peers
            .sys_exit_btf_id
            .ok_or_else(|| anyhow!("no btf_trace_sys_exit in vmlinux BTF (bpftool btf dump)"))?;
        command.args(["btf", &id.to_string()]);
    } else {
        command.arg("raw");
    }
    command.stdout(Stdio::piped());
    let mut prog = Proc::spawn("emptyprog", &mut command)?;
    let line = prog.first_line(Duration::from_secs(10))?;
    if line != "attached" {
        return Err(anyhow!("emptyprog: {line}"));
    }
    Ok(prog)
}

/// Counts the lines of `path` that contain one of `patterns`, and sums N over the lines
/// that contain every word of `lost_words` and have the number after `lost_prefix`.
fn scan(path: &Path, patterns: &[&str], lost_prefix: &str, lost_words: &[&str]) -> (u64, u64) {
    let Ok(file) = std::fs::File::open(path) else {
        return (0, 0);
    };
    let (mut events, mut lost) = (0, 0);
    for line in BufReader::new(file).split(b'\n').map_while(|l| l.ok()) {
        let line = String::from_utf8_lossy(&line);
        if patterns.iter().any(|p| line.contains(p)) {
            events += 1;
        } else if !lost_words.is_empty() && line.contains(lost_prefix) {
            lost += count_lost(&line, lost_words);
        }
    }
    (events, lost)
}

/// Sums N in lines like "Lost 123 events" / "LOST 123 events!" that contain every word.
fn count_lost(text: &str, words: &[&str]) -> u64 {
    if words.is_empty() {
        return 0;
    }
    text.lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .filter_map(|l| {
            l.split_whitespace().find_map(|word| word.trim_matches(|c: char| !c.is_ascii_digit()).parse::<u64>().ok())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_lines() {
        assert_eq!(count_lost("Lost 12 events\nfoo\nLost 3 events\n", &["Lost", "events"]), 15);
        assert_eq!(count_lost("LOST 7 events!\n", &["LOST", "events"]), 7);
    }
}
