//! The build step: a finished [`Recording`] (counts per syscall table and number, capability
//! checks, gate flags) becomes the profile and the report. It names syscalls per table through
//! libseccomp (design.md §5, docs/design.md), adds the syscalls whose appearance is a matter of
//! timing (`implied_syscalls`, each with its reason), builds the minimal profile, the capability
//! recommendation and the warnings that make a recording incomplete. It runs nothing and writes
//! nothing.

use std::collections::BTreeSet;

use profiler_common::{
    EXEC_AS_ROOT, GATE_FILTER, INSTALL_NNP, INSTALL_NO_NNP, RUNTIME_PHASE, SECURE_EXEC,
    TABLE_COMPAT, TABLE_NATIVE, TABLE_X32,
};

use super::RecordError;
use crate::{
    capabilities::{self, Capabilities},
    output::report::{ArgumentRules, ImpliedEntry, Report, RunContext, SyscallEntry, UnnamedEntry},
    profile::Profile,
    runtimes,
    syscalls::{self, Arch},
    tracer::Recording,
};

/// A finished recording turned into what gets written.
pub struct Built {
    pub profile: Profile,
    pub report: Report,
    pub allowed: usize,
}

/// Syscalls the kernel enters on a signal's way back, allowed whether or not a signal happened to
/// arrive while recording: a handler returns through `rt_sigreturn`, and a sleeping syscall that a
/// stop/continue or a handled signal interrupted resumes through `restart_syscall`. Seen here: Go's
/// async preemption (SIGURG) hits runc's threads after the filter install in about 1 run in 5, so
/// without this rule the same container gave two different profiles — and a profile recorded on a
/// lucky run would kill the container on an unlucky one. Docker's default allows both.
const SIGNAL_RETURN: [(&str, &str); 2] = [
    (
        "restart_syscall",
        "the kernel resumes an interrupted sleeping syscall through it; depends on signal timing",
    ),
    (
        "rt_sigreturn",
        "every signal handler returns through it; whether a signal arrives while recording is timing",
    ),
];

/// Ending one's own thread or process grants nothing, and refusing it cannot stop anything: glibc
/// retries a refused `exit` forever, so a thread whose exit the recording never saw spins at 100 %
/// CPU under the profile (seen: `git gc`'s threads, recorded under a load where they were still
/// alive when the process ended). A thread that ends through `exit` or a process killed by a
/// signal makes none of these; whether a run ends that way is timing, so both are always allowed.
const EXITS: [(&str, &str); 2] = [
    (
        "exit",
        "a thread ends through it; refused, glibc retries it forever (the thread spins at 100 % CPU)",
    ),
    (
        "exit_group",
        "a process ends through it; refused, glibc falls back to exit and spins or crashes",
    ),
];

/// The compat (ia32/arm) counterpart, needed only when 32-bit code ran.
const COMPAT_SIGNAL_RETURN: (&str, &str) = (
    "sigreturn",
    "32-bit signal handlers return through it; whether a signal arrives while recording is timing",
);

/// Once a workload has more than one task (threads, or processes sharing memory), whether one of
/// them ever waits for another is timing: a thread join makes a `futex` call only if the thread has
/// not exited yet. Seen here: back-to-back runs of the ground-truth workload differed by `futex`,
/// and a profile without it crashed the replay 6 times in 6 (glibc's wait got EPERM, then abort's
/// own syscalls were denied too).
const CONCURRENCY: (&str, &str) = (
    "futex",
    "tasks that share memory wait on each other with it; whether a wait happens while recording is timing",
);
const SPAWNS_TASKS: [&str; 4] = ["clone", "clone3", "fork", "vfork"];

