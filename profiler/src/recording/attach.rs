//! The attach target, `record --container NAME|ID`: a Docker container that is already running,
//! from now on. Its running threads are marked as past the gate at once; its start-up is not seen,
//! and the summary says so. The recording ends when the container stops, at `--duration`, or on
//! SIGINT/SIGTERM/SIGHUP. The container was running before the recorder and is not the
//! recorder's to stop: a signal ends the recording and leaves the container running.

use std::{collections::BTreeSet, path::Path, time::Instant};

use futures_util::StreamExt as _;
use profiler_common::Target;

use super::{
    Finished, Options, Outcome, RecordError, Sink, build_for, check_privileges, context,
    supervisor::{Event, Supervisor},
};
use crate::{cgroup, docker, output::summary, runtimes, tracer::Tracer};

pub(super) async fn record(
    name: &str,
    options: &Options,
    sink: &mut dyn Sink,
) -> anyhow::Result<Outcome> {
    check_privileges()?;
    let mut supervisor = Supervisor::new(options.duration)
        .map_err(|err| RecordError::Runtime(format!("cannot handle signals: {err}")))?;
    cgroup::remove_stale();
    let engine = docker::Engine::connect().await?;
    let info = engine.inspect_running(name).await?;
    let Some(pid) = info.pid else {
        return Err(
            RecordError::Runtime(format!("container {name} has no running process")).into(),
        );
    };
    let relative = docker::cgroup2_path_of_pid(pid).map_err(|err| cgroup::CgroupError::Open {
        path: format!("/proc/{pid}/cgroup").into(),
        err,
    })?;
    let dir = cgroup::cgroup2_mount()?.join(relative.trim_start_matches('/'));
    let cgroup_id = cgroup::cgroup_id(&dir).map_err(|err| cgroup::CgroupError::Open {
        path: dir.clone(),
        err,
    })?;

    let mut tracer = Tracer::for_recording(options.verbose)?;
    let mut events = Box::pin(engine.events());
    let slot = tracer.add_target(cgroup_id, Target::GATE_ON_EXEC)?;
    mark_running_threads(&mut tracer, slot, &dir, true)?;
    summary::note(&format!(
        "seccomp-profiler: attached to container {} ({}): recording from now on; its start-up was \
         not seen. Ctrl-C to stop{}",
        info.name,
        info.id.get(..12).unwrap_or(&info.id),
        options.duration.map_or(String::new(), |d| format!(
            " (or wait {:.0} s)",
            d.as_secs_f64()
        ))
    ));

    let started = Instant::now();
    supervisor.start_clock(options.duration);
    loop {
        tokio::select! {
            Some(Ok(event)) = events.next() => {
                if event.id == info.id && event.verb() == "die" {
                    break;
                }
            }
            event = supervisor.next() => match event {
                Event::Tick => {
                    tracer.healthy()?;
                    tracer.flush_logs();
                    if !dir.is_dir() {
                        break;
                    }
                    if let Ok(total) = tracer.total(slot) {
                        supervisor.progress(&format!("recording: {total} syscalls so far"));
                    }
                }
                // Not ours to stop: the recording ends, the container goes on.
                Event::Stop(_) | Event::Kill => break,
            },
        }
    }
    supervisor.clear_progress();
    let recording = tracer.read(slot)?;
    tracer.flush_logs();
    let running = dir.is_dir();
    let cut_short = supervisor.cut_short().map(|reason| reason.name());
    let container = context::container(&info.id, info.name.clone(), Some(&info), true, running);
    let mut run = context::container_run(
        Vec::new(),
        "container",
        recording.flags,
        container,
        started.elapsed(),
        cut_short,
    );
    run.kernel_map_bytes = super::kernel_memory::map_bytes();
    // Attached, the container's start was not seen, and the summary says to merge this profile
    // with a recording of a start; the runtime table is applied only when asked (`--runtimes`).
    let request = runtimes::Request {
        runtimes: Some(options.runtimes.runtimes.clone().unwrap_or_default()),
        nnp: options.runtimes.nnp.clone(),
    };
    let mut built = build_for(
        &recording,
        run,
        &sink.profile_ref(None),
        &request,
        options.args,
    )?;
    let warnings = context::mode_warnings(&built.report.run, built.report.runtime.as_ref());
    built.report.warnings.extend(warnings);
    sink.accept(Finished { stem: None, built })?;
    Ok(Outcome {
        cut_short,
        recorded: 1,
        ..Outcome::default()
    })
}

/// Marks every thread already in the cgroup `dir` as past the gate. Threads created while this
/// runs by a not-yet-marked parent would be missed, so it repeats until a pass finds nothing new.
/// A `cgroup.threads` that cannot be read is an error when `required` (a container's own cgroup),
/// else nothing to mark (`--cgroup`'s children: a domain cgroup with threaded children, or one
/// just removed).
pub(super) fn mark_running_threads(
    tracer: &mut Tracer,
    slot: u32,
    dir: &Path,
    required: bool,
) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for _ in 0..10 {
        let text = match std::fs::read_to_string(dir.join("cgroup.threads")) {
            Ok(text) => text,
            Err(_) if !required => return Ok(()),
            Err(err) => {
                return Err(RecordError::Runtime(format!(
                    "cannot list the threads of {}: {err}",
                    dir.display()
                ))
                .into());
            }
        };
        let fresh: Vec<u32> = text
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .filter(|tid| !seen.contains(tid))
            .collect();
        if fresh.is_empty() {
            break;
        }
        tracer.mark_threads(slot, &fresh)?;
        seen.extend(fresh);
    }
    Ok(())
}
