//! `seccomp-profiler record`: dispatch to one of three targets, and everything they share: turning
//! a [`Recording`] into a profile and a report, writing them atomically, and the summary on stderr.
//!
//! The command target (`record -- CMD`) lives here: CMD runs in a fresh cgroup behind the
//! launcher's gate. The Docker targets (`--container`, `--containers`) are in `record_docker`.
//! Input problems (CMD not found, an output directory that is missing or unwritable) are found
//! before anything is loaded or started, so a bad invocation never runs the workload.

use std::{
    collections::BTreeSet,
    ffi::CString,
    io::{IsTerminal as _, Write as _},
    os::unix::{ffi::OsStrExt as _, process::ExitStatusExt as _},
    path::{Path, PathBuf},
    process::ExitStatus,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow, bail};
use profiler_common::{
    EXEC_AS_ROOT, GATE_EXEC, GATE_FILTER, RUNTIME_PHASE, SECURE_EXEC, TABLE_COMPAT, TABLE_NATIVE,
    TABLE_X32,
};

use crate::{
    capabilities::{self, Capabilities},
    cgroup::OwnedCgroup,
    cli::{Format, RecordArgs},
    exit, launcher,
    output::report::{ImpliedEntry, Report, RunContext, SyscallEntry, UnnamedEntry},
    output::{formats, report},
    profile::{self, Profile},
    syscalls::{self, Arch},
    tracer::{self, Recording, Tracer},
};

/// Allowed names in Docker 20.10.24's default profile (unconditional SCMP_ACT_ALLOW rules), the
/// engine Debian ships: what a container gets when it is given no profile.
pub const DOCKER_DEFAULT_ALLOWED: usize = 346;

/// How long CMD gets to stop after SIGTERM (end of --duration, Ctrl-C) before everything left in
/// its cgroup is killed — a shorter `docker stop`.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(5);

pub fn run(args: RecordArgs, verbose: u8) -> anyhow::Result<i32> {
    if args.containers {
        return super::record_docker::run_containers(args, verbose);
    }
    for path in [&args.output, &args.report].into_iter().flatten() {
        check_output_path(path).map_err(exit::with(exit::INPUT))?;
    }
    let target = Single {
        cmd: args.cmd,
        container: args.container,
        user: args.user,
        duration: args.duration,
        profile_ref: profile_ref(args.output.as_deref()),
    };
    let recorded = record_single(&target, verbose)?;
    let name = args
        .output
        .as_deref()
        .and_then(Path::file_stem)
        .map_or_else(
            || "seccomp-profile".to_owned(),
            |stem| stem.to_string_lossy().into_owned(),
        );
    write_outputs(
        &recorded.built,
        args.format,
        &name,
        args.output.as_deref(),
        args.report.as_deref(),
    )?;
    print_summary(
        &recorded.built,
        args.output.as_deref(),
        args.report.as_deref(),
        &recorded.uses,
    );
    Ok(recorded.code)
}

/// One recording target: CMD, or a running container.
pub(crate) struct Single {
    pub cmd: Vec<std::ffi::OsString>,
    pub container: Option<String>,
    pub user: Option<String>,
    pub duration: Option<Duration>,
    /// How the summary and recommendation refer to the profile that will be written.
    pub profile_ref: String,
}

/// A finished single-target recording: what to write, how to use it, and the exit code.
pub(crate) struct Recorded {
    pub built: Built,
    pub uses: Vec<String>,
    pub code: i32,
}

/// Records CMD or an attached container; writes nothing.
pub(crate) fn record_single(target: &Single, verbose: u8) -> anyhow::Result<Recorded> {
    match &target.container {
        Some(name) => super::record_docker::attach(name, target, verbose),
        None => record_command(target, verbose),
    }
}

