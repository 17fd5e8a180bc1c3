//! The forms a profile is read in, all of which this tool writes or its users hold: Docker's
//! profile JSON and the bare OCI `LinuxSeccomp` object (`record --format docker|oci`), a whole OCI
//! runtime `config.json` (its `linux.seccomp`), and a security-profiles-operator `SeccompProfile`
//! manifest, v1 or v1beta1, in YAML (`record --format k8s`, `kubectl get sp NAME -o yaml`) or JSON.
//! [`Profile::from_text`] tells them apart by their content, never by the file name.
//!
//! Text that starts like JSON (`{`, `[`, `"`, a digit) is read with serde_json, anything else with
//! serde_yaml_ng; both report `FILE:LINE:COLUMN`. A manifest's `spec` is the profile (the CRD's
//! spec mirrors the OCI fields); the operator-only fields are judged here, not ignored:
//! `baseProfileName` is refused (the operator unions the base in the cluster, so the file alone is
//! not what runs), and `defaultErrnoRet`, which no version of the CRD defines and the API server
//! prunes, is refused unless it is EPERM (what the runtime returns without it).
//!
//! It only turns text into a [`Profile`]; what the profile means is `validate.rs`'s.

use std::path::Path;

use serde::{Deserialize, de::IgnoredAny};

use super::{EPERM, Profile, ProfileError};

/// The API group of the security-profiles-operator's `SeccompProfile`.
pub const SPO_GROUP: &str = "security-profiles-operator.x-k8s.io";

/// The versions of `SeccompProfile` read: v1 (stored since SPO v1.0.0) and v1beta1 (still served).
const SPO_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// The keys that say which form a document is; everything else is read afterwards.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Peek {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    oci_version: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Manifest<T> {
    spec: T,
}

/// The operator-only fields of a manifest's spec.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecExtras {
    #[serde(default)]
    base_profile_name: Option<String>,
}

#[derive(Deserialize)]
struct OciConfig {
    #[serde(default)]
    linux: Option<OciLinux>,
}

#[derive(Deserialize)]
struct OciLinux {
    #[serde(default)]
    seccomp: Option<Profile>,
}

/// Which form a document is, from its [`Peek`].
enum Form {
    Profile,
    Manifest,
    OciConfig,
}

/// The two syntaxes, each with its parser and positions.
#[derive(Clone, Copy)]
enum Syntax {
    Json,
    Yaml,
}

impl Syntax {
    fn of(text: &str) -> Syntax {
        match text.trim_start().chars().next() {
            Some('{' | '[' | '"') => Syntax::Json,
            Some(c) if c.is_ascii_digit() => Syntax::Json,
            _ => Syntax::Yaml,
        }
    }

    /// `text` as a `T`; a syntax error is [`ProfileError::Syntax`], any other
    /// [`ProfileError::Schema`], both at the position the parser names.
    fn parse<T: for<'de> Deserialize<'de>>(
        self,
        text: &str,
        origin: &Path,
    ) -> Result<T, ProfileError> {
        match self {
            Syntax::Json => {
                serde_json::from_str(text).map_err(|err| json_error(&err, text, origin))
            }
            Syntax::Yaml => {
                // A first pass that only checks the syntax, so that its errors are told apart.
                serde_yaml_ng::from_str::<IgnoredAny>(text)
                    .map_err(|err| yaml_error(&err, origin, true))?;
                serde_yaml_ng::from_str(text).map_err(|err| yaml_error(&err, origin, false))
            }
        }
    }
}

impl Profile {
    /// Reads a profile in any form this tool reads (see the module docs); `origin` names it in
    /// errors (`FILE:LINE:COLUMN: …`).
    pub fn from_text(text: &str, origin: &Path) -> Result<Profile, ProfileError> {
        if text.trim().is_empty() {
            return Err(ProfileError::Empty {
                path: origin.to_owned(),
            });
        }
        let syntax = Syntax::of(text);
        let form = match syntax {
            // Not an object (or a bad `kind`): the profile parser says what is wrong, as before.
            Syntax::Json => match serde_json::from_str::<Peek>(text) {
                Ok(peek) => form(&peek, origin)?,
                Err(_) => return Profile::from_json(text, origin),
            },
            Syntax::Yaml => match syntax.parse::<Peek>(text, origin) {
                Ok(peek) => form(&peek, origin)?,
                Err(ProfileError::Schema {
                    path, line, column, ..
                }) => {
                    return Err(ProfileError::Schema {
                        path,
                        line,
                        column,
                        message: "the top level must be a mapping, with a string `kind` and \
                                  `apiVersion` if any"
                            .to_owned(),
                    });
                }
                Err(err) => return Err(err),
            },
        };
        match form {
            Form::Profile => match syntax {
                Syntax::Json => Profile::from_json(text, origin),
                Syntax::Yaml => syntax.parse(text, origin),
            },
            Form::OciConfig => syntax
                .parse::<OciConfig>(text, origin)?
                .linux
                .and_then(|linux| linux.seccomp)
                .ok_or_else(|| ProfileError::Form {
                    path: origin.to_owned(),
                    message: "an OCI config.json without linux.seccomp: the container runs \
                              without a seccomp filter, so there is no profile to read; pass a \
                              config.json that has one, or the profile file itself"
                        .to_owned(),
                }),
            Form::Manifest => {
                let extras = syntax.parse::<Manifest<SpecExtras>>(text, origin)?.spec;
                if let Some(base) = extras.base_profile_name {
                    return Err(ProfileError::Form {
                        path: origin.to_owned(),
                        message: format!(
                            "spec.baseProfileName is {base:?}: the operator unions that base \
                             profile into this one in the cluster, so this file alone is not the \
                             profile that runs; pass the profile the operator installed \
                             (/var/lib/kubelet/seccomp/operator/<name>.json on a node), or copy \
                             the base's rules in and remove baseProfileName"
                        ),
                    });
                }
                let mut profile = syntax.parse::<Manifest<Profile>>(text, origin)?.spec;
                match profile.default_errno_ret.take() {
                    None | Some(EPERM) => Ok(profile),
                    Some(errno) => Err(ProfileError::Form {
                        path: origin.to_owned(),
                        message: format!(
                            "spec.defaultErrnoRet is {errno}, but the SeccompProfile CRD has no \
                             such field: the API server drops it and the runtime answers unlisted \
                             calls with EPERM (1); remove it, or use defaultErrnoRet in a Docker \
                             or OCI profile instead"
                        ),
                    }),
                }
            }
        }
    }
}

