//! Giving a finished target's slot back: everything the kernel side wrote for it is emptied.

use aya::maps::{Array, HashMap, MapData, PerCpuArray, PerCpuValues, Queue};
use profiler_common::{
    CAP_SLOTS, CGROUP_PATH_MAX, CapFirst, InstallerSeen, NR_SLOTS, TABLES, cap_counts_key,
    comm_index, counts_key, maps,
};

use super::{Recording, Tracer, TracerError, map_err};

impl Tracer {
    /// Gives a finished target's slot back for the next cgroup to arm, once its recording has
    /// been read: the target is removed, and every per-slot entry the kernel side only writes
    /// while it is empty (counts, first comms, capability checks, flags, path) is emptied. A
    /// `--containers` recording that runs hundreds of short-lived containers needs a slot only
    /// per container running at once.
    pub fn release(&mut self, slot: u32, recording: &Recording) -> Result<(), TracerError> {
        let armed: Vec<u64> = self
            .targets()?
            .into_iter()
            .filter(|(_, target)| target.slot == slot)
            .map(|(id, _)| id)
            .collect();
        for id in armed {
            self.remove_target(id)?;
        }
        let mut tgids: HashMap<&mut MapData, u32, u32> = self.open_mut(maps::MARKED_TGIDS)?;
        let stale: Vec<u32> = tgids
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, marked)| *marked == slot)
            .map(|(tgid, _)| tgid)
            .collect();
        for tgid in stale {
            let _ = tgids.remove(&tgid);
        }
        let cpus = aya::util::nr_cpus().map_err(|(_, err)| TracerError::Cpus(err))?;
        let mut counts: PerCpuArray<&mut MapData, [u64; NR_SLOTS]> = self.open_mut(maps::COUNTS)?;
        for table in 0..TABLES {
            let zeros =
                PerCpuValues::try_from(vec![[0u64; NR_SLOTS]; cpus]).map_err(TracerError::Cpus)?;
            counts
                .set(counts_key(slot, table), zeros, 0)
                .map_err(map_err(maps::COUNTS))?;
        }
        let mut installers: Array<&mut MapData, InstallerSeen> = self.open_mut(maps::INSTALLER)?;
        installers
            .set(slot, InstallerSeen::EMPTY, 0)
            .map_err(map_err(maps::INSTALLER))?;
        let mut phases: Array<&mut MapData, [u8; NR_SLOTS]> =
            self.open_mut(maps::RUNTIME_PHASE_SEEN)?;
        for table in 0..TABLES {
            phases
                .set(counts_key(slot, table), [0; NR_SLOTS], 0)
                .map_err(map_err(maps::RUNTIME_PHASE_SEEN))?;
        }
        let mut comms: Array<&mut MapData, [u8; 16]> = self.open_mut(maps::FIRST_COMM)?;
        for observed in &recording.observed {
            comms
                .set(comm_index(slot, observed.table, observed.nr), [0; 16], 0)
                .map_err(map_err(maps::FIRST_COMM))?;
        }
        let mut cap_counts: PerCpuArray<&mut MapData, [u64; CAP_SLOTS]> =
            self.open_mut(maps::CAP_COUNTS)?;
        for bucket in 0..profiler_common::CAP_BUCKETS {
            let zeros =
                PerCpuValues::try_from(vec![[0u64; CAP_SLOTS]; cpus]).map_err(TracerError::Cpus)?;
            cap_counts
                .set(cap_counts_key(slot, bucket), zeros, 0)
                .map_err(map_err(maps::CAP_COUNTS))?;
        }
        let mut firsts: Array<&mut MapData, CapFirst> = self.open_mut(maps::CAP_FIRST)?;
        for cap in 0..CAP_SLOTS as u32 {
            firsts
                .set(slot * CAP_SLOTS as u32 + cap, CapFirst::EMPTY, 0)
                .map_err(map_err(maps::CAP_FIRST))?;
        }
        let mut flags: Array<&mut MapData, u32> = self.open_mut(maps::SLOT_FLAGS)?;
        flags.set(slot, 0, 0).map_err(map_err(maps::SLOT_FLAGS))?;
        self.clear_arguments(slot, cpus)?;
        let mut paths: Array<&mut MapData, [u8; CGROUP_PATH_MAX]> =
            self.open_mut(maps::SLOT_PATHS)?;
        paths
            .set(slot, [0; CGROUP_PATH_MAX], 0)
            .map_err(map_err(maps::SLOT_PATHS))?;
        self.clear_denials(slot)?;
        let mut queue: Queue<&mut MapData, u32> = self.open_mut(maps::FREE_SLOTS)?;
        queue.push(slot, 0).map_err(map_err(maps::FREE_SLOTS))
    }
}
