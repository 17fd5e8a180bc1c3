//! Hardening advice beyond seccomp and capabilities, from the same recording of a container: a
//! read-only root filesystem with the tmpfs mounts and volumes that cover what the workload wrote
//! (`watch` sees the writes, `advice` chooses the mounts), whether a non-root user would do, and
//! the proof by replay (`replay`, `record --verify`): a fresh container with the whole
//! recommendation applied must still run.
//!
//! Only containers on the overlay2 storage driver can be observed: other drivers say so in the
//! advice instead of guessing. It records nothing in the kernel and writes no file.

mod advice;
pub mod replay;
pub mod watch;

use serde::Serialize;

pub use advice::{Facts, advise};

/// The report's `hardening` section.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hardening {
    /// Whether its writes to the root filesystem were observed (overlay2 only).
    pub observed: bool,
    /// False when events were lost (inotify queue overflow): a final scan finds what was left,
    /// not what was written and removed meanwhile.
    pub certain: bool,
    /// `--read-only` / `read_only: true` / `readOnlyRootFilesystem: true` is advised.
    pub read_only: bool,
    /// Every path the workload wrote on its root filesystem (not on volumes, binds or tmpfs).
    pub written: Vec<String>,
    /// tmpfs mounts that cover writes to directories empty in the image.
    pub tmpfs: Vec<Mount>,
    /// Named volumes for directories with image content, or with data kept at the end.
    pub volumes: Vec<Mount>,
    pub user: UserAdvice,
    /// What limits the advice: writes to `/`, a lost event queue, an image it could not read.
    pub notes: Vec<String>,
}

/// One tmpfs mount or named volume.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mount {
    pub path: String,
    /// Octal, as the image has the directory (tmpfs `mode=`).
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    /// The volume's name (volumes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Why this mount, from what the workload wrote there.
    pub reason: String,
}

impl Mount {
    /// `/run:mode=755,uid=0,gid=0`: what `--tmpfs` and compose's `tmpfs:` take.
    pub fn tmpfs_spec(&self) -> String {
        format!(
            "{}:mode={},uid={},gid={}",
            self.path, self.mode, self.uid, self.gid
        )
    }
}

/// Whether the workload needs root.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserAdvice {
    /// It ran as root and used root's privileges (or whether it did is unknown).
    pub needs_root: bool,
    /// `uid:gid` to pass to `--user`, when a change is advised.
    pub recommended: Option<String>,
    #[serde(skip)]
    pub recommended_ids: Option<(u32, u32)>,
    pub reason: String,
    /// Ownership changes the recommended user needs.
    pub ownership: Vec<String>,
}

impl Hardening {
    /// The advice when the root filesystem's writes could not be observed.
    pub fn unobserved(why: String) -> Hardening {
        Hardening {
            observed: false,
            certain: false,
            read_only: false,
            written: Vec::new(),
            tmpfs: Vec::new(),
            volumes: Vec::new(),
            user: UserAdvice {
                needs_root: true,
                recommended: None,
                recommended_ids: None,
                reason: "not judged: its writes were not observed".to_owned(),
                ownership: Vec::new(),
            },
            notes: vec![format!("cannot observe its writes: {why}")],
        }
    }

