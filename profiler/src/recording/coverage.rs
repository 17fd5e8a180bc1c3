//! Coverage hints (design.md §15): one recording is a sample, and a profile only covers the paths
//! that run took. This names what in a finished recording looks like luck — syscalls seen once,
//! timing-dependent ones seen rarely — and what commonly needed work it did not exercise (a
//! `docker exec` or HEALTHCHECK never run, a run shorter than common periodic work), each with
//! what to do about it: record more runs and `merge` them, or roll out with `--complain`.
//!
//! Pure: it reads a built report and facts the caller knows; it decides nothing about the profile.

use std::time::Duration;

use crate::output::report::Report;

/// Syscalls whose appearance depends on which process or thread is still alive, or on a timer,
/// rather than on the code path: seen rarely, they are the first to be missing from a profile
/// (issue 12: pytest's `kill` in 4 recordings of 5; Postgres's `getrusage` after autovacuum's nap).
const TIMING: [&str; 10] = [
    "kill",
    "tgkill",
    "tkill",
    "wait4",
    "waitid",
    "getrusage",
    "sched_yield",
    "rt_sigtimedwait",
    "timer_settime",
    "alarm",
];

/// Below this a recording is shorter than common periodic work: cron-like timers and checkpoints
/// (Postgres's autovacuum naps 60 s), log rotation, Docker's default HEALTHCHECK interval (30 s).
pub const PERIODIC: Duration = Duration::from_secs(60);

/// Made exactly once by every process that starts (the loader and libc's start-up) or ends: a
/// single call of these is no sign of a rare path.
const ONCE_PER_PROCESS: [&str; 11] = [
    "execve",
    "execveat",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "getrandom",
    "exit_group",
    "exit",
    "seccomp",
];

/// At most this many names are listed in one hint.
const LIST_MAX: usize = 8;

/// How the hints tell the user to widen a sample.
const COMBINE: &str = "record several runs (different loads, long enough) and combine them with \
                       `seccomp-profiler merge`, or roll out first with `record --complain` and \
                       watch what it logs";

/// Hints for any recording: rare syscalls and a short run.
pub fn hints(report: &Report) -> Vec<String> {
    let mut hints = Vec::new();
    let mut once: Vec<&str> = Vec::new();
    let mut timing: Vec<String> = Vec::new();
    for entry in &report.syscalls {
        if TIMING.contains(&entry.name.as_str()) && entry.count <= 2 {
            timing.push(format!(
                "{} ({}×, by {})",
                entry.name, entry.count, entry.first_comm
            ));
        } else if entry.count == 1
            && !ONCE_PER_PROCESS.contains(&entry.name.as_str())
            && !once.contains(&entry.name.as_str())
        {
            once.push(&entry.name);
        }
    }
    if !timing.is_empty() {
        hints.push(format!(
            "timing-dependent syscalls seen only once or twice: {} — whether they happen depends \
             on which task is still alive or on a timer (e.g. `kill` of a worker after a fork), \
             so another run may make them more or not at all; {COMBINE}",
            timing.join(", ")
        ));
    }
    if !once.is_empty() {
        hints.push(format!(
            "{} syscall(s) seen exactly once: {} — one call is a single code path, which another \
             input or load may take differently; {COMBINE}",
            once.len(),
            list(&once)
        ));
    }
    let ran = Duration::from_millis(report.run.duration_ms);
    let long_running = report.run.cut_short || report.run.container.is_some();
    if long_running && ran < PERIODIC {
        hints.push(format!(
            "the recording lasted {:.0} s, shorter than common periodic work (timers and \
             checkpoints such as Postgres's 60 s autovacuum nap, log rotation, a HEALTHCHECK's \
             30 s default interval): what that work does is not in the profile; record for longer \
             (--duration) or {COMBINE}",
            ran.as_secs_f64()
        ));
    }
    hints
}

/// Hints for a container recording, given how many `docker exec` sessions (health checks
/// included: dockerd runs each HEALTHCHECK as an exec) started while it was recorded.
pub fn container_hints(execs: u32) -> Vec<String> {
    if execs > 0 {
        return Vec::new();
    }
    vec![
        "no `docker exec` and no HEALTHCHECK ran while recording: both run under the container's \
         profile (a `docker exec psql` health check needs `connect`, a debugging shell its own \
         syscalls), so run them during the recording, or record them separately and \
         `seccomp-profiler merge` the profiles"
            .to_owned(),
    ]
}

fn list(names: &[&str]) -> String {
    let shown: Vec<&str> = names.iter().take(LIST_MAX).copied().collect();
    match names.len().saturating_sub(LIST_MAX) {
        0 => shown.join(", "),
        more => format!(
            "{} and {more} more (the report lists every count)",
            shown.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::report::{RunContext, SyscallEntry, Tool};

    fn report(syscalls: &[(&str, u64)], duration_ms: u64, cut_short: bool) -> Report {
        Report {
            tool: Tool::default(),
            run: RunContext {
                duration_ms,
                cut_short,
                ..RunContext::host()
            },
            syscalls: syscalls
                .iter()
                .map(|(name, count)| SyscallEntry {
                    name: (*name).to_owned(),
                    arch: "SCMP_ARCH_X86_64",
                    count: *count,
                    first_comm: "w".to_owned(),
                    phase: "workload",
                })
                .collect(),
            unnamed_syscalls: Vec::new(),
            implied_syscalls: Vec::new(),
            arguments: Default::default(),
            argument_rules: None,
            runtime: None,
            total_syscalls: 0,
            capabilities: None,
            recommendation: None,
            hardening: None,
            warnings: Vec::new(),
            denied_syscalls: Vec::new(),
            coverage_hints: Vec::new(),
        }
    }

    #[test]
    fn names_timing_dependent_and_single_calls() {
        let hints = hints(&report(
            &[
                ("read", 500),
                ("kill", 1),
                ("getrusage", 2),
                ("wait4", 30),
                ("sysinfo", 1),
                ("execve", 1),
            ],
            5_000,
            false,
        ));
        assert_eq!(hints.len(), 2, "{hints:?}");
        assert!(
            hints[0].contains("kill (1×, by w), getrusage (2×, by w)"),
            "{hints:?}"
        );
        assert!(
            !hints[0].contains("wait4"),
            "seen often, not luck: {hints:?}"
        );
        assert!(
            hints[1].starts_with("1 syscall(s) seen exactly once: sysinfo"),
            "{hints:?}"
        );
        assert!(hints.iter().all(|h| h.contains("merge")), "{hints:?}");
    }

    #[test]
    fn a_short_open_ended_run_is_flagged_but_a_finished_command_is_not() {
        let busy = [("read", 10)];
        assert!(hints(&report(&busy, 5_000, false)).is_empty());
        let short = hints(&report(&busy, 5_000, true));
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(short[0].contains("lasted 5 s"), "{short:?}");
        assert!(hints(&report(&busy, 120_000, true)).is_empty());
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(
            list(&refs),
            "s0, s1, s2, s3, s4, s5, s6, s7 and 2 more (the report lists every count)"
        );
    }

    #[test]
    fn exec_hint_only_without_execs() {
        assert_eq!(container_hints(0).len(), 1);
        assert!(container_hints(0)[0].contains("HEALTHCHECK"));
        assert!(container_hints(3).is_empty());
    }
}
