//! The summary on stderr: what ran, how many syscalls against Docker's default, capabilities,
//! warnings, where the files went and the exact commands that use them. Every line goes through
//! [`say!`], which never panics: a closed stderr (a CI log reader that went away, a hung-up
//! terminal) must not turn a finished recording into a crash before its files are written.

use std::{io::Write as _, path::Path, time::Duration};

use crate::{
    capabilities,
    output::{formats, report::Report},
    recording::Built,
};

/// Allowed names in Docker 20.10.24's default profile (unconditional SCMP_ACT_ALLOW rules), the
/// engine Debian ships: what a container gets when it is given no profile.
pub const DOCKER_DEFAULT_ALLOWED: usize = 346;

/// `eprintln!` that ignores a failed write.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// One line on stderr.
pub fn note(line: &str) {
    say!("{line}");
}

/// An error that did not end the run (e.g. one container's profile could not be written).
pub fn error(line: &str) {
    say!("error: {line}");
}

/// Redraws the progress line; an empty line clears it.
pub fn progress(line: &str) {
    let mut stderr = std::io::stderr();
    let _ = if line.is_empty() {
        write!(stderr, "\r\x1b[K")
    } else {
        write!(stderr, "\r{line} ")
    };
}

/// How a recorded profile is used, for the summary. A Kubernetes manifest (`.yaml`) is applied
/// with kubectl and read by `exec`; Docker needs the JSON that `merge` turns it into.
pub fn uses(built: &Built, profile: &str) -> Vec<String> {
    let run = &built.report.run;
    let path = Path::new(profile);
    if formats::is_manifest_path(path) {
        let json = path.with_extension("json").display().to_string();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        let mut uses = vec![
            format!("kubectl apply -f {profile}   (needs the security-profiles-operator)"),
            format!(
                "pod: securityContext.seccompProfile: {{type: Localhost, localhostProfile: {}}}",
                formats::operator_localhost_profile(&formats::k8s_name(&stem))
            ),
        ];
        if run.container.is_none() {
            uses.push(format!(
                "seccomp-profiler exec --profile {profile} -- {}",
                run.command.join(" ")
            ));
        }
        uses.push(format!(
            "Docker reads JSON: seccomp-profiler merge {profile} -o {json}, then \
             docker run --security-opt seccomp={json} …"
        ));
        return uses;
    }
    match &run.container {
        None => vec![
            format!(
                "seccomp-profiler exec --profile {profile} -- {}",
                run.command.join(" ")
            ),
            format!("docker run --security-opt seccomp={profile} …"),
        ],
        Some(container) => {
            let image = container.image.as_deref().unwrap_or("IMAGE");
            vec![
                format!("docker run --security-opt seccomp={profile} {image} …"),
                format!("compose: security_opt: [\"seccomp={profile}\"]"),
            ]
        }
    }
}

