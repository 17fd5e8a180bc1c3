//! `cargo xtask demo`: the product's promise shown end to end on `demo-workload` — record a
//! profile, validate it, replay the workload under it (must succeed), then let the workload try
//! a syscall outside the profile (must be denied). Each command is echoed and its output passed
//! through; a short result block closes. The workload's own behaviour lives in `tests/src/bin/`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cmd, prereqs, workspace};

/// Names allowed by Docker 20.10's default profile (the dockerd on this project's machines).
const DOCKER_DEFAULT_ALLOWED: usize = 346;

/// `cargo xtask demo`: prerequisites, release build, then the scenario.
pub fn run() -> Result<()> {
    prereqs::ensure(prereqs::Set::Build)?;
    build_release().context("build the release binaries")?;
    scenario()
}

/// The release binaries the demo, the end-to-end tests and the benchmarks use.
pub fn build_release() -> Result<()> {
    cmd::run(cmd::cargo().args([
        "build",
        "--release",
        "-p",
        "seccomp-profiler",
        "-p",
        "seccomp-profiler-tests",
        "--bins",
    ]))
}

/// The demo proper; expects `build_release` to have run.
pub fn scenario() -> Result<()> {
    println!("xtask: demo: record demo-workload, then run it under its own profile");
    let profiler = workspace::release_bin("seccomp-profiler");
    let workload = workspace::release_bin("demo-workload");
    let out_dir = workspace::target_dir().join("demo");
    fs::create_dir_all(&out_dir).with_context(|| format!("create {}", out_dir.display()))?;
    let profile = out_dir.join("demo-workload.json");
    let report = out_dir.join("demo-workload.report.json");

    cmd::run(
        cmd::new(&profiler)
            .arg("record")
            .arg("-o")
            .arg(&profile)
            .arg("--report")
            .arg(&report)
            .arg("--")
            .arg(&workload),
    )
    .context("record the demo workload")?;
    cmd::run(cmd::new(&profiler).arg("validate").arg(&profile))
        .context("validate the recorded profile")?;
    let allowed = allowed_syscalls(&profile)?;

    let mut replay = cmd::new(&profiler);
    replay
        .args(["exec", "--profile"])
        .arg(&profile)
        .arg("--")
        .arg(&workload);
    let replay_status = cmd::run_status(&mut replay)?;

    let mut escape = cmd::new(&profiler);
    escape
        .args(["exec", "--profile"])
        .arg(&profile)
        .arg("--")
        .arg(&workload)
        .arg("--escape");
    let (escape_status, escape_output) = cmd::run_tee(&mut escape)?;

    let replay_ok = replay_status.success();
    let denied = !escape_status.success();
    println!();
    println!("== demo result ==");
    println!(
        "syscalls allowed: {allowed} (Docker's default profile allows {DOCKER_DEFAULT_ALLOWED})"
    );
    if replay_ok {
        println!("replay under the profile: OK");
    } else {
        println!("replay under the profile: FAILED ({replay_status})");
    }
    if denied {
        let how = if mentions_eperm(&escape_output) {
            "EPERM".to_owned()
        } else {
            escape_status.to_string()
        };
        println!("syscall outside the profile: denied ({how})");
    } else {
        println!("syscall outside the profile: NOT denied (the workload exited 0)");
    }
    match (replay_ok, denied) {
        (true, true) => Ok(()),
        (false, _) => bail!(
            "demo: `{}` exited with {replay_status}, the workload must run under its own profile",
            cmd::display(&replay)
        ),
        (true, false) => bail!(
            "demo: `{}` exited 0, the syscall outside the profile must be denied",
            cmd::display(&escape)
        ),
    }
}

/// Distinct syscall names the profile allows (rules with action `SCMP_ACT_ALLOW`).
fn allowed_syscalls(profile: &Path) -> Result<usize> {
    let text = fs::read_to_string(profile)
        .with_context(|| format!("read the recorded profile {}", profile.display()))?;
    let json: Value = serde_json::from_str(&text)
        .with_context(|| format!("parse the recorded profile {}", profile.display()))?;
    Ok(count_allowed(&json))
}

fn count_allowed(profile: &Value) -> usize {
    let mut names: Vec<&str> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|rule| rule["names"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

/// demo-workload says `ptrace denied: EPERM` (and exits 3) when the profile blocked it; other
/// failures it reports as `ptrace failed: …`, which must not pass for the profile's EPERM.
fn mentions_eperm(output: &str) -> bool {
    output.contains("denied: EPERM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_allowed_names_only() {
        let profile = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["write", "exit_group"], "action": "SCMP_ACT_ALLOW", "args": []},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        });
        assert_eq!(count_allowed(&profile), 3);
        assert_eq!(count_allowed(&serde_json::json!({})), 0);
    }

    #[test]
    fn eperm_is_recognised() {
        assert!(mentions_eperm(
            "demo-workload: ptrace denied: EPERM (blocked by the profile)\n"
        ));
        assert!(!mentions_eperm(
            "demo-workload: ptrace failed: ENOSYS (not the profile's EPERM)"
        ));
        assert!(!mentions_eperm("ok"));
    }
}
