//! Privileged: the hardening advice (read-only root filesystem with its tmpfs mounts and volumes,
//! non-root user), proven by replay. Each test records real containers with `record --containers
//! --verify` (the tool's own replay of each container with the whole recommendation), reads the
//! `hardening` and `recommendation.docker_args` of the report, and replays the same load with
//! exactly those `docker run` options (taken from the report, never retyped here). Where the
//! advice is not empty, the same replay without its mounts must fail.

use std::ffi::OsString;

use seccomp_profiler_tests::{Output, Report};
use serde_json::Value;

use crate::{
    capabilities::nginx80_argv,
    support::{
        BUSYBOX, DockerRun, LOAD_TIMEOUT, QUICK_TIMEOUT, Session, check_nginx, check_redis, docker,
        strings, value,
    },
};

/// The report's `hardening`, with the invariant every advice must keep: when read-only is
/// advised, every written path lies under one of its tmpfs mounts or volumes.
fn hardening(report: &Report) -> &Value {
    let hardening = &report.json["hardening"];
    assert_eq!(hardening["observed"], true, "{}", report.json);
    assert_eq!(hardening["certain"], true, "{hardening}");
    if hardening["read_only"] == true {
        let mounts: Vec<String> = (hardening["tmpfs"].as_array().into_iter().flatten())
            .chain(hardening["volumes"].as_array().into_iter().flatten())
            .map(|m| m["path"].as_str().expect("path").to_owned())
            .collect();
        for written in strings::<Vec<String>>(&hardening["written"]) {
            assert!(
                mounts.iter().any(|m| written.starts_with(&format!("{m}/"))),
                "{written} is covered by none of {mounts:?}"
            );
        }
    }
    hardening
}

/// `recommendation.docker_args`: the whole recommendation as `docker run` options.
fn docker_args(report: &Report) -> Vec<OsString> {
    strings::<Vec<String>>(&report.json["recommendation"]["docker_args"])
        .into_iter()
        .map(OsString::from)
        .collect()
}

/// The same options without `--tmpfs` and `--mount` (and their values): read-only with no mounts.
fn without_mounts(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip = false;
    for arg in args {
        if skip {
            skip = false;
        } else if arg == "--tmpfs" || arg == "--mount" {
            skip = true;
        } else {
            out.push(arg.clone());
        }
    }
    out
}

fn assert_verified(recording_stderr: &str, name: &str) {
    let line =
        format!("seccomp-profiler verify: container {name} with the whole recommendation: ok");
    assert!(
        recording_stderr.contains(&line),
        "`record --verify` did not replay {name} successfully:\n{recording_stderr}"
    );
}

fn logs(name: &str) -> String {
    docker(["logs", name])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout)
        })
        .unwrap_or_default()
}

#[test]
fn nginx_on_port_80_runs_read_only_with_the_recommended_tmpfs_and_keeps_root() {
    let mut session = Session::begin("hard-nginx");
    let name = session.container("rec");
    let argv = nginx80_argv(&session, &name, &[]);
    let recording = session.record_with("record", &["--verify"], &argv, LOAD_TIMEOUT, 0);
    assert_verified(&recording.output.stderr, &name);
    let report = recording.report(&name);
    let advice = hardening(&report);
    assert_eq!(advice["read_only"], true, "{advice}");
    // nginx.conf: `pid /run/nginx.pid`; /run is empty in the image, owned by root, 0755.
    assert!(
        strings::<Vec<String>>(&advice["written"]).contains(&"/run/nginx.pid".to_owned()),
        "{advice}"
    );
    let run = (advice["tmpfs"].as_array().expect("tmpfs").iter())
        .find(|m| m["path"] == "/run")
        .unwrap_or_else(|| panic!("no tmpfs on /run: {advice}"));
    assert_eq!(
        (&run["mode"], &run["uid"], &run["gid"]),
        (&Value::from("755"), &Value::from(0), &Value::from(0))
    );
    // It binds :80 and its master switches to nobody: it keeps root, and says why.
    let user = &advice["user"];
    assert_eq!(user["needs_root"], true, "{user}");
    assert!(user["recommended"].is_null(), "{user}");
    let reason = user["reason"].as_str().expect("reason");
    for cap in [
        "NET_BIND_SERVICE",
        "SETUID",
        "SETGID",
        "no ambient capabilities",
    ] {
        assert!(
            reason.contains(cap),
            "the reason does not name {cap}: {reason}"
        );
    }
    let args = docker_args(&report);
    assert!(
        args.iter().any(|a| a == "--read-only") && !args.iter().any(|a| a == "--user"),
        "{args:?}"
    );
    assert!(
        recording.output.stderr.contains("read-only root: it wrote")
            && report.json["recommendation"]["compose"]
                .as_str()
                .is_some_and(
                    |c| c.contains("read_only: true\ntmpfs:\n  - /run:mode=755,uid=0,gid=0")
                )
            && report.json["recommendation"]["kubernetes"]
                .as_str()
                .is_some_and(|k| k.contains("readOnlyRootFilesystem: true")),
        "{}\n{}",
        recording.output.stderr,
        report.json["recommendation"]
    );

    let replay = session.container("whole");
    let output = session.run_argv(&nginx80_argv(&session, &replay, &args));
    if let Err(problem) = check_nginx(&output) {
        panic!("nginx with the whole recommendation {args:?} failed: {problem}");
    }

    let bare = session.container("rofs");
    let output = session.run_argv(&nginx80_argv(&session, &bare, &without_mounts(&args)));
    let logs = logs(&bare);
    assert!(
        check_nginx(&output).is_err(),
        "nginx with --read-only and no tmpfs must fail, so the advice is not empty:\n{output}"
    );
    assert!(
        format!("{output}{logs}").contains("Read-only file system"),
        "expected a write refused by the read-only root:\n{output}\n{logs}"
    );
}

