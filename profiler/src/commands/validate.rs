//! `seccomp-profiler validate FILE`: proves a profile parses, passes the checks runc and Docker
//! apply, and compiles into a libseccomp filter; then prints a one-line summary on stdout, and on
//! stderr a warning for what runc applies differently from how the profile reads
//! ([`Profile::warnings`]: a name both allowed and denied, a name on none of its architectures).
//!
//! It does not load the filter (no privileges needed) and does not judge whether the profile is
//! tight enough for a workload (`check` and `diff` do that). Any problem exits with code 2.

use std::path::Path;

use anyhow::Context as _;

use crate::{cli::ValidateArgs, exit, profile::Profile, syscalls::Arch};

pub fn run(args: ValidateArgs) -> anyhow::Result<i32> {
    let path = &args.file;
    let profile = super::load_profile(path)?;
    // The filter is built and dropped: compiling catches what only libseccomp can refuse.
    drop(
        profile.compile().with_context(|| {
            format!("{} does not compile into a seccomp filter", path.display())
        })?,
    );
    let arches = profile.effective_architectures()?;
    for warning in profile.warnings()? {
        eprintln!("seccomp-profiler validate: warning: {warning}");
    }
    println!("{}", summary(path, &profile, &arches));
    Ok(exit::OK)
}

/// `FILE: valid — 47 syscalls allowed, 2 rules, default SCMP_ACT_ERRNO (errno 1), architectures …`
fn summary(path: &Path, profile: &Profile, arches: &[Arch]) -> String {
    let mut default = profile.default_action.to_string();
    if let Some(errno) = profile.default_errno() {
        default.push_str(&format!(" (errno {errno})"));
    }
    let architectures = if arches.is_empty() {
        format!(
            "architectures: none listed, native only ({})",
            Arch::native().scmp_name()
        )
    } else {
        let names: Vec<&str> = arches.iter().map(|arch| arch.scmp_name()).collect();
        let source = if profile.architectures.is_empty() {
            " (from archMap)"
        } else {
            ""
        };
        format!("architectures {}{source}", names.join(" "))
    };
    // Checked already, so the architectures resolve; a name on none of them allows nothing.
    let absent = profile.names_on_no_architecture().unwrap_or_default();
    let allowed = profile.allowed_names().difference(&absent).count();
    let rules = profile.syscalls.len();
    format!(
        "{}: valid — {} syscalls allowed, {rules} rule{}, default {default}, {architectures}",
        path.display(),
        allowed,
        if rules == 1 { "" } else { "s" },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::cli::ValidateArgs;

    #[test]
    fn summary_line() {
        let allowed: BTreeSet<String> = ["read", "write"].iter().map(|s| (*s).to_owned()).collect();
        let profile = Profile::minimal(&allowed, &[Arch::X86_64, Arch::X86, Arch::X32]).unwrap();
        let arches = profile.effective_architectures().unwrap();
        assert_eq!(
            summary(Path::new("p.json"), &profile, &arches),
            "p.json: valid — 2 syscalls allowed, 2 rules, default SCMP_ACT_ERRNO (errno 1), \
             architectures SCMP_ARCH_X86_64 SCMP_ARCH_X86 SCMP_ARCH_X32"
        );
    }

    #[test]
    fn names_on_no_architecture_are_not_counted() {
        if Arch::native() != Arch::X86_64 {
            return;
        }
        let allowed: BTreeSet<String> = ["read", "socketcall"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        // minimal() writes any name libseccomp knows; socketcall exists only on ia32.
        let profile = Profile::minimal(&allowed, &[Arch::X86_64]).unwrap();
        let arches = profile.effective_architectures().unwrap();
        assert!(
            summary(Path::new("p.json"), &profile, &arches)
                .starts_with("p.json: valid — 1 syscalls allowed, "),
        );
    }

    #[test]
    fn invalid_profiles_exit_with_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.json");
        let profile = Profile {
            architectures: vec!["SCMP_ARCH_ARM64".to_owned()],
            ..Profile::default()
        };
        std::fs::write(&file, profile.to_json()).unwrap();
        let err = run(ValidateArgs { file: file.clone() }).unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);
        let message = format!("{err:#}");
        assert!(
            message.contains("bad.json is not a profile runc would apply"),
            "{message}"
        );
        assert!(message.contains("SCMP_ARCH_AARCH64"), "{message}");

        let err = run(ValidateArgs {
            file: dir.path().join("missing.json"),
        })
        .unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);
    }

    #[test]
    fn valid_profile_exits_ok() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker.json");
        std::fs::write(
            &file,
            include_str!("../../tests/fixtures/docker-moby-v20.10.24-default.json"),
        )
        .unwrap();
        assert_eq!(run(ValidateArgs { file }).unwrap(), exit::OK);
    }
}
