//! `cargo xtask images`: the container images the end-to-end tests run, built from this host's
//! own files because no registry is reachable. Each image is a rootfs assembled under
//! `target/xtask/images/<name>/rootfs` — host binaries with every library `ldd` lists, busybox
//! applets, the files under `tests/images/{common,<name>}/rootfs`, generated data — and imported
//! with `tar -c | docker import --change …` as `seccomp-profiler-test/<name>:<hash>` plus `:latest`.
//!
//! `<hash>` is a content hash of the image's manifest: every entry of the rootfs as text, the
//! Debian package and version each host file comes from (or the file's own hash when no package
//! owns it), and the image config. An image whose tag already exists is not built again, so a
//! Debian upgrade of nginx, or an edit of a recipe or of a file under `tests/images/`, rebuilds
//! exactly the images it touches. The manifest is kept next to the rootfs to explain a rebuild.
//!
//! What the images contain and how to reach them is documented in `tests/images/README.md`. This
//! module neither starts dockerd (the caller does, see `dockerd`) nor runs any test; after a fresh
//! build it runs one quick smoke command per image so that a broken image fails here, not in a test.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cmd, dockerd, prereqs, workspace};

/// Repository prefix of every test image: `seccomp-profiler-test/<name>`.
pub const REPOSITORY_PREFIX: &str = "seccomp-profiler-test";

/// Bumped when the way a rootfs is assembled changes without any manifest line changing, so
/// that every cached image is rebuilt.
const ASSEMBLY_VERSION: u32 = 1;

/// The host's busybox; must be busybox-static (the images carry no libc for it).
const BUSYBOX: &str = "/bin/busybox";

/// Docker's default `PATH`, set explicitly so `docker exec` finds the same programs as `run`.
pub(crate) const PATH_ENV: &str =
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How one test image is made.
struct Recipe {
    /// `seccomp-profiler-test/<name>`; also the directory under `tests/images/`.
    name: &'static str,
    /// Host executables copied to the same path, with the libraries (and loader) `ldd` lists.
    binaries: &'static [&'static str],
    /// Busybox applet links to `/bin/busybox`, which every image has (for `docker exec`).
    applets: Applets,
    /// Directories beyond those the files imply, with their mode and owner.
    dirs: &'static [Dir],
    /// Directories under `tests/images/` whose `rootfs/` is copied in, later ones winning.
    overlays: &'static [&'static str],
    /// Files generated at build time (too big or too dull to keep in git).
    generated: &'static [Generated],
    /// `docker import --change` instructions (besides `PATH_ENV`), in JSON form where one exists.
    config: &'static [&'static str],
    /// Arguments to `docker run --rm --network none` after a fresh build; must exit 0.
    smoke: &'static [&'static str],
}

enum Applets {
    /// Every applet, at the path `busybox --list-full` gives it.
    All,
    /// These applets, in `/bin`.
    Only(&'static [&'static str]),
}

