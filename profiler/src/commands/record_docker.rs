//! `record --containers -- CMD` and `record --container NAME|ID`: recording Docker containers.
//!
//! `--containers` arms every new container in the kernel, inside the runtime's `mkdir` of its
//! cgroup (see the eBPF `cgroup_mkdir` program), so a container is recorded from the first syscall
//! after its runtime installs the seccomp filter, with no race against its entrypoint. Docker
//! events only tell us when a container died (to write its profile then) and what it is called.
//! `--container` attaches to a running container: its threads are marked as past the gate at once,
//! and its start-up is not seen. Neither records the driving command itself.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::IsTerminal as _,
    os::unix::process::ExitStatusExt as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use profiler_common::Target;

use super::record::{self, Built};
use crate::{
    cgroup,
    cli::{Format, RecordArgs},
    docker, exit, launcher,
    output::report::{self, ContainerContext, RunContext},
    tracer::{self, Tracer},
};

/// Where dockerd puts containers in the cgroup2 tree: `/docker/<id>` with the cgroupfs driver,
/// `/system.slice/docker-<id>.scope` with the systemd driver.
const DOCKER_CGROUP_PREFIXES: [&str; 2] = ["/docker/", "/system.slice/docker-"];

/// How long to keep listening for `die` events after CMD exits, so containers CMD stopped on its
/// way out are written as stopped, not as still running.
const EVENT_DRAIN: Duration = Duration::from_millis(500);

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// `record --containers -- CMD`.
pub fn run_containers(args: RecordArgs, verbose: u8) -> anyhow::Result<i32> {
    runtime()?
        .block_on(containers(args, verbose, Mode::Write))
        .map(|run| run.code)
}

/// `--containers` for `check`: records like `record --containers` but writes nothing; the
/// profile paths named in each recording are `<args.output>/<stem>.json`.
pub(crate) fn record_containers(args: RecordArgs, verbose: u8) -> anyhow::Result<ContainersRun> {
    runtime()?.block_on(containers(args, verbose, Mode::Collect))
}

/// One container of a `--containers` recording.
pub(crate) struct ContainerRecording {
    /// The file stem its profile gets: its compose service or container name, made unique.
    pub stem: String,
    pub built: Built,
}

pub(crate) struct ContainersRun {
    /// CMD's outcome as an exit code (`exit::OK` or `exit::CMD_FAILED`).
    pub code: i32,
    pub recorded: Vec<ContainerRecording>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `record`: write each profile (and report) as its container ends, and print its summary.
    Write,
    /// `check`: only collect the recordings.
    Collect,
}

/// Where finished containers go, and what has been finished so far.
struct Outputs {
    mode: Mode,
    out_dir: PathBuf,
    report_dir: Option<PathBuf>,
    names_used: BTreeSet<String>,
    recorded: Vec<ContainerRecording>,
}

/// `record --container NAME`: attaches until the container stops, --duration or Ctrl-C.
pub(crate) fn attach(
    name: &str,
    target: &record::Single,
    verbose: u8,
) -> anyhow::Result<record::Recorded> {
    runtime()?.block_on(attach_async(name, target, verbose))
}

/// A container seen during a `--containers` recording.
struct Tracked {
    slot: u32,
    id: String,
    info: Option<docker::ContainerInfo>,
    name_hint: Option<String>,
    started: Instant,
    /// Its recording has been read (at `die`, or at the end).
    finished: bool,
}

impl Tracked {
    fn display_name(&self) -> String {
        self.info
            .as_ref()
            .map(|info| info.name.clone())
            .or_else(|| self.name_hint.clone())
            .unwrap_or_else(|| self.id.chars().take(12).collect())
    }
}

/// The 64-hex container id in a cgroup path like `/docker/<id>` or `/system.slice/docker-<id>.scope`.
fn container_id_of_path(path: &str) -> Option<String> {
    let last = path.rsplit('/').next()?;
    let id = last.strip_prefix("docker-").unwrap_or(last);
    let id = id.strip_suffix(".scope").unwrap_or(id);
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
}

