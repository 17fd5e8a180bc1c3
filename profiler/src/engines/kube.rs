//! Kubernetes names from the annotations a kubelet's CRI runtime writes into a container's OCI
//! spec (containerd's CRI plugin: `io.kubernetes.cri.*`; CRI-O and dockershim: `io.kubernetes.pod.*`
//! and `io.kubernetes.container.name`), and the workload a pod belongs to. A container is known as
//! `<namespace>/<workload>/<container>`: replicas of one Deployment share one profile.
//!
//! The CRI annotations carry no owner reference and no pod labels, so the workload is the pod name
//! minus the suffixes its controller adds: a ReplicaSet's pod-template-hash and random suffix
//! (`shop-7d4b9c8f6d-x2x9k` → `shop`), a DaemonSet's or Job's random suffix (`agent-x2x9k` →
//! `agent`), a StatefulSet's ordinal (`db-0` → `db`). The random parts are drawn from the
//! apimachinery alphabet `bcdfghjklmnpqrstvwxz2456789` (no vowels), which ordinary words rarely
//! fit.

use std::collections::BTreeMap;

/// A container's pod, from its annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub pod: String,
    pub uid: Option<String>,
    pub container: String,
    pub workload: String,
}

impl Pod {
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Option<Pod> {
        let get = |keys: &[&str]| keys.iter().find_map(|k| annotations.get(*k).cloned());
        let pod = get(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"])?;
        let namespace = get(&[
            "io.kubernetes.cri.sandbox-namespace",
            "io.kubernetes.pod.namespace",
        ])
        .unwrap_or_else(|| "default".to_owned());
        let container = get(&[
            "io.kubernetes.cri.container-name",
            "io.kubernetes.container.name",
        ])
        .unwrap_or_default();
        let uid = get(&["io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"]);
        Some(Pod {
            workload: workload_of(&pod),
            namespace,
            pod,
            uid,
            container,
        })
    }

    /// `<namespace>/<workload>/<container>`.
    pub fn container_name(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.workload, self.container)
    }
}

/// A pod's sandbox (pause) container rather than one of its workload containers.
pub fn is_sandbox(annotations: &BTreeMap<String, String>) -> bool {
    [
        "io.kubernetes.cri.container-type",
        "io.kubernetes.cri-o.ContainerType",
    ]
    .iter()
    .any(|k| annotations.get(*k).map(String::as_str) == Some("sandbox"))
}

/// The characters `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString` and the name generator use.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn safe(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| SAFE.contains(&b))
}

/// The workload a pod name belongs to (see the module docs); the pod name itself when no
/// controller suffix is recognised.
pub fn workload_of(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    let n = parts.len();
    if n >= 3 {
        let (hash, random) = (parts[n - 2], parts[n - 1]);
        if random.len() == 5 && safe(random) && (6..=10).contains(&hash.len()) && safe(hash) {
            return parts[..n - 2].join("-");
        }
    }
    if n >= 2 {
        let last = parts[n - 1];
        if (last.len() == 5 && safe(last)) || last.bytes().all(|b| b.is_ascii_digit()) {
            return parts[..n - 1].join("-");
        }
    }
    pod.to_owned()
}

/// A ReplicaSet pod's pod-template-hash (`shop-7d4b9c8f6d-x2x9k` → `7d4b9c8f6d`), when its name
/// has the shape [`workload_of`] strips.
pub fn pod_template_hash(pod: &str) -> Option<String> {
    let workload = workload_of(pod);
    let rest = pod.strip_prefix(&workload)?.strip_prefix('-')?;
    let (hash, _) = rest.split_once('-')?;
    Some(hash.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_from_pod_names() {
        assert_eq!(workload_of("shop-7d4b9c8f6d-x2x9k"), "shop");
        assert_eq!(workload_of("my-shop-5f6c7b8d9-b2c4d"), "my-shop");
        assert_eq!(workload_of("node-agent-x2x9k"), "node-agent");
        assert_eq!(workload_of("db-0"), "db");
        assert_eq!(workload_of("web-proxy"), "web-proxy", "a word is no suffix");
        assert_eq!(workload_of("standalone"), "standalone");
        assert_eq!(
            pod_template_hash("shop-7d4b9c8f6d-x2x9k").as_deref(),
            Some("7d4b9c8f6d")
        );
        assert_eq!(pod_template_hash("node-agent-x2x9k"), None);
        assert_eq!(pod_template_hash("db-0"), None);
    }

    #[test]
    fn pods_from_annotations() {
        let annotations: BTreeMap<String, String> = [
            ("io.kubernetes.pod.name", "db-1"),
            ("io.kubernetes.pod.namespace", "data"),
            ("io.kubernetes.container.name", "postgres"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let pod = Pod::from_annotations(&annotations).expect("a pod");
        assert_eq!(pod.container_name(), "data/db/postgres");
        assert!(!is_sandbox(&annotations));
        assert!(Pod::from_annotations(&BTreeMap::new()).is_none());
    }
}
