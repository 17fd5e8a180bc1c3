//! `seccomp-profiler diff OLD NEW`: the CI gate on a profile's growth. It answers one question —
//! does NEW allow anything OLD does not? — with exit 1 when it does, and shows the syscalls added
//! (with a risk note for the ones in [`crate::risk`]), removed and unchanged, as terminal text, as
//! markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`, or as JSON.
//!
//! Each side is a profile or a `record --report` file. Profiles are compared on their
//! unconditional allow lists; their other rules (conditional allows, errno/kill rules, the default
//! action, architectures, flags) are listed as rule changes, which count as widening only when they
//! let NEW allow something OLD denied. Reports are compared on the recorded and implied syscall
//! names, and on the capabilities used. A profile and a report are compared on syscall names only.
//!
//! It does not judge whether a syscall is needed (`record` and `check` do that), and it reads
//! inputs only: nothing is written but the result on stdout. Any bad input exits 2 before anything
//! is printed.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    fs,
    path::Path,
};

use anyhow::anyhow;
use serde::{Deserialize, Serialize};

use crate::{
    cli::{DiffArgs, DiffFormat},
    exit,
    profile::{Action, Op, Profile, Rule},
    risk,
    syscalls::{self, Arch},
};

pub fn run(args: DiffArgs) -> anyhow::Result<i32> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let diff = compare(&old, &new);
    let labels = Labels {
        old: args.old.display().to_string(),
        new: args.new.display().to_string(),
    };
    let text = match args.format {
        DiffFormat::Text => text(&diff, &labels),
        DiffFormat::Markdown => markdown(&diff, &labels),
        DiffFormat::Json => json(&diff),
    };
    print!("{text}");
    Ok(if diff.widened {
        exit::FINDING
    } else {
        exit::OK
    })
}

/// One side of the comparison.
enum Input {
    Profile(Profile),
    Report(ReportView),
}

/// The parts of a `--report` file (report.rs) that `diff` compares; other keys are ignored. A
/// report is told from a profile by its `tool` and `run` keys ([`is_report`]).
#[derive(Debug, Deserialize)]
struct ReportView {
    syscalls: Vec<NameView>,
    #[serde(default)]
    implied_syscalls: Vec<NameView>,
    #[serde(default)]
    capabilities: Option<CapabilitiesView>,
}

#[derive(Debug, Deserialize)]
struct NameView {
    name: String,
}

#[derive(Debug, Deserialize)]
struct CapabilitiesView {
    used: Vec<String>,
}

/// A profile, or a report when the file is a JSON object with `tool` and `run` (the keys every
/// report starts with and no profile has). Everything else goes through [`Profile::load`] and
/// [`Profile::check`], so a bad profile fails exactly as under `validate`.
fn load(path: &Path) -> anyhow::Result<Input> {
    if let Ok(text) = fs::read_to_string(path)
        && is_report(&text)
    {
        return load_report(path, &text)
            .map(Input::Report)
            .map_err(exit::with(exit::INPUT));
    }
    let profile = super::load_profile(path)?;
    Ok(Input::Profile(profile))
}

fn is_report(text: &str) -> bool {
    matches!(
        serde_json::from_str::<serde_json::Value>(text),
        Ok(serde_json::Value::Object(map)) if map.contains_key("tool") && map.contains_key("run")
    )
}

fn load_report(path: &Path, text: &str) -> anyhow::Result<ReportView> {
    let report: ReportView = serde_json::from_str(text).map_err(|err| {
        let (line, column) = (err.line(), err.column());
        let full = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        anyhow!(
            "{}:{line}:{column}: not a seccomp-profiler report: {message}; pass a file written by \
             `seccomp-profiler record --report`, or a profile",
            path.display()
        )
    })?;
    let unknown: BTreeSet<&str> = report
        .syscalls
        .iter()
        .chain(&report.implied_syscalls)
        .map(|entry| entry.name.as_str())
        .filter(|name| !syscalls::is_known_name(name))
        .collect();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|name| format!("{name:?}")).collect();
        anyhow::bail!(
            "{}: the report names syscalls this libseccomp does not know: {}; record the report \
             again with this build, or fix the names",
            path.display(),
            names.join(", ")
        );
    }
    if let Some(caps) = &report.capabilities
        && let Some(bad) = caps.used.iter().find(|cap| !is_capability_name(cap))
    {
        anyhow::bail!(
            "{}: capabilities.used: {bad:?} is not a capability name; write names like \
             CAP_NET_BIND_SERVICE (see capabilities(7))",
            path.display()
        );
    }
    Ok(report)
}

