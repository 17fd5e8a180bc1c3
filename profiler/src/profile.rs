//! The seccomp profile: Docker's profile JSON (the OCI `LinuxSeccomp` object plus Docker's
//! `archMap`, per-rule `comment` and `includes`/`excludes`, DESIGN fact 6) as Rust types; the
//! builder of the product's output ([`Profile::minimal`]); reading and writing the JSON; semantic
//! validation as runc and Docker see a profile ([`Profile::check`]); and compilation into a
//! libseccomp filter with runc's semantics ([`Profile::compile`]), including an emulation of runc's
//! `-ENOSYS` stub.
//!
//! It does not decide what a workload needs (the tracer and `record` do), does not load filters
//! (`exec` does, right before execve), and names syscalls only through [`crate::syscalls`].
//! Output is deterministic: sorted names, fixed key order, no timestamps (DESIGN fact 10).

use std::{
    collections::BTreeSet,
    ffi::{CStr, OsString},
    fs::{self, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    error::SeccompError,
};
use serde::{Deserialize, Deserializer, Serialize};

use crate::syscalls::{self, Arch};

/// ENOSYS, the errno that makes callers fall back to an older syscall.
const ENOSYS: u32 = libc::ENOSYS as u32;

/// Syscalls that libc and runtimes probe and abandon on ENOSYS: glibc ≥ 2.34 tries `clone3` and
/// falls back to `clone` only on ENOSYS; `close_range`, `openat2` and `faccessat2` have the same
/// shape. Sorted, because they are written in this order.
pub const PROBE_SYSCALLS: [&str; 4] = ["clone3", "close_range", "faccessat2", "openat2"];

/// The comment on the generated ENOSYS rule; the profile is read by people reviewing a diff.
const PROBE_COMMENT: &str = "not seen while recording; ENOSYS makes callers fall back (glibc \
    clone3 to clone): runc answers ENOSYS only above the highest syscall number in the profile";

/// The actions runc knows (libcontainer/seccomp/config.go), in the order error messages list them.
const ACTIONS: [&str; 9] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_NOTIFY",
];

const OPERATORS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

const FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

const CAP_SYS_ADMIN: u32 = 21;

/// Docker's seccomp profile. Field order here is the key order of the written JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
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
#[serde(rename_all = "camelCase", try_from = "RawRule")]
pub struct Rule {
    pub names: Vec<String>,
    pub action: String,
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

/// A condition on one syscall argument. For `SCMP_CMP_MASKED_EQ`, `value` is the mask and
/// `valueTwo` the value the masked argument must equal (libseccomp's datum_a/datum_b).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgCond {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: String,
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

/// The rule as written, before `name` is folded into `names`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default, deserialize_with = "null_as_default")]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    args: Vec<ArgCond>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

impl TryFrom<RawRule> for Rule {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<Self, Self::Error> {
        let mut names = raw.names;
        // moby's setupSeccomp ignores an empty `name` and refuses `name` together with `names`.
        match raw.name.filter(|name| !name.is_empty()) {
            Some(name) if !names.is_empty() => {
                return Err(format!(
                    "rule sets both `name` ({name:?}) and `names`; Docker refuses that: move the \
                     name into `names`"
                ));
            }
            Some(name) => names.push(name),
            None => {}
        }
        Ok(Rule {
            names,
            action: raw.action,
            errno_ret: raw.errno_ret,
            args: raw.args,
            comment: raw.comment,
            includes: raw.includes,
            excludes: raw.excludes,
        })
    }
}

/// Everything that can be wrong with a profile or with turning it into a filter.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "{}: no such file; pass the path of a seccomp profile (Docker/OCI JSON)",
        .path.display()
    )]
    NotFound { path: PathBuf },
    #[error("{}: is a directory; pass the profile file itself", .path.display())]
    IsDirectory { path: PathBuf },
    #[error("{}: cannot read: {err}; check the path and its permissions", .path.display())]
    Read { path: PathBuf, err: io::Error },
    #[error("{}: is not UTF-8 text; a profile is JSON, pass the right file", .path.display())]
    NotUtf8 { path: PathBuf },
    #[error(
        "{}: file is empty; write a profile into it (e.g. `seccomp-profiler record -o FILE`) or \
         pass another file", .path.display()
    )]
    Empty { path: PathBuf },
    #[error(
        "{}:{line}:{column}: malformed JSON: {message}; fix the JSON at that position",
        .path.display()
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}:{line}:{column}: not a seccomp profile: {message}; follow Docker's profile format \
         (defaultAction, architectures, syscalls: [{{names, action, args}}])", .path.display()
    )]
    Schema {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "unknown syscall names {}: libseccomp {} does not know them, and runc silently ignores \
         such names, so the workload would get the default action for them; fix their spelling or \
         remove them (or use a libseccomp that knows them)",
        quoted_list(.0), libseccomp_version()
    )]
    UnknownSyscalls(Vec<String>),
    #[error("{place}: unknown action {action:?}; use one of {}", ACTIONS[..8].join(", "))]
    UnknownAction { place: String, action: String },
    #[error(
        "{place}: SCMP_ACT_NOTIFY needs a listener (a seccomp agent at listenerPath); not \
         supported by exec/validate: use another action"
    )]
    Notify { place: String },
    #[error(
        "{place}: errnoRet {value} does not fit the 16 bits a seccomp return carries; use an \
         errno below 4096"
    )]
    ErrnoRet { place: String, value: u32 },
    #[error("{place}: unknown architecture {name:?}; {hint}")]
    UnknownArchitecture {
        place: String,
        name: String,
        hint: String,
    },
    #[error("both `architectures` and `archMap` are set; Docker refuses that: keep only one")]
    ArchitecturesAndArchMap,
    #[error("{place}: unknown operator {op:?}; use one of {}", OPERATORS.join(", "))]
    UnknownOperator { place: String, op: String },
    #[error(
        "{place}: argument index {index} is out of range; a syscall has 6 arguments, index 0 to 5"
    )]
    ArgIndex { place: String, index: u32 },
    #[error("{place}: rule names no syscall; add `names` or remove the rule")]
    NoNames { place: String },
    #[error("unknown flag {flag:?}; use one of {}", FLAGS.join(", "))]
    UnknownFlag { flag: String },
    #[error(
        "{place}: unknown capability {cap:?}; use a name like CAP_SYS_ADMIN (see capabilities(7))"
    )]
    UnknownCapability { place: String, cap: String },
    #[error(
        "{place}: minKernel {value:?} is not a kernel version; write MAJOR.MINOR, e.g. \"4.8\""
    )]
    MinKernel { place: String, value: String },
    #[error(
        "cannot {what}: {err}; it is needed to evaluate the profile's includes/excludes as \
         Docker does"
    )]
    Host { what: &'static str, err: io::Error },
    #[error("libseccomp could not {what}: {err}; check that this kernel and libseccomp support it")]
    Libseccomp { what: String, err: SeccompError },
}

