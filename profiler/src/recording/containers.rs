//! The containers target, `record --containers -- CMD`: every Docker container that starts while
//! CMD runs, each from its first syscall after its runtime installs the seccomp filter.
//!
//! A new container is armed in the kernel inside the runtime's `mkdir` of its cgroup (the eBPF
//! `cgroup_mkdir` program), before any task can join it, so nothing races its entrypoint. Docker
//! events only say when a container died (its recording is finished then) and what it is called.
//! CMD itself is not recorded; it runs in a cgroup of its own so that stopping it stops everything
//! it started: SIGTERM to CMD (the docker CLI passes it on to its container), then, after the
//! grace period, SIGKILL to CMD's cgroup and to every container it started that is still running.

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsString,
    os::unix::process::ExitStatusExt as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use futures_util::StreamExt as _;
use profiler_common::Target;

use super::{
    Finished, Options, Outcome, RecordError, Sink, build, check_privileges, context,
    supervisor::{Event, Supervisor, signal_pid},
};
use crate::{
    cgroup::{self, OwnedCgroup},
    docker, launcher,
    output::summary,
    tracer::{self, Tracer},
};

/// How long to keep listening for `die` events after CMD exits, so containers CMD stopped on its
/// way out are written as stopped, not as still running.
const EVENT_DRAIN: Duration = Duration::from_millis(500);

/// A container seen during the recording.
#[derive(Clone)]
struct Tracked {
    slot: u32,
    id: String,
    /// Its cgroup, relative to the cgroup2 mount, as the kernel side recorded it when arming.
    cgroup: String,
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

    fn file_stem(&self) -> String {
        match &self.info {
            Some(info) => docker::profile_file_name(info)
                .trim_end_matches(".json")
                .to_owned(),
            None => docker::file_stem(&self.display_name()),
        }
    }

    fn cgroup_dir(&self) -> Option<PathBuf> {
        let root = cgroup::cgroup2_mount().ok()?;
        Some(root.join(self.cgroup.trim_start_matches('/')))
    }
}

/// Everything one `--containers` recording keeps track of.
struct Recorder<'a> {
    tracer: Tracer,
    engine: docker::Engine,
    cmd: Vec<String>,
    tracked: BTreeMap<u32, Tracked>,
    stems: BTreeSet<String>,
    /// Containers finished and released so far (no longer in `tracked`).
    done: usize,
    /// The containers still running when the recording was stopped: only they were cut short.
    running_at_stop: BTreeSet<u32>,
    sink: &'a mut dyn Sink,
    outcome: Outcome,
}

