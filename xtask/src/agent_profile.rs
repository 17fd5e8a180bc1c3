//! `cargo xtask agent-profile`: the node agent's own seccomp profile, recorded by the tool
//! itself, rewritten into `deploy/seccomp-profiler-agent.json` (the DaemonSet's `Localhost`
//! profile) and `deploy/operator/seccompprofile-agent.yaml` (the same as a security-profiles-operator
//! `SeccompProfile`).
//!
//! The host's release binary records, with `record --containers`, the tool's image (`cargo xtask
//! image`) running in Docker under an allow-all filter (the gate opens at its install), while a
//! busybox container beside it is refused a call. Two runs are merged: [`AGENT`], the DaemonSet's
//! command, and `record --containers` inside the image, which writes profiles and reports as the
//! agent does. Docker 20.10 knows neither CAP_BPF nor CAP_PERFMON, so the image runs with
//! CAP_SYS_ADMIN here; the end-to-end test `deploy` then runs it under this profile with exactly the
//! DaemonSet's privileges, and fails if anything is missing.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cmd, demo, dist, dockerd, workspace};

/// What the DaemonSet's container runs (with a `--duration`, so that it ends by itself).
const AGENT: &[&str] = &["agent", "--duration", "6s", "-o", "/out/agent"];
/// The syscall the busybox beside it is refused (`free` calls it), so refusals are handled too.
const REFUSED_PROFILE: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["sysinfo"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#;
const ALLOW_ALL: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
const JSON_PROFILE: &str = "deploy/seccomp-profiler-agent.json";
const OPERATOR_PROFILE: &str = "deploy/operator/seccompprofile-agent.yaml";
const OPERATOR_HEADER: &str = "\
# The agent's own seccomp profile (../seccomp-profiler-agent.json) as a security-profiles-operator
# object, for clusters that run the operator: it installs the profile on every node as
# operator/seccomp-profiler-agent.json, so set the DaemonSet's localhostProfile to that path
# (README \"Deploying the node agent\"). Without defaultErrnoRet, which no version of the CRD has:
# SCMP_ACT_ERRNO without an errno is EPERM, the JSON profile's default. Written by
# `cargo xtask agent-profile`; `cargo xtask validate-manifests` checks it against the CRD.
";

pub fn run() -> Result<()> {
    if !workspace::is_root() {
        bail!("`cargo xtask agent-profile` needs root (eBPF, dockerd)");
    }
    let image = format!("{}:{}", dist::NAME, dist::VERSION);
    demo::build_release()?;
    let dockerd = dockerd::ensure_running().context("get a Docker daemon")?;
    let result = record(&image);
    if let Some(pid) = dockerd {
        dockerd::left_running_note(pid);
    }
    result
}

fn record(image: &str) -> Result<()> {
    if !cmd::succeeds(cmd::new("docker").args(["image", "inspect", image])) {
        bail!("no image {image}: build it with `sudo cargo xtask image`");
    }
    let dir = workspace::scratch_dir()?.join("agent-profile");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    fs::create_dir_all(dir.join("out"))?;
    let allow_all = dir.join("allow-all.json");
    fs::write(&allow_all, ALLOW_ALL)?;
    let refused = dir.join("refused.json");
    fs::write(&refused, REFUSED_PROFILE)?;

    let mut profiles = Vec::new();
    for (name, extra, args) in [
        ("sp-agent-profile-agent", &[][..], AGENT.to_vec()),
        (
            "sp-agent-profile-record",
            // record --containers makes a cgroup for its CMD (a static busybox `sleep`): the
            // cgroup tree writable, CAP_DAC_OVERRIDE for a 0555 cgroup2 root (hybrid hosts), the
            // host's PID namespace so that its stale-cgroup check sees the outer recorder alive.
            &[
                "--cap-add",
                "DAC_OVERRIDE",
                "--pid",
                "host",
                "-v",
                "/bin/busybox:/test/busybox:ro",
            ][..],
            vec![
                "record",
                "--containers",
                "-o",
                "/out",
                "--report-dir",
                "/out",
                "--",
                "/test/busybox",
                "sleep",
                "6",
            ],
        ),
    ] {
        let cgroup_mode = if extra.is_empty() { ":ro" } else { "" };
        let mut docker = cmd::new("docker");
        docker
            .args(["run", "--rm", "--network", "none", "--name", name])
            .args(["--cap-drop", "ALL", "--cap-add", "SYS_ADMIN"])
            .args(extra)
            .arg("--security-opt")
            .arg(format!("seccomp={}", allow_all.display()))
            .args(["--security-opt", "no-new-privileges", "--read-only"])
            .args(["-v", &format!("/sys/fs/cgroup:/sys/fs/cgroup{cgroup_mode}")])
            .args(["-v", "/var/run/docker.sock:/var/run/docker.sock"])
            .args(["-v", &format!("{}:/out", dir.join("out").display())])
            .arg(image)
            .args(&args);
        let recorded = dir.join(name);
        let mut recorder = cmd::new(workspace::release_bin(dist::NAME));
        recorder
            .args(["record", "--containers", "--filter"])
            .arg(format!("name=^/{name}$"))
            .arg("-o")
            .arg(&recorded)
            .arg("--")
            .arg(docker.get_program())
            .args(docker.get_args());
        println!("$ {}", cmd::display(&recorder));
        let child = recorder.spawn().context("start the recorder")?;
        thread::sleep(Duration::from_secs(3));
        beside(&refused)?;
        let out = child.wait_with_output().context("wait for the recorder")?;
        // 5: the recorded command exited non-zero.
        if !matches!(out.status.code(), Some(0 | 5)) {
            bail!("recording {name} failed ({})", out.status);
        }
        profiles.push(recorded.join(format!("{name}.json")));
    }
    let json = workspace::root().join(JSON_PROFILE);
    cmd::run(
        cmd::new(workspace::release_bin(dist::NAME))
            .arg("merge")
            .args(&profiles)
            .arg("-o")
            .arg(&json),
    )?;
    write_operator(&json, &workspace::root().join(OPERATOR_PROFILE))?;
    println!("xtask: agent-profile: wrote {JSON_PROFILE} and {OPERATOR_PROFILE}");
    Ok(())
}

/// A busybox container beside the agent, refused `sysinfo`.
fn beside(refused: &Path) -> Result<()> {
    let mut run = Command::new("docker");
    run.args(["run", "--rm", "--network", "none", "--security-opt"])
        .arg(format!("seccomp={}", refused.display()))
        .args(["seccomp-profiler-test/busybox:latest", "free"]);
    cmd::output(&mut run).map(drop)
}

/// The JSON profile as a `SeccompProfile` (JSON is YAML): no `defaultErrnoRet` (it must be EPERM)
/// and no per-rule `comment`, neither of which the CRD has.
fn write_operator(json: &Path, yaml: &Path) -> Result<()> {
    let mut profile: Value = serde_json::from_slice(&fs::read(json)?)?;
    let object = profile.as_object_mut().context("a profile object")?;
    if let Some(errno) = object.remove("defaultErrnoRet")
        && errno != 1
    {
        bail!("the profile's defaultErrnoRet is {errno}, which a SeccompProfile cannot say");
    }
    for rule in object
        .get_mut("syscalls")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(rule) = rule.as_object_mut() {
            rule.remove("comment");
        }
    }
    let manifest = serde_json::json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1",
        "kind": "SeccompProfile",
        "metadata": {"name": "seccomp-profiler-agent"},
        "spec": profile,
    });
    let text = format!(
        "{OPERATOR_HEADER}{}\n",
        serde_json::to_string_pretty(&manifest)?
    );
    fs::write(yaml, text).with_context(|| format!("write {}", yaml.display()))
}
