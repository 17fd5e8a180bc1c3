//! The gate (design.md §2): which threads of a target cgroup are counted. A thread is counted from
//! the moment a seccomp filter install it made returns 0 (`seccomp(SECCOMP_SET_MODE_FILTER, …)` or
//! `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, …)`); the mark passes to every thread and process it
//! forks and survives exec. Probes that fail (runc's five `seccomp(…, NULL)` calls returning
//! -EFAULT) do not count. With `Target::GATE_ON_EXEC`, a thread's first execve in a container's
//! mount namespace opens the gate too; with `Target::GATE_ON_COMMAND_EXEC` (`record -- CMD`), the
//! command's execve does.
//!
//! On the kernel side this module owns MARKS (but for the `syscall` field, which `sys_enter` keeps
//! current), MARKED_TGIDS, PENDING and SLOT_FLAGS. An install is noticed at `sys_enter`
//! ([`gate_opens`], which the syscall counter calls for unmarked threads of a target only) and
//! becomes a mark at `sys_exit`; `sched_process_fork`, `sched_process_exec` and
//! `sched_process_exit` carry marks over and drop them. It counts nothing and never reads the
//! counts ([`crate::syscalls`] does), and it does not decide which cgroups are targets (userspace
//! and [`crate::cgroups`] do).

use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_current_task, bpf_get_current_uid_gid,
        bpf_probe_read_kernel,
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use aya_log_ebpf::debug;
use profiler_common::{
    EXEC_AS_ROOT, GATE_EXEC, GATE_FILTER, Mark, Pending, SECURE_EXEC, Target, stats, verdict,
};

use crate::{
    abi,
    globals::{
        BPRM_SECUREEXEC_BIT, HOST_MNT_NS, MNT_NS_INUM_OFFSET, NSPROXY_MNT_NS_OFFSET,
        TASK_NSPROXY_OFFSET, TASK_PID_OFFSET,
    },
    maps::{MARKED_TGIDS, MARKS, MarkState, PENDING, SLOT_FLAGS, mark_state, set_mark_state},
    stats::bump,
    verdicts,
};

/// include/uapi/linux/seccomp.h and include/uapi/linux/prctl.h.
const SECCOMP_SET_MODE_FILTER: u64 = 1;
const SECCOMP_FILTER_FLAG_TSYNC: u64 = 1;
const PR_SET_SECCOMP: u64 = 22;
const SECCOMP_MODE_FILTER: u64 = 2;

/// The mark of a thread: its own, or a fresh one from its process's TSYNC mark.
#[inline(always)]
pub(crate) fn mark_of(tid: u32, tgid: u32) -> Option<Mark> {
    // SAFETY: values are copied out.
    unsafe {
        match MARKS.get(&tid) {
            Some(mark) => Some(*mark),
            None => MARKED_TGIDS.get(&tgid).map(|slot| Mark::new(*slot)),
        }
    }
}

