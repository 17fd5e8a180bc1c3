//! Loads the eBPF object, attaches its raw tracepoints, registers targets and reads what they
//! recorded. It owns the kernel/user boundary; it knows nothing about profiles or syscall names
//! (it hands back numbers per syscall table).

mod arguments;
mod loader;
mod release;
pub mod share;
mod sizing;
mod startup;

use share::Maps;

use std::time::{Duration, Instant};

use std::os::unix::fs::MetadataExt as _;

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, PerCpuArray, Queue},
    programs::RawTracePoint,
};
use profiler_common::{
    CGROUP_PATH_MAX, InstallerSeen, MAX_TARGETS, Mark, NR_SLOTS, TABLES, TARGET_FILTER_WORDS,
    Target, WATCH_PREFIX_MAX, WATCH_PREFIX_SLOTS, WatchPrefix, comm_index, counts_key, globals,
    maps, stats,
};
use thiserror::Error;

use crate::btf::{Btf, BtfError, KernelOffsets};

#[derive(Debug, Error)]
pub enum TracerError {
    #[error(transparent)]
    Btf(#[from] BtfError),
    #[error(
        "cannot load the eBPF programs: {0}; recording needs root (CAP_BPF and CAP_PERFMON, or \
         CAP_SYS_ADMIN) and a kernel with BPF raw tracepoints (≥ 4.17)"
    )]
    Load(aya::EbpfError),
    #[error("the kernel rejected eBPF program {program}: {err:#}")]
    Program {
        program: &'static str,
        err: aya::programs::ProgramError,
    },
    #[error("cannot attach eBPF program {program} to tracepoint {tracepoint}: {err:#}")]
    Attach {
        program: &'static str,
        tracepoint: &'static str,
        err: aya::programs::ProgramError,
    },
    #[error("eBPF map {0} is missing from the object (build mismatch)")]
    MissingMap(&'static str),
    #[error("eBPF map {map}: {err}")]
    Map {
        map: &'static str,
        err: aya::maps::MapError,
    },
    #[error(
        "too many targets: this recording was set up for {0} cgroup(s) at once (at most {MAX_TARGETS})"
    )]
    TooManyTargets(u32),
    #[error("eBPF program {0} is missing from the object (build mismatch)")]
    MissingProgram(&'static str),
    #[error("cannot read this process's mount namespace (/proc/self/ns/mnt): {0}")]
    MountNamespace(std::io::Error),
    #[error("cannot count this machine's possible CPUs: {0}")]
    Cpus(std::io::Error),
    #[error("watched cgroup prefix {0:?} is longer than {WATCH_PREFIX_MAX} bytes")]
    PrefixTooLong(String),
    #[error("cannot map eBPF map GENERATION to invalidate the kernel side's cached verdicts: {0}")]
    Generation(std::io::Error),
    /// The host tracer this recording shares programs with went away (tracer/share).
    #[error(transparent)]
    Shared(#[from] share::ShareError),
}

impl crate::exit::Coded for TracerError {
    /// Setting up says whether this machine can trace (3); reading maps fails only mid-run (4).
    fn exit_code(&self) -> i32 {
        match self {
            TracerError::Map { .. }
            | TracerError::TooManyTargets(_)
            | TracerError::Cpus(_)
            | TracerError::Generation(_)
            | TracerError::Shared(_) => crate::exit::RUNTIME,
            _ => crate::exit::ENVIRONMENT,
        }
    }
}

/// (program, tracepoint) pairs the recorder attaches. All are raw tracepoints: no tracefs needed.
const PROGRAMS: [(&str, &str); 7] = [
    ("sys_enter", "sys_enter"),
    ("sys_exit", "sys_exit"),
    ("sched_process_fork", "sched_process_fork"),
    ("sched_process_exec", "sched_process_exec"),
    ("sched_process_exit", "sched_process_exit"),
    ("cgroup_mkdir", "cgroup_mkdir"),
    ("cgroup_attach_task", "cgroup_attach_task"),
];

/// How the tracer is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// Forward the eBPF side's log (aya-log) to ours.
    pub verbose: bool,
    /// cgroup2 path prefixes (relative to the mount, e.g. `/docker/`) whose new child cgroups
    /// become targets the moment they are created. At most two.
    pub watch_prefixes: Vec<String>,
    /// `Target` flags for those cgroups.
    pub watch_flags: u32,
    /// Which other new cgroups become targets (`profiler_common::WATCH_SHAPES`,
    /// `WATCH_RUNTIME_MKDIR`); 0: only those under `watch_prefixes`.
    pub watch_mode: u32,
    /// How many targets (slots) can be recorded at once, 1 to `MAX_TARGETS`: the maps are sized
    /// for it (`sizing`), so the kernel memory held follows what is recorded (issue 13). A
    /// one-command recording needs 1; a host-wide tracer serving several recordings, more.
    pub capacity: u32,
    /// Build aya's loader without its parse of the kernel's BTF where the process may
    /// (`loader`): for the tracers whose start-up and peak RSS matter (one command, the host
    /// tracer), not for the long-running container recorders and the agent.
    pub lean_loader: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            verbose: false,
            watch_prefixes: Vec::new(),
            watch_flags: 0,
            watch_mode: 0,
            capacity: MAX_TARGETS,
            lean_loader: false,
        }
    }
}

