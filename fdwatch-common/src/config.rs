//! What the collector tells the probes before they load, as one struct (kunai-common's
//! single config): the loader writes it into the eBPF object's .rodata (aya's
//! `override_global`), which the kernel then freezes, so the verifier knows every
//! field as a constant. Defaults and limits both sides need, and the names by which
//! the loader finds the object's maps, live here too.
use crate::KernelOffsets;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The collector's own tgid: its syscalls are never reported (no feedback loop).
    pub own_tgid: u32,
    /// 1 when `--pid` was given: report only tgids in the WATCHED map.
    pub filter_watched: u32,
    /// 1 with `--follow`: a watched process's children join WATCHED at fork.
    pub follow_children: u32,
    /// With `container_cgroup`: that cgroup's level (depth below the root, 0) in the
    /// unified hierarchy.
    pub container_level: u32,
    /// Wake the reader only once this many bytes wait in the ring buffer; below it the
    /// reader's own timer picks events up. Batching wake-ups is what keeps the cost per
    /// event low at high rates (every wake-up is an irq_work plus a context switch).
    pub wakeup_bytes: u64,
    /// `--container`: report only tasks in this unified-hierarchy cgroup (by kernel id)
    /// or below it; 0 for no such filter.
    pub container_cgroup: u64,
    /// Struct field offsets from the running kernel's BTF (offsets.rs).
    pub offsets: KernelOffsets,
}

impl ProbeConfig {
    /// What the object holds until the loader writes the real values.
    pub const UNSET: ProbeConfig = ProbeConfig {
        own_tgid: 0,
        filter_watched: 0,
        follow_children: 0,
        container_level: 0,
        wakeup_bytes: 0,
        container_cgroup: 0,
        offsets: KernelOffsets::UNSET,
    };
}

/// The symbol of the [`ProbeConfig`] global in the eBPF object.
pub const PROBE_CONFIG: &str = "PROBE_CONFIG";

/// The eBPF object's maps, by the names the loader takes them by.
pub mod maps {
    /// Every event, as a typed record.
    pub const EVENTS: &str = "EVENTS";
    /// Failed ring-buffer reservations per CPU, indexed by kind id.
    pub const LOST: &str = "LOST";
    /// The tgids `--pid` watches.
    pub const WATCHED: &str = "WATCHED";
    /// What the collector changes while the probes run: one u32 of [`super::mode`]
    /// bits (an array map, since ProbeConfig is frozen at load).
    pub const MODE: &str = "MODE";
    /// One [`crate::clock::ClockMark`], written by the probes when the collector rings
    /// the clock doorbell.
    pub const CLOCK: &str = "CLOCK";
}

/// The bits of the MODE map. Unlike [`ProbeConfig`], which the kernel freezes at load,
/// this one changes at run time: SIGHUP can turn `events` on and off.
pub mod mode {
    /// Agent mode (no `--events`): drop what [`crate::agent::alerts_never_need`] says
    /// the alerts never need, in the kernel, before anything is reserved.
    pub const ALERTS_ONLY: u32 = 1;
    /// Stamp records with the tick count (crate::clock): set once the collector has a
    /// calibration to turn ticks into ns.
    pub const TICK_CLOCK: u32 = 2;
}

/// The events ring buffer's size unless `--ring-bytes` says otherwise. The kernel maps
/// its pages twice, so it counts double in RSS; 8 MiB holds ~70 ms of events at 1M
/// events/s, far more than the collector's 10 ms drain interval.
pub const DEFAULT_RING_BYTES: u32 = 8 << 20;
/// Processes the kernel's watch list holds at most (`--pid` and their `--follow`
/// descendants); a child that does not fit is reported (aya-log) and not watched.
pub const MAX_WATCHED: u32 = 1 << 16;