struct Dir {
    path: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// `size` bytes where byte `i` is `i % 251`: not compressible into nothing, and a test can
/// recompute it to check a download.
struct Generated {
    path: &'static str,
    size: usize,
}

const fn root_dir(path: &'static str, mode: u32) -> Dir {
    Dir {
        path,
        mode,
        uid: 0,
        gid: 0,
    }
}

const NOBODY: u32 = 65534;
const REDIS: u32 = 999;

const RECIPES: &[Recipe] = &[
    Recipe {
        name: "busybox",
        binaries: &[],
        applets: Applets::All,
        dirs: &[root_dir("/tmp", 0o1777), root_dir("/root", 0o700)],
        overlays: &["common", "busybox"],
        generated: &[],
        config: &[r#"CMD ["ls", "/"]"#],
        smoke: &["true"],
    },
    Recipe {
        name: "nginx",
        binaries: &["/usr/sbin/nginx"],
        applets: Applets::Only(&[
            "sh", "kill", "cat", "ls", "wget", "ps", "sleep", "echo", "true", "id",
        ]),
        dirs: &[
            root_dir("/tmp", 0o1777),
            root_dir("/run", 0o755),
            root_dir("/var/log/nginx", 0o755),
            Dir {
                path: "/var/lib/nginx",
                mode: 0o755,
                uid: NOBODY,
                gid: NOBODY,
            },
            // nginx creates these itself, but only the last path component: give it all five.
            Dir {
                path: "/var/lib/nginx/body",
                mode: 0o700,
                uid: NOBODY,
                gid: NOBODY,
            },
            Dir {
                path: "/var/lib/nginx/proxy",
                mode: 0o700,
                uid: NOBODY,
                gid: NOBODY,
            },
            Dir {
                path: "/var/lib/nginx/fastcgi",
                mode: 0o700,
                uid: NOBODY,
                gid: NOBODY,
            },
            Dir {
                path: "/var/lib/nginx/uwsgi",
                mode: 0o700,
                uid: NOBODY,
                gid: NOBODY,
            },
            Dir {
                path: "/var/lib/nginx/scgi",
                mode: 0o700,
                uid: NOBODY,
                gid: NOBODY,
            },
        ],
        overlays: &["common", "nginx"],
        generated: &[Generated {
            path: "/var/www/html/large.bin",
            size: 1 << 20,
        }],
        config: &[
            r#"ENTRYPOINT ["/usr/sbin/nginx"]"#,
            r#"CMD ["-c", "/etc/nginx/nginx.conf"]"#,
        ],
        smoke: &["--entrypoint", "/usr/sbin/nginx", "-t", "-q"],
    },
    Recipe {
        name: "redis",
        // Debian's redis-server is a symlink to redis-check-rdb; the copy is a plain file named
        // redis-server, which is the name redis looks at to decide what to be.
        binaries: &["/usr/bin/redis-server"],
        applets: Applets::Only(&[
            "sh", "kill", "cat", "ls", "wget", "ps", "sleep", "echo", "true", "id",
        ]),
        dirs: &[
            root_dir("/tmp", 0o1777),
            Dir {
                path: "/data",
                mode: 0o755,
                uid: REDIS,
                gid: REDIS,
            },
        ],
        overlays: &["common", "redis"],
        generated: &[],
        config: &[
            "USER redis",
            "WORKDIR /data",
            r#"ENTRYPOINT ["/usr/bin/redis-server"]"#,
            r#"CMD ["--bind", "127.0.0.1", "--port", "6380", "--dir", "/data", "--save", ""]"#,
        ],
        smoke: &["--entrypoint", "/usr/bin/redis-server", "--version"],
    },
];

/// `cargo xtask images`: prerequisites, a Docker daemon, then every image.
pub fn run(rebuild: bool) -> Result<()> {
    if !workspace::is_root() {
        bail!(
            "`cargo xtask images` needs root (the rootfs holds files owned by other users, and \
             dockerd may need starting); run it as root"
        );
    }
    prereqs::ensure(prereqs::Set::Test)?;
    let dockerd =
        dockerd::ensure_running().context("get a Docker daemon to import the images into")?;
    let result = build_all(rebuild);
    if let Some(pid) = dockerd {
        dockerd::left_running_note(pid);
    }
    result
}

/// Build every image whose tag is missing (all of them with `rebuild`); one line per image.
/// Expects root, the test prerequisites and a Docker daemon.
pub fn build_all(rebuild: bool) -> Result<()> {
    let dir = workspace::scratch_dir()?.join("images");
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    // Two runs at once (e.g. two `cargo xtask test`) would assemble into the same rootfs.
    let _lock = lock(&dir.join("lock"))?;
    for recipe in RECIPES {
        build(recipe, &dir.join(recipe.name), rebuild)
            .with_context(|| format!("build the image {REPOSITORY_PREFIX}/{}", recipe.name))?;
    }
    Ok(())
}

/// An exclusive `flock` on `path`, released when the file is dropped.
fn lock(path: &Path) -> Result<File> {
    let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the call's duration.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == -1 {
        let err = std::io::Error::last_os_error();
        return Err(err).with_context(|| format!("lock {}", path.display()));
    }
    Ok(file)
}

fn build(recipe: &Recipe, dir: &Path, rebuild: bool) -> Result<()> {
    let started = Instant::now();
    let repository = format!("{REPOSITORY_PREFIX}/{}", recipe.name);
    let plan = plan(recipe)?;
    let manifest = plan.manifest(recipe);
    let tag = hex_hash(manifest.as_bytes());
    let reference = format!("{repository}:{tag}");
    fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let manifest_path = dir.join("manifest.txt");
    fs::write(&manifest_path, &manifest)
        .with_context(|| format!("write {}", manifest_path.display()))?;

    if !rebuild && image_exists(&reference) {
        tag_latest(&reference, &repository)?;
        println!("xtask: image {reference} cached");
        return Ok(());
    }
    let rootfs = dir.join("rootfs");
    if rootfs.exists() {
        fs::remove_dir_all(&rootfs).with_context(|| format!("remove {}", rootfs.display()))?;
    }
    plan.materialize(&rootfs)
        .with_context(|| format!("assemble {}", rootfs.display()))?;
    // With --rebuild the old image loses its tag to the new one: removed below, not left dangling.
    let previous = image_id(&reference);
    import(&rootfs, &image_config(recipe), &reference)?;
    if let Err(err) = smoke(recipe, &reference) {
        // Leave no tag behind that would make the next run take a broken image as cached.
        cmd::succeeds(cmd::new("docker").args(["rmi", &reference]));
        return Err(err);
    }
    tag_latest(&reference, &repository)?;
    remove_stale_tags(&repository, &tag);
    if let Some(previous) = previous
        && image_id(&reference).as_ref() != Some(&previous)
    {
        // Best effort: a container still using it keeps it.
        cmd::succeeds(cmd::new("docker").args(["rmi", &previous]));
    }
    println!("xtask: image {reference} built ({:.1?})", started.elapsed());
    Ok(())
}

/// One thing to put into the rootfs. Paths are absolute inside the image.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Dir(DirEntry),
    /// A host file copied to the same path (symlinks followed), with where its contents come
    /// from for the manifest.
    Host {
        path: String,
        origin: String,
    },
    Symlink {
        path: String,
        target: String,
    },
    File {
        path: String,
        mode: u32,
        contents: Vec<u8>,
    },
    Generated {
        path: String,
        size: usize,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DirEntry {
    pub(crate) path: String,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

pub(crate) struct Plan {
    pub(crate) entries: Vec<Entry>,
}

/// Everything that goes into the image, found on the host; nothing is written yet.
fn plan(recipe: &Recipe) -> Result<Plan> {
    let mut entries = Vec::new();
    for dir in recipe.dirs {
        entries.push(Entry::Dir(DirEntry {
            path: dir.path.to_owned(),
            mode: dir.mode,
            uid: dir.uid,
            gid: dir.gid,
        }));
    }

    let mut host: Vec<String> = Vec::new();
    let mut add_host = |path: String| {
        if !host.contains(&path) {
            host.push(path);
        }
    };
    for binary in recipe.binaries {
        add_host((*binary).to_owned());
        for library in libraries(binary)? {
            add_host(library);
        }
    }
    let all_applets = busybox_applets()?;
    let links: Vec<String> = match recipe.applets {
        Applets::All => all_applets,
        Applets::Only(names) => {
            let missing = missing_applets(names, &all_applets);
            if !missing.is_empty() {
                bail!("{BUSYBOX} has no applet {}", missing.join(", "));
            }
            names.iter().map(|n| format!("/bin/{n}")).collect()
        }
    };
    if !libraries(BUSYBOX)?.is_empty() {
        bail!("{BUSYBOX} is dynamically linked; the images need busybox-static's");
    }
    add_host(BUSYBOX.to_owned());
    let origins = origins(&host)?;
    for (path, origin) in host.into_iter().zip(origins) {
        entries.push(Entry::Host { path, origin });
    }
    for path in links {
        entries.push(Entry::Symlink {
            path,
            target: BUSYBOX.to_owned(),
        });
    }

    for overlay in recipe.overlays {
        let dir = workspace::root()
            .join("tests/images")
            .join(overlay)
            .join("rootfs");
        overlay_files(&dir, &dir, &mut entries)
            .with_context(|| format!("read the overlay {}", dir.display()))?;
    }
    for generated in recipe.generated {
        entries.push(Entry::Generated {
            path: generated.path.to_owned(),
            size: generated.size,
        });
    }
    Ok(Plan { entries })
}

/// The files under `dir`, recursively and sorted, as `File` entries at their path below `base`:
/// mode 0644, or 0755 when the owner may execute (git keeps nothing finer).
fn overlay_files(base: &Path, dir: &Path, entries: &mut Vec<Entry>) -> Result<()> {
    let mut children: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("list {}", dir.display()))?;
    children.sort();
    for path in children {
        let meta = fs::metadata(&path).with_context(|| format!("stat {}", path.display()))?;
        if meta.is_dir() {
            overlay_files(base, &path, entries)?;
            continue;
        }
        let relative = path
            .strip_prefix(base)
            .context("overlay file outside its overlay")?;
        let contents = fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        let mode = if meta.permissions().mode() & 0o100 != 0 {
            0o755
        } else {
            0o644
        };
        entries.push(Entry::File {
            path: format!("/{}", relative.display()),
            mode,
            contents,
        });
    }
    Ok(())
}

impl Plan {
    /// The text the tag hashes: one line per entry, then the image config.
    fn manifest(&self, recipe: &Recipe) -> String {
        let mut text = format!(
            "# {REPOSITORY_PREFIX}/{}: what the image tag hashes (assembly {ASSEMBLY_VERSION})\n",
            recipe.name
        );
        for entry in &self.entries {
            // Writing to a String cannot fail.
            let _ = match entry {
                Entry::Dir(d) => {
                    writeln!(text, "dir {} {:04o} {}:{}", d.path, d.mode, d.uid, d.gid)
                }
                Entry::Host { path, origin } => writeln!(text, "host {path} ({origin})"),
                Entry::Symlink { path, target } => writeln!(text, "link {path} -> {target}"),
                Entry::File {
                    path,
                    mode,
                    contents,
                } => writeln!(
                    text,
                    "file {path} {mode:04o} {} bytes fnv1a64:{}",
                    contents.len(),
                    hex_hash(contents)
                ),
                Entry::Generated { path, size } => {
                    writeln!(text, "generated {path} 0644 {size} bytes i%251")
                }
            };
        }
        for change in image_config(recipe) {
            let _ = writeln!(text, "config {change}");
        }
        text
    }

    /// Write the rootfs. Directories the entries imply are created 0755 root:root whatever the
    /// umask, so that the non-root users of the images can reach their files.
    pub(crate) fn materialize(&self, rootfs: &Path) -> Result<()> {
        make_dirs(rootfs, "/")?;
        for entry in &self.entries {
            match entry {
                Entry::Dir(d) => {
                    make_dirs(rootfs, &d.path)?;
                    let path = inside(rootfs, &d.path);
                    fs::set_permissions(&path, fs::Permissions::from_mode(d.mode))
                        .with_context(|| format!("chmod {}", path.display()))?;
                    chown(&path, Some(d.uid), Some(d.gid))
                        .with_context(|| format!("chown {}", path.display()))?;
                }
                Entry::Host { path, .. } => {
                    let copy = new_file(rootfs, path)?;
                    // fs::copy follows symlinks and copies the permission bits.
                    fs::copy(path, &copy)
                        .with_context(|| format!("copy {path} to {}", copy.display()))?;
                }
                Entry::Symlink { path, target } => {
                    let link = new_file(rootfs, path)?;
                    symlink(target, &link)
                        .with_context(|| format!("link {} to {target}", link.display()))?;
                }
                Entry::File {
                    path,
                    mode,
                    contents,
                } => write_file(&new_file(rootfs, path)?, contents, *mode)?,
                Entry::Generated { path, size } => {
                    write_file(&new_file(rootfs, path)?, &generated_bytes(*size), 0o644)?;
                }
            }
        }
        Ok(())
    }
}

fn inside(rootfs: &Path, path: &str) -> PathBuf {
    rootfs.join(path.trim_start_matches('/'))
}

/// Create `path` and its missing parents inside `rootfs`, each 0755.
fn make_dirs(rootfs: &Path, path: &str) -> Result<()> {
    let mut dir = rootfs.to_path_buf();
    let components = path.split('/').filter(|c| !c.is_empty());
    for component in std::iter::once("").chain(components) {
        if !component.is_empty() {
            dir.push(component);
        }
        if dir.is_dir() {
            continue;
        }
        fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {}", dir.display()))?;
    }
    Ok(())
}

/// The host path for a new file at `path` in the image, its parent made; an earlier entry at the
/// same path (an overlay file replacing another) is removed.
fn new_file(rootfs: &Path, path: &str) -> Result<PathBuf> {
    let parent = Path::new(path)
        .parent()
        .map_or("/".into(), Path::to_string_lossy);
    make_dirs(rootfs, &parent)?;
    let file = inside(rootfs, path);
    if file.symlink_metadata().is_ok() {
        fs::remove_file(&file).with_context(|| format!("remove {}", file.display()))?;
    }
    Ok(file)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

fn generated_bytes(size: usize) -> Vec<u8> {
    // `i % 251` is below 251, so the cast never truncates.
    (0..size).map(|i| (i % 251) as u8).collect()
}

/// The libraries `ldd` lists for `binary`, the dynamic loader included; empty when static.
pub(crate) fn libraries(binary: &str) -> Result<Vec<String>> {
    let out = cmd::new("ldd")
        .arg(binary)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run `ldd {binary}` (is libc-bin installed?)"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        bail!(
            "`ldd {binary}` exited with {}: {}",
            out.status,
            stderr.trim_end()
        );
    }
    parse_ldd(&stdout).with_context(|| format!("read the output of `ldd {binary}`"))
}

/// Paths from `ldd` output, in its order: `name => /path (addr)` and `/path (addr)` (the
/// loader) lines; the vDSO has no file and is skipped; `name => not found` is an error.
fn parse_ldd(output: &str) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "statically linked" {
            continue;
        }
        let target = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    bail!("library {} not found", name.trim());
                }
                rest
            }
            None => line,
        };
        let path = target.split(" (").next().unwrap_or_default().trim();
        if path.starts_with('/') {
            paths.push(path.to_owned());
        } else if !path.is_empty()
            && !path.starts_with("linux-vdso")
            && !path.starts_with("linux-gate")
        {
            bail!("unexpected ldd line `{line}`");
        }
    }
    Ok(paths)
}

