//! The ABI shared by the eBPF programs (`profiler-ebpf`) and userspace (`seccomp-profiler`): map
//! names, sizes, key layouts and the `#[repr(C)]` values stored in maps. Nothing here runs; it only
//! makes both sides agree. Padding-free types with compile-time size checks, because the kernel side
//! reads them byte for byte.
#![no_std]

/// Targets one recorder process can follow at once (one per cgroup: a command or a container).
pub const MAX_TARGETS: u32 = 64;

/// Syscall numbers counted per architecture table. x86_64 tops out below 512 (and x32's own table at
/// 547 once bit 30 is stripped); 1024 leaves room for years of new syscalls.
pub const NR_SLOTS: usize = 1024;

/// The syscall tables a task can use, told apart in `sys_enter`. `Native` is the kernel's own ABI
/// (x86_64, aarch64); `Compat` the 32-bit one (ia32 on x86_64, arm on aarch64); `X32` x86_64's x32 ABI,
/// whose numbers carry bit 30 (`__X32_SYSCALL_BIT`).
pub const TABLES: u32 = 3;
pub const TABLE_NATIVE: u32 = 0;
pub const TABLE_COMPAT: u32 = 1;
pub const TABLE_X32: u32 = 2;

/// `__X32_SYSCALL_BIT` from arch/x86/include/uapi/asm/unistd.h.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// Map names, as the eBPF side declares them (the static's identifier is the map name).
pub mod maps {
    /// `HashMap<u64 cgroup id, Target>`: the cgroups being recorded. Written by userspace only.
    pub const TARGETS: &str = "TARGETS";
    /// `HashMap<u32 tid, Mark>`: threads past the gate (design.md §2). Written by the kernel
    /// side on a successful filter install, fork and exec; userspace seeds it when attaching late.
    pub const MARKS: &str = "MARKS";
    /// `HashMap<u32 tgid, u32 slot>`: whole processes past the gate, for a filter installed with
    /// `SECCOMP_FILTER_FLAG_TSYNC` (which covers every thread of the process).
    pub const MARKED_TGIDS: &str = "MARKED_TGIDS";
    /// `HashMap<u32 tid, Pending>`: a filter install in flight (seen at `sys_enter`, decided at `sys_exit`).
    pub const PENDING: &str = "PENDING";
    /// `PerCpuArray<[u64; NR_SLOTS]>` indexed by [`super::counts_key`]: syscall counts.
    pub const COUNTS: &str = "COUNTS";
    /// `Array<[u8; 16]>` indexed by [`super::comm_index`]: the comm of the first task seen making
    /// each syscall (first on any CPU; racing CPUs may both write, either name is a true first).
    pub const FIRST_COMM: &str = "FIRST_COMM";
    /// `PerCpuArray<u64>` indexed by [`super::stats`]: events that would make a recording incomplete.
    pub const STATS: &str = "STATS";
    /// `Array<u32>` indexed by slot: facts about the target's run ([`super::GATE_FILTER`],
    /// [`super::GATE_EXEC`], [`super::EXEC_AS_ROOT`], [`super::SECURE_EXEC`]) for the report.
    pub const SLOT_FLAGS: &str = "SLOT_FLAGS";
    /// `PerCpuArray<[u64; CAP_SLOTS]>` keyed by [`super::cap_counts_key`]: capability checks made
    /// by gated threads after their first exec past the gate, per bucket (`CAP_GRANTED`, …).
    pub const CAP_COUNTS: &str = "CAP_COUNTS";
    /// `Array<CapFirst>` indexed by `slot * CAP_SLOTS + cap`: who made each capability check first,
    /// and in which syscall.
    pub const CAP_FIRST: &str = "CAP_FIRST";
    /// `Array<WatchPrefix>`: cgroup2 paths under which a new cgroup becomes a target the moment
    /// it is created (`cgroup_mkdir`), e.g. `/docker/` — containers are armed before their first task.
    pub const WATCH_PREFIXES: &str = "WATCH_PREFIXES";
    /// `Queue<u32>`: target slots the kernel side may hand to cgroups it arms. Filled by userspace.
    pub const FREE_SLOTS: &str = "FREE_SLOTS";
    /// `Array<[u8; CGROUP_PATH_MAX]>` by slot: the cgroup2 path of each cgroup armed at
    /// `cgroup_mkdir` (e.g. `/docker/<id>`), so userspace can name a container whose cgroup is
    /// already gone (a `docker run --rm` that ended before anyone looked).
    pub const SLOT_PATHS: &str = "SLOT_PATHS";
    /// `Queue<[u8; CGROUP_PATH_MAX]>`: the cgroup2 paths of cgroups `cgroup_mkdir` should have
    /// armed while every slot was taken, so userspace can name each container it did not record.
    pub const MISSED: &str = "MISSED";

