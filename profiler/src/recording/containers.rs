//! The containers target, `record --containers -- CMD`: every Docker container that starts while
//! CMD runs, each from its first syscall after its runtime installs the seccomp filter.
//!
//! A new container is armed in the kernel inside the runtime's `mkdir` of its cgroup (the eBPF
//! `cgroup_mkdir` program), before any task can join it, so nothing races its entrypoint. Docker
//! events only say when a container died (its recording is finished then) and what it is called.
//! So losing the Docker API mid-run loses no syscall, only names and timing: the event source
//! reconnects and replays what it missed, what was learned is kept, and every container whose
//! name, image or end is uncertain because of the outage says so in its report (`tracked.rs`).
//! CMD itself is not recorded; it runs in a cgroup of its own so that stopping it stops everything
//! it started: SIGTERM to CMD (the docker CLI passes it on to its container), then, after the
//! grace period, SIGKILL to CMD's cgroup and to every container it started that is still running.

use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsString,
    os::unix::process::ExitStatusExt as _,
    time::{Duration, Instant, SystemTime},
};

use profiler_common::{Target, WATCH_RUNTIME_MKDIR, WATCH_SHAPES};

use super::{
    Finished, Options, Outcome, RecordError, Sink, build_for, check_privileges, context,
    supervisor::{Event, Supervisor, signal_pid},
    tracked::{self, Tracked},
};
use crate::{
    cgroup::{self, OwnedCgroup},
    docker, engines, hardening, launcher,
    output::summary,
    tracer::{self, Tracer},
};

mod scope;

/// How long to keep listening for `die` events after CMD exits, so containers CMD stopped on its
/// way out are written as stopped, not as still running.
const EVENT_DRAIN: Duration = Duration::from_millis(500);

/// How long a recording whose Docker API is still lost when CMD is done waits for it to answer.
const FINAL_RETRY: Duration = Duration::from_secs(2);

/// How long one `docker inspect` may take: the recording's loop waits for it, and a daemon that
/// accepts connections but does not answer must not hold up CMD's end or a signal.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The outage in progress (its index in `outcome.api_outages`) while the API is unreachable.
    api_down: Option<usize>,
    /// How each tracked container's writes to its root filesystem are observed, by slot.
    observations: BTreeMap<u32, hardening::Observation>,
    /// `--verify`: what each finished container's replay needs.
    replays: Vec<Pending>,
    verify: bool,
    /// `--args`: argument rules in every container's profile.
    args: bool,
    /// `--runtimes`/`--nnp`.
    runtimes: crate::runtimes::Request,
    /// `--filter`.
    filters: engines::Filters,
    /// Containers `--filter` left out (disarmed), by name, and why when not by the filter.
    filtered_out: Vec<String>,
}

