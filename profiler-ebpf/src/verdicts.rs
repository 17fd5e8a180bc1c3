//! The verdict cache (issue 13): what `sys_enter` decided for a thread, so that its next calls
//! skip the decision. Deciding costs the cgroup-id helper (four dependent loads through the
//! task's css_set: about 10 ns here, most of what every untraced call paid), a TARGETS lookup
//! and a MARKS lookup; a cached verdict costs the pid helper and two array loads.
//!
//! A verdict (`profiler_common::verdict`) is keyed by tid and valid while the generation it was
//! decided in equals GENERATION, a counter both sides only ever add 1 to, atomically. What can
//! change a thread's verdict, and what invalidates or forgets it:
//! - a target added or removed, a mark made, a TSYNC process dropped, by userspace: userspace
//!   adds to the counter afterwards, in the map's memory (`Tracer::invalidate_verdicts`);
//! - a thread moved to another cgroup: `cgroup_attach_task` fires after the move (in the writer of
//!   cgroup.procs, before its write returns) and adds to the counter;
//! - a new thread (its parent's cgroup or CLONE_INTO_CGROUP's, its mark): its tid's entry is
//!   forgotten at `sched_process_fork`, before the child runs, and at the previous owner's exit;
//! - exec (the mark's `execed`; a non-leader thread taking over the leader's tid):
//!   `sched_process_exec` forgets both tids.
//!
//! A verdict is stored with the generation read before the decision, so a change racing with the
//! decision leaves a verdict that is already stale. Arming at `cgroup_mkdir` needs nothing: a
//! new cgroup has no thread until one moves in or is born there. This module decides nothing:
//! `sys_enter` (crate::syscalls) does, and stores the result here.

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use profiler_common::verdict;

use crate::maps::{GENERATION, VERDICTS};

/// The generation a verdict decided now belongs to. Read before deciding.
#[inline(always)]
pub(crate) fn generation() -> u64 {
    GENERATION.get(0).copied().unwrap_or(0)
}

/// `tid`'s verdict (`verdict::UNTRACED` or a `verdict::COUNT`) if one is cached for `generation`.
#[inline(always)]
pub(crate) fn cached(tid: u32, generation: u64) -> Option<u8> {
    let word = *VERDICTS.get(verdict::index(tid))?;
    verdict::what(word, tid, generation)
}

/// Caches `what` for `tid`, decided in `generation`.
#[inline(always)]
pub(crate) fn remember(tid: u32, generation: u64, what: u8) {
    if let Some(entry) = VERDICTS.get_ptr_mut(verdict::index(tid)) {
        // SAFETY: an aligned u64 array element, stored whole (threads sharing the entry on two
        // CPUs leave one word or the other, never a mix).
        unsafe { *entry = verdict::word(tid, generation, what) };
    }
}

/// Forgets the verdict in `tid`'s entry (a new thread with this tid, an exec, an exit). Another
/// thread's verdict there only costs it one decision.
#[inline(always)]
pub(crate) fn forget(tid: u32) {
    if let Some(entry) = VERDICTS.get_ptr_mut(verdict::index(tid)) {
        // SAFETY: as in `remember`; 0 matches no tid once generations start at 1.
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
/// Invalidates every verdict: the threads moved are not named one by one.
#[raw_tracepoint(tracepoint = "cgroup_attach_task")]
pub fn cgroup_attach_task(_ctx: RawTracePointContext) -> i32 {
    if let Some(counter) = GENERATION.get_ptr_mut(0) {
        // SAFETY: an aligned u64 of an array element that CPUs add to at once: atomically (a
        // BPF atomic add; the target has no `AtomicU64::fetch_add`).
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::SeqCst }>(counter, 1) };
    }
    0
}