/// A container runtime that runs its own code under the filter before exec'ing the entrypoint
/// (runc does capset, setuid and the exec fifo there) brings its language runtime along, whose
/// allocator and scheduler act on timing: seen here, runc's Go runtime made `mmap` (heap growth) in
/// 1 of 10 identical busybox runs and 1–4 `futex` calls per run. A profile from a quiet run would
/// make the container fail to start on a busy one, so what a language runtime may do at any moment
/// is allowed: memory (mmap, munmap, madvise), waiting (futex, nanosleep, sched_yield), preemption
/// signals (getpid, gettid, tgkill), and starting an OS thread (clone, sigaltstack, rt_sigprocmask).
const RUNTIME_PHASE_REASON: &str = "the container runtime ran code under the filter before the entrypoint; its language runtime's allocator and scheduler make this depending on timing";
const RUNTIME_PHASE_SYSCALLS: [&str; 12] = [
    "clone",
    "futex",
    "getpid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "nanosleep",
    "rt_sigprocmask",
    "sched_yield",
    "sigaltstack",
    "tgkill",
];

/// Names whose appearance in a recording is timing that every profile made for a runtime allows
/// anyway (signal return, exits; with a Go runtime its allocator and scheduler): a measurement that
/// sees them in some runs only has not drifted (`cargo xtask runtime-table --check`).
pub fn timing_names(go_runtime: bool) -> BTreeSet<&'static str> {
    SIGNAL_RETURN
        .iter()
        .chain(&EXITS)
        .map(|(name, _)| *name)
        .chain(
            go_runtime
                .then_some(RUNTIME_PHASE_SYSCALLS)
                .into_iter()
                .flatten(),
        )
        .collect()
}

/// `go_runtime`: the runtime that ran under the filter before the entrypoint (or one the profile is
/// made for) is a Go program (issue 11): only then is its language runtime's set implied.
fn implied(named: &Named, go_runtime: bool) -> Vec<ImpliedEntry> {
    let seen: BTreeSet<&str> = named
        .syscalls
        .iter()
        .map(|entry| entry.name.as_str())
        .collect();
    if seen.is_empty() {
        return Vec::new();
    }
    let compat_ran = named
        .syscalls
        .iter()
        .any(|entry| Some(entry.arch) == table_arch(TABLE_COMPAT).map(Arch::scmp_name));
    let concurrent = SPAWNS_TASKS.iter().any(|name| seen.contains(name));
    let mut implied: Vec<ImpliedEntry> = SIGNAL_RETURN
        .iter()
        .chain(&EXITS)
        .chain(compat_ran.then_some(&COMPAT_SIGNAL_RETURN))
        .chain(concurrent.then_some(&CONCURRENCY))
        .filter(|(name, _)| !seen.contains(name) && syscalls::is_known_name(name))
        .map(|(name, reason)| ImpliedEntry {
            name: (*name).to_owned(),
            reason,
        })
        .collect();
    if go_runtime {
        for name in RUNTIME_PHASE_SYSCALLS {
            let already = seen.contains(name) || implied.iter().any(|entry| entry.name == name);
            if !already && syscalls::is_known_name(name) {
                implied.push(ImpliedEntry {
                    name: name.to_owned(),
                    reason: RUNTIME_PHASE_REASON,
                });
            }
        }
    }
    implied.sort();
    implied
}

/// [`build`], then what the command line asks of every target's profile: `--args` restricts
/// `socket`, `clone` and `personality` to the recorded values.
pub fn build_for(
    recording: &Recording,
    run: RunContext,
    profile_ref: &str,
    request: &runtimes::Request,
    args: bool,
) -> Result<Built, RecordError> {
    let mut built = build(recording, run, profile_ref, request)?;
    if args {
        built.restrict_arguments();
    }
    Ok(built)
}

