//! `cargo xtask image`: the tool's own container image, `seccomp-profiler:<version>` and
//! `:latest`, built locally like the test images (`images`: a rootfs, `docker import`). Its
//! contents are the Debian package `dist` builds, unpacked (binary, man pages, completions,
//! copyright), the libraries the binary loads as `ldd` lists them (with their loader), `/tmp`, and
//! an `/etc/passwd` and `/etc/group` naming root and nobody (`--user` resolves names). Nothing
//! else: no shell, no package manager. It is the image a DaemonSet or a CI job runs, so it holds
//! what the tool needs at run time and no test fixtures.
//!
//! Running it needs what the tool needs on a host (README "Container image"): privileges for
//! eBPF, the host's cgroup2 tree and PID namespace, and dockerd's socket for containers. This
//! module only builds it and checks that `--version` runs in it.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::images::{self, DirEntry, Entry, Plan};
use crate::{cmd, dist, dockerd, workspace};

/// The image config: the binary is the entrypoint, `--help` the default command.
const CONFIG: &[&str] = &[
    images::PATH_ENV,
    r#"ENTRYPOINT ["/usr/bin/seccomp-profiler"]"#,
    r#"CMD ["--help"]"#,
];

const PASSWD: &str = "root:x:0:0:root:/root:/usr/sbin/nologin\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// `cargo xtask image`: `dist`'s package, a Docker daemon, then the image.
pub fn run() -> Result<()> {
    if !workspace::is_root() {
        bail!(
            "`cargo xtask image` needs root (the rootfs is owned by root, and dockerd may need starting)"
        );
    }
    let artifacts = dist::build(false)?;
    let dockerd =
        dockerd::ensure_running().context("get a Docker daemon to import the image into")?;
    let result = build(&artifacts.deb).map(|reference| println!("xtask: image {reference} built"));
    if let Some(pid) = dockerd {
        dockerd::left_running_note(pid);
    }
    result
}

/// Build `seccomp-profiler:<version>` (and `:latest`) from the package `deb`; returns the
/// versioned reference. Expects root and a Docker daemon.
pub fn build(deb: &Path) -> Result<String> {
    let dir = workspace::scratch_dir()?.join("images/tool");
    let rootfs = dir.join("rootfs");
    if rootfs.exists() {
        fs::remove_dir_all(&rootfs).with_context(|| format!("remove {}", rootfs.display()))?;
    }
    fs::create_dir_all(&rootfs).with_context(|| format!("create {}", rootfs.display()))?;
    cmd::output(cmd::new("dpkg-deb").arg("-x").arg(deb).arg(&rootfs))
        .with_context(|| format!("unpack {}", deb.display()))?;
    let binary = rootfs.join("usr/bin").join(dist::NAME);
    let binary = binary.to_str().context("a non-UTF-8 scratch path")?;
    let mut entries = vec![Entry::Dir(DirEntry {
        path: "/tmp".to_owned(),
        mode: 0o1777,
        uid: 0,
        gid: 0,
    })];
    for library in images::libraries(binary)? {
        entries.push(Entry::Host {
            path: library,
            origin: String::new(),
        });
    }
    for (path, text) in [("/etc/passwd", PASSWD), ("/etc/group", GROUP)] {
        entries.push(Entry::File {
            path: path.to_owned(),
            mode: 0o644,
            contents: text.as_bytes().to_vec(),
        });
    }
    Plan { entries }
        .materialize(&rootfs)
        .with_context(|| format!("assemble {}", rootfs.display()))?;

    let repository = dist::NAME;
    let reference = format!("{repository}:{}", dist::VERSION);
    let previous = images::image_id(&reference);
    images::import(&rootfs, CONFIG, &reference)?;
    smoke(&reference)?;
    images::tag_latest(&reference, repository)?;
    if let Some(previous) = previous
        && images::image_id(&reference).as_ref() != Some(&previous)
    {
        // Best effort: a container still using the old image keeps it.
        cmd::succeeds(cmd::new("docker").args(["rmi", &previous]));
    }
    Ok(reference)
}

/// `docker run --rm --network none IMAGE --version` must print the version.
pub fn smoke(reference: &str) -> Result<()> {
    let out = cmd::output(cmd::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        reference,
        "--version",
    ]))
    .with_context(|| format!("run `{} --version` in {reference}", dist::NAME))?;
    let printed = String::from_utf8_lossy(&out.stdout);
    if !printed.contains(dist::VERSION) {
        bail!(
            "`{} --version` in {reference} printed {printed:?}, not version {}",
            dist::NAME,
            dist::VERSION
        );
    }
    println!("xtask: {reference}: {}", printed.trim());
    Ok(())
}
