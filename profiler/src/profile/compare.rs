//! What NEW allows that OLD does not, as data ([`compare`] → [`Diff`]): the syscalls added (with a
//! risk note for the ones in [`crate::risk`]), removed and unchanged, the changes to every other
//! rule, and whether NEW is wider — `diff`'s exit-1 condition and the golden check of
//! `cargo xtask profiles` (through `diff --format json`).
//!
//! Profiles are compared on their unconditional allow lists; their other rules (conditional
//! allows, errno/kill rules, the default action, architectures, flags) are listed as rule changes,
//! which count as widening only when they let NEW allow something OLD denied. Order, grouping and
//! comments do not matter. A side may also be what a recording used ([`Recorded`], from a
//! `record --report` file): then syscall names are compared, and capabilities when both sides are
//! recordings.
//!
//! It reads no files and renders nothing (`diff` loads the sides, `output::diff` renders).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
};

use serde::Serialize;

use super::{Action, Op, Profile, Rule};
use crate::{risk, syscalls::Arch};

/// One side of the comparison.
#[derive(Debug)]
pub enum Side {
    Profile(Profile),
    Report(Recorded),
}

/// What a recording used, as a `record --report` file states it.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The recorded and implied syscalls: exactly what `record` put in the profile it wrote.
    pub names: BTreeSet<String>,
    /// The capabilities used, when the recording could see them.
    pub capabilities: Option<BTreeSet<String>>,
}

impl Side {
    /// The syscall names compared: a profile's unconditional allow list, or a recording's names.
    fn names(&self) -> BTreeSet<String> {
        match self {
            Side::Profile(profile) => profile.allowed_names(),
            Side::Report(recorded) => recorded.names.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Side::Profile(_) => "profile",
            Side::Report(_) => "report",
        }
    }
}

/// The comparison, in the JSON output's key order.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Diff {
    /// Syscalls NEW allows (or used) that OLD does not.
    pub added: Vec<Entry>,
    pub removed: Vec<Entry>,
    pub unchanged: usize,
    /// Only when both sides are reports that recorded capabilities.
    pub capabilities: Option<CapabilityDiff>,
    /// Profiles only: changes outside the unconditional allow lists.
    pub rule_changes: Vec<RuleChange>,
    /// "profiles", "reports", "profile → report" or "report → profile".
    pub compared: &'static str,
    pub notes: Vec<String>,
    /// NEW allows a syscall, capability or rule OLD does not: the exit-1 condition.
    pub widened: bool,
}

/// A syscall added or removed.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub risk: Option<&'static str>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CapabilityDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RuleChange {
    /// What the rule does, e.g. `SCMP_ACT_ERRNO errno 38 (ENOSYS)` or `defaultAction …`.
    pub rule: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// The change lets NEW allow something OLD did not.
    pub widens: bool,
}

impl Diff {
    /// Nothing differs: no syscall, capability or rule.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.rule_changes.is_empty()
            && self
                .capabilities
                .as_ref()
                .is_none_or(|caps| caps.added.is_empty() && caps.removed.is_empty())
    }
}

impl RuleChange {
    /// `SCMP_ACT_ERRNO errno 38 (ENOSYS): +clone3 -openat2`
    pub fn line(&self) -> String {
        let mut line = self.rule.clone();
        let names: Vec<String> = self
            .added
            .iter()
            .map(|name| format!("+{name}"))
            .chain(self.removed.iter().map(|name| format!("-{name}")))
            .collect();
        if !names.is_empty() {
            let _ = write!(line, ": {}", names.join(" "));
        }
        line
    }
}

/// Compares OLD with NEW.
pub fn compare(old: &Side, new: &Side) -> Diff {
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
        (Side::Profile(old), Side::Profile(new)) => {
            rule_changes = compare_rules(old, new);
            "profiles"
        }
        (Side::Report(old), Side::Report(new)) => {
            match (&old.capabilities, &new.capabilities) {
                (Some(old), Some(new)) => {
                    capabilities = Some(CapabilityDiff {
                        added: new.difference(old).cloned().collect(),
                        removed: old.difference(new).cloned().collect(),
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
            if matches!(old, Side::Profile(_)) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;

    fn profile(json: &str) -> Side {
        let profile = Profile::from_json(json, Path::new("test.json")).unwrap();
        profile.check().unwrap();
        Side::Profile(profile)
    }

    fn allow(names: &[&str]) -> Side {
        let names: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
        profile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "syscalls":[{{"names":[{}],"action":"SCMP_ACT_ALLOW"}},
                  {{"names":["close_range","openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":38}}]}}"#,
            names.join(",")
        ))
    }

    /// A recording of `names` (plus the implied rt_sigreturn a report lists).
    fn report(names: &[&str], caps: Option<&[&str]>) -> Side {
        let set = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect();
        let mut recorded = Recorded {
            names: set(names),
            capabilities: caps.map(set),
        };
        recorded.names.insert("rt_sigreturn".to_owned());
        Side::Report(recorded)
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
            .map(|c| (c.line(), c.widens))
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
            diff.rule_changes[0].line(),
            "SCMP_ACT_ERRNO errno 38 (ENOSYS): -openat2"
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
    fn order_grouping_and_comments_do_not_matter() {
        // Moved from xtask's golden check, which now asks `diff --format json`.
        let a = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
                "syscalls":[{"names":["write","read"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"comment":"x"}]}"#,
        );
        let b = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86","SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["write"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        );
        let diff = compare(&a, &b);
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(diff.unchanged, 2);
    }

    #[test]
    fn names_rules_and_defaults_all_count() {
        let base = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
            "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                        {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;
        let differs = |changed: &str| !compare(&profile(base), &profile(changed)).is_empty();
        assert!(!differs(base));
        assert!(differs(
            &base.replace(r#"["read"]"#, r#"["read","ptrace"]"#)
        ));
        assert!(differs(
            &base.replace(r#""errnoRet":38"#, r#""errnoRet":1"#)
        ));
        assert!(differs(&base.replace(
            r#""defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1"#,
            r#""defaultAction":"SCMP_ACT_ALLOW""#
        )));
        assert!(differs(&base.replace(
            r#""action":"SCMP_ACT_ALLOW"}"#,
            r#""action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}"#
        )));
        assert!(differs(&base.replace(
            r#""defaultErrnoRet":1,"#,
            r#""defaultErrnoRet":1,"flags":["SECCOMP_FILTER_FLAG_LOG"],"#
        )));
    }
}