/// Called for unmarked threads of a target only. Returns true when this very syscall is the first
/// to count (an execve under GATE_ON_EXEC or GATE_ON_COMMAND_EXEC); a filter install only becomes
/// a mark at `sys_exit`.
#[inline(always)]
pub(crate) fn gate_opens(ctx: &RawTracePointContext, target: &Target, tid: u32, id: i64) -> bool {
    if id == abi::SYS_SECCOMP || id == abi::SYS_PRCTL {
        let regs: *const u8 = ctx.arg(0);
        // SAFETY: regs is the tracepoint's pt_regs pointer; the reads are bounds-checked by the helper.
        let (arg0, arg1) = unsafe {
            (
                bpf_probe_read_kernel(regs.add(abi::ARG0_OFFSET) as *const u64).unwrap_or(0),
                bpf_probe_read_kernel(regs.add(abi::ARG1_OFFSET) as *const u64).unwrap_or(0),
            )
        };
        let installs = if id == abi::SYS_SECCOMP {
            arg0 == SECCOMP_SET_MODE_FILTER
        } else {
            arg0 == PR_SET_SECCOMP && arg1 == SECCOMP_MODE_FILTER
        };
        if installs {
            let tsync = (id == abi::SYS_SECCOMP && arg1 & SECCOMP_FILTER_FLAG_TSYNC != 0) as u32;
            let pending = Pending {
                slot: target.slot,
                tsync,
            };
            if PENDING.insert(&tid, &pending, 0).is_err() {
                bump(stats::PENDING_FAILED);
            } else {
                // Tells `sys_exit` to look in PENDING (see `Mark::INSTALLING`).
                mark(
                    ctx,
                    tid,
                    Mark {
                        syscall: Mark::INSTALLING,
                        ..Mark::new(target.slot)
                    },
                );
            }
        }
        return false;
    }
    let execs = id == abi::SYS_EXECVE || id == abi::SYS_EXECVEAT;
    if execs
        && (target.flags & Target::GATE_ON_COMMAND_EXEC != 0
            || (target.flags & Target::GATE_ON_EXEC != 0 && in_foreign_mount_ns()))
    {
        mark(ctx, tid, Mark::new(target.slot));
        note_slot(target.slot, GATE_EXEC);
        return true;
    }
    // engines (issue 10): a host cgroup recorded with `record --cgroup` has no gate.
    if target.flags & Target::GATE_OPEN != 0 {
        mark(
            ctx,
            tid,
            Mark {
                execed: 1,
                ..Mark::new(target.slot)
            },
        );
        return true;
    }
    false
}

/// Whether the current task's mount namespace differs from the recorder's (it has pivoted into a
/// container's root). Reads task->nsproxy->mnt_ns->ns.inum with offsets from BTF.
#[inline(always)]
fn in_foreign_mount_ns() -> bool {
    // SAFETY: a chain of checked kernel reads starting at the current task.
    let inum = unsafe {
        let task = bpf_get_current_task() as *const u8;
        let Ok(nsproxy) = bpf_probe_read_kernel(
            task.add(TASK_NSPROXY_OFFSET.load() as usize) as *const *const u8
        ) else {
            return false;
        };
        let Ok(mnt_ns) = bpf_probe_read_kernel(
            nsproxy.add(NSPROXY_MNT_NS_OFFSET.load() as usize) as *const *const u8
        ) else {
            return false;
        };
        bpf_probe_read_kernel(mnt_ns.add(MNT_NS_INUM_OFFSET.load() as usize) as *const u32)
            .unwrap_or(0)
    };
    inum != 0 && inum != HOST_MNT_NS.load()
}

/// Sets a fact about a target's run (`profiler_common::GATE_FILTER` and its siblings) for the report.
#[inline(always)]
pub(crate) fn note_slot(slot: u32, flag: u32) {
    if let Some(flags) = SLOT_FLAGS.get_ptr_mut(slot) {
        // SAFETY: a plain array element; a lost race only loses an OR of a bit another CPU also sets.
        unsafe { *flags |= flag };
    }
}

#[inline(always)]
fn mark<C: aya_ebpf::EbpfContext>(ctx: &C, tid: u32, mark: Mark) {
    // Before the entry exists, so `sys_exit` never skips a thread that has one; and `Marked`, not
    // `InSyscall`, so that its next `sys_exit` looks at the new mark (FRESH, INSTALLING).
    set_mark_state(tid, MarkState::Marked);
    if MARKS.insert(&tid, &mark, 0).is_err() {
        bump(stats::MARK_FAILED);
        debug!(ctx, "mark of tid {} failed: MARKS is full", tid);
    }
}

