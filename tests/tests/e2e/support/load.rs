//! The load scripts of `tests/scripts/`, judged: what each must print (its `key=value` lines),
//! and `replay_load`, which replays one under a profile `REPLAYS` times with and without
//! no-new-privileges and, when a replay fails, names what a fresh recording of the same load
//! allows and the profile does not. The same script is the recorded CMD and, unchanged, each
//! replay.

use std::{ffi::OsString, time::Instant};

use seccomp_profiler_tests::{Output, Profile};

use super::{
    checks::missing_from,
    docker::security_opts,
    session::{LOAD_TIMEOUT, Session},
};

/// Replays per mode (without and with no-new-privileges): all must pass.
const REPLAYS: usize = 5;

/// What a load script's replay must print besides `failures=0`, and how to judge the rest.
pub type Check = fn(&Output) -> Result<(), String>;

/// The value of a `key=value` line a load script printed, if any.
pub fn value(output: &Output, key: &str) -> Option<u64> {
    output
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .and_then(|value| value.trim().parse().ok())
}

/// Checks a load script's run: exit 0, no `FAIL`, and each `key=value` as expected. An error says
/// which and carries the whole output.
fn check_load(output: &Output, expected: &[(&str, u64)]) -> Result<(), String> {
    let mut problems = Vec::new();
    if output.status.code() != Some(0) {
        problems.push(format!("exit status {}", output.status));
    }
    for (key, want) in [("failures", 0)].iter().chain(expected) {
        match value(output, key) {
            Some(got) if got == *want => {}
            got => problems.push(format!("{key}={got:?}, expected {want}")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{output}", problems.join("; ")))
    }
}

/// The nginx script: ≥ 200 requests all answered as expected (200s, two 404s, large.bin twice byte
/// for byte), a reload that replaced the worker and kept the master, a clean stop, a clean log.
pub fn check_nginx(output: &Output) -> Result<(), String> {
    check_load(
        output,
        &[
            ("reload_exit", 0),
            ("worker_replaced", 1),
            ("master_kept", 1),
            ("large_ok", 2),
            ("exit_code", 0),
            ("log_errors", 0),
        ],
    )?;
    check_requests(output, 200)
}

fn check_requests(output: &Output, at_least: u64) -> Result<(), String> {
    let requests = value(output, "requests").unwrap_or(0);
    let as_expected = value(output, "as_expected").unwrap_or(0);
    if requests >= at_least && as_expected == requests {
        Ok(())
    } else {
        Err(format!(
            "{as_expected} of {requests} requests answered as expected (want all, ≥ {at_least})\n{output}"
        ))
    }
}

/// The redis script: redis-benchmark's four tests finished and their data is there, BGSAVE
/// finished with status ok, a clean stop, a clean log.
pub fn check_redis(output: &Output) -> Result<(), String> {
    check_load(
        output,
        &[
            ("bench_tests", 4),
            ("lpush_len", 2000),
            ("incr_value", 2000),
            ("bgsave_ok", 1),
            ("exit_code", 0),
            ("log_errors", 0),
        ],
    )
}

/// The compose script: both services served their load and stopped cleanly.
pub fn check_compose(output: &Output) -> Result<(), String> {
    check_load(
        output,
        &[
            ("large_ok", 1),
            ("bench_tests", 4),
            ("lpush_len", 500),
            ("incr_value", 500),
            ("bgsave_ok", 1),
            ("web_exit_code", 0),
            ("web_log_errors", 0),
            ("cache_exit_code", 0),
            ("cache_log_errors", 0),
        ],
    )?;
    check_requests(output, 100)
}

/// Runs `once(i)` `times` times; returns how many passed and the failures, and prints the tally.
fn replay_times(
    label: &str,
    times: usize,
    mut once: impl FnMut(usize) -> Result<(), String>,
) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..times {
        if let Err(err) = once(i) {
            failures.push(format!("run {i}: {err}"));
        }
    }
    let passed = times - failures.len();
    eprintln!(
        "replay {label}: {passed}/{times} passed ({:.1?} per run)",
        started.elapsed() / u32::try_from(times.max(1)).unwrap_or(1)
    );
    (passed, failures)
}

/// Replays `script NAME --security-opt seccomp=PROFILE [--security-opt no-new-privileges]`
/// `REPLAYS` times in each mode; all must pass. On a failure, records the same workload afresh
/// and names what that recording allows and the profile does not (the likely missing syscall).
pub fn replay_load(
    session: &mut Session,
    label: &str,
    profile: &Profile,
    script: &str,
    check: Check,
) {
    let mut failures = Vec::new();
    let mut tally = Vec::new();
    for no_new_privileges in [false, true] {
        let mode = if no_new_privileges {
            "seccomp + no-new-privileges"
        } else {
            "seccomp"
        };
        let (passed, failed) = replay_times(&format!("{label} ({mode})"), REPLAYS, |i| {
            let role = if no_new_privileges {
                format!("replay-nnp{i}")
            } else {
                format!("replay{i}")
            };
            let name = session.container(&role);
            let mut args = vec![OsString::from(name)];
            args.extend(security_opts(&profile.path, no_new_privileges));
            check(&session.run_script(script, &args))
        });
        tally.push(format!("{mode}: {passed}/{REPLAYS}"));
        failures.extend(
            failed
                .into_iter()
                .map(|failure| format!("{mode}, {failure}")),
        );
    }
    if failures.is_empty() {
        return;
    }
    let name = session.container("diagnose");
    let argv = session.script_argv(script, &[&name]);
    let fresh = session.record("diagnose", &argv, LOAD_TIMEOUT);
    let missing = missing_from(profile, &fresh.profile(&name));
    panic!(
        "{label}: replays under {} failed ({}); a fresh recording of the same load also allows \
         {missing:?}\n{}",
        profile.path.display(),
        tally.join(", "),
        failures.join("\n\n")
    );
}
