//! Partial profiles: what the node agent (`seccomp-profiler agent`) writes for one container
//! instance, and what `merge` folds ([`fold`]) across replicas and nodes.
//!
//! A partial is a valid Docker/OCI seccomp profile (usable as is) with one more top-level key,
//! [`PROVENANCE_KEY`], saying where it was recorded: node, pod, container id, image, runtime,
//! no-new-privileges, from start or attached, when. runc, containerd, CRI-O and Docker decode a
//! profile into Go structs and ignore unknown keys (the e2e test replays a partial under
//! `ctr run --seccomp-profile`), and this tool's own reader ignores them too.
//!
//! The layout of an agent's or a merge's directory (all paths relative to `-o DIR`):
//!
//! ```text
//! partials/<namespace>/<workload>/<container>/<node>_<container id, 12>.json   one per instance
//! localhost/<namespace>/<workload>/<container>.json    the union (kubelet `seccompProfile: Localhost`)
//! operator/<namespace>/<workload>/<container>.yaml     the union as an SPO SeccompProfile
//! ```
//!
//! It owns the format and the layout; it never records, and writes only through
//! [`crate::output::Destination`].

pub mod fold;

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::{
    cli::Format,
    docker::file_stem,
    exit,
    output::{Destination, formats, writer::ensure_dir},
    profile::Profile,
};

/// The top-level key of a partial that carries its [`Provenance`].
pub const PROVENANCE_KEY: &str = "seccompProfilerProvenance";

/// The directories of the layout (module docs).
pub const PARTIALS_DIR: &str = "partials";
pub const LOCALHOST_DIR: &str = "localhost";
pub const OPERATOR_DIR: &str = "operator";

/// Where a partial was recorded, and of what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// `seccomp-profiler <version>` that wrote it.
    pub tool: String,
    pub node: String,
    pub namespace: String,
    pub pod: String,
    pub pod_uid: Option<String>,
    /// The pod's controller, from the pod name (`shop-7d4b9c8f6d-x2x9k` → `shop`).
    pub workload: String,
    /// A ReplicaSet's pod-template-hash (`7d4b9c8f6d`), when the pod name carries one.
    pub pod_template_hash: Option<String>,
    pub container: String,
    pub container_id: String,
    pub image: Option<String>,
    /// `containerd`, `cri-o`, … from the OCI bundle.
    pub engine: Option<String>,
    /// The runtime that installed the filter (`runc 1.1.5`), as identified at the install; None
    /// when no install was seen (attached).
    pub runtime: Option<String>,
    /// `process.noNewPrivileges` of the container's OCI spec.
    pub no_new_privileges: Option<bool>,
    /// `start`: from its first syscall after the filter install; `attached`: it was running when
    /// the agent started, so its start-up was not seen.
    pub recorded: String,
    pub cgroup: String,
    /// When recording it began (RFC 3339, UTC): its start, or the attach when `attached`.
    pub started: String,
    /// When it ended; None while it runs (the partial is refreshed until then).
    pub ended: Option<String>,
    /// When this file was written.
    pub updated: String,
    /// Syscalls counted so far, and distinct names allowed.
    pub syscalls_counted: u64,
    pub syscalls_allowed: usize,
}

/// `<namespace>/<workload>/<container>`: what one profile is made for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub namespace: String,
    pub workload: String,
    pub container: String,
}

impl Key {
    pub fn of(provenance: &Provenance) -> Key {
        Key {
            namespace: provenance.namespace.clone(),
            workload: provenance.workload.clone(),
            container: provenance.container.clone(),
        }
    }

    /// The three path components, each safe as one (`/` and `..` cannot escape the directory).
    fn components(&self) -> [String; 3] {
        [&self.namespace, &self.workload, &self.container].map(|part| file_stem(part))
    }

    /// `partials/<namespace>/<workload>/<container>`.
    pub fn partials_dir(&self) -> PathBuf {
        let [ns, workload, container] = self.components();
        [PARTIALS_DIR, &ns, &workload]
            .iter()
            .collect::<PathBuf>()
            .join(container)
    }

    /// `localhost/<namespace>/<workload>/<container>.json`: what a pod's
    /// `seccompProfile.localhostProfile` names, relative to the kubelet's seccomp directory, when
    /// the directory is (or is under) `/var/lib/kubelet/seccomp`.
    pub fn localhost_path(&self) -> PathBuf {
        let [ns, workload, container] = self.components();
        [LOCALHOST_DIR, &ns, &workload]
            .iter()
            .collect::<PathBuf>()
            .join(format!("{container}.json"))
    }

    /// `operator/<namespace>/<workload>/<container>.yaml`.
    pub fn operator_path(&self) -> PathBuf {
        let [ns, workload, container] = self.components();
        [OPERATOR_DIR, &ns, &workload]
            .iter()
            .collect::<PathBuf>()
            .join(format!("{container}.yaml"))
    }

    /// The SPO object's name: `<namespace>-<workload>-<container>` (SeccompProfile is
    /// cluster-scoped since the operator's v0.9.0, so the namespace is part of the name), made a
    /// DNS-1123 name by the writer.
    pub fn object_name(&self) -> String {
        format!("{}-{}-{}", self.namespace, self.workload, self.container)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.workload, self.container)
    }
}

