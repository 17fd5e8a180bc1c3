//! The process exit codes, one place, and how an error finds its code. They are documented in
//! `--help` (cli.rs) and the README.
//!
//! Every error type that can reach `main` knows its own exit code ([`Coded`]): a profile that does
//! not parse is invalid input wherever it is read, a program the kernel rejects means this machine
//! cannot trace. `?` carries the code with the error; `main` asks [`code_of`], which looks through
//! the chain for the outermost error that knows its code (so a wrapper such as
//! `RecordError::Build` can say that a profile error *during a recording* is a runtime failure).
//!
//! One rule keeps messages readable: a message that prints its cause (`…: {err}; do this`) does not
//! also return it from `source()`, and one that returns it does not print it, so `main`'s `{:#}`
//! shows every cause exactly once.

use std::error::Error;

pub const OK: i32 = 0;
/// `check` saw syscalls outside the profile; `diff` saw NEW allow more than OLD.
pub const FINDING: i32 = 1;
/// Bad arguments or input files, CMD not found, an output path that cannot be written.
pub const INPUT: i32 = 2;
/// The machine cannot trace: privileges, BTF, cgroup v2, eBPF load/attach, dockerd unreachable.
pub const ENVIRONMENT: i32 = 3;
/// A failure after tracing started.
pub const RUNTIME: i32 = 4;
/// `record`: CMD exited non-zero (the profile was still written).
pub const CMD_FAILED: i32 = 5;

/// An error that knows which exit code it ends the process with.
pub trait Coded {
    fn exit_code(&self) -> i32;
}

/// A problem with what the user asked for that has no richer type: a wrong combination of
/// arguments, a directory where a file is needed. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl Coded for InputError {
    fn exit_code(&self) -> i32 {
        INPUT
    }
}

/// Shorthand for `Err(InputError(message).into())`.
pub fn input<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(InputError(message.into()).into())
}

/// The exit code for an error: the outermost cause that knows its code, else [`RUNTIME`].
pub fn code_of(error: &anyhow::Error) -> i32 {
    error.chain().find_map(coded).unwrap_or(RUNTIME)
}

/// Every error type of the crate that carries a code, asked in turn.
fn coded(cause: &(dyn Error + 'static)) -> Option<i32> {
    macro_rules! first_coded {
        ($($ty:ty),+ $(,)?) => {
            $(if let Some(error) = cause.downcast_ref::<$ty>() {
                return Some(error.exit_code());
            })+
        };
    }
    first_coded!(
        InputError,
        crate::profile::ProfileError,
        crate::output::OutputError,
        crate::recording::RecordError,
        crate::tracer::TracerError,
        crate::btf::BtfError,
        crate::cgroup::CgroupError,
        crate::launcher::LaunchError,
        crate::docker::DockerError,
    );
    None
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    use super::*;

    #[test]
    fn the_outermost_coded_cause_decides() {
        let plain = anyhow::anyhow!("something broke");
        assert_eq!(code_of(&plain), RUNTIME);
        let input: anyhow::Error = InputError("bad".into()).into();
        assert_eq!(code_of(&input), INPUT);
        let wrapped = Err::<(), _>(input).context("failed to do it").unwrap_err();
        assert_eq!(code_of(&wrapped), INPUT, "context keeps the code");
        assert_eq!(format!("{wrapped:#}"), "failed to do it: bad");
    }
}
