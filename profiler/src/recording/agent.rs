//! The node agent's target, `seccomp-profiler agent` (a DaemonSet, one per node): every Kubernetes
//! container that starts on the node, from its first syscall after its runtime's filter install
//! (armed in the kernel at `cgroup_mkdir` by its cgroup's shape, as `record --containers` and
//! `watch` arm), and with `include_running` those already running (their threads marked at once,
//! as `watch` and `record --container` do). It runs for days: a container's slot is given back
//! when its cgroup goes (its last snapshot is handed over then), and every running container's
//! recording is handed over again every `flush` and when the agent stops, so a container killed
//! with its node still leaves what it did.
//!
//! A container is kept once its OCI bundle names its pod (`engines::describe`: the CRI
//! annotations); pod sandboxes, containers of no pod (dockerd's, Podman's, a bare `ctr run`) and
//! those outside `--filter` are disarmed with their slot released. It writes nothing: each
//! [`Snapshot`] goes to the caller's sink.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant, SystemTime},
};

use profiler_common::{Target, WATCH_SHAPES};

use super::{
    Built, RecordError,
    attach::mark_running_threads,
    build_for, check_privileges, context,
    supervisor::{Event, Supervisor},
    tracked::Tracked,
    watch::running_containers,
};
use crate::{
    cgroup, engines,
    output::summary,
    runtimes,
    tracer::{self, Tracer},
};

/// How many names of skipped containers the outcome keeps per reason.
pub const SKIPPED_NAMES: usize = 10;

#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub duration: Option<Duration>,
    pub verbose: bool,
    pub filters: engines::Filters,
    /// Also record the containers running when the agent starts (from then on).
    pub include_running: bool,
    /// How often a running container's recording is handed over again.
    pub flush: Duration,
}

/// One container instance's recording so far.
pub struct Snapshot<'a> {
    pub built: Built,
    pub id: &'a str,
    pub cgroup: &'a str,
    pub pod: &'a engines::kube::Pod,
    pub meta: &'a engines::Meta,
    /// It was running when the agent started: its start-up was not seen.
    pub attached: bool,
    pub started: SystemTime,
    /// When its cgroup was found gone; None while it runs.
    pub ended: Option<SystemTime>,
    pub counted: u64,
}

