//! `cargo xtask bench`: what tracing costs every syscall, how long `record` takes to start, and
//! the rate at which a syscall storm is still counted exactly.
//! Three runs of `syscall-loop`, interleaved over rounds so drift hits them alike: (a) plain,
//! (b) under `noop-tracer` (empty programs on the recorder's hooks: the floor any tracer pays),
//! (c) under `seccomp-profiler record`. The budget is (c)/(b) ≤ 1.25 on per-syscall cost. The
//! storm stage is in `bench_storm`. Results go to the terminal and `target/xtask/bench.json`. It
//! measures and never fails on a slow result (only on a lost count); the workloads themselves live
//! in `tests/src/bin/`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::bench_storm::{self, Storm};
use crate::{cmd, demo, prereqs, workspace};

/// The (c)/(b) per-syscall cost ratio the recorder must stay under.
const BUDGET_RATIO: f64 = 1.25;
const STARTUP_RUNS: usize = 5;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub rounds: usize,
    pub iterations: u64,
}

pub fn run(opts: Options) -> Result<()> {
    if !workspace::is_root() {
        bail!("`cargo xtask bench` needs root (it loads eBPF programs); run it as root");
    }
    if opts.rounds == 0 || opts.iterations == 0 {
        bail!("--rounds and --iterations must be at least 1");
    }
    prereqs::ensure(prereqs::Set::Build)?;
    demo::build_release().context("build the release binaries")?;

    let profiler = workspace::release_bin("seccomp-profiler");
    let syscall_loop = workspace::release_bin("syscall-loop");
    let noop_tracer = workspace::release_bin("noop-tracer");
    let loop_args = |cmd: &mut Command| {
        cmd.arg(&syscall_loop)
            .arg("--iterations")
            .arg(opts.iterations.to_string());
    };

    println!(
        "xtask: bench: {} rounds of syscall-loop --iterations {} (plain, noop-tracer, record)",
        opts.rounds, opts.iterations
    );
    let (mut plain, mut noop, mut record) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=opts.rounds {
        let mut a = cmd::new(&syscall_loop);
        a.arg("--iterations").arg(opts.iterations.to_string());
        let mut b = cmd::new(&noop_tracer);
        b.arg("--");
        loop_args(&mut b);
        let mut c = cmd::new(&profiler);
        c.args(["record", "-o", "/dev/null", "--"]);
        loop_args(&mut c);
        plain.push(ns_per_syscall(&mut a)?);
        noop.push(ns_per_syscall(&mut b)?);
        record.push(ns_per_syscall(&mut c)?);
        println!(
            "  round {round}/{}: plain {:.1} ns, noop-tracer {:.1} ns, record {:.1} ns",
            opts.rounds,
            plain[round - 1],
            noop[round - 1],
            record[round - 1]
        );
    }

    let mut startup = Vec::new();
    for _ in 0..STARTUP_RUNS {
        let mut c = cmd::new(&profiler);
        c.args(["-v", "record", "-o", "/dev/null", "--", "/bin/true"]);
        let out = cmd::output(&mut c)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ms = parse_tracing_active_ms(&stderr).with_context(|| {
            format!(
                "find `tracing active after <ms> ms` in the stderr of `{}`:\n{}",
                cmd::display(&c),
                stderr.trim_end()
            )
        })?;
        startup.push(ms);
    }

    let storm = bench_storm::measure(&profiler, &noop_tracer, opts.rounds)?;

    let summary = Summary::new(opts, &plain, &noop, &record, &startup);
    summary.print();
    storm.print();
    let path = write_json(&summary, &storm)?;
    println!("xtask: bench: wrote {}", path.display());
    if !summary.within_budget() {
        eprintln!();
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!(
            "!!! OVER BUDGET: record costs {:.3}x the empty-program floor per syscall (budget {BUDGET_RATIO}x)",
            summary.ratio
        );
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    }
    if !storm.reaches_target() {
        eprintln!();
        eprintln!(
            "!!! BELOW TARGET: the storm was recorded at {:.0} syscalls/s (target {:.0}); compare \
             its plain and noop-tracer rows to tell a busy machine from a slow recorder",
            storm.rate(),
            bench_storm::TARGET_RATE
        );
    }
    Ok(())
}

/// Run one measurement, output captured; its stdout must carry the `ns_per_syscall=` line.
fn ns_per_syscall(c: &mut Command) -> Result<f64> {
    let out = cmd::output(c)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    parse_ns_per_syscall(&stdout).with_context(|| {
        format!(
            "find `ns_per_syscall=<ns> syscalls=<n>` in the stdout of `{}`:\n{}",
            cmd::display(c),
            stdout.trim_end()
        )
    })
}

struct Summary {
    opts: Options,
    plain: Vec<f64>,
    noop: Vec<f64>,
    record: Vec<f64>,
    startup_ms: Vec<f64>,
    plain_ns: f64,
    noop_ns: f64,
    record_ns: f64,
    startup_median_ms: f64,
    ratio: f64,
}

