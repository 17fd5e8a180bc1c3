//! `cargo xtask bench` (issue 13): what tracing costs, measured side by side and paired per round.
//! Each round runs `syscall-loop` (getppid) (a) plain, (b) under `noop-tracer` (empty programs on
//! the recorder's hooks: the floor), (c) under `seccomp-profiler record`, (d) under bpftrace
//! counting the same cgroup (when installed), and, NOT recorded, while something else is: (e)
//! under a background floor, (f) one background recording, (g) N background recordings. The lines
//! are medians of per-round ratios with min–max: c÷b (issue 13's budget), f÷e (the untraced host
//! tax), g÷f, d÷b. Every run after a recorder waits for the host tracer to exit
//! ([`bench_host::settle`]), so no floor or plain run pays for a lingering one.
//! Then nginx under wrk (`bench_wrk`), start-up, peak RSS and kernel map memory of `record --
//! /bin/true`, per-program cost from bpf stats (`bench_host`), and the storm (`bench_storm`).
//! One table and `target/xtask/bench.json`; it measures and never fails on a slow result (only on
//! a lost count or a failed run). The workloads live in `tests/src/bin/`.

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench_host::{self, Background, BenchCgroup, BpfStats, ProgramCost};
use crate::{bench_storm, bench_wrk, cmd, demo, prereqs, workspace};

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub rounds: usize,
    pub iterations: u64,
    pub concurrent: usize,
    pub quick: bool,
}

/// One line of the table: a median with its min–max, and a budget when the issue sets one.
struct Line {
    name: String,
    unit: &'static str,
    median: f64,
    range: Option<(f64, f64)>,
    budget: Option<Budget>,
}

#[derive(Clone, Copy)]
enum Budget {
    AtMost(f64),
    Below(f64),
    AtLeast(f64),
}

impl Budget {
    fn holds(self, value: f64) -> bool {
        match self {
            Budget::AtMost(b) => value <= b,
            Budget::Below(b) => value < b,
            Budget::AtLeast(b) => value >= b,
        }
    }

    fn describe(self) -> String {
        match self {
            Budget::AtMost(b) => format!("<= {b}"),
            Budget::Below(b) => format!("< {b}"),
            Budget::AtLeast(b) => format!(">= {b}"),
        }
    }
}

impl Line {
    fn samples(name: impl Into<String>, unit: &'static str, samples: &[f64]) -> Line {
        let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Line {
            name: name.into(),
            unit,
            median: median(samples),
            range: (samples.len() > 1).then_some((min, max)),
            budget: None,
        }
    }

    fn budget(mut self, budget: Budget) -> Line {
        self.budget = Some(budget);
        self
    }

    fn verdict(&self) -> &'static str {
        match self.budget {
            Some(b) if b.holds(self.median) => "ok",
            Some(_) => "OVER",
            None => "-",
        }
    }

    fn value(&self) -> String {
        let digits = if self.median.abs() >= 1000.0 { 0 } else { 2 };
        match self.range {
            Some((lo, hi)) => format!(
                "{:.digits$} ({:.digits$}–{:.digits$}){}",
                self.median, lo, hi, self.unit
            ),
            None => format!("{:.digits$}{}", self.median, self.unit),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "unit": self.unit.trim(),
            "median": self.median,
            "min": self.range.map(|r| r.0),
            "max": self.range.map(|r| r.1),
            "budget": self.budget.map(Budget::describe),
            "verdict": self.verdict(),
        })
    }
}

/// One run of `syscall-loop`: ns per getppid over the whole run, and in its fastest chunk of
/// 10,000 calls. The tables use the fastest chunk: this VM's steal and other tasks' wake-ups add
/// 20–60 % to a whole run's mean at random, and only ever add, so the fastest chunk is the
/// per-call cost itself; the means are kept beside them (their ratios as lines of their own).
#[derive(Clone, Copy, Debug)]
struct Timing {
    mean: f64,
    fastest: f64,
}

fn fastest(timings: &[Timing]) -> Vec<f64> {
    timings.iter().map(|t| t.fastest).collect()
}

fn means(timings: &[Timing]) -> Vec<f64> {
    timings.iter().map(|t| t.mean).collect()
}

/// Per-round samples of the loop stage.
#[derive(Default)]
struct Loops {
    plain: Vec<Timing>,
    floor: Vec<Timing>,
    record: Vec<Timing>,
    bpftrace: Vec<Timing>,
    host_floor: Vec<Timing>,
    host_one: Vec<Timing>,
    host_many: Vec<Timing>,
}

