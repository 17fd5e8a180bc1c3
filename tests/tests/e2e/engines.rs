//! End to end: containers of engines other than Docker, and `--filter` (issue 10). Podman 4.3
//! (rootful, runc) and a private containerd 1.6 started by the test, with a kubelet-shaped cgroup
//! path and the CRI annotations a kubelet sets. Each recorded profile replays under its own
//! engine's seccomp option and refuses a call outside it (busybox `mkdir` → EPERM). `--filter`
//! keeps only the matching one of two containers started at once, in `record` and in `check`, and
//! a recording where nothing matched exits 1 naming what was filtered out.

use std::time::Duration;

use seccomp_profiler_tests::{Output, profiler_command, run};

use crate::support::{
    BUSYBOX, Session, assert_allows, assert_allows_none,
    engines::{Containerd, KubeContainer, podman_image, podman_run, run_vec},
};

const WORKLOAD: &str = "ls / >/dev/null && cat /etc/passwd >/dev/null && echo done";
const RECORD_TIMEOUT: Duration = Duration::from_secs(120);

fn assert_denied_mkdir(denied: &Output) {
    assert_ne!(
        denied.status.code(),
        Some(0),
        "mkdir ran under the profile\n{denied}"
    );
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "expected EPERM from the profile\n{denied}"
    );
}

/// Podman: `record --containers -- podman run …` records the container (cgroup
/// `/libpod_parent/libpod-<id>`), named by `podman inspect`; the profile replays under
/// `podman run --security-opt seccomp=FILE` and refuses `mkdir`.
#[test]
fn podman_container_is_recorded_and_replays() {
    let mut session = Session::begin("engines-podman");
    podman_image();
    let name = session.container("app");
    let mut cmd = podman_run();
    // A moment of life, so that `podman inspect` answers before `--rm` removes it.
    cmd.extend([
        "--name".into(),
        name.clone(),
        BUSYBOX.into(),
        "sh".into(),
        "-c".into(),
        format!("sleep 0.3; {WORKLOAD}"),
    ]);
    // Other engineers' and CI jobs' containers may start meanwhile: only Podman's is wanted.
    let recording = session.record_with(
        "podman",
        &["--filter", "engine=podman"],
        &cmd,
        RECORD_TIMEOUT,
        0,
    );
    assert!(
        recording
            .output
            .stderr
            .contains(&format!("recorded container {name} ")),
        "podman's container not named in the summary\n{}",
        recording.output
    );
    let profile = recording.profile(&name);
    assert_allows(&profile, &["execve", "getdents64", "write"]);
    assert_allows_none(
        &profile,
        &["mkdir", "mkdirat", "pivot_root", "mount"],
        "not made",
    );
    let report = recording.report(&name);
    assert_eq!(
        report
            .json
            .pointer("/run/container/engine")
            .and_then(|v| v.as_str()),
        Some("podman"),
        "report: {:?}",
        report.json.pointer("/run/container")
    );

    let seccomp = format!("seccomp={}", profile.path.display());
    let mut replay = podman_run();
    replay.extend([
        "--security-opt".into(),
        seccomp.clone(),
        BUSYBOX.into(),
        "sh".into(),
        "-c".into(),
        WORKLOAD.into(),
    ]);
    let replayed = run_vec(&replay);
    replayed.assert_code(0);
    assert!(replayed.stdout.contains("done"), "{replayed}");
    let mut denied = podman_run();
    denied.extend([
        "--security-opt".into(),
        seccomp,
        BUSYBOX.into(),
        "mkdir".into(),
        "/tmp/x".into(),
    ]);
    assert_denied_mkdir(&run_vec(&denied));
}

