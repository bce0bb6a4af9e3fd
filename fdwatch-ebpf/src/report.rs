//! Rare failures of the probes, reported to the collector (stub: filled in with aya-log).

#[inline(always)]
pub fn kernel_read_failed(_offset: u32, _err: i32) {}

#[inline(always)]
pub fn kernel_str_failed(_err: i64) {}

#[inline(always)]
pub fn user_read_failed(_addr: u64, _err: i64) {}

#[inline(always)]
pub fn follow_failed(_child: u32, _parent: u32, _err: i32) {}
