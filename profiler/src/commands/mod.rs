//! One module per subcommand. Each exposes `run(args) -> anyhow::Result<i32>` returning the exit code.

pub mod check;
pub mod diff;
pub mod exec;
pub mod merge;
pub mod record;
pub mod record_docker;
pub mod validate;
