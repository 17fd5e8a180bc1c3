//! Every clap type of the command line. The doc comments are the `--help` text; the command names
//! and flags follow the CLI contract (README, docs/design.md), which tests and docs rely on.

use std::{ffi::OsString, path::PathBuf, sync::OnceLock, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};

/// `-V`: one line, the version and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SP_BUILD_COMMIT"),
    ")"
);

/// `--version`: also what went into the build, and the libseccomp this process runs with.
fn long_version() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let runtime = crate::syscalls::library_version()
            .map_or_else(|| "unknown".to_owned(), |(a, b, c)| format!("{a}.{b}.{c}"));
        let programs = if cfg!(feature = "ebpf") {
            "eBPF programs embedded"
        } else {
            "built without the eBPF programs"
        };
        format!(
            "{VERSION}\n\
             aya {}, aya-ebpf {} ({programs})\n\
             libseccomp crate {}, library {runtime} (loaded now)\n\
             {}\n\
             target {}\n\
             `seccomp-profiler doctor` says whether this machine can record.",
            env!("SP_BUILD_AYA"),
            env!("SP_BUILD_AYA_EBPF"),
            env!("SP_BUILD_LIBSECCOMP"),
            env!("SP_BUILD_RUSTC"),
            env!("SP_BUILD_TARGET"),
        )
    })
}

/// Record a workload's syscalls with eBPF and write the smallest seccomp profile that lets it run.
#[derive(Debug, Parser)]
#[command(
    name = "seccomp-profiler",
    version = VERSION,
    long_version = long_version(),
    after_help = crate::exit::help_text()
)]
pub struct Cli {
    /// Show debug output; -vv adds the eBPF programs' own log (which loads a private set of
    /// programs instead of sharing the host tracer's: README "Cost").
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Record(RecordArgs),
    Exec(ExecArgs),
    Check(CheckArgs),
    Diff(DiffArgs),
    Merge(MergeArgs),
    Validate(ValidateArgs),
    Doctor(DoctorArgs),
    Completions(CompletionsArgs),
    Watch(WatchArgs),
    Agent(AgentArgs),
    /// Runs the host tracer whose programs concurrent recordings share. Started by the first
    /// recorder that needs it (README "Cost"), never by hand.
    #[command(name = "__host-tracer", hide = true)]
    HostTracer(HostTracerArgs),
}

/// Kubernetes node agent (run it as a DaemonSet): record every container that starts on this node.
///
/// Every Kubernetes container (named by its CRI annotations: namespace, pod, container) is recorded
/// from its first syscall after its runtime installs the seccomp filter, until SIGTERM/SIGINT or
/// --duration; pod sandboxes and containers of no pod are not. Each container instance gets a
/// partial profile with its provenance (node, pod, container id, image, runtime,
/// no-new-privileges) at DIR/partials/<namespace>/<workload>/<container>/<node>_<id12>.json,
/// written when it exits, every --flush while it runs, and when the agent stops. This node's union
/// per workload container is kept at DIR/localhost/<namespace>/<workload>/<container>.json (the
/// kubelet's `seccompProfile: Localhost` form) and DIR/operator/…/<container>.yaml (an SPO
/// SeccompProfile). `merge` folds partials of many nodes into one profile with coverage. Exit 1
/// when --filter matched nothing or a container found every slot taken, 4 when a file could not be
/// written. Needs Linux >= 6.1 and CAP_BPF + CAP_PERFMON (or root).
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct AgentArgs {
    /// Record only some containers (repeatable, all must match): name=RE (on
    /// <namespace>/<workload>/<container>), label=KEY[=VALUE] (OCI annotations), ancestor=IMAGE,
    /// engine=containerd|cri-o, namespace=NS, pod=POD.
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<crate::engines::Filter>,

    /// The directory to write partials and this node's profiles into (created if missing).
    #[arg(short, long, value_name = "DIR", required = true)]
    pub output: PathBuf,

    /// This node's name in file names and provenance [default: $NODE_NAME, else the hostname].
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,

    /// Also record the containers already running when the agent starts, from then on (their
    /// start-up is not seen: their partials say `"recorded": "attached"`).
    #[arg(long)]
    pub include_running: bool,

    /// How often a running container's partial is refreshed.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "60s")]
    pub flush: Duration,

    /// Stop after this long (e.g. 10m, 24h); default: until SIGTERM or SIGINT.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

/// The hidden host tracer's arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct HostTracerArgs {
    /// The unix socket to serve recorders on (its directory holds the lock and the log).
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
}

