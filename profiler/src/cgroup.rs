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
    mount_points(mountinfo, "cgroup2").next()
}

/// Where filesystems of type `fstype` (`tracefs`, `bpf`, `cgroup`, …) are mounted, from
/// `/proc/self/mountinfo`.
pub fn mounts_of(fstype: &str) -> io::Result<Vec<PathBuf>> {
    let text = fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mount_points(&text, fstype).collect())
}

fn mount_points<'a>(mountinfo: &'a str, fstype: &'a str) -> impl Iterator<Item = PathBuf> + 'a {
    mountinfo.lines().filter_map(move |line| {
        // "36 25 0:30 / /sys/fs/cgroup/unified rw,... - cgroup2 cgroup2 rw"
        let (left, right) = line.split_once(" - ")?;
        let kind = right.split_whitespace().next()?;
        let mount_point = left.split_whitespace().nth(4)?;
        (kind == fstype).then(|| PathBuf::from(unescape_octal(mount_point)))
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

/// Every cgroup a recorder makes is
/// `<cgroup2 mount>/seccomp-profiler-<recorder pid>-pidns<inode>-<tag>`: the pid tells
/// [`remove_stale`] whether its recorder is still alive, and the PID namespace says whether that
/// pid can be looked up here at all. A recorder in a container (its own PID namespace) sees the
/// host's cgroup tree but not the host's recorders: their cgroups are never its to remove.
const OWNED_PREFIX: &str = "seccomp-profiler-";

/// The inode of this process's PID namespace (0 when /proc does not say).
fn pid_namespace() -> u64 {
    fs::metadata("/proc/self/ns/pid").map_or(0, |meta| meta.ino())
}

/// What `/proc/PID/comm` says for a recorder (the kernel keeps 15 bytes of the name).
const RECORDER_COMM: &str = "seccomp-profile";

/// Processes in the cgroup at `dir`.
pub fn pids(dir: &Path) -> Vec<u32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// SIGKILLs everything in the cgroup at `dir` (cgroup.kill, Linux ≥ 5.14; else one kill per pid)
/// and waits up to two seconds for it to empty. Returns how many processes were in it.
pub fn kill(dir: &Path) -> usize {
    let left = pids(dir);
    if left.is_empty() {
        return 0;
    }
    if fs::write(dir.join("cgroup.kill"), "1").is_err() {
        for pid in &left {
            // SAFETY: plain kill(2) on pids read from the cgroup.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
    }
    for _ in 0..200 {
        if pids(dir).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    left.len()
}

/// Moves the calling process to the root of the cgroup2 hierarchy (as this process sees it):
/// before the cgroup it [joined](OwnedCgroup::join) is removed, which kills what is left in it.
pub fn leave_to_root() -> Result<(), CgroupError> {
    move_self(&cgroup2_mount()?)
}

/// Moves the calling process (every thread of it) into the cgroup at `dir`.
fn move_self(dir: &Path) -> Result<(), CgroupError> {
    let pid = std::process::id().to_string();
    fs::write(dir.join("cgroup.procs"), pid).map_err(|err| CgroupError::Open {
        path: dir.join("cgroup.procs"),
        err,
    })
}

/// Removes an emptied cgroup; rmdir of a just-emptied cgroup can fail with EBUSY for a moment
/// while the kernel finishes tearing down its last task.
fn remove(dir: &Path) -> io::Result<()> {
    for _ in 0..100 {
        match fs::remove_dir(dir) {
            Err(err) if err.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            other => return other,
        }
    }
    Err(io::Error::from_raw_os_error(libc::EBUSY))
}

/// Removes the cgroups of recorders that are gone (killed with SIGKILL, so they could not clean
/// up), after killing what is still running in them, and says so on stderr. A recorder is gone
/// when its pid is not alive or now belongs to another program.
pub fn remove_stale() {
    let Ok(root) = cgroup2_mount() else { return };
    let Ok(entries) = fs::read_dir(&root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = stale_owner(&name) else {
            continue;
        };
        let dir = entry.path();
        let killed = kill(&dir);
        let what = match remove(&dir) {
            Ok(()) => "removed",
            Err(err) => {
                log::warn!("could not remove stale cgroup {}: {err}", dir.display());
                continue;
            }
        };
        let owner = if name.ends_with("-host") {
            "host tracer"
        } else {
            "recorder"
        };
        crate::output::summary::note(&format!(
            "seccomp-profiler: {what} cgroup {} left by a {owner} (pid {pid}) that is gone{}",
            dir.display(),
            if killed > 0 {
                format!("; killed the {killed} process(es) still in it")
            } else {
                String::new()
            }
        ));
    }
}

/// The pid of the recorder that made the cgroup `name`, if that recorder is gone. A cgroup made
/// in another PID namespace (or by a version that did not name its namespace) is never stale here.
fn stale_owner(name: &str) -> Option<u32> {
    stale_owner_in(name, pid_namespace())
}

fn stale_owner_in(name: &str, pid_namespace: u64) -> Option<u32> {
    let mut fields = name.strip_prefix(OWNED_PREFIX)?.split('-');
    let pid: u32 = fields.next()?.parse().ok()?;
    let namespace: u64 = fields.next()?.strip_prefix("pidns")?.parse().ok()?;
    if namespace != pid_namespace {
        return None;
    }
    let alive = fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim_end() == RECORDER_COMM);
    (!alive && pid != std::process::id()).then_some(pid)
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
        let path = root.join(format!(
            "{OWNED_PREFIX}{}-pidns{}-{tag}",
            std::process::id(),
            pid_namespace()
        ));
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

    /// Moves the calling process (every thread of it) into this cgroup.
    pub fn join(&self) -> Result<(), CgroupError> {
        move_self(&self.path)
    }

    /// Processes still in the cgroup.
    pub fn pids(&self) -> Vec<u32> {
        pids(&self.path)
    }

    /// SIGKILLs everything in the cgroup; see [`kill`].
    pub fn kill_all(&self) -> usize {
        kill(&self.path)
    }
}

impl Drop for OwnedCgroup {
    fn drop(&mut self) {
        self.kill_all();
        if let Err(err) = remove(&self.path) {
            log::warn!("could not remove cgroup {}: {err}", self.path.display());
        }
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
    fn only_gone_recorders_are_stale() {
        let ns = pid_namespace();
        assert_ne!(ns, 0);
        assert_eq!(stale_owner("docker"), None);
        assert_eq!(
            stale_owner(&format!("seccomp-profiler-x-pidns{ns}-cmd")),
            None
        );
        let me = std::process::id();
        assert_eq!(
            stale_owner(&format!("seccomp-profiler-{me}-pidns{ns}-cmd")),
            None
        );
        // pid 1 is alive and is not a recorder: its name was reused, so the cgroup is stale.
        assert_eq!(
            stale_owner(&format!("seccomp-profiler-1-pidns{ns}-cmd")),
            Some(1)
        );
        // Beyond pid_max: nobody has it.
        assert_eq!(
            stale_owner(&format!("seccomp-profiler-99999999-pidns{ns}-cmd")),
            Some(99_999_999)
        );
    }

    #[test]
    fn recorders_of_another_pid_namespace_are_never_stale() {
        // A recorder in a container sees the host's cgroups but not the host's pids.
        assert_eq!(
            stale_owner_in("seccomp-profiler-99999999-pidns7-cmd", 8),
            None
        );
        assert_eq!(
            stale_owner_in("seccomp-profiler-99999999-pidns7-cmd", 7),
            Some(99_999_999)
        );
        // Named before namespaces were: left alone rather than guessed at.
        assert_eq!(stale_owner_in("seccomp-profiler-99999999-cmd", 7), None);
    }

    #[test]
    fn no_cgroup2() {
        assert_eq!(
            parse_cgroup2_mount("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"),
            None
        );
    }
}