fn is_capability_name(name: &str) -> bool {
    name.strip_prefix("CAP_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

impl Input {
    /// The syscall names compared: a profile's unconditional allow list, or a report's recorded
    /// plus implied syscalls (exactly what `record` put in the profile it wrote next to it).
    fn names(&self) -> BTreeSet<String> {
        match self {
            Input::Profile(profile) => profile.allowed_names(),
            Input::Report(report) => report
                .syscalls
                .iter()
                .chain(&report.implied_syscalls)
                .map(|entry| entry.name.clone())
                .collect(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Input::Profile(_) => "profile",
            Input::Report(_) => "report",
        }
    }
}

/// The comparison, in the JSON output's key order.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Diff {
    /// Syscalls NEW allows (or used) that OLD does not.
    added: Vec<Entry>,
    removed: Vec<Entry>,
    unchanged: usize,
    /// Only when both sides are reports that recorded capabilities.
    capabilities: Option<CapabilityDiff>,
    /// Profiles only: changes outside the unconditional allow lists.
    rule_changes: Vec<RuleChange>,
    /// "profiles", "reports", "profile → report" or "report → profile".
    compared: &'static str,
    notes: Vec<String>,
    /// NEW allows a syscall, capability or rule OLD does not: the exit-1 condition.
    widened: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
struct Entry {
    name: String,
    risk: Option<&'static str>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
struct CapabilityDiff {
    added: Vec<String>,
    removed: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
struct RuleChange {
    /// What the rule does, e.g. `SCMP_ACT_ERRNO errno 38 (ENOSYS)` or `defaultAction …`.
    rule: String,
    added: Vec<String>,
    removed: Vec<String>,
    /// The change lets NEW allow something OLD did not.
    widens: bool,
}

impl Diff {
    fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.rule_changes.is_empty()
            && self
                .capabilities
                .as_ref()
                .is_none_or(|caps| caps.added.is_empty() && caps.removed.is_empty())
    }
}

fn compare(old: &Input, new: &Input) -> Diff {
    let (old_names, new_names) = (old.names(), new.names());
    let entries = |names: std::collections::btree_set::Difference<'_, String>| -> Vec<Entry> {
        names
            .map(|name| Entry {
                name: name.clone(),
                risk: risk::note(name),
            })
            .collect()
    };
    let added = entries(new_names.difference(&old_names));
    let removed = entries(old_names.difference(&new_names));
    let unchanged = old_names.intersection(&new_names).count();

    let mut notes = Vec::new();
    let mut capabilities = None;
    let mut rule_changes = Vec::new();
    let compared = match (old, new) {
        (Input::Profile(old), Input::Profile(new)) => {
            rule_changes = compare_rules(old, new);
            "profiles"
        }
        (Input::Report(old), Input::Report(new)) => {
            match (&old.capabilities, &new.capabilities) {
                (Some(old), Some(new)) => {
                    let old: BTreeSet<&String> = old.used.iter().collect();
                    let new: BTreeSet<&String> = new.used.iter().collect();
                    capabilities = Some(CapabilityDiff {
                        added: new.difference(&old).map(|cap| (*cap).clone()).collect(),
                        removed: old.difference(&new).map(|cap| (*cap).clone()).collect(),
                    });
                }
                (old, new) => {
                    let missing = match (old.is_none(), new.is_none()) {
                        (true, true) => "neither report has them",
                        (true, false) => "OLD's report has none",
                        _ => "NEW's report has none",
                    };
                    notes.push(format!(
                        "capabilities not compared: {missing} (recording them needs the \
                         capability:cap_capable tracepoint, Linux ≥ 6.14)"
                    ));
                }
            }
            "reports"
        }
        (old, new) => {
            notes.push(format!(
                "OLD is a {} and NEW a {}: only syscall names are compared (the profile's \
                 unconditional allow list with the report's recorded and implied syscalls)",
                old.kind(),
                new.kind()
            ));
            if matches!(old, Input::Profile(_)) {
                "profile → report"
            } else {
                "report → profile"
            }
        }
    };
    let widened = !added.is_empty()
        || rule_changes.iter().any(|change| change.widens)
        || capabilities
            .as_ref()
            .is_some_and(|caps| !caps.added.is_empty());
    Diff {
        added,
        removed,
        unchanged,
        capabilities,
        rule_changes,
        compared,
        notes,
        widened,
    }
}

/// The unconditional allow rules are compared through `allowed_names`; this compares the rest:
/// the default action, architectures, flags, and every other rule grouped by what it does.
fn compare_rules(old: &Profile, new: &Profile) -> Vec<RuleChange> {
    let mut changes = Vec::new();

    let (old_default, new_default) = (default_of(old), default_of(new));
    if old_default != new_default {
        changes.push(RuleChange {
            rule: format!("defaultAction {old_default} → {new_default}"),
            added: Vec::new(),
            removed: Vec::new(),
            widens: new.default_action.permits() && !old.default_action.permits(),
        });
    }

    // Both profiles passed check(), so the architectures resolve; none listed means native only.
    let arches = |profile: &Profile| -> BTreeSet<Arch> {
        let arches = profile.effective_architectures().unwrap_or_default();
        if arches.is_empty() {
            BTreeSet::from([Arch::native()])
        } else {
            arches.into_iter().collect()
        }
    };
    let (old_arches, new_arches) = (arches(old), arches(new));
    if old_arches != new_arches {
        let names = |a: &BTreeSet<Arch>, b: &BTreeSet<Arch>| -> Vec<String> {
            a.difference(b)
                .map(|arch| arch.scmp_name().to_owned())
                .collect()
        };
        let added = names(&new_arches, &old_arches);
        changes.push(RuleChange {
            rule: "architectures".to_owned(),
            // A process of an architecture the filter does not list is killed: listing one more
            // lets its processes run the allowed syscalls.
            widens: !added.is_empty(),
            added,
            removed: names(&old_arches, &new_arches),
        });
    }

    let flags = |profile: &Profile| -> BTreeSet<String> { profile.flags.iter().cloned().collect() };
    let (old_flags, new_flags) = (flags(old), flags(new));
    if old_flags != new_flags {
        changes.push(RuleChange {
            rule: "flags".to_owned(),
            added: new_flags.difference(&old_flags).cloned().collect(),
            removed: old_flags.difference(&new_flags).cloned().collect(),
            widens: false,
        });
    }

    let old_rules = other_rules(old);
    let new_rules = other_rules(new);
    let old_allowed = old.allowed_names();
    // Names NEW denies without conditions: dropping them from one deny rule changes nothing.
    let new_denied: BTreeSet<&String> = new
        .syscalls
        .iter()
        .filter(|rule| !rule.action.permits() && rule.is_unconditional())
        .flat_map(|rule| &rule.names)
        .collect();
    let empty = BTreeSet::new();
    let keys: BTreeSet<&String> = old_rules.keys().chain(new_rules.keys()).collect();
    for key in keys {
        let (old_names, new_names) = (
            old_rules.get(key).map_or(&empty, |(_, names)| names),
            new_rules.get(key).map_or(&empty, |(_, names)| names),
        );
        let added: Vec<String> = new_names.difference(old_names).cloned().collect();
        let removed: Vec<String> = old_names.difference(new_names).cloned().collect();
        if added.is_empty() && removed.is_empty() {
            continue;
        }
        let permits = old_rules
            .get(key)
            .or(new_rules.get(key))
            .is_some_and(|(action, _)| action.permits());
        let widens = if permits {
            // A conditional allow for a name OLD did not allow outright.
            added.iter().any(|name| !old_allowed.contains(name))
        } else {
            // Dropping a deny rule widens only when the default lets the syscall run.
            new.default_action.permits() && removed.iter().any(|name| !new_denied.contains(name))
        };
        changes.push(RuleChange {
            rule: key.clone(),
            added,
            removed,
            widens,
        });
    }
    changes
}

/// `SCMP_ACT_ERRNO errno 1 (EPERM)`: the default action with its effective errno.
fn default_of(profile: &Profile) -> String {
    describe_action(&profile.default_action, profile.default_errno_ret)
}

fn describe_action(action: &Action, errno_ret: Option<u32>) -> String {
    let Some(errno) = action.effective_errno(errno_ret) else {
        return action.to_string();
    };
    let name = match errno as i32 {
        libc::EPERM => " (EPERM)",
        libc::EACCES => " (EACCES)",
        libc::ENOSYS => " (ENOSYS)",
        _ => "",
    };
    format!("{action} errno {errno}{name}")
}

/// Every rule other than an unconditional allow, grouped by what it does (action, errno,
/// conditions, includes/excludes; comments do not count) → (action, names).
fn other_rules(profile: &Profile) -> BTreeMap<String, (Action, BTreeSet<String>)> {
    let mut rules: BTreeMap<String, (Action, BTreeSet<String>)> = BTreeMap::new();
    for rule in &profile.syscalls {
        if rule.action == Action::Allow && rule.is_unconditional() {
            continue;
        }
        rules
            .entry(describe_rule(rule))
            .or_insert_with(|| (rule.action.clone(), BTreeSet::new()))
            .1
            .extend(rule.names.iter().cloned());
    }
    rules
}

/// `SCMP_ACT_ALLOW if arg0 == 0x8`, `SCMP_ACT_ERRNO errno 38 (ENOSYS)`, `… when caps CAP_SYS_ADMIN`.
fn describe_rule(rule: &Rule) -> String {
    let mut text = describe_action(&rule.action, rule.errno_ret);
    let conditions: Vec<String> = rule
        .args
        .iter()
        .map(|arg| {
            let index = arg.index;
            let symbol = match &arg.op {
                Op::MaskedEqual => {
                    return format!("arg{index} & {:#x} == {:#x}", arg.value, arg.value_two);
                }
                Op::NotEqual => "!=",
                Op::Less => "<",
                Op::LessOrEqual => "<=",
                Op::Equal => "==",
                Op::GreaterEqual => ">=",
                Op::Greater => ">",
                Op::Unknown(other) => other,
            };
            format!("arg{index} {symbol} {:#x}", arg.value)
        })
        .collect();
    if !conditions.is_empty() {
        let _ = write!(text, " if {}", conditions.join(" and "));
    }
    for (word, filter) in [("when", &rule.includes), ("unless", &rule.excludes)] {
        let Some(filter) = filter else { continue };
        let mut parts = Vec::new();
        if !filter.caps.is_empty() {
            parts.push(format!("caps {}", filter.caps.join(" ")));
        }
        if !filter.arches.is_empty() {
            parts.push(format!("arches {}", filter.arches.join(" ")));
        }
        if let Some(kernel) = &filter.min_kernel {
            parts.push(format!("kernel ≥ {kernel}"));
        }
        if !parts.is_empty() {
            let _ = write!(text, " {word} {}", parts.join(", "));
        }
    }
    text
}

/// How the two inputs are named in the output.
struct Labels {
    old: String,
    new: String,
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// `3 syscalls added, 1 removed, 1 capability added, 2 rule changes`
fn headline(diff: &Diff) -> String {
    let mut parts = vec![
        format!("{} added", plural(diff.added.len(), "syscall", "syscalls")),
        format!("{} removed", diff.removed.len()),
    ];
    if let Some(caps) = &diff.capabilities {
        if !caps.added.is_empty() {
            parts.push(format!(
                "{} added",
                plural(caps.added.len(), "capability", "capabilities")
            ));
        }
        if !caps.removed.is_empty() {
            parts.push(format!(
                "{} removed",
                plural(caps.removed.len(), "capability", "capabilities")
            ));
        }
    }
    if !diff.rule_changes.is_empty() {
        parts.push(plural(
            diff.rule_changes.len(),
            "rule change",
            "rule changes",
        ));
    }
    parts.join(", ")
}

fn verdict(diff: &Diff) -> &'static str {
    if diff.widened {
        "NEW allows more than OLD"
    } else {
        "NEW allows nothing OLD does not"
    }
}

/// `SCMP_ACT_ERRNO errno 38 (ENOSYS): +clone3 -openat2`
fn rule_change_line(change: &RuleChange) -> String {
    let mut line = change.rule.clone();
    let names: Vec<String> = change
        .added
        .iter()
        .map(|name| format!("+{name}"))
        .chain(change.removed.iter().map(|name| format!("-{name}")))
        .collect();
    if !names.is_empty() {
        let _ = write!(line, ": {}", names.join(" "));
    }
    line
}

/// The added syscalls a reviewer should look at first: those with a risk note, then the rest, each
/// group by name.
fn risky_first(entries: &[Entry]) -> impl Iterator<Item = &Entry> {
    let risky = entries.iter().filter(|entry| entry.risk.is_some());
    risky.chain(entries.iter().filter(|entry| entry.risk.is_none()))
}

/// For a terminal: a summary line, then one line per added or removed syscall.
fn text(diff: &Diff, labels: &Labels) -> String {
    let mut out = String::new();
    let (old, new) = (&labels.old, &labels.new);
    if diff.is_empty() {
        let _ = writeln!(
            out,
            "{old} → {new}: no change ({} in both)",
            plural(diff.unchanged, "syscall", "syscalls")
        );
        for note in &diff.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        return out;
    }
    let _ = writeln!(
        out,
        "{old} → {new}: {}, {} unchanged",
        headline(diff),
        diff.unchanged
    );
    let width = diff
        .added
        .iter()
        .map(|entry| entry.name.len())
        .max()
        .unwrap_or(0);
    for entry in risky_first(&diff.added) {
        match entry.risk {
            Some(risk) => {
                let _ = writeln!(out, "  + {:width$}  ⚠ {risk}", entry.name);
            }
            None => {
                let _ = writeln!(out, "  + {}", entry.name);
            }
        }
    }
    for entry in &diff.removed {
        let _ = writeln!(out, "  - {}", entry.name);
    }
    if let Some(caps) = &diff.capabilities {
        for cap in &caps.added {
            let _ = writeln!(out, "  + capability {cap}");
        }
        for cap in &caps.removed {
            let _ = writeln!(out, "  - capability {cap}");
        }
    }
    for change in &diff.rule_changes {
        let mark = if change.widens { "  ⚠ widens" } else { "" };
        let _ = writeln!(out, "  rule change: {}{mark}", rule_change_line(change));
    }
    for note in &diff.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(out, "{}", verdict(diff));
    out
}

/// Inline code that survives any file name.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

/// Added syscalls shown as table rows before the ones without a risk note are collapsed.
const TABLE_ROWS: usize = 30;

/// For a pull-request comment or `$GITHUB_STEP_SUMMARY`.
fn markdown(diff: &Diff, labels: &Labels) -> String {
    let mut out = String::new();
    let (old, new) = (code(&labels.old), code(&labels.new));
    if diff.is_empty() {
        let _ = writeln!(
            out,
            "### seccomp profile: no change — {new} allows the same {} as {old}",
            plural(diff.unchanged, "syscall", "syscalls")
        );
        for note in &diff.notes {
            let _ = writeln!(out, "\n> {note}");
        }
        return out;
    }
    let _ = writeln!(out, "### seccomp profile: {}\n", headline(diff));
    let verdict = if diff.widened {
        "**NEW allows more than OLD.**"
    } else {
        "NEW allows nothing OLD does not."
    };
    let _ = writeln!(
        out,
        "{old} → {new}: {} unchanged. {verdict}",
        diff.unchanged
    );
    if !diff.added.is_empty() {
        out.push_str("\n| | added syscall | risk |\n|---|---|---|\n");
        // A long table buries the risky rows and the rest of the comment: past TABLE_ROWS,
        // syscalls without a note are listed collapsed instead.
        let collapse = diff.added.len() > TABLE_ROWS;
        let mut plain = Vec::new();
        for entry in risky_first(&diff.added) {
            match entry.risk {
                Some(risk) => {
                    let _ = writeln!(out, "| ⚠ | `{}` | {risk} |", entry.name);
                }
                None if collapse => plain.push(code(&entry.name)),
                None => {
                    let _ = writeln!(out, "| | `{}` | |", entry.name);
                }
            }
        }
        if !plain.is_empty() {
            let _ = writeln!(
                out,
                "\n<details><summary>{} added without a risk note</summary>\n\n{}\n\n</details>",
                plural(plain.len(), "syscall", "syscalls"),
                plain.join(", ")
            );
        }
    }
    if !diff.removed.is_empty() {
        let names: Vec<String> = diff.removed.iter().map(|entry| code(&entry.name)).collect();
        let _ = writeln!(
            out,
            "\n<details><summary>{} removed</summary>\n\n{}\n\n</details>",
            plural(diff.removed.len(), "syscall", "syscalls"),
            names.join(", ")
        );
    }
    if let Some(caps) = &diff.capabilities
        && !(caps.added.is_empty() && caps.removed.is_empty())
    {
        let list = |caps: &[String]| {
            if caps.is_empty() {
                "none".to_owned()
            } else {
                caps.iter()
                    .map(|cap| code(cap))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = writeln!(
            out,
            "\n**Capabilities** added: {}; removed: {}",
            list(&caps.added),
            list(&caps.removed)
        );
    }
    if !diff.rule_changes.is_empty() {
        out.push_str("\n**Rule changes**\n\n");
        for change in &diff.rule_changes {
            let mark = if change.widens { "⚠ " } else { "" };
            let mut line = format!("- {mark}{}", code(&change.rule));
            if !change.added.is_empty() {
                let names: Vec<String> = change.added.iter().map(|name| code(name)).collect();
                let _ = write!(line, " added {}", names.join(", "));
            }
            if !change.removed.is_empty() {
                let sep = if change.added.is_empty() { "" } else { ";" };
                let names: Vec<String> = change.removed.iter().map(|name| code(name)).collect();
                let _ = write!(line, "{sep} removed {}", names.join(", "));
            }
            if change.widens {
                line.push_str(" (widens)");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    for note in &diff.notes {
        let _ = writeln!(out, "\n> {note}");
    }
    out
}

fn json(diff: &Diff) -> String {
    let mut text = serde_json::to_string_pretty(diff)
        .expect("a Diff holds only strings, numbers, booleans and lists, which always serialize");
    text.push('\n');
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn profile(json: &str) -> Input {
        let profile = Profile::from_json(json, Path::new("test.json")).unwrap();
        profile.check().unwrap();
        Input::Profile(profile)
    }

    fn allow(names: &[&str]) -> Input {
        let names: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
        profile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{{"names":[{}],"action":"SCMP_ACT_ALLOW"}},
                  {{"names":["close_range","openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":38}}]}}"#,
            names.join(",")
        ))
    }

    fn report(names: &[&str], caps: Option<&[&str]>) -> Input {
        let syscalls: Vec<String> = names
            .iter()
            .map(|name| {
                format!(
                    r#"{{"name":{name:?},"arch":"SCMP_ARCH_X86_64","count":1,"first_comm":"x"}}"#
                )
            })
            .collect();
        let capabilities = caps.map_or("null".to_owned(), |caps| {
            let used: Vec<String> = caps.iter().map(|cap| format!("{cap:?}")).collect();
            format!(r#"{{"used":[{}],"denied":[],"checks":[]}}"#, used.join(","))
        });
        let text = format!(
            r#"{{"tool":{{"name":"seccomp-profiler","version":"0.1.0"}},"run":{{"target":"command"}},
                "syscalls":[{}],"unnamed_syscalls":[],
                "implied_syscalls":[{{"name":"rt_sigreturn","reason":"timing"}}],
                "total_syscalls":3,"capabilities":{capabilities},"recommendation":null,"warnings":[]}}"#,
            syscalls.join(",")
        );
        assert!(is_report(&text));
        Input::Report(load_report(Path::new("r.json"), &text).unwrap())
    }

    fn labels() -> Labels {
        Labels {
            old: "old.json".to_owned(),
            new: "new.json".to_owned(),
        }
    }

    fn names(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|entry| entry.name.as_str()).collect()
    }

    #[test]
    fn added_removed_unchanged() {
        let old = allow(&["read", "write", "getppid"]);
        let new = allow(&["read", "write", "ptrace", "getdents64"]);
        let diff = compare(&old, &new);
        assert_eq!(names(&diff.added), ["getdents64", "ptrace"]);
        assert_eq!(diff.added[0].risk, None);
        assert_eq!(diff.added[1].risk, risk::note("ptrace"));
        assert_eq!(names(&diff.removed), ["getppid"]);
        assert_eq!(diff.unchanged, 2);
        assert!(diff.rule_changes.is_empty(), "{:?}", diff.rule_changes);
        assert!(diff.widened);
        assert_eq!(diff.compared, "profiles");

        let back = compare(&new, &allow(&["read", "write"]));
        assert!(!back.widened, "only removals");
        assert_eq!(names(&back.removed), ["getdents64", "ptrace"]);

        let same = compare(&old, &allow(&["getppid", "read", "write"]));
        assert!(same.is_empty() && !same.widened);
        assert_eq!(same.unchanged, 3);
    }

    #[test]
    fn exit_codes_and_bad_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| -> PathBuf {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let small = write(
            "small.json",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let big = write(
            "big.json",
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","mount"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let diff = |old: &Path, new: &Path| {
            run(DiffArgs {
                old: old.to_owned(),
                new: new.to_owned(),
                format: DiffFormat::Json,
            })
        };
        assert_eq!(diff(&small, &big).unwrap(), exit::FINDING);
        assert_eq!(diff(&big, &small).unwrap(), exit::OK);
        assert_eq!(diff(&big, &big).unwrap(), exit::OK);

        let bad = [
            (write("text.json", "not json"), "malformed JSON"),
            (write("array.json", "[]"), "not a seccomp profile"),
            (
                write("type.json", r#"{"defaultAction": 5}"#),
                "invalid type",
            ),
            (write("empty.json", ""), "file is empty"),
            (
                write(
                    "unknown.json",
                    r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["bogus"],"action":"SCMP_ACT_ALLOW"}]}"#,
                ),
                "unknown syscall names",
            ),
            (
                write("badreport.json", r#"{"tool":{},"run":{},"syscalls":5}"#),
                "not a seccomp-profiler report",
            ),
            (
                write(
                    "badname.json",
                    r#"{"tool":{},"run":{},"syscalls":[{"name":"bogus"}]}"#,
                ),
                "\"bogus\"",
            ),
            (dir.path().to_owned(), "is a directory"),
            (dir.path().join("missing.json"), "no such file"),
        ];
        for (path, expected) in bad {
            for (old, new) in [(&path, &small), (&small, &path)] {
                let err = diff(old, new).unwrap_err();
                assert_eq!(exit::code_of(&err), exit::INPUT, "{err:#}");
                let message = format!("{err:#}");
                assert!(
                    message.contains(&*path.display().to_string()),
                    "names the file: {message}"
                );
                assert!(message.contains(expected), "{expected}: {message}");
            }
        }
    }

    #[test]
    fn markdown_snapshot() {
        let old = allow(&["read", "write", "getppid"]);
        let new = allow(&["read", "write", "ptrace", "getdents64"]);
        let expected = "\
### seccomp profile: 2 syscalls added, 1 removed

`old.json` → `new.json`: 2 unchanged. **NEW allows more than OLD.**

| | added syscall | risk |
|---|---|---|
| ⚠ | `ptrace` | reads and writes other processes' memory and registers; it could bypass seccomp before Linux 4.8 |
| | `getdents64` | |

<details><summary>1 syscall removed</summary>

`getppid`

</details>
";
        assert_eq!(markdown(&compare(&old, &new), &labels()), expected);

        let same = markdown(&compare(&old, &old), &labels());
        assert_eq!(
            same,
            "### seccomp profile: no change — `new.json` allows the same 3 syscalls as `old.json`\n"
        );
    }

    #[test]
    fn long_markdown_collapses_plain_rows() {
        let many: Vec<String> = (0..40).map(|i| format!("n{i:02}")).collect();
        let mut entries: Vec<Entry> = many
            .iter()
            .map(|name| Entry {
                name: name.clone(),
                risk: None,
            })
            .collect();
        entries.push(Entry {
            name: "ptrace".to_owned(),
            risk: risk::note("ptrace"),
        });
        let diff = Diff {
            added: entries,
            removed: Vec::new(),
            unchanged: 0,
            capabilities: None,
            rule_changes: Vec::new(),
            compared: "profiles",
            notes: Vec::new(),
            widened: true,
        };
        let md = markdown(&diff, &labels());
        assert!(md.contains("|---|---|---|\n| ⚠ | `ptrace` | "), "{md}");
        assert!(!md.contains("| | `n00` | |"), "{md}");
        assert!(
            md.contains(
                "<details><summary>40 syscalls added without a risk note</summary>\n\n`n00`, `n01`"
            ),
            "{md}"
        );
    }

    #[test]
    fn text_output() {
        let diff = compare(&allow(&["read"]), &allow(&["read", "mount", "brk"]));
        let text = text(&diff, &labels());
        assert!(
            text.starts_with("old.json → new.json: 2 syscalls added, 0 removed, 1 unchanged\n"),
            "{text}"
        );
        assert!(text.contains("\n  + mount  ⚠ mounts filesystems"), "{text}");
        assert!(
            text.contains(" to host devices and a classic container escape\n  + brk\n"),
            "risky first: {text}"
        );
        assert!(text.ends_with("NEW allows more than OLD\n"), "{text}");
    }

    #[test]
    fn json_shape() {
        let diff = compare(&allow(&["read", "getppid"]), &allow(&["read", "ptrace"]));
        let text = json(&diff);
        // Key order as written (serde_json::Value would sort them).
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|line| {
                line.strip_prefix("  \"")?
                    .split_once('"')
                    .map(|(key, _)| key)
            })
            .collect();
        assert_eq!(
            keys,
            [
                "added",
                "removed",
                "unchanged",
                "capabilities",
                "rule_changes",
                "compared",
                "notes",
                "widened"
            ]
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["added"][0]["name"], "ptrace");
        assert!(
            value["added"][0]["risk"]
                .as_str()
                .unwrap()
                .contains("memory")
        );
        assert_eq!(
            value["removed"][0],
            serde_json::json!({"name": "getppid", "risk": null})
        );
        assert_eq!(value["unchanged"], 1);
        assert_eq!(value["capabilities"], serde_json::Value::Null);
        assert_eq!(value["widened"], true);
        assert_eq!(
            value["added"][0].as_object().unwrap().len(),
            2,
            "name and risk only"
        );
        assert!(
            text.contains("{\n      \"name\": \"ptrace\",\n      \"risk\": "),
            "{text}"
        );
    }

    #[test]
    fn reports_with_capabilities() {
        let old = report(&["read", "write"], Some(&["CAP_SETUID", "CAP_CHOWN"]));
        let new = report(&["read", "bpf"], Some(&["CAP_SETUID", "CAP_NET_ADMIN"]));
        let diff = compare(&old, &new);
        assert_eq!(diff.compared, "reports");
        assert_eq!(names(&diff.added), ["bpf"]);
        assert_eq!(names(&diff.removed), ["write"]);
        assert_eq!(diff.unchanged, 2, "read and the implied rt_sigreturn");
        let caps = diff.capabilities.as_ref().unwrap();
        assert_eq!(caps.added, ["CAP_NET_ADMIN"]);
        assert_eq!(caps.removed, ["CAP_CHOWN"]);
        assert!(diff.widened);
        let md = markdown(&diff, &labels());
        assert!(md.starts_with("### seccomp profile: 1 syscall added, 1 removed, 1 capability added, 1 capability removed\n"), "{md}");
        assert!(
            md.contains("**Capabilities** added: `CAP_NET_ADMIN`; removed: `CAP_CHOWN`"),
            "{md}"
        );

        // Only a capability more: still a widening.
        let diff = compare(
            &report(&["read"], Some(&[])),
            &report(&["read"], Some(&["CAP_SYS_ADMIN"])),
        );
        assert!(diff.added.is_empty() && diff.widened);

        // Only capabilities fewer: not.
        let diff = compare(
            &report(&["read"], Some(&["CAP_KILL"])),
            &report(&["read"], Some(&[])),
        );
        assert!(!diff.widened && !diff.is_empty());

        let diff = compare(
            &report(&["read"], None),
            &report(&["read"], Some(&["CAP_KILL"])),
        );
        assert_eq!(diff.capabilities, None);
        assert!(!diff.widened);
        assert!(
            diff.notes[0].contains("OLD's report has none"),
            "{:?}",
            diff.notes
        );
    }

    #[test]
    fn profile_against_report() {
        let old = allow(&["read", "rt_sigreturn"]);
        let new = report(&["read", "mount"], None);
        let diff = compare(&old, &new);
        assert_eq!(diff.compared, "profile → report");
        assert_eq!(names(&diff.added), ["mount"]);
        assert!(diff.widened);
        assert!(
            diff.notes[0].contains("only syscall names are compared"),
            "{:?}",
            diff.notes
        );
        assert!(diff.rule_changes.is_empty());
    }

    #[test]
    fn rule_changes_are_listed_and_judged() {
        let old = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["clone3","openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        );
        // clone3 moved from ENOSYS to the allow list; an errno rule for mount; a conditional
        // personality; one more architecture.
        let new = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[{"names":["read","clone3"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                  {"names":["mount"],"action":"SCMP_ACT_ERRNO"},
                  {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let diff = compare(&old, &new);
        assert_eq!(names(&diff.added), ["clone3"]);
        let lines: Vec<(String, bool)> = diff
            .rule_changes
            .iter()
            .map(|c| (rule_change_line(c), c.widens))
            .collect();
        assert_eq!(
            lines,
            [
                ("architectures: +SCMP_ARCH_X86".to_owned(), true),
                (
                    "SCMP_ACT_ALLOW if arg0 == 0x8: +personality".to_owned(),
                    true
                ),
                ("SCMP_ACT_ERRNO errno 1 (EPERM): +mount".to_owned(), false),
                (
                    "SCMP_ACT_ERRNO errno 38 (ENOSYS): -clone3".to_owned(),
                    false
                ),
            ]
        );

        // Only errno changes under a deny-by-default profile: listed, not a widening.
        let old = allow(&["read"]);
        let new = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["close_range"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        );
        let diff = compare(&old, &new);
        assert!(!diff.widened && !diff.is_empty());
        assert_eq!(
            rule_change_line(&diff.rule_changes[0]),
            "SCMP_ACT_ERRNO errno 38 (ENOSYS): -openat2"
        );
        let md = markdown(&diff, &labels());
        assert!(
            md.contains("- `SCMP_ACT_ERRNO errno 38 (ENOSYS)` removed `openat2`\n"),
            "{md}"
        );

        // A permissive default: allows everything not listed.
        let open = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let diff = compare(&allow(&["read"]), &open);
        assert!(diff.widened);
        assert!(
            diff.rule_changes[0]
                .rule
                .starts_with("defaultAction SCMP_ACT_ERRNO errno 1 (EPERM) → SCMP_ACT_ALLOW")
        );
        // Dropping a deny rule under it lets the syscall run.
        let wider = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        assert!(compare(&open, &wider).widened);
        assert!(!compare(&wider, &profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace","mount"],"action":"SCMP_ACT_ERRNO"}]}"#)).widened);
    }

    #[test]
    fn capability_names() {
        assert!(is_capability_name("CAP_SYS_ADMIN"));
        assert!(is_capability_name("CAP_41"));
        assert!(!is_capability_name("SYS_ADMIN"));
        assert!(!is_capability_name("CAP_"));
        assert!(!is_capability_name("cap_sys_admin"));
    }
}
