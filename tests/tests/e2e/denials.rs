//! Privileged: seeing what a profile denies (design.md §15). The kernel side counts every call
//! seccomp refuses to a gated thread; `check --enforce` runs a workload under its profile and
//! names each refusal with its count, errno and first command, whether or not the program noticed.

use std::{
    ffi::OsStr,
    io::{BufRead as _, BufReader},
    process::Stdio,
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{Output, RecordPaths, Report, profiler_command, record, run};

use crate::support::{BUSYBOX, DockerRun, QUICK_TIMEOUT, Session, TIMEOUT, ground_truth, tempdir};

/// A profile that allows everything but mkdir (and mkdirat): EPERM, Docker's default errno.
const NO_MKDIR: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#;

fn profiler<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(&mut profiler_command(args), TIMEOUT)
}

/// The rows of a `check --enforce` denial table: (syscall, count, errno, first command).
pub(crate) fn denial_rows(stderr: &str) -> Vec<(String, u64, String, String)> {
    stderr
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let count = words.get(1)?.parse::<u64>().ok()?;
            Some((
                words[0].to_owned(),
                count,
                words.get(2)?.to_string(),
                words.get(3)?.to_string(),
            ))
        })
        .collect()
}

/// ground-truth recorded, then run under its own profile: unchanged it passes; with one extra call
/// (`sched_get_priority_max`) it fails naming exactly that call once, also when the program
/// swallows the EPERM and exits 0.
#[test]
fn enforce_names_exactly_the_extra_syscall() {
    let dir = tempdir();
    let gt = ground_truth();
    let paths = RecordPaths::new(dir.path(), "gt");
    record(&paths, &[gt.as_os_str()], TIMEOUT).assert_code(0);
    let enforce = |extra: Option<&str>, report: Option<&std::path::Path>| {
        let mut args = vec![
            OsStr::new("check"),
            OsStr::new("--enforce"),
            OsStr::new("--profile"),
            paths.profile.as_os_str(),
        ];
        if let Some(report) = report {
            args.extend([OsStr::new("--report"), report.as_os_str()]);
        }
        args.extend([OsStr::new("--"), gt.as_os_str()]);
        args.extend(extra.map(OsStr::new));
        profiler(args)
    };

    let same = enforce(None, None);
    assert_eq!(same.code(), 0, "under its full profile:\n{}", same.stderr);
    assert!(
        same.stderr.contains("check --enforce: ok"),
        "{}",
        same.stderr
    );
    assert!(denial_rows(&same.stderr).is_empty(), "{}", same.stderr);

    for extra in ["--extra-ignored", "--extra"] {
        let report = dir.path().join(format!("{extra}.report.json"));
        let grown = enforce(Some(extra), Some(&report));
        assert_eq!(grown.code(), 1, "{extra}:\n{}", grown.stderr);
        assert_eq!(
            denial_rows(&grown.stderr),
            vec![(
                "sched_get_priority_max".to_owned(),
                1,
                "EPERM".to_owned(),
                "ground-truth".to_owned()
            )],
            "{extra}: exactly the extra call, once:\n{}",
            grown.stderr
        );
        if extra == "--extra-ignored" {
            assert!(
                grown.stdout.contains("all 8 markers made, plus --extra"),
                "the program itself saw nothing wrong:\n{}",
                grown.stdout
            );
        }
        let denied = &Report::read(&report).json["denied_syscalls"];
        let entries = denied.as_array().expect("denied_syscalls in the report");
        assert_eq!(entries.len(), 1, "{denied}");
        assert_eq!(entries[0]["name"], "sched_get_priority_max");
        assert_eq!(entries[0]["count"], 1);
        assert_eq!(entries[0]["errno"], 1);
    }
}

