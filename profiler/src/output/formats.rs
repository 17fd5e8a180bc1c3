//! The profile in the three forms `record --format` writes. `docker` is Docker's profile JSON
//! (also read by Podman, and by the kubelet for `seccompProfile: Localhost`); `oci` is the bare
//! runtime-spec `LinuxSeccomp` object (no Docker extras such as a rule's `comment`), for a
//! `config.json`'s `linux.seccomp`; `k8s` is a security-profiles-operator `SeccompProfile` v1
//! manifest for `kubectl apply`, valid against the operator's CRD with unknown fields treated as
//! errors (`tests/schemas/`). Deterministic text in every form; every form reads back through
//! [`crate::profile::Profile::from_text`]. It renders; it does not decide content.
//!
//! What the CRD cannot say is refused, never dropped: a default errno other than EPERM (the CRD
//! has no `defaultErrnoRet`; runtimes answer `SCMP_ACT_ERRNO` without one with EPERM), Docker's
//! `archMap` and `includes`/`excludes`, and argument values above the CRD's int64.

use std::{fmt::Write as _, path::Path};

use crate::{
    cli::Format,
    profile::{Profile, SPO_GROUP},
};

/// The API version `--format k8s` writes: v1, served and stored since the operator's v1.0.0.
pub const K8S_API_VERSION: &str = "v1";

/// Where the operator installs a `SeccompProfile`, relative to the kubelet's seccomp directory
/// (`/var/lib/kubelet/seccomp`): `operator/<name>.json` (cluster-scoped since the operator's
/// v0.9.0; earlier namespaced releases used `operator/<namespace>/<name>.json`). This is what a
/// pod's `seccompProfile.localhostProfile` names, and what the object's `status.localhostProfile`
/// says once installed.
pub fn operator_localhost_profile(name: &str) -> String {
    if name.ends_with(".json") {
        format!("operator/{name}")
    } else {
        format!("operator/{name}.json")
    }
}

/// Whether `path` names a Kubernetes manifest (`.yaml`/`.yml`), which `record` only writes with
/// `--format k8s`: what the summary's and recommendation's hints go by.
pub fn is_manifest_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"))
}

/// A profile `--format k8s` cannot express as the operator's CRD defines it; the user chose the
/// format, so it is invalid input (exit 2, as an [`crate::exit::InputError`]).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(
        "the profile answers unlisted calls with errno {0}, which a SeccompProfile cannot say: the \
         CRD has no defaultErrnoRet, and runtimes answer SCMP_ACT_ERRNO without one with EPERM (1); \
         write it with --format docker or oci instead"
    )]
    DefaultErrno(u32),
    #[error(
        "the profile uses Docker's {0}, which a SeccompProfile cannot say; write it with \
         --format docker instead"
    )]
    DockerOnly(&'static str),
    #[error(
        "syscalls[{rule}]: argument value {value} is above the CRD's int64 maximum; write it with \
         --format docker or oci instead"
    )]
    ArgValue { rule: usize, value: u64 },
}

/// The profile as `format`. `name` becomes the Kubernetes object's name (see [`k8s_name`]).
pub fn render(profile: &Profile, format: Format, name: &str) -> Result<String, FormatError> {
    Ok(match format {
        Format::Docker => profile.to_json(),
        Format::Oci => {
            let mut oci = profile.clone();
            oci.arch_map = None;
            for rule in &mut oci.syscalls {
                rule.comment = None;
                rule.includes = None;
                rule.excludes = None;
            }
            oci.to_json()
        }
        Format::K8s => k8s(profile, name)?,
    })
}

/// A DNS-1123 subdomain (what a Kubernetes object's name must be) from a file or container name:
/// lowercase; each dot-separated label of `[a-z0-9-]` that starts and ends alphanumeric (other
/// characters become '-', empty labels go); at most 253 characters.
pub fn k8s_name(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let labels: Vec<String> = lower
        .split('.')
        .map(|label| {
            let label: String = label
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            label.trim_matches('-').to_owned()
        })
        .filter(|label| !label.is_empty())
        .collect();
    let mut name = labels.join(".");
    name.truncate(253);
    let name = name.trim_end_matches(['-', '.']);
    if name.is_empty() {
        "seccomp-profile".to_owned()
    } else {
        name.to_owned()
    }
}

