//! Semantic validation as runc and Docker see a profile ([`Profile::check`]), the architectures
//! runc is given ([`Profile::effective_architectures`]), and what is valid but probably not what
//! the author meant ([`Profile::warnings`]).
//!
//! It refuses what runc or Docker would refuse, or would silently apply differently from what
//! the profile says (an unknown syscall name, an errnoRet above 16 bits), and warns about what runc
//! applies in a way the profile does not show (a name both allowed and denied, a name that exists
//! on none of the filter's architectures). It does not build the filter (compile.rs does, with the
//! same conversions, so both agree on what is valid).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use super::{
    Filter, Profile, ProfileError, Rule,
    compile::{scmp_action, scmp_conditions},
};
use crate::syscalls::{self, Arch};

/// The filter flags runc knows (libcontainer/seccomp/config.go).
pub(super) const FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// How a rule is named in messages: its JSON position and first names.
pub(super) fn place(index: usize, rule: &Rule) -> String {
    let mut names: Vec<&str> = rule.names.iter().take(3).map(String::as_str).collect();
    if rule.names.len() > 3 {
        names.push("…");
    }
    if names.is_empty() {
        format!("syscalls[{index}]")
    } else {
        format!("syscalls[{index}] ({})", names.join(", "))
    }
}

fn parse_arch(place: &str, name: &str) -> Result<Arch, ProfileError> {
    Arch::from_scmp_name(name).ok_or_else(|| {
        let hint = if name == "SCMP_ARCH_ARM64" {
            "write SCMP_ARCH_AARCH64: runc rejects SCMP_ARCH_ARM64 (libseccomp-golang's \
             ArchARM64 is not a profile name)"
                .to_owned()
        } else {
            let known: Vec<&str> = Arch::ALL.iter().map(|arch| arch.scmp_name()).collect();
            format!("use one of {}", known.join(", "))
        };
        ProfileError::UnknownArchitecture {
            place: place.to_owned(),
            name: name.to_owned(),
            hint,
        }
    })
}

fn check_filter(place: &str, filter: Option<&Filter>) -> Result<(), ProfileError> {
    let Some(filter) = filter else { return Ok(()) };
    for cap in &filter.caps {
        cap_bit(place, cap)?;
    }
    if let Some(value) = &filter.min_kernel {
        min_kernel(place, value)?;
    }
    Ok(())
}

pub(super) fn cap_bit(place: &str, cap: &str) -> Result<u32, ProfileError> {
    crate::capabilities::NAMES
        .iter()
        .position(|known| *known == cap)
        .map(|bit| bit as u32)
        .ok_or_else(|| ProfileError::UnknownCapability {
            place: place.to_owned(),
            cap: cap.to_owned(),
        })
}

pub(super) fn min_kernel(place: &str, value: &str) -> Result<(u32, u32), ProfileError> {
    parse_kernel_version(value).ok_or_else(|| ProfileError::MinKernel {
        place: place.to_owned(),
        value: value.to_owned(),
    })
}

/// Parses `MAJOR.MINOR` at the start of `text`, ignoring what follows (`6.18.0-1-amd64`), the way
/// moby's `fmt.Sscanf(release, "%d.%d", …)` does.
pub(super) fn parse_kernel_version(text: &str) -> Option<(u32, u32)> {
    fn number(text: &str) -> Option<(u32, &str)> {
        let end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        Some((text[..end].parse().ok()?, &text[end..]))
    }
    let (major, rest) = number(text)?;
    let (minor, _) = number(rest.strip_prefix('.')?)?;
    Some((major, minor))
}

