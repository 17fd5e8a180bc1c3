//! Background tracers for `cargo xtask bench` (issue 13): a recording, the empty-program floor or
//! bpftrace kept running while the measured loop runs elsewhere (the untraced host tax, N
//! concurrent recordings), the recorder's per-program cost from bpf stats, and a cgroup for
//! bpftrace to filter on. Every background process is started here and stopped by its own id.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cmd;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The environment that makes a recorder load its own programs instead of sharing the host
/// tracer's: for measurements of one recorder's programs (bpf stats read from its fds), of its
/// start-up and of its memory, which a shared recorder leaves to the host tracer (issue 13).
pub const PRIVATE: (&str, &str) = ("SECCOMP_PROFILER_SHARED", "0");

/// A tracer running in the background until [`Background::stop`].
pub struct Background {
    child: Child,
    what: String,
    /// The process to signal, and with what, to end it cleanly.
    stop: (i32, i32),
}

impl Background {
    /// `seccomp-profiler -v record -o /dev/null -- sleep 3600`, ready once it logs tracing active.
    /// Concurrent ones share the host tracer's programs (README "Cost").
    pub fn record_sleep(profiler: &Path) -> Result<Background> {
        Background::record_sleep_in(profiler, true)
    }

    /// [`Background::record_sleep`] with a private set of programs when `shared` is false
    /// (`SECCOMP_PROFILER_SHARED=0`): its own pid then holds the programs whose bpf stats we read.
    pub fn record_sleep_in(profiler: &Path, shared: bool) -> Result<Background> {
        let mut c = cmd::new(profiler);
        c.args(["-v", "record", "-o", "/dev/null", "--", "sleep", "3600"]);
        if !shared {
            c.env(PRIVATE.0, PRIVATE.1);
        }
        let what = cmd::display(&c);
        let mut child = spawn(&mut c, Stdio::null(), Stdio::piped())?;
        let lines = drain(child.stderr.take());
        ready_or_kill(
            &mut child,
            wait_line(&lines, &what, |l| l.contains("tracing active after")),
        )?;
        let pid = child.id() as i32;
        Ok(Background {
            child,
            what,
            stop: (pid, libc::SIGINT),
        })
    }

    /// `noop-tracer -- sleep 3600`, ready once `sleep` exists (noop-tracer attaches first).
    pub fn floor_sleep(noop_tracer: &Path) -> Result<Background> {
        let mut c = cmd::new(noop_tracer);
        c.args(["--", "sleep", "3600"]);
        let what = cmd::display(&c);
        let child = spawn(&mut c, Stdio::null(), Stdio::null())?;
        let mut child = child;
        let sleep = wait_child_of(child.id(), &what);
        let sleep = ready_or_kill(&mut child, sleep)?;
        Ok(Background {
            child,
            what,
            stop: (sleep, libc::SIGTERM),
        })
    }

    /// bpftrace counting syscalls by number for one cgroup on the recorder's `sys_enter` hook. It
    /// runs in a mount namespace of its own with tracefs mounted there (bpftrace resolves
    /// tracepoints through it; a host without tracefs mounted keeps it so).
    pub fn bpftrace(cgroup: &Path) -> Result<Background> {
        let script = format!(
            "tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid(\"{}\")/ {{ @[args->id] = count(); }}",
            cgroup.display()
        );
        let mut c = cmd::new("unshare");
        c.args([
            "-m",
            "sh",
            "-c",
            "mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; exec bpftrace -e \"$0\"",
            &script,
        ]);
        let what = cmd::display(&c);
        let mut child = spawn(&mut c, Stdio::piped(), Stdio::null())?;
        let lines = drain(child.stdout.take());
        ready_or_kill(
            &mut child,
            wait_line(&lines, &what, |l| l.starts_with("Attaching")),
        )?;
        // bpftrace prints the line right before it attaches.
        thread::sleep(Duration::from_millis(500));
        let pid = child.id() as i32;
        Ok(Background {
            child,
            what,
            stop: (pid, libc::SIGINT),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self) -> Result<()> {
        // SAFETY: kill with a pid this bench started and a valid signal number.
        unsafe { libc::kill(self.stop.0, self.stop.1) };
        let status = self
            .child
            .wait()
            .with_context(|| format!("wait for `{}`", self.what))?;
        // A recording cut short by SIGINT exits 0 or with the signal's documented code; only a
        // crash (killed by a signal) means the measurement is suspect.
        if status.code().is_none() {
            bail!("`{}` ended with {status}", self.what);
        }
        Ok(())
    }
}

/// A background process that never became ready is killed and reaped, never left behind.
/// Waits until no host tracer runs. The last recorder to leave a shared set leaves the host
/// tracer running for `LINGER` (1 s) with its programs attached, so a floor or plain run started
/// right after a recorded one would pay for them too: every measurement after a recorder settles
/// here first.
pub fn settle() -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while host_tracer_running() {
        if Instant::now() > deadline {
            bail!("a seccomp-profiler host tracer is still running 10 s after its last recording");
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn host_tracer_running() -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
            cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == b"__host-tracer")
        })
    })
}

fn ready_or_kill<T>(child: &mut Child, ready: Result<T>) -> Result<T> {
    if ready.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    ready
}

