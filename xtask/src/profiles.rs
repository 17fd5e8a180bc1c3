//! `cargo xtask profiles`: the checked-in profiles under `profiles/`, made by recording real
//! workloads with the release build of the tool, and the README that says where each came from.
//! `cargo xtask profiles` records every workload and rewrites `profiles/*.json` and
//! `profiles/README.md`; `cargo xtask profiles --check` (the last stage of `cargo xtask test`)
//! records them into `target/xtask/profiles/` instead and fails when a profile's syscall set — its
//! allowed names and its other rules, not its bytes — differs from the checked-in one, printing
//! `seccomp-profiler diff --format markdown OLD NEW` for each, or when the README's counts disagree
//! with the checked-in files. So this project is the first user of its own footprint gate: what
//! "differs" means is the tool's own comparison, read from `seccomp-profiler diff --format json`
//! (xtask cannot link the tool's crate, which needs the eBPF toolchain xtask installs).
//!
//! This module decides how each workload is recorded, where its profile goes and what counts as a
//! change. The load itself (which containers run, which requests are made, what is waited for) is
//! in the scripts under `profiles/workloads/`, written to do the same things every run. It does not
//! judge whether a profile lets its workload run: the end-to-end tests replay profiles under load.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cmd, demo, dockerd, images, prereqs, workspace};

/// Names allowed by Docker 20.10's default profile (docs/design.md, "Measured peers").
const DOCKER_DEFAULT_ALLOWED: usize = 346;

/// How long a workload's port may stay taken by something else (another test run) before we give up.
const PORT_WAIT: Duration = Duration::from_secs(60);

/// A workload that takes longer than this is stopped and fails: every script is bounded far below.
const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The environment of the plain-command workloads (set on an emptied environment), so that a
/// developer's `PYTHONPATH`, locale or pyenv cannot change what they do. Python would write missing
/// bytecode caches on its first run as root and not after: it must never write them.
const COMMAND_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("LANG", "C.UTF-8"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
];

/// One profile under `profiles/` and how it is made.
struct Workload {
    /// The workload's name: its script is `profiles/workloads/<name>.sh`.
    name: &'static str,
    /// The profile's file name under `profiles/`.
    file: &'static str,
    how: How,
    /// A port on 127.0.0.1 the workload's server listens on; it must be free before the run.
    port: Option<u16>,
    /// What the load does, for the README (the script has the details).
    load: &'static str,
    /// Host files whose Debian package and version the README names (the test images are built
    /// from this host's packages, so these are also the versions inside the image).
    software: &'static [&'static str],
    /// The peer's number of names for the same workload (docs/design.md, "Measured peers").
    peer: Option<usize>,
}

enum How {
    /// `record --containers -- profiles/workloads/<name>.sh`; the script runs one container with
    /// this name, whose profile is kept (renamed to `Workload::file`).
    Containers { container: &'static str },
    /// `record --user root [--duration DUR] -- PROGRAM ARGS`, on `COMMAND_ENV`. With `load`,
    /// `profiles/workloads/<name>.sh` runs next to it (not recorded) and must end well before DUR.
    Command {
        program: Program,
        args: &'static [&'static str],
        duration: Option<Duration>,
        load: bool,
    },
}

