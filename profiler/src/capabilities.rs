//! From recorded capability checks to a recommendation: which capabilities a workload used with a
//! grant (the add list after `--cap-drop=ALL`), which it was denied, and the same advice in the forms
//! people paste — `docker run` flags, a compose service fragment, a Kubernetes `securityContext` —
//! plus what the same run says about running as root and about no-new-privileges.
//!
//! Pure: it reads a [`crate::tracer::Recording`]'s numbers and formats; it does not record anything.

use serde::Serialize;

use std::path::Path;

use crate::{hardening::Hardening, output::formats, tracer::CapCheck};

/// Capability names by bit number (include/uapi/linux/capability.h; Linux 6.18: 0 ..= 40). Also
/// what `profile` checks Docker's `includes.caps` against.
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The 14 capabilities Docker (20.10 … 28) gives a container by default (oci/caps/defaults.go).
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub fn name(cap: u32) -> String {
    NAMES
        .get(cap as usize)
        .map_or_else(|| format!("CAP_{cap}"), |name| (*name).to_owned())
}

/// The report's `capabilities` section.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Capabilities {
    /// Capabilities checked and granted at least once: the recommended add list.
    pub used: Vec<String>,
    /// Capabilities checked and denied at least once (the workload coped without them, or failed).
    pub denied: Vec<String>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub granted: u64,
    pub denied: u64,
    /// CAP_SYS_ADMIN checks the kernel makes while accounting memory (NOAUDIT; never a need).
    #[serde(skip_serializing_if = "is_zero")]
    pub memory_accounting_probes: u64,
    /// Checks of credentials other than the task's own: the kernel acting with overridden
    /// credentials (e.g. overlayfs with the mounter's). Not a need of the workload.
    #[serde(skip_serializing_if = "is_zero")]
    pub kernel_override_checks: u64,
    pub first_comm: String,
    /// The syscall the first check happened in, when known.
    pub first_syscall: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Capabilities {
    /// `name_syscall` names a native syscall number (libseccomp).
    pub fn from_checks(
        checks: &[CapCheck],
        name_syscall: impl Fn(u32) -> Option<String>,
    ) -> Capabilities {
        let mut used = Vec::new();
        let mut denied = Vec::new();
        let mut out = Vec::new();
        for check in checks {
            let cap = name(check.cap);
            if check.granted > 0 {
                used.push(cap.clone());
            }
            if check.denied > 0 {
                denied.push(cap.clone());
            }
            out.push(Check {
                name: cap,
                granted: check.granted,
                denied: check.denied,
                memory_accounting_probes: check.vm_accounting_probes,
                kernel_override_checks: check.other_cred,
                first_comm: check.first_comm.clone(),
                first_syscall: check.first_syscall.and_then(&name_syscall),
            });
        }
        used.sort();
        denied.sort();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Capabilities {
            used,
            denied,
            checks: out,
        }
    }

    fn was_checked(&self, cap: &str) -> bool {
        self.checks
            .iter()
            .any(|check| check.name == cap && check.granted + check.denied > 0)
    }
}

/// What the recording says beyond syscalls, in the forms people paste.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Recommendation {
    /// `--cap-add` list (names without the CAP_ prefix, as Docker and Kubernetes write them).
    pub cap_add: Vec<String>,
    /// Docker's default capabilities the workload did not use.
    pub docker_defaults_not_needed: Vec<String>,
    /// The `docker run` options of the whole recommendation, one argument each (what a script
    /// passes on): capabilities, seccomp, no-new-privileges, and for a recorded container the
    /// read-only root filesystem, its tmpfs mounts and volumes, and the user.
    pub docker_args: Vec<String>,
    pub docker_run: String,
    /// A compose service fragment (YAML).
    pub compose: String,
    /// A Kubernetes container `securityContext` (YAML).
    pub kubernetes: String,
    /// Some gated process ran with real uid 0: suggest a non-root `USER`.
    pub ran_as_root: bool,
    /// No setuid/setgid/file-capability binary was exec'd, so no-new-privileges (and
    /// `allowPrivilegeEscalation: false`) takes nothing away from this workload.
    pub no_new_privileges_safe: bool,
    /// Where the recording cannot see a need (design.md §8), said when it applies.
    pub blind_spots: Vec<String>,
}

pub fn short(cap: &str) -> &str {
    cap.strip_prefix("CAP_").unwrap_or(cap)
}