impl Loops {
    /// Every series of the loop stage, as `pick` (fastest chunks or means) sees it.
    fn series_json(&self, pick: fn(&[Timing]) -> Vec<f64>) -> Value {
        json!({
            "plain": pick(&self.plain), "floor": pick(&self.floor),
            "record": pick(&self.record), "bpftrace": pick(&self.bpftrace),
            "untraced_floor": pick(&self.host_floor),
            "untraced_one_recording": pick(&self.host_one),
            "untraced_n_recordings": pick(&self.host_many),
        })
    }

    /// `name` as the median of per-round ratios a ÷ b, of the fastest chunks, and the same of
    /// the whole-run means.
    fn ratio_lines(name: &str, a: &[Timing], b: &[Timing], budget: Option<Budget>) -> [Line; 2] {
        let mut line = Line::samples(name, "x", &ratios(&fastest(a), &fastest(b)));
        line.budget = budget;
        [
            line,
            Line::samples(
                format!("{name} (whole-run means)"),
                "x",
                &ratios(&means(a), &means(b)),
            ),
        ]
    }
}

pub fn run(mut opts: Options) -> Result<()> {
    if !workspace::is_root() {
        bail!("`cargo xtask bench` needs root (it loads eBPF programs); run it as root");
    }
    if opts.quick {
        opts.rounds = opts.rounds.min(2);
        opts.iterations = opts.iterations.min(300_000);
    }
    if opts.rounds == 0 || opts.iterations == 0 || opts.concurrent == 0 {
        bail!("--rounds, --iterations and --concurrent must be at least 1");
    }
    prereqs::ensure(prereqs::Set::Bench)?;
    demo::build_release().context("build the release binaries")?;
    let profiler = workspace::release_bin("seccomp-profiler");
    let noop_tracer = workspace::release_bin("noop-tracer");
    let has_bpftrace = cmd::succeeds(cmd::new("bpftrace").arg("--version"));

    let loops = measure_loops(&profiler, &noop_tracer, opts, has_bpftrace)?;
    let alternated = crate::bench_hooks::measure(if opts.quick { 50 } else { 300 })?;
    let costs = measure_program_costs(&profiler, &noop_tracer, opts)?;
    let wrk_seconds = if opts.quick { 1 } else { 3 };
    let wrk = bench_wrk::measure(&profiler, &noop_tracer, opts.rounds, wrk_seconds)?;
    let start = measure_start(&profiler, if opts.quick { 3 } else { 7 })?;
    let storm = if opts.quick {
        None
    } else {
        Some(bench_storm::measure(&profiler, &noop_tracer, opts.rounds)?)
    };

    let n = opts.concurrent;
    let mut lines = vec![
        Line::samples("getppid plain", " ns", &fastest(&loops.plain)),
        Line::samples(
            "getppid under the floor (empty programs)",
            " ns",
            &fastest(&loops.floor),
        ),
        Line::samples("getppid recorded", " ns", &fastest(&loops.record)),
    ];
    lines.extend(Loops::ratio_lines(
        "recorded ÷ floor",
        &loops.record,
        &loops.floor,
        Some(Budget::AtMost(1.15)),
    ));
    lines.extend(Loops::ratio_lines(
        "untraced loop, one recording active ÷ floor",
        &loops.host_one,
        &loops.host_floor,
        Some(Budget::AtMost(1.05)),
    ));
    let alternated_name = "untraced programs ÷ floor, alternated in one process";
    lines
        .push(Line::samples(alternated_name, "x", &alternated.ratios).budget(Budget::AtMost(1.05)));
    lines.extend(Loops::ratio_lines(
        &format!("untraced loop, {n} recordings ÷ one recording"),
        &loops.host_many,
        &loops.host_one,
        Some(Budget::AtMost(1.1)),
    ));
    if has_bpftrace {
        lines.extend(Loops::ratio_lines(
            "bpftrace counting the loop's cgroup ÷ floor",
            &loops.bpftrace,
            &loops.floor,
            None,
        ));
    }
    lines.extend([
        Line::samples("nginx plain (wrk)", " req/s", &wrk.plain),
        Line::samples(
            "nginx under the floor ÷ plain",
            "x",
            &ratios(&wrk.floor, &wrk.plain),
        ),
        Line::samples(
            "nginx recorded ÷ plain",
            "x",
            &ratios(&wrk.recorded, &wrk.plain),
        ),
        Line::samples("start-up to tracing active", " ms", &start.startup_ms)
            .budget(Budget::Below(50.0)),
        Line::samples("peak RSS of record -- /bin/true", " MiB", &start.rss_mib)
            .budget(Budget::Below(16.0)),
        Line::samples("kernel map memory, one command", " MiB", &start.map_mib)
            .budget(Budget::Below(2.0)),
    ]);
    if let Some(storm) = &storm {
        lines.push(
            Line::samples(
                "storm: recorded syscalls/s, exact",
                "/s",
                &storm.recorded_rates(),
            )
            .budget(Budget::AtLeast(bench_storm::TARGET_RATE)),
        );
    }

    let machine = Machine::this();
    print_table(&machine, opts, &lines, &costs);
    if let Some(storm) = &storm {
        println!();
        storm.print();
    }
    let json = json!({
        "machine": machine.to_json(),
        "rounds": opts.rounds,
        "iterations": opts.iterations,
        "concurrent": opts.concurrent,
        "quick": opts.quick,
        "lines": lines.iter().map(Line::to_json).collect::<Vec<_>>(),
        "samples": {
            "ns_per_syscall_fastest_chunk": loops.series_json(fastest),
            "ns_per_syscall_mean": loops.series_json(means),
            "nginx_requests_per_sec": { "plain": wrk.plain, "floor": wrk.floor, "record": wrk.recorded },
            "startup_ms": start.startup_ms, "peak_rss_mib": start.rss_mib, "kernel_map_mib": start.map_mib,
        },
        "program_costs": costs.to_json(),
        "untraced_alternated": alternated.to_json(),
        "storm": storm.as_ref().map(bench_storm::Storm::to_json),
    });
    let path = workspace::scratch_dir()?.join("bench.json");
    let text = serde_json::to_string_pretty(&json).context("serialise bench.json")?;
    fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    println!("xtask: bench: wrote {}", path.display());
    let over: Vec<&str> = lines
        .iter()
        .filter(|l| l.verdict() == "OVER")
        .map(|l| l.name.as_str())
        .collect();
    if !over.is_empty() {
        eprintln!("\n!!! OVER BUDGET: {}", over.join("; "));
    }
    Ok(())
}

