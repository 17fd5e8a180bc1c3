//! The cgroup target, `record --cgroup PATH`: an existing cgroup2 directory (a systemd service, a
//! pod's slice, a cgroup made by hand), from now on, with the caveats of `--container`: its
//! start-up is not seen, the threads already in it are marked as past the gate at once, and the
//! cgroup is not the recorder's to stop (a signal ends the recording and leaves it running).
//!
//! Its child cgroups are recorded into the same profile: those that exist at attach time at once,
//! those made later from the next poll on (within `tracer::POLL_INTERVAL`; what a process in a new
//! child does before that is not seen). A cgroup whose processes run in the host's mount namespace
//! has no runtime setup, so every thread in it counts (`Target::GATE_OPEN`); one whose processes
//! run in another (a container's) keeps the container gate (`GATE_ON_EXEC`), so a runtime's setup
//! for a later `exec` stays out.

use std::{
    collections::BTreeSet,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    time::Instant,
};

use profiler_common::Target;

use super::{
    Finished, Options, Outcome, RecordError, Sink, attach, build_for, check_privileges, context,
    supervisor::{Event, Supervisor},
};
use crate::{
    cgroup, exit,
    output::{report::RunContext, summary},
    tracer::Tracer,
};

/// Resolves PATH: absolute under the cgroup2 mount, or relative to it (`/system.slice/x.service`
/// and `system.slice/x.service` alike when it is not under the mount).
pub fn resolve(mount: &Path, path: &Path) -> Result<PathBuf, exit::InputError> {
    let dir = if path.starts_with(mount) {
        path.to_owned()
    } else {
        let relative = path.strip_prefix("/").unwrap_or(path);
        if relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(exit::InputError(format!(
                "--cgroup {}: `..` is not allowed; name a cgroup under {}",
                path.display(),
                mount.display()
            )));
        }
        mount.join(relative)
    };
    if !dir.join("cgroup.procs").is_file() {
        return Err(exit::InputError(format!(
            "--cgroup {}: {} is not a cgroup2 directory (no cgroup.procs); name an existing \
             cgroup relative to the cgroup2 mount {} (as in the \"0::\" line of /proc/PID/cgroup) \
             or by its absolute path under it",
            path.display(),
            dir.display(),
            mount.display()
        )));
    }
    Ok(dir)
}

pub(super) async fn record(
    path: &Path,
    options: &Options,
    sink: &mut dyn Sink,
) -> anyhow::Result<Outcome> {
    let mount = cgroup::cgroup2_mount()?;
    let dir = resolve(&mount, path)?;
    check_privileges()?;
    let mut supervisor = Supervisor::new(options.duration)
        .map_err(|err| RecordError::Runtime(format!("cannot handle signals: {err}")))?;
    cgroup::remove_stale();
    let relative = format!("/{}", dir.strip_prefix(&mount).unwrap_or(&dir).display());
    let flags = if in_foreign_mount_ns(&dir) {
        Target::GATE_ON_EXEC
    } else {
        Target::GATE_OPEN
    };
    let mut tracer = Tracer::for_recording(options.verbose)?;
    let runtime = |err: std::io::Error| RecordError::Runtime(format!("{}: {err}", dir.display()));
    let id = cgroup::cgroup_id(&dir).map_err(runtime)?;
    let slot = tracer.add_target(id, flags)?;
    let mut known = BTreeSet::from([id]);
    adopt_children(&mut tracer, &dir, slot, flags, &mut known)?;
    attach::mark_running_threads(&mut tracer, slot, &dir, false)?;
    summary::note(&format!(
        "seccomp-profiler: attached to cgroup {relative}: recording from now on (its child cgroups \
         too); what ran before was not seen. Ctrl-C to stop{}",
        options.duration.map_or(String::new(), |d| format!(
            " (or wait {:.0} s)",
            d.as_secs_f64()
        ))
    ));

    let started = Instant::now();
    supervisor.start_clock(options.duration);
    // Not ours to stop: a signal (or --duration) ends the recording, the cgroup's processes go on.
    while let Event::Tick = supervisor.next().await {
        tracer.healthy()?;
        tracer.flush_logs();
        if !dir.is_dir() {
            break;
        }
        adopt_children(&mut tracer, &dir, slot, flags, &mut known)?;
        if let Ok(total) = tracer.total(slot) {
            supervisor.progress(&format!("recording: {total} syscalls so far"));
        }
    }
    supervisor.clear_progress();
    let recording = tracer.read(slot)?;
    tracer.flush_logs();
    let cut_short = supervisor.cut_short().map(|reason| reason.name());
    let gates = recording.flags;
    let run = RunContext {
        target: "cgroup",
        gate: if flags == Target::GATE_OPEN {
            "attached to a host cgroup: every thread in it counted from attach time on".to_owned()
        } else {
            context::gate_description(
                gates,
                "attached: threads running at attach time were counted from then on",
            )
        },
        cgroup: Some(relative),
        cut_short: cut_short.is_some(),
        cut_short_reason: cut_short,
        duration_ms: started.elapsed().as_millis() as u64,
        kernel_map_bytes: super::kernel_memory::map_bytes(),
        ..RunContext::host()
    };
    let built = build_for(
        &recording,
        run,
        &sink.profile_ref(None),
        &options.runtimes,
        options.args,
    )?;
    sink.accept(Finished { stem: None, built })?;
    Ok(Outcome {
        cut_short,
        recorded: 1,
        ..Outcome::default()
    })
}

/// Registers every child cgroup of `dir` not seen yet as the same target (same slot).
fn adopt_children(
    tracer: &mut Tracer,
    dir: &Path,
    slot: u32,
    flags: u32,
    known: &mut BTreeSet<u64>,
) -> anyhow::Result<()> {
    let mut stack = vec![dir.to_owned()];
    while let Some(parent) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let child = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Ok(id) = cgroup::cgroup_id(&child)
                && known.insert(id)
            {
                tracer.add_target_in_slot(id, slot, flags)?;
                attach::mark_running_threads(tracer, slot, &child, false)?;
            }
            stack.push(child);
        }
    }
    Ok(())
}

/// Whether the processes in `dir` (the first one found, in it or a child) run in a mount
/// namespace other than ours: a container's.
fn in_foreign_mount_ns(dir: &Path) -> bool {
    let ours = std::fs::metadata("/proc/self/ns/mnt").map(|m| m.ino()).ok();
    let first = cgroup::pids(dir).into_iter().next();
    match (ours, first) {
        (Some(ours), Some(pid)) => std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
            .is_ok_and(|theirs| theirs.ino() != ours),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_paths_resolve_under_the_mount() {
        let mount = cgroup::cgroup2_mount().expect("a cgroup2 mount");
        assert_eq!(
            resolve(&mount, Path::new("/")).expect("the root"),
            mount.join("")
        );
        assert_eq!(resolve(&mount, &mount).expect("absolute"), mount);
        let err = resolve(&mount, Path::new("/no-such-cgroup-here")).expect_err("missing");
        assert!(err.0.contains("is not a cgroup2 directory"), "{}", err.0);
        assert!(resolve(&mount, Path::new("a/../..")).is_err());
    }
}
