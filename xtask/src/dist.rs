//! `cargo xtask dist`: the release artefacts, reproducibly — a Debian package and a tarball of the
//! same files, plus `SHA256SUMS`, in `target/dist/`. Both hold the binary, one man page per
//! command (clap_mangen, from the CLI's own clap types), the bash, zsh and fish completions (from
//! the built binary's `completions SHELL`), the README and the copyright file; the package
//! depends on what the binary links (`dpkg-shlibdeps`: libc6, libgcc-s1, libseccomp2, each at the
//! lowest version whose symbols it uses).
//!
//! Same commit, same bytes: the build runs rustc through a wrapper that remaps the checkout,
//! `CARGO_HOME` and `RUSTUP_HOME` (the embedded eBPF object's debug info names its sources, and
//! aya-build replaces `RUSTFLAGS` for that build, so `RUSTFLAGS` cannot carry the remapping), every
//! file gets the last commit's time (`SOURCE_DATE_EPOCH`) and fixed modes, archives are sorted and
//! owned by root, and gzip stores no name or time. `--check` proves it: it copies the source to a
//! second path, rebuilds the workspace's own crates from there (`cargo clean -p` first, so they
//! really are rebuilt) and fails unless every artefact is byte-identical.
//!
//! It installs nothing and needs no root; the install check lives in `test`'s `dist` stage.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::CommandFactory as _;

use crate::{cmd, prereqs, workspace};

pub const NAME: &str = "seccomp-profiler";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Who the package names as its maintainer (a required field). The workspace's `repository` is
/// `example.invalid` too: replace both when the project gets a home.
const MAINTAINER: &str = "seccomp-profiler developers <seccomp-profiler@example.invalid>";

/// The artefacts of one run, in the directory they were written to.
pub struct Artifacts {
    pub deb: PathBuf,
    pub tarball: PathBuf,
    pub sums: PathBuf,
}

impl Artifacts {
    fn files(&self) -> [&Path; 3] {
        [&self.deb, &self.tarball, &self.sums]
    }
}

/// `cargo xtask dist [--check]`.
pub fn run(check: bool) -> Result<()> {
    prereqs::ensure(prereqs::Set::Build)?;
    let started = Instant::now();
    let artifacts = build(check)?;
    for file in artifacts.files() {
        println!("xtask: dist: {}", cmd::relative(file.as_os_str()));
    }
    print!("{}", fs::read_to_string(&artifacts.sums)?);
    println!("xtask: dist: done in {:.0?}", started.elapsed());
    Ok(())
}

/// Build and package into `target/dist/`; with `check`, build again from a copy of the source at
/// another path and fail unless every artefact is byte-identical.
pub fn build(check: bool) -> Result<Artifacts> {
    let dist = workspace::target_dir().join("dist");
    let cargo_target = dist.join("cargo");
    // Read once: a commit made while this runs must not change the second build's stamp.
    let stamp = Stamp {
        epoch: source_date_epoch()?,
        commit: commit(),
        version_commit: version_commit(),
    };
    let first = build_from(workspace::root(), &cargo_target, &dist, &stamp)?;
    if check {
        let copy = dist.join("check/src");
        copy_source(&copy)?;
        // The crates of the workspace are rebuilt from the copy (its path differs, which is
        // the point); the registry's crates are shared, their paths are the same anyway.
        cmd::run(
            cmd::cargo()
                .current_dir(&copy)
                .args(["clean", "--release", "--target-dir"])
                .arg(&cargo_target)
                .args(["-p", "seccomp-profiler", "-p", "profiler-common"])
                .args(["-p", "profiler-ebpf"]),
        )?;
        let second = build_from(&copy, &cargo_target, &dist.join("check/out"), &stamp)?;
        compare(&first, &second)?;
    }
    Ok(first)
}

/// What the artefacts say about their source: every time stamp is `epoch`.
struct Stamp {
    epoch: u64,
    commit: String,
    /// What `--version` names (`<12-digit hash> <commit date>`), handed to both builds.
    version_commit: String,
}

