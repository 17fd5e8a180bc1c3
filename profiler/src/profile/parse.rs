//! Reading a profile: the file ([`read_text`]), the text in any form the tool reads
//! ([`Profile::from_text`], in `input.rs`; [`Profile::from_json`] for profile JSON alone), both
//! with the checks ([`load_checked`], what every command that reads a profile calls), and
//! [`ProfileError`], the one error type of the model. Every message names where the problem is —
//! `FILE:LINE:COLUMN` for JSON and YAML, `syscalls[3] (mount)` for a rule — and what to do next.
//!
//! It does not judge what a profile means (validate.rs does); it only turns text into the types.

use std::{
    fs,
    io::{self, Read as _},
    path::{Path, PathBuf},
};

use libseccomp::error::SeccompError;
use serde::Deserialize;

use super::{Action, ArgCond, Filter, Op, Profile, Rule, null_as_default, validate::FLAGS};

/// The most a profile input may hold. Docker's default profile is 20 KiB and a recorded one about
/// 2 KiB; the cap keeps `validate /dev/zero` (or a log file passed by mistake) from reading
/// forever or filling memory.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Everything that can be wrong with a profile, with turning it into a filter, or with merging
/// profiles. All are invalid input (exit 2): the user chose the file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "{}: no such file; pass the path of a seccomp profile (Docker/OCI JSON, an OCI \
         config.json or a SeccompProfile manifest)",
        .path.display()
    )]
    NotFound { path: PathBuf },
    #[error("{}: is a directory; pass the profile file itself", .path.display())]
    IsDirectory { path: PathBuf },
    #[error("{}: cannot read: {err}; check the path and its permissions", .path.display())]
    Read { path: PathBuf, err: io::Error },
    #[error(
        "{}: is not UTF-8 text; a profile is JSON or YAML, pass the right file",
        .path.display()
    )]
    NotUtf8 { path: PathBuf },
    #[error(
        "{}: is larger than {} MiB, far more than any seccomp profile; pass the profile file itself",
        .path.display(), MAX_INPUT_BYTES >> 20
    )]
    TooLarge { path: PathBuf },
    #[error(
        "{}: file is empty; write a profile into it (e.g. `seccomp-profiler record -o FILE`) or \
         pass another file", .path.display()
    )]
    Empty { path: PathBuf },
    #[error(
        "{}:{line}:{column}: malformed {syntax}: {message}; fix the {syntax} at that position",
        .path.display()
    )]
    Syntax {
        path: PathBuf,
        /// "JSON" or "YAML".
        syntax: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}:{line}:{column}: not a seccomp profile: {message}; follow Docker's profile format \
         (defaultAction, architectures, syscalls: [{{names, action, args}}]), in JSON or as the \
         spec of a SeccompProfile manifest", .path.display()
    )]
    Schema {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A document of a form that holds no profile this tool can use as written (a manifest with
    /// `baseProfileName`, a `config.json` without `linux.seccomp`, another `kind`).
    #[error("{}: {message}", .path.display())]
    Form { path: PathBuf, message: String },
    /// A profile that parsed but fails [`Profile::check`]; the cause says why.
    #[error("{} is not a profile runc would apply as written", .path.display())]
    NotApplicable {
        path: PathBuf,
        #[source]
        source: Box<ProfileError>,
    },
    #[error(
        "unknown syscall names {}: libseccomp {} does not know them, and runc silently ignores \
         such names, so the workload would get the default action for them; fix their spelling or \
         remove them (or use a libseccomp that knows them)",
        quoted_list(.0), libseccomp_version()
    )]
    UnknownSyscalls(Vec<String>),
    #[error("{place}: unknown action {action:?}; use one of {}", known_actions())]
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
    #[error("{place}: unknown operator {op:?}; use one of {}", known_operators())]
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
    #[error("no profiles to merge; pass at least one FILE")]
    NothingToMerge,
    #[error(
        "cannot merge {first} ({first_default}) with {other} ({other_default}): their default \
         actions differ, so a union of their rules would mean something neither profile says; \
         record or edit them to the same default action first"
    )]
    DefaultsDiffer {
        first: String,
        first_default: String,
        other: String,
        other_default: String,
    },
    #[error("cannot merge profiles with different {key} ({seen}); make them equal first")]
    DifferentValues { key: &'static str, seen: String },
    #[error("{label}: cannot resolve its architectures")]
    MergeArchitectures {
        label: String,
        #[source]
        source: Box<ProfileError>,
    },
    #[error("the merged profile does not pass the checks its inputs passed")]
    MergedInvalid {
        #[source]
        source: Box<ProfileError>,
    },
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

/// Every action but SCMP_ACT_NOTIFY, which exec/validate cannot apply.
fn known_actions() -> String {
    let known = Action::KNOWN;
    let names: Vec<&str> = known
        .iter()
        .filter(|action| **action != Action::Notify)
        .map(Action::as_str)
        .collect();
    names.join(", ")
}

fn known_operators() -> String {
    let known = Op::KNOWN;
    let names: Vec<&str> = known.iter().map(Op::as_str).collect();
    names.join(", ")
}

fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "(unknown version)".to_owned(),
    }
}

