//! `seccomp-profiler check --profile FILE -- CMD` (or `--container NAME`, or `--containers
//! --profile DIR -- CMD` for every container CMD starts): the footprint gate.
//! Records exactly like `record` (the same pipeline), then compares what the run *made* (not what
//! a new profile would allow: implied entries such as `rt_sigreturn` are not findings) with the
//! checked-in profile's allow list. Exit 1 lists every syscall outside it with its count and first
//! command; `--update` rewrites the profile as the merge of both instead.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use anyhow::Context as _;

mod enforce;

use crate::{
    cli::CheckArgs,
    exit,
    output::{self, Destination, report::Report, summary, writer},
    profile::Profile,
    recording::{self, Built, Finished, Options, Sink, Target},
};

/// One syscall the run made that the profile does not allow, summed over architectures.
#[derive(Debug, PartialEq, Eq)]
pub struct Outside {
    pub name: String,
    pub count: u64,
    pub first_comm: String,
}

pub fn run(args: CheckArgs, verbose: u8) -> anyhow::Result<i32> {
    if args.container.is_none()
        && !args.containers
        && let Some(refusal) = crate::engines::client_refusal(&args.cmd)
    {
        return exit::input(refusal);
    }
    let mut options = Options {
        duration: args.duration,
        verbose: verbose > 1,
        verify: false,
        args: args.args,
        runtimes: crate::runtimes::Request::default(),
        filters: crate::engines::Filters(args.filter.clone()),
    };
    if args.enforce {
        return enforce::run(args, &options);
    }
    let Some(profile_path) = args.profile.clone() else {
        return exit::input("--profile is required (unless --enforce)");
    };
    let target = Target::new(args.cmd, args.user, args.container, args.containers);
    if let Target::Containers { cmd } = &target {
        return check_containers(&profile_path, args.update, cmd, &target, &options);
    }
    let profile = super::load_profile(&profile_path)?;
    // A profile that already restricts by value keeps doing so when --update rewrites it.
    options.args |= restricts_arguments(&profile);
    if args.update && !crate::profile::is_profile_json(&crate::profile::read_text(&profile_path)?) {
        return exit::input(format!(
            "{}: --update rewrites the profile as Docker/OCI JSON, and this file is another form \
             (a SeccompProfile manifest, an OCI config.json, or YAML); check --update a JSON \
             profile instead (`seccomp-profiler merge FILE -o PROFILE.json` makes one)",
            profile_path.display()
        ));
    }
    let update = args
        .update
        .then(|| Destination::check("profile", &profile_path))
        .transpose()?;
    let report = (args.report.as_deref())
        .map(|path| Destination::check("report", path))
        .transpose()?;
    writer::distinct(
        &[update.as_ref(), report.as_ref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
    )?;
    let mut collected = Collect::new(profile_path.display().to_string());
    let outcome = recording::run(&target, &options, &mut collected)?;
    let Some(finished) = collected.recordings.pop() else {
        return Err(anyhow::anyhow!("the recording produced nothing to check"));
    };
    if let Some(report) = &report {
        output::write_report(&finished.built, report)?;
    }
    let what = match &target {
        Target::Container { name } => format!("container {name}"),
        _ => format!("`{}`", finished.built.report.run.command.join(" ")),
    };
    let hint = format!("--profile {}", profile_path.display());
    let failed = judge(
        &what,
        &profile_path,
        &profile,
        &finished.built,
        update.as_ref(),
        &hint,
    )?;
    Ok(if failed {
        exit::FINDING
    } else {
        outcome.exit_code()
    })
}

/// Keeps every finished recording for the comparison after the run.
struct Collect {
    /// How summaries refer to the checked-in profile (file or directory).
    profile_ref: String,
    recordings: Vec<Finished>,
}

impl Collect {
    fn new(profile_ref: String) -> Collect {
        Collect {
            profile_ref,
            recordings: Vec::new(),
        }
    }
}

impl Sink for Collect {
    fn profile_ref(&self, stem: Option<&str>) -> String {
        match stem {
            Some(stem) => format!("{}/{stem}.json", self.profile_ref),
            None => self.profile_ref.clone(),
        }
    }

    fn accept(&mut self, finished: Finished) -> anyhow::Result<()> {
        self.recordings.push(finished);
        Ok(())
    }
}

/// `check --containers --profile DIR -- CMD`: every container that starts while CMD runs is
/// checked against `DIR/<service or name>.json`, the layout `record --containers -o DIR` writes.
/// A container without a profile there is a finding too (`--update` writes its profile).
fn check_containers(
    dir: &Path,
    update: bool,
    cmd: &[std::ffi::OsString],
    target: &Target,
    options: &Options,
) -> anyhow::Result<i32> {
    if !dir.is_dir() {
        return exit::input(format!(
            "with --containers, --profile names the directory of checked-in profiles that \
             `record --containers -o DIR` writes; {} is not a directory",
            dir.display()
        ));
    }
    // Every checked-in profile is loaded (and checked) before anything runs: bad input fails fast.
    let profiles = load_profile_dir(dir)?;
    let mut options = options.clone();
    options.args |= profiles.values().any(restricts_arguments);
    let options = &options;
    if update {
        writer::ensure_dir("profile", dir)?;
    }
    let mut collected = Collect::new(dir.display().to_string());
    let outcome = recording::run(target, options, &mut collected)?;
    if collected.recordings.is_empty() {
        summary::note(&format!(
            "seccomp-profiler check: FAILED — no container started while `{}` ran, so nothing was \
             checked against {}",
            recording::context::os_args(cmd).join(" "),
            dir.display()
        ));
        return Ok(exit::FINDING);
    }
    let hint = format!("--containers --profile {}", dir.display());
    let mut failed = false;
    let mut seen = BTreeSet::new();
    for container in &collected.recordings {
        let stem = container.stem.as_deref().unwrap_or("container");
        let path = dir.join(format!("{stem}.json"));
        let what = format!("container {stem}");
        seen.insert(stem.to_owned());
        let destination = update
            .then(|| Destination::in_dir("profile", dir, format!("{stem}.json").as_ref()))
            .transpose()?;
        failed |= match profiles.get(stem) {
            Some(profile) => judge(
                &what,
                &path,
                profile,
                &container.built,
                destination.as_ref(),
                &hint,
            )?,
            None => new_container(&what, &path, &container.built, destination.as_ref())?,
        };
    }
    let unseen: Vec<&str> = profiles
        .keys()
        .map(String::as_str)
        .filter(|stem| !seen.contains(*stem))
        .collect();
    if !unseen.is_empty() {
        summary::note(&format!(
            "  note: not started in this run, so not checked: {}",
            unseen.join(", ")
        ));
    }
    Ok(if failed {
        exit::FINDING
    } else {
        outcome.exit_code()
    })
}

/// Whether a profile has argument conditions on `socket`, `clone` or `personality` (as
/// `record --args` writes them): then `--update` writes argument rules too.
fn restricts_arguments(profile: &Profile) -> bool {
    profile.syscalls.iter().any(|rule| {
        rule.action.permits()
            && !rule.args.is_empty()
            && rule
                .names
                .iter()
                .any(|name| ["socket", "clone", "personality"].contains(&name.as_str()))
    })
}

/// Every `*.json` in DIR except `*.report.json`, by file stem, each loaded and checked like any
/// profile input.
fn load_profile_dir(dir: &Path) -> anyhow::Result<BTreeMap<String, Profile>> {
    let unreadable = || {
        exit::InputError(format!(
            "cannot read the profile directory {}",
            dir.display()
        ))
    };
    let entries = std::fs::read_dir(dir).with_context(unreadable)?;
    let mut profiles = BTreeMap::new();
    for entry in entries {
        let path = entry.with_context(unreadable)?.path();
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

/// Compares one recording with its checked-in profile and says so; with `update` (the profile's
/// destination), a run that went outside rewrites the profile as the merge. Returns whether the
/// check failed. `target` is how the command line named the profile(s), for the hint on
/// accepting the growth.
fn judge(
    what: &str,
    path: &Path,
    profile: &Profile,
    built: &Built,
    update: Option<&Destination>,
    target: &str,
) -> anyhow::Result<bool> {
    let outside = outside(profile, &built.report);
    let unnamed = &built.report.unnamed_syscalls;
    // The values behind a syscall the profile allows only under argument conditions (the name
    // is then in `outside` too).
    let values = profile.values_outside(&built.report.arguments);
    let shown = path.display();
    if outside.is_empty() && unnamed.is_empty() {
        let distinct: BTreeSet<_> = built.report.syscalls.iter().map(|s| &s.name).collect();
        summary::note(&format!(
            "seccomp-profiler check: ok — every syscall {what} made ({} distinct, {} calls) is \
             allowed by {shown}",
            distinct.len(),
            built.report.total_syscalls
        ));
        return Ok(false);
    }
    if let Some(destination) = update {
        let merged = crate::profile::merge_profiles(&[profile.clone(), built.profile.clone()])?;
        destination.write(merged.to_json().as_bytes())?;
        let names: Vec<&str> = outside.iter().map(|o| o.name.as_str()).collect();
        summary::note(&format!(
            "seccomp-profiler check: updated {shown}: now also allows {}",
            names.join(", ")
        ));
        return Ok(false);
    }
    let mut lines = vec![
        format!(
            "seccomp-profiler check: FAILED — {what} made {} syscall(s) outside {shown}:",
            outside.len() + unnamed.len()
        ),
        format!("  {:<24} {:>10}  first made by", "syscall", "count"),
    ];
    for entry in &outside {
        lines.push(format!(
            "  {:<24} {:>10}  {}",
            entry.name, entry.count, entry.first_comm
        ));
    }
    for entry in unnamed {
        lines.push(format!(
            "  {:<24} {:>10}  {}  (no name in this libseccomp: cannot be allowed by name)",
            format!("{} #{}", entry.arch, entry.number),
            entry.count,
            entry.first_comm
        ));
    }
    for value in &values {
        lines.push(format!(
            "  {:<24} {:>10}  (argument value outside the profile's conditions)",
            format!("{}({})", value.syscall, value.value),
            "-"
        ));
    }
    lines.push(format!(
        "  to accept them: seccomp-profiler check --update {target} … (or record again and review \
         `seccomp-profiler diff`)"
    ));
    summary::note(&lines.join("\n"));
    Ok(true)
}

/// A container with no checked-in profile: a failure, or with `update` its profile is written.
fn new_container(
    what: &str,
    path: &Path,
    built: &Built,
    update: Option<&Destination>,
) -> anyhow::Result<bool> {
    let shown = path.display();
    if let Some(destination) = update {
        destination.write(built.profile.to_json().as_bytes())?;
        summary::note(&format!(
            "seccomp-profiler check: wrote {shown}: {what} had no profile; it now allows the {} \
             syscalls this run needed",
            built.allowed
        ));
        return Ok(false);
    }
    summary::note(&format!(
        "seccomp-profiler check: FAILED — {what} has no checked-in profile ({shown} does not exist); \
         it made {} calls. Record it with `seccomp-profiler record --containers -o DIR -- …`, or \
         rerun with --update to write it",
        built.report.total_syscalls
    ));
    Ok(true)
}

/// The recorded syscalls the profile's allow list lacks, sorted by name. A syscall the profile
/// allows through argument conditions for every value the run passed (`socket`, `clone`,
/// `personality`) is inside it.
pub fn outside(profile: &Profile, report: &Report) -> Vec<Outside> {
    let mut allowed = profile.allowed_names();
    allowed.extend(
        profile
            .admitted_by_value(&report.arguments)
            .into_iter()
            .map(str::to_owned),
    );
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
