//! `record --verify`: the proof of a container's whole recommendation. A fresh container is
//! created from the recorded one's configuration (image, entrypoint, command, environment, working
//! directory, network mode, mounts, ports) with everything the recommendation says applied — the
//! recorded profile inline (`seccomp=<json>`), `CapDrop ALL` plus the adds, no-new-privileges,
//! the user, the read-only root filesystem with its tmpfs mounts and (fresh, removed afterwards)
//! volumes — and run for as long as the recorded one ran (plus a grace of 2 s), or until it exits. It "still ran" when
//! it was running at the end, or exited with the recorded container's exit code.
//!
//! It replays the container, not the load that drove it: the end-to-end tests replay under the
//! same load with the flags from `--report`.

use std::time::{Duration, Instant};

use bollard::{
    models::ContainerCreateBody,
    query_parameters::{
        CreateContainerOptions, InspectContainerOptions, LogsOptions, RemoveContainerOptions,
    },
};
use futures_util::StreamExt as _;

use super::Hardening;
use crate::{capabilities::Recommendation, docker};

/// Added to how long the recorded container ran: a replay starts and runs at its own pace, and a
/// container that exits near the end of that time should be seen exiting.
const GRACE: Duration = Duration::from_secs(2);
/// The longest replay, whatever the recording lasted.
const MAX_RUN: Duration = Duration::from_secs(60);
/// How often the replay looks whether the container still runs.
const POLL: Duration = Duration::from_millis(100);
/// Log lines shown with a result.
const LOG_LINES: usize = 5;

/// What one replay showed.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The recorded container's name.
    pub name: String,
    /// It still ran with the whole recommendation.
    pub ok: bool,
    /// How it ended: "still running after 3.0 s", "exited 0 after 0.4 s", or what failed.
    pub how: String,
    /// The last lines of its log.
    pub log_tail: Vec<String>,
}

/// What the replay of one container needs.
pub struct Spec<'a> {
    pub info: &'a docker::ContainerInfo,
    /// The profile as Docker JSON.
    pub profile_json: String,
    pub recommendation: &'a Recommendation,
    pub hardening: &'a Hardening,
    /// How long the recorded container ran.
    pub ran_for: Duration,
    /// The recorded container's exit code, when it exited.
    pub exit_code: Option<i64>,
}

/// Replays one container. Errors of the daemon are a failed replay, said in `how`.
pub async fn replay(engine: &docker::Engine, spec: &Spec<'_>) -> Replayed {
    let name = format!(
        "{}-sp-verify-{}",
        spec.info.name.trim_start_matches('/'),
        std::process::id()
    );
    let volumes: Vec<String> = (spec.hardening.volumes.iter())
        .filter(|_| spec.hardening.read_only)
        .map(|mount| {
            format!(
                "{}-{}:{}",
                mount.volume.as_deref().unwrap_or("volume"),
                name,
                mount.path
            )
        })
        .collect();
    let result = run(engine, spec, &name, &volumes).await;
    let log_tail = log_tail(engine, &name).await;
    let client = engine.client();
    let remove = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    if let Err(err) = client.remove_container(&name, Some(remove)).await {
        log::warn!("could not remove replay container {name}: {err}");
    }
    for volume in &volumes {
        let volume_name = volume.split(':').next().unwrap_or_default();
        if let Err(err) = client
            .remove_volume(
                volume_name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            log::warn!("could not remove replay volume {volume_name}: {err}");
        }
    }
    let (ok, how) = match result {
        Ok(how) => how,
        Err(err) => (false, err),
    };
    Replayed {
        name: spec.info.name.clone(),
        ok,
        how,
        log_tail,
    }
}

/// The recorded configuration with the recommendation applied.
fn config(spec: &Spec<'_>, volumes: &[String]) -> ContainerCreateBody {
    let mut body = (*spec.info.created_with).clone();
    let rec = spec.recommendation;
    let mut host = body.host_config.take().unwrap_or_default();
    let mut security_opt: Vec<String> = (host.security_opt.take().into_iter().flatten())
        .filter(|opt| !opt.starts_with("seccomp") && !opt.starts_with("no-new-privileges"))
        .collect();
    security_opt.push(format!("seccomp={}", spec.profile_json));
    if rec.no_new_privileges_safe {
        security_opt.push("no-new-privileges".to_owned());
    }
    host.security_opt = Some(security_opt);
    host.cap_drop = Some(vec!["ALL".to_owned()]);
    host.cap_add = Some(rec.cap_add.clone());
    host.privileged = Some(false);
    host.auto_remove = Some(false);
    let hardening = spec.hardening;
    if hardening.read_only {
        host.readonly_rootfs = Some(true);
        let mut tmpfs = host.tmpfs.take().unwrap_or_default();
        for mount in &hardening.tmpfs {
            let options = mount
                .tmpfs_spec()
                .split_once(':')
                .map(|(_, o)| o.to_owned())
                .unwrap_or_default();
            tmpfs.insert(mount.path.clone(), options);
        }
        host.tmpfs = Some(tmpfs);
        let mut binds = host.binds.take().unwrap_or_default();
        binds.extend(volumes.iter().cloned());
        host.binds = Some(binds);
    }
    if let Some(user) = &hardening.user.recommended {
        body.user = Some(user.clone());
    }
    body.host_config = Some(host);
    body
}

async fn run(
    engine: &docker::Engine,
    spec: &Spec<'_>,
    name: &str,
    volumes: &[String],
) -> Result<(bool, String), String> {
    let client = engine.client();
    let options = CreateContainerOptions {
        name: Some(name.to_owned()),
        ..Default::default()
    };
    client
        .create_container(Some(options), config(spec, volumes))
        .await
        .map_err(|err| format!("could not be created: {err}"))?;
    let started = Instant::now();
    if let Err(err) = client.start_container(name, None).await {
        return Ok((false, format!("could not start: {err}")));
    }
    let run_for = (spec.ran_for + GRACE).min(MAX_RUN);
    loop {
        let state = client
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            .map_err(|err| format!("could not be inspected: {err}"))?
            .state
            .unwrap_or_default();
        let elapsed = started.elapsed().as_secs_f64();
        if state.running != Some(true) {
            let code = state.exit_code.unwrap_or(-1);
            let expected = spec.exit_code.unwrap_or(0);
            let ok = code == expected;
            let how = if ok {
                format!("exited {code} after {elapsed:.1} s, as the recorded container did")
            } else {
                format!(
                    "exited {code} after {elapsed:.1} s (the recorded container: {})",
                    spec.exit_code
                        .map_or_else(|| "still running".to_owned(), |c| format!("exit {c}"))
                )
            };
            return Ok((ok, how));
        }
        if started.elapsed() >= run_for {
            return Ok((true, format!("still running after {elapsed:.1} s")));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn log_tail(engine: &docker::Engine, name: &str) -> Vec<String> {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: LOG_LINES.to_string(),
        ..Default::default()
    };
    let mut lines = Vec::new();
    let mut logs = engine.client().logs(name, Some(options));
    while let Some(Ok(chunk)) = logs.next().await {
        lines.extend(chunk.to_string().lines().map(str::to_owned));
    }
    let skip = lines.len().saturating_sub(LOG_LINES);
    lines.split_off(skip)
}
