//! End to end: profiles that carry across container runtimes and no-new-privileges modes (issue
//! 11). busybox `ls /` and nginx under load are recorded under runc and crun (registered in dockerd
//! by `cargo xtask test`, see xtask/src/crun.rs), each with no-new-privileges off and on, with
//! `record --runtimes runc,crun`; every profile is replayed under both runtimes in both modes (2
//! workloads × 2 × 2 × 2 × 2 = 32 replays, all must pass) and still refuses a call outside it. The
//! reports must name the runtime that installed the filter and its mode, and mark each syscall's
//! phase. And without `--runtimes`, a crun recording carries none of the Go runtime's implied
//! names (crun is C) while its summary says what the profile is made for.
//!
//! One recording per (workload, runtime, mode), shared by every assertion about it; bounded
//! timeouts everywhere (a profile that lacks `exit` spins instead of failing).

use std::{collections::BTreeSet, ffi::OsString, time::Instant};

use seccomp_profiler_tests::{Profile, Report, run};

use crate::support::{
    BUSYBOX, DockerRun, LOAD_TIMEOUT, QUICK_TIMEOUT, Session, assert_valid, check_nginx,
    security_opts,
};

const RUNTIMES: [&str; 2] = ["runc", "crun"];
const MODES: [bool; 2] = [false, true];

fn mode(nnp: bool) -> &'static str {
    if nnp { "on" } else { "off" }
}

/// `--runtime RT [--security-opt no-new-privileges]`.
fn runtime_opts(runtime: &str, nnp: bool) -> Vec<OsString> {
    let mut opts: Vec<OsString> = vec!["--runtime".into(), runtime.into()];
    if nnp {
        opts.extend(["--security-opt", "no-new-privileges"].map(OsString::from));
    }
    opts
}

/// The report names the runtime that installed the filter and its no-new-privileges mode, marks
/// every syscall's phase (execve, the entrypoint's exec, is the runtime's), and says the profile
/// is made for runc and crun in both modes.
fn assert_runtime_report(report: &Report, runtime: &str, nnp: bool, made_for: &[&str]) {
    let json = &report.json;
    let rt = &json["runtime"];
    assert_eq!(rt["installed_by"]["name"], runtime, "{:#}", rt);
    assert!(
        rt["installed_by"]["version"].is_string(),
        "the version is known: {rt:#}"
    );
    assert_eq!(
        rt["installed_by"]["go"],
        runtime == "runc",
        "runc is a Go program, crun is not: {rt:#}"
    );
    assert_eq!(rt["no_new_privileges"], mode(nnp), "{rt:#}");
    let made: Vec<String> = rt["made_for"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            m.as_str()
                .map(|s| s.split(' ').next().unwrap_or("").to_owned())
        })
        .collect();
    let mut made_sorted = made.clone();
    made_sorted.sort();
    let mut wanted: Vec<String> = made_for.iter().map(|s| (*s).to_owned()).collect();
    wanted.sort();
    assert_eq!(made_sorted, wanted, "{rt:#}");
    if !made_for.is_empty() {
        assert_eq!(rt["nnp_modes"], serde_json::json!(["off", "on"]), "{rt:#}");
    }
    let syscalls = json["syscalls"].as_array().expect("syscalls");
    let phases: BTreeSet<&str> = syscalls
        .iter()
        .filter_map(|s| s["phase"].as_str())
        .collect();
    assert_eq!(
        phases,
        BTreeSet::from(["runtime", "workload"]),
        "every syscall has a phase, both occur: {:#}",
        json["syscalls"]
    );
    assert_eq!(
        report.syscall("execve").map(|s| &s["phase"]),
        Some(&serde_json::json!("runtime")),
        "the runtime execs the entrypoint"
    );
}

