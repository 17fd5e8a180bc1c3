//! `seccomp-profiler check --profile FILE -- CMD` (or `--container NAME`): the footprint gate.
//! Records exactly like `record`, then compares what the run *made* (not what a new profile would
//! allow: implied entries such as `rt_sigreturn` are not findings) with the checked-in profile's
//! allow list. Exit 1 lists every syscall outside it with its count and first command; `--update`
//! rewrites the profile as the merge of both instead.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::record::{self, Single};
use crate::{
    cli::CheckArgs,
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
    let outside = outside(&profile, &recorded.built.report);
    let unnamed = &recorded.built.report.unnamed_syscalls;
    let what = match &args.container {
        Some(name) => format!("container {name}"),
        None => format!("`{}`", record::os_args(&args.cmd).join(" ")),
    };
    let path = args.profile.display();
    if outside.is_empty() && unnamed.is_empty() {
        eprintln!(
            "seccomp-profiler check: ok — every syscall {what} made ({} distinct, {} calls) is allowed by {path}",
            recorded
                .built
                .report
                .syscalls
                .iter()
                .map(|s| &s.name)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            recorded.built.report.total_syscalls
        );
        return Ok(recorded.code);
    }
    if args.update {
        let merged = super::merge::merge_profiles(&[profile, recorded.built.profile.clone()])
            .map_err(exit::with(exit::INPUT))?;
        profile::write_atomic(&args.profile, merged.to_json().as_bytes())
            .with_context(|| format!("failed to update {path}"))
            .map_err(exit::with(exit::INPUT))?;
        let names: Vec<&str> = outside.iter().map(|o| o.name.as_str()).collect();
        eprintln!(
            "seccomp-profiler check: updated {path}: now also allows {}",
            names.join(", ")
        );
        return Ok(recorded.code);
    }
    eprintln!(
        "seccomp-profiler check: FAILED — {what} made {} syscall(s) outside {path}:",
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
        "  to accept them: seccomp-profiler check --update --profile {path} … (or record again and review `seccomp-profiler diff`)"
    );
    Ok(exit::FINDING)
}

/// The recorded syscalls the profile's allow list lacks, sorted by name.
pub fn outside(profile: &Profile, report: &crate::report::Report) -> Vec<Outside> {
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
