//! The profile in the three forms `record --format` writes. `docker` is Docker's profile JSON
//! (also read by Podman, and by the kubelet for `seccompProfile: Localhost`); `oci` is the bare
//! runtime-spec `LinuxSeccomp` object (no Docker extras such as a rule's `comment`), for a
//! `config.json`'s `linux.seccomp`; `k8s` is a security-profiles-operator `SeccompProfile` manifest
//! for `kubectl apply`. Deterministic text in every form. It renders; it does not decide content.

use std::fmt::Write as _;

use crate::{cli::Format, profile::Profile};

/// The profile as `format`. `name` becomes the Kubernetes object's name.
pub fn render(profile: &Profile, format: Format, name: &str) -> String {
    match format {
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
        Format::K8s => k8s(profile, name),
    }
}

/// A DNS-1123 subdomain from a file or container name: lowercase alphanumerics, '-' and '.'.
pub fn k8s_name(raw: &str) -> String {
    let mut name: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    name.truncate(253);
    if name.is_empty() {
        "seccomp-profile".to_owned()
    } else {
        name
    }
}

/// security-profiles-operator.x-k8s.io/v1beta1 SeccompProfile (its spec mirrors the OCI fields).
fn k8s(profile: &Profile, name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "apiVersion: security-profiles-operator.x-k8s.io/v1beta1"
    );
    let _ = writeln!(out, "kind: SeccompProfile");
    let _ = writeln!(out, "metadata:\n  name: {}", k8s_name(name));
    let _ = writeln!(out, "spec:\n  defaultAction: {}", profile.default_action);
    if let Some(errno) = profile.default_errno_ret {
        let _ = writeln!(out, "  defaultErrnoRet: {errno}");
    }
    if !profile.architectures.is_empty() {
        let _ = writeln!(out, "  architectures:");
        for arch in &profile.architectures {
            let _ = writeln!(out, "  - {arch}");
        }
    }
    let _ = writeln!(out, "  syscalls:");
    for rule in &profile.syscalls {
        let _ = writeln!(out, "  - action: {}", rule.action);
        if let Some(errno) = rule.errno_ret {
            let _ = writeln!(out, "    errnoRet: {errno}");
        }
        if !rule.args.is_empty() {
            let _ = writeln!(out, "    args:");
            for arg in &rule.args {
                let _ = writeln!(
                    out,
                    "    - index: {}\n      value: {}\n      valueTwo: {}\n      op: {}",
                    arg.index, arg.value, arg.value_two, arg.op
                );
            }
        }
        let _ = writeln!(out, "    names:");
        for syscall in &rule.names {
            let _ = writeln!(out, "    - {syscall}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::syscalls::Arch;

    fn sample() -> Profile {
        let allowed: BTreeSet<String> = ["read", "write"].iter().map(|s| (*s).to_owned()).collect();
        Profile::minimal(&allowed, &[Arch::X86_64]).expect("minimal")
    }

    #[test]
    fn docker_is_the_profile_json() {
        assert_eq!(render(&sample(), Format::Docker, "x"), sample().to_json());
    }

    #[test]
    fn oci_drops_docker_extras() {
        let oci = render(&sample(), Format::Oci, "x");
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
        let yaml = render(&sample(), Format::K8s, "My_Web.json");
        assert!(yaml.starts_with(
            "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n  name: my-web.json\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  defaultErrnoRet: 1\n  architectures:\n  - SCMP_ARCH_X86_64\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names:\n    - read\n    - write\n  - action: SCMP_ACT_ERRNO\n    errnoRet: 38\n    names:\n"
        ), "{yaml}");
        assert_eq!(k8s_name("__"), "seccomp-profile");
    }
}
