//! `cargo xtask fuzz` (and the `fuzz` stage of `cargo xtask test`): builds the cargo-fuzz targets
//! of `fuzz/` once and runs all of them at the same time for a fixed time, each from a copy of its
//! checked-in corpus under `target/xtask/fuzz/`, so a run never changes the tree. Any crash,
//! timeout or out-of-memory fails the task and names the input that caused it, with the command
//! that reproduces it.
//!
//! What each target asserts is in `fuzz/fuzz_targets/`; growing and minimising the corpus is a
//! developer's step (README, "Fuzzing"), not this task's.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use anyhow::{Context, Result, bail};

use crate::{cmd, prereqs, workspace};

/// The targets of `fuzz/Cargo.toml`, in the order they are reported.
pub const TARGETS: [&str; 3] = ["profile_parse", "profile_merge", "profile_diff"];

/// How long `cargo xtask test` runs each target. The three run at once on CI's two cores.
pub const TEST_SECONDS: u64 = 30;

/// One input running longer than this is a failure (a hang), not a slow run.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// No sanitizer: the fuzzed code is safe Rust, and libseccomp (C) is the system's uninstrumented
/// library either way; without AddressSanitizer a cold build is a minute shorter and a run twice as
/// fast. Reproducing a crash must use the same flag, or cargo-fuzz rebuilds everything.
const SANITIZER: &str = "none";

/// `cargo xtask fuzz`: installs the nightly toolchain and cargo-fuzz when missing, then [`run`].
pub fn task(seconds: u64) -> Result<()> {
    prereqs::ensure_fuzzing()?;
    run(seconds)
}

/// Builds every target and runs them all for `seconds`; fails on any crash.
pub fn run(seconds: u64) -> Result<()> {
    let fuzz_dir = workspace::root().join("fuzz");
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let target_dir = fuzz_dir.join("target");
    cmd::run(
        cmd::new("cargo")
            .args(["+nightly", "fuzz", "build", "--sanitizer", SANITIZER])
            .args(["--target", &triple])
            .arg("--target-dir")
            .arg(&target_dir),
    )
    .context("build the fuzz targets")?;

    let scratch = workspace::scratch_dir()?.join("fuzz");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).with_context(|| format!("remove {}", scratch.display()))?;
    }
    let bin_dir = target_dir.join(&triple).join("release");
    let mut runs = Vec::new();
    for target in TARGETS {
        runs.push(Run::start(
            target,
            &bin_dir,
            &fuzz_dir,
            &scratch.join(target),
            seconds,
        )?);
    }
    println!(
        "xtask: fuzzing {} for {seconds} s each, all at once (logs in {})",
        TARGETS.join(", "),
        cmd::relative(scratch.as_os_str())
    );

    let mut failed = Vec::new();
    for run in runs {
        let target = run.target;
        if !run.finish()? {
            failed.push(target);
        }
    }
    if !failed.is_empty() {
        bail!("fuzz target(s) {} failed", failed.join(", "));
    }
    Ok(())
}

/// One target running from a copy of its corpus.
struct Run {
    target: &'static str,
    dir: PathBuf,
    log: PathBuf,
    child: Child,
}

impl Run {
    fn start(
        target: &'static str,
        bin_dir: &Path,
        fuzz_dir: &Path,
        dir: &Path,
        seconds: u64,
    ) -> Result<Run> {
        let corpus = dir.join("corpus");
        copy_dir(&fuzz_dir.join("corpus").join(target), &corpus)?;
        let artifacts = dir.join("artifacts");
        fs::create_dir_all(&artifacts)
            .with_context(|| format!("create {}", artifacts.display()))?;
        let log = dir.join("log");
        let out = fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("open {} twice", log.display()))?;
        let mut artifact_prefix = std::ffi::OsString::from("-artifact_prefix=");
        // libFuzzer prepends the prefix as is: the trailing slash makes it a directory.
        artifact_prefix.push(artifacts.as_os_str());
        artifact_prefix.push("/");
        let mut dict = std::ffi::OsString::from("-dict=");
        dict.push(fuzz_dir.join("profile.dict"));
        let child = cmd::new(bin_dir.join(target))
            .arg(&corpus)
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
            .arg(dict)
            .arg(artifact_prefix)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("start the fuzz target {target} (was it built?)"))?;
        Ok(Run {
            target,
            dir: dir.to_owned(),
            log,
            child,
        })
    }

    /// Waits for the target and reports it; `false` when it found a failing input.
    fn finish(mut self) -> Result<bool> {
        let status = self
            .child
            .wait()
            .with_context(|| format!("wait for the fuzz target {}", self.target))?;
        let log = fs::read_to_string(&self.log)
            .with_context(|| format!("read {}", self.log.display()))?;
        let inputs = artifacts(&self.dir.join("artifacts"))?;
        if status.success() && inputs.is_empty() {
            println!("xtask: fuzz: {}: {}", self.target, summary(&log));
            return Ok(true);
        }
        println!(
            "xtask: fuzz: {}: FAILED ({status}); the end of its log ({}):",
            self.target,
            cmd::relative(self.log.as_os_str())
        );
        for line in failure_lines(&log) {
            println!("    {line}");
        }
        for input in &inputs {
            let input = cmd::relative(input.as_os_str());
            println!("xtask: fuzz: {}: failing input {input}", self.target);
            println!(
                "xtask: fuzz: reproduce with `cargo +nightly fuzz run --sanitizer {SANITIZER} {} \
                 {input}`",
                self.target
            );
        }
        Ok(false)
    }
}