    // --- Seeing denials (issue 12 part A) ---
    /// `PerCpuHashMap<DenialKey, Denial>`: calls of gated threads that seccomp refused (they
    /// reached `sys_exit` without passing `sys_enter`), per target, table, syscall and errno.
    /// Written by `sys_exit`; read (and emptied per slot) by userspace.
    pub const DENIALS: &str = "DENIALS";
    // Argument values (issue 12, argument rules).
    /// `PerCpuArray<ArgValues>` indexed by slot: the distinct argument values of `socket`,
    /// `clone` and `personality` made by gated threads (native table only), unioned over CPUs
    /// by userspace.
    pub const ARG_VALUES: &str = "ARG_VALUES";
    // -- runtimes (issue 11): who installed each target's filter, and what it ran before exec --
    /// `Array<InstallerSeen>` indexed by slot: the executable of the task whose filter install
    /// opened the slot's gate first (its dentry name and inode), written once at `sys_exit`.
    pub const INSTALLER: &str = "INSTALLER";
    /// `Array<[u8; NR_SLOTS]>` indexed by [`super::counts_key`]: 1 for each syscall a gated thread
    /// made before its first exec past the gate (the runtime phase), written only on that path.
    pub const RUNTIME_PHASE_SEEN: &str = "RUNTIME_PHASE_SEEN";
    // -- lean (issue 13) --
    /// `Array<[u64; 2]>`, one entry: `[start, end)` of `security_vm_enough_memory_mm` from
    /// /proc/kallsyms (zeros until read, and when hidden): a CAP_SYS_ADMIN check with a return
    /// address in it is the memory-accounting probe. Written by userspace after tracing is active.
    pub const VM_PROBE: &str = "VM_PROBE";
    /// aya-log's ring buffer (declared by aya-log-ebpf), sized down when `-v` is off.
    pub const AYA_LOGS: &str = "AYA_LOGS";
    /// `Array<[u64; TARGET_FILTER_WORDS]>`, one entry: a bit per [`super::target_filter_bit`] of
    /// every cgroup that is or was a target (all bits while cgroups are armed by the kernel
    /// side). `sys_enter` tests it before looking in TARGETS, so a thread of another cgroup
    /// costs one inlined array load there instead of a hash miss. Written by userspace only; bits are never cleared
    /// while loaded (a stale bit costs a lookup, never a miss).
    pub const TARGET_FILTER: &str = "TARGET_FILTER";
    /// `Array<[u8; MARK_FILTER_CHUNK]>` indexed by [`super::mark_filter_index`]: a byte per tid
    /// (issue 13), 0 when the thread has no MARKS entry, 1 when it may have one, 2 when it is a
    /// marked thread inside a call `sys_enter` saw. `sys_exit` runs on every syscall of the
    /// machine and decides on it: an unmarked thread costs an inlined array load there, a recorded
    /// call's exit a byte store, and only the rest (new marks, filter installs, refused calls)
    /// look in MARKS. Written by the kernel side only, by the thread itself or for a new task
    /// before it runs, with plain byte stores (no read-modify-write, so CPUs never race). A tid
    /// beyond the array is always looked up.
    pub const MARK_FILTER: &str = "MARK_FILTER";
    /// `Array<u64>` indexed by [`super::verdict::index`] of a thread's saved registers (issue
    /// 13): what `sys_enter` last decided for a thread (not recorded, or counted into a slot),
    /// valid while its `generation` equals GENERATION. `sys_enter` decides again only on a
    /// miss: the pid and cgroup-id helpers, TARGETS and MARKS are off the path of every call
    /// that hits. Written by the kernel side, and zeroed by whoever adds to GENERATION and
    /// reaches a multiple of [`super::verdict::CLEAR_EVERY`].
    pub const VERDICTS: &str = "VERDICTS";
    /// `Array<u64>`, one entry, `BPF_F_MMAPABLE`: the generation verdicts are valid in. Added to
    /// atomically, by the programs when a thread moves between cgroups (`cgroup_attach_task`),
    /// and by any process holding the maps, through its mapping of the array, after it changes
    /// TARGETS, MARKS or MARKED_TGIDS. Any change invalidates every verdict.
    pub const GENERATION: &str = "GENERATION";
}

/// Room in [`maps::MISSED`]: containers named as missed when all slots were taken (more are
/// still counted in `stats::SLOTS_EXHAUSTED`).
pub const MISSED_MAX: u32 = 256;

/// Room for a cgroup path in [`maps::SLOT_PATHS`]: `/system.slice/docker-<64 hex>.scope` is 91, a
/// kubelet container under the systemd driver
/// (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<64 hex>.scope`)
/// about 190.
pub const CGROUP_PATH_MAX: usize = 256;

