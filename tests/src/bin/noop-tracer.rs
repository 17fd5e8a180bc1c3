//! Runs a command with EMPTY eBPF programs attached to the recorder's hot-path hooks (`sys_enter`,
//! `sys_exit`): the cost floor `cargo xtask bench` compares the recorder against. Needs root.
//!
//! Usage: noop-tracer -- CMD [ARGS]

use std::process::Command;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .skip_while(|arg| arg == "--")
        .collect();
    let Some((program, rest)) = args.split_first() else {
        anyhow::bail!("usage: noop-tracer -- CMD [ARGS]");
    };
    let ebpf = seccomp_profiler::tracer::attach_noop()?;
    let status = Command::new(program).args(rest).status()?;
    drop(ebpf);
    std::process::exit(status.code().unwrap_or(1));
}