impl crate::exit::Coded for ProfileError {
    fn exit_code(&self) -> i32 {
        crate::exit::INPUT
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "(unknown version)".to_owned(),
    }
}

fn lib_err(what: impl Into<String>) -> impl FnOnce(SeccompError) -> ProfileError {
    let what = what.into();
    move |err| ProfileError::Libseccomp { what, err }
}

/// How a rule is named in messages: its JSON position and first names.
fn place(index: usize, rule: &Rule) -> String {
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

/// What the running process and kernel look like, for Docker's `includes`/`excludes` and for
/// runc's no-new-privileges choice.
#[derive(Clone, Copy, Debug)]
struct Host {
    arch: Arch,
    /// The effective capability set, bit n = capability n.
    caps: u64,
    /// (major, minor) of the running kernel, as Docker's `kernelGreaterEqualThan` compares it.
    kernel: Option<(u32, u32)>,
}

impl Host {
    fn current() -> Result<Host, ProfileError> {
        Ok(Host {
            arch: Arch::native(),
            caps: effective_caps()?,
            kernel: kernel_version(),
        })
    }

    fn has_cap(&self, bit: u32) -> bool {
        bit < 64 && self.caps & (1 << bit) != 0
    }
}

/// The calling thread's effective capabilities, from capget(2).
fn effective_caps() -> Result<u64, ProfileError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with a v3 header writes exactly two `Data` structs, which `data` holds.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(ProfileError::Host {
            what: "read this process's capabilities (capget)",
            err: io::Error::last_os_error(),
        });
    }
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

/// The running kernel's (major, minor), from uname(2)'s release.
fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: utsname is plain old data; uname fills it in.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates every utsname field.
    let release = unsafe { CStr::from_ptr(uts.release.as_ptr()) };
    parse_kernel_version(&release.to_string_lossy())
}