    /// The `docker run` options this advice adds (after the capability and seccomp options).
    pub fn docker_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.read_only {
            args.push("--read-only".to_owned());
            for mount in &self.tmpfs {
                args.push("--tmpfs".to_owned());
                args.push(mount.tmpfs_spec());
            }
            for mount in &self.volumes {
                args.push("--mount".to_owned());
                args.push(format!(
                    "type=volume,source={},target={}",
                    mount.volume.as_deref().unwrap_or_default(),
                    mount.path
                ));
            }
        }
        if let Some(user) = &self.user.recommended {
            args.push("--user".to_owned());
            args.push(user.clone());
        }
        args
    }

    /// Lines of a compose service fragment.
    pub fn compose(&self) -> String {
        let mut out = String::new();
        if self.read_only {
            out.push_str("read_only: true\n");
            if !self.tmpfs.is_empty() {
                out.push_str("tmpfs:\n");
                for mount in &self.tmpfs {
                    out.push_str(&format!("  - {}\n", mount.tmpfs_spec()));
                }
            }
            if !self.volumes.is_empty() {
                out.push_str("volumes:  # and at the top level: volumes: {NAME: {}}\n");
                for mount in &self.volumes {
                    out.push_str(&format!(
                        "  - {}:{}\n",
                        mount.volume.as_deref().unwrap_or_default(),
                        mount.path
                    ));
                }
            }
        }
        if let Some(user) = &self.user.recommended {
            out.push_str(&format!("user: \"{user}\"\n"));
        }
        out
    }

    /// Lines inside a Kubernetes container's `securityContext` (indented by two).
    pub fn kubernetes_security_context(&self) -> String {
        let mut out = String::new();
        if self.read_only {
            out.push_str("  readOnlyRootFilesystem: true\n");
        }
        if let Some((uid, gid)) = self.user.recommended_ids {
            out.push_str(&format!(
                "  runAsUser: {uid}\n  runAsGroup: {gid}\n  runAsNonRoot: true\n"
            ));
        }
        out
    }

    /// The container's `volumeMounts` and the pod's `volumes` (as a comment), Kubernetes having no
    /// tmpfs options: an `emptyDir` in memory, owned through the pod's `fsGroup`.
    pub fn kubernetes_volumes(&self) -> String {
        if !self.read_only || (self.tmpfs.is_empty() && self.volumes.is_empty()) {
            return String::new();
        }
        let name = |mount: &Mount| {
            let slug: String = (mount.path.trim_start_matches('/').chars())
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            slug.to_ascii_lowercase()
        };
        let mut mounts = String::from("volumeMounts:\n");
        let mut volumes = String::from(
            "# in the pod spec (emptyDir has no mode/uid: set the pod's securityContext.fsGroup):\n# volumes:\n",
        );
        for mount in &self.tmpfs {
            mounts.push_str(&format!(
                "  - {{name: {}, mountPath: {}}}\n",
                name(mount),
                mount.path
            ));
            volumes.push_str(&format!(
                "#   - {{name: {}, emptyDir: {{medium: Memory}}}}\n",
                name(mount)
            ));
        }
        for mount in &self.volumes {
            mounts.push_str(&format!(
                "  - {{name: {}, mountPath: {}}}\n",
                name(mount),
                mount.path
            ));
            volumes.push_str(&format!(
                "#   - {{name: {}, persistentVolumeClaim: {{claimName: {}}}}}\n",
                name(mount),
                mount.volume.as_deref().unwrap_or_default()
            ));
        }
        mounts + &volumes
    }
}

/// How a tracked container's writes are being observed.
pub enum Observation {
    Watching(watch::UpperWatch),
    /// Why its writes cannot be observed (another storage driver, no inotify instance, …).
    Unobservable(String),
}

impl Observation {
    /// Starts observing the container `info` describes.
    pub fn start(info: &crate::docker::ContainerInfo) -> Observation {
        let rootfs = &info.rootfs;
        let Some(upper) = &rootfs.upper_dir else {
            let driver = if rootfs.driver.is_empty() {
                "unknown"
            } else {
                rootfs.driver.as_str()
            };
            return Observation::Unobservable(format!(
                "its storage driver is {driver}; only overlay2's writable layer can be watched"
            ));
        };
        match watch::UpperWatch::start(upper) {
            Ok(watch) => Observation::Watching(watch),
            Err(err) => Observation::Unobservable(if upper.is_dir() {
                err
            } else {
                "its writable layer was removed before it could be watched (a `--rm` container \
                 that ended at once)"
                    .to_owned()
            }),
        }
    }

    pub fn poll(&mut self) {
        if let Observation::Watching(watch) = self {
            watch.poll();
        }
    }

    /// Ends the observation: what was written, or why it is unknown.
    pub fn finish(self) -> Result<watch::Writes, String> {
        match self {
            Observation::Watching(watch) => Ok(watch.finish()),
            Observation::Unobservable(why) => Err(why),
        }
    }
}

/// The advice for one recorded container: from what `docker inspect` said about it (None: it never
/// answered), what was observed of its writes, and its capability checks.
pub fn for_container(
    info: Option<&crate::docker::ContainerInfo>,
    observed: Result<watch::Writes, String>,
    capabilities: Option<&crate::capabilities::Capabilities>,
    ran_as_root: bool,
    stem: &str,
) -> Hardening {
    let Some(info) = info else {
        return Hardening::unobserved(
            "`docker inspect` never answered for it, so where its root filesystem lives is unknown"
                .to_owned(),
        );
    };
    let writes = match observed {
        Ok(writes) => writes,
        Err(why) => return Hardening::unobserved(why),
    };
    // Docker bind-mounts its init at /sbin/docker-init for `--init` (daemon/oci_linux.go), which
    // inspect does not list among the mounts.
    let init = (info.created_with.host_config.as_ref())
        .and_then(|host| host.init)
        .unwrap_or(false);
    let runtime_dirs: Vec<String> = (info.created_with.working_dir.iter())
        .filter(|dir| !dir.is_empty())
        .cloned()
        .chain(init.then(|| "/sbin/docker-init".to_owned()))
        .collect();
    advise(&Facts {
        writes: &writes,
        lower_dirs: &info.rootfs.lower_dirs,
        mount_points: &info.mount_points,
        runtime_dirs: &runtime_dirs,
        capabilities,
        ran_as_root,
        user: &info.user,
        stem,
    })
}
