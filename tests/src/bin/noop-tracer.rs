//! Runs a command with EMPTY eBPF programs attached to the recorder's hot-path hooks (`sys_enter`,
//! `sys_exit`): the cost floor `cargo xtask bench` compares the recorder against. Needs root.
//! With `--gate`, the command also starts behind the recorder's gate filter (the allow-all
//! seccomp filter `record -- CMD` installs right before execve), so that the floor pays what a
//! gated command pays for seccomp itself, and only the programs' own cost is left to compare.
//!
//! Usage: noop-tracer [--gate] -- CMD [ARGS]

use std::os::unix::process::CommandExt as _;
use std::process::Command;

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let gate = args.first().is_some_and(|arg| arg == "--gate");
    if gate {
        args.remove(0);
    }
    let args: Vec<String> = args.into_iter().skip_while(|arg| arg == "--").collect();
    let Some((program, rest)) = args.split_first() else {
        anyhow::bail!("usage: noop-tracer [--gate] -- CMD [ARGS]");
    };
    let ebpf = seccomp_profiler::tracer::attach_noop()?;
    let mut command = Command::new(program);
    command.args(rest);
    if gate {
        // SAFETY: the closure only makes the seccomp syscall on static data (async-signal-safe).
        unsafe {
            command.pre_exec(seccomp_profiler::launcher::install_gate_filter);
        }
    }
    let status = command.status()?;
    drop(ebpf);
    std::process::exit(status.code().unwrap_or(1));
}
