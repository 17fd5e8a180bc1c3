//! `seccomp-profiler diff OLD NEW`: the CI gate on a profile's growth. It answers one question —
//! does NEW allow anything OLD does not? — with exit 1 when it does, and shows the syscalls added
//! (with a risk note), removed and unchanged, as terminal text, as markdown for a pull-request
//! comment or `$GITHUB_STEP_SUMMARY`, or as JSON.
//!
//! Each side is a profile or a `record --report` file; what is compared, and what counts as
//! widening, is [`crate::profile::compare`]. This command loads the two sides and prints one of the
//! renderings in [`crate::output::diff`]. It reads inputs only: nothing is written but the result
//! on stdout. Any bad input exits 2 before anything is printed.

use std::{collections::BTreeSet, path::Path};

use serde::Deserialize;

use crate::{
    cli::{DiffArgs, DiffFormat},
    exit::{self, InputError},
    output::diff::{Labels, json, markdown, text},
    profile::{
        self,
        compare::{Recorded, Side, compare},
    },
    syscalls,
};

pub fn run(args: DiffArgs) -> anyhow::Result<i32> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let diff = compare(&old, &new);
    let labels = Labels {
        old: args.old.display().to_string(),
        new: args.new.display().to_string(),
    };
    let text = match args.format {
        DiffFormat::Text => text(&diff, &labels),
        DiffFormat::Markdown => markdown(&diff, &labels),
        DiffFormat::Json => json(&diff),
    };
    print!("{text}");
    Ok(if diff.widened {
        exit::FINDING
    } else {
        exit::OK
    })
}

/// A profile, or a report when the file is a JSON object with `tool` and `run` (the keys every
/// report starts with and no profile has). Everything else is parsed and checked as a profile,
/// so a bad profile fails exactly as under `validate`.
fn load(path: &Path) -> anyhow::Result<Side> {
    let text = profile::read_text(path)?;
    if is_report(&text) {
        return Ok(Side::Report(load_report(path, &text)?));
    }
    Ok(Side::Profile(profile::parse_checked(&text, path)?))
}

/// The parts of a `--report` file (report.rs) that `diff` compares; other keys are ignored. A
/// report is told from a profile by its `tool` and `run` keys ([`is_report`]).
#[derive(Debug, Deserialize)]
struct ReportView {
    syscalls: Vec<NameView>,
    #[serde(default)]
    implied_syscalls: Vec<NameView>,
    #[serde(default)]
    capabilities: Option<CapabilitiesView>,
}

#[derive(Debug, Deserialize)]
struct NameView {
    name: String,
}

#[derive(Debug, Deserialize)]
struct CapabilitiesView {
    used: Vec<String>,
}

fn is_report(text: &str) -> bool {
    matches!(
        serde_json::from_str::<serde_json::Value>(text),
        Ok(serde_json::Value::Object(map)) if map.contains_key("tool") && map.contains_key("run")
    )
}

/// What a report file says the recording used; every problem is an input error naming the file.
fn load_report(path: &Path, text: &str) -> Result<Recorded, InputError> {
    let report: ReportView = serde_json::from_str(text).map_err(|err| {
        let (line, column) = (err.line(), err.column());
        let full = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        InputError(format!(
            "{}:{line}:{column}: not a seccomp-profiler report: {message}; pass a file written by \
             `seccomp-profiler record --report`, or a profile",
            path.display()
        ))
    })?;
    let unknown: BTreeSet<&str> = report
        .syscalls
        .iter()
        .chain(&report.implied_syscalls)
        .map(|entry| entry.name.as_str())
        .filter(|name| !syscalls::is_known_name(name))
        .collect();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|name| format!("{name:?}")).collect();
        return Err(InputError(format!(
            "{}: the report names syscalls this libseccomp does not know: {}; record the report \
             again with this build, or fix the names",
            path.display(),
            names.join(", ")
        )));
    }
    if let Some(caps) = &report.capabilities
        && let Some(bad) = caps.used.iter().find(|cap| !is_capability_name(cap))
    {
        return Err(InputError(format!(
            "{}: capabilities.used: {bad:?} is not a capability name; write names like \
             CAP_NET_BIND_SERVICE (see capabilities(7))",
            path.display()
        )));
    }
    Ok(Recorded {
        names: report
            .syscalls
            .into_iter()
            .chain(report.implied_syscalls)
            .map(|entry| entry.name)
            .collect(),
        capabilities: report
            .capabilities
            .map(|caps| caps.used.into_iter().collect()),
    })
}

