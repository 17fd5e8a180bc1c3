//! One module per subcommand. Each exposes `run(args) -> anyhow::Result<i32>` returning the exit code.

pub mod exec;
pub mod record;
pub mod record_docker;
pub mod validate;
