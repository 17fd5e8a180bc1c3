//! End to end: `seccomp-profiler record --containers -- CMD` against real Docker containers
//! (dockerd 20.10, runc 1.1.5) built from this host's files (`cargo xtask images`). Each test
//! records containers under load and asserts exact names in their profiles (the server's own calls
//! in, runc's setup before the filter install out), then replays the same load under the profile
//! with `--security-opt seccomp=FILE`, with and without no-new-privileges, and shows a call outside
//! the profile refused with EPERM. A stub recorder fails all of them.
//!
//! Run with `cargo xtask test`: it starts dockerd, builds the images and sets
//! `SECCOMP_PROFILER_IMAGES=1`; without it every test here panics. The servers use fixed loopback
//! ports (nginx 8080, redis 6380), so the tests run one at a time (they also take a lock), and they
//! remove every container they start, also when they fail. The load itself is in `tests/scripts/`:
//! the same script is the recorded CMD and, unchanged, each replay.

use std::{collections::BTreeSet, ffi::OsString, time::Instant};

use seccomp_profiler_tests::{Profile, names, profiler_command, run};

use crate::support::{
    BUSYBOX, DOCKER_DEFAULT_ALLOWS, DockerRun, LOAD_TIMEOUT, NGINX, QUICK_TIMEOUT, REDIS,
    Recording, Session, assert_allows, assert_allows_none, assert_allows_one_of, assert_container,
    assert_denied, assert_no_runtime_setup, assert_report_agrees, assert_valid, check_compose,
    check_nginx, check_redis, replay_load, value,
};

/// The profile a recording wrote for container `name`; the summary must name the container too.
fn only_profile(recording: &Recording, name: &str) -> Profile {
    let written = recording.profile_names();
    assert!(
        written.contains(name),
        "no profile named {name} among {written:?}\n{}",
        recording.output
    );
    assert!(
        recording
            .output
            .stderr
            .contains(&format!("recorded container {name} ")),
        "the summary does not name {name}\n{}",
        recording.output
    );
    recording.profile(name)
}

fn print_size(label: &str, profile: &Profile) {
    let bytes = std::fs::metadata(&profile.path).map_or(0, |meta| meta.len());
    eprintln!(
        "{label}: {} names allowed ({bytes} bytes): {:?}",
        profile.allowed().len(),
        profile.allowed()
    );
}

/// nginx under ≥ 200 requests and a `docker exec … nginx -s reload`: the profile has what the
/// master, its workers and the exec'd `nginx -s` do, none of runc's setup; 5/5 replays serve the
/// same load in both modes; a symlink, never made by nginx, is refused.
#[test]
fn nginx_under_load_replays_and_denies_the_rest() {
    let started = Instant::now();
    let mut session = Session::begin("nginx");
    let name = session.container("rec");
    let argv = session.script_argv("nginx-load.sh", &[&name]);
    let recording = session.record("record", &argv, LOAD_TIMEOUT);
    check_nginx(&recording.output).unwrap_or_else(|err| panic!("the recorded load failed: {err}"));

    let profile = only_profile(&recording, &name);
    let report = recording.report(&name);
    assert_container(&report, &name, "default", false);
    assert_valid(&profile);
    assert_report_agrees(&profile, &report);
    print_size("nginx", &profile);
    assert_allows(
        &profile,
        &[
            // serving: accept each connection, read the request, headers with writev, the file
            // with sendfile (`sendfile on;`), and the access log to stdout
            "accept4",
            "recvfrom",
            "writev",
            "sendfile",
            "setsockopt",
            "epoll_ctl",
            // start-up: listen, fork the worker, which drops to nobody:nogroup
            "socket",
            "bind",
            "listen",
            "clone",
            "setgid",
            "setgroups",
            "setuid",
            "socketpair",
            // reload: `nginx -s reload` (exec'd) signals the master, which waits in sigsuspend,
            // reaps the old worker and forks a new one
            "execve",
            "kill",
            "rt_sigsuspend",
            "wait4",
        ],
    );
    assert_allows_one_of(&profile, &["epoll_wait", "epoll_pwait"]);
    assert_no_runtime_setup(&profile);

    // Counts that only a recorder of this very run can know.
    let connections = value(&recording.output, "connections").unwrap_or(0);
    assert!(
        report.count("accept4") >= connections,
        "{} accept4 for {connections} connections: {:#}",
        report.count("accept4"),
        report.json
    );
    let served = value(&recording.output, "as_expected").unwrap_or(0);
    assert!(
        report.count("sendfile") >= served.saturating_sub(2),
        "{} sendfile for {served} answers (2 of them 404s)",
        report.count("sendfile")
    );
    // The entrypoint and the `docker exec`'d `nginx -s reload` (runc execs both).
    assert!(report.count("execve") >= 2, "{:#}", report.json);
    // runc for the container and for the exec, and each of the two workers dropping to nobody.
    assert!(report.count("setuid") >= 4, "{:#}", report.json);
    assert_eq!(
        report.first_comm("kill"),
        Some("nginx"),
        "{:#}",
        report.json
    );

    replay_load(
        &mut session,
        "nginx",
        &profile,
        "nginx-load.sh",
        check_nginx,
    );

    // nginx makes mkdir (its temp paths), so the refused call is a symlink.
    assert_denied(
        &mut session,
        NGINX,
        &profile,
        &["ln", "-s", "/etc/nginx/nginx.conf", "/tmp/escape"],
        &["symlink", "symlinkat"],
    );
    eprintln!("nginx test: {:.1?}", started.elapsed());
}

