//! Containers of every engine: which cgroup2 paths are containers and whose (Docker, Podman,
//! containerd, CRI-O, under either cgroup driver and under kubelet pod slices: design.md §17),
//! what a container is called and where it came from when the engine is not Docker (Podman's
//! `podman container inspect`, else the runtime's OCI bundle `config.json` and its annotations),
//! and `--filter` ([`filter`]). Docker's own naming stays in `crate::docker` (bollard).
//!
//! It never arms or reads a recording: the kernel side arms cgroups by shape, and
//! `recording/containers.rs` asks this module what each armed cgroup is.

pub mod filter;
pub mod kube;
mod oci;

use std::{collections::BTreeMap, fmt, path::Path, time::Duration};

pub use filter::{Filter, Filters};

/// The engine that started a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Engine {
    Docker,
    Podman,
    Containerd,
    Crio,
}

impl Engine {
    /// The name `--filter engine=` takes and reports show.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Containerd => "containerd",
            Engine::Crio => "cri-o",
        }
    }

    pub const ALL: [Engine; 4] = [
        Engine::Docker,
        Engine::Podman,
        Engine::Containerd,
        Engine::Crio,
    ];
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a cgroup path says about the container in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The container id: the 64-hex id of a shaped path, else the last path component (a
    /// `ctr run` id can be any name).
    pub id: String,
    /// The engine the shape names (`docker-`, `libpod-`, `cri-containerd-`, `crio-`); None for a
    /// bare 64-hex id (Docker's cgroupfs shape, but also CRI's and CRI-O's) or a runtime-made path.
    pub engine: Option<Engine>,
    /// Whether the last component has a container's shape (else the kernel armed it because a
    /// runtime made it: a container with any id, or a parent directory of one).
    pub shaped: bool,
    /// The kubelet pod the path lies in (`…pod<uid>…`), when it does.
    pub pod_uid: Option<String>,
}

const ID_LEN: usize = 64;

/// Classifies an armed cgroup2 path. The kernel side armed it because its last component has a
/// container's shape (`profiler_common::WATCH_SHAPES`) or because runc/crun made it; this says
/// which, and what the shape tells. conmon's `libpod-conmon-<id>` and pod/QoS slices are not
/// containers and never get here by shape.
pub fn classify(path: &str) -> Option<Shape> {
    let last = path.rsplit('/').next().filter(|last| !last.is_empty())?;
    let pod_uid = pod_uid_of(path);
    let bare = last.strip_suffix(".scope").unwrap_or(last);
    let prefixes = [
        ("docker-", Engine::Docker),
        ("libpod-", Engine::Podman),
        ("cri-containerd-", Engine::Containerd),
        ("crio-", Engine::Crio),
    ];
    let (id, engine) = prefixes
        .iter()
        .find_map(|(prefix, engine)| bare.strip_prefix(prefix).map(|id| (id, Some(*engine))))
        .unwrap_or((bare, None));
    let hex = id.len() == ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex {
        return Some(Shape {
            id: id.to_owned(),
            engine,
            shaped: true,
            pod_uid,
        });
    }
    Some(Shape {
        id: last.to_owned(),
        engine: None,
        shaped: false,
        pod_uid,
    })
}

