//! `seccomp-profiler doctor`: whether this machine can record, what it lacks and how to fix it —
//! the first thing to run on a new CI runner.
//!
//! Each check looks at one thing recording needs (privileges, kernel, BTF, cgroup v2, libseccomp,
//! the architecture) or that only some uses need (tracefs, bpffs, dockerd, the capability
//! tracepoint). The `programs` check is the proof: the real programs loaded and attached, and
//! `true` recorded behind the launcher's gate in a cgroup of its own, the way `record -- true`
//! does it, with the start-up time. A check says what it found, what it is needed for, and, when
//! missing, how to fix it. Exit 0 when every required check passes, else [`exit::ENVIRONMENT`],
//! the code `record` itself would end with on such a machine.
//!
//! It changes nothing on the machine: the one cgroup it makes is removed before it returns. It
//! does not install or mount anything; it says how.

use std::{
    ffi::{CString, OsString},
    io::Write as _,
    os::unix::ffi::OsStrExt as _,
    path::Path,
    time::{Duration, Instant},
};

use serde::Serialize;

use crate::{
    btf::{Btf, KernelOffsets},
    cgroup::{self, OwnedCgroup},
    cli::{DoctorArgs, DoctorFormat, VERSION},
    docker::Engine,
    exit, launcher,
    output::report::kernel_and_arch,
    recording::{Privileges, supervisor},
    syscalls::{self, Arch},
    tracer::Tracer,
};

/// Linux 6.1: the programs use hash maps allocated on insert (`BPF_F_NO_PREALLOC`, allowed in
/// tracing programs since 6.1), `bpf_loop` (5.17), `bpf_task_pt_regs` (5.15) and
/// `bpf_get_current_task_btf` (5.11), and BPF memory is charged to the cgroup instead of
/// RLIMIT_MEMLOCK (5.11).
const MIN_KERNEL: (u32, u32) = (6, 1);
/// How long dockerd may take to answer before it counts as unreachable.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(5);
/// What the proof records: a program every Linux has, that makes a few dozen syscalls and exits.
const PROOF_CMD: &str = "true";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Missing,
}

/// One thing checked on this machine.
#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    /// A missing required check means this machine cannot record.
    required: bool,
    /// What this machine has (or the error met looking).
    found: String,
    /// What recording needs it for.
    needed_for: &'static str,
    /// How to fix it; only when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn new(name: &'static str, required: bool, needed_for: &'static str) -> Check {
        Check {
            name,
            status: Status::Ok,
            required,
            found: String::new(),
            needed_for,
            fix: None,
        }
    }

    fn ok(mut self, found: impl Into<String>) -> Check {
        self.found = found.into();
        self
    }

    fn missing(mut self, found: impl Into<String>, fix: impl Into<String>) -> Check {
        self.status = Status::Missing;
        self.found = found.into();
        self.fix = Some(fix.into());
        self
    }
}

/// The whole answer, as `--format json` prints it.
#[derive(Debug, Serialize)]
struct Diagnosis {
    version: &'static str,
    can_record: bool,
    exit_code: i32,
    /// From starting to load the programs to all of them attached; None when they did not load.
    startup_ms: Option<f64>,
    checks: Vec<Check>,
}

pub fn run(args: DoctorArgs, verbose: u8) -> anyhow::Result<i32> {
    let mut checks = vec![
        privileges(),
        kernel(),
        btf(),
        cgroup2(),
        libseccomp(),
        arch(),
        tracefs(),
        bpffs(),
        docker(),
    ];
    let prerequisites_ok = checks
        .iter()
        .all(|check| !check.required || check.status == Status::Ok);
    let (programs, proof) = programs(prerequisites_ok, verbose > 1);
    checks.push(programs);
    checks.push(capabilities(proof.as_ref()));
    let can_record = checks
        .iter()
        .all(|check| !check.required || check.status == Status::Ok);
    let diagnosis = Diagnosis {
        version: VERSION,
        can_record,
        exit_code: if can_record {
            exit::OK
        } else {
            exit::ENVIRONMENT
        },
        startup_ms: proof.map(|proof| (proof.startup.as_secs_f64() * 1e4).round() / 10.0),
        checks,
    };
    let text = match args.format {
        DoctorFormat::Json => serde_json::to_string_pretty(&diagnosis)? + "\n",
        DoctorFormat::Text => render(&diagnosis),
    };
    // The verdict is the exit code: a closed stdout must not turn it into another one.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(diagnosis.exit_code)
}

