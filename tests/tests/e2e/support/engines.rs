//! The container engines besides Docker, as the engine tests start them: rootful Podman with runc
//! (the ulimits and runtime this machine needs: DESIGN "More engines"), and a private containerd
//! (its own root, state and socket under a temp dir, stopped when dropped) so Docker's containerd
//! is never touched. Images come from the local Docker images (`docker save | podman load`,
//! `docker save | ctr images import`). `cargo xtask prereqs` installs `podman` and `containerd`.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use seccomp_profiler_tests::{Output, run};

use super::{BUSYBOX, QUICK_TIMEOUT, wait_for};

/// `podman run` as this machine needs it (rootful, runc, no network).
pub fn podman_run() -> Vec<String> {
    [
        "podman",
        "run",
        "--rm",
        "--runtime",
        "runc",
        "--network",
        "none",
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=32768:32768",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Makes the busybox test image known to Podman (from Docker's copy).
pub fn podman_image() {
    let exists = Command::new("podman")
        .args(["image", "exists", BUSYBOX])
        .status()
        .unwrap_or_else(|err| panic!("cannot run podman ({err}): run `cargo xtask prereqs`"));
    if !exists.success() {
        run(
            Command::new("sh").args(["-c", &format!("docker save {BUSYBOX} | podman load")]),
            QUICK_TIMEOUT,
        )
        .assert_code(0);
    }
}

/// A containerd of the test's own, with the busybox image imported into `namespace`.
pub struct Containerd {
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Containerd {
    pub fn start(namespace: &str) -> Containerd {
        let dir = super::tempdir();
        let child = Command::new("containerd")
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("--address")
            .arg(dir.path().join("sock"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start containerd ({err}): run `cargo xtask prereqs`")
            });
        let containerd = Containerd { dir, child };
        let sock = containerd.socket();
        wait_for("containerd's socket", Duration::from_secs(20), || {
            sock.exists()
        });
        let import = format!(
            "docker save {BUSYBOX} | ctr -a {} -n {namespace} images import -",
            sock.display()
        );
        run(Command::new("sh").args(["-c", &import]), QUICK_TIMEOUT).assert_code(0);
        containerd
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// `ctr -a SOCK -n NAMESPACE run --rm --net-host` followed by `args`.
    pub fn ctr_run(&self, namespace: &str) -> Vec<String> {
        vec![
            "ctr".into(),
            "-a".into(),
            self.socket().display().to_string(),
            "-n".into(),
            namespace.into(),
            "run".into(),
            "--rm".into(),
            "--net-host".into(),
        ]
    }
}

/// A pod's container as a kubelet (cgroupfs driver) has containerd start it.
pub struct KubeContainer<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub pod_uid: &'a str,
    pub container: &'a str,
}

impl Containerd {
    /// `ctr run --seccomp` in containerd namespace `k8s.io` with the kubelet's cgroup path
    /// (`/kubepods/besteffort/pod<uid>/<id>`) and the CRI annotations a kubelet sets, for the
    /// busybox image: then `id` and `argv`.
    pub fn ctr_run_kube(&self, kube: &KubeContainer, id: &str, argv: &[&str]) -> Vec<String> {
        let mut cmd = self.ctr_run("k8s.io");
        cmd.extend(
            [
                "--seccomp",
                "--cgroup",
                &format!("/kubepods/besteffort/pod{}/{id}", kube.pod_uid),
                "--annotation",
                "io.kubernetes.cri.container-type=container",
                "--annotation",
                &format!("io.kubernetes.cri.container-name={}", kube.container),
                "--annotation",
                &format!("io.kubernetes.cri.sandbox-name={}", kube.pod),
                "--annotation",
                &format!("io.kubernetes.cri.sandbox-namespace={}", kube.namespace),
                "--annotation",
                &format!("io.kubernetes.cri.sandbox-uid={}", kube.pod_uid),
                "--annotation",
                &format!("io.kubernetes.cri.image-name={BUSYBOX}"),
                &format!("docker.io/{BUSYBOX}"),
                id,
            ]
            .map(str::to_owned),
        );
        cmd.extend(argv.iter().map(|arg| (*arg).to_owned()));
        cmd
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an argument vector, at most `QUICK_TIMEOUT`.
pub fn run_vec(argv: &[String]) -> Output {
    run(Command::new(&argv[0]).args(&argv[1..]), QUICK_TIMEOUT)
}
