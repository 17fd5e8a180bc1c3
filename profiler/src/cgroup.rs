//! cgroup v2: finding the mount, making a private cgroup for a recorded command, and tearing it
//! down. A cgroup's id (what `bpf_get_current_cgroup_id` returns) is its directory's inode number.
//! It does not touch controllers or limits: the cgroup exists only so the eBPF side can tell the
//! recorded processes from everything else.

use std::{
    fs::{self, File},
    io,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    time::Duration,
};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CgroupError {
    #[error("cannot read /proc/self/mountinfo: {0}")]
    MountInfo(io::Error),
    #[error(
        "no cgroup v2 (cgroup2) filesystem is mounted; mount one with \
         `mount -t cgroup2 none /sys/fs/cgroup/unified` (hybrid systems) or boot with \
         systemd.unified_cgroup_hierarchy=1"
    )]
    NoCgroup2,
    #[error("cannot create cgroup {}: {err}", .path.display())]
    Create { path: PathBuf, err: io::Error },
    #[error("cannot open {}: {err}", .path.display())]
    Open { path: PathBuf, err: io::Error },
}

impl crate::exit::Coded for CgroupError {
    fn exit_code(&self) -> i32 {
        crate::exit::ENVIRONMENT
    }
}

/// The cgroup2 mount point, from `/proc/self/mountinfo` (never hard-coded: hybrid systems mount it
/// at /sys/fs/cgroup/unified, unified ones at /sys/fs/cgroup).
pub fn cgroup2_mount() -> Result<PathBuf, CgroupError> {
    let text = fs::read_to_string("/proc/self/mountinfo").map_err(CgroupError::MountInfo)?;
    parse_cgroup2_mount(&text).ok_or(CgroupError::NoCgroup2)
}

fn parse_cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "36 25 0:30 / /sys/fs/cgroup/unified rw,... - cgroup2 cgroup2 rw"
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mount_point = left.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(unescape_octal(mount_point)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        {
            let code = u8::from_str_radix(&field[i + 1..i + 4], 8).unwrap_or(b'?');
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The id the kernel reports for a cgroup directory.
pub fn cgroup_id(path: &Path) -> io::Result<u64> {
    Ok(fs::metadata(path)?.ino())
}

/// A cgroup this process created; removed (after killing what is left in it) on drop.
pub struct OwnedCgroup {
    path: PathBuf,
    id: u64,
}

impl OwnedCgroup {
    /// Creates `<cgroup2 mount>/seccomp-profiler-<pid>-<n>`.
    pub fn create(tag: &str) -> Result<OwnedCgroup, CgroupError> {
        let root = cgroup2_mount()?;
        let path = root.join(format!("seccomp-profiler-{}-{tag}", std::process::id()));
        fs::create_dir(&path).map_err(|err| CgroupError::Create {
            path: path.clone(),
            err,
        })?;
        let id = cgroup_id(&path).map_err(|err| CgroupError::Open {
            path: path.clone(),
            err,
        })?;
        Ok(OwnedCgroup { path, id })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `cgroup.procs` opened for writing: a child joins by writing "0" to it from `pre_exec`.
    pub fn open_procs(&self) -> Result<File, CgroupError> {
        let path = self.path.join("cgroup.procs");
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|err| CgroupError::Open { path, err })
    }

    /// Processes still in the cgroup.
    pub fn pids(&self) -> Vec<u32> {
        fs::read_to_string(self.path.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }

    /// SIGKILLs everything in the cgroup (cgroup.kill, Linux ≥ 5.14; else one kill per pid) and waits
    /// up to two seconds for it to empty. Returns how many processes were left when it was called.
    pub fn kill_all(&self) -> usize {
        let left = self.pids();
        if left.is_empty() {
            return 0;
        }
        if fs::write(self.path.join("cgroup.kill"), "1").is_err() {
            for pid in &left {
                // SAFETY: plain kill(2) on pids read from our own cgroup.
                unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        for _ in 0..200 {
            if self.pids().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        left.len()
    }
}

impl Drop for OwnedCgroup {
    fn drop(&mut self) {
        self.kill_all();
        // rmdir of a just-emptied cgroup can fail with EBUSY for a moment while the kernel finishes
        // tearing down its last task.
        for _ in 0..100 {
            match fs::remove_dir(&self.path) {
                Err(err) if err.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(err) if err.kind() != io::ErrorKind::NotFound => {
                    log::warn!("could not remove cgroup {}: {err}", self.path.display());
                    return;
                }
                _ => return,
            }
        }
        log::warn!(
            "could not remove cgroup {}: still busy",
            self.path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_in_hybrid_mountinfo() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            parse_cgroup2_mount(text),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn finds_cgroup2_with_optional_fields_and_escapes() {
        let text = "29 1 0:26 / /sys/fs/my\\040cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            parse_cgroup2_mount(text),
            Some(PathBuf::from("/sys/fs/my cgroup"))
        );
    }

    #[test]
    fn no_cgroup2() {
        assert_eq!(
            parse_cgroup2_mount("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"),
            None
        );
    }
}
