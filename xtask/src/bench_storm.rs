//! The storm stage of `cargo xtask bench`: the `stress` workload (getppid threads plus a stream of
//! short-lived processes) for 3 s, interleaved over rounds as (a) plain, (b) under `noop-tracer`,
//! (c) under `seccomp-profiler record --report`. Run (c) must count every getppid and every
//! child's marker syscall exactly (a lost count is a bug and fails the bench); its rate is the
//! recorder's own total of syscalls over the workload's elapsed time, and the target is
//! 1,000,000 syscalls/s. (a) and (b) show how much of any shortfall is the machine and the
//! tracepoints themselves. A slow result is reported, never an error.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::bench::median;
use crate::{bench_host, cmd, workspace};

/// The recorded rate (syscalls/s, all syscalls the recorder counted) the storm must reach.
pub const TARGET_RATE: f64 = 1_000_000.0;
const SECONDS: &str = "3";
/// What the stress children make, one each in turn (tests/src/bin/stress.rs).
const CHILD_MARKERS: [&str; 4] = ["sysinfo", "times", "getsid", "sched_getscheduler"];

/// What one run of `stress` printed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Printed {
    getppid_calls: u64,
    children: u64,
    elapsed_ms: u64,
}

impl Printed {
    fn parse(stdout: &str) -> Option<Printed> {
        let value = |key: &str| {
            stdout.lines().find_map(|line| {
                line.strip_prefix(key)?
                    .strip_prefix('=')?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        Some(Printed {
            getppid_calls: value("getppid_calls")?,
            children: value("children")?,
            elapsed_ms: value("elapsed_ms")?.max(1),
        })
    }

    fn getppid_per_sec(&self) -> f64 {
        self.getppid_calls as f64 * 1000.0 / self.elapsed_ms as f64
    }
}

pub struct Storm {
    plain: Vec<f64>,
    noop: Vec<f64>,
    recorded_getppid: Vec<f64>,
    recorded_total: Vec<f64>,
    children: Vec<u64>,
}

impl Storm {
    pub fn rate(&self) -> f64 {
        median(&self.recorded_total)
    }

    /// The recorded rate of every round (syscalls/s).
    pub fn recorded_rates(&self) -> Vec<f64> {
        self.recorded_total.clone()
    }

    pub fn reaches_target(&self) -> bool {
        self.rate() >= TARGET_RATE
    }

    fn verdict(&self) -> &'static str {
        if self.reaches_target() {
            "PASS"
        } else {
            "BELOW"
        }
    }

    pub fn print(&self) {
        println!(
            "{:<34} {:>12} {:>16}",
            "storm (stress, 3 s)", "getppid/s", "syscalls/s"
        );
        println!(
            "{:<34} {:>12.0} {:>16}",
            "(a) plain",
            median(&self.plain),
            "-"
        );
        println!(
            "{:<34} {:>12.0} {:>16}",
            "(b) noop-tracer (empty programs)",
            median(&self.noop),
            "-"
        );
        println!(
            "{:<34} {:>12.0} {:>16.0}",
            "(c) seccomp-profiler record",
            median(&self.recorded_getppid),
            self.rate()
        );
        println!(
            "(c) counted exactly in every round ({} short-lived processes per run, median); \
             recorded rate {:.0}/s (target {TARGET_RATE:.0}) {}",
            median(&self.children.iter().map(|&c| c as f64).collect::<Vec<_>>()),
            self.rate(),
            self.verdict()
        );
    }

    pub fn to_json(&self) -> Value {
        json!({
            "seconds": SECONDS.parse::<f64>().unwrap_or_default(),
            "getppid_per_sec": {
                "plain": { "median": median(&self.plain), "samples": self.plain },
                "noop_tracer": { "median": median(&self.noop), "samples": self.noop },
                "record": { "median": median(&self.recorded_getppid), "samples": self.recorded_getppid },
            },
            "recorded_syscalls_per_sec": { "median": self.rate(), "samples": self.recorded_total },
            "children": self.children,
            "counts_exact": true,
            "target_syscalls_per_sec": TARGET_RATE,
            "verdict": self.verdict(),
        })
    }
}

/// `rounds` interleaved rounds of (a), (b), (c). Fails if any recorded count is off.
pub fn measure(profiler: &Path, noop_tracer: &Path, rounds: usize) -> Result<Storm> {
    let stress = workspace::release_bin("stress");
    let scratch = workspace::scratch_dir()?;
    let report = scratch.join("bench-storm.report.json");
    println!(
        "xtask: bench: {rounds} rounds of stress --seconds {SECONDS} (plain, noop-tracer, record)"
    );
    let mut storm = Storm {
        plain: Vec::new(),
        noop: Vec::new(),
        recorded_getppid: Vec::new(),
        recorded_total: Vec::new(),
        children: Vec::new(),
    };
    for round in 1..=rounds {
        let mut a = cmd::new(&stress);
        a.args(["--seconds", SECONDS]);
        let mut b = cmd::new(noop_tracer);
        b.arg("--").arg(&stress).args(["--seconds", SECONDS]);
        let mut c = cmd::new(profiler);
        c.args(["record", "-o", "/dev/null", "--report"])
            .arg(&report)
            .arg("--")
            .arg(&stress)
            .args(["--seconds", SECONDS]);
        let plain = run_stress(&mut a)?;
        let noop = run_stress(&mut b)?;
        let recorded = run_stress(&mut c)?;
        bench_host::settle()?;
        let total = check_exact(&report, &recorded)
            .with_context(|| format!("round {round}: `{}`", cmd::display(&c)))?;
        let total_rate = total as f64 * 1000.0 / recorded.elapsed_ms as f64;
        println!(
            "  round {round}/{rounds}: plain {:.0}, noop-tracer {:.0}, record {:.0} getppid/s; \
             recorded {total} syscalls = {total_rate:.0}/s, exact",
            plain.getppid_per_sec(),
            noop.getppid_per_sec(),
            recorded.getppid_per_sec()
        );
        storm.plain.push(plain.getppid_per_sec());
        storm.noop.push(noop.getppid_per_sec());
        storm.recorded_getppid.push(recorded.getppid_per_sec());
        storm.recorded_total.push(total_rate);
        storm.children.push(recorded.children);
    }
    Ok(storm)
}

fn run_stress(c: &mut Command) -> Result<Printed> {
    let out = cmd::output(c)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    Printed::parse(&stdout).with_context(|| {
        format!(
            "find `getppid_calls=`, `children=` and `elapsed_ms=` in the stdout of `{}`:\n{}",
            cmd::display(c),
            stdout.trim_end()
        )
    })
}

/// Checks the report's counts against what the workload says it made; returns the recorded total.
fn check_exact(report: &Path, printed: &Printed) -> Result<u64> {
    let text = std::fs::read_to_string(report)
        .with_context(|| format!("read the report {}", report.display()))?;
    let json: Value = serde_json::from_str(&text)
        .with_context(|| format!("parse the report {}", report.display()))?;
    check_counts(&json, printed).with_context(|| format!("in the report {}", report.display()))
}

fn check_counts(json: &Value, printed: &Printed) -> Result<u64> {
    let count = |name: &str| -> u64 {
        json["syscalls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["name"] == name)
            .filter_map(|entry| entry["count"].as_u64())
            .sum()
    };
    let mut wrong = Vec::new();
    if count("getppid") != printed.getppid_calls {
        wrong.push(format!(
            "getppid recorded {} times, made {}",
            count("getppid"),
            printed.getppid_calls
        ));
    }
    let children = printed.children;
    for (k, name) in CHILD_MARKERS.iter().enumerate() {
        let made = children / 4 + u64::from((k as u64) < children % 4);
        if count(name) != made {
            wrong.push(format!(
                "{name} recorded {} times, made {made}",
                count(name)
            ));
        }
    }
    if !wrong.is_empty() {
        bail!("the recorder lost or invented counts: {}", wrong.join("; "));
    }
    json["total_syscalls"]
        .as_u64()
        .context("no numeric `total_syscalls`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stress_output() {
        let out =
            "getppid_calls=4496154\nchildren=13179\nelapsed_ms=3010\nsyscalls_per_sec=1493517\n";
        let printed = Printed::parse(out).expect("parses");
        assert_eq!(
            printed,
            Printed {
                getppid_calls: 4_496_154,
                children: 13_179,
                elapsed_ms: 3010
            }
        );
        assert!((printed.getppid_per_sec() - 1_493_739.5).abs() < 1.0);
        assert_eq!(Printed::parse("getppid_calls=1\nchildren=2\n"), None);
    }

    #[test]
    fn exactness_is_checked_per_marker() {
        let entry = |name: &str, count: u64| json!({ "name": name, "count": count });
        let printed = Printed {
            getppid_calls: 100,
            children: 6,
            elapsed_ms: 1000,
        };
        let report = |times: u64| {
            json!({
                "syscalls": [entry("getppid", 100), entry("sysinfo", 2), entry("times", times),
                             entry("getsid", 1), entry("sched_getscheduler", 1)],
                "total_syscalls": 110,
            })
        };
        assert_eq!(check_counts(&report(2), &printed).ok(), Some(110));
        let err = check_counts(&report(1), &printed)
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(err.contains("times recorded 1 times, made 2"), "{err}");
    }
}