/// `SOURCE_DATE_EPOCH` when set, else the committer time of `HEAD`.
fn source_date_epoch() -> Result<u64> {
    if let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH") {
        return value
            .to_string_lossy()
            .parse()
            .context("SOURCE_DATE_EPOCH is not a number of seconds");
    }
    let out = cmd::output(cmd::new("git").args(["log", "-1", "--format=%ct", "HEAD"])).context(
        "read the time of the last commit (set SOURCE_DATE_EPOCH outside a git checkout)",
    )?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("parse `git log -1 --format=%ct`")
}

/// The `--version` commit as `profiler/build.rs` words it from git, or `commit unknown`.
fn version_commit() -> String {
    cmd::output(cmd::new("git").args(["log", "-1", "--abbrev=12", "--format=%h %cs", "HEAD"]))
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .ok()
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "commit unknown".to_owned())
}

fn commit() -> String {
    cmd::output(cmd::new("git").args(["rev-parse", "HEAD"]))
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The files of the working tree that git tracks or would track (ignored ones left out), copied
/// to `to` (emptied first).
fn copy_source(to: &Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to).with_context(|| format!("remove {}", to.display()))?;
    }
    let out = cmd::output(cmd::new("git").args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]))?;
    for name in out.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name);
        let from = workspace::root().join(&*name);
        // A file deleted but not yet committed is still listed by --cached.
        if !from.exists() {
            continue;
        }
        let dest = to.join(&*name);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        fs::copy(&from, &dest)
            .with_context(|| format!("copy {} to {}", from.display(), dest.display()))?;
    }
    Ok(())
}

/// Release-build the binary from the workspace at `src` and write the artefacts to `out`.
fn build_from(src: &Path, cargo_target: &Path, out: &Path, stamp: &Stamp) -> Result<Artifacts> {
    fs::create_dir_all(cargo_target)
        .with_context(|| format!("create {}", cargo_target.display()))?;
    let wrapper = cargo_target.join("remap-rustc");
    write_file(
        &wrapper,
        remap_wrapper(src, cargo_target)?.as_bytes(),
        0o755,
    )?;
    cmd::run(
        cmd::cargo()
            .current_dir(src)
            .env("CARGO_TARGET_DIR", cargo_target)
            .env("RUSTC_WRAPPER", &wrapper)
            .env("SOURCE_DATE_EPOCH", stamp.epoch.to_string())
            // The copy the check builds from has no `.git`: both builds name the same commit.
            .env("SECCOMP_PROFILER_BUILD_COMMIT", &stamp.version_commit)
            .args(["build", "--release", "--locked", "-p", NAME, "--bin", NAME]),
    )?;
    let binary = cargo_target.join("release").join(NAME);
    package(&binary, out, stamp)
}

/// A `RUSTC_WRAPPER` that appends the remappings; the last matching `--remap-path-prefix` wins,
/// so the target directory (inside the checkout for the first build) comes last.
fn remap_wrapper(src: &Path, cargo_target: &Path) -> Result<String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let from_env = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    let mut maps = Vec::new();
    if let Some(rustup) = from_env("RUSTUP_HOME", ".rustup") {
        maps.push((rustup, "/rustup"));
    }
    if let Some(cargo) = from_env("CARGO_HOME", ".cargo") {
        maps.push((cargo, "/cargo"));
    }
    maps.push((src.to_path_buf(), "/build/seccomp-profiler"));
    maps.push((cargo_target.to_path_buf(), "/build/target"));
    let mut script = String::from(
        "#!/bin/sh\n# Written by `cargo xtask dist`: rustc with this machine's paths remapped, so \
         that the binary and\n# its embedded eBPF object are the same bytes wherever the \
         checkout is.\nrustc=\"$1\"\nshift\nexec \"$rustc\" \"$@\"",
    );
    for (from, to) in maps {
        let from = fs::canonicalize(&from).unwrap_or(from);
        let from = from
            .to_str()
            .context("a non-UTF-8 path cannot be remapped")?;
        if from.contains('\'') {
            bail!("cannot remap a path with a quote in it: {from}");
        }
        let _ = write!(script, " '--remap-path-prefix={from}={to}'");
    }
    script.push('\n');
    Ok(script)
}

/// Everything packaged, as `(path below the install prefix, contents, mode)`; paths use the
/// Debian layout (`usr/…`), the tarball maps them to its own.
struct Payload {
    files: Vec<(String, Vec<u8>, u32)>,
    depends: String,
}