/// Bits of [`maps::SLOT_FLAGS`]: which gate opened…
pub const GATE_FILTER: u32 = 1;
pub const GATE_EXEC: u32 = 2;
/// …a gated exec ran with real uid 0 (in the initial user namespace)…
pub const EXEC_AS_ROOT: u32 = 4;
/// …a gated exec was a setuid/setgid/file-capability one (`bprm->secureexec`), which
/// no-new-privileges would have stopped from gaining privileges…
pub const SECURE_EXEC: u32 = 8;
/// …and a gated thread made a syscall other than execve before its first exec: a container
/// runtime ran its own code under the filter (runc: capset, setuid, the exec fifo, Go's scheduler).
pub const RUNTIME_PHASE: u32 = 16;
/// …and a filter install that opened the gate ran with no-new-privileges set on the installing
/// task (`PFA_NO_NEW_PRIVS` in `task_struct.atomic_flags`), or without it (runtimes, issue 11).
pub const INSTALL_NNP: u32 = 32;
pub const INSTALL_NO_NNP: u32 = 64;

/// Capability numbers counted (CAP_LAST_CAP is 40 in Linux 6.18).
pub const CAP_SLOTS: usize = 64;

/// Buckets of [`maps::CAP_COUNTS`]: granted, denied, and CAP_SYS_ADMIN checks the kernel makes as
/// a NOAUDIT probe while accounting memory (mm/util.c `__vm_enough_memory` →
/// `cap_vm_enough_memory`: mmap, brk, mprotect, mremap, shm, fork, exec, and stack growth on a
/// page fault), whose result only shifts overcommit accounting: never a reason to grant CAP_SYS_ADMIN.
pub const CAP_GRANTED: u32 = 0;
pub const CAP_DENIED: u32 = 1;
pub const CAP_VM_PROBE: u32 = 2;
/// Checks of credentials other than the task's own `real_cred`: the kernel acting with overridden
/// credentials (overlayfs does lower-layer work with the mounter's, via `override_creds`), or
/// checking a file opener's. Not the workload's needs.
pub const CAP_OTHER_CRED: u32 = 3;
pub const CAP_BUCKETS: u32 = 4;

/// Key of [`maps::CAP_COUNTS`].
pub const fn cap_counts_key(slot: u32, bucket: u32) -> u32 {
    slot * CAP_BUCKETS + bucket
}

/// A gated thread: its target slot, whether it has exec'd since passing the gate (capability checks
/// count only then: runc still sets up users with full capabilities after installing the filter),
/// and the syscall it is in (stored by each counted `sys_enter` that changes it), for attributing capability checks.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub slot: u16,
    pub execed: u16,
    pub syscall: u32,
}
const _: () = assert!(core::mem::size_of::<Mark>() == 8);

impl Mark {
    /// `syscall` of a thread between two syscalls: `sys_exit` resets it to this, `sys_enter`
    /// overwrites it. A `sys_exit` that finds it still here had no `sys_enter`: seccomp refused
    /// the call (design.md §15).
    pub const NOT_IN_SYSCALL: u32 = u32::MAX;
    /// `syscall` of a thread that was just marked, forked or exec'd: its next `sys_exit` (a new
    /// task's first return from clone/fork, the return from execve, the end of the syscall a
    /// thread was in when userspace marked it) legitimately has no `sys_enter` of its own.
    pub const FRESH: u32 = u32::MAX - 1;
    /// `syscall` of an unmarked thread of a target whose filter install is in flight (its
    /// arguments wait in PENDING): `sys_exit` looks at PENDING only for such a thread, so every
    /// other thread on the machine pays one MARKS lookup there, not two. Not a mark: the entry is
    /// removed, or becomes a real mark, at that `sys_exit`.
    pub const INSTALLING: u32 = u32::MAX - 2;
    /// The lowest sentinel: `syscall` values below it are syscall numbers.
    pub const FIRST_SENTINEL: u32 = Mark::INSTALLING;

    pub const fn new(slot: u32) -> Mark {
        Mark {
            slot: slot as u16,
            execed: 0,
            syscall: Mark::FRESH,
        }
    }
}

/// The first check of one capability in one target.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapFirst {
    pub comm: [u8; 16],
    /// The native syscall number in progress, or `u32::MAX` if unknown.
    pub syscall: u32,
    pub granted: u32,
}

impl CapFirst {
    /// What an unwritten entry holds: the kernel side writes an entry only while its comm is empty.
    pub const EMPTY: CapFirst = CapFirst {
        comm: [0; 16],
        syscall: 0,
        granted: 0,
    };
}
const _: () = assert!(core::mem::size_of::<CapFirst>() == 24);

/// Entries of [`maps::WATCH_PREFIXES`].
pub const WATCH_PREFIX_SLOTS: u32 = 2;
pub const WATCH_PREFIX_MAX: usize = 60;

/// A cgroup path prefix; `len == 0` means unused.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchPrefix {
    pub len: u32,
    pub bytes: [u8; WATCH_PREFIX_MAX],
}
const _: () = assert!(core::mem::size_of::<WatchPrefix>() == 64);

