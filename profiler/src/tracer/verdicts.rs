//! Invalidating the kernel side's cached verdicts (issue 13; `profiler_common::verdict`,
//! `profiler-ebpf/src/verdicts.rs`): after this process changes which cgroups are targets or
//! which threads are marked, every thread's next `sys_enter` decides again.

use std::borrow::BorrowMut;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use aya::maps::{Array, MapData, MapError};
use profiler_common::{maps, verdict};

use super::{Tracer, TracerError, map_err};

impl Tracer {
    /// Adds 1 to GENERATION, the counter every verdict is valid for. Called after each change
    /// to TARGETS, MARKS or MARKED_TGIDS made here, and once when the programs are attached.
    /// An add that reaches a multiple of `verdict::CLEAR_EVERY` zeroes VERDICTS (a word keeps 27
    /// bits of its generation).
    pub(super) fn invalidate_verdicts(&mut self) -> Result<(), TracerError> {
        let Some(aya::maps::Map::Array(data)) = self.ebpf.map(maps::GENERATION) else {
            return Err(TracerError::MissingMap(maps::GENERATION));
        };
        let generation =
            (data.fd().as_fd().try_clone_to_owned()).map_err(TracerError::Generation)?;
        let mut verdicts: Array<&mut MapData, u64> = self.open_mut(maps::VERDICTS)?;
        invalidate(generation.as_fd(), &mut verdicts)
    }
}

/// Adds 1 to the GENERATION map whose fd is `generation` ([`add_one`]), and zeroes `verdicts`
/// when the add reaches a multiple of `verdict::CLEAR_EVERY` ([`clear`]).
pub fn invalidate<T: BorrowMut<MapData>>(
    generation: BorrowedFd<'_>,
    verdicts: &mut Array<T, u64>,
) -> Result<(), TracerError> {
    let before = add_one(generation).map_err(TracerError::Generation)?;
    if verdict::clears(before.wrapping_add(1)) {
        clear(verdicts).map_err(map_err(maps::VERDICTS))?;
    }
    Ok(())
}

/// Adds 1 to the GENERATION map whose fd is `generation`; returns the value before. The kernel
/// side adds to the same counter (`cgroup_attach_task`), and so may the host tracer and a
/// recorder sharing its maps at once, so the add is atomic on the map's memory, mapped here
/// (the map is `BPF_F_MMAPABLE`): a whole-value update through the bpf syscall could overwrite
/// an add made in between, and leave a stale verdict valid.
pub fn add_one(generation: BorrowedFd<'_>) -> std::io::Result<u64> {
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    // SAFETY: a shared mapping of the map's first page (its one u64 entry), released below;
    // nothing else in this process maps it.
    unsafe {
        let mapped = libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            generation.as_raw_fd(),
            0,
        );
        if mapped == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let before = AtomicU64::from_ptr(mapped.cast()).fetch_add(1, Ordering::SeqCst);
        libc::munmap(mapped, page);
        Ok(before)
    }
}

/// Zeroes every entry of VERDICTS, one update each (once every 2^25 adds).
pub fn clear<T: BorrowMut<MapData>>(verdicts: &mut Array<T, u64>) -> Result<(), MapError> {
    (0..verdict::ENTRIES).try_for_each(|index| verdicts.set(index, 0, 0))
}