fn measure_loops(profiler: &Path, noop: &Path, opts: Options, bpftrace: bool) -> Result<Loops> {
    let syscall_loop = workspace::release_bin("syscall-loop");
    let loop_args = vec!["--iterations".to_owned(), opts.iterations.to_string()];
    let looped = |c: &mut Command| {
        c.arg(&syscall_loop).args(&loop_args);
    };
    let cgroup = if bpftrace {
        Some(BenchCgroup::create()?)
    } else {
        None
    };
    println!(
        "xtask: bench: {} rounds of syscall-loop --iterations {} (plain, floor, record{}, \
         untraced beside a floor / 1 / {} recordings)",
        opts.rounds,
        opts.iterations,
        if bpftrace { ", bpftrace" } else { "" },
        opts.concurrent
    );
    let mut l = Loops::default();
    bench_host::settle()?;
    for round in 1..=opts.rounds {
        l.plain
            .push(ns_per_syscall(cmd::new(&syscall_loop).args(&loop_args))?);
        let mut b = cmd::new(noop);
        b.arg("--");
        looped(&mut b);
        l.floor.push(ns_per_syscall(&mut b)?);
        let mut c = cmd::new(profiler);
        c.args(["record", "-o", "/dev/null", "--"]);
        looped(&mut c);
        l.record.push(ns_per_syscall(&mut c)?);
        bench_host::settle()?;
        if let Some(cgroup) = &cgroup {
            let tracer = Background::bpftrace(&cgroup.path)?;
            let ns = ns_per_syscall(&mut cgroup.run_inside(&syscall_loop, &loop_args));
            tracer.stop()?;
            l.bpftrace.push(ns?);
        }
        let beside = |tracers: Vec<Background>| -> Result<Timing> {
            let ns = ns_per_syscall(cmd::new(&syscall_loop).args(&loop_args));
            for tracer in tracers {
                tracer.stop()?;
            }
            bench_host::settle()?;
            ns
        };
        l.host_floor
            .push(beside(vec![Background::floor_sleep(noop)?])?);
        l.host_one
            .push(beside(vec![Background::record_sleep(profiler)?])?);
        let many = (0..opts.concurrent)
            .map(|_| Background::record_sleep(profiler))
            .collect::<Result<Vec<_>>>()?;
        l.host_many.push(beside(many)?);
        println!(
            "  round {round}/{} (ns, fastest chunk/mean): plain {}, floor {}, record {}{}; \
             untraced beside floor {}, 1 recording {}, {} recordings {}",
            opts.rounds,
            l.plain[round - 1],
            l.floor[round - 1],
            l.record[round - 1],
            l.bpftrace
                .last()
                .map(|t| format!(", bpftrace {t}"))
                .unwrap_or_default(),
            l.host_floor[round - 1],
            l.host_one[round - 1],
            opts.concurrent,
            l.host_many[round - 1]
        );
    }
    Ok(l)
}

