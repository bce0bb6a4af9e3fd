//! Read-only settings the collector writes before loading (aya `override_global`).
//!
//! They live in .rodata, which the loader rewrites and then freezes: the verifier then
//! knows each value as a constant. Reads must stay volatile, or LLVM folds the zero
//! initialisers into the code.
use fdwatch_common::ProbeConfig;

/// The one config struct (fdwatch-common/src/config.rs), written by the loader. Its
/// fields are read one at a time through `config!` (a copy of the whole struct would
/// be ~30 loads), volatile so LLVM cannot fold the zero initialiser into the code.
#[unsafe(no_mangle)]
pub static PROBE_CONFIG: ProbeConfig = ProbeConfig::UNSET;

/// One field (or nested field) of `PROBE_CONFIG`, read alone.
macro_rules! config {
    ($($field:ident).+) => {{
        // SAFETY: a pointer to a field of a static: non-null, aligned and initialised (the
        // loader only rewrites the bytes before the program exists). Volatile, so the
        // load is not folded into the zero initialiser.
        let value = unsafe { core::ptr::read_volatile(&raw const crate::config::PROBE_CONFIG.$($field).+) };
        value
    }};
}
pub(crate) use config;

#[inline(always)]
pub fn own_tgid() -> u32 {
    config!(own_tgid)
}

#[inline(always)]
pub fn filter_watched() -> bool {
    config!(filter_watched) != 0
}

#[inline(always)]
pub fn follow_children() -> bool {
    config!(follow_children) != 0
}

/// `--container`: the cgroup whose subtree is watched (0: none) and its level.
#[inline(always)]
pub fn container_cgroup() -> u64 {
    config!(container_cgroup)
}

#[inline(always)]
pub fn container_level() -> u32 {
    config!(container_level)
}

#[inline(always)]
pub fn wakeup_bytes() -> u64 {
    config!(wakeup_bytes)
}

/// One kernel struct offset. The verifier knows the value (a load from frozen .rodata),
/// which is what lets the probes load BTF-typed pointers at these offsets directly.
macro_rules! offset {
    ($field:ident) => {
        crate::config::config!(offsets.$field)
    };
}
pub(crate) use offset;
