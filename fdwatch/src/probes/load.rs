//! Load the eBPF object, configure it, and attach every program.
use std::io::Read as _;

use aya::{
    Btf, Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, PerCpuArray},
    programs::{BtfTracePoint, Iter, ProgramError},
};
use fdwatch_common::{
    KernelOffsets, ProbeConfig, TaskFile,
    config::{PROBE_CONFIG, maps, mode},
};

use super::{
    clock,
    kernel_log::{self, KernelLog},
    programs::{Hook, PROGRAMS},
    ring::EventRing,
};
use anyhow::Context as _;

use crate::{decode::Timebase, scope::Scope};

/// What the loader needs to know from the command line.
pub struct Settings<'a> {
    pub scope: &'a Scope,
    pub ring_bytes: u32,
    pub wakeup_bytes: u64,
    /// Agent mode (no `--events`): the probes drop what the alerts never need.
    pub alerts_only: bool,
}

/// The attached probes and the maps the collector reads. Dropping it detaches all.
pub struct Probes {
    pub events: EventRing,
    pub lost: PerCpuArray<MapData, u64>,
    /// Owns the eBPF object (programs and links) and runs the startup iterator.
    pub task_files: TaskFiles,
    pub attached: usize,
    /// The kernel's watch list (`--pid`); None for the whole host.
    pub watched: Option<HashMap<MapData, u32, u8>>,
    /// What the probes drop (fdwatch_common::config::mode), changed by SIGHUP.
    pub mode: Mode,
    /// How to read agent mode's tick-count timestamps; Err: why records are stamped in
    /// ns in agent mode too (said once on stderr by the caller).
    pub timebase: Result<Timebase, String>,
    /// The probes' failure reports, until `spawn_kernel_log` starts printing them.
    kernel_log: Option<KernelLog>,
}

impl Probes {
    /// Take `pid` off the kernel's watch list (it exited before the exit probe could
    /// see it). A pid that is not there is fine.
    pub fn unwatch(&mut self, pid: u32) {
        if let Some(map) = self.watched.as_mut() {
            let _ = map.remove(&pid);
        }
    }

    /// Starts printing the probes' failure reports on stderr (probes/kernel_log.rs).
    /// Needs a running tokio runtime; later calls do nothing.
    pub fn spawn_kernel_log(&mut self) -> anyhow::Result<()> {
        self.kernel_log.take().map_or(Ok(()), KernelLog::spawn)
    }
}

/// The probes' MODE map: whether they drop what agent mode never needs, and whether
/// they stamp records with the tick count (agent mode, once calibrated).
pub struct Mode {
    map: Array<MapData, u32>,
    alerts_only: bool,
    tick_clock: bool,
}

impl Mode {
    /// Agent mode on or off (`--events` off or on). The probes see the change at their
    /// next run; events already in the ring buffer stay as they were (each record says
    /// which clock stamped it).
    pub fn set_alerts_only(&mut self, alerts_only: bool) -> anyhow::Result<()> {
        if alerts_only != self.alerts_only {
            self.alerts_only = alerts_only;
            self.write()?;
        }
        Ok(())
    }

    fn write(&mut self) -> anyhow::Result<()> {
        let mut bits = 0;
        if self.alerts_only {
            bits |= mode::ALERTS_ONLY;
            // Events want ns; alerts do with the tick (fdwatch_common::clock).
            if self.tick_clock {
                bits |= mode::TICK_CLOCK;
            }
        }
        self.map.set(0, bits, 0).context("cannot update the probes' MODE map")
    }
}

/// The task_file iterator (fdwatch-ebpf/src/probes/iter.rs): every fd of every process.
pub struct TaskFiles {
    ebpf: Ebpf,
}

impl TaskFiles {
    /// One pass over all open fds on the host.
    pub fn read(&mut self) -> anyhow::Result<Vec<TaskFile>> {
        let program = self.ebpf.program_mut(ITER_PROGRAM).ok_or_else(|| missing_program(ITER_PROGRAM))?;
        let iter: &mut Iter = program.try_into()?;
        let link = iter.attach().context("attaching the task_file iterator")?;
        let link = iter.take_link(link)?;
        let mut file = link.into_file().context("opening the task_file iterator")?;
        let mut bytes = Vec::with_capacity(1 << 20);
        file.read_to_end(&mut bytes).context("reading the task_file iterator")?;
        let size = std::mem::size_of::<TaskFile>();
        Ok(bytes
            .chunks_exact(size)
            // SAFETY: each chunk is one TaskFile as the iterator wrote it (plain data).
            .map(|c| unsafe { c.as_ptr().cast::<TaskFile>().read_unaligned() })
            .collect())
    }
}

const ITER_PROGRAM: &str = "iter_task_file";

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/fdwatch"));