/// bpf stats per program: the floor's and the recorder's programs on the traced path (the loop
/// recorded), and the recorder's on the untraced path (the loop beside a recording). Separate
/// runs after the timed rounds: stats collection itself adds to every program run.
struct Costs {
    floor: Vec<ProgramCost>,
    traced: Vec<ProgramCost>,
    untraced: Vec<ProgramCost>,
}

impl Costs {
    fn to_json(&self) -> Value {
        let list = |c: &[ProgramCost]| c.iter().map(ProgramCost::to_json).collect::<Vec<_>>();
        json!({
            "floor_traced_loop": list(&self.floor),
            "record_traced_loop": list(&self.traced),
            "record_untraced_loop": list(&self.untraced),
        })
    }
}

fn measure_program_costs(profiler: &Path, noop: &Path, opts: Options) -> Result<Costs> {
    let syscall_loop = workspace::release_bin("syscall-loop");
    let script = format!(
        "'{}' --iterations {}; sleep 2",
        syscall_loop.display(),
        opts.iterations
    );
    println!("xtask: bench: per-program cost (kernel.bpf_stats_enabled=1, separate runs)");
    let _stats = BpfStats::enable()?;
    let mut b = cmd::new(noop);
    b.args(["--", "sh", "-c", &script]);
    let (_, floor) = bench_host::loop_with_stats(&mut b)?;
    let mut c = cmd::new(profiler);
    c.args(["record", "-o", "/dev/null", "--", "sh", "-c", &script])
        .env(bench_host::PRIVATE.0, bench_host::PRIVATE.1);
    let (_, traced) = bench_host::loop_with_stats(&mut c)?;
    let recorder = Background::record_sleep_in(profiler, false)?;
    let before = bench_host::program_costs(recorder.pid())?;
    ns_per_syscall(cmd::new(&syscall_loop).args(["--iterations", &opts.iterations.to_string()]))?;
    let after = bench_host::program_costs(recorder.pid())?;
    recorder.stop()?;
    let untraced = after
        .into_iter()
        .map(|mut cost| {
            if let Some(old) = before.iter().find(|b| b.name == cost.name) {
                cost.run_cnt -= old.run_cnt.min(cost.run_cnt);
                cost.run_time_ns -= old.run_time_ns.min(cost.run_time_ns);
            }
            cost
        })
        .filter(|c| c.run_cnt > 0)
        .collect();
    Ok(Costs {
        floor,
        traced,
        untraced,
    })
}

struct Start {
    startup_ms: Vec<f64>,
    rss_mib: Vec<f64>,
    map_mib: Vec<f64>,
}

/// `-v record -o /dev/null --report R -- /bin/true`, `runs` times: start-up from its log line,
/// peak RSS from wait4's ru_maxrss (the VmHWM the process ended with), map memory from R.
fn measure_start(profiler: &Path, runs: usize) -> Result<Start> {
    println!("xtask: bench: {runs} runs of record -- /bin/true (start-up, peak RSS, map memory)");
    let report = workspace::scratch_dir()?.join("bench-true.report.json");
    let mut s = Start {
        startup_ms: Vec::new(),
        rss_mib: Vec::new(),
        map_mib: Vec::new(),
    };
    for _ in 0..runs {
        // Private: the cold start of one load, which is what the host tracer pays once; a recorder
        // joining a running host tracer starts faster and holds no programs of its own.
        let mut c = cmd::new(profiler);
        c.args(["-v", "record", "-o", "/dev/null", "--report"])
            .arg(&report)
            .args(["--", "/bin/true"])
            .env(bench_host::PRIVATE.0, bench_host::PRIVATE.1);
        let (status, stderr, maxrss_kib) = run_with_rusage(&mut c)?;
        cmd::check(&c, status)?;
        let ms = parse_tracing_active_ms(&stderr).with_context(|| {
            format!(
                "find `tracing active after <ms> ms` in the stderr of `{}`",
                cmd::display(&c)
            )
        })?;
        let json: Value = serde_json::from_slice(
            &fs::read(&report).with_context(|| format!("read {}", report.display()))?,
        )
        .context("parse the report")?;
        let bytes = json["run"]["kernel_map_bytes"]
            .as_u64()
            .context("the report has no run.kernel_map_bytes")?;
        s.startup_ms.push(ms);
        s.rss_mib.push(maxrss_kib as f64 / 1024.0);
        s.map_mib.push(bytes as f64 / (1024.0 * 1024.0));
    }
    Ok(s)
}