/// What one syscall table slot recorded for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// `profiler_common::TABLE_*`.
    pub table: u32,
    pub nr: u32,
    pub count: u64,
    pub first_comm: String,
    /// Made (at least once) by a gated thread before its first exec past the gate: the
    /// runtime phase (issue 11).
    pub runtime_phase: bool,
}

/// Everything read back for one target.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Sorted by (table, nr).
    pub observed: Vec<Observed>,
    /// Machine-wide counters of anything that makes a recording incomplete (see `stats`).
    pub mark_failed: u64,
    pub out_of_range: u64,
    pub pending_failed: u64,
    /// Watched cgroups that could not be recorded because every slot was taken.
    pub slots_exhausted: u64,
    /// Facts about the run (`profiler_common::{GATE_*, EXEC_AS_ROOT, SECURE_EXEC}`).
    pub flags: u32,
    /// Capability checks, sorted by capability number; None when the kernel cannot trace them.
    pub capabilities: Option<Vec<CapCheck>>,
    /// Calls seccomp refused to gated threads (design.md §15), sorted by (table, nr, errno).
    pub denials: Vec<denials::Refusal>,
    /// Refusals not counted because DENIALS was full (machine-wide).
    pub denials_lost: u64,
    /// Argument values of `socket`, `clone` and `personality` (native table).
    pub arguments: crate::arguments::Observed,
    /// Who installed the filter that opened the gate; None when no filter install did.
    pub installer: Option<Installer>,
}

pub use crate::runtimes::identify::Installer;

