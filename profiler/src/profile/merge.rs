//! The union of profiles ([`merge`], and [`merge_profiles`] for `check --update`): e.g. of the runs
//! of a test suite's jobs, or of a checked-in profile and a new recording.
//!
//! Unconditional allow lists are merged into one sorted allow rule; architectures and flags are
//! unioned; every other rule is kept, with rules that do the same thing (action, errno, argument
//! conditions, includes/excludes, comment) merged into one. A name some input allows is dropped
//! from a "not seen while recording" ENOSYS rule ([`Rule::is_probe_rule`]), because that input saw
//! it. Profiles whose default actions differ are refused: a union of allow lists means nothing
//! across them.
//!
//! It does not decide whether the union is what a workload needs, and it never narrows: a deny rule
//! an input carries stays, with a warning when another input allows the same name. The output is
//! deterministic: the same inputs in any order give the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, ArchMapEntry, Profile, ProfileError, Rule};
use crate::syscalls::Arch;

/// A merged profile, and what a reader of it should know.
#[derive(Debug)]
pub struct Merged {
    pub profile: Profile,
    pub warnings: Vec<String>,
}

/// The union of already checked profiles, named `profile 1`, `profile 2`, … in errors. Warnings
/// go to the log (shown by default).
pub fn merge_profiles(profiles: &[Profile]) -> Result<Profile, ProfileError> {
    let inputs: Vec<(String, Profile)> = profiles
        .iter()
        .enumerate()
        .map(|(i, profile)| (format!("profile {}", i + 1), profile.clone()))
        .collect();
    let merged = merge(&inputs)?;
    for warning in &merged.warnings {
        log::warn!("{warning}");
    }
    Ok(merged.profile)
}

/// The default action as runc applies it, for comparing and for messages.
fn describe_default(profile: &Profile) -> String {
    match profile.default_errno() {
        Some(errno) => format!(
            "defaultAction {} with defaultErrnoRet {errno}",
            profile.default_action
        ),
        None => format!("defaultAction {}", profile.default_action),
    }
}

/// Architectures in the order runc's and Docker's profiles list them; names this tool does not
/// know (only possible in another host's `archMap` entry) after them, by name.
fn arch_order(name: &str) -> (usize, String) {
    let index = Arch::ALL.iter().position(|arch| arch.scmp_name() == name);
    (index.unwrap_or(Arch::ALL.len()), name.to_owned())
}

fn sorted_arches(names: BTreeSet<String>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort_by_key(|name| arch_order(name));
    names
}

