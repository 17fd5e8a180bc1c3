//! Where things are: the repository root, the target directory, the release binaries and the
//! scratch directory `target/xtask/`. Owns no policy about what gets built or run.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The repository root (the parent of `xtask/`); every command runs from here.
pub fn root() -> &'static Path {
    // xtask always lives directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` like cargo itself does.
pub fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// The release build of one of the workspace's binaries.
pub fn release_bin(name: &str) -> PathBuf {
    target_dir().join("release").join(name)
}

/// `target/xtask/`, created on demand: pid files, logs and benchmark results.
pub fn scratch_dir() -> Result<PathBuf> {
    let dir = target_dir().join("xtask");
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// Whether we run with effective uid 0 (apt, eBPF, cgroups and dockerd need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