fn is_capability_name(name: &str) -> bool {
    name.strip_prefix("CAP_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::{fs, path::PathBuf};

    use super::*;
    use crate::profile::{Action, Profile, Rule};

    /// A profile that denies by default and allows `names`.
    fn allowing(names: &[&str]) -> Profile {
        Profile {
            syscalls: vec![Rule {
                names: names.iter().map(|name| (*name).to_owned()).collect(),
                action: Action::Allow,
                ..Rule::default()
            }],
            ..Profile::default()
        }
    }

    #[test]
    fn exit_codes_and_bad_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| -> PathBuf {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let small = write("small.json", &allowing(&["read"]).to_json());
        let big = write("big.json", &allowing(&["read", "mount"]).to_json());
        let diff = |old: &Path, new: &Path| {
            run(DiffArgs {
                old: old.to_owned(),
                new: new.to_owned(),
                format: DiffFormat::Json,
            })
        };
        assert_eq!(diff(&small, &big).unwrap(), exit::FINDING);
        assert_eq!(diff(&big, &small).unwrap(), exit::OK);
        assert_eq!(diff(&big, &big).unwrap(), exit::OK);

        let bad = [
            (write("text.json", "{not json"), "malformed JSON"),
            (
                write("words.json", "not json"),
                "the top level must be a mapping",
            ),
            (write("array.json", "[]"), "not a seccomp profile"),
            (
                write("type.json", r#"{"defaultAction": 5}"#),
                "invalid type",
            ),
            (write("empty.json", ""), "file is empty"),
            (
                write("unknown.json", &allowing(&["bogus"]).to_json()),
                "unknown syscall names",
            ),
            (
                write("badreport.json", r#"{"tool":{},"run":{},"syscalls":5}"#),
                "not a seccomp-profiler report",
            ),
            (
                write(
                    "badname.json",
                    r#"{"tool":{},"run":{},"syscalls":[{"name":"bogus"}]}"#,
                ),
                "\"bogus\"",
            ),
            (dir.path().to_owned(), "is a directory"),
            (dir.path().join("missing.json"), "no such file"),
        ];
        for (path, expected) in bad {
            for (old, new) in [(&path, &small), (&small, &path)] {
                let err = diff(old, new).unwrap_err();
                assert_eq!(exit::code_of(&err), exit::INPUT, "{err:#}");
                let message = format!("{err:#}");
                assert!(
                    message.contains(&*path.display().to_string()),
                    "names the file: {message}"
                );
                assert!(message.contains(expected), "{expected}: {message}");
            }
        }
    }

    #[test]
    fn capability_names() {
        assert!(is_capability_name("CAP_SYS_ADMIN"));
        assert!(is_capability_name("CAP_41"));
        assert!(!is_capability_name("SYS_ADMIN"));
        assert!(!is_capability_name("CAP_"));
        assert!(!is_capability_name("cap_sys_admin"));
    }
    /// The text of a report file, as `record --report` writes it (the parts diff reads).
    fn report_text(names: &[&str], caps: Option<&[&str]>) -> String {
        let syscalls: Vec<String> = names
            .iter()
            .map(|name| {
                format!(
                    r#"{{"name":{name:?},"arch":"SCMP_ARCH_X86_64","count":1,"first_comm":"x"}}"#
                )
            })
            .collect();
        let capabilities = caps.map_or("null".to_owned(), |caps| {
            let used: Vec<String> = caps.iter().map(|cap| format!("{cap:?}")).collect();
            format!(r#"{{"used":[{}],"denied":[],"checks":[]}}"#, used.join(","))
        });
        format!(
            r#"{{"tool":{{"name":"seccomp-profiler","version":"0.1.0"}},"run":{{"target":"command"}},
                "syscalls":[{}],"unnamed_syscalls":[],
                "implied_syscalls":[{{"name":"rt_sigreturn","reason":"timing"}}],
                "total_syscalls":3,"capabilities":{capabilities},"recommendation":null,"warnings":[]}}"#,
            syscalls.join(",")
        )
    }

    #[test]
    fn reports_load_as_what_the_recording_used() {
        let text = report_text(&["read", "bpf"], Some(&["CAP_SETUID", "CAP_NET_ADMIN"]));
        assert!(is_report(&text));
        let recorded = load_report(Path::new("r.json"), &text).unwrap();
        let names: Vec<&str> = recorded.names.iter().map(String::as_str).collect();
        assert_eq!(
            names,
            ["bpf", "read", "rt_sigreturn"],
            "recorded and implied"
        );
        let caps: Vec<&str> = recorded
            .capabilities
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(caps, ["CAP_NET_ADMIN", "CAP_SETUID"]);
        let without = load_report(Path::new("r.json"), &report_text(&["read"], None)).unwrap();
        assert_eq!(without.capabilities, None);
        assert!(!is_report(&allowing(&["read"]).to_json()));
    }
}
