//! The command target, `record -- CMD`: CMD runs in a fresh cgroup whose gate is CMD's own
//! execve, so it is counted from there, with every thread, fork and exec'd descendant.
//! When it is stopped (`--duration`, a signal), CMD gets SIGTERM and, after the grace period,
//! everything left in its cgroup SIGKILL; the cgroup is removed at the end either way. When the
//! profile goes to stdout, CMD's stdout goes to stderr ([`Sink::takes_stdout`]).

use std::{
    ffi::OsString,
    os::{fd::AsFd as _, unix::process::ExitStatusExt as _},
    process::Stdio,
    time::Instant,
};

use super::{
    Finished, Options, Outcome, RecordError, Sink, build_for, check_privileges, context,
    supervisor::{Event, Supervisor, signal_pid},
};
use profiler_common::Target;

use crate::{
    cgroup::{self, OwnedCgroup},
    launcher,
    output::report::RunContext,
    tracer::Tracer,
};

pub(super) async fn record(
    cmd: &[OsString],
    user: Option<&str>,
    options: &Options,
    sink: &mut dyn Sink,
) -> anyhow::Result<Outcome> {
    // Input first: a bad invocation never loads anything or starts the workload.
    launcher::resolve_program(&cmd[0])?;
    let user = launcher::choose_user(user)?;
    check_privileges()?;
    let mut supervisor = Supervisor::new(options.duration)
        .map_err(|err| RecordError::Runtime(format!("cannot handle signals: {err}")))?;
    cgroup::remove_stale();

    let started = Instant::now();
    let mut tracer = Tracer::for_recording(options.verbose)?;
    let cgroup = OwnedCgroup::create("cmd")?;
    let slot = tracer.add_target(cgroup.id(), Target::GATE_ON_COMMAND_EXEC)?;
    log::info!(
        "tracing active after {:.1} ms (cgroup {}, id {})",
        started.elapsed().as_secs_f64() * 1e3,
        cgroup.path().display(),
        cgroup.id()
    );

    let procs = cgroup.open_procs()?;
    // With the profile on stdout, CMD's stdout joins the summary on stderr: `record -- CMD >
    // p.json` must leave valid JSON whatever CMD prints.
    let stdout = if sink.takes_stdout() {
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|err| {
                RecordError::Runtime(format!("cannot pass stderr to the recorded command: {err}"))
            })?;
        Some(Stdio::from(stderr))
    } else {
        None
    };
    let mut child =
        launcher::spawn_with_stdout(cmd, &procs, user.as_ref(), launcher::Gate::Exec, stdout)?;
    drop(procs);
    let pid = child.id();
    let run_started = Instant::now();
    supervisor.start_clock(options.duration);
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = loop {
        tokio::select! {
            status = &mut rx => {
                break status
                    .map_err(|_| RecordError::Runtime("lost track of the recorded command".into()))?
                    .map_err(|err| RecordError::Runtime(format!("cannot wait for the recorded command: {err}")))?;
            }
            event = supervisor.next() => match event {
                Event::Tick => {
                    // A shared set's host tracer gone: fail now (the cgroup's drop stops CMD).
                    tracer.healthy()?;
                    tracer.flush_logs();
                    if let Ok(total) = tracer.total(slot) {
                        supervisor.progress(&format!("recording: {total} syscalls so far"));
                    }
                }
                Event::Stop(_) => signal_pid(pid, libc::SIGTERM),
                Event::Kill => {
                    cgroup.kill_all();
                }
            },
        }
    };
    supervisor.clear_progress();
    let leftover = cgroup.kill_all();
    let run_time = run_started.elapsed();

    let recording = tracer.read(slot)?;
    tracer.flush_logs();
    let kernel_map_bytes = super::kernel_memory::map_bytes();
    drop(tracer);
    drop(cgroup);

    let (user_name, uid) = match &user {
        Some(user) => (user.name.clone(), user.uid),
        // SAFETY: geteuid has no preconditions.
        None => (context::current_user_name(), unsafe { libc::geteuid() }),
    };
    let cut_short = supervisor.cut_short().map(|reason| reason.name());
    let run = RunContext {
        target: "command",
        command: context::os_args(cmd),
        gate: context::command_gate(recording.flags),
        user: Some(user_name),
        uid: Some(uid),
        no_new_privs: Some(launcher::needs_no_new_privs(user.as_ref())),
        exit_code: status.code(),
        signal: status.signal(),
        cut_short: cut_short.is_some(),
        cut_short_reason: cut_short,
        duration_ms: run_time.as_millis() as u64,
        leftover_processes_killed: leftover,
        kernel_map_bytes,
        ..RunContext::host()
    };
    let built = build_for(
        &recording,
        run,
        &sink.profile_ref(None),
        &options.runtimes,
        options.args,
    )?;
    // One target: a sink that cannot take it fails the command, with the error's own exit code.
    sink.accept(Finished { stem: None, built })?;
    Ok(Outcome {
        exit_code: status.code(),
        cmd_failed: cut_short.is_none() && !status.success(),
        cut_short,
        recorded: 1,
        ..Outcome::default()
    })
}
