//! Watching a container's writable layer: the overlay2 upper directory, where every write to the
//! container's root filesystem lands (and nothing written to a volume, bind mount or tmpfs does).
//!
//! A recursive inotify watch, set up as "watch, then scan" for every directory (so an entry created
//! between the two is seen by one or the other), with a watch and a scan for every new directory.
//! overlayfs creates entries in the upper directory through `vfs_create`, `vfs_mkdir` and
//! `vfs_rename` (a copy-up is a rename from its work directory, a deletion of an image file a
//! whiteout renamed in), and those raise fsnotify events on the upper directory's own inodes. Seen
//! on Linux 6.18 with `docker run --rm` busybox writing a file, making a directory, appending to
//! `/etc/passwd` and removing `/etc/group` right before it exits: every one arrived, and the queued
//! events outlived the directory's removal. A queue overflow (`IN_Q_OVERFLOW`) is remembered, so
//! the advice can say it is uncertain instead of being silently incomplete.
//!
//! It records where writes happened, not what was written, and it never reads file contents.

use std::{
    collections::{BTreeMap, HashMap},
    ffi::CString,
    os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::{ffi::OsStrExt as _, fs::FileTypeExt as _},
    },
    path::{Path, PathBuf},
};

use serde::Serialize;

/// What a path in the writable layer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    File,
    Dir,
    /// An image file or directory the workload removed (overlayfs's 0:0 character device).
    Whiteout,
    /// A symlink, FIFO, socket or device.
    Other,
}

/// One path the workload wrote (relative to the root filesystem, without a leading '/').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    pub kind: Kind,
    /// The largest size seen for it (at a scan, at `close` after writing, at a rename onto it).
    pub max_size: u64,
    /// It was renamed away afterwards (e.g. a temporary file renamed onto its final name).
    pub moved_away: bool,
}

/// Everything the watch saw.
#[derive(Clone, Debug, Default)]
pub struct Writes {
    pub entries: BTreeMap<String, Written>,
    /// The kernel's event queue overflowed: some writes may be missing.
    pub overflowed: bool,
    /// The final scan ran while the layer still existed (the container was not yet removed).
    pub final_scan: bool,
    /// Directories that could not be watched, and why.
    pub errors: Vec<String>,
}

const IN_MODIFY_CLOSE: u32 = libc::IN_CLOSE_WRITE;
const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | IN_MODIFY_CLOSE
    | libc::IN_ATTRIB
    | libc::IN_ONLYDIR;

/// A recursive inotify watch on one upper directory.
pub struct UpperWatch {
    fd: OwnedFd,
    root: PathBuf,
    /// Watch descriptor → directory, relative to `root` ("" for the root itself).
    dirs: HashMap<i32, String>,
    pub writes: Writes,
}

impl UpperWatch {
    /// Watches `root` and everything under it, and records what is already there.
    pub fn start(root: &Path) -> Result<UpperWatch, String> {
        // SAFETY: inotify_init1 takes flags only.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(format!(
                "cannot create an inotify instance: {} (raise fs.inotify.max_user_instances)",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: raw is a new descriptor this function owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut watch = UpperWatch {
            fd,
            root: root.to_owned(),
            dirs: HashMap::new(),
            writes: Writes::default(),
        };
        watch.add_dir("")?;
        Ok(watch)
    }

