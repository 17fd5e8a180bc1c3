//! Syscall counting: the `sys_enter` program, which runs on every syscall of the machine, and the
//! table detection (native, ia32 compat, x32: design.md §5) that decides which count a syscall
//! lands in. It owns COUNTS and FIRST_COMM. It does not decide when a thread starts to count: an
//! unmarked thread of a target is handed to [`crate::gate::gate_opens`], and marks are the gate's
//! (this module only reads them and keeps their `syscall` field current for [`crate::caps`]). It
//! never names a syscall; userspace does, per table.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task_btf,
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use profiler_common::{
    NR_SLOTS, RUNTIME_PHASE, TABLE_COMPAT, TABLE_NATIVE, TABLE_X32, Target, X32_SYSCALL_BIT,
    comm_index, counts_key, stats,
};

use crate::{
    abi, args,
    gate::{gate_opens, note_slot},
    globals::{COMPAT_STATUS_MASK, TASK_STATUS_OFFSET},
    maps::{
        COUNTS, FIRST_COMM, MARKED_TGIDS, MARKS, MarkState, TARGETS, may_be_target, set_mark_state,
    },
    stats::bump,
};

/// `raw_syscalls:sys_enter`, TP_PROTO(struct pt_regs *regs, long id): `arg(0)` is the task's user
/// registers (read by the gate for the filter-install arguments), `arg(1)` the syscall number as
/// the entry code saw it, x32's bit 30 included. Raw tracepoints need Linux ≥ 4.17;
/// `is_compat_task` calls `bpf_get_current_task_btf`, which needs ≥ 5.11.
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/syscalls.h>
///
/// Runs after seccomp has allowed the syscall (design.md §1), on every syscall of the machine: the
/// untraced path is one helper call and one array load (TARGET_FILTER); TARGETS is looked up
/// only for cgroups the filter lets through.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    let _ = try_sys_enter(&ctx);
    0
}

#[inline(always)]
fn try_sys_enter(ctx: &RawTracePointContext) -> Option<()> {
    // SAFETY: helper with no arguments.
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    if !may_be_target(cgroup) {
        return None;
    }
    // SAFETY: the value is copied out at once; TARGETS changes only from userspace.
    let target = *unsafe { TARGETS.get(&cgroup) }?;
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let id: i64 = ctx.arg(1);
    if id < 0 {
        return None;
    }
    let mut runtime_phase = false;
    match MARKS.get_ptr_mut(&tid) {
        // SAFETY: the entry belongs to this thread, the only writer of its `syscall` field.
        Some(mark) => unsafe {
            // This call's `sys_exit` needs no MARKS lookup; an exit without this store is a call
            // seccomp refused (crate::denials). Marks userspace made (threads running when a
            // recording attached) get their byte here.
            set_mark_state(tid, MarkState::InSyscall);
            // The call in progress, for crate::caps (and for crate::denials where the thread has
            // no byte).
            if (*mark).syscall != id as u32 {
                (*mark).syscall = id as u32;
            }
            if (*mark).execed == 0 {
                runtime_phase = true;
                if id != abi::SYS_EXECVE && id != abi::SYS_EXECVEAT {
                    note_slot(target.slot, RUNTIME_PHASE);
                }
            }
        },
        None => {
            // SAFETY: only presence is tested.
            let tgid_marked = unsafe { MARKED_TGIDS.get(&tgid).is_some() };
            if !tgid_marked && !gate_opens(ctx, &target, tid, id) {
                return None;
            }
        }
    }
    count(ctx, &target, id as u64, runtime_phase)
}

/// The table a syscall was made through and its number in it (design.md §5); None, counted in
/// STATS, for a number beyond [`NR_SLOTS`].
#[inline(always)]
pub(crate) fn table_of(id: u64) -> Option<(u32, u64)> {
    let (table, nr) = if is_compat_task() {
        (TABLE_COMPAT, id)
    } else if id & X32_SYSCALL_BIT != 0 {
        (TABLE_X32, id & !X32_SYSCALL_BIT)
    } else {
        (TABLE_NATIVE, id)
    };
    if nr >= NR_SLOTS as u64 {
        bump(stats::OUT_OF_RANGE);
        return None;
    }
    Some((table, nr))
}

/// `runtime_phase`: a gated thread that has not exec'd yet (the runtime's own code under the
/// filter); such syscalls are also noted per number ([`crate::runtime::note_runtime_phase`]).
#[inline(always)]
fn count(ctx: &RawTracePointContext, target: &Target, id: u64, runtime_phase: bool) -> Option<()> {
    let (table, nr) = table_of(id)?;
    let nr = nr as usize;
    if runtime_phase {
        crate::runtime::note_runtime_phase(counts_key(target.slot, table), nr);
    }
    let counts = COUNTS.get_ptr_mut(counts_key(target.slot, table))?;
    // SAFETY: per-CPU value, only this CPU writes it while this program runs (no preemption in BPF).
    let counter = unsafe { &mut (*counts)[nr] };
    if *counter == 0 {
        note_first_comm(comm_index(target.slot, table, nr as u32));
    }
    *counter += 1;
    if table == TABLE_NATIVE && args::watched(nr as u64) {
        args::note(ctx, target.slot, nr as u64);
    }
    Some(())
}

/// Cold path: the first time this CPU sees this syscall for this target.
#[inline(never)]
fn note_first_comm(index: u32) {
    if let Some(slot) = FIRST_COMM.get_ptr_mut(index) {
        // SAFETY: a plain array element; a racing writer on another CPU writes an equally true first.
        unsafe {
            if (*slot)[0] == 0 {
                if let Ok(comm) = bpf_get_current_comm() {
                    *slot = comm;
                }
            }
        }
    }
}

/// Whether the current task is in a 32-bit syscall (x86: `TS_COMPAT` in `thread_info.status`, set
/// on every int80/sysenter entry; this is what seccomp's own `syscall_get_arch` uses).
#[inline(always)]
pub(crate) fn is_compat_task() -> bool {
    let offset = TASK_STATUS_OFFSET.load();
    if offset == 0 {
        return false;
    }
    // SAFETY: bpf_get_current_task_btf returns the current task as a BTF-typed pointer, so this is
    // a plain load that the verifier checks against the kernel's task_struct at load time (the
    // offset is a read-only global, a known constant to it): no probe_read on every syscall.
    let status = unsafe {
        let task = bpf_get_current_task_btf() as *const u8;
        core::ptr::read_volatile(task.add(offset as usize) as *const u32)
    };
    status & COMPAT_STATUS_MASK.load() != 0
}
