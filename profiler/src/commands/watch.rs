//! `seccomp-profiler watch [--filter name=…] [--report FILE] [--duration DUR]`: the production view
//! of a rolled-out profile (design.md §15). Prints each call seccomp refuses in any Docker
//! container as it happens (stdout, one line per new refusal), then the totals per container
//! (stderr) and, with --report, a JSON report. Exit 1 when anything was refused.
//!
//! The watching itself is `recording::watch`; this module parses, renders and writes.

use std::io::Write as _;

use serde::Serialize;

use crate::{
    cli::WatchArgs,
    exit,
    output::{Destination, report::DeniedEntry, summary},
    recording::{
        denied,
        watch::{self, WatchOptions, Watched},
    },
};

/// The `--report` of a watch.
#[derive(Debug, Serialize)]
struct WatchReport<'a> {
    tool: crate::output::report::Tool,
    duration_ms: u64,
    cut_short_reason: Option<&'static str>,
    /// Refusals not counted because the kernel-side table was full (then the lists are incomplete).
    denials_lost: u64,
    containers: Vec<ContainerEntry<'a>>,
}

#[derive(Debug, Serialize)]
struct ContainerEntry<'a> {
    id: &'a str,
    name: &'a str,
    attached_after_start: bool,
    running_at_end: bool,
    denied_syscalls: &'a [DeniedEntry],
}

pub fn run(args: WatchArgs, verbose: u8) -> anyhow::Result<i32> {
    if let Some(filter) =
        (args.filter.iter()).find(|f| !matches!(f, crate::engines::Filter::Name(_)))
    {
        return exit::input(format!(
            "--filter {filter}: watch takes name=RE (repeatable) so far; record and check \
             --containers take the other keys"
        ));
    }
    let report = (args.report.as_deref())
        .map(|path| Destination::check("report", path))
        .transpose()?;
    let options = WatchOptions {
        duration: args.duration,
        verbose: verbose > 1,
        filters: crate::engines::Filters(args.filter),
    };
    let mut live = |name: &str, denial: &DeniedEntry, new: u64| {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the watch: the summary and report still come.
        let _ = writeln!(out, "{}", live_line(name, denial, new));
        let _ = out.flush();
    };
    let outcome = watch::watch(&options, &mut live)?;
    summary::note(&totals(&outcome.containers));
    if outcome.denials_lost > 0 {
        summary::note(&format!(
            "  warning: {} refused call(s) could not be counted (the kernel-side table was full)",
            outcome.denials_lost
        ));
    }
    if let Some(report) = report {
        let body = WatchReport {
            tool: crate::output::report::Tool::default(),
            duration_ms: outcome.duration.as_millis() as u64,
            cut_short_reason: outcome.cut_short,
            denials_lost: outcome.denials_lost,
            containers: outcome.containers.iter().map(entry).collect(),
        };
        let mut text = serde_json::to_string_pretty(&body)
            .expect("a watch report holds only strings, numbers and lists");
        text.push('\n');
        report.write(text.as_bytes())?;
    }
    let refused = outcome.containers.iter().any(|c| !c.denied.is_empty());
    Ok(if refused { exit::FINDING } else { exit::OK })
}

fn entry(w: &Watched) -> ContainerEntry<'_> {
    ContainerEntry {
        id: &w.id,
        name: &w.name,
        attached_after_start: w.attached_after_start,
        running_at_end: w.running_at_end,
        denied_syscalls: &w.denied,
    }
}

/// One line per new refusal: `container NAME: SYSCALL refused (ERRNO) +N, M in all; first COMM`.
fn live_line(name: &str, denial: &DeniedEntry, new: u64) -> String {
    format!(
        "container {name}: {} refused ({}) +{new}, {} in all; first refused to {}",
        denial.name, denial.errno_name, denial.count, denial.first_comm
    )
}

fn totals(containers: &[Watched]) -> String {
    let refused: Vec<&Watched> = containers.iter().filter(|c| !c.denied.is_empty()).collect();
    let mut lines = vec![format!(
        "seccomp-profiler watch: {} container(s) watched, {} with refused calls",
        containers.len(),
        refused.len()
    )];
    for container in refused {
        lines.push(format!("container {}:", container.name));
        lines.extend(denied::table(&container.denied));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_line_names_container_syscall_and_errno() {
        let denial = DeniedEntry {
            name: "mkdir".into(),
            arch: "SCMP_ARCH_X86_64",
            number: 83,
            errno: 1,
            errno_name: "EPERM".into(),
            count: 3,
            first_comm: "sh".into(),
        };
        assert_eq!(
            live_line("web", &denial, 1),
            "container web: mkdir refused (EPERM) +1, 3 in all; first refused to sh"
        );
    }
}