async fn containers(args: RecordArgs, verbose: u8, mode: Mode) -> anyhow::Result<ContainersRun> {
    let mut outputs = Outputs {
        mode,
        out_dir: args.output.clone().unwrap_or_else(|| PathBuf::from(".")),
        report_dir: args.report_dir.clone(),
        names_used: BTreeSet::new(),
        recorded: Vec::new(),
    };
    if mode == Mode::Write {
        for dir in std::iter::once(&outputs.out_dir).chain(outputs.report_dir.as_ref()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create output directory {}", dir.display()))
                .map_err(exit::with(exit::INPUT))?;
            record::check_writable_dir(dir).map_err(exit::with(exit::INPUT))?;
        }
    }
    let program = launcher::resolve_program(&args.cmd[0]).map_err(exit::with(exit::INPUT))?;
    record::check_privileges().map_err(exit::with(exit::ENVIRONMENT))?;
    let engine = docker::Engine::connect()
        .await
        .map_err(exit::with(exit::ENVIRONMENT))?;

    let started = Instant::now();
    let mut tracer = Tracer::load_with(&tracer::Options {
        verbose: verbose > 0,
        watch_prefixes: DOCKER_CGROUP_PREFIXES
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
        watch_flags: Target::GATE_ON_EXEC,
    })
    .map_err(exit::with(exit::ENVIRONMENT))?;
    let mut events = Box::pin(engine.events());
    log::info!(
        "tracing active after {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let mut child = tokio::process::Command::new(&program)
        .arg0(&args.cmd[0])
        .args(&args.cmd[1..])
        .kill_on_drop(false)
        .spawn()
        .with_context(|| format!("failed to start {:?}", args.cmd[0]))
        .map_err(exit::with(exit::INPUT))?;
    let run_started = Instant::now();
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let progress = std::io::stderr().is_terminal();
    let mut tracked: BTreeMap<u32, Tracked> = BTreeMap::new();
    let mut cut_short = None;
    let mut tick = tokio::time::interval(tracer::POLL_INTERVAL);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let sleep = tokio::time::sleep_until(
        deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400 * 365)),
    );
    tokio::pin!(sleep);

    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("failed to wait for CMD")?,
            Some(event) = events.next() => {
                match event {
                    Ok(event) => {
                        discover(&tracer, &mut tracked)?;
                        on_event(&engine, &tracer, &mut tracked, &event, &args, &mut outputs).await?;
                    }
                    Err(err) => log::warn!("docker events: {err}"),
                }
            }
            _ = tick.tick() => {
                discover(&tracer, &mut tracked)?;
                tracer.flush_logs();
                if progress {
                    let total: u64 = tracked.values().filter_map(|t| tracer.total(t.slot).ok()).sum();
                    eprint!("\rrecording: {} container(s), {total} syscalls so far ", tracked.len());
                }
            }
            _ = &mut ctrl_c, if cut_short.is_none() => {
                cut_short = Some("interrupt");
                stop(&child);
            }
            _ = &mut sleep, if deadline.is_some() && cut_short.is_none() => {
                cut_short = Some("duration");
                stop(&child);
            }
        }
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    // Containers CMD stopped on its way out: their `die` events may still be in flight.
    let drain_until = tokio::time::Instant::now() + EVENT_DRAIN;
    while let Ok(Some(event)) = tokio::time::timeout_at(drain_until, events.next()).await {
        discover(&tracer, &mut tracked)?;
        if let Ok(event) = event {
            on_event(&engine, &tracer, &mut tracked, &event, &args, &mut outputs).await?;
        }
    }
    discover(&tracer, &mut tracked)?;
    let run_time = run_started.elapsed();
    let slots: Vec<u32> = tracked
        .iter()
        .filter(|(_, t)| !t.finished)
        .map(|(slot, _)| *slot)
        .collect();
    for slot in slots {
        let running = tracked.get(&slot).is_some_and(cgroup_exists);
        if let Some(entry) = tracked.get_mut(&slot)
            && entry.info.is_none()
        {
            entry.info = engine.inspect(&entry.id).await.ok();
        }
        finish(&tracer, &mut tracked, slot, &args, &mut outputs, running)?;
    }
    tracer.flush_logs();

    eprintln!(
        "seccomp-profiler: `{}` ran {:.2} s ({}); {} container(s) recorded",
        record::os_args(&args.cmd).join(" "),
        run_time.as_secs_f64(),
        match (cut_short, status.code(), status.signal()) {
            (Some(reason), ..) => format!("stopped: {reason}"),
            (None, Some(code), _) => format!("exit {code}"),
            (None, None, Some(signal)) => format!("killed by signal {signal}"),
            _ => "ended".into(),
        },
        outputs.recorded.len()
    );
    if outputs.recorded.is_empty() {
        eprintln!("  no container started while CMD ran; nothing was recorded");
    }
    Ok(ContainersRun {
        code: match (cut_short, status.success()) {
            (Some(_), _) | (None, true) => exit::OK,
            (None, false) => exit::CMD_FAILED,
        },
        recorded: outputs.recorded,
    })
}

