//! The product's output: the minimal profile for a set of syscall names ([`Profile::minimal`]),
//! and its "not seen while recording" rule, which answers the probe-with-fallback syscalls
//! ([`PROBE_SYSCALLS`]) with ENOSYS (design.md §3). That rule is recognised by what it does
//! ([`Rule::is_probe_rule`]), never by its comment, so that merge treats it alike whoever wrote it.
//!
//! It does not decide which names a workload needs (the tracer and `record` do).

use std::collections::BTreeSet;

use super::{Action, ENOSYS, EPERM, Profile, ProfileError, Rule};
use crate::syscalls::{self, Arch};

/// Syscalls that libc and runtimes probe and abandon on ENOSYS: glibc ≥ 2.34 tries `clone3` and
/// falls back to `clone` only on ENOSYS; `close_range`, `openat2` and `faccessat2` have the same
/// shape. Sorted, because they are written in this order.
pub const PROBE_SYSCALLS: [&str; 4] = ["clone3", "close_range", "faccessat2", "openat2"];

/// The comment on the generated ENOSYS rule; the profile is read by people reviewing a diff.
const PROBE_COMMENT: &str = "not seen while recording; ENOSYS makes callers fall back (glibc \
    clone3 to clone): runc answers ENOSYS only above the highest syscall number in the profile";

impl Rule {
    /// Whether this is a "not seen while recording" rule: unconditional ERRNO with ENOSYS, naming
    /// only [`PROBE_SYSCALLS`]. A name in it that some profile allows was seen after all, so
    /// merge drops it from the rule rather than warning about a conflict.
    pub fn is_probe_rule(&self) -> bool {
        self.action == Action::Errno
            && self.effective_errno() == Some(ENOSYS)
            && self.is_unconditional()
            && !self.names.is_empty()
            && self
                .names
                .iter()
                .all(|name| PROBE_SYSCALLS.contains(&name.as_str()))
    }
}

impl Profile {
    /// The product's output: deny by default with EPERM (errno 1), allow exactly `allowed`, and
    /// answer ENOSYS for the probe-with-fallback syscalls that were not seen (design.md §3).
    ///
    /// Every name must be known to libseccomp (the caller reports unknown ones separately): runc
    /// would silently drop an unknown name, so it is never written.
    pub fn minimal(allowed: &BTreeSet<String>, arches: &[Arch]) -> Result<Profile, ProfileError> {
        let unknown: Vec<String> = allowed
            .iter()
            .filter(|name| !syscalls::is_known_name(name))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ProfileError::UnknownSyscalls(unknown));
        }
        let mut architectures: Vec<String> = Vec::with_capacity(arches.len());
        for arch in arches {
            let name = arch.scmp_name().to_owned();
            if !architectures.contains(&name) {
                architectures.push(name);
            }
        }
        let mut rules = Vec::with_capacity(2);
        if !allowed.is_empty() {
            rules.push(Rule {
                names: allowed.iter().cloned().collect(),
                action: Action::Allow,
                ..Rule::default()
            });
        }
        // A probe libseccomp does not know could not be written anyway (runc would drop it).
        let probes: Vec<String> = PROBE_SYSCALLS
            .iter()
            .filter(|name| !allowed.contains(**name) && syscalls::is_known_name(name))
            .map(|name| (*name).to_owned())
            .collect();
        if !probes.is_empty() {
            rules.push(Rule {
                names: probes,
                action: Action::Errno,
                errno_ret: Some(ENOSYS),
                comment: Some(PROBE_COMMENT.to_owned()),
                ..Rule::default()
            });
        }
        Ok(Profile {
            default_action: Action::Errno,
            default_errno_ret: Some(EPERM),
            architectures,
            syscalls: rules,
            ..Profile::default()
        })
    }
}

impl Profile {
    /// Complain mode (`record --complain`, design.md §15): the same rules with `defaultAction
    /// SCMP_ACT_LOG`, for a first rollout that logs what the recording missed instead of refusing
    /// it. Allowed calls stay unlogged; the ENOSYS probe rules stay, because a probe answered by
    /// LOG would run the newer syscall the recording never saw instead of the fallback it did.
    pub fn complain(mut self) -> Profile {
        self.default_action = Action::Log;
        self.default_errno_ret = None;
        self
    }