impl Profile {
    /// The architectures runc is given: `architectures`, or else Docker's `archMap` entry for the
    /// native architecture plus its sub-architectures. Empty means "native only" (and then runc
    /// generates no ENOSYS stub). Duplicates are dropped, order kept.
    pub fn effective_architectures(&self) -> Result<Vec<Arch>, ProfileError> {
        let arch_map = self.arch_map.as_deref().unwrap_or_default();
        if !self.architectures.is_empty() && !arch_map.is_empty() {
            return Err(ProfileError::ArchitecturesAndArchMap);
        }
        let mut arches = Vec::new();
        let mut push = |place: &str, name: &str| -> Result<(), ProfileError> {
            let arch = parse_arch(place, name)?;
            if !arches.contains(&arch) {
                arches.push(arch);
            }
            Ok(())
        };
        for (i, name) in self.architectures.iter().enumerate() {
            push(&format!("architectures[{i}]"), name)?;
        }
        // Docker reads only the entry of its own architecture; the others may name architectures
        // this tool does not handle (MIPS, s390x) without making the profile invalid here.
        let native = Arch::native().scmp_name();
        if let Some((i, entry)) = arch_map
            .iter()
            .enumerate()
            .find(|(_, entry)| entry.architecture == native)
        {
            push(&format!("archMap[{i}].architecture"), &entry.architecture)?;
            for (j, name) in entry.sub_architectures.iter().enumerate() {
                push(&format!("archMap[{i}].subArchitectures[{j}]"), name)?;
            }
        }
        Ok(arches)
    }

    /// Semantic validation as runc and Docker see the profile. All unknown syscall names are
    /// reported together, after every other kind of problem.
    pub fn check(&self) -> Result<(), ProfileError> {
        scmp_action(
            "defaultAction",
            &self.default_action,
            self.default_errno_ret,
        )?;
        self.effective_architectures()?;
        for flag in &self.flags {
            if !FLAGS.contains(&flag.as_str()) {
                return Err(ProfileError::UnknownFlag { flag: flag.clone() });
            }
        }
        let mut unknown = BTreeSet::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            let place = place(i, rule);
            if rule.names.is_empty() {
                return Err(ProfileError::NoNames { place });
            }
            scmp_action(&place, &rule.action, rule.errno_ret)?;
            scmp_conditions(&place, &rule.args)?;
            check_filter(&place, rule.includes.as_ref())?;
            check_filter(&place, rule.excludes.as_ref())?;
            unknown.extend(
                rule.names
                    .iter()
                    .filter(|name| !syscalls::is_known_name(name))
                    .cloned(),
            );
        }
        if !unknown.is_empty() {
            return Err(ProfileError::UnknownSyscalls(unknown.into_iter().collect()));
        }
        Ok(())
    }
}

/// Something valid that runc applies differently from how the profile reads.
#[derive(Debug, PartialEq, Eq)]
pub enum Warning {
    /// Names an unconditional allow rule and an unconditional deny rule both name: only one of
    /// the two rules applies to them.
    AllowedAndDenied {
        names: Vec<String>,
        allowed_by: String,
        denied_by: String,
        applied: String,
        why: &'static str,
    },
    /// Names that exist on none of the filter's architectures: libseccomp knows them (from another
    /// architecture's table), and runc adds no rule for them.
    OnNoArchitecture {
        names: Vec<String>,
        architectures: Vec<&'static str>,
    },
    /// An argument rule that runtimes apply otherwise than it reads (args.rs).
    Argument(super::args::ArgWarning),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one = |names: &[String]| names.len() == 1;
        match self {
            Warning::AllowedAndDenied {
                names,
                allowed_by,
                denied_by,
                applied,
                why,
            } => write!(
                f,
                "{}: allowed by {allowed_by} and denied by {denied_by}; runc applies only \
                 {applied}, because {why}: remove {} from the rule that should not apply",
                names.join(", "),
                if one(names) { "it" } else { "them" },
            ),
            Warning::OnNoArchitecture {
                names,
                architectures,
            } => {
                let (exist, them, they_are) = if one(names) {
                    ("exists", "it", "it is")
                } else {
                    ("exist", "them", "they are")
                };
                write!(
                    f,
                    "{}: {exist} on none of the profile's architectures ({}), so runc adds no rule \
                     for {them} and {they_are} not counted as allowed: remove {them}, or list an \
                     architecture that has {them}",
                    names.join(", "),
                    architectures.join(" ")
                )
            }
            Warning::Argument(warning) => warning.fmt(f),
        }
    }
}

