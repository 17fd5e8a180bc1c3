//! The cost of one syscall, for `cargo xtask bench`: calls `getppid` `--iterations N` times
//! (default 3,000,000) on one thread and prints one line, `ns_per_syscall=<ns> syscalls=<N>`.
//!
//! `getppid` does almost nothing in the kernel, so the time is dominated by the entry/exit path —
//! exactly the part an eBPF program attached to `sys_enter`/`sys_exit` makes slower.

use std::time::Instant;

/// Calls per timed chunk: about 2 ms, short enough that some chunk runs between interruptions
/// (the VM's steal, other tasks' wake-ups), long enough that the clock's own cost vanishes.
const CHUNK: u64 = 10_000;

fn main() {
    let iterations = parse_args().unwrap_or_else(|message| {
        eprintln!("syscall-loop: {message} (usage: syscall-loop [--iterations N])");
        std::process::exit(2);
    });
    let start = Instant::now();
    let mut fastest = f64::INFINITY;
    let mut done = 0;
    while done < iterations {
        let chunk = CHUNK.min(iterations - done);
        let chunk_start = Instant::now();
        for _ in 0..chunk {
            // SAFETY: getppid takes no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
        fastest = fastest.min(chunk_start.elapsed().as_nanos() as f64 / chunk as f64);
        done += chunk;
    }
    let elapsed = start.elapsed();
    let ns = elapsed.as_nanos() as f64 / iterations as f64;
    println!("ns_per_syscall={ns:.1} syscalls={iterations} fastest_chunk_ns={fastest:.1}");
}

fn parse_args() -> Result<u64, String> {
    let mut iterations = 3_000_000u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iterations" => {
                iterations = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--iterations takes a positive number")?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(iterations)
}
