//! End to end: the node agent's DaemonSet (`deploy/daemonset.yaml`) has the privileges the tool
//! needs, and no fewer. Its container is run from the tool's image (`cargo xtask image`) with
//! exactly the DaemonSet's capabilities, mounts, read-only root, no_new_privs, Localhost seccomp
//! profile, user, environment and memory limit, read from the manifest itself (so the two cannot
//! drift: a field this test cannot apply fails it), and runs the DaemonSet's command, `agent`. A
//! pod's container started beside it (kubelet-shaped cgroup, CRI annotations) is recorded from its
//! first syscall into a partial profile in the output mount; removing either capability makes the
//! tool fail with its "missing CAP_BPF and CAP_PERFMON" error (exit 3).
//!
//! The container runs under containerd 1.6 + runc (a private instance, as a Kubernetes node runs
//! its pods), not Docker: Docker 20.10 cannot grant CAP_BPF or CAP_PERFMON (`docker run --cap-add
//! BPF`: "invalid CapAdd: unknown capability: \"CAP_BPF\""; its capability list predates them).
//! Not reproduced here: AppArmor (this kernel has none), the private cgroup namespace a pod gets
//! on a cgroup v2 node (this host is hybrid: runc makes none) and `recursiveReadOnly` (runc 1.1
//! has no mount_setattr support), so read-only mounts are read-only at their top only.

use std::{
    ffi::OsStr,
    fs::File,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{profiler_command, run};
use serde_json::Value;

use crate::support::{
    BUSYBOX, QUICK_TIMEOUT, Session,
    engines::{Containerd, KubeContainer, run_vec},
    tempdir, wait_for,
};

/// The containerd namespace a kubelet's containers live in.
const NAMESPACE: &str = "k8s.io";
/// The capabilities containerd's default spec grants (oci.WithDefaultSpec), all dropped when the
/// DaemonSet drops ALL: ctr takes no `--cap-drop ALL`.
const CTR_DEFAULT_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];
/// The securityContext fields this test applies (or, for appArmorProfile, cannot on this kernel).
const KNOWN_SECURITY_CONTEXT: &[&str] = &[
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "capabilities",
    "seccompProfile",
    "appArmorProfile",
];
/// The DaemonSet's command with a `--duration` (so the test's agent ends by itself); `{out}` is
/// the DaemonSet's output mount.
const COMMAND: &[&str] = &["agent", "-o", "{out}", "--duration"];
/// What the pod's container beside the agent calls that the runtime and a shell do not: busybox
/// `free` reads `sysinfo`.
const CALLED: &str = "sysinfo";
/// The Downward API's node name, as this test sets it.
const NODE: &str = "sp-deploy-node";