// --- engines (issue 10): bits of `globals::WATCH_MODE` ---
/// Arm a new cgroup whose last path component has a container's shape, wherever it is in the tree:
/// `<64 hex>`, optionally prefixed `docker-`, `libpod-`, `cri-containerd-` or `crio-`, optionally
/// suffixed `.scope` (design.md §17). Pod, QoS and system slices and conmon's
/// `libpod-conmon-<id>` do not have it, so they take no slot.
pub const WATCH_SHAPES: u32 = 1;
/// Also arm any cgroup2 directory a container runtime (`runc`, `crun`: the task's comm) makes:
/// a container whose id is any name (`ctr run … NAME`, cgroup `/<namespace>/NAME`) or whose
/// cgroup has any path (`ctr run --cgroup /x/y`). The runtime also makes missing parents: userspace
/// releases those (a cgroup with an armed child is no container).
pub const WATCH_RUNTIME_MKDIR: u32 = 2;

/// Globals userspace sets with `EbpfLoader::override_global` before load. Offsets come from the
/// running kernel's BTF (`/sys/kernel/btf/vmlinux`), because aya emits no CO-RE relocations.
pub mod globals {
    /// Byte offset of `pid` (the thread id) in `struct task_struct`.
    pub const TASK_PID_OFFSET: &str = "TASK_PID_OFFSET";
    /// Byte offset of `thread_info.status` in `struct task_struct` (x86: `TS_COMPAT` lives there);
    /// 0 disables compat detection.
    pub const TASK_STATUS_OFFSET: &str = "TASK_STATUS_OFFSET";
    /// The `TS_COMPAT` bit of `thread_info.status`.
    pub const COMPAT_STATUS_MASK: &str = "COMPAT_STATUS_MASK";
    /// `task_struct.nsproxy`, `nsproxy.mnt_ns` and `mnt_namespace.ns.inum`: the exec gate only opens
    /// in a mount namespace other than [`HOST_MNT_NS`]'s (after the runtime's pivot_root).
    pub const TASK_NSPROXY_OFFSET: &str = "TASK_NSPROXY_OFFSET";
    pub const NSPROXY_MNT_NS_OFFSET: &str = "NSPROXY_MNT_NS_OFFSET";
    pub const MNT_NS_INUM_OFFSET: &str = "MNT_NS_INUM_OFFSET";
    /// The recorder's own mount namespace inode number (`stat /proc/self/ns/mnt`).
    pub const HOST_MNT_NS: &str = "HOST_MNT_NS";
    /// `cgroup.kn`, `kernfs_node.id`, `cgroup.root`, `cgroup_root.hierarchy_id` for `cgroup_mkdir`.
    pub const CGROUP_KN_OFFSET: &str = "CGROUP_KN_OFFSET";
    pub const KERNFS_NODE_ID_OFFSET: &str = "KERNFS_NODE_ID_OFFSET";
    pub const CGROUP_ROOT_OFFSET: &str = "CGROUP_ROOT_OFFSET";
    pub const ROOT_HIERARCHY_ID_OFFSET: &str = "ROOT_HIERARCHY_ID_OFFSET";
    /// `Target::flags` given to cgroups armed by `cgroup_mkdir`.
    pub const WATCH_FLAGS: &str = "WATCH_FLAGS";
    /// Bit offset of the `linux_binprm.secureexec` bitfield.
    pub const BPRM_SECUREEXEC_BIT: &str = "BPRM_SECUREEXEC_BIT";
    /// `task_struct.real_cred`.
    pub const TASK_REAL_CRED_OFFSET: &str = "TASK_REAL_CRED_OFFSET";

    // -- runtimes (issue 11): read only at a successful filter install --
    /// `task_struct.atomic_flags` (bit `PFA_NO_NEW_PRIVS` = 0).
    pub const TASK_ATOMIC_FLAGS_OFFSET: &str = "TASK_ATOMIC_FLAGS_OFFSET";
    /// `task_struct.mm`, `mm_struct.exe_file`, `file.f_path` + `path.dentry`, `dentry.d_name` +
    /// `qstr.name`, `dentry.d_inode`, `inode.i_ino`: the installing process's executable.
    pub const TASK_MM_OFFSET: &str = "TASK_MM_OFFSET";
    pub const MM_EXE_FILE_OFFSET: &str = "MM_EXE_FILE_OFFSET";
    pub const FILE_DENTRY_OFFSET: &str = "FILE_DENTRY_OFFSET";
    pub const DENTRY_NAME_OFFSET: &str = "DENTRY_NAME_OFFSET";
    pub const DENTRY_INODE_OFFSET: &str = "DENTRY_INODE_OFFSET";
    pub const INODE_INO_OFFSET: &str = "INODE_INO_OFFSET";
    // --- engines (issue 10): container discovery for every engine ---
    /// Which new cgroups `cgroup_mkdir` arms besides those under `WATCH_PREFIXES`
    /// ([`super::WATCH_SHAPES`], [`super::WATCH_RUNTIME_MKDIR`]); 0 for a command or an attached
    /// container.
    pub const WATCH_MODE: &str = "WATCH_MODE";
}

