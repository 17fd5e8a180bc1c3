//! Stopping a recording, for every target alike: SIGTERM, SIGINT and SIGHUP to `record -- CMD`,
//! `record --containers -- CMD` and `record --container NAME` each end in a complete profile whose
//! report says `cut_short` and names the signal; the workload is stopped (SIGKILL after the 5 s
//! grace period when it ignores SIGTERM) and no recorder cgroup is left. A recorder killed with
//! SIGKILL cannot clean up, so the next one removes its cgroup.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{Output, Profile, RecordPaths, Report, profiler_command, run, spawn};

use crate::support::{BUSYBOX, QUICK_TIMEOUT, Session, TIMEOUT, docker, tempdir, wait_for};

/// The grace period `record` gives a workload between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

const SIGNALS: [(libc::c_int, &str); 3] = [
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGHUP, "SIGHUP"),
];

fn cgroup2_root() -> PathBuf {
    seccomp_profiler::cgroup::cgroup2_mount().expect("a cgroup2 mount")
}

/// The cgroups a recorder with this pid made, still present.
fn recorder_cgroups(pid: u32) -> Vec<String> {
    let prefix = format!("seccomp-profiler-{pid}-");
    std::fs::read_dir(cgroup2_root())
        .expect("read the cgroup2 root")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

fn send(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'))
        })
}

/// The report's run says it was cut short by `signal`.
fn assert_cut_short(report: &Report, reason: &str, output: &Output) {
    let run = report.run();
    assert_eq!(run["cut_short"], true, "{run:#}\n{output}");
    assert_eq!(run["cut_short_reason"], reason, "{run:#}\n{output}");
}

#[test]
fn a_signal_stops_a_command_and_its_profile_is_written() {
    for (signal, name) in SIGNALS {
        let dir = tempdir();
        let paths = RecordPaths::new(dir.path(), name);
        let pid_file = dir.path().join("workload.pid");
        // Only the SIGTERM case ignores SIGTERM: it must be killed after the grace period.
        let trap = if signal == libc::SIGTERM {
            "trap '' TERM; "
        } else {
            ""
        };
        let script = format!(
            "{trap}echo $$ > {}; while true; do sleep 0.2; done",
            pid_file.display()
        );
        let running = spawn(&mut paths.command(&[], &["sh", "-c", &script]));
        let recorder = running.pid();
        wait_for("the workload to start", TIMEOUT, || {
            std::fs::read_to_string(&pid_file).is_ok_and(|t| t.ends_with('\n'))
        });
        let workload: u32 = std::fs::read_to_string(&pid_file)
            .expect("pid file")
            .trim()
            .parse()
            .expect("a pid");
        // Let the loop go round (each `sleep 0.2` is a fork and a wait4): a signal right after
        // the pid file can land while the shell is still between its vfork and its first wait4,
        // and then there is no loop in the profile to check.
        std::thread::sleep(Duration::from_millis(500));
        let signalled = Instant::now();
        send(recorder, signal);
        let output = running.wait(TIMEOUT);
        output.assert_code(0);
        let took = signalled.elapsed();
        if signal == libc::SIGTERM {
            assert!(
                took >= GRACE && took < GRACE + Duration::from_secs(8),
                "a workload that ignores SIGTERM is killed after the grace period: took {took:?}\n{output}"
            );
        } else {
            assert!(
                took < GRACE,
                "{name}: the workload stops on SIGTERM: took {took:?}\n{output}"
            );
        }
        assert_cut_short(&paths.report(), name, &output);
        let allowed = paths.profile().allowed();
        assert!(
            allowed.contains("wait4")
                && ["clone", "fork", "vfork"]
                    .iter()
                    .any(|spawn| allowed.contains(*spawn)),
            "{name}: the profile covers the loop the shell ran: {allowed:?}\n{output}"
        );
        assert!(
            !pid_alive(workload),
            "{name}: the workload {workload} still runs"
        );
        assert_eq!(
            recorder_cgroups(recorder),
            Vec::<String>::new(),
            "{name}: cgroup left behind"
        );
    }
}

#[test]
fn a_signal_stops_the_containers_a_command_started() {
    for (signal, name) in SIGNALS {
        let mut session = Session::begin(&format!("sig{}", name.to_lowercase()));
        let container = session.container("loop");
        // PID 1 in a container has no default action for SIGTERM: this one ignores it, so it is
        // stopped only by the SIGKILL after the grace period.
        let argv = crate::support::DockerRun::named(&container)
            .argv(BUSYBOX, &["sh", "-c", "while true; do sleep 1; done"]);
        let out = session.path().join("profiles");
        let reports = session.path().join("reports");
        let mut command = profiler_command(["record", "--containers"]);
        command
            .arg("-o")
            .arg(&out)
            .arg("--report-dir")
            .arg(&reports)
            .arg("--")
            .args(&argv);
        let running = spawn(&mut command);
        let recorder = running.pid();
        wait_for("the container to run", QUICK_TIMEOUT, || {
            container_running(&container)
        });
        let signalled = Instant::now();
        send(recorder, signal);
        let output = running.wait(TIMEOUT);
        output.assert_code(0);
        let took = signalled.elapsed();
        assert!(
            took < GRACE + Duration::from_secs(8),
            "{name}: the container is killed after the grace period: took {took:?}\n{output}"
        );
        let report = Report::read(&reports.join(format!("{container}.report.json")));
        assert_cut_short(&report, name, &output);
        let profile = Profile::read(&out.join(format!("{container}.json")));
        assert!(
            profile.allowed().contains("nanosleep")
                || profile.allowed().contains("clock_nanosleep"),
            "{name}: the container's sleep is in its profile: {:?}",
            profile.allowed()
        );
        wait_for("the container to be gone", QUICK_TIMEOUT, || {
            !container_exists(&container)
        });
        assert_eq!(
            recorder_cgroups(recorder),
            Vec::<String>::new(),
            "{name}: cgroup left behind"
        );
    }
}