/// redis under redis-benchmark plus a BGSAVE (redis forks a child that writes and renames the
/// RDB): the profile has the fork and the child's file work, none of runc's setup; 5/5 replays in
/// both modes, BGSAVE included; a symlink is refused.
#[test]
fn redis_with_bgsave_replays_and_denies_the_rest() {
    let started = Instant::now();
    let mut session = Session::begin("redis");
    let name = session.container("rec");
    let argv = session.script_argv("redis-load.sh", &[&name]);
    let recording = session.record("record", &argv, LOAD_TIMEOUT);
    check_redis(&recording.output).unwrap_or_else(|err| panic!("the recorded load failed: {err}"));

    let profile = only_profile(&recording, &name);
    let report = recording.report(&name);
    assert_container(&report, &name, "default", false);
    assert_valid(&profile);
    assert_report_agrees(&profile, &report);
    print_size("redis", &profile);
    assert_allows(
        &profile,
        &[
            "accept4",
            "read",
            "write",
            "epoll_ctl",
            "socket",
            "bind",
            "listen",
            "execve",
            // runc switching to the image's user (redis, 999)
            "setuid",
            "setgid",
            // BGSAVE: fork (glibc's fork is clone), the child writes temp-<pid>.rdb, syncs it and
            // renames it to dump.rdb; the parent reaps it
            "clone",
            "rename",
            "wait4",
        ],
    );
    assert_allows_one_of(&profile, &["epoll_wait", "epoll_pwait"]);
    assert_allows_one_of(&profile, &["fsync", "fdatasync"]);
    assert_no_runtime_setup(&profile);

    // redis-benchmark opens 50 connections for each of its 4 tests.
    assert!(
        report.count("accept4") >= 200,
        "{} accept4 for ≥ 200 connections: {:#}",
        report.count("accept4"),
        report.json
    );
    assert_eq!(
        report.first_comm("clone"),
        Some("redis-server"),
        "{:#}",
        report.json
    );
    assert!(report.count("rename") >= 1, "{:#}", report.json);

    replay_load(
        &mut session,
        "redis",
        &profile,
        "redis-load.sh",
        check_redis,
    );

    assert_denied(
        &mut session,
        REDIS,
        &profile,
        &["ln", "-s", "/data", "/tmp/escape"],
        &["symlink", "symlinkat"],
    );
    eprintln!("redis test: {:.1?}", started.elapsed());
}