/// Indexes of the [`maps::STATS`] array.
pub mod stats {
    /// A thread could not be marked (MARKS full): its later syscalls were not counted.
    pub const MARK_FAILED: u32 = 0;
    /// A syscall number above [`super::NR_SLOTS`] was made and not counted.
    pub const OUT_OF_RANGE: u32 = 1;
    /// A filter install could not be tracked (PENDING full).
    pub const PENDING_FAILED: u32 = 2;
    /// A watched cgroup was created but no target slot was free: it was not recorded.
    pub const SLOTS_EXHAUSTED: u32 = 3;
    /// A refused call could not be counted (DENIALS full).
    pub const DENIALS_LOST: u32 = 4;
    pub const COUNT: u32 = 5;
}

/// A recorded cgroup: which slot of the count arrays it owns and how its gate opens.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub slot: u32,
    pub flags: u32,
}
const _: () = assert!(core::mem::size_of::<Target>() == 8);

impl Target {
    /// Besides a filter install, an `execve`/`execveat` made in a mount namespace other than the
    /// host's opens a thread's gate: for containers started with `seccomp=unconfined`, which never
    /// install a filter. The runtime's own re-exec (runc's memfd copy) happens in the host's mount
    /// namespace, before it unshares, so it does not open the gate; the entrypoint's execve does.
    pub const GATE_ON_EXEC: u32 = 1;

    // --- engines (issue 10) ---
    /// `record --cgroup` of a cgroup whose processes run in the host's mount namespace (a systemd
    /// service, a plain cgroup): there is no runtime setup to leave out, so every thread of the
    /// target counts from its first syscall seen (processes started in it later included).
    pub const GATE_OPEN: u32 = 2;

    /// `record -- CMD` (issue 13): the command's own execve opens the gate, in any mount
    /// namespace. The target's cgroup is the recorder's own, and the only thread in it before
    /// the gate opens is the launcher's child, which joins it, switches user and execs CMD: so
    /// its execve is where CMD starts, which is where `exec --profile` installs the profile.
    /// Unlike a gate filter, it costs the recorded command nothing on every syscall.
    pub const GATE_ON_COMMAND_EXEC: u32 = 4;
}

/// A filter install seen at `sys_enter`, waiting for its return value at `sys_exit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub slot: u32,
    /// Non-zero when the install asked for `SECCOMP_FILTER_FLAG_TSYNC`.
    pub tsync: u32,
}
const _: () = assert!(core::mem::size_of::<Pending>() == 8);

/// Key of [`maps::COUNTS`]: one `[u64; NR_SLOTS]` per (target slot, syscall table).
pub const fn counts_key(slot: u32, table: u32) -> u32 {
    slot * TABLES + table
}

/// Index of [`maps::FIRST_COMM`] for one syscall of one table of one target.
pub const fn comm_index(slot: u32, table: u32, nr: u32) -> u32 {
    counts_key(slot, table) * NR_SLOTS as u32 + nr
}

pub const COUNTS_ENTRIES: u32 = MAX_TARGETS * TABLES;

// --- lean (issue 13): the target filter ---

/// Tids per entry of [`maps::MARK_FILTER`] (a byte each): one page.
pub const MARK_FILTER_CHUNK: usize = 4096;
/// Most entries of [`maps::MARK_FILTER`]: tids below 2^20 (1 MiB of bytes). Sized at load for
/// the kernel's `pid_max` (32768 by default: 8 entries, 32 KiB).
pub const MARK_FILTER_MAX_CHUNKS: u32 = 256;

/// `(entry, byte)` of a tid in [`maps::MARK_FILTER`].
pub const fn mark_filter_index(tid: u32) -> (u32, usize) {
    (
        tid / MARK_FILTER_CHUNK as u32,
        tid as usize % MARK_FILTER_CHUNK,
    )
}

