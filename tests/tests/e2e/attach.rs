//! Privileged: `record --container NAME` attaches to a running container. What it already does is
//! recorded from then on, and a `docker exec` into it during the recording is recorded too (it runs
//! under the container's profile). The start-up was not seen, so on its own the profile cannot start
//! a container (the summary says so); merged with a recording of the start it runs the workload, and
//! anything else is denied.

use std::time::Duration;

use seccomp_profiler_tests::{Profile, Report, profiler_command, run, spawn};

use crate::support::{BUSYBOX, DockerRun, QUICK_TIMEOUT, Session, assert_no_runtime_setup, docker};

/// The container's steady state: list a directory and sleep, forever.
const LOOP: &str = "while true; do ls / >/dev/null; sleep 0.1; done";

#[test]
fn attach_records_a_running_container_and_its_execs() {
    let mut session = Session::begin("attach");
    let name = session.container("rec");
    let started = DockerRun::named(&name)
        .detached()
        .command(BUSYBOX, &["sh", "-c", LOOP])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("docker run");
    assert!(started.success());
    std::thread::sleep(Duration::from_millis(300));

    let attached = session.path().join("attached.json");
    let report_path = session.path().join("attached.report.json");
    let mut command =
        profiler_command(["record", "--container", name.as_str(), "--duration", "3s"]);
    command
        .arg("-o")
        .arg(&attached)
        .arg("--report")
        .arg(&report_path);
    let recording = spawn(&mut command);
    // While attached, a `docker exec` runs something the loop never does (busybox mkdir → mkdir(2)).
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        docker(["exec", name.as_str(), "mkdir", "/tmp/made-by-exec"])
            .status()
            .expect("exec")
            .success()
    );
    let output = recording.wait(QUICK_TIMEOUT);
    output.assert_code(0);
    assert!(
        output.stderr.contains("its start-up was not seen"),
        "{}",
        output.stderr
    );

    let profile = Profile::read(&attached);
    let allowed = profile.allowed();
    for syscall in ["getdents64", "wait4", "execve", "openat", "mkdir"] {
        assert!(
            allowed.contains(syscall),
            "{syscall} is recorded: {allowed:?}"
        );
    }
    assert!(
        allowed.contains("nanosleep") || allowed.contains("clock_nanosleep"),
        "{allowed:?}"
    );
    assert!(
        !allowed.contains("symlink") && !allowed.contains("symlinkat"),
        "nothing made a symlink"
    );
    assert_no_runtime_setup(&profile);
    let report = Report::read(&report_path);
    assert_eq!(report.run()["target"], "container");
    assert_eq!(report.run()["container"]["name"], name.as_str());
    assert_eq!(report.run()["container"]["attached_after_start"], true);
    assert_eq!(report.run()["cut_short_reason"], "duration");

    // Alone, it lacks runc's start-up work after the filter install: Docker cannot start under it.
    let loop_once = "ls / >/dev/null && mkdir /tmp/x && sleep 0.1 && echo done";
    let run_under = |profile: &std::path::Path, cmd: &[&str]| {
        run(
            &mut DockerRun::new().seccomp(profile).command(BUSYBOX, cmd),
            QUICK_TIMEOUT,
        )
    };
    let alone = run_under(&attached, &["sh", "-c", loop_once]);
    assert!(
        !alone.status.success() && alone.stderr.contains("operation not permitted"),
        "{}",
        alone.stderr
    );

    // Merged with a recording of a start, it runs the workload; a symlink stays denied.
    let start_dir = session.path().join("start");
    let starter = session.container("start");
    let mut record_start = profiler_command(["record", "--containers", "-o"]);
    record_start
        .arg(&start_dir)
        .arg("--")
        .args(DockerRun::named(&starter).argv(BUSYBOX, &["true"]));
    run(&mut record_start, QUICK_TIMEOUT).assert_code(0);
    let merged = session.path().join("merged.json");
    let mut merge = profiler_command(["merge"]);
    merge
        .arg(&attached)
        .arg(start_dir.join(format!("{starter}.json")))
        .arg("-o")
        .arg(&merged);
    run(&mut merge, QUICK_TIMEOUT).assert_code(0);
    let works = run_under(&merged, &["sh", "-c", loop_once]);
    assert!(
        works.status.success() && works.stdout.contains("done"),
        "{}\n{}",
        works.stdout,
        works.stderr
    );
    let denied = run_under(&merged, &["ln", "-s", "/a", "/tmp/b"]);
    assert!(
        !denied.status.success() && denied.stderr.contains("Operation not permitted"),
        "{}",
        denied.stderr
    );
}