/// Whether `text` is a profile in Docker/OCI JSON itself (not a manifest, a config.json or YAML):
/// the one form that `check --update` can rewrite without changing what the file is.
pub fn is_profile_json(text: &str) -> bool {
    matches!(Syntax::of(text), Syntax::Json)
        && serde_json::from_str::<Peek>(text)
            .is_ok_and(|peek| peek.kind.is_none() && peek.oci_version.is_none())
}

/// Which form `peek` is; a `SeccompProfile` of an API version this tool does not read is an error.
fn form(peek: &Peek, origin: &Path) -> Result<Form, ProfileError> {
    if peek.kind.as_deref() == Some("SeccompProfile") {
        let version = (peek.api_version.as_deref())
            .and_then(|api| api.strip_prefix(SPO_GROUP))
            .and_then(|version| version.strip_prefix('/'));
        return match version {
            Some(version) if SPO_VERSIONS.contains(&version) => Ok(Form::Manifest),
            _ => Err(ProfileError::Form {
                path: origin.to_owned(),
                message: format!(
                    "a SeccompProfile of apiVersion {:?}, which this tool does not read; write {}",
                    peek.api_version.as_deref().unwrap_or(""),
                    SPO_VERSIONS
                        .map(|v| format!("{SPO_GROUP}/{v}"))
                        .join(" or ")
                ),
            }),
        };
    }
    if let Some(kind) = &peek.kind {
        return Err(ProfileError::Form {
            path: origin.to_owned(),
            message: format!(
                "a Kubernetes object of kind {kind:?}, not a seccomp profile; pass Docker/OCI \
                 profile JSON, an OCI config.json or a SeccompProfile manifest"
            ),
        });
    }
    Ok(if peek.oci_version.is_some() {
        Form::OciConfig
    } else {
        Form::Profile
    })
}

/// A serde_json error as a [`ProfileError`] at its position.
pub(super) fn json_error(err: &serde_json::Error, text: &str, origin: &Path) -> ProfileError {
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
            syntax: "JSON",
            line,
            column,
            message,
        },
    }
}

