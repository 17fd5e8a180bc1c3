//! Transitional: the writer `record` and `check` still use. It follows a symlink at the
//! destination, which `output::writer` (the one way to write a file) refuses to do; delete this
//! file once record.rs and check.rs write through `output::writer`. Nothing in the profile model
//! writes files.

use std::{
    ffi::OsString,
    fs::{self, OpenOptions},
    io::{self, Write as _},
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a part: a
/// temporary file in the same directory, fsync, rename over `path`. The temporary file is removed
/// on any error. An existing file's permissions are kept.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // Not a regular file (`-o /dev/null`, a FIFO, `-o /dev/stdout`): write in place. Renaming over
    // it would replace the device node itself — seen here with `-o /dev/null` as root, after which
    // containers given the host's /dev/null as stdin had runc chown a regular file.
    if let Ok(meta) = fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        return OpenOptions::new().write(true).open(path)?.write_all(bytes);
    }
    // A symlink to a regular file: replace the file it points to, and keep the link.
    if fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
        && let Ok(target) = fs::canonicalize(path)
    {
        return replace_file(&target, bytes);
    }
    replace_file(path, bytes)
}

/// Writes a temporary file next to `path`, syncs it and renames it over `path`.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (tmp, mut file) = loop {
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        // create_new: never follow or reuse someone else's file at that name.
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => break (tmp, file),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 1000 => continue,
            Err(err) => return Err(err),
        }
    };
    let result = (|| {
        if let Ok(meta) = fs::metadata(path)
            && meta.is_file()
        {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    match result {
        Ok(()) => {
            // Make the rename itself durable; a failure here loses nothing already written.
            if let Ok(dir) = fs::File::open(dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        }
        Err(err) => {
            let _ = fs::remove_file(&tmp);
            Err(err)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("profile.json")]);

        // Renaming over a directory fails: nothing may be left behind.
        let target = dir.path().join("a-dir");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"x").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![OsString::from("a-dir"), OsString::from("profile.json")]
        );

        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }

    #[test]
    fn atomic_write_keeps_devices_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        // A FIFO stands in for /dev/null: it must still be a FIFO afterwards, and get the bytes.
        let fifo = dir.path().join("fifo");
        let cpath = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: cpath is a valid C string.
        assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || fs::read(fifo).unwrap()
        });
        write_atomic(&fifo, b"through").unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        use std::os::unix::fs::FileTypeExt as _;
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

        // A symlink to a file: the file is replaced, the link stays a link.
        let real = dir.path().join("real.json");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");

        write_atomic(Path::new("/dev/null"), b"discarded").unwrap();
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}
