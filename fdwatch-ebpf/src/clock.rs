//! The records' timestamp, and the calibration that lets the collector read it
//! (fdwatch_common::clock explains the two clocks).
use aya_ebpf::helpers::{bpf_jiffies64, bpf_ktime_get_ns};
use fdwatch_common::clock::{ClockMark, TS_JIFFIES};
use fdwatch_common::config::mode;

use crate::{
    config,
    maps::{CLOCK, MODE},
    task,
};

/// When the event happened, on the clock MODE says: the tick count (one inlined load)
/// once the collector has calibrated it, else CLOCK_MONOTONIC ns (a helper call).
#[inline(always)]
pub fn now() -> u64 {
    if MODE.get(0).is_some_and(|m| *m & mode::TICK_CLOCK != 0) {
        // SAFETY: bpf_jiffies64 takes nothing and reads jiffies_64.
        TS_JIFFIES | unsafe { bpf_jiffies64() }
    } else {
        // SAFETY: bpf_ktime_get_ns takes nothing and reads the monotonic clock.
        unsafe { bpf_ktime_get_ns() }
    }
}

/// The doorbell syscall ended: if the collector rang it, write both clocks where it
/// reads them, the tick count first: the tick it names began no later than the ns
/// read after it, which is what the collector's conversion relies on. Anyone else's
/// call is ignored.
#[inline(never)]
pub fn answer_doorbell() {
    let (tgid, _) = task::ids_btf(task::current_btf());
    if tgid != config::own_tgid() {
        return;
    }
    if let Some(mark) = CLOCK.get_ptr_mut(0) {
        // SAFETY: bpf_ktime_get_ns and bpf_jiffies64 take nothing; `mark` is the map's
        // one element (a non-NULL lookup of an array map), which lives as long as the map
        // and is written only here.
        unsafe {
            let jiffies = bpf_jiffies64();
            *mark = ClockMark { jiffies, ns: bpf_ktime_get_ns() };
        }
    }
}
