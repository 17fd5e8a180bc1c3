//! Which container runtime installed a filter, from what the kernel saw of the installing task
//! (`tracer::Installer`: the executable's dentry name and inode, and its comm), not from a list of
//! names the user keeps. The executable's name says which program it is (runc 1.1 re-execs from
//! a memfd named `runc_cloned:/proc/self/exe`, so its dentry is `memfd:runc_cloned:…`); the file on
//! disk with the same inode (or, for a memfd copy, the same name on PATH) tells the rest: whether
//! it is a Go program (an ELF `.go.buildinfo` section, which every Go ≥ 1.13 binary carries, is
//! why the Go runtime's timing-dependent syscalls are implied) and its version (`--version`).
//! It runs `--version` of that file and reads it; it decides nothing about profiles.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde::Serialize;

/// The executable of the task whose filter install first opened a target's gate, as the kernel
/// saw it (`mm->exe_file`; read by `tracer`): its last path component (`memfd:<name>` for a
/// memfd), inode number, and the task's comm.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Installer {
    pub exe_name: String,
    pub exe_ino: u64,
    pub comm: String,
}

/// What is known about the runtime that installed a target's filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The program's name (`runc`, `crun`, `youki`, …; `seccomp-profiler` for `record -- CMD`).
    pub name: String,
    /// The first version number its `--version` prints, or None when it could not be run.
    pub version: Option<String>,
    /// A Go program (an ELF `.go.buildinfo` section): its runtime's allocator and scheduler run
    /// under the filter before the entrypoint's exec.
    pub go: bool,
    /// The file identified: by inode (`inode`), by name only for a memfd copy (`name`), or none.
    pub executable: Option<PathBuf>,
    pub matched_by: &'static str,
    /// What the kernel saw: the executable's last path component and the task's comm.
    pub exe_name: String,
    pub comm: String,
}

/// The program name in an executable's dentry name: a memfd's `memfd:<name>` loses its prefix,
/// and a name like `runc_cloned:/proc/self/exe` is cut at the first character that cannot be in
/// a program's name.
pub fn program_name(exe_name: &str) -> &str {
    let base = exe_name.strip_prefix("memfd:").unwrap_or(exe_name);
    if exe_name.starts_with("memfd:") {
        let end = base
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            .unwrap_or(base.len());
        &base[..end]
    } else {
        base
    }
}

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if !dirs.iter().any(|d| d == Path::new(dir)) {
            dirs.push(dir.into());
        }
    }
    dirs
}

/// Identifies the installer; never fails (unknown parts stay None). Remembered per executable
/// (name, inode) for the life of the process: `--containers` may see hundreds of containers
/// started by one runtime, and `--version` need not run for each.
pub fn identify(installer: &Installer) -> Identity {
    static SEEN: std::sync::Mutex<Vec<(Installer, Identity)>> = std::sync::Mutex::new(Vec::new());
    let key = Installer {
        comm: String::new(),
        ..installer.clone()
    };
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, known)) = seen.iter().find(|(k, _)| *k == key) {
        return Identity {
            comm: installer.comm.clone(),
            ..known.clone()
        };
    }
    let identity = identify_uncached(installer);
    seen.push((key, identity.clone()));
    identity
}

fn identify_uncached(installer: &Installer) -> Identity {
    let name = program_name(&installer.exe_name).to_owned();
    let memfd = installer.exe_name.starts_with("memfd:");
    let own_inode = std::fs::metadata("/proc/self/exe").map(|m| m.ino()).ok();
    let mut identity = Identity {
        name: name.clone(),
        exe_name: installer.exe_name.clone(),
        comm: installer.comm.clone(),
        matched_by: "none",
        ..Identity::default()
    };
    if !memfd && own_inode == Some(installer.exe_ino) {
        identity.name = env!("CARGO_PKG_NAME").to_owned();
        identity.version = Some(env!("CARGO_PKG_VERSION").to_owned());
        identity.matched_by = "inode";
        return identity;
    }
    if name.is_empty() {
        return identity;
    }
    let candidates = search_dirs().into_iter().map(|dir| dir.join(&name));
    let found = candidates
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            meta.is_file().then_some((path, meta.ino()))
        })
        .find(|(_, ino)| memfd || *ino == installer.exe_ino);
    if let Some((path, _)) = found {
        identity.go = is_go_binary(&path);
        identity.version = version_of(&path);
        identity.matched_by = if memfd { "name" } else { "inode" };
        identity.executable = Some(path);
    }
    identity
}

/// Whether an ELF file has a `.go.buildinfo` section (64-bit little-endian ELF only).
pub fn is_go_binary(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|data| elf_has_section(&data, b".go.buildinfo"))
}

fn elf_has_section(data: &[u8], wanted: &[u8]) -> bool {
    let u16_at = |at: usize| {
        data.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        data.get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    // ELFCLASS64, ELFDATA2LSB.
    if data.get(..6) != Some(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(shoff), Some(shentsize), Some(shnum), Some(shstrndx)) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e))
    else {
        return false;
    };
    let header = |index: usize| shoff as usize + index * shentsize as usize;
    let Some(strtab) = u64_at(header(shstrndx as usize) + 0x18) else {
        return false;
    };
    (0..shnum as usize).any(|index| {
        u32_at(header(index)).is_some_and(|name| {
            let start = strtab as usize + name as usize;
            data.get(start..start + wanted.len() + 1)
                .is_some_and(|bytes| &bytes[..wanted.len()] == wanted && bytes[wanted.len()] == 0)
        })
    })
}

/// The first word of `--version`'s first line that starts with a digit: `runc version
/// 1.1.5+ds1` → `1.1.5+ds1`, `crun version 1.8.1` → `1.8.1`. Bounded to 5 s.
fn version_of(path: &Path) -> Option<String> {
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    parse_version(&out)
}

pub fn parse_version(output: &str) -> Option<String> {
    output
        .lines()
        .next()?
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_dentries() {
        assert_eq!(program_name("memfd:runc_cloned:/proc/self/exe"), "runc");
        assert_eq!(program_name("crun"), "crun");
        assert_eq!(program_name("youki"), "youki");
        assert_eq!(program_name("memfd:"), "");
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("runc version 1.1.5+ds1\ncommit: x\n").as_deref(),
            Some("1.1.5+ds1")
        );
        assert_eq!(
            parse_version("crun version 1.8.1\ncommit: f8a\n").as_deref(),
            Some("1.8.1")
        );
        assert_eq!(parse_version("no version here\n"), None);
    }

    #[test]
    fn go_binaries_have_buildinfo() {
        // This test binary is Rust: no .go.buildinfo, but it is ELF with sections.
        let own = std::fs::read("/proc/self/exe").expect("read own executable");
        assert!(!elf_has_section(&own, b".go.buildinfo"));
        assert!(elf_has_section(&own, b".text"));
        assert!(!elf_has_section(b"not an elf", b".text"));
    }
}
