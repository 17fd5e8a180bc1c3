//! The fault matrix: every limit and fault ends in a clear, documented outcome, checked by exit
//! code, message and what is on disk afterwards. Many short-lived containers under one recording
//! (a slot is reused once its container is done), a full disk for one container's profile, a FIFO
//! as output, a closed stderr, durations at the edges, oversized and repetitive profiles, and
//! several recordings at once, each exact.

use std::{
    ffi::OsString,
    fs,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use seccomp_profiler_tests::{Profile, RecordPaths, profiler_command, run, spawn, workload};

use crate::support::{BUSYBOX, DockerRun, LOAD_TIMEOUT, Session, TIMEOUT, tempdir};

/// `sh -c` over `lines`, `batch` of them at a time in the background, then `wait`.
fn batched_script(lines: &[String], batch: usize) -> String {
    lines
        .chunks(batch)
        .map(|chunk| format!("{} & wait", chunk.join(" & ")))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn one_recording_records_150_short_lived_containers() {
    const COUNT: usize = 150;
    let mut session = Session::begin("many");
    let names: Vec<String> = (0..COUNT)
        .map(|i| session.container(&format!("c{i}")))
        .collect();
    // Only the first container makes `mkdir`. Its slot is taken again by a later container once
    // it is done (150 > 64 slots): that container's profile must not inherit the call.
    let lines: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let command: &[&str] = if i == 0 {
                &["mkdir", "/tmp/x"]
            } else {
                &["true"]
            };
            DockerRun::named(name).shell_line(BUSYBOX, command)
        })
        .collect();
    let script = batched_script(&lines, 10);
    let out = session.path().join("profiles");
    let mut command = profiler_command(["record", "--containers", "-o"]);
    command.arg(&out).args(["--", "sh", "-c", &script]);
    let output = run(&mut command, Duration::from_secs(600));
    output.assert_code(0);
    let mut written: Vec<String> = fs::read_dir(&out)
        .expect("read the profile directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut expected: Vec<String> = names.iter().map(|n| format!("{n}.json")).collect();
    expected.sort();
    assert_eq!(
        written, expected,
        "one profile per container\n{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains(&format!("{COUNT} container(s) recorded")),
        "{output}"
    );
    let first = Profile::read(&out.join(format!("{}.json", names[0]))).allowed();
    assert!(first.contains("mkdir"), "{first:?}");
    for name in &names[1..] {
        let allowed = Profile::read(&out.join(format!("{name}.json"))).allowed();
        assert!(
            !allowed.contains("mkdir"),
            "{name} inherited a reused slot's counts: {allowed:?}"
        );
    }
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(path).expect("mkdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount");
        assert!(status.success(), "mount a tmpfs at {}", path.display());
        Tmpfs(path.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_for_one_container_leaves_the_others_written() {
    let mut session = Session::begin("fulldisk");
    let [first, full, last] = ["first", "full", "last"].map(|role| session.container(role));
    let out = session.path().join("profiles");
    let _tmpfs = Tmpfs::mount(&out, "1m");
    let fill = out.join("fill");
    // `first` is written before the disk fills (the script waits for its profile, at most 10 s:
    // the recorder handles a `die` asynchronously), and the disk is full from before `full`
    // starts until well after its `die` was handled.
    let script = format!(
        "{a}; for i in $(seq 100); do [ -e {written} ] && break; sleep 0.1; done; \
         dd if=/dev/zero of={fill} bs=64k 2>/dev/null; {b}; sleep 2; rm {fill}; {c}",
        a = DockerRun::named(&first).shell_line(BUSYBOX, &["true"]),
        written = out.join(format!("{first}.json")).display(),
        b = DockerRun::named(&full).shell_line(BUSYBOX, &["true"]),
        c = DockerRun::named(&last).shell_line(BUSYBOX, &["true"]),
        fill = fill.display(),
    );
    let mut command = profiler_command(["record", "--containers", "-o"]);
    command.arg(&out).args(["--", "sh", "-c", &script]);
    let output = run(&mut command, LOAD_TIMEOUT);
    output.assert_code(4);
    let failed = out.join(format!("{full}.json"));
    let expected = format!(
        "error: container {full}: cannot write the profile to {}: No space left on device",
        failed.display()
    );
    assert!(
        output.stderr.contains(&expected),
        "expected {expected:?}\n{output}"
    );
    assert!(
        output.stderr.contains(&format!(
            "FAILED: 1 container(s) recorded but not written: {full}"
        )),
        "{output}"
    );
    for name in [&first, &last] {
        let profile = Profile::read(&out.join(format!("{name}.json")));
        assert!(profile.allowed().contains("execve"), "{name}");
    }
    let left: Vec<String> = fs::read_dir(&out)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!failed.exists(), "no half-written profile: {left:?}");
    assert!(
        left.iter().all(|name| !name.ends_with(".tmp")),
        "no temporary file left: {left:?}"
    );
}

#[test]
fn a_fifo_nobody_reads_is_refused_instead_of_hanging() {
    let dir = tempdir();
    let fifo = dir.path().join("p.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let output = run(
        profiler_command(["record", "-o"])
            .arg(&fifo)
            .args(["--", "true"]),
        TIMEOUT,
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("is a FIFO that nobody reads"),
        "{output}"
    );
}

#[test]
fn a_closed_stderr_does_not_crash_the_recorder() {
    let dir = tempdir();
    let paths = RecordPaths::new(dir.path(), "quiet");
    let mut child = paths
        .command(&[], &["true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn record");
    // The reader goes away before the recorder writes its summary.
    drop(child.stderr.take());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("record with a closed stderr did not end within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "not a panic's 101");
    assert!(paths.profile().allowed().contains("execve"));
}

#[test]
fn durations_at_the_edges_are_input_errors() {
    for (duration, message) in [
        ("0", "it must be longer than zero"),
        ("0s", "it must be longer than zero"),
        ("18446744073709551615s", "at most a year"),
    ] {
        let output = run(
            &mut profiler_command(["record", "--duration", duration, "--", "true"]),
            TIMEOUT,
        );
        output.assert_code(2);
        assert!(output.stderr.contains(message), "{duration}: {output}");
    }
}

#[test]
fn oversized_and_repetitive_profiles_are_answered_quickly() {
    let output = run(&mut profiler_command(["validate", "/dev/zero"]), TIMEOUT);
    output.assert_code(2);
    assert!(output.stderr.contains("16 MiB"), "{output}");
    assert!(output.elapsed < Duration::from_secs(2), "{output}");

    let dir = tempdir();
    let names = [
        "read", "write", "openat", "close", "mmap", "futex", "execve",
    ];
    let list: Vec<String> = (0..100_000)
        .map(|i| format!("\"{}\"", names[i % names.len()]))
        .collect();
    let profile = dir.path().join("big.json");
    fs::write(
        &profile,
        format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":[{}],"action":"SCMP_ACT_ALLOW"}}]}}"#,
            list.join(",")
        ),
    )
    .expect("write profile");
    let output = run(profiler_command(["validate"]).arg(&profile), TIMEOUT);
    output.assert_code(0);
    assert!(
        output.elapsed < Duration::from_secs(2),
        "100,000 names took {:?}\n{output}",
        output.elapsed
    );
}

#[test]
fn four_recordings_and_a_containers_recording_at_once_stay_exact() {
    let mut session = Session::begin("together");
    let container = session.container("ls");
    let out = session.path().join("profiles");
    let argv: Vec<OsString> = DockerRun::named(&container).argv(BUSYBOX, &["ls", "/"]);
    let mut containers = profiler_command(["record", "--containers", "-o"]);
    containers.arg(&out).arg("--").args(&argv);
    let containers = spawn(&mut containers);
    let marker = workload("marker").to_string_lossy().into_owned();
    let own = ["sysinfo", "times", "getsid", "sched_getscheduler"];
    let jobs: Vec<_> = own
        .iter()
        .map(|syscall| {
            let paths = RecordPaths::new(session.path(), syscall);
            let cmd = [marker.as_str(), "--syscall", syscall, "--millis", "2000"];
            (
                *syscall,
                paths.clone(),
                spawn(&mut paths.command(&[], &cmd)),
            )
        })
        .collect();
    for (syscall, paths, running) in jobs {
        let output = running.wait(TIMEOUT);
        output.assert_code(0);
        let report = paths.report();
        assert_eq!(
            report.count(syscall),
            output.stdout_value("calls"),
            "{output}"
        );
        for other in own.iter().filter(|o| **o != syscall) {
            assert_eq!(
                report.count(other),
                0,
                "{other} leaked into {syscall}'s recording"
            );
        }
    }
    let output = containers.wait(LOAD_TIMEOUT);
    output.assert_code(0);
    let allowed = Profile::read(&out.join(format!("{container}.json"))).allowed();
    assert!(allowed.contains("getdents64"), "{allowed:?}");
    for marker in own {
        assert!(
            !allowed.contains(marker),
            "{marker} leaked into the container: {allowed:?}"
        );
    }
}

#[test]
fn exec_under_a_profile_no_process_can_exit_under_is_refused() {
    let dir = tempdir();
    let profile = dir.path().join("noexit.json");
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["execve","read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .expect("write profile");
    let output = run(
        profiler_command(["exec", "--profile"])
            .arg(&profile)
            .args(["--", "true"]),
        TIMEOUT,
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("allows neither exit_group nor exit"),
        "{output}"
    );
    // With `exit` allowed, a refused execve still ends in the documented 126, not a SIGSEGV.
    let exits = dir.path().join("exit-only.json");
    fs::write(
        &exits,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["exit","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .expect("write profile");
    let output = run(
        profiler_command(["exec", "--profile"])
            .arg(&exits)
            .args(["--", "true"]),
        TIMEOUT,
    );
    output.assert_code(126);
}
