//! End to end: `seccomp-profiler record -- CMD` with the real eBPF programs, as root, against
//! workloads whose syscalls are known (`src/bin/`). Each test asserts something a stub recorder
//! could not produce: exact marker names from every kind of task, exact counts, a replay that
//! succeeds under the recorded profile and a call outside it that is denied.
//!
//! Run with `cargo xtask test`, which builds the binaries and sets `SECCOMP_PROFILER_BIN` and
//! `SECCOMP_PROFILER_WORKLOADS`; without them every test panics rather than pass by testing
//! nothing. Run them one at a time (`--test-threads=1`): the stress test measures throughput.

use std::{collections::BTreeSet, time::Duration};

use seccomp_profiler_tests::{
    RecordPaths, Report, exec_command, names, profiler_command, record, run, spawn, strace_names,
    workload,
};

use crate::support::{TIMEOUT, ground_truth, tempdir};

/// ground-truth's markers, each with the task that makes it (`first_comm`): the main thread, a
/// second thread, a forked child and an exec'd child; see `src/bin/ground-truth.rs`.
const MARKERS: [(&str, &str); 8] = [
    ("sysinfo", "ground-truth"),
    ("getpriority", "ground-truth"),
    ("times", "gt-thread"),
    ("sched_getscheduler", "gt-thread"),
    ("getsid", "gt-fork"),
    ("getpgid", "gt-fork"),
    ("ioprio_get", "gt-exec"),
    ("sched_getparam", "gt-exec"),
];

/// The line ground-truth prints when `--extra`'s sched_get_priority_max gets EPERM.
const EXTRA_DENIED: &str = "sched_get_priority_max: EPERM (denied by seccomp)";

#[test]
fn ground_truth_markers_are_recorded_from_every_task() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "ground-truth");
    let output = record(&paths, &[ground_truth()], TIMEOUT);
    assert!(
        output.stdout.contains("ground-truth: all 8 markers made"),
        "{output}"
    );

    let allowed = paths.profile().allowed();
    for (marker, _) in MARKERS {
        assert!(
            allowed.contains(marker),
            "{marker} missing from the allowed set {allowed:?}"
        );
    }
    assert!(
        allowed.contains("execve"),
        "CMD's own execve is missing from {allowed:?}"
    );
    // Never made by ground-truth without --extra.
    assert!(!allowed.contains("sched_get_priority_max"), "{allowed:?}");
    // The launcher installs no filter (the gate is CMD's execve): nothing of its set-up leaks.
    assert!(
        !allowed.contains("seccomp"),
        "a seccomp() leaked into {allowed:?}"
    );

    let report = paths.report();
    for (marker, comm) in MARKERS {
        assert_eq!(
            report.count(marker),
            1,
            "{marker} is made exactly once: {:#}",
            report.json
        );
        assert_eq!(
            report.first_comm(marker),
            Some(comm),
            "first_comm of {marker}"
        );
    }
    assert_eq!(report.count("sched_get_priority_max"), 0);
    let run_info = report.run();
    assert_eq!(
        run_info["command"],
        serde_json::json!([ground_truth()]),
        "{run_info:#}"
    );
    assert_eq!(run_info["exit_code"], 0, "{run_info:#}");
    assert_eq!(run_info["cut_short"], false, "{run_info:#}");
    assert_eq!(run_info["arch"], "x86_64", "{run_info:#}");
    let gate = run_info["gate"].as_str().unwrap_or_default();
    assert!(gate.starts_with("CMD's execve"), "gate: {run_info:#}");
    // The kernel memory of the recorder's maps (issue 13), read from its own map fds: present,
    // and neither nothing nor absurd.
    let map_bytes = run_info["kernel_map_bytes"].as_u64();
    assert!(
        map_bytes.is_some_and(|b| b > 0 && b < 256 << 20),
        "kernel_map_bytes: {run_info:#}"
    );
    // Allowed = seen + the signal-return paths the profiler adds because their use is timing
    // (profiler/src/commands/record.rs, SIGNAL_RETURN); ground-truth installs no signal handler
    // and is never stopped, so it makes neither.
    let implied = report.implied();
    assert_eq!(
        implied,
        names(&["restart_syscall", "rt_sigreturn"]),
        "{:#}",
        report.json
    );
    let seen = report.seen();
    assert!(
        seen.is_disjoint(&implied),
        "implied but seen: {:#}",
        report.json
    );
    let expected: BTreeSet<String> = seen.union(&implied).cloned().collect();
    assert_eq!(
        allowed, expected,
        "the profile allows other than seen + implied"
    );
}