fn render(diagnosis: &Diagnosis) -> String {
    let mut out = format!("seccomp-profiler {} doctor\n", diagnosis.version);
    for check in &diagnosis.checks {
        let status = match (check.status, check.required) {
            (Status::Ok, _) => "ok",
            (Status::Missing, true) => "MISSING",
            (Status::Missing, false) => "missing",
        };
        let optional = if check.required { "" } else { " (optional)" };
        out += &format!("  {status:<8} {}{optional}: {}\n", check.name, check.found);
        if let Some(fix) = &check.fix {
            out += &format!("           needed for: {}\n", check.needed_for);
            out += &format!("           fix: {fix}\n");
        }
    }
    let missing = |required: bool| -> Vec<&str> {
        (diagnosis.checks.iter())
            .filter(|check| check.status == Status::Missing && check.required == required)
            .map(|check| check.name)
            .collect()
    };
    let optional = missing(false);
    let optional = if optional.is_empty() {
        String::new()
    } else {
        format!("; optional, missing: {}", optional.join(", "))
    };
    if diagnosis.can_record {
        out += &format!("this machine can record: every required check passed{optional}\n");
    } else {
        out += &format!(
            "this machine cannot record: missing {}{optional} (exit {})\n",
            missing(true).join(", "),
            diagnosis.exit_code
        );
    }
    out
}

fn privileges() -> Check {
    let check = Check::new(
        "privileges",
        true,
        "loading and attaching the eBPF programs needs CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN; \
         a recording of a command also makes a cgroup (see cgroup2)",
    );
    let privileges = Privileges::current();
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let held: Vec<&str> = [
        ("CAP_SYS_ADMIN", privileges.sys_admin),
        ("CAP_BPF", privileges.bpf),
        ("CAP_PERFMON", privileges.perfmon),
    ]
    .into_iter()
    .filter_map(|(name, held)| held.then_some(name))
    .collect();
    if privileges.can_load() {
        return check.ok(format!("uid {uid} with {} in effect", held.join(", ")));
    }
    let lacking: Vec<&str> = [
        ("CAP_BPF", privileges.bpf),
        ("CAP_PERFMON", privileges.perfmon),
    ]
    .into_iter()
    .filter_map(|(name, held)| (!held).then_some(name))
    .collect();
    check.missing(
        format!(
            "uid {uid} lacks {} (or CAP_SYS_ADMIN)",
            lacking.join(" and ")
        ),
        "run it as root (`sudo seccomp-profiler …`); a user other than root needs CAP_BPF and \
         CAP_PERFMON in effect and write access to the cgroup2 root",
    )
}

fn kernel() -> Check {
    let check = Check::new(
        "kernel",
        true,
        "the programs use hash maps allocated on insert in tracing programs (Linux 6.1)",
    );
    let (release, machine) = kernel_and_arch();
    let found = format!("Linux {release} ({machine})");
    match version_prefix(&release) {
        Some(version) if version >= MIN_KERNEL => check.ok(found),
        Some(_) => check.missing(
            format!("{found}, older than {}.{}", MIN_KERNEL.0, MIN_KERNEL.1),
            format!("boot Linux {}.{} or newer", MIN_KERNEL.0, MIN_KERNEL.1),
        ),
        None => check.missing(
            format!("{found}: cannot read its version"),
            "boot a kernel whose release (`uname -r`) starts with its version",
        ),
    }
}