/// The pod uid in a kubelet path: `/kubepods/<qos>/pod<uid>/…` (cgroupfs) or
/// `…/kubepods-<qos>-pod<uid with _ for ->.slice/…` (systemd).
fn pod_uid_of(path: &str) -> Option<String> {
    if !path.contains("kubepods") {
        return None;
    }
    path.split('/').find_map(|part| {
        let part = part.strip_suffix(".slice").unwrap_or(part);
        let (_, uid) = part.rsplit_once("pod")?;
        (uid.len() >= 32
            && uid
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_'))
        .then(|| uid.replace('_', "-"))
    })
}

/// A container as an engine other than Docker describes it (Docker's is `docker::ContainerInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub engine: Option<Engine>,
    /// Podman's or ctr's name; for a Kubernetes container `<namespace>/<workload>/<container>`.
    pub name: String,
    pub image: Option<String>,
    /// Podman's labels; the OCI annotations otherwise.
    pub labels: BTreeMap<String, String>,
    /// The Kubernetes pod, when the CRI annotations say (containerd's own namespace for a `ctr`
    /// container is in `containerd_namespace`).
    pub kube: Option<kube::Pod>,
    /// containerd's namespace (`k8s.io`, `default`, …), from the bundle's path.
    pub containerd_namespace: Option<String>,
    /// `process.noNewPrivileges` of the OCI spec, when read from one.
    pub no_new_privileges: Option<bool>,
    /// A pod's sandbox (pause) container: never recorded (it runs the kubelet's pause image,
    /// not a workload).
    pub sandbox: bool,
    /// Where the facts came from, for the report (`podman inspect`, a bundle path).
    pub source: String,
}

/// How long `podman container inspect` may take.
const PODMAN_TIMEOUT: Duration = Duration::from_secs(5);

/// Learns what a non-Docker container is: Podman's by `podman container inspect`, any other (and
/// Podman's when that fails) from the OCI bundle its runtime was given. `cgroup_dir` is where its
/// processes are (the bundle is found through the parent of one: containerd's shim and Podman's
/// conmon run in the bundle directory). None while nothing can be learned yet (no process yet) or
/// any more (it is gone).
pub async fn describe(shape: &Shape, cgroup_dir: &Path) -> Option<Meta> {
    if shape.engine == Some(Engine::Podman)
        && let Some(meta) = podman_inspect(&shape.id).await
    {
        return Some(meta);
    }
    let mut meta = oci::from_cgroup(cgroup_dir, &shape.id)?;
    if meta.engine.is_none() {
        meta.engine = shape.engine;
    }
    Some(meta)
}