/// Every applet path `busybox --list-full` prints (`usr/bin/wget` → `/usr/bin/wget`), without
/// top-level entries such as `linuxrc`.
fn busybox_applets() -> Result<Vec<String>> {
    let out = cmd::output(cmd::new(BUSYBOX).arg("--list-full"))
        .context("list busybox's applets (is busybox-static installed?)")?;
    Ok(parse_applets(&String::from_utf8_lossy(&out.stdout)))
}

/// The names in `wanted` that no path in `applets` ends with.
fn missing_applets<'a>(wanted: &[&'a str], applets: &[String]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|name| !applets.iter().any(|p| p.rsplit('/').next() == Some(*name)))
        .collect()
}

fn parse_applets(list: &str) -> Vec<String> {
    let mut paths: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|l| l.contains('/') && !l.ends_with("/busybox"))
        .map(|l| format!("/{}", l.trim_start_matches('/')))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// For each host path, `package version` of the Debian package owning it, or the file's own
/// hash when no package does (so an unpackaged file still changes the tag when it changes).
fn origins(paths: &[String]) -> Result<Vec<String>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    // dpkg knows a file by the path its package ships, which since usrmerge may be the other
    // spelling (`ldd` says /lib/…/libssl.so.3, libssl3 ships /usr/lib/…): ask about both.
    let queries: Vec<String> = paths
        .iter()
        .flat_map(|p| std::iter::once(p.clone()).chain(usrmerge_alias(p)))
        .collect();
    // `dpkg -S` exits 1 when any path has no owner but still prints the others: judge by lines.
    let out = cmd::new("dpkg")
        .arg("-S")
        .args(&queries)
        .stdin(Stdio::null())
        .output()
        .context("run `dpkg -S` to find the packages of the image's host files")?;
    let owners = parse_dpkg_search(&String::from_utf8_lossy(&out.stdout));
    let owner_of = |path: &String| {
        let alias = usrmerge_alias(path);
        owners
            .iter()
            .find(|(_, p)| p == path || Some(p) == alias.as_ref())
            .map(|(package, _)| package)
    };
    let mut versions: Vec<(String, String)> = Vec::new();
    let mut result = Vec::new();
    for path in paths {
        let origin = match owner_of(path) {
            Some(package) => {
                let version = match versions.iter().find(|(p, _)| p == package) {
                    Some((_, v)) => v.clone(),
                    None => {
                        let v = package_version(package)?;
                        versions.push((package.clone(), v.clone()));
                        v
                    }
                };
                format!("{package} {version}")
            }
            None => {
                let contents = fs::read(path).with_context(|| format!("read {path}"))?;
                format!("unpackaged fnv1a64:{}", hex_hash(&contents))
            }
        };
        result.push(origin);
    }
    Ok(result)
}