/// strace is an independent witness: what it sees ground-truth make (from the execve on) is what
/// the profile must allow — nothing missing (the replay would fail), nothing extra (the launcher's
/// setup or the tracer itself leaking in) beyond the report's `implied_syscalls`.
#[test]
fn ground_truth_profile_matches_strace() {
    let dir = tempdir();
    // `cargo xtask test` installs strace; a missing witness is a failure, never a silent pass.
    let seen = strace_names(dir.path(), &[ground_truth()])
        .expect("strace is not installed: `cargo xtask test` installs it (apt-get install strace)");
    let paths = RecordPaths::new(dir.path(), "ground-truth");
    record(&paths, &[ground_truth()], TIMEOUT);
    let allowed = paths.profile().allowed();
    let implied = paths.report().implied();

    let missing: BTreeSet<_> = seen.difference(&allowed).collect();
    let extra: BTreeSet<_> = allowed
        .difference(&seen)
        .filter(|name| !implied.contains(*name))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "profile vs strace -f: missing {missing:?}, extra {extra:?}\nprofile: {allowed:?}\nstrace: {seen:?}"
    );
}

#[test]
fn replay_allows_the_recording_and_denies_anything_else() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "ground-truth");
    record(&paths, &[ground_truth()], TIMEOUT);

    run(
        &mut profiler_command(["validate".as_ref(), paths.profile.as_os_str()]),
        TIMEOUT,
    )
    .assert_code(0);

    assert_replays_and_refuses_extra(&paths.profile);

    // Every name matters: without the exec'd child's ioprio_get the run fails at that call.
    let trimmed = dir.path().join("without-ioprio_get.json");
    paths.profile().write_without("ioprio_get", &trimmed);
    let denied = run(&mut exec_command(&trimmed, &[ground_truth()]), TIMEOUT);
    denied.assert_code(1);
    assert!(denied.stderr.contains("ioprio_get failed"), "{denied}");
}

/// ground-truth runs under `profile` (`exec --profile`), and with `--extra` its one call outside
/// the recording gets EPERM.
fn assert_replays_and_refuses_extra(profile: &std::path::Path) {
    let replay = run(&mut exec_command(profile, &[ground_truth()]), TIMEOUT);
    replay.assert_code(0);
    assert!(
        replay.stdout.contains("ground-truth: all 8 markers made"),
        "{replay}"
    );
    let extra = run(
        &mut exec_command(profile, &[ground_truth(), "--extra".into()]),
        TIMEOUT,
    );
    extra.assert_code(3);
    assert!(extra.stdout.contains(EXTRA_DENIED), "{extra}");
}

/// `--user`: the launcher's child joins the cgroup, drops to the user and sets no_new_privs (the
/// replay as that user needs it to install the profile) before it execs CMD; the gate is that
/// execve (issue 13: no gate filter), so none of setgroups, setgid or setuid lands in the profile
/// (ground-truth itself calls prctl, to name its threads), and the profile still runs CMD and
/// refuses a call outside it.
#[test]
fn as_another_user_the_launchers_set_up_stays_out_of_the_profile() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "as-nobody");
    let output = run(
        &mut paths.command(&["--user", "nobody"], &[ground_truth()]),
        TIMEOUT,
    );
    output.assert_code(0);
    assert!(
        output.stdout.contains("ground-truth: all 8 markers made"),
        "{output}"
    );
    let allowed = paths.profile().allowed();
    assert!(allowed.contains("execve"), "{allowed:?}");
    for launcher_only in ["setgroups", "setgid", "setuid", "seccomp"] {
        assert!(
            !allowed.contains(launcher_only),
            "the launcher's {launcher_only} leaked into {allowed:?}"
        );
    }
    let report = paths.report();
    let run_info = report.run();
    assert_eq!(run_info["user"], "nobody", "{run_info:#}");
    assert_eq!(run_info["uid"], 65534, "{run_info:#}");
    assert_eq!(run_info["no_new_privs"], true, "{run_info:#}");
    let gate = run_info["gate"].as_str().unwrap_or_default();
    assert!(gate.starts_with("CMD's execve"), "gate: {run_info:#}");

    assert_replays_and_refuses_extra(&paths.profile);
}