/// The union of `inputs`, each named by its label in errors and warnings (a file name).
pub fn merge(inputs: &[(String, Profile)]) -> Result<Merged, ProfileError> {
    let Some((first_label, first)) = inputs.first() else {
        return Err(ProfileError::NothingToMerge);
    };
    let mut warnings = Vec::new();

    let default = (&first.default_action, first.default_errno());
    for (label, profile) in &inputs[1..] {
        if (&profile.default_action, profile.default_errno()) != default {
            return Err(ProfileError::DefaultsDiffer {
                first: first_label.clone(),
                first_default: describe_default(first),
                other: label.clone(),
                other_default: describe_default(profile),
            });
        }
    }
    // Equal effective defaults; write the explicit value if any input wrote one.
    let default_errno_ret = inputs.iter().filter_map(|(_, p)| p.default_errno_ret).min();

    let listener_path = same_value(inputs, |p| &p.listener_path, "listenerPath")?;
    let listener_metadata = same_value(inputs, |p| &p.listener_metadata, "listenerMetadata")?;

    let (architectures, arch_map) = merge_architectures(inputs, &mut warnings)?;

    let flags: Vec<String> = inputs
        .iter()
        .flat_map(|(_, p)| p.flags.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let syscalls = merge_rules(inputs, &mut warnings);

    let profile = Profile {
        default_action: first.default_action.clone(),
        default_errno_ret,
        architectures,
        arch_map,
        flags,
        listener_path,
        listener_metadata,
        syscalls,
    };
    // Every part came from a checked profile; this only guards the merge itself.
    profile
        .check()
        .map_err(|source| ProfileError::MergedInvalid {
            source: Box::new(source),
        })?;
    Ok(Merged { profile, warnings })
}

/// The one value of an optional field the inputs that set it agree on (a notify listener cannot
/// be two places at once).
fn same_value(
    inputs: &[(String, Profile)],
    get: fn(&Profile) -> &Option<String>,
    key: &'static str,
) -> Result<Option<String>, ProfileError> {
    let values: BTreeSet<&String> = inputs.iter().filter_map(|(_, p)| get(p).as_ref()).collect();
    if values.len() > 1 {
        let seen: Vec<String> = inputs
            .iter()
            .filter_map(|(label, p)| get(p).as_ref().map(|value| format!("{label}: {value:?}")))
            .collect();
        return Err(ProfileError::DifferentValues {
            key,
            seen: seen.join(", "),
        });
    }
    Ok(values.into_iter().next().cloned())
}

/// `architectures` as a union (an input with none contributes the native architecture it means);
/// `archMap`s merged per architecture when no input lists `architectures`; when both forms meet,
/// the union of what each means on this host, as `architectures` (Docker refuses both at once).
fn merge_architectures(
    inputs: &[(String, Profile)],
    warnings: &mut Vec<String>,
) -> Result<(Vec<String>, Option<Vec<ArchMapEntry>>), ProfileError> {
    let has_map = |p: &Profile| p.arch_map.as_ref().is_some_and(|map| !map.is_empty());
    let listing: Vec<&String> = inputs
        .iter()
        .filter(|(_, p)| !p.architectures.is_empty())
        .map(|(label, _)| label)
        .collect();
    let mapping: Vec<&String> = inputs
        .iter()
        .filter(|(_, p)| has_map(p))
        .map(|(label, _)| label)
        .collect();
    let native = Arch::native().scmp_name().to_owned();

    if mapping.is_empty() {
        let mut union: BTreeSet<String> = inputs
            .iter()
            .flat_map(|(_, p)| p.architectures.iter().cloned())
            .collect();
        // No architectures means native only; keep meaning it once others are listed.
        if !union.is_empty() && listing.len() < inputs.len() {
            union.insert(native);
        }
        return Ok((sorted_arches(union), None));
    }

    if listing.is_empty() {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, profile) in inputs {
            match profile.arch_map.as_deref() {
                Some(entries) if !entries.is_empty() => {
                    // Docker reads an architecture's first entry only (moby's setupSeccomp breaks
                    // there, and `check` validates no other): a later one means nothing, and
                    // merging it would apply it.
                    let mut seen = BTreeSet::new();
                    for entry in entries {
                        if !seen.insert(&entry.architecture) {
                            continue;
                        }
                        map.entry(entry.architecture.clone())
                            .or_default()
                            .extend(entry.sub_architectures.iter().cloned());
                    }
                }
                _ => {
                    map.entry(native.clone()).or_default();
                }
            }
        }
        let mut entries: Vec<ArchMapEntry> = map
            .into_iter()
            .map(|(architecture, subs)| ArchMapEntry {
                architecture,
                sub_architectures: sorted_arches(subs),
            })
            .collect();
        entries.sort_by_key(|entry| arch_order(&entry.architecture));
        return Ok((Vec::new(), Some(entries)));
    }

    let mut union = BTreeSet::new();
    for (label, profile) in inputs {
        let arches = profile.effective_architectures().map_err(|source| {
            ProfileError::MergeArchitectures {
                label: label.clone(),
                source: Box::new(source),
            }
        })?;
        if arches.is_empty() {
            union.insert(native.clone());
        }
        union.extend(arches.iter().map(|arch| arch.scmp_name().to_owned()));
    }
    let labels = |labels: &[&String]| {
        labels
            .iter()
            .map(|label| label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    warnings.push(format!(
        "archMap in {} but architectures in {}: Docker refuses a profile with both, so the \
         merged profile lists architectures, each input's as it applies on this {} host; archMap \
         entries for other hosts are dropped",
        labels(&mapping),
        labels(&listing),
        Arch::native().scmp_name()
    ));
    Ok((sorted_arches(union), None))
}

/// One allow rule for every unconditional allow; the other rules kept, those that do the same
/// thing merged; probe ENOSYS rules without the names now allowed. Sorted by (action, first name).
fn merge_rules(inputs: &[(String, Profile)], warnings: &mut Vec<String>) -> Vec<Rule> {
    let mut allowed: BTreeSet<String> = BTreeSet::new();
    // Keyed by the rule without its names, as JSON (Rule has no Ord): same key, same effect.
    let mut others: BTreeMap<String, (Rule, BTreeSet<String>)> = BTreeMap::new();
    for (_, profile) in inputs {
        for rule in &profile.syscalls {
            if rule.action == Action::Allow && rule.is_unconditional() {
                allowed.extend(rule.names.iter().cloned());
                continue;
            }
            let template = Rule {
                names: Vec::new(),
                ..rule.clone()
            };
            let key = serde_json::to_string(&template)
                .expect("a Rule holds only strings, numbers and lists, which always serialize");
            others
                .entry(key)
                .or_insert_with(|| (template, BTreeSet::new()))
                .1
                .extend(rule.names.iter().cloned());
        }
    }

    // clone3 stays ENOSYS when some input restricts clone by its arguments (args.rs).
    super::args::keep_clone3_refused(&mut allowed, &mut others, warnings);

    let mut rules = Vec::with_capacity(others.len() + 1);
    if !allowed.is_empty() {
        rules.push(Rule {
            names: allowed.iter().cloned().collect(),
            action: Action::Allow,
            ..Rule::default()
        });
    }
    for (template, names) in others.into_values() {
        let mut rule = Rule {
            names: names.into_iter().collect(),
            ..template
        };
        if rule.is_probe_rule() {
            // Some input saw these: it needs them, so they cannot stay answered with ENOSYS
            // (clone3 was taken out of `allowed` above when it must stay ENOSYS).
            rule.names.retain(|name| !allowed.contains(name));
            if rule.names.is_empty() {
                continue;
            }
        } else if !rule.action.permits() && rule.is_unconditional() {
            let both: Vec<&str> = rule
                .names
                .iter()
                .filter(|name| allowed.contains(*name))
                .map(String::as_str)
                .collect();
            if !both.is_empty() {
                // libseccomp keeps the first unconditional rule added for a syscall and ignores
                // later ones (seen with 2.5.4); runc adds rules in profile order, and the allow
                // rule sorts first.
                warnings.push(format!(
                    "{}: allowed by an input and explicitly denied by a {}{} rule; the merged \
                     profile keeps both, and runc will allow these syscalls because the allow rule \
                     comes first (libseccomp keeps a syscall's first rule): drop them from the \
                     deny rule or from the inputs that allow them",
                    both.join(", "),
                    rule.action,
                    rule.errno_ret
                        .map(|errno| format!(" errno {errno}"))
                        .unwrap_or_default(),
                ));
            }
        }
        rules.push(rule);
    }
    rules.sort_by_cached_key(|rule| {
        let json = serde_json::to_string(rule)
            .expect("a Rule holds only strings, numbers and lists, which always serialize");
        (
            rule.action.as_str().to_owned(),
            rule.names.first().cloned().unwrap_or_default(),
            json,
        )
    });
    rules
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(json: &str) -> Profile {
        let profile = Profile::from_json(json, Path::new("test.json")).unwrap();
        profile.check().unwrap();
        profile
    }

    fn named(profiles: &[(&str, &Profile)]) -> Vec<(String, Profile)> {
        profiles
            .iter()
            .map(|(label, p)| ((*label).to_owned(), (*p).clone()))
            .collect()
    }

    fn minimal(names: &[&str], arches: &[Arch]) -> Profile {
        let names = names.iter().map(|name| (*name).to_owned()).collect();
        Profile::minimal(&names, arches).unwrap()
    }

    #[test]
    fn union_of_allow_lists_and_probe_rule() {
        let a = minimal(&["read", "write", "clone3"], &[Arch::X86_64]);
        let b = minimal(&["read", "getdents64", "openat2"], &[Arch::X86_64]);
        let merged = merge(&named(&[("a", &a), ("b", &b)])).unwrap();
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
        let profile = merged.profile;
        assert_eq!(profile.syscalls.len(), 2);
        assert_eq!(
            profile.syscalls[0].names,
            ["clone3", "getdents64", "openat2", "read", "write"]
        );
        // Only what no input saw stays ENOSYS.
        assert_eq!(profile.syscalls[1].names, ["close_range", "faccessat2"]);
        assert_eq!(profile.syscalls[1].errno_ret, Some(38));
        assert_eq!(profile.default_errno_ret, Some(1));
        assert_eq!(profile.architectures, ["SCMP_ARCH_X86_64"]);

        // When every probe is allowed somewhere, the ENOSYS rule disappears.
        let c = minimal(&["close_range", "faccessat2"], &[Arch::X86_64]);
        let merged = merge(&named(&[("a", &a), ("b", &b), ("c", &c)])).unwrap();
        assert_eq!(merged.profile.syscalls.len(), 1);
    }

    #[test]
    fn architectures_in_family_order() {
        let a = minimal(&["read"], &[Arch::X32, Arch::X86_64]);
        let b = minimal(&["read"], &[Arch::X86, Arch::X86_64]);
        let merged = merge(&named(&[("a", &a), ("b", &b)])).unwrap().profile;
        assert_eq!(
            merged.architectures,
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );

        // None listed means native only: kept meaning it once the other lists some.
        let none = minimal(&["read"], &[]);
        let x86 = minimal(&["read"], &[Arch::X86]);
        let merged = merge(&named(&[("none", &none), ("x86", &x86)]))
            .unwrap()
            .profile;
        let mut expected = vec![Arch::native().scmp_name(), "SCMP_ARCH_X86"];
        expected.sort_by_key(|name| arch_order(name));
        assert_eq!(merged.architectures, expected);
        let merged = merge(&named(&[("a", &none), ("b", &none)]))
            .unwrap()
            .profile;
        assert!(merged.architectures.is_empty());
    }

    #[test]
    fn arch_maps_merge_and_mixed_forms_warn() {
        let map = |subs: &str| {
            parse(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","archMap":[
                    {{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}},
                    {{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[{subs}]}}],
                    "syscalls":[{{"names":["read"],"action":"SCMP_ACT_ALLOW"}}]}}"#
            ))
        };
        let a = map(r#""SCMP_ARCH_X32""#);
        let b = map(r#""SCMP_ARCH_X86""#);
        let merged = merge(&named(&[("a", &a), ("b", &b)])).unwrap().profile;
        let map = merged.arch_map.unwrap();
        assert_eq!(map[0].architecture, "SCMP_ARCH_X86_64");
        assert_eq!(map[0].sub_architectures, ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        assert_eq!(map[1].architecture, "SCMP_ARCH_AARCH64");

        let listed = minimal(&["write"], &[Arch::X86_64]);
        let merged = merge(&named(&[("a", &a), ("listed", &listed)])).unwrap();
        assert!(merged.profile.arch_map.is_none());
        assert!(!merged.profile.architectures.is_empty());
        assert!(
            merged.warnings[0].starts_with("archMap in a but architectures in listed"),
            "{:?}",
            merged.warnings
        );
    }

    #[test]
    fn fuzz_crash_919cd0b4_later_arch_map_entry_for_an_architecture() {
        // Found by the profile_merge fuzz target: a second archMap entry for the native
        // architecture, which Docker ignores and `check` does not validate, was merged into the
        // first; its unknown name then failed the merged profile's check (MergedInvalid), and a
        // known one would have widened the profile.
        let native = Arch::native().scmp_name();
        let profile = parse(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","archMap":[
                {{"architecture":"{native}","subArchitectures":["SCMP_ARCH_X86"]}},
                {{"architecture":"{native}","subArchitectures":["SCMP_ARCH_X32","CAP_SYS_BOOT"]}}]}}"#
        ));
        let merged = merge(&named(&[("a", &profile)])).unwrap().profile;
        assert_eq!(
            merged.effective_architectures().unwrap(),
            profile.effective_architectures().unwrap()
        );
        let map = merged.arch_map.unwrap();
        assert_eq!(map.len(), 1);
        assert_eq!(map[0].architecture, native);
        assert_eq!(map[0].sub_architectures, ["SCMP_ARCH_X86"]);
    }

    #[test]
    fn deny_rules_kept_and_conflicts_warned() {
        let a = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["read"],"action":"SCMP_ACT_ALLOW"},
                {"names":["mount","ptrace"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let b = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["ptrace","write"],"action":"SCMP_ACT_ALLOW"},
                {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                {"names":["kill"],"action":"SCMP_ACT_KILL"}]}"#,
        );
        let merged = merge(&named(&[("a", &a), ("b", &b)])).unwrap();
        let rules: Vec<(&str, Vec<&str>)> = merged
            .profile
            .syscalls
            .iter()
            .map(|rule| {
                (
                    rule.action.as_str(),
                    rule.names.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                ("SCMP_ACT_ALLOW", vec!["personality"]),
                ("SCMP_ACT_ALLOW", vec!["ptrace", "read", "write"]),
                ("SCMP_ACT_ERRNO", vec!["mount", "ptrace"]),
                ("SCMP_ACT_KILL", vec!["kill"]),
            ]
        );
        assert_eq!(
            merged.profile.syscalls[0].args.len(),
            1,
            "the conditional rule, once"
        );
        assert_eq!(merged.warnings.len(), 1, "{:?}", merged.warnings);
        assert!(
            merged.warnings[0].starts_with(
                "ptrace: allowed by an input and explicitly denied by a SCMP_ACT_ERRNO errno 1 rule"
            ),
            "{:?}",
            merged.warnings
        );
    }

    #[test]
    fn the_conflict_warning_is_true() {
        // The warning says the allow rule wins because it comes first: libseccomp keeps the
        // first unconditional rule for a syscall, in whichever order.
        let action_of_ptrace = |rules: &str| {
            let profile = parse(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":{rules}}}"#
            ));
            let mut file = tempfile::tempfile().unwrap();
            profile.compile().unwrap().export_pfc(&file).unwrap();
            let mut text = String::new();
            std::io::Seek::rewind(&mut file).unwrap();
            std::io::Read::read_to_string(&mut file, &mut text).unwrap();
            let nr = crate::syscalls::number_of(Arch::native(), "ptrace").unwrap();
            let marker = format!("if ($syscall == {nr})\n");
            let at = text.find(&marker).unwrap() + marker.len();
            text[at..].lines().next().unwrap().trim().to_owned()
        };
        let allow = r#"{"names":["ptrace"],"action":"SCMP_ACT_ALLOW"}"#;
        let deny = r#"{"names":["ptrace"],"action":"SCMP_ACT_ERRNO","errnoRet":38}"#;
        assert_eq!(
            action_of_ptrace(&format!("[{allow},{deny}]")),
            "action ALLOW;"
        );
        assert_eq!(
            action_of_ptrace(&format!("[{deny},{allow}]")),
            "action ERRNO(38);"
        );

        let a = parse(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{deny}]}}"#
        ));
        let b = parse(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{allow}]}}"#
        ));
        let merged = merge(&named(&[("a", &a), ("b", &b)])).unwrap().profile;
        assert_eq!(merged.syscalls[0].action, "SCMP_ACT_ALLOW");
    }

    #[test]
    fn refuses_different_defaults() {
        let a = parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1}"#);
        let b = parse(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
        let err = merge(&named(&[("a.json", &a), ("b.json", &b)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.json (defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 1)"),
            "{err}"
        );
        assert!(
            err.contains("b.json (defaultAction SCMP_ACT_ALLOW)"),
            "{err}"
        );

        let c = parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38}"#);
        let err = merge(&named(&[("a.json", &a), ("c.json", &c)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("defaultErrnoRet 38"), "{err}");

        // ERRNO without a value is EPERM, as runc applies it.
        let d = parse(r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#);
        let merged = merge(&named(&[("d", &d), ("a", &a)])).unwrap().profile;
        assert_eq!(merged.default_errno_ret, Some(1));
    }

    #[test]
    fn deterministic_whatever_the_order() {
        let a = minimal(&["read", "write", "clone3"], &[Arch::X86_64, Arch::X32]);
        let b = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X86_64"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[{"names":["mmap"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let c = minimal(&["brk", "openat2"], &[Arch::X86_64]);
        let abc = merge(&named(&[("a", &a), ("b", &b), ("c", &c)]))
            .unwrap()
            .profile
            .to_json();
        let cba = merge(&named(&[("c", &c), ("b", &b), ("a", &a)]))
            .unwrap()
            .profile
            .to_json();
        let bac = merge(&named(&[("b", &b), ("a", &a), ("c", &c)]))
            .unwrap()
            .profile
            .to_json();
        assert_eq!(abc, cba);
        assert_eq!(abc, bac);

        // A single input is normalised, and merging is idempotent.
        let once = merge(&named(&[("a", &a)])).unwrap().profile;
        assert_eq!(once.to_json(), a.to_json());
        let twice = merge(&named(&[("a", &a), ("a", &a)])).unwrap().profile;
        assert_eq!(twice, once);
    }

    #[test]
    fn probe_rules_are_recognised_without_their_comment() {
        // A hand-written ENOSYS rule for probe syscalls, without the generated comment: the names
        // another input allows leave it, with no conflict warning.
        let a = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["read"],"action":"SCMP_ACT_ALLOW"},
                {"names":["clone3","openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        );
        let b = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone3"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let merged = merge(&named(&[("a", &a), ("b", &b)])).unwrap();
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
        assert_eq!(merged.profile.syscalls[0].names, ["clone3", "read"]);
        assert_eq!(merged.profile.syscalls[1].names, ["openat2"]);

        // An ENOSYS rule that names something else is a deny rule like any other: kept whole,
        // and the conflict is reported.
        let c = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["clone3","mount"],"action":"SCMP_ACT_ERRNO","errnoRet":38,
                 "comment":"not seen while recording"}]}"#,
        );
        let merged = merge(&named(&[("b", &b), ("c", &c)])).unwrap();
        assert_eq!(merged.profile.syscalls[1].names, ["clone3", "mount"]);
        assert_eq!(merged.warnings.len(), 1, "{:?}", merged.warnings);
        assert!(merged.warnings[0].starts_with("clone3: allowed by an input"));
    }

    #[test]
    fn merge_profiles_for_check_update() {
        let a = minimal(&["read"], &[Arch::X86_64]);
        let b = minimal(&["write", "clone3"], &[Arch::X86_64]);
        let merged = merge_profiles(&[a, b]).unwrap();
        assert_eq!(merged.syscalls[0].names, ["clone3", "read", "write"]);
        let c = parse(r#"{"defaultAction":"SCMP_ACT_KILL"}"#);
        let err = merge_profiles(&[merged, c]).unwrap_err().to_string();
        assert!(
            err.contains("profile 1") && err.contains("profile 2"),
            "{err}"
        );
    }
}
