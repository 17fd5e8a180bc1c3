//! End to end: the Kubernetes node agent (`seccomp-profiler agent`) and `merge` of its partials
//! (issue 10). Two replicas of one Deployment (`prod/shop`, container `web`) run on two simulated
//! nodes: a private containerd 1.6 starts each with a kubelet-shaped cgroup path and the CRI
//! annotations a kubelet sets, while an agent with that node's `--node` and output directory runs;
//! the first replica takes an extra code path (busybox `mkdir`). Each partial carries its
//! provenance and replays as is; `merge` of both directories writes exactly their union, with
//! `mkdir` covered by 1 replica on 1 node and the rest by 2 on 2; both workloads replay under the
//! merged Localhost profile and a call outside it is refused.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{Profile, profiler_command, run, spawn};

use crate::support::{
    BUSYBOX, Session, TIMEOUT,
    engines::{Containerd, KubeContainer, run_vec},
    wait_for,
};

const WORKLOAD: &str = "ls / >/dev/null && cat /etc/passwd >/dev/null && echo done";
const EXTRA: &str = "mkdir /tmp/extra";
const UID: [&str; 2] = [
    "1b2c3d4e-0000-4000-8000-00000000a001",
    "1b2c3d4e-0000-4000-8000-00000000a002",
];
const PODS: [&str; 2] = ["shop-7d4b9c8f6d-x2x9k", "shop-7d4b9c8f6d-b4z7q"];
const NODES: [&str; 2] = ["node-a", "node-b"];

/// One replica's script: the first one also makes a directory.
fn script(replica: usize) -> String {
    if replica == 0 {
        format!("{WORKLOAD} && {EXTRA}")
    } else {
        WORKLOAD.to_owned()
    }
}

/// An agent running in the background, its stderr in a file (read while it runs).
struct Agent {
    child: Child,
    stderr: PathBuf,
}

impl Agent {
    fn start(node: &str, out: &Path, log: &Path) -> Agent {
        let file = fs::File::create(log).expect("agent log");
        let mut command = profiler_command(["agent", "--node", node, "--flush", "1s"]);
        command
            .args(["--filter", "namespace=prod", "-o"])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        let child = command.spawn().expect("start the agent");
        let agent = Agent {
            child,
            stderr: log.to_owned(),
        };
        wait_for("the agent to arm", TIMEOUT, || {
            agent.log().contains("recording every Kubernetes container")
        });
        agent
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then its exit code and log.
    fn stop(mut self) -> (Option<i32>, String) {
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status.code(), self.log());
            }
            if started.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                panic!("the agent did not stop on SIGTERM\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn text<'a>(value: &'a serde_json::Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no string at {pointer} in {value:#}"))
}