/// A thread ending is a code path a recording may not take (here its threads are still alive when
/// the process ends), and glibc retries a refused `exit` forever. So `exit` is always implied: the
/// run whose threads end finishes under the profile of the run whose threads did not. The same
/// profile without `exit` is the control: it hangs, with the threads spinning.
#[test]
fn threads_ending_under_a_profile_recorded_without_it_do_not_hang() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "thread-exit");
    let recorded = record(&paths, &[workload("thread-exit")], TIMEOUT);
    assert!(
        recorded.stdout.contains("thread-exit: 4 threads done"),
        "{recorded}"
    );
    let report = paths.report();
    assert!(
        !report.seen().contains("exit"),
        "the recorded run ends no thread: {:#}",
        report.json
    );
    assert!(report.implied().contains("exit"), "{:#}", report.json);
    assert!(paths.profile().allowed().contains("exit"));

    let join = [workload("thread-exit"), "--join".into()];
    let joined = run(&mut exec_command(&paths.profile, &join), TIMEOUT);
    joined.assert_code(0);
    assert!(
        joined.stdout.contains("thread-exit: 4 threads done"),
        "{joined}"
    );

    let trimmed = dir.path().join("without-exit.json");
    paths.profile().write_without("exit", &trimmed);
    let hung = spawn(&mut exec_command(&trimmed, &join));
    let cpu_before = cpu_ticks(hung.pid());
    std::thread::sleep(Duration::from_secs(3));
    let cpu_after = cpu_ticks(hung.pid());
    // SAFETY: kill() on the pid of a child this test started and has not reaped.
    unsafe {
        libc::kill(
            libc::pid_t::try_from(hung.pid()).expect("a pid"),
            libc::SIGKILL,
        )
    };
    let killed = hung.wait(TIMEOUT);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(libc::SIGKILL),
        "without exit the run must still be running (spinning) after 3 s: {killed}"
    );
    let ticks_per_second = u64::try_from(
        // SAFETY: sysconf reads a configuration value and touches no memory.
        unsafe { libc::sysconf(libc::_SC_CLK_TCK) },
    )
    .expect("clock ticks per second");
    assert!(
        cpu_after - cpu_before >= ticks_per_second,
        "the threads whose exit is refused spin: {} ticks of CPU in 3 s",
        cpu_after - cpu_before
    );
}

/// User + system CPU time of a process, in clock ticks (`/proc/PID/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|err| panic!("cannot read /proc/{pid}/stat: {err}"));
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis don't.
    let after_name = &stat[stat.rfind(')').expect("a command name in /proc/PID/stat") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): utime is field 14, stime field 15.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn probe_syscalls_not_seen_get_enosys() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "ground-truth");
    record(&paths, &[ground_truth()], TIMEOUT);
    let profile = paths.profile();
    assert_eq!(
        profile.json["defaultAction"], "SCMP_ACT_ERRNO",
        "{:#}",
        profile.json
    );
    let allowed = profile.allowed();
    // glibc ≥ 2.34 starts threads and posix_spawn children with clone3.
    assert!(allowed.contains("clone3"), "{allowed:?}");

    let enosys: Vec<_> = profile
        .rules()
        .iter()
        .filter(|rule| rule["action"] == "SCMP_ACT_ERRNO" && rule["errnoRet"] == 38)
        .collect();
    assert_eq!(
        enosys.len(),
        1,
        "one ENOSYS rule for unseen probe syscalls: {:#}",
        profile.json
    );
    let probes = profile.names_with_action("SCMP_ACT_ERRNO");
    assert!(
        probes.is_disjoint(&allowed),
        "a name is both allowed and denied: {probes:?}"
    );
    for probe in ["close_range", "openat2", "faccessat2"] {
        assert_eq!(
            allowed.contains(probe),
            !probes.contains(probe),
            "{probe}: {:#}",
            profile.json
        );
    }
    assert!(!probes.contains("clone3"));
}