/// containerd: `ctr run` with a kubelet cgroupfs path and CRI annotations → a profile named
/// `<namespace>/<pod workload>/<container>` (file `prod_shop_web.json`), which replays under
/// `ctr run --seccomp --seccomp-profile` and refuses `mkdir`. The pod's parent cgroups runc makes
/// (`/kubepods`, `/kubepods/besteffort`, `…/pod<uid>`) are no containers.
#[test]
fn containerd_kubelet_container_is_named_by_its_pod() {
    let session = Session::begin("engines-containerd");
    let containerd = Containerd::start("k8s.io");
    let uid = "1b2c3d4e-0000-4000-8000-00000000beef";
    let id = format!("{:064x}", u128::from(std::process::id()) << 64 | 0xc0ffee);
    let kube = KubeContainer {
        namespace: "prod",
        pod: "shop-7d4b9c8f6d-x2x9k",
        pod_uid: uid,
        container: "web",
    };
    let script = format!("sleep 0.3; {WORKLOAD}");
    let cmd = containerd.ctr_run_kube(&kube, &id, &["sh", "-c", &script]);
    // Only containerd's (and the filter keys a kubelet's containers have); others may start too.
    let recording = session.record_with(
        "containerd",
        &[
            "--filter",
            "engine=containerd",
            "--filter",
            "namespace=prod",
            "--filter",
            "pod=shop-7d4b9c8f6d-x2x9k",
        ],
        &cmd,
        RECORD_TIMEOUT,
        0,
    );
    assert!(
        recording
            .output
            .stderr
            .contains("recorded container prod/shop/web "),
        "not named by its pod\n{}",
        recording.output
    );
    assert_eq!(
        recording.profile_names().into_iter().collect::<Vec<_>>(),
        ["prod_shop_web"],
        "one profile, no parent cgroup recorded\n{}",
        recording.output
    );
    let profile = recording.profile("prod_shop_web");
    assert_allows(&profile, &["execve", "getdents64"]);
    assert_allows_none(&profile, &["mkdir", "mkdirat", "pivot_root"], "not made");
    let report = recording.report("prod_shop_web");
    let container = report
        .json
        .pointer("/run/container")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        container.pointer("/engine").and_then(|v| v.as_str()),
        Some("containerd"),
        "{container}"
    );
    assert_eq!(
        container
            .pointer("/kubernetes/workload")
            .and_then(|v| v.as_str()),
        Some("shop"),
        "{container}"
    );
    assert_eq!(
        container
            .pointer("/kubernetes/pod_uid")
            .and_then(|v| v.as_str()),
        Some(uid)
    );

    let replay = |name: &str, argv: &[&str]| {
        let mut cmd = containerd.ctr_run("k8s.io");
        cmd.extend([
            "--seccomp".into(),
            "--seccomp-profile".into(),
            profile.path.display().to_string(),
        ]);
        cmd.push(format!("docker.io/{BUSYBOX}"));
        cmd.push(format!("{name}-{}", std::process::id()));
        cmd.extend(argv.iter().map(|a| (*a).to_owned()));
        run_vec(&cmd)
    };
    let replayed = replay("replay", &["sh", "-c", WORKLOAD]);
    replayed.assert_code(0);
    assert!(replayed.stdout.contains("done"), "{replayed}");
    assert_denied_mkdir(&replay("denied", &["mkdir", "/tmp/x"]));
}

/// `--filter name=app-`: of two containers started at once only `app-*` is recorded, the other is
/// named as filtered out; `check --containers --filter` is not disturbed by the other one (it has
/// no profile); and a filter nothing matches exits 1 naming what it filtered out.
#[test]
fn filter_keeps_only_matching_containers() {
    let mut session = Session::begin("engines-filter");
    let app = session.container("app");
    let other = session.container("other");
    assert!(!other.contains("app-"));
    let script = format!(
        "docker run --rm --network none --name {app} {BUSYBOX} sh -c '{WORKLOAD}' & \
         docker run --rm --network none --name {other} {BUSYBOX} sh -c 'sleep 0.2; {WORKLOAD}; ls /etc >/dev/null'; wait"
    );
    let cmd = ["sh", "-c", &script];
    let recording = session.record_with(
        "filtered",
        &["--filter", "name=app-"],
        &cmd,
        RECORD_TIMEOUT,
        0,
    );
    assert_eq!(
        recording.profile_names().into_iter().collect::<Vec<_>>(),
        std::slice::from_ref(&app),
        "only the app- container\n{}",
        recording.output
    );
    assert!(
        recording
            .output
            .stderr
            .contains(&format!("not recorded (--filter name=app-): {other}")),
        "the other container is not named as filtered out\n{}",
        recording.output
    );

    // check: the other container (no profile in DIR) does not fail it.
    let mut check = profiler_command([
        "check",
        "--containers",
        "--filter",
        "name=app-",
        "--profile",
    ]);
    check.arg(&recording.profiles).arg("--").args(cmd);
    let checked = run(&mut check, RECORD_TIMEOUT);
    checked.assert_code(0);

    let none = session.record_with(
        "none",
        &["--filter", "name=^/nomatch-"],
        &cmd,
        RECORD_TIMEOUT,
        1,
    );
    assert!(
        none.output
            .stderr
            .contains("no container matched --filter name=^/nomatch-; filtered out: ")
            && none.output.stderr.contains(&app)
            && none.output.stderr.contains(&other),
        "{}",
        none.output
    );
    assert!(none.profile_names().is_empty(), "{}", none.output);
}

