//! Capability checks (design.md §8): the `cap_capable` program counts, per target and capability,
//! every check a gated thread makes once it has exec'd past the gate, in one of four buckets
//! (granted, denied, made on other credentials, the memory-accounting probe), and keeps who made
//! the first of each and in which syscall. It owns CAP_COUNTS and CAP_FIRST. It never marks a
//! thread (it reads the gate's marks), and it does not decide what a profile grants or explain
//! the blind spots (DAC_OVERRIDE, NET_BIND_SERVICE): userspace's report does.

use aya_ebpf::{
    EbpfContext as _,
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_get_current_task_btf, bpf_get_stack, bpf_probe_read_kernel,
        bpf_task_pt_regs,
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use profiler_common::{
    CAP_DENIED, CAP_GRANTED, CAP_OTHER_CRED, CAP_SLOTS, CAP_VM_PROBE, CapFirst, Mark,
    cap_counts_key,
};

use crate::{
    abi,
    gate::mark_of,
    globals::TASK_REAL_CRED_OFFSET,
    maps::{CAP_COUNTS, CAP_FIRST, MarkState, TARGETS, VM_PROBE, mark_state},
};

/// include/uapi/linux/capability.h.
const CAP_SYS_ADMIN: u32 = 21;

/// `capability:cap_capable` (Linux ≥ 6.14), TP_PROTO(const struct cred *cred, struct user_namespace
/// *target_ns, const struct user_namespace *capable_ns, int cap, int ret): every capability check
/// and its result (ret 0 = granted), fired at the end of security/commoncap.c cap_capable(). Only
/// `arg(0)` (compared with the task's `real_cred`), `arg(3)` and `arg(4)` are read. Userspace
/// attaches it only where the tracepoint exists; syscalls are recorded without it.
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/capability.h>
///
/// Gated like syscalls, and further: only after the thread's first exec past the gate, because runc
/// sets up users (setgroups/setgid/setuid, which check CAP_SETGID/CAP_SETUID) after installing the
/// filter but before applying the container's capability set (libcontainer/init_linux.go
/// finalizeNamespace).
#[raw_tracepoint(tracepoint = "cap_capable")]
pub fn cap_capable(ctx: RawTracePointContext) -> i32 {
    let _ = try_cap_capable(&ctx);
    0
}

#[inline(always)]
fn try_cap_capable(ctx: &RawTracePointContext) -> Option<()> {
    // SAFETY: helper with no arguments.
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    // SAFETY: presence only; the slot comes from the mark.
    unsafe { TARGETS.get(&cgroup) }?;
    let pid_tgid = bpf_get_current_pid_tgid();
    let mut mark = mark_of(pid_tgid as u32, (pid_tgid >> 32) as u32)?;
    if mark.execed == 0 {
        return None;
    }
    mark.syscall = match mark_state(pid_tgid as u32) {
        // `sys_enter` keeps no number for a counted call (issue 13): it is in the task's
        // registers, as the entry code left it.
        MarkState::InSyscall => syscall_in_progress(),
        // Between calls (a page fault).
        MarkState::Marked | MarkState::None => Mark::NOT_IN_SYSCALL,
        // A tid beyond MARK_FILTER: `sys_enter` keeps its `syscall` on every call.
        MarkState::Unfiltered => mark.syscall,
    };
    let cap: u64 = ctx.arg(3);
    let ret: u64 = ctx.arg(4);
    let (cap, denied) = (cap as u32, ret as i32 != 0);
    if cap as usize >= CAP_SLOTS {
        return None;
    }
    let cred: u64 = ctx.arg(0);
    // SAFETY: a checked read of the current task's real_cred pointer.
    let real_cred: u64 = unsafe {
        let task = bpf_get_current_task() as *const u8;
        bpf_probe_read_kernel(task.add(TASK_REAL_CRED_OFFSET.load() as usize) as *const u64)
            .unwrap_or(0)
    };
    let bucket = if cred != real_cred {
        CAP_OTHER_CRED
    } else if cap == CAP_SYS_ADMIN && is_vm_probe(ctx, mark.syscall) {
        CAP_VM_PROBE
    } else if denied {
        CAP_DENIED
    } else {
        CAP_GRANTED
    };
    let slot = mark.slot as u32;
    let counts = CAP_COUNTS.get_ptr_mut(cap_counts_key(slot, bucket))?;
    // SAFETY: per-CPU value.
    let counter = unsafe { &mut (*counts)[cap as usize] };
    if *counter == 0 {
        note_cap_first(slot * CAP_SLOTS as u32 + cap, mark.syscall, !denied);
    }
    *counter += 1;
    Some(())
}

/// The number of the syscall the current task is in (`pt_regs.orig_ax` on x86-64), or
/// `Mark::NOT_IN_SYSCALL` if its registers cannot be read. `bpf_task_pt_regs` needs Linux ≥ 5.15.
#[inline(always)]
fn syscall_in_progress() -> u32 {
    // SAFETY: the current task's saved user registers, read with a checked read.
    unsafe {
        let regs = bpf_task_pt_regs(bpf_get_current_task_btf()) as *const u8;
        bpf_probe_read_kernel(regs.add(abi::SYSCALL_NR_OFFSET) as *const u32)
            .unwrap_or(Mark::NOT_IN_SYSCALL)
    }
}

/// Whether this CAP_SYS_ADMIN check comes from the memory-accounting probe: one of the first kernel
/// stack frames returns into `security_vm_enough_memory_mm` (on 6.18 `cap_vm_enough_memory` is
/// inlined there; where it is not, it is one frame further down, still within the eight read).
/// Where /proc/kallsyms hid the address, the syscall in progress decides (which misses stack growth
/// on a page fault). `bpf_get_stack` needs Linux ≥ 4.18.
#[inline(always)]
fn is_vm_probe(ctx: &RawTracePointContext, syscall: u32) -> bool {
    let [start, end] = VM_PROBE.get(0).copied().unwrap_or([0, 0]);
    if start == 0 || end <= start {
        return is_vm_accounting(syscall);
    }
    let mut frames = [0u64; 8];
    // SAFETY: the buffer is 64 bytes; flags 0 asks for the kernel stack.
    let len = unsafe {
        bpf_get_stack(
            ctx.as_ptr(),
            frames.as_mut_ptr().cast(),
            core::mem::size_of_val(&frames) as u32,
            0,
        )
    };
    if len <= 0 {
        return is_vm_accounting(syscall);
    }
    let mut i = 0;
    while i < frames.len() {
        if frames[i] >= start && frames[i] < end {
            return true;
        }
        i += 1;
    }
    false
}

#[inline(always)]
fn is_vm_accounting(syscall: u32) -> bool {
    let mut i = 0;
    while i < abi::VM_ACCOUNTING.len() {
        if abi::VM_ACCOUNTING[i] == syscall {
            return true;
        }
        i += 1;
    }
    false
}

#[inline(never)]
fn note_cap_first(index: u32, syscall: u32, granted: bool) {
    if let Some(first) = CAP_FIRST.get_ptr_mut(index) {
        // SAFETY: a plain array element; racing CPUs each write a true first.
        unsafe {
            if (*first).comm[0] == 0 {
                if let Ok(comm) = bpf_get_current_comm() {
                    *first = CapFirst {
                        comm,
                        syscall,
                        granted: granted as u32,
                    };
                }
            }
        }
    }
}
