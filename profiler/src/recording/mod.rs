//! The recording pipeline, for every target alike:
//!
//! ```text
//! Target ─▶ supervisor (deadline, SIGINT/SIGTERM/SIGHUP, SIGKILL after the grace period)
//!        ─▶ tracer (eBPF counts per cgroup) ─▶ build (names, implied syscalls, profile, report)
//!        ─▶ Sink (record: write + summary; check: compare with the checked-in profile)
//! ```
//!
//! A [`Target`] says what to record: a command in a fresh cgroup (`command`), a container that is
//! already running (`attach`), or every container a command starts (`containers`). Each finished
//! recording is handed to a [`Sink`] as soon as it is complete, so `--containers` writes a
//! container's profile when it stops. `record` and `check` only choose the target and the sink.
//! Nothing here parses the command line or writes a file.

pub mod agent;
mod attach;
pub mod build;
pub mod cgroup_target;
mod command;
mod containers;
pub mod context;
pub mod coverage;
pub mod denied;
mod kernel_memory;
pub mod supervisor;
mod tracked;
pub mod watch;

use std::{ffi::OsString, time::Duration};

pub use build::{Built, build, build_for};

use crate::{exit, profile::ProfileError};

/// What to record.
#[derive(Debug, Clone)]
pub enum Target {
    /// `-- CMD`: CMD and everything it starts, in a fresh cgroup, from its execve.
    Command {
        cmd: Vec<OsString>,
        /// `--user`; None: under sudo the invoking user, else the caller.
        user: Option<String>,
    },
    /// `--container NAME|ID`: a running Docker container, from now on.
    Container { name: String },
    /// `--containers -- CMD`: every container that starts while CMD runs (CMD itself is not
    /// recorded).
    Containers { cmd: Vec<OsString> },
    /// `--cgroup PATH`: an existing cgroup2 directory (and its children), from now on.
    Cgroup { path: std::path::PathBuf },
}

impl Target {
    /// The target a `record` or `check` command line names.
    pub fn new(
        cmd: Vec<OsString>,
        user: Option<String>,
        container: Option<String>,
        containers: bool,
    ) -> Target {
        match (container, containers) {
            (Some(name), _) => Target::Container { name },
            (None, true) => Target::Containers { cmd },
            (None, false) => Target::Command { cmd, user },
        }
    }
}

/// How a recording runs, whatever its target.
#[derive(Debug, Clone)]
pub struct Options {
    pub duration: Option<Duration>,
    /// Load the eBPF programs with their log on (`-v`).
    pub verbose: bool,
    /// `record --containers --verify`: replay each recorded container with its whole
    /// recommendation applied (`hardening::replay`).
    pub verify: bool,
    /// `--args`: allow `socket`, `clone` and `personality` only for the recorded argument values
    /// (docs/design.md §16).
    pub args: bool,
    /// `--runtimes`/`--nnp`: which runtimes and no-new-privileges modes the profile is made for.
    pub runtimes: crate::runtimes::Request,
    /// `--filter`: with `--containers`, which containers are kept (all must match).
    pub filters: crate::engines::Filters,
}

/// One finished recording, handed to the [`Sink`].
pub struct Finished {
    /// A name for files: the container's compose service or name (made unique within the
    /// recording), or None for a command or an attached container (the caller names those).
    pub stem: Option<String>,
    pub built: Built,
}

/// Where finished recordings go. `record` writes them; `check` compares them.
pub trait Sink {
    /// How the summary and recommendation of a recording named `stem` refer to its profile file.
    fn profile_ref(&self, stem: Option<&str>) -> String;

    /// Whether the sink writes the profile to stdout (`record` without `-o`): then CMD's own
    /// stdout goes to the recorder's stderr, so that stdout carries nothing but the profile.
    fn takes_stdout(&self) -> bool {
        false
    }

    /// Takes one finished recording. An error here is reported for that recording and the
    /// recording of the others goes on; it is remembered in [`Outcome::failed`].
    fn accept(&mut self, finished: Finished) -> anyhow::Result<()>;
}

/// How the whole recording ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// CMD's exit code, or None when it was killed by a signal (or there is no CMD).
    pub exit_code: Option<i32>,
    /// CMD exited with a failure and was not cut short by the recorder.
    pub cmd_failed: bool,
    /// The signal or `duration` that cut the recording short.
    pub cut_short: Option<&'static str>,
    /// How many recordings were handed to the sink.
    pub recorded: usize,
    /// Recordings the sink could not take (e.g. a write failed), by name.
    pub failed: Vec<String>,
    /// Containers that started while every recording slot was taken, so were not recorded.
    pub missed: Vec<String>,
    /// Times the Docker API could not be reached (`--containers`). Every container was still
    /// recorded (arming happens in the kernel), but names, images and ends may be uncertain.
    pub api_outages: Vec<crate::docker::Outage>,
    /// Containers whose report warns that an outage left their name, image or end uncertain.
    pub uncertain: Vec<String>,
    /// `--verify`: containers that did not run with their whole recommendation applied.
    pub verify_failed: Vec<String>,
    /// `--filter` was given and no container matched it (the summary names what was filtered
    /// out): a finding.
    pub nothing_matched: bool,
}

