//! `seccomp-profiler merge FILE... [-o FILE]`: the union of profiles, e.g. of the runs of a test
//! suite's jobs, or of a checked-in profile and a new recording. The union itself, and what it
//! keeps, is [`crate::profile::merge`]; this command loads the files, prints the warnings and writes
//! the result (the destination is checked before anything is read).
//!
//! Given partials (the node agent's, with provenance) or directories holding them, it folds them
//! into one profile per workload container with coverage instead ([`partials`]).

mod partials;

use crate::{cli::MergeArgs, exit, output::Destination, profile::merge::merge};

pub fn run(args: MergeArgs) -> anyhow::Result<i32> {
    if args.files.iter().any(|path| path.is_dir()) {
        return partials::run(&args, Vec::new());
    }
    // An existing directory as -o is only right for partials: known once the inputs are read.
    let destination = (args.output.as_deref())
        .filter(|path| !path.is_dir())
        .map(|path| Destination::check("merged profile", path))
        .transpose()?;
    let mut inputs = Vec::with_capacity(args.files.len());
    let mut found = Vec::new();
    for path in &args.files {
        match crate::partials::load(path)? {
            Some(partial) => found.push(partial),
            None => inputs.push((path.display().to_string(), super::load_profile(path)?)),
        }
    }
    if !found.is_empty() {
        if let Some((plain, _)) = inputs.first() {
            return exit::input(format!(
                "{plain} is a plain profile but {} is a partial (the node agent's, with \
                 provenance): merge partials apart from plain profiles",
                found[0].label
            ));
        }
        return partials::run(&args, found);
    }
    if let Some(report) = &args.report {
        return exit::input(format!(
            "--report {}: the coverage report is for partials (the node agent's); plain \
             profiles carry no replica or node to count",
            report.display()
        ));
    }
    let destination = match (&args.output, destination) {
        (Some(path), None) => Some(Destination::check("merged profile", path)?),
        (_, destination) => destination,
    };
    let merged = merge(&inputs)?;
    for warning in &merged.warnings {
        eprintln!("seccomp-profiler merge: warning: {warning}");
    }
    let json = merged.profile.to_json();
    match &destination {
        Some(destination) => {
            destination.write(json.as_bytes())?;
            eprintln!(
                "seccomp-profiler merge: {} profile(s) merged: {} syscalls allowed, {} rules; \
                 written to {}",
                inputs.len(),
                merged.profile.allowed_names().len(),
                merged.profile.syscalls.len(),
                destination.path().display()
            );
        }
        None => print!("{json}"),
    }
    Ok(exit::OK)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::{fs, path::PathBuf};

    use super::*;
    use crate::{
        profile::{Action, Profile, Rule},
        syscalls::Arch,
    };

    fn minimal(names: &[&str], arches: &[Arch]) -> Profile {
        let names = names.iter().map(|name| (*name).to_owned()).collect();
        Profile::minimal(&names, arches).unwrap()
    }

    #[test]
    fn run_writes_only_valid_merges() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| -> PathBuf {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let a = write("a.json", &minimal(&["read"], &[Arch::X86_64]).to_json());
        let b = write("b.json", &minimal(&["write"], &[Arch::X86_64]).to_json());
        let out = dir.path().join("out.json");
        let args = |files: Vec<PathBuf>| MergeArgs {
            files,
            output: Some(out.clone()),
            report: None,
        };
        assert_eq!(run(args(vec![a.clone(), b.clone()])).unwrap(), exit::OK);
        let merged = Profile::load(&out).unwrap();
        assert_eq!(
            merged.allowed_names().into_iter().collect::<Vec<_>>(),
            ["read", "write"]
        );
        fs::remove_file(&out).unwrap();

        let allow_all = write(
            "allow.json",
            &Profile {
                default_action: Action::Allow,
                ..Profile::default()
            }
            .to_json(),
        );
        let unknown = Profile {
            syscalls: vec![Rule {
                names: vec!["bogus".to_owned()],
                action: Action::Allow,
                ..Rule::default()
            }],
            ..Profile::default()
        };
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
                write("unknown.json", &unknown.to_json()),
                "unknown syscall names",
            ),
            (dir.path().to_owned(), "is a directory"),
            (dir.path().join("missing.json"), "no such file"),
            (allow_all, "default actions differ"),
        ];
        for (path, expected) in bad {
            let err = run(args(vec![a.clone(), path.clone()])).unwrap_err();
            assert_eq!(exit::code_of(&err), exit::INPUT, "{err:#}");
            let message = format!("{err:#}");
            assert!(
                message.contains(&*path.display().to_string()),
                "names the file: {message}"
            );
            assert!(message.contains(expected), "{expected}: {message}");
            assert!(!out.exists(), "nothing written for {}", path.display());
        }

        let err = run(MergeArgs {
            files: vec![a],
            output: Some(dir.path().join("no/such/dir/x.json")),
            report: None,
        })
        .unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);
    }

    #[test]
    fn the_destination_is_checked_before_any_input_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("merged.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        // The input does not exist: the output's problem is reported first.
        let err = run(MergeArgs {
            files: vec![dir.path().join("missing.json")],
            output: Some(link),
            report: None,
        })
        .unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);
        assert!(format!("{err:#}").contains("is a symlink"), "{err:#}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }
}
