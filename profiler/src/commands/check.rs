//! `seccomp-profiler check --profile FILE -- CMD` (or `--container NAME`, or `--containers
//! --profile DIR -- CMD` for every container CMD starts): the footprint gate.
//! Records exactly like `record`, then compares what the run *made* (not what a new profile would
//! allow: implied entries such as `rt_sigreturn` are not findings) with the checked-in profile's
//! allow list. Exit 1 lists every syscall outside it with its count and first command; `--update`
//! rewrites the profile as the merge of both instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;

use super::record::{self, Built, Single};
use super::record_docker;
use crate::{
    cli::{CheckArgs, Format, RecordArgs},
    exit,
    profile::{self, Profile},
};

/// One syscall the run made that the profile does not allow, summed over architectures.
#[derive(Debug, PartialEq, Eq)]
pub struct Outside {
    pub name: String,
    pub count: u64,
    pub first_comm: String,
}

pub fn run(args: CheckArgs, verbose: u8) -> anyhow::Result<i32> {
    if args.containers {
        return run_containers(args, verbose);
    }
    let profile = super::load_profile(&args.profile)?;
    if args.update {
        record::check_output_path(&args.profile).map_err(exit::with(exit::INPUT))?;
    }
    if let Some(report) = &args.report {
        record::check_output_path(report).map_err(exit::with(exit::INPUT))?;
    }
    let target = Single {
        cmd: args.cmd.clone(),
        container: args.container.clone(),
        user: args.user.clone(),
        duration: args.duration,
        profile_ref: args.profile.display().to_string(),
    };
    let recorded = record::record_single(&target, verbose)?;
    if let Some(report) = &args.report {
        record::write_report(&recorded.built, report)?;
    }
    let what = match &args.container {
        Some(name) => format!("container {name}"),
        None => format!("`{}`", record::os_args(&args.cmd).join(" ")),
    };
    let hint = format!("--profile {}", args.profile.display());
    let failed = judge(
        &what,
        &args.profile,
        &profile,
        &recorded.built,
        args.update,
        &hint,
    )?;
    Ok(if failed { exit::FINDING } else { recorded.code })
}

/// `check --containers --profile DIR -- CMD`: every container that starts while CMD runs is
/// checked against `DIR/<service or name>.json`, the layout `record --containers -o DIR` writes.
/// A container without a profile there is a finding too (`--update` writes its profile).
fn run_containers(args: CheckArgs, verbose: u8) -> anyhow::Result<i32> {
    let dir = &args.profile;
    if !dir.is_dir() {
        return Err(anyhow::anyhow!(
            "with --containers, --profile names the directory of checked-in profiles that \
             `record --containers -o DIR` writes; {} is not a directory",
            dir.display()
        ))
        .map_err(exit::with(exit::INPUT));
    }
    // Every checked-in profile is loaded (and checked) before anything runs: bad input fails fast.
    let profiles = load_profile_dir(dir)?;
    if args.update {
        record::check_writable_dir(dir).map_err(exit::with(exit::INPUT))?;
    }
    let record_args = RecordArgs {
        output: Some(dir.clone()),
        report: None,
        report_dir: None,
        format: Format::Docker,
        duration: args.duration,
        user: None,
        container: None,
        containers: true,
        cmd: args.cmd.clone(),
    };
    let run = record_docker::record_containers(record_args, verbose)?;
    if run.recorded.is_empty() {
        eprintln!(
            "seccomp-profiler check: FAILED — no container started while `{}` ran, so nothing was \
             checked against {}",
            record::os_args(&args.cmd).join(" "),
            dir.display()
        );
        return Ok(exit::FINDING);
    }
    let hint = format!("--containers --profile {}", dir.display());
    let mut failed = false;
    let mut seen = BTreeSet::new();
    for container in &run.recorded {
        let path = dir.join(format!("{}.json", container.stem));
        let what = format!("container {}", container.stem);
        seen.insert(container.stem.as_str());
        failed |= match profiles.get(&container.stem) {
            Some(profile) => judge(&what, &path, profile, &container.built, args.update, &hint)?,
            None => new_container(&what, &path, &container.built, args.update)?,
        };
    }
    let unseen: Vec<&str> = profiles
        .keys()
        .map(String::as_str)
        .filter(|stem| !seen.contains(stem))
        .collect();
    if !unseen.is_empty() {
        eprintln!(
            "  note: not started in this run, so not checked: {}",
            unseen.join(", ")
        );
    }
    Ok(if failed { exit::FINDING } else { run.code })
}

