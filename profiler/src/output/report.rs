//! The `--report` JSON: per-syscall counts and first command name, plus the context of the run
//! (kernel, arch, command, exit status, whether it was cut short, what could make it incomplete).
//! Unlike the profile, a report describes one run and may differ between runs; it is still written
//! with sorted entries so two reports diff readably.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: Tool,
    pub run: RunContext,
    /// Sorted by name, then architecture.
    pub syscalls: Vec<SyscallEntry>,
    /// Syscalls libseccomp cannot name (newer than its tables): not in the profile.
    pub unnamed_syscalls: Vec<UnnamedEntry>,
    /// Allowed although not seen, because whether they happen is a matter of timing.
    pub implied_syscalls: Vec<ImpliedEntry>,
    /// The distinct argument values of `socket`, `clone` and `personality`, by number and name
    /// (docs/design.md §16), with or without `--args`.
    pub arguments: crate::arguments::Observed,
    /// `--args`: which syscalls the profile allows only for those values. None without `--args`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argument_rules: Option<ArgumentRules>,
    /// The runtime that installed the filter, its no-new-privileges mode, and the runtimes and
    /// modes the profile is made for (`--runtimes`, `--nnp`); absent when no filter install
    /// opened the gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<crate::runtimes::RuntimeReport>,
    pub total_syscalls: u64,
    /// Capability checks (None when the kernel cannot trace them: `cap_capable` needs Linux ≥ 6.14).
    pub capabilities: Option<crate::capabilities::Capabilities>,
    pub recommendation: Option<crate::capabilities::Recommendation>,
    /// Read-only root filesystem, its mounts, and the user (recorded containers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardening: Option<crate::hardening::Hardening>,
    /// Anything that makes this recording less than complete; empty when it is complete.
    pub warnings: Vec<String>,
    /// Calls seccomp refused to the workload (design.md §15): only when it ran under a filter that
    /// denies something (`check --enforce`, `watch`, a container's own profile). Sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_syscalls: Vec<DeniedEntry>,
    /// What this run may not have covered (rare or timing-dependent syscalls, a short run, no
    /// `docker exec`), each with what to do: `recording::coverage`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coverage_hints: Vec<String>,
}

/// One syscall (of one table) seccomp refused with one errno.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeniedEntry {
    /// The syscall's name, or `#<number>` when libseccomp has none for it.
    pub name: String,
    /// The libseccomp name of the syscall table, e.g. SCMP_ARCH_X86_64.
    pub arch: &'static str,
    pub number: u32,
    /// What the call returned: 1 (EPERM) is a profile's default action, 38 (ENOSYS) runc's stub
    /// or a probe rule like `clone3`'s; 0 when it returned no errno.
    pub errno: u32,
    pub errno_name: String,
    pub count: u64,
    pub first_comm: String,
}

/// What `--args` did to the profile.
#[derive(Debug, Serialize)]
pub struct ArgumentRules {
    /// Syscalls allowed only for their recorded values.
    pub restricted: Vec<&'static str>,
    /// Syscalls left allowed by name and why, and clone3 refused although it was made.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct RunContext {
    /// "command", "container" (attached to a running one) or "containers" (started during CMD).
    pub target: &'static str,
    /// CMD: the recorded command, or the command that started the containers (empty when attaching).
    pub command: Vec<String>,
    pub kernel: String,
    pub arch: String,
    /// What opened the gate, i.e. from which point on syscalls were counted.
    pub gate: String,
    /// The user CMD ran as (command target).
    pub user: Option<String>,
    pub uid: Option<u32>,
    /// Whether the launcher had to set no_new_privs (CMD ran as a non-root user).
    pub no_new_privs: Option<bool>,
    /// The recorded container (container targets).
    pub container: Option<ContainerContext>,
    /// CMD's exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended CMD, if one did.
    pub signal: Option<i32>,
    pub cut_short: bool,
    /// "duration", "SIGINT", "SIGTERM" or "SIGHUP" when cut short.
    pub cut_short_reason: Option<&'static str>,
    pub duration_ms: u64,
    /// Processes CMD left in its cgroup when it exited, killed by the recorder.
    pub leftover_processes_killed: usize,
    /// `record --cgroup`: the recorded cgroup, relative to the cgroup2 mount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// Kernel memory held by the recorder's eBPF maps (`memlock` of their fds), in bytes, read
    /// at the end of the recording (issue 13): command, `--cgroup` and `--container` recordings
    /// (not `--containers`, whose maps every container shares).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_map_bytes: Option<u64>,
}

impl RunContext {
    /// This host's kernel and architecture; everything else empty, for a target to fill in.
    pub fn host() -> RunContext {
        let (kernel, arch) = kernel_and_arch();
        RunContext {
            kernel,
            arch,
            ..RunContext::default()
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerContext {
    pub id: String,
    pub name: String,
    pub image: Option<String>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// The seccomp filter the container ran under while recorded: "default", "unconfined",
    /// "custom", or "unknown" (the container was gone before it could be inspected).
    pub seccomp: &'static str,
    /// `--security-opt no-new-privileges`, when known. With it, runc installs the filter right
    /// before execve, so less of its own work is recorded than a run without it needs.
    pub no_new_privileges: Option<bool>,
    /// Attached to a running container: its start-up was not seen.
    pub attached_after_start: bool,
    /// The container was still running when recording ended.
    pub running_at_end: bool,
    /// The engine that started it (`docker`, `podman`, `containerd`, `cri-o`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<&'static str>,
    /// Its Kubernetes pod, from the CRI annotations (design.md §17).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesContext>,
}

/// A Kubernetes container's pod, as its CRI annotations name it.
#[derive(Debug, Clone, Serialize)]
pub struct KubernetesContext {
    pub namespace: String,
    pub pod: String,
    pub pod_uid: Option<String>,
    pub workload: String,
    pub container: String,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SyscallEntry {
    pub name: String,
    /// The libseccomp name of the syscall table, e.g. SCMP_ARCH_X86_64.
    pub arch: &'static str,
    pub count: u64,
    pub first_comm: String,
    /// "runtime": made (at least once) by the container runtime after the filter install and
    /// before the entrypoint's exec; "workload": only after that exec.
    pub phase: &'static str,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImpliedEntry {
    pub name: String,
    pub reason: &'static str,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnnamedEntry {
    /// The libseccomp name of the syscall table, e.g. SCMP_ARCH_X86_64.
    pub arch: &'static str,
    pub number: u32,
    pub count: u64,
    pub first_comm: String,
}

/// `uname -r` and the machine name, without spawning anything.
pub fn kernel_and_arch() -> (String, String) {
    // SAFETY: an all-zero utsname is a valid out-parameter for uname(2).
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uts is a valid utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return ("unknown".into(), std::env::consts::ARCH.into());
    }
    let field = |raw: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates its fields.
        unsafe { std::ffi::CStr::from_ptr(raw.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    (field(&uts.release), field(&uts.machine))
}