#[test]
fn redis_keeps_its_dump_in_a_volume_and_replays_with_bgsave() {
    let mut session = Session::begin("hard-redis");
    let name = session.container("rec");
    let argv = session.script_argv("redis-load.sh", &[&name]);
    let recording = session.record_with("record", &["--verify"], &argv, LOAD_TIMEOUT, 0);
    assert_verified(&recording.output.stderr, &name);
    let report = recording.report(&name);
    let advice = hardening(&report);
    assert_eq!(advice["read_only"], true, "{advice}");
    assert!(
        strings::<Vec<String>>(&advice["written"]).contains(&"/data/dump.rdb".to_owned()),
        "BGSAVE writes /data/dump.rdb: {advice}"
    );
    let data = (advice["volumes"].as_array().expect("volumes").iter())
        .find(|m| m["path"] == "/data")
        .unwrap_or_else(|| panic!("/data is not a volume: {advice}"));
    let volume = data["volume"].as_str().expect("volume name").to_owned();
    assert_eq!(advice["user"]["needs_root"], false, "redis runs as redis");

    let replay = session.container("whole");
    let mut args: Vec<OsString> = vec![replay.into()];
    args.extend(docker_args(&report));
    let output = session.run_script("redis-load.sh", &args);
    let _ = docker(["volume", "rm", "-f", volume.as_str()]).output();
    if let Err(problem) = check_redis(&output) {
        panic!("redis with the whole recommendation failed: {problem}");
    }
}

/// `docker run --rm` of the busybox image on no network, running `script`, as a shell line.
fn busybox(name: &str, script: &str) -> String {
    let run = DockerRun::named(name).shell_line(BUSYBOX, &["sh", "-c"]);
    format!("{run} '{script}'")
}

#[test]
fn nothing_written_gets_read_only_without_mounts_and_verify_catches_what_it_cannot_see() {
    let mut session = Session::begin("hard-quiet");
    let quiet = session.container("quiet");
    // Writes nothing, but asks whether it could: `test -w` writes nothing, so the advice
    // (read-only, as nobody) cannot know about it. Seen here: as nobody, busybox's `test -w` also
    // calls getgroups, which the run as root never made, so the recorded profile refuses it (exit
    // 1); without that it would be refused by the read-only root (exit 3). Only a replay shows it.
    let asks = session.container("asks");
    let cmd = format!(
        "{} && {}",
        busybox(&quiet, "sleep 1; ls / >/dev/null"),
        busybox(&asks, "sleep 1; test -w /tmp || exit 3")
    );
    let recording = session.record_with(
        "record",
        &["--verify"],
        &["sh", "-c", &cmd],
        QUICK_TIMEOUT,
        1,
    );
    let stderr = &recording.output.stderr;
    assert_verified(stderr, &quiet);
    assert!(
        stderr.contains(&format!(
            "seccomp-profiler verify: container {asks} with the whole recommendation: FAILED (exited "
        )) && stderr.contains(&format!("did not run with their whole recommendation applied: {asks}")),
        "{stderr}"
    );
    let report = recording.report(&quiet);
    let advice = hardening(&report);
    assert_eq!(advice["read_only"], true, "{advice}");
    assert_eq!(advice["written"], Value::Array(vec![]), "{advice}");
    assert_eq!(advice["tmpfs"], Value::Array(vec![]));
    assert_eq!(advice["volumes"], Value::Array(vec![]));
    assert!(
        stderr.contains("it wrote nothing on its root filesystem: --read-only, no mounts"),
        "{stderr}"
    );

    let replay = session.container("replay");
    let output = DockerRun::named(&replay)
        .options(docker_args(&report))
        .command(BUSYBOX, &["sh", "-c", "sleep 1; ls / >/dev/null"])
        .output()
        .expect("docker run");
    assert!(
        output.status.success(),
        "busybox with {:?}: {}",
        docker_args(&report),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn busybox_httpd_on_a_high_port_runs_as_the_recommended_user() {
    let mut session = Session::begin("hard-httpd");
    let name = session.container("rec");
    let argv = session.script_argv("httpd-load.sh", &[&name]);
    let recording = session.record_with("record", &["--verify"], &argv, LOAD_TIMEOUT, 0);
    assert_verified(&recording.output.stderr, &name);
    let report = recording.report(&name);
    assert_eq!(
        report.json["capabilities"]["used"],
        Value::Array(vec![]),
        "busybox httpd on port 18081 needs no privilege"
    );
    let advice = hardening(&report);
    let user = &advice["user"];
    assert_eq!(user["needs_root"], false, "{user}");
    assert_eq!(user["recommended"], "65534:65534", "{user}");
    assert_eq!(advice["read_only"], true, "{advice}");
    let args = docker_args(&report);
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--user" && w[1] == "65534:65534"),
        "{args:?}"
    );

    let replay = session.container("whole");
    let mut script_args: Vec<OsString> = vec![replay.into()];
    script_args.extend(args);
    let output = session.run_script("httpd-load.sh", &script_args);
    check_httpd(&output, 65534);
}

fn check_httpd(output: &Output, uid: u64) {
    assert!(
        output.status.success()
            && value(output, "as_expected") == Some(50)
            && value(output, "uid") == Some(uid)
            && value(output, "failures") == Some(0),
        "httpd replay: want 50 answers, uid {uid}:\n{output}"
    );
}