/// `record --cgroup PATH`: a plain cgroup made here with a process already in it (marked at
/// attach) and one that joins it after attach (counted from its first syscall, no gate): the
/// profile has what both did (`mkdir`/`rmdir` of the first, `symlink` of the second); a path that
/// is no cgroup exits 2.
#[test]
fn record_cgroup_follows_an_existing_cgroup() {
    let name = format!("sp-engines-cgroup-{}", std::process::id());
    let dir = (seccomp_profiler::cgroup::cgroup2_mount())
        .expect("a cgroup2 mount")
        .join(&name);
    std::fs::create_dir(&dir).expect("make a cgroup");
    let work = crate::support::tempdir();
    let procs = dir.join("cgroup.procs");
    let spawn = |script: String| {
        std::process::Command::new("sh")
            .args([
                "-c",
                &format!("echo $$ > {}; exec sh -c '{script}'", procs.display()),
            ])
            .spawn()
            .expect("spawn sh")
    };
    let before = work.path().join("d");
    let mut first = spawn(format!(
        "while :; do mkdir {0}; rmdir {0}; sleep 0.05; done",
        before.display()
    ));
    let link = work.path().join("l");
    let late = std::thread::spawn({
        let link = link.clone();
        move || {
            std::thread::sleep(Duration::from_millis(1200));
            std::process::Command::new("sh")
                .args([
                    "-c",
                    &format!(
                        "echo $$ > {}; exec sh -c 'ln -s /etc/hostname {}; sleep 0.3'",
                        procs.display(),
                        link.display()
                    ),
                ])
                .status()
        }
    });
    let out = work.path().join("p.json");
    let recorded = run(
        profiler_command([
            "record",
            "--duration",
            "3s",
            "--cgroup",
            &format!("/{name}"),
            "-o",
        ])
        .arg(&out),
        Duration::from_secs(60),
    );
    let _ = late.join();
    let _ = first.kill();
    let _ = first.wait();
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::fs::remove_dir(&dir);
    recorded.assert_code(0);
    assert!(link.exists(), "the late process did not run");
    assert!(
        recorded
            .stderr
            .contains(&format!("recorded cgroup /{name} ")),
        "{recorded}"
    );
    let profile = seccomp_profiler_tests::Profile::read(&out);
    crate::support::assert_allows_one_of(&profile, &["mkdir", "mkdirat"]);
    crate::support::assert_allows(&profile, &["rmdir"]);
    crate::support::assert_allows_one_of(&profile, &["symlink", "symlinkat"]);

    let missing = run(
        profiler_command(["record", "--cgroup", "/no-such-cgroup-sp", "-o"]).arg(&out),
        Duration::from_secs(30),
    );
    missing.assert_code(2);
    assert!(
        missing.stderr.contains("is not a cgroup2 directory"),
        "{missing}"
    );
}

