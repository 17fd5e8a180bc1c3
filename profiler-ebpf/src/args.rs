//! Argument values (issue 12): for the syscalls Docker's default profile restricts by argument —
//! `socket`'s family (and the protocol of an `AF_NETLINK` socket), `clone`'s namespace flags and
//! `personality`'s persona — the distinct values a target's gated threads passed, kept exactly
//! (bitmaps and a small set with an overflow bit) in ARG_VALUES, per CPU. It owns ARG_VALUES.
//!
//! Called by the counter ([`crate::syscalls`]) for counted native syscalls only, after the count,
//! and only when the number is one of the three: threads and cgroups that are not targets never
//! get here. 32-bit (ia32) tasks are not recorded: their `socket` usually goes through
//! `socketcall`, whose arguments are behind a pointer; the report says "native table only".
//! `clone3`'s flags are behind a pointer too (`struct clone_args`), so it is not recorded either:
//! a profile that restricts `clone` answers `clone3` with ENOSYS instead.

use aya_ebpf::{helpers::bpf_probe_read_kernel, programs::RawTracePointContext};
use profiler_common::{
    AF_NETLINK, ARGS_FAMILY_OVERFLOW, ARGS_NETLINK_OVERFLOW, ARGS_PERSONA_OVERFLOW, PERSONA_SLOTS,
    clone_namespace_index,
};

use crate::{abi, maps::ARG_VALUES};

/// Whether the native syscall `nr` has arguments worth recording: one compare per watched syscall.
#[inline(always)]
pub(crate) fn watched(nr: u64) -> bool {
    nr == abi::SYS_SOCKET || nr == abi::SYS_CLONE || nr == abi::SYS_PERSONALITY
}

/// Reads argument `offset` of the syscall from the tracepoint's `pt_regs` (`arg(0)`), as the gate
/// does for the filter-install arguments.
#[inline(always)]
fn arg(ctx: &RawTracePointContext, offset: usize) -> Option<u64> {
    let regs: *const u8 = ctx.arg(0);
    // SAFETY: regs is the tracepoint's pt_regs pointer; the helper checks the read.
    unsafe { bpf_probe_read_kernel(regs.add(offset) as *const u64).ok() }
}

/// Records the arguments of a watched native syscall `nr` made by a gated thread of `slot`.
/// Cold (three syscalls out of hundreds), so kept out of line.
#[inline(never)]
pub(crate) fn note(ctx: &RawTracePointContext, slot: u32, nr: u64) -> Option<()> {
    let values = ARG_VALUES.get_ptr_mut(slot)?;
    let first = arg(ctx, abi::ARG0_OFFSET)?;
    // SAFETY: per-CPU value, only this CPU writes it while this program runs.
    let values = unsafe { &mut *values };
    if nr == abi::SYS_SOCKET {
        if first < 64 {
            values.socket_families |= 1 << first;
        } else {
            values.overflow |= ARGS_FAMILY_OVERFLOW;
        }
        if first == AF_NETLINK {
            let protocol = arg(ctx, abi::ARG2_OFFSET)?;
            if protocol < 32 {
                values.netlink_protocols |= 1 << protocol;
            } else {
                values.overflow |= ARGS_NETLINK_OVERFLOW;
            }
        }
    } else if nr == abi::SYS_CLONE {
        // clone's flags are arg0 on x86_64 and aarch64 (CLONE_BACKWARDS on arm64; only s390
        // swaps the first two, and s390 is not an architecture this tool records on).
        let index = clone_namespace_index(first);
        values.clone_namespaces[(index >> 6) as usize & 1] |= 1 << (index & 63);
    } else {
        let count = values.persona_count as usize;
        for i in 0..PERSONA_SLOTS {
            if i == count {
                values.personas[i] = first;
                values.persona_count += 1;
                return Some(());
            }
            if values.personas[i] == first {
                return Some(());
            }
        }
        values.overflow |= ARGS_PERSONA_OVERFLOW;
    }
    Some(())
}