enum Program {
    /// An absolute path on the host.
    Host(&'static str),
    /// A release binary of this workspace.
    Release(&'static str),
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "busybox-ls",
        file: "busybox-ls.json",
        how: How::Containers {
            container: "sp-profile-busybox-ls",
        },
        port: None,
        load: "`docker run --rm --network none --name sp-profile-busybox-ls \
               seccomp-profiler-test/busybox:latest ls /`",
        software: &["/bin/busybox"],
        peer: Some(49),
    },
    Workload {
        name: "busybox-httpd",
        file: "busybox-httpd.json",
        how: How::Containers {
            container: "sp-profile-busybox-httpd",
        },
        port: Some(8081),
        load: "`docker run -d --network host … seccomp-profiler-test/busybox:latest httpd -f -p \
               127.0.0.1:8081 -h /etc`; 20 GETs with curl, each on its own connection (httpd forks \
               a handler per connection): `/passwd`, `/group`, `/nsswitch.conf` and one 404; then \
               `docker kill` (httpd is PID 1 with no SIGTERM handler, so `docker stop` would end \
               in the same SIGKILL 10 s later)",
        software: &["/bin/busybox"],
        peer: Some(59),
    },
    Workload {
        name: "nginx",
        file: "nginx.json",
        how: How::Containers {
            container: "sp-profile-nginx",
        },
        port: Some(8080),
        load: "`docker run -d --network host … seccomp-profiler-test/nginx:latest` (one worker, \
               127.0.0.1:8080); 67 GETs with curl in two rounds (the index page 30 times on one \
               keep-alive connection, `/`, a 404, the 1 MiB `large.bin` by sendfile) around \
               `docker exec … nginx -s reload`, waiting for the new worker to replace the old one; \
               then `docker stop`",
        software: &["/usr/sbin/nginx"],
        peer: Some(80),
    },
    Workload {
        name: "redis",
        file: "redis.json",
        how: How::Containers {
            container: "sp-profile-redis",
        },
        port: Some(6380),
        load: "`docker run -d --network host … seccomp-profiler-test/redis:latest` (user redis, \
               127.0.0.1:6380, no save points); `redis-benchmark -p 6380 -n 1000 -q -t set,get`; \
               `redis-cli -p 6380 bgsave`, waiting until `INFO persistence` shows it finished with \
               status ok (a forked child writes `/data/dump.rdb`); then `docker stop`",
        software: &["/usr/bin/redis-server"],
        peer: None,
    },
    Workload {
        name: "python3-http-server",
        file: "python3-http-server.json",
        how: How::Command {
            // Not `python3` from PATH: a pyenv shim there would be recorded too (a bash script).
            program: Program::Host("/usr/bin/python3"),
            args: &[
                "-m",
                "http.server",
                "8090",
                "--bind",
                "127.0.0.1",
                "--directory",
                "profiles/workloads",
            ],
            duration: Some(Duration::from_secs(3)),
            load: true,
        },
        port: Some(8090),
        load: "14 GETs with curl, \
               each on its own connection and answered on its own thread (http.server speaks \
               HTTP/1.0): the directory listing, two of the scripts, one 404; recording stops at \
               `--duration 3s` (the server gets SIGTERM, which Python does not handle)",
        software: &["/usr/bin/python3"],
        peer: None,
    },
    Workload {
        name: "demo",
        file: "demo-workload.json",
        how: How::Command {
            program: Program::Release("demo-workload"),
            args: &[],
            duration: None,
            load: false,
        },
        port: None,
        load: "`demo-workload` (tests/src/bin/demo-workload.rs) on its own: a temporary file \
               written and read back, a checksum on a worker thread, one HTTP request to itself \
               on an ephemeral 127.0.0.1 port, a directory listing",
        software: &[],
        peer: None,
    },
];

/// `cargo xtask profiles [--check]`: prerequisites, dockerd, the release build, the test images,
/// then the regeneration or the check.
pub fn run(check_only: bool, only: &[String]) -> Result<()> {
    if !workspace::is_root() {
        bail!("`cargo xtask profiles` needs root (eBPF, cgroups, dockerd); run it as root");
    }
    let selected = select(only)?;
    prereqs::ensure(prereqs::Set::Test)?;
    let dockerd = dockerd::ensure_running().context("get a Docker daemon for the workloads")?;
    let result = demo::build_release()
        .context("build the release binaries")
        .and_then(|()| images::build_all(false).context("build the test images"))
        .and_then(|()| {
            if check_only {
                check_selected(&selected)
            } else {
                regenerate()
            }
        });
    if let Some(pid) = dockerd {
        dockerd::left_running_note(pid);
    }
    result
}

/// `cargo xtask profiles --check` for `cargo xtask test`, which has already built the release
/// binaries and the test images and started dockerd.
pub fn check() -> Result<()> {
    check_selected(&WORKLOADS.iter().collect::<Vec<_>>())
}

fn select(only: &[String]) -> Result<Vec<&'static Workload>> {
    if only.is_empty() {
        return Ok(WORKLOADS.iter().collect());
    }
    only.iter()
        .map(|name| {
            WORKLOADS.iter().find(|w| w.name == name).with_context(|| {
                let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
                format!(
                    "no workload {name:?}; the workloads are {}",
                    names.join(", ")
                )
            })
        })
        .collect()
}

fn profiles_dir() -> PathBuf {
    workspace::root().join("profiles")
}

fn readme_path() -> PathBuf {
    profiles_dir().join("README.md")
}

/// Record every workload, then replace `profiles/*.json` and the README only when all succeeded.
fn regenerate() -> Result<()> {
    let started = Instant::now();
    let _lock = lock()?;
    let recorded = record_all(&WORKLOADS.iter().collect::<Vec<_>>())?;
    let dir = profiles_dir();
    for rec in &recorded {
        let to = dir.join(rec.workload.file);
        let bytes = fs::read(&rec.path).with_context(|| format!("read {}", rec.path.display()))?;
        write_atomically(&to, &bytes)?;
    }
    let env = Environment::probe()?;
    write_atomically(&readme_path(), readme(&recorded, &env)?.as_bytes())?;
    println!(
        "xtask: profiles: wrote {} profiles and profiles/README.md in {:.1?}; review with `git diff profiles/`",
        recorded.len(),
        started.elapsed()
    );
    Ok(())
}