/// A YAML scalar: plain when it cannot be read as anything but this string, else JSON-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        text.to_owned()
    } else {
        serde_json::Value::from(text).to_string()
    }
}

/// security-profiles-operator.x-k8s.io/v1 SeccompProfile: its spec mirrors the OCI fields, less
/// `defaultErrnoRet`.
fn k8s(profile: &Profile, name: &str) -> Result<String, FormatError> {
    if let Some(errno) = profile.default_errno()
        && errno != libc::EPERM as u32
    {
        return Err(FormatError::DefaultErrno(errno));
    }
    if profile.arch_map.is_some() {
        return Err(FormatError::DockerOnly("archMap"));
    }
    if profile
        .syscalls
        .iter()
        .any(|rule| rule.includes.is_some() || rule.excludes.is_some())
    {
        return Err(FormatError::DockerOnly("includes/excludes"));
    }
    let mut out = String::new();
    let _ = writeln!(out, "apiVersion: {SPO_GROUP}/{K8S_API_VERSION}");
    let _ = writeln!(out, "kind: SeccompProfile");
    let _ = writeln!(out, "metadata:\n  name: {}", scalar(&k8s_name(name)));
    let _ = writeln!(
        out,
        "spec:\n  defaultAction: {}",
        scalar(profile.default_action.as_str())
    );
    let list = |out: &mut String, key: &str, items: &[String]| {
        if !items.is_empty() {
            let _ = writeln!(out, "  {key}:");
            for item in items {
                let _ = writeln!(out, "  - {}", scalar(item));
            }
        }
    };
    list(&mut out, "architectures", &profile.architectures);
    list(&mut out, "flags", &profile.flags);
    if let Some(path) = &profile.listener_path {
        let _ = writeln!(out, "  listenerPath: {}", scalar(path));
    }
    if let Some(metadata) = &profile.listener_metadata {
        let _ = writeln!(out, "  listenerMetadata: {}", scalar(metadata));
    }
    if profile.syscalls.is_empty() {
        return Ok(out);
    }
    let _ = writeln!(out, "  syscalls:");
    for (index, rule) in profile.syscalls.iter().enumerate() {
        let _ = writeln!(out, "  - action: {}", scalar(rule.action.as_str()));
        if let Some(errno) = rule.errno_ret {
            let _ = writeln!(out, "    errnoRet: {errno}");
        }
        if !rule.args.is_empty() {
            let _ = writeln!(out, "    args:");
            for arg in &rule.args {
                for value in [arg.value, arg.value_two] {
                    if i64::try_from(value).is_err() {
                        return Err(FormatError::ArgValue { rule: index, value });
                    }
                }
                let _ = writeln!(
                    out,
                    "    - index: {}\n      value: {}\n      valueTwo: {}\n      op: {}",
                    arg.index,
                    arg.value,
                    arg.value_two,
                    scalar(arg.op.as_str())
                );
            }
        }
        let _ = writeln!(out, "    names:");
        for syscall in &rule.names {
            let _ = writeln!(out, "    - {}", scalar(syscall));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::{
        profile::{Action, ArgCond, Op, Rule},
        syscalls::Arch,
    };

    fn sample() -> Profile {
        let allowed: BTreeSet<String> = ["read", "write"].iter().map(|s| (*s).to_owned()).collect();
        Profile::minimal(&allowed, &[Arch::X86_64]).expect("minimal")
    }

    /// A profile with everything the CRD has a field for.
    fn full() -> Profile {
        let mut profile = sample();
        profile.flags = vec!["SECCOMP_FILTER_FLAG_LOG".to_owned()];
        profile.syscalls.push(Rule {
            names: vec!["personality".to_owned()],
            action: Action::Allow,
            args: vec![ArgCond {
                index: 0,
                value: 0xffff_ffff,
                value_two: 8,
                op: Op::MaskedEqual,
            }],
            ..Rule::default()
        });
        profile
    }

    #[test]
    fn docker_is_the_profile_json() {
        assert_eq!(
            render(&sample(), Format::Docker, "x").unwrap(),
            sample().to_json()
        );
    }

    #[test]
    fn oci_drops_docker_extras() {
        let oci = render(&sample(), Format::Oci, "x").unwrap();
        assert!(!oci.contains("comment"), "{oci}");
        let back: serde_json::Value = serde_json::from_str(&oci).expect("json");
        assert_eq!(
            back["syscalls"][0]["names"],
            serde_json::json!(["read", "write"])
        );
        assert_eq!(back["syscalls"][1]["errnoRet"], 38);
    }

    #[test]
    fn k8s_manifest() {
        let yaml = render(&sample(), Format::K8s, "My_Web.json").unwrap();
        assert!(yaml.starts_with(
            "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: my-web.json\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  architectures:\n  - SCMP_ARCH_X86_64\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names:\n    - read\n    - write\n  - action: SCMP_ACT_ERRNO\n    errnoRet: 38\n    names:\n"
        ), "{yaml}");
        assert!(!yaml.contains("defaultErrnoRet"), "{yaml}");
    }

    #[test]
    fn k8s_names_are_dns_1123_subdomains() {
        for (raw, name) in [
            ("My_Web", "my-web"),
            ("x..y", "x.y"),
            ("a.-b", "a.b"),
            ("App.V2_final", "app.v2-final"),
            ("-.web-.", "web"),
            ("__", "seccomp-profile"),
            ("", "seccomp-profile"),
            ("ünïcode", "n-code"),
        ] {
            assert_eq!(k8s_name(raw), name, "{raw:?}");
        }
        let long = k8s_name(&format!("{}.-{}", "a".repeat(252), "b".repeat(10)));
        assert_eq!(long, "a".repeat(252));
        // The regex the API server applies (k8s.io/apimachinery IsDNS1123Subdomain), by hand.
        for raw in [
            "My_Web",
            "x..y",
            "a.-b",
            "-.web-.",
            "Q.__.r",
            &"z.".repeat(200),
        ] {
            let name = k8s_name(raw);
            assert!(name.len() <= 253, "{raw:?}");
            for label in name.split('.') {
                assert!(!label.is_empty(), "{raw:?} → {name:?}");
                assert!(
                    label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{raw:?} → {name:?}"
                );
                assert!(
                    !label.starts_with('-') && !label.ends_with('-'),
                    "{raw:?} → {name:?}"
                );
            }
        }
    }

    #[test]
    fn k8s_refuses_what_the_crd_cannot_say() {
        let mut errno = sample();
        errno.default_errno_ret = Some(38);
        assert!(matches!(
            render(&errno, Format::K8s, "x"),
            Err(FormatError::DefaultErrno(38))
        ));
        // EPERM, written or not, is what the runtime answers without defaultErrnoRet.
        let mut eperm = sample();
        eperm.default_errno_ret = None;
        assert_eq!(
            render(&eperm, Format::K8s, "x").unwrap(),
            render(&sample(), Format::K8s, "x").unwrap()
        );
        let mut big = full();
        big.syscalls[2].args[0].value = u64::MAX;
        assert!(matches!(
            render(&big, Format::K8s, "x"),
            Err(FormatError::ArgValue { rule: 2, .. })
        ));
        let mut map = sample();
        map.architectures.clear();
        map.arch_map = Some(Vec::new());
        assert!(matches!(
            render(&map, Format::K8s, "x"),
            Err(FormatError::DockerOnly("archMap"))
        ));
    }

    #[test]
    fn every_format_reads_back() {
        for profile in [sample(), full()] {
            for format in [Format::Docker, Format::Oci, Format::K8s] {
                let text = render(&profile, format, "Round.Trip").unwrap();
                let back = Profile::from_text(&text, Path::new("out")).unwrap();
                let mut expected = profile.clone();
                if format != Format::Docker {
                    for rule in &mut expected.syscalls {
                        rule.comment = None;
                    }
                }
                if format == Format::K8s {
                    assert_eq!(back.default_errno(), expected.default_errno());
                    expected.default_errno_ret = None;
                }
                assert_eq!(back, expected, "{format:?}\n{text}");
                back.check().unwrap();
            }
        }
    }

    #[test]
    fn scalars_that_yaml_would_misread_are_quoted() {
        assert_eq!(scalar("read"), "read");
        assert_eq!(
            scalar("/var/run/security-profiles-operator/a.sock"),
            "\"/var/run/security-profiles-operator/a.sock\""
        );
        for text in ["123", "1.5", "true", "no", "", "a: b", "#x", "x y"] {
            let yaml = format!("v: {}\n", scalar(text));
            let back: std::collections::BTreeMap<String, String> =
                serde_yaml_ng::from_str(&yaml).unwrap();
            assert_eq!(back["v"], text, "{yaml}");
        }
    }
}