#[test]
fn containers_with_a_duration_end_within_the_grace_period() {
    let mut session = Session::begin("sigduration");
    let container = session.container("loop");
    let argv = crate::support::DockerRun::named(&container).argv(
        BUSYBOX,
        &["sh", "-c", "trap '' TERM INT; while true; do sleep 1; done"],
    );
    let out = session.path().join("profiles");
    let mut command = profiler_command(["record", "--containers", "--duration", "2s"]);
    command.arg("-o").arg(&out).arg("--").args(&argv);
    let output = run(&mut command, TIMEOUT);
    output.assert_code(0);
    // Set-up (loading the programs, starting the container) is not part of --duration.
    assert!(
        output.elapsed < Duration::from_secs(2) + GRACE + Duration::from_secs(8),
        "took {:?}\n{output}",
        output.elapsed
    );
    assert!(out.join(format!("{container}.json")).is_file(), "{output}");
    wait_for("the container to be gone", QUICK_TIMEOUT, || {
        !container_exists(&container)
    });
}

#[test]
fn a_signal_ends_an_attached_recording_and_leaves_the_container_running() {
    for (signal, name) in SIGNALS {
        let mut session = Session::begin(&format!("attach{}", name.to_lowercase()));
        let container = session.container("loop");
        let start = crate::support::DockerRun::named(&container)
            .detached()
            .command(BUSYBOX, &["sh", "-c", "while true; do sleep 0.2; done"]);
        run(&mut { start }, QUICK_TIMEOUT).assert_code(0);
        let paths = RecordPaths::new(session.path(), name);
        let mut command = profiler_command(["record", "--container", &container, "-o"]);
        command
            .arg(&paths.profile)
            .arg("--report")
            .arg(&paths.report);
        let running = spawn(&mut command);
        // The signal handlers are in place before anything is attached; a signal that arrives
        // while attaching still ends the recording cleanly, just with fewer syscalls.
        std::thread::sleep(Duration::from_millis(1500));
        send(running.pid(), signal);
        let output = running.wait(TIMEOUT);
        output.assert_code(0);
        assert_cut_short(&paths.report(), name, &output);
        assert!(paths.profile().allowed().contains("wait4"), "{output}");
        assert!(
            container_running(&container),
            "{name}: an attached container is left running"
        );
    }
}

#[test]
fn the_next_recording_removes_the_cgroup_of_a_killed_recorder() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "killed");
    let pid_file = dir.path().join("workload.pid");
    // The workload outlives the recorder: it must not hold the test's output pipes open.
    let script = format!(
        "echo $$ > {}; exec sleep 600 >/dev/null 2>&1",
        pid_file.display()
    );
    let running = spawn(&mut paths.command(&[], &["sh", "-c", &script]));
    let recorder = running.pid();
    wait_for("the workload to start", TIMEOUT, || pid_file.is_file());
    send(recorder, libc::SIGKILL);
    let killed = running.wait(TIMEOUT);
    assert_eq!(
        killed.status.code(),
        None,
        "the recorder was killed\n{killed}"
    );
    let left = recorder_cgroups(recorder);
    assert_eq!(
        left.len(),
        1,
        "a SIGKILLed recorder cannot clean up: {left:?}\n{killed}"
    );
    let workload: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(
        pid_alive(workload),
        "the orphaned workload still runs until the next recorder"
    );

    let next = RecordPaths::new(dir.path(), "next");
    let output = run(&mut next.command(&[], &["true"]), TIMEOUT);
    output.assert_code(0);
    let expected = format!(
        "removed cgroup {} left by a recorder (pid {recorder}) that is gone; killed the 1 process(es) still in it",
        cgroup2_root().join(&left[0]).display()
    );
    assert!(
        output.stderr.contains(&expected),
        "expected {expected:?}\n{output}"
    );
    assert_eq!(recorder_cgroups(recorder), Vec::<String>::new());
    wait_for("the orphaned workload to be gone", QUICK_TIMEOUT, || {
        !pid_alive(workload)
    });
}

fn container_running(name: &str) -> bool {
    let out = docker(["inspect", "-f", "{{.State.Running}}", name])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

fn container_exists(name: &str) -> bool {
    docker(["inspect", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("docker inspect")
        .success()
}
