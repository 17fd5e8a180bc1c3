//! Empty programs on the hot-path hooks: the benchmark's cost floor (`cargo xtask bench`). The
//! `noop-tracer` bench binary attaches them instead of the recorder's programs, so the floor is
//! what any program on these hooks costs. They touch no map and no global on purpose: anything
//! added here raises the floor the recorder is measured against.

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn noop_sys_enter(_ctx: RawTracePointContext) -> i32 {
    0
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn noop_sys_exit(_ctx: RawTracePointContext) -> i32 {
    0
}