/// Parses `MAJOR.MINOR` at the start of `text`, ignoring what follows (`6.18.0-1-amd64`), the way
/// moby's `fmt.Sscanf(release, "%d.%d", …)` does.
fn parse_kernel_version(text: &str) -> Option<(u32, u32)> {
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

/// runc's `getAction`: `SCMP_ACT_KILL` is KILL_THREAD; ERRNO and TRACE return `errnoRet`, or
/// EPERM without one.
fn parse_action(
    place: &str,
    action: &str,
    errno_ret: Option<u32>,
) -> Result<ScmpAction, ProfileError> {
    let ret = match errno_ret {
        // runc casts errnoRet to int16; anything above 16 bits would silently change meaning.
        Some(value) if value > u32::from(u16::MAX) => {
            return Err(ProfileError::ErrnoRet {
                place: place.to_owned(),
                value,
            });
        }
        Some(value) => value,
        None => libc::EPERM as u32,
    };
    Ok(match action {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(ret as i32),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(ret as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(ProfileError::Notify {
                place: place.to_owned(),
            });
        }
        _ => {
            return Err(ProfileError::UnknownAction {
                place: place.to_owned(),
                action: action.to_owned(),
            });
        }
    })
}

/// A rule's conditions, and whether an argument index repeats (then runc adds each condition as
/// its own rule, because libseccomp refuses two conditions on one argument with EINVAL).
fn parse_conditions(
    place: &str,
    args: &[ArgCond],
) -> Result<(Vec<ScmpArgCompare>, bool), ProfileError> {
    let mut seen = [false; 6];
    let mut repeated = false;
    let mut conditions = Vec::with_capacity(args.len());
    for arg in args {
        let op = match arg.op.as_str() {
            "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
            "SCMP_CMP_LT" => ScmpCompareOp::Less,
            "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
            "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
            "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
            "SCMP_CMP_GT" => ScmpCompareOp::Greater,
            // libseccomp-golang's MakeCondition(index, op, value, valueTwo) passes value as
            // datum_a, which libseccomp takes as the mask for MASKED_EQ.
            "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(arg.value),
            other => {
                return Err(ProfileError::UnknownOperator {
                    place: place.to_owned(),
                    op: other.to_owned(),
                });
            }
        };
        let slot = seen
            .get_mut(arg.index as usize)
            .ok_or_else(|| ProfileError::ArgIndex {
                place: place.to_owned(),
                index: arg.index,
            })?;
        repeated |= *slot;
        *slot = true;
        let datum = if matches!(op, ScmpCompareOp::MaskedEqual(_)) {
            arg.value_two
        } else {
            arg.value
        };
        conditions.push(ScmpArgCompare::new(arg.index, op, datum));
    }
    Ok((conditions, repeated))
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

fn cap_bit(place: &str, cap: &str) -> Result<u32, ProfileError> {
    crate::capabilities::NAMES
        .iter()
        .position(|known| *known == cap)
        .map(|bit| bit as u32)
        .ok_or_else(|| ProfileError::UnknownCapability {
            place: place.to_owned(),
            cap: cap.to_owned(),
        })
}

fn min_kernel(place: &str, value: &str) -> Result<(u32, u32), ProfileError> {
    parse_kernel_version(value).ok_or_else(|| ProfileError::MinKernel {
        place: place.to_owned(),
        value: value.to_owned(),
    })
}

/// Whether Docker keeps a rule on this host (moby profiles/seccomp/seccomp_linux.go,
/// `setupSeccomp`): excludes first, then includes; every `includes.caps` entry must be held.
/// Docker compares caps with the container's bounding set; for a plain command the process's
/// effective set is what the command will hold.
fn rule_applies(place: &str, rule: &Rule, host: &Host) -> Result<bool, ProfileError> {
    let native = host.arch.docker_name();
    let kernel_at_least = |value: &str| -> Result<bool, ProfileError> {
        let wanted = min_kernel(place, value)?;
        let running = host.kernel.ok_or_else(|| ProfileError::Host {
            what: "read the running kernel's version (uname)",
            err: io::Error::other("release is not MAJOR.MINOR…"),
        })?;
        Ok(running >= wanted)
    };
    if let Some(excludes) = &rule.excludes {
        if excludes.arches.iter().any(|arch| arch == native) {
            return Ok(false);
        }
        for cap in &excludes.caps {
            if host.has_cap(cap_bit(place, cap)?) {
                return Ok(false);
            }
        }
        if let Some(value) = &excludes.min_kernel
            && kernel_at_least(value)?
        {
            return Ok(false);
        }
    }
    if let Some(includes) = &rule.includes {
        if !includes.arches.is_empty() && !includes.arches.iter().any(|arch| arch == native) {
            return Ok(false);
        }
        for cap in &includes.caps {
            if !host.has_cap(cap_bit(place, cap)?) {
                return Ok(false);
            }
        }
        if let Some(value) = &includes.min_kernel
            && !kernel_at_least(value)?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One (name, action, conditions) as runc's specconv expands a rule: one entry per name.
struct Entry<'a> {
    place: String,
    name: &'a str,
    action: ScmpAction,
    conditions: Vec<ScmpArgCompare>,
    split: bool,
}

/// Filter attributes that must be equal on every per-architecture context (seccomp_merge
/// requires the same default action, NNP and TSYNC).
struct Attributes {
    default: ScmpAction,
    no_new_privs: bool,
    tsync: bool,
    log: bool,
    spec_allow: bool,
    optimize: bool,
}

/// Syscall numbers up to this one are answered ENOSYS on the native architecture even when
/// libseccomp cannot name them. The x86_64 and asm-generic (aarch64) tables grow contiguously and
/// end near 470 in Linux 6.18; on x86_64, 512 and up are x32's slots.
const NATIVE_ENOSYS_CEILING: u32 = 511;

impl Profile {
    /// The product's output: deny by default with EPERM (errno 1), allow exactly `allowed`, and
    /// answer ENOSYS for the probe-with-fallback syscalls that were not seen (DESIGN fact 3).
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
                action: "SCMP_ACT_ALLOW".to_owned(),
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
                action: "SCMP_ACT_ERRNO".to_owned(),
                errno_ret: Some(ENOSYS),
                comment: Some(PROBE_COMMENT.to_owned()),
                ..Rule::default()
            });
        }
        Ok(Profile {
            default_action: "SCMP_ACT_ERRNO".to_owned(),
            default_errno_ret: Some(libc::EPERM as u32),
            architectures,
            syscalls: rules,
            ..Profile::default()
        })
    }

    /// Pretty JSON (2-space indent) with a trailing newline; equal profiles give equal bytes.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a Profile holds only strings, numbers and lists, which always serialize");
        text.push('\n');
        text
    }

    /// Parses a profile; `origin` names it in errors (`FILE:LINE:COLUMN: …`).
    pub fn from_json(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
        if text.trim().is_empty() {
            return Err(ProfileError::Empty {
                path: origin.to_owned(),
            });
        }
        serde_json::from_str(text).map_err(|err| {
            let (line, column) = (err.line(), err.column());
            let full = err.to_string();
            // serde_json appends the position, which the message already leads with.
            let suffix = format!(" at line {line} column {column}");
            let mut message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
            if !text.trim_start().starts_with('{') {
                // serde's "expected struct Profile with 8 elements" for `[]` helps nobody.
                message = "the top level must be a JSON object".to_owned();
            }
            let path = origin.to_owned();
            match err.classify() {
                serde_json::error::Category::Data => ProfileError::Schema {
                    path,
                    line,
                    column,
                    message,
                },
                _ => ProfileError::Syntax {
                    path,
                    line,
                    column,
                    message,
                },
            }
        })
    }

    /// Reads and parses a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let read_err = |err: io::Error| match err.kind() {
            io::ErrorKind::NotFound => ProfileError::NotFound {
                path: path.to_owned(),
            },
            _ => ProfileError::Read {
                path: path.to_owned(),
                err,
            },
        };
        if fs::metadata(path).map_err(read_err)?.is_dir() {
            return Err(ProfileError::IsDirectory {
                path: path.to_owned(),
            });
        }
        let bytes = fs::read(path).map_err(read_err)?;
        let text = String::from_utf8(bytes).map_err(|_| ProfileError::NotUtf8 {
            path: path.to_owned(),
        })?;
        Profile::from_json(&text, path)
    }

    /// Names allowed unconditionally: rules whose action is SCMP_ACT_ALLOW with no argument
    /// conditions and no (or empty) includes/excludes.
    pub fn allowed_names(&self) -> BTreeSet<String> {
        let unconditional = |filter: &Option<Filter>| filter.as_ref().is_none_or(Filter::is_empty);
        self.syscalls
            .iter()
            .filter(|rule| {
                rule.action == "SCMP_ACT_ALLOW"
                    && rule.args.is_empty()
                    && unconditional(&rule.includes)
                    && unconditional(&rule.excludes)
            })
            .flat_map(|rule| rule.names.iter().cloned())
            .collect()
    }

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
        parse_action(
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
            parse_action(&place, &rule.action, rule.errno_ret)?;
            parse_conditions(&place, &rule.args)?;
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

    /// Builds the filter runc would install for this profile (libcontainer/seccomp/seccomp_linux.go
    /// and patchbpf/enosys_linux.go, runc 1.1), after Docker's `archMap`/`includes`/`excludes`
    /// processing. Nothing is loaded.
    ///
    /// - Default action with `defaultErrnoRet` (ERRNO without it is EPERM). The native architecture
    ///   is always in the filter; the effective architectures are added to it.
    /// - Names libseccomp cannot resolve are skipped, and rules whose action equals the default are
    ///   skipped (libseccomp refuses them with EACCES), both as runc does.
    /// - A rule whose conditions repeat an argument index becomes one rule per condition.
    /// - runc's ENOSYS stub answers ENOSYS for every number above the highest one the profile
    ///   names on each listed architecture (unless the default action is ALLOW, LOG or TRACE, or
    ///   no architectures are listed). It is emulated with ERRNO(ENOSYS) rules, one per number
    ///   libseccomp knows on that architecture above that maximum, plus every number up to 511 on
    ///   the native architecture. Numbers libseccomp does not know on a non-native architecture
    ///   still get the default action, because libseccomp adds rules there only by name. On ia32,
    ///   libseccomp also applies such a rule to the socketcall/ipc multiplexed form of a socket or
    ///   IPC syscall, which runc's stub (direct numbers only) does not.
    ///   Checked against runc 1.1.5 on Linux 6.18: the same errno for unlisted numbers below and
    ///   above the maximum (EPERM, ENOSYS), including numbers libseccomp cannot name up to 511.
    /// - No-new-privileges is left off when the process holds CAP_SYS_ADMIN (runc's default for a
    ///   container without no-new-privileges), and turned on otherwise, since the kernel installs a
    ///   filter only with one of the two.
    pub fn compile(&self) -> Result<ScmpFilterContext, ProfileError> {
        let default = parse_action(
            "defaultAction",
            &self.default_action,
            self.default_errno_ret,
        )?;
        let arches = self.effective_architectures()?;
        let host = Host::current()?;

        let mut attributes = Attributes {
            default,
            no_new_privs: !host.has_cap(CAP_SYS_ADMIN),
            tsync: false,
            log: false,
            spec_allow: false,
            optimize: false,
        };
        for flag in &self.flags {
            match flag.as_str() {
                // runc ignores TSYNC because libseccomp-golang sets it on every filter anyway.
                "SECCOMP_FILTER_FLAG_TSYNC" => attributes.tsync = true,
                "SECCOMP_FILTER_FLAG_LOG" => attributes.log = true,
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => attributes.spec_allow = true,
                // Only changes how a notify listener waits; notify is refused, and libseccomp
                // 2.5 has no attribute for it.
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => {}
                other => {
                    return Err(ProfileError::UnknownFlag {
                        flag: other.to_owned(),
                    });
                }
            }
        }

        let mut entries = Vec::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            let place = place(i, rule);
            if rule.names.is_empty() {
                return Err(ProfileError::NoNames { place });
            }
            let action = parse_action(&place, &rule.action, rule.errno_ret)?;
            let (conditions, split) = parse_conditions(&place, &rule.args)?;
            if !rule_applies(&place, rule, &host)? {
                log::debug!("{place}: not applied on this host (includes/excludes)");
                continue;
            }
            for name in &rule.names {
                entries.push(Entry {
                    place: place.clone(),
                    name,
                    action,
                    conditions: conditions.clone(),
                    split,
                });
            }
        }
        // runc turns on libseccomp's binary-tree optimization above 32 (per-name) rules; fewer
        // rules avoid a libseccomp ≤ 2.5.4 bug with the optimization and no rules.
        attributes.optimize = entries.len() > 32;

        // runc's `generatePatch` skips permissive defaults. With an ERRNO(ENOSYS) default the
        // stub changes nothing, and libseccomp would refuse rules equal to the default.
        let stub = !matches!(
            default,
            ScmpAction::Allow | ScmpAction::Log | ScmpAction::Trace(_)
        ) && default != ScmpAction::Errno(ENOSYS as i32);
        // The native architecture is always in runc's filter (libseccomp's seccomp_init adds it);
        // the stub covers only the listed ones.
        let native = Arch::native();
        let build = |arch: Arch| -> Result<ScmpFilterContext, ProfileError> {
            let mut ctx = new_context(arch, &attributes)?;
            add_entries(&mut ctx, arch, &entries, default)?;
            if stub && arches.contains(&arch) {
                add_enosys_stub(&mut ctx, arch, &entries);
            }
            Ok(ctx)
        };
        let mut filter = build(native)?;
        for &arch in arches.iter().filter(|arch| **arch != native) {
            filter.merge(build(arch)?).map_err(lib_err(format!(
                "merge the {} filter into the native one",
                arch.scmp_name()
            )))?;
        }
        Ok(filter)
    }
}

