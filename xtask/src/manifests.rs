//! `cargo xtask validate-manifests`: every manifest of `deploy/` checked offline, as the API server
//! would check it with `kubectl apply --validate=strict` (issue 10). Kubernetes objects against the
//! schemas kubernetes-validate bundles for [`KUBERNETES_VERSION`] with `--strict` (an unknown field
//! is an error); security-profiles-operator `SeccompProfile` objects against the CRD's schema in
//! `tests/schemas/` (`tests/scripts/check-k8s-manifest.py`, strict too). Then what the schemas
//! cannot see: every manifest is applied by `kustomization.yaml`, the DaemonSet's Localhost
//! seccomp profile is shipped next to it, and the image tag is this version. Last, a copy of the
//! DaemonSet and of a SeccompProfile with one field misspelt must both be refused, so a validator
//! that stopped being strict fails this task instead of passing everything.
//!
//! It runs no cluster and no container: whether the DaemonSet's privileges are enough is the
//! end-to-end test `deploy`'s job.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cmd, dist, prereqs, workspace};

/// The Kubernetes version validated against: the newest one kubernetes-validate
/// [`prereqs::KUBERNETES_VALIDATE_VERSION`] bundles.
pub const KUBERNETES_VERSION: &str = "1.37.0";

const SPO_API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1";
const SPO_SCHEMA: &str = "tests/schemas/spo-seccompprofile-v1.json";
const SPO_CHECKER: &str = "tests/scripts/check-k8s-manifest.py";
const KUSTOMIZATION: &str = "kustomization.yaml";

/// `cargo xtask validate-manifests`: installs kubernetes-validate if missing, then [`check`].
pub fn run() -> Result<()> {
    prereqs::kubernetes_validate().context("install kubernetes-validate")?;
    check()
}

/// The manifests of `deploy/`, sorted into what validates them.
#[derive(Debug, Default)]
struct Manifests {
    /// Kubernetes API objects: kubernetes-validate.
    kubernetes: Vec<PathBuf>,
    /// security-profiles-operator objects: the CRD's schema.
    operator: Vec<PathBuf>,
    /// The DaemonSet, for the checks the schemas cannot make.
    daemonset: Option<(PathBuf, Value)>,
}

/// Validate `deploy/` (expects kubernetes-validate in the venv).
pub fn check() -> Result<()> {
    let deploy = workspace::root().join("deploy");
    let manifests = classify(&deploy)?;
    kubernetes_validate(&manifests.kubernetes)?;
    operator_validate(&manifests.operator)?;
    let Some((daemonset_path, daemonset)) = &manifests.daemonset else {
        bail!("deploy/ holds no DaemonSet");
    };
    consistent(&deploy, daemonset)
        .with_context(|| format!("check {}", cmd::relative(daemonset_path.as_os_str())))?;
    refuses_misspelt(daemonset_path, manifests.operator.first())?;
    println!(
        "xtask: validate-manifests: {} Kubernetes object file(s) pass Kubernetes {KUBERNETES_VERSION} \
         strictly, {} SeccompProfile(s) pass the operator's CRD; misspelt copies are refused",
        manifests.kubernetes.len(),
        manifests.operator.len()
    );
    Ok(())
}