/// The same file's other name on a merged-/usr system: `/lib/x` ↔ `/usr/lib/x`, likewise for
/// `/bin`, `/sbin` and `/lib64`; `None` for paths elsewhere.
fn usrmerge_alias(path: &str) -> Option<String> {
    const MERGED: [&str; 4] = ["/bin/", "/sbin/", "/lib/", "/lib64/"];
    if let Some(rest) = path.strip_prefix("/usr")
        && MERGED.iter().any(|dir| rest.starts_with(dir))
    {
        return Some(rest.to_owned());
    }
    MERGED
        .iter()
        .any(|dir| path.starts_with(dir))
        .then(|| format!("/usr{path}"))
}

/// `(package, path)` pairs from `dpkg -S` output (`libc6:amd64: /lib/…/libc.so.6`); for a path
/// several packages share (`a, b: /path`) the first; diversion notes skipped.
fn parse_dpkg_search(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter(|l| !l.starts_with("diversion by"))
        .filter_map(|l| l.split_once(": "))
        .map(|(packages, path)| {
            let first = packages.split(", ").next().unwrap_or(packages);
            (first.trim().to_owned(), path.trim().to_owned())
        })
        .collect()
}

fn package_version(package: &str) -> Result<String> {
    let out = cmd::output(cmd::new("dpkg-query").args(["-W", "-f=${Version}", package]))
        .with_context(|| format!("read the installed version of {package}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// FNV-1a, 64 bits, as 16 hex digits. A cache key and change detector, not a security measure;
/// its value for given bytes never changes across Rust versions (unlike `DefaultHasher`).
fn hex_hash(bytes: &[u8]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("{hash:016x}")
}

fn image_config(recipe: &Recipe) -> Vec<&'static str> {
    std::iter::once(PATH_ENV)
        .chain(recipe.config.iter().copied())
        .collect()
}

fn image_exists(reference: &str) -> bool {
    image_id(reference).is_some()
}

/// The image ID `reference` names, `None` when there is no such image.
pub(crate) fn image_id(reference: &str) -> Option<String> {
    let mut inspect = cmd::new("docker");
    inspect.args(["image", "inspect", "--format", "{{.Id}}", reference]);
    let out = inspect.stderr(Stdio::null()).output().ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !id.is_empty()).then_some(id)
}

/// `tar -C rootfs -c . | docker import --change … - reference`.
pub(crate) fn import(rootfs: &Path, changes: &[&str], reference: &str) -> Result<()> {
    let mut tar = cmd::new("tar");
    tar.arg("-C")
        .arg(rootfs)
        .args(["--numeric-owner", "-c", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut import = cmd::new("docker");
    import.arg("import");
    for change in changes {
        import.arg("--change").arg(change);
    }
    import.args(["-", reference]);
    let shown = format!("{} | {}", cmd::display(&tar), cmd::display(&import));

    let mut tar_child = tar.spawn().with_context(|| format!("start `{shown}`"))?;
    let tar_stdout = tar_child
        .stdout
        .take()
        .context("tar's stdout was not captured")?;
    let import_child = import
        .stdin(Stdio::from(tar_stdout))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    // The Command holds our copy of the pipe's read end: drop it, so that tar gets EPIPE instead
    // of blocking forever when docker import exits early.
    drop(import);
    let imported = import_child.and_then(|child| child.wait_with_output());
    let tar_out = tar_child
        .wait_with_output()
        .with_context(|| format!("wait for `{shown}`"))?;
    let imported = imported.with_context(|| format!("run `{shown}`"))?;
    // docker's complaint first: when it exits early, tar's broken pipe is only the consequence.
    if !imported.status.success() {
        bail!(
            "docker import in `{shown}` exited with {}: {}",
            imported.status,
            String::from_utf8_lossy(&imported.stderr).trim_end()
        );
    }
    if !tar_out.status.success() {
        bail!(
            "tar in `{shown}` exited with {}: {}",
            tar_out.status,
            String::from_utf8_lossy(&tar_out.stderr).trim_end()
        );
    }
    Ok(())
}

/// The recipe's smoke command in a throw-away container without network.
fn smoke(recipe: &Recipe, reference: &str) -> Result<()> {
    let mut run = cmd::new("docker");
    run.args(["run", "--rm", "--network", "none"]);
    // The smoke arguments are `[docker run options…,] image args…` split at the first non-option.
    let (options, args) = split_run_args(recipe.smoke);
    run.args(options).arg(reference).args(args);
    cmd::output(&mut run)
        .map(drop)
        .with_context(|| format!("smoke-test the fresh image (`{}`)", cmd::display(&run)))
}

/// `["--entrypoint", "/x", "-t"]` → (`["--entrypoint", "/x"]`, `["-t"]`): only `--entrypoint`
/// and `--user` (each with a value) are taken as `docker run` options.
fn split_run_args<'a>(args: &'a [&'a str]) -> (&'a [&'a str], &'a [&'a str]) {
    let mut i = 0;
    while i + 1 < args.len() && matches!(args[i], "--entrypoint" | "--user") {
        i += 2;
    }
    args.split_at(i)
}

pub(crate) fn tag_latest(reference: &str, repository: &str) -> Result<()> {
    cmd::output(cmd::new("docker").args(["tag", reference, &format!("{repository}:latest")]))
        .map(drop)
}

/// Drop the repository's other hash tags (earlier builds). Best effort: an image a container
/// still uses stays, and that is fine.
fn remove_stale_tags(repository: &str, keep: &str) {
    let Ok(out) =
        cmd::output(cmd::new("docker").args(["images", "--format", "{{.Tag}}", repository]))
    else {
        return;
    };
    for tag in String::from_utf8_lossy(&out.stdout).lines() {
        if tag != keep && tag != "latest" && tag != "<none>" {
            cmd::succeeds(cmd::new("docker").args(["rmi", &format!("{repository}:{tag}")]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX_LDD: &str = "\tlinux-vdso.so.1 (0x00007ffd1b5f2000)
\tlibcrypt.so.1 => /lib/x86_64-linux-gnu/libcrypt.so.1 (0x00007f83f5ac2000)
\tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f83f5a28000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f83f521e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f83f5c65000)
";

    #[test]
    fn ldd_output_gives_libraries_and_loader() {
        assert_eq!(
            parse_ldd(NGINX_LDD).expect("valid ldd output"),
            [
                "/lib/x86_64-linux-gnu/libcrypt.so.1",
                "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2",
            ]
        );
        assert!(
            parse_ldd("\tstatically linked\n")
                .expect("static")
                .is_empty()
        );
    }

    #[test]
    fn ldd_missing_library_is_an_error() {
        let err = parse_ldd("\tlibfoo.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n")
            .expect_err("a missing library must fail");
        assert!(err.to_string().contains("libfoo.so.1"), "{err}");
    }

    #[test]
    fn dpkg_search_lines() {
        let out = "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6
diversion by foo from: /usr/bin/x
nginx: /usr/sbin/nginx
base-files, bar: /etc
";
        assert_eq!(
            parse_dpkg_search(out),
            [
                (
                    "libc6:amd64".into(),
                    "/lib/x86_64-linux-gnu/libc.so.6".into()
                ),
                ("nginx".into(), "/usr/sbin/nginx".into()),
                ("base-files".into(), "/etc".into()),
            ]
        );
    }

    #[test]
    fn usrmerge_aliases() {
        let alias = |p| usrmerge_alias(p);
        assert_eq!(
            alias("/lib/x86_64-linux-gnu/libssl.so.3").as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libssl.so.3")
        );
        assert_eq!(
            alias("/usr/lib/x86_64-linux-gnu/libssl.so.3").as_deref(),
            Some("/lib/x86_64-linux-gnu/libssl.so.3")
        );
        assert_eq!(
            alias("/lib64/ld-linux-x86-64.so.2").as_deref(),
            Some("/usr/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(alias("/usr/sbin/nginx").as_deref(), Some("/sbin/nginx"));
        assert_eq!(alias("/usr/share/doc"), None);
        assert_eq!(alias("/libexec/x"), None);
    }

    #[test]
    fn applets_are_absolute_sorted_and_skip_top_level() {
        let list = "usr/bin/wget\nbin/sh\nlinuxrc\nbin/ls\nbin/sh\n";
        let applets = parse_applets(list);
        assert_eq!(applets, ["/bin/ls", "/bin/sh", "/usr/bin/wget"]);
        assert_eq!(
            missing_applets(&["sh", "wget", "nginx", "s"], &applets),
            ["nginx", "s"]
        );
    }

    #[test]
    fn hash_is_stable_fnv1a64() {
        // Published FNV-1a 64 test vectors: tags of cached images depend on these never moving.
        assert_eq!(hex_hash(b""), "cbf29ce484222325");
        assert_eq!(hex_hash(b"a"), "af63dc4c8601ec8c");
        assert_eq!(hex_hash(b"foobar"), "85944171f73967e8");
    }

    #[test]
    fn manifest_is_stable_and_sensitive() {
        let recipe = &RECIPES[1];
        let plan = |version: &str| Plan {
            entries: vec![
                Entry::Dir(DirEntry {
                    path: "/run".into(),
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                }),
                Entry::Host {
                    path: "/usr/sbin/nginx".into(),
                    origin: format!("nginx {version}"),
                },
                Entry::Generated {
                    path: "/var/www/html/large.bin".into(),
                    size: 1 << 20,
                },
            ],
        };
        let a = plan("1.22.1-9").manifest(recipe);
        assert_eq!(a, plan("1.22.1-9").manifest(recipe));
        assert_ne!(
            hex_hash(a.as_bytes()),
            hex_hash(plan("1.22.1-10").manifest(recipe).as_bytes())
        );
        assert!(a.contains("host /usr/sbin/nginx (nginx 1.22.1-9)\n"), "{a}");
        assert!(
            a.contains(r#"config ENTRYPOINT ["/usr/sbin/nginx"]"#),
            "{a}"
        );
    }

    #[test]
    fn generated_file_pattern() {
        let bytes = generated_bytes(600);
        assert_eq!(bytes.len(), 600);
        assert_eq!(
            (bytes[0], bytes[250], bytes[251], bytes[502]),
            (0, 250, 0, 0)
        );
    }

    #[test]
    fn smoke_args_split_at_first_image_argument() {
        assert_eq!(
            split_run_args(&["--entrypoint", "/x", "-t", "-q"]),
            (&["--entrypoint", "/x"][..], &["-t", "-q"][..])
        );
        assert_eq!(split_run_args(&["true"]), (&[][..], &["true"][..]));
    }

    #[test]
    fn recipes_are_well_formed() {
        for recipe in RECIPES {
            for change in recipe.config {
                let (instruction, value) = change.split_once(' ').expect("INSTRUCTION value");
                if matches!(instruction, "CMD" | "ENTRYPOINT") {
                    serde_json::from_str::<Vec<String>>(value)
                        .unwrap_or_else(|e| panic!("{}: {change}: {e}", recipe.name));
                }
            }
            for dir in recipe.dirs {
                assert!(dir.path.starts_with('/'), "{}: {}", recipe.name, dir.path);
            }
        }
    }
}