fn payload(binary: &Path, stamp: &Stamp) -> Result<Payload> {
    let mut files = vec![(
        format!("usr/bin/{NAME}"),
        fs::read(binary).with_context(|| format!("read {}", binary.display()))?,
        0o755,
    )];
    for (name, page) in man_pages(stamp.epoch)? {
        files.push((format!("usr/share/man/man1/{name}.gz"), gzip(&page)?, 0o644));
    }
    for (shell, path) in [
        (
            "bash",
            format!("usr/share/bash-completion/completions/{NAME}"),
        ),
        ("zsh", format!("usr/share/zsh/vendor-completions/_{NAME}")),
        (
            "fish",
            format!("usr/share/fish/vendor_completions.d/{NAME}.fish"),
        ),
    ] {
        let script = cmd::output(cmd::new(binary).args(["completions", shell]))
            .with_context(|| format!("generate the {shell} completions"))?;
        files.push((path, script.stdout, 0o644));
    }
    let doc = format!("usr/share/doc/{NAME}");
    let readme = fs::read(workspace::root().join("README.md")).context("read README.md")?;
    files.push((format!("{doc}/README.md.gz"), gzip(&readme)?, 0o644));
    files.push((format!("{doc}/copyright"), copyright()?.into_bytes(), 0o644));
    files.push((
        format!("{doc}/changelog.gz"),
        gzip(changelog(stamp)?.as_bytes())?,
        0o644,
    ));
    let depends = shlib_depends(binary)?;
    Ok(Payload { files, depends })
}

/// One page per command: `seccomp-profiler.1`, `seccomp-profiler-record.1`, …
fn man_pages(epoch: u64) -> Result<Vec<(String, Vec<u8>)>> {
    fn render(cmd: clap::Command, date: &str, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            render(sub.clone(), date, pages)?;
        }
        let after_help = cmd.get_after_help().map(ToString::to_string);
        let has_subcommands = cmd.has_subcommands();
        let has_version = cmd.get_version().is_some();
        let man = clap_mangen::Man::new(cmd)
            .date(date)
            .source(format!("{NAME} {VERSION}"))
            .manual("seccomp-profiler manual");
        let mut page = Vec::new();
        // `Man::render`, except that the exit codes (the after-help text, a table laid out in
        // columns) become an EXIT STATUS section kept as written instead of refilled as prose.
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        man.render_options_section(&mut page)?;
        if has_subcommands {
            man.render_subcommands_section(&mut page)?;
        }
        if let Some(text) = after_help {
            page.extend_from_slice(verbatim_section("EXIT STATUS", &text).as_bytes());
        }
        if has_version {
            man.render_version_section(&mut page)?;
        }
        pages.push((man.get_filename(), page));
        Ok(())
    }
    let mut command = seccomp_profiler::cli::Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    render(command, &date(epoch), &mut pages)?;
    pages.sort();
    Ok(pages)
}

/// A roff section holding `text` unfilled: backslashes escaped, and lines that would read as
/// requests (a leading `.` or `'`) guarded with `\&`.
fn verbatim_section(title: &str, text: &str) -> String {
    let mut roff = format!(".SH \"{title}\"\n.nf\n");
    for line in text.lines() {
        let line = line.replace('\\', "\\e");
        if line.starts_with('.') || line.starts_with('\'') {
            roff.push_str("\\&");
        }
        roff.push_str(&line);
        roff.push('\n');
    }
    roff.push_str(".fi\n");
    roff
}

