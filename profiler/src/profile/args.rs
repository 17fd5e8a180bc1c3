//! Argument rules (docs/design.md §16): `record --args` turns the recorded argument values of
//! `socket`, `clone` and `personality` ([`Observed`]) into argument conditions written the way
//! Docker's default profile writes them ([`Profile::restrict_arguments`]), and `check` asks which
//! recorded values a profile's conditions do not admit ([`Profile::values_outside`]).
//!
//! The rules it writes, one per allowed value and never the same argument index twice in one rule
//! (runc, crun and youki add each condition of a repeated index as its own rule, an OR):
//! - `socket`: `arg0 == family`; for `AF_NETLINK`, `arg0 == AF_NETLINK && arg2 == protocol`;
//! - `clone`: `arg0 & 0x7E020000 == combination` (SCMP_CMP_MASKED_EQ), always including 0;
//! - `personality`: `arg0 == persona`;
//! - `clone3` is answered ENOSYS whenever `clone` is restricted: its flags are behind a pointer
//!   that seccomp cannot read, and glibc falls back to `clone` on ENOSYS (design.md §3).
//!
//! The flags sit in arg0 of `clone` on every architecture this tool lists (x86_64, x86, x32,
//! aarch64, arm; only s390 swaps them, and s390 is not listed), and the family in arg0 of the
//! direct `socket` syscall everywhere. A syscall whose values were not all kept (an overflow) is
//! left allowed by name. It never decides what a workload needs (the recording does).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use super::{
    Action, ArgCond, ENOSYS, Op, Profile, ProfileError, Rule,
    compile::scmp_action,
    host::{Host, rule_applies},
    validate::place,
};
use crate::arguments::{
    self, AF_NETLINK, CLONE, CLONE_NAMESPACE_MASK, Observed, PERSONALITY, SOCKET,
};

/// The syscall that must not stay allowed when `clone` is restricted.
const CLONE3: &str = "clone3";

const CLONE3_COMMENT: &str = "clone is allowed only for the namespace flags it was recorded \
    with; clone3's flags are behind a pointer seccomp cannot read, so clone3 is answered ENOSYS \
    and glibc falls back to clone";

/// One recorded value a profile's argument conditions do not admit.
#[derive(Debug, PartialEq, Eq)]
pub struct ValueOutside {
    pub syscall: &'static str,
    /// Named, e.g. `AF_ALG` or `CLONE_NEWUSER`.
    pub value: String,
}

/// An argument rule that runc, crun and youki apply otherwise than it reads ([`Profile::warnings`]).
#[derive(Debug, PartialEq, Eq)]
pub enum ArgWarning {
    /// Two conditions on one argument index in one rule: the runtimes add each condition as its
    /// own rule (libseccomp refuses two on one argument), so the rule holds when any one does.
    RepeatedIndex { place: String, index: u32 },
    /// A rule with argument conditions whose action is the default action: the runtimes drop it.
    EqualsDefault { place: String, action: String },
    /// `clone` allowed only under conditions while `clone3` is allowed outright: clone3's flags
    /// are behind a pointer seccomp cannot read, so what the conditions refuse passes through it.
    Clone3Open,
}

impl fmt::Display for ArgWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgWarning::RepeatedIndex { place, index } => write!(
                f,
                "{place}: two conditions on argument {index}; runc, crun and youki add each one \
                 as its own rule, so the call is allowed when any one holds (an OR, not an AND): \
                 write one rule per value"
            ),
            ArgWarning::EqualsDefault { place, action } => write!(
                f,
                "{place}: its action is the default action ({action}), so runc and crun drop the \
                 rule and its conditions do nothing: remove it"
            ),
            ArgWarning::Clone3Open => write!(
                f,
                "clone is allowed only under argument conditions, but clone3 is allowed outright: \
                 clone3's flags are behind a pointer seccomp cannot read, so whatever the \
                 conditions refuse passes through clone3; answer clone3 with SCMP_ACT_ERRNO \
                 errnoRet 38 (ENOSYS) so glibc falls back to clone"
            ),
        }
    }
}