/// A filter for one architecture only, so that the ENOSYS rules can differ per architecture;
/// [`Profile::compile`] merges them (seccomp_merge).
fn new_context(arch: Arch, attributes: &Attributes) -> Result<ScmpFilterContext, ProfileError> {
    let what = |step: &str| format!("{step} for {}", arch.scmp_name());
    let mut ctx =
        ScmpFilterContext::new(attributes.default).map_err(lib_err(what("create a filter")))?;
    if arch != Arch::native() {
        ctx.add_arch(arch.to_scmp())
            .map_err(lib_err(what("add the architecture")))?;
        ctx.remove_arch(ScmpArch::Native)
            .map_err(lib_err(what("remove the native architecture")))?;
    }
    ctx.set_ctl_nnp(attributes.no_new_privs)
        .map_err(lib_err(what("set no_new_privs")))?;
    // The kernel's errno (EACCES without CAP_SYS_ADMIN, …) rather than libseccomp's ECANCELED.
    ctx.set_api_sysrawrc(true)
        .map_err(lib_err(what("ask for raw error codes")))?;
    if attributes.tsync {
        ctx.set_ctl_tsync(true)
            .map_err(lib_err(what("set SECCOMP_FILTER_FLAG_TSYNC")))?;
    }
    if attributes.log {
        ctx.set_ctl_log(true)
            .map_err(lib_err(what("set SECCOMP_FILTER_FLAG_LOG")))?;
    }
    if attributes.spec_allow {
        ctx.set_ctl_ssb(true)
            .map_err(lib_err(what("set SECCOMP_FILTER_FLAG_SPEC_ALLOW")))?;
    }
    if attributes.optimize {
        ctx.set_ctl_optimize(2)
            .map_err(lib_err(what("enable binary-tree optimization")))?;
    }
    Ok(ctx)
}