fn nul_terminated(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

pub struct Tracer {
    ebpf: Maps,
    logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
    /// `cap_capable` is attached.
    capabilities: bool,
    /// Slots the maps were sized for (`Options::capacity`).
    capacity: u32,
    /// Set when the programs are the host tracer's (tracer/share): slots are claimed through it.
    host: Option<share::Client>,
    /// STATS when this tracer started: a shared set's counters are machine-wide since the host
    /// loaded, so a recording reports only what happened since it started.
    stats_baseline: [u64; stats::COUNT as usize],
}

fn map_err(map: &'static str) -> impl Fn(aya::maps::MapError) -> TracerError {
    move |err| TracerError::Map { map, err }
}

impl Tracer {
    /// Loads the programs with this kernel's offsets and attaches them, with maps for one target
    /// (one command, container or cgroup tree). With `verbose`, the eBPF side's log (aya-log) is
    /// forwarded to ours; otherwise its log level is set to off.
    pub fn load(verbose: bool) -> Result<Tracer, TracerError> {
        Tracer::load_with(&Options {
            verbose,
            capacity: 1,
            lean_loader: true,
            ..Options::default()
        })
    }

    /// The one function that loads the programs and attaches them (a recorder's own tracer, or a
    /// host-wide one serving several recordings): maps sized for `options.capacity` targets.
    pub fn load_with(options: &Options) -> Result<Tracer, TracerError> {
        let started = Instant::now();
        let capacity = sizing::clamp_capacity(options.capacity);
        // aya exposes no member offsets (crate::btf says which accessors are missing): they are
        // read on the other core while the loader is built (which parses vmlinux BTF too, unless
        // `lean_loader` can hide it).
        let offsets = std::thread::spawn(move || {
            let offsets = Btf::from_vmlinux().and_then(|btf| KernelOffsets::resolve(&btf));
            (offsets, started.elapsed())
        });
        let mut loader = loader::new(options.lean_loader);
        let loader_ms = started.elapsed();
        let (offsets, offsets_ms) = offsets.join().expect("the BTF offsets thread panicked");
        let offsets = offsets?;
        let host_mnt_ns = std::fs::metadata("/proc/self/ns/mnt")
            .map_err(TracerError::MountNamespace)?
            .ino() as u32;
        let log_level: u8 = if options.verbose { 0xff } else { 0 };
        let watching = !options.watch_prefixes.is_empty() || options.watch_mode != 0;
        for (map, entries) in sizing::max_entries(capacity, watching, options.verbose) {
            loader.map_max_entries(map, entries);
        }
        let mut ebpf = loader
            .override_global(globals::TASK_PID_OFFSET, &offsets.task_pid, true)
            .override_global(globals::TASK_STATUS_OFFSET, &offsets.task_status, true)
            .override_global(
                globals::COMPAT_STATUS_MASK,
                &offsets.compat_status_mask,
                true,
            )
            .override_global(globals::TASK_NSPROXY_OFFSET, &offsets.task_nsproxy, true)
            .override_global(
                globals::NSPROXY_MNT_NS_OFFSET,
                &offsets.nsproxy_mnt_ns,
                true,
            )
            .override_global(globals::MNT_NS_INUM_OFFSET, &offsets.mnt_ns_inum, true)
            .override_global(globals::HOST_MNT_NS, &host_mnt_ns, true)
            .override_global(globals::CGROUP_KN_OFFSET, &offsets.cgroup_kn, true)
            .override_global(
                globals::KERNFS_NODE_ID_OFFSET,
                &offsets.kernfs_node_id,
                true,
            )
            .override_global(globals::CGROUP_ROOT_OFFSET, &offsets.cgroup_root, true)
            .override_global(
                globals::ROOT_HIERARCHY_ID_OFFSET,
                &offsets.root_hierarchy_id,
                true,
            )
            .override_global(globals::WATCH_FLAGS, &options.watch_flags, true)
            .override_global(globals::WATCH_MODE, &options.watch_mode, true)
            .override_global(
                globals::BPRM_SECUREEXEC_BIT,
                &offsets.bprm_secureexec_bit,
                true,
            )
            .override_global(
                globals::TASK_REAL_CRED_OFFSET,
                &offsets.task_real_cred,
                true,
            )
            .override_global(
                globals::TASK_ATOMIC_FLAGS_OFFSET,
                &offsets.task_atomic_flags,
                true,
            )
            .override_global(globals::TASK_MM_OFFSET, &offsets.task_mm, true)
            .override_global(globals::MM_EXE_FILE_OFFSET, &offsets.mm_exe_file, true)
            .override_global(globals::FILE_DENTRY_OFFSET, &offsets.file_dentry, true)
            .override_global(globals::DENTRY_NAME_OFFSET, &offsets.dentry_name, true)
            .override_global(globals::DENTRY_INODE_OFFSET, &offsets.dentry_inode, true)
            .override_global(globals::INODE_INO_OFFSET, &offsets.inode_ino, true)
            .override_global(aya_log::LEVEL, &log_level, false)
            .load(crate::EBPF_OBJECT)
            .map_err(TracerError::Load)?;
        let maps_ms = started.elapsed();
        let logger = if options.verbose {
            aya_log::EbpfLogger::init(&mut ebpf)
                .map_err(|err| log::warn!("eBPF log unavailable: {err}"))
                .ok()
        } else {
            None
        };
        let mut tracer = Tracer {
            ebpf: Maps::Loaded(ebpf),
            logger,
            capabilities: false,
            capacity,
            host: None,
            stats_baseline: [0; stats::COUNT as usize],
        };
        tracer.seed_free_slots()?;
        tracer.set_watch_prefixes(&options.watch_prefixes)?;
        if watching {
            // The kernel side arms cgroups at cgroup_mkdir and cannot set bits without racing
            // userspace's writes: every cgroup passes the filter (the cost of before issue 13).
            tracer.write_target_filter([u64::MAX; TARGET_FILTER_WORDS])?;
        }
        // The kernel verifies each program as it is loaded: two at a time, one per core.
        let Maps::Loaded(ebpf) = &mut tracer.ebpf else {
            unreachable!("just loaded")
        };
        let mut results = startup::attach_all(ebpf, started)?;
        let (_, capable, _) = results.pop().expect("cap_capable is attached last");
        // capability:cap_capable exists since Linux 6.14; without it, syscalls are still recorded.
        match capable {
            Ok(()) => {
                tracer.capabilities = true;
                startup::set_vm_probe_later(ebpf)?;
            }
            Err(err) => {
                log::warn!("capability checks will not be recorded (needs Linux ≥ 6.14): {err}")
            }
        }
        startup::log_steps(started, [offsets_ms, loader_ms, maps_ms], results)?;
        // Verdicts decided while the programs that invalidate or forget them were still being
        // attached (a thread that moved, exec'd or exited in between) are dropped.
        tracer.invalidate_verdicts()?;
        Ok(tracer)
    }

    /// A map of the object, as its aya type.
    fn open<'a, M>(&'a self, name: &'static str) -> Result<M, TracerError>
    where
        M: TryFrom<&'a aya::maps::Map, Error = aya::maps::MapError>,
    {
        let map = self.ebpf.map(name).ok_or(TracerError::MissingMap(name))?;
        M::try_from(map).map_err(map_err(name))
    }

    /// A map of the object, writable.
    fn open_mut<'a, M>(&'a mut self, name: &'static str) -> Result<M, TracerError>
    where
        M: TryFrom<&'a mut aya::maps::Map, Error = aya::maps::MapError>,
    {
        let map = self
            .ebpf
            .map_mut(name)
            .ok_or(TracerError::MissingMap(name))?;
        M::try_from(map).map_err(map_err(name))
    }

    /// One allocator for slots, shared with the kernel side (which takes slots for cgroups it arms).
    fn seed_free_slots(&mut self) -> Result<(), TracerError> {
        let capacity = self.capacity;
        let mut queue: Queue<&mut MapData, u32> = self.open_mut(maps::FREE_SLOTS)?;
        for slot in 0..capacity {
            queue.push(slot, 0).map_err(map_err(maps::FREE_SLOTS))?;
        }
        Ok(())
    }

    fn set_watch_prefixes(&mut self, prefixes: &[String]) -> Result<(), TracerError> {
        if prefixes.len() > WATCH_PREFIX_SLOTS as usize {
            return Err(TracerError::PrefixTooLong(prefixes.join(", ")));
        }
        let mut array: Array<&mut MapData, WatchPrefix> = self.open_mut(maps::WATCH_PREFIXES)?;
        for (index, prefix) in prefixes.iter().enumerate() {
            let bytes = prefix.as_bytes();
            if bytes.len() > WATCH_PREFIX_MAX {
                return Err(TracerError::PrefixTooLong(prefix.clone()));
            }
            let mut entry = WatchPrefix {
                len: bytes.len() as u32,
                bytes: [0; WATCH_PREFIX_MAX],
            };
            entry.bytes[..bytes.len()].copy_from_slice(bytes);
            array
                .set(index as u32, entry, 0)
                .map_err(map_err(maps::WATCH_PREFIXES))?;
        }
        Ok(())
    }

    /// Lets `cgroup_id` through TARGET_FILTER (before it becomes a target, so no syscall of it
    /// is missed). Bits are never cleared: a stale one costs a hash lookup, never a count.
    fn pass_target_filter(&mut self, cgroup_id: u64) -> Result<(), TracerError> {
        let filter: Array<&MapData, [u64; TARGET_FILTER_WORDS]> = self.open(maps::TARGET_FILTER)?;
        let mut words = filter.get(&0, 0).map_err(map_err(maps::TARGET_FILTER))?;
        let (word, mask) = profiler_common::target_filter_bit(cgroup_id);
        if words[word] & mask == 0 {
            words[word] |= mask;
            self.write_target_filter(words)?;
        }
        Ok(())
    }

    fn write_target_filter(
        &mut self,
        words: [u64; TARGET_FILTER_WORDS],
    ) -> Result<(), TracerError> {
        let mut filter: Array<&mut MapData, [u64; TARGET_FILTER_WORDS]> =
            self.open_mut(maps::TARGET_FILTER)?;
        filter
            .set(0, words, 0)
            .map_err(map_err(maps::TARGET_FILTER))
    }

    /// The targets registered so far (by us or by the kernel side at `cgroup_mkdir`).
    pub fn targets(&self) -> Result<Vec<(u64, Target)>, TracerError> {
        let targets: HashMap<&MapData, u64, Target> = self.open(maps::TARGETS)?;
        targets
            .iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err(maps::TARGETS))
    }

    /// The target for a cgroup id, if it is one.
    pub fn target_of(&self, cgroup_id: u64) -> Result<Option<Target>, TracerError> {
        let targets: HashMap<&MapData, u64, Target> = self.open(maps::TARGETS)?;
        match targets.get(&cgroup_id, 0) {
            Ok(target) => Ok(Some(target)),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(err) => Err(TracerError::Map {
                map: maps::TARGETS,
                err,
            }),
        }
    }

    /// The cgroup2 path the kernel side recorded when it armed `slot` at `cgroup_mkdir`.
    pub fn slot_path(&self, slot: u32) -> Result<Option<String>, TracerError> {
        let paths: Array<&MapData, [u8; CGROUP_PATH_MAX]> = self.open(maps::SLOT_PATHS)?;
        let path = nul_terminated(&paths.get(&slot, 0).map_err(map_err(maps::SLOT_PATHS))?);
        Ok((!path.is_empty()).then_some(path))
    }

    /// The cgroup2 paths `cgroup_mkdir` could not arm since the last call, because every slot was
    /// taken.
    pub fn take_missed(&mut self) -> Result<Vec<String>, TracerError> {
        let mut queue: Queue<&mut MapData, [u8; CGROUP_PATH_MAX]> = self.open_mut(maps::MISSED)?;
        let mut missed = Vec::new();
        while let Ok(path) = queue.pop(0) {
            missed.push(nul_terminated(&path));
        }
        Ok(missed)
    }

    /// Facts about a slot's run (`profiler_common::{GATE_*, EXEC_AS_ROOT, SECURE_EXEC}` bits).
    pub fn slot_flags(&self, slot: u32) -> Result<u32, TracerError> {
        let flags: Array<&MapData, u32> = self.open(maps::SLOT_FLAGS)?;
        flags.get(&slot, 0).map_err(map_err(maps::SLOT_FLAGS))
    }

    /// Whether capability checks are being recorded (the `cap_capable` tracepoint, Linux ≥ 6.14).
    pub fn records_capabilities(&self) -> bool {
        self.capabilities
    }

    /// Starts recording the cgroup `cgroup_id`; returns the target's slot. With a shared set, the
    /// host tracer arms it and owns the slot for this connection (so a crash cannot leak it).
    pub fn add_target(&mut self, cgroup_id: u64, flags: u32) -> Result<u32, TracerError> {
        if let Some(host) = self.host.as_mut() {
            return host.add_target(cgroup_id, flags);
        }
        self.pass_target_filter(cgroup_id)?;
        let capacity = self.capacity;
        let mut queue: Queue<&mut MapData, u32> = self.open_mut(maps::FREE_SLOTS)?;
        let slot = queue
            .pop(0)
            .map_err(|_| TracerError::TooManyTargets(capacity))?;
        let mut targets: HashMap<&mut MapData, u64, Target> = self.open_mut(maps::TARGETS)?;
        targets
            .insert(cgroup_id, Target { slot, flags }, 0)
            .map_err(map_err(maps::TARGETS))?;
        self.invalidate_verdicts()?;
        Ok(slot)
    }

    /// Records one more cgroup into an existing target's slot (`record --cgroup`: its children).
    pub fn add_target_in_slot(
        &mut self,
        cgroup_id: u64,
        slot: u32,
        flags: u32,
    ) -> Result<(), TracerError> {
        if let Some(host) = self.host.as_mut() {
            return host.add_target_in_slot(cgroup_id, slot, flags);
        }
        self.pass_target_filter(cgroup_id)?;
        let mut targets: HashMap<&mut MapData, u64, Target> = self.open_mut(maps::TARGETS)?;
        targets
            .insert(cgroup_id, Target { slot, flags }, 0)
            .map_err(|_| TracerError::TooManyTargets(MAX_TARGETS))?;
        self.invalidate_verdicts()
    }

    /// Stops recording a cgroup (its counts stay readable).
    pub fn remove_target(&mut self, cgroup_id: u64) -> Result<(), TracerError> {
        let mut targets: HashMap<&mut MapData, u64, Target> = self.open_mut(maps::TARGETS)?;
        targets.remove(&cgroup_id).map_err(map_err(maps::TARGETS))?;
        self.invalidate_verdicts()
    }

    /// Marks already-running threads as past the gate (attaching to a live workload).
    /// These threads are past their runtime's setup (they already run the workload), so they also
    /// count as having exec'd: their capability checks are recorded.
    pub fn mark_threads(&mut self, slot: u32, tids: &[u32]) -> Result<(), TracerError> {
        let mut marks: HashMap<&mut MapData, u32, Mark> = self.open_mut(maps::MARKS)?;
        for &tid in tids {
            marks
                .insert(
                    tid,
                    Mark {
                        execed: 1,
                        ..Mark::new(slot)
                    },
                    0,
                )
                .map_err(map_err(maps::MARKS))?;
        }
        self.invalidate_verdicts()
    }

    /// Sum of all counts of a target so far (for a progress line).
    pub fn total(&self, slot: u32) -> Result<u64, TracerError> {
        let counts = self.counts_map()?;
        let mut total = 0;
        for table in 0..TABLES {
            let per_cpu = counts
                .get(&counts_key(slot, table), 0)
                .map_err(map_err(maps::COUNTS))?;
            total += per_cpu.iter().flat_map(|row| row.iter()).sum::<u64>();
        }
        Ok(total)
    }

    fn counts_map(&self) -> Result<PerCpuArray<&MapData, [u64; NR_SLOTS]>, TracerError> {
        self.open(maps::COUNTS)
    }

    /// Reads a target's counts (summed over CPUs) and first comms, and the incompleteness counters.
    pub fn read(&self, slot: u32) -> Result<Recording, TracerError> {
        // Counts read after a shared set went away would look complete and are not.
        self.healthy()?;
        let counts = self.counts_map()?;
        let comms: Array<&MapData, [u8; 16]> = self.open(maps::FIRST_COMM)?;
        let phases: Array<&MapData, [u8; NR_SLOTS]> = self.open(maps::RUNTIME_PHASE_SEEN)?;
        let mut recording = Recording::default();
        for table in 0..TABLES {
            let runtime_phase = phases
                .get(&counts_key(slot, table), 0)
                .map_err(map_err(maps::RUNTIME_PHASE_SEEN))?;
            let per_cpu = counts
                .get(&counts_key(slot, table), 0)
                .map_err(map_err(maps::COUNTS))?;
            let mut sums = [0u64; NR_SLOTS];
            for row in per_cpu.iter() {
                for (sum, value) in sums.iter_mut().zip(row.iter()) {
                    *sum += value;
                }
            }
            for (nr, &count) in sums.iter().enumerate().filter(|(_, count)| **count > 0) {
                let nr = nr as u32;
                let raw = comms
                    .get(&comm_index(slot, table, nr), 0)
                    .map_err(map_err(maps::FIRST_COMM))?;
                let first_comm = nul_terminated(&raw);
                recording.observed.push(Observed {
                    table,
                    nr,
                    count,
                    first_comm,
                    runtime_phase: runtime_phase[nr as usize] != 0,
                });
            }
        }
        let stats_array: PerCpuArray<&MapData, u64> = self.open(maps::STATS)?;
        let stat = |index: u32| -> Result<u64, TracerError> {
            Ok(stats_array
                .get(&index, 0)
                .map_err(map_err(maps::STATS))?
                .iter()
                .sum())
        };
        let since = |index: u32| -> Result<u64, TracerError> {
            Ok(stat(index)?.saturating_sub(self.stats_baseline[index as usize]))
        };
        recording.mark_failed = since(stats::MARK_FAILED)?;
        recording.out_of_range = since(stats::OUT_OF_RANGE)?;
        recording.pending_failed = since(stats::PENDING_FAILED)?;
        recording.slots_exhausted = since(stats::SLOTS_EXHAUSTED)?;
        recording.denials_lost = since(stats::DENIALS_LOST)?;
        recording.denials = self.denials(slot)?;
        recording.flags = self.slot_flags(slot)?;
        recording.arguments = self.read_arguments(slot)?;
        let installers: Array<&MapData, InstallerSeen> = self.open(maps::INSTALLER)?;
        let seen = installers.get(&slot, 0).map_err(map_err(maps::INSTALLER))?;
        recording.installer = (seen.comm[0] != 0).then(|| Installer {
            exe_name: nul_terminated(&seen.exe_name),
            exe_ino: seen.exe_ino,
            comm: nul_terminated(&seen.comm),
        });
        recording.capabilities = if self.capabilities {
            Some(self.read_capabilities(slot)?)
        } else {
            None
        };
        Ok(recording)
    }

    /// Forwards pending eBPF log records (only with -v).
    pub fn flush_logs(&mut self) {
        if let Some(logger) = self.logger.as_mut() {
            logger.flush();
        }
    }
}

