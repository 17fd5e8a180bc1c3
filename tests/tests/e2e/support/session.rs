//! One container test's life: `Session` holds the lock that keeps the container tests (they share
//! the servers' loopback ports) one at a time, a temp dir with what the load scripts compare
//! against, and every container and compose project the test started, removed when it ends, also
//! when it panics. It runs the load scripts of `tests/scripts/` and `record --containers`;
//! `Recording` reads what that wrote.

use std::{
    collections::BTreeSet,
    ffi::{OsStr, OsString},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use seccomp_profiler_tests::{Output, Profile, Report, profiler_command, run};

use super::docker::{
    DockerRun, compose_file, dev_null_problem, require_images, security_opts, wait_ports_free,
};

/// A recording or replay of a load script: a few seconds each; generous for a loaded machine.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The env var the load scripts read: a file with large.bin's expected content.
const LARGE_ENV: &str = "SP_LARGE_EXPECTED";

static SERIAL: Mutex<()> = Mutex::new(());

/// One container test: holds the lock that keeps the container tests (which share the ports) one at
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
        let dir = super::tempdir();
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

    /// The `docker run` of a one-shot container named for `role` (removed at the end of the
    /// session), under `profile` (and no-new-privileges if asked) when one is given; the caller
    /// adds options, the image and its command (`DockerRun::command`).
    pub fn docker_run(
        &mut self,
        role: &str,
        profile: Option<&Path>,
        no_new_privileges: bool,
    ) -> DockerRun {
        let run = DockerRun::named(&self.container(role));
        match profile {
            Some(profile) => run.options(security_opts(profile, no_new_privileges)),
            None => run,
        }
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
        self.run_argv(&self.script_argv(script, args))
    }

    /// Runs `argv` (a load script's, maybe behind `env`) with the environment the load scripts
    /// read, at most `LOAD_TIMEOUT`.
    pub fn run_argv(&self, argv: &[OsString]) -> Output {
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .env(LARGE_ENV, self.path().join("large.expected"));
        run(&mut command, LOAD_TIMEOUT)
    }

    /// `seccomp-profiler record --containers -o DIR/profiles --report-dir DIR/reports -- CMD…`
    /// into a fresh subdirectory `label` of the session's dir; checks that `record` exited 0.
    pub fn record<S: AsRef<OsStr>>(&self, label: &str, cmd: &[S], timeout: Duration) -> Recording {
        self.record_with(label, &[], cmd, timeout, 0)
    }

    /// [`Session::record`] with more options to `record` (e.g. `--verify`), expecting exit `code`.
    pub fn record_with<S: AsRef<OsStr>>(
        &self,
        label: &str,
        options: &[&str],
        cmd: &[S],
        timeout: Duration,
        code: i32,
    ) -> Recording {
        let root = self.path().join(label);
        let profiles = root.join("profiles");
        let reports = root.join("reports");
        let mut command = profiler_command(["record", "--containers"]);
        command
            .args(options)
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
            recording.output.assert_code(code);
        } else if recording.output.status.code() == Some(code) {
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
