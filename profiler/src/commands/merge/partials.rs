//! `merge` of partials: the node agent's per-instance profiles (files, or directories holding
//! them, e.g. two nodes' agent directories copied to one machine) folded into one profile per
//! workload container ([`crate::partials::fold`]), written under `-o DIR` in the agent's layout
//! (`localhost/…json`, `operator/…yaml`), with its coverage in the summary and `--report`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{
    cli::MergeArgs,
    exit,
    output::{Destination, report::Tool, summary, writer::ensure_dir},
    partials::{
        self,
        fold::{self, Coverage, Folded, Input},
    },
};

#[derive(Serialize)]
struct Report<'a> {
    tool: Tool,
    workloads: Vec<WorkloadEntry<'a>>,
}

#[derive(Serialize)]
struct WorkloadEntry<'a> {
    namespace: &'a str,
    workload: &'a str,
    container: &'a str,
    /// Container instances folded, and the nodes and pods they ran on.
    replicas: usize,
    nodes: Vec<&'a str>,
    pods: Vec<&'a str>,
    /// Instances recorded after they started, or still running at their last write.
    attached: usize,
    running: usize,
    localhost_profile: String,
    operator_manifest: String,
    syscalls_allowed: usize,
    /// Names fewer than all replicas or nodes contributed: where a rollout risks a denial.
    partial_coverage: Vec<&'a str>,
    coverage: &'a [Coverage],
    sources: &'a [String],
}

/// Folds `found` (partials given as files) and every partial under the directories among
/// `args.files`, and writes the result.
pub(super) fn run(args: &MergeArgs, mut found: Vec<Input>) -> anyhow::Result<i32> {
    let Some(out) = &args.output else {
        return exit::input(
            "merging partials writes one profile per workload container: give -o DIR (the \
             localhost/ and operator/ layout of the agent's directory is written under it)",
        );
    };
    if out.exists() && !out.is_dir() {
        return exit::input(format!(
            "-o {}: merging partials writes a directory, and this is a file: give a directory",
            out.display()
        ));
    }
    let report = (args.report.as_deref())
        .map(|path| Destination::check("coverage report", path))
        .transpose()?;
    for path in args.files.iter().filter(|path| path.is_dir()) {
        let before = found.len();
        found.extend(partials_under(path, out)?);
        if found.len() == before {
            return exit::input(format!(
                "{} is a directory with no partial profiles in it (the files `seccomp-profiler \
                 agent` writes under partials/, with a {} key): give profile files, or agent \
                 output directories",
                path.display(),
                partials::PROVENANCE_KEY
            ));
        }
    }
    for path in args.files.iter().filter(|path| !path.is_dir()) {
        if !found
            .iter()
            .any(|input| Path::new(&input.label) == path.as_path())
        {
            match partials::load(path)? {
                Some(input) => found.push(input),
                None => {
                    return exit::input(format!(
                        "{} is a plain profile, not a partial (no {} key): merge partials apart \
                         from plain profiles",
                        path.display(),
                        partials::PROVENANCE_KEY
                    ));
                }
            }
        }
    }
    let folded = fold::fold(found)?;
    // Made only now: a merge refused for its inputs leaves nothing behind.
    ensure_dir("merge output directory", out)?;
    let mut written = Vec::with_capacity(folded.len());
    for one in &folded {
        for warning in &one.warnings {
            summary::note(&format!(
                "seccomp-profiler merge: {}: warning: {warning}",
                one.key
            ));
        }
        written.push(partials::write_outputs(out, one)?);
    }
    for (one, [localhost, operator]) in folded.iter().zip(&written) {
        summary::note(&describe(one, localhost, operator));
    }
    if let Some(report) = report {
        let body = Report {
            tool: Tool::default(),
            workloads: (folded.iter().zip(&written))
                .map(|(one, [localhost, operator])| entry(one, out, localhost, operator))
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&body)
            .expect("a coverage report holds only strings, numbers and lists");
        text.push('\n');
        report.write(text.as_bytes())?;
    }
    Ok(exit::OK)
}

/// The partials under an input directory (an agent's `-o DIR`, its `partials/`, or any copy):
/// every JSON file with a provenance. Other files there (the agent's own `localhost/` profiles)
/// are not partials and are skipped, and so is the merge's own output directory.
fn partials_under(dir: &Path, out: &Path) -> anyhow::Result<Vec<Input>> {
    let files = partials::json_files(dir).map_err(|err| {
        exit::InputError(format!(
            "cannot read the directory {}: {err}",
            dir.display()
        ))
    })?;
    let out = out.canonicalize().unwrap_or_else(|_| out.to_owned());
    let mut found = Vec::new();
    for path in files {
        let inside_out = path.canonicalize().is_ok_and(|p| p.starts_with(&out));
        // Only files that say they are partials are read (and must then be valid): anything else
        // in the directory (plain profiles, reports, notes) is not the agent's.
        let marked = std::fs::read_to_string(&path)
            .is_ok_and(|text| text.contains(partials::PROVENANCE_KEY));
        if !inside_out
            && marked
            && let Some(input) = partials::load(&path)?
        {
            found.push(input);
        }
    }
    Ok(found)
}

fn describe(one: &Folded, localhost: &Path, operator: &Path) -> String {
    let nodes = one.nodes.len();
    let mut lines = vec![format!(
        "seccomp-profiler merge: {}: {} replica(s) on {nodes} node(s) ({}): {} syscalls \
         allowed; written to {} and {}",
        one.key,
        one.replicas,
        one.nodes.iter().cloned().collect::<Vec<_>>().join(", "),
        one.profile.allowed_names().len(),
        localhost.display(),
        operator.display()
    )];
    let partial: Vec<String> = one
        .partial_coverage()
        .map(|c| {
            format!(
                "{} ({}/{} replicas, {}/{nodes} nodes)",
                c.name, c.replicas, one.replicas, c.nodes
            )
        })
        .collect();
    if partial.is_empty() {
        lines.push(format!(
            "  every allowed syscall was seen on all {} replica(s)",
            one.replicas
        ));
    } else {
        lines.push(format!(
            "  seen on only some replicas or nodes (a code path the others did not take while \
             recorded: where a rollout risks a denial): {}",
            partial.join(", ")
        ));
    }
    if one.attached > 0 {
        lines.push(format!(
            "  warning: {} replica(s) were recorded after they started (attached): their start-up \
             is in the profile only if another replica was recorded from its start",
            one.attached
        ));
    }
    if one.running > 0 {
        lines.push(format!(
            "  note: {} replica(s) were still running at their last write",
            one.running
        ));
    }
    lines.join("\n")
}

fn entry<'a>(one: &'a Folded, out: &Path, localhost: &Path, operator: &Path) -> WorkloadEntry<'a> {
    let relative = |path: &Path| -> String {
        path.strip_prefix(out)
            .map(PathBuf::from)
            .unwrap_or_else(|_| path.to_owned())
            .display()
            .to_string()
    };
    WorkloadEntry {
        namespace: &one.key.namespace,
        workload: &one.key.workload,
        container: &one.key.container,
        replicas: one.replicas,
        nodes: one.nodes.iter().map(String::as_str).collect(),
        pods: one.pods.iter().map(String::as_str).collect(),
        attached: one.attached,
        running: one.running,
        localhost_profile: relative(localhost),
        operator_manifest: relative(operator),
        syscalls_allowed: one.profile.allowed_names().len(),
        partial_coverage: one.partial_coverage().map(|c| c.name.as_str()).collect(),
        coverage: &one.coverage,
        sources: &one.sources,
    }
}