/// SIGTERM to CMD (its own containers are its business, like `docker stop` of a compose up).
fn stop(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
}

fn cgroup_exists(tracked: &Tracked) -> bool {
    let Ok(root) = cgroup::cgroup2_mount() else {
        return false;
    };
    docker::expected_cgroup2_paths(&tracked.id)
        .iter()
        .any(|path| root.join(path.trim_start_matches('/')).is_dir())
}

/// Picks up targets the kernel side armed since the last look.
fn discover(tracer: &Tracer, tracked: &mut BTreeMap<u32, Tracked>) -> anyhow::Result<()> {
    for (_, target) in tracer.targets().map_err(exit::with(exit::RUNTIME))? {
        if tracked.contains_key(&target.slot) {
            continue;
        }
        let Some(path) = tracer
            .slot_path(target.slot)
            .map_err(exit::with(exit::RUNTIME))?
        else {
            continue;
        };
        let Some(id) = container_id_of_path(&path) else {
            log::debug!("armed cgroup {path} is not a container; ignoring");
            continue;
        };
        log::debug!(
            "container {id} armed in slot {} (cgroup {path})",
            target.slot
        );
        tracked.insert(
            target.slot,
            Tracked {
                slot: target.slot,
                id,
                info: None,
                name_hint: None,
                started: Instant::now(),
                finished: false,
            },
        );
    }
    Ok(())
}

async fn on_event(
    engine: &docker::Engine,
    tracer: &Tracer,
    tracked: &mut BTreeMap<u32, Tracked>,
    event: &docker::ContainerEvent,
    args: &RecordArgs,
    outputs: &mut Outputs,
) -> anyhow::Result<()> {
    let Some((&slot, entry)) = tracked.iter_mut().find(|(_, t)| t.id == event.id) else {
        return Ok(());
    };
    if entry.name_hint.is_none() {
        entry.name_hint = event.name.clone();
    }
    match event.verb() {
        "start" => {
            if let Ok(info) = engine.inspect(&event.id).await {
                entry.info = Some(info);
            }
        }
        "die" if !entry.finished => {
            if entry.info.is_none() {
                entry.info = engine.inspect(&event.id).await.ok();
            }
            finish(tracer, tracked, slot, args, outputs, false)?;
        }
        _ => {}
    }
    Ok(())
}

/// Reads one container's recording; writes its profile (and report) or, for `check`, keeps it.
fn finish(
    tracer: &Tracer,
    tracked: &mut BTreeMap<u32, Tracked>,
    slot: u32,
    args: &RecordArgs,
    outputs: &mut Outputs,
    running_at_end: bool,
) -> anyhow::Result<()> {
    let Some(entry) = tracked.get_mut(&slot) else {
        return Ok(());
    };
    entry.finished = true;
    let recording = tracer.read(slot).map_err(exit::with(exit::RUNTIME))?;
    if recording.observed.is_empty() {
        log::info!(
            "container {} recorded no syscalls (it never got past its runtime's setup)",
            entry.display_name()
        );
        return Ok(());
    }
    let stem = unique_stem(&file_stem(entry), &mut outputs.names_used);
    let extension = if args.format == Format::K8s {
        "yaml"
    } else {
        "json"
    };
    let profile_path = outputs.out_dir.join(format!("{stem}.{extension}"));
    let context = container_context(entry, false, running_at_end);
    let run = container_run(
        record::os_args(&args.cmd),
        "containers",
        recording.flags,
        context,
        entry.started.elapsed(),
    );
    let mut built = record::build(&recording, run, &record::profile_ref(Some(&profile_path)))?;
    warn_about_mode(&mut built);
    if outputs.mode == Mode::Write {
        let report_path =
            (outputs.report_dir.as_ref()).map(|dir| dir.join(format!("{stem}.report.json")));
        record::write_outputs(
            &built,
            args.format,
            &stem,
            Some(&profile_path),
            report_path.as_deref(),
        )?;
        let uses = uses_for(&built, &profile_path);
        record::print_summary(&built, Some(&profile_path), report_path.as_deref(), &uses);
    }
    outputs.recorded.push(ContainerRecording { stem, built });
    Ok(())
}