/// Record `selected` into `target/xtask/profiles/` and compare with the checked-in profiles and
/// the README's counts.
fn check_selected(selected: &[&'static Workload]) -> Result<()> {
    let started = Instant::now();
    let _lock = lock()?;
    let recorded = record_all(selected)?;
    let profiler = workspace::release_bin("seccomp-profiler");
    let mut problems = Vec::new();
    for rec in &recorded {
        let old_path = profiles_dir().join(rec.workload.file);
        let shown = format!("profiles/{}", rec.workload.file);
        if !old_path.exists() {
            problems.push(format!("{shown} is missing"));
            continue;
        }
        let found = Comparison::run(&profiler, &old_path, &rec.path)?;
        if found.is_empty() {
            continue;
        }
        println!();
        println!(
            "xtask: profiles: {shown}: the recorded syscall set differs from the checked-in one"
        );
        for name in &found.removed {
            println!("  - {name}   (checked in, not recorded now)");
        }
        for name in &found.added {
            println!("  + {name}   (recorded now, not checked in)");
        }
        for change in &found.rule_changes {
            println!("  rule change: {change}");
        }
        // Relative paths (diff runs from the root) keep the markdown's heading readable.
        let mut diff = cmd::new(&profiler);
        diff.args(["diff", "--format", "markdown"])
            .arg(relative(&old_path))
            .arg(relative(&rec.path));
        let status = cmd::run_status(&mut diff)?;
        if !(status.success() || status.code() == Some(1)) {
            println!("xtask: profiles: (`seccomp-profiler diff` could not compare them: {status})");
        }
        problems.push(format!(
            "{shown}: {} added, {} gone, {} rule change(s) (allowed names: {} checked in, {} \
             recorded now)",
            found.added.len(),
            found.removed.len(),
            found.rule_changes.len(),
            found.removed.len() + found.unchanged,
            found.added.len() + found.unchanged
        ));
    }
    problems.extend(check_readme(selected)?);
    println!();
    if problems.is_empty() {
        println!(
            "xtask: profiles: {} profile(s) match what their workloads do now ({:.1?})",
            recorded.len(),
            started.elapsed()
        );
        return Ok(());
    }
    let env = Environment::probe()?;
    bail!(
        "{} problem(s) with the checked-in profiles:\n  {}\nrecorded here on kernel {}, Docker {}, runc {}, {} \
         (profiles/README.md says where the checked-in ones come from). If the change is intended, \
         run `cargo xtask profiles` and commit profiles/ with the diff above in the review.",
        problems.len(),
        problems.join("\n  "),
        env.kernel,
        env.docker,
        env.runc,
        env.tool
    )
}

/// The README must state the number of allowed names each checked-in profile has.
fn check_readme(selected: &[&'static Workload]) -> Result<Vec<String>> {
    let path = readme_path();
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(vec![
            "profiles/README.md is missing (written by `cargo xtask profiles`)".to_owned(),
        ]);
    };
    let mut problems = Vec::new();
    for workload in selected {
        let profile = profiles_dir().join(workload.file);
        if !profile.exists() {
            continue;
        }
        let actual = allowed_count(&read_json(&profile)?);
        match readme_count(&text, workload) {
            Some(stated) if stated == actual => {}
            Some(stated) => problems.push(format!(
                "profiles/README.md says {} allows {stated} names, the file allows {actual}",
                workload.file
            )),
            None => problems.push(format!(
                "profiles/README.md has no table row for {}",
                workload.file
            )),
        }
    }
    Ok(problems)
}

/// The count in the README's table row of `workload`: `| [`name`](file) | count | …`.
fn readme_count(readme: &str, workload: &Workload) -> Option<usize> {
    let link = format!("[`{}`]({})", workload.name, workload.file);
    readme.lines().find_map(|line| {
        let mut cells = line.split('|').map(str::trim).skip(1);
        if cells.next()? != link {
            return None;
        }
        cells.next()?.parse().ok()
    })
}

/// One workload's fresh profile in the scratch directory.
struct Recorded {
    workload: &'static Workload,
    path: PathBuf,
    /// Distinct names its `SCMP_ACT_ALLOW` rules allow.
    allowed: usize,
}

/// `target/xtask/profiles/`, emptied: one directory per workload with its profile, report and logs.
fn run_dir() -> Result<PathBuf> {
    let dir = workspace::scratch_dir()?.join("profiles");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

fn record_all(selected: &[&'static Workload]) -> Result<Vec<Recorded>> {
    let dir = run_dir()?;
    let profiler = workspace::release_bin("seccomp-profiler");
    let mut recorded = Vec::new();
    for &workload in selected {
        let started = Instant::now();
        let wdir = dir.join(workload.name);
        fs::create_dir_all(&wdir).with_context(|| format!("create {}", wdir.display()))?;
        let path = record_retrying(workload, &wdir)
            .with_context(|| format!("record the workload {}", workload.name))?;
        cmd::output(cmd::new(&profiler).arg("validate").arg(&path))
            .with_context(|| format!("validate the profile recorded for {}", workload.name))?;
        let allowed = allowed_count(&read_json(&path)?);
        println!(
            "xtask: profiles: {:<20} {:>3} names allowed ({:.1?})",
            workload.name,
            allowed,
            started.elapsed()
        );
        recorded.push(Recorded {
            workload,
            path,
            allowed,
        });
    }
    Ok(recorded)
}

/// The `record` command of a workload, writing into `dir`; also what the README shows.
fn record_command(workload: &Workload, dir: &Path) -> Command {
    let mut record = cmd::new(workspace::release_bin("seccomp-profiler"));
    record.arg("record");
    match &workload.how {
        How::Containers { .. } => {
            record
                .args(["--containers", "-o"])
                .arg(dir)
                .arg("--report-dir")
                .arg(dir)
                .arg("--")
                .arg(script(workload));
        }
        How::Command {
            program,
            args,
            duration,
            ..
        } => {
            record.env_clear();
            record.envs(COMMAND_ENV.iter().copied());
            record
                .arg("-o")
                .arg(dir.join(workload.file))
                .arg("--report")
                .arg(dir.join(report_name(workload.file)))
                // Root whether or not xtask runs under sudo: a sudo user would get no_new_privs.
                .args(["--user", "root"]);
            if let Some(duration) = duration {
                record
                    .arg("--duration")
                    .arg(format!("{}s", duration.as_secs()));
            }
            record.arg("--");
            match program {
                Program::Host(path) => record.arg(path),
                Program::Release(name) => record.arg(workspace::release_bin(name)),
            };
            record.args(*args);
        }
    }
    record
}

fn script(workload: &Workload) -> PathBuf {
    profiles_dir()
        .join("workloads")
        .join(format!("{}.sh", workload.name))
}

fn report_name(file: &str) -> String {
    format!("{}.report.json", file.trim_end_matches(".json"))
}

/// `record`, run again (up to `ATTEMPTS` in all) when it failed because its server's port was taken
/// between `wait_for_port` and the server's start: on a shared machine another test run may grab
/// it. Any other failure is final, and a failed run's profile is never used.
fn record_retrying(workload: &Workload, dir: &Path) -> Result<PathBuf> {
    const ATTEMPTS: usize = 3;
    let mut attempt = 1;
    loop {
        match record(workload, dir) {
            Ok(path) => return Ok(path),
            Err(err) if attempt < ATTEMPTS && port_was_taken(dir) => {
                println!(
                    "xtask: profiles: {}: its port was taken by another server during the run \
                     (attempt {attempt} of {ATTEMPTS}); running it again",
                    workload.name
                );
                fs::remove_dir_all(dir)
                    .and_then(|()| fs::create_dir_all(dir))
                    .with_context(|| format!("empty {} after: {err:#}", dir.display()))?;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Whether a log of the run says a server could not bind (nginx and redis in the container logs
/// the scripts print on failure, Python's `OSError: [Errno 98]` in the recording's own log).
fn port_was_taken(dir: &Path) -> bool {
    ["record.log", "load.log"].iter().any(|log| {
        fs::read_to_string(dir.join(log)).is_ok_and(|text| text.contains("Address already in use"))
    })
}

/// Record one workload into `dir`; returns the path of its profile there.
fn record(workload: &Workload, dir: &Path) -> Result<PathBuf> {
    if let Some(port) = workload.port {
        wait_for_port(port)?;
    }
    let log = dir.join("record.log");
    let mut record = record_command(workload, dir);
    redirect(&mut record, &log)?;
    match &workload.how {
        How::Containers { container } => {
            // A run killed earlier may have left it behind; the name is ours alone.
            remove_container(container);
            let status = run_bounded(&mut record, &log);
            remove_container(container);
            let status = status?;
            if !status.success() {
                bail!(
                    "`{}` exited with {status}; {}:\n{}",
                    cmd::display(&record),
                    log.display(),
                    tail(&log)
                );
            }
            let recorded = dir.join(format!("{container}.json"));
            if !recorded.exists() {
                bail!(
                    "no profile for container {container} in {}; {}:\n{}",
                    dir.display(),
                    log.display(),
                    tail(&log)
                );
            }
            let path = dir.join(workload.file);
            if recorded != path {
                fs::rename(&recorded, &path).with_context(|| {
                    format!("rename {} to {}", recorded.display(), path.display())
                })?;
            }
            Ok(path)
        }
        How::Command { duration, load, .. } => {
            let started = Instant::now();
            let mut child = record
                .spawn()
                .with_context(|| format!("start `{}`", cmd::display(&record)))?;
            let load_result = if *load {
                run_load(workload, dir, started, *duration)
            } else {
                Ok(())
            };
            let status = wait_bounded(&mut child, &record, &log)?;
            load_result?;
            if !status.success() {
                bail!(
                    "`{}` exited with {status}; {}:\n{}",
                    cmd::display(&record),
                    log.display(),
                    tail(&log)
                );
            }
            Ok(dir.join(workload.file))
        }
    }
}

/// The load script of a plain-command workload, run next to the recording. It must end before
/// `--duration` stops the recording, with a margin, or the last requests could be cut off in some
/// runs and not in others.
fn run_load(
    workload: &Workload,
    dir: &Path,
    started: Instant,
    duration: Option<Duration>,
) -> Result<()> {
    let log = dir.join("load.log");
    let mut load = cmd::new(script(workload));
    redirect(&mut load, &log)?;
    let status = run_bounded(&mut load, &log)?;
    let took = started.elapsed();
    if !status.success() {
        bail!(
            "the load `{}` exited with {status}; {}:\n{}",
            cmd::display(&load),
            log.display(),
            tail(&log)
        );
    }
    if let Some(duration) = duration
        && took + Duration::from_secs(1) > duration
    {
        bail!(
            "the load `{}` ended {took:.1?} after the recording started, too close to its \
             --duration of {duration:?}: make the load shorter or the duration longer",
            cmd::display(&load)
        );
    }
    Ok(())
}

fn redirect(command: &mut Command, log: &Path) -> Result<()> {
    let file = File::create(log).with_context(|| format!("create {}", log.display()))?;
    let err = file
        .try_clone()
        .with_context(|| format!("duplicate the handle of {}", log.display()))?;
    command.stdin(Stdio::null()).stdout(file).stderr(err);
    Ok(())
}

fn run_bounded(command: &mut Command, log: &Path) -> Result<ExitStatus> {
    let mut child = command
        .spawn()
        .with_context(|| format!("start `{}`", cmd::display(command)))?;
    wait_bounded(&mut child, command, log)
}

/// Wait for `child`; after `WORKLOAD_TIMEOUT` send it SIGTERM (a recording then stops and ends
/// what it started), and fail.
fn wait_bounded(child: &mut Child, command: &Command, log: &Path) -> Result<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("wait for `{}`", cmd::display(command)))?
        {
            return Ok(status);
        }
        if started.elapsed() > WORKLOAD_TIMEOUT {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill has no memory-safety preconditions; the child is ours and not yet
                // reaped, so the PID cannot have been reused.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let _ = child.wait();
            bail!(
                "`{}` still ran after {} s and was stopped; {}:\n{}",
                cmd::display(command),
                WORKLOAD_TIMEOUT.as_secs(),
                log.display(),
                tail(log)
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until nothing listens on 127.0.0.1:`port` (another test run may be using it).
fn wait_for_port(port: u16) -> Result<()> {
    let started = Instant::now();
    let mut said = false;
    while TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
        if started.elapsed() > PORT_WAIT {
            bail!(
                "127.0.0.1:{port} is still in use after {} s; stop what listens there (`ss -ltnp`)",
                PORT_WAIT.as_secs()
            );
        }
        if !said {
            println!("xtask: profiles: waiting for 127.0.0.1:{port} to be free");
            said = true;
        }
        thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

fn remove_container(name: &str) {
    // Fails when there is no such container, which is the usual case.
    cmd::succeeds(cmd::new("docker").args(["rm", "-f", name]));
}

/// What a failed run left in its log: the scripts' `FAIL:` lines (they can be far up, before the
/// recorder's summaries), then the last lines.
fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut shown: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| line.starts_with("FAIL:"))
        .collect();
    shown.extend(&lines[lines.len().saturating_sub(15)..]);
    shown.join("\n")
}

/// An exclusive `flock` on `target/xtask/profiles.lock`: two runs would share the scratch
/// directory, the ports and the container names.
fn lock() -> Result<File> {
    let path = workspace::scratch_dir()?.join("profiles.lock");
    let file = File::create(&path).with_context(|| format!("create {}", path.display()))?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the call's duration.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == -1 {
        let err = std::io::Error::last_os_error();
        return Err(err).with_context(|| format!("lock {}", path.display()));
    }
    Ok(file)
}

fn relative(path: &Path) -> &Path {
    path.strip_prefix(workspace::root()).unwrap_or(path)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("rename {} to {}", tmp.display(), path.display()))
}

/// What `seccomp-profiler diff --format json OLD NEW` found: the tool's own comparison
/// (`profile::compare` in the tool), so that the golden check and the CI gate `diff` agree on what
/// a change is. Order, rule grouping and comments do not matter; any other change does.
#[derive(Debug, Default, PartialEq, Eq)]
struct Comparison {
    /// Syscalls NEW allows that OLD does not.
    added: Vec<String>,
    removed: Vec<String>,
    /// Allowed by both.
    unchanged: usize,
    /// Changes outside the allow lists (default action, architectures, flags, other rules), one
    /// line each: `SCMP_ACT_ERRNO errno 38 (ENOSYS): +clone3 -openat2`.
    rule_changes: Vec<String>,
}

impl Comparison {
    /// Runs the release build's `diff --format json`: exit 0 (NEW allows nothing more) and 1 (it
    /// does) both carry the comparison; anything else is an error.
    fn run(profiler: &Path, old: &Path, new: &Path) -> Result<Self> {
        let mut diff = cmd::new(profiler);
        diff.args(["diff", "--format", "json"]).arg(old).arg(new);
        let shown = cmd::display(&diff);
        let out = diff
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("start `{shown}`"))?;
        if !matches!(out.status.code(), Some(0 | 1)) {
            bail!(
                "`{shown}` could not compare them ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Self::from_json(&text).with_context(|| format!("read the output of `{shown}`"))
    }

    /// Reads `diff --format json`'s output (the keys this check needs; others are ignored).
    fn from_json(text: &str) -> Result<Self> {
        let json: Value = serde_json::from_str(text).context("parse it as JSON")?;
        let names = |key: &str| -> Result<Vec<String>> {
            json[key]
                .as_array()
                .with_context(|| format!("no `{key}` list"))?
                .iter()
                .map(|entry| {
                    entry["name"]
                        .as_str()
                        .map(str::to_owned)
                        .with_context(|| format!("a `{key}` entry without a name: {entry}"))
                })
                .collect()
        };
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        let mut rule_changes = Vec::new();
        for change in json["rule_changes"]
            .as_array()
            .context("no `rule_changes` list")?
        {
            let rule = change["rule"]
                .as_str()
                .with_context(|| format!("a rule change without `rule`: {change}"))?;
            let signed: Vec<String> = strings(&change["added"])
                .into_iter()
                .map(|name| format!("+{name}"))
                .chain(
                    strings(&change["removed"])
                        .into_iter()
                        .map(|n| format!("-{n}")),
                )
                .collect();
            rule_changes.push(if signed.is_empty() {
                rule.to_owned()
            } else {
                format!("{rule}: {}", signed.join(" "))
            });
        }
        Ok(Self {
            added: names("added")?,
            removed: names("removed")?,
            unchanged: json["unchanged"].as_u64().context("no `unchanged` count")? as usize,
            rule_changes,
        })
    }

    /// The syscall sets are the same.
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.rule_changes.is_empty()
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {} as JSON", path.display()))
}

/// Distinct names in the profile's `SCMP_ACT_ALLOW` rules: the README's count.
fn allowed_count(profile: &Value) -> usize {
    let mut allowed = BTreeSet::new();
    for rule in profile["syscalls"].as_array().into_iter().flatten() {
        if rule["action"] == "SCMP_ACT_ALLOW" {
            allowed.extend(
                rule["names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            );
        }
    }
    allowed.len()
}

/// Names in the profile's rules other than `SCMP_ACT_ALLOW`, by rule: `clone3, openat2 (ENOSYS)`.
fn other_rules(profile: &Value) -> String {
    let mut parts = Vec::new();
    for rule in profile["syscalls"].as_array().into_iter().flatten() {
        if rule["action"] == "SCMP_ACT_ALLOW" {
            continue;
        }
        let mut names: Vec<&str> = rule["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        names.sort_unstable();
        let what = match (rule["action"].as_str(), rule["errnoRet"].as_u64()) {
            (Some("SCMP_ACT_ERRNO"), Some(38)) => "ENOSYS".to_owned(),
            (Some(a), Some(e)) => format!("{a} {e}"),
            (Some(a), None) => a.to_owned(),
            (None, _) => "?".to_owned(),
        };
        parts.push(format!("{} ({what})", names.join(", ")));
    }
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Where the recordings ran: printed in the README and when a check fails.
struct Environment {
    kernel: String,
    docker: String,
    runc: String,
    tool: String,
}

impl Environment {
    fn probe() -> Result<Self> {
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .context("read /proc/sys/kernel/osrelease")?
            .trim()
            .to_owned();
        let docker =
            stdout(cmd::new("docker").args(["version", "--format", "{{.Server.Version}}"]))?;
        let runc = stdout(cmd::new("docker").args([
            "version",
            "--format",
            r#"{{range .Server.Components}}{{if eq .Name "runc"}}{{.Version}}{{end}}{{end}}"#,
        ]))?;
        // `-V` is one line (`seccomp-profiler 0.1.0 (<commit> <date>)`); `--version` is several.
        let tool = stdout(cmd::new(workspace::release_bin("seccomp-profiler")).arg("-V"))?;
        Ok(Self {
            kernel,
            docker,
            runc,
            tool,
        })
    }
}

fn stdout(command: &mut Command) -> Result<String> {
    let out = cmd::output(command)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `package version (path)` of the Debian package that owns `path`, after the file's own symlinks
/// (`/usr/bin/python3` → `python3.11`). Directory symlinks are kept: with merged /usr, dpkg knows
/// `/bin/busybox`, not `/usr/bin/busybox`.
fn debian_package(path: &str) -> Result<String> {
    let mut real = PathBuf::from(path);
    for _ in 0..16 {
        let Ok(target) = fs::read_link(&real) else {
            break;
        };
        real = match real.parent() {
            Some(dir) => dir.join(target),
            None => target,
        };
    }
    let owner = stdout(cmd::new("dpkg").arg("-S").arg(&real))?;
    // `package[:arch]: path`
    let package = owner
        .split(": ")
        .next()
        .and_then(|p| p.split(':').next())
        .with_context(|| format!("parse `dpkg -S {}`: {owner}", real.display()))?
        .to_owned();
    let version = stdout(cmd::new("dpkg-query").args(["-W", "-f", "${Version}", &package]))?;
    Ok(format!("{package} {version} (`{}`)", real.display()))
}

fn readme(recorded: &[Recorded], env: &Environment) -> Result<String> {
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "# Profiles of real workloads")?;
    writeln!(w)?;
    writeln!(
        w,
        "<!-- Generated by `cargo xtask profiles` (xtask/src/profiles.rs): edit that, not this file. -->"
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "Each `*.json` here is the profile `seccomp-profiler record` wrote for one real workload, \
         in Docker's seccomp JSON: `docker run --security-opt seccomp=profiles/nginx.json …` for a \
         container, `seccomp-profiler exec --profile profiles/demo-workload.json -- …` for a plain \
         command. They are goldens. `cargo xtask profiles` records every workload again and \
         rewrites them and this file. `cargo xtask profiles --check`, the last stage of `cargo \
         xtask test`, records into `target/xtask/profiles/` and fails when a profile's syscall set \
         (allowed names and the other rules, not the bytes) differs from the checked-in one, \
         printing `seccomp-profiler diff --format markdown OLD NEW` for each, or when a count \
         below disagrees with its file."
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "| profile | allowed names | other rules | peer¹ | runtime | kernel | tool |"
    )?;
    writeln!(w, "|---|---:|---|---:|---|---|---|")?;
    for rec in recorded {
        let workload = rec.workload;
        let json: Value = serde_json::from_str(
            &fs::read_to_string(&rec.path)
                .with_context(|| format!("read {}", rec.path.display()))?,
        )
        .with_context(|| format!("parse {}", rec.path.display()))?;
        let peer = workload
            .peer
            .map_or_else(|| "—".to_owned(), |n| n.to_string());
        writeln!(
            w,
            "| [`{}`]({}) | {} | {} | {peer} | {} | {} | {} |",
            workload.name,
            workload.file,
            rec.allowed,
            other_rules(&json),
            runtime(workload, env),
            env.kernel,
            env.tool
        )?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "¹ The same workload under oci-seccomp-bpf-hook 1.2.8 with Podman, measured on this \
         project's machines (`docs/design.md`, \"Measured peers\"): `/bin/true` 48 names (nearly all \
         of them runc's own setup, `mount` and `pivot_root` included), busybox `ls` 49, busybox \
         httpd 59, nginx 1.22 under 21 GETs 80 (1 run in 21 gave another set). For scale, \
         Docker's default profile allows {DOCKER_DEFAULT_ALLOWED} names (20.10; 361 in 28.x)."
    )?;
    writeln!(w)?;
    writeln!(w, "## How each was recorded")?;
    writeln!(w)?;
    writeln!(
        w,
        "As root, from the repository root, with the release build (`cargo build --release -p \
         seccomp-profiler -p seccomp-profiler-tests --bins`). Container workloads are recorded \
         with `record --containers` around a script under `workloads/` that starts one container \
         named `sp-profile-<workload>`; its profile is renamed to `<workload>.json`. The images \
         are `seccomp-profiler-test/*:latest`, built by `cargo xtask images` from this host's \
         Debian packages (`tests/images/README.md`), so the package versions below are also the \
         ones inside the images. curl, redis-cli and redis-benchmark run on the host and are not \
         recorded. Every run is bounded (the scripts wait for each step with 10 s limits) and \
         stays on 127.0.0.1."
    )?;
    for rec in recorded {
        let workload = rec.workload;
        writeln!(w)?;
        writeln!(w, "### {}", workload.name)?;
        writeln!(w)?;
        let dir = rec.path.parent().unwrap_or(Path::new("."));
        let shown = cmd::display(&record_command(workload, dir));
        // `cmd::display` leaves PATH out; the plain commands run on an emptied environment.
        let prefix = match workload.how {
            How::Command { .. } => format!("env -i PATH={} ", COMMAND_ENV[0].1),
            How::Containers { .. } => String::new(),
        };
        writeln!(w, "- command: `{prefix}{shown}`")?;
        match workload.how {
            How::Containers { .. } => writeln!(
                w,
                "- the script [`workloads/{0}.sh`](workloads/{0}.sh): {1}",
                workload.name, workload.load
            )?,
            How::Command { load: true, .. } => writeln!(
                w,
                "- load, run next to the recording: [`workloads/{0}.sh`](workloads/{0}.sh): {1}",
                workload.name, workload.load
            )?,
            How::Command { load: false, .. } => writeln!(w, "- load: {}", workload.load)?,
        }
        for path in workload.software {
            writeln!(w, "- software: {}", debian_package(path)?)?;
        }
        writeln!(
            w,
            "- runtime: {}; kernel {}; {}",
            runtime(workload, env),
            env.kernel,
            env.tool
        )?;
        let peer = match workload.peer {
            Some(n) => format!("the peer allowed {n}"),
            None => "no peer measurement".to_owned(),
        };
        writeln!(
            w,
            "- {} names allowed ({} % of Docker's default {DOCKER_DEFAULT_ALLOWED}); {peer}",
            rec.allowed,
            rec.allowed * 100 / DOCKER_DEFAULT_ALLOWED
        )?;
    }
    Ok(out)
}

fn runtime(workload: &Workload, env: &Environment) -> String {
    match workload.how {
        How::Containers { .. } => format!("Docker {}, runc {}", env.docker, env.runc),
        How::Command { .. } => "plain command".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tools_json_diff() {
        // As `seccomp-profiler diff --format json` writes it (profile::compare's Diff).
        let text = r#"{
  "added": [{"name": "ptrace", "risk": "reads and writes other processes' memory"}],
  "removed": [{"name": "getppid", "risk": null}, {"name": "getpid", "risk": null}],
  "unchanged": 40,
  "capabilities": null,
  "rule_changes": [
    {"rule": "SCMP_ACT_ERRNO errno 38 (ENOSYS)", "added": ["clone3"], "removed": ["openat2"], "widens": false},
    {"rule": "defaultAction SCMP_ACT_ERRNO errno 1 (EPERM) → SCMP_ACT_ALLOW", "added": [], "removed": [], "widens": true}
  ],
  "compared": "profiles",
  "notes": [],
  "widened": true
}"#;
        let diff = Comparison::from_json(text).expect("the diff");
        assert_eq!(diff.added, ["ptrace"]);
        assert_eq!(diff.removed, ["getppid", "getpid"]);
        assert_eq!(diff.unchanged, 40);
        assert_eq!(
            diff.rule_changes,
            [
                "SCMP_ACT_ERRNO errno 38 (ENOSYS): +clone3 -openat2",
                "defaultAction SCMP_ACT_ERRNO errno 1 (EPERM) → SCMP_ACT_ALLOW"
            ]
        );
        assert!(!diff.is_empty());

        let same = r#"{"added":[],"removed":[],"unchanged":3,"capabilities":null,
            "rule_changes":[],"compared":"profiles","notes":[],"widened":false}"#;
        assert!(Comparison::from_json(same).expect("no change").is_empty());
        // Only a rule change is a change too.
        let rules = same.replace(
            r#""rule_changes":[]"#,
            r#""rule_changes":[{"rule":"flags","added":["SECCOMP_FILTER_FLAG_LOG"],"removed":[],"widens":false}]"#,
        );
        assert!(
            !Comparison::from_json(&rules)
                .expect("a rule change")
                .is_empty()
        );
        assert!(Comparison::from_json("{}").is_err());
        assert!(Comparison::from_json("not json").is_err());
    }

    #[test]
    fn allowed_count_is_distinct_allowed_names() {
        let profile = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["write", "read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        });
        assert_eq!(allowed_count(&profile), 2);
    }

    #[test]
    fn readme_rows_are_found_by_link() {
        let readme = "| profile | allowed names |\n|---|---:|\n\
                      | [`nginx`](nginx.json) | 71 | clone3 (ENOSYS) |\n\
                      | [`demo`](demo-workload.json) | 40 | — |\n";
        let find = |name| WORKLOADS.iter().find(|w| w.name == name).expect("workload");
        assert_eq!(readme_count(readme, find("nginx")), Some(71));
        assert_eq!(readme_count(readme, find("demo")), Some(40));
        assert_eq!(readme_count(readme, find("redis")), None);
    }

    #[test]
    fn every_workload_has_its_script() {
        for workload in WORKLOADS {
            let needs_script = match workload.how {
                How::Containers { .. } => true,
                How::Command { load, .. } => load,
            };
            if needs_script {
                assert!(script(workload).exists(), "{} has no script", workload.name);
            }
        }
    }
}