/// `seccompProfile.localhostProfile` for the profile at `profile_path`, with where the file must
/// be: relative to the kubelet's seccomp directory, `/var/lib/kubelet/seccomp`. A manifest
/// (`.yaml`) is installed there by the security-profiles-operator as `operator/<name>.json`; a
/// JSON profile is copied there by hand.
fn localhost_profile(profile_path: &str) -> String {
    let path = Path::new(profile_path);
    if formats::is_manifest_path(path) {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        format!(
            "{}  # installed by the security-profiles-operator after kubectl apply -f {profile_path}",
            formats::operator_localhost_profile(&formats::k8s_name(&stem))
        )
    } else {
        let file_name = path.file_name().map_or_else(
            || profile_path.to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
        format!(
            "profiles/{file_name}  # copy it to /var/lib/kubelet/seccomp/profiles/ on every node"
        )
    }
}

/// Builds the recommendation. `profile_path` is how the profile will be referred to; `syscalls` is
/// the set of syscall names recorded (to tell which blind spots apply).
pub fn recommend(
    caps: &Capabilities,
    profile_path: &str,
    ran_as_root: bool,
    secure_exec_seen: bool,
    syscalls: &std::collections::BTreeSet<String>,
) -> Recommendation {
    let cap_add: Vec<String> = caps.used.iter().map(|cap| short(cap).to_owned()).collect();
    let docker_defaults_not_needed = DOCKER_DEFAULT
        .iter()
        .filter(|cap| !caps.used.iter().any(|used| used == *cap))
        .map(|cap| short(cap).to_owned())
        .collect();
    let no_new_privileges_safe = !secure_exec_seen;
    let mut blind_spots = Vec::new();
    let touched_files = [
        "openat",
        "open",
        "creat",
        "unlinkat",
        "renameat2",
        "fchownat",
        "fchmodat",
        "mkdirat",
    ]
    .iter()
    .any(|name| syscalls.contains(*name));
    let dac = ["CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER"];
    if ran_as_root && touched_files && !dac.iter().any(|cap| caps.was_checked(cap)) {
        blind_spots.push(
            "CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER are only checked when ordinary file \
             permissions fail: this run never hit such a file, so a root process touching files owned by \
             others (e.g. a volume with other owners) may still need them"
                .to_owned(),
        );
    }
    if syscalls.contains("bind") && !caps.was_checked("CAP_NET_BIND_SERVICE") {
        blind_spots.push(
            "the workload bound sockets but CAP_NET_BIND_SERVICE was never checked: Docker ≥ 20.10 sets \
             net.ipv4.ip_unprivileged_port_start=0 in a container's own network namespace, so binding a \
             port below 1024 needs no capability there; with --network host or on another runtime it may"
                .to_owned(),
        );
    }
    let mut recommendation = Recommendation {
        cap_add,
        docker_defaults_not_needed,
        docker_args: Vec::new(),
        docker_run: String::new(),
        compose: String::new(),
        kubernetes: String::new(),
        ran_as_root,
        no_new_privileges_safe,
        blind_spots,
    };
    recommendation.render(profile_path, None);
    recommendation
}

impl Recommendation {
    /// Writes the three forms (`docker run`, compose, Kubernetes) of the capability advice, with
    /// the read-only root filesystem, its mounts and the user of `hardening` when there is one:
    /// one recommendation, whole.
    pub fn render(&mut self, profile_path: &str, hardening: Option<&Hardening>) {
        // Docker reads JSON only: a manifest's hints name the JSON `merge FILE.yaml -o FILE.json`
        // makes.
        let written = profile_path;
        let manifest = Path::new(profile_path);
        let json;
        let profile_path = if formats::is_manifest_path(manifest) {
            json = manifest.with_extension("json").display().to_string();
            json.as_str()
        } else {
            profile_path
        };
        let nnp = self.no_new_privileges_safe;
        let mut args = vec!["--cap-drop=ALL".to_owned()];
        args.extend(self.cap_add.iter().map(|cap| format!("--cap-add={cap}")));
        args.push("--security-opt".to_owned());
        args.push(format!("seccomp={profile_path}"));
        if nnp {
            args.push("--security-opt".to_owned());
            args.push("no-new-privileges".to_owned());
        }
        args.extend(hardening.map(Hardening::docker_args).unwrap_or_default());
        let docker_run = format!("docker run {} IMAGE", args.join(" "));

        let list = |items: &[String]| format!("[{}]", items.join(", "));
        let mut security_opt = vec![format!("\"seccomp={profile_path}\"")];
        if nnp {
            security_opt.push("\"no-new-privileges:true\"".to_owned());
        }
        let mut compose = String::from("cap_drop: [ALL]\n");
        if !self.cap_add.is_empty() {
            compose.push_str(&format!("cap_add: {}\n", list(&self.cap_add)));
        }
        compose.push_str(&format!("security_opt: {}\n", list(&security_opt)));
        compose.push_str(&hardening.map(Hardening::compose).unwrap_or_default());

        let mut kubernetes = String::from("securityContext:\n  capabilities:\n    drop: [ALL]\n");
        if !self.cap_add.is_empty() {
            kubernetes.push_str(&format!("    add: {}\n", list(&self.cap_add)));
        }
        if nnp {
            kubernetes.push_str("  allowPrivilegeEscalation: false\n");
        }
        if !self.ran_as_root {
            kubernetes.push_str("  runAsNonRoot: true\n");
        }
        kubernetes.push_str(
            &hardening
                .map(Hardening::kubernetes_security_context)
                .unwrap_or_default(),
        );
        kubernetes.push_str(&format!(
            "  seccompProfile:\n    type: Localhost\n    localhostProfile: {}\n",
            localhost_profile(written)
        ));
        kubernetes.push_str(
            &hardening
                .map(Hardening::kubernetes_volumes)
                .unwrap_or_default(),
        );
        self.docker_args = args;
        self.docker_run = docker_run;
        self.compose = compose;
        self.kubernetes = kubernetes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cap: u32, granted: u64, denied: u64) -> CapCheck {
        CapCheck {
            cap,
            granted,
            denied,
            vm_accounting_probes: 0,
            other_cred: 0,
            first_comm: "nginx".into(),
            first_syscall: Some(49),
        }
    }

    #[test]
    fn names_cover_the_kernel_list() {
        assert_eq!(name(0), "CAP_CHOWN");
        assert_eq!(name(10), "CAP_NET_BIND_SERVICE");
        assert_eq!(name(21), "CAP_SYS_ADMIN");
        assert_eq!(name(40), "CAP_CHECKPOINT_RESTORE");
        assert_eq!(name(41), "CAP_41");
        for default in DOCKER_DEFAULT {
            assert!(NAMES.contains(&default), "{default}");
        }
    }

    #[test]
    fn used_is_exactly_the_granted_ones() {
        let caps = Capabilities::from_checks(
            &[
                check(10, 1, 0),
                check(7, 2, 0),
                check(21, 0, 3),
                CapCheck {
                    vm_accounting_probes: 50,
                    granted: 0,
                    ..check(21, 0, 0)
                },
            ],
            |nr| (nr == 49).then(|| "bind".to_owned()),
        );
        assert_eq!(caps.used, ["CAP_NET_BIND_SERVICE", "CAP_SETUID"]);
        assert_eq!(caps.denied, ["CAP_SYS_ADMIN"]);
        assert_eq!(caps.checks[0].first_syscall.as_deref(), Some("bind"));
    }

    #[test]
    fn recommendation_forms() {
        let caps =
            Capabilities::from_checks(&[check(10, 1, 0), check(6, 1, 0), check(7, 1, 0)], |_| None);
        let syscalls = ["bind", "openat"].iter().map(|s| (*s).to_owned()).collect();
        let rec = recommend(&caps, "profiles/web.json", true, false, &syscalls);
        assert_eq!(rec.cap_add, ["NET_BIND_SERVICE", "SETGID", "SETUID"]);
        assert_eq!(
            rec.docker_run,
            "docker run --cap-drop=ALL --cap-add=NET_BIND_SERVICE --cap-add=SETGID --cap-add=SETUID \
             --security-opt seccomp=profiles/web.json --security-opt no-new-privileges IMAGE"
        );
        assert_eq!(
            rec.compose,
            "cap_drop: [ALL]\ncap_add: [NET_BIND_SERVICE, SETGID, SETUID]\nsecurity_opt: [\"seccomp=profiles/web.json\", \"no-new-privileges:true\"]\n"
        );
        assert!(rec.kubernetes.contains(
            "    add: [NET_BIND_SERVICE, SETGID, SETUID]\n  allowPrivilegeEscalation: false\n"
        ));
        assert!(!rec.kubernetes.contains("runAsNonRoot"), "it ran as root");
        assert!(
            rec.kubernetes
                .contains("localhostProfile: profiles/web.json")
        );
        assert_eq!(rec.docker_defaults_not_needed.len(), 11);
        assert_eq!(
            rec.blind_spots.len(),
            1,
            "DAC applies (root, files touched, no DAC check); bind was checked"
        );
    }

    #[test]
    fn setuid_exec_means_no_nnp() {
        let caps = Capabilities::from_checks(&[], |_| None);
        let rec = recommend(&caps, "p.json", false, true, &Default::default());
        assert!(!rec.no_new_privileges_safe);
        assert!(!rec.docker_run.contains("no-new-privileges"));
        assert!(!rec.kubernetes.contains("allowPrivilegeEscalation"));
        assert!(rec.kubernetes.contains("runAsNonRoot: true"));
        assert_eq!(
            rec.docker_run,
            "docker run --cap-drop=ALL --security-opt seccomp=p.json IMAGE"
        );
    }

    #[test]
    fn a_manifest_is_named_where_the_operator_installs_it() {
        let caps = Capabilities::from_checks(&[], |_| None);
        let rec = recommend(
            &caps,
            "out/My_App.v2.yaml",
            false,
            false,
            &Default::default(),
        );
        assert!(
            rec.kubernetes
                .contains("localhostProfile: operator/my-app.v2.json  # installed by the"),
            "{}",
            rec.kubernetes
        );
        // Docker cannot read the manifest: its hints name the JSON `merge` makes of it.
        assert!(
            rec.docker_run.contains("seccomp=out/My_App.v2.json "),
            "{}",
            rec.docker_run
        );
        assert!(!rec.compose.contains(".yaml"), "{}", rec.compose);
    }
}