/// A container recorded without any seccomp filter (`seccomp=unconfined`) is counted from its
/// entrypoint's execve: what runc itself does between installing a filter and that execve (capset,
/// setuid, the exec fifo, Go runtime futexes…) was never run under a filter, so it is not in the
/// profile, and runc cannot start a container under it. Seen with runc 1.1.5: "error closing exec
/// fds … operation not permitted".
fn warn_about_mode(built: &mut Built) {
    let nnp = built
        .report
        .run
        .container
        .as_ref()
        .is_some_and(|c| c.no_new_privileges == Some(true));
    if nnp {
        built.report.warnings.push(
            "recorded with no-new-privileges: runc installs the filter right before execve then, so this \
             profile lacks runc's own post-install work and may not cover a run without no-new-privileges"
                .to_owned(),
        );
    }
    let unconfined = built
        .report
        .run
        .container
        .as_ref()
        .is_some_and(|c| c.seccomp == "unconfined");
    if unconfined && built.report.run.gate.starts_with("first execve") {
        built.report.warnings.push(
            "recorded with seccomp=unconfined: only the application's own syscalls are in this profile, not \
             the runtime's work after it installs a filter, so Docker cannot start the container under it; \
             record without seccomp=unconfined to get a profile Docker can apply"
                .to_owned(),
        );
    }
}

fn file_stem(entry: &Tracked) -> String {
    match &entry.info {
        Some(info) => docker::profile_file_name(info)
            .trim_end_matches(".json")
            .to_owned(),
        None => sanitize(&entry.display_name()),
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `web`, then `web-2`, `web-3` for further containers of the same service in one recording.
fn unique_stem(stem: &str, used: &mut BTreeSet<String>) -> String {
    let mut candidate = stem.to_owned();
    let mut n = 1;
    while !used.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{stem}-{n}");
    }
    candidate
}

fn container_context(entry: &Tracked, attached: bool, running_at_end: bool) -> ContainerContext {
    let info = entry.info.as_ref();
    ContainerContext {
        id: entry.id.clone(),
        name: entry.display_name(),
        image: info.map(|i| i.image.clone()),
        compose_project: info.and_then(|i| i.compose_project.clone()),
        compose_service: info.and_then(|i| i.compose_service.clone()),
        seccomp: match info.map(|i| i.seccomp) {
            Some(docker::SeccompMode::Default) => "default",
            Some(docker::SeccompMode::Unconfined) => "unconfined",
            Some(docker::SeccompMode::Custom) => "custom",
            None => "unknown",
        },
        no_new_privileges: info.map(|i| i.no_new_privileges),
        attached_after_start: attached,
        running_at_end,
    }
}

fn container_run(
    command: Vec<String>,
    target: &'static str,
    gates: u32,
    container: ContainerContext,
    elapsed: Duration,
) -> RunContext {
    let (kernel, arch) = report::kernel_and_arch();
    let never = if container.attached_after_start {
        "attached: threads running at attach time were counted from then on"
    } else {
        "the runtime never installed a filter nor exec'd the entrypoint"
    };
    let gate = if container.attached_after_start && gates == 0 {
        never.to_owned()
    } else {
        record::gate_description(gates, never)
    };
    RunContext {
        target,
        command,
        kernel,
        arch,
        gate,
        user: None,
        uid: None,
        no_new_privs: None,
        container: Some(container),
        exit_code: None,
        signal: None,
        cut_short: false,
        cut_short_reason: None,
        duration_ms: elapsed.as_millis() as u64,
        leftover_processes_killed: 0,
    }
}

fn uses_for(built: &Built, path: &Path) -> Vec<String> {
    let image = built
        .report
        .run
        .container
        .as_ref()
        .and_then(|c| c.image.clone())
        .unwrap_or_else(|| "IMAGE".into());
    vec![
        format!(
            "docker run --security-opt seccomp={} {image} …",
            path.display()
        ),
        format!("compose: security_opt: [\"seccomp={}\"]", path.display()),
    ]
}

async fn attach_async(
    name: &str,
    args: &record::Single,
    verbose: u8,
) -> anyhow::Result<record::Recorded> {
    record::check_privileges().map_err(exit::with(exit::ENVIRONMENT))?;
    let engine = docker::Engine::connect()
        .await
        .map_err(exit::with(exit::ENVIRONMENT))?;
    let info = engine
        .inspect_running(name)
        .await
        .map_err(exit::with(exit::INPUT))?;
    let Some(pid) = info.pid else {
        bail!("container {name} has no running process")
    };
    let relative = docker::cgroup2_path_of_pid(pid)
        .with_context(|| format!("failed to find the cgroup of container {name} (pid {pid})"))
        .map_err(exit::with(exit::ENVIRONMENT))?;
    let dir = cgroup::cgroup2_mount()
        .map_err(exit::with(exit::ENVIRONMENT))?
        .join(relative.trim_start_matches('/'));
    let cgroup_id = cgroup::cgroup_id(&dir)
        .with_context(|| format!("failed to read cgroup {}", dir.display()))
        .map_err(exit::with(exit::ENVIRONMENT))?;

    let mut tracer = Tracer::load(verbose > 0).map_err(exit::with(exit::ENVIRONMENT))?;
    let mut events = Box::pin(engine.events());
    let slot = tracer
        .add_target(cgroup_id, Target::GATE_ON_EXEC)
        .map_err(exit::with(exit::RUNTIME))?;
    mark_running_threads(&mut tracer, slot, &dir)?;
    eprintln!(
        "seccomp-profiler: attached to container {} ({}): recording from now on; its start-up was not seen. \
         Ctrl-C to stop{}",
        info.name,
        &info.id[..12],
        args.duration.map_or(String::new(), |d| format!(
            " (or wait {:.0} s)",
            d.as_secs_f64()
        ))
    );

    let started = Instant::now();
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let sleep = tokio::time::sleep_until(
        deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400 * 365)),
    );
    tokio::pin!(sleep);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut tick = tokio::time::interval(tracer::POLL_INTERVAL);
    let progress = std::io::stderr().is_terminal();
    let cut_short = loop {
        tokio::select! {
            Some(Ok(event)) = events.next() => {
                if event.id == info.id && event.verb() == "die" {
                    break None;
                }
            }
            _ = tick.tick() => {
                tracer.flush_logs();
                if !dir.is_dir() {
                    break None;
                }
                if progress
                    && let Ok(total) = tracer.total(slot) {
                        eprint!("\rrecording: {total} syscalls so far ");
                    }
            }
            _ = &mut ctrl_c => break Some("interrupt"),
            _ = &mut sleep, if deadline.is_some() => break Some("duration"),
        }
    };
    if progress {
        eprint!("\r\x1b[K");
    }
    let recording = tracer.read(slot).map_err(exit::with(exit::RUNTIME))?;
    tracer.flush_logs();
    let running = dir.is_dir();
    let entry = Tracked {
        slot,
        id: info.id.clone(),
        name_hint: Some(info.name.clone()),
        info: Some(info),
        started,
        finished: true,
    };
    let mut run = container_run(
        Vec::new(),
        "container",
        recording.flags,
        container_context(&entry, true, running),
        started.elapsed(),
    );
    run.cut_short = cut_short.is_some();
    run.cut_short_reason = cut_short;
    let mut built = record::build(&recording, run, &args.profile_ref)?;
    warn_about_mode(&mut built);
    let uses = uses_for(&built, Path::new(&args.profile_ref));
    Ok(record::Recorded {
        built,
        uses,
        code: exit::OK,
    })
}

