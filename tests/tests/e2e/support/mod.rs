//! Docker helpers for the container tests (`containers`, `capabilities`, `attach`): the local test images, container and compose-project guards
//! that remove what a test started even when it panics, `record --containers` and the directory it
//! writes, the load scripts of `tests/scripts/` and their `key=value` results, and the checks every
//! container test shares (profile contents, replays, a denied call).
//!
//! It does not build images (`cargo xtask images`) or start dockerd (`cargo xtask test` does both).
//! Without `SECCOMP_PROFILER_IMAGES` every test panics and says to run `cargo xtask test`: a
//! container test must never pass by testing nothing.

use std::{
    collections::BTreeSet,
    ffi::{OsStr, OsString},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{Output, Profile, Report, profiler, profiler_command, run};

/// Set by `cargo xtask test` once the images of `cargo xtask images` exist and dockerd answers.
pub const IMAGES_ENV: &str = "SECCOMP_PROFILER_IMAGES";

pub const BUSYBOX: &str = "seccomp-profiler-test/busybox:latest";
pub const NGINX: &str = "seccomp-profiler-test/nginx:latest";
pub const REDIS: &str = "seccomp-profiler-test/redis:latest";

/// How many names Docker 20.10's default profile allows (`shared/reference/`), as the summary says.
pub const DOCKER_DEFAULT_ALLOWS: usize = 346;

/// What runc does before it installs the filter: none of it may land in a profile (DESIGN.md, fact 2).
pub const RUNTIME_SETUP: [&str; 6] = [
    "mount",
    "pivot_root",
    "umount2",
    "sethostname",
    "setns",
    "unshare",
];

/// nginx and redis of the test images listen on loopback of the host network.
const PORTS: [u16; 2] = [8080, 6380];

/// A recording or replay of a load script: a few seconds each; generous for a loaded machine.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// A single short `docker run`.
pub const QUICK_TIMEOUT: Duration = Duration::from_secs(60);

/// The env var the load scripts read: a file with large.bin's expected content.
const LARGE_ENV: &str = "SP_LARGE_EXPECTED";

static SERIAL: Mutex<()> = Mutex::new(());

/// One container test: holds the lock that keeps this file's tests (which share the ports) one at
/// a time, a temp dir, and removes every container and compose project it registered on drop.
pub struct Session {
    pub test: String,
    pub dir: tempfile::TempDir,
    containers: Vec<String>,
    projects: Vec<String>,
    _serial: MutexGuard<'static, ()>,
}

impl Session {
    /// Checks the environment (panics with what to do), waits for the shared ports to be free.
    pub fn begin(test: &str) -> Self {
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        require_images();
        // Only the determinism test can fail on it (and then says so); the others tolerate an fchown.
        if let Some(problem) = dev_null_problem() {
            eprintln!("warning: {problem}");
        }
        wait_ports_free();
        let dir =
            tempfile::tempdir().unwrap_or_else(|err| panic!("cannot create a temp dir: {err}"));
        let large = dir.path().join("large.expected");
        // The image's large.bin: 1 MiB where byte i is i % 251 (tests/images/README.md).
        let bytes: Vec<u8> = (0..1usize << 20).map(|i| (i % 251) as u8).collect();
        std::fs::write(&large, bytes)
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", large.display()));
        Self {
            test: test.to_owned(),
            dir,
            containers: Vec::new(),
            projects: Vec::new(),
            _serial: serial,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A container name unique to this test and process (dockerd rejects one-character names),
    /// removed with `docker rm -f` when the session ends.
    pub fn container(&mut self, role: &str) -> String {
        let name = format!("sp-{}-{role}-{}", self.test, std::process::id());
        self.containers.push(name.clone());
        name
    }

    /// `docker run --rm --network none --name <a container for role>`, plus `--security-opt
    /// seccomp=PROFILE` (and no-new-privileges) when a profile is given: a one-shot container,
    /// removed at the end of the session; the caller appends the image and its arguments.
    pub fn docker_run(
        &mut self,
        role: &str,
        profile: Option<&Path>,
        no_new_privileges: bool,
    ) -> Command {
        let name = self.container(role);
        let mut command = docker(["run", "--rm", "--network", "none", "--name", name.as_str()]);
        if let Some(profile) = profile {
            command.args(security_opts(profile, no_new_privileges));
        }
        command
    }

    /// A compose project name, brought `down` (and its containers removed) when the session ends.
    pub fn project(&mut self, role: &str) -> String {
        let name = format!("sp-{}-{role}-{}", self.test, std::process::id());
        self.projects.push(name.clone());
        name
    }

    /// `sh tests/scripts/SCRIPT ARGS…`, as an argument vector (the CMD of a recording).
    pub fn script_argv<S: AsRef<OsStr>>(&self, script: &str, args: &[S]) -> Vec<OsString> {
        let path = scripts_dir().join(script);
        assert!(path.is_file(), "{} is missing", path.display());
        [OsString::from("sh"), path.into_os_string()]
            .into_iter()
            .chain(args.iter().map(|arg| arg.as_ref().to_owned()))
            .collect()
    }

    /// Runs a load script directly (a replay), at most `LOAD_TIMEOUT`.
    pub fn run_script<S: AsRef<OsStr>>(&self, script: &str, args: &[S]) -> Output {
        let argv = self.script_argv(script, args);
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .env(LARGE_ENV, self.path().join("large.expected"));
        run(&mut command, LOAD_TIMEOUT)
    }

    /// `seccomp-profiler record --containers -o DIR/profiles --report-dir DIR/reports -- CMD…`
    /// into a fresh subdirectory `label` of the session's dir; checks that `record` exited 0.
    pub fn record<S: AsRef<OsStr>>(&self, label: &str, cmd: &[S], timeout: Duration) -> Recording {
        let root = self.path().join(label);
        let profiles = root.join("profiles");
        let reports = root.join("reports");
        let mut command = profiler_command(["record", "--containers"]);
        command
            .arg("-o")
            .arg(&profiles)
            .arg("--report-dir")
            .arg(&reports)
            .arg("--")
            .args(cmd)
            .env(LARGE_ENV, self.path().join("large.expected"));
        let output = run(&mut command, timeout);
        let recording = Recording {
            output,
            profiles,
            reports,
        };
        let foreign = recording.foreign(&format!("sp-{}-", self.test));
        if foreign.is_empty() {
            recording.output.assert_code(0);
        } else if recording.output.status.code() == Some(0) {
            eprintln!("warning: containers of someone else were recorded too: {foreign:?}");
        } else {
            panic!(
                "record failed while containers not started by this test ran ({foreign:?}): \
                 another test using 127.0.0.1:8080/6380 at the same time? Run the container tests \
                 alone.\n{}",
                recording.output
            );
        }
        recording
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Never panic here (a test may already be unwinding): errors only leave a container behind,
        // and `docker rm -f` of one that is already gone is an error too.
        for project in &self.projects {
            quiet(
                Command::new("docker-compose")
                    .arg("-f")
                    .arg(compose_file())
                    .args(["-p", project, "down", "-t", "1"]),
            );
            let ids = Command::new("docker")
                .args(["ps", "-aq", "--filter"])
                .arg(format!("label=com.docker.compose.project={project}"))
                .output()
                .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
                .unwrap_or_default();
            for id in ids.split_whitespace() {
                quiet(Command::new("docker").args(["rm", "-f", id]));
            }
        }
        for name in &self.containers {
            quiet(Command::new("docker").args(["rm", "-f", name]));
        }
    }
}

fn quiet(command: &mut Command) {
    let _ = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// What one `record --containers` wrote.
pub struct Recording {
    pub output: Output,
    pub profiles: PathBuf,
    pub reports: PathBuf,
}

impl Recording {
    /// Containers the summary says were recorded whose names do not start with `prefix`: started
    /// by someone else while CMD ran (compose names its containers `<project>_<service>_1`).
    pub fn foreign(&self, prefix: &str) -> Vec<String> {
        self.output
            .stderr
            .lines()
            .filter_map(|line| line.strip_prefix("seccomp-profiler: recorded container "))
            .filter_map(|rest| rest.split_whitespace().next())
            .filter(|name| !name.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }

    /// The profiles written, by container (file stem): `web` for `web.json`.
    pub fn profile_names(&self) -> BTreeSet<String> {
        json_stems(&self.profiles, ".json")
    }

    /// The reports written, by container: `web` for `web.report.json`.
    pub fn report_names(&self) -> BTreeSet<String> {
        json_stems(&self.reports, ".report.json")
    }

    pub fn profile_path(&self, name: &str) -> PathBuf {
        self.profiles.join(format!("{name}.json"))
    }

    pub fn profile(&self, name: &str) -> Profile {
        let path = self.profile_path(name);
        assert!(
            path.is_file(),
            "no profile for {name}: {:?} written\n{}",
            self.profile_names(),
            self.output
        );
        Profile::read(&path)
    }

    pub fn report(&self, name: &str) -> Report {
        Report::read(&self.reports.join(format!("{name}.report.json")))
    }
}

fn json_stems(dir: &Path, suffix: &str) -> BTreeSet<String> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|file| !file.ends_with(".report.json") || suffix == ".report.json")
        .filter_map(|file| file.strip_suffix(suffix).map(str::to_owned))
        .collect()
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

pub fn compose_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("images/compose/docker-compose.yml")
}

/// `docker ARGS…`.
pub fn docker<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new("docker");
    command.args(args);
    command
}

/// Panics unless `cargo xtask test` prepared the machine: the env var it sets, the tool, the images.
fn require_images() {
    assert!(
        std::env::var_os(IMAGES_ENV).is_some(),
        "{IMAGES_ENV} is not set: run the container tests with `cargo xtask test` (it starts dockerd, \
         builds the local test images with `cargo xtask images` and sets {IMAGES_ENV}=1)"
    );
    let _ = profiler();
    for image in [BUSYBOX, NGINX, REDIS] {
        let output = run(
            &mut docker(["image", "inspect", "--format", "{{.Id}}", image]),
            QUICK_TIMEOUT,
        );
        assert!(
            output.status.success(),
            "image {image} is missing although {IMAGES_ENV} is set: build it with `cargo xtask images`\n{output}"
        );
    }
}

/// Docker hands a container without `-i` the host's `/dev/null` as stdin, and runc chowns every
/// stdio fd that is not the null device to the container's user. When the host's `/dev/null` is a
/// regular file (here it was: `seccomp-profiler record -o /dev/null`, as `cargo xtask bench` runs
/// it, renames its output over it), a root container after a `redis` (uid 999) one makes an extra
/// `fchown`, and profiles depend on which container ran before.
pub fn dev_null_problem() -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata("/dev/null").ok()?;
    if meta.file_type().is_char_device() && meta.rdev() == libc::makedev(1, 3) {
        return None;
    }
    Some(format!(
        "the host's /dev/null is not the null device ({:?}, rdev {:#x}): runc then chowns it to each \
         container's user and profiles get an fchown that depends on the previous container; \
         restore it: `mknod -m 666 /dev/null.new c 1 3 && mv /dev/null.new /dev/null` (it is \
         replaced by `seccomp-profiler record -o /dev/null`, e.g. from `cargo xtask bench`)",
        meta.file_type(),
        meta.rdev()
    ))
}

/// nginx and redis bind fixed loopback ports: wait (at most 60 s) until nothing answers there, so
/// a test never loads a server that is not its own.
fn wait_ports_free() {
    let started = Instant::now();
    loop {
        let busy: Vec<u16> = PORTS
            .into_iter()
            .filter(|port| {
                let addr = SocketAddr::from(([127, 0, 0, 1], *port));
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            })
            .collect();
        if busy.is_empty() {
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let ps = run(&mut docker(["ps"]), QUICK_TIMEOUT);
            panic!(
                "127.0.0.1 ports {busy:?} still answer after 60 s: the container tests need them free \
                 (another test's container, or a server on the host)\n{ps}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

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
pub fn check_load(output: &Output, expected: &[(&str, u64)]) -> Result<(), String> {
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

/// Panics unless every name is allowed.
pub fn assert_allows(profile: &Profile, names: &[&str]) {
    let allowed = profile.allowed();
    let missing: Vec<_> = names
        .iter()
        .filter(|name| !allowed.contains(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "{} does not allow {missing:?}; it allows {allowed:?}",
        profile.path.display()
    );
}

/// Panics unless at least one of `names` is allowed (a libc may pick either).
pub fn assert_allows_one_of(profile: &Profile, names: &[&str]) {
    let allowed = profile.allowed();
    assert!(
        names.iter().any(|name| allowed.contains(*name)),
        "{} allows none of {names:?}; it allows {allowed:?}",
        profile.path.display()
    );
}

/// Panics unless none of `names` is allowed.
pub fn assert_allows_none(profile: &Profile, names: &[&str], why: &str) {
    let allowed = profile.allowed();
    let leaked: Vec<_> = names
        .iter()
        .filter(|name| allowed.contains(**name))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} allows {leaked:?} ({why}); it allows {allowed:?}",
        profile.path.display()
    );
}

/// runc's setup before the filter install must not be in the profile.
pub fn assert_no_runtime_setup(profile: &Profile) {
    assert_allows_none(
        profile,
        &RUNTIME_SETUP,
        "runc's setup before the filter install",
    );
}

/// The report explains the profile: every native name it saw is allowed, and an allowed name it
/// did not see is one of its `implied_syscalls`.
pub fn assert_report_agrees(profile: &Profile, report: &Report) {
    let allowed = profile.allowed();
    let seen: BTreeSet<String> = report.json["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["arch"] == "SCMP_ARCH_X86_64")
        .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
        .collect();
    let implied: BTreeSet<String> = report.json["implied_syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
        .collect();
    let unexplained: BTreeSet<_> = allowed
        .difference(&seen)
        .filter(|name| !implied.contains(*name))
        .collect();
    let missing: BTreeSet<_> = seen.difference(&allowed).collect();
    assert!(
        missing.is_empty() && unexplained.is_empty(),
        "report {} vs profile {}: seen but not allowed {missing:?}; allowed but neither seen nor \
         implied {unexplained:?}",
        report.path.display(),
        profile.path.display()
    );
}

/// The report's `run.container` names the container and how Docker ran it, and the gate was the
/// filter install (runc installed Docker's filter, so the recording starts there).
pub fn assert_container(report: &Report, name: &str, seccomp: &str, no_new_privileges: bool) {
    let run = report.run();
    let container = &run["container"];
    assert_eq!(container["name"], name, "{run:#}");
    assert_eq!(container["seccomp"], seccomp, "{run:#}");
    assert_eq!(container["no_new_privileges"], no_new_privileges, "{run:#}");
    assert_eq!(container["attached_after_start"], false, "{run:#}");
    assert_eq!(run["target"], "containers", "{run:#}");
    if seccomp != "unconfined" {
        let gate = run["gate"].as_str().unwrap_or_default();
        assert!(gate.starts_with("seccomp filter install"), "gate: {run:#}");
    }
}

/// `seccomp-profiler validate PROFILE` accepts it.
pub fn assert_valid(profile: &Profile) {
    run(
        &mut profiler_command(["validate".as_ref(), profile.path.as_os_str()]),
        QUICK_TIMEOUT,
    )
    .assert_code(0);
}

/// Runs `once(i)` `times` times; returns how many passed and the failures, and prints the tally.
pub fn replay_times(
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

/// `--security-opt` arguments for a replay under `profile`, optionally with no-new-privileges.
pub fn security_opts(profile: &Path, no_new_privileges: bool) -> Vec<OsString> {
    let mut opts = vec![OsString::from("--security-opt")];
    let mut seccomp = OsString::from("seccomp=");
    seccomp.push(profile);
    opts.push(seccomp);
    if no_new_privileges {
        opts.extend(["--security-opt".into(), "no-new-privileges".into()]);
    }
    opts
}

/// A call outside the profile is refused: `argv` (a busybox applet) succeeds in `image` without
/// the profile, and under it fails with EPERM ("Operation not permitted"). `outside` are the
/// syscalls the applet needs for its job; they must not be in the profile.
pub fn assert_denied(
    session: &mut Session,
    image: &str,
    profile: &Profile,
    argv: &[&str],
    outside: &[&str],
) {
    assert_allows_none(
        profile,
        outside,
        &format!("`{}` must be refused", argv.join(" ")),
    );
    let control = run(
        session
            .docker_run("control", None, false)
            .args(["--entrypoint", "/bin/busybox", image])
            .args(argv),
        QUICK_TIMEOUT,
    );
    control.assert_code(0);

    let denied = run(
        session
            .docker_run("denied", Some(&profile.path), false)
            .args(["--entrypoint", "/bin/busybox", image])
            .args(argv),
        QUICK_TIMEOUT,
    );
    // busybox exits 1; 125-127 would mean Docker could not start the container at all.
    assert_eq!(
        denied.status.code(),
        Some(1),
        "expected busybox to fail\n{denied}"
    );
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "expected EPERM from the profile\n{denied}"
    );
    eprintln!(
        "denied under {}: `{}` -> {}",
        profile.path.display(),
        argv.join(" "),
        denied.stderr.trim()
    );
}

/// Names a fresh profile allows that `profile` does not: what a failing replay most likely missed.
pub fn missing_from(profile: &Profile, fresh: &Profile) -> BTreeSet<String> {
    fresh
        .allowed()
        .difference(&profile.allowed())
        .cloned()
        .collect()
}