/// `raw_syscalls:sys_exit`, TP_PROTO(struct pt_regs *regs, long ret): `arg(1)` is the syscall's
/// return value; only 0 opens the gate. Linux ≥ 4.17 (raw tracepoints).
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/syscalls.h>
///
/// Fires on every syscall of the machine. A thread `sys_enter` cached as not recorded
/// ([`crate::verdicts`], keyed by `arg(0)`) costs two array loads and no helper. Any other thread
/// is decided on its MARK_FILTER byte ([`MarkState`]): one that is neither marked nor installing
/// a filter costs the pid helper and one array load; a marked thread returning from a call
/// `sys_enter` saw, those and a byte store. Only the rest look in MARKS: new marks, installs in
/// flight (`Mark::INSTALLING`, their arguments in PENDING) and calls seccomp refused
/// ([`crate::denials`]). (Testing TARGET_FILTER instead, as `sys_enter` does, was measured: the
/// cgroup-id helper it needs costs what a MARKS miss costs; issue 13.)
///
/// Skipping a thread cached as not recorded loses nothing: its byte is None, or it is a thread
/// of a cgroup that stopped being a target, whose refused calls are not counted
/// ([`crate::denials`]); a thread userspace marks, a new thread and an exec'd one have no valid
/// verdict.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    let _ = try_sys_exit(&ctx);
    0
}

#[inline(always)]
fn try_sys_exit(ctx: &RawTracePointContext) -> Option<()> {
    let regs: u64 = ctx.arg(0);
    if verdicts::cached(regs, verdicts::generation()) == Some(verdict::UNTRACED) {
        return None;
    }
    not_untraced_exit(ctx)
}

/// The exit of a thread not cached as untraced (inlined, as `crate::syscalls::counted` is).
#[inline(always)]
fn not_untraced_exit(ctx: &RawTracePointContext) -> Option<()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let state = mark_state(tid);
    match state {
        MarkState::None => return None,
        MarkState::InSyscall => {
            set_mark_state(tid, MarkState::Marked);
            return None;
        }
        MarkState::Marked | MarkState::Unfiltered => marked_exit(ctx, pid_tgid, state),
    }
}

/// The exit of a marked thread whose `sys_enter` did not run (a new mark, an install in flight,
/// a refused call) or that has no byte. A function of its own (a BPF-to-BPF call), so that the
/// frame and registers it needs are not set up on every exit of the machine.
#[inline(never)]
fn marked_exit(ctx: &RawTracePointContext, pid_tgid: u64, state: MarkState) -> Option<()> {
    let tid = pid_tgid as u32;
    let entry = MARKS.get_ptr_mut(&tid)?;
    // SAFETY: the entry is this thread's; only it (and fork/exec before it runs on) writes it.
    if unsafe { (*entry).syscall } != Mark::INSTALLING {
        // A marked thread never has an install in flight (only unmarked ones are tracked): it is
        // the denial counter's.
        crate::denials::on_exit(ctx, entry, state);
        return None;
    }
    // SAFETY: copied out before the entry is removed.
    let pending = unsafe { PENDING.get(&tid).copied() };
    let _ = PENDING.remove(&tid);
    let ret: i64 = ctx.arg(1);
    let Some(pending) = pending.filter(|_| ret == 0) else {
        // A probe (runc's `seccomp(…, NULL)` gets -EFAULT) or a refused install: still unmarked.
        let _ = MARKS.remove(&tid);
        return None;
    };
    debug!(ctx, "tid {} installed a seccomp filter: gate open", tid);
    mark(ctx, tid, Mark::new(pending.slot));
    note_slot(pending.slot, GATE_FILTER);
    crate::runtime::note_install(pending.slot);
    if pending.tsync != 0
        && MARKED_TGIDS
            .insert(&((pid_tgid >> 32) as u32), &pending.slot, 0)
            .is_err()
    {
        bump(stats::MARK_FAILED);
    }
    Some(())
}

/// `sched:sched_process_fork`, TP_PROTO(struct task_struct *parent, struct task_struct *child):
/// runs in the parent; `arg(1)` is the child, whose `pid` (its tid) is read at
/// [`TASK_PID_OFFSET`]. Linux ≥ 4.17 (raw tracepoints).
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/sched.h>
///
/// Fired in kernel_clone() after copy_process() and before wake_up_new_task(), so the child is
/// marked before it can run. Covers threads and processes alike
/// (<https://elixir.bootlin.com/linux/v6.18/source/kernel/fork.c>).
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork(ctx: RawTracePointContext) -> i32 {
    let _ = try_fork(&ctx);
    0
}