/// The inputs libFuzzer wrote: `crash-…`, `timeout-…`, `oom-…`, `slow-unit-…`.
fn artifacts(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        found.push(
            entry
                .with_context(|| format!("read {}", dir.display()))?
                .path(),
        );
    }
    found.sort();
    Ok(found)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let path = entry
            .with_context(|| format!("read {}", from.display()))?
            .path();
        if let Some(name) = path.file_name() {
            fs::copy(&path, to.join(name))
                .with_context(|| format!("copy {} to {}", path.display(), to.display()))?;
        }
    }
    Ok(())
}

/// `1234567 runs in 31 s (39824/s), coverage 2702, corpus 180 → 1256`, from libFuzzer's
/// `INITED`, `DONE` and `Done N runs in S second(s)` lines.
fn summary(log: &str) -> String {
    let field = |line: &str, key: &str| -> Option<u64> {
        let rest = &line[line.find(key)? + key.len()..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    let last = |marker: &str| log.lines().rev().find(|line| line.contains(marker));
    let done = log.lines().rev().find_map(|line| {
        let rest = line.strip_prefix("Done ")?;
        let (runs, rest) = rest.split_once(" runs in ")?;
        let seconds = rest.split_whitespace().next()?;
        Some((runs.parse::<u64>().ok()?, seconds.parse::<u64>().ok()?))
    });
    let Some((runs, seconds)) = done else {
        return "finished (no `Done` line in its log)".to_owned();
    };
    let mut text = format!("{runs} runs in {seconds} s ({}/s)", runs / seconds.max(1));
    if let Some(cov) = last("DONE").and_then(|line| field(line, "cov: ")) {
        text.push_str(&format!(", coverage {cov}"));
    }
    let corpus = |marker: &str| last(marker).and_then(|line| field(line, "corp: "));
    if let (Some(start), Some(end)) = (corpus("INITED"), corpus("DONE")) {
        text.push_str(&format!(", corpus {start} → {end}, no crash"));
    } else {
        text.push_str(", no crash");
    }
    text
}

/// What a reader of a failure needs: from the panic (or libFuzzer's error) on, without the stack
/// backtrace (the log keeps it), at most 40 lines.
fn failure_lines(log: &str) -> Vec<&str> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.contains("panicked at") || line.contains("ERROR: libFuzzer"))
        .unwrap_or(lines.len().saturating_sub(20));
    let mut in_backtrace = false;
    let mut shown = Vec::new();
    for line in &lines[start..] {
        if line.starts_with("stack backtrace:") {
            in_backtrace = true;
            continue;
        }
        if in_backtrace {
            // Frames are indented; the backtrace ends with std's `note: Some details …` line.
            in_backtrace = line.starts_with(' ');
            if in_backtrace || line.starts_with("note: ") {
                continue;
            }
        }
        shown.push(*line);
    }
    shown.truncate(40);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
INFO: Seed: 1
#2\tINITED cov: 1500 ft: 4000 corp: 21/112Kb exec/s: 0 rss: 30Mb
#772268\tDONE   cov: 2832 ft: 8602 corp: 1682/3030Kb lim: 13319 exec/s: 36774 rss: 37Mb
Done 772268 runs in 21 second(s)
";

    #[test]
    fn summary_reads_libfuzzer_lines() {
        assert_eq!(
            summary(LOG),
            "772268 runs in 21 s (36774/s), coverage 2832, corpus 21 → 1682, no crash"
        );
        assert_eq!(
            summary("INFO: Seed: 1\n"),
            "finished (no `Done` line in its log)"
        );
    }

    #[test]
    fn failure_starts_at_the_panic_without_the_backtrace() {
        let log = "#1 NEW\n#2 NEW\nthread '<unnamed>' panicked at x.rs:1:1:\nboom\n\
                   stack backtrace:\n   0: main\n             at x.rs:1:1\n\
                   note: Some details are omitted\n\
                   ==1== ERROR: libFuzzer: deadly signal\nTest unit written to a/crash-1\n";
        assert_eq!(
            failure_lines(log),
            [
                "thread '<unnamed>' panicked at x.rs:1:1:",
                "boom",
                "==1== ERROR: libFuzzer: deadly signal",
                "Test unit written to a/crash-1",
            ]
        );
    }
}
