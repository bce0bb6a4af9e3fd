//! The probes' clock calibration (fdwatch_common::clock): ring the doorbell, read the
//! tick count and ns the probe wrote, and work out how to read ticks as ns.
use aya::maps::{Array, MapData};
use fdwatch_common::clock::{ClockMark, DOORBELL_NR};

use crate::decode::Timebase;

/// Calibrate once the sys_exit probe is attached. Err says why the records stay
/// stamped in ns (the caller reports it).
pub fn calibrate(map: &Array<MapData, ClockMark>) -> Result<Timebase, String> {
    // SAFETY: tuxcall takes no arguments and does nothing but fail with ENOSYS
    // (syscalls(2), "Unimplemented system calls"); the probe sees it at sys_exit.
    unsafe { libc::syscall(DOORBELL_NR as libc::c_long) };
    let mark = map.get(&0, 0).map_err(|e| format!("cannot read the probes' CLOCK map: {e}"))?;
    if mark == ClockMark::default() {
        return Err("the sys_exit probe did not answer the clock doorbell (tuxcall)".into());
    }
    Timebase::calibrated(mark).ok_or_else(|| {
        format!("jiffies {} at {} ns of uptime fit no CONFIG_HZ of 100, 250, 300 or 1000", mark.jiffies, mark.ns)
    })
}