impl Summary {
    fn new(opts: Options, plain: &[f64], noop: &[f64], record: &[f64], startup: &[f64]) -> Self {
        let (plain_ns, noop_ns, record_ns) = (median(plain), median(noop), median(record));
        Summary {
            opts,
            plain: plain.to_vec(),
            noop: noop.to_vec(),
            record: record.to_vec(),
            startup_ms: startup.to_vec(),
            plain_ns,
            noop_ns,
            record_ns,
            startup_median_ms: median(startup),
            ratio: record_ns / noop_ns,
        }
    }

    fn within_budget(&self) -> bool {
        self.ratio <= BUDGET_RATIO
    }

    fn verdict(&self) -> &'static str {
        if self.within_budget() { "PASS" } else { "OVER" }
    }

    fn print(&self) {
        let r = self.opts.rounds;
        println!();
        println!("== bench (median of {r} rounds) ==");
        println!("{:<34} {:>12} {:>16}", "", "ns/syscall", "added vs plain");
        println!("{:<34} {:>12.1} {:>16}", "(a) plain", self.plain_ns, "-");
        println!(
            "{:<34} {:>12.1} {:>+16.1}",
            "(b) noop-tracer (empty programs)",
            self.noop_ns,
            self.noop_ns - self.plain_ns
        );
        println!(
            "{:<34} {:>12.1} {:>+16.1}",
            "(c) seccomp-profiler record",
            self.record_ns,
            self.record_ns - self.plain_ns
        );
        println!(
            "(c)/(b) per-syscall cost: {:.3}x (budget {BUDGET_RATIO}x) {}",
            self.ratio,
            self.verdict()
        );
        println!(
            "record start-up (tracing active after): {:.1} ms (median of {})",
            self.startup_median_ms,
            self.startup_ms.len()
        );
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "rounds": self.opts.rounds,
            "iterations": self.opts.iterations,
            "ns_per_syscall": {
                "plain": { "median": self.plain_ns, "samples": self.plain },
                "noop_tracer": { "median": self.noop_ns, "samples": self.noop },
                "record": { "median": self.record_ns, "samples": self.record },
            },
            "added_ns_vs_plain": {
                "noop_tracer": self.noop_ns - self.plain_ns,
                "record": self.record_ns - self.plain_ns,
            },
            "record_vs_noop_ratio": self.ratio,
            "budget_ratio": BUDGET_RATIO,
            "verdict": self.verdict(),
            "startup_ms": { "median": self.startup_median_ms, "samples": self.startup_ms },
        })
    }
}

fn write_json(summary: &Summary, storm: &Storm) -> Result<PathBuf> {
    let path = workspace::scratch_dir()?.join("bench.json");
    let mut json = summary.to_json();
    json["storm"] = storm.to_json();
    let text = serde_json::to_string_pretty(&json).context("serialise bench.json")?;
    fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

/// The float after `ns_per_syscall=` on the line `ns_per_syscall=<float> syscalls=<n>`.
fn parse_ns_per_syscall(stdout: &str) -> Option<f64> {
    stdout.lines().find_map(|line| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix("ns_per_syscall="))
            .and_then(|v| v.parse().ok())
    })
}

/// The float in `… tracing active after <float> ms …` (record's `-v` start-up line).
fn parse_tracing_active_ms(stderr: &str) -> Option<f64> {
    const MARK: &str = "tracing active after ";
    stderr.lines().find_map(|line| {
        let rest = &line[line.find(MARK)? + MARK.len()..];
        let mut words = rest.split_whitespace();
        let value = words.next()?.parse().ok()?;
        (words.next() == Some("ms")).then_some(value)
    })
}

/// The median; the mean of the middle two for an even count; NaN for none.
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_syscall_loop_line() {
        let out = "warming up\nns_per_syscall=1103.25 syscalls=3000000\n";
        assert_eq!(parse_ns_per_syscall(out), Some(1103.25));
        assert_eq!(parse_ns_per_syscall("ns_per_syscall=abc syscalls=1"), None);
        assert_eq!(parse_ns_per_syscall("nothing here"), None);
    }

    #[test]
    fn parses_tracing_active_line() {
        let err = "[INFO] loaded programs\n[INFO seccomp_profiler] tracing active after 87.5 ms\n";
        assert_eq!(parse_tracing_active_ms(err), Some(87.5));
        assert_eq!(
            parse_tracing_active_ms("tracing active after 12 ms (3 programs)"),
            Some(12.0)
        );
        assert_eq!(parse_tracing_active_ms("tracing active after 12 s"), None);
        assert_eq!(parse_tracing_active_ms(""), None);
    }

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn budget_verdict() {
        let opts = Options {
            rounds: 1,
            iterations: 1,
        };
        let within = Summary::new(opts, &[1000.0], &[1200.0], &[1250.0], &[80.0]);
        assert_eq!(within.verdict(), "PASS");
        let over = Summary::new(opts, &[1000.0], &[1200.0], &[1600.0], &[80.0]);
        assert_eq!(over.verdict(), "OVER");
        assert_eq!(over.to_json()["verdict"], "OVER");
    }
}