    /// Whether the profile refuses nothing by default but logs (complain mode).
    pub fn is_complain(&self) -> bool {
        self.default_action == Action::Log
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn minimal_exact_json() {
        let profile =
            Profile::minimal(&set(&["read", "execve", "clone3"]), &[Arch::X86_64]).unwrap();
        let expected = r#"{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "architectures": [
    "SCMP_ARCH_X86_64"
  ],
  "syscalls": [
    {
      "names": [
        "clone3",
        "execve",
        "read"
      ],
      "action": "SCMP_ACT_ALLOW"
    },
    {
      "names": [
        "close_range",
        "faccessat2",
        "openat2"
      ],
      "action": "SCMP_ACT_ERRNO",
      "errnoRet": 38,
      "comment": "not seen while recording; ENOSYS makes callers fall back (glibc clone3 to clone): runc answers ENOSYS only above the highest syscall number in the profile"
    }
  ]
}
"#;
        assert_eq!(profile.to_json(), expected);
    }

    #[test]
    fn minimal_sorted_and_probe_rule() {
        let allowed = set(&["write", "read", "exit_group", "read"]);
        let profile = Profile::minimal(&allowed, Arch::native_family()).unwrap();
        assert_eq!(
            profile.syscalls[0].names,
            vec!["exit_group", "read", "write"]
        );
        assert_eq!(profile.syscalls[1].names, PROBE_SYSCALLS.to_vec());
        assert_eq!(profile.syscalls[1].errno_ret, Some(38));
        let arch_names: Vec<&str> = Arch::native_family()
            .iter()
            .map(|a| a.scmp_name())
            .collect();
        assert_eq!(profile.architectures, arch_names);
        assert_eq!(profile.allowed_names(), allowed);

        let with_clone3 = Profile::minimal(&set(&["clone3", "read"]), &[Arch::X86_64]).unwrap();
        assert!(!with_clone3.syscalls[1].names.contains(&"clone3".to_owned()));

        let all = Profile::minimal(&set(&PROBE_SYSCALLS), &[Arch::X86_64]).unwrap();
        assert_eq!(
            all.syscalls.len(),
            1,
            "no ENOSYS rule when every probe was allowed"
        );

        let empty = Profile::minimal(&BTreeSet::new(), &[]).unwrap();
        assert_eq!(empty.syscalls.len(), 1);
        assert_eq!(empty.syscalls[0].action, "SCMP_ACT_ERRNO");
        assert!(empty.architectures.is_empty());
        assert!(!empty.to_json().contains("architectures"));
        empty.check().unwrap();
    }

    #[test]
    fn minimal_is_deterministic() {
        let a = Profile::minimal(&set(&["write", "read", "mmap"]), Arch::native_family()).unwrap();
        let b = Profile::minimal(&set(&["mmap", "write", "read"]), Arch::native_family()).unwrap();
        assert_eq!(a.to_json(), b.to_json());
        assert_eq!(a.to_json(), a.clone().to_json());
    }

    #[test]
    fn minimal_rejects_unknown_names() {
        let err = Profile::minimal(&set(&["read", "not_a_syscall", "bogus2"]), &[Arch::X86_64])
            .unwrap_err();
        match &err {
            ProfileError::UnknownSyscalls(names) => assert_eq!(names, &["bogus2", "not_a_syscall"]),
            other => panic!("unexpected error {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("\"bogus2\", \"not_a_syscall\""),
            "{message}"
        );
        assert!(message.contains("runc silently ignores"), "{message}");
    }

    #[test]
    fn probe_rule_is_recognised_by_what_it_does() {
        let minimal = Profile::minimal(&set(&["read"]), &[Arch::X86_64]).unwrap();
        assert!(minimal.syscalls[1].is_probe_rule());
        assert!(!minimal.syscalls[0].is_probe_rule(), "the allow rule");

        let rule = |json: &str| -> Rule { serde_json::from_str(json).unwrap() };
        // Any comment, or none: the same rule.
        assert!(
            rule(r#"{"names":["clone3","openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":38}"#)
                .is_probe_rule()
        );
        assert!(rule(r#"{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"comment":"my own words"}"#).is_probe_rule());
        // Another errno, another action, a condition or a name outside PROBE_SYSCALLS: not.
        assert!(
            !rule(r#"{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":1}"#).is_probe_rule()
        );
        assert!(!rule(r#"{"names":["clone3"],"action":"SCMP_ACT_ERRNO"}"#).is_probe_rule());
        assert!(
            !rule(r#"{"names":["clone3"],"action":"SCMP_ACT_TRACE","errnoRet":38}"#)
                .is_probe_rule()
        );
        assert!(!rule(r#"{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"excludes":{"caps":["CAP_SYS_ADMIN"]}}"#).is_probe_rule());
        assert!(!rule(r#"{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}"#).is_probe_rule());
        assert!(
            !rule(r#"{"names":["clone3","mount"],"action":"SCMP_ACT_ERRNO","errnoRet":38}"#)
                .is_probe_rule()
        );
        assert!(!rule(r#"{"names":[],"action":"SCMP_ACT_ERRNO","errnoRet":38}"#).is_probe_rule());

        // Written and read back, the generated rule is still recognised.
        let again = Profile::from_json(&minimal.to_json(), Path::new("m.json")).unwrap();
        assert!(again.syscalls[1].is_probe_rule());
    }

    #[test]
    fn complain_keeps_every_rule_and_logs_by_default() {
        let strict = Profile::minimal(&set(&["read", "execve"]), &[Arch::X86_64]).unwrap();
        let complain = strict.clone().complain();
        assert!(complain.is_complain() && !strict.is_complain());
        assert_eq!(complain.default_action, Action::Log);
        assert_eq!(complain.default_errno_ret, None);
        assert_eq!(complain.syscalls, strict.syscalls);
        assert!(
            complain
                .syscalls
                .iter()
                .any(|r| r.action == Action::Errno && r.errno_ret == Some(ENOSYS))
        );
        // What runc and libseccomp are given: it compiles and passes the same checks.
        complain.compile().unwrap();
        let json = complain.to_json();
        assert!(
            json.contains("\"defaultAction\": \"SCMP_ACT_LOG\""),
            "{json}"
        );
        assert!(!json.contains("defaultErrnoRet"), "{json}");
        assert_eq!(
            Profile::from_json(&json, Path::new("complain.json")).unwrap(),
            complain
        );
    }
}
