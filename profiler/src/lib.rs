//! seccomp-profiler: record a workload's syscalls with eBPF and write the smallest seccomp profile
//! that lets it run. The binary (`main.rs`) is a thin shell over [`run`]; the modules are public so
//! the privileged end-to-end tests and benchmarks in `tests/` can drive the same code.

pub mod arguments;
pub mod btf;
pub mod capabilities;
pub mod cgroup;
pub mod cli;
pub mod commands;
pub mod docker;
pub mod engines;
pub mod exit;
pub mod hardening;
pub mod launcher;
pub mod output;
pub mod partials;
pub mod profile;
pub mod recording;
pub mod risk;
pub mod runtimes;
pub mod syscalls;
pub mod tracer;

/// The eBPF object built by `build.rs` (aya-build), embedded so the binary is self-contained.
#[cfg(feature = "ebpf")]
pub static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/profiler"));

/// Built without the `ebpf` feature (only the fuzz targets are, which never load programs): no
/// object, so loading fails with aya's parse error instead of the crate failing to build.
#[cfg(not(feature = "ebpf"))]
pub static EBPF_OBJECT: &[u8] = &[];

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: cli::Cli) -> anyhow::Result<i32> {
    match cli.command {
        cli::Command::Record(args) => commands::record::run(args, cli.verbose),
        cli::Command::Exec(args) => commands::exec::run(args),
        cli::Command::Check(args) => commands::check::run(args, cli.verbose),
        cli::Command::Diff(args) => commands::diff::run(args),
        cli::Command::Merge(args) => commands::merge::run(args),
        cli::Command::Validate(args) => commands::validate::run(args),
        cli::Command::Doctor(args) => commands::doctor::run(args, cli.verbose),
        cli::Command::Completions(args) => commands::completions::run(args),
        cli::Command::Watch(args) => commands::watch::run(args, cli.verbose),
        cli::Command::Agent(args) => commands::agent::run(args, cli.verbose),
        cli::Command::HostTracer(args) => commands::host_tracer::run(args),
    }
}
