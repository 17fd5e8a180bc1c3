//! What the test modules share. For the tests of plain commands, this file: `TIMEOUT`, `tempdir`
//! and the `ground_truth` workload. For the container tests (`containers`, `capabilities`,
//! `attach`), split by concern:
//! - `docker`: the local test images, `docker` command lines, and whether the machine is ready;
//! - `session`: one container test's lock, temp dir and clean-up (containers and compose projects
//!   it started are removed even when it panics), the load scripts of `tests/scripts/`, and
//!   `record --containers` with the directory it writes;
//! - `load`: what each load script must print, and replaying one under a profile;
//! - `checks`: the checks every container test shares (profile contents, reports, a denied call).
//!
//! It does not build images (`cargo xtask images`) or start dockerd (`cargo xtask test` does both).
//! Without `SECCOMP_PROFILER_IMAGES` every container test panics and says to run `cargo xtask test`:
//! a container test must never pass by testing nothing.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use seccomp_profiler_tests::workload;

mod checks;
mod docker;
pub mod engines;
mod load;
mod session;

pub use checks::{
    DOCKER_DEFAULT_ALLOWS, assert_allows, assert_allows_none, assert_allows_one_of,
    assert_container, assert_denied, assert_no_runtime_setup, assert_report_agrees, assert_valid,
};
pub use docker::{
    BUSYBOX, DockerRun, NGINX, QUICK_TIMEOUT, REDIS, dev_null_problem, docker, security_opts,
};
pub use load::{check_compose, check_nginx, check_redis, replay_load, value};
pub use session::{LOAD_TIMEOUT, Recording, Session};

/// Generous: loading the programs takes well under a second, the workloads a few.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A temp dir of the test's, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|err| panic!("cannot create a temp dir: {err}"))
}

/// The workload whose syscalls are known by construction (`src/bin/ground-truth.rs`).
pub fn ground_truth() -> PathBuf {
    workload("ground-truth")
}

/// Polls `ready` every 50 ms for up to `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The strings of a JSON array from a report, in any collection; a test fails on anything else.
pub fn strings<C: FromIterator<String>>(value: &serde_json::Value) -> C {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}
