//! The seccomp profile as a typed model: Docker's profile JSON (the OCI `LinuxSeccomp` object plus
//! Docker's `archMap`, per-rule `comment` and `includes`/`excludes`, design.md §6) as Rust types,
//! with an [`Action`] that knows whether it permits a call and which errno it returns. Around the
//! types, one file per step:
//!
//! - `parse.rs`: reading a file ([`load_checked`], [`Profile::load`], [`Profile::from_json`]) and
//!   [`ProfileError`], which names `FILE:LINE:COLUMN` (or the rule) and what to do next;
//! - `input.rs`: the forms a profile is read in ([`Profile::from_text`]): profile JSON or YAML, a
//!   SeccompProfile manifest, an OCI `config.json`;
//! - `validate.rs`: the checks runc and Docker apply ([`Profile::check`]);
//! - `compile.rs` and `host.rs`: a libseccomp filter with runc's semantics ([`Profile::compile`]);
//! - `args.rs`: argument rules from recorded values ([`Profile::restrict_arguments`]) and the
//!   recorded values a profile's conditions do not admit ([`Profile::values_outside`]);
//! - `minimal.rs`: the product's output ([`Profile::minimal`]) and its probe rule;
//! - [`merge`]: the union of profiles; [`compare`]: what one profile allows that another does not.
//!
//! It does not decide what a workload needs (the tracer and `record` do), does not load filters
//! (`exec` does, right before execve), renders nothing but the profile's own JSON, and names
//! syscalls only through [`crate::syscalls`]. Output is deterministic: sorted names, fixed key
//! order, no timestamps (design.md §10).

mod args;
pub mod compare;
mod compile;
mod host;
mod input;
pub mod merge;
mod minimal;
mod parse;
mod validate;

use std::{collections::BTreeSet, fmt};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use args::ValueOutside;
pub use input::{SPO_GROUP, is_profile_json};
pub use merge::merge_profiles;
pub use minimal::PROBE_SYSCALLS;
pub use parse::{ProfileError, load_checked, parse_checked, read_text};

/// EPERM, what ERRNO and TRACE return when a profile gives no errnoRet.
const EPERM: u32 = libc::EPERM as u32;

/// ENOSYS, the errno that makes callers fall back to an older syscall.
const ENOSYS: u32 = libc::ENOSYS as u32;

/// Docker's seccomp profile. Field order here is the key order of the written JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<String>,
    /// Docker extra: per native architecture, the architectures to list (used when
    /// `architectures` is empty; Docker refuses a profile with both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_map: Option<Vec<ArchMapEntry>>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub syscalls: Vec<Rule>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sub_architectures: Vec<String>,
}

/// One entry of `syscalls`. Reading also accepts Docker's old singular `name`, folded into `names`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "parse::RawRule")]
pub struct Rule {
    pub names: Vec<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCond>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub includes: Option<Filter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excludes: Option<Filter>,
}

/// Docker extra: when a rule applies (`includes`) or does not (`excludes`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    /// Docker's architecture spellings (`amd64`, `arm64`, `x86`, `x32`, `arm`, `s390x`, …).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// A condition on one syscall argument. For [`Op::MaskedEqual`], `value` is the mask and
/// `valueTwo` the value the masked argument must equal (libseccomp's datum_a/datum_b).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgCond {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: Op,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// Docker's own profiles write `null` for empty lists (`"args": null`); Go reads that as empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// What seccomp does with a call: the action names runc knows (libcontainer/seccomp/config.go).
/// Any other string is kept as [`Action::Unknown`], so that [`Profile::check`] can name the rule
/// that carries it and a profile is written back exactly as it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    /// Fail the call with the rule's errnoRet (see [`Action::effective_errno`]). The default, as
    /// it is what every profile this tool writes answers an unlisted call with.
    #[default]
    Errno,
    /// runc's name for [`Action::KillThread`]; kept apart so that it is written back as read.
    Kill,
    KillProcess,
    KillThread,
    Log,
    Trace,
    Trap,
    Notify,
    Unknown(String),
}

impl Action {
    /// Every action runc knows, in the order error messages list them.
    pub const KNOWN: [Action; 9] = [
        Action::Allow,
        Action::Errno,
        Action::Kill,
        Action::KillProcess,
        Action::KillThread,
        Action::Log,
        Action::Trace,
        Action::Trap,
        Action::Notify,
    ];