fn attach_raw(
    ebpf: &mut Ebpf,
    program: &'static str,
    tracepoint: &'static str,
) -> Result<(), TracerError> {
    let prog: &mut RawTracePoint = ebpf
        .program_mut(program)
        .ok_or(TracerError::MissingProgram(program))?
        .try_into()
        .map_err(|err| TracerError::Program { program, err })?;
    prog.load()
        .map_err(|err| TracerError::Program { program, err })?;
    prog.attach(tracepoint).map_err(|err| TracerError::Attach {
        program,
        tracepoint,
        err,
    })?;
    Ok(())
}

/// Empty programs on the recorder's hot-path hooks (`sys_enter`, `sys_exit`): the cost floor the
/// benchmark compares the recorder against. Detached when the returned object is dropped.
pub fn attach_noop() -> Result<Ebpf, TracerError> {
    let mut ebpf = EbpfLoader::new()
        .override_global(aya_log::LEVEL, &0u8, false)
        .load(crate::EBPF_OBJECT)
        .map_err(TracerError::Load)?;
    attach_raw(&mut ebpf, "noop_sys_enter", "sys_enter")?;
    attach_raw(&mut ebpf, "noop_sys_exit", "sys_exit")?;
    Ok(ebpf)
}

mod capabilities;
pub mod denials;
pub mod verdicts;

pub use capabilities::CapCheck;

/// How often the record loop polls (child exit, progress, eBPF logs).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