/// Verdicts in [`maps::VERDICTS`] (issue 13), keyed by the thread's kernel stack: the address
/// of the registers it saved on entering the kernel (`task_pt_regs`), which is the raw syscall
/// tracepoints' first argument, so `sys_enter` and `sys_exit` find a thread's verdict with no
/// helper call. Kernel stacks are THREAD_SIZE-aligned and THREAD_SIZE is at least 16 KiB, so
/// `regs >> 14` names one live thread; its low 13 bits are the index and the next 29 (address
/// bits 27–55, all a kernel address can vary in, 5-level paging included) the tag. A stack is
/// reused after its thread dies: the kernel side forgets a thread's entry at its exit (and at
/// exec), so a new thread never inherits one.
///
/// One u64 per entry, so that a verdict is written and read in one store and one load, and two
/// CPUs writing one entry at once never leave a mix of both: `generation << 37 | tag << 8 |
/// what`, where `what` is [`verdict::UNTRACED`], or [`verdict::COUNT`] with the slot in its low
/// 6 bits and [`verdict::IN_SYSCALL_BYTE`]. The word keeps the generation's low 27 bits; so that
/// a word 2^27 generations old can never match, the whole map is zeroed after GENERATION reaches
/// each multiple of [`verdict::CLEAR_EVERY`] (2^25; [`verdict::clears`],
/// [`verdict::clears_after`]): a word outlives at most two such clears' distance (one decision
/// racing a clear), 2^26. A kernel address's tag is never 0, so a zeroed entry matches nothing.
pub mod verdict {
    /// Entries of the map: 8192 (64 KiB). Threads whose stacks share an entry take turns in it,
    /// each paying a full decision when the other had it last.
    pub const ENTRIES: u32 = 1 << 13;
    /// Not in a target cgroup: nothing to do at `sys_enter` or `sys_exit`.
    pub const UNTRACED: u8 = 0;
    /// A thread of a target past the gate and past its first exec: every call is counted.
    pub const COUNT: u8 = 0x80;
    /// With COUNT: the thread has a mark and a MARK_FILTER byte, which `sys_enter` sets to
    /// InSyscall (seeing refused calls, design.md §15). Without it (a TSYNC thread counted
    /// through its process) there is no byte to keep.
    pub const IN_SYSCALL_BYTE: u8 = 0x40;
    /// The slot's bits in `what`.
    pub const SLOT_MASK: u8 = 0x3f;
    const _: () = assert!(super::MAX_TARGETS <= SLOT_MASK as u32 + 1);

    /// log2 of the smallest THREAD_SIZE (x86-64: 16 KiB; 32 KiB under KASAN).
    const STACK_SHIFT: u32 = 14;
    const INDEX_BITS: u32 = ENTRIES.trailing_zeros();
    const TAG_BITS: u32 = 29;
    /// Bits of the generation a word keeps.
    pub const GENERATION_BITS: u32 = 64 - TAG_BITS - 8;
    /// The map is zeroed each time GENERATION reaches a multiple of this.
    pub const CLEAR_EVERY: u64 = 1 << (GENERATION_BITS - 2);

    /// The entry of the thread whose saved registers are at `regs`.
    pub const fn index(regs: u64) -> u32 {
        (regs >> STACK_SHIFT) as u32 & (ENTRIES - 1)
    }

    const fn tag(regs: u64) -> u64 {
        (regs >> (STACK_SHIFT + INDEX_BITS)) & ((1 << TAG_BITS) - 1)
    }

    /// The word of the verdict `what` of the thread at `regs`, decided in `generation`.
    pub const fn word(regs: u64, generation: u64, what: u8) -> u64 {
        (generation << (TAG_BITS + 8)) | (tag(regs) << 8) | what as u64
    }

    /// The `what` of the word `stored` if it is the verdict of the thread at `regs` in
    /// `generation`.
    pub const fn what(stored: u64, regs: u64, generation: u64) -> Option<u8> {
        if stored & !0xff == word(regs, generation, 0) {
            Some(stored as u8)
        } else {
            None
        }
    }

    /// Whether an adder whose add made GENERATION `generation` must zero the map (userspace,
    /// which gets the value from its fetch-add).
    pub const fn clears(generation: u64) -> bool {
        generation.is_multiple_of(CLEAR_EVERY)
    }

    /// Adds within this distance of a multiple of [`CLEAR_EVERY`] zero the map when the adder
    /// only reads the counter after adding: the kernel side, built for BPF CPU v1, which has no
    /// fetch-add. Its adds are serialized (cgroup_mutex), so only userspace adds can come in
    /// between, far fewer than 64 at once.
    pub const CLEAR_WINDOW: u64 = 64;

    /// Whether an adder that read `generation` after its add must zero the map: the add that
    /// reached the multiple is its own or another's; then the map is zeroed at least once after
    /// every multiple (a few more times does no harm: every thread decides again once).
    pub const fn clears_after(generation: u64) -> bool {
        generation >= CLEAR_EVERY && generation % CLEAR_EVERY < CLEAR_WINDOW
    }
}

/// Words of [`maps::TARGET_FILTER`]: 1024 bits.
pub const TARGET_FILTER_WORDS: usize = 16;

/// `(word, mask)` of a cgroup id in [`maps::TARGET_FILTER`]: its low 10 bits.
pub const fn target_filter_bit(cgroup_id: u64) -> (usize, u64) {
    (
        ((cgroup_id >> 6) as usize) & (TARGET_FILTER_WORDS - 1),
        1 << (cgroup_id & 63),
    )
}
pub const FIRST_COMM_ENTRIES: u32 = COUNTS_ENTRIES * NR_SLOTS as u32;

// --- Seeing denials (issue 12 part A) ---

/// Room in [`maps::DENIALS`]: distinct (target, table, syscall, errno) refusals. One more is
/// counted in `stats::DENIALS_LOST`, never dropped silently.
pub const DENIALS_MAX: u32 = 4096;