/// The rule as written, before `name` is folded into `names`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawRule {
    #[serde(default, deserialize_with = "null_as_default")]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: Action,
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

/// Reads a profile (or any JSON input) as text, with the errors a profile path gets. At most
/// [`MAX_INPUT_BYTES`] + 1 bytes are read, whatever the file is (a device, a FIFO, a growing log).
pub fn read_text(path: &Path) -> Result<String, ProfileError> {
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
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|file| file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ProfileError::TooLarge {
            path: path.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|_| ProfileError::NotUtf8 {
        path: path.to_owned(),
    })
}

/// Reads a profile and runs the checks runc and Docker apply ([`Profile::check`]); a profile that
/// fails them is [`ProfileError::NotApplicable`], naming the file. Every command that reads a
/// profile goes through here.
pub fn load_checked(path: &Path) -> Result<Profile, ProfileError> {
    parse_checked(&read_text(path)?, path)
}

/// [`load_checked`] for text already read from `path` (`diff` reads a file before it knows
/// whether it is a profile or a report).
pub fn parse_checked(text: &str, path: &Path) -> Result<Profile, ProfileError> {
    let profile = Profile::from_text(text, path)?;
    profile
        .check()
        .map_err(|source| ProfileError::NotApplicable {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    Ok(profile)
}

impl Profile {
    /// Parses Docker/OCI profile JSON only; `origin` names it in errors (`FILE:LINE:COLUMN: …`).
    /// Commands read through [`Profile::from_text`], which also takes manifests and YAML.
    pub fn from_json(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
        if text.trim().is_empty() {
            return Err(ProfileError::Empty {
                path: origin.to_owned(),
            });
        }
        serde_json::from_str(text).map_err(|err| super::input::json_error(&err, text, origin))
    }

    /// Reads and parses a profile file in any form [`Profile::from_text`] reads (without
    /// [`Profile::check`]; see [`load_checked`]).
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        Profile::from_text(&read_text(path)?, path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::syscalls::Arch;

    const DOCKER_20: &str = include_str!("../../tests/fixtures/docker-moby-v20.10.24-default.json");

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn parse(text: &str) -> Profile {
        Profile::from_json(text, Path::new("test.json")).unwrap()
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
    fn inputs_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        // Exactly the cap is read (and then judged as JSON); one byte more is refused.
        let at_cap = dir.path().join("at-cap.json");
        fs::write(&at_cap, vec![b' '; MAX_INPUT_BYTES as usize]).unwrap();
        assert!(matches!(
            Profile::load(&at_cap),
            Err(ProfileError::Empty { .. })
        ));
        let over = dir.path().join("over.json");
        fs::write(&over, vec![b' '; MAX_INPUT_BYTES as usize + 1]).unwrap();
        let err = Profile::load(&over).unwrap_err();
        assert!(matches!(err, ProfileError::TooLarge { .. }), "{err:?}");
        assert!(
            err.to_string().contains("over.json: is larger than 16 MiB"),
            "{err}"
        );
        // An endless input ends at the cap.
        let started = std::time::Instant::now();
        assert!(matches!(
            read_text(Path::new("/dev/zero")),
            Err(ProfileError::TooLarge { .. })
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn load_checked_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arm.json");
        let profile = Profile {
            architectures: vec!["SCMP_ARCH_ARM64".to_owned()],
            ..Profile::default()
        };
        fs::write(&path, profile.to_json()).unwrap();
        let err = load_checked(&path).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("arm.json is not a profile runc would apply as written"),
            "{err}"
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("SCMP_ARCH_AARCH64"), "{cause}");
        assert!(matches!(
            load_checked(&dir.path().join("missing.json")),
            Err(ProfileError::NotFound { .. })
        ));
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
}
