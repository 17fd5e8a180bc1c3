//! Makes sure a Docker daemon answers on `/var/run/docker.sock` for the container tests, starting
//! one in its own session when none does, and stops the one we started (`stop-dockerd`), found by
//! the PID written to `target/xtask/dockerd.pid`. A daemon we did not start is never touched. The
//! daemon runs without a bridge, iptables or masquerading: tests use `--network none` or `host`.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cmd, workspace};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

fn pid_file() -> Result<PathBuf> {
    Ok(workspace::scratch_dir()?.join("dockerd.pid"))
}

fn docker_answers() -> bool {
    cmd::succeeds(cmd::new("docker").arg("version"))
}

/// The PID in `target/xtask/dockerd.pid` if that process is still a running dockerd.
fn our_dockerd() -> Result<Option<i32>> {
    let file = pid_file()?;
    let Ok(text) = fs::read_to_string(&file) else {
        return Ok(None);
    };
    let pid: i32 = text
        .trim()
        .parse()
        .with_context(|| format!("parse the PID in {}", file.display()))?;
    Ok(is_dockerd(pid).then_some(pid))
}

fn is_dockerd(pid: i32) -> bool {
    // A PID can be reused after the daemon died: check it is still dockerd (and not a zombie).
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    comm.trim() == "dockerd" && !stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'))
}

/// Ensure `docker version` works; returns the PID when the daemon is one xtask started (now or in
/// an earlier run), `None` when it is someone else's.
pub fn ensure_running() -> Result<Option<i32>> {
    if docker_answers() {
        return our_dockerd();
    }
    if let Some(pid) = our_dockerd()? {
        // Started by an earlier run and still coming up (or wedged): give it the same grace.
        wait_until_answering(pid, &pid_file()?)?;
        return Ok(Some(pid));
    }
    if !workspace::is_root() {
        bail!("no Docker daemon answers on /var/run/docker.sock and starting one needs root");
    }
    let dir = workspace::scratch_dir()?;
    let log_path = dir.join("dockerd.log");
    let log = File::create(&log_path).with_context(|| format!("create {}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .context("duplicate the dockerd log handle")?;
    let mut daemon = cmd::new("dockerd");
    daemon
        .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: setsid and close_range are async-signal-safe and touch no memory of the parent.
    // setsid puts the daemon in its own session so that Ctrl-C on `cargo xtask` or closing the
    // terminal leaves it alone. close_range marks every inherited descriptor above stderr
    // close-on-exec, so the daemon does not keep what its caller holds: under `flock LOCK cargo
    // xtask test` the lock would otherwise stay held until dockerd stops (Linux >= 5.11; older
    // kernels answer ENOSYS, which is ignored: the descriptors are then inherited as before).
    unsafe {
        daemon.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            Ok(())
        });
    }
    let child = daemon
        .spawn()
        .context("start dockerd (is docker.io installed?)")?;
    let pid = i32::try_from(child.id()).context("dockerd's PID does not fit a pid_t")?;
    // Deliberately not waited for: the daemon outlives xtask.
    drop(child);
    let file = pid_file()?;
    fs::write(&file, format!("{pid}\n")).with_context(|| format!("write {}", file.display()))?;
    wait_until_answering(pid, &log_path)?;
    println!(
        "xtask: started dockerd (pid {pid}; log {})",
        cmd_relative(&log_path)
    );
    Ok(Some(pid))
}

/// `close_range(2)`'s flag: mark the range close-on-exec instead of closing it.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

fn wait_until_answering(pid: i32, log: &Path) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < START_TIMEOUT {
        if docker_answers() {
            return Ok(());
        }
        if !is_dockerd(pid) {
            bail!(
                "dockerd (pid {pid}) exited while starting; see {}:\n{}",
                log.display(),
                tail(log)
            );
        }
        thread::sleep(Duration::from_millis(250));
    }
    bail!(
        "dockerd (pid {pid}) did not answer `docker version` within {} s; see {}:\n{}",
        START_TIMEOUT.as_secs(),
        log.display(),
        tail(log)
    )
}

fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn cmd_relative(path: &Path) -> String {
    path.strip_prefix(workspace::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The line printed after tests: the daemon stays up for the next run.
pub fn left_running_note(pid: i32) {
    println!("xtask: dockerd (pid {pid}) left running; `cargo xtask stop-dockerd` stops it");
}

/// Stop the dockerd that xtask started, by its PID; anything else is left alone.
pub fn stop() -> Result<()> {
    let file = pid_file()?;
    let Some(pid) = our_dockerd()? else {
        if file.exists() {
            fs::remove_file(&file).with_context(|| format!("remove {}", file.display()))?;
        }
        println!("xtask: no dockerd started by xtask is running");
        return Ok(());
    };
    println!("xtask: stopping dockerd (pid {pid})");
    signal(pid, libc::SIGTERM)?;
    let start = Instant::now();
    while is_dockerd(pid) {
        if start.elapsed() > STOP_TIMEOUT {
            println!(
                "xtask: dockerd (pid {pid}) still running after {} s; sending SIGKILL",
                STOP_TIMEOUT.as_secs()
            );
            signal(pid, libc::SIGKILL)?;
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    fs::remove_file(&file).with_context(|| format!("remove {}", file.display()))?;
    println!("xtask: stopped dockerd (pid {pid})");
    Ok(())
}

fn signal(pid: i32, sig: libc::c_int) -> Result<()> {
    // SAFETY: kill has no memory-safety preconditions; `pid` was checked to be dockerd just now.
    if unsafe { libc::kill(pid, sig) } == -1 {
        let err = std::io::Error::last_os_error();
        return Err(err).with_context(|| format!("send signal {sig} to dockerd (pid {pid})"));
    }
    Ok(())
}