/// Runs `c` with stderr captured and reaps it with wait4 for its peak RSS (KiB).
fn run_with_rusage(c: &mut Command) -> Result<(ExitStatus, String, i64)> {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start `{}`", cmd::display(c)))?;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).context("read stderr")?;
    }
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which std has not reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pid is our unreaped child; status and usage are valid for writes.
    if unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } != pid {
        bail!(
            "wait4 for `{}`: {}",
            cmd::display(c),
            std::io::Error::last_os_error()
        );
    }
    Ok((ExitStatus::from_raw(status), stderr, usage.ru_maxrss))
}

struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
}

impl Machine {
    fn this() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| k.trim().to_owned())
                .unwrap_or_default(),
        }
    }

    fn to_json(&self) -> Value {
        json!({ "cpu": self.cpu, "cores": self.cores, "kernel": self.kernel })
    }
}

fn print_table(machine: &Machine, opts: Options, lines: &[Line], costs: &Costs) {
    println!();
    println!(
        "== bench: {}, {} cores, Linux {}; {} rounds, medians of per-round values (min–max) ==",
        machine.cpu, machine.cores, machine.kernel, opts.rounds
    );
    println!("{:<48} {:>28} {:>9} {:>5}", "", "value", "budget", "");
    for line in lines {
        println!(
            "{:<48} {:>28} {:>9} {:>5}",
            line.name,
            line.value(),
            line.budget.map(Budget::describe).unwrap_or_default(),
            line.verdict()
        );
    }
    println!();
    println!(
        "per-program cost (bpf stats: run_time_ns / run_cnt, all syscalls on the host in the run)"
    );
    for (title, list) in [
        ("floor, loop traced", &costs.floor),
        ("record, loop recorded", &costs.traced),
        ("record, loop untraced", &costs.untraced),
    ] {
        for cost in list.iter() {
            println!(
                "  {title:<24} {:<28} {:>8.1} ns x {}",
                cost.name,
                cost.ns_per_run(),
                cost.run_cnt
            );
        }
    }
}

/// Per-round a[i] ÷ b[i].
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b).collect()
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}/{:.1}", self.fastest, self.mean)
    }
}

/// Run one measurement, output captured; its stdout must carry the `ns_per_syscall=` line.
fn ns_per_syscall(c: &mut Command) -> Result<Timing> {
    let out = cmd::output(c)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    parse_timing(&stdout).with_context(|| {
        format!(
            "find `ns_per_syscall=<ns> syscalls=<n> fastest_chunk_ns=<ns>` in the stdout of \
             `{}`:\n{}",
            cmd::display(c),
            stdout.trim_end()
        )
    })
}

/// The line `ns_per_syscall=<float> syscalls=<n> fastest_chunk_ns=<float>`.
fn parse_timing(stdout: &str) -> Option<Timing> {
    stdout.lines().find_map(|line| {
        let value = |key: &str| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(key))
                .and_then(|v| v.parse().ok())
        };
        Some(Timing {
            mean: value("ns_per_syscall=")?,
            fastest: value("fastest_chunk_ns=")?,
        })
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
        let out = "warming up\nns_per_syscall=1103.25 syscalls=3000000 fastest_chunk_ns=990.5\n";
        let timing = parse_timing(out).expect("a timing line");
        assert_eq!((timing.mean, timing.fastest), (1103.25, 990.5));
        assert!(parse_timing("ns_per_syscall=abc syscalls=1 fastest_chunk_ns=1").is_none());
        assert!(parse_timing("ns_per_syscall=1.0 syscalls=1").is_none());
        assert!(parse_timing("nothing here").is_none());
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
    fn paired_ratios_and_verdicts() {
        // Paired per round: the median of the per-round ratios, not the ratio of medians.
        let r = ratios(&[120.0, 300.0, 110.0], &[100.0, 200.0, 100.0]);
        assert_eq!(r, vec![1.2, 1.5, 1.1]);
        let line = Line::samples("x", "x", &r).budget(Budget::AtMost(1.15));
        assert_eq!(line.median, 1.2);
        assert_eq!(line.range, Some((1.1, 1.5)));
        assert_eq!(line.verdict(), "OVER");
        let ok = Line::samples("y", " ms", &[40.0]).budget(Budget::Below(50.0));
        assert_eq!((ok.verdict(), ok.range), ("ok", None));
        assert_eq!(Line::samples("z", "", &[1.0]).verdict(), "-");
        assert_eq!(Line::samples("z", "", &[1.0]).to_json()["verdict"], "-");
    }
}
