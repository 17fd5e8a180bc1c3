//! `cargo xtask test`: everything CI runs, in order, stopping at the first failure — unit tests,
//! the manifests of `deploy/` validated offline (`manifests`),
//! the fuzz targets for 30 s (`fuzz`), the release build, the release artefacts (`dist`: built
//! twice and compared, installed, the GitHub Action run), the local test images (`images`), the
//! privileged end-to-end tests (`tests/`, one thread, against dockerd, told
//! `SECCOMP_PROFILER_IMAGES=1`), the demo, and last `profiles --check` (the checked-in profiles
//! still match what their workloads do). It
//! reports no counts of its own: cargo's `test result:` lines are the record. What the end-to-end
//! tests check is theirs; this module only prepares the machine and runs them.

use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{
    cmd, crun, demo, dist_test, dockerd, fuzz, images, manifests, prereqs, profiles, runtime_table,
    workspace,
};

pub fn run(test_args: &[String]) -> Result<()> {
    if !workspace::is_root() {
        bail!(
            "`cargo xtask test` needs root (eBPF, cgroups, dockerd); run it as root, \
             or `cargo test -p seccomp-profiler -p profiler-common -p xtask` for the unit tests alone"
        );
    }
    let started = Instant::now();
    prereqs::ensure(prereqs::Set::Test)?;
    let dockerd =
        dockerd::ensure_running().context("get a Docker daemon for the container tests")?;
    crun::ensure_registered().context("register crun in dockerd for the runtime tests")?;
    let result = stages(test_args);
    if let Some(pid) = dockerd {
        dockerd::left_running_note(pid);
    }
    match &result {
        Ok(()) => println!(
            "xtask: test: all stages passed in {:.0?}",
            started.elapsed()
        ),
        Err(_) => println!("xtask: test: FAILED after {:.0?}", started.elapsed()),
    }
    result
}

fn stages(test_args: &[String]) -> Result<()> {
    stage("unit tests", || {
        // dockerd answers by now: the Docker client's tests run against it instead of skipping.
        cmd::run(
            cmd::cargo()
                .env("SECCOMP_PROFILER_DOCKER_TESTS", "1")
                .args([
                    "test",
                    "-p",
                    "seccomp-profiler",
                    "-p",
                    "profiler-common",
                    "-p",
                    "xtask",
                ]),
        )
    })?;
    stage("manifests", manifests::check)?;
    stage("fuzz", || fuzz::run(fuzz::TEST_SECONDS))?;
    stage("release build", demo::build_release)?;
    stage("dist", dist_test::run)?;
    stage("test images", || images::build_all(false))?;
    stage("end-to-end tests", || {
        let workloads = workspace::target_dir().join("release");
        cmd::run(
            cmd::cargo()
                .env(
                    "SECCOMP_PROFILER_BIN",
                    workspace::release_bin("seccomp-profiler"),
                )
                .env("SECCOMP_PROFILER_WORKLOADS", &workloads)
                // The images of `images` exist and dockerd answers: the container tests may run.
                .env("SECCOMP_PROFILER_IMAGES", "1")
                .args(["test", "--release", "-p", "seccomp-profiler-tests", "--"])
                .arg("--test-threads=1")
                .args(test_args),
        )
    })?;
    stage("demo", demo::scenario)?;
    stage("profiles --check", profiles::check)?;
    stage("runtime-table --check", runtime_table::check)
}

fn stage(name: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("xtask: == {name} ==");
    let started = Instant::now();
    body().with_context(|| format!("run the {name}"))?;
    println!("xtask: {name} passed ({:.1?})", started.elapsed());
    Ok(())
}
