//! From what a container wrote to its root filesystem, what it is in the image, and what the
//! capability checks said, to the advice: `--read-only` with the tmpfs mounts and volumes that
//! cover every write, and whether a non-root `--user` would do.
//!
//! The rules, each because of what a mount does:
//! - A mount hides the image's content at its path. So a written directory that is empty in the
//!   image gets a tmpfs with the image directory's mode and owner, and one with content the
//!   workload may need gets a named volume (Docker copies the image's content, and the
//!   directory's owner, into a new named volume). Paths the workload created are covered by the
//!   nearest directory the image has.
//! - A file that still held data at the end, outside the usual scratch places (`/run`, `/tmp`,
//!   `/var/cache`, `/var/log`, …), is data that should outlive the container: a volume.
//! - A write to `/` itself cannot be covered by any mount: then `--read-only` is not advised.
//! - A process that is not root keeps no capabilities under Docker (no ambient capabilities), so a
//!   workload that used one keeps root, and the advice says which and what for.
//!
//! Pure but for reading the image's layers (`LowerDir`) and its `/etc/passwd`.

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use super::{
    Hardening, Mount, UserAdvice,
    watch::{Kind, Writes},
};
use crate::capabilities::{Capabilities, short};

/// Directories whose content is scratch by convention (FHS): a file left there is not data.
const SCRATCH: [&str; 7] = [
    "run",
    "var/run",
    "tmp",
    "var/tmp",
    "var/cache",
    "var/log",
    "dev/shm",
];

/// The user every image may fall back to when none of its own owns what it writes.
const NOBODY: u32 = 65534;

/// What the advice is made from.
pub struct Facts<'a> {
    pub writes: &'a Writes,
    /// The image's layers, topmost first (overlay2 `LowerDir`).
    pub lower_dirs: &'a [PathBuf],
    /// Paths that are mounts in the recorded container (volumes, binds, tmpfs).
    pub mount_points: &'a [String],
    /// Paths the runtime makes in the root filesystem besides mount points: the working
    /// directory when the image lacks it, `/sbin/docker-init` for `--init`.
    pub runtime_dirs: &'a [String],
    /// The capability checks, when the kernel could trace them.
    pub capabilities: Option<&'a Capabilities>,
    /// A gated process ran with uid 0.
    pub ran_as_root: bool,
    /// `Config.User` of the recorded container.
    pub user: &'a str,
    /// Names the volumes: `<stem>-<path>`.
    pub stem: &'a str,
}

/// The image as its layers show it.
struct Image<'a> {
    layers: Vec<&'a Path>,
}

impl Image<'_> {
    /// The topmost layer's entry for `rel` (None: not in the image, or removed by a whiteout).
    fn entry(&self, rel: &str) -> Option<std::fs::Metadata> {
        for layer in &self.layers {
            if let Ok(meta) = std::fs::symlink_metadata(layer.join(rel)) {
                return (!is_whiteout(&meta)).then_some(meta);
            }
        }
        None
    }

    fn is_dir(&self, rel: &str) -> bool {
        rel.is_empty() || self.entry(rel).is_some_and(|meta| meta.is_dir())
    }

    /// The names a directory holds in the image, whiteouts of higher layers applied.
    fn children(&self, rel: &str) -> BTreeSet<String> {
        let mut hidden = BTreeSet::new();
        let mut names = BTreeSet::new();
        for layer in &self.layers {
            let Ok(entries) = std::fs::read_dir(layer.join(rel)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let whiteout = entry
                    .metadata()
                    .is_ok_and(|meta| meta.file_type().is_char_device() && meta.rdev() == 0);
                if whiteout {
                    hidden.insert(name);
                } else if !hidden.contains(&name) {
                    names.insert(name);
                }
            }
        }
        names
    }

    /// `/etc/passwd` of the image: (name, uid, gid).
    fn users(&self) -> Vec<(String, u32, u32)> {
        let Some(text) = (self.layers.iter())
            .find_map(|layer| std::fs::read_to_string(layer.join("etc/passwd")).ok())
        else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?.to_owned();
                let uid = fields.nth(1)?.parse().ok()?;
                let gid = fields.next()?.parse().ok()?;
                Some((name, uid, gid))
            })
            .collect()
    }
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `rel` is `base` or under it.
fn within(rel: &str, base: &str) -> bool {
    base.is_empty() || rel == base || rel.starts_with(&format!("{base}/"))
}

