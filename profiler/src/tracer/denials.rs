//! Reading the kernel's denial counts (DENIALS, design.md §15): the calls seccomp refused to a
//! target's gated threads, summed over CPUs, with the first command to be refused (earliest
//! across CPUs). Part of the tracer boundary: numbers per syscall table, no names, no profiles.

use std::collections::BTreeMap;

use aya::maps::{MapData, PerCpuArray, PerCpuHashMap};
use profiler_common::{Denial, DenialKey, maps, stats};

use super::{Tracer, TracerError, map_err, nul_terminated};

/// One kind of refusal of one target: a syscall of one table answered with one errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `profiler_common::TABLE_*`.
    pub table: u32,
    pub nr: u32,
    /// The errno the call returned (1 EPERM, 38 ENOSYS, …); 0 when it returned no errno.
    pub errno: u32,
    pub count: u64,
    pub first_comm: String,
}

/// Sums one key's per-CPU values: the total count, and the comm of the CPU that saw it first.
fn sum(per_cpu: &[Denial]) -> (u64, String) {
    let count = per_cpu.iter().map(|d| d.count).sum();
    let first = per_cpu
        .iter()
        .filter(|d| d.count > 0)
        .min_by_key(|d| d.first_ns)
        .map(|d| nul_terminated(&d.comm))
        .unwrap_or_default();
    (count, first)
}

impl Tracer {
    fn denials_map(&self) -> Result<PerCpuHashMap<&MapData, DenialKey, Denial>, TracerError> {
        self.open(maps::DENIALS)
    }

    /// Every refusal counted for `slot` so far, sorted by (table, nr, errno).
    pub fn denials(&self, slot: u32) -> Result<Vec<Refusal>, TracerError> {
        let map = self.denials_map()?;
        let mut refusals = Vec::new();
        for entry in map.iter() {
            let (key, values) = entry.map_err(map_err(maps::DENIALS))?;
            if key.slot != slot {
                continue;
            }
            let (count, first_comm) = sum(&values);
            if count > 0 {
                refusals.push(Refusal {
                    table: key.table,
                    nr: key.nr,
                    errno: key.errno,
                    count,
                    first_comm,
                });
            }
        }
        refusals.sort_by_key(|r| (r.table, r.nr, r.errno));
        Ok(refusals)
    }

    /// Refusals not counted machine-wide because DENIALS was full.
    pub fn denials_lost(&self) -> Result<u64, TracerError> {
        let stats_array: PerCpuArray<&MapData, u64> = self.open(maps::STATS)?;
        Ok(stats_array
            .get(&stats::DENIALS_LOST, 0)
            .map_err(map_err(maps::STATS))?
            .iter()
            .sum())
    }

    /// Every slot's refusals so far, by slot (one pass over the map: for `watch`'s poll).
    pub fn all_denials(&self) -> Result<BTreeMap<u32, Vec<Refusal>>, TracerError> {
        let map = self.denials_map()?;
        let mut by_slot: BTreeMap<u32, Vec<Refusal>> = BTreeMap::new();
        for entry in map.iter() {
            let (key, values) = entry.map_err(map_err(maps::DENIALS))?;
            let (count, first_comm) = sum(&values);
            if count > 0 {
                by_slot.entry(key.slot).or_default().push(Refusal {
                    table: key.table,
                    nr: key.nr,
                    errno: key.errno,
                    count,
                    first_comm,
                });
            }
        }
        for refusals in by_slot.values_mut() {
            refusals.sort_by_key(|r| (r.table, r.nr, r.errno));
        }
        Ok(by_slot)
    }

    /// Forgets `slot`'s refusals (its slot is handed to the next target).
    pub(super) fn clear_denials(&mut self, slot: u32) -> Result<(), TracerError> {
        let mut map: PerCpuHashMap<&mut MapData, DenialKey, Denial> =
            self.open_mut(maps::DENIALS)?;
        let keys: Vec<DenialKey> = map
            .keys()
            .filter_map(Result::ok)
            .filter(|key| key.slot == slot)
            .collect();
        for key in keys {
            let _ = map.remove(&key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(count: u64, first_ns: u64, comm: &str) -> Denial {
        let mut raw = [0u8; 16];
        raw[..comm.len()].copy_from_slice(comm.as_bytes());
        Denial {
            count,
            first_ns,
            comm: raw,
        }
    }

    #[test]
    fn sums_over_cpus_and_names_the_earliest() {
        let per_cpu = [
            denial(3, 500, "late"),
            denial(0, 0, ""),
            denial(2, 100, "early"),
        ];
        assert_eq!(sum(&per_cpu), (5, "early".to_string()));
        assert_eq!(sum(&[denial(0, 0, "")]), (0, String::new()));
    }
}