/// `6.18.0-1-amd64` → (6, 18).
fn version_prefix(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn btf() -> Check {
    let check = Check::new(
        "btf",
        true,
        "aya emits no CO-RE relocations, so the kernel struct fields the programs read are found \
         in the running kernel's BTF at start-up",
    );
    match Btf::from_vmlinux().and_then(|btf| KernelOffsets::resolve(&btf)) {
        Ok(_) => check.ok(format!(
            "{}: every struct field the programs read resolves",
            crate::btf::VMLINUX
        )),
        Err(err) => check.missing(
            err.to_string(),
            "boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu and Fedora kernels \
             are)",
        ),
    }
}

fn cgroup2() -> Check {
    let check = Check::new(
        "cgroup2",
        true,
        "`record -- CMD` and `--containers` make a cgroup at the cgroup2 root and move CMD into it \
         (write access to the root and its cgroup.procs); every target is traced by its cgroup2 id",
    );
    let mount = match cgroup::cgroup2_mount() {
        Ok(mount) => mount,
        Err(err) => {
            return check.missing(
                err.to_string(),
                "mount it: `mount -t cgroup2 none /sys/fs/cgroup/unified` (hybrid systems), or \
                 boot with systemd.unified_cgroup_hierarchy=1",
            );
        }
    };
    let hybrid = cgroup::mounts_of("cgroup").is_ok_and(|v1| !v1.is_empty());
    let layout = if hybrid {
        "hybrid: cgroup v1 controllers are mounted too"
    } else {
        "unified"
    };
    let found = format!("cgroup2 at {} ({layout})", mount.display());
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let unwritable: Vec<String> = [mount.clone(), mount.join("cgroup.procs")]
        .iter()
        .filter(|path| !writable(path))
        .map(|path| path.display().to_string())
        .collect();
    if unwritable.is_empty() {
        check.ok(format!("{found}, writable by uid {uid}"))
    } else {
        check.missing(
            format!("{found}; uid {uid} cannot write {}", unwritable.join(", ")),
            "run it as root (`sudo seccomp-profiler …`)",
        )
    }
}

/// Whether this process (its effective ids and capabilities, as open(2) would judge) may write
/// `path`.
fn writable(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: path is a NUL-terminated string that outlives the call.
    unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

fn libseccomp() -> Check {
    let check = Check::new(
        "libseccomp",
        true,
        "syscall names are resolved through it, as runc does, and `exec` and `validate` compile \
         profiles with it",
    );
    let (a, b, c) = syscalls::MIN_LIBSECCOMP;
    let fix = format!(
        "install libseccomp {a}.{b}.{c} or newer (Debian: libseccomp2; Debian 11 and Ubuntu 20.04 \
         ship it)"
    );
    match syscalls::library_version() {
        Some(version) => {
            let found = format!(
                "libseccomp {}.{}.{} loaded (built with the libseccomp crate {})",
                version.0,
                version.1,
                version.2,
                env!("SP_BUILD_LIBSECCOMP")
            );
            if version >= syscalls::MIN_LIBSECCOMP {
                check.ok(found)
            } else {
                check.missing(format!("{found}, older than {a}.{b}.{c}"), fix)
            }
        }
        None => check.missing("libseccomp does not report its version", fix),
    }
}

fn arch() -> Check {
    let check = Check::new(
        "arch",
        true,
        "syscall numbers are named from the table of the architecture this binary was built for, \
         and profiles list its family",
    );
    let native = Arch::native();
    let (_, machine) = kernel_and_arch();
    let kernel = match machine.as_str() {
        "x86_64" => Some(Arch::X86_64),
        "aarch64" | "arm64" => Some(Arch::Aarch64),
        "i386" | "i486" | "i586" | "i686" => Some(Arch::X86),
        m if m.starts_with("arm") => Some(Arch::Arm),
        _ => None,
    };
    let family: Vec<&str> = Arch::native_family()
        .iter()
        .map(|arch| arch.scmp_name())
        .collect();
    if kernel == Some(native) {
        check.ok(format!(
            "{machine} kernel, {} build; profiles list {}",
            std::env::consts::ARCH,
            family.join(", ")
        ))
    } else {
        check.missing(
            format!(
                "{machine} kernel, but this is a {} build",
                std::env::consts::ARCH
            ),
            format!("use the seccomp-profiler build for {machine}"),
        )
    }
}

fn tracefs() -> Check {
    let check = Check::new(
        "tracefs",
        false,
        "nothing the recorder does: its programs are raw tracepoints, attached by name; tracefs \
         lists the raw_syscalls tracepoints for tools like bpftrace and perf",
    );
    let mounts = cgroup::mounts_of("tracefs").unwrap_or_default();
    let Some(mount) = mounts.first() else {
        return check.missing(
            "tracefs is not mounted",
            "`mount -t tracefs tracefs /sys/kernel/tracing`, if another tool needs it",
        );
    };
    let events = mount.join("events/raw_syscalls");
    match (
        events.join("sys_enter").metadata(),
        events.join("sys_exit").metadata(),
    ) {
        (Ok(_), Ok(_)) => check.ok(format!(
            "tracefs at {}; raw_syscalls:sys_enter and sys_exit are listed",
            mount.display()
        )),
        (Err(err), _) | (_, Err(err)) => check.missing(
            format!(
                "tracefs at {}, but {}: {err}",
                mount.display(),
                events.display()
            ),
            "run it as root to read tracefs; a kernel without raw_syscalls needs \
             CONFIG_FTRACE_SYSCALLS=y (the programs check proves what the recorder needs)",
        ),
    }
}

fn bpffs() -> Check {
    let check = Check::new(
        "bpffs",
        false,
        "nothing the recorder does: it pins no programs or maps; other eBPF tools pin theirs there",
    );
    match cgroup::mounts_of("bpf").unwrap_or_default().first() {
        Some(mount) => check.ok(format!("bpffs at {}", mount.display())),
        None => check.missing(
            "bpffs is not mounted",
            "`mount -t bpf bpf /sys/fs/bpf`, if another tool needs it",
        ),
    }
}

fn docker() -> Check {
    let check = Check::new(
        "docker",
        false,
        "only `record`/`check` with `--container` or `--containers`: containers are found and \
         named through the Docker API",
    );
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    // The client's own error for a socket it may not open says only "client error (Connect)".
    if let Some(socket) = host.strip_prefix("unix://").map(Path::new) {
        if !socket.exists() {
            return check.missing(
                format!("no socket at {}", socket.display()),
                "start dockerd, or point DOCKER_HOST at its socket",
            );
        }
        if !writable(socket) {
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            return check.missing(
                format!("uid {uid} may not open {}", socket.display()),
                "run it as root, or as a member of the docker group",
            );
        }
    }
    let answer = supervisor::runtime()
        .map_err(|err| err.to_string())
        .and_then(|runtime| {
            runtime.block_on(async {
                match tokio::time::timeout(DOCKER_TIMEOUT, Engine::connect()).await {
                    Ok(Ok(engine)) => Ok(engine.api_version()),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err(format!(
                        "dockerd at {host} did not answer within {} s",
                        DOCKER_TIMEOUT.as_secs()
                    )),
                }
            })
        });
    match answer {
        Ok(api) => check.ok(format!("dockerd answered at {host} (API {api})")),
        Err(err) => check.missing(
            err,
            "start dockerd, or point DOCKER_HOST at it; its socket needs root or the docker group",
        ),
    }
}

/// What the proof measured.
struct Proof {
    startup: Duration,
    capabilities: bool,
}

/// Loads and attaches the real programs and records `true` behind the launcher's gate, as
/// `record -- true` does.
fn programs(prerequisites_ok: bool, verbose: bool) -> (Check, Option<Proof>) {
    let check = Check::new(
        "programs",
        true,
        "the proof: the real eBPF programs loaded and attached, and a command recorded in a \
         cgroup of its own, from its execve",
    );
    match prove(verbose) {
        Ok((proof, seen)) if seen.execve && seen.calls > 0 => {
            let found = format!(
                "loaded and attached in {:.0} ms; `{PROOF_CMD}` made {} calls of {} syscalls, \
                 execve included, all recorded",
                proof.startup.as_secs_f64() * 1e3,
                seen.calls,
                seen.syscalls
            );
            (check.ok(found), Some(proof))
        }
        Ok((proof, seen)) => {
            let found = format!(
                "loaded and attached in {:.0} ms, but recording `{PROOF_CMD}` saw {} calls and \
                 {} its execve",
                proof.startup.as_secs_f64() * 1e3,
                seen.calls,
                if seen.execve { "saw" } else { "not" }
            );
            let fix =
                format!("run `seccomp-profiler -vv record -- {PROOF_CMD}` and report its output");
            (check.missing(found, fix), Some(proof))
        }
        Err(err) => {
            let fix = if prerequisites_ok {
                "run `seccomp-profiler -vv doctor` to see the eBPF log, and report it".to_owned()
            } else {
                "fix the missing checks above first: this one needs them".to_owned()
            };
            (check.missing(format!("{err:#}"), fix), None)
        }
    }
}

/// What the proof recording saw.
struct Seen {
    calls: u64,
    syscalls: usize,
    execve: bool,
}

fn prove(verbose: bool) -> anyhow::Result<(Proof, Seen)> {
    let started = Instant::now();
    let mut tracer = Tracer::load(verbose)?;
    let startup = started.elapsed();
    let capabilities = tracer.records_capabilities();
    let cgroup = OwnedCgroup::create("doctor")?;
    let slot = tracer.add_target(cgroup.id(), profiler_common::Target::GATE_ON_COMMAND_EXEC)?;
    let procs = cgroup.open_procs()?;
    let cmd = [OsString::from(PROOF_CMD)];
    let mut child = launcher::spawn(&cmd, &procs, None, launcher::Gate::Exec)?;
    drop(procs);
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "`{PROOF_CMD}` failed: {status}");
    let recording = tracer.read(slot)?;
    tracer.flush_logs();
    drop(tracer);
    drop(cgroup);
    let native = (recording.observed.iter())
        .filter(|observed| observed.table == profiler_common::TABLE_NATIVE);
    let seen = Seen {
        calls: recording
            .observed
            .iter()
            .map(|observed| observed.count)
            .sum(),
        syscalls: recording.observed.len(),
        execve: native
            .filter_map(|observed| syscalls::name_of(Arch::native(), observed.nr))
            .any(|name| name == "execve"),
    };
    Ok((
        Proof {
            startup,
            capabilities,
        },
        seen,
    ))
}

fn capabilities(proof: Option<&Proof>) -> Check {
    let check = Check::new(
        "capabilities",
        false,
        "the capability advice: the capability:cap_capable tracepoint (Linux 6.14) shows every \
         check and its result; without it, syscalls are still recorded",
    );
    match proof {
        Some(proof) if proof.capabilities => {
            check.ok("capability:cap_capable attached: capability checks are recorded")
        }
        Some(_) => check.missing(
            "this kernel has no capability:cap_capable tracepoint",
            "boot Linux 6.14 or newer for capability advice",
        ),
        None => check.missing(
            "not known: the programs did not load",
            "fix the programs check first",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert_eq!(version_prefix("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(version_prefix("5.10.0"), Some((5, 10)));
        assert!(version_prefix("5.15.0").is_some_and(|v| v < MIN_KERNEL));
        assert!(version_prefix("6.0.19").is_some_and(|v| v < MIN_KERNEL));
        assert!(version_prefix("6.1").is_some_and(|v| v >= MIN_KERNEL));
        assert_eq!(version_prefix("6"), None);
        assert_eq!(version_prefix("x.y"), None);
    }

    #[test]
    fn a_missing_optional_check_does_not_fail_the_verdict() {
        let diagnosis = Diagnosis {
            version: VERSION,
            can_record: true,
            exit_code: exit::OK,
            startup_ms: Some(80.0),
            checks: vec![
                Check::new("kernel", true, "x").ok("Linux 6.18"),
                Check::new("docker", false, "y").missing("unreachable", "start dockerd"),
            ],
        };
        let text = render(&diagnosis);
        assert!(
            text.contains("  missing  docker (optional): unreachable"),
            "{text}"
        );
        assert!(text.contains("fix: start dockerd"), "{text}");
        assert!(
            text.ends_with(
                "this machine can record: every required check passed; optional, missing: docker\n"
            ),
            "{text}"
        );
    }
}