fn equal(index: u32, value: u64) -> ArgCond {
    ArgCond {
        index,
        value,
        value_two: 0,
        op: Op::Equal,
    }
}

fn allow(name: &str, args: Vec<ArgCond>, comment: String) -> Rule {
    Rule {
        names: vec![name.to_owned()],
        action: Action::Allow,
        args,
        comment: Some(comment),
        ..Rule::default()
    }
}

/// The rules that allow exactly the recorded values of `syscall`.
fn rules_for(syscall: &'static str, observed: &Observed) -> Vec<Rule> {
    let mut calls = observed.calls(syscall);
    if syscall == CLONE && !calls.iter().any(|(flags, _)| *flags == 0) {
        // A thread or fork without namespace flags grants nothing (Docker's default allows it for
        // every container), and whether a runtime starts one under the filter is timing (§11).
        calls.insert(0, (0, None));
    }
    calls
        .into_iter()
        .map(|(arg0, arg2)| {
            let shown = arguments::describe(syscall, arg0, arg2);
            let args = match (syscall, arg2) {
                (CLONE, _) => vec![ArgCond {
                    index: 0,
                    value: CLONE_NAMESPACE_MASK,
                    value_two: arg0,
                    op: Op::MaskedEqual,
                }],
                (_, Some(protocol)) => vec![equal(0, arg0), equal(2, protocol)],
                (_, None) => vec![equal(0, arg0)],
            };
            let comment = if syscall == CLONE {
                format!("clone with namespace flags {shown}: recorded")
            } else {
                format!("{syscall}({shown}): recorded")
            };
            allow(syscall, args, comment)
        })
        .collect()
}

/// merge: when some input restricts `clone` by its arguments (and none allows it outright),
/// `clone3` stays answered ENOSYS even if another input allowed it: that input works with ENOSYS
/// too (glibc falls back), while allowing clone3 would void the restriction. `allowed` and
/// `others` are merge's unconditional names and its other rules (keyed by the rule without names).
pub(super) fn keep_clone3_refused(
    allowed: &mut BTreeSet<String>,
    others: &mut BTreeMap<String, (Rule, BTreeSet<String>)>,
    warnings: &mut Vec<String>,
) {
    let clone_conditional = others.values().any(|(rule, names)| {
        rule.action.permits() && !rule.args.is_empty() && names.contains(CLONE)
    });
    if !clone_conditional || allowed.contains(CLONE) || !allowed.remove(CLONE3) {
        return;
    }
    let probe = others.values_mut().find(|(rule, _)| {
        Rule {
            names: vec![CLONE3.to_owned()],
            ..rule.clone()
        }
        .is_probe_rule()
    });
    match probe {
        Some((_, names)) => {
            names.insert(CLONE3.to_owned());
        }
        None => {
            let rule = Rule {
                action: Action::Errno,
                errno_ret: Some(ENOSYS),
                comment: Some(CLONE3_COMMENT.to_owned()),
                ..Rule::default()
            };
            let key = serde_json::to_string(&rule)
                .expect("a Rule holds only strings, numbers and lists, which always serialize");
            others.insert(key, (rule, BTreeSet::from([CLONE3.to_owned()])));
        }
    }
    warnings.push(
        "clone3: allowed by an input, but answered ENOSYS in the merge because another input \
         allows clone only for some namespace flags (clone3's flags cannot be checked; glibc \
         falls back to clone)"
            .to_owned(),
    );
}

