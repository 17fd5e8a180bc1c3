//! What the container tests assert, written once: names a profile must and must not allow (never
//! runc's setup before the filter install), a report that explains its profile, and a call outside
//! the profile refused with EPERM.

use std::collections::BTreeSet;

use seccomp_profiler_tests::{Profile, Report, profiler_command, run};

use super::{docker::QUICK_TIMEOUT, session::Session};

/// How many names Docker 20.10's default profile allows (`shared/reference/`), as the summary says.
pub const DOCKER_DEFAULT_ALLOWS: usize = 346;

/// What runc does before it installs the filter: none of it may land in a profile (design.md §2).
pub const RUNTIME_SETUP: [&str; 6] = [
    "mount",
    "pivot_root",
    "umount2",
    "sethostname",
    "setns",
    "unshare",
];

/// Panics unless every name is allowed.
pub fn assert_allows(profile: &Profile, names: &[&str]) {
    let allowed = profile.allowed();
    let missing: Vec<_> = names
        .iter()
        .filter(|name| !allowed.contains(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "{} does not allow {missing:?}; it allows {allowed:?}",
        profile.path.display()
    );
}

/// Panics unless at least one of `names` is allowed (a libc may pick either).
pub fn assert_allows_one_of(profile: &Profile, names: &[&str]) {
    let allowed = profile.allowed();
    assert!(
        names.iter().any(|name| allowed.contains(*name)),
        "{} allows none of {names:?}; it allows {allowed:?}",
        profile.path.display()
    );
}

/// Panics unless none of `names` is allowed.
pub fn assert_allows_none(profile: &Profile, names: &[&str], why: &str) {
    let allowed = profile.allowed();
    let leaked: Vec<_> = names
        .iter()
        .filter(|name| allowed.contains(**name))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} allows {leaked:?} ({why}); it allows {allowed:?}",
        profile.path.display()
    );
}

/// runc's setup before the filter install must not be in the profile.
pub fn assert_no_runtime_setup(profile: &Profile) {
    assert_allows_none(
        profile,
        &RUNTIME_SETUP,
        "runc's setup before the filter install",
    );
}

/// The report explains the profile: every native name it saw is allowed, and an allowed name it
/// did not see is one of its `implied_syscalls`.
pub fn assert_report_agrees(profile: &Profile, report: &Report) {
    let allowed = profile.allowed();
    let seen: BTreeSet<String> = report.json["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["arch"] == "SCMP_ARCH_X86_64")
        .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
        .collect();
    let implied: BTreeSet<String> = report.json["implied_syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
        .collect();
    let unexplained: BTreeSet<_> = allowed
        .difference(&seen)
        .filter(|name| !implied.contains(*name))
        .collect();
    let missing: BTreeSet<_> = seen.difference(&allowed).collect();
    assert!(
        missing.is_empty() && unexplained.is_empty(),
        "report {} vs profile {}: seen but not allowed {missing:?}; allowed but neither seen nor \
         implied {unexplained:?}",
        report.path.display(),
        profile.path.display()
    );
}

/// The report's `run.container` names the container and how Docker ran it, and the gate was the
/// filter install (runc installed Docker's filter, so the recording starts there).
pub fn assert_container(report: &Report, name: &str, seccomp: &str, no_new_privileges: bool) {
    let run = report.run();
    let container = &run["container"];
    assert_eq!(container["name"], name, "{run:#}");
    assert_eq!(container["seccomp"], seccomp, "{run:#}");
    assert_eq!(container["no_new_privileges"], no_new_privileges, "{run:#}");
    assert_eq!(container["attached_after_start"], false, "{run:#}");
    assert_eq!(run["target"], "containers", "{run:#}");
    if seccomp != "unconfined" {
        let gate = run["gate"].as_str().unwrap_or_default();
        assert!(gate.starts_with("seccomp filter install"), "gate: {run:#}");
    }
}

/// `seccomp-profiler validate PROFILE` accepts it.
pub fn assert_valid(profile: &Profile) {
    run(
        &mut profiler_command(["validate".as_ref(), profile.path.as_os_str()]),
        QUICK_TIMEOUT,
    )
    .assert_code(0);
}

/// A call outside the profile is refused: `argv` (a busybox applet) succeeds in `image` without
/// the profile, and under it fails with EPERM ("Operation not permitted"). `outside` are the
/// syscalls the applet needs for its job; they must not be in the profile.
pub fn assert_denied(
    session: &mut Session,
    image: &str,
    profile: &Profile,
    argv: &[&str],
    outside: &[&str],
) {
    assert_allows_none(
        profile,
        outside,
        &format!("`{}` must be refused", argv.join(" ")),
    );
    let control = run(
        &mut session
            .docker_run("control", None, false)
            .options(["--entrypoint", "/bin/busybox"])
            .command(image, argv),
        QUICK_TIMEOUT,
    );
    control.assert_code(0);

    let denied = run(
        &mut session
            .docker_run("denied", Some(&profile.path), false)
            .options(["--entrypoint", "/bin/busybox"])
            .command(image, argv),
        QUICK_TIMEOUT,
    );
    // busybox exits 1; 125-127 would mean Docker could not start the container at all.
    assert_eq!(
        denied.status.code(),
        Some(1),
        "expected busybox to fail\n{denied}"
    );
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "expected EPERM from the profile\n{denied}"
    );
    eprintln!(
        "denied under {}: `{}` -> {}",
        profile.path.display(),
        argv.join(" "),
        denied.stderr.trim()
    );
}

/// Names a fresh profile allows that `profile` does not: what a failing replay most likely missed.
pub fn missing_from(profile: &Profile, fresh: &Profile) -> BTreeSet<String> {
    fresh
        .allowed()
        .difference(&profile.allowed())
        .cloned()
        .collect()
}
