//! Reading what the `cap_capable` program counted for one target (design.md §8).

use aya::maps::{Array, MapData, PerCpuArray};
use profiler_common::{
    CAP_DENIED, CAP_GRANTED, CAP_OTHER_CRED, CAP_SLOTS, CAP_VM_PROBE, CapFirst, Mark,
    cap_counts_key, maps,
};

use super::{Tracer, TracerError, map_err, nul_terminated};

/// Checks of one capability by gated threads after their first exec past the gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapCheck {
    pub cap: u32,
    pub granted: u64,
    pub denied: u64,
    /// CAP_SYS_ADMIN checks made as the kernel's memory-accounting probe (either result).
    pub vm_accounting_probes: u64,
    /// Checks of credentials other than the task's own (kernel-overridden, e.g. overlayfs).
    pub other_cred: u64,
    pub first_comm: String,
    /// The native syscall number the first check happened in, if known.
    pub first_syscall: Option<u32>,
}

impl Tracer {
    pub(super) fn read_capabilities(&self, slot: u32) -> Result<Vec<CapCheck>, TracerError> {
        let counts: PerCpuArray<&MapData, [u64; CAP_SLOTS]> = self.open(maps::CAP_COUNTS)?;
        let sum = |bucket: u32| -> Result<[u64; CAP_SLOTS], TracerError> {
            let per_cpu = counts
                .get(&cap_counts_key(slot, bucket), 0)
                .map_err(map_err(maps::CAP_COUNTS))?;
            let mut sums = [0u64; CAP_SLOTS];
            for row in per_cpu.iter() {
                for (sum, value) in sums.iter_mut().zip(row.iter()) {
                    *sum += value;
                }
            }
            Ok(sums)
        };
        let (granted, denied) = (sum(CAP_GRANTED)?, sum(CAP_DENIED)?);
        let (probes, other_cred) = (sum(CAP_VM_PROBE)?, sum(CAP_OTHER_CRED)?);
        let firsts: Array<&MapData, CapFirst> = self.open(maps::CAP_FIRST)?;
        let mut checks = Vec::new();
        for cap in 0..CAP_SLOTS {
            if granted[cap] == 0 && denied[cap] == 0 && probes[cap] == 0 && other_cred[cap] == 0 {
                continue;
            }
            let first = firsts
                .get(&(slot * CAP_SLOTS as u32 + cap as u32), 0)
                .map_err(map_err(maps::CAP_FIRST))?;
            checks.push(CapCheck {
                cap: cap as u32,
                granted: granted[cap],
                denied: denied[cap],
                vm_accounting_probes: probes[cap],
                other_cred: other_cred[cap],
                first_comm: nul_terminated(&first.comm),
                first_syscall: (first.syscall < Mark::FIRST_SENTINEL).then_some(first.syscall),
            });
        }
        Ok(checks)
    }
}