/// Every `*.json` in DIR except `*.report.json`, by file stem, each loaded and checked like any
/// profile input.
fn load_profile_dir(dir: &Path) -> anyhow::Result<BTreeMap<String, Profile>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("failed to read the profile directory {}", dir.display()))
        .map_err(exit::with(exit::INPUT))?;
    let mut profiles = BTreeMap::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("failed to read the profile directory {}", dir.display()))
            .map_err(exit::with(exit::INPUT))?
            .path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // `record --report-dir` may share the directory: reports are not profiles.
        if name.ends_with(".json") && !name.ends_with(".report.json") && path.is_file() {
            let stem = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            profiles.insert(stem, super::load_profile(&path)?);
        }
    }
    Ok(profiles)
}

/// Compares one recording with its checked-in profile and says so; with `update`, a run that
/// went outside rewrites the profile as the merge. Returns whether the check failed. `target` is
/// how the command line named the profile(s), for the hint on accepting the growth.
fn judge(
    what: &str,
    path: &Path,
    profile: &Profile,
    built: &Built,
    update: bool,
    target: &str,
) -> anyhow::Result<bool> {
    let outside = outside(profile, &built.report);
    let unnamed = &built.report.unnamed_syscalls;
    let shown = path.display();
    if outside.is_empty() && unnamed.is_empty() {
        let distinct: BTreeSet<_> = built.report.syscalls.iter().map(|s| &s.name).collect();
        eprintln!(
            "seccomp-profiler check: ok — every syscall {what} made ({} distinct, {} calls) is \
             allowed by {shown}",
            distinct.len(),
            built.report.total_syscalls
        );
        return Ok(false);
    }
    if update {
        let merged = super::merge::merge_profiles(&[profile.clone(), built.profile.clone()])
            .map_err(exit::with(exit::INPUT))?;
        profile::write_atomic(path, merged.to_json().as_bytes())
            .with_context(|| format!("failed to update {shown}"))
            .map_err(exit::with(exit::INPUT))?;
        let names: Vec<&str> = outside.iter().map(|o| o.name.as_str()).collect();
        eprintln!(
            "seccomp-profiler check: updated {shown}: now also allows {}",
            names.join(", ")
        );
        return Ok(false);
    }
    eprintln!(
        "seccomp-profiler check: FAILED — {what} made {} syscall(s) outside {shown}:",
        outside.len() + unnamed.len()
    );
    eprintln!("  {:<24} {:>10}  first made by", "syscall", "count");
    for entry in &outside {
        eprintln!(
            "  {:<24} {:>10}  {}",
            entry.name, entry.count, entry.first_comm
        );
    }
    for entry in unnamed {
        eprintln!(
            "  {:<24} {:>10}  {}  (no name in this libseccomp: cannot be allowed by name)",
            format!("{} #{}", entry.arch, entry.number),
            entry.count,
            entry.first_comm
        );
    }
    eprintln!(
        "  to accept them: seccomp-profiler check --update {target} … (or record again and review \
         `seccomp-profiler diff`)"
    );
    Ok(true)
}

/// A container with no checked-in profile: a failure, or with `update` its profile is written.
fn new_container(what: &str, path: &Path, built: &Built, update: bool) -> anyhow::Result<bool> {
    let shown = path.display();
    if update {
        profile::write_atomic(path, built.profile.to_json().as_bytes())
            .with_context(|| format!("failed to write {shown}"))
            .map_err(exit::with(exit::INPUT))?;
        eprintln!(
            "seccomp-profiler check: wrote {shown}: {what} had no profile; it now allows the {} \
             syscalls this run needed",
            built.allowed
        );
        return Ok(false);
    }
    eprintln!(
        "seccomp-profiler check: FAILED — {what} has no checked-in profile ({shown} does not exist); \
         it made {} calls. Record it with `seccomp-profiler record --containers -o DIR -- …`, or \
         rerun with --update to write it",
        built.report.total_syscalls
    );
    Ok(true)
}

/// The recorded syscalls the profile's allow list lacks, sorted by name.
pub fn outside(profile: &Profile, report: &crate::output::report::Report) -> Vec<Outside> {
    let allowed = profile.allowed_names();
    let mut outside: BTreeMap<&str, Outside> = BTreeMap::new();
    for entry in report
        .syscalls
        .iter()
        .filter(|entry| !allowed.contains(&entry.name))
    {
        outside
            .entry(&entry.name)
            .and_modify(|o| o.count += entry.count)
            .or_insert_with(|| Outside {
                name: entry.name.clone(),
                count: entry.count,
                first_comm: entry.first_comm.clone(),
            });
    }
    outside.into_values().collect()
}