    /// The name a profile writes, e.g. `SCMP_ACT_ERRNO`.
    pub fn as_str(&self) -> &str {
        match self {
            Action::Allow => "SCMP_ACT_ALLOW",
            Action::Errno => "SCMP_ACT_ERRNO",
            Action::Kill => "SCMP_ACT_KILL",
            Action::KillProcess => "SCMP_ACT_KILL_PROCESS",
            Action::KillThread => "SCMP_ACT_KILL_THREAD",
            Action::Log => "SCMP_ACT_LOG",
            Action::Trace => "SCMP_ACT_TRACE",
            Action::Trap => "SCMP_ACT_TRAP",
            Action::Notify => "SCMP_ACT_NOTIFY",
            Action::Unknown(name) => name,
        }
    }

    /// The action a profile's string names; anything else is [`Action::Unknown`].
    pub fn parse(name: &str) -> Action {
        Action::KNOWN
            .into_iter()
            .find(|known| known.as_str() == name)
            .unwrap_or_else(|| Action::Unknown(name.to_owned()))
    }

    /// Whether the call runs: ALLOW, and LOG (which allows and logs).
    pub fn permits(&self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }

    /// The errno a call gets under this action with `errno_ret` as written: runc's `getAction`
    /// returns errnoRet for ERRNO and TRACE, and EPERM when there is none. `None` for actions
    /// that return no errno.
    pub fn effective_errno(&self, errno_ret: Option<u32>) -> Option<u32> {
        matches!(self, Action::Errno | Action::Trace).then(|| errno_ret.unwrap_or(EPERM))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with a profile's spelling, e.g. `rule.action == "SCMP_ACT_ALLOW"` in tests.
impl PartialEq<&str> for Action {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|name| Action::parse(&name))
    }
}

/// How an argument is compared (libseccomp's `scmp_compare`). Unknown strings are kept, as for
/// [`Action`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Op {
    NotEqual,
    Less,
    LessOrEqual,
    #[default]
    Equal,
    GreaterEqual,
    Greater,
    MaskedEqual,
    Unknown(String),
}

impl Op {
    /// Every operator runc knows, in the order error messages list them.
    pub const KNOWN: [Op; 7] = [
        Op::NotEqual,
        Op::Less,
        Op::LessOrEqual,
        Op::Equal,
        Op::GreaterEqual,
        Op::Greater,
        Op::MaskedEqual,
    ];

    /// The name a profile writes, e.g. `SCMP_CMP_EQ`.
    pub fn as_str(&self) -> &str {
        match self {
            Op::NotEqual => "SCMP_CMP_NE",
            Op::Less => "SCMP_CMP_LT",
            Op::LessOrEqual => "SCMP_CMP_LE",
            Op::Equal => "SCMP_CMP_EQ",
            Op::GreaterEqual => "SCMP_CMP_GE",
            Op::Greater => "SCMP_CMP_GT",
            Op::MaskedEqual => "SCMP_CMP_MASKED_EQ",
            Op::Unknown(name) => name,
        }
    }

    pub fn parse(name: &str) -> Op {
        Op::KNOWN
            .into_iter()
            .find(|known| known.as_str() == name)
            .unwrap_or_else(|| Op::Unknown(name.to_owned()))
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|name| Op::parse(&name))
    }
}

impl Rule {
    /// No argument conditions and no (or empty) includes/excludes: the rule applies to every call
    /// of its names, on every host.
    pub fn is_unconditional(&self) -> bool {
        let empty = |filter: &Option<Filter>| filter.as_ref().is_none_or(Filter::is_empty);
        self.args.is_empty() && empty(&self.includes) && empty(&self.excludes)
    }

    /// The errno this rule's calls get ([`Action::effective_errno`]).
    pub fn effective_errno(&self) -> Option<u32> {
        self.action.effective_errno(self.errno_ret)
    }
}