/// [`COMMAND`] for `duration`, writing into the DaemonSet's output mount.
fn agent_args(privileges: &Privileges, duration: &str) -> Vec<String> {
    (COMMAND.iter())
        .map(|arg| arg.replace("{out}", &privileges.output_mount))
        .chain([duration.to_owned()])
        .collect()
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The DaemonSet's single container and its pod spec, as JSON (PyPI's or Debian's PyYAML).
fn daemonset() -> Value {
    let out = run(
        Command::new("python3")
            .arg("-c")
            .arg("import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
            .arg(repo_file("deploy/daemonset.yaml")),
        QUICK_TIMEOUT,
    );
    out.assert_code(0);
    serde_json::from_str(&out.stdout).expect("the DaemonSet as JSON")
}

/// What `ctr run` needs to run the DaemonSet's container here.
struct Privileges {
    image: String,
    capabilities: Vec<String>,
    args: Vec<String>,
    memory_limit: u64,
    output_mount: String,
    /// The host directory behind the output mount (a temp dir, removed when dropped).
    output: tempfile::TempDir,
}

impl Privileges {
    fn of(daemonset: &Value) -> Privileges {
        let pod = &daemonset["spec"]["template"]["spec"];
        for host_namespace in ["hostPID", "hostNetwork", "hostIPC"] {
            assert_ne!(
                pod[host_namespace], true,
                "the DaemonSet sets {host_namespace}: teach this test to join the host's namespace"
            );
        }
        let containers = pod["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1, "one container per agent pod");
        let container = &containers[0];
        let security = container["securityContext"]
            .as_object()
            .expect("securityContext");
        for key in security.keys() {
            assert!(
                KNOWN_SECURITY_CONTEXT.contains(&key.as_str()),
                "securityContext.{key}: this test does not apply it yet; teach it"
            );
        }
        let capabilities = &security["capabilities"];
        assert_eq!(capabilities["drop"], serde_json::json!(["ALL"]));
        let capabilities: Vec<String> = capabilities["add"]
            .as_array()
            .expect("capabilities.add")
            .iter()
            .map(|c| c.as_str().expect("a capability").to_owned())
            .collect();
        assert_eq!(security["runAsUser"], 0, "the image's user is root");
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_ne!(security.get("privileged"), Some(&Value::Bool(true)));
        assert_eq!(security["seccompProfile"]["type"], "Localhost");
        let profile = repo_file(&format!(
            "deploy/{}",
            security["seccompProfile"]["localhostProfile"]
                .as_str()
                .expect("localhostProfile")
        ));

        let tmp = tempdir();
        let volumes = pod["volumes"].as_array().expect("volumes");
        let mut args = vec![
            "run".to_owned(),
            "--rm".to_owned(),
            "--read-only".to_owned(),
            "--seccomp".to_owned(),
            "--seccomp-profile".to_owned(),
            profile.display().to_string(),
        ];
        for cap in CTR_DEFAULT_CAPS {
            if !capabilities.iter().any(|c| c == cap) {
                args.extend(["--cap-drop".to_owned(), format!("CAP_{cap}")]);
            }
        }
        for env in container["env"].as_array().into_iter().flatten() {
            let name = env["name"].as_str().expect("env name");
            assert_eq!(
                env["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName",
                "env {name}: only the Downward API's node name is known here"
            );
            args.extend(["--env".to_owned(), format!("{name}={NODE}")]);
        }
        let memory_limit = quantity(
            container["resources"]["limits"]["memory"]
                .as_str()
                .expect("a memory limit"),
        );
        args.extend(["--memory-limit".to_owned(), memory_limit.to_string()]);
        let mut output_mount = None;
        for mount in container["volumeMounts"].as_array().expect("volumeMounts") {
            let name = mount["name"].as_str().expect("volume name");
            let target = mount["mountPath"].as_str().expect("mountPath").to_owned();
            let volume = (volumes.iter())
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("no volume {name}"));
            let host = volume["hostPath"]["path"]
                .as_str()
                .unwrap_or_else(|| panic!("volume {name}: only hostPath volumes are known here"));
            let read_only = mount["readOnly"] == true;
            // The DaemonSet's host paths, on this machine: the runtime's state dir is the private
            // containerd's (filled in by `ctr_run`), the output dir a temp dir.
            let source = match host {
                "/run/containerd" => "{containerd-state}".to_owned(),
                _ if !read_only => {
                    output_mount = Some(target.clone());
                    tmp.path().display().to_string()
                }
                _ => host.to_owned(),
            };
            args.push("--mount".to_owned());
            args.push(bind(&source, &target, read_only));
        }
        let image = container["image"].as_str().expect("image").to_owned();
        Privileges {
            image,
            capabilities,
            args,
            memory_limit,
            output_mount: output_mount.expect("a writable output mount"),
            output: tmp,
        }
    }
}

fn bind(source: &str, target: &str, read_only: bool) -> String {
    let mode = if read_only { "ro" } else { "rw" };
    format!("type=bind,src={source},dst={target},options=rbind:{mode}")
}

/// A Kubernetes memory quantity in bytes (`192Mi`, `1Gi`, `500M`, plain bytes).
fn quantity(text: &str) -> u64 {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().unwrap_or_else(|_| panic!("quantity {text}"));
    n * match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" => 1000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => panic!("quantity {text}: unit {unit} not known here"),
    }
}

/// An image as containerd names what `docker save` gave it (Docker's normalized reference).
fn containerd_image(image: &str) -> String {
    if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    }
}

/// The private containerd with the busybox image and the tool's image (from Docker's copy, which
/// `cargo xtask image`, or the `dist` stage of `cargo xtask test`, built).
fn containerd(image: &str) -> Containerd {
    let containerd = Containerd::start(NAMESPACE);
    let import = format!(
        "docker save {image} | ctr -a {} -n {NAMESPACE} images import -",
        containerd.socket().display()
    );
    let out = run(Command::new("sh").args(["-c", &import]), QUICK_TIMEOUT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "cannot import {image}: build it with `cargo xtask image`\n{out}"
    );
    containerd
}

/// The agent's container, running: ctr's output goes to files, so that the test can wait for
/// the tool's "recording every Kubernetes container" line while it runs.
struct Agent {
    child: std::process::Child,
    stdout: PathBuf,
    pid_file: PathBuf,
    id: String,
    started: Instant,
}

impl Agent {
    fn start(
        containerd: &Containerd,
        privileges: &Privileges,
        capabilities: &[String],
        command_args: &[String],
    ) -> Agent {
        let dir = containerd.dir.path();
        let id = format!("sp-deploy-agent-{}", std::process::id());
        let stdout = dir.join(format!("{id}.out"));
        let pid_file = dir.join(format!("{id}.pid"));
        let state = dir.join("state").display().to_string();
        let mut command = Command::new("ctr");
        command
            .arg("-a")
            .arg(containerd.socket())
            .args(["-n", NAMESPACE]);
        for arg in &privileges.args {
            command.arg(arg.replace("{containerd-state}", &state));
        }
        for cap in capabilities {
            command.args(["--cap-add", &format!("CAP_{cap}")]);
        }
        for cap in &privileges.capabilities {
            if !capabilities.contains(cap) {
                command.args(["--cap-drop", &format!("CAP_{cap}")]);
            }
        }
        command.arg("--pid-file").arg(&pid_file);
        command.arg(containerd_image(&privileges.image)).arg(&id);
        command.arg("/usr/bin/seccomp-profiler").args(command_args);
        let file = File::create(&stdout).expect("ctr's output file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("start ctr");
        Agent {
            child,
            stdout,
            pid_file,
            id,
            started: Instant::now(),
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The memory cgroup's peak so far (v1 `memory.max_usage_in_bytes` on this hybrid host, v2
    /// `memory.peak` elsewhere), which counts the eBPF maps too (Linux >= 5.11).
    fn memory_peak(&self) -> Option<u64> {
        let v1 = format!(
            "/sys/fs/cgroup/memory/{NAMESPACE}/{}/memory.max_usage_in_bytes",
            self.id
        );
        let v2 = format!("/sys/fs/cgroup/{NAMESPACE}/{}/memory.peak", self.id);
        [v1, v2]
            .iter()
            .find_map(|path| std::fs::read_to_string(path).ok()?.trim().parse().ok())
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
            && self.started.elapsed() < Duration::from_secs(60)
    }

    fn wait(mut self, timeout: Duration) -> (i32, String) {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for ctr") {
                let code = status.code().expect("ctr ended by a signal");
                return (code, self.output());
            }
            if self.started.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("the agent ran longer than {timeout:?}\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `field: value` of /proc/PID/status.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// The CapEff mask of exactly these capability names.
fn capability_mask(names: &[String]) -> u64 {
    names
        .iter()
        .map(|name| match name.as_str() {
            "BPF" => 1u64 << 39,
            "PERFMON" => 1 << 38,
            "SYS_ADMIN" => 1 << 21,
            "DAC_OVERRIDE" => 1 << 1,
            "DAC_READ_SEARCH" => 1 << 2,
            "SYS_PTRACE" => 1 << 19,
            "SYS_RESOURCE" => 1 << 24,
            other => panic!("capability {other}: add its bit here"),
        })
        .fold(0, |mask, bit| mask | bit)
}

/// With exactly the DaemonSet's privileges the agent in the tool's image loads its programs, arms
/// a pod's container started beside it at `cgroup_mkdir`, names it from its bundle (through the
/// read-only containerd state mount) and writes its partial profile, with provenance, into the
/// output mount. Its process has exactly the DaemonSet's capabilities, no_new_privs and a seccomp
/// filter; its memory stays under the limit.
#[test]
fn daemonset_privileges_are_enough() {
    let _session = Session::begin("deploy");
    let privileges = Privileges::of(&daemonset());
    let containerd = containerd(&privileges.image);

    let args = agent_args(&privileges, "8s");
    let mut agent = Agent::start(&containerd, &privileges, &privileges.capabilities, &args);
    wait_for("the agent to arm", Duration::from_secs(20), || {
        let output = agent.output();
        assert!(agent.running(), "the agent ended before arming\n{output}");
        output.contains("recording every Kubernetes container")
    });
    let pid = agent.pid().expect("the agent's pid");
    assert_eq!(
        u64::from_str_radix(&status_field(pid, "CapEff"), 16).expect("CapEff"),
        capability_mask(&privileges.capabilities),
        "the agent's effective capabilities are not exactly the DaemonSet's {:?}",
        privileges.capabilities
    );
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    assert_eq!(status_field(pid, "Seccomp"), "2", "no seccomp filter");
    assert_eq!(
        status_field(pid, "Uid").split_whitespace().next(),
        Some("0")
    );

    let id = format!("{:064x}", u128::from(std::process::id()) << 64 | 0xde9);
    let kube = KubeContainer {
        namespace: "prod",
        pod: "shop-7d4b9c8f6d-x2x9k",
        pod_uid: "1b2c3d4e-0000-4000-8000-00000000de91",
        container: "web",
    };
    let beside = run_vec(&containerd.ctr_run_kube(&kube, &id, &["sh", "-c", "sleep 0.5; free"]));
    beside.assert_code(0);
    // The memory cgroup goes with the container: sample its peak until the run ends.
    let mut peak = 0;
    while agent.running() {
        peak = peak.max(agent.memory_peak().unwrap_or(0));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, output) = agent.wait(Duration::from_secs(60));
    assert_eq!(code, 0, "the agent's run ends by its --duration\n{output}");
    let partial = privileges
        .output
        .path()
        .join(format!("partials/prod/shop/web/{NODE}_{}.json", &id[..12]));
    let partial: Value = serde_json::from_slice(&std::fs::read(&partial).unwrap_or_else(|err| {
        panic!(
            "no partial {} in the output mount ({err})\n{output}",
            partial.display()
        )
    }))
    .expect("the partial is JSON");
    let provenance = &partial["seccompProfilerProvenance"];
    assert_eq!(provenance["node"], NODE, "{provenance:#}");
    assert_eq!(provenance["pod"], kube.pod, "{provenance:#}");
    assert_eq!(
        provenance["recorded"], "start",
        "seen from its start: {provenance:#}"
    );
    let allowed: Vec<&str> = (partial["syscalls"].as_array().expect("syscalls").iter())
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|rule| rule["names"].as_array().expect("names").iter())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        allowed.contains(&CALLED),
        "{CALLED} not recorded: {allowed:?}"
    );
    assert!(peak > 0, "no memory cgroup peak was read");
    bundles_are_readable(&containerd, &privileges);
    assert!(peak < privileges.memory_limit);
    eprintln!(
        "deploy: the agent's memory cgroup peaked at {:.1} MiB (limit {} MiB)",
        peak as f64 / f64::from(1 << 20),
        privileges.memory_limit >> 20
    );
}

/// A container's OCI bundle (a root-owned 0700 directory in containerd's state dir, where the
/// agent reads the CRI annotations) is readable through the DaemonSet's read-only state mount
/// with its privileges: no CAP_DAC_READ_SEARCH, no hostPID. The tool reads a bundle's
/// `config.json` as a profile (its `linux.seccomp`).
fn bundles_are_readable(containerd: &Containerd, privileges: &Privileges) {
    let id = format!("sp-deploy-bundle-{}", std::process::id());
    let mut ctr = Command::new("ctr");
    ctr.arg("-a")
        .arg(containerd.socket())
        .args(["-n", NAMESPACE]);
    let started = run(
        ctr.args([
            "run",
            "-d",
            "--seccomp",
            &containerd_image(BUSYBOX),
            &id,
            "sleep",
            "60",
        ]),
        QUICK_TIMEOUT,
    );
    started.assert_code(0);
    let config =
        format!("/run/containerd/io.containerd.runtime.v2.task/{NAMESPACE}/{id}/config.json");
    let validate = ["validate".to_owned(), config];
    let (code, output) = Agent::start(containerd, privileges, &privileges.capabilities, &validate)
        .wait(Duration::from_secs(60));
    for args in [
        vec!["task", "kill", "-s", "KILL", &id],
        vec!["task", "rm", "-f", &id],
        vec!["container", "rm", &id],
    ] {
        let mut ctr = Command::new("ctr");
        ctr.arg("-a")
            .arg(containerd.socket())
            .args(["-n", NAMESPACE])
            .args(args);
        let _ = ctr.output();
    }
    assert_eq!(
        code, 0,
        "the bundle is not readable with the DaemonSet's privileges\n{output}"
    );
    assert!(output.contains("valid"), "{output}");
}

/// Without either capability the tool refuses to start, saying which ones it needs (exit 3).
#[test]
fn each_capability_is_needed() {
    let _session = Session::begin("deploy-caps");
    let privileges = Privileges::of(&daemonset());
    let containerd = containerd(&privileges.image);
    for missing in &privileges.capabilities {
        let fewer: Vec<String> = (privileges.capabilities.iter())
            .filter(|c| *c != missing)
            .cloned()
            .collect();
        let agent = Agent::start(
            &containerd,
            &privileges,
            &fewer,
            &agent_args(&privileges, "1s"),
        );
        let (code, output) = agent.wait(Duration::from_secs(60));
        assert_eq!(code, 3, "without CAP_{missing}\n{output}");
        assert!(
            output.contains("missing CAP_BPF and CAP_PERFMON"),
            "without CAP_{missing}: the error does not name the capabilities\n{output}"
        );
    }
}

/// The agent's own profile is shipped twice, as the kubelet's JSON and as a SeccompProfile for
/// the operator: both are valid and allow the same (`diff` finds nothing either way).
#[test]
fn agent_profile_forms_agree() {
    let json = repo_file("deploy/seccomp-profiler-agent.json");
    let operator = repo_file("deploy/operator/seccompprofile-agent.yaml");
    for file in [&json, &operator] {
        run(
            &mut profiler_command([OsStr::new("validate"), file.as_os_str()]),
            QUICK_TIMEOUT,
        )
        .assert_code(0);
    }
    for (old, new) in [(&json, &operator), (&operator, &json)] {
        let diff = run(
            &mut profiler_command([OsStr::new("diff"), old.as_os_str(), new.as_os_str()]),
            QUICK_TIMEOUT,
        );
        diff.assert_code(0);
        assert!(diff.stdout.contains("no change"), "{diff}");
    }
}
