//! The kernel side of the recorder: raw tracepoints that count, per recorded cgroup, every syscall
//! made by a thread that has passed the gate (DESIGN fact 2), aggregated in per-CPU maps so nothing
//! can be lost and nothing streams per event. It never decides what goes into a profile; userspace
//! reads the counts at the end.
//!
//! The gate: a thread in a target cgroup is counted from the moment a seccomp filter install it
//! made returns 0 (`seccomp(SECCOMP_SET_MODE_FILTER, …)` or `prctl(PR_SET_SECCOMP,
//! SECCOMP_MODE_FILTER, …)`); the mark passes to every thread and process it forks and survives
//! exec. Probes that fail (runc's five `seccomp(…, NULL)` calls returning -EFAULT) do not count.
//! With `Target::GATE_ON_EXEC`, a thread's first execve opens the gate too.
#![no_std]
#![no_main]

mod maps;

use aya_ebpf::{
    EbpfContext as _, Global,
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_get_current_task, bpf_get_current_task_btf, bpf_get_current_uid_gid, bpf_get_stack,
        bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes,
    },
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use aya_log_ebpf::debug;
use maps::{
    CAP_COUNTS, CAP_FIRST, COUNTS, FIRST_COMM, FREE_SLOTS, MARKED_TGIDS, MARKS, PENDING,
    SLOT_FLAGS, SLOT_PATHS, STATS, TARGETS, WATCH_PREFIXES,
};
use profiler_common::{
    CAP_DENIED, CAP_GRANTED, CAP_OTHER_CRED, CAP_SLOTS, CAP_VM_PROBE, CapFirst, EXEC_AS_ROOT,
    GATE_EXEC, GATE_FILTER, Mark, NR_SLOTS, Pending, RUNTIME_PHASE, SECURE_EXEC, TABLE_COMPAT,
    TABLE_NATIVE, TABLE_X32, Target, WATCH_PREFIX_MAX, WATCH_PREFIX_SLOTS, X32_SYSCALL_BIT,
    cap_counts_key, comm_index, counts_key, stats,
};

#[unsafe(no_mangle)]
static TASK_PID_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static TASK_STATUS_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static COMPAT_STATUS_MASK: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static TASK_NSPROXY_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static NSPROXY_MNT_NS_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static MNT_NS_INUM_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static HOST_MNT_NS: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static CGROUP_KN_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static KERNFS_NODE_ID_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static CGROUP_ROOT_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static ROOT_HIERARCHY_ID_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static WATCH_FLAGS: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static BPRM_SECUREEXEC_BIT: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static VM_PROBE_START: Global<u64> = Global::new(0);
#[unsafe(no_mangle)]
static TASK_REAL_CRED_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static VM_PROBE_END: Global<u64> = Global::new(0);

/// Native syscall numbers the gate looks for, and where `struct pt_regs` keeps the first two
/// arguments at `sys_enter` (arch/x86/include/asm/ptrace.h; arch/arm64/include/asm/ptrace.h).
#[cfg(bpf_target_arch = "x86_64")]
mod abi {
    pub const SYS_EXECVE: i64 = 59;
    pub const SYS_EXECVEAT: i64 = 322;
    pub const SYS_PRCTL: i64 = 157;
    pub const SYS_SECCOMP: i64 = 317;
    /// `pt_regs.di` and `pt_regs.si`.
    pub const ARG0_OFFSET: usize = 14 * 8;
    pub const ARG1_OFFSET: usize = 13 * 8;
    /// Syscalls that account memory through `security_vm_enough_memory_mm`: mmap, mprotect, brk,
    /// mremap, shmget, shmat, clone, fork, vfork, execve, execveat, clone3.
    pub const VM_ACCOUNTING: [u32; 12] = [9, 10, 12, 25, 29, 30, 56, 57, 58, 59, 322, 435];
}
#[cfg(bpf_target_arch = "aarch64")]
mod abi {
    pub const SYS_EXECVE: i64 = 221;
    pub const SYS_EXECVEAT: i64 = 281;
    pub const SYS_PRCTL: i64 = 167;
    pub const SYS_SECCOMP: i64 = 277;
    /// `pt_regs.regs[0]` and `pt_regs.regs[1]`.
    pub const ARG0_OFFSET: usize = 0;
    pub const ARG1_OFFSET: usize = 8;
    /// mmap, mprotect, brk, mremap, shmget, shmat, clone, execve, execveat, clone3.
    pub const VM_ACCOUNTING: [u32; 10] = [222, 226, 214, 216, 194, 196, 220, 221, 281, 435];
}