#[inline(always)]
fn try_fork(ctx: &RawTracePointContext) -> Option<()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let child: *const u8 = ctx.arg(1);
    // SAFETY: child is the new task_struct; the offset comes from this kernel's BTF.
    let child_tid: i32 =
        unsafe { bpf_probe_read_kernel(child.add(TASK_PID_OFFSET.load() as usize) as *const i32) }
            .ok()?;
    let parent = mark_of(tid, tgid)?;
    mark(
        ctx,
        child_tid as u32,
        Mark {
            syscall: Mark::FRESH,
            ..parent
        },
    );
    Some(())
}

/// `sched:sched_process_exec`, TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm
/// *bprm): runs in the task that exec'd, after the new image is in place; `arg(1)` is its tid
/// before exec (not its tid now when a non-leader thread exec'd and took over the leader's pid),
/// `arg(2)` the binprm, whose `secureexec` bit is read at [`BPRM_SECUREEXEC_BIT`]. Linux ≥ 4.17
/// (raw tracepoints). Fired in exec_binprm()
/// (<https://elixir.bootlin.com/linux/v6.18/source/fs/exec.c>);
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/sched.h>
///
/// Marks the thread as having exec'd past the gate (capability checks count from here), notes
/// whether it runs as root or gained privileges through a setuid/setgid/file-capability binary,
/// and carries the mark over when a non-leader thread took over the leader's pid (de_thread).
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec(ctx: RawTracePointContext) -> i32 {
    let _ = try_exec(&ctx);
    0
}

#[inline(always)]
fn try_exec(ctx: &RawTracePointContext) -> Option<()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let old_tid: u64 = ctx.arg(1);
    let old_tid = old_tid as u32;
    // The mark's `execed` changes (and so may the tid, when a non-leader thread exec'd: the
    // verdict is the stack's, which did not change).
    verdicts::forget_current();
    let previous = mark_of(old_tid, tgid).or_else(|| mark_of(tid, tgid))?;
    if old_tid != tid {
        let _ = MARKS.remove(&old_tid);
    }
    mark(
        ctx,
        tid,
        Mark {
            execed: 1,
            syscall: Mark::FRESH,
            ..previous
        },
    );
    let slot = previous.slot as u32;
    if bpf_get_current_uid_gid() as u32 == 0 {
        note_slot(slot, EXEC_AS_ROOT);
    }
    let bprm: *const u8 = ctx.arg(2);
    let bit = BPRM_SECUREEXEC_BIT.load();
    // SAFETY: a checked read of one byte of the tracepoint's linux_binprm.
    let byte: u8 = unsafe { bpf_probe_read_kernel(bprm.add((bit / 8) as usize)) }.unwrap_or(0);
    if bit != 0 && byte & (1 << (bit % 8)) != 0 {
        note_slot(slot, SECURE_EXEC);
    }
    Some(())
}

/// `sched:sched_process_exit`, TP_PROTO(struct task_struct *p, bool group_dead) as of 6.18 (older
/// kernels pass `p` alone; neither argument is read); runs in the exiting task, from do_exit()
/// (<https://elixir.bootlin.com/linux/v6.18/source/kernel/exit.c>). Linux ≥ 4.17 (raw
/// tracepoints). <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/sched.h>
///
/// Drops the thread's mark so MARKS only holds live threads and a reused tid starts unmarked.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(_ctx: RawTracePointContext) -> i32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    let _ = MARKS.remove(&tid);
    // The tid is free for reuse only after this, and the stack once the task is reaped: a new
    // thread with either starts unmarked, and with no verdict.
    set_mark_state(tid, MarkState::None);
    verdicts::forget_current();
    0
}
