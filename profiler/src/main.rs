//! Parse → run → exit code, nothing else.

use std::io::Write as _;

use clap::Parser as _;
use seccomp_profiler::{cli::Cli, exit};

fn main() {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info,seccomp_profiler=debug",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
    let code = match seccomp_profiler::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed stderr must not turn the error's exit code into a panic's 101.
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            exit::code_of(&err)
        }
    };
    std::process::exit(code);
}