/// Two containers started by one command, each with its own `--security-opt seccomp=…`: the one
/// whose profile refuses mkdir is named with mkdir, the other is clean.
#[test]
fn enforce_containers_names_the_denied_container_only() {
    let mut session = Session::begin("enforce-containers");
    let denying = session.path().join("no-mkdir.json");
    let full = session.path().join("full.json");
    std::fs::write(&denying, NO_MKDIR).expect("write profile");
    std::fs::write(&full, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).expect("write profile");
    let refused = session.container("refused");
    let clean = session.container("clean");
    let line = |name: &str, profile: &std::path::Path| {
        DockerRun::named(name)
            .seccomp(profile)
            .shell_line(BUSYBOX, &["mkdir", "/tmp/d"])
    };
    // The refused container's mkdir fails (exit 1); `;` keeps the script going.
    let script = format!("{} ; {}", line(&refused, &denying), line(&clean, &full));
    let out = run(
        &mut profiler_command([
            "check",
            "--enforce",
            "--containers",
            "--",
            "sh",
            "-c",
            &script,
        ]),
        QUICK_TIMEOUT,
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let sections: Vec<&str> = out
        .stderr
        .split("seccomp-profiler check --enforce:")
        .collect();
    let of = |name: &str| {
        *sections
            .iter()
            .find(|s| s.contains(&format!("container {name}")))
            .unwrap_or_else(|| panic!("no verdict for {name}:\n{}", out.stderr))
    };
    let refused_rows = denial_rows(of(&refused));
    let names: Vec<&str> = refused_rows.iter().map(|r| r.0.as_str()).collect();
    assert!(
        names == ["mkdir"] || names == ["mkdirat"],
        "only mkdir is refused:\n{}",
        out.stderr
    );
    assert_eq!(refused_rows[0].2, "EPERM", "{}", out.stderr);
    assert!(of(&refused).contains("FAILED"), "{}", out.stderr);
    assert!(of(&clean).contains("ok —"), "{}", out.stderr);
    assert!(denial_rows(of(&clean)).is_empty(), "{}", out.stderr);
}

/// Lines of a child's pipe, each with the moment it arrived.
fn lines_of(
    pipe: impl std::io::Read + Send + 'static,
    tag: &'static str,
    tx: std::sync::mpsc::Sender<(&'static str, String, Instant)>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send((tag, line, Instant::now())).is_err() {
                break;
            }
        }
    });
}