/// Marks every thread already in the container's cgroup as past the gate. Threads created while
/// this runs by a not-yet-marked parent would be missed, so it repeats until a pass finds nothing new.
fn mark_running_threads(tracer: &mut Tracer, slot: u32, dir: &Path) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for _ in 0..10 {
        let text = std::fs::read_to_string(dir.join("cgroup.threads"))
            .with_context(|| format!("failed to list the threads of {}", dir.display()))
            .map_err(exit::with(exit::RUNTIME))?;
        let fresh: Vec<u32> = text
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .filter(|tid| !seen.contains(tid))
            .collect();
        if fresh.is_empty() {
            break;
        }
        tracer
            .mark_threads(slot, &fresh)
            .map_err(exit::with(exit::RUNTIME))?;
        seen.extend(fresh);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_from_cgroup_paths() {
        let id = "a".repeat(64);
        assert_eq!(
            container_id_of_path(&format!("/docker/{id}")),
            Some(id.clone())
        );
        assert_eq!(
            container_id_of_path(&format!("/system.slice/docker-{id}.scope")),
            Some(id.clone())
        );
        assert_eq!(container_id_of_path("/docker/buildkit"), None);
        assert_eq!(
            container_id_of_path(&format!("/docker/{}", "g".repeat(64))),
            None
        );
    }

    #[test]
    fn stems_are_unique() {
        let mut used = BTreeSet::new();
        assert_eq!(unique_stem("web", &mut used), "web");
        assert_eq!(unique_stem("web", &mut used), "web-2");
        assert_eq!(unique_stem("web", &mut used), "web-3");
        assert_eq!(sanitize("a b/c"), "a_b_c");
    }
}