/// Load the object, configure it, attach every program. An error carries its whole
/// chain (what failed, then why, down to the errno): `privileges::explain` makes it
/// the one line the user reads.
pub fn load(settings: &Settings, offsets: &KernelOffsets) -> anyhow::Result<Probes> {
    // Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; this one charges the
    // cgroup and we may not raise the hard limit (no CAP_SYS_RESOURCE), so a failure
    // here is expected and harmless.
    raise_memlock();
    let btf = Btf::from_sys_fs().context(
        "cannot read kernel BTF /sys/kernel/btf/vmlinux; fdwatch needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
    )?;
    let config = ProbeConfig {
        own_tgid: std::process::id(),
        filter_watched: u32::from(matches!(settings.scope, Scope::Processes { .. })),
        follow_children: u32::from(settings.scope.follow()),
        container_level: settings.scope.container().map_or(0, |c| c.level),
        wakeup_bytes: settings.wakeup_bytes,
        container_cgroup: settings.scope.container().map_or(0, |c| c.cgroup_id),
        offsets: *offsets,
    };
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .override_global(PROBE_CONFIG, &config, true)
        .map_max_entries(maps::EVENTS, settings.ring_bytes)
        .map_max_entries(kernel_log::MAP, kernel_log::RING_BYTES)
        .load(OBJECT)
        .context("cannot load the eBPF object")?;
    release_object_pages();

    let watched = match settings.scope {
        Scope::Host | Scope::Container(_) => None,
        Scope::Processes { pids, .. } => {
            let map = ebpf.take_map(maps::WATCHED).ok_or_else(|| missing_map(maps::WATCHED))?;
            let mut watched: HashMap<_, u32, u8> = HashMap::try_from(map).context("map WATCHED")?;
            for &pid in pids {
                watched.insert(pid, 1, 0).with_context(|| format!("cannot watch pid {pid}"))?;
            }
            Some(watched)
        }
    };

    // Before the probes are attached: agent mode drops from the first event on.
    let map = ebpf.take_map(maps::MODE).ok_or_else(|| missing_map(maps::MODE))?;
    let mut mode = Mode { map: Array::try_from(map).context("map MODE")?, alerts_only: false, tick_clock: false };
    mode.set_alerts_only(settings.alerts_only)?;

    let mut attached = 0;
    for program in PROGRAMS {
        attach(&mut ebpf, &btf, program.name, program.hook)?;
        attached += 1;
    }

    // Once sys_exit answers the doorbell. Every record stamped with the tick count is
    // reserved after the calibration was written, so the collector has it first.
    let map = ebpf.take_map(maps::CLOCK).ok_or_else(|| missing_map(maps::CLOCK))?;
    let timebase = clock::calibrate(&Array::try_from(map).context("map CLOCK")?);
    if timebase.is_ok() {
        mode.tick_clock = true;
        mode.write()?;
    }

    {
        let program = ebpf.program_mut(ITER_PROGRAM).ok_or_else(|| missing_program(ITER_PROGRAM))?;
        let iter: &mut Iter = program.try_into().context(ITER_PROGRAM)?;
        iter.load("task_file", &btf).map_err(|e| program_error(ITER_PROGRAM, "iter/task_file", e))?;
    }

    let events = ebpf.take_map(maps::EVENTS).ok_or_else(|| missing_map(maps::EVENTS))?;
    let aya::maps::Map::RingBuf(events) = events else {
        anyhow::bail!("map {} is not a ring buffer (rebuild fdwatch)", maps::EVENTS);
    };
    let events = EventRing::new(events).context("cannot map the EVENTS ring buffer")?;
    let lost = ebpf.take_map(maps::LOST).ok_or_else(|| missing_map(maps::LOST))?;
    let lost = PerCpuArray::try_from(lost).context("map LOST")?;
    let kernel_log = Some(KernelLog::new(&mut ebpf)?);
    Ok(Probes { events, lost, task_files: TaskFiles { ebpf }, attached, watched, mode, timebase, kernel_log })
}

/// The eBPF object is only read while it is loaded; after that its pages (about 1 MB,
/// mostly the DWARF that bpf-linker turns into BTF, which aya-log's code made twice as
/// large) need not stay resident for the life of the agent. They are part of the
/// executable's read-only data, a private mapping of the file that nothing writes, so
/// dropping them loses nothing: a later read would fault the same bytes back in.
fn release_object_pages() {
    // SAFETY: sysconf has no preconditions.
    let Ok(page) = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }) else { return };
    let (start, end) = (OBJECT.as_ptr() as usize, OBJECT.as_ptr() as usize + OBJECT.len());
    let (first, last) = (start.next_multiple_of(page), end / page * page);
    if first < last {
        // SAFETY: [first, last) is whole pages inside OBJECT, a static in read-only data
        // mapped from the executable and never written: MADV_DONTNEED only drops them
        // from the page tables (madvise(2)), and no Rust reference sees a change.
        unsafe { libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_DONTNEED) };
    }
}

fn attach(ebpf: &mut Ebpf, btf: &Btf, name: &str, hook: Hook) -> anyhow::Result<()> {
    let program = ebpf.program_mut(name).ok_or_else(|| missing_program(name))?;
    match hook {
        Hook::TpBtf(tracepoint) => {
            let result = (|| {
                let p: &mut BtfTracePoint = program.try_into()?;
                p.load(tracepoint, btf)?;
                p.attach().map(drop)
            })();
            result.map_err(|e| program_error(name, &format!("tp_btf/{tracepoint}"), e))
        }
    }
}

/// What a program's load or attach said: the program and hook, the errno, and for a
/// verifier rejection the log's last lines (aya puts the whole log in its message).
fn program_error(name: &str, hook: &str, error: ProgramError) -> anyhow::Error {
    match error {
        ProgramError::LoadError { io_error, verifier_log } => {
            let log = verifier_log.to_string();
            let tail: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).rev().take(4).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let verifier = if tail.is_empty() { String::new() } else { format!("; verifier: {}", tail.join(" | ")) };
            anyhow::Error::new(io_error).context(format!("the kernel refused eBPF program {name} ({hook}){verifier}"))
        }
        other => anyhow::Error::new(other).context(format!("cannot attach eBPF program {name} to {hook}")),
    }
}

fn missing_program(name: &str) -> anyhow::Error {
    anyhow::anyhow!("the eBPF object has no program {name} (rebuild fdwatch)")
}

fn missing_map(name: &str) -> anyhow::Error {
    anyhow::anyhow!("the eBPF object has no map {name} (rebuild fdwatch)")
}

fn raise_memlock() {
    let limit = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit only reads the struct we pass.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) };
}