/// A finished container waiting for its `--verify` replay.
struct Pending {
    info: docker::ContainerInfo,
    profile_json: String,
    recommendation: crate::capabilities::Recommendation,
    hardening: hardening::Hardening,
    ran_for: Duration,
    exit_code: Option<i64>,
    running_at_end: bool,
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
        // Every engine's containers are armed by the shape of their cgroup, or because a
        // runtime made it (design.md §17): no prefix to watch.
        watch_prefixes: Vec::new(),
        watch_flags: Target::GATE_ON_EXEC,
        watch_mode: WATCH_SHAPES | WATCH_RUNTIME_MKDIR,
        ..tracer::Options::default()
    })?;
    let mut events = docker::EventSource::start(&engine);
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
        api_down: None,
        observations: BTreeMap::new(),
        replays: Vec::new(),
        verify: options.verify,
        args: options.args,
        runtimes: options.runtimes.clone(),
        filters: options.filters.clone(),
        filtered_out: Vec::new(),
    };

    let status = loop {
        tokio::select! {
            status = &mut rx => {
                break status
                    .map_err(|_| RecordError::Runtime("lost track of CMD".into()))?
                    .map_err(|err| RecordError::Runtime(format!("cannot wait for CMD: {err}")))?;
            }
            Some(update) = events.next() => {
                recorder.on_update(update, supervisor.cut_short().map(|r| r.name())).await?;
            }
            event = supervisor.next() => match event {
                Event::Tick => {
                    recorder.discover()?;
                    recorder.describe_others(supervisor.cut_short().map(|r| r.name())).await?;
                    recorder.observations.values_mut().for_each(hardening::Observation::poll);
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
    // Containers CMD stopped on its way out: their `die` events may still be in flight, and on a
    // loaded machine so may the events that name a container which started and ended at once.
    let now = tokio::time::Instant::now();
    let (drain_until, names_until) = (now + EVENT_DRAIN, now + tracked::UNNAMED_GRACE);
    loop {
        let unnamed = (recorder.tracked.values()).any(|t| !t.finished && t.unnamed_bare_id());
        let until = if unnamed { names_until } else { drain_until };
        match tokio::time::timeout_at(until, events.next()).await {
            Ok(Some(update)) => recorder.on_update(update, cut_short).await?,
            _ => break,
        }
    }
    if recorder.api_down.is_some() {
        // The API may be back already, between two attempts of the back-off: one last try, so
        // that containers which ended meanwhile are named from the events the daemon kept.
        events.retry_now();
        let retry_until = tokio::time::Instant::now() + FINAL_RETRY;
        while recorder.api_down.is_some()
            && let Ok(Some(update)) = tokio::time::timeout_at(retry_until, events.next()).await
        {
            recorder.on_update(update, cut_short).await?;
        }
    }
    drop(events);
    recorder.discover()?;
    recorder.describe_others(cut_short).await?;
    let run_time = run_started.elapsed();
    recorder.end_outage();
    recorder.finish_all(cut_short).await?;
    recorder.name_missed().await;
    recorder.tracer.flush_logs();
    drop(driver);
    recorder.verify().await;

    recorder.say_filtered();
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

/// The ids of the containers `cgroup_mkdir` could not arm since the last look because every slot
/// was taken (a runtime's other cgroups are not containers), each said on the log.
pub(super) fn missed_containers(tracer: &mut Tracer) -> Result<Vec<String>, tracer::TracerError> {
    let mut missed = Vec::new();
    for path in tracer.take_missed()? {
        if let Some(shape) = engines::classify(&path).filter(|shape| shape.shaped) {
            log::warn!(
                "container {} started while every recording slot was taken",
                shape.id
            );
            missed.push(shape.id);
        }
    }
    Ok(missed)
}

impl Recorder<'_> {
    /// Picks up targets the kernel side armed since the last look, and containers it could not
    /// arm because every slot was taken. A container first seen while the API is down lives
    /// through that outage.
    fn discover(&mut self) -> Result<(), RecordError> {
        let runtime = |err: tracer::TracerError| RecordError::Runtime(err.to_string());
        let missed = missed_containers(&mut self.tracer).map_err(runtime)?;
        self.outcome.missed.extend(missed);
        let outages: Vec<usize> = self.api_down.into_iter().collect();
        let armed: Vec<(u32, String)> = {
            let mut armed = Vec::new();
            for (_, target) in self.tracer.targets().map_err(runtime)? {
                if let Some(path) = self.tracer.slot_path(target.slot).map_err(runtime)? {
                    armed.push((target.slot, path));
                }
            }
            armed
        };
        for (slot, path) in &armed {
            if self.tracked.contains_key(slot) {
                continue;
            }
            let Some(shape) = engines::classify(path) else {
                continue;
            };
            // A runtime makes a container's missing parents too (`/default` for `/default/NAME`,
            // a pod's slices): a cgroup with an armed child is no container (design.md §17).
            let parent = !shape.shaped
                && (armed.iter()).any(|(_, other)| other.starts_with(&format!("{path}/")));
            if parent {
                log::debug!("armed cgroup {path} is a container's parent; releasing its slot");
                self.release_slot(*slot)?;
                continue;
            }
            log::debug!(
                "container {} armed in slot {slot} (cgroup {path})",
                shape.id
            );
            let tracked = Tracked::new(*slot, shape.id, path.clone(), outages.clone());
            self.tracked.insert(*slot, tracked);
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

    async fn on_update(
        &mut self,
        update: docker::Update,
        cut_short: Option<&'static str>,
    ) -> Result<(), RecordError> {
        self.discover()?;
        match update {
            docker::Update::Event(event) => self.on_event(&event, cut_short).await,
            docker::Update::Lost { at, cause } => {
                let index = self.outcome.api_outages.len();
                self.outcome
                    .api_outages
                    .push(docker::Outage::begin(at, cause));
                self.api_down = Some(index);
                for tracked in self.tracked.values_mut().filter(|t| !t.finished) {
                    tracked.outages.push(index);
                }
                Ok(())
            }
            docker::Update::Regained { at, missed } => {
                if let Some(index) = self.api_down.take() {
                    let outage = &mut self.outcome.api_outages[index];
                    outage.to = at;
                    outage.regained = true;
                }
                for event in &missed {
                    self.on_event(event, cut_short).await?;
                }
                self.catch_up(cut_short).await
            }
        }
    }

    async fn on_event(
        &mut self,
        event: &docker::ContainerEvent,
        cut_short: Option<&'static str>,
    ) -> Result<(), RecordError> {
        let Some((&slot, entry)) =
            (self.tracked.iter_mut()).find(|(_, t)| t.id == event.id && !t.finished)
        else {
            return Ok(());
        };
        entry.saw(event);
        match event.verb() {
            "start" => self.inspect(slot).await,
            "die" => {
                if !entry.has_info() {
                    self.inspect(slot).await;
                }
                self.finish(slot, false, cut_short)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Asks dockerd about a tracked container and keeps the answer. When it cannot answer (the
    /// container is gone: 404; the API is unreachable; no answer in time) what is known stays.
    async fn inspect(&mut self, slot: u32) {
        let Some(entry) = self.tracked.get_mut(&slot) else {
            return;
        };
        if let Some(info) = inspect(&self.engine, &entry.id).await {
            // Watch its writable layer from the first time it is known (then scan what is there).
            self.observations
                .entry(slot)
                .or_insert_with(|| hardening::Observation::start(&info));
            entry.learn(info);
        }
        if let Err(err) = self.judge(slot) {
            log::warn!("cannot disarm a filtered-out container: {err}");
        }
    }

    /// Makes up for events missed while the API was unreachable: every container whose cgroup is
    /// gone is finished (its `die` event, if replayed, has already finished it), and every one
    /// still unnamed by `docker inspect` is asked about again.
    async fn catch_up(&mut self, cut_short: Option<&'static str>) -> Result<(), RecordError> {
        let open: Vec<u32> = (self.tracked.values())
            .filter(|t| !t.finished)
            .map(|t| t.slot)
            .collect();
        for slot in open {
            let Some(entry) = self.tracked.get(&slot) else {
                continue;
            };
            let gone = !entry.cgroup_exists();
            if !entry.has_info() {
                self.inspect(slot).await;
            }
            if gone {
                self.finish(slot, false, cut_short)?;
            }
        }
        Ok(())
    }

    /// An outage still going on when CMD is done lasted until the end of the recording.
    fn end_outage(&mut self) {
        if let Some(index) = self.api_down.take() {
            self.outcome.api_outages[index].to = SystemTime::now();
        }
    }

    /// Names the containers that were not recorded (by container name when the daemon still
    /// knows them, else by short id), sorted.
    async fn name_missed(&mut self) {
        let mut names = Vec::with_capacity(self.outcome.missed.len());
        for id in &self.outcome.missed {
            let name = match inspect(&self.engine, id).await {
                Some(info) => info.name,
                None => id.chars().take(12).collect(),
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
            let Some(entry) = self.tracked.get(&slot) else {
                continue;
            };
            let running = entry.cgroup_exists();
            if !entry.has_info() {
                self.inspect(slot).await;
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
        if self.judge(slot)? {
            return Ok(());
        }
        if let Some(entry) = self.tracked.get(&slot)
            && entry.verdict.is_none()
            && !self.filters.is_empty()
        {
            // Gone before any engine named it: --filter cannot say it matches, so it is not kept.
            let name = format!(
                "{} (unnamed: it ended before its engine could say)",
                entry.display_name()
            );
            self.filtered_out.push(name);
            self.tracked.remove(&slot);
            return self.release_slot(slot);
        }
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
        let cut_short = cut_short.filter(|_| self.running_at_stop.contains(&slot));
        let run = context::container_run(
            self.cmd.clone(),
            "containers",
            recording.flags,
            entry.context(running_at_end),
            entry.duration(),
            cut_short,
        );
        let profile_ref = self.sink.profile_ref(Some(&stem));
        let mut built = build_for(&recording, run, &profile_ref, &self.runtimes, self.args)?;
        let warnings = context::mode_warnings(&built.report.run, built.report.runtime.as_ref());
        built.report.warnings.extend(warnings);
        (built.report.coverage_hints).extend(super::coverage::container_hints(entry.execs));
        self.harden(&entry, &stem, &profile_ref, &mut built, running_at_end);
        let outage = entry.outage_warning(&self.outcome.api_outages, running_at_end);
        let name = entry.display_name();
        if let Some(warning) = outage {
            built.report.warnings.push(warning);
            self.outcome.uncertain.push(name.clone());
        }
        self.outcome.recorded += 1;
        if let Err(err) = self.sink.accept(Finished {
            stem: Some(stem.clone()),
            built,
        }) {
            summary::error(&format!("container {name}: {err:#}"));
            self.outcome.failed.push(name);
        }
        Ok(())
    }
}

impl Recorder<'_> {
    /// Adds the read-only root filesystem and user advice to a finished container's report, folds
    /// it into the recommendation's three forms, and keeps what a `--verify` replay needs.
    fn harden(
        &mut self,
        entry: &Tracked,
        stem: &str,
        profile_ref: &str,
        built: &mut crate::recording::Built,
        running_at_end: bool,
    ) {
        let observed = match self.observations.remove(&entry.slot) {
            Some(observation) => observation.finish(),
            None => match entry.other_engine().and_then(|meta| meta.engine) {
                Some(engine) => Err(format!(
                    "it is a {engine} container, and only Docker's root filesystems are observed"
                )),
                None => Err("`docker inspect` never answered for it".to_owned()),
            },
        };
        let report = &mut built.report;
        let ran_as_root = report
            .recommendation
            .as_ref()
            .is_some_and(|r| r.ran_as_root);
        let advice = hardening::for_container(
            entry.info(),
            observed,
            report.capabilities.as_ref(),
            ran_as_root,
            stem,
        );
        if let Some(rec) = report.recommendation.as_mut() {
            rec.render(profile_ref, Some(&advice));
            if self.verify
                && let Some(info) = entry.info()
            {
                self.replays.push(Pending {
                    info: info.clone(),
                    profile_json: built.profile.to_json(),
                    recommendation: rec.clone(),
                    hardening: advice.clone(),
                    ran_for: entry.duration(),
                    exit_code: entry.exit_code,
                    running_at_end,
                });
            }
        }
        report.hardening = Some(advice);
    }

    /// `--verify`: replays every finished container with its whole recommendation, one after the
    /// other (they may share ports on the host network), and says how each went.
    async fn verify(&mut self) {
        if !self.verify {
            return;
        }
        for pending in std::mem::take(&mut self.replays) {
            let name = pending.info.name.clone();
            if pending.running_at_end {
                summary::note(&format!(
                    "seccomp-profiler verify: container {name} was still running when the recording \
                     ended: not replayed (its name and ports would clash)"
                ));
                continue;
            }
            let spec = hardening::replay::Spec {
                info: &pending.info,
                profile_json: pending.profile_json,
                recommendation: &pending.recommendation,
                hardening: &pending.hardening,
                ran_for: pending.ran_for,
                exit_code: pending.exit_code,
            };
            let replayed = hardening::replay::replay(&self.engine, &spec).await;
            summary::verified(&replayed, &pending.recommendation.docker_run);
            if !replayed.ok {
                self.outcome.verify_failed.push(name);
            }
        }
    }
}

/// `docker inspect`, at most [`INSPECT_TIMEOUT`]; None when the daemon cannot say.
async fn inspect(engine: &docker::Engine, id: &str) -> Option<docker::ContainerInfo> {
    match tokio::time::timeout(INSPECT_TIMEOUT, engine.inspect(id)).await {
        Ok(Ok(info)) => Some(info),
        Ok(Err(err)) => {
            log::debug!("inspect {id}: {err}");
            None
        }
        Err(_) => {
            log::debug!("inspect {id}: no answer within {INSPECT_TIMEOUT:?}");
            None
        }
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
