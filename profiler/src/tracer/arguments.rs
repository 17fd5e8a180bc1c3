//! Reading a target's argument values (`maps::ARG_VALUES`, issue 12): the per-CPU
//! records unioned into [`crate::arguments::Observed`]. Kept beside the tracer, which it extends.

use aya::maps::{MapData, PerCpuArray};
use profiler_common::{ArgValues, maps};

use super::{Tracer, TracerError, map_err};
use crate::arguments::Observed;

impl Tracer {
    /// The argument values a target's gated threads passed, over every CPU.
    pub(super) fn read_arguments(&self, slot: u32) -> Result<Observed, TracerError> {
        let values: PerCpuArray<&MapData, ArgValues> = self.open(maps::ARG_VALUES)?;
        let per_cpu = values.get(&slot, 0).map_err(map_err(maps::ARG_VALUES))?;
        Ok(Observed::from_per_cpu(per_cpu.iter()))
    }
}
