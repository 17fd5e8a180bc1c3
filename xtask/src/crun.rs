//! Makes crun usable by dockerd as the runtime `crun` for the runtime tests and
//! `runtime-table`: registers it in `/etc/docker/daemon.json` (merged into whatever is there) and
//! sends the running dockerd SIGHUP, which reloads runtimes without a restart (a restart would
//! stop every other user's containers).
//!
//! On a hybrid cgroup layout (the cgroup2 root lists controllers, e.g. `hugetlb` here) crun 1.8
//! refuses every container: "cgroups in hybrid mode not supported, drop all controllers from
//! cgroupv2". Then what gets registered is [`WRAPPER`], which hides the controller list from crun
//! alone: in a private mount namespace it bind-mounts an empty file over
//! `<cgroup2 mount>/cgroup.controllers` and execs `/usr/bin/crun`. The host is not changed, and the
//! container still gets its cgroup2 group. On a pure cgroup v2 host `/usr/bin/crun` itself is
//! registered. It installs nothing (`prereqs` installs the `crun` package) and starts no daemon.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Where the wrapper and its empty file live: outside the worktree, so every checkout and the
/// daemon agree on one path.
pub const DIR: &str = "/usr/local/lib/seccomp-profiler-test";
pub const WRAPPER: &str = "/usr/local/lib/seccomp-profiler-test/crun";
const EMPTY: &str = "/usr/local/lib/seccomp-profiler-test/empty";
const CRUN: &str = "/usr/bin/crun";
const DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// The runtime name tests pass to `docker run --runtime`.
pub const RUNTIME_NAME: &str = "crun";

/// The cgroup2 mount point from /proc/self/mountinfo (never hard-coded: `/sys/fs/cgroup` on a
/// pure v2 host, `/sys/fs/cgroup/unified` on a hybrid one).
fn cgroup2_mount() -> Result<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    info.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split_whitespace().nth(4)?;
            (right.split_whitespace().next() == Some("cgroup2")).then(|| PathBuf::from(mount_point))
        })
        .context("no cgroup2 file system is mounted (see /proc/self/mountinfo)")
}

fn wrapper_script(controllers: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by `cargo xtask` (xtask/src/crun.rs): crun 1.8 refuses hybrid cgroup layouts, so\n\
         # hide the cgroup2 root's controller list from it in a private mount namespace.\n\
         exec unshare -m --propagation private /bin/sh -c \\\n  \
         'mount --bind {EMPTY} {controllers} && exec {CRUN} \"$@\"' crun \"$@\"\n",
        controllers = controllers.display()
    )
}

/// Registers crun in dockerd (idempotent); returns the path registered.
pub fn ensure_registered() -> Result<PathBuf> {
    if !Path::new(CRUN).exists() {
        bail!("{CRUN} is missing; `cargo xtask setup --test` installs the crun package");
    }
    let controllers = cgroup2_mount()?.join("cgroup.controllers");
    let hybrid = !fs::read_to_string(&controllers)
        .with_context(|| format!("read {}", controllers.display()))?
        .trim()
        .is_empty();
    let path = if hybrid {
        fs::create_dir_all(DIR).with_context(|| format!("create {DIR}"))?;
        fs::write(EMPTY, "").with_context(|| format!("write {EMPTY}"))?;
        let script = wrapper_script(&controllers);
        if fs::read_to_string(WRAPPER).ok().as_deref() != Some(script.as_str()) {
            let temp = format!("{WRAPPER}.tmp");
            fs::write(&temp, &script).with_context(|| format!("write {temp}"))?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&temp, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("chmod {temp}"))?;
            fs::rename(&temp, WRAPPER).with_context(|| format!("rename {temp} to {WRAPPER}"))?;
        }
        PathBuf::from(WRAPPER)
    } else {
        PathBuf::from(CRUN)
    };
    let mut config: Value = match fs::read_to_string(DAEMON_JSON) {
        Ok(text) if !text.trim().is_empty() => serde_json::from_str(&text)
            .with_context(|| format!("parse {DAEMON_JSON} (fix it or move it away)"))?,
        _ => json!({}),
    };
    let wanted = json!({ "path": path });
    let object = config
        .as_object_mut()
        .with_context(|| format!("{DAEMON_JSON} is not a JSON object"))?;
    let runtimes = object
        .entry("runtimes")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .with_context(|| format!("\"runtimes\" in {DAEMON_JSON} is not an object"))?;
    if runtimes.get(RUNTIME_NAME) != Some(&wanted) || !docker_lists_runtime() {
        runtimes.insert(RUNTIME_NAME.to_owned(), wanted);
        fs::create_dir_all("/etc/docker").context("create /etc/docker")?;
        let temp = format!("{DAEMON_JSON}.seccomp-profiler.tmp");
        fs::write(&temp, serde_json::to_string_pretty(&config)? + "\n")
            .with_context(|| format!("write {temp}"))?;
        fs::rename(&temp, DAEMON_JSON).with_context(|| format!("rename {temp}"))?;
        reload_dockerd()?;
        println!(
            "xtask: registered {} in dockerd as runtime `{RUNTIME_NAME}` ({DAEMON_JSON}, SIGHUP){}",
            path.display(),
            if hybrid {
                " — a wrapper, because this host's cgroup2 root lists controllers (hybrid layout)"
            } else {
                ""
            }
        );
    }
    Ok(path)
}

fn docker_lists_runtime() -> bool {
    crate::cmd::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .is_ok_and(|out| {
            serde_json::from_slice::<Value>(&out.stdout)
                .is_ok_and(|v| v.get(RUNTIME_NAME).is_some())
        })
}

/// SIGHUP to the dockerd of /var/run/docker.pid, then wait until `docker info` lists the runtime.
fn reload_dockerd() -> Result<()> {
    let text = fs::read_to_string("/var/run/docker.pid")
        .context("read /var/run/docker.pid to reload dockerd")?;
    let pid: i32 = text.trim().parse().context("parse /var/run/docker.pid")?;
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, libc::SIGHUP) } == -1 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("send SIGHUP to dockerd (pid {pid})"));
    }
    for _ in 0..40 {
        if docker_lists_runtime() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    bail!(
        "dockerd (pid {pid}) does not list runtime `{RUNTIME_NAME}` 10 s after SIGHUP; \
         was it started with another --config-file?"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_hides_the_controllers_and_execs_crun() {
        let script = wrapper_script(Path::new("/sys/fs/cgroup/unified/cgroup.controllers"));
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("unshare -m --propagation private"));
        assert!(script.contains(&format!(
            "mount --bind {EMPTY} /sys/fs/cgroup/unified/cgroup.controllers && exec /usr/bin/crun \"$@\"' crun \"$@\""
        )));
    }
}
