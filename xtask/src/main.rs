//! Developer tasks for seccomp-profiler, run as `cargo xtask <task>`: installing prerequisites,
//! the privileged test run CI uses, the demo, the benchmarks and the checked-in profiles. This
//! file only parses the command line and dispatches; each task lives in its own module.

mod agent_profile;
mod bench;
mod bench_hooks;
mod bench_host;
mod bench_storm;
mod bench_wrk;
mod cmd;
mod crun;
mod demo;
mod dist;
mod dist_test;
mod dockerd;
mod fuzz;
mod images;
mod manifests;
mod prereqs;
mod profiles;
mod runtime_table;
mod test;
mod tool_image;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Developer tasks for seccomp-profiler (most need root).
#[derive(Parser)]
#[command(name = "xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install missing prerequisites (Debian packages, nightly rust-src, bpf-linker).
    Setup {
        /// Also what the end-to-end tests need (Docker, nginx, redis, …).
        #[arg(long)]
        test: bool,
    },
    /// Record demo-workload, replay it under its profile, and show a syscall outside it denied.
    Demo,
    /// Everything CI runs: unit tests, fuzzing, release build, privileged end-to-end tests, the
    /// demo.
    Test {
        /// Passed to the end-to-end test binaries (e.g. a test name filter).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Per-syscall cost of recording against an empty-program floor, record's start-up time, and
    /// the rate at which a syscall storm is still counted exactly.
    Bench {
        /// Interleaved rounds; medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Syscalls per syscall-loop run.
        #[arg(long, default_value_t = 3_000_000)]
        iterations: u64,
        /// Concurrent recordings whose host tax is compared with one recording's.
        #[arg(long, default_value_t = 8)]
        concurrent: usize,
        /// A short run for CI: 2 rounds, 300,000 syscalls, 1 s of wrk, no storm.
        #[arg(long)]
        quick: bool,
    },
    /// Run every fuzz target of fuzz/ at once from a copy of its corpus; fail on any crash (the
    /// `fuzz` stage of `test`; needs no root).
    Fuzz {
        /// How long each target runs.
        #[arg(long, default_value_t = fuzz::TEST_SECONDS)]
        seconds: u64,
    },
    /// Build the local container images the end-to-end tests use (skipped when already built).
    Images {
        /// Build every image again even when its tag exists.
        #[arg(long)]
        rebuild: bool,
    },
    /// The release artefacts in target/dist/: a Debian package, a tarball and SHA256SUMS, the same
    /// bytes from the same commit.
    Dist {
        /// Build a second time from a copy of the source at another path and fail unless every
        /// artefact is byte-identical.
        #[arg(long)]
        check: bool,
        /// `--check`, then `dpkg -i` the package, check `--version`, `man` and bash completion,
        /// run action.yml's steps against a real recording, and `dpkg -r` (the `dist` stage of
        /// `test`; needs root).
        #[arg(long, conflicts_with = "check")]
        test: bool,
    },
    /// The tool's own container image, `seccomp-profiler:<version>` and `:latest`, from the
    /// package `dist` builds.
    Image,
    /// Record the node agent's own seccomp profile with the tool and rewrite
    /// deploy/seccomp-profiler-agent.json and its SeccompProfile (needs root, dockerd and the image).
    AgentProfile,
    /// Validate deploy/ offline: Kubernetes objects with kubernetes-validate --strict (the newest
    /// Kubernetes it bundles), SeccompProfiles against the operator's CRD (installs
    /// kubernetes-validate from PyPI into target/xtask/venv if missing; no root needed).
    ValidateManifests,
    /// Start dockerd (bridge, iptables and masquerading off) unless a daemon already answers.
    StartDockerd,
    /// Stop the dockerd that xtask started (by the PID in target/xtask/dockerd.pid).
    StopDockerd,
    /// Record the workloads of profiles/workloads/ and rewrite profiles/*.json and its README.
    Profiles {
        /// Record into target/xtask/profiles/ instead, and fail when a syscall set differs from
        /// the checked-in profile (or profiles/README.md's counts from the files).
        #[arg(long)]
        check: bool,
        /// With --check: only these workloads (e.g. `--only nginx --only redis`).
        #[arg(long, value_name = "NAME", requires = "check")]
        only: Vec<String>,
    },
    /// Record a minimal container under each runtime dockerd has × no-new-privileges off/on and
    /// rewrite profiles/runtimes.json (the runtime-phase table `record --runtimes` uses).
    RuntimeTable {
        /// Measure into target/xtask/runtimes.json instead, and fail when it differs from the
        /// checked-in table.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Setup { test } => prereqs::ensure(if test {
            prereqs::Set::Test
        } else {
            prereqs::Set::Build
        }),
        Task::Demo => demo::run(),
        Task::Test { args } => test::run(&args),
        Task::Bench {
            rounds,
            iterations,
            concurrent,
            quick,
        } => bench::run(bench::Options {
            rounds,
            iterations,
            concurrent,
            quick,
        }),
        Task::Fuzz { seconds } => fuzz::task(seconds),
        Task::Images { rebuild } => images::run(rebuild),
        Task::Dist { test: true, .. } => dist_test::task(),
        Task::Dist { check, .. } => dist::run(check),
        Task::Image => tool_image::run(),
        Task::ValidateManifests => manifests::run(),
        Task::AgentProfile => agent_profile::run(),
        Task::StartDockerd => dockerd::ensure_running()
            .map(|pid| match pid {
                Some(pid) => dockerd::left_running_note(pid),
                None => println!("xtask: a Docker daemon not started by xtask already answers"),
            })
            .and_then(|()| crun::ensure_registered().map(drop)),
        Task::StopDockerd => dockerd::stop(),
        Task::Profiles { check, only } => profiles::run(check, &only),
        Task::RuntimeTable { check } => runtime_table::run(check),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