/// Names the recorded syscalls and builds the minimal profile and the report (with the capability
/// recommendation, which refers to the profile as `profile_ref`).
pub fn build(
    recording: &Recording,
    run: RunContext,
    profile_ref: &str,
    request: &runtimes::Request,
) -> Result<Built, RecordError> {
    let named = name_syscalls(recording);
    let seen: BTreeSet<String> = named.syscalls.iter().map(|e| e.name.clone()).collect();
    let identity = recording
        .installer
        .as_ref()
        .filter(|_| recording.flags & GATE_FILTER != 0)
        .map(runtimes::identify::identify);
    let plan = runtimes::plan(
        &runtimes::table::Table::embedded(),
        identity,
        nnp_seen(recording.flags),
        request,
        &seen,
    );
    // Without an identified installer (attached, or an old recording), a runtime phase is taken
    // to be a Go runtime's, as before runtimes were identified: the safe side.
    let go_runtime = plan.report.go_runtime_implied
        || (plan.report.installed_by.is_none() && recording.flags & RUNTIME_PHASE != 0);
    let implied = implied(&named, go_runtime);
    let allowed: BTreeSet<String> = named
        .syscalls
        .iter()
        .map(|entry| entry.name.clone())
        .chain(implied.iter().map(|entry| entry.name.clone()))
        .chain(plan.add.iter().cloned())
        .collect();
    let mut profile =
        Profile::minimal(&allowed, Arch::native_family()).map_err(RecordError::Build)?;
    // `record -- CMD`: the installer is this tool's own launcher, not a container runtime.
    let by_container_runtime = plan
        .report
        .installed_by
        .as_ref()
        .is_some_and(|i| i.name != env!("CARGO_PKG_NAME"));
    let runtime = by_container_runtime.then_some(plan.report);
    if let Some(line) = runtime.as_ref().and_then(runtimes::RuntimeReport::describe)
        && let Some(allow) = profile.syscalls.first_mut()
    {
        allow.comment = Some(line);
    }
    let mut warnings = incompleteness(recording);
    warnings.extend(plan.warnings);
    if !named.unnamed.is_empty() {
        warnings.push(format!(
            "{} syscall number(s) have no name in this libseccomp ({}); they are not in the profile \
             and will get the default action under it",
            named.unnamed.len(),
            named.unnamed.iter().map(|u| format!("{} #{}", u.arch, u.number)).collect::<Vec<_>>().join(", ")
        ));
    }
    let capabilities = recording.capabilities.as_ref().map(|checks| {
        Capabilities::from_checks(checks, |nr| syscalls::name_of(Arch::native(), nr))
    });
    let recorded: BTreeSet<String> = named
        .syscalls
        .iter()
        .map(|entry| entry.name.clone())
        .collect();
    let recommendation = capabilities.as_ref().map(|caps| {
        capabilities::recommend(
            caps,
            profile_ref,
            recording.flags & EXEC_AS_ROOT != 0,
            recording.flags & SECURE_EXEC != 0,
            &recorded,
        )
    });
    let mut report = Report {
        tool: crate::output::report::Tool::default(),
        run,
        capabilities,
        recommendation,
        hardening: None,
        total_syscalls: named.syscalls.iter().map(|s| s.count).sum::<u64>()
            + named.unnamed.iter().map(|s| s.count).sum::<u64>(),
        syscalls: named.syscalls,
        unnamed_syscalls: named.unnamed,
        implied_syscalls: implied,
        arguments: recording.arguments.clone(),
        argument_rules: None,
        runtime,
        warnings,
        denied_syscalls: super::denied::name(recording),
        coverage_hints: Vec::new(),
    };
    report.coverage_hints = super::coverage::hints(&report);
    Ok(Built {
        profile,
        report,
        allowed: allowed.len(),
    })
}

impl Built {
    /// `--args`: allows `socket`, `clone` and `personality` only for the recorded values (one
    /// rule per value, docs/design.md §16), and says in the report what it did.
    pub fn restrict_arguments(&mut self) {
        let notes = self.profile.restrict_arguments(&self.report.arguments);
        let restricted = ["clone", "personality", "socket"]
            .into_iter()
            .filter(|name| {
                self.profile
                    .syscalls
                    .iter()
                    .any(|rule| !rule.args.is_empty() && rule.names.iter().any(|n| n == name))
            })
            .collect();
        self.report.argument_rules = Some(ArgumentRules { restricted, notes });
    }
}

