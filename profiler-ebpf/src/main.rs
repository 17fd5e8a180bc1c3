//! The kernel side of the recorder: raw tracepoints that count, per recorded cgroup, every syscall
//! made by a thread that has passed the gate (design.md §2), aggregated in per-CPU maps so nothing
//! can be lost and nothing streams per event. It never decides what goes into a profile; userspace
//! reads the counts at the end.
//!
//! One module per concern; this file only declares them (and the panic handler):
//! - [`gate`]: which threads count: filter installs (`sys_exit`), marks carried over fork and exec
//!   and dropped at exit, the GATE_ON_EXEC path.
//! - [`syscalls`]: the `sys_enter` hot path, counting per target and syscall table.
//! - [`verdicts`]: what `sys_enter` decided per thread, cached until something changes it
//!   (`cgroup_attach_task`).
//! - [`args`]: argument values of `socket`, `clone` and `personality` (argument rules).
//! - [`caps`]: capability checks (`cap_capable`).
//! - [`denials`]: calls seccomp refused (a gated thread's `sys_exit` without `sys_enter`).
//! - [`cgroups`]: arming new cgroups under watched prefixes (`cgroup_mkdir`).
//! - [`noop`]: empty programs, the benchmark's floor.
//! - [`runtime`]: who installed the filter (executable, no-new-privileges) and the runtime phase.
//! - [`maps`], [`globals`], [`stats`], [`abi`]: what they share.
//!
//! Program, map and global names are the symbols userspace looks up (`profiler/src/tracer.rs`);
//! which module declares them does not matter to the loader. Each program states its kernel
//! contract next to it; recording needs at least Linux 6.1 (hash maps allocated on insert in
//! tracing programs, `crate::maps`), `cap_capable` 6.14 where present. Only 6.18 is tested.
#![no_std]
#![no_main]
// `atomic_xadd` (crate::verdicts): the BPF target has no atomic read-modify-write types.
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod abi;
mod args;
mod caps;
mod cgroups;
mod denials;
mod gate;
mod globals;
mod maps;
mod noop;
mod runtime;
mod stats;
mod syscalls;
mod verdicts;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