/// A container already running under a profile that refuses mkdir: `watch` names the container
/// and mkdir within a second of a `docker exec` making it, and lists it in its JSON report.
#[test]
fn watch_reports_a_denial_within_a_second() {
    let mut session = Session::begin("watch");
    let denying = session.path().join("no-mkdir.json");
    std::fs::write(&denying, NO_MKDIR).expect("write profile");
    let name = session.container("watched");
    let started = run(
        &mut DockerRun::named(&name)
            .detached()
            .seccomp(&denying)
            .command(BUSYBOX, &["sleep", "120"]),
        QUICK_TIMEOUT,
    );
    assert_eq!(started.code(), 0, "{started}");

    let report = session.path().join("watch.json");
    let mut watch = profiler_command([
        OsStr::new("watch"),
        OsStr::new("--duration"),
        OsStr::new("60s"),
        OsStr::new("--filter"),
        OsStr::new(&format!("name={name}")),
        OsStr::new("--report"),
        report.as_os_str(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start watch");
    let (tx, rx) = std::sync::mpsc::channel();
    lines_of(watch.stdout.take().expect("stdout"), "out", tx.clone());
    lines_of(watch.stderr.take().expect("stderr"), "err", tx);
    let mut seen = Vec::new();
    let mut wait_for = |what: &str, found: &dyn Fn(&str, &str) -> bool| -> Instant {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((tag, line, at)) => {
                    let hit = found(tag, &line);
                    seen.push(format!("{tag}: {line}"));
                    if hit {
                        return at;
                    }
                }
                Err(_) => panic!("no {what} from watch; it printed:\n{}", seen.join("\n")),
            }
        }
    };
    wait_for("start line", &|tag, line| {
        tag == "err" && line.contains("watching 1 running container(s)")
    });

    let exec = run(
        &mut crate::support::docker(["exec", name.as_str(), "mkdir", "/tmp/d"]),
        QUICK_TIMEOUT,
    );
    let exec_done = Instant::now();
    assert_ne!(
        exec.code(),
        0,
        "mkdir must be refused in the container: {exec}"
    );
    let printed = wait_for("denial line", &|tag, line| {
        tag == "out"
            && line.contains(&format!("container {name}:"))
            && line.contains("mkdir refused (EPERM)")
    });
    let delay = printed.saturating_duration_since(exec_done);
    assert!(
        delay < Duration::from_secs(1),
        "the denial was printed {delay:?} after docker exec returned"
    );

    // SAFETY: kill() on the pid of a child we started and have not reaped.
    unsafe { libc::kill(watch.id() as libc::pid_t, libc::SIGTERM) };
    let status = watch.wait().expect("wait for watch");
    assert_eq!(status.code(), Some(1), "a refusal makes watch exit 1");
    let json = Report::read(&report).json;
    let containers = json["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{json}");
    assert_eq!(containers[0]["name"], name.as_str());
    assert_eq!(json["cut_short_reason"], "SIGTERM");
    let denied = containers[0]["denied_syscalls"].as_array().expect("denied");
    assert_eq!(denied.len(), 1, "{json}");
    assert_eq!(denied[0]["name"], "mkdir");
    assert_eq!(denied[0]["count"], 1);
}

/// `record --complain`: the profile of `ls /` in complain mode lets a container that also makes
/// directories run to the end; `check --containers` against the strict twin (the same rules,
/// `defaultAction` ERRNO) lists mkdir among what the strict profile would refuse.
#[test]
fn complain_profile_runs_fully_and_check_names_what_strict_refuses() {
    let mut session = Session::begin("complain");
    let recorded_name = session.container("recorded");
    let recorded = session.path().join("recorded");
    let mut record = vec![
        "record".into(),
        "--complain".into(),
        "--containers".into(),
        "-o".into(),
        recorded.clone().into_os_string(),
        "--".into(),
    ];
    record.extend(DockerRun::named(&recorded_name).argv(BUSYBOX, &["ls", "/"]));
    let out = run(&mut profiler_command(record), QUICK_TIMEOUT);
    assert_eq!(out.code(), 0, "{out}");
    assert!(out.stderr.contains("complain mode"), "{}", out.stderr);
    let log_profile = recorded.join(format!("{recorded_name}.json"));
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&log_profile).expect("profile"))
            .expect("profile JSON");
    assert_eq!(json["defaultAction"], "SCMP_ACT_LOG", "{json}");
    assert!(
        json["syscalls"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|rule| rule["errnoRet"] == 38),
        "the ENOSYS probe rule is kept: {json}"
    );
    let valid = profiler([OsStr::new("validate"), log_profile.as_os_str()]);
    assert_eq!(valid.code(), 0, "{valid}");

    let work = [
        "sh",
        "-c",
        "ls / >/dev/null && mkdir /tmp/d && echo made-it",
    ];
    let direct = run(
        &mut DockerRun::named(&session.container("direct"))
            .seccomp(&log_profile)
            .command(BUSYBOX, &work),
        QUICK_TIMEOUT,
    );
    assert_eq!(
        direct.code(),
        0,
        "runs fully under the LOG profile: {direct}"
    );
    assert!(direct.stdout.contains("made-it"), "{direct}");

    let replay_name = session.container("replay");
    let strict_dir = session.path().join("strict");
    std::fs::create_dir_all(&strict_dir).expect("mkdir");
    json["defaultAction"] = "SCMP_ACT_ERRNO".into();
    json["defaultErrnoRet"] = 1.into();
    std::fs::write(
        strict_dir.join(format!("{replay_name}.json")),
        serde_json::to_string_pretty(&json).expect("JSON"),
    )
    .expect("write strict profile");
    let mut check = vec![
        "check".into(),
        "--containers".into(),
        "--profile".into(),
        strict_dir.into_os_string(),
        "--".into(),
    ];
    check.extend(
        DockerRun::named(&replay_name)
            .seccomp(&log_profile)
            .argv(BUSYBOX, &work),
    );
    let checked = run(&mut profiler_command(check), QUICK_TIMEOUT);
    assert_eq!(checked.code(), 1, "{checked}");
    let outside: Vec<&str> = checked
        .stderr
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            words.next()?.parse::<u64>().ok().map(|_| name)
        })
        .collect();
    assert!(
        outside.contains(&"mkdir") || outside.contains(&"mkdirat"),
        "mkdir is outside the strict profile:\n{}",
        checked.stderr
    );
}
