//! The `run` part of a report: what was recorded, under which gate, as whom, how it ended. Built
//! from what a target knows; shared by every target so the report reads the same for all.

use std::ffi::OsString;

use profiler_common::{GATE_EXEC, GATE_FILTER};

use crate::{
    docker, launcher,
    output::report::{ContainerContext, RunContext},
    runtimes::{Nnp, RuntimeReport},
};

/// CMD as text, for the report and messages.
pub fn os_args(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
}

/// What the recording's gate bits say about where counting started; `never` when no gate opened.
pub fn gate_description(gates: u32, never: &str) -> String {
    match (gates & GATE_FILTER != 0, gates & GATE_EXEC != 0) {
        (true, false) => {
            "seccomp filter install: counted from the moment the filter was in place".into()
        }
        (false, true) => {
            "first execve in the container's mount namespace (no seccomp filter was installed)"
                .into()
        }
        (true, true) => {
            "seccomp filter install, and first execve for processes started without one".into()
        }
        (false, false) => never.into(),
    }
}

/// Where a `record -- CMD` recording started counting: CMD's execve (`Target::GATE_ON_COMMAND_EXEC`).
pub fn command_gate(gates: u32) -> String {
    if gates & GATE_EXEC != 0 {
        "CMD's execve: counted from it, as `exec --profile` applies the profile there; what the \
         launcher did before it (joining the cgroup, switching user) is not"
            .into()
    } else {
        "CMD never reached execve".into()
    }
}

/// The name of the effective user, or its uid when it has no name.
pub fn current_user_name() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    launcher::choose_user(Some(&uid.to_string()))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |user| user.name)
}

/// What a container recording knows about its container.
pub fn container(
    id: &str,
    name: String,
    info: Option<&docker::ContainerInfo>,
    attached: bool,
    running_at_end: bool,
) -> ContainerContext {
    ContainerContext {
        id: id.to_owned(),
        name,
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
        engine: info.map(|_| crate::engines::Engine::Docker.name()),
        kubernetes: None,
    }
}

/// The run context of a container recording.
pub fn container_run(
    command: Vec<String>,
    target: &'static str,
    gates: u32,
    container: ContainerContext,
    elapsed: std::time::Duration,
    cut_short: Option<&'static str>,
) -> RunContext {
    let never = if container.attached_after_start {
        "attached: threads running at attach time were counted from then on"
    } else {
        "the runtime never installed a filter nor exec'd the entrypoint"
    };
    let gate = if container.attached_after_start && gates == 0 {
        never.to_owned()
    } else {
        gate_description(gates, never)
    };
    RunContext {
        target,
        command,
        gate,
        user: None,
        uid: None,
        no_new_privs: None,
        container: Some(container),
        exit_code: None,
        signal: None,
        cut_short: cut_short.is_some(),
        cut_short_reason: cut_short,
        duration_ms: elapsed.as_millis() as u64,
        leftover_processes_killed: 0,
        ..RunContext::host()
    }
}

/// A container recorded without any seccomp filter (`seccomp=unconfined`) is counted from its
/// entrypoint's execve: what runc itself does between installing a filter and that execve (capset,
/// setuid, the exec fifo, Go runtime futexes…) was never run under a filter, so it is not in the
/// profile, and runc cannot start a container under it. Seen with runc 1.1.5: "error closing exec
/// fds … operation not permitted".
///
/// With no-new-privileges, runtimes install the filter right before exec'ing the entrypoint, so a
/// recording lacks their post-install work without it; that is a warning only when the profile is
/// not made for no-new-privileges off from the runtime table (issue 11). It names the runtime that
/// installed the filter, not runc for every runtime.
pub fn mode_warnings(run: &RunContext, runtime: Option<&RuntimeReport>) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(container) = &run.container else {
        return warnings;
    };
    let nnp = runtime.and_then(|r| r.no_new_privileges) == Some("on")
        || container.no_new_privileges == Some(true);
    let covers_off =
        runtime.is_some_and(|r| !r.made_for.is_empty() && r.nnp_modes.contains(&Nnp::Off));
    if nnp && !covers_off {
        let name = runtime
            .and_then(|r| r.installed_by.as_ref())
            .map_or("the container runtime", |i| i.name.as_str());
        warnings.push(format!(
            "recorded with no-new-privileges: {name} installs the filter right before exec'ing the \
             entrypoint then, so this profile lacks {name}'s own post-install work and may not cover a \
             run without no-new-privileges (`--runtimes {name} --nnp on,off` adds it where measured)"
        ));
    }
    if container.seccomp == "unconfined" && run.gate.starts_with("first execve") {
        warnings.push(
            "recorded with seccomp=unconfined: only the application's own syscalls are in this profile, not \
             the runtime's work after it installs a filter, so Docker cannot start the container under it; \
             record without seccomp=unconfined to get a profile Docker can apply"
                .to_owned(),
        );
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_descriptions() {
        assert!(gate_description(GATE_FILTER, "never").starts_with("seccomp filter install"));
        assert!(gate_description(GATE_EXEC, "never").starts_with("first execve"));
        assert_eq!(gate_description(0, "never"), "never");
        assert!(command_gate(GATE_EXEC).starts_with("CMD's execve"));
        assert_eq!(command_gate(0), "CMD never reached execve");
    }
}
