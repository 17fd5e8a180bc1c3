//! Every map the programs use. Names and layouts are defined in `profiler-common` (`maps::*`) so the
//! userspace side opens the same ones. Sizes here are the most one recorder can use (64 targets);
//! userspace sizes each map for the targets it will record at load (`tracer::sizing`, issue 13),
//! so the kernel memory a recording holds is proportional to what it records. Hash maps written
//! only off the per-syscall fast path are created without pre-allocation (`BPF_F_NO_PREALLOC`):
//! their memory follows their live entries.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, PerCpuArray, PerCpuHashMap, Queue},
};
use profiler_common::{
    ArgValues, CAP_BUCKETS, CAP_SLOTS, CGROUP_PATH_MAX, COUNTS_ENTRIES, CapFirst, DENIALS_MAX,
    Denial, DenialKey, FIRST_COMM_ENTRIES, InstallerSeen, MARK_FILTER_CHUNK,
    MARK_FILTER_MAX_CHUNKS, MAX_TARGETS, MISSED_MAX, Mark, NR_SLOTS, Pending, TARGET_FILTER_WORDS,
    Target, WATCH_PREFIX_SLOTS, WatchPrefix, mark_filter_index, stats, target_filter_bit, verdict,
};

/// `BPF_F_NO_PREALLOC` (include/uapi/linux/bpf.h): entries are allocated on insert (the kernel's
/// bpf_mem_alloc, usable from tracing programs since Linux 6.1) and freed after an RCU grace
/// period on delete; a lookup costs the same as in a pre-allocated map.
const NO_PREALLOC: u32 = 1;

/// cgroup id → target. Written by userspace; read on every syscall on the machine.
#[map]
pub static TARGETS: HashMap<u64, Target> = HashMap::with_max_entries(MAX_TARGETS, 0);

/// A bit per possible target cgroup (`profiler_common::maps::TARGET_FILTER`), at index 0.
#[map]
pub static TARGET_FILTER: Array<[u64; TARGET_FILTER_WORDS]> = Array::with_max_entries(1, 0);

/// Whether `cgroup` may be a target: false means it is certainly not, at the cost of one array
/// load (the verifier inlines lookups in an array), where TARGETS costs a hash of the id and a
/// bucket walk. Every thread on the machine passes here on each syscall entry.
#[inline(always)]
pub(crate) fn may_be_target(cgroup: u64) -> bool {
    let (word, mask) = target_filter_bit(cgroup);
    match TARGET_FILTER.get(0) {
        Some(words) => words[word] & mask != 0,
        None => true,
    }
}

/// A byte per tid (`profiler_common::maps::MARK_FILTER`): [`MarkState`]. Userspace sizes it for
/// the kernel's pid_max; it never writes it.
#[map]
pub static MARK_FILTER: Array<[u8; MARK_FILTER_CHUNK]> =
    Array::with_max_entries(MARK_FILTER_MAX_CHUNKS, 0);

/// What a thread's MARK_FILTER byte says. Written only by the thread itself (at `sys_enter`,
/// `sys_exit`, exec and exit) or for a new task before it first runs (fork): plain byte stores,
/// never a read-modify-write, so no two CPUs race on one.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum MarkState {
    /// No MARKS entry: `sys_exit` stops at this byte.
    None = 0,
    /// May have a MARKS entry, and no `sys_enter` since its last `sys_exit`: `sys_exit` looks in
    /// MARKS (a new mark, a filter install in flight, or a call seccomp refused).
    Marked = 1,
    /// A marked thread inside a call `sys_enter` saw: `sys_exit` stores `Marked` and is done,
    /// with no MARKS lookup (issue 13: the one hash lookup of a recorded call's exit).
    InSyscall = 2,
    /// A tid beyond the array (pid_max above 2^20): never stored. Such a thread is always looked
    /// up, and its mark's `syscall` field alone says whether it is in a call (design.md §15).
    Unfiltered = 3,
}

/// `tid`'s [`MarkState`].
#[inline(always)]
pub(crate) fn mark_state(tid: u32) -> MarkState {
    let (entry, byte) = mark_filter_index(tid);
    match MARK_FILTER.get(entry).map(|bytes| bytes[byte]) {
        None => MarkState::Unfiltered,
        Some(0) => MarkState::None,
        Some(2) => MarkState::InSyscall,
        Some(_) => MarkState::Marked,
    }
}

/// Sets `tid`'s [`MarkState`] (a plain byte store, only when it changes); false for a tid beyond
/// the array, which has no byte.
#[inline(always)]
pub(crate) fn set_mark_state(tid: u32, state: MarkState) -> bool {
    let (entry, byte) = mark_filter_index(tid);
    let Some(bytes) = MARK_FILTER.get_ptr_mut(entry) else {
        return false;
    };
    // SAFETY: one byte of an array element, written only by its thread or before that thread
    // runs (see MarkState); a reader sees either value.
    unsafe {
        let value = state as u8;
        if (*bytes)[byte] != value {
            (*bytes)[byte] = value;
        }
    }
    true
}

/// What `sys_enter` last decided per thread (`profiler_common::maps::VERDICTS`; crate::verdicts).
#[map]
pub static VERDICTS: Array<u64> = Array::with_max_entries(verdict::ENTRIES, 0);

/// `BPF_F_MMAPABLE` (include/uapi/linux/bpf.h): userspace maps the array and adds to it in place.
const MMAPABLE: u32 = 1 << 10;

/// The generation verdicts are valid in (`profiler_common::maps::GENERATION`), at index 0.
#[map]
pub static GENERATION: Array<u64> = Array::with_max_entries(1, MMAPABLE);