impl Profile {
    /// Pretty JSON (2-space indent) with a trailing newline; equal profiles give equal bytes.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a Profile holds only strings, numbers and lists, which always serialize");
        text.push('\n');
        text
    }

    /// The errno an unlisted call gets ([`Action::effective_errno`] of the default action).
    pub fn default_errno(&self) -> Option<u32> {
        self.default_action.effective_errno(self.default_errno_ret)
    }

    /// Names allowed unconditionally: rules whose action is SCMP_ACT_ALLOW with no argument
    /// conditions and no (or empty) includes/excludes.
    pub fn allowed_names(&self) -> BTreeSet<String> {
        self.syscalls
            .iter()
            .filter(|rule| rule.action == Action::Allow && rule.is_unconditional())
            .flat_map(|rule| rule.names.iter().cloned())
            .collect()
    }

    /// Names answered with ENOSYS unconditionally (so that callers fall back), e.g. the probe
    /// syscalls [`Profile::minimal`] did not see.
    pub fn enosys_names(&self) -> BTreeSet<String> {
        self.syscalls
            .iter()
            .filter(|rule| {
                rule.action == Action::Errno
                    && rule.effective_errno() == Some(ENOSYS)
                    && rule.is_unconditional()
            })
            .flat_map(|rule| rule.names.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn action_effective_errno() {
        // ERRNO and TRACE without errnoRet mean EPERM, as runc applies them.
        assert_eq!(Action::Errno.effective_errno(None), Some(1));
        assert_eq!(Action::Errno.effective_errno(Some(38)), Some(38));
        assert_eq!(Action::Trace.effective_errno(None), Some(1));
        assert_eq!(Action::Trace.effective_errno(Some(13)), Some(13));
        assert_eq!(Action::Errno.effective_errno(Some(0)), Some(0));
        // Other actions return no errno, whatever errnoRet says.
        for action in [
            Action::Allow,
            Action::Kill,
            Action::KillProcess,
            Action::KillThread,
            Action::Log,
            Action::Trap,
            Action::Notify,
            Action::Unknown("SCMP_ACT_DENY".to_owned()),
        ] {
            assert_eq!(action.effective_errno(Some(38)), None, "{action}");
            assert_eq!(action.effective_errno(None), None, "{action}");
        }
    }

    #[test]
    fn action_permits() {
        let known = Action::KNOWN;
        let permitting: Vec<&str> = known
            .iter()
            .filter(|action| action.permits())
            .map(Action::as_str)
            .collect();
        assert_eq!(permitting, ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]);
        assert!(!Action::Unknown("SCMP_ACT_ALLOW_ALL".to_owned()).permits());
    }

    #[test]
    fn actions_and_operators_round_trip_as_written() {
        for action in Action::KNOWN {
            assert_eq!(Action::parse(action.as_str()), action);
        }
        assert_eq!(
            Action::parse("SCMP_ACT_DENY"),
            Action::Unknown("SCMP_ACT_DENY".to_owned())
        );
        assert_eq!(Action::parse("SCMP_ACT_DENY").as_str(), "SCMP_ACT_DENY");
        for op in Op::KNOWN {
            assert_eq!(Op::parse(op.as_str()), op);
        }
        // Unknown strings survive a read and a write unchanged.
        let text = r#"{"defaultAction":"SCMP_ACT_DENY","syscalls":[{"names":["read"],"action":"bogus","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQUAL"}]}]}"#;
        let profile = Profile::from_json(text, Path::new("u.json")).unwrap();
        assert_eq!(profile.syscalls[0].action, Action::Unknown("bogus".into()));
        let again: serde_json::Value = serde_json::from_str(&profile.to_json()).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
    }

    #[test]
    fn unconditional_rules_and_enosys_names() {
        let profile = Profile::from_json(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{},"excludes":{}},
                {"names":["clone3","openat2"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                {"names":["close_range"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"excludes":{"caps":["CAP_SYS_ADMIN"]}},
                {"names":["mount"],"action":"SCMP_ACT_ERRNO"},
                {"names":["ptrace"],"action":"SCMP_ACT_TRACE","errnoRet":38}]}"#,
            Path::new("t.json"),
        )
        .unwrap();
        assert!(profile.syscalls[0].is_unconditional());
        assert!(!profile.syscalls[2].is_unconditional());
        let names: Vec<String> = profile.enosys_names().into_iter().collect();
        assert_eq!(names, ["clone3", "openat2"]);
        assert_eq!(profile.default_errno(), Some(1));
    }
}