#[test]
fn agent_partials_of_two_nodes_merge_into_their_union_with_coverage() {
    let session = Session::begin("agent");
    let containerd = Containerd::start("k8s.io");
    let ids: Vec<String> = (0..2u128)
        .map(|n| {
            format!(
                "{:064x}",
                (u128::from(std::process::id()) << 64) | (0xa9e0 + n)
            )
        })
        .collect();
    let ctr_kube = |replica: usize, id: &str, script: &str| {
        let kube = KubeContainer {
            namespace: "prod",
            pod: PODS[replica],
            pod_uid: UID[replica],
            container: "web",
        };
        let cmd = containerd.ctr_run_kube(&kube, id, &["sh", "-c", script]);
        let mut command = Command::new(&cmd[0]);
        command.args(&cmd[1..]);
        command
    };

    // Each node: an agent and one replica (a moment of life first, so that its bundle is read
    // while it runs). node-a's replica exits: its partial is written then. node-b's keeps running:
    // its partial is written by the periodic flush (--flush 1s) and again at SIGTERM, as a pod on
    // a node that goes away leaves what it did; then the replica is killed.
    let mut partials = Vec::new();
    for replica in 0..2 {
        let out = session.path().join(NODES[replica]);
        let log = session.path().join(format!("{}.log", NODES[replica]));
        let agent = Agent::start(NODES[replica], &out, &log);
        let partial = out.join(format!(
            "partials/prod/shop/web/{}_{}.json",
            NODES[replica],
            &ids[replica][..12]
        ));
        let ended = |partial: &Path| !json(partial)["seccompProfilerProvenance"]["ended"].is_null();
        let running = if replica == 0 {
            let script = format!("sleep 0.5; {}", script(replica));
            run(&mut ctr_kube(replica, &ids[replica], &script), TIMEOUT).assert_code(0);
            wait_for("the partial of the exited replica", TIMEOUT, || {
                partial.is_file() && ended(&partial)
            });
            None
        } else {
            let script = format!("sleep 0.5; {} && sleep 60", script(replica));
            let running = spawn(&mut ctr_kube(replica, &ids[replica], &script));
            wait_for(
                "the flushed partial of the running replica",
                TIMEOUT,
                || partial.is_file() && !ended(&partial),
            );
            Some(running)
        };
        let (code, log) = agent.stop();
        if let Some(running) = running {
            assert!(!ended(&partial), "still running at SIGTERM");
            run_vec(&[
                "ctr".into(),
                "-a".into(),
                containerd.socket().display().to_string(),
                "-n".into(),
                "k8s.io".into(),
                "task".into(),
                "kill".into(),
                "-s".into(),
                "SIGKILL".into(),
                ids[replica].clone(),
            ])
            .assert_code(0);
            running.wait(TIMEOUT);
        }
        assert_eq!(code, Some(0), "agent exit\n{log}");
        assert!(
            log.contains(&format!(
                "1 container instance(s) recorded on node {}",
                NODES[replica]
            )),
            "{log}"
        );
        assert_provenance(&json(&partial), replica, &ids[replica]);
        // This node's union of one replica, in the kubelet's layout.
        let node_profile = Profile::read(&out.join("localhost/prod/shop/web.json"));
        assert_eq!(node_profile.allowed(), Profile::read(&partial).allowed());
        partials.push(partial);
    }

    let a = Profile::read(&partials[0]).allowed();
    let b = Profile::read(&partials[1]).allowed();
    let extra: BTreeSet<String> = a.difference(&b).cloned().collect();
    assert_eq!(
        extra,
        BTreeSet::from(["mkdir".to_owned()]),
        "only the extra code path differs"
    );
    assert!(b.is_subset(&a), "node-b saw nothing node-a did not: {b:?}");

    // merge both nodes' directories, as copied to one machine.
    let merged = session.path().join("merged");
    let report = session.path().join("coverage.json");
    let output = run(
        profiler_command(["merge"])
            .arg(session.path().join(NODES[0]))
            .arg(session.path().join(NODES[1]))
            .arg("-o")
            .arg(&merged)
            .arg("--report")
            .arg(&report),
        TIMEOUT,
    );
    output.assert_code(0);
    assert!(
        output
            .stderr
            .contains("prod/shop/web: 2 replica(s) on 2 node(s) (node-a, node-b)"),
        "{output}"
    );
    assert!(
        output.stderr.contains("mkdir (1/2 replicas, 1/2 nodes)"),
        "{output}"
    );
    let localhost = merged.join("localhost/prod/shop/web.json");
    let union = Profile::read(&localhost);
    let expected: BTreeSet<String> = a.union(&b).cloned().collect();
    assert_eq!(union.allowed(), expected, "exactly the union");
    let manifest = fs::read_to_string(merged.join("operator/prod/shop/web.yaml")).expect("yaml");
    assert!(
        manifest.contains("kind: SeccompProfile\nmetadata:\n  name: prod-shop-web\nspec:\n"),
        "{manifest}"
    );
    // The operator's CRD, strictly (as `kubectl apply --validate=strict`), as e2e/formats.rs checks.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    run(
        Command::new("/usr/bin/python3")
            .arg(repo.join("scripts/check-k8s-manifest.py"))
            .arg(repo.join("schemas/spo-seccompprofile-v1.json"))
            .arg(merged.join("operator/prod/shop/web.yaml")),
        TIMEOUT,
    )
    .assert_code(0);
    let report = json(&report);
    let workload = &report["workloads"][0];
    assert_eq!(
        (text(workload, "/namespace"), text(workload, "/workload")),
        ("prod", "shop")
    );
    assert_eq!(workload["replicas"], 2);
    assert_eq!(
        workload["running"], 1,
        "node-b's replica ran at its last write"
    );
    assert_eq!(workload["partial_coverage"], serde_json::json!(["mkdir"]));
    let coverage = workload["coverage"].as_array().expect("coverage");
    assert_eq!(coverage.len(), expected.len());
    for entry in coverage {
        let name = text(entry, "/name");
        let want = if name == "mkdir" { 1 } else { 2 };
        assert_eq!(
            (entry["replicas"].as_u64(), entry["nodes"].as_u64()),
            (Some(want), Some(want)),
            "{entry}"
        );
    }

    // Both replicas' workloads run under the merged profile; a call outside it is refused.
    let replay = |profile: &Path, name: &str, argv: &[&str]| {
        let mut cmd = containerd.ctr_run("k8s.io");
        cmd.extend([
            "--seccomp".into(),
            "--seccomp-profile".into(),
            profile.display().to_string(),
            format!("docker.io/{BUSYBOX}"),
            format!("{name}-{}", std::process::id()),
        ]);
        cmd.extend(argv.iter().map(|a| (*a).to_owned()));
        run_vec(&cmd)
    };
    for replica in 0..2 {
        let replayed = replay(&localhost, "agent-replay", &["sh", "-c", &script(replica)]);
        replayed.assert_code(0);
        assert!(replayed.stdout.contains("done"), "{replayed}");
    }
    assert!(!expected.contains("rmdir"), "{expected:?}");
    let denied = replay(&localhost, "agent-denied", &["rmdir", "/tmp/extra"]);
    assert_ne!(denied.status.code(), Some(0), "{denied}");
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "{denied}"
    );
    // A partial is a profile as it is (runc ignores the provenance key).
    let as_is = replay(&partials[1], "agent-partial", &["sh", "-c", WORKLOAD]);
    as_is.assert_code(0);
    assert!(as_is.stdout.contains("done"), "{as_is}");
}