impl Profile {
    /// `record --args`: allows `socket`, `clone` and `personality` only for the values in
    /// `observed`, one rule per value, and answers `clone3` with ENOSYS when `clone` is restricted.
    /// Only names this profile allows unconditionally are restricted. Returns what a reader of the
    /// summary should know (a syscall left allowed by name, clone3 made but now refused).
    pub fn restrict_arguments(&mut self, observed: &Observed) -> Vec<String> {
        let mut notes = Vec::new();
        let allowed = self.allowed_names();
        let mut restricted = Vec::new();
        for syscall in [CLONE, PERSONALITY, SOCKET] {
            if !allowed.contains(syscall) {
                continue;
            }
            // clone: an empty record still means "no namespace flags were ever passed" when the
            // clone was implied rather than made (a runtime's thread start, §11).
            if syscall != CLONE && !observed.complete(syscall) {
                notes.push(format!(
                    "{syscall} stays allowed for every value: {}",
                    if observed.calls(syscall).is_empty() {
                        "no native call recorded its arguments (32-bit calls are not recorded)"
                    } else {
                        "more distinct values were made than the recorder keeps"
                    }
                ));
                continue;
            }
            restricted.push(syscall);
        }
        if restricted.is_empty() {
            return notes;
        }
        let clone_restricted = restricted.contains(&CLONE);
        let clone3_allowed = allowed.contains(CLONE3);
        for rule in &mut self.syscalls {
            if rule.action == Action::Allow && rule.is_unconditional() {
                rule.names.retain(|name| {
                    !(restricted.contains(&name.as_str()) || clone_restricted && name == CLONE3)
                });
            }
        }
        self.syscalls.retain(|rule| !rule.names.is_empty());
        // After the unconditional allow rule (if it is still there), before the ENOSYS rules.
        let at = self
            .syscalls
            .iter()
            .position(|rule| !(rule.action == Action::Allow && rule.is_unconditional()))
            .unwrap_or(self.syscalls.len());
        let new: Vec<Rule> = restricted
            .iter()
            .flat_map(|syscall| rules_for(syscall, observed))
            .collect();
        self.syscalls.splice(at..at, new);
        if clone_restricted && !self.enosys_names().contains(CLONE3) {
            self.syscalls.push(Rule {
                names: vec![CLONE3.to_owned()],
                action: Action::Errno,
                errno_ret: Some(ENOSYS),
                comment: Some(CLONE3_COMMENT.to_owned()),
                ..Rule::default()
            });
        }
        if clone_restricted && clone3_allowed {
            notes.push(
                "clone3 was made while recording, but is answered ENOSYS under this profile \
                 (its flags cannot be checked); glibc falls back to clone, whose namespace flags \
                 are"
                .to_owned(),
            );
        }
        notes
    }

