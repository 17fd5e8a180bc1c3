//! The watch target, `seccomp-profiler watch` (design.md §15): every Docker container on the host,
//! running now or started later, armed for denial counting, polled so that each call seccomp
//! refuses is reported within a poll interval, attributed to its container. Containers already
//! running are armed like `record --container` arms one (their threads marked at once); new ones
//! like `--containers` arms them (in the kernel, at `cgroup_mkdir`, before their first task).
//!
//! It builds no profile and writes nothing: the caller renders each new refusal and the final
//! list. It never stops or signals a container.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use profiler_common::{Target, WATCH_RUNTIME_MKDIR, WATCH_SHAPES};

use super::{
    RecordError,
    attach::mark_running_threads,
    check_privileges, denied,
    supervisor::{Event, Supervisor},
};
use crate::{
    cgroup, docker, engines,
    output::{report::DeniedEntry, summary},
    tracer::{self, Tracer},
};

/// How long one `docker inspect` of a newly seen container may take before it is named by id.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub duration: Option<Duration>,
    pub verbose: bool,
    /// `--filter name=…`: watch only containers whose name contains one of these (all when empty).
    /// `--filter` (name= only): containers outside it are armed but not reported.
    pub filters: engines::Filters,
}

/// What was seen of one container.
#[derive(Debug, Clone)]
pub struct Watched {
    pub id: String,
    pub name: String,
    /// Armed while already running (its earlier refusals were not seen).
    pub attached_after_start: bool,
    pub running_at_end: bool,
    /// Sorted; empty when seccomp refused it nothing.
    pub denied: Vec<DeniedEntry>,
}

#[derive(Debug, Default)]
pub struct WatchOutcome {
    /// Sorted by name.
    pub containers: Vec<Watched>,
    pub cut_short: Option<&'static str>,
    pub duration: Duration,
    /// Refusals lost machine-wide because the kernel-side table was full.
    pub denials_lost: u64,
}

/// A new refusal seen while watching: the container's name, the entry (totals so far) and how
/// many calls are new since the last report.
pub type Live<'a> = &'a mut dyn FnMut(&str, &DeniedEntry, u64);

struct Known {
    watched: Watched,
    dir: PathBuf,
    /// Excluded by the filter: released at once, never reported.
    ignored: bool,
}

pub fn watch(options: &WatchOptions, live: Live<'_>) -> anyhow::Result<WatchOutcome> {
    let runtime =
        super::supervisor::runtime().map_err(|err| RecordError::Runtime(err.to_string()))?;
    runtime.block_on(run(options, live))
}

async fn run(options: &WatchOptions, live: Live<'_>) -> anyhow::Result<WatchOutcome> {
    check_privileges()?;
    let mut supervisor = Supervisor::new(options.duration)
        .map_err(|err| RecordError::Runtime(format!("cannot handle signals: {err}")))?;
    let engine = docker::Engine::connect().await?;
    let mount = cgroup::cgroup2_mount()?;
    let mut tracer = Tracer::load_with(&tracer::Options {
        verbose: options.verbose,
        // Every engine's containers, armed by the shape of their cgroup or because a runtime
        // made it (design.md §17), as `record --containers` does.
        watch_prefixes: Vec::new(),
        watch_flags: Target::GATE_ON_EXEC,
        watch_mode: WATCH_SHAPES | WATCH_RUNTIME_MKDIR,
        ..tracer::Options::default()
    })?;
    let started = Instant::now();
    let mut known: BTreeMap<u32, Known> = BTreeMap::new();
    let mut finished: Vec<Watched> = Vec::new();
    for (relative, id) in running_containers(&mount) {
        let dir = mount.join(relative.trim_start_matches('/'));
        let Ok(cgroup_id) = cgroup::cgroup_id(&dir) else {
            continue;
        };
        // Started between the programs' attach and this scan: the kernel armed it already.
        if tracer.target_of(cgroup_id)?.is_some() {
            continue;
        }
        let name = name_of(&engine, &id).await;
        let ignored = !wanted(&options.filters, &name);
        if ignored {
            continue;
        }
        let slot = tracer.add_target(cgroup_id, Target::GATE_ON_EXEC)?;
        mark_running_threads(&mut tracer, slot, &dir, true)?;
        known.insert(slot, known_container(id, name, dir, true, false));
    }
    summary::note(&format!(
        "seccomp-profiler watch: watching {} running container(s) and every one started from now \
         on; each call seccomp refuses is printed as it happens. Ctrl-C to stop{}",
        known.len(),
        options.duration.map_or(String::new(), |d| format!(
            " (or wait {:.0} s)",
            d.as_secs_f64()
        ))
    ));
    supervisor.start_clock(options.duration);
    // Until --duration or a signal (Stop), or a second signal (Kill).
    while let Event::Tick = supervisor.next().await {
        tracer.flush_logs();
        poll(
            &mut tracer,
            &engine,
            &mount,
            options,
            &mut known,
            &mut finished,
            live,
        )
        .await?;
    }
    poll(
        &mut tracer,
        &engine,
        &mount,
        options,
        &mut known,
        &mut finished,
        live,
    )
    .await?;
    let denials_lost = tracer.denials_lost()?;
    let mut containers: Vec<Watched> = finished
        .into_iter()
        .chain(known.into_values().filter(|k| !k.ignored).map(|k| {
            let running = k.dir.is_dir();
            Watched {
                running_at_end: running,
                ..k.watched
            }
        }))
        .collect();
    containers.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(WatchOutcome {
        containers,
        cut_short: supervisor.cut_short().map(|reason| reason.name()),
        duration: started.elapsed(),
        denials_lost,
    })
}