/// Report, live, every call seccomp refuses in any running Docker container.
///
/// Every container running now is armed at once (its threads from now on), and every container
/// started later from its runtime's filter install. Each refusal is printed to stdout within a
/// fraction of a second, with the container's name, the syscall, the errno and the first command
/// refused; the total per container is listed at the end and, with --report, written as JSON.
/// Ends at --duration, or on SIGINT (Ctrl-C), SIGTERM or SIGHUP; containers are never touched.
/// Exit 1 when anything was refused. Needs Linux ≥ 6.1 (the recorder's hooks).
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct WatchArgs {
    /// Watch only some containers: `name=RE` (repeatable; all must match), a regular expression
    /// searched in the name with Docker's leading '/', as `record --filter` and `docker ps` do.
    /// The other keys of `record --filter` are not taken here yet.
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<crate::engines::Filter>,

    /// Write the containers watched and their refusals here as JSON when watching ends.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Stop watching after this long (e.g. 30s, 5m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

/// Record a workload's syscalls and write the smallest profile that lets it run.
///
/// Three targets:
///   record [-o FILE] -- CMD            CMD in a fresh cgroup, from its execve: the launcher installs an
///                                      allow-all seccomp filter right before it, the same gate a
///                                      container runtime passes, so nothing the launcher does is recorded.
///   record --container NAME|ID         a running Docker container, from now on (its start-up is not seen).
///   record --cgroup PATH               an existing cgroup (a systemd service, a pod) and its children,
///                                      from now on.
///   record --containers [-o DIR] -- CMD
///                                      every container started while CMD runs (docker run, docker-compose
///                                      up, a test script), each from its first syscall after the runtime
///                                      installs its seccomp filter; one profile per container, named after
///                                      its compose service or container name.
///
/// Recording ends when CMD exits (or the container stops), at --duration, or on SIGINT (Ctrl-C),
/// SIGTERM or SIGHUP: CMD then gets SIGTERM, and what is left of it (with --containers: also the
/// containers it started) SIGKILL 5 s later. The profile is still written, complete, with the
/// report's `cut_short_reason` naming the signal. An attached --container is left running.
///
/// Outputs are checked before anything runs and written atomically; a symlink as an output is
/// refused (exit 2), and so are two outputs naming the same file.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text(), verbatim_doc_comment)]
pub struct RecordArgs {
    /// Write the profile here (atomically) instead of to stdout; `*.yaml`/`*.yml` with --format k8s
    /// only. Without -o the profile is the only thing on stdout: CMD's own stdout goes to stderr.
    /// With --containers: a directory (default: the current directory), created if missing, that
    /// receives one `<service or name>.json` (`.yaml` for k8s) per container.
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,

    /// Also write a JSON report: per-syscall counts and first command name, and the run's context.
    #[arg(long, value_name = "FILE", conflicts_with = "containers")]
    pub report: Option<PathBuf>,

    /// With --containers: write one `<service or name>.report.json` per container here.
    #[arg(long, value_name = "DIR", requires = "containers")]
    pub report_dir: Option<PathBuf>,

    /// Profile format.
    #[arg(long, value_enum, default_value_t = Format::Docker)]
    pub format: Format,

    /// Stop recording after this long (e.g. 30s, 5m, 1h30m, 500ms).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Run CMD as this user (name or uid). Default: under sudo the invoking user, else the caller.
    #[arg(long, value_name = "USER", conflicts_with_all = ["container", "containers"])]
    pub user: Option<String>,

    /// Attach to this running Docker container (name or id) instead of running CMD.
    #[arg(long, value_name = "NAME|ID", conflicts_with_all = ["containers", "cmd"])]
    pub container: Option<String>,

    /// Attach to this existing cgroup2 directory (relative to the cgroup2 mount, as in the "0::"
    /// line of /proc/PID/cgroup, or absolute under it) and its child cgroups instead of running
    /// CMD: a systemd service, a pod. From now on; what ran before is not seen.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["container", "containers", "cmd", "user"])]
    pub cgroup: Option<PathBuf>,

    /// Record every Docker container that starts while CMD runs (CMD itself is not recorded).
    #[arg(long)]
    pub containers: bool,

    /// With --containers: afterwards, replay each recorded container with its whole
    /// recommendation applied (profile, capabilities, no-new-privileges, user, read-only root with
    /// its tmpfs mounts and volumes) for as long as it ran; exit 1 if one did not run.
    #[arg(long, requires = "containers")]
    pub verify: bool,

    /// Complain mode: write the same profile with `defaultAction SCMP_ACT_LOG` (probe rules kept),
    /// for a first rollout where calls outside it are logged by the kernel instead of refused.
    /// `check --container NAME --profile STRICT` then lists what the strict one would refuse.
    #[arg(long)]
    pub complain: bool,
    /// Allow socket, clone and personality only for the argument values the run used (socket
    /// family and netlink protocol, clone namespace flags, personality), one rule per value as
    /// Docker's default profile writes them; clone3 is then answered ENOSYS so glibc falls back to
    /// clone. Without it the profile allows them by name (the report lists the values either way).
    #[arg(long)]
    pub args: bool,
    /// Make the profile run under each of these container runtimes (NAME or NAME@VERSION,
    /// comma-separated): the recorded syscalls plus each runtime's measured runtime-phase needs
    /// (profiles/runtimes.json). Default: the runtime that installed the filter. A runtime or
    /// version the table has no data for is refused (exit code 2).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', value_parser = crate::runtimes::parse_runtime)]
    pub runtimes: Option<Vec<String>>,

    /// The no-new-privileges modes the profile is made for, with --runtimes or the runtime seen
    /// (comma-separated; default: both).
    #[arg(long, value_name = "on,off", value_delimiter = ',', value_enum)]
    pub nnp: Vec<crate::runtimes::Nnp>,
    /// With --containers: record only containers that match (repeatable; all must match).
    /// `name=RE` (a regular expression searched in the name with Docker's leading '/', as
    /// `docker ps`), `label=KEY[=VALUE]`, `ancestor=IMAGE`, `engine=docker|podman|containerd|cri-o`,
    /// `namespace=NS`, `pod=NAME`. Others are disarmed once their engine names them; none of
    /// their syscalls is kept. No container matching is a finding (exit 1).
    #[arg(long, value_name = "KEY=VALUE", requires = "containers")]
    pub filter: Vec<crate::engines::Filter>,

    /// The command to run, after `--`.
    #[arg(last = true, value_name = "CMD", required_unless_present_any = ["container", "cgroup"])]
    pub cmd: Vec<OsString>,
}

/// Run CMD under a profile, applied through libseccomp the way runc applies it to a container.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct ExecArgs {
    /// The seccomp profile to apply: Docker/OCI JSON, an OCI config.json, or a SeccompProfile
    /// manifest (as `record --format k8s` writes it).
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,

    /// The command to run, after `--`.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

/// Record like `record`, then fail (exit 1) if the run made any syscall the profile does not allow.
///
/// The footprint gate for CI: every syscall outside the profile is listed with its count and the
/// command that made it first. `--update` rewrites the profile as the union of the old one and
/// this run instead (exit 0).
///
/// Three targets, as for `record`:
///   check --profile FILE -- CMD
///   check --profile FILE --container NAME|ID
///   check --containers --profile DIR -- CMD    each container CMD starts, against DIR/<service or name>.json
///
/// With --enforce the workload runs under its profile and every call seccomp refuses is counted
/// in the kernel (exit 1 lists them, even when the program swallowed the error):
///   check --enforce --profile FILE -- CMD       CMD under FILE, applied as `exec` applies it
///   check --enforce --containers -- CMD         each container CMD starts, under its own
///                                               --security-opt seccomp=…; denials per container
///   check --enforce --container NAME|ID         a running container under its own profile
/// A thread whose `exit` is refused spins forever: bound such runs with --duration.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text(), verbatim_doc_comment)]
pub struct CheckArgs {
    /// The checked-in profile the run must stay within. With --containers: the directory of
    /// checked-in profiles, one `<service or name>.json` per container (as `record --containers -o
    /// DIR` writes them). With --enforce: the profile CMD runs under (not with --container(s)).
    #[arg(long, value_name = "FILE|DIR", required_unless_present = "enforce")]
    pub profile: Option<PathBuf>,

    /// Run the workload under the profile and fail (exit 1) on every call seccomp refuses, counted
    /// in the kernel per syscall and errno, with the first command refused (needs Linux ≥ 6.1).
    #[arg(long, conflicts_with = "update")]
    pub enforce: bool,

    /// Rewrite the profile to also allow what this run did (the merge of both), instead of failing.
    #[arg(long)]
    pub update: bool,

    /// Also write this run's JSON report.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Stop recording after this long (e.g. 30s, 5m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Run CMD as this user (name or uid). Default: under sudo the invoking user, else the caller.
    #[arg(long, value_name = "USER", conflicts_with = "container")]
    pub user: Option<String>,

    /// Check a running Docker container (name or id) instead of running CMD.
    #[arg(long, value_name = "NAME|ID", conflicts_with_all = ["cmd", "containers"])]
    pub container: Option<String>,

    /// Check every Docker container that starts while CMD runs against its own profile in the
    /// --profile directory. A container with no profile there fails the check (--update writes it).
    #[arg(long, conflicts_with_all = ["user", "report"])]
    pub containers: bool,

    /// With --update: write argument rules for socket, clone and personality, as `record --args`
    /// (implied when the checked-in profile already has them). The recorded values are checked
    /// against the profile's argument conditions either way.
    #[arg(long)]
    pub args: bool,
    /// With --containers: check only containers that match (repeatable; all must match).
    /// `name=RE` (a regular expression searched in the name with Docker's leading '/', as
    /// `docker ps`), `label=KEY[=VALUE]`, `ancestor=IMAGE`, `engine=docker|podman|containerd|cri-o`,
    /// `namespace=NS`, `pod=NAME`. Others are disarmed once their engine names them; none of
    /// their syscalls is kept. No container matching is a finding (exit 1).
    #[arg(long, value_name = "KEY=VALUE", requires = "containers")]
    pub filter: Vec<crate::engines::Filter>,

    /// The command to run, after `--`.
    #[arg(last = true, value_name = "CMD", required_unless_present = "container")]
    pub cmd: Vec<OsString>,
}

/// Compare two profiles (or two reports): exit 1 when NEW allows a syscall or capability OLD does not.
///
/// Syscalls that widen the attack surface carry a one-line risk note. Given reports (`--report`
/// files) instead of profiles, capabilities are compared too. `--format markdown` fits a pull-request
/// comment or a GitHub job summary.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct DiffArgs {
    /// The baseline profile or report (e.g. the checked-in one).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The candidate profile or report.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

/// Union of profiles: allow lists and architectures merged, explicit errno/deny rules kept.
///
/// Refuses profiles whose default actions differ. Output is deterministic (sorted, stable keys).
/// Given the node agent's partials (files, or directories such as several nodes' agent -o DIRs),
/// it folds them into one profile per <namespace>/<workload>/<container>, written under -o DIR as
/// localhost/…json and operator/…yaml, and reports per syscall how many replicas and nodes
/// contributed it (summary, and --report FILE as JSON).
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct MergeArgs {
    /// The profiles to merge.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Write the merged profile here (atomically) instead of to stdout. With partials: the
    /// directory to write one profile per workload container into (localhost/ and operator/).
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,

    /// With partials: write the coverage (per workload container, per syscall, how many replicas
    /// and nodes contributed it) here as JSON.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Check that a profile parses and compiles: names, architectures and actions as runc sees them.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct ValidateArgs {
    /// The profile to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Say whether this machine can record: what it has, what it lacks, and how to fix it.
///
/// Checks privileges (root, or CAP_BPF + CAP_PERFMON and write access to the cgroup2 tree), the
/// kernel, BTF, cgroup v2, libseccomp and the architecture, then proves it: loads and attaches the
/// eBPF programs and records `true`, timing the start-up. tracefs, bpffs, dockerd (only needed for
/// --container/--containers) and the capability tracepoint are optional. Exit 0 when every
/// required check passes, 3 when one is missing. The first thing to run on a new CI runner; -v
/// also shows the eBPF programs' log.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::exit::help_text())]
pub struct DoctorArgs {
    /// `json` for CI: every check with its status, what it found and how to fix it.
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DoctorFormat {
    Text,
    Json,
}

/// Print the shell completion script for bash, zsh, fish, elvish or powershell on stdout.
///
/// The Debian package installs the bash one; by hand, e.g.:
///   seccomp-profiler completions bash > ~/.local/share/bash-completion/completions/seccomp-profiler
///   seccomp-profiler completions zsh > "${fpath[1]}/_seccomp-profiler"
///   seccomp-profiler completions fish > ~/.config/fish/completions/seccomp-profiler.fish
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, after_help = crate::exit::help_text())]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Docker's profile JSON (`docker run --security-opt seccomp=FILE`), also read by Podman and by
    /// the kubelet (`seccompProfile: Localhost`).
    Docker,
    /// The bare OCI runtime-spec `LinuxSeccomp` object, for `config.json`'s `linux.seccomp`.
    Oci,
    /// A security-profiles-operator `SeccompProfile` v1 manifest (YAML), for `kubectl apply`; the
    /// operator installs it as `operator/<name>.json` in the kubelet's seccomp directory. Also
    /// read by `exec`, `validate`, `diff` and `merge`.
    K8s,
}