/// Whether Docker keeps the rule on this host as far as architectures go (moby's
/// `setupSeccomp` compares `includes.arches`/`excludes.arches` with the native architecture).
fn applies_on_native_arch(rule: &Rule) -> bool {
    let native = Arch::native().docker_name();
    let includes = rule
        .includes
        .as_ref()
        .is_none_or(|f| f.arches.is_empty() || f.arches.iter().any(|arch| arch == native));
    let excludes = rule
        .excludes
        .as_ref()
        .is_some_and(|f| f.arches.iter().any(|arch| arch == native));
    includes && !excludes
}

impl Profile {
    /// The architectures the compiled filter covers: the effective ones plus the native one, which
    /// libseccomp always adds (see `compile`).
    fn filter_architectures(&self) -> Result<Vec<Arch>, ProfileError> {
        let mut arches = self.effective_architectures()?;
        if !arches.contains(&Arch::native()) {
            arches.insert(0, Arch::native());
        }
        Ok(arches)
    }

    /// Names of rules that apply on this host which exist on none of the filter's architectures.
    pub fn names_on_no_architecture(&self) -> Result<BTreeSet<String>, ProfileError> {
        let arches = self.filter_architectures()?;
        Ok(self
            .syscalls
            .iter()
            .filter(|rule| applies_on_native_arch(rule))
            .flat_map(|rule| &rule.names)
            .filter(|name| {
                arches
                    .iter()
                    .all(|arch| syscalls::number_of(*arch, name).is_none())
            })
            .cloned()
            .collect())
    }

    /// What [`Profile::check`] accepts but runc applies differently from how the profile reads.
    /// Call it on a checked profile.
    pub fn warnings(&self) -> Result<Vec<Warning>, ProfileError> {
        let mut warnings = Vec::new();
        // The first unconditional permitting and denying rule of every name.
        let mut allowed_by: BTreeMap<&str, usize> = BTreeMap::new();
        let mut denied_by: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            if !rule.is_unconditional() {
                continue;
            }
            let first = if rule.action.permits() {
                &mut allowed_by
            } else {
                &mut denied_by
            };
            for name in &rule.names {
                first.entry(name).or_insert(i);
            }
        }
        let mut conflicts: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        for (name, allow) in &allowed_by {
            if let Some(deny) = denied_by.get(name) {
                conflicts
                    .entry((*allow, *deny))
                    .or_default()
                    .push((*name).to_owned());
            }
        }
        let default = scmp_action(
            "defaultAction",
            &self.default_action,
            self.default_errno_ret,
        )?;
        for ((allow, deny), names) in conflicts {
            let (allow_rule, deny_rule) = (&self.syscalls[allow], &self.syscalls[deny]);
            let (allowed_by, denied_by) = (place(allow, allow_rule), place(deny, deny_rule));
            let equals_default = |rule: &Rule| -> Result<bool, ProfileError> {
                Ok(scmp_action("", &rule.action, rule.errno_ret)? == default)
            };
            // runc skips a rule equal to the default action (libseccomp refuses it); otherwise
            // libseccomp keeps a syscall's first unconditional rule (seen with 2.5.4; see merge).
            let (applied, why) = if equals_default(deny_rule)? {
                (
                    &allowed_by,
                    "the deny rule equals the default action, which runc skips",
                )
            } else if equals_default(allow_rule)? {
                (
                    &denied_by,
                    "the allow rule equals the default action, which runc skips",
                )
            } else if allow < deny {
                (
                    &allowed_by,
                    "it comes first and libseccomp keeps a syscall's first rule",
                )
            } else {
                (
                    &denied_by,
                    "it comes first and libseccomp keeps a syscall's first rule",
                )
            };
            warnings.push(Warning::AllowedAndDenied {
                names,
                applied: applied.clone(),
                allowed_by,
                denied_by,
                why,
            });
        }
        warnings.extend(self.argument_warnings()?.into_iter().map(Warning::Argument));
        let absent = self.names_on_no_architecture()?;
        if !absent.is_empty() {
            warnings.push(Warning::OnNoArchitecture {
                names: absent.into_iter().collect(),
                architectures: self
                    .filter_architectures()?
                    .iter()
                    .map(|arch| arch.scmp_name())
                    .collect(),
            });
        }
        Ok(warnings)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Profile {
        Profile::from_json(text, Path::new("test.json")).unwrap()
    }