fn record_command(args: &Single, verbose: u8) -> anyhow::Result<Recorded> {
    let started = Instant::now();
    launcher::resolve_program(&args.cmd[0]).map_err(exit::with(exit::INPUT))?;
    let user = launcher::choose_user(args.user.as_deref()).map_err(exit::with(exit::INPUT))?;
    check_privileges().map_err(exit::with(exit::ENVIRONMENT))?;

    let mut tracer = Tracer::load(verbose > 0).map_err(exit::with(exit::ENVIRONMENT))?;
    let cgroup = OwnedCgroup::create("cmd").map_err(exit::with(exit::ENVIRONMENT))?;
    let slot = tracer
        .add_target(cgroup.id(), 0)
        .map_err(exit::with(exit::RUNTIME))?;
    log::info!(
        "tracing active after {:.1} ms (cgroup {}, id {})",
        started.elapsed().as_secs_f64() * 1e3,
        cgroup.path().display(),
        cgroup.id()
    );

    let procs = cgroup.open_procs().map_err(exit::with(exit::RUNTIME))?;
    let child =
        launcher::spawn(&args.cmd, &procs, user.as_ref()).map_err(exit::with(exit::INPUT))?;
    drop(procs);
    let run_started = Instant::now();
    let outcome = supervise(child, &cgroup, &mut tracer, slot, args.duration)?;
    let leftover = cgroup.kill_all();
    let run_time = run_started.elapsed();

    let recording = tracer.read(slot).map_err(exit::with(exit::RUNTIME))?;
    tracer.flush_logs();
    drop(tracer);
    drop(cgroup);

    let (kernel, arch) = report::kernel_and_arch();
    let (user_name, uid) = match &user {
        Some(user) => (user.name.clone(), user.uid),
        // SAFETY: geteuid has no preconditions.
        None => (current_user_name(), unsafe { libc::geteuid() }),
    };
    let run = RunContext {
        target: "command",
        command: os_args(&args.cmd),
        kernel,
        arch,
        gate: gate_description(recording.flags, "CMD never reached execve"),
        user: Some(user_name),
        uid: Some(uid),
        no_new_privs: Some(launcher::needs_no_new_privs(user.as_ref())),
        container: None,
        exit_code: outcome.status.code(),
        signal: outcome.status.signal(),
        cut_short: outcome.cut_short.is_some(),
        cut_short_reason: outcome.cut_short,
        duration_ms: run_time.as_millis() as u64,
        leftover_processes_killed: leftover,
    };
    let built = build(&recording, run, &args.profile_ref)?;
    let cmd = built.report.run.command.join(" ");
    let uses = vec![
        format!(
            "seccomp-profiler exec --profile {} -- {cmd}",
            args.profile_ref
        ),
        format!("docker run --security-opt seccomp={} …", args.profile_ref),
    ];
    let code = match (outcome.cut_short, outcome.status.success()) {
        (Some(_), _) | (None, true) => exit::OK,
        (None, false) => exit::CMD_FAILED,
    };
    Ok(Recorded { built, uses, code })
}

pub(crate) fn os_args(args: &[std::ffi::OsString]) -> Vec<String> {
    args.iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
}

/// What the recording's gate bits say about where counting started.
pub(crate) fn gate_description(gates: u32, never: &str) -> String {
    match (gates & GATE_FILTER != 0, gates & GATE_EXEC != 0) {
        (true, false) => {
            "seccomp filter install: counted from the moment the filter was in place".into()
        }
        (false, true) => {
            "first execve in the container's mount namespace (no seccomp filter was installed)"
                .into()
        }
        (true, true) => {
            "seccomp filter install, and first execve for processes started without one".into()
        }
        (false, false) => never.into(),
    }
}

/// An output path must be a file path in an existing, writable directory. Checked before recording
/// so a long run never ends in "cannot write".
pub(crate) fn check_output_path(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!(
            "output path {} is a directory: give a file name, e.g. {}/profile.json",
            path.display(),
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "output directory {} does not exist: create it first (mkdir -p {}) or choose another path",
            dir.display(),
            dir.display()
        );
    }
    check_writable_dir(&dir)
}

pub(crate) fn check_writable_dir(dir: &Path) -> anyhow::Result<()> {
    let cdir = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| anyhow!("output path {} contains a NUL byte", dir.display()))?;
    // SAFETY: cdir is a valid C string.
    if unsafe { libc::access(cdir.as_ptr(), libc::W_OK) } != 0 {
        bail!(
            "cannot write to output directory {}: {}; choose a writable path",
            dir.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Loading tracing programs needs CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), and making a cgroup
/// needs write access to the cgroup2 tree: in practice, root.
pub(crate) fn check_privileges() -> anyhow::Result<()> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let status =
        std::fs::read_to_string("/proc/self/status").context("failed to read /proc/self/status")?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| effective & (1 << cap) != 0;
    if !(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) {
        bail!(
            "recording needs root to load eBPF programs and create a cgroup (missing CAP_BPF and \
             CAP_PERFMON, or CAP_SYS_ADMIN): run it with sudo"
        );
    }
    Ok(())
}

