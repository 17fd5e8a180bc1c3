//! `cargo xtask runtime-table [--check]`: the measured runtime table `profiles/runtimes.json`,
//! which the tool embeds (`profiler/src/runtimes/table.rs`) for `record --runtimes/--nnp`. For
//! every runtime dockerd has (runc, and crun as `crun::ensure_registered` arranges it) and each
//! no-new-privileges mode, the release build of the tool records a minimal container (busybox
//! `sleep` and one `docker exec … true` into it) [`RUNS`] times; the table holds, per (runtime, mode), the union of the syscalls the
//! reports mark as made in the runtime phase, with the runtime's name, version and Go-ness as
//! the tool identified them, and the kernel. A union, because a Go runtime's scheduler and
//! allocator make some calls in some runs only.
//!
//! `--check` (a stage of `cargo xtask test`) measures into `target/xtask/runtimes.json` and fails
//! when a runtime, version or name list differs from the checked-in table; names the tool allows
//! for that runtime in every profile anyway (`timing_names`: signal return, exits, and a Go
//! runtime's allocator and scheduler, e.g. runc's `rt_sigreturn` after a SIGURG preemption, seen
//! in 1 of 5 runs) are not drift. It measures; whether a
//! profile made from the table runs is the end-to-end tests' business.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{cmd, crun, demo, dockerd, images, prereqs, workspace};

/// Recordings per (runtime, mode).
pub const RUNS: usize = 5;
const IMAGE: &str = "seccomp-profiler-test/busybox:latest";
/// Runtimes measured when dockerd lists them (Debian packages runc and crun; youki is not packaged).
const CANDIDATES: [&str; 3] = ["runc", "crun", "youki"];

fn table_path() -> PathBuf {
    workspace::root().join("profiles/runtimes.json")
}

/// `cargo xtask runtime-table [--check]`: prerequisites, dockerd, crun, the release build and the
/// test images, then the measurement.
pub fn run(check_only: bool) -> Result<()> {
    if !workspace::is_root() {
        bail!("`cargo xtask runtime-table` needs root (eBPF, cgroups, dockerd); run it as root");
    }
    prereqs::ensure(prereqs::Set::Test)?;
    let dockerd = dockerd::ensure_running().context("get a Docker daemon")?;
    let result = crun::ensure_registered()
        .map(drop)
        .and_then(|()| demo::build_release().context("build the release binaries"))
        .and_then(|()| images::build_all(false).context("build the test images"))
        .and_then(|()| if check_only { check() } else { regenerate() });
    if let Some(pid) = dockerd {
        dockerd::left_running_note(pid);
    }
    result
}

fn regenerate() -> Result<()> {
    let table = measure()?;
    let path = table_path();
    fs::write(&path, serde_json::to_string_pretty(&table)? + "\n")
        .with_context(|| format!("write {}", path.display()))?;
    println!(
        "xtask: runtime-table: wrote {}",
        cmd::relative(path.as_os_str())
    );
    Ok(())
}

/// `--check`, for `cargo xtask test` (which has built, imported and registered everything).
pub fn check() -> Result<()> {
    let measured = measure()?;
    let out = workspace::scratch_dir()?.join("runtimes.json");
    fs::write(&out, serde_json::to_string_pretty(&measured)? + "\n")
        .with_context(|| format!("write {}", out.display()))?;
    let path = table_path();
    let text = fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let checked_in: Value =
        serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    let drift = differences(&checked_in, &measured);
    if drift.is_empty() {
        println!("xtask: runtime-table --check: profiles/runtimes.json matches this machine");
        return Ok(());
    }
    bail!(
        "profiles/runtimes.json differs from what this machine measures ({}):\n  {}\n\
         run `cargo xtask runtime-table` and commit the result if the change is expected",
        cmd::relative(out.as_os_str()),
        drift.join("\n  ")
    )
}

