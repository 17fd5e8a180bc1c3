//! Privileged: the verdict cache (issue 13; `profiler_common::verdict`) is zeroed when GENERATION
//! reaches a multiple of `verdict::CLEAR_EVERY`, by the kernel side (`cgroup_attach_task`, on a
//! real cgroup move) and by userspace (`seccomp_profiler::tracer::verdicts::invalidate`). A word
//! keeps 27 bits of its generation, so one left 2^27 adds old would match again.
//!
//! Each test loads the recorder's own programs privately, with no target: every thread on the
//! host that makes a call stores the verdict "not recorded". It sets GENERATION just below a
//! multiple, lets those verdicts be stored, makes the add that reaches the multiple, and counts
//! the words of the old generations before and after.

use std::{
    ops::Range,
    os::fd::{AsFd as _, OwnedFd},
    time::Duration,
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData},
    programs::RawTracePoint,
};
use profiler_common::{maps, verdict};

/// Old generations: room below the multiple for other processes' moves meanwhile (the kernel
/// side counts every move on the host).
const OLD: Range<u64> = verdict::CLEAR_EVERY - 1000..verdict::CLEAR_EVERY;

struct Loaded {
    _ebpf: Ebpf,
    generation_fd: OwnedFd,
    generation: Array<MapData, u64>,
    verdicts: Array<MapData, u64>,
}

/// Loads and attaches `programs`, and sets GENERATION to the first old generation.
fn load(programs: &[&str]) -> Loaded {
    seccomp_profiler_tests::require_root();
    let mut ebpf = EbpfLoader::new()
        .load(seccomp_profiler::EBPF_OBJECT)
        .expect("load the eBPF object");
    for &name in programs {
        let program: &mut RawTracePoint =
            (ebpf.program_mut(name).expect(name).try_into()).expect("a raw tracepoint");
        program.load().expect(name);
        program.attach(name).expect(name);
    }
    let Some(aya::maps::Map::Array(data)) = ebpf.take_map(maps::GENERATION) else {
        panic!("map GENERATION is missing from the object");
    };
    let generation_fd = data.fd().as_fd().try_clone_to_owned().expect("dup");
    let mut generation: Array<MapData, u64> =
        Array::try_from(aya::maps::Map::Array(data)).expect("GENERATION");
    generation.set(0, OLD.start, 0).expect("set GENERATION");
    let verdicts =
        Array::try_from(ebpf.take_map(maps::VERDICTS).expect("VERDICTS")).expect("VERDICTS");
    Loaded {
        _ebpf: ebpf,
        generation_fd,
        generation,
        verdicts,
    }
}

impl Loaded {
    /// Lets threads decide in an old generation (this one sleeps: a call every 2 ms), then sets
    /// GENERATION to the last one; returns how many words of the old generations there are.
    fn old_verdicts_stored(&mut self) -> usize {
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(2));
        }
        let stored = self.of_old_generations();
        let now = self.generation.get(&0, 0).expect("GENERATION");
        assert!(
            OLD.contains(&now),
            "the host's moves passed the multiple first: {now}"
        );
        self.generation
            .set(0, OLD.end - 1, 0)
            .expect("set GENERATION");
        assert!(stored > 0, "no verdict was stored in an old generation");
        stored
    }

    fn of_old_generations(&self) -> usize {
        (0..verdict::ENTRIES)
            .map(|index| self.verdicts.get(&index, 0).expect("VERDICTS"))
            .filter(|&word| word != 0 && OLD.contains(&(word >> (64 - verdict::GENERATION_BITS))))
            .count()
    }

    fn assert_cleared(&self, stored: usize) {
        let generation = self.generation.get(&0, 0).expect("GENERATION");
        assert!(
            generation >= OLD.end,
            "no add reached the multiple: {generation}"
        );
        assert_eq!(
            self.of_old_generations(),
            0,
            "words of old generations survived the add that reached {} ({stored} before it)",
            OLD.end
        );
    }
}

#[test]
fn a_cgroup_move_that_reaches_a_multiple_clears_the_verdict_cache() {
    let mut loaded = load(&["sys_enter", "cgroup_attach_task"]);
    let dir = seccomp_profiler::cgroup::cgroup2_mount()
        .expect("cgroup2 mount")
        .join(format!("sp-verdicts-{}", std::process::id()));
    std::fs::create_dir(&dir).expect("make a cgroup");
    let stored = loaded.old_verdicts_stored();
    let mut child = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .expect("spawn sleep");
    let moved = std::fs::write(dir.join("cgroup.procs"), child.id().to_string());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir(&dir);
    moved.expect("move sleep into the cgroup");
    loaded.assert_cleared(stored);
}

/// `cgroup_attach_task` is not attached: the one add that reaches the multiple is userspace's.
#[test]
fn a_userspace_add_that_reaches_a_multiple_clears_the_verdict_cache() {
    let mut loaded = load(&["sys_enter"]);
    let stored = loaded.old_verdicts_stored();
    seccomp_profiler::tracer::verdicts::invalidate(
        loaded.generation_fd.as_fd(),
        &mut loaded.verdicts,
    )
    .expect("add to GENERATION");
    assert_eq!(loaded.generation.get(&0, 0).expect("GENERATION"), OLD.end);
    loaded.assert_cleared(stored);
}

/// A thread born on a kernel stack that a process outside the target has just left is recorded:
/// verdicts are keyed by the stack, and every exit forgets its own (a stale "not recorded" would
/// hide the new thread's calls until its exec, or for good). A host loop of `/bin/true` keeps the
/// kernel's per-CPU cache of free stacks full of such stacks while ground-truth's second thread
/// and its forked child (which never execs) are born; their markers must be in every recording.
/// (Without the forget at exit, 4 of 20 runs here missed the thread's or the child's markers.)
#[test]
fn threads_born_on_a_stack_an_untraced_process_left_are_recorded() {
    const RUNS: usize = 20;
    use seccomp_profiler_tests::{RecordPaths, record};
    // One loop per CPU.
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let mut churn: Vec<_> = (0..cpus)
        .map(|_| {
            std::process::Command::new("sh")
                .args(["-c", "while :; do /bin/true; done"])
                .spawn()
                .expect("spawn the host loop")
        })
        .collect();
    let dir = crate::support::tempdir();
    let mut missing = Vec::new();
    for run in 0..RUNS {
        let paths = RecordPaths::new(dir.path(), &format!("gt-{run}"));
        let output = record(
            &paths,
            &[crate::support::ground_truth()],
            crate::support::TIMEOUT,
        );
        assert!(
            output.stdout.contains("ground-truth: all 8 markers made"),
            "{output}"
        );
        let allowed = paths.profile().allowed();
        for marker in ["times", "sched_getscheduler", "getsid", "getpgid"] {
            if !allowed.contains(marker) {
                missing.push(format!("run {run}: {marker}"));
            }
        }
    }
    for loop_ in &mut churn {
        let _ = loop_.kill();
        let _ = loop_.wait();
    }
    assert!(missing.is_empty(), "markers missing: {missing:#?}");
}
