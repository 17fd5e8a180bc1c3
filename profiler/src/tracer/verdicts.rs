//! Invalidating the kernel side's cached verdicts (issue 13; `profiler_common::verdict`,
//! `profiler-ebpf/src/verdicts.rs`): after this process changes which cgroups are targets or
//! which threads are marked, every thread's next `sys_enter` decides again.

use std::os::fd::{AsFd as _, AsRawFd as _};
use std::sync::atomic::{AtomicU64, Ordering};

use profiler_common::maps;

use super::{Tracer, TracerError};

impl Tracer {
    /// Adds 1 to GENERATION, the counter every verdict is valid for. Called after each change
    /// to TARGETS, MARKS or MARKED_TGIDS made here, and once when the programs are attached.
    /// The kernel side adds to the same counter (`cgroup_attach_task`), and so may the host
    /// tracer and a recorder sharing its maps at once, so the add is atomic on the map's memory,
    /// mapped here (the map is `BPF_F_MMAPABLE`): a whole-value update through the bpf syscall
    /// could overwrite an add made in between, and leave a stale verdict valid.
    pub(super) fn invalidate_verdicts(&mut self) -> Result<(), TracerError> {
        let Some(aya::maps::Map::Array(data)) = self.ebpf.map(maps::GENERATION) else {
            return Err(TracerError::MissingMap(maps::GENERATION));
        };
        let fd = data.fd().as_fd().as_raw_fd();
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
                fd,
                0,
            );
            if mapped == libc::MAP_FAILED {
                return Err(TracerError::Generation(std::io::Error::last_os_error()));
            }
            AtomicU64::from_ptr(mapped.cast()).fetch_add(1, Ordering::SeqCst);
            libc::munmap(mapped, page);
        }
        Ok(())
    }
}
