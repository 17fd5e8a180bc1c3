//! The recording pipeline: a target (a command, a running container, every container a command
//! starts) → the supervisor that runs it and stops it → the tracer's counts → the build step that
//! turns counts into a profile and a report. `record` and `check` only choose a target and render
//! what comes back.

/// A recording that failed after it was set up.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "recording needs root to load eBPF programs and create a cgroup (missing CAP_BPF and \
         CAP_PERFMON, or CAP_SYS_ADMIN): run it with sudo"
    )]
    Privileges,
    #[error("{0}")]
    Runtime(String),
}

impl crate::exit::Coded for RecordError {
    fn exit_code(&self) -> i32 {
        match self {
            RecordError::Privileges => crate::exit::ENVIRONMENT,
            RecordError::Runtime(_) => crate::exit::RUNTIME,
        }
    }
}