/// Every YAML file of `deploy/` (recursively), by what it holds. A Kubernetes object that
/// `kustomization.yaml` does not list is an error: `kubectl apply -k` would leave it out.
fn classify(deploy: &Path) -> Result<Manifests> {
    let kustomization = load_yaml(&deploy.join(KUSTOMIZATION))?;
    let resources: Vec<PathBuf> = kustomization
        .first()
        .and_then(|k| k["resources"].as_array())
        .context("kustomization.yaml lists no `resources`")?
        .iter()
        .map(|r| r.as_str().map(|r| deploy.join(r)))
        .collect::<Option<_>>()
        .context("a `resources` entry of kustomization.yaml is not a string")?;
    for resource in &resources {
        if !resource.is_file() {
            bail!(
                "kustomization.yaml lists {}, which does not exist",
                resource.display()
            );
        }
    }
    let mut manifests = Manifests::default();
    for path in yaml_files(deploy)? {
        if path == deploy.join(KUSTOMIZATION) {
            continue;
        }
        let documents = load_yaml(&path)?;
        let operator = documents
            .iter()
            .all(|d| d["apiVersion"].as_str() == Some(SPO_API_VERSION));
        if operator {
            manifests.operator.push(path);
            continue;
        }
        if !resources.contains(&path) {
            bail!(
                "{} is not listed in deploy/kustomization.yaml's resources, so `kubectl apply -k \
                 deploy/` would not apply it",
                cmd::relative(path.as_os_str())
            );
        }
        if let Some(daemonset) = documents.iter().find(|d| d["kind"] == "DaemonSet") {
            manifests.daemonset = Some((path.clone(), daemonset.clone()));
        }
        manifests.kubernetes.push(path);
    }
    Ok(manifests)
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(yaml_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// kubernetes-validate --strict; it only warns about a kind it has no schema for, so a warning
/// fails here too (nothing in `deploy/` may go unvalidated).
fn kubernetes_validate(files: &[PathBuf]) -> Result<()> {
    let out = kubernetes_validate_output(files)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || !unvalidated(&text).is_empty() {
        bail!(
            "kubernetes-validate --strict -k {KUBERNETES_VERSION} refused deploy/:\n{}",
            text.trim_end()
        );
    }
    print!("{text}");
    Ok(())
}

fn kubernetes_validate_output(files: &[PathBuf]) -> Result<std::process::Output> {
    let validator = prereqs::venv().join("bin/kubernetes-validate");
    cmd::new(&validator)
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .args(files)
        .output()
        .with_context(|| format!("run {}", validator.display()))
}

/// The lines of kubernetes-validate's output that are not a pass.
fn unvalidated(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("INFO "))
        .collect()
}

fn operator_validate(files: &[PathBuf]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let out = operator_validate_output(files)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "{SPO_CHECKER} refused a SeccompProfile of deploy/:\n{}{}",
            text.trim_end(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    print!("{text}");
    Ok(())
}

fn operator_validate_output(files: &[PathBuf]) -> Result<std::process::Output> {
    let root = workspace::root();
    // The venv's Python: kubernetes-validate brings jsonschema and PyYAML with it.
    cmd::new(prereqs::venv().join("bin/python"))
        .arg(root.join(SPO_CHECKER))
        .arg(root.join(SPO_SCHEMA))
        .args(files)
        .output()
        .with_context(|| format!("run {SPO_CHECKER}"))
}

/// What no schema checks: the Localhost profile the DaemonSet names is shipped in `deploy/` and
/// is JSON with a default action; its image is this version's.
fn consistent(deploy: &Path, daemonset: &Value) -> Result<()> {
    let containers = daemonset
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .context("no containers")?;
    for container in containers {
        let name = container["name"].as_str().unwrap_or("?");
        let seccomp = &container["securityContext"]["seccompProfile"];
        if seccomp["type"] == "Localhost" {
            let profile = seccomp["localhostProfile"]
                .as_str()
                .context("a Localhost seccompProfile without localhostProfile")?;
            let shipped = deploy.join(profile);
            let text = fs::read_to_string(&shipped).with_context(|| {
                format!(
                    "container {name} runs under Localhost profile {profile}, which deploy/ must \
                     ship as {}",
                    cmd::relative(shipped.as_os_str())
                )
            })?;
            let json: Value = serde_json::from_str(&text)
                .with_context(|| format!("parse {}", shipped.display()))?;
            if json["defaultAction"].as_str().is_none() {
                bail!("{} has no defaultAction", shipped.display());
            }
        }
        let image = container["image"].as_str().context("no image")?;
        let tag = image.rsplit_once(':').map(|(_, tag)| tag);
        if tag != Some(dist::VERSION) {
            bail!(
                "container {name} runs image {image}, not this version's tag {}",
                dist::VERSION
            );
        }
    }
    Ok(())
}

/// Misspelt copies of the DaemonSet and of a SeccompProfile must fail validation.
fn refuses_misspelt(daemonset: &Path, operator: Option<&PathBuf>) -> Result<()> {
    let scratch = workspace::scratch_dir()?.join("manifests");
    fs::create_dir_all(&scratch)?;
    refused_when_misspelt(
        &scratch.join("daemonset-misspelt.yaml"),
        daemonset,
        "readOnlyRootFilesystem",
        kubernetes_validate_output,
        "kubernetes-validate accepted a DaemonSet",
    )?;
    if let Some(operator) = operator {
        refused_when_misspelt(
            &scratch.join("seccompprofile-misspelt.yaml"),
            operator,
            "defaultAction",
            operator_validate_output,
            &format!("{SPO_CHECKER} accepted a SeccompProfile"),
        )?;
    }
    Ok(())
}

/// Writes `source` with `key` misspelt to `broken` and fails unless `validate` refuses it;
/// `accepted` starts the error that says it did not.
fn refused_when_misspelt(
    broken: &Path,
    source: &Path,
    key: &str,
    validate: fn(&[PathBuf]) -> Result<std::process::Output>,
    accepted: &str,
) -> Result<()> {
    fs::write(broken, misspell(&fs::read_to_string(source)?, key)?)?;
    if validate(&[broken.to_path_buf()])?.status.success() {
        bail!("{accepted} with `{key}` misspelt: it is not validating strictly");
    }
    Ok(())
}

/// `text` with the key `key` (YAML `key:` or JSON `"key"`) turned into a misspelling of it (its
/// last-but-one letter dropped), once.
fn misspell(text: &str, key: &str) -> Result<String> {
    let cut = key.len() - 2;
    let wrong = format!("{}{}", &key[..cut], &key[cut + 1..]);
    let forms = [
        (format!("{key}:"), format!("{wrong}:")),
        (format!("\"{key}\""), format!("\"{wrong}\"")),
    ];
    for (right, misspelt) in forms {
        if text.contains(&right) {
            return Ok(text.replacen(&right, &misspelt, 1));
        }
    }
    bail!("no `{key}` key to misspell")
}

/// Every YAML document of `path`, as JSON, read by the venv's PyYAML.
fn load_yaml(path: &Path) -> Result<Vec<Value>> {
    let out = cmd::output(
        cmd::new(prereqs::venv().join("bin/python"))
            .arg("-c")
            .arg(
                "import json, sys, yaml\n\
                 print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
            )
            .arg(path),
    )
    .with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&out.stdout).with_context(|| format!("parse {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspells_the_key_once() {
        let text = "a:\n  readOnlyRootFilesystem: true\n";
        assert_eq!(
            misspell(text, "readOnlyRootFilesystem").expect("the key is there"),
            "a:\n  readOnlyRootFilesystm: true\n"
        );
        assert_eq!(
            misspell("defaultAction: X", "defaultAction").expect("the key is there"),
            "defaultActin: X"
        );
        assert_eq!(
            misspell(r#"{"defaultAction": "X"}"#, "defaultAction").expect("the key is there"),
            r#"{"defaultActin": "X"}"#
        );
        assert!(misspell("x: 1", "defaultAction").is_err());
    }

    #[test]
    fn warnings_and_errors_are_not_passes() {
        let out = "INFO a.yaml passed for resource x against version 1.37\n\
                   WARN k.yaml Couldn't find schema for kind Kustomization\n";
        assert_eq!(
            unvalidated(out),
            vec!["WARN k.yaml Couldn't find schema for kind Kustomization"]
        );
        assert!(unvalidated("INFO a.yaml passed\n\n").is_empty());
    }
}