/// Key of [`maps::DENIALS`]. `errno` is the refused call's return negated: 1 (EPERM) for a
/// profile's default action, 38 (ENOSYS) for runc's stub above the highest named syscall and for
/// `clone3`-style rules, any other value a rule's `errnoRet`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DenialKey {
    pub slot: u32,
    /// `TABLE_*`.
    pub table: u32,
    pub nr: u32,
    pub errno: u32,
}
const _: () = assert!(core::mem::size_of::<DenialKey>() == 16);

/// Per-CPU value of [`maps::DENIALS`]: refusals on that CPU, and the first one's time
/// (`bpf_ktime_get_ns`) and comm, so userspace names the first command across CPUs.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denial {
    pub count: u64,
    pub first_ns: u64,
    pub comm: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<Denial>() == 32);
// Argument values (issue 12, argument rules): what `sys_enter` records of the arguments that
// Docker's default profile restricts, exactly, so that a profile can allow those values only.

/// `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
/// CLONE_NEWNET` (include/uapi/linux/sched.h): the namespace flags Docker's default profile
/// masks `clone`'s flags with. Seven bits, so 128 combinations: a 128-bit set holds them all.
pub const CLONE_NAMESPACE_MASK: u64 = 0x7E02_0000;

/// The bit of [`ArgValues::clone_namespaces`] for a `clone` flags value: CLONE_NEWNS (bit 17) at
/// 0, the six contiguous flags at bits 25..=30 at 1..=6.
pub const fn clone_namespace_index(flags: u64) -> u32 {
    (((flags >> 17) & 1) | (((flags >> 25) & 0x3F) << 1)) as u32
}

/// The namespace flags of a [`clone_namespace_index`]: its inverse.
pub const fn clone_namespace_flags(index: u32) -> u64 {
    (((index as u64) & 1) << 17) | ((((index as u64) >> 1) & 0x3F) << 25)
}

const _: () = assert!(clone_namespace_flags(127) == CLONE_NAMESPACE_MASK);
const _: () = assert!(clone_namespace_index(CLONE_NAMESPACE_MASK) == 127);
const _: () = assert!(clone_namespace_index(0x1000_0000) == 16); // CLONE_NEWUSER (bit 28)

/// Personality values one CPU keeps for one target before it sets [`ARGS_PERSONA_OVERFLOW`].
pub const PERSONA_SLOTS: usize = 6;

/// Bits of [`ArgValues::overflow`]: a value was made that the record cannot hold exactly. A
/// profile must then not restrict that syscall by value.
/// A `socket` family ≥ 64.
pub const ARGS_FAMILY_OVERFLOW: u32 = 1;
/// A netlink protocol ≥ 32.
pub const ARGS_NETLINK_OVERFLOW: u32 = 2;
/// More than [`PERSONA_SLOTS`] distinct personality values on one CPU.
pub const ARGS_PERSONA_OVERFLOW: u32 = 4;

/// `AF_NETLINK`, whose `socket` protocol (arg2) is recorded too.
pub const AF_NETLINK: u64 = 16;

/// Entry of [`maps::ARG_VALUES`]: sets of values, per target slot and CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgValues {
    /// `socket` families (arg0): bit F for family F < 64.
    pub socket_families: u64,
    /// `clone` namespace flag combinations (arg0 & [`CLONE_NAMESPACE_MASK`]): bit
    /// [`clone_namespace_index`] of the 128-bit set, low word first.
    pub clone_namespaces: [u64; 2],
    /// `personality` values (arg0, all 64 bits), the first `persona_count` entries.
    pub personas: [u64; PERSONA_SLOTS],
    /// `socket(AF_NETLINK, …)` protocols (arg2): bit P for protocol P < 32.
    pub netlink_protocols: u32,
    pub persona_count: u32,
    /// `ARGS_*_OVERFLOW` bits.
    pub overflow: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<ArgValues>() == 88);

impl ArgValues {
    pub const EMPTY: ArgValues = ArgValues {
        socket_families: 0,
        clone_namespaces: [0; 2],
        personas: [0; PERSONA_SLOTS],
        netlink_protocols: 0,
        persona_count: 0,
        overflow: 0,
        _pad: 0,
    };
}

// -- runtimes (issue 11) --

/// Room for the installing executable's name in [`InstallerSeen`]: runc 1.1's memfd copy is
/// `memfd:runc_cloned:/proc/self/exe` (32 bytes).
pub const INSTALLER_NAME_MAX: usize = 48;

/// The executable of the task whose filter install first opened a slot's gate: the last path
/// component of `mm->exe_file` (a memfd's is `memfd:<name>`), its inode number, and the task's
/// comm. `comm[0] == 0` means nothing was written yet.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstallerSeen {
    pub exe_ino: u64,
    pub exe_name: [u8; INSTALLER_NAME_MAX],
    pub comm: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<InstallerSeen>() == 72);