/// The file name of one instance's partial: `<node>_<container id, 12>.json`.
pub fn partial_file_name(node: &str, container_id: &str) -> String {
    let id: String = container_id.chars().take(12).collect();
    format!("{}_{}.json", file_stem(node), file_stem(&id))
}

/// A partial's text: the profile's JSON with the provenance as one more key, pretty, with a
/// trailing newline.
pub fn render(profile: &Profile, provenance: &Provenance) -> String {
    #[derive(Serialize)]
    struct Partial<'a> {
        #[serde(flatten)]
        profile: &'a Profile,
        #[serde(rename = "seccompProfilerProvenance")]
        provenance: &'a Provenance,
    }
    let mut text = serde_json::to_string_pretty(&Partial {
        profile,
        provenance,
    })
    .expect("a partial holds only strings, numbers and lists, which always serialize");
    text.push('\n');
    text
}

/// The provenance of a profile's text, when it is a partial: None for a plain profile; an error
/// message when the key is there but malformed.
pub fn provenance_of(text: &str) -> Result<Option<Provenance>, String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(None);
    };
    match value.get(PROVENANCE_KEY) {
        None => Ok(None),
        Some(found) => serde_json::from_value(found.clone())
            .map(Some)
            .map_err(|err| {
                format!(
                    "its {PROVENANCE_KEY} is malformed ({err}): use the agent's file as it wrote \
                     it, or remove the key to use the file as a plain profile"
                )
            }),
    }
}

/// Every `*.json` file under `dir`, sorted (symlinks are not followed).
pub fn json_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|ext| ext == "json") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads a profile file: Some(partial) when it carries a provenance, None for a plain profile.
/// Either way the profile passes the checks runc and Docker apply; anything wrong is invalid
/// input naming the file.
pub fn load(path: &Path) -> anyhow::Result<Option<fold::Input>> {
    let text = crate::profile::read_text(path)?;
    let profile = crate::profile::parse_checked(&text, path)?;
    let provenance = provenance_of(&text)
        .map_err(|why| exit::InputError(format!("{}: {why}", path.display())))?;
    Ok(provenance.map(|provenance| fold::Input {
        label: path.display().to_string(),
        profile,
        provenance,
    }))
}

/// Writes a folded profile under `dir` in the two forms the layout names (module docs):
/// `localhost/…json` for the kubelet, `operator/…yaml` for the security-profiles-operator.
/// Returns both paths.
pub fn write_outputs(dir: &Path, folded: &fold::Folded) -> anyhow::Result<[PathBuf; 2]> {
    let key = &folded.key;
    let json = folded.profile.to_json();
    let yaml = formats::render(&folded.profile, Format::K8s, &key.object_name())
        .map_err(|err| exit::InputError(format!("{key}: {err}")))?;
    let mut written = Vec::with_capacity(2);
    for (relative, text, role) in [
        (key.localhost_path(), json, "localhost profile"),
        (key.operator_path(), yaml, "SeccompProfile"),
    ] {
        let path = dir.join(&relative);
        let (parent, name) = (
            path.parent().unwrap_or(dir),
            path.file_name().unwrap_or_default(),
        );
        ensure_dir(role, parent)?;
        Destination::in_dir(role, parent, name)?.write(text.as_bytes())?;
        written.push(path);
    }
    Ok([written[0].clone(), written[1].clone()])
}

/// A time as RFC 3339 in UTC, to the second (`2026-11-30T14:05:09Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::{collections::BTreeSet, time::Duration};

    use super::*;
    use crate::syscalls::Arch;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_047_509);
        assert_eq!(rfc3339(t), "2026-11-30T14:05:09Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_partial_is_a_profile_with_provenance() {
        let names: BTreeSet<String> = ["read", "write"].iter().map(|s| (*s).to_owned()).collect();
        let profile = Profile::minimal(&names, &[Arch::X86_64]).unwrap();
        let provenance = Provenance {
            node: "node-a".into(),
            namespace: "prod".into(),
            workload: "shop".into(),
            container: "web".into(),
            ..Provenance::default()
        };
        let text = render(&profile, &provenance);
        let back = Profile::from_json(&text, Path::new("p.json")).unwrap();
        assert_eq!(
            back, profile,
            "the profile reads back, the provenance ignored"
        );
        assert_eq!(provenance_of(&text).unwrap(), Some(provenance.clone()));
        assert_eq!(provenance_of(&profile.to_json()).unwrap(), None);
        assert!(
            text.starts_with("{\n  \"defaultAction\""),
            "profile keys first: {text}"
        );
        let key = Key::of(&provenance);
        assert_eq!(key.to_string(), "prod/shop/web");
        assert_eq!(key.partials_dir(), Path::new("partials/prod/shop/web"));
        assert_eq!(
            key.localhost_path(),
            Path::new("localhost/prod/shop/web.json")
        );
        assert_eq!(
            key.operator_path(),
            Path::new("operator/prod/shop/web.yaml")
        );
        assert_eq!(
            partial_file_name("node-a", "0123456789abcdef"),
            "node-a_0123456789ab.json"
        );
        let hostile = Key {
            namespace: "..".into(),
            workload: "a/b".into(),
            container: "c".into(),
        };
        assert_eq!(
            hostile.localhost_path(),
            Path::new("localhost/__/a_b/c.json")
        );
    }
}
