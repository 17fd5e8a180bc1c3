//! Denial counting (design.md §15): a gated thread whose syscall reaches `sys_exit` without having
//! passed `sys_enter` had that call answered by seccomp (`raw_syscalls:sys_enter` fires after
//! seccomp, `sys_exit` for every call; design.md §1). `sys_enter` sets the thread's MARK_FILTER
//! byte to `InSyscall` and `sys_exit` back to `Marked` without looking in MARKS (issue 13); so a
//! marked thread that reaches `sys_exit` as `Marked` was refused. The tasks that legitimately
//! return without an enter of their own (a new task's first return from clone/fork/clone3, the
//! return from execve, the call a thread was in when userspace marked it) carry `Mark::FRESH` in
//! their mark's `syscall`, which the gate sets on fork, exec and every new mark, and which their
//! exit consumes. A thread with no byte (a tid beyond MARK_FILTER) is told by its mark's
//! `syscall` alone: `sys_enter` stores the call there, `sys_exit` resets it to
//! `Mark::NOT_IN_SYSCALL`, and one still in that state was refused.
//!
//! It owns DENIALS. It marks nothing and counts no allowed syscall. Not seen here: calls killed by
//! `SECCOMP_RET_KILL_*` (they never return), and calls a filter allowed with
//! `SECCOMP_RET_LOG`/`ALLOW` (they pass `sys_enter` and are counted as syscalls).

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_ktime_get_ns, bpf_probe_read_kernel,
    },
    programs::RawTracePointContext,
};
use profiler_common::{Denial, DenialKey, Mark, stats};

use crate::{
    abi,
    maps::{DENIALS, MarkState, TARGETS},
    stats::bump,
};

/// Called from `sys_exit` with a marked thread's mark (the gate looked it up) and its
/// MARK_FILTER state, `Marked` or `Unfiltered` (an `InSyscall` exit never comes here).
#[inline(always)]
pub(crate) fn on_exit(ctx: &RawTracePointContext, mark: *mut Mark, state: MarkState) {
    // SAFETY: the entry belongs to this thread, the only writer of its `syscall` field (`sys_enter`
    // and this program run in the thread itself; fork and exec write it before the thread runs on).
    let entered = unsafe {
        let syscall = (*mark).syscall;
        (*mark).syscall = Mark::NOT_IN_SYSCALL;
        if state == MarkState::Unfiltered {
            syscall != Mark::NOT_IN_SYSCALL
        } else {
            syscall == Mark::FRESH
        }
    };
    if !entered {
        let regs: *const u8 = ctx.arg(0);
        let ret: i64 = ctx.arg(1);
        let _ = refused(regs, ret);
    }
}

/// Cold path: a marked thread returned from a call it never entered. Counted only while its cgroup
/// is a target (`sys_enter` stops updating marks of a cgroup that is no longer one, and those
/// threads would otherwise all look refused).
#[inline(never)]
fn refused(regs: *const u8, ret: i64) -> Option<()> {
    // SAFETY: helper with no arguments.
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    // SAFETY: copied out at once.
    let target = *unsafe { TARGETS.get(&cgroup) }?;
    // SAFETY: regs is the tracepoint's pt_regs; a checked read.
    let id: i32 =
        unsafe { bpf_probe_read_kernel(regs.add(abi::SYSCALL_NR_OFFSET) as *const i32) }.ok()?;
    // `syscall(-1)` and friends: sys_enter does not count them either.
    if id < 0 {
        return None;
    }
    let id = id as u64;
    let (table, nr) = crate::syscalls::table_of(id)?;
    // An errno answer is -errno (1..=4095); anything else (an errno of 0, a user-notification
    // supervisor's value) is counted as 0.
    let errno = if (-4095..0).contains(&ret) {
        (-ret) as u32
    } else {
        0
    };
    let key = DenialKey {
        slot: target.slot,
        table,
        nr: nr as u32,
        errno,
    };
    match DENIALS.get_ptr_mut(&key) {
        // SAFETY: this CPU's value; no preemption while the program runs.
        Some(denial) => unsafe {
            if (*denial).count == 0 {
                (*denial).first_ns = bpf_ktime_get_ns();
                (*denial).comm = bpf_get_current_comm().unwrap_or([0; 16]);
            }
            (*denial).count += 1;
        },
        None => {
            let denial = Denial {
                count: 1,
                // SAFETY: helper with no arguments.
                first_ns: unsafe { bpf_ktime_get_ns() },
                comm: bpf_get_current_comm().unwrap_or([0; 16]),
            };
            // A racing insert of the same key on another CPU is fine: an update from a program
            // writes only this CPU's value.
            if DENIALS.insert(&key, &denial, 0).is_err() {
                bump(stats::DENIALS_LOST);
            }
        }
    }
    Some(())
}
