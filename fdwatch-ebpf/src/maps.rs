//! Maps shared with the collector.
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
};
use fdwatch_common::{
    MAX_KIND,
    clock::ClockMark,
    config::{DEFAULT_RING_BYTES, MAX_WATCHED},
};

/// Every event, as a typed record (fdwatch-common). The collector may resize it.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(DEFAULT_RING_BYTES, 0);

/// Failed ring-buffer reservations, per CPU, indexed by kind id: never silent.
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_KIND, 0);

/// tgids to report when `filter_watched` is set (value unused).
#[map]
pub static WATCHED: HashMap<u32, u8> = HashMap::with_max_entries(MAX_WATCHED, 0);

/// fdwatch_common::config::mode bits the collector may change while the probes run
/// (ProbeConfig is frozen at load). One element.
#[map]
pub static MODE: Array<u32> = Array::with_max_entries(1, 0);

/// The clock calibration the collector asks for with its doorbell syscall
/// (fdwatch_common::clock). One element.
#[map]
pub static CLOCK: Array<ClockMark> = Array::with_max_entries(1, 0);