/// Threads counted so far (past the gate), by tid. Filled by the kernel side (filter install,
/// fork, exec) and by userspace when attaching to already-running processes; emptied by
/// `sched_process_exit`, so it only holds live threads of recorded cgroups. Inserted at fork, exec
/// and gate opening only, never on a plain syscall: no pre-allocation (64 K entries were 5 MiB).
#[map]
pub static MARKS: HashMap<u32, Mark> = HashMap::with_max_entries(1 << 16, NO_PREALLOC);

/// Processes whose every thread is past the gate (filter installed with TSYNC), tgid → slot.
/// Userspace removes a target's entries when the target is done.
#[map]
pub static MARKED_TGIDS: HashMap<u32, u32> = HashMap::with_max_entries(1 << 12, NO_PREALLOC);

/// Filter installs in flight, tid → what `sys_exit` needs to finish the mark.
#[map]
pub static PENDING: HashMap<u32, Pending> = HashMap::with_max_entries(1 << 12, NO_PREALLOC);

/// Syscall counts per (target slot, table), summed over CPUs by userspace. Per-CPU, so the hot
/// path needs no atomics and no count is ever lost to a race.
#[map]
pub static COUNTS: PerCpuArray<[u64; NR_SLOTS]> = PerCpuArray::with_max_entries(COUNTS_ENTRIES, 0);

/// First comm per (target, table, syscall), written only when a CPU sees that syscall first.
#[map]
pub static FIRST_COMM: Array<[u8; 16]> = Array::with_max_entries(FIRST_COMM_ENTRIES, 0);

/// Counters of anything that would make a recording incomplete (see `profiler_common::stats`).
#[map]
pub static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(stats::COUNT, 0);

/// Facts per target slot (`GATE_FILTER`, `GATE_EXEC`, `EXEC_AS_ROOT`, `SECURE_EXEC`), for the report.
#[map]
pub static SLOT_FLAGS: Array<u32> = Array::with_max_entries(MAX_TARGETS, 0);

/// Capability checks per (slot, granted/denied), summed over CPUs by userspace.
#[map]
pub static CAP_COUNTS: PerCpuArray<[u64; CAP_SLOTS]> =
    PerCpuArray::with_max_entries(MAX_TARGETS * CAP_BUCKETS, 0);

/// The first check of each capability per slot.
#[map]
pub static CAP_FIRST: Array<CapFirst> = Array::with_max_entries(MAX_TARGETS * CAP_SLOTS as u32, 0);

/// cgroup2 path prefixes whose new children are armed at `cgroup_mkdir`. Written by userspace.
#[map]
pub static WATCH_PREFIXES: Array<WatchPrefix> = Array::with_max_entries(WATCH_PREFIX_SLOTS, 0);

/// Target slots free for `cgroup_mkdir` to hand out. Filled by userspace before tracing starts.
#[map]
pub static FREE_SLOTS: Queue<u32> = Queue::with_max_entries(MAX_TARGETS, 0);

/// The path of each cgroup armed at `cgroup_mkdir`, by slot.
#[map]
pub static SLOT_PATHS: Array<[u8; CGROUP_PATH_MAX]> = Array::with_max_entries(MAX_TARGETS, 0);

/// The cgroup2 paths of cgroups that were not armed because every slot was taken. Written at
/// `cgroup_mkdir`, drained by userspace, which names each container it could not record.
#[map]
pub static MISSED: Queue<[u8; CGROUP_PATH_MAX]> = Queue::with_max_entries(MISSED_MAX, 0);

// --- Seeing denials (issue 12 part A) ---

/// Calls of gated threads that seccomp refused, per (slot, table, nr, errno). Per-CPU, so counts
/// are exact without atomics; an update from a BPF program touches only this CPU's value. Written
/// by `sys_exit` (`crate::denials`); read and emptied per slot by userspace. A new key (the first
/// refusal of a kind) allocates its per-CPU values; every later refusal of it only looks it up.
#[map]
pub static DENIALS: PerCpuHashMap<DenialKey, Denial> =
    PerCpuHashMap::with_max_entries(DENIALS_MAX, NO_PREALLOC);
/// Argument values of `socket`, `clone` and `personality` per target slot (`crate::args`),
/// unioned over CPUs by userspace.
#[map]
pub static ARG_VALUES: PerCpuArray<ArgValues> = PerCpuArray::with_max_entries(MAX_TARGETS, 0);
/// runtimes (issue 11): the executable that installed each slot's first gating filter, by slot.
/// Written once per slot at `sys_exit` (`crate::runtime`); read and emptied by userspace.
#[map]
pub static INSTALLER: Array<InstallerSeen> = Array::with_max_entries(MAX_TARGETS, 0);

/// runtimes (issue 11): per (slot, table), a byte per syscall number set to 1 when a gated thread
/// made it before its first exec past the gate. Bytes, not bits: CPUs never race on a
/// read-modify-write. Written only on that rare path; read and emptied by userspace.
#[map]
pub static RUNTIME_PHASE_SEEN: Array<[u8; NR_SLOTS]> = Array::with_max_entries(COUNTS_ENTRIES, 0);

/// The address range `[start, end)` of the kernel function whose CAP_SYS_ADMIN check is the
/// memory-accounting probe (`crate::caps`), at index 0; zeros until userspace has read it from
/// /proc/kallsyms, which it does after tracing is active (issue 13: ~50 ms off the start-up).
/// Until then, and where kallsyms hides addresses, probes are classified by syscall.
#[map]
pub static VM_PROBE: Array<[u64; 2]> = Array::with_max_entries(1, 0);