/// no-new-privileges on the task(s) whose filter install opened the gate.
fn nnp_seen(flags: u32) -> Option<&'static str> {
    match (flags & INSTALL_NNP != 0, flags & INSTALL_NO_NNP != 0) {
        (true, false) => Some("on"),
        (false, true) => Some("off"),
        (true, true) => Some("both"),
        (false, false) => None,
    }
}

struct Named {
    syscalls: Vec<SyscallEntry>,
    unnamed: Vec<UnnamedEntry>,
}

pub(super) fn table_arch(table: u32) -> Option<Arch> {
    let family = Arch::native_family();
    match table {
        TABLE_NATIVE => family.first().copied(),
        TABLE_COMPAT => family.get(1).copied(),
        TABLE_X32 => family.get(2).copied(),
        _ => None,
    }
}

/// Names each (table, number) with libseccomp for that table's architecture (design.md §5: ia32
/// numbers are named from the ia32 table, never as x86_64 numbers).
fn name_syscalls(recording: &Recording) -> Named {
    let mut named = Named {
        syscalls: Vec::new(),
        unnamed: Vec::new(),
    };
    for observed in &recording.observed {
        let arch = table_arch(observed.table);
        // The eBPF side strips x32's bit 30 to index its table; libseccomp names the kernel's number.
        let number = if observed.table == TABLE_X32 {
            observed.nr | syscalls::X32_SYSCALL_BIT
        } else {
            observed.nr
        };
        match arch.and_then(|arch| syscalls::name_of(arch, number).map(|name| (arch, name))) {
            Some((arch, name)) => named.syscalls.push(SyscallEntry {
                name,
                arch: arch.scmp_name(),
                count: observed.count,
                first_comm: observed.first_comm.clone(),
                phase: if observed.runtime_phase {
                    "runtime"
                } else {
                    "workload"
                },
            }),
            None => named.unnamed.push(UnnamedEntry {
                arch: arch.map_or("unknown", Arch::scmp_name),
                number,
                count: observed.count,
                first_comm: observed.first_comm.clone(),
            }),
        }
    }
    named.syscalls.sort();
    named.unnamed.sort();
    named
}