impl InstallerSeen {
    pub const EMPTY: InstallerSeen = InstallerSeen {
        exe_ino: 0,
        exe_name: [0; INSTALLER_NAME_MAX],
        comm: [0; 16],
    };
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: #[repr(C)] u64s then u32s, 88 bytes, no padding (asserted), any bit pattern valid.
    unsafe impl aya::Pod for super::ArgValues {}
    // SAFETY: both are #[repr(C)], made of u32s with no padding (size asserted above), valid for
    // any bit pattern.
    unsafe impl aya::Pod for super::Target {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Pending {}
    // SAFETY: #[repr(C)] u32 + byte array, 64 bytes, no padding.
    unsafe impl aya::Pod for super::WatchPrefix {}
    // SAFETY: #[repr(C)] u16, u16, u32: 8 bytes, no padding.
    unsafe impl aya::Pod for super::Mark {}
    // SAFETY: #[repr(C)] [u8; 16], u32, u32: 24 bytes, no padding.
    unsafe impl aya::Pod for super::CapFirst {}
    // SAFETY: #[repr(C)] four u32s: 16 bytes, no padding.
    unsafe impl aya::Pod for super::DenialKey {}
    // SAFETY: #[repr(C)] u64, u64, [u8; 16]: 32 bytes, no padding.
    unsafe impl aya::Pod for super::Denial {}
    // SAFETY: #[repr(C)] u64, [u8; 48], [u8; 16]: 72 bytes, no padding.
    unsafe impl aya::Pod for super::InstallerSeen {}
}

#[cfg(test)]
mod tests {
    use super::verdict;

    /// Saved registers of two live threads whose stacks share an entry (4-level paging's
    /// vmalloc area, and 5-level's).
    const REGS: u64 = 0xffff_c900_0123_7f58;
    const SAME_ENTRY: u64 = REGS + ((verdict::ENTRIES as u64) << 14);
    const FIVE_LEVEL: u64 = 0xffa0_8000_0123_7f58;

    #[test]
    fn a_verdict_matches_only_its_stack_and_generation() {
        let what = verdict::COUNT | verdict::IN_SYSCALL_BYTE | 63;
        let word = verdict::word(REGS, 7, what);
        assert_eq!(verdict::what(word, REGS, 7), Some(what));
        // Anywhere in the same stack (THREAD_SIZE 16 KiB): the same thread.
        assert_eq!(verdict::what(word, REGS & !0x3fff, 7), Some(what));
        // Another stack in the same entry, another generation.
        assert_eq!(verdict::index(REGS), verdict::index(SAME_ENTRY));
        assert_eq!(verdict::what(word, SAME_ENTRY, 7), None);
        assert_eq!(verdict::what(word, REGS, 8), None);
        assert_eq!(verdict::what(word, REGS, 6), None);
        // Address bits up to 55 count: 5-level paging's stacks that differ there only.
        assert_eq!(
            verdict::index(FIVE_LEVEL),
            verdict::index(FIVE_LEVEL ^ (1 << 55))
        );
        let five = verdict::word(FIVE_LEVEL, 1, verdict::UNTRACED);
        assert_eq!(verdict::what(five, FIVE_LEVEL ^ (1 << 55), 1), None);
        assert_eq!(verdict::what(five, FIVE_LEVEL, 1), Some(verdict::UNTRACED));
        // A zeroed or forgotten entry matches no kernel address, in any generation.
        for regs in [REGS, SAME_ENTRY, FIVE_LEVEL] {
            for generation in [0, 1, 1 << verdict::GENERATION_BITS] {
                assert_eq!(verdict::what(0, regs, generation), None);
            }
        }
    }

    #[test]
    fn the_map_is_cleared_well_before_a_kept_generation_wraps() {
        // A word keeps GENERATION_BITS of its generation: one 2^GENERATION_BITS generations old
        // would match again.
        let word = verdict::word(REGS, 5, verdict::UNTRACED);
        let wrapped = 5 + (1 << verdict::GENERATION_BITS);
        assert_eq!(verdict::what(word, REGS, wrapped), Some(verdict::UNTRACED));
        // Clears come every CLEAR_EVERY adds, and a word outlives at most two of them.
        assert!(2 * verdict::CLEAR_EVERY < 1 << verdict::GENERATION_BITS);
        assert!(verdict::clears(verdict::CLEAR_EVERY));
        assert!(verdict::clears(3 * verdict::CLEAR_EVERY));
        assert!(!verdict::clears(verdict::CLEAR_EVERY + 1));
        assert!(!verdict::clears(1));
        // The kernel side, reading after its add, sees the multiple or up to 63 adds beyond it.
        for seen in [verdict::CLEAR_EVERY, 2 * verdict::CLEAR_EVERY + 63] {
            assert!(verdict::clears_after(seen), "{seen}");
        }
        // Before the first multiple no word can be old enough.
        for seen in [
            0,
            1,
            64,
            verdict::CLEAR_EVERY - 1,
            verdict::CLEAR_EVERY + 64,
        ] {
            assert!(!verdict::clears_after(seen), "{seen}");
        }
        assert_eq!(
            (1..=4 * verdict::CLEAR_EVERY)
                .filter(|&g| verdict::clears(g))
                .count(),
            4
        );
    }
}
