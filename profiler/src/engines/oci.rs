//! A container's facts from the OCI bundle its runtime was given: `config.json` (annotations,
//! `process.noNewPrivileges`) and where the bundle lies (containerd keeps it at
//! `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/`). The bundle is found through a
//! process of the container: its parent (containerd's shim, Podman's conmon, CRI-O's conmon) runs
//! in the bundle directory, whichever state directory its daemon uses. Files only; it never talks
//! to a daemon.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use super::{Engine, Meta, kube};

/// Where containerd keeps bundles under its state directory (v2 shims, containerd ≥ 1.3).
const CONTAINERD_TASKS: &str = "io.containerd.runtime.v2.task";
/// containerd's default state directory, searched when no parent process leads to the bundle.
const CONTAINERD_STATE: &str = "/run/containerd";
/// Where CRI-O and rootful Podman (containers/storage with the overlay driver; its run root, then
/// its graph root) keep each container's `config.json`: `<dir>/<id>/userdata/config.json` (Podman
/// 4.3 here writes it under the graph root only). Searched, like containerd's, when no parent
/// process leads to the bundle: an agent without the host's PID namespace sees no conmon, and
/// Podman's conmon does not run in the bundle directory.
const CONTAINERS_STORAGE_BUNDLES: [&str; 2] = [
    "/run/containers/storage/overlay-containers",
    "/var/lib/containers/storage/overlay-containers",
];
/// The containerd namespace dockerd uses.
const DOCKER_NAMESPACE: &str = "moby";

/// The facts of the container whose processes are in `cgroup_dir`; None when none of them leads
/// to a bundle (no process yet, or the container is gone).
pub(super) fn from_cgroup(cgroup_dir: &Path, id: &str) -> Option<Meta> {
    let bundle = bundle_of(cgroup_dir, id)?;
    let text = fs::read_to_string(bundle.join("config.json")).ok()?;
    let mut meta = parse(&text, &bundle)?;
    if meta.name.is_empty() {
        meta.name = id.to_owned();
    }
    Some(meta)
}

fn bundle_of(cgroup_dir: &Path, id: &str) -> Option<PathBuf> {
    let procs = fs::read_to_string(cgroup_dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().take(4) {
        let Some(parent) = parent_of(pid) else {
            continue;
        };
        if let Ok(cwd) = fs::read_link(format!("/proc/{parent}/cwd"))
            && cwd.join("config.json").is_file()
        {
            return Some(cwd);
        }
    }
    // CRI-O's (and Podman's) bundle by id, then the default containerd state directory, any
    // namespace.
    if let Some(userdata) = (CONTAINERS_STORAGE_BUNDLES.iter())
        .map(|dir| Path::new(dir).join(id).join("userdata"))
        .find(|userdata| userdata.join("config.json").is_file())
    {
        return Some(userdata);
    }
    let tasks = Path::new(CONTAINERD_STATE).join(CONTAINERD_TASKS);
    fs::read_dir(tasks).ok()?.flatten().find_map(|namespace| {
        let bundle = namespace.path().join(id);
        bundle.join("config.json").is_file().then_some(bundle)
    })
}

/// `PPid` from /proc/<pid>/status.
fn parent_of(pid: &str) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("PPid:"))
        .and_then(|ppid| ppid.trim().parse().ok())
}

/// What a bundle's `config.json` and its path say.
pub(super) fn parse(config_json: &str, bundle: &Path) -> Option<Meta> {
    let value: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let annotations: BTreeMap<String, String> = (value.get("annotations"))
        .and_then(|a| a.as_object())
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let no_new_privileges = (value.pointer("/process/noNewPrivileges"))
        .map(|nnp| nnp.as_bool().unwrap_or(false))
        .or(Some(false));
    let components: Vec<&str> = bundle.iter().filter_map(|c| c.to_str()).collect();
    let containerd_namespace = (components.iter())
        .position(|c| *c == CONTAINERD_TASKS)
        .and_then(|at| components.get(at + 1))
        .map(|ns| (*ns).to_owned());
    // Podman writes some `io.kubernetes.cri-o.*` keys too (Created, TTY): its own marker first.
    let engine = if annotations.get("io.container.manager").map(String::as_str) == Some("libpod") {
        Some(Engine::Podman)
    } else if annotations
        .keys()
        .any(|k| k.starts_with("io.kubernetes.cri-o."))
    {
        Some(Engine::Crio)
    } else if containerd_namespace.as_deref() == Some(DOCKER_NAMESPACE) {
        Some(Engine::Docker)
    } else if containerd_namespace.is_some() {
        Some(Engine::Containerd)
    } else {
        None
    };
    let kube = kube::Pod::from_annotations(&annotations);
    let sandbox = kube::is_sandbox(&annotations);
    let name = kube
        .as_ref()
        .map(kube::Pod::container_name)
        .unwrap_or_default();
    let image = (annotations.get("io.kubernetes.cri.image-name"))
        .or(annotations.get("io.kubernetes.cri-o.ImageName"))
        .cloned();
    Some(Meta {
        engine,
        name,
        image,
        labels: annotations,
        kube,
        containerd_namespace,
        no_new_privileges,
        sandbox,
        source: bundle.join("config.json").display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubelet_containers_bundle() {
        let config = r#"{"ociVersion":"1.0.2","process":{"noNewPrivileges":true},
            "annotations":{
              "io.kubernetes.cri.container-type":"container",
              "io.kubernetes.cri.container-name":"web",
              "io.kubernetes.cri.sandbox-name":"shop-7d4b9c8f6d-x2x9k",
              "io.kubernetes.cri.sandbox-namespace":"prod",
              "io.kubernetes.cri.sandbox-uid":"1b2c3d4e-0000-4000-8000-000000000001",
              "io.kubernetes.cri.image-name":"registry.local/shop:1.2"}}"#;
        let bundle = Path::new("/tmp/d/state/io.containerd.runtime.v2.task/k8s.io/abc");
        let meta = parse(config, bundle).expect("parsed");
        assert_eq!(meta.engine, Some(Engine::Containerd));
        assert_eq!(meta.containerd_namespace.as_deref(), Some("k8s.io"));
        assert_eq!(meta.name, "prod/shop/web");
        assert_eq!(meta.image.as_deref(), Some("registry.local/shop:1.2"));
        assert_eq!(meta.no_new_privileges, Some(true));
        assert!(!meta.sandbox);
        let docker = parse(
            r#"{"process":{}}"#,
            Path::new("/run/containerd/io.containerd.runtime.v2.task/moby/abc"),
        )
        .expect("parsed");
        assert_eq!(docker.engine, Some(Engine::Docker));
        assert_eq!(docker.no_new_privileges, Some(false));
        assert!(parse("not json", bundle).is_none());
        // Podman's own bundle, as Podman 4.3 writes it (with two CRI-O keys).
        let podman = parse(
            r#"{"annotations":{"io.container.manager":"libpod",
                "io.kubernetes.cri-o.Created":"2026-11-30T11:55:28Z","io.kubernetes.cri-o.TTY":"false"}}"#,
            Path::new("/var/lib/containers/storage/overlay-containers/abc/userdata"),
        )
        .expect("parsed");
        assert_eq!(podman.engine, Some(Engine::Podman));
    }
}
