//! Semantic validation as runc and Docker see a profile ([`Profile::check`]), and the
//! architectures runc is given ([`Profile::effective_architectures`]).
//!
//! It refuses what runc or Docker would refuse, or would silently apply differently from what
//! the profile says (an unknown syscall name, an errnoRet above 16 bits). It does not build the
//! filter (compile.rs does, with the same conversions, so both agree on what is valid).

use std::collections::BTreeSet;

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
}
