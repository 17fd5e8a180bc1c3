//! The one way this tool writes a file: profiles, reports, merged and updated profiles, and the
//! files inside a `--containers` directory all go through [`Destination`].
//!
//! A destination is checked when the command line is read, before anything runs, so a long
//! recording never ends in "cannot write": the directory must exist and be writable, the name must
//! be a file name, and two outputs of one run may not name the same file ([`distinct`]). Writing is
//! atomic: a temporary file next to the destination, fsync, rename over it, so a reader sees the old
//! file or the new one and a failed run leaves no half-written file.
//!
//! **It never writes through a symlink.** As root, `-o /tmp/p.json` where any user made
//! `/tmp/p.json -> /etc/passwd` must not touch /etc/passwd, and `fs.protected_symlinks` does not
//! help because a rename never follows a link. A destination whose last component is a symlink is
//! refused with exit 2 and the link named; the temporary file is created with `O_EXCL`, which does
//! not follow links either. The directory is resolved once, when the destination is checked, and
//! the file is created and renamed relative to that open directory, so the directory cannot be
//! swapped for a link between check and write.
//!
//! A character device (`-o /dev/null`) is written in place, since renaming over it would replace
//! the device node; a FIFO is opened without blocking and refused when nobody reads it, instead of
//! hanging. Nothing else that is not a regular file is accepted.

use std::{
    ffi::{CString, OsStr, OsString},
    fs::{self, File},
    io::{self, Write as _},
    os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::{
            ffi::OsStrExt as _,
            fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _},
        },
    },
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use crate::exit;

/// Everything that can be wrong with an output path. All are invalid input (exit 2): the user
/// chooses the path.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "{role} {} is a directory: give a file name, e.g. {}/profile.json",
        .path.display(), .path.display().to_string().trim_end_matches('/')
    )]
    IsDirectory { role: &'static str, path: PathBuf },
    #[error("{role} {} does not name a file: give a file name, e.g. profile.json", .path.display())]
    NotAFileName { role: &'static str, path: PathBuf },
    #[error(
        "{role} directory {} does not exist: create it first (mkdir -p {}) or choose another path",
        .dir.display(), .dir.display()
    )]
    NoDirectory { role: &'static str, dir: PathBuf },
    #[error("cannot use {role} directory {}: {err}; choose a writable directory", .dir.display())]
    Directory {
        role: &'static str,
        dir: PathBuf,
        err: io::Error,
    },
    #[error(
        "{role} {} is a symlink (to {}); seccomp-profiler never writes through a symlink, so that \
         nobody can point an output at another file: give the real path, or remove the link",
        .path.display(), .target.display()
    )]
    Symlink {
        role: &'static str,
        path: PathBuf,
        target: PathBuf,
    },
    #[error(
        "{role} {} is a {kind}, not a regular file: give the path of a file to create or replace",
        .path.display()
    )]
    NotAFile {
        role: &'static str,
        path: PathBuf,
        kind: &'static str,
    },
    #[error(
        "{role} {} is a FIFO that nobody reads: start its reader first, or write to a file",
        .path.display()
    )]
    NoReader { role: &'static str, path: PathBuf },
    #[error(
        "{first} and {second} name the same file {}: give each output its own path",
        .path.display()
    )]
    SameFile {
        first: &'static str,
        second: &'static str,
        path: PathBuf,
    },
    #[error("cannot write the {role} to {}: {err}", .path.display())]
    Write {
        role: &'static str,
        path: PathBuf,
        err: io::Error,
    },
}

impl exit::Coded for OutputError {
    fn exit_code(&self) -> i32 {
        exit::INPUT
    }
}

/// A checked output path: an open directory and a file name in it.
#[derive(Debug)]
pub struct Destination {
    role: &'static str,
    /// As the user gave it, for messages.
    shown: PathBuf,
    dir: OwnedFd,
    /// The directory's (device, inode), to tell two destinations apart.
    dir_key: (u64, u64),
    name: OsString,
}