/// A volume name from the recording's stem and the path: `web-var-lib-data`.
fn volume_name(stem: &str, rel: &str) -> String {
    let slug: String = rel
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{stem}-{slug}")
}

/// Builds the advice. `why_not` is set when the writes could not be observed at all.
pub fn advise(facts: &Facts<'_>) -> Hardening {
    let image = Image {
        layers: (facts.lower_dirs.iter())
            .map(PathBuf::as_path)
            .filter(|dir| dir.is_dir())
            .collect(),
    };
    let mounts: Vec<&str> = (facts.mount_points.iter())
        .map(|m| m.trim_start_matches('/'))
        .collect();
    let mut notes = Vec::new();
    let runtime_dirs: Vec<&str> = (facts.runtime_dirs.iter())
        .map(|m| m.trim_start_matches('/'))
        .chain(mounts.iter().copied())
        .filter(|m| !m.is_empty())
        .collect();
    // Writes of the workload: not a directory the image has (overlayfs copies a directory up when
    // something in it changes), not one the runtime made for a mount or the working directory (or
    // a parent it had to create on the way), nothing under a mount.
    let writes: BTreeMap<&str, _> = (facts.writes.entries.iter())
        .filter(|(path, written)| {
            let dir = written.kind == Kind::Dir;
            let copied_up = dir && image.is_dir(path);
            let made_by_runtime =
                (runtime_dirs.iter()).any(|m| m == path || (dir && within(m, path)));
            let under_mount = mounts.iter().any(|m| !m.is_empty() && within(path, m));
            !copied_up && !made_by_runtime && !under_mount
        })
        .map(|(path, written)| (path.as_str(), *written))
        .collect();

    // Where each write lands: the nearest directory the image has.
    let mut places: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for path in writes.keys() {
        let mut dir = parent(path);
        while !image.is_dir(dir) {
            dir = parent(dir);
        }
        places.entry(dir.to_owned()).or_default().push(path);
    }
    let image_readable = !image.layers.is_empty();
    if !image_readable && !places.is_empty() {
        notes.push(
            "the image's layers could not be read (was the image removed?), so what a mount would \
             hide is unknown: no read-only advice"
                .to_owned(),
        );
    }
    let root_written = places.contains_key("");
    if root_written {
        let files: Vec<String> = places[""].iter().map(|p| format!("/{p}")).collect();
        notes.push(format!(
            "it wrote to / itself ({}): no mount can cover the root directory, so --read-only would \
             break it; make it write below a directory of its own",
            files.join(", ")
        ));
    }

    let read_only = !root_written && image_readable;
    let mut user = user_advice(facts, &image, &places);
    let own_user = numeric_user(facts.user, &image);
    let (mut tmpfs, mut volumes) = cover(
        &places,
        &writes,
        &image,
        user.recommended_ids.or(own_user),
        facts.stem,
    );
    if let Some((uid, gid)) = user.recommended_ids {
        // Where the new user could not write: not under a tmpfs made its own, not its own in the
        // image (a volume starts with the image directory's owner).
        let blocked: Vec<String> = (places.keys())
            .filter(|dir| {
                let tmpfs_covers = read_only && tmpfs.iter().any(|m| m.path == format!("/{dir}"));
                let owns = !dir.is_empty() && image.entry(dir).is_some_and(|m| m.uid() == uid);
                !tmpfs_covers && !owns
            })
            .map(|dir| format!("/{dir}"))
            .collect();
        for mount in tmpfs.iter().filter(|_| read_only) {
            let rel = mount.path.trim_start_matches('/');
            if let Some(meta) = image.entry(rel).filter(|meta| meta.uid() != uid) {
                user.ownership.push(format!(
                    "{} is owned by {}:{} in the image: its tmpfs gets uid={uid},gid={gid}",
                    mount.path,
                    meta.uid(),
                    meta.gid()
                ));
            }
        }
        if !blocked.is_empty() {
            user.ownership = (blocked.iter())
                .map(|dir| {
                    format!(
                        "{dir} is not owned by {uid} in the image: `RUN chown {uid}:{gid} {dir}` \
                         (a new named volume copies the directory's owner)"
                    )
                })
                .collect();
            user.reason = format!(
                "it used no capability, so it can run as {uid}:{gid} once that user may write \
                 where it wrote ({}); after the ownership changes below, run it with --user \
                 {uid}:{gid}",
                blocked.join(", ")
            );
            user.recommended = None;
            user.recommended_ids = None;
            (tmpfs, volumes) = cover(&places, &writes, &image, own_user, facts.stem);
        }
    }
    let certain = !facts.writes.overflowed;
    if facts.writes.overflowed {
        notes.push(format!(
            "the inotify queue overflowed while watching its writes{}",
            if facts.writes.final_scan {
                "; a scan of its writable layer at the end found what it left, but not what it \
                 wrote and removed meanwhile"
            } else {
                ", and the layer was gone before a final scan: writes may be missing"
            }
        ));
    }
    notes.extend(facts.writes.errors.iter().cloned());
    Hardening {
        observed: true,
        certain,
        read_only,
        written: writes.keys().map(|p| format!("/{p}")).collect(),
        tmpfs,
        volumes,
        user,
        notes,
    }
}