/// Twenty recordings of the same workload give the same bytes: profiles are checked in and diffed.
/// ground-truth's syscall set is fixed by construction: whether joining its thread makes a futex
/// call depends on timing (seen here: 1 run in 2 differed), so it makes one futex call itself.
/// Should another timing-dependent call ever show up, fix the workload, not this assertion.
#[test]
fn recordings_are_byte_identical() {
    let dir = tempdir();
    let mut first: Option<(Vec<u8>, std::path::PathBuf)> = None;
    for i in 0..20 {
        let paths = RecordPaths::new(dir.path(), &format!("run-{i}"));
        record(&paths, &[ground_truth()], TIMEOUT);
        let bytes = std::fs::read(&paths.profile).unwrap_or_else(|err| panic!("{err}"));
        match &first {
            None => first = Some((bytes, paths.profile.clone())),
            Some((expected, first_path)) => assert!(
                bytes == *expected,
                "run {i} differs from run 0:\n--- {} ---\n{}\n--- {} ---\n{}",
                first_path.display(),
                String::from_utf8_lossy(expected),
                paths.profile.display(),
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
}

/// A syscall storm from many threads plus a stream of short-lived processes: in-kernel counters
/// lose nothing, so the counts are exact. On an idle 2-core VM the storm runs at ~1.2M syscalls/s
/// under `record`; that rate is a speed figure, so `cargo xtask bench` measures it (with the same
/// exactness check) and this test does not time anything. It only refuses a run too small to be a
/// storm at all (a broken workload), with a floor a third of the benchmark's target.
#[test]
fn stress_counts_are_exact_under_a_syscall_storm() {
    const CHILD_MARKERS: [&str; 4] = ["sysinfo", "times", "getsid", "sched_getscheduler"];
    const MIN_SYSCALLS: u64 = 1_000_000;
    const MIN_CHILDREN: u64 = 1_000;
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "stress");
    let stress = workload("stress").to_string_lossy().into_owned();
    let output = record(&paths, &[stress.as_str(), "--seconds", "3"], TIMEOUT);
    let calls = output.stdout_value("getppid_calls");
    let children = output.stdout_value("children");
    let elapsed_ms = output.stdout_value("elapsed_ms");

    let allowed = paths.profile().allowed();
    for name in CHILD_MARKERS.iter().chain(&["getppid"]) {
        assert!(allowed.contains(*name), "{name} missing from {allowed:?}");
    }
    let report = paths.report();
    assert_eq!(
        report.count("getppid"),
        calls,
        "getppid: recorded vs made\n{output}"
    );
    // Child i makes CHILD_MARKERS[i % 4]; nothing else in the workload makes them.
    for (k, name) in CHILD_MARKERS.iter().enumerate() {
        let made = children / 4 + u64::from((k as u64) < children % 4);
        assert_eq!(
            report.count(name),
            made,
            "{name}: recorded vs made by {children} children\n{output}"
        );
    }

    let total = report.total_syscalls();
    eprintln!(
        "stress under record: {total} syscalls in {elapsed_ms} ms = {:.0}/s ({calls} getppid, \
         {children} children)",
        total as f64 * 1000.0 / elapsed_ms as f64
    );
    assert!(
        total >= MIN_SYSCALLS && children >= MIN_CHILDREN,
        "not a storm: {total} syscalls and {children} children in {elapsed_ms} ms (want at least \
         {MIN_SYSCALLS} and {MIN_CHILDREN})\n{output}"
    );
}

/// A 64-bit process entering through `int 0x80` makes ia32 syscalls, and seccomp filters them by
/// the ia32 table (arch AUDIT_ARCH_I386). Number 147 is `getsid` there and `sched_getscheduler`
/// natively: the recorder must count all of them, exactly, as ia32 `getsid`; the profile must let
/// the replay make them; and without `getsid` the first one is denied.
#[test]
fn ia32_syscalls_are_recorded_by_their_own_table() {
    const CALLS: u64 = 1000;
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "ia32");
    let workload = workload("ia32-getsid").to_string_lossy().into_owned();
    let cmd = [workload.as_str(), "--calls", &CALLS.to_string()];
    let output = record(&paths, &cmd, TIMEOUT);
    assert_eq!(output.stdout_value("calls"), CALLS, "{output}");

    let report = paths.report();
    assert_eq!(
        report.count_in("getsid", "SCMP_ARCH_X86"),
        CALLS,
        "ia32 getsid: recorded vs made\n{output}"
    );
    assert_eq!(report.count("getsid"), 0, "counted as native getsid");
    assert_eq!(
        report.count("sched_getscheduler"),
        0,
        "ia32 147 counted as native 147"
    );
    // 32-bit code ran, so its signal-return path is implied along with the native one.
    assert!(
        report.implied().contains("sigreturn"),
        "{:?}",
        report.implied()
    );
    let profile = paths.profile();
    assert!(
        profile.allowed().contains("getsid"),
        "{:?}",
        profile.allowed()
    );
    let architectures = &profile.json["architectures"];
    assert!(
        architectures
            .as_array()
            .is_some_and(|list| list.iter().any(|arch| arch == "SCMP_ARCH_X86")),
        "SCMP_ARCH_X86 missing from {architectures}"
    );

    let replay = run(&mut exec_command(&paths.profile, &cmd), TIMEOUT);
    replay.assert_code(0);
    assert_eq!(replay.stdout_value("calls"), CALLS, "{replay}");

    let trimmed = dir.path().join("without-getsid.json");
    profile.write_without("getsid", &trimmed);
    let denied = run(&mut exec_command(&trimmed, &cmd), TIMEOUT);
    denied.assert_code(1);
    assert!(
        denied
            .stderr
            .contains("getsid failed: Operation not permitted"),
        "{denied}"
    );
}

/// Two recordings at once see only their own workload: each profile has its marker and not the
/// other's, with exact counts.
#[test]
fn concurrent_recordings_stay_separate() {
    let dir = tempdir();
    let marker = workload("marker").to_string_lossy().into_owned();
    let jobs: Vec<_> = [("sysinfo", "times"), ("times", "sysinfo")]
        .into_iter()
        .map(|(own, other)| {
            let paths = RecordPaths::new(dir.path(), own);
            let cmd = [marker.as_str(), "--syscall", own, "--millis", "3000"];
            let running = spawn(&mut paths.command(&[], &cmd));
            (own, other, paths, running)
        })
        .collect();
    for (own, other, paths, running) in jobs {
        let output = running.wait(TIMEOUT);
        output.assert_code(0);
        let calls = output.stdout_value("calls");
        let allowed = paths.profile().allowed();
        assert!(
            allowed.contains(own),
            "{own} missing from its own profile {allowed:?}"
        );
        assert!(
            !allowed.contains(other),
            "{other} leaked into {own}'s profile {allowed:?}"
        );
        let report = paths.report();
        assert_eq!(
            report.count(own),
            calls,
            "{own}: recorded vs made\n{output}"
        );
        assert_eq!(report.count(other), 0);
    }
}

#[test]
fn missing_output_directory_is_bad_input_and_runs_nothing() {
    let dir = tempdir();
    let ran = dir.path().join("cmd-ran");
    let report = dir.path().join("report.json");
    let output = run(
        &mut profiler_command([
            "record".as_ref(),
            "-o".as_ref(),
            "/nonexistent-dir/x.json".as_ref(),
            "--report".as_ref(),
            report.as_os_str(),
            "--".as_ref(),
            "touch".as_ref(),
            ran.as_os_str(),
        ]),
        TIMEOUT,
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("/nonexistent-dir"),
        "the message names the directory\n{output}"
    );
    assert!(!std::path::Path::new("/nonexistent-dir").exists());
    assert!(
        !ran.exists(),
        "the command ran although the output cannot be written\n{output}"
    );
    assert!(
        !report.exists(),
        "a report was written for a run that did not happen\n{output}"
    );
}

#[test]
fn missing_command_is_bad_input() {
    let output = run(
        &mut profiler_command(["record", "--", "/no/such/cmd"]),
        TIMEOUT,
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("/no/such/cmd"),
        "the message names the command\n{output}"
    );
    assert!(
        output.stdout.is_empty(),
        "no profile for a command that never ran\n{output}"
    );
}

#[test]
fn exec_with_missing_profile_is_bad_input() {
    let output = run(
        &mut profiler_command(["exec", "--profile", "/no/such.json", "--", "true"]),
        TIMEOUT,
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("/no/such.json"),
        "the message names the profile\n{output}"
    );
}

#[test]
fn failing_command_still_writes_a_profile() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "exit-7");
    let output = run(
        &mut paths.command(&[], &["/bin/sh", "-c", "exit 7"]),
        TIMEOUT,
    );
    output.assert_code(5);
    let allowed = paths.profile().allowed();
    assert!(
        allowed.contains("execve") && allowed.contains("exit_group"),
        "{allowed:?}"
    );
    let report = paths.report();
    assert_eq!(report.run()["exit_code"], 7, "{:#}", report.run());
    assert_eq!(report.run()["cut_short"], false, "{:#}", report.run());
}