    /// Argument rules the runtimes apply otherwise than they read (see [`ArgWarning`]).
    pub(super) fn argument_warnings(&self) -> Result<Vec<ArgWarning>, ProfileError> {
        let default = scmp_action(
            "defaultAction",
            &self.default_action,
            self.default_errno_ret,
        )?;
        let mut warnings = Vec::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            if rule.args.is_empty() {
                continue;
            }
            let mut seen = BTreeSet::new();
            if let Some(cond) = rule.args.iter().find(|cond| !seen.insert(cond.index)) {
                warnings.push(ArgWarning::RepeatedIndex {
                    place: place(i, rule),
                    index: cond.index,
                });
            }
            if scmp_action("", &rule.action, rule.errno_ret)? == default {
                warnings.push(ArgWarning::EqualsDefault {
                    place: place(i, rule),
                    action: self.default_action.to_string(),
                });
            }
        }
        let clone_conditional = self.syscalls.iter().any(|rule| {
            rule.action.permits() && !rule.args.is_empty() && rule.names.iter().any(|n| n == CLONE)
        });
        let allowed = self.allowed_names();
        if clone_conditional && !allowed.contains(CLONE) && allowed.contains(CLONE3) {
            warnings.push(ArgWarning::Clone3Open);
        }
        Ok(warnings)
    }

    /// For `socket`, `clone` and `personality` when this profile allows them only under argument
    /// conditions: the recorded values that no permitting rule applying on this host admits.
    /// Syscalls allowed unconditionally, or not at all, are not listed (the name comparison
    /// covers them), nor are syscalls whose recorded values are incomplete.
    pub fn values_outside(&self, observed: &Observed) -> Vec<ValueOutside> {
        let allowed = self.allowed_names();
        let host = Host::current().ok();
        let mut outside = Vec::new();
        for syscall in [CLONE, PERSONALITY, SOCKET] {
            let named = self
                .syscalls
                .iter()
                .any(|rule| rule.action.permits() && rule.names.iter().any(|name| name == syscall));
            if allowed.contains(syscall) || !named {
                continue;
            }
            for (arg0, arg2) in observed.calls(syscall) {
                if !self.admits(syscall, arg0, arg2, host.as_ref()) {
                    outside.push(ValueOutside {
                        syscall,
                        value: arguments::describe(syscall, arg0, arg2),
                    });
                }
            }
        }
        outside
    }

    /// The syscalls of `observed` this profile allows for every recorded value, through argument
    /// conditions: they are inside the profile although not in its unconditional allow list.
    pub fn admitted_by_value(&self, observed: &Observed) -> BTreeSet<&'static str> {
        let host = Host::current().ok();
        [CLONE, PERSONALITY, SOCKET]
            .into_iter()
            .filter(|syscall| {
                let calls = observed.calls(syscall);
                observed.complete(syscall)
                    && !calls.is_empty()
                    && calls
                        .iter()
                        .all(|(arg0, arg2)| self.admits(syscall, *arg0, *arg2, host.as_ref()))
            })
            .collect()
    }

    /// Whether a permitting rule that applies on `host` names `syscall` and holds for a call with
    /// these arguments. A condition on an argument that was not recorded never holds (for `clone`
    /// only the namespace bits are known, so only a MASKED_EQ within them can be decided). A rule
    /// that repeats an index holds when any of its conditions does, as runc applies it.
    fn admits(&self, syscall: &str, arg0: u64, arg2: Option<u64>, host: Option<&Host>) -> bool {
        self.syscalls.iter().enumerate().any(|(i, rule)| {
            if !rule.action.permits() || !rule.names.iter().any(|name| name == syscall) {
                return false;
            }
            let applies = match host {
                Some(host) => rule_applies(&format!("syscalls[{i}]"), rule, host).unwrap_or(false),
                None => {
                    rule.is_unconditional() || rule.includes.is_none() && rule.excludes.is_none()
                }
            };
            if !applies {
                return false;
            }
            let holds = |cond: &ArgCond| -> bool {
                let value = match (cond.index, syscall) {
                    (0, CLONE) => {
                        return cond.op == Op::MaskedEqual
                            && cond.value & !CLONE_NAMESPACE_MASK == 0
                            && arg0 & cond.value == cond.value_two;
                    }
                    (0, _) => arg0,
                    (2, SOCKET) => match arg2 {
                        Some(protocol) if arg0 == AF_NETLINK => protocol,
                        _ => return false,
                    },
                    _ => return false,
                };
                match &cond.op {
                    Op::Equal => value == cond.value,
                    Op::NotEqual => value != cond.value,
                    Op::Less => value < cond.value,
                    Op::LessOrEqual => value <= cond.value,
                    Op::Greater => value > cond.value,
                    Op::GreaterEqual => value >= cond.value,
                    Op::MaskedEqual => value & cond.value == cond.value_two,
                    Op::Unknown(_) => false,
                }
            };
            let indexes: BTreeSet<u32> = rule.args.iter().map(|cond| cond.index).collect();
            if indexes.len() < rule.args.len() {
                rule.args.iter().any(holds)
            } else {
                rule.args.iter().all(holds)
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{profile::merge, syscalls::Arch};

    fn observed() -> Observed {
        Observed {
            socket_families: [1, 2, 10, AF_NETLINK].into(),
            netlink_protocols: [0].into(),
            clone_namespaces: [0x1000_0000].into(),
            personas: [0xffff_ffff].into(),
            overflow: 0,
        }
    }

    fn recorded(names: &[&str]) -> Profile {
        let names: BTreeSet<String> = names.iter().map(|name| (*name).to_owned()).collect();
        Profile::minimal(&names, Arch::native_family()).unwrap()
    }

    #[test]
    fn restricts_in_dockers_style() {
        let mut profile = recorded(&["clone", "clone3", "personality", "read", "socket"]);
        let notes = profile.restrict_arguments(&observed());
        assert!(
            notes.iter().any(|note| note.contains("clone3 was made")),
            "{notes:?}"
        );
        assert_eq!(
            profile.allowed_names().into_iter().collect::<Vec<_>>(),
            ["read"],
            "restricted names and clone3 leave the unconditional allow list"
        );
        assert!(profile.enosys_names().contains(CLONE3));
        let json: serde_json::Value = serde_json::from_str(&profile.to_json()).unwrap();
        let args: Vec<String> = json["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rule| rule["args"].is_array())
            .map(|rule| format!("{} {}", rule["names"][0], rule["args"]))
            .collect();
        assert_eq!(
            args,
            [
                r#""clone" [{"index":0,"op":"SCMP_CMP_MASKED_EQ","value":2114060288}]"#,
                r#""clone" [{"index":0,"op":"SCMP_CMP_MASKED_EQ","value":2114060288,"valueTwo":268435456}]"#,
                r#""personality" [{"index":0,"op":"SCMP_CMP_EQ","value":4294967295}]"#,
                r#""socket" [{"index":0,"op":"SCMP_CMP_EQ","value":1}]"#,
                r#""socket" [{"index":0,"op":"SCMP_CMP_EQ","value":2}]"#,
                r#""socket" [{"index":0,"op":"SCMP_CMP_EQ","value":10}]"#,
                r#""socket" [{"index":0,"op":"SCMP_CMP_EQ","value":16},{"index":2,"op":"SCMP_CMP_EQ","value":0}]"#,
            ]
        );
        // Valid as runc sees it, with no warning (no repeated index, no rule equal to the default).
        let again = Profile::from_json(&profile.to_json(), Path::new("p.json")).unwrap();
        again.check().unwrap();
        assert_eq!(again.warnings().unwrap(), []);
        assert_eq!(again, profile);
    }

    #[test]
    fn warnings_for_rules_runtimes_apply_otherwise() {
        let profile = Profile::from_json(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["read","clone3"],"action":"SCMP_ACT_ALLOW"},
                {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]},
                {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
            Path::new("w.json"),
        )
        .unwrap();
        profile.check().unwrap();
        let warnings: Vec<String> = profile
            .warnings()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].starts_with("syscalls[2] (socket): two conditions on argument 0"));
        assert!(warnings[1].starts_with("syscalls[3] (personality): its action is the default"));
        assert!(warnings[2].starts_with("clone is allowed only under argument conditions"));
    }

    #[test]
    fn incomplete_values_stay_allowed_by_name() {
        let mut profile = recorded(&["personality", "socket"]);
        let observed = Observed {
            personas: [0].into(),
            overflow: profiler_common::ARGS_PERSONA_OVERFLOW,
            ..Observed::default()
        };
        let notes = profile.restrict_arguments(&observed);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(profile.allowed_names().contains("socket"));
        assert!(profile.allowed_names().contains("personality"));
        assert!(profile.syscalls.iter().all(|rule| rule.args.is_empty()));
    }

    #[test]
    fn values_outside_a_restricted_profile() {
        let mut profile = recorded(&["clone", "socket"]);
        profile.restrict_arguments(&observed());
        let mut run = observed();
        assert_eq!(profile.values_outside(&run), []);
        assert_eq!(
            profile
                .admitted_by_value(&run)
                .into_iter()
                .collect::<Vec<_>>(),
            ["clone", "socket"]
        );
        run.socket_families.insert(38);
        run.netlink_protocols.insert(9);
        run.clone_namespaces.insert(0x0002_0000);
        let outside: Vec<String> = profile
            .values_outside(&run)
            .into_iter()
            .map(|o| format!("{} {}", o.syscall, o.value))
            .collect();
        assert_eq!(
            outside,
            [
                "clone CLONE_NEWNS",
                "socket AF_NETLINK/NETLINK_AUDIT",
                "socket AF_ALG"
            ]
        );
        assert_eq!(
            profile
                .admitted_by_value(&run)
                .into_iter()
                .collect::<Vec<_>>(),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_new_allowed_value_is_a_widening() {
        use crate::profile::compare::{Side, compare};
        let restricted = |families: &[u64]| {
            let mut profile = recorded(&["read", "socket"]);
            profile.restrict_arguments(&Observed {
                socket_families: families.iter().copied().collect(),
                ..Observed::default()
            });
            Side::Profile(profile)
        };
        let (old, new) = (restricted(&[1, 2]), restricted(&[1, 2, 38]));
        let diff = compare(&old, &new);
        assert!(diff.widened, "{diff:?}");
        assert!(
            diff.added.is_empty(),
            "socket is not allowed by name on either side"
        );
        let lines: Vec<String> = diff.rule_changes.iter().map(|c| c.line()).collect();
        assert_eq!(lines, ["SCMP_ACT_ALLOW if arg0 == 0x26: +socket"]);
        // A value dropped narrows; allowing socket by name widens the restricted profile.
        assert!(!compare(&new, &old).widened);
        assert!(compare(&old, &Side::Profile(recorded(&["read", "socket"]))).widened);
    }

    fn named(profiles: &[(&str, &Profile)]) -> Vec<(String, Profile)> {
        profiles
            .iter()
            .map(|(name, profile)| ((*name).to_owned(), (*profile).clone()))
            .collect()
    }

    #[test]
    fn argument_values_are_unioned_and_clone3_stays_enosys() {
        let restricted_by = |families: &[u64], clone3: bool| {
            let mut names = vec!["read", "clone", "socket"];
            if clone3 {
                names.push("clone3");
            }
            let mut profile = recorded(&names);
            profile.restrict_arguments(&crate::arguments::Observed {
                socket_families: families.iter().copied().collect(),
                clone_namespaces: [0].into(),
                ..Default::default()
            });
            profile
        };
        let (one, two) = (
            restricted_by(&[1, 2], false),
            restricted_by(&[2, 10], false),
        );
        let merged = merge::merge(&named(&[("a", &one), ("b", &two)])).unwrap();
        let families: Vec<u64> = merged
            .profile
            .syscalls
            .iter()
            .filter(|rule| rule.names == ["socket"])
            .map(|rule| rule.args[0].value)
            .collect();
        assert_eq!(
            families,
            [1, 10, 2],
            "one rule per value, sorted as rules are"
        );
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);

        // An input that allowed clone3 (no --args) and one that restricts clone.
        let by_name = recorded(&["read", "clone", "clone3", "socket"]);
        let merged = merge::merge(&named(&[("a", &one), ("b", &by_name)])).unwrap();
        assert!(
            merged.profile.allowed_names().contains("clone"),
            "b allows clone by name"
        );
        let restricted = restricted_by(&[1], true);
        let merged = merge::merge(&named(&[
            ("a", &restricted),
            ("b", &recorded(&["read", "clone3"])),
        ]))
        .unwrap();
        assert!(!merged.profile.allowed_names().contains("clone3"));
        assert!(merged.profile.enosys_names().contains("clone3"));
        assert!(
            merged.warnings.iter().any(|w| w.starts_with("clone3:")),
            "{:?}",
            merged.warnings
        );
        assert!(merged.profile.warnings().unwrap().is_empty());
    }

    #[test]
    fn dockers_own_rules_are_evaluated() {
        // Docker's clone rule and a socket deny-list written the runc way (repeated index = OR).
        let profile = Profile::from_json(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":38,"op":"SCMP_CMP_NE"},{"index":0,"value":40,"op":"SCMP_CMP_LT"}]}]}"#,
            Path::new("d.json"),
        )
        .unwrap();
        let run = Observed {
            socket_families: [2].into(),
            clone_namespaces: [0, 0x1000_0000].into(),
            personas: [8].into(),
            ..Observed::default()
        };
        let outside: Vec<String> = profile
            .values_outside(&run)
            .into_iter()
            .map(|o| format!("{} {}", o.syscall, o.value))
            .collect();
        assert_eq!(outside, ["clone CLONE_NEWUSER"]);
    }
}