/// `docker run --rm busybox ls /`: the profile of a one-shot container has ls's calls and runc's
/// post-install work, none of its setup; it replays (with and without no-new-privileges), and a
/// mkdir under it gets EPERM.
#[test]
fn busybox_ls_replays_and_mkdir_is_denied() {
    let mut session = Session::begin("busybox");
    let name = session.container("rec");
    let recording = session.record(
        "record",
        &DockerRun::named(&name).argv(BUSYBOX, &["ls", "/"]),
        QUICK_TIMEOUT,
    );
    assert!(
        recording.output.stdout.lines().any(|line| line == "bin"),
        "{}",
        recording.output
    );
    let profile = only_profile(&recording, &name);
    let report = recording.report(&name);
    assert_container(&report, &name, "default", false);
    assert_valid(&profile);
    assert_report_agrees(&profile, &report);
    print_size("busybox ls", &profile);
    assert_allows(
        &profile,
        &[
            "execve",
            "getdents64",
            "openat",
            "write",
            "exit_group",
            // runc's work after it installed the filter: drop capabilities, switch user
            "capset",
            "setuid",
        ],
    );
    assert_no_runtime_setup(&profile);
    // One execve: runc's of `ls` (runc's re-exec of its own memfd copy comes before the gate).
    assert_eq!(report.count("execve"), 1, "{:#}", report.json);

    for no_new_privileges in [false, true] {
        let role = if no_new_privileges {
            "replay-nnp"
        } else {
            "replay"
        };
        let replay = run(
            &mut session
                .docker_run(role, Some(&profile.path), no_new_privileges)
                .command(BUSYBOX, &["ls", "/"]),
            QUICK_TIMEOUT,
        );
        replay.assert_code(0);
        let listed: BTreeSet<&str> = replay.stdout.lines().collect();
        for entry in ["bin", "etc", "usr", "tmp"] {
            assert!(
                listed.contains(entry),
                "{entry} missing from the replay's listing\n{replay}"
            );
        }
    }

    assert_denied(
        &mut session,
        BUSYBOX,
        &profile,
        &["mkdir", "/tmp/x"],
        &["mkdir", "mkdirat"],
    );
}

/// `docker-compose up` of two services: exactly `web.json` and `cache.json`, each the profile of
/// its own service, and the same compose load replays with each service under its profile.
#[test]
fn compose_services_get_one_profile_each_and_replay() {
    let started = Instant::now();
    let mut session = Session::begin("compose");
    let project = session.project("rec");
    let argv = session.script_argv("compose-load.sh", &[&project]);
    let recording = session.record("record", &argv, LOAD_TIMEOUT);
    check_compose(&recording.output)
        .unwrap_or_else(|err| panic!("the recorded load failed: {err}"));
    assert_eq!(
        value(&recording.output, "web_profiled"),
        Some(0),
        "{}",
        recording.output
    );

    // Exactly the two services, named after them. Containers someone else started meanwhile on
    // this machine (named after themselves) are recorded too; they are not this test's.
    let foreign: BTreeSet<String> = recording.foreign(&project).into_iter().collect();
    let expected = names(&["cache", "web"]);
    let own = |written: BTreeSet<String>| -> BTreeSet<String> {
        written.difference(&foreign).cloned().collect()
    };
    assert_eq!(
        own(recording.profile_names()),
        expected,
        "{}",
        recording.output
    );
    assert_eq!(
        own(recording.report_names()),
        expected,
        "{}",
        recording.output
    );
    for (service, image) in [("web", NGINX), ("cache", REDIS)] {
        let report = recording.report(service);
        let container = &report.run()["container"];
        assert_eq!(container["compose_service"], service, "{container:#}");
        assert_eq!(
            container["compose_project"],
            project.as_str(),
            "{container:#}"
        );
        assert_eq!(container["image"], image, "{container:#}");
        assert_container(&report, &format!("{project}_{service}_1"), "default", false);
        let profile = recording.profile(service);
        assert_valid(&profile);
        assert_report_agrees(&profile, &report);
        assert_no_runtime_setup(&profile);
        print_size(&format!("compose {service}"), &profile);
    }
    let web = recording.profile("web");
    let cache = recording.profile("cache");
    assert_allows(&web, &["accept4", "sendfile", "writev", "execve"]);
    assert_allows(&cache, &["accept4", "clone", "rename", "wait4", "execve"]);
    // Each profile is its own service's: nginx never renames, redis never uses sendfile.
    assert_allows_none(&web, &["rename"], "redis's BGSAVE, not nginx");
    assert_allows_none(
        &cache,
        &["sendfile", "rt_sigsuspend"],
        "nginx's, not redis's",
    );

    let override_file = session.path().join("replay.yml");
    let yaml = format!(
        "version: \"2.4\"\nservices:\n  web:\n    security_opt: [\"seccomp={}\"]\n  cache:\n    security_opt: [\"seccomp={}\"]\n",
        web.path.display(),
        cache.path.display()
    );
    std::fs::write(&override_file, yaml)
        .unwrap_or_else(|err| panic!("cannot write the override: {err}"));
    let replay_project = session.project("replay");
    let replay = session.run_script(
        "compose-load.sh",
        &[
            OsString::from(&replay_project),
            override_file.into_os_string(),
        ],
    );
    check_compose(&replay)
        .unwrap_or_else(|err| panic!("compose replay under web.json and cache.json: {err}"));
    assert_eq!(
        value(&replay, "web_profiled"),
        Some(1),
        "the override did not apply\n{replay}"
    );
    eprintln!("replay compose (web.json + cache.json): 1/1 passed");
    eprintln!("compose test: {:.1?}", started.elapsed());
}