/// The tmpfs mounts and volumes that cover every place written, owned by `run_as` (else as the
/// image has the directory).
fn cover(
    places: &BTreeMap<String, Vec<&str>>,
    writes: &BTreeMap<&str, crate::hardening::watch::Written>,
    image: &Image<'_>,
    run_as: Option<(u32, u32)>,
    stem: &str,
) -> (Vec<Mount>, Vec<Mount>) {
    let mut tmpfs = Vec::new();
    let mut volumes = Vec::new();
    for (dir, written) in places {
        if dir.is_empty() {
            continue;
        }
        let Some(meta) = image.entry(dir) else {
            continue;
        };
        let content = image.children(dir);
        let kept: Vec<&str> = (written.iter().copied())
            .filter(|p| {
                writes
                    .get(p)
                    .is_some_and(|w| w.kind == Kind::File && w.max_size > 0 && !w.moved_away)
            })
            .collect();
        let scratch = SCRATCH.iter().any(|s| within(dir, s));
        let (uid, gid) = run_as.unwrap_or((meta.uid(), meta.gid()));
        let shown: Vec<String> = written.iter().take(4).map(|p| format!("/{p}")).collect();
        let more = written.len().saturating_sub(4);
        let what = if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        };
        let mount = Mount {
            path: format!("/{dir}"),
            mode: format!("{:o}", meta.permissions().mode() & 0o7777),
            uid,
            gid,
            volume: None,
            reason: String::new(),
        };
        if !content.is_empty() {
            volumes.push(Mount {
                volume: Some(volume_name(stem, dir)),
                reason: format!(
                    "it wrote {what}; the image has content there ({} entries) that a tmpfs would \
                     hide, and a new named volume starts with a copy of it",
                    content.len()
                ),
                ..mount
            });
        } else if !kept.is_empty() && !scratch {
            volumes.push(Mount {
                volume: Some(volume_name(stem, dir)),
                reason: format!(
                    "it kept data there ({}): a volume keeps it across restarts (a tmpfs would also \
                     run it, and lose it)",
                    kept.iter()
                        .map(|p| format!("/{p}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                ..mount
            });
        } else {
            tmpfs.push(Mount {
                reason: format!("it wrote {what}; empty in the image"),
                ..mount
            });
        }
    }
    (tmpfs, volumes)
}

/// The uid:gid of a numeric or named `Config.User`, if it is not root.
fn numeric_user(user: &str, image: &Image<'_>) -> Option<(u32, u32)> {
    let (name, group) = user.split_once(':').unwrap_or((user, ""));
    let (uid, default_gid) = match name.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => {
            let (_, uid, gid) = image.users().into_iter().find(|(n, ..)| n == name)?;
            (uid, gid)
        }
    };
    let gid = group.parse().unwrap_or(default_gid);
    (uid != 0 && !name.is_empty()).then_some((uid, gid))
}

/// Whether it needs root: which capabilities it used, and for what; else which user to run as.
fn user_advice(
    facts: &Facts<'_>,
    image: &Image<'_>,
    places: &BTreeMap<String, Vec<&str>>,
) -> UserAdvice {
    if !facts.ran_as_root {
        return UserAdvice {
            needs_root: false,
            recommended: None,
            recommended_ids: None,
            reason: format!(
                "it already runs as a non-root user ({})",
                if facts.user.is_empty() {
                    "its image's USER"
                } else {
                    facts.user
                }
            ),
            ownership: Vec::new(),
        };
    }
    let Some(caps) = facts.capabilities else {
        return UserAdvice {
            needs_root: true,
            recommended: None,
            recommended_ids: None,
            reason: "it ran as root, and whether it used root's privileges is unknown: capability \
                     checks need Linux ≥ 6.14"
                .to_owned(),
            ownership: Vec::new(),
        };
    };
    if !caps.used.is_empty() {
        let uses: Vec<String> = (caps.checks.iter())
            .filter(|check| check.granted > 0)
            .map(|check| {
                let during = check
                    .first_syscall
                    .as_deref()
                    .map_or_else(String::new, |s| format!(" in {s}"));
                format!(
                    "{} (first by {}{during})",
                    short(&check.name),
                    check.first_comm
                )
            })
            .collect();
        return UserAdvice {
            needs_root: true,
            recommended: None,
            recommended_ids: None,
            reason: format!(
                "it used root's privileges: {}; a process that is not root keeps no capabilities \
                 under Docker (it gives no ambient capabilities), so with --user these would fail. \
                 Keep root with exactly these capabilities, or change the workload (e.g. a port \
                 ≥ 1024, no user switch) and record again",
                uses.join(", ")
            ),
            ownership: Vec::new(),
        };
    }
    // No capability used: a user that owns every written directory, else nobody.
    let users = image.users();
    let owners: BTreeSet<(u32, u32)> = (places.keys())
        .filter_map(|dir| image.entry(dir))
        .map(|meta| (meta.uid(), meta.gid()))
        .collect();
    let owner = match owners.iter().collect::<Vec<_>>().as_slice() {
        [(uid, gid)] if *uid != 0 => Some((*uid, *gid)),
        _ => None,
    };
    let (uid, gid) = owner.unwrap_or((NOBODY, NOBODY));
    let named = (users.iter())
        .find(|(_, u, _)| *u == uid)
        .map_or_else(|| "no name in the image".to_owned(), |(n, ..)| n.clone());
    UserAdvice {
        needs_root: false,
        recommended: Some(format!("{uid}:{gid}")),
        recommended_ids: Some((uid, gid)),
        reason: format!(
            "it ran as root but used no capability: run it as {uid}:{gid} ({named}). Reading a file \
             only root may read checks no capability, so the recording cannot see that need: the \
             replay (`record --verify`) proves it"
        ),
        ownership: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::hardening::watch::Written;

    fn written(kind: Kind, size: u64) -> Written {
        Written {
            kind,
            max_size: size,
            moved_away: false,
        }
    }

    #[test]
    fn tmpfs_for_empty_dirs_volumes_for_content_and_data() {
        let layer = tempfile::tempdir().unwrap();
        for dir in ["run", "var/log/nginx", "etc/app", "data"] {
            std::fs::create_dir_all(layer.path().join(dir)).unwrap();
        }
        std::fs::write(layer.path().join("etc/app/app.conf"), "x").unwrap();
        std::fs::set_permissions(
            layer.path().join("run"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let mut writes = Writes::default();
        for (path, kind, size) in [
            ("run/app.pid", Kind::File, 5),
            ("var/log/nginx/error.log", Kind::File, 0),
            ("etc/app/state", Kind::File, 3),
            ("data/dump.rdb", Kind::File, 100),
            ("mnt", Kind::Dir, 0),
            ("run/cache", Kind::Dir, 0),
            ("run/cache/x", Kind::File, 0),
            ("var", Kind::Dir, 0),
            ("var/log", Kind::Dir, 0),
        ] {
            writes.entries.insert(path.into(), written(kind, size));
        }
        writes.final_scan = true;
        let lower = vec![layer.path().to_owned()];
        let mounts = vec!["/mnt/vol".to_owned()];
        let facts = Facts {
            writes: &writes,
            lower_dirs: &lower,
            mount_points: &mounts,
            runtime_dirs: &[],
            capabilities: None,
            ran_as_root: false,
            user: "999",
            stem: "web",
        };
        let advice = advise(&facts);
        assert!(advice.read_only && advice.certain);
        let tmpfs: Vec<&str> = advice.tmpfs.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(tmpfs, ["/run", "/var/log/nginx"]);
        assert_eq!(advice.tmpfs[0].mode, "755");
        assert_eq!((advice.tmpfs[0].uid, advice.tmpfs[0].gid), (999, 999));
        let volumes: Vec<(&str, Option<&str>)> = (advice.volumes.iter())
            .map(|m| (m.path.as_str(), m.volume.as_deref()))
            .collect();
        assert_eq!(
            volumes,
            [
                ("/data", Some("web-data")),
                ("/etc/app", Some("web-etc-app"))
            ]
        );
        assert!(
            !advice.written.contains(&"/mnt".to_owned()),
            "a mount point the runtime made is not a write of the workload"
        );
        assert!(!advice.user.needs_root);
    }

    #[test]
    fn a_write_to_root_means_no_read_only_and_root_without_caps_gets_a_user() {
        let layer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(layer.path().join("etc")).unwrap();
        std::fs::create_dir_all(layer.path().join("tmp")).unwrap();
        std::fs::write(layer.path().join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        let caps = Capabilities::from_checks(&[], |_| None);
        let lower = vec![layer.path().to_owned()];
        let advise_for = |paths: &[&str]| {
            let mut writes = Writes::default();
            for path in paths {
                writes
                    .entries
                    .insert((*path).into(), written(Kind::File, 1));
            }
            writes.entries.insert("work".into(), written(Kind::Dir, 0));
            advise(&Facts {
                writes: &writes,
                lower_dirs: &lower,
                mount_points: &[],
                runtime_dirs: &["/work".to_owned()],
                capabilities: Some(&caps),
                ran_as_root: true,
                user: "",
                stem: "x",
            })
        };
        let advice = advise_for(&["tmp/x"]);
        assert!(advice.read_only, "{advice:?}");
        assert_eq!(advice.user.recommended.as_deref(), Some("65534:65534"));
        assert_eq!(
            advice.tmpfs[0].tmpfs_spec(),
            format!(
                "/tmp:mode={:o},uid=65534,gid=65534",
                std::fs::metadata(layer.path().join("tmp"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o7777
            )
        );
        assert!(advice.user.ownership[0].contains("its tmpfs gets uid=65534"));

        let advice = advise_for(&["marker", "tmp/x"]);
        assert!(!advice.read_only);
        assert!(advice.notes[0].contains("it wrote to / itself (/marker)"));
        assert_eq!(
            advice.user.recommended, None,
            "nobody cannot write to / or /tmp"
        );
        assert!(!advice.user.needs_root);
        assert!(
            advice
                .user
                .reason
                .contains("once that user may write where it wrote (/, /tmp)"),
            "{}",
            advice.user.reason
        );
    }

    #[test]
    fn a_lost_queue_without_a_final_scan_is_uncertain() {
        let layer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(layer.path().join("run")).unwrap();
        let mut writes = Writes::default();
        writes
            .entries
            .insert("run/a".into(), written(Kind::File, 1));
        writes.overflowed = true;
        let lower = vec![layer.path().to_owned()];
        let advice = advise(&Facts {
            writes: &writes,
            lower_dirs: &lower,
            mount_points: &[],
            runtime_dirs: &[],
            capabilities: None,
            ran_as_root: false,
            user: "1000",
            stem: "x",
        });
        assert!(!advice.certain);
        assert!(
            advice
                .notes
                .iter()
                .any(|note| note.contains("overflowed") && note.contains("writes may be missing")),
            "{:?}",
            advice.notes
        );
    }
}