/// runc's `matchCall` for every entry. Numbers are given in the native numbering (or as
/// libseccomp's pseudo-number), which libseccomp translates by name for the context's
/// architecture, exactly as for runc's multi-architecture filter.
fn add_entries(
    ctx: &mut ScmpFilterContext,
    arch: Arch,
    entries: &[Entry<'_>],
    default: ScmpAction,
) -> Result<(), ProfileError> {
    for entry in entries {
        if entry.action == default {
            continue;
        }
        let Ok(syscall) = ScmpSyscall::from_name(entry.name) else {
            log::debug!(
                "{}: unknown syscall {:?} ignored, as runc does",
                entry.place,
                entry.name
            );
            continue;
        };
        let what = || {
            format!(
                "add the rule for {} ({}, {})",
                entry.name,
                entry.place,
                arch.scmp_name()
            )
        };
        if entry.conditions.is_empty() {
            ctx.add_rule(entry.action, syscall)
                .map_err(lib_err(what()))?;
        } else if entry.split {
            for condition in &entry.conditions {
                ctx.add_rule_conditional(entry.action, syscall, std::slice::from_ref(condition))
                    .map_err(lib_err(what()))?;
            }
        } else {
            ctx.add_rule_conditional(entry.action, syscall, &entry.conditions)
                .map_err(lib_err(what()))?;
        }
    }
    Ok(())
}

/// Emulates runc's `generateEnosysStub` for one architecture: ENOSYS above the highest number
/// any entry names there (pseudo-numbers do not count; no named number, no stub, as in runc's
/// `findLastSyscalls`). Numbers libseccomp cannot add a rule for are left to the default action.
fn add_enosys_stub(ctx: &mut ScmpFilterContext, arch: Arch, entries: &[Entry<'_>]) {
    let Some(max) = entries
        .iter()
        .filter_map(|entry| syscalls::number_of(arch, entry.name))
        .max()
    else {
        log::debug!(
            "no syscall of the profile exists on {}: no ENOSYS stub, as runc",
            arch.scmp_name()
        );
        return;
    };
    let enosys = ScmpAction::Errno(ENOSYS as i32);
    let mut candidates: Vec<ScmpSyscall> = Vec::new();
    for nr in syscalls::known_numbers(arch)
        .into_iter()
        .filter(|nr| *nr > max)
    {
        // Rules name syscalls in the native numbering; libseccomp maps the name back to `nr`.
        if let Some(syscall) =
            syscalls::name_of(arch, nr).and_then(|name| ScmpSyscall::from_name(&name).ok())
        {
            candidates.push(syscall);
        }
    }
    if arch == Arch::native() {
        for nr in max.saturating_add(1)..=NATIVE_ENOSYS_CEILING {
            if syscalls::name_of(arch, nr).is_none()
                && let Ok(nr) = i32::try_from(nr)
            {
                candidates.push(ScmpSyscall::from(nr));
            }
        }
    }
    for syscall in candidates {
        if let Err(err) = ctx.add_rule(enosys, syscall) {
            log::debug!(
                "ENOSYS rule for syscall {} on {} not added: {err}",
                i32::from(syscall),
                arch.scmp_name()
            );
        }
    }
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a part: a
/// temporary file in the same directory, fsync, rename over `path`. The temporary file is removed
/// on any error. An existing file's permissions are kept.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // Not a regular file (`-o /dev/null`, a FIFO, `-o /dev/stdout`): write in place. Renaming over
    // it would replace the device node itself — seen here with `-o /dev/null` as root, after which
    // containers given the host's /dev/null as stdin had runc chown a regular file.
    if let Ok(meta) = fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        return OpenOptions::new().write(true).open(path)?.write_all(bytes);
    }
    // A symlink to a regular file: replace the file it points to, and keep the link.
    if fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
        && let Ok(target) = fs::canonicalize(path)
    {
        return replace_file(&target, bytes);
    }
    replace_file(path, bytes)
}

/// Writes a temporary file next to `path`, syncs it and renames it over `path`.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (tmp, mut file) = loop {
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        // create_new: never follow or reuse someone else's file at that name.
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => break (tmp, file),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 1000 => continue,
            Err(err) => return Err(err),
        }
    };
    let result = (|| {
        if let Ok(meta) = fs::metadata(path)
            && meta.is_file()
        {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    match result {
        Ok(()) => {
            // Make the rename itself durable; a failure here loses nothing already written.
            if let Ok(dir) = fs::File::open(dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        }
        Err(err) => {
            let _ = fs::remove_file(&tmp);
            Err(err)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DOCKER_20: &str = include_str!("../tests/fixtures/docker-moby-v20.10.24-default.json");
    const DOCKER_28: &str = include_str!("../tests/fixtures/docker-moby-v28.2.2-default.json");

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn parse(text: &str) -> Profile {
        Profile::from_json(text, Path::new("test.json")).unwrap()
    }

    fn pfc(ctx: &ScmpFilterContext) -> String {
        let file = tempfile::tempfile().unwrap();
        ctx.export_pfc(&file).unwrap();
        let mut text = String::new();
        let mut file = file;
        io::Seek::rewind(&mut file).unwrap();
        io::Read::read_to_string(&mut file, &mut text).unwrap();
        text
    }

    /// The line after `if ($syscall == NR)` in libseccomp's pseudo-filter code.
    fn action_after(pfc: &str, nr: u32) -> Option<String> {
        let marker = format!("if ($syscall == {nr})\n");
        pfc.find(&marker).map(|at| {
            pfc[at + marker.len()..]
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
    }

    fn bpf_instructions(ctx: &ScmpFilterContext) -> u64 {
        let file = tempfile::tempfile().unwrap();
        ctx.export_bpf(&file).unwrap();
        file.metadata().unwrap().len() / 8
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
    fn round_trip() {
        let profile =
            Profile::minimal(&set(&["read", "write", "clone"]), Arch::native_family()).unwrap();
        let again = Profile::from_json(&profile.to_json(), Path::new("x.json")).unwrap();
        assert_eq!(again, profile);
        assert_eq!(again.to_json(), profile.to_json());

        let docker = parse(DOCKER_20);
        let again = Profile::from_json(&docker.to_json(), Path::new("x.json")).unwrap();
        assert_eq!(again, docker);
    }

    #[test]
    fn reads_docker_extras_and_old_name() {
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","unknownTopLevel":{"x":1},
                "syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","args":null,"whatever":true},
                            {"names":["write"],"action":"SCMP_ACT_ALLOW","includes":{},"excludes":{}}]}"#,
        );
        assert_eq!(profile.syscalls[0].names, vec!["read"]);
        assert_eq!(profile.allowed_names(), set(&["read", "write"]));

        let err = Profile::from_json(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}"#,
            Path::new("both.json"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("both `name`"), "{err}");
    }

    #[test]
    fn json_errors_name_file_line_column() {
        let err = Profile::from_json(
            "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [,]\n}",
            Path::new("p.json"),
        )
        .unwrap_err();
        assert!(
            matches!(err, ProfileError::Syntax { line: 3, .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.starts_with("p.json:3:"), "{message}");
        assert!(
            !message.contains(" at line "),
            "position given twice: {message}"
        );

        let err = Profile::from_json("{\"defaultAction\": 5}", Path::new("t.json")).unwrap_err();
        assert!(
            matches!(err, ProfileError::Schema { line: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("t.json:1:"), "{err}");
        assert!(err.to_string().contains("invalid type"), "{err}");

        let err = Profile::from_json("{\"syscalls\": []}", Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("defaultAction"), "{err}");

        let err = Profile::from_json(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\"",
            Path::new("e.json"),
        )
        .unwrap_err();
        assert!(matches!(err, ProfileError::Syntax { .. }), "{err:?}");

        let err = Profile::from_json(" \n", Path::new("empty.json")).unwrap_err();
        assert!(matches!(err, ProfileError::Empty { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("empty.json: file is empty"),
            "{err}"
        );
    }

    #[test]
    fn load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Profile::load(dir.path()).unwrap_err();
        assert!(matches!(err, ProfileError::IsDirectory { .. }), "{err:?}");

        let missing = dir.path().join("missing.json");
        let err = Profile::load(&missing).unwrap_err();
        assert!(matches!(err, ProfileError::NotFound { .. }), "{err:?}");
        assert!(
            err.to_string().contains("missing.json: no such file"),
            "{err}"
        );

        let empty = dir.path().join("empty.json");
        fs::write(&empty, "").unwrap();
        assert!(matches!(
            Profile::load(&empty),
            Err(ProfileError::Empty { .. })
        ));

        let binary = dir.path().join("binary.json");
        fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            Profile::load(&binary),
            Err(ProfileError::NotUtf8 { .. })
        ));

        let good = dir.path().join("good.json");
        fs::write(&good, DOCKER_20).unwrap();
        assert_eq!(Profile::load(&good).unwrap(), parse(DOCKER_20));
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
    fn docker_default_profiles() {
        let docker20 = parse(DOCKER_20);
        assert_eq!(docker20.allowed_names().len(), 346);
        docker20.check().unwrap();
        let arches = docker20.effective_architectures().unwrap();
        assert_eq!(arches, Arch::native_family());
        docker20.compile().unwrap();

        let docker28 = parse(DOCKER_28);
        assert_eq!(docker28.allowed_names().len(), 361);
        // Docker 28 names syscalls newer than some libseccomp versions (mseal, …): check() must
        // flag exactly those this libseccomp does not know, and compile() must skip them.
        match docker28.check() {
            Ok(()) => {}
            Err(ProfileError::UnknownSyscalls(names)) => {
                assert!(
                    names.iter().all(|name| !syscalls::is_known_name(name)),
                    "{names:?}"
                );
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        docker28.compile().unwrap();
    }

    #[test]
    fn compile_emulates_runc_enosys_stub() {
        if Arch::native() != Arch::X86_64 {
            return;
        }
        // Highest named number on x86_64: execve (59). exit (60) is above it: ENOSYS. vfork (58)
        // is below it and unnamed: the default action.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read","execve"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        let action_of = |nr: u32| action_after(&text, nr);
        assert_eq!(action_of(0).as_deref(), Some("action ALLOW;"), "{text}");
        assert_eq!(action_of(59).as_deref(), Some("action ALLOW;"), "{text}");
        assert_eq!(
            action_of(60).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
        assert_eq!(
            action_of(435).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
        // Unknown to libseccomp on x86_64 (a hole in the table) but still above the maximum.
        assert_eq!(
            action_of(400).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
        assert_eq!(action_of(58), None, "{text}");

        // Without architectures runc generates no stub at all.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO",
                "syscalls":[{"names":["read","execve"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        assert!(!text.contains("ERRNO(38)"), "{text}");

        // Nor with a permissive default action.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        assert!(!text.contains("ERRNO(38)"), "{text}");
    }

    #[test]
    fn compile_follows_runc_rule_handling() {
        // A rule equal to the default (ERRNO without errnoRet is EPERM), an unknown name, and
        // a repeated argument index: runc skips, skips, and splits.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[
                  {"names":["read"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["mount"],"action":"SCMP_ACT_ERRNO"},
                  {"names":["not_a_syscall"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                  {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]},
                  {"names":["reboot"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["s390x"]}}
                ]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        assert!(
            text.contains("if ($a0.lo32 == 8)"),
            "both personality conditions: {text}"
        );
        assert!(
            text.contains("if ($a0.lo32 == 0)"),
            "both personality conditions: {text}"
        );
        assert!(
            text.contains("if ($a0.lo32 & 0x7e020000 == 0)"),
            "MASKED_EQ mask: {text}"
        );
        assert!(
            !text.contains("\"mount\""),
            "rule equal to the default: {text}"
        );
        // reboot's rule is dropped (s390x only); as the highest number is mount (165), reboot
        // (169) falls under the ENOSYS stub rather than being allowed.
        assert_eq!(
            action_after(&text, 169).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
    }

    #[test]
    fn includes_and_excludes_like_docker() {
        let host = Host {
            arch: Arch::X86_64,
            caps: 1 << CAP_SYS_ADMIN,
            kernel: Some((6, 18)),
        };
        let rule = |json: &str| -> Rule { serde_json::from_str(json).unwrap() };
        let applies = |r: &Rule| rule_applies("r", r, &host).unwrap();
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{},"excludes":{}}"#
        )));
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64","x32"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}}"#
        )));
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN","CAP_BPF"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMIN"]}}"#
        )));
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"6.19"}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"6.18"}}"#
        )));
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel_version("3.12-1-amd64"), Some((3, 12)));
        assert_eq!(parse_kernel_version("5"), None);
        assert_eq!(parse_kernel_version("x.1"), None);
        assert!(kernel_version().is_some());
    }

    #[test]
    fn filters_fit_the_kernel_limit() {
        // The worst case for the ENOSYS emulation: a tiny profile on every architecture of the
        // family, so almost every syscall gets its own ERRNO(38) rule. BPF_MAXINSNS is 4096.
        let profile = parse(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":[{}],
                "syscalls":[{{"names":["read"],"action":"SCMP_ACT_ALLOW"}}]}}"#,
            Arch::native_family()
                .iter()
                .map(|a| format!("{:?}", a.scmp_name()))
                .collect::<Vec<_>>()
                .join(",")
        ));
        let len = bpf_instructions(&profile.compile().unwrap());
        assert!(len < 4096, "{len} instructions");
        let docker = bpf_instructions(&parse(DOCKER_20).compile().unwrap());
        assert!(docker < 4096, "{docker} instructions");
        let minimal = Profile::minimal(
            &set(&["read", "write", "exit_group"]),
            Arch::native_family(),
        )
        .unwrap();
        assert!(bpf_instructions(&minimal.compile().unwrap()) < 4096);
    }

    #[test]
    fn atomic_write_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("profile.json")]);

        // Renaming over a directory fails: nothing may be left behind.
        let target = dir.path().join("a-dir");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"x").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![OsString::from("a-dir"), OsString::from("profile.json")]
        );

        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }

    #[test]
    fn top_level_must_be_an_object() {
        for text in ["[]", "5", "\"profile\""] {
            let err = Profile::from_json(text, Path::new("p.json"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("the top level must be a JSON object"),
                "{text}: {err}"
            );
            assert!(err.starts_with("p.json:1:"), "{err}");
        }
    }

    #[test]
    fn atomic_write_keeps_devices_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        // A FIFO stands in for /dev/null: it must still be a FIFO afterwards, and get the bytes.
        let fifo = dir.path().join("fifo");
        let cpath = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: cpath is a valid C string.
        assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || fs::read(fifo).unwrap()
        });
        write_atomic(&fifo, b"through").unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        use std::os::unix::fs::FileTypeExt as _;
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

        // A symlink to a file: the file is replaced, the link stays a link.
        let real = dir.path().join("real.json");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");

        write_atomic(Path::new("/dev/null"), b"discarded").unwrap();
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}