    /// Watches one directory, then records and watches what it holds.
    fn add_dir(&mut self, rel: &str) -> Result<(), String> {
        let path = self.root.join(rel);
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|err| err.to_string())?;
        // SAFETY: fd is an inotify instance, c_path a NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c_path.as_ptr(), MASK) };
        if wd < 0 {
            return Err(format!(
                "cannot watch {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        self.dirs.insert(wd, rel.to_owned());
        let Ok(entries) = std::fs::read_dir(&path) else {
            return Ok(()); // removed meanwhile: its events say what happened
        };
        for entry in entries.flatten() {
            let child = join(rel, &entry.file_name().to_string_lossy());
            if self.record(&child) == Some(Kind::Dir)
                && let Err(err) = self.add_dir(&child)
            {
                self.writes.errors.push(err);
            }
        }
        Ok(())
    }

    /// Notes a path as written, with its kind and size now; None when it is already gone.
    fn record(&mut self, rel: &str) -> Option<Kind> {
        let meta = std::fs::symlink_metadata(self.root.join(rel)).ok()?;
        let file_type = meta.file_type();
        let kind = if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else if file_type.is_char_device() && std::os::unix::fs::MetadataExt::rdev(&meta) == 0 {
            Kind::Whiteout
        } else {
            Kind::Other
        };
        let size = if kind == Kind::File { meta.len() } else { 0 };
        let entry = self
            .writes
            .entries
            .entry(rel.to_owned())
            .or_insert(Written {
                kind,
                max_size: 0,
                moved_away: false,
            });
        entry.kind = kind;
        entry.max_size = entry.max_size.max(size);
        entry.moved_away = false;
        Some(kind)
    }

    /// Reads every queued event. Never blocks.
    pub fn poll(&mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is valid for buf.len() bytes; fd is non-blocking.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast::<libc::c_void>(),
                    buf.len(),
                )
            };
            let Ok(n) = usize::try_from(n) else {
                return; // EAGAIN: the queue is empty
            };
            if n == 0 {
                return;
            }
            let mut offset = 0;
            let header = std::mem::size_of::<libc::inotify_event>();
            while offset + header <= n {
                // SAFETY: the kernel wrote a whole inotify_event at offset; read_unaligned copes
                // with the byte buffer's alignment.
                let event: libc::inotify_event = unsafe {
                    std::ptr::read_unaligned(buf[offset..].as_ptr().cast::<libc::inotify_event>())
                };
                let name_len = event.len as usize;
                let name_bytes = buf
                    .get(offset + header..offset + header + name_len)
                    .unwrap_or_default();
                let name = String::from_utf8_lossy(name_bytes)
                    .trim_end_matches('\0')
                    .to_owned();
                offset += header + name_len;
                self.on_event(event.wd, event.mask, &name);
            }
        }
    }

    fn on_event(&mut self, wd: i32, mask: u32, name: &str) {
        if mask & libc::IN_Q_OVERFLOW != 0 {
            self.writes.overflowed = true;
            return;
        }
        if mask & libc::IN_IGNORED != 0 {
            self.dirs.remove(&wd);
            return;
        }
        let Some(dir) = self.dirs.get(&wd).cloned() else {
            return;
        };
        if name.is_empty() {
            return; // an event on the watched directory itself (IN_ATTRIB)
        }
        let rel = join(&dir, name);
        if mask & libc::IN_MOVED_FROM != 0 {
            if let Some(entry) = self.writes.entries.get_mut(&rel) {
                entry.moved_away = true;
            }
            return;
        }
        let kind = self.record(&rel);
        let new_dir = mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 && kind == Some(Kind::Dir);
        if new_dir && let Err(err) = self.add_dir(&rel) {
            self.writes.errors.push(err);
        }
        if kind.is_none() && mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
            // Created and gone before we looked: it was still a write there.
            let is_dir = mask & libc::IN_ISDIR != 0;
            self.writes.entries.entry(rel).or_insert(Written {
                kind: if is_dir { Kind::Dir } else { Kind::File },
                max_size: 0,
                moved_away: false,
            });
        }
    }

    /// Reads what is queued, then scans the layer once more if it still exists (the container is
    /// not removed yet): what the scan finds is exact whatever the queue lost.
    pub fn finish(mut self) -> Writes {
        self.poll();
        if self.root.is_dir() {
            let rescan = UpperWatch::start(&self.root);
            if let Ok(mut rescan) = rescan {
                for (path, written) in std::mem::take(&mut rescan.writes.entries) {
                    let entry = self.writes.entries.entry(path).or_insert(written);
                    entry.max_size = entry.max_size.max(written.max_size);
                }
                self.writes.final_scan = true;
            }
        }
        self.writes
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sees_what_was_there_and_what_comes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("run/a.pid"), "1\n").unwrap();
        let mut watch = UpperWatch::start(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("data/sub")).unwrap();
        std::fs::write(dir.path().join("data/sub/dump.rdb"), vec![7u8; 100]).unwrap();
        // In a directory watched from the start, a rename is seen as one.
        std::fs::write(dir.path().join("run/tmp.rdb"), vec![7u8; 10]).unwrap();
        std::fs::rename(dir.path().join("run/tmp.rdb"), dir.path().join("run/b.rdb")).unwrap();
        watch.poll();
        let writes = watch.finish();
        let get = |p: &str| writes.entries.get(p).copied();
        assert_eq!(get("run").map(|w| w.kind), Some(Kind::Dir));
        assert_eq!(get("run/a.pid").map(|w| w.max_size), Some(2));
        assert_eq!(get("data/sub").map(|w| w.kind), Some(Kind::Dir));
        assert_eq!(get("data/sub/dump.rdb").map(|w| w.max_size), Some(100));
        assert!(get("run/tmp.rdb").is_some_and(|w| w.moved_away));
        assert_eq!(get("run/b.rdb").map(|w| w.max_size), Some(10));
        assert!(writes.final_scan && !writes.overflowed);
    }

    /// More events than the kernel queues (fs.inotify.max_queued_events, 16384 by default): the
    /// watch says so, and the final scan still finds every file left.
    #[test]
    fn an_overflow_is_remembered_and_the_final_scan_makes_up() {
        let dir = tempfile::tempdir().unwrap();
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(16384);
        let mut watch = UpperWatch::start(dir.path()).unwrap();
        // Two events per file (create, close after writing).
        let files = limit / 2 + 100;
        for i in 0..files {
            std::fs::write(dir.path().join(format!("f{i}")), "x").unwrap();
        }
        watch.poll();
        let writes = watch.finish();
        assert!(writes.overflowed, "{files} files made no overflow");
        assert!(writes.final_scan);
        assert_eq!(writes.entries.len(), files);
    }
}
