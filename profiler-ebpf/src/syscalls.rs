//! Syscall counting: the `sys_enter` program, which runs on every syscall of the machine, and the
//! table detection (native, ia32 compat, x32: design.md §5) that decides which count a syscall
//! lands in. It owns COUNTS and FIRST_COMM, and decides each thread's verdict, which
//! [`crate::verdicts`] caches. It does not decide when a thread starts to count: an unmarked
//! thread of a target is handed to [`crate::gate::gate_opens`], and marks are the gate's (this
//! module only reads them, and stores the call in their `syscall` field when it decides, for
//! [`crate::denials`] where a thread has no MARK_FILTER byte). It never names a syscall;
//! userspace does, per table.

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task_btf,
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use profiler_common::{
    NR_SLOTS, RUNTIME_PHASE, TABLE_COMPAT, TABLE_NATIVE, TABLE_X32, X32_SYSCALL_BIT, comm_index,
    counts_key, stats, verdict,
};

use crate::{
    abi, args,
    gate::{gate_opens, note_slot},
    globals::{COMPAT_STATUS_MASK, TASK_STATUS_OFFSET},
    maps::{
        COUNTS, FIRST_COMM, MARKED_TGIDS, MARKS, MarkState, TARGETS, may_be_target, set_mark_state,
    },
    stats::bump,
    verdicts,
};

/// `raw_syscalls:sys_enter`, TP_PROTO(struct pt_regs *regs, long id): `arg(0)` is the task's user
/// registers (read by the gate for the filter-install arguments), `arg(1)` the syscall number as
/// the entry code saw it, x32's bit 30 included. Raw tracepoints need Linux ≥ 4.17;
/// `is_compat_task` calls `bpf_get_current_task_btf`, which needs ≥ 5.11.
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/syscalls.h>
///
/// Runs after seccomp has allowed the syscall (design.md §1), on every syscall of the machine.
/// A thread whose verdict is cached (crate::verdicts, keyed by `arg(0)`) costs two array loads
/// when it is not recorded, and a counted call adds the pid helper, its MARK_FILTER byte and its
/// count. Only a thread without a verdict is decided ([`decide`]).
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    let _ = try_sys_enter(&ctx);
    0
}

#[inline(always)]
fn try_sys_enter(ctx: &RawTracePointContext) -> Option<()> {
    let regs: u64 = ctx.arg(0);
    let generation = verdicts::generation();
    match verdicts::cached(regs, generation) {
        Some(verdict::UNTRACED) => None,
        Some(what) => counted(ctx, what),
        None => decide(ctx, regs, generation),
    }
}

/// A call of a thread whose cached verdict is to count it. Inlined: as a BPF-to-BPF call of its
/// own it cost the recorded loop 1.147× the floor against 1.132×, and the untraced path nothing
/// measurable (issue 13).
#[inline(always)]
fn counted(ctx: &RawTracePointContext, what: u8) -> Option<()> {
    if what & verdict::IN_SYSCALL_BYTE != 0 {
        // This call's `sys_exit` needs no MARKS lookup; an exit without this store is a call
        // seccomp refused (crate::denials).
        set_mark_state(bpf_get_current_pid_tgid() as u32, MarkState::InSyscall);
    }
    let id: i64 = ctx.arg(1);
    if id < 0 {
        return None;
    }
    count(ctx, (what & verdict::SLOT_MASK) as u32, id as u64, false)
}

/// A thread with no verdict for this generation: whether its cgroup is a target, whether it is
/// past the gate, and whether this call opens the gate. The verdict is cached when it holds for
/// every call until an invalidation: not recorded, or counted (marked and past its first exec,
/// or a thread of a TSYNC process). A thread before the gate or in its runtime phase is decided
/// on every call.
///
/// A function of its own (a BPF-to-BPF call), so that the frame and registers it needs are not
/// set up on calls that hit.
#[inline(never)]
fn decide(ctx: &RawTracePointContext, regs: u64, generation: u64) -> Option<()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    // SAFETY: helper with no arguments.
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    // SAFETY: the value is copied out at once; TARGETS changes only from userspace.
    let target = match may_be_target(cgroup).then(|| unsafe { TARGETS.get(&cgroup) }) {
        Some(Some(target)) => *target,
        _ => {
            verdicts::remember(regs, generation, verdict::UNTRACED);
            return None;
        }
    };
    let id: i64 = ctx.arg(1);
    if id < 0 {
        return None;
    }
    let slot = target.slot;
    let mut runtime_phase = false;
    match MARKS.get_ptr_mut(&tid) {
        // SAFETY: the entry belongs to this thread, the only writer of its `syscall` field.
        Some(mark) => unsafe {
            // Marks userspace made (threads running when a recording attached) get their byte
            // here.
            let has_byte = set_mark_state(tid, MarkState::InSyscall);
            // The call in progress, for crate::denials where the thread has no byte (and, at a
            // thread's first call after it was marked, ending `Mark::FRESH`).
            if (*mark).syscall != id as u32 {
                (*mark).syscall = id as u32;
            }
            if (*mark).execed == 0 {
                runtime_phase = true;
                if id != abi::SYS_EXECVE && id != abi::SYS_EXECVEAT {
                    note_slot(slot, RUNTIME_PHASE);
                }
            } else if has_byte {
                let what = verdict::COUNT | verdict::IN_SYSCALL_BYTE | slot as u8;
                verdicts::remember(regs, generation, what);
            }
        },
        None => {
            // SAFETY: only presence is tested.
            if unsafe { MARKED_TGIDS.get(&tgid).is_some() } {
                verdicts::remember(regs, generation, verdict::COUNT | slot as u8);
            } else if !gate_opens(ctx, &target, tid, id) {
                return None;
            }
        }
    }
    count(ctx, slot, id as u64, runtime_phase)
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
fn count(ctx: &RawTracePointContext, slot: u32, id: u64, runtime_phase: bool) -> Option<()> {
    let (table, nr) = table_of(id)?;
    let nr = nr as usize;
    if runtime_phase {
        crate::runtime::note_runtime_phase(counts_key(slot, table), nr);
    }
    let counts = COUNTS.get_ptr_mut(counts_key(slot, table))?;
    // SAFETY: per-CPU value, only this CPU writes it while this program runs (no preemption in BPF).
    let counter = unsafe { &mut (*counts)[nr] };
    if *counter == 0 {
        note_first_comm(comm_index(slot, table, nr as u32));
    }
    *counter += 1;
    if table == TABLE_NATIVE && args::watched(nr as u64) {
        args::note(ctx, slot, nr as u64);
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