/// `record --cgroup` of a cgroup whose one thread was running before the recording, and whose
/// calls never fork or exec again (a `getppid` loop): its calls count from the attach on. The
/// programs cache each thread's verdict (issue 13), and this thread's, "not recorded", is cached
/// between the programs' attach and its cgroup becoming a target; userspace invalidates every
/// verdict when it adds the target. Without that, nothing of the loop would be recorded (a fork
/// or an exec would have hidden it: each starts its thread with no verdict).
#[test]
fn record_cgroup_counts_a_thread_that_was_running_before() {
    let name = format!("sp-engines-loop-{}", std::process::id());
    let dir = (seccomp_profiler::cgroup::cgroup2_mount())
        .expect("a cgroup2 mount")
        .join(&name);
    std::fs::create_dir(&dir).expect("make a cgroup");
    let mut looping = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "echo $$ > {}; exec {} --iterations 1000000000",
                dir.join("cgroup.procs").display(),
                seccomp_profiler_tests::workload("syscall-loop").display()
            ),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn syscall-loop");
    std::thread::sleep(Duration::from_millis(300));
    let work = crate::support::tempdir();
    let out = work.path().join("p.json");
    let recorded = run(
        profiler_command([
            "record",
            "--duration",
            "1s",
            "--cgroup",
            &format!("/{name}"),
            "-o",
        ])
        .arg(&out),
        Duration::from_secs(60),
    );
    let still_looping = looping.try_wait().expect("poll syscall-loop").is_none();
    let _ = looping.kill();
    let _ = looping.wait();
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::fs::remove_dir(&dir);
    recorded.assert_code(0);
    assert!(still_looping, "syscall-loop ended before the recording did");
    let profile = seccomp_profiler_tests::Profile::read(&out);
    assert_allows(&profile, &["getppid"]);
    assert_allows_none(
        &profile,
        &["execve", "clone", "clone3"],
        "the loop neither forks nor execs once recorded",
    );
}

/// The kernel side's shape matcher (`WATCH_SHAPES`), on cgroups made here: a container's last
/// path component (`<64 hex>`, `docker-…scope`, `libpod-…`, `cri-containerd-…scope`, `crio-…`) is
/// armed wherever it is, with its whole path kept even when it is as long as a kubelet's systemd
/// path; its parents, pod slices, conmon's `libpod-conmon-<id>` and near misses are not.
#[test]
fn kernel_arms_container_shaped_cgroups_only() {
    use seccomp_profiler::{cgroup, tracer};
    seccomp_profiler_tests::require_root();
    let tracer = tracer::Tracer::load_with(&tracer::Options {
        watch_flags: profiler_common::Target::GATE_ON_EXEC,
        watch_mode: profiler_common::WATCH_SHAPES,
        ..Default::default()
    })
    .expect("load the eBPF programs");
    let root = cgroup::cgroup2_mount().expect("cgroup2 mount");
    let id = format!("{:064x}", u128::from(std::process::id()) << 32 | 0xabc);
    let base = format!("sp-shape-{}", std::process::id());
    let pod = "kubepods-besteffort-pod1b2c3d4e_0000_4000_8000_000000000001.slice";
    let armed = [
        format!("{base}/{id}"),
        format!("{base}/docker-{id}.scope"),
        format!("{base}/libpod-{id}"),
        format!("{base}/{pod}/cri-containerd-{id}.scope"),
        format!("{base}/{pod}/crio-{id}.scope"),
    ];
    let not_armed = [
        base.clone(),
        format!("{base}/{pod}"),
        format!("{base}/libpod-conmon-{id}.scope"),
        format!("{base}/x{id}"),
        format!("{base}/{}", &id[1..]),
        format!("{base}/{}", id.to_uppercase()),
    ];
    let mut made = Vec::new();
    let mut mkdir = |relative: &str| {
        let dir = root.join(relative);
        if !dir.exists() {
            std::fs::create_dir(&dir).unwrap_or_else(|err| panic!("mkdir {relative}: {err}"));
            made.push(dir.clone());
        }
        dir
    };
    mkdir(&base);
    mkdir(&format!("{base}/{pod}"));
    for relative in armed.iter().chain(not_armed.iter()) {
        mkdir(relative);
    }
    let mut paths: Vec<String> = (tracer.targets().expect("targets").into_iter())
        .filter_map(|(_, target)| tracer.slot_path(target.slot).expect("slot path"))
        .filter(|path| path.starts_with(&format!("/{base}/")))
        .collect();
    paths.sort();
    for dir in made.iter().rev() {
        let _ = std::fs::remove_dir(dir);
    }
    let mut expected: Vec<String> = armed.iter().map(|p| format!("/{p}")).collect();
    expected.sort();
    assert_eq!(paths, expected);
    assert!(
        expected.iter().any(|p| p.len() > 128),
        "a path longer than 128 bytes is kept whole"
    );
}