fn current_user_name() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    launcher::choose_user(Some(&uid.to_string()))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |user| user.name)
}

struct Outcome {
    status: ExitStatus,
    cut_short: Option<&'static str>,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Waits for CMD, stopping it at the end of `duration` or on Ctrl-C/SIGTERM (SIGTERM to CMD, then
/// SIGKILL to its whole cgroup after [`STOP_GRACE`]). Flushes eBPF logs and draws a progress line on
/// a terminal meanwhile.
fn supervise(
    mut child: std::process::Child,
    cgroup: &OwnedCgroup,
    tracer: &mut Tracer,
    slot: u32,
    duration: Option<Duration>,
) -> anyhow::Result<Outcome> {
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    let deadline = duration.map(|d| Instant::now() + d);
    let progress = std::io::stderr().is_terminal();
    let mut cut_short = None;
    let mut stop_sent: Option<Instant> = None;
    let status = loop {
        match rx.recv_timeout(tracer::POLL_INTERVAL) {
            Ok(status) => break status.context("failed to wait for the recorded command")?,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("lost track of the recorded command")
            }
        }
        tracer.flush_logs();
        if progress && let Ok(total) = tracer.total(slot) {
            eprint!("\rrecording: {total} syscalls so far ");
        }
        match stop_sent {
            None => {
                let reason = if INTERRUPTED.load(Ordering::SeqCst) {
                    Some("interrupt")
                } else if deadline.is_some_and(|at| Instant::now() >= at) {
                    Some("duration")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    cut_short = Some(reason);
                    stop_sent = Some(Instant::now());
                    // SAFETY: signalling our own child, which has not been reaped yet.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
            }
            Some(at) if at.elapsed() >= STOP_GRACE => {
                cgroup.kill_all();
            }
            Some(_) => {}
        }
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    Ok(Outcome { status, cut_short })
}

/// A finished recording turned into what gets written.
pub(crate) struct Built {
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

fn implied(named: &Named, flags: u32) -> Vec<ImpliedEntry> {
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
        .chain(compat_ran.then_some(&COMPAT_SIGNAL_RETURN))
        .chain(concurrent.then_some(&CONCURRENCY))
        .filter(|(name, _)| !seen.contains(name) && syscalls::is_known_name(name))
        .map(|(name, reason)| ImpliedEntry {
            name: (*name).to_owned(),
            reason,
        })
        .collect();
    if flags & RUNTIME_PHASE != 0 {
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

/// How the summary and recommendation refer to the profile.
pub(crate) fn profile_ref(output: Option<&Path>) -> String {
    output.map_or_else(
        || "PROFILE.json".to_owned(),
        |path| path.display().to_string(),
    )
}

/// Names the recorded syscalls and builds the minimal profile and the report (with the capability
/// recommendation, which refers to the profile as `profile_ref`).
pub(crate) fn build(
    recording: &Recording,
    run: RunContext,
    profile_ref: &str,
) -> anyhow::Result<Built> {
    let named = name_syscalls(recording);
    let implied = implied(&named, recording.flags);
    let allowed: BTreeSet<String> = named
        .syscalls
        .iter()
        .map(|entry| entry.name.clone())
        .chain(implied.iter().map(|entry| entry.name.clone()))
        .collect();
    let profile = Profile::minimal(&allowed, Arch::native_family())
        .context("failed to build the profile")
        .map_err(exit::with(exit::RUNTIME))?;
    let mut warnings = incompleteness(recording);
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
    let report = Report {
        tool: report::Tool::default(),
        run,
        capabilities,
        recommendation,
        total_syscalls: named.syscalls.iter().map(|s| s.count).sum::<u64>()
            + named.unnamed.iter().map(|s| s.count).sum::<u64>(),
        syscalls: named.syscalls,
        unnamed_syscalls: named.unnamed,
        implied_syscalls: implied,
        warnings,
    };
    Ok(Built {
        profile,
        report,
        allowed: allowed.len(),
    })
}

/// Writes the profile in `format` (to `output`, or stdout) and the report, each atomically.
/// `name` names a Kubernetes object.
pub(crate) fn write_outputs(
    built: &Built,
    format: Format,
    name: &str,
    output: Option<&Path>,
    report: Option<&Path>,
) -> anyhow::Result<()> {
    let json = formats::render(&built.profile, format, name);
    match output {
        Some(path) => profile::write_atomic(path, json.as_bytes())
            .with_context(|| format!("failed to write the profile to {}", path.display()))
            .map_err(exit::with(exit::INPUT))?,
        None => std::io::stdout()
            .write_all(json.as_bytes())
            .context("failed to write the profile to stdout")?,
    }
    if let Some(path) = report {
        write_report(built, path)?;
    }
    Ok(())
}

/// Writes only the report (for `check`, which never writes the recorded profile itself).
pub(crate) fn write_report(built: &Built, report: &Path) -> anyhow::Result<()> {
    let mut text =
        serde_json::to_string_pretty(&built.report).context("failed to encode the report")?;
    text.push('\n');
    profile::write_atomic(report, text.as_bytes())
        .with_context(|| format!("failed to write the report to {}", report.display()))
        .map_err(exit::with(exit::INPUT))
}

struct Named {
    syscalls: Vec<SyscallEntry>,
    unnamed: Vec<UnnamedEntry>,
}

fn table_arch(table: u32) -> Option<Arch> {
    let family = Arch::native_family();
    match table {
        TABLE_NATIVE => family.first().copied(),
        TABLE_COMPAT => family.get(1).copied(),
        TABLE_X32 => family.get(2).copied(),
        _ => None,
    }
}

/// Names each (table, number) with libseccomp for that table's architecture (DESIGN fact 5: ia32
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
    if recording.slots_exhausted > 0 {
        warnings.push(format!(
            "{} container(s) started after all {} recording slots were taken and were not recorded",
            recording.slots_exhausted,
            profiler_common::MAX_TARGETS
        ));
    }
    warnings
}

fn print_capabilities(report: &Report) {
    let (Some(caps), Some(rec)) = (&report.capabilities, &report.recommendation) else {
        eprintln!(
            "  capabilities: not recorded (the capability:cap_capable tracepoint needs Linux ≥ 6.14)"
        );
        return;
    };
    let used = if rec.cap_add.is_empty() {
        "none".to_owned()
    } else {
        rec.cap_add.join(", ")
    };
    eprintln!(
        "  capabilities used: {used}; of Docker's 14 defaults, {} not needed",
        rec.docker_defaults_not_needed.len()
    );
    if !caps.denied.is_empty() {
        let denied: Vec<&str> = caps
            .denied
            .iter()
            .map(|cap| capabilities::short(cap))
            .collect();
        eprintln!(
            "  capabilities denied (the run went on without them): {}",
            denied.join(", ")
        );
    }
    eprintln!("  run it with the least privilege this run needed:");
    eprintln!("    {}", rec.docker_run);
    eprintln!("    compose service:");
    for line in rec.compose.lines() {
        eprintln!("      {line}");
    }
    eprintln!("    kubernetes container:");
    for line in rec.kubernetes.lines() {
        eprintln!("      {line}");
    }
    if rec.ran_as_root {
        eprintln!("  note: it ran as root (uid 0): a non-root USER would need fewer capabilities");
    }
    if !rec.no_new_privileges_safe {
        eprintln!(
            "  note: it exec'd a setuid/setgid/file-capability binary: no-new-privileges would stop that gaining privileges"
        );
    }
    for spot in &rec.blind_spots {
        eprintln!("  blind spot: {spot}");
    }
}

/// The summary on stderr: what ran, how many syscalls against Docker's default, where the files
/// went and the exact commands that use them.
pub(crate) fn print_summary(
    built: &Built,
    output: Option<&Path>,
    report: Option<&Path>,
    uses: &[String],
) {
    let run = &built.report.run;
    let what = match &run.container {
        Some(container) => format!("container {}", container.name),
        None => format!("`{}`", run.command.join(" ")),
    };
    let ended = match (run.cut_short_reason, run.exit_code, run.signal) {
        (Some("duration"), ..) => "stopped at --duration".to_owned(),
        (Some(_), ..) => "stopped by Ctrl-C".to_owned(),
        (None, Some(code), _) => format!("exit {code}"),
        (None, None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    };
    let allowed = built.allowed;
    let percent = allowed as f64 * 100.0 / DOCKER_DEFAULT_ALLOWED as f64;
    eprintln!(
        "seccomp-profiler: recorded {what} ({ended}, {:.2} s, {} syscalls made)",
        run.duration_ms as f64 / 1e3,
        built.report.total_syscalls
    );
    eprintln!(
        "  {allowed} syscalls allowed; Docker's default profile allows {DOCKER_DEFAULT_ALLOWED} ({percent:.0} % of it, {} fewer)",
        DOCKER_DEFAULT_ALLOWED.saturating_sub(allowed)
    );
    let errno_rules: Vec<&str> = built
        .profile
        .syscalls
        .iter()
        .filter(|rule| rule.errno_ret == Some(38))
        .flat_map(|rule| rule.names.iter().map(String::as_str))
        .collect();
    if !errno_rules.is_empty() {
        eprintln!(
            "  answered with ENOSYS so libraries fall back: {}",
            errno_rules.join(", ")
        );
    }
    if run.no_new_privs == Some(true) {
        eprintln!(
            "  note: CMD ran as {} with no_new_privs set (needed to install the gate filter as non-root)",
            run.user.as_deref().unwrap_or("?")
        );
    }
    if let Some(container) = &run.container {
        if container.attached_after_start {
            eprintln!(
                "  note: attached to a running container: its start-up was not seen, so this profile lacks \
                 what runc does while starting a container and Docker cannot start one under it alone; \
                 record the start with `seccomp-profiler record --containers -o DIR -- docker run …` and \
                 combine both with `seccomp-profiler merge`"
            );
        }
        if container.running_at_end {
            eprintln!("  note: the container was still running when recording ended");
        }
    }
    if run.leftover_processes_killed > 0 {
        eprintln!(
            "  note: {} process(es) CMD left running were killed",
            run.leftover_processes_killed
        );
    }
    if run.exit_code.is_some_and(|code| code != 0) && !run.cut_short && run.target == "command" {
        eprintln!("  warning: CMD failed; the profile covers only what this run did");
    }
    for warning in &built.report.warnings {
        eprintln!("  warning: {warning}");
    }
    print_capabilities(&built.report);
    match output {
        Some(path) => {
            eprintln!("  profile written to {}; use it with:", path.display());
            for line in uses {
                eprintln!("    {line}");
            }
        }
        None => eprintln!("  profile written to stdout (use -o FILE to write a file)"),
    }
    if let Some(path) = report {
        eprintln!("  report written to {}", path.display());
    }
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
        }
    }

    fn observed(table: u32, nr: u32) -> Observed {
        Observed {
            table,
            nr,
            count: 2,
            first_comm: "x".into(),
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
        let built = build(&recording, run_context(), "p.json").expect("build");
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
            ["restart_syscall", "rt_sigreturn", "sigreturn"],
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
        let built = build(&recording, run_context(), "p.json").expect("build");
        let implied: Vec<&str> = built
            .report
            .implied_syscalls
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(implied, ["futex", "restart_syscall", "rt_sigreturn"]);
        let single = Recording {
            observed: vec![observed(TABLE_NATIVE, 0)],
            ..Recording::default()
        };
        let built = build(&single, run_context(), "p.json").expect("build");
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
        let built = build(&recording, run_context(), "p.json").expect("build");
        let allowed = built.profile.allowed_names();
        for name in RUNTIME_PHASE_SYSCALLS {
            assert!(allowed.contains(name), "{name}");
        }
        let without = Recording {
            flags: 0,
            ..recording
        };
        let built = build(&without, run_context(), "p.json").expect("build");
        assert!(
            !built.profile.allowed_names().contains("mmap"),
            "a command's launcher runs nothing before execve"
        );
    }

    #[test]
    fn nothing_recorded_allows_nothing() {
        let built = build(&Recording::default(), run_context(), "p.json").expect("build");
        assert!(built.profile.allowed_names().is_empty());
        assert!(built.report.implied_syscalls.is_empty());
    }

    #[test]
    fn gate_descriptions() {
        assert!(gate_description(GATE_FILTER, "never").starts_with("seccomp filter install"));
        assert!(gate_description(GATE_EXEC, "never").starts_with("first execve"));
        assert_eq!(gate_description(0, "never"), "never");
    }
}
