//! The untraced path's cost against the floor, measured in one process, for `cargo xtask bench`
//! (issue 13): the recorder's own `sys_enter`/`sys_exit` programs and the empty ones
//! (`noop_sys_enter`/`noop_sys_exit`) are loaded once, and each round attaches one pair, times
//! `getppid` (the fastest of four chunks of 5,000 calls), detaches it, and does the same with the
//! other pair. This thread is in no target, so the recorder's programs take their untraced path:
//! its verdict is "not recorded" from its first call on. Pairing rounds a few milliseconds apart
//! takes out the VM's swings, which move separate runs by 10–25 %.
//!
//! Usage: hook-ab [--rounds N] (default 300); needs root. Prints one line:
//! `floor_ns=<median> untraced_ns=<median> ratios=<r1>,<r2>,…` (untraced ÷ floor per round).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use aya::{Ebpf, EbpfLoader, programs::RawTracePoint};

const CHUNK: u64 = 5_000;
const FLOOR: [&str; 2] = ["noop_sys_enter", "noop_sys_exit"];
const RECORDER: [&str; 2] = ["sys_enter", "sys_exit"];

fn main() -> Result<()> {
    let rounds = parse_args()?;
    let mut ebpf = EbpfLoader::new()
        .load(seccomp_profiler::EBPF_OBJECT)
        .context("load the eBPF object (hook-ab needs root)")?;
    for name in FLOOR.into_iter().chain(RECORDER) {
        program(&mut ebpf, name)?
            .load()
            .with_context(|| format!("load {name}"))?;
    }
    let (mut floor, mut untraced) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        floor.push(timed_under(&mut ebpf, FLOOR)?);
        untraced.push(timed_under(&mut ebpf, RECORDER)?);
    }
    let ratios: Vec<String> = (untraced.iter().zip(&floor))
        .map(|(u, f)| format!("{:.4}", u / f))
        .collect();
    println!(
        "floor_ns={:.1} untraced_ns={:.1} ratios={}",
        median(floor),
        median(untraced),
        ratios.join(",")
    );
    Ok(())
}

/// ns per `getppid` (fastest chunk) with `pair` attached to sys_enter and sys_exit.
fn timed_under(ebpf: &mut Ebpf, pair: [&str; 2]) -> Result<f64> {
    let mut links = Vec::new();
    for (name, tracepoint) in pair.into_iter().zip(["sys_enter", "sys_exit"]) {
        let link = program(ebpf, name)?
            .attach(tracepoint)
            .with_context(|| format!("attach {name}"))?;
        links.push((name, link));
    }
    let mut fastest = f64::INFINITY;
    for _ in 0..4 {
        let start = Instant::now();
        for _ in 0..CHUNK {
            // SAFETY: getppid takes no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
        fastest = fastest.min(start.elapsed().as_nanos() as f64 / CHUNK as f64);
    }
    for (name, link) in links {
        program(ebpf, name)?
            .detach(link)
            .with_context(|| format!("detach {name}"))?;
    }
    Ok(fastest)
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut RawTracePoint> {
    let program = ebpf
        .program_mut(name)
        .with_context(|| format!("program {name} is missing from the object"))?;
    Ok(program.try_into()?)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn parse_args() -> Result<usize> {
    let mut rounds = 300;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .context("--rounds takes a positive number")?;
            }
            other => bail!("unknown argument {other:?} (usage: hook-ab [--rounds N])"),
        }
    }
    Ok(rounds)
}