fn spawn(c: &mut Command, stdout: Stdio, stderr: Stdio) -> Result<Child> {
    c.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("start `{}`", cmd::display(c)))
}

/// Lines of a pipe, read on their own thread so the pipe never fills.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(pipe) = pipe {
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                let _ = tx.send(line);
            }
        });
    }
    rx
}

fn wait_line(
    lines: &mpsc::Receiver<String>,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if ready(&line) => return Ok(()),
            Ok(line) => seen.push(line),
            Err(_) => bail!(
                "`{what}` did not become ready within {READY_TIMEOUT:?}; it printed:\n{}",
                seen.join("\n")
            ),
        }
    }
}

/// The first child of `pid`, once it has one.
fn wait_child_of(pid: u32, what: &str) -> Result<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        let text = fs::read_to_string(&path).unwrap_or_default();
        if let Some(child) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
            return Ok(child);
        }
        thread::sleep(Duration::from_millis(5));
    }
    bail!("`{what}` started no command within {READY_TIMEOUT:?}")
}

/// Runs `c` (a tracer wrapping `sh -c 'LOOP; sleep 2'`) until the loop has printed its line,
/// reads the tracer's per-program bpf stats while its programs are still attached (the `sleep`
/// keeps them so), then waits for it. Returns the loop's line and the stats.
pub fn loop_with_stats(c: &mut Command) -> Result<(String, Vec<ProgramCost>)> {
    let what = cmd::display(c);
    let mut child = spawn(c, Stdio::piped(), Stdio::null())?;
    let lines = drain(child.stdout.take());
    let deadline = Instant::now() + Duration::from_secs(300);
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("ns_per_syscall=") => break line,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("`{what}` printed no ns_per_syscall line");
            }
        }
    };
    let costs = program_costs(child.id());
    child.wait().with_context(|| format!("wait for `{what}`"))?;
    Ok((line, costs?))
}

/// One attached program's bpf stats (`kernel.bpf_stats_enabled`), from the tracer's fdinfo.
#[derive(Clone, Debug)]
pub struct ProgramCost {
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

impl ProgramCost {
    pub fn ns_per_run(&self) -> f64 {
        self.run_time_ns as f64 / self.run_cnt.max(1) as f64
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "run_cnt": self.run_cnt,
            "run_time_ns": self.run_time_ns,
            "ns_per_run": self.ns_per_run(),
        })
    }
}

/// The bpf stats of every program `pid` holds open that ran at least once, named by bpftool
/// when it is installed (`prog #<id>` otherwise).
pub fn program_costs(pid: u32) -> Result<Vec<ProgramCost>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut costs = Vec::new();
    for entry in fs::read_dir(&dir)
        .with_context(|| format!("read {dir}"))?
        .flatten()
    {
        let Ok(text) = fs::read_to_string(entry.path()) else {
            continue;
        };
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok())
        };
        let (Some(id), Some(run_cnt), Some(run_time_ns)) =
            (field("prog_id:"), field("run_cnt:"), field("run_time_ns:"))
        else {
            continue;
        };
        if run_cnt > 0 {
            costs.push(ProgramCost {
                name: program_name(id),
                run_cnt,
                run_time_ns,
            });
        }
    }
    costs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(costs)
}

fn program_name(id: u64) -> String {
    let out = cmd::new("bpftool")
        .args(["-j", "prog", "show", "id", &id.to_string()])
        .output();
    out.ok()
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v["name"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("prog #{id}"))
}

/// `kernel.bpf_stats_enabled` on for as long as this lives, restored after.
pub struct BpfStats {
    before: String,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl BpfStats {
    pub fn enable() -> Result<BpfStats> {
        let before = fs::read_to_string(BPF_STATS).with_context(|| format!("read {BPF_STATS}"))?;
        fs::write(BPF_STATS, "1").with_context(|| format!("write 1 to {BPF_STATS}"))?;
        Ok(BpfStats { before })
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = fs::write(BPF_STATS, self.before.trim());
    }
}

/// A cgroup v2 directory of this bench's own, removed on drop; bpftrace filters on it.
pub struct BenchCgroup {
    pub path: PathBuf,
}

impl BenchCgroup {
    pub fn create() -> Result<BenchCgroup> {
        let mount = seccomp_profiler_cgroup2_mount()?;
        let path = mount.join(format!("sp-xtask-bench-{}", std::process::id()));
        fs::create_dir(&path).with_context(|| format!("create cgroup {}", path.display()))?;
        Ok(BenchCgroup { path })
    }

    /// `sh -c 'echo $$ > cgroup.procs && exec PROGRAM ARGS'`: the program runs in this cgroup.
    pub fn run_inside(&self, program: &Path, args: &[String]) -> Command {
        let mut c = cmd::new("sh");
        c.arg("-c")
            .arg(format!(
                "echo $$ > '{}/cgroup.procs' && exec \"$0\" \"$@\"",
                self.path.display()
            ))
            .arg(program)
            .args(args);
        c
    }
}

impl Drop for BenchCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.path);
    }
}

/// The cgroup2 mount: /sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup on unified ones.
fn seccomp_profiler_cgroup2_mount() -> Result<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    mountinfo
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split_whitespace().nth(4)?;
            (right.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .context("no cgroup2 mount in /proc/self/mountinfo")
}
