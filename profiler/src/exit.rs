//! The process exit codes, one place. They are documented in `--help` (cli.rs) and the README;
//! errors carry their code through [`Failure`] so `main` stays a thin parse → run → exit.

use std::fmt;

pub const OK: i32 = 0;
/// `check` saw syscalls outside the profile; `diff` saw NEW allow more than OLD.
pub const FINDING: i32 = 1;
/// Bad arguments or input files, CMD not found, an output path that cannot be written.
pub const INPUT: i32 = 2;
/// The machine cannot trace: privileges, BTF, cgroup v2, eBPF load/attach.
pub const ENVIRONMENT: i32 = 3;
/// A failure after tracing started.
pub const RUNTIME: i32 = 4;
/// `record`: CMD exited non-zero (the profile was still written).
pub const CMD_FAILED: i32 = 5;

/// An error that knows which exit code it maps to. Wrap it in `anyhow::Error`; `main` downcasts.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Failure {}

/// Tags an error with an exit code: `Err(e).map_err(exit::with(exit::INPUT))?`.
pub fn with<E: Into<anyhow::Error>>(code: i32) -> impl FnOnce(E) -> anyhow::Error {
    move |error| {
        anyhow::Error::new(Failure {
            code,
            error: error.into(),
        })
    }
}

/// The exit code for an error: the innermost [`Failure`]'s code, else [`RUNTIME`].
pub fn code_of(error: &anyhow::Error) -> i32 {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<Failure>())
        .last()
        .map_or(RUNTIME, |failure| failure.code)
}