/// The longest `--duration` accepted: a year. Anything longer is a typo, and would overflow the
/// clock's deadline arithmetic.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses `1h30m`, `90s`, `500ms`, `2m` or a bare number of seconds; zero and more than a year are
/// refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: use e.g. 30s, 5m, 1h30m or 500ms");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| too_long(text))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_ms: u64 = match &rest[..unit_len] {
            // A bare number is seconds, and only as the whole value.
            "" if total.is_zero() && rest.is_empty() => 1000,
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        let part = value.checked_mul(unit_ms).ok_or_else(|| too_long(text))?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(|| too_long(text))?;
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: it must be longer than zero (omit --duration to record until the workload ends)"
        ));
    }
    if total > MAX_DURATION {
        return Err(too_long(text));
    }
    Ok(total)
}

fn too_long(text: &str) -> String {
    format!("invalid duration {text:?}: at most a year (8784h)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(
            parse_duration("1m30").is_err(),
            "a bare number only as the whole value"
        );
        for bad in [
            "",
            "s",
            "5x",
            "0s",
            "0",
            "0ms",
            "1.5s",
            "m5",
            "18446744073709551615s",
            "99999999999999999999",
            "9000h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn record_targets() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied());
        assert!(parse(&["sp", "record", "--", "true"]).is_ok());
        assert!(parse(&["sp", "record", "--container", "web"]).is_ok());
        assert!(
            parse(&[
                "sp",
                "record",
                "--containers",
                "-o",
                "dir",
                "--",
                "docker",
                "run",
                "x"
            ])
            .is_ok()
        );
        assert!(
            parse(&["sp", "record"]).is_err(),
            "needs CMD or --container"
        );
        assert!(parse(&["sp", "record", "--container", "web", "--", "true"]).is_err());
        assert!(parse(&["sp", "record", "--container", "web", "--containers"]).is_err());
        assert!(
            parse(&["sp", "record", "--report-dir", "d", "--", "true"]).is_err(),
            "--report-dir needs --containers"
        );
        assert!(
            parse(&["sp", "record", "--verify", "--", "true"]).is_err(),
            "--verify needs --containers"
        );
        assert!(parse(&["sp", "record", "--containers", "--verify", "--", "true"]).is_ok());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