/// `YYYY-MM-DD` of a Unix time (UTC), from `date` so no calendar code lives here.
fn date(epoch: u64) -> String {
    cmd::output(cmd::new("date").args(["-u", "-d", &format!("@{epoch}"), "+%F"]))
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn changelog(stamp: &Stamp) -> Result<String> {
    let at = format!("@{}", stamp.epoch);
    let out = cmd::output(cmd::new("date").args(["-u", "-R", "-d", &at]))?;
    Ok(format!(
        "{NAME} ({VERSION}) unstable; urgency=medium\n\n  * Built by `cargo xtask dist` from \
         commit {}.\n\n -- {MAINTAINER}  {}\n",
        stamp.commit,
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

/// The machine-readable copyright file, with the licences of the Rust crates linked in.
fn copyright() -> Result<String> {
    let mut text = format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: {NAME}\n\n\
         Files: *\nCopyright: the {NAME} developers\nLicense: MIT or Apache-2.0\n\
         Comment: The binary links these crates from crates.io statically, each under its own\n \
         licence (name version: licence):\n"
    );
    for line in crate_licences()? {
        let _ = writeln!(text, " {line}");
    }
    text.push_str(
        "\nLicense: Apache-2.0\n On Debian systems the full text of the Apache License 2.0 is in\n \
         /usr/share/common-licenses/Apache-2.0.\n\nLicense: MIT\n",
    );
    for line in MIT.lines() {
        let _ = writeln!(text, " {}", if line.is_empty() { "." } else { line });
    }
    Ok(text)
}

const MIT: &str =
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the \"Software\"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.";

/// `name version: licence` of every crate the binary links (normal dependencies of the host
/// build), sorted; the workspace's own crates (path sources) left out.
fn crate_licences() -> Result<Vec<String>> {
    let out = cmd::output(cmd::cargo().args([
        "tree", "--locked", "-p", NAME, "-e", "normal", "--prefix", "none", "--format", "{p}: {l}",
    ]))?;
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_owned())
        .filter(|l| !l.contains(" (/") && !l.is_empty())
        .map(|l| l.replacen(" v", " ", 1))
        .collect();
    lines.sort();
    lines.dedup();
    Ok(lines)
}

/// `libc6 (>= 2.34), …` from `dpkg-shlibdeps`: per library, the lowest package version whose
/// symbols file covers every symbol the binary uses.
fn shlib_depends(binary: &Path) -> Result<String> {
    let dir = tempdir("shlibdeps")?;
    let staged = dir.join(format!("debian/{NAME}/usr/bin"));
    fs::create_dir_all(&staged)?;
    fs::copy(binary, staged.join(NAME))?;
    fs::write(
        dir.join("debian/control"),
        format!("Source: {NAME}\n\nPackage: {NAME}\nArchitecture: any\n"),
    )?;
    let out = cmd::output(
        cmd::new("dpkg-shlibdeps")
            .current_dir(&dir)
            .args(["-O", &format!("debian/{NAME}/usr/bin/{NAME}")]),
    )
    .context("compute the package's dependencies (is dpkg-dev installed?)")?;
    fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    let depends = text
        .lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .context("dpkg-shlibdeps printed no shlibs:Depends")?;
    Ok(with_libseccomp_floor(depends.trim()))
}

/// The symbols the binary links exist since libseccomp 2.4, but profiles are compiled with
/// attributes new in 2.5.0 (`MIN_LIBSECCOMP`, which `doctor` checks), so the package asks for that
/// version: apt refuses an install that could not compile a profile.
fn with_libseccomp_floor(depends: &str) -> String {
    let (major, minor, patch) = seccomp_profiler::syscalls::MIN_LIBSECCOMP;
    let floor = format!("libseccomp2 (>= {major}.{minor}.{patch})");
    depends
        .split(", ")
        .map(|dep| {
            if dep.starts_with("libseccomp2") {
                floor.clone()
            } else {
                dep.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn tempdir(name: &str) -> Result<PathBuf> {
    let dir = workspace::scratch_dir()?.join(format!("dist-{name}-{}", std::process::id()));
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// `gzip -9 -n`: no name, no time stamp in the header.
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut child = cmd::new("gzip")
        .args(["-9", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("start gzip")?;
    let mut stdin = child.stdin.take().context("gzip's stdin")?;
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().context("run gzip")?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("gzip writer panicked"))?
        .context("feed gzip")?;
    if !out.status.success() {
        bail!("gzip exited with {}", out.status);
    }
    Ok(out.stdout)
}

fn package(binary: &Path, out: &Path, stamp: &Stamp) -> Result<Artifacts> {
    let payload = payload(binary, stamp)?;
    let epoch = stamp.epoch;
    let work = out.join("work");
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("remove {}", work.display()))?;
    }
    fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let arch =
        String::from_utf8_lossy(&cmd::output(cmd::new("dpkg").arg("--print-architecture"))?.stdout)
            .trim()
            .to_owned();
    let host = rust_host()?;

    // The Debian package.
    let root = work.join("deb");
    let mut installed_kib = 0;
    for (path, contents, mode) in &payload.files {
        write_file(&root.join(path), contents, *mode)?;
        installed_kib += contents.len().div_ceil(1024);
    }
    let md5sums = md5sums(&root, &payload)?;
    write_file(&root.join("DEBIAN/md5sums"), md5sums.as_bytes(), 0o644)?;
    let control = control(&arch, installed_kib, &payload.depends);
    write_file(&root.join("DEBIAN/control"), control.as_bytes(), 0o644)?;
    normalize(&root, epoch)?;
    let deb = out.join(format!("{NAME}_{VERSION}_{arch}.deb"));
    cmd::output(
        cmd::new("dpkg-deb")
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(&root)
            .arg(&deb),
    )?;

    // The tarball: the same files under `<name>-<version>-<host>/`, laid out for /usr/local.
    let top = format!("{NAME}-{VERSION}-{host}");
    let tree = work.join("tar").join(&top);
    for (path, contents, mode) in &payload.files {
        write_file(&tree.join(tarball_path(path)), contents, *mode)?;
    }
    let install = install_notes(&top, &payload.depends);
    write_file(&tree.join("INSTALL"), install.as_bytes(), 0o644)?;
    normalize(&work.join("tar"), epoch)?;
    let tarball = out.join(format!("{top}.tar.gz"));
    let tar = cmd::output(
        cmd::new("tar")
            .arg("-C")
            .arg(work.join("tar"))
            .args(["--sort=name", "--format=gnu", "--owner=0", "--group=0"])
            .args(["--numeric-owner", &format!("--mtime=@{epoch}"), "-cf", "-"])
            .arg(&top),
    )?;
    fs::write(&tarball, gzip(&tar.stdout)?)
        .with_context(|| format!("write {}", tarball.display()))?;

    let sums = out.join("SHA256SUMS");
    let listing = cmd::output(
        cmd::new("sha256sum")
            .current_dir(out)
            .arg(deb.file_name().unwrap_or_default())
            .arg(tarball.file_name().unwrap_or_default()),
    )?;
    fs::write(&sums, &listing.stdout).with_context(|| format!("write {}", sums.display()))?;
    fs::remove_dir_all(&work).ok();
    Ok(Artifacts { deb, tarball, sums })
}

/// `usr/bin/x` → `bin/x`, `usr/share/…` → `share/…`, except the doc directory, which goes to
/// the top, and zsh's, which is `share/zsh/site-functions` under /usr/local.
fn tarball_path(path: &str) -> String {
    let doc = format!("usr/share/doc/{NAME}/");
    if let Some(name) = path.strip_prefix(&doc) {
        return name.to_owned();
    }
    let path = path.strip_prefix("usr/").unwrap_or(path);
    path.replace("share/zsh/vendor-completions/", "share/zsh/site-functions/")
}

fn install_notes(top: &str, depends: &str) -> String {
    format!(
        "{NAME} {VERSION}\n\nNeeds Linux >= 6.1 with BTF and a cgroup v2 mount, root (or CAP_BPF +\n\
         CAP_PERFMON), and these Debian/Ubuntu packages (or their equivalents):\n  {depends}\n\n\
         Install under /usr/local (bin/, share/man/, share/*completion*/):\n  \
         sudo tar -C /usr/local --strip-components=1 -xzf {top}.tar.gz \\\n      \
         --exclude={top}/INSTALL --exclude={top}/README.md.gz --exclude={top}/copyright \\\n      \
         --exclude={top}/changelog.gz\n\nOn Debian and Ubuntu prefer the .deb: \
         sudo apt-get install ./{NAME}_{VERSION}_<arch>.deb\n"
    )
}

fn control(arch: &str, installed_kib: usize, depends: &str) -> String {
    format!(
        "Package: {NAME}\nVersion: {VERSION}\nArchitecture: {arch}\nMaintainer: {MAINTAINER}\n\
         Installed-Size: {installed_kib}\nDepends: {depends}\nSection: admin\nPriority: optional\n\
         Description: smallest seccomp profile for a workload, recorded with eBPF\n \
         seccomp-profiler watches a workload while it runs (a test suite, a load test, a\n \
         container under traffic) with eBPF and writes the smallest seccomp profile that\n \
         lets it run (Docker/OCI JSON, Kubernetes), plus the capabilities it needs.\n \
         `seccomp-profiler check` gates a CI job on the recorded syscall footprint.\n"
    )
}

fn md5sums(root: &Path, payload: &Payload) -> Result<String> {
    let paths: Vec<&str> = payload.files.iter().map(|(p, _, _)| p.as_str()).collect();
    let out = cmd::output(cmd::new("md5sum").current_dir(root).args(&paths))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn rust_host() -> Result<String> {
    let out = cmd::output(cmd::new("rustc").arg("-vV"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` printed no host line")
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    fs::write(path, contents).with_context(|| format!("write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

/// Directories 0755 and every entry's mtime `epoch`, whatever the umask and the clock said.
fn normalize(dir: &Path, epoch: u64) -> Result<()> {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch);
    let mut stack = vec![dir.to_path_buf()];
    let mut dirs = Vec::new();
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
            for entry in fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
            dirs.push(path);
        } else {
            fs::File::open(&path)?
                .set_modified(time)
                .with_context(|| format!("set the mtime of {}", path.display()))?;
        }
    }
    // Directories last: setting a file's time does not touch its directory, but creating did.
    for path in dirs {
        fs::File::open(&path)?
            .set_modified(time)
            .with_context(|| format!("set the mtime of {}", path.display()))?;
    }
    Ok(())
}

/// Fails unless both runs wrote the same bytes, naming what differs.
fn compare(first: &Artifacts, second: &Artifacts) -> Result<()> {
    let mut differ = Vec::new();
    for (a, b) in first.files().into_iter().zip(second.files()) {
        let bytes_a = fs::read(a).with_context(|| format!("read {}", a.display()))?;
        let bytes_b = fs::read(b).with_context(|| format!("read {}", b.display()))?;
        if bytes_a == bytes_b {
            println!(
                "xtask: dist: reproducible: {} ({} bytes) is identical from both builds",
                a.file_name().unwrap_or_default().to_string_lossy(),
                bytes_a.len()
            );
        } else {
            differ.push(format!("{} and {}", a.display(), b.display()));
        }
    }
    if !differ.is_empty() {
        bail!(
            "dist is not reproducible: {} differ (compare them with diffoscope, or \
             `dpkg-deb -c`/`tar -tvzf` and `cmp` for a first look)",
            differ.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarball_layout_fits_usr_local() {
        assert_eq!(
            tarball_path("usr/bin/seccomp-profiler"),
            "bin/seccomp-profiler"
        );
        assert_eq!(
            tarball_path("usr/share/man/man1/seccomp-profiler-record.1.gz"),
            "share/man/man1/seccomp-profiler-record.1.gz"
        );
        assert_eq!(
            tarball_path("usr/share/zsh/vendor-completions/_seccomp-profiler"),
            "share/zsh/site-functions/_seccomp-profiler"
        );
        assert_eq!(
            tarball_path("usr/share/doc/seccomp-profiler/copyright"),
            "copyright"
        );
    }

    #[test]
    fn one_man_page_per_command() {
        let pages = man_pages(0).expect("render");
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for name in [
            "seccomp-profiler.1",
            "seccomp-profiler-record.1",
            "seccomp-profiler-check.1",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let record = &pages
            .iter()
            .find(|(n, _)| n == "seccomp-profiler-record.1")
            .expect("record page")
            .1;
        let record = String::from_utf8_lossy(record);
        assert!(record.contains("1970-01-01"), "the date is the epoch's");
        assert!(record.contains("containers"), "the flags are documented");
        assert!(
            record.contains(".SH \"EXIT STATUS\"\n.nf\nExit codes:\n"),
            "the exit codes are kept as a table"
        );
    }

    #[test]
    fn verbatim_sections_escape_roff() {
        assert_eq!(
            verbatim_section("EXIT STATUS", "Exit codes:\n  0  ok \\o/\n.not a request"),
            ".SH \"EXIT STATUS\"\n.nf\nExit codes:\n  0  ok \\eo/\n\\&.not a request\n.fi\n"
        );
    }

    #[test]
    fn wrapper_remaps_the_target_dir_last() {
        let script =
            remap_wrapper(Path::new("/src"), Path::new("/src/target/dist/cargo")).expect("script");
        let src = script.find("'--remap-path-prefix=/src=").expect("src");
        let target = script
            .find("/src/target/dist/cargo=/build/target")
            .expect("target");
        assert!(src < target, "{script}");
        assert!(script.starts_with("#!/bin/sh\n"));
    }
}