fn phase_names(report: &Report, phase: &str) -> BTreeSet<String> {
    report.json["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["phase"] == phase)
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

/// `busybox ln -s` under the profile and `runtime`: busybox fails with EPERM (symlink is outside
/// every profile here), while the same without the profile succeeds.
fn assert_symlink_denied(session: &mut Session, profile: &Profile, runtime: &str) {
    assert!(
        !profile.allowed().contains("symlink") && !profile.allowed().contains("symlinkat"),
        "symlink must be outside the profile"
    );
    let argv = ["ln", "-s", "/etc/passwd", "/tmp/escape"];
    let control = run(
        &mut DockerRun::named(&session.container("control"))
            .options(runtime_opts(runtime, false))
            .options(["--entrypoint", "/bin/busybox"])
            .command(BUSYBOX, &argv),
        QUICK_TIMEOUT,
    );
    control.assert_code(0);
    let denied = run(
        &mut DockerRun::named(&session.container("denied"))
            .options(runtime_opts(runtime, false))
            .options(security_opts(&profile.path, false))
            .options(["--entrypoint", "/bin/busybox"])
            .command(BUSYBOX, &argv),
        QUICK_TIMEOUT,
    );
    assert_eq!(denied.status.code(), Some(1), "busybox must fail\n{denied}");
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "EPERM from the profile\n{denied}"
    );
}

/// Records with `record` under every (runtime, no-new-privileges mode), replays each profile with
/// `replay` under every (runtime, mode), and shows a syscall outside each profile denied under the
/// other runtime. Panics listing every failed replay.
fn across_runtimes_and_nnp(
    session: &mut Session,
    what: &str,
    mut record: impl FnMut(&mut Session, &str, bool) -> Profile,
    mut replay: impl FnMut(&mut Session, &Profile, &str, bool) -> Result<(), String>,
) {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut replays = 0;
    for runtime in RUNTIMES {
        for nnp in MODES {
            let profile = record(session, runtime, nnp);
            for replay_runtime in RUNTIMES {
                for replay_nnp in MODES {
                    replays += 1;
                    if let Err(err) = replay(session, &profile, replay_runtime, replay_nnp) {
                        failures.push(format!(
                            "recorded under {runtime}/nnp {}, replayed under {replay_runtime}/nnp {}: {err}",
                            mode(nnp),
                            mode(replay_nnp)
                        ));
                    }
                }
            }
            let other = if runtime == "runc" { "crun" } else { "runc" };
            assert_symlink_denied(session, &profile, other);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replays} replays failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{what}: {replays}/{replays} replays passed ({:.1?})",
        started.elapsed()
    );
}

/// busybox `ls /`: 4 recordings, 16 replays, 4 denials.
#[test]
fn busybox_ls_carries_across_runtimes_and_nnp() {
    let mut session = Session::begin("rtls");
    let record = |session: &mut Session, runtime: &str, nnp: bool| {
        let name = session.container(&format!("rec-{runtime}-{}", mode(nnp)));
        let argv = DockerRun::named(&name)
            .options(runtime_opts(runtime, nnp))
            .argv(BUSYBOX, &["ls", "/"]);
        let recording = session.record_with(
            &format!("{runtime}-{}", mode(nnp)),
            &["--runtimes", "runc,crun"],
            &argv,
            QUICK_TIMEOUT,
            0,
        );
        let profile = recording.profile(&name);
        let report = recording.report(&name);
        assert_valid(&profile);
        assert_runtime_report(&report, runtime, nnp, &["runc", "crun"]);
        let summary = &recording.output.stderr;
        assert!(
            summary.contains(&format!("recorded under {runtime} "))
                && summary.contains("with no-new-privileges off and on"),
            "the summary names the runtime and what the profile is made for\n{summary}"
        );
        eprintln!(
            "busybox ls, recorded under {runtime}, no-new-privileges {}: runtime phase {:?}; \
             portable profile ({} names): {:?}",
            mode(nnp),
            phase_names(&report, "runtime"),
            profile.allowed().len(),
            profile.allowed()
        );
        profile
    };
    let replay = |session: &mut Session, profile: &Profile, runtime: &str, nnp: bool| {
        let out = run(
            &mut DockerRun::named(&session.container("replay"))
                .options(runtime_opts(runtime, nnp))
                .options(security_opts(&profile.path, false))
                .command(BUSYBOX, &["ls", "/"]),
            QUICK_TIMEOUT,
        );
        if out.code() != 0 || !out.stdout.lines().any(|l| l == "bin") {
            return Err(format!("\n{out}"));
        }
        Ok(())
    };
    across_runtimes_and_nnp(&mut session, "busybox ls", record, replay);
}

/// nginx under ≥ 200 requests and a reload (tests/scripts/nginx-load.sh, host network,
/// 127.0.0.1:8080): 4 recordings, 16 replays of the same load, 4 denials.
#[test]
fn nginx_under_load_carries_across_runtimes_and_nnp() {
    let mut session = Session::begin("rtnginx");
    let record = |session: &mut Session, runtime: &str, nnp: bool| {
        let name = session.container(&format!("rec-{runtime}-{}", mode(nnp)));
        let mut args = vec![OsString::from(&name)];
        args.extend(runtime_opts(runtime, nnp));
        let argv = session.script_argv("nginx-load.sh", &args);
        let recording = session.record_with(
            &format!("{runtime}-{}", mode(nnp)),
            &["--runtimes", "runc,crun"],
            &argv,
            LOAD_TIMEOUT,
            0,
        );
        check_nginx(&recording.output)
            .unwrap_or_else(|err| panic!("the recorded load failed: {err}"));
        let profile = recording.profile(&name);
        let report = recording.report(&name);
        assert_valid(&profile);
        assert_runtime_report(&report, runtime, nnp, &["runc", "crun"]);
        eprintln!(
            "nginx, recorded under {runtime}, no-new-privileges {}: portable profile ({} names)",
            mode(nnp),
            profile.allowed().len()
        );
        profile
    };
    let replay = |session: &mut Session, profile: &Profile, runtime: &str, nnp: bool| {
        let mut args = vec![OsString::from(session.container("replay"))];
        args.extend(runtime_opts(runtime, false));
        args.extend(security_opts(&profile.path, nnp));
        check_nginx(&session.run_script("nginx-load.sh", &args))
    };
    across_runtimes_and_nnp(&mut session, "nginx", record, replay);
}

/// Without `--runtimes`: a crun recording (no-new-privileges on) is made for crun alone, carries
/// none of the Go runtime's implied names (crun is C), adds crun's measured no-new-privileges-off
/// phase so it runs under crun without no-new-privileges too, and the summary says so; runc's own
/// recording keeps the Go set. And a runtime with no measured data is refused up front (exit 2).
#[test]
fn without_runtimes_a_crun_profile_is_made_for_crun_alone() {
    let mut session = Session::begin("rtdefault");
    let name = session.container("rec");
    let argv = DockerRun::named(&name)
        .options(runtime_opts("crun", true))
        .argv(BUSYBOX, &["ls", "/"]);
    let recording = session.record("crun", &argv, QUICK_TIMEOUT);
    let profile = recording.profile(&name);
    let report = recording.report(&name);
    assert_runtime_report(&report, "crun", true, &["crun"]);
    let go_only = ["gettid", "madvise", "sched_yield", "sigaltstack", "tgkill"];
    let implied = report.implied();
    for go_name in go_only {
        assert!(
            !implied.contains(go_name) && !profile.allowed().contains(go_name),
            "{go_name}: crun is not a Go program\n{:#}",
            report.json["implied_syscalls"]
        );
    }
    let summary = &recording.output.stderr;
    assert!(
        summary.contains("recorded under crun ")
            && summary.contains("(no-new-privileges on); made for crun ")
            && summary.contains("with no-new-privileges off and on"),
        "{summary}"
    );
    assert!(
        summary
            .lines()
            .filter(|l| l.contains("recorded under") || l.contains("made by the runtime"))
            .all(|l| !l.contains("runc")),
        "nothing about runc in a crun recording's runtime lines\n{summary}"
    );
    // Made for crun without no-new-privileges too: crun's setresuid/setresgid after its install.
    assert!(
        profile.allowed().contains("setresuid") && profile.allowed().contains("setresgid"),
        "{:?}",
        profile.allowed()
    );
    for nnp in MODES {
        let out = run(
            &mut DockerRun::named(&session.container("replay"))
                .options(runtime_opts("crun", nnp))
                .options(security_opts(&profile.path, false))
                .command(BUSYBOX, &["ls", "/"]),
            QUICK_TIMEOUT,
        );
        out.assert_code(0);
    }

    let name = session.container("runc");
    let argv = DockerRun::named(&name)
        .options(runtime_opts("runc", false))
        .argv(BUSYBOX, &["true"]);
    let recording = session.record("runc", &argv, QUICK_TIMEOUT);
    let implied = recording.report(&name).implied();
    for go_name in go_only {
        assert!(
            implied.contains(go_name) || recording.report(&name).syscall(go_name).is_some(),
            "{go_name}: runc is a Go program: {implied:?}"
        );
    }

    let refused = session.record_with(
        "unknown",
        &["--runtimes", "runc,kata"],
        &argv,
        QUICK_TIMEOUT,
        2,
    );
    assert!(
        refused
            .output
            .stderr
            .contains("no measured data for runtime `kata`"),
        "{}",
        refused.output
    );
}