/// The last line of `record --containers`: how CMD ended and how many containers were recorded.
pub fn containers_run(
    cmd: &str,
    run_time: Duration,
    cut_short: Option<&str>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    outcome: &crate::recording::Outcome,
) {
    let ended = match (cut_short, exit_code, signal) {
        (Some(reason), ..) => crate::recording::supervisor::StopReason::describe(reason),
        (None, Some(code), _) => format!("exit {code}"),
        (None, None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".into(),
    };
    say!(
        "seccomp-profiler: `{cmd}` ran {:.2} s ({ended}); {} container(s) recorded",
        run_time.as_secs_f64(),
        outcome.recorded - outcome.failed.len()
    );
    if !outcome.failed.is_empty() {
        say!(
            "  FAILED: {} container(s) recorded but not written: {}",
            outcome.failed.len(),
            outcome.failed.join(", ")
        );
    }
    if !outcome.missed.is_empty() {
        say!(
            "  FAILED: {} container(s) started while all {} recording slots were taken and were not recorded: {}",
            outcome.missed.len(),
            profiler_common::MAX_TARGETS,
            outcome.missed.join(", ")
        );
    }
    if !outcome.api_outages.is_empty() {
        let when: Vec<String> = (outcome.api_outages.iter())
            .map(crate::docker::Outage::describe)
            .collect();
        let affected = if outcome.uncertain.is_empty() {
            "no container's name, image or end was left uncertain".to_owned()
        } else {
            format!(
                "what is uncertain about {} container(s) is in their reports' warnings: {}",
                outcome.uncertain.len(),
                outcome.uncertain.join(", ")
            )
        };
        say!(
            "  FAILED: the Docker API was unreachable {}; every container was still recorded, \
             {affected}",
            when.join(", and ")
        );
    }
    if !outcome.verify_failed.is_empty() {
        say!(
            "  FAILED: {} container(s) did not run with their whole recommendation applied: {}",
            outcome.verify_failed.len(),
            outcome.verify_failed.join(", ")
        );
    }
    if outcome.recorded == 0 {
        say!("  no container started while CMD ran; nothing was recorded");
    }
}

/// One `--verify` replay: whether the container still ran with its whole recommendation.
pub fn verified(replayed: &crate::hardening::replay::Replayed, docker_run: &str) {
    let verdict = if replayed.ok { "ok" } else { "FAILED" };
    say!(
        "seccomp-profiler verify: container {} with the whole recommendation: {verdict} ({})",
        replayed.name,
        replayed.how
    );
    if !replayed.ok {
        say!("  replayed as: {docker_run}");
        for line in &replayed.log_tail {
            say!("  log: {line}");
        }
    }
}

/// The read-only root filesystem and user advice of a recorded container.
fn print_hardening(hardening: &crate::hardening::Hardening) {
    if !hardening.observed {
        for note in &hardening.notes {
            say!("  read-only root: {note}");
        }
        return;
    }
    if hardening.read_only {
        let mounts = hardening.tmpfs.len() + hardening.volumes.len();
        if mounts == 0 {
            say!(
                "  read-only root: it wrote nothing on its root filesystem: --read-only, no mounts"
            );
        } else {
            say!(
                "  read-only root: it wrote {} path(s); --read-only with {} tmpfs mount(s) and {} volume(s):",
                hardening.written.len(),
                hardening.tmpfs.len(),
                hardening.volumes.len()
            );
        }
        for mount in &hardening.tmpfs {
            say!("    tmpfs {}: {}", mount.tmpfs_spec(), mount.reason);
        }
        for mount in &hardening.volumes {
            say!(
                "    volume {}:{}: {}",
                mount.volume.as_deref().unwrap_or_default(),
                mount.path,
                mount.reason
            );
        }
    } else {
        say!("  read-only root: not advised");
    }
    for note in &hardening.notes {
        say!("    note: {note}");
    }
    let user = &hardening.user;
    match &user.recommended {
        Some(ids) => say!("  user: --user {ids}: {}", user.reason),
        None => say!("  user: {}", user.reason),
    }
    for change in &user.ownership {
        say!("    ownership: {change}");
    }
}

fn print_capabilities(report: &Report) {
    let (Some(caps), Some(rec)) = (&report.capabilities, &report.recommendation) else {
        say!(
            "  capabilities: not recorded (the capability:cap_capable tracepoint needs Linux ≥ 6.14)"
        );
        return;
    };
    let used = if rec.cap_add.is_empty() {
        "none".to_owned()
    } else {
        rec.cap_add.join(", ")
    };
    say!(
        "  capabilities used: {used}; of Docker's 14 defaults, {} not needed",
        rec.docker_defaults_not_needed.len()
    );
    if !caps.denied.is_empty() {
        let denied: Vec<&str> = caps
            .denied
            .iter()
            .map(|cap| capabilities::short(cap))
            .collect();
        say!(
            "  capabilities denied (the run went on without them): {}",
            denied.join(", ")
        );
    }
    say!("  run it with the least privilege this run needed:");
    say!("    {}", rec.docker_run);
    say!("    compose service:");
    for line in rec.compose.lines() {
        say!("      {line}");
    }
    say!("    kubernetes container:");
    for line in rec.kubernetes.lines() {
        say!("      {line}");
    }
    match &report.hardening {
        Some(hardening) => print_hardening(hardening),
        None if rec.ran_as_root => {
            say!("  note: it ran as root (uid 0): a non-root USER would need fewer capabilities");
        }
        None => {}
    }
    if !rec.no_new_privileges_safe {
        say!(
            "  note: it exec'd a setuid/setgid/file-capability binary: no-new-privileges would stop that gaining privileges"
        );
    }
    for spot in &rec.blind_spots {
        say!("  blind spot: {spot}");
    }
}

/// The summary on stderr: what ran, how many syscalls against Docker's default, where the files
/// went and the exact commands that use them.
/// The recorded argument values, and what `--args` made of them (docs/design.md §16).
fn print_arguments(report: &Report) {
    let observed = &report.arguments;
    let mut parts = Vec::new();
    for syscall in [
        crate::arguments::SOCKET,
        crate::arguments::CLONE,
        crate::arguments::PERSONALITY,
    ] {
        let calls = observed.calls(syscall);
        if calls.is_empty() {
            continue;
        }
        let names: Vec<String> = calls
            .iter()
            .map(|(arg0, arg2)| crate::arguments::describe(syscall, *arg0, *arg2))
            .collect();
        let more = if syscall != crate::arguments::CLONE && !observed.complete(syscall) {
            " and more"
        } else {
            ""
        };
        parts.push(format!("{syscall} {}{more}", names.join(", ")));
    }
    if !parts.is_empty() {
        say!("  argument values: {}", parts.join("; "));
    }
    match &report.argument_rules {
        Some(rules) => {
            if !rules.restricted.is_empty() {
                say!(
                    "  --args: {} allowed only for these values (one rule per value)",
                    rules.restricted.join(", ")
                );
            }
            for note in &rules.notes {
                say!("  note: {note}");
            }
        }
        None if !parts.is_empty() => {
            say!("  (allowed by name; record with --args to allow only these values)")
        }
        None => {}
    }
}

pub fn recording(built: &Built, output: Option<&Path>, report: Option<&Path>) {
    let run = &built.report.run;
    let what = match (&run.container, &run.cgroup) {
        (Some(container), _) => format!("container {}", container.name),
        (None, Some(cgroup)) => format!("cgroup {cgroup}"),
        (None, None) => format!("`{}`", run.command.join(" ")),
    };
    let ended = match (run.cut_short_reason, run.exit_code, run.signal) {
        (Some(reason), ..) => crate::recording::supervisor::StopReason::describe(reason),
        (None, Some(code), _) => format!("exit {code}"),
        (None, None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    };
    let allowed = built.allowed;
    let percent = allowed as f64 * 100.0 / DOCKER_DEFAULT_ALLOWED as f64;
    say!(
        "seccomp-profiler: recorded {what} ({ended}, {:.2} s, {} syscalls made)",
        run.duration_ms as f64 / 1e3,
        built.report.total_syscalls
    );
    say!(
        "  {allowed} syscalls allowed; Docker's default profile allows {DOCKER_DEFAULT_ALLOWED} ({percent:.0} % of it, {} fewer)",
        DOCKER_DEFAULT_ALLOWED.saturating_sub(allowed)
    );
    print_runtime(&built.report);
    let errno_rules: Vec<String> = built.profile.enosys_names().into_iter().collect();
    if !errno_rules.is_empty() {
        say!(
            "  answered with ENOSYS so libraries fall back: {}",
            errno_rules.join(", ")
        );
    }
    print_arguments(&built.report);
    if run.no_new_privs == Some(true) {
        say!(
            "  note: CMD ran as {} with no_new_privs set, as it will under its profile (a non-root \
             process needs it to install a filter); setuid binaries gained no privileges",
            run.user.as_deref().unwrap_or("?")
        );
    }
    if let Some(container) = &run.container {
        if container.attached_after_start {
            say!(
                "  note: attached to a running container: its start-up was not seen, so this profile lacks \
                 what runc does while starting a container and Docker cannot start one under it alone; \
                 record the start with `seccomp-profiler record --containers -o DIR -- docker run …` and \
                 combine both with `seccomp-profiler merge`"
            );
        }
        if container.running_at_end {
            say!("  note: the container was still running when recording ended");
        }
    }
    if run.leftover_processes_killed > 0 {
        say!(
            "  note: {} process(es) CMD left running were killed",
            run.leftover_processes_killed
        );
    }
    if run.exit_code.is_some_and(|code| code != 0) && !run.cut_short && run.target == "command" {
        say!("  warning: CMD failed; the profile covers only what this run did");
    }
    for warning in &built.report.warnings {
        say!("  warning: {warning}");
    }
    for hint in &built.report.coverage_hints {
        say!("  coverage: {hint}");
    }
    print_capabilities(&built.report);
    match output {
        Some(path) => {
            say!("  profile written to {}; use it with:", path.display());
            for line in uses(built, &path.display().to_string()) {
                say!("    {line}");
            }
        }
        None => say!("  profile written to stdout (use -o FILE to write a file)"),
    }
    if let Some(path) = report {
        say!("  report written to {}", path.display());
    }
}

/// Which runtime installed the filter, in which no-new-privileges mode, what it made before the
/// entrypoint's exec, and which runtimes and modes the profile is made for (issue 11).
fn print_runtime(report: &Report) {
    let Some(runtime) = &report.runtime else {
        return;
    };
    if let Some(line) = runtime.describe() {
        say!("  {line}");
    }
    let phase: Vec<&str> = report
        .syscalls
        .iter()
        .filter(|s| s.phase == "runtime")
        .map(|s| s.name.as_str())
        .collect();
    if !phase.is_empty() {
        say!(
            "  {} syscall(s) made by the runtime after the filter install, before the entrypoint: {}",
            phase.len(),
            phase.join(", ")
        );
    }
    if !runtime.added_from_table.is_empty() {
        say!(
            "  added from the measured runtime table (not seen in this run): {}",
            runtime.added_from_table.join(", ")
        );
    }
    if runtime.made_for.is_empty() {
        say!("  proven for this runtime and no-new-privileges mode only");
    }
}
