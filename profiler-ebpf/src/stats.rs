//! The STATS counters: anything that would make a recording incomplete (a thread left unmarked, a
//! syscall number out of range, no free target slot). Every concern bumps them; indexes and
//! meanings live in `profiler_common::stats`, and userspace sums them over CPUs and warns. This
//! module only writes them.

use crate::maps::STATS;

#[inline(always)]
pub(crate) fn bump(index: u32) {
    if let Some(counter) = STATS.get_ptr_mut(index) {
        // SAFETY: per-CPU value.
        unsafe { *counter += 1 };
    }
}
