//! `seccomp-profiler agent [--filter KEY=VALUE]... -o DIR [--node NAME] [--include-running]
//! [--flush DUR] [--duration DUR]`: the Kubernetes node agent (a DaemonSet). The recording is
//! `recording::agent`; this module turns each snapshot into the container instance's partial
//! (`crate::partials`, with its provenance) and refreshes this node's union for its workload
//! container in the kubelet's Localhost layout and as a SeccompProfile. Every file goes through
//! `output::Destination` (temp + rename), so a reader (the kubelet, `merge`) never sees half a file.

use std::path::Path;

use crate::{
    cli::AgentArgs,
    exit,
    output::{Destination, summary, writer::ensure_dir},
    partials::{self, Key, Provenance, fold},
    recording::agent::{self, AgentOptions, Snapshot},
};

pub fn run(args: AgentArgs, verbose: u8) -> anyhow::Result<i32> {
    let node = node_name(args.node.as_deref())?;
    ensure_dir("agent output directory", &args.output)?;
    let options = AgentOptions {
        duration: args.duration,
        verbose: verbose > 0,
        filters: crate::engines::Filters(args.filter),
        include_running: args.include_running,
        flush: args.flush,
    };
    let out = args.output.clone();
    let mut sink = |snapshot: Snapshot<'_>| write_snapshot(&out, &node, snapshot);
    let outcome = agent::run(&options, &mut sink)?;

    let mut lines = vec![format!(
        "seccomp-profiler agent: {} container instance(s) recorded on node {node}{}; partials in \
         {}, this node's profiles in {} and {}",
        outcome.recorded,
        outcome.cut_short.map_or(String::new(), |reason| format!(
            " ({})",
            crate::recording::supervisor::StopReason::describe(reason)
        )),
        out.join(partials::PARTIALS_DIR).display(),
        out.join(partials::LOCALHOST_DIR).display(),
        out.join(partials::OPERATOR_DIR).display(),
    )];
    for (why, (count, names)) in &outcome.skipped {
        let more = count.saturating_sub(names.len());
        lines.push(format!(
            "  not recorded ({why}): {count} container(s): {}{}",
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if !outcome.missed.is_empty() {
        lines.push(format!(
            "  warning: {} container(s) started while every recording slot was taken: {}",
            outcome.missed.len(),
            outcome.missed.join(", ")
        ));
    }
    summary::note(&lines.join("\n"));
    if !outcome.failed.is_empty() {
        return Ok(exit::RUNTIME);
    }
    let filtered = !options.filters.is_empty() && outcome.recorded == 0;
    if filtered {
        summary::error(&format!(
            "no container matched --filter {}",
            options.filters.describe()
        ));
    }
    Ok(if filtered || !outcome.missed.is_empty() {
        exit::FINDING
    } else {
        exit::OK
    })
}

/// `--node`, else `$NODE_NAME` (the Downward API's `spec.nodeName`), else the hostname.
fn node_name(given: Option<&str>) -> anyhow::Result<String> {
    let from_env = std::env::var("NODE_NAME").ok();
    let hostname = || {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
    };
    let name = (given.map(str::to_owned))
        .or(from_env)
        .filter(|name| !name.trim().is_empty())
        .or_else(hostname)
        .unwrap_or_default();
    if name.is_empty() || name.contains('/') {
        return exit::input(format!(
            "node name {name:?} cannot name files: give --node NAME (a DaemonSet sets NODE_NAME \
             from spec.nodeName through the Downward API)"
        ));
    }
    Ok(name)
}

/// Writes one instance's partial, then this node's union of its workload container's partials.
fn write_snapshot(out: &Path, node: &str, snapshot: Snapshot<'_>) -> anyhow::Result<()> {
    let provenance = provenance(node, &snapshot);
    let key = Key::of(&provenance);
    let dir = out.join(key.partials_dir());
    ensure_dir("partial profile", &dir)?;
    let name = partials::partial_file_name(node, snapshot.id);
    let text = partials::render(&snapshot.built.profile, &provenance);
    Destination::in_dir("partial profile", &dir, name.as_ref())?.write(text.as_bytes())?;
    log::info!("wrote {}", dir.join(&name).display());

    // This node's partials of the same workload container (other replicas, earlier instances).
    let prefix = format!("{}_", crate::docker::file_stem(node));
    let mut inputs = Vec::new();
    for path in partials::json_files(&dir)? {
        let mine =
            (path.file_name().and_then(|n| n.to_str())).is_some_and(|n| n.starts_with(&prefix));
        if mine && let Some(input) = partials::load(&path)? {
            inputs.push(input);
        }
    }
    for folded in fold::fold(inputs)? {
        partials::write_outputs(out, &folded)?;
    }
    Ok(())
}

fn provenance(node: &str, snapshot: &Snapshot<'_>) -> Provenance {
    let pod = snapshot.pod;
    let runtime = (snapshot.built.report.runtime.as_ref())
        .and_then(|r| r.installed_by.as_ref())
        .map(|identity| match &identity.version {
            Some(version) => format!("{} {version}", identity.name),
            None => identity.name.clone(),
        });
    let now = std::time::SystemTime::now();
    Provenance {
        tool: format!("{} {}", env!("CARGO_PKG_NAME"), crate::cli::VERSION),
        node: node.to_owned(),
        namespace: pod.namespace.clone(),
        pod: pod.pod.clone(),
        pod_uid: pod.uid.clone(),
        workload: pod.workload.clone(),
        pod_template_hash: crate::engines::kube::pod_template_hash(&pod.pod),
        container: pod.container.clone(),
        container_id: snapshot.id.to_owned(),
        image: snapshot.meta.image.clone(),
        engine: snapshot.meta.engine.map(|e| e.name().to_owned()),
        runtime,
        no_new_privileges: snapshot.meta.no_new_privileges,
        recorded: if snapshot.attached {
            "attached"
        } else {
            "start"
        }
        .to_owned(),
        cgroup: snapshot.cgroup.to_owned(),
        started: partials::rfc3339(snapshot.started),
        ended: snapshot.ended.map(partials::rfc3339),
        updated: partials::rfc3339(now),
        syscalls_counted: snapshot.counted,
        syscalls_allowed: snapshot.built.allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert_eq!(node_name(Some("node-a")).unwrap_or_default(), "node-a");
        assert!(node_name(Some("a/b")).is_err());
        // Without --node: NODE_NAME or the hostname, never empty.
        assert!(!node_name(None).unwrap_or_default().is_empty());
    }
}
