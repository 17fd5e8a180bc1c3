//! Builds the eBPF object (profiler-ebpf, nightly, bpfel-unknown-none) with aya-build; the result is
//! embedded by `lib.rs` from OUT_DIR. Userspace stays on stable. Without the default `ebpf` feature
//! (the fuzz targets) nothing is built.
//!
//! It also says what was built, for `--version` (`cli.rs`): the commit and its date, the aya,
//! aya-ebpf and libseccomp crate versions from Cargo.lock, rustc's version and the target. A source
//! tree without `.git` (a tarball) says `unknown` rather than failing. The script reruns only when
//! HEAD or the branch it names moves, or Cargo.lock changes, so a build is never dirty just
//! because it asked git.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn main() -> anyhow::Result<()> {
    #[cfg(feature = "ebpf")]
    {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiler-ebpf");
        let package = aya_build::Package {
            name: "profiler-ebpf",
            root_dir: root,
            ..Default::default()
        };
        aya_build::build_ebpf([package], aya_build::Toolchain::default())?;
    }
    build_info();
    Ok(())
}

/// When set, `SP_BUILD_COMMIT` verbatim instead of asking git (`<hash> <date>`).
const COMMIT_OVERRIDE: &str = "SECCOMP_PROFILER_BUILD_COMMIT";

/// Sets the `SP_BUILD_*` variables `cli.rs` reads with `env!`. `SP_BUILD_COMMIT` is `<hash> <date>`
/// or `commit unknown`.
fn build_info() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // `cargo xtask dist` builds a second time from a copy of the source without `.git` and
    // must get the same bytes, so it names the commit itself.
    println!("cargo:rerun-if-env-changed={COMMIT_OVERRIDE}");
    let commit = match std::env::var(COMMIT_OVERRIDE) {
        Ok(given) if !given.trim().is_empty() => given.trim().to_owned(),
        _ => commit(&workspace).map_or_else(
            || "commit unknown".to_owned(),
            |(hash, date)| format!("{hash} {date}"),
        ),
    };
    println!("cargo:rustc-env=SP_BUILD_COMMIT={commit}");

    let lock = workspace.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let lock = std::fs::read_to_string(&lock).unwrap_or_default();
    for (var, krate) in [
        ("SP_BUILD_AYA", "aya"),
        ("SP_BUILD_AYA_EBPF", "aya-ebpf"),
        ("SP_BUILD_LIBSECCOMP", "libseccomp"),
    ] {
        let version = locked_version(&lock, krate).unwrap_or("unknown");
        println!("cargo:rustc-env={var}={version}");
    }

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc =
        output(Command::new(rustc).arg("--version")).unwrap_or_else(|| "rustc unknown".into());
    println!("cargo:rustc-env=SP_BUILD_RUSTC={rustc}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=SP_BUILD_TARGET={target}");
}

/// The abbreviated commit and its date (`YYYY-MM-DD`, the commit's, so a rebuild says the same),
/// when `workspace` is the top of a git work tree; None for a tarball, or one unpacked inside some
/// other repository.
fn commit(workspace: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| output(Command::new("git").arg("-C").arg(workspace).args(args));
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    if top.canonicalize().ok()? != workspace.canonicalize().ok()? {
        return None;
    }
    // What moves when a commit is made or checked out: HEAD, and the branch it names (a loose ref
    // file, or packed-refs once `git gc` packed it). Nothing that changes on every edit.
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    // Relative to the work tree's top in a plain clone (`.git`), absolute in a linked worktree.
    let common_dir = git(&["rev-parse", "--git-common-dir"]).map(|dir| workspace.join(dir))?;
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let loose = common_dir.join(&branch);
        let watched = if loose.is_file() {
            loose
        } else {
            common_dir.join("packed-refs")
        };
        if watched.is_file() {
            println!("cargo:rerun-if-changed={}", watched.display());
        }
    }
    let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
    let date = git(&["log", "-1", "--format=%cs", "HEAD"])?;
    Some((hash, date))
}

/// The version Cargo.lock pins for `krate` (the first entry of that name).
fn locked_version<'a>(lock: &'a str, krate: &str) -> Option<&'a str> {
    let name = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == name)?;
    lines
        .next()?
        .trim()
        .strip_prefix("version = \"")?
        .strip_suffix('"')
}

/// A command's trimmed stdout when it succeeds with some.
fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}