/// A serde_yaml_ng error as a [`ProfileError`]: [`ProfileError::Syntax`] when `syntax` (the
/// syntax-only pass failed), else [`ProfileError::Schema`].
fn yaml_error(err: &serde_yaml_ng::Error, origin: &Path, syntax: bool) -> ProfileError {
    // Without a position (rare: an error about the document as a whole) it is the first line.
    let (line, column) = err.location().map_or((1, 1), |at| (at.line(), at.column()));
    let full = err.to_string();
    let message = full.replacen(&format!(" at line {line} column {column}"), "", 1);
    let path = origin.to_owned();
    if syntax {
        ProfileError::Syntax {
            path,
            syntax: "YAML",
            line,
            column,
            message,
        }
    } else {
        ProfileError::Schema {
            path,
            line,
            column,
            message,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::profile::Action;

    fn read(text: &str) -> Result<Profile, ProfileError> {
        Profile::from_text(text, Path::new("in.yaml"))
    }

    const SPEC: &str = "  defaultAction: SCMP_ACT_ERRNO
  architectures: [SCMP_ARCH_X86_64]
  syscalls:
  - action: SCMP_ACT_ALLOW
    names: [read, write]
  - action: SCMP_ACT_ERRNO
    errnoRet: 38
    names: [clone3]
";

    fn manifest(version: &str, extra: &str) -> String {
        format!(
            "apiVersion: {SPO_GROUP}/{version}\nkind: SeccompProfile\nmetadata:\n  name: web\n  \
             namespace: default\nspec:\n  state: Enabled\n{extra}{SPEC}status:\n  status: Installed\n"
        )
    }

    #[test]
    fn manifests_of_both_versions_are_their_spec() {
        let plain = Profile::from_json(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
            Path::new("p.json"),
        )
        .unwrap();
        for version in SPO_VERSIONS {
            assert_eq!(read(&manifest(version, "")).unwrap(), plain, "{version}");
        }
        // `kubectl get sp web -o json` is a manifest too.
        let json = format!(
            r#"{{"apiVersion":"{SPO_GROUP}/v1","kind":"SeccompProfile","metadata":{{"name":"web"}},
                "spec":{}}}"#,
            plain.to_json()
        );
        assert_eq!(read(&json).unwrap(), plain);
        // A plain profile in YAML, and an OCI config.json's linux.seccomp.
        assert_eq!(
            read(SPEC.replace("\n  ", "\n").trim_start()).unwrap(),
            plain
        );
        let config = format!(
            r#"{{"ociVersion":"1.0.2","process":{{"args":["sh"]}},"linux":{{"seccomp":{}}}}}"#,
            plain.to_json()
        );
        assert_eq!(read(&config).unwrap(), plain);
    }

    #[test]
    fn default_errno_ret_in_a_manifest_is_what_the_cluster_does() {
        // What this tool wrote before: the API server prunes it; EPERM is what runs anyway.
        let eperm = read(&manifest("v1beta1", "  defaultErrnoRet: 1\n")).unwrap();
        assert_eq!(eperm.default_errno_ret, None);
        assert_eq!(eperm.default_errno(), Some(1));
        let err = read(&manifest("v1", "  defaultErrnoRet: 38\n")).unwrap_err();
        assert!(matches!(err, ProfileError::Form { .. }), "{err:?}");
        assert!(err.to_string().contains("the API server drops it"), "{err}");
    }

    #[test]
    fn what_is_not_a_usable_profile_is_refused() {
        let base = read(&manifest("v1", "  baseProfileName: runc-v1.1.5\n")).unwrap_err();
        assert!(base.to_string().contains("baseProfileName"), "{base}");
        let alpha = read(&manifest("v1alpha1", "")).unwrap_err();
        assert!(alpha.to_string().contains("apiVersion"), "{alpha}");
        let pod = read("apiVersion: v1\nkind: Pod\nspec: {}\n").unwrap_err();
        assert!(pod.to_string().contains("kind \"Pod\""), "{pod}");
        let config = read(r#"{"ociVersion":"1.0.2","linux":{}}"#).unwrap_err();
        assert!(
            config.to_string().contains("without linux.seccomp"),
            "{config}"
        );
    }

    #[test]
    fn only_profile_json_is_profile_json() {
        assert!(is_profile_json(r#" {"defaultAction":"SCMP_ACT_ERRNO"}"#));
        assert!(!is_profile_json(&manifest("v1", "")));
        assert!(!is_profile_json(SPEC.replace("\n  ", "\n").trim_start()));
        assert!(!is_profile_json(r#"{"kind":"SeccompProfile","spec":{}}"#));
        assert!(!is_profile_json(
            r#"{"ociVersion":"1.0.2","linux":{"seccomp":{}}}"#
        ));
    }

    #[test]
    fn yaml_errors_name_file_line_column() {
        let err =
            read(&manifest("v1", "").replace("names: [clone3]", "names: [clone3")).unwrap_err();
        assert!(
            matches!(err, ProfileError::Syntax { syntax: "YAML", .. }),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("in.yaml:"), "{err}");
        assert!(err.to_string().contains("malformed YAML"), "{err}");

        let err = read(&manifest("v1", "").replace("errnoRet: 38", "errnoRet: many")).unwrap_err();
        let ProfileError::Schema { line, .. } = err else {
            panic!("{err:?}");
        };
        assert_eq!(line, 14, "the line of errnoRet");

        let err = read("spec: [\n").unwrap_err();
        assert!(err.to_string().starts_with("in.yaml:"), "{err}");
        for text in ["just words", "- a\n- b\n"] {
            let err = read(text).unwrap_err().to_string();
            assert!(
                err.contains("the top level must be a mapping"),
                "{text}: {err}"
            );
        }
        let err = read("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(matches!(err, ProfileError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn yaml_aliases_cannot_blow_up() {
        // The billion laughs (10^10 names) ends at once, with an error.
        let mut text = "a: &a [x, x, x, x, x, x, x, x, x]\n".to_owned();
        for level in 0..9 {
            let prev = (b'a' + level) as char;
            let next = (b'b' + level) as char;
            text.push_str(&format!("{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let started = std::time::Instant::now();
        text.push_str(
            "defaultAction: SCMP_ACT_ERRNO\nsyscalls:\n- action: SCMP_ACT_ALLOW\n  names: *j\n",
        );
        // Typed reading refuses the nested lists at their first item; nothing is expanded.
        let err = read(&text).unwrap_err().to_string();
        assert!(err.contains("invalid type: sequence"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(
            read("defaultAction: SCMP_ACT_ERRNO\nsyscalls:\n- names: [read]\n  action: SCMP_ACT_ALLOW\n")
                .unwrap()
                .syscalls[0]
                .action,
            Action::Allow
        );
    }
}
