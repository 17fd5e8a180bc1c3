//! `cargo xtask image`: the tool's own container image, `seccomp-profiler:<version>` and
//! `:latest`, built locally like the test images (`images`: a rootfs, `docker import`). Its
//! contents are the Debian package `dist` builds, unpacked (binary, man pages, completions,
//! copyright), the libraries the binary loads as `ldd` lists them (with their loader), `/tmp`, and
//! an `/etc/passwd` and `/etc/group` naming root and nobody (`--user` resolves names). Nothing
//! else: no shell, no package manager. It is the image a DaemonSet or a CI job runs, so it holds
//! what the tool needs at run time and no test fixtures.
//!
//! Running it needs what the tool needs on a host (README "Container image", [`RECORD_OPTIONS`]):
//! privileges for eBPF, the host's cgroup2 tree and BTF, and for containers dockerd's socket and
//! the host's PID namespace. After building, it checks that `--version` runs in it and that
//! `record -- CMD` records inside it.

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
    record_smoke(&reference)?;
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

/// What `docker run` needs for the tool to record from inside its image on this kind of host:
/// eBPF and cgroup creation (CAP_SYS_ADMIN), no seccomp or AppArmor filter in the way of `bpf()`,
/// and the host's cgroup2 tree and BTF. (`--privileged` would do too where dockerd may grant
/// every capability; this machine's may not.) `--containers` also needs dockerd's socket and
/// `--pid host`.
pub const RECORD_OPTIONS: &[&str] = &[
    "--cap-add",
    "SYS_ADMIN",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--cgroupns",
    "host",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup",
    "-v",
    "/sys/kernel/btf:/sys/kernel/btf:ro",
];

/// The image records: `record -o /out/p.json -- seccomp-profiler --version` inside it gives a
/// profile that allows `write` (the version line) and `execve`.
pub fn record_smoke(reference: &str) -> Result<()> {
    let out_dir = workspace::scratch_dir()?.join("images/tool/record");
    if out_dir.exists() {
        fs::remove_dir_all(&out_dir).with_context(|| format!("remove {}", out_dir.display()))?;
    }
    fs::create_dir_all(&out_dir).with_context(|| format!("create {}", out_dir.display()))?;
    let volume = format!("{}:/out", out_dir.display());
    cmd::output(
        cmd::new("docker")
            .args(["run", "--rm", "--network", "none"])
            .args(RECORD_OPTIONS)
            .args(["-v", &volume, reference])
            .args(["record", "-o", "/out/p.json", "--"])
            .args([&format!("/usr/bin/{}", dist::NAME), "--version"]),
    )
    .with_context(|| format!("record inside {reference}"))?;
    let profile = out_dir.join("p.json");
    let json: serde_json::Value = serde_json::from_slice(
        &fs::read(&profile).with_context(|| format!("read {}", profile.display()))?,
    )
    .context("parse the profile recorded inside the image")?;
    let allowed: Vec<&str> = json["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|rule| rule["names"].as_array().into_iter().flatten())
        .filter_map(serde_json::Value::as_str)
        .collect();
    if !(allowed.contains(&"write") && allowed.contains(&"execve")) {
        bail!("the profile recorded inside {reference} lacks write or execve: {allowed:?}");
    }
    println!(
        "xtask: {reference}: records from inside the image ({} syscalls allowed for `--version`)",
        allowed.len()
    );
    Ok(())
}