/// Where snapshots go (the `agent` command writes the partial and the node's outputs).
pub type Sink<'a> = &'a mut dyn FnMut(Snapshot<'_>) -> anyhow::Result<()>;

#[derive(Debug, Default)]
pub struct AgentOutcome {
    /// Container instances recorded (kept and handed over at least once).
    pub recorded: usize,
    /// Instances whose snapshot could not be written, by name.
    pub failed: Vec<String>,
    /// Containers not recorded, by why (`not in a pod`, `--filter`, `gone before it was named`):
    /// how many, and the first [`SKIPPED_NAMES`] names (an agent runs for days).
    pub skipped: BTreeMap<&'static str, (usize, Vec<String>)>,
    /// Containers that started while every slot was taken.
    pub missed: Vec<String>,
    pub cut_short: Option<&'static str>,
}

/// What the agent knows of one armed container.
struct Instance {
    tracked: Tracked,
    attached: bool,
    started: SystemTime,
    /// Kept (named by its pod and inside `--filter`).
    kept: bool,
    /// Syscalls counted at the last snapshot handed over; None before the first.
    handed: Option<u64>,
    last_flush: Instant,
}

impl Instance {
    fn pod(&self) -> Option<(&engines::Meta, &engines::kube::Pod)> {
        let meta = self.tracked.other_engine()?;
        Some((meta, meta.kube.as_ref()?))
    }
}

pub fn run(options: &AgentOptions, sink: Sink<'_>) -> anyhow::Result<AgentOutcome> {
    let runtime =
        super::supervisor::runtime().map_err(|err| RecordError::Runtime(err.to_string()))?;
    runtime.block_on(agent(options, sink))
}

struct Agent<'a, 's> {
    tracer: Tracer,
    options: &'a AgentOptions,
    sink: Sink<'s>,
    instances: BTreeMap<u32, Instance>,
    outcome: AgentOutcome,
}

async fn agent(options: &AgentOptions, sink: Sink<'_>) -> anyhow::Result<AgentOutcome> {
    check_privileges()?;
    let mut supervisor = Supervisor::new(options.duration)
        .map_err(|err| RecordError::Runtime(format!("cannot handle signals: {err}")))?;
    let mount = cgroup::cgroup2_mount()?;
    let tracer = Tracer::load_with(&tracer::Options {
        verbose: options.verbose,
        watch_prefixes: Vec::new(),
        watch_flags: Target::GATE_ON_EXEC,
        // Kubernetes containers have a shaped cgroup (a 64-hex id, `cri-containerd-<id>.scope`,
        // `crio-<id>.scope`); the parents a runtime makes (pod and QoS slices) are not armed.
        watch_mode: WATCH_SHAPES,
        // Every container of the node at once, up to the slots there are.
        ..tracer::Options::default()
    })?;
    let mut agent = Agent {
        tracer,
        options,
        sink,
        instances: BTreeMap::new(),
        outcome: AgentOutcome::default(),
    };
    if options.include_running {
        agent.attach_running(&mount)?;
    }
    summary::note(&format!(
        "seccomp-profiler agent: recording every Kubernetes container started from now on{}; \
         partials refreshed every {:.0} s. SIGTERM or Ctrl-C to stop{}",
        if options.include_running {
            format!(" and {} already running", agent.instances.len())
        } else {
            String::new()
        },
        options.flush.as_secs_f64(),
        options.duration.map_or(String::new(), |d| format!(
            " (or wait {:.0} s)",
            d.as_secs_f64()
        ))
    ));
    supervisor.start_clock(options.duration);
    while let Event::Tick = supervisor.next().await {
        agent.tracer.flush_logs();
        agent.poll(false).await?;
    }
    agent.poll(true).await?;
    agent.outcome.cut_short = supervisor.cut_short().map(|reason| reason.name());
    agent.outcome.failed.sort();
    Ok(agent.outcome)
}

impl Agent<'_, '_> {
    /// Arms every container running now (its threads from now on).
    fn attach_running(&mut self, mount: &std::path::Path) -> anyhow::Result<()> {
        for (relative, id) in running_containers(mount) {
            let dir = mount.join(relative.trim_start_matches('/'));
            let Ok(cgroup_id) = cgroup::cgroup_id(&dir) else {
                continue;
            };
            if self.tracer.target_of(cgroup_id)?.is_some() {
                continue;
            }
            let slot = self.tracer.add_target(cgroup_id, Target::GATE_ON_EXEC)?;
            mark_running_threads(&mut self.tracer, slot, &dir, true)?;
            self.instances
                .insert(slot, instance(slot, id, relative, true));
        }
        Ok(())
    }

    /// One look: new containers, their names, the filter, the ones gone; with `all` (or when
    /// `flush` has passed for one) a snapshot of every running container.
    async fn poll(&mut self, all: bool) -> anyhow::Result<()> {
        let runtime = |err: tracer::TracerError| RecordError::Runtime(err.to_string());
        let missed = super::containers::missed_containers(&mut self.tracer).map_err(runtime)?;
        self.outcome.missed.extend(missed);
        for (_, target) in self.tracer.targets().map_err(runtime)? {
            if self.instances.contains_key(&target.slot) {
                continue;
            }
            let Some(path) = self.tracer.slot_path(target.slot).map_err(runtime)? else {
                continue;
            };
            let id = engines::classify(&path).map_or_else(|| path.clone(), |shape| shape.id);
            (self.instances).insert(target.slot, instance(target.slot, id, path, false));
        }
        let slots: Vec<u32> = self.instances.keys().copied().collect();
        for slot in slots {
            self.step(slot, all).await?;
        }
        Ok(())
    }

    /// Names one container, judges it, snapshots it when due, and releases it when gone.
    async fn step(&mut self, slot: u32, all: bool) -> anyhow::Result<()> {
        let Some(instance) = self.instances.get_mut(&slot) else {
            return Ok(());
        };
        let gone = !instance.tracked.cgroup_exists();
        if !instance.kept {
            if instance.tracked.wants_meta()
                && let (Some(shape), Some(dir)) = (
                    instance.tracked.shape.clone(),
                    instance.tracked.cgroup_dir(),
                )
                && let Some(meta) = engines::describe(&shape, &dir).await
            {
                instance.tracked.learn_meta(meta);
            }
            match self.verdict(slot) {
                Some(Ok(())) => {}
                Some(Err(why)) => return self.drop_instance(slot, why),
                None if gone => return self.drop_instance(slot, "gone before it was named"),
                None => return Ok(()),
            }
        }
        let Some(instance) = self.instances.get_mut(&slot) else {
            return Ok(());
        };
        let due = all || gone || instance.last_flush.elapsed() >= self.options.flush;
        if due {
            instance.last_flush = Instant::now();
            self.snapshot(slot, gone)?;
        }
        if gone {
            let recording = self.tracer.read(slot)?;
            self.tracer.release(slot, &recording)?;
            self.instances.remove(&slot);
        }
        Ok(())
    }

    /// Some(Ok) when the container is kept, Some(Err(why)) when not, None while its engine has
    /// not named it yet.
    fn verdict(&mut self, slot: u32) -> Option<Result<(), &'static str>> {
        let instance = self.instances.get_mut(&slot)?;
        let shape_engine = instance.tracked.shape.as_ref().and_then(|s| s.engine);
        if matches!(
            shape_engine,
            Some(engines::Engine::Docker | engines::Engine::Podman)
        ) {
            return Some(Err("not in a pod"));
        }
        if instance.tracked.wants_meta() {
            return None;
        }
        if instance.tracked.is_sandbox() {
            return Some(Err("pod sandbox"));
        }
        if instance.pod().is_none() {
            return Some(Err("not in a pod"));
        }
        let facts = instance.tracked.facts()?;
        if !self.options.filters.is_empty() && !self.options.filters.matches(&facts) {
            return Some(Err("--filter"));
        }
        instance.kept = true;
        log::info!(
            "container {} ({}) recorded",
            instance.tracked.display_name(),
            instance.tracked.id
        );
        Some(Ok(()))
    }

    /// Disarms a container not to be recorded, dropping what it counted.
    fn drop_instance(&mut self, slot: u32, why: &'static str) -> anyhow::Result<()> {
        if let Some(instance) = self.instances.remove(&slot) {
            let name = instance.tracked.display_name();
            log::debug!("container {name} not recorded: {why}");
            if why != "pod sandbox" {
                let (count, names) = self.outcome.skipped.entry(why).or_default();
                *count += 1;
                if names.len() < SKIPPED_NAMES {
                    names.push(name);
                }
            }
        }
        let recording = self.tracer.read(slot)?;
        self.tracer.release(slot, &recording)?;
        Ok(())
    }

    /// Builds a kept container's recording so far and hands it to the sink, unless nothing was
    /// counted since the last one.
    fn snapshot(&mut self, slot: u32, gone: bool) -> anyhow::Result<()> {
        let Some(instance) = self.instances.get_mut(&slot) else {
            return Ok(());
        };
        let recording = self.tracer.read(slot)?;
        let counted: u64 = recording.observed.iter().map(|o| o.count).sum();
        if recording.observed.is_empty() || instance.handed == Some(counted) && !gone {
            return Ok(());
        }
        let Some((meta, pod)) = instance.pod() else {
            return Ok(());
        };
        let mut container = instance.tracked.context(!gone);
        container.attached_after_start = instance.attached;
        let run = context::container_run(
            vec!["agent".to_owned()],
            "agent",
            recording.flags,
            container,
            instance.tracked.duration(),
            None,
        );
        let built = build_for(&recording, run, "", &runtimes::Request::default(), false)?;
        let name = pod.container_name();
        let first = instance.handed.is_none();
        let result = (self.sink)(Snapshot {
            built,
            id: &instance.tracked.id,
            cgroup: &instance.tracked.cgroup,
            pod,
            meta,
            attached: instance.attached,
            started: instance.started,
            ended: gone.then(SystemTime::now),
            counted,
        });
        match result {
            Ok(()) => {
                instance.handed = Some(counted);
                if first {
                    self.outcome.recorded += 1;
                }
            }
            Err(err) => {
                summary::error(&format!("container {name}: {err:#}"));
                if !self.outcome.failed.contains(&name) {
                    self.outcome.failed.push(name);
                }
            }
        }
        Ok(())
    }
}

fn instance(slot: u32, id: String, cgroup: String, attached: bool) -> Instance {
    Instance {
        tracked: Tracked::new(slot, id, cgroup, Vec::new()),
        attached,
        started: SystemTime::now(),
        kept: false,
        handed: None,
        last_flush: Instant::now(),
    }
}