/// What differs between two tables: runtimes, versions, Go-ness and name lists (not the comment;
/// the kernel is named but is not by itself a difference).
fn differences(old: &Value, new: &Value) -> Vec<String> {
    let by_name = |table: &Value| -> BTreeMap<String, Value> {
        table["runtimes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| (r["name"].as_str().unwrap_or("").to_owned(), r.clone()))
            .collect()
    };
    let (old_rt, new_rt) = (by_name(old), by_name(new));
    let mut drift = Vec::new();
    for name in old_rt.keys().chain(new_rt.keys()).collect::<BTreeSet<_>>() {
        match (old_rt.get(name), new_rt.get(name)) {
            (Some(_), None) => drift.push(format!("{name}: in the table, not on this machine")),
            (None, Some(_)) => drift.push(format!("{name}: on this machine, not in the table")),
            (Some(a), Some(b)) => {
                for field in ["version", "go"] {
                    if a[field] != b[field] {
                        drift.push(format!("{name}: {field} {} → {}", a[field], b[field]));
                    }
                }
                for mode in ["nnp_off", "nnp_on"] {
                    let set = |v: &Value| -> BTreeSet<String> {
                        v[mode]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|n| n.as_str().map(str::to_owned))
                            .collect()
                    };
                    // Names the tool allows for this runtime whatever a run saw are timing,
                    // not drift (a Go runtime's preemption signal lands in some runs only).
                    let timing = seccomp_profiler::recording::build::timing_names(
                        b["go"].as_bool().unwrap_or(true),
                    );
                    let stable = |names: BTreeSet<String>| -> BTreeSet<String> {
                        names
                            .into_iter()
                            .filter(|n| !timing.contains(n.as_str()))
                            .collect()
                    };
                    let (a, b) = (stable(set(a)), stable(set(b)));
                    let gone: Vec<&String> = a.difference(&b).collect();
                    let new: Vec<&String> = b.difference(&a).collect();
                    if !gone.is_empty() || !new.is_empty() {
                        drift.push(format!(
                            "{name} {mode}: no longer seen {gone:?}, newly seen {new:?}"
                        ));
                    }
                }
            }
            (None, None) => {}
        }
    }
    if !drift.is_empty() && old["kernel"] != new["kernel"] {
        drift.push(format!(
            "(kernel {} in the table, {} here)",
            old["kernel"], new["kernel"]
        ));
    }
    drift
}

fn docker_runtimes() -> Result<BTreeSet<String>> {
    let out = cmd::output(cmd::new("docker").args(["info", "--format", "{{json .Runtimes}}"]))?;
    let value: Value =
        serde_json::from_slice(&out.stdout).context("parse `docker info` runtimes")?;
    Ok(value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default())
}

struct Seen {
    name: String,
    version: String,
    go: bool,
    names: BTreeSet<String>,
}