/// The same container recorded ten times gives the same bytes: profiles are checked in and diffed.
#[test]
fn busybox_recordings_are_byte_identical() {
    let mut session = Session::begin("determinism");
    let mut first: Option<(Vec<u8>, Profile)> = None;
    for i in 0..10 {
        let name = session.container(&format!("ls{i}"));
        let recording = session.record(
            &format!("run{i}"),
            &DockerRun::named(&name).argv(BUSYBOX, &["ls", "/"]),
            QUICK_TIMEOUT,
        );
        let profile = only_profile(&recording, &name);
        if i == 0 {
            print_size("busybox ls (determinism, run 0)", &profile);
        }
        let bytes = std::fs::read(&profile.path).unwrap_or_else(|err| panic!("{err}"));
        match &first {
            None => first = Some((bytes, profile)),
            Some((expected, first_profile)) => assert!(
                bytes == *expected,
                "recording {i} differs from recording 0: only in 0: {:?}, only in {i}: {:?}{}\n--- {} ---\n{}\n--- {} ---\n{}",
                first_profile
                    .allowed()
                    .difference(&profile.allowed())
                    .collect::<Vec<_>>(),
                profile
                    .allowed()
                    .difference(&first_profile.allowed())
                    .collect::<Vec<_>>(),
                crate::support::dev_null_problem()
                    .map(|problem| format!("\n{problem}"))
                    .unwrap_or_default(),
                first_profile.path.display(),
                String::from_utf8_lossy(expected),
                profile.path.display(),
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
}

/// The summary on stderr compares the profile with Docker's default profile, with real counts.
#[test]
fn summary_names_dockers_default_and_the_profiles_count() {
    let mut session = Session::begin("summary");
    let name = session.container("rec");
    let recording = session.record(
        "record",
        &DockerRun::named(&name).argv(BUSYBOX, &["ls", "/"]),
        QUICK_TIMEOUT,
    );
    let profile = only_profile(&recording, &name);
    print_size("busybox ls (summary)", &profile);
    let allowed = profile.allowed().len();
    let stderr = &recording.output.stderr;
    let expected = format!(
        "{allowed} syscalls allowed; Docker's default profile allows {DOCKER_DEFAULT_ALLOWS} ("
    );
    assert!(
        stderr.contains(&expected),
        "no `{expected}` in the summary\n{}",
        recording.output
    );
    let fewer = format!("{} fewer)", DOCKER_DEFAULT_ALLOWS - allowed);
    assert!(
        stderr.contains(&fewer),
        "no `{fewer}` in the summary\n{}",
        recording.output
    );
    assert!(
        stderr.contains(&format!("profile written to {}", profile.path.display())),
        "{}",
        recording.output
    );
    eprintln!(
        "summary: {}",
        stderr
            .lines()
            .find(|line| line.contains("syscalls allowed"))
            .unwrap_or_default()
            .trim()
    );
}

/// `seccomp=unconfined`: no filter is ever installed, so the gate is the container's first execve
/// and the report says the profile holds only the application's calls (Docker cannot start the
/// container under it: runc's post-install work is missing).
#[test]
fn unconfined_container_is_gated_on_first_execve() {
    let mut session = Session::begin("unconfined");
    let name = session.container("rec");
    let recording = session.record(
        "record",
        &DockerRun::named(&name)
            .seccomp("unconfined")
            .argv(BUSYBOX, &["ls", "/"]),
        QUICK_TIMEOUT,
    );
    let profile = only_profile(&recording, &name);
    let report = recording.report(&name);
    assert_container(&report, &name, "unconfined", false);
    let run_info = report.run();
    let gate = run_info["gate"].as_str().unwrap_or_default();
    assert!(gate.starts_with("first execve"), "gate: {run_info:#}");
    let warnings: Vec<&str> = report.json["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|warning| warning.as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|warning| warning.contains("seccomp=unconfined")),
        "no warning about seccomp=unconfined: {warnings:?}"
    );
    assert!(
        recording
            .output
            .stderr
            .contains("warning: recorded with seccomp=unconfined"),
        "{}",
        recording.output
    );
    assert_allows(&profile, &["execve", "getdents64", "write", "exit_group"]);
    assert_no_runtime_setup(&profile);
    // Counted from the execve on: runc's capset and setgroups, made before it, are not.
    assert_allows_none(
        &profile,
        &["capset", "setgroups"],
        "runc's work before the first execve",
    );
    eprintln!("busybox ls (unconfined): {} names", profile.allowed().len());

    let replay = run(
        &mut session
            .docker_run("replay", Some(&profile.path), false)
            .command(BUSYBOX, &["ls", "/"]),
        QUICK_TIMEOUT,
    );
    assert_ne!(
        replay.status.code(),
        Some(0),
        "the warning says Docker cannot start it\n{replay}"
    );
}

/// no-new-privileges: runc installs the filter just before execve, so its capset/setuid come
/// before the gate and stay out; the report says so and the profile replays with no-new-privileges.
/// `--nnp on` makes the profile for that mode alone (by default it would also carry runc's
/// measured no-new-privileges-off phase: tests/tests/e2e/runtimes.rs).
#[test]
fn no_new_privileges_recording_replays_with_it() {
    let mut session = Session::begin("nnp");
    let name = session.container("rec");
    let recording = session.record_with(
        "record",
        &["--nnp", "on"],
        &DockerRun::named(&name)
            .no_new_privileges()
            .argv(BUSYBOX, &["ls", "/"]),
        QUICK_TIMEOUT,
        0,
    );
    let profile = only_profile(&recording, &name);
    let report = recording.report(&name);
    assert_container(&report, &name, "default", true);
    assert!(
        recording
            .output
            .stderr
            .contains("warning: recorded with no-new-privileges"),
        "{}",
        recording.output
    );
    assert_allows(&profile, &["execve", "getdents64", "write", "exit_group"]);
    assert_no_runtime_setup(&profile);
    assert_allows_none(
        &profile,
        &["capset", "setuid", "setgid", "setgroups"],
        "runc drops privileges before it installs the filter under no-new-privileges",
    );
    eprintln!(
        "busybox ls (no-new-privileges): {} names",
        profile.allowed().len()
    );

    let replay = run(
        &mut session
            .docker_run("replay", Some(&profile.path), true)
            .command(BUSYBOX, &["ls", "/"]),
        QUICK_TIMEOUT,
    );
    replay.assert_code(0);
    assert!(replay.stdout.lines().any(|line| line == "bin"), "{replay}");

    // Without no-new-privileges runc needs capset & co. after the install: the warning is true.
    let without = run(
        &mut session
            .docker_run("without", Some(&profile.path), false)
            .command(BUSYBOX, &["ls", "/"]),
        QUICK_TIMEOUT,
    );
    assert_ne!(without.status.code(), Some(0), "{without}");
}

/// `check --containers --profile DIR -- CMD`, the footprint gate for multi-container runs: each
/// container CMD starts is checked against `DIR/<name>.json` from a `record --containers`. The
/// recorded run passes; a run whose `ls` container makes a directory instead fails naming `mkdir`
/// for that container, and a container with no profile fails too, with nothing written; `--update`
/// then merges and writes both, and the updated profile runs the new command while the old one
/// refused it.
#[test]
fn check_containers_gates_each_container_on_its_own_profile() {
    let mut session = Session::begin("check");
    let (first, second, extra) = (
        session.container("first"),
        session.container("second"),
        session.container("extra"),
    );
    let script = |runs: &[(&str, &str)]| -> Vec<String> {
        let line = runs
            .iter()
            .map(|(name, argv)| {
                let command: Vec<&str> = argv.split_whitespace().collect();
                DockerRun::named(name).shell_line(BUSYBOX, &command)
            })
            .collect::<Vec<_>>()
            .join(" && ");
        vec!["sh".into(), "-c".into(), line]
    };
    let baseline = script(&[(&first, "ls /"), (&second, "cat /etc/passwd")]);
    let recording = session.record("baseline", &baseline, QUICK_TIMEOUT);
    let dir = recording.profiles.clone();
    let original = recording.profile(&first);
    assert_allows_none(
        &original,
        &["mkdir", "mkdirat"],
        "ls never makes a directory",
    );
    let saved = session.path().join("first-before-update.json");
    std::fs::copy(&original.path, &saved).unwrap_or_else(|err| panic!("copy: {err}"));
    let listing = || -> BTreeSet<String> {
        std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
            .map(|entry| {
                let entry = entry.unwrap_or_else(|err| panic!("read_dir: {err}"));
                entry.file_name().to_string_lossy().into_owned()
            })
            .collect()
    };
    let before = listing();
    assert_eq!(
        before,
        BTreeSet::from([format!("{first}.json"), format!("{second}.json")]),
        "{}",
        recording.output
    );

    let check = |extra_args: &[&str], cmd: &[String]| {
        let mut command = profiler_command(["check", "--containers", "--profile"]);
        command.arg(&dir).args(extra_args).arg("--").args(cmd);
        run(&mut command, QUICK_TIMEOUT)
    };
    let passed = check(&[], &baseline);
    passed.assert_code(0);
    for name in [&first, &second] {
        assert!(
            passed
                .stderr
                .contains(&format!("ok — every syscall container {name} made")),
            "{passed}"
        );
    }

    let variant = script(&[
        (&first, "mkdir /tmp/made"),
        (&second, "cat /etc/passwd"),
        (&extra, "true"),
    ]);
    let failed = check(&[], &variant);
    failed.assert_code(1);
    // Exactly one name outside: the mkdir applet's `mkdir`; the rest of its run is ls's.
    let outside_line = format!("container {first} made 1 syscall(s) outside");
    assert!(
        failed.stderr.contains(&outside_line)
            && failed
                .stderr
                .lines()
                .any(|line| line.split_whitespace().collect::<Vec<_>>() == ["mkdir", "1", "mkdir"]),
        "expected only `mkdir` (1 call, first made by mkdir) outside {first}.json\n{failed}"
    );
    assert!(
        failed
            .stderr
            .contains(&format!("ok — every syscall container {second} made")),
        "{failed}"
    );
    assert!(
        failed
            .stderr
            .contains(&format!("container {extra} has no checked-in profile")),
        "{failed}"
    );
    assert_eq!(listing(), before, "a failing check must write nothing");
    assert_eq!(
        std::fs::read(&original.path).ok(),
        std::fs::read(&saved).ok(),
        "{first}.json changed without --update"
    );

    let updated = check(&["--update"], &variant);
    updated.assert_code(0);
    assert!(
        listing().contains(&format!("{extra}.json")),
        "--update must write the new container's profile\n{updated}"
    );
    let merged = recording.profile(&first);
    assert_allows(&merged, &["mkdir"]);
    assert!(
        original.allowed().is_subset(&merged.allowed()),
        "the update dropped names: {:?}",
        original.allowed().difference(&merged.allowed())
    );
    check(&[], &variant).assert_code(0);

    let replay = run(
        &mut session
            .docker_run("replay", Some(&merged.path), false)
            .command(BUSYBOX, &["mkdir", "/tmp/made"]),
        QUICK_TIMEOUT,
    );
    replay.assert_code(0);
    assert_denied(
        &mut session,
        BUSYBOX,
        &Profile::read(&saved),
        &["mkdir", "/tmp/made"],
        &["mkdir", "mkdirat"],
    );

    let not_a_dir = profiler_command(["check", "--containers", "--profile"])
        .arg(&saved)
        .args(["--", "true"])
        .output()
        .unwrap_or_else(|err| panic!("run seccomp-profiler: {err}"));
    assert_eq!(not_a_dir.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&not_a_dir.stderr).contains("is not a directory"),
        "{}",
        String::from_utf8_lossy(&not_a_dir.stderr)
    );
}