    #[test]
    fn check_suggests_aarch64_for_arm64() {
        let profile =
            parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_ARM64"]}"#);
        let err = profile.check().unwrap_err();
        assert!(
            matches!(err, ProfileError::UnknownArchitecture { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("SCMP_ARCH_AARCH64"), "{err}");

        let profile =
            parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_MIPS"]}"#);
        let err = profile.check().unwrap_err();
        assert!(
            err.to_string().contains("use one of SCMP_ARCH_X86_64"),
            "{err}"
        );

        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[]}]}"#,
        );
        assert!(matches!(
            profile.check(),
            Err(ProfileError::ArchitecturesAndArchMap)
        ));
    }

    #[test]
    fn check_rejects_notify_and_unknown_actions() {
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let err = profile.check().unwrap_err();
        assert!(matches!(err, ProfileError::Notify { .. }), "{err:?}");
        assert!(err.to_string().contains("syscalls[0] (read)"), "{err}");
        assert!(err.to_string().contains("needs a listener"), "{err}");

        let profile = parse(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#);
        assert!(matches!(profile.check(), Err(ProfileError::Notify { .. })));

        let profile = parse(r#"{"defaultAction":"SCMP_ACT_DENY"}"#);
        let err = profile.check().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("defaultAction: unknown action \"SCMP_ACT_DENY\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_actions_name_the_rule_and_list_the_known_ones() {
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                {"names":["mount","umount2","pivot_root","chroot"],"action":"SCMP_ACT_DENY"}]}"#,
        );
        assert_eq!(
            profile.check().unwrap_err().to_string(),
            "syscalls[1] (mount, umount2, pivot_root, …): unknown action \"SCMP_ACT_DENY\"; use \
             one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, \
             SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_TRACE, SCMP_ACT_TRAP"
        );
    }

    #[test]
    fn check_rejects_bad_conditions_flags_and_empty_rules() {
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW",
                "args":[{"index":0,"value":8,"op":"SCMP_CMP_EQUAL"}]}]}"#,
        );
        let err = profile.check().unwrap_err();
        assert!(
            matches!(err, ProfileError::UnknownOperator { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("SCMP_CMP_MASKED_EQ"), "{err}");

        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW",
                "args":[{"index":6,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(matches!(
            profile.check(),
            Err(ProfileError::ArgIndex { index: 6, .. })
        ));

        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(matches!(profile.check(), Err(ProfileError::NoNames { .. })));

        let profile =
            parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_FAST"]}"#);
        assert!(matches!(
            profile.check(),
            Err(ProfileError::UnknownFlag { .. })
        ));

        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
                "includes":{"caps":["CAP_SYS_ADMN"]}}]}"#,
        );
        assert!(matches!(
            profile.check(),
            Err(ProfileError::UnknownCapability { .. })
        ));

        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
                "includes":{"minKernel":"four"}}]}"#,
        );
        assert!(matches!(
            profile.check(),
            Err(ProfileError::MinKernel { .. })
        ));
    }

    #[test]
    fn check_lists_all_unknown_names_at_once() {
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["read","bogus_b","bogus_a"],"action":"SCMP_ACT_ALLOW"},
                {"names":["bogus_c","bogus_a"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        match profile.check() {
            Err(ProfileError::UnknownSyscalls(names)) => {
                assert_eq!(names, vec!["bogus_a", "bogus_b", "bogus_c"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel_version("3.12-1-amd64"), Some((3, 12)));
        assert_eq!(parse_kernel_version("5"), None);
        assert_eq!(parse_kernel_version("x.1"), None);
        assert!(super::super::host::kernel_version().is_some());
    }

    /// The action the compiled filter takes for `name` on the native architecture.
    fn compiled_action(profile: &Profile, name: &str) -> String {
        let mut file = tempfile::tempfile().unwrap();
        profile.compile().unwrap().export_pfc(&file).unwrap();
        let mut text = String::new();
        std::io::Seek::rewind(&mut file).unwrap();
        std::io::Read::read_to_string(&mut file, &mut text).unwrap();
        let nr = syscalls::number_of(Arch::native(), name).unwrap();
        let marker = format!("if ($syscall == {nr})\n");
        match text.find(&marker) {
            Some(at) => text[at + marker.len()..]
                .lines()
                .next()
                .unwrap()
                .trim()
                .to_owned(),
            None => "default".to_owned(),
        }
    }

    #[test]
    fn warns_about_names_both_allowed_and_denied_and_says_which_rule_runc_applies() {
        let allow = r#"{"names":["read","mount","ptrace"],"action":"SCMP_ACT_ALLOW"}"#;
        let deny = r#"{"names":["mount","ptrace","kill"],"action":"SCMP_ACT_ERRNO","errnoRet":38}"#;
        let profile = |rules: &str| {
            let profile = parse(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":{rules}}}"#
            ));
            profile.check().unwrap();
            profile
        };

        let allow_first = profile(&format!("[{allow},{deny}]"));
        let warnings = allow_first.warnings().unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            warnings[0].to_string(),
            "mount, ptrace: allowed by syscalls[0] (read, mount, ptrace) and denied by syscalls[1] \
             (mount, ptrace, kill); runc applies only syscalls[0] (read, mount, ptrace), because \
             it comes first and libseccomp keeps a syscall's first rule: remove them from the rule \
             that should not apply"
        );
        assert_eq!(compiled_action(&allow_first, "mount"), "action ALLOW;");

        let deny_first = profile(&format!("[{deny},{allow}]"));
        let Warning::AllowedAndDenied { applied, .. } = &deny_first.warnings().unwrap()[0] else {
            panic!("not the conflict warning");
        };
        assert!(applied.starts_with("syscalls[0] (mount"), "{applied}");
        assert_eq!(compiled_action(&deny_first, "mount"), "action ERRNO(38);");

        // A deny rule equal to the default action is skipped: the allow applies wherever it is.
        let default_deny = r#"{"names":["mount"],"action":"SCMP_ACT_ERRNO"}"#;
        let skipped = profile(&format!("[{default_deny},{allow}]"));
        let warning = skipped.warnings().unwrap()[0].to_string();
        assert!(
            warning.contains("runc applies only syscalls[1] (read, mount, ptrace), because the deny rule equals the default action"),
            "{warning}"
        );
        assert_eq!(compiled_action(&skipped, "mount"), "action ALLOW;");

        // Conditional rules and plain profiles: nothing to say.
        let conditional = r#"{"names":["mount"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}"#;
        assert!(
            profile(&format!("[{allow},{conditional}]"))
                .warnings()
                .unwrap()
                .is_empty()
        );
        assert!(
            profile(&format!("[{allow}]"))
                .warnings()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn warns_about_names_on_none_of_the_architectures() {
        if Arch::native() != Arch::X86_64 {
            return;
        }
        let with_arches = |arches: &str| {
            let profile = parse(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":[{arches}],
                    "syscalls":[{{"names":["read","socketcall","waitpid"],"action":"SCMP_ACT_ALLOW"}},
                      {{"names":["arm_fadvise64_64"],"action":"SCMP_ACT_ALLOW","includes":{{"arches":["arm","arm64"]}}}}]}}"#
            ));
            profile.check().unwrap();
            profile
        };
        // socketcall and waitpid are ia32 syscalls; the arm-only rule does not apply here at all.
        let x86_64 = with_arches(r#""SCMP_ARCH_X86_64""#);
        let absent: Vec<String> = x86_64
            .names_on_no_architecture()
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(absent, ["socketcall", "waitpid"]);
        assert_eq!(
            x86_64.warnings().unwrap()[0].to_string(),
            "socketcall, waitpid: exist on none of the profile's architectures (SCMP_ARCH_X86_64), \
             so runc adds no rule for them and they are not counted as allowed: remove them, or \
             list an architecture that has them"
        );
        // None listed means native only; with ia32 listed they exist.
        assert_eq!(with_arches("").names_on_no_architecture().unwrap().len(), 2);
        let family = with_arches(r#""SCMP_ARCH_X86_64","SCMP_ARCH_X86""#);
        assert!(family.warnings().unwrap().is_empty());

        // Docker 20.10's default profile allows recv and send, which no x86 table has.
        let docker = parse(include_str!(
            "../../tests/fixtures/docker-moby-v20.10.24-default.json"
        ));
        let absent: Vec<String> = docker
            .names_on_no_architecture()
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(absent, ["recv", "send"]);
    }
}