/// Records one container and returns what its report says about the runtime phase.
fn record_once(runtime: &str, nnp: bool, run: usize, dir: &Path) -> Result<Seen> {
    let container = format!("sp-rt-{runtime}-{}-{run}", if nnp { "on" } else { "off" });
    // The container's start and one `docker exec` into it: the runtime works under the filter in
    // both (crun's exec stats /proc/self/setgroups there, which its container start does not).
    let script = format!(
        "docker run -d --name {container} --network none --runtime {runtime} {nnp} {IMAGE} sleep 60 \
         >/dev/null && docker exec {container} true && docker rm -f {container} >/dev/null",
        nnp = if nnp {
            "--security-opt no-new-privileges"
        } else {
            ""
        }
    );
    let mut record = cmd::new(workspace::release_bin("seccomp-profiler"));
    record
        .args(["record", "--containers", "-o"])
        .arg(dir)
        .arg("--report-dir")
        .arg(dir)
        .args(["--duration", "60s", "--", "sh", "-c", &script]);
    let out = cmd::output(&mut record);
    let _ = cmd::new("docker")
        .args(["rm", "-f", &container])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let out = out?;
    if !out.status.success() {
        bail!(
            "recording {container} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report_path = dir.join(format!("{container}.report.json"));
    let report: Value = serde_json::from_str(
        &fs::read_to_string(&report_path)
            .with_context(|| format!("read {}", report_path.display()))?,
    )
    .with_context(|| format!("parse {}", report_path.display()))?;
    let runtime_report = &report["runtime"];
    let installed = &runtime_report["installed_by"];
    let name = installed["name"].as_str().unwrap_or("").to_owned();
    let mode = runtime_report["no_new_privileges"].as_str().unwrap_or("");
    let wanted = if nnp { "on" } else { "off" };
    if mode != wanted {
        bail!(
            "{container}: the report says no-new-privileges {mode:?}, the run asked for {wanted}"
        );
    }
    let names = report["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["phase"] == "runtime")
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect();
    Ok(Seen {
        name,
        version: installed["version"].as_str().unwrap_or("").to_owned(),
        go: installed["go"].as_bool().unwrap_or(false),
        names,
    })
}

fn measure() -> Result<Value> {
    let available = docker_runtimes()?;
    let dir = workspace::scratch_dir()?.join("runtime-table");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    let mut runtimes = Vec::new();
    for runtime in CANDIDATES.iter().filter(|r| available.contains(**r)) {
        let mut identity: Option<(String, String, bool)> = None;
        let mut modes = serde_json::Map::new();
        for nnp in [false, true] {
            let mut union = BTreeSet::new();
            for run in 0..RUNS {
                let run_dir = dir.join(format!("{runtime}-{nnp}-{run}"));
                fs::create_dir_all(&run_dir)
                    .with_context(|| format!("create {}", run_dir.display()))?;
                let seen = record_once(runtime, nnp, run, &run_dir)?;
                let this = (seen.name.clone(), seen.version.clone(), seen.go);
                match &identity {
                    Some(known) if *known != this => bail!(
                        "runtime `{runtime}` was identified as {known:?} in one run and {this:?} in another"
                    ),
                    _ => identity = Some(this),
                }
                union.extend(seen.names);
            }
            println!(
                "xtask: runtime-table: {runtime} no-new-privileges {}: {} names over {RUNS} runs",
                if nnp { "on" } else { "off" },
                union.len()
            );
            modes.insert(
                if nnp { "nnp_on" } else { "nnp_off" }.to_owned(),
                json!(union),
            );
        }
        let (name, version, go) = identity.context("no run recorded")?;
        if name.is_empty() {
            bail!(
                "the tool did not identify dockerd's runtime `{runtime}` (see the reports in {})",
                dir.display()
            );
        }
        runtimes.push(json!({
            "name": name,
            "version": version,
            "go": go,
            "nnp_off": modes["nnp_off"],
            "nnp_on": modes["nnp_on"],
        }));
    }
    runtimes.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .context("read the kernel release")?
        .trim()
        .to_owned();
    Ok(json!({
        "comment": format!(
            "Generated by `cargo xtask runtime-table` (xtask/src/runtime_table.rs); do not edit. Per container \
             runtime and no-new-privileges mode, the syscalls the runtime made under the seccomp filter before \
             exec'ing the entrypoint of a busybox container (docker run --network none … sleep) and the command \
             of one `docker exec … true` into it, as the tool's reports mark them (phase \"runtime\"): the union of {RUNS} recordings each. `record --runtimes` \
             adds them to a profile."
        ),
        "kernel": kernel,
        "runs": RUNS,
        "runtimes": runtimes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_runtimes_versions_and_names() {
        let old = json!({"kernel": "a", "runtimes": [
            {"name": "crun", "version": "1.8.1", "go": false, "nnp_off": ["execve", "setresuid"], "nnp_on": ["execve"]}
        ]});
        assert!(differences(&old, &old).is_empty());
        let new = json!({"kernel": "b", "runtimes": [
            {"name": "crun", "version": "1.9", "go": false, "nnp_off": ["execve"], "nnp_on": ["execve", "read"]},
            {"name": "runc", "version": "1.1.5", "go": true, "nnp_off": [], "nnp_on": []}
        ]});
        let drift = differences(&old, &new);
        assert!(drift.iter().any(|d| d.contains("version")), "{drift:?}");
        assert!(
            drift
                .iter()
                .any(|d| d.contains("no longer seen [\"setresuid\"]")),
            "{drift:?}"
        );
        assert!(
            drift.iter().any(|d| d.contains("newly seen [\"read\"]")),
            "{drift:?}"
        );
        assert!(
            drift.iter().any(|d| d.starts_with("runc: on this machine")),
            "{drift:?}"
        );
    }
}