impl Outcome {
    /// The exit code of a `record`: 4 when a recording could not be written or the Docker API
    /// was lost for a while, 1 when a container was not recorded or did not run in its `--verify`
    /// replay or no container matched `--filter`, 5 when CMD failed, else 0 (a run cut short is not a failure).
    pub fn exit_code(&self) -> i32 {
        if !self.failed.is_empty() || !self.api_outages.is_empty() {
            exit::RUNTIME
        } else if !self.missed.is_empty() || !self.verify_failed.is_empty() || self.nothing_matched
        {
            exit::FINDING
        } else if self.cmd_failed {
            exit::CMD_FAILED
        } else {
            exit::OK
        }
    }
}

/// Records `target` until it ends, `--duration` passes or a signal arrives, handing each finished
/// recording to `sink`.
pub fn run(target: &Target, options: &Options, sink: &mut dyn Sink) -> anyhow::Result<Outcome> {
    let runtime = supervisor::runtime().map_err(|err| RecordError::Runtime(err.to_string()))?;
    runtime.block_on(async {
        match target {
            Target::Command { cmd, user } => {
                command::record(cmd, user.as_deref(), options, sink).await
            }
            Target::Container { name } => attach::record(name, options, sink).await,
            Target::Containers { cmd } => containers::record(cmd, options, sink).await,
            Target::Cgroup { path } => cgroup_target::record(path, options, sink).await,
        }
    })
}

/// A recording that could not be made, or failed after it was set up.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "recording needs root to load eBPF programs and create a cgroup (missing CAP_BPF and \
         CAP_PERFMON, or CAP_SYS_ADMIN): run it with sudo"
    )]
    Privileges,
    #[error("cannot build the profile: {0}")]
    Build(ProfileError),
    #[error("{0}")]
    Runtime(String),
}

impl exit::Coded for RecordError {
    fn exit_code(&self) -> i32 {
        match self {
            RecordError::Privileges => exit::ENVIRONMENT,
            RecordError::Build(_) | RecordError::Runtime(_) => exit::RUNTIME,
        }
    }
}

/// The capabilities recording needs, as this process has them in effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Privileges {
    pub sys_admin: bool,
    pub bpf: bool,
    pub perfmon: bool,
}

impl Privileges {
    /// Read from `CapEff` in /proc/self/status (none, if it cannot be read).
    pub fn current() -> Privileges {
        const CAP_SYS_ADMIN: u32 = 21;
        const CAP_PERFMON: u32 = 38;
        const CAP_BPF: u32 = 39;
        let effective = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("CapEff:"))
                    .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            })
            .unwrap_or(0);
        let has = |cap: u32| effective & (1 << cap) != 0;
        Privileges {
            sys_admin: has(CAP_SYS_ADMIN),
            bpf: has(CAP_BPF),
            perfmon: has(CAP_PERFMON),
        }
    }

    /// Loading tracing programs needs CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN.
    pub fn can_load(self) -> bool {
        self.sys_admin || (self.bpf && self.perfmon)
    }
}

/// Loading tracing programs needs CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), and making a cgroup
/// needs write access to the cgroup2 tree: in practice, root.
pub fn check_privileges() -> Result<(), RecordError> {
    if Privileges::current().can_load() {
        Ok(())
    } else {
        Err(RecordError::Privileges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_recording_decides_the_exit_code() {
        let ok = Outcome::default();
        assert_eq!(ok.exit_code(), exit::OK);
        let cut = Outcome {
            cut_short: Some("SIGTERM"),
            ..Outcome::default()
        };
        assert_eq!(
            cut.exit_code(),
            exit::OK,
            "a run cut short is not a failure"
        );
        let missed = Outcome {
            missed: vec!["web".into()],
            cmd_failed: true,
            ..Outcome::default()
        };
        assert_eq!(
            missed.exit_code(),
            exit::FINDING,
            "a container not recorded is a finding"
        );
        let failed = Outcome {
            failed: vec!["db".into()],
            missed: vec!["web".into()],
            ..Outcome::default()
        };
        assert_eq!(
            failed.exit_code(),
            exit::RUNTIME,
            "a profile that could not be written"
        );
    }
}