impl Destination {
    /// Checks `path` as an output (what it is called in messages: `role`, e.g. "profile").
    pub fn check(role: &'static str, path: &Path) -> Result<Destination, OutputError> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.ends_with(b"/") || path.is_dir() {
            return Err(OutputError::IsDirectory {
                role,
                path: path.to_owned(),
            });
        }
        let name = match path.file_name() {
            Some(name) if name != OsStr::new(".") && name != OsStr::new("..") => name.to_owned(),
            _ => {
                return Err(OutputError::NotAFileName {
                    role,
                    path: path.to_owned(),
                });
            }
        };
        let dir_path = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        Destination::open(role, &dir_path, &name, path.to_owned())
    }

    /// `name` inside the directory `dir` (for `--containers`, whose files are named later).
    pub fn in_dir(
        role: &'static str,
        dir: &Path,
        name: &OsStr,
    ) -> Result<Destination, OutputError> {
        Destination::open(role, dir, name, dir.join(name))
    }

    fn open(
        role: &'static str,
        dir: &Path,
        name: &OsStr,
        shown: PathBuf,
    ) -> Result<Destination, OutputError> {
        let (fd, dir_key) = open_dir(role, dir)?;
        let destination = Destination {
            role,
            shown,
            dir: fd,
            dir_key,
            name: name.to_owned(),
        };
        destination.check_existing()?;
        Ok(destination)
    }

    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// What is at the destination now must be replaceable: nothing, a regular file, or a device
    /// or FIFO written in place. Never a symlink.
    fn check_existing(&self) -> Result<(), OutputError> {
        let Some(meta) = self.lstat() else {
            return Ok(());
        };
        let file_type = meta.file_type();
        let kind = if file_type.is_symlink() {
            let target =
                fs::read_link(self.proc_path(&self.name)).unwrap_or_else(|_| PathBuf::from("?"));
            return Err(OutputError::Symlink {
                role: self.role,
                path: self.shown.clone(),
                target,
            });
        } else if file_type.is_file() || file_type.is_char_device() || file_type.is_fifo() {
            return Ok(());
        } else if file_type.is_dir() {
            "directory"
        } else if file_type.is_block_device() {
            "block device"
        } else if file_type.is_socket() {
            "socket"
        } else {
            "special file"
        };
        Err(OutputError::NotAFile {
            role: self.role,
            path: self.shown.clone(),
            kind,
        })
    }

    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; None when nothing is there.
    fn lstat(&self) -> Option<fs::Metadata> {
        // The directory fd is resolved already; /proc/self/fd/N/NAME reaches the entry without
        // resolving the directory's path again, and symlink_metadata does not follow NAME.
        fs::symlink_metadata(self.proc_path(&self.name)).ok()
    }

    fn proc_path(&self, name: &OsStr) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd())).join(name)
    }

    /// Writes `bytes` atomically (see the module docs).
    pub fn write(&self, bytes: &[u8]) -> Result<(), OutputError> {
        let fail = |err: io::Error| OutputError::Write {
            role: self.role,
            path: self.shown.clone(),
            err,
        };
        self.check_existing()?;
        match self.lstat() {
            Some(meta) if meta.file_type().is_char_device() => {
                return self.write_in_place(bytes, false).map_err(fail);
            }
            Some(meta) if meta.file_type().is_fifo() => {
                return match self.write_in_place(bytes, true) {
                    Err(err) if err.raw_os_error() == Some(libc::ENXIO) => {
                        Err(OutputError::NoReader {
                            role: self.role,
                            path: self.shown.clone(),
                        })
                    }
                    other => other.map_err(fail),
                };
            }
            Some(meta) => self.replace(bytes, Some(meta.mode() & 0o7777)),
            None => self.replace(bytes, None),
        }
        .map_err(fail)
    }

    /// A device or FIFO: opened without following a link, written, not renamed over.
    fn write_in_place(&self, bytes: &[u8], nonblocking: bool) -> io::Result<()> {
        let mut flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY;
        if nonblocking {
            flags |= libc::O_NONBLOCK;
        }
        let mut file = File::from(self.openat(&self.name, flags, 0)?);
        if nonblocking {
            // A reader exists: block on a full pipe like any writer would.
            set_blocking(&file)?;
        }
        file.write_all(bytes)
    }

    /// Temporary file in the same directory, fsync, rename over the name.
    fn replace(&self, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let (tmp_name, file) = loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut tmp_name = OsString::from(".");
            tmp_name.push(&self.name);
            tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
            // O_EXCL: never reuse, or follow, anything someone else put at that name.
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
            match self.openat(&tmp_name, flags, 0o644) {
                Ok(fd) => break (tmp_name, File::from(fd)),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 1000 => continue,
                Err(err) => return Err(err),
            }
        };
        let result = (|| {
            let mut file = file;
            if let Some(mode) = mode {
                file.set_permissions(fs::Permissions::from_mode(mode))?;
            }
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            self.renameat(&tmp_name, &self.name)
        })();
        match result {
            Ok(()) => {
                // Make the rename itself durable; a failure here loses nothing already written.
                // SAFETY: fsync on a directory fd we own.
                unsafe { libc::fsync(self.dir.as_raw_fd()) };
                Ok(())
            }
            Err(err) => {
                let _ = self.unlinkat(&tmp_name);
                Err(err)
            }
        }
    }

    fn openat(&self, name: &OsStr, flags: i32, mode: libc::mode_t) -> io::Result<OwnedFd> {
        let name = c_name(name)?;
        // SAFETY: a valid directory fd and NUL-terminated name; the returned fd is checked.
        let fd = unsafe { libc::openat(self.dir.as_raw_fd(), name.as_ptr(), flags, mode) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nothing else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn renameat(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let (from, to) = (c_name(from)?, c_name(to)?);
        let dir = self.dir.as_raw_fd();
        // SAFETY: a valid directory fd and two NUL-terminated names.
        if unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn unlinkat(&self, name: &OsStr) -> io::Result<()> {
        let name = c_name(name)?;
        // SAFETY: a valid directory fd and a NUL-terminated name.
        if unsafe { libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr(), 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether two destinations name the same file.
    fn same_file(&self, other: &Destination) -> bool {
        self.dir_key == other.dir_key && self.name == other.name
    }
}

/// Refuses two outputs of one run that name the same file (`--report` equal to `-o` would replace
/// the profile with the report).
pub fn distinct(destinations: &[&Destination]) -> Result<(), OutputError> {
    for (i, first) in destinations.iter().enumerate() {
        if let Some(second) = destinations[i + 1..].iter().find(|d| first.same_file(d)) {
            return Err(OutputError::SameFile {
                first: first.role,
                second: second.role,
                path: second.shown.clone(),
            });
        }
    }
    Ok(())
}

/// A directory that receives outputs (`record --containers -o DIR`): created if missing (its
/// parent must exist), and checked writable.
pub fn ensure_dir(role: &'static str, dir: &Path) -> Result<(), OutputError> {
    if fs::symlink_metadata(dir).is_ok_and(|meta| meta.file_type().is_symlink()) && !dir.is_dir() {
        return Err(OutputError::NotAFile {
            role,
            path: dir.to_owned(),
            kind: "dangling symlink",
        });
    }
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|err| OutputError::Directory {
            role,
            dir: dir.to_owned(),
            err,
        })?;
    }
    open_dir(role, dir).map(drop)
}

fn open_dir(role: &'static str, dir: &Path) -> Result<(OwnedFd, (u64, u64)), OutputError> {
    let meta = fs::metadata(dir).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => OutputError::NoDirectory {
            role,
            dir: dir.to_owned(),
        },
        _ => OutputError::Directory {
            role,
            dir: dir.to_owned(),
            err,
        },
    })?;
    let directory_error = |err: io::Error| OutputError::Directory {
        role,
        dir: dir.to_owned(),
        err,
    };
    if !meta.is_dir() {
        return Err(directory_error(io::Error::from_raw_os_error(libc::ENOTDIR)));
    }
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| directory_error(io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: a NUL-terminated path; the fd is checked before use.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(directory_error(io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just returned by open and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: access(2) on a NUL-terminated path has no other precondition.
    if unsafe { libc::access(path.as_ptr(), libc::W_OK) } != 0 {
        return Err(directory_error(io::Error::last_os_error()));
    }
    Ok((fd, (meta.dev(), meta.ino())))
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on an fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Writes `bytes` to `path` through a [`Destination`] checked now. For outputs decided late
/// (e.g. `check --update` of a profile already loaded); prefer checking before the run.
pub fn write_file(role: &'static str, path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    Destination::check(role, path)?.write(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn replaces_atomically_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        write_file("profile", &path, b"one").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_file("profile", &path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"secret").unwrap();
        let link = dir.path().join("p.json");
        symlink(&victim, &link).unwrap();
        let err = write_file("profile", &link, b"{}").unwrap_err();
        assert!(matches!(err, OutputError::Symlink { .. }), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"secret");
        // A link made after the check is refused at write time too.
        let later = dir.path().join("q.json");
        let destination = Destination::check("report", &later).unwrap();
        symlink(&victim, &later).unwrap();
        assert!(destination.write(b"{}").is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"secret");
        // A dangling link is refused as well (it would create the file it points to).
        let dangling = dir.path().join("d.json");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(Destination::check("profile", &dangling).is_err());
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn checks_paths_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let err = Destination::check("profile", &dir.path().join("newdir/")).unwrap_err();
        assert!(matches!(err, OutputError::IsDirectory { .. }), "{err}");
        let err = Destination::check("profile", &dir.path().join("missing/p.json")).unwrap_err();
        assert!(matches!(err, OutputError::NoDirectory { .. }), "{err}");
        assert!(err.to_string().contains("mkdir -p"), "{err}");
        let err = Destination::check("profile", dir.path()).unwrap_err();
        assert!(matches!(err, OutputError::IsDirectory { .. }), "{err}");
    }

    #[test]
    fn two_outputs_may_not_name_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = Destination::check("profile", &dir.path().join("p.json")).unwrap();
        let b = Destination::check("report", &dir.path().join("./p.json")).unwrap();
        let c = Destination::check("report", &dir.path().join("r.json")).unwrap();
        assert!(distinct(&[&a, &c]).is_ok());
        let err = distinct(&[&a, &c, &b]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "profile and report name the same file {}: give each output its own path",
                dir.path().join("./p.json").display()
            )
        );
    }

    #[test]
    fn devices_are_written_in_place_and_fifos_without_a_reader_refused() {
        write_file("profile", Path::new("/dev/null"), b"x").unwrap();
        assert!(Path::new("/dev/null").exists());
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = write_file("profile", &fifo, b"x").unwrap_err();
        assert!(matches!(err, OutputError::NoReader { .. }), "{err}");
    }
}
