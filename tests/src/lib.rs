//! Shared helpers for the privileged end-to-end tests in `tests/tests/e2e/`: where the binaries are,
//! running `seccomp-profiler` and the workloads with a timeout, and reading the profiles and reports
//! they write as plain JSON.
//!
//! The JSON is read with `serde_json::Value`, not with the profiler's own types, on purpose: the
//! tests check the files a user (or runc) would read, so a field renamed on both sides of the
//! profiler's serde still fails here. The workloads themselves live in `src/bin/`; they use none of
//! this.

use std::{
    collections::BTreeSet,
    ffi::OsStr,
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde_json::Value;

/// Set by `cargo xtask test`: absolute path of the `seccomp-profiler` binary under test.
pub const PROFILER_ENV: &str = "SECCOMP_PROFILER_BIN";
/// Set by `cargo xtask test`: the directory holding the workload binaries (target/release).
pub const WORKLOADS_ENV: &str = "SECCOMP_PROFILER_WORKLOADS";

const HOW_TO_RUN: &str = "run the privileged end-to-end tests with `cargo xtask test`";

/// The `seccomp-profiler` binary under test. Panics when the environment does not name one: a run
/// that cannot find the tool must fail, never pass by testing nothing.
pub fn profiler() -> PathBuf {
    existing_file(PROFILER_ENV, None)
}

/// A workload binary built from `src/bin/NAME.rs`.
pub fn workload(name: &str) -> PathBuf {
    existing_file(WORKLOADS_ENV, Some(name))
}

fn existing_file(var: &str, name: Option<&str>) -> PathBuf {
    let Some(value) = std::env::var_os(var) else {
        panic!(
            "{var} is not set: {HOW_TO_RUN} (it builds the binaries and sets {PROFILER_ENV} and {WORKLOADS_ENV})"
        );
    };
    let path = match name {
        Some(name) => Path::new(&value).join(name),
        None => PathBuf::from(value),
    };
    assert!(
        path.is_file(),
        "{} does not exist ({var}={:?}): {HOW_TO_RUN}",
        path.display(),
        std::env::var_os(var).unwrap_or_default()
    );
    path
}

/// What a finished process left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The command line, for assertion messages.
    pub command: String,
}