#[test]
fn duration_cuts_the_run_short() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "sleep");
    let output = run(
        &mut paths.command(&["--duration", "1s"], &["sleep", "30"]),
        TIMEOUT,
    );
    output.assert_code(0);
    assert!(
        output.elapsed < Duration::from_secs(8),
        "took {:?} for --duration 1s\n{output}",
        output.elapsed
    );
    let report: Report = paths.report();
    assert_eq!(report.run()["cut_short"], true, "{:#}", report.run());
    assert_eq!(
        report.run()["cut_short_reason"],
        "duration",
        "{:#}",
        report.run()
    );
    let allowed = paths.profile().allowed();
    assert!(
        allowed.contains("nanosleep") || allowed.contains("clock_nanosleep"),
        "sleep's sleeping call is missing from {allowed:?}"
    );
}

/// The demo's promise (`cargo xtask demo`): record it, replay it under the profile, and the
/// attacker's move it never made during the recording is refused.
#[test]
fn demo_workload_replays_and_ptrace_is_denied() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "demo");
    let demo = workload("demo-workload").to_string_lossy().into_owned();
    let recorded = record(&paths, &[demo.as_str()], TIMEOUT);
    assert!(
        recorded.stdout.contains("demo-workload: all steps OK"),
        "{recorded}"
    );
    let allowed = paths.profile().allowed();
    for name in [
        "socket",
        "bind",
        "listen",
        "accept4",
        "connect",
        "getdents64",
        "clone3",
    ] {
        assert!(
            allowed.contains(name),
            "{name} missing from the demo's profile {allowed:?}"
        );
    }
    assert!(!allowed.contains("ptrace"), "{allowed:?}");

    let replay = run(&mut exec_command(&paths.profile, &[demo.as_str()]), TIMEOUT);
    replay.assert_code(0);
    assert!(
        replay.stdout.contains("demo-workload: all steps OK"),
        "{replay}"
    );

    let escape = run(
        &mut exec_command(&paths.profile, &[demo.as_str(), "--escape"]),
        TIMEOUT,
    );
    escape.assert_code(3);
    assert!(
        escape
            .stdout
            .contains("demo-workload: ptrace denied: EPERM (blocked by the profile)"),
        "{escape}"
    );
}