/// include/uapi/linux/capability.h.
const CAP_SYS_ADMIN: u32 = 21;

/// include/uapi/linux/seccomp.h and include/uapi/linux/prctl.h.
const SECCOMP_SET_MODE_FILTER: u64 = 1;
const SECCOMP_FILTER_FLAG_TSYNC: u64 = 1;
const PR_SET_SECCOMP: u64 = 22;
const SECCOMP_MODE_FILTER: u64 = 2;

/// `raw_syscalls:sys_enter`, TP_PROTO(struct pt_regs *regs, long id) (include/trace/events/syscalls.h).
/// Runs after seccomp has allowed the syscall (DESIGN fact 1), on every syscall of the machine: the
/// untraced path is one helper call and one hash lookup.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    let _ = try_sys_enter(&ctx);
    0
}

#[inline(always)]
fn try_sys_enter(ctx: &RawTracePointContext) -> Option<()> {
    // SAFETY: helper with no arguments.
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    // SAFETY: the value is copied out at once; TARGETS changes only from userspace.
    let target = *unsafe { TARGETS.get(&cgroup) }?;
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let id: i64 = ctx.arg(1);
    if id < 0 {
        return None;
    }
    match MARKS.get_ptr_mut(&tid) {
        // SAFETY: the entry belongs to this thread, the only writer of its `syscall` field.
        Some(mark) => unsafe {
            // Written only on a change: a thread repeating one syscall keeps the cache line clean.
            if (*mark).syscall != id as u32 {
                (*mark).syscall = id as u32;
            }
            if (*mark).execed == 0 && id != abi::SYS_EXECVE && id != abi::SYS_EXECVEAT {
                note_slot(target.slot, RUNTIME_PHASE);
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
    count(&target, id as u64)
}

/// The mark of a thread: its own, or a fresh one from its process's TSYNC mark.
#[inline(always)]
fn mark_of(tid: u32, tgid: u32) -> Option<Mark> {
    // SAFETY: values are copied out.
    unsafe {
        match MARKS.get(&tid) {
            Some(mark) => Some(*mark),
            None => MARKED_TGIDS.get(&tgid).map(|slot| Mark::new(*slot)),
        }
    }
}

/// Called for unmarked threads of a target only. Returns true when this very syscall is the first
/// to count (an execve under GATE_ON_EXEC); a filter install only becomes a mark at `sys_exit`.
#[inline(always)]
fn gate_opens(ctx: &RawTracePointContext, target: &Target, tid: u32, id: i64) -> bool {
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
            }
        }
        return false;
    }
    if target.flags & Target::GATE_ON_EXEC != 0
        && (id == abi::SYS_EXECVE || id == abi::SYS_EXECVEAT)
        && in_foreign_mount_ns()
    {
        mark(ctx, tid, Mark::new(target.slot));
        note_slot(target.slot, GATE_EXEC);
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

#[inline(always)]
fn note_slot(slot: u32, flag: u32) {
    if let Some(flags) = SLOT_FLAGS.get_ptr_mut(slot) {
        // SAFETY: a plain array element; a lost race only loses an OR of a bit another CPU also sets.
        unsafe { *flags |= flag };
    }
}

#[inline(always)]
fn mark<C: aya_ebpf::EbpfContext>(ctx: &C, tid: u32, mark: Mark) {
    if MARKS.insert(&tid, &mark, 0).is_err() {
        bump(stats::MARK_FAILED);
        debug!(ctx, "mark of tid {} failed: MARKS is full", tid);
    }
}

#[inline(always)]
fn count(target: &Target, id: u64) -> Option<()> {
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
    let nr = nr as usize;
    let counts = COUNTS.get_ptr_mut(counts_key(target.slot, table))?;
    // SAFETY: per-CPU value, only this CPU writes it while this program runs (no preemption in BPF).
    let counter = unsafe { &mut (*counts)[nr] };
    if *counter == 0 {
        note_first_comm(comm_index(target.slot, table, nr as u32));
    }
    *counter += 1;
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
fn is_compat_task() -> bool {
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

#[inline(always)]
fn bump(index: u32) {
    if let Some(counter) = STATS.get_ptr_mut(index) {
        // SAFETY: per-CPU value.
        unsafe { *counter += 1 };
    }
}

/// `raw_syscalls:sys_exit`, TP_PROTO(struct pt_regs *regs, long ret). Only threads with a filter
/// install in flight do any work: a tid lookup in an almost always empty map.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    let _ = try_sys_exit(&ctx);
    0
}

#[inline(always)]
fn try_sys_exit(ctx: &RawTracePointContext) -> Option<()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    // SAFETY: copied out before the entry is removed.
    let pending = *unsafe { PENDING.get(&tid) }?;
    let _ = PENDING.remove(&tid);
    let ret: i64 = ctx.arg(1);
    if ret != 0 {
        return None;
    }
    debug!(ctx, "tid {} installed a seccomp filter: gate open", tid);
    mark(ctx, tid, Mark::new(pending.slot));
    note_slot(pending.slot, GATE_FILTER);
    if pending.tsync != 0
        && MARKED_TGIDS
            .insert(&((pid_tgid >> 32) as u32), &pending.slot, 0)
            .is_err()
    {
        bump(stats::MARK_FAILED);
    }
    Some(())
}

/// `sched:sched_process_fork`, TP_PROTO(struct task_struct *parent, struct task_struct *child).
/// Fired in kernel_clone() after copy_process() and before wake_up_new_task(), so the child is
/// marked before it can run. Covers threads and processes alike (kernel/fork.c).
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork(ctx: RawTracePointContext) -> i32 {
    let _ = try_fork(&ctx);
    0
}

#[inline(always)]
fn try_fork(ctx: &RawTracePointContext) -> Option<()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let (tid, tgid) = (pid_tgid as u32, (pid_tgid >> 32) as u32);
    let parent = mark_of(tid, tgid)?;
    let child: *const u8 = ctx.arg(1);
    // SAFETY: child is the new task_struct; the offset comes from this kernel's BTF.
    let child_tid: i32 =
        unsafe { bpf_probe_read_kernel(child.add(TASK_PID_OFFSET.load() as usize) as *const i32) }
            .ok()?;
    mark(
        ctx,
        child_tid as u32,
        Mark {
            syscall: u32::MAX,
            ..parent
        },
    );
    Some(())
}

/// `sched:sched_process_exec`, TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm).
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
    let previous = mark_of(old_tid, tgid).or_else(|| mark_of(tid, tgid))?;
    if old_tid != tid {
        let _ = MARKS.remove(&old_tid);
    }
    mark(
        ctx,
        tid,
        Mark {
            execed: 1,
            syscall: u32::MAX,
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

/// `capability:cap_capable` (Linux ≥ 6.14), TP_PROTO(const struct cred *cred, struct user_namespace
/// *target_ns, const struct user_namespace *capable_ns, int cap, int ret): every capability check
/// and its result (ret 0 = granted). Gated like syscalls, and further: only after the thread's first
/// exec past the gate, because runc sets up users (setgroups/setgid/setuid, which check
/// CAP_SETGID/CAP_SETUID) after installing the filter but before applying the container's capability
/// set (libcontainer/init_linux.go finalizeNamespace).
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
    let mark = mark_of(pid_tgid as u32, (pid_tgid >> 32) as u32)?;
    if mark.execed == 0 {
        return None;
    }
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

/// Whether this CAP_SYS_ADMIN check comes from the memory-accounting probe: one of the first kernel
/// stack frames returns into `security_vm_enough_memory_mm` (on 6.18 `cap_vm_enough_memory` is
/// inlined there; where it is not, it is one frame further down, still within the eight read). Where /proc/kallsyms hid the address, the syscall in progress
/// decides (which misses stack growth on a page fault).
#[inline(always)]
fn is_vm_probe(ctx: &RawTracePointContext, syscall: u32) -> bool {
    let (start, end) = (VM_PROBE_START.load(), VM_PROBE_END.load());
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

/// `sched:sched_process_exit`, TP_PROTO(struct task_struct *p, bool group_dead); runs in the
/// exiting task. Drops its mark so MARKS only holds live threads and a reused tid starts unmarked.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn sched_process_exit(_ctx: RawTracePointContext) -> i32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    let _ = MARKS.remove(&tid);
    0
}

/// `cgroup:cgroup_mkdir`, TP_PROTO(struct cgroup *cgrp, const char *path) (include/trace/events/cgroup.h).
/// Runs inside the runtime's mkdir, before any task can join the new cgroup: a cgroup2 child of a
/// watched prefix (e.g. `/docker/<id>`) becomes a target here, so a container is recorded from its
/// first syscall with no race against its entrypoint. Fires for cgroup v1 hierarchies too; only the
/// default (v2) hierarchy, id 0 as in /proc/<pid>/cgroup's "0::" line, is taken.
#[raw_tracepoint(tracepoint = "cgroup_mkdir")]
pub fn cgroup_mkdir(ctx: RawTracePointContext) -> i32 {
    let _ = try_cgroup_mkdir(&ctx);
    0
}

#[inline(always)]
fn try_cgroup_mkdir(ctx: &RawTracePointContext) -> Option<()> {
    let cgrp: *const u8 = ctx.arg(0);
    let path: *const u8 = ctx.arg(1);
    // SAFETY: checked kernel reads from the tracepoint's cgroup and path pointers.
    unsafe {
        let root: *const u8 =
            bpf_probe_read_kernel(cgrp.add(CGROUP_ROOT_OFFSET.load() as usize) as *const *const u8)
                .ok()?;
        let hierarchy: i32 =
            bpf_probe_read_kernel(root.add(ROOT_HIERARCHY_ID_OFFSET.load() as usize) as *const i32)
                .ok()?;
        if hierarchy != 0 {
            return None;
        }
        let mut prefix_buf = [0u8; WATCH_PREFIX_MAX + 4];
        let start = bpf_probe_read_kernel_str_bytes(path, &mut prefix_buf).ok()?;
        if !watched(start) {
            return None;
        }
        let kn: *const u8 =
            bpf_probe_read_kernel(cgrp.add(CGROUP_KN_OFFSET.load() as usize) as *const *const u8)
                .ok()?;
        let id: u64 =
            bpf_probe_read_kernel(kn.add(KERNFS_NODE_ID_OFFSET.load() as usize) as *const u64)
                .ok()?;
        let Ok(Some(slot)) = FREE_SLOTS.pop() else {
            bump(stats::SLOTS_EXHAUSTED);
            return None;
        };
        if let Some(entry) = SLOT_PATHS.get_ptr_mut(slot) {
            // Zero-filled by the helper past the string's end (bpf_probe_read_kernel_str pads).
            let _ = bpf_probe_read_kernel_str_bytes(path, &mut *entry);
        }
        let target = Target {
            slot,
            flags: WATCH_FLAGS.load(),
        };
        if TARGETS.insert(&id, &target, 0).is_err() {
            bump(stats::SLOTS_EXHAUSTED);
            return None;
        }
        debug!(ctx, "armed cgroup id {} as target slot {}", id, slot);
    }
    Some(())
}

/// Whether `path` starts with one of the watched prefixes (and has something after it).
#[inline(always)]
fn watched(path: &[u8]) -> bool {
    for index in 0..WATCH_PREFIX_SLOTS {
        let Some(prefix) = WATCH_PREFIXES.get(index) else {
            continue;
        };
        let len = prefix.len as usize;
        if len == 0 || len > WATCH_PREFIX_MAX || path.len() <= len {
            continue;
        }
        let mut matches = true;
        for i in 0..WATCH_PREFIX_MAX {
            if i >= len {
                break;
            }
            if path.get(i) != prefix.bytes.get(i) {
                matches = false;
                break;
            }
        }
        if matches {
            return true;
        }
    }
    false
}

/// Empty programs on the hot-path hooks: the benchmark's cost floor (`cargo xtask bench`).
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn noop_sys_enter(_ctx: RawTracePointContext) -> i32 {
    0
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn noop_sys_exit(_ctx: RawTracePointContext) -> i32 {
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