async fn podman_inspect(id: &str) -> Option<Meta> {
    let output = tokio::time::timeout(
        PODMAN_TIMEOUT,
        tokio::process::Command::new("podman")
            .args(["container", "inspect", id])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    if !output.status.success() {
        log::debug!("podman container inspect {id}: {}", output.status);
        return None;
    }
    parse_podman_inspect(&output.stdout)
}

fn parse_podman_inspect(json: &[u8]) -> Option<Meta> {
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    let first = value.as_array()?.first()?;
    let text = |pointer: &str| first.pointer(pointer).and_then(|v| v.as_str());
    let labels = (first.pointer("/Config/Labels").and_then(|v| v.as_object()))
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let nnp = (first
        .pointer("/HostConfig/SecurityOpt")
        .and_then(|v| v.as_array()))
    .map(|opts| {
        opts.iter().any(|o| {
            o.as_str()
                .is_some_and(|o| o.starts_with("no-new-privileges"))
        })
    });
    Some(Meta {
        engine: Some(Engine::Podman),
        name: text("/Name")?.trim_start_matches('/').to_owned(),
        image: text("/ImageName")
            .or(text("/Config/Image"))
            .map(str::to_owned),
        labels,
        kube: None,
        containerd_namespace: None,
        no_new_privileges: nnp,
        sandbox: false,
        source: "podman container inspect".to_owned(),
    })
}

/// Container engine clients: `record -- docker run …` would profile the client, not the
/// container it starts.
const CLIENTS: [&str; 5] = ["docker", "podman", "ctr", "nerdctl", "crictl"];
/// Their subcommands that start or enter a container.
const STARTING: [&str; 6] = ["run", "start", "create", "exec", "up", "attach"];

/// When CMD is a container engine client starting a container: the client's name. Its profile
/// would be the client's (`docker`'s own syscalls), never the container's.
pub fn starts_containers(cmd: &[std::ffi::OsString]) -> Option<String> {
    let program = Path::new(cmd.first()?).file_name()?.to_str()?;
    if !CLIENTS.contains(&program) {
        return None;
    }
    let starting = (cmd.iter().skip(1))
        .filter_map(|arg| arg.to_str())
        .any(|arg| STARTING.contains(&arg));
    starting.then(|| program.to_owned())
}

/// Why CMD cannot be recorded as a command when it is a container engine client starting a
/// container, with the command line to use instead; None for any other CMD.
pub fn client_refusal(cmd: &[std::ffi::OsString]) -> Option<String> {
    let client = starts_containers(cmd)?;
    let line: Vec<String> = cmd
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    Some(format!(
        "`{client}` starts a container that runs apart from CMD (its daemon and runtime start \
         it), so this would profile the `{client}` client itself, not the container; use \
         `--containers -- {}` to record the containers it starts",
        line.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn every_engines_cgroup_shape() {
        let cases = [
            (format!("/docker/{ID}"), None),
            (
                format!("/system.slice/docker-{ID}.scope"),
                Some(Engine::Docker),
            ),
            (format!("/x/{ID}"), None),
            (format!("/libpod_parent/libpod-{ID}"), Some(Engine::Podman)),
            (
                format!("/machine.slice/libpod-{ID}.scope"),
                Some(Engine::Podman),
            ),
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/\
                     kubepods-besteffort-pod1b2c3d4e_0000_4000_8000_000000000001.slice/\
                     cri-containerd-{ID}.scope"
                ),
                Some(Engine::Containerd),
            ),
            (
                format!("/kubepods/burstable/pod1b2c3d4e-0000-4000-8000-000000000001/{ID}"),
                None,
            ),
            (
                format!("/kubepods.slice/crio-{ID}.scope"),
                Some(Engine::Crio),
            ),
        ];
        for (path, engine) in cases {
            let shape = classify(&path).expect("classified");
            assert!(shape.shaped, "{path}");
            assert_eq!(shape.id, ID, "{path}");
            assert_eq!(shape.engine, engine, "{path}");
        }
        let kube = classify(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/\
             kubepods-besteffort-pod1b2c3d4e_0000_4000_8000_000000000001.slice/cri-containerd-{ID}.scope"
        ))
        .expect("classified");
        assert_eq!(
            kube.pod_uid.as_deref(),
            Some("1b2c3d4e-0000-4000-8000-000000000001")
        );
        let conmon = classify(&format!("/machine.slice/libpod-conmon-{ID}.scope")).expect("x");
        assert!(!conmon.shaped, "conmon's cgroup is not a container");
        let ctr = classify("/default/my-app").expect("classified");
        assert_eq!((ctr.shaped, ctr.id.as_str()), (false, "my-app"));
        assert!(
            !classify(&format!("/docker/{}", "G".repeat(64)))
                .expect("x")
                .shaped
        );
    }

    #[test]
    fn engine_clients_that_start_containers() {
        let cmd = |args: &[&str]| {
            args.iter()
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            starts_containers(&cmd(&["/usr/bin/ctr", "run", "--rm", "img", "x"])).as_deref(),
            Some("ctr")
        );
        assert_eq!(
            starts_containers(&cmd(&["docker", "compose", "up"])).as_deref(),
            Some("docker")
        );
        assert_eq!(starts_containers(&cmd(&["docker", "version"])), None);
        assert_eq!(starts_containers(&cmd(&["make", "run"])), None);
    }

    #[test]
    fn podman_inspect_answer() {
        let json = br#"[{"Id":"abc","Name":"app-1","ImageName":"localhost/busybox:latest",
            "Config":{"Labels":{"tier":"web"}},"HostConfig":{"SecurityOpt":["no-new-privileges"]}}]"#;
        let meta = parse_podman_inspect(json).expect("parsed");
        assert_eq!(meta.name, "app-1");
        assert_eq!(meta.image.as_deref(), Some("localhost/busybox:latest"));
        assert_eq!(meta.labels.get("tier").map(String::as_str), Some("web"));
        assert_eq!(meta.no_new_privileges, Some(true));
    }
}
