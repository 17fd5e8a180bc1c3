//! Privileged: the capability recommendation is proven by running with exactly it. Each test records
//! a real container under load, reads `capabilities` and `recommendation` from the report, then
//! replays with `--cap-drop ALL` plus only the recommended `--cap-add`s (and the recorded profile):
//! it must serve the same load; where a capability is really needed, `--cap-drop ALL` alone must
//! not. Run by `cargo xtask test` with the images built and dockerd up. (`Session::record`
//! already fails the test when `record` or the load script it drives exits non-zero.)

use std::{collections::BTreeSet, ffi::OsString, path::Path};

use seccomp_profiler_tests::{Report, names};

use crate::support::{
    BUSYBOX, DockerRun, LOAD_TIMEOUT, QUICK_TIMEOUT, Session, docker, security_opts, strings,
};

/// Port 80 on the host network: binding it checks CAP_NET_BIND_SERVICE (the host keeps
/// net.ipv4.ip_unprivileged_port_start at 1024; Docker lowers it only in a container's own netns).
const NGINX_80: &str = "http://127.0.0.1:80";

/// `capabilities.used` and the docker flags of the recommendation, with the invariant of the
/// acceptance list checked on the way: every recommended capability was used with a grant.
fn recommended(report: &Report) -> BTreeSet<String> {
    let caps = &report.json["capabilities"];
    assert!(
        caps.is_object(),
        "no capabilities in the report (cap_capable needs Linux ≥ 6.14): {}",
        report.json
    );
    let used = strings::<BTreeSet<String>>(&caps["used"]);
    let granted: BTreeSet<String> = caps["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|check| check["granted"].as_u64().unwrap_or(0) > 0)
        .map(|check| check["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        used, granted,
        "`used` must be exactly the capabilities checked with a grant"
    );
    let add = strings::<BTreeSet<String>>(&report.json["recommendation"]["cap_add"]);
    let used_short: BTreeSet<String> = used
        .iter()
        .map(|cap| cap.trim_start_matches("CAP_").to_owned())
        .collect();
    assert_eq!(
        add, used_short,
        "cap_add is the used set without the CAP_ prefix"
    );
    add
}

/// `docker run` options: drop every capability, add back `add`, apply the profile.
fn least_privilege(
    profile: &Path,
    add: &BTreeSet<String>,
    no_new_privileges: bool,
) -> Vec<OsString> {
    let mut opts: Vec<OsString> = vec!["--cap-drop=ALL".into()];
    opts.extend(
        add.iter()
            .map(|cap| OsString::from(format!("--cap-add={cap}"))),
    );
    opts.extend(security_opts(profile, no_new_privileges));
    opts
}

/// The nginx load script, on port 80 with the port-80 config mounted, plus extra `docker run` options.
pub(crate) fn nginx80_argv(session: &Session, name: &str, extra: &[OsString]) -> Vec<OsString> {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/nginx-port80.conf");
    let mut args: Vec<OsString> = vec![
        name.into(),
        "-v".into(),
        format!("{}:/etc/nginx/nginx.conf:ro", conf.display()).into(),
    ];
    args.extend(extra.iter().cloned());
    let mut argv: Vec<OsString> = vec!["env".into(), format!("SP_HTTP={NGINX_80}").into()];
    argv.extend(session.script_argv("nginx-load.sh", &args));
    argv
}

#[test]
fn nginx_on_port_80_runs_with_exactly_the_recommended_capabilities() {
    let mut session = Session::begin("caps-nginx");
    let name = session.container("rec");
    let argv = nginx80_argv(&session, &name, &[]);
    let recording = session.record("record", &argv, LOAD_TIMEOUT);
    let report = recording.report(&name);
    let add = recommended(&report);
    // The master binds :80 and switches its worker to nobody:nogroup; nothing else is needed.
    assert_eq!(
        add,
        names(&["NET_BIND_SERVICE", "SETGID", "SETUID"]),
        "{}",
        report.json["capabilities"]
    );
    let rec = &report.json["recommendation"];
    assert_eq!(rec["ran_as_root"], true, "nginx's master runs as root");
    assert_eq!(
        rec["no_new_privileges_safe"], true,
        "no setuid binary was exec'd"
    );
    let docker_run = rec["docker_run"].as_str().expect("docker_run");
    assert!(
        docker_run.starts_with("docker run --cap-drop=ALL --cap-add=NET_BIND_SERVICE --cap-add=SETGID --cap-add=SETUID --security-opt seccomp="),
        "{docker_run}"
    );
    assert!(
        rec["kubernetes"]
            .as_str()
            .expect("k8s")
            .contains("allowPrivilegeEscalation: false")
    );
    assert!(
        recording
            .output
            .stderr
            .contains("capabilities used: NET_BIND_SERVICE, SETGID, SETUID"),
        "{}",
        recording.output.stderr
    );

    let profile = recording.profile_path(&name);
    let replay = session.container("least");
    let output = session.run_argv(&nginx80_argv(
        &session,
        &replay,
        &least_privilege(&profile, &add, true),
    ));
    assert!(
        output.status.success(),
        "nginx with exactly {add:?} (+ profile, no-new-privileges) failed:\n{}\n{}",
        output.stdout,
        output.stderr
    );

    let bare = session.container("nocaps");
    let output = session.run_argv(&nginx80_argv(
        &session,
        &bare,
        &least_privilege(&profile, &BTreeSet::new(), false),
    ));
    assert!(
        !output.status.success(),
        "nginx on :80 with --cap-drop ALL and nothing added must not serve:\n{}",
        output.stdout
    );
    let logs = docker(["logs", bare.as_str()])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    assert!(
        output.stderr.contains("Permission denied")
            || logs.contains("Permission denied")
            || output.stderr.contains("bind()"),
        "expected bind() to fail with EACCES:\n{}\n{logs}",
        output.stderr
    );
}

#[test]
fn redis_as_non_root_needs_no_capabilities() {
    let mut session = Session::begin("caps-redis");
    let name = session.container("rec");
    let argv = session.script_argv("redis-load.sh", &[&name]);
    let recording = session.record("record", &argv, LOAD_TIMEOUT);
    let report = recording.report(&name);
    assert_eq!(
        recommended(&report),
        BTreeSet::new(),
        "{}",
        report.json["capabilities"]
    );
    assert_eq!(
        report.json["recommendation"]["ran_as_root"], false,
        "redis runs as user redis (999)"
    );
    assert!(
        report.json["recommendation"]["kubernetes"]
            .as_str()
            .expect("k8s")
            .contains("runAsNonRoot: true")
    );

    let profile = recording.profile_path(&name);
    let replay = session.container("nocaps");
    let opts = least_privilege(&profile, &BTreeSet::new(), true);
    let mut args: Vec<OsString> = vec![replay.clone().into()];
    args.extend(opts);
    let output = session.run_script("redis-load.sh", &args);
    assert!(
        output.status.success(),
        "redis with --cap-drop ALL (+ profile, no-new-privileges) failed:\n{}\n{}",
        output.stdout,
        output.stderr
    );
}

#[test]
fn busybox_ls_as_root_works_with_the_recommendation() {
    let mut session = Session::begin("caps-busybox");
    let name = session.container("rec");
    let cmd = DockerRun::named(&name).argv(BUSYBOX, &["ls", "/"]);
    let recording = session.record("record", &cmd, QUICK_TIMEOUT);
    let report = recording.report(&name);
    let add = recommended(&report);
    assert_eq!(report.json["recommendation"]["ran_as_root"], true);

    let profile = recording.profile_path(&name);
    let replay = session.container("least");
    let output = DockerRun::named(&replay)
        .options(least_privilege(&profile, &add, true))
        .command(BUSYBOX, &["ls", "/"])
        .output()
        .expect("docker run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "busybox ls / with {add:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for entry in ["bin", "etc", "usr"] {
        assert!(
            stdout.lines().any(|line| line == entry),
            "ls / lacks {entry}: {stdout}"
        );
    }
}