fn known_container(id: String, name: String, dir: PathBuf, attached: bool, ignored: bool) -> Known {
    Known {
        watched: Watched {
            id,
            name,
            attached_after_start: attached,
            running_at_end: true,
            denied: Vec::new(),
        },
        dir,
        ignored,
    }
}

/// One poll: name the containers the kernel armed since the last one, report new refusals, and
/// give the slots of containers that are gone back (after their last refusals were read).
async fn poll(
    tracer: &mut Tracer,
    engine: &docker::Engine,
    mount: &Path,
    options: &WatchOptions,
    known: &mut BTreeMap<u32, Known>,
    finished: &mut Vec<Watched>,
    live: Live<'_>,
) -> anyhow::Result<()> {
    for (_, target) in tracer.targets()? {
        if known.contains_key(&target.slot) {
            continue;
        }
        let Some(path) = tracer.slot_path(target.slot)? else {
            continue;
        };
        let id = container_id_of_path(&path).unwrap_or_else(|| path.clone());
        let name = name_of(engine, &id).await;
        let ignored = !wanted(&options.filters, &name);
        let dir = mount.join(path.trim_start_matches('/'));
        known.insert(target.slot, known_container(id, name, dir, false, ignored));
    }
    let mut all = tracer.all_denials()?;
    let mut gone = Vec::new();
    for (slot, entry) in known.iter_mut() {
        if entry.ignored {
            gone.push(*slot);
            continue;
        }
        let fresh = denied::name_refusals(&all.remove(slot).unwrap_or_default());
        for denial in &fresh {
            let before = entry
                .watched
                .denied
                .iter()
                .find(|d| (d.arch, d.number, d.errno) == (denial.arch, denial.number, denial.errno))
                .map_or(0, |d| d.count);
            if denial.count > before {
                live(&entry.watched.name, denial, denial.count - before);
            }
        }
        entry.watched.denied = fresh;
        if !entry.dir.is_dir() {
            gone.push(*slot);
        }
    }
    for slot in gone {
        if let Some(entry) = known.remove(&slot) {
            let recording = tracer.read(slot)?;
            tracer.release(slot, &recording)?;
            if !entry.ignored {
                finished.push(Watched {
                    running_at_end: false,
                    ..entry.watched
                });
            }
        }
    }
    Ok(())
}

/// The name Docker knows a container by, or its short id when the API does not answer in time.
async fn name_of(engine: &docker::Engine, id: &str) -> String {
    match tokio::time::timeout(INSPECT_TIMEOUT, engine.inspect(id)).await {
        Ok(Ok(info)) => info.name,
        _ => id.get(..12).unwrap_or(id).to_owned(),
    }
}

/// `--filter name=…`, as `record --filter` and `docker ps` read it (all must match).
fn wanted(filters: &engines::Filters, name: &str) -> bool {
    filters.matches(&engines::filter::Facts {
        engine: None,
        name,
        labels: None,
        image: None,
        namespace: None,
        pod: None,
    })
}

/// The container id of a cgroup2 path whose last component has a container's shape (any engine's:
/// `engines::classify`).
fn container_id_of_path(path: &str) -> Option<String> {
    engines::classify(path)
        .filter(|shape| shape.shaped)
        .map(|shape| shape.id)
}

/// Containers whose cgroup exists now, of any engine: directories of the cgroup2 tree whose name
/// has a container's shape (path relative to the cgroup2 mount, container id). Kubelet pods sit
/// four levels down (`/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid>.slice/<id>`).
pub(super) fn running_containers(mount: &Path) -> Vec<(String, String)> {
    const DEPTH: usize = 5;
    let mut found = Vec::new();
    let mut dirs = vec![(String::new(), 0)];
    while let Some((relative, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(mount.join(relative.trim_start_matches('/'))) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                continue;
            }
            let child = format!("{relative}/{}", entry.file_name().to_string_lossy());
            match container_id_of_path(&child) {
                Some(id) => found.push((child, id)),
                None if depth + 1 < DEPTH => dirs.push((child, depth + 1)),
                None => {}
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filter_reads_as_record_s() {
        let filters = |keys: &[&str]| {
            engines::Filters(
                keys.iter()
                    .map(|key| key.parse().expect("filter"))
                    .collect(),
            )
        };
        assert!(wanted(&filters(&[]), "anything"));
        assert!(wanted(&filters(&["name=web"]), "shop-web-1"));
        assert!(!wanted(&filters(&["name=web"]), "db"));
        assert!(!wanted(&filters(&["name=^/web"]), "shop-web-1"));
        assert!(!wanted(&filters(&["name=shop", "name=db"]), "shop-web-1"));
    }

    #[test]
    fn finds_container_cgroups_by_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = "a".repeat(64);
        std::fs::create_dir_all(dir.path().join("docker").join(&id)).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("docker").join("not-a-container")).expect("mkdir");
        std::fs::create_dir_all(
            dir.path()
                .join("system.slice")
                .join(format!("docker-{id}.scope")),
        )
        .expect("mkdir");
        let found = running_containers(dir.path());
        assert_eq!(
            found,
            vec![
                (format!("/docker/{id}"), id.clone()),
                (format!("/system.slice/docker-{id}.scope"), id),
            ]
        );
    }
}
