//! The user registers a syscall was entered with, `struct pt_regs` (x86-64,
//! arch/x86/include/asm/ptrace.h): the one place that knows its layout.
//!
//! sys_exit gets a pointer to them, and they still hold the arguments: x86-64 syscall
//! wrappers read their arguments from this struct (arch/x86/include/asm/syscall_wrapper.h)
//! and only `ax` is overwritten, with the return value (`regs->ax = x64_sys_call(regs, nr)`
//! in do_syscall_x64(), arch/x86/entry/).

/// Byte offsets in struct pt_regs; every field is an `unsigned long`.
const R10: usize = 56;
const R9: usize = 64;
const R8: usize = 72;
const DX: usize = 96;
const SI: usize = 104;
const DI: usize = 112;
/// `orig_ax`: the syscall number (`ax` holds the return value by now).
const ORIG_AX: usize = 120;

/// `*(regs + offset)` as an unsigned long. `regs` must be sys_exit's `struct pt_regs *`.
#[inline(always)]
fn load(regs: *const u8, offset: usize) -> u64 {
    // SAFETY: `regs` is the tp_btf program's BTF-typed `struct pt_regs *` argument
    // (PTR_TO_BTF_ID). The verifier checks at load time that each of these constant
    // offsets lies inside struct pt_regs, and turns the load into a direct load with an
    // exception-table entry (BPF_PROBE_MEM, kernel/bpf/verifier.c): it cannot read out of
    // bounds, and a fault would read 0 instead of oopsing. Direct loads are what make this
    // cheaper than a bpf_probe_read_kernel call on the path every syscall takes.
    unsafe { *(regs.add(offset).cast::<u64>()) }
}

/// The syscall number.
#[inline(always)]
pub fn syscall_nr(regs: *const u8) -> u64 {
    load(regs, ORIG_AX)
}

/// The first argument alone (rdi).
#[inline(always)]
pub fn syscall_arg0(regs: *const u8) -> u64 {
    load(regs, DI)
}

/// The six arguments in the syscall ABI's order (syscall(2)): di, si, dx, r10, r8, r9.
#[inline(always)]
pub fn syscall_args(regs: *const u8) -> [u64; 6] {
    [load(regs, DI), load(regs, SI), load(regs, DX), load(regs, R10), load(regs, R8), load(regs, R9)]
}