pub(super) async fn record(
    cmd: &[OsString],
    options: &Options,
    sink: &mut dyn Sink,
) -> anyhow::Result<Outcome> {
    launcher::resolve_program(&cmd[0])?;
    check_privileges()?;
    let mut supervisor = Supervisor::new(options.duration)
        .map_err(|err| RecordError::Runtime(format!("cannot handle signals: {err}")))?;
    cgroup::remove_stale();
    let engine = docker::Engine::connect().await?;

    let started = Instant::now();
    let tracer = Tracer::load_with(&tracer::Options {
        verbose: options.verbose,
        watch_prefixes: docker::CGROUP_PREFIXES
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
        watch_flags: Target::GATE_ON_EXEC,
    })?;
    let mut events = Box::pin(engine.events());
    log::info!(
        "tracing active after {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let driver = OwnedCgroup::create("driver")?;
    let procs = driver.open_procs()?;
    let mut child = launcher::spawn(cmd, &procs, None, launcher::Gate::None)?;
    drop(procs);
    let pid = child.id();
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let run_started = Instant::now();
    supervisor.start_clock(options.duration);
    let mut recorder = Recorder {
        tracer,
        engine,
        cmd: context::os_args(cmd),
        tracked: BTreeMap::new(),
        stems: BTreeSet::new(),
        running_at_stop: BTreeSet::new(),
        done: 0,
        sink,
        outcome: Outcome::default(),
    };

    let status = loop {
        tokio::select! {
            status = &mut rx => {
                break status
                    .map_err(|_| RecordError::Runtime("lost track of CMD".into()))?
                    .map_err(|err| RecordError::Runtime(format!("cannot wait for CMD: {err}")))?;
            }
            Some(event) = events.next() => match event {
                Ok(event) => {
                    recorder.discover()?;
                    recorder.on_event(&event, supervisor.cut_short().map(|r| r.name())).await?;
                }
                Err(err) => log::warn!("docker events: {err}"),
            },
            event = supervisor.next() => match event {
                Event::Tick => {
                    recorder.discover()?;
                    recorder.tracer.flush_logs();
                    supervisor.progress(&recorder.progress());
                }
                Event::Stop(_) => {
                    recorder.discover()?;
                    recorder.running_at_stop = (recorder.tracked.values())
                        .filter(|t| !t.finished)
                        .map(|t| t.slot)
                        .collect();
                    signal_pid(pid, libc::SIGTERM);
                }
                Event::Kill => {
                    driver.kill_all();
                    recorder.kill_containers();
                }
            },
        }
    };
    supervisor.clear_progress();
    let cut_short = supervisor.cut_short().map(|reason| reason.name());
    // Containers CMD stopped on its way out: their `die` events may still be in flight.
    let drain_until = tokio::time::Instant::now() + EVENT_DRAIN;
    while let Ok(Some(event)) = tokio::time::timeout_at(drain_until, events.next()).await {
        recorder.discover()?;
        if let Ok(event) = event {
            recorder.on_event(&event, cut_short).await?;
        }
    }
    recorder.discover()?;
    let run_time = run_started.elapsed();
    recorder.finish_all(cut_short).await?;
    recorder.name_missed().await;
    recorder.tracer.flush_logs();
    drop(driver);

    let mut outcome = recorder.outcome;
    outcome.exit_code = status.code();
    outcome.cmd_failed = cut_short.is_none() && !status.success();
    outcome.cut_short = cut_short;
    summary::containers_run(
        &recorder.cmd.join(" "),
        run_time,
        cut_short,
        status.code(),
        status.signal(),
        &outcome,
    );
    Ok(outcome)
}

impl Recorder<'_> {
    /// Picks up targets the kernel side armed since the last look, and containers it could not
    /// arm because every slot was taken.
    fn discover(&mut self) -> Result<(), RecordError> {
        let runtime = |err: tracer::TracerError| RecordError::Runtime(err.to_string());
        for path in self.tracer.take_missed().map_err(runtime)? {
            if let Some(id) = docker::container_id_of_path(&path) {
                log::warn!("container {id} started while every recording slot was taken");
                self.outcome.missed.push(id);
            }
        }
        for (_, target) in self.tracer.targets().map_err(runtime)? {
            if self.tracked.contains_key(&target.slot) {
                continue;
            }
            let Some(path) = self.tracer.slot_path(target.slot).map_err(runtime)? else {
                continue;
            };
            let Some(id) = docker::container_id_of_path(&path) else {
                log::debug!("armed cgroup {path} is not a container; ignoring");
                continue;
            };
            log::debug!(
                "container {id} armed in slot {} (cgroup {path})",
                target.slot
            );
            self.tracked.insert(
                target.slot,
                Tracked {
                    slot: target.slot,
                    id,
                    cgroup: path,
                    info: None,
                    name_hint: None,
                    started: Instant::now(),
                    finished: false,
                },
            );
        }
        Ok(())
    }

    fn progress(&self) -> String {
        let total: u64 = (self.tracked.values())
            .filter_map(|t| self.tracer.total(t.slot).ok())
            .sum();
        format!(
            "recording: {} container(s), {total} syscalls so far in the running ones",
            self.tracked.len() + self.done
        )
    }

    /// SIGKILL to every container of this recording that is still running (it ignored the
    /// SIGTERM its CMD passed on).
    fn kill_containers(&self) {
        for tracked in self.tracked.values().filter(|t| !t.finished) {
            if let Some(dir) = tracked.cgroup_dir()
                && dir.is_dir()
            {
                let killed = cgroup::kill(&dir);
                if killed > 0 {
                    log::info!(
                        "killed {killed} process(es) of container {} after the grace period",
                        tracked.display_name()
                    );
                }
            }
        }
    }

    async fn on_event(
        &mut self,
        event: &docker::ContainerEvent,
        cut_short: Option<&'static str>,
    ) -> Result<(), RecordError> {
        let Some((&slot, entry)) = self.tracked.iter_mut().find(|(_, t)| t.id == event.id) else {
            return Ok(());
        };
        if entry.name_hint.is_none() {
            entry.name_hint = event.name.clone();
        }
        match event.verb() {
            "start" => {
                if let Ok(info) = self.engine.inspect(&event.id).await {
                    entry.info = Some(info);
                }
            }
            "die" if !entry.finished => {
                if entry.info.is_none() {
                    entry.info = self.engine.inspect(&event.id).await.ok();
                }
                self.finish(slot, false, cut_short)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Names the containers that were not recorded (by container name when the daemon still
    /// knows them, else by short id), sorted.
    async fn name_missed(&mut self) {
        let mut names = Vec::with_capacity(self.outcome.missed.len());
        for id in &self.outcome.missed {
            let name = match self.engine.inspect(id).await {
                Ok(info) => info.name,
                Err(_) => id.chars().take(12).collect(),
            };
            names.push(name);
        }
        names.sort();
        self.outcome.missed = names;
    }

    /// Finishes every container still open when CMD is done.
    async fn finish_all(&mut self, cut_short: Option<&'static str>) -> Result<(), RecordError> {
        let open: Vec<u32> = (self.tracked.iter())
            .filter(|(_, t)| !t.finished)
            .map(|(slot, _)| *slot)
            .collect();
        for slot in open {
            let Some(entry) = self.tracked.get_mut(&slot) else {
                continue;
            };
            let running = entry.cgroup_dir().is_some_and(|dir| dir.is_dir());
            if entry.info.is_none() {
                entry.info = self.engine.inspect(&entry.id).await.ok();
            }
            self.finish(slot, running, cut_short)?;
        }
        Ok(())
    }

    /// Reads one container's recording, builds it, and hands it to the sink. A sink that cannot
    /// take it (a full disk) is reported and the recording of the others goes on.
    fn finish(
        &mut self,
        slot: u32,
        running_at_end: bool,
        cut_short: Option<&'static str>,
    ) -> Result<(), RecordError> {
        let runtime = |err: tracer::TracerError| RecordError::Runtime(err.to_string());
        let Some(mut entry) = self.tracked.remove(&slot) else {
            return Ok(());
        };
        entry.finished = true;
        let recording = self.tracer.read(slot).map_err(runtime)?;
        if running_at_end {
            self.tracked.insert(slot, entry.clone());
        } else {
            // Its cgroup is gone: the slot serves the next container, which the kernel side may
            // arm in it from now on, so this entry must not hold it any longer.
            self.tracer.release(slot, &recording).map_err(runtime)?;
            self.done += 1;
        }
        if recording.observed.is_empty() {
            log::info!(
                "container {} recorded no syscalls (it never got past its runtime's setup)",
                entry.display_name()
            );
            return Ok(());
        }
        let stem = unique_stem(&entry.file_stem(), &mut self.stems);
        let container = context::container(
            &entry.id,
            entry.display_name(),
            entry.info.as_ref(),
            false,
            running_at_end,
        );
        let cut_short = cut_short.filter(|_| self.running_at_stop.contains(&slot));
        let run = context::container_run(
            self.cmd.clone(),
            "containers",
            recording.flags,
            container,
            entry.started.elapsed(),
            cut_short,
        );
        let mut built = build(&recording, run, &self.sink.profile_ref(Some(&stem)))?;
        let warnings = context::mode_warnings(&built.report.run);
        built.report.warnings.extend(warnings);
        let name = built.report.run.container.as_ref().map(|c| c.name.clone());
        self.outcome.recorded += 1;
        if let Err(err) = self.sink.accept(Finished {
            stem: Some(stem.clone()),
            built,
        }) {
            let name = name.unwrap_or(stem);
            summary::error(&format!("container {name}: {err:#}"));
            self.outcome.failed.push(name);
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_unique() {
        let mut used = BTreeSet::new();
        assert_eq!(unique_stem("web", &mut used), "web");
        assert_eq!(unique_stem("web", &mut used), "web-2");
        assert_eq!(unique_stem("web", &mut used), "web-3");
        assert_eq!(docker::file_stem("a b/c"), "a_b_c");
        assert_eq!(docker::file_stem(".."), "__");
    }
}