fn incompleteness(recording: &Recording) -> Vec<String> {
    let mut warnings = Vec::new();
    if recording.denials_lost > 0 {
        warnings.push(format!(
            "{} refused call(s) could not be counted (the kernel-side denial table was full): the \
             denial list is incomplete",
            recording.denials_lost
        ));
    }
    if recording.mark_failed > 0 {
        warnings.push(format!(
            "{} thread(s) could not be tracked (the kernel-side thread table was full): their syscalls are missing",
            recording.mark_failed
        ));
    }
    if recording.pending_failed > 0 {
        warnings.push(format!(
            "{} seccomp filter install(s) could not be tracked",
            recording.pending_failed
        ));
    }
    if recording.out_of_range > 0 {
        warnings.push(format!(
            "{} syscall(s) had numbers beyond the recorder's table and were not counted",
            recording.out_of_range
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::Observed;

    fn run_context() -> RunContext {
        RunContext {
            target: "command",
            command: vec!["x".into()],
            kernel: "k".into(),
            arch: "x86_64".into(),
            gate: "g".into(),
            user: None,
            uid: None,
            no_new_privs: None,
            container: None,
            exit_code: Some(0),
            signal: None,
            cut_short: false,
            cut_short_reason: None,
            duration_ms: 1,
            leftover_processes_killed: 0,
            cgroup: None,
            kernel_map_bytes: None,
        }
    }

    fn observed(table: u32, nr: u32) -> Observed {
        Observed {
            table,
            nr,
            count: 2,
            first_comm: "x".into(),
            runtime_phase: false,
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn names_per_table_and_adds_signal_return() {
        // x86_64 0 = read, 59 = execve; ia32 11 = execve, 102 = socketcall; x32 0 = read.
        let recording = Recording {
            observed: vec![
                observed(TABLE_NATIVE, 0),
                observed(TABLE_NATIVE, 59),
                observed(TABLE_COMPAT, 102),
                observed(TABLE_X32, 0),
            ],
            ..Recording::default()
        };
        let built = build(
            &recording,
            run_context(),
            "p.json",
            &runtimes::Request::default(),
        )
        .expect("build");
        let names: Vec<(&str, &str)> = built
            .report
            .syscalls
            .iter()
            .map(|s| (s.name.as_str(), s.arch))
            .collect();
        assert_eq!(
            names,
            [
                ("execve", "SCMP_ARCH_X86_64"),
                ("read", "SCMP_ARCH_X32"),
                ("read", "SCMP_ARCH_X86_64"),
                ("socketcall", "SCMP_ARCH_X86")
            ]
        );
        let implied: Vec<&str> = built
            .report
            .implied_syscalls
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(
            implied,
            [
                "exit",
                "exit_group",
                "restart_syscall",
                "rt_sigreturn",
                "sigreturn"
            ],
            "32-bit code ran, so sigreturn too"
        );
        assert_eq!(
            built
                .profile
                .allowed_names()
                .into_iter()
                .collect::<Vec<_>>(),
            [
                "execve",
                "exit",
                "exit_group",
                "read",
                "restart_syscall",
                "rt_sigreturn",
                "sigreturn",
                "socketcall"
            ]
        );
        assert_eq!(built.report.total_syscalls, 8);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tasks_imply_futex() {
        // x86_64 56 = clone.
        let recording = Recording {
            observed: vec![observed(TABLE_NATIVE, 0), observed(TABLE_NATIVE, 56)],
            ..Recording::default()
        };
        let built = build(
            &recording,
            run_context(),
            "p.json",
            &runtimes::Request::default(),
        )
        .expect("build");
        let implied: Vec<&str> = built
            .report
            .implied_syscalls
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(
            implied,
            [
                "exit",
                "exit_group",
                "futex",
                "restart_syscall",
                "rt_sigreturn"
            ]
        );
        let single = Recording {
            observed: vec![observed(TABLE_NATIVE, 0)],
            ..Recording::default()
        };
        let built = build(
            &single,
            run_context(),
            "p.json",
            &runtimes::Request::default(),
        )
        .expect("build");
        assert!(
            !built.profile.allowed_names().contains("futex"),
            "one task never waits on another"
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_runtime_phase_implies_its_language_runtime() {
        // x86_64 0 = read, 126 = capset (runc after its install).
        let recording = Recording {
            observed: vec![observed(TABLE_NATIVE, 0), observed(TABLE_NATIVE, 126)],
            flags: RUNTIME_PHASE,
            ..Recording::default()
        };
        let built = build(
            &recording,
            run_context(),
            "p.json",
            &runtimes::Request::default(),
        )
        .expect("build");
        let allowed = built.profile.allowed_names();
        for name in RUNTIME_PHASE_SYSCALLS {
            assert!(allowed.contains(name), "{name}");
        }
        let without = Recording {
            flags: 0,
            ..recording
        };
        let built = build(
            &without,
            run_context(),
            "p.json",
            &runtimes::Request::default(),
        )
        .expect("build");
        assert!(
            !built.profile.allowed_names().contains("mmap"),
            "a command's launcher runs nothing before execve"
        );
    }

    #[test]
    fn nothing_recorded_allows_nothing() {
        let built = build(
            &Recording::default(),
            run_context(),
            "p.json",
            &runtimes::Request::default(),
        )
        .expect("build");
        assert!(built.profile.allowed_names().is_empty());
        assert!(built.report.implied_syscalls.is_empty());
    }
}
