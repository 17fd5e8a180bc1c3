//! The verdict cache (issue 13): what `sys_enter` decided for a thread, so that its next calls
//! skip the decision, and `sys_exit` skips every call of a thread that is not recorded. Deciding
//! costs the pid and cgroup-id helpers (the latter four dependent loads through the task's
//! css_set: about 10 ns here), a TARGETS lookup and a MARKS lookup; a cached verdict costs two
//! array loads, keyed by the registers pointer both tracepoints are handed
//! (`profiler_common::verdict`): no helper call at all (issue 13: a tid-keyed cache still paid
//! the pid helper, and the loads that wait for it, at each enter and exit: `hook-ab` 1.05× the
//! floor against 1.03–1.04×).
//!
//! A verdict is keyed by the thread's kernel stack and valid while the generation it was
//! decided in equals GENERATION, a counter both sides only ever add 1 to, atomically. What can
//! change a thread's verdict, and what invalidates or forgets it:
//! - a target added or removed, a mark made, a TSYNC process dropped, by userspace: userspace
//!   adds to the counter afterwards, in the map's memory (`Tracer::invalidate_verdicts`);
//! - a thread moved to another cgroup: `cgroup_attach_task` fires after the move (in the writer of
//!   cgroup.procs, before its write returns) and adds to the counter;
//! - exec (the mark's `execed`): `sched_process_exec` forgets the thread's entry;
//! - a new thread (its parent's cgroup or CLONE_INTO_CGROUP's, its mark) on a reused stack: the
//!   stack's previous owner forgot its entry at `sched_process_exit`, which every thread passes
//!   before its stack is freed. A verdict is stored only by its own thread, in `sys_enter`.
//!
//! A verdict is stored with the generation read before the decision, so a change racing with the
//! decision leaves a verdict that is already stale. Arming at `cgroup_mkdir` needs nothing: a
//! new cgroup has no thread until one moves in or is born there. This module decides nothing:
//! `sys_enter` (crate::syscalls) does, and stores the result here.

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use aya_ebpf::{
    helpers::{bpf_get_current_task_btf, bpf_loop, bpf_probe_read_kernel, bpf_task_pt_regs},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use profiler_common::verdict;

use crate::maps::{GENERATION, VERDICTS};

/// The generation a verdict decided now belongs to. Read before deciding.
#[inline(always)]
pub(crate) fn generation() -> u64 {
    GENERATION.get(0).copied().unwrap_or(0)
}

/// The verdict (`verdict::UNTRACED` or a `verdict::COUNT`) of the thread whose saved registers
/// are at `regs` (a raw syscall tracepoint's first argument), if one is cached for `generation`.
#[inline(always)]
pub(crate) fn cached(regs: u64, generation: u64) -> Option<u8> {
    let word = *VERDICTS.get(verdict::index(regs))?;
    verdict::what(word, regs, generation)
}

/// Caches `what` for the thread at `regs` (the current one), decided in `generation`.
#[inline(always)]
pub(crate) fn remember(regs: u64, generation: u64, what: u8) {
    if let Some(entry) = VERDICTS.get_ptr_mut(verdict::index(regs)) {
        // SAFETY: an aligned u64 array element, stored whole (threads sharing the entry on two
        // CPUs leave one word or the other, never a mix).
        unsafe { *entry = verdict::word(regs, generation, what) };
    }
}

/// Forgets the current thread's verdict (an exec, an exit: its stack may be the next thread's).
/// Another thread's verdict in that entry only costs it one decision. `bpf_task_pt_regs`
/// returns the address the raw syscall tracepoints are handed (Linux ≥ 5.15).
#[inline(always)]
pub(crate) fn forget_current() {
    // SAFETY: the current task, as a BTF pointer; the helper only computes an address.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as u64;
    // The verifier allows no shift of a pointer: its value is copied out as a number, from this
    // program's own stack (a read that cannot fail).
    // SAFETY: a checked read of a local.
    let Ok(regs) = (unsafe { bpf_probe_read_kernel(&regs as *const u64) }) else {
        return;
    };
    if let Some(entry) = VERDICTS.get_ptr_mut(verdict::index(regs)) {
        // SAFETY: as in `remember`; 0 matches no kernel address.
        unsafe { *entry = 0 };
    }
}

/// `cgroup:cgroup_attach_task`, TP_PROTO(struct cgroup *dst_cgrp, const char *path, struct
/// task_struct *task, bool threadgroup): fired by cgroup_attach_task() after a thread (or a whole
/// process, `threadgroup`) moved to `dst_cgrp`, before the write to cgroup.procs or
/// cgroup.threads returns. No argument is read. Linux ≥ 4.17 (raw tracepoints).
/// <https://elixir.bootlin.com/linux/v6.18/source/kernel/cgroup/cgroup.c>;
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/cgroup.h>
///
/// Invalidates every verdict: the threads moved are not named one by one. Past a multiple of
/// `verdict::CLEAR_EVERY` it zeroes the map (`verdict::clears_after`), a few times every 2^25
/// moves: 8,192 stores in a `bpf_loop` (Linux ≥ 5.17).
#[raw_tracepoint(tracepoint = "cgroup_attach_task")]
pub fn cgroup_attach_task(_ctx: RawTracePointContext) -> i32 {
    if let Some(counter) = GENERATION.get_ptr_mut(0) {
        // SAFETY: an aligned u64 of an array element that CPUs add to at once: atomically (a
        // BPF atomic add; the target has no `AtomicU64::fetch_add`), then read (CPU v1 has no
        // fetch-add).
        let seen = unsafe {
            atomic_xadd::<u64, u64, { AtomicOrdering::SeqCst }>(counter, 1);
            core::ptr::read_volatile(counter)
        };
        if verdict::clears_after(seen) {
            // SAFETY: the callback is a BPF function of this object; it has no context.
            unsafe {
                bpf_loop(
                    verdict::ENTRIES,
                    clear_entry as *mut _,
                    core::ptr::null_mut(),
                    0,
                )
            };
        }
    }
    0
}

/// `bpf_loop` callback: zeroes entry `index` of VERDICTS. Returns 0 (go on).
#[inline(never)]
extern "C" fn clear_entry(index: u64, _ctx: *mut core::ffi::c_void) -> i64 {
    if let Some(entry) = VERDICTS.get_ptr_mut(index as u32) {
        // SAFETY: as in `remember`.
        unsafe { *entry = 0 };
    }
    0
}
