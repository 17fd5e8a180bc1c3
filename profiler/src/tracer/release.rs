//! Giving a finished target's slot back: everything the kernel side wrote for it is emptied.

use aya::{
    Pod,
    maps::{Array, HashMap, MapData, PerCpuArray, PerCpuValues, Queue},
};
use profiler_common::{
    ArgValues, CAP_SLOTS, CGROUP_PATH_MAX, CapFirst, InstallerSeen, NR_SLOTS, TABLES,
    cap_counts_key, comm_index, counts_key, maps,
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
        self.invalidate_verdicts()?;
        let cpus = aya::util::nr_cpus().map_err(|(_, err)| TracerError::Cpus(err))?;
        let tables = || (0..TABLES).map(|table| counts_key(slot, table));
        self.clear_per_cpu(maps::COUNTS, tables(), [0u64; NR_SLOTS], cpus)?;
        self.clear_array(maps::INSTALLER, [slot], InstallerSeen::EMPTY)?;
        self.clear_array(maps::RUNTIME_PHASE_SEEN, tables(), [0u8; NR_SLOTS])?;
        let comms = (recording.observed.iter())
            .map(|observed| comm_index(slot, observed.table, observed.nr));
        self.clear_array(maps::FIRST_COMM, comms, [0u8; 16])?;
        let buckets = (0..profiler_common::CAP_BUCKETS).map(|bucket| cap_counts_key(slot, bucket));
        self.clear_per_cpu(maps::CAP_COUNTS, buckets, [0u64; CAP_SLOTS], cpus)?;
        let caps = (0..CAP_SLOTS as u32).map(|cap| slot * CAP_SLOTS as u32 + cap);
        self.clear_array(maps::CAP_FIRST, caps, CapFirst::EMPTY)?;
        self.clear_array(maps::SLOT_FLAGS, [slot], 0u32)?;
        self.clear_per_cpu(maps::ARG_VALUES, [slot], ArgValues::EMPTY, cpus)?;
        self.clear_array(maps::SLOT_PATHS, [slot], [0u8; CGROUP_PATH_MAX])?;
        self.clear_denials(slot)?;
        let mut queue: Queue<&mut MapData, u32> = self.open_mut(maps::FREE_SLOTS)?;
        queue.push(slot, 0).map_err(map_err(maps::FREE_SLOTS))
    }

    /// Sets the entries `keys` of the array map `name` to `empty`.
    fn clear_array<V: Pod>(
        &mut self,
        name: &'static str,
        keys: impl IntoIterator<Item = u32>,
        empty: V,
    ) -> Result<(), TracerError> {
        let mut array: Array<&mut MapData, V> = self.open_mut(name)?;
        for key in keys {
            array.set(key, empty, 0).map_err(map_err(name))?;
        }
        Ok(())
    }

    /// Sets the entries `keys` of the per-CPU array map `name` to `empty` on each of `cpus` CPUs.
    fn clear_per_cpu<V: Pod>(
        &mut self,
        name: &'static str,
        keys: impl IntoIterator<Item = u32>,
        empty: V,
        cpus: usize,
    ) -> Result<(), TracerError> {
        let mut array: PerCpuArray<&mut MapData, V> = self.open_mut(name)?;
        for key in keys {
            let values = PerCpuValues::try_from(vec![empty; cpus]).map_err(TracerError::Cpus)?;
            array.set(key, values, 0).map_err(map_err(name))?;
        }
        Ok(())
    }
}
