//! `diff`'s three renderings of a [`Diff`]: terminal text, markdown for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`, and JSON (the [`Diff`] as it is, in its fields' order). They render; what
//! was added, removed or changed, and whether NEW is wider, is decided in
//! [`crate::profile::compare`].

use std::fmt::Write as _;

use crate::profile::compare::{Diff, Entry};

/// How the two inputs are named in the output.
pub struct Labels {
    pub old: String,
    pub new: String,
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

/// The added syscalls a reviewer should look at first: those with a risk note, then the rest, each
/// group by name.
fn risky_first(entries: &[Entry]) -> impl Iterator<Item = &Entry> {
    let risky = entries.iter().filter(|entry| entry.risk.is_some());
    risky.chain(entries.iter().filter(|entry| entry.risk.is_none()))
}

/// For a terminal: a summary line, then one line per added or removed syscall.
pub fn text(diff: &Diff, labels: &Labels) -> String {
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
        let _ = writeln!(out, "  rule change: {}{mark}", change.line());
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
pub fn markdown(diff: &Diff, labels: &Labels) -> String {
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

pub fn json(diff: &Diff) -> String {
    let mut text = serde_json::to_string_pretty(diff)
        .expect("a Diff holds only strings, numbers, booleans and lists, which always serialize");
    text.push('\n');
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::{
        profile::{
            Action, Profile, Rule,
            compare::{Recorded, Side, compare},
        },
        risk,
        syscalls::Arch,
    };

    /// Deny by default (EPERM) on the x86 family, allow `names`, answer two probes with ENOSYS.
    fn allow(names: &[&str]) -> Side {
        let set = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
        let profile = Profile {
            default_errno_ret: Some(1),
            architectures: [Arch::X86_64, Arch::X86, Arch::X32]
                .iter()
                .map(|arch| arch.scmp_name().to_owned())
                .collect(),
            syscalls: vec![
                Rule {
                    names: set(names),
                    action: Action::Allow,
                    ..Rule::default()
                },
                Rule {
                    names: set(&["close_range", "openat2"]),
                    errno_ret: Some(38),
                    ..Rule::default()
                },
            ],
            ..Profile::default()
        };
        profile.check().unwrap();
        Side::Profile(profile)
    }

    /// A recording of `names` (plus the implied rt_sigreturn a report lists).
    fn report(names: &[&str], caps: Option<&[&str]>) -> Side {
        let set = |names: &[&str]| -> BTreeSet<String> {
            names.iter().map(|name| (*name).to_owned()).collect()
        };
        let mut recorded = Recorded {
            names: set(names),
            capabilities: caps.map(set),
        };
        recorded.names.insert("rt_sigreturn".to_owned());
        Side::Report(recorded)
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
    fn rule_changes_in_markdown() {
        // Only errno changes under a deny-by-default profile: listed, not a widening.
        let old = allow(&["read"]);
        let Side::Profile(mut profile) = allow(&["read"]) else {
            unreachable!("allow() makes a profile")
        };
        profile.syscalls[1].names = vec!["close_range".to_owned()];
        let diff = compare(&old, &Side::Profile(profile));
        let md = markdown(&diff, &labels());
        assert!(
            md.contains("- `SCMP_ACT_ERRNO errno 38 (ENOSYS)` removed `openat2`\n"),
            "{md}"
        );
    }
}