/// Every provenance field of a replica's partial.
fn assert_provenance(partial: &serde_json::Value, replica: usize, id: &str) {
    let p = &partial["seccompProfilerProvenance"];
    for (key, want) in [
        ("node", NODES[replica]),
        ("namespace", "prod"),
        ("pod", PODS[replica]),
        ("podUid", UID[replica]),
        ("workload", "shop"),
        ("podTemplateHash", "7d4b9c8f6d"),
        ("container", "web"),
        ("containerId", id),
        ("image", BUSYBOX),
        ("engine", "containerd"),
        ("recorded", "start"),
        (
            "cgroup",
            &format!("/kubepods/besteffort/pod{}/{id}", UID[replica]),
        ),
    ] {
        assert_eq!(p[key].as_str(), Some(want), "{key}: {p:#}");
    }
    assert!(
        text(p, "/runtime").starts_with("runc "),
        "the installer identified: {p:#}"
    );
    // ctr's default OCI spec sets it (`ctr oci spec`), and the bundle says so.
    assert_eq!(p["noNewPrivileges"], true, "{p:#}");
    for key in ["started", "updated"] {
        let time = text(p, &format!("/{key}"));
        assert!(time.len() == 20 && time.ends_with('Z'), "{key}: {time}");
    }
    // node-a's replica exited while recorded; node-b's still ran when its agent stopped.
    assert_eq!(p["ended"].is_null(), replica == 1, "{p:#}");
    assert!(p["syscallsCounted"].as_u64().unwrap_or(0) > 0, "{p:#}");
    let allowed = partial["syscalls"][0]["names"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(p["syscallsAllowed"].as_u64(), Some(allowed as u64), "{p:#}");
    assert!(text(p, "/tool").starts_with("seccomp-profiler "), "{p:#}");
}