impl Output {
    /// The exit code; panics (with the output) if the process was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| {
            panic!(
                "{} was killed by a signal ({:?})\n{self}",
                self.command, self.status
            )
        })
    }

    /// Panics with the whole output unless the process exited with `expected`.
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "unexpected exit status\n{self}"
        );
        self
    }

    /// The value of a `key=value` line on stdout (how the workloads report what they did).
    pub fn stdout_value(&self, key: &str) -> u64 {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{key}=<number>` line on stdout\n{self}"))
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\n{} after {:.2?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// A started process whose output is being collected.
pub struct Running {
    child: Child,
    command: String,
    started: Instant,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

/// Starts `command` with stdin closed and stdout/stderr captured.
pub fn spawn(command: &mut Command) -> Running {
    let line = describe(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start `{line}`: {err}"));
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    Running {
        child,
        command: line,
        started: Instant::now(),
        stdout,
        stderr,
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error only truncates what the assertion message can show.
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Running {
    /// The process id, e.g. to send it a signal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `timeout`. On timeout the process gets SIGINT (a recording stops and cleans
    /// up its cgroup on Ctrl-C), then SIGKILL 10 s later, and the test panics with its output.
    pub fn wait(mut self, timeout: Duration) -> Output {
        let mut timed_out = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(err) => panic!("cannot wait for `{}`: {err}", self.command),
            }
            let elapsed = self.started.elapsed();
            if !timed_out && elapsed > timeout {
                timed_out = true;
                self.signal(libc::SIGINT);
            } else if timed_out && elapsed > timeout + Duration::from_secs(10) {
                // Ignore errors: the child may have exited in between.
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let output = Output {
            status,
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
            elapsed: self.started.elapsed(),
            command: self.command,
        };
        assert!(!timed_out, "timed out after {timeout:?}\n{output}");
        output
    }

    fn signal(&self, signal: libc::c_int) {
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill() on the pid of a child we started and have not reaped touches no memory.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Runs `command` to completion, at most `timeout`.
pub fn run(command: &mut Command, timeout: Duration) -> Output {
    spawn(command).wait(timeout)
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `seccomp-profiler ARGS…`.
pub fn profiler_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(profiler());
    command.args(args);
    command
}

/// The files one `record` writes, in a directory of the test's.
#[derive(Debug, Clone)]
pub struct RecordPaths {
    pub profile: PathBuf,
    pub report: PathBuf,
}

impl RecordPaths {
    /// `DIR/NAME.json` and `DIR/NAME.report.json`.
    pub fn new(dir: &Path, name: &str) -> Self {
        Self {
            profile: dir.join(format!("{name}.json")),
            report: dir.join(format!("{name}.report.json")),
        }
    }

    /// `seccomp-profiler record -o PROFILE --report REPORT [EXTRA…] -- CMD…`.
    pub fn command<S: AsRef<OsStr>>(&self, extra: &[&str], cmd: &[S]) -> Command {
        let mut command =
            profiler_command(["record".as_ref(), "-o".as_ref(), self.profile.as_os_str()]);
        command
            .arg("--report")
            .arg(&self.report)
            .args(extra)
            .arg("--");
        command.args(cmd);
        command
    }

    pub fn profile(&self) -> Profile {
        Profile::read(&self.profile)
    }

    pub fn report(&self) -> Report {
        Report::read(&self.report)
    }
}

/// Records `cmd` into `paths`, waits at most `timeout`, and checks that `record` exited 0.
pub fn record<S: AsRef<OsStr>>(paths: &RecordPaths, cmd: &[S], timeout: Duration) -> Output {
    let output = run(&mut paths.command(&[], cmd), timeout);
    output.assert_code(0);
    output
}

/// `seccomp-profiler exec --profile PROFILE -- CMD…`.
pub fn exec_command<S: AsRef<OsStr>>(profile: &Path, cmd: &[S]) -> Command {
    let mut command =
        profiler_command(["exec".as_ref(), "--profile".as_ref(), profile.as_os_str()]);
    command.arg("--").args(cmd);
    command
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{} is not JSON: {err}\n{text}", path.display()))
}

/// A Docker/OCI seccomp profile as written by `record`.
#[derive(Debug, Clone)]
pub struct Profile {
    pub json: Value,
    pub path: PathBuf,
}

impl Profile {
    pub fn read(path: &Path) -> Self {
        Self {
            json: read_json(path),
            path: path.to_owned(),
        }
    }

    /// The rules (`syscalls` entries); panics if the array is missing.
    pub fn rules(&self) -> &[Value] {
        self.json["syscalls"].as_array().unwrap_or_else(|| {
            panic!(
                "{} has no `syscalls` array:\n{:#}",
                self.path.display(),
                self.json
            )
        })
    }

    /// Every name in rules with this action (e.g. `SCMP_ACT_ALLOW`).
    pub fn names_with_action(&self, action: &str) -> BTreeSet<String> {
        self.rules()
            .iter()
            .filter(|rule| rule["action"] == action)
            .flat_map(|rule| names_of(rule, &self.path))
            .collect()
    }

    /// The allowed set: the names of all `SCMP_ACT_ALLOW` rules.
    pub fn allowed(&self) -> BTreeSet<String> {
        self.names_with_action("SCMP_ACT_ALLOW")
    }

    /// Writes this profile minus one name (from every rule) to `path`, for denial checks.
    pub fn write_without(&self, name: &str, path: &Path) {
        let mut without = self.json.clone();
        for rule in without["syscalls"].as_array_mut().into_iter().flatten() {
            if let Some(list) = rule["names"].as_array_mut() {
                list.retain(|entry| entry != name);
            }
        }
        std::fs::write(path, without.to_string())
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
    }
}

fn names_of(rule: &Value, path: &Path) -> Vec<String> {
    rule["names"]
        .as_array()
        .unwrap_or_else(|| panic!("a rule in {} has no `names` array: {rule}", path.display()))
        .iter()
        .map(|name| {
            name.as_str()
                .unwrap_or_else(|| panic!("a name in {} is not a string: {name}", path.display()))
                .to_owned()
        })
        .collect()
}

/// The JSON report written by `record --report`.
#[derive(Debug, Clone)]
pub struct Report {
    pub json: Value,
    pub path: PathBuf,
}

impl Report {
    pub fn read(path: &Path) -> Self {
        Self {
            json: read_json(path),
            path: path.to_owned(),
        }
    }

    /// The `run` object: command, exit_code, cut_short, ….
    pub fn run(&self) -> &Value {
        &self.json["run"]
    }

    /// The entry for a native (x86-64) syscall, if it was seen.
    pub fn syscall(&self, name: &str) -> Option<&Value> {
        self.syscall_in(name, "SCMP_ARCH_X86_64")
    }

    /// The entry for a syscall made through one architecture's table (`SCMP_ARCH_X86`, …).
    pub fn syscall_in(&self, name: &str, arch: &str) -> Option<&Value> {
        self.json["syscalls"]
            .as_array()
            .unwrap_or_else(|| {
                panic!(
                    "{} has no `syscalls` array:\n{:#}",
                    self.path.display(),
                    self.json
                )
            })
            .iter()
            .find(|entry| entry["name"] == name && entry["arch"] == arch)
    }

    /// How often a native syscall was made; 0 if it was not seen.
    pub fn count(&self, name: &str) -> u64 {
        self.count_in(name, "SCMP_ARCH_X86_64")
    }

    /// How often a syscall was made through one architecture's table; 0 if it was not seen.
    pub fn count_in(&self, name: &str, arch: &str) -> u64 {
        self.syscall_in(name, arch).map_or(0, |entry| {
            entry["count"].as_u64().unwrap_or_else(|| {
                panic!(
                    "`count` of {name} in {} is not a number",
                    self.path.display()
                )
            })
        })
    }

    /// The command name of the first task seen making a native syscall.
    pub fn first_comm(&self, name: &str) -> Option<&str> {
        self.syscall(name)?["first_comm"].as_str()
    }

    /// Names the profile allows without having seen them (`implied_syscalls`: signal-return
    /// paths whose use depends on timing); empty when the report has none.
    pub fn implied(&self) -> BTreeSet<String> {
        let entries = self.json["implied_syscalls"].as_array();
        entries
            .into_iter()
            .flatten()
            .map(|entry| {
                assert!(
                    entry["reason"]
                        .as_str()
                        .is_some_and(|reason| !reason.is_empty()),
                    "an implied syscall without a reason in {}: {entry}",
                    self.path.display()
                );
                entry["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("an implied entry without a name: {entry}"))
                    .to_owned()
            })
            .collect()
    }

    /// Names of the native (x86-64) syscalls that were seen.
    pub fn seen(&self) -> BTreeSet<String> {
        self.json["syscalls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["arch"] == "SCMP_ARCH_X86_64")
            .filter_map(|entry| entry["name"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn total_syscalls(&self) -> u64 {
        self.json["total_syscalls"]
            .as_u64()
            .unwrap_or_else(|| panic!("{} has no numeric `total_syscalls`", self.path.display()))
    }
}

/// A set of names from string literals.
pub fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

/// The syscall names `strace -f` sees a command make from its execve on, or `None` when strace is
/// not installed. Used as an independent witness of what a workload does.
pub fn strace_names<S: AsRef<OsStr>>(dir: &Path, cmd: &[S]) -> Option<BTreeSet<String>> {
    let log = dir.join("strace.log");
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .arg("--")
        .args(cmd);
    let mut running = match command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => panic!("cannot start strace: {err}"),
    };
    let status = running
        .wait()
        .unwrap_or_else(|err| panic!("cannot wait for strace: {err}"));
    assert!(
        status.success(),
        "strace -f {} failed: {status}",
        describe(&command)
    );
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|err| panic!("cannot read the strace log: {err}"));
    Some(
        text.lines()
            .filter_map(strace_syscall_name)
            .map(str::to_owned)
            .collect(),
    )
}

/// The syscall name of one `strace -f` line: `PID name(…`, `PID <... name resumed>…`; `None` for
/// signal (`---`) and exit (`+++`) lines.
fn strace_syscall_name(line: &str) -> Option<&str> {
    let rest = line.split_once(' ')?.1.trim_start();
    let name = match rest.strip_prefix("<... ") {
        Some(resumed) => resumed.split_once(' ')?.0,
        None => rest.split_once('(')?.0,
    };
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

/// Privileged tests that load eBPF programs themselves must run as root: fail (never skip) otherwise.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test loads eBPF programs: {HOW_TO_RUN} as root"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_lines() {
        assert_eq!(
            strace_syscall_name("15244 sysinfo({uptime=754}) = 0"),
            Some("sysinfo")
        );
        assert_eq!(
            strace_syscall_name("15244 <... wait4 resumed>[{WIFEXITED(s)}], 0, NULL) = 1"),
            Some("wait4")
        );
        assert_eq!(
            strace_syscall_name("15244 --- SIGCHLD {si_signo=SIGCHLD} ---"),
            None
        );
        assert_eq!(strace_syscall_name("15244 +++ exited with 0 +++"), None);
    }
}
