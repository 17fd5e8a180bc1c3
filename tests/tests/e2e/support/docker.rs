//! The Docker side of the container tests: the local test images, `docker` command lines, and
//! whether this machine is ready for them (`cargo xtask test` ran, the images exist, `/dev/null` is
//! the null device, the servers' loopback ports are free). Nothing here outlives one command: the
//! containers a test starts belong to its `Session`.

use std::{
    ffi::{OsStr, OsString},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{profiler, run};

/// Set by `cargo xtask test` once the images of `cargo xtask images` exist and dockerd answers.
pub const IMAGES_ENV: &str = "SECCOMP_PROFILER_IMAGES";

pub const BUSYBOX: &str = "seccomp-profiler-test/busybox:latest";
pub const NGINX: &str = "seccomp-profiler-test/nginx:latest";
pub const REDIS: &str = "seccomp-profiler-test/redis:latest";

/// nginx and redis of the test images listen on loopback of the host network.
const PORTS: [u16; 2] = [8080, 6380];

/// A single short `docker run`.
pub const QUICK_TIMEOUT: Duration = Duration::from_secs(60);

pub fn compose_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("images/compose/docker-compose.yml")
}

/// `docker ARGS…`.
pub fn docker<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new("docker");
    command.args(args);
    command
}

/// `--security-opt` arguments for a replay under `profile`, optionally with no-new-privileges.
pub fn security_opts(profile: &Path, no_new_privileges: bool) -> Vec<OsString> {
    let mut opts = vec![OsString::from("--security-opt")];
    let mut seccomp = OsString::from("seccomp=");
    seccomp.push(profile);
    opts.push(seccomp);
    if no_new_privileges {
        opts.extend(["--security-opt".into(), "no-new-privileges".into()]);
    }
    opts
}

/// Panics unless `cargo xtask test` prepared the machine: the env var it sets, the tool, the images.
pub(super) fn require_images() {
    assert!(
        std::env::var_os(IMAGES_ENV).is_some(),
        "{IMAGES_ENV} is not set: run the container tests with `cargo xtask test` (it starts dockerd, \
         builds the local test images with `cargo xtask images` and sets {IMAGES_ENV}=1)"
    );
    let _ = profiler();
    for image in [BUSYBOX, NGINX, REDIS] {
        let output = run(
            &mut docker(["image", "inspect", "--format", "{{.Id}}", image]),
            QUICK_TIMEOUT,
        );
        assert!(
            output.status.success(),
            "image {image} is missing although {IMAGES_ENV} is set: build it with `cargo xtask images`\n{output}"
        );
    }
}

/// Docker hands a container without `-i` the host's `/dev/null` as stdin, and runc chowns every
/// stdio fd that is not the null device to the container's user. When the host's `/dev/null` is a
/// regular file (here it was: `seccomp-profiler record -o /dev/null`, as `cargo xtask bench` runs
/// it, renames its output over it), a root container after a `redis` (uid 999) one makes an extra
/// `fchown`, and profiles depend on which container ran before.
pub fn dev_null_problem() -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata("/dev/null").ok()?;
    if meta.file_type().is_char_device() && meta.rdev() == libc::makedev(1, 3) {
        return None;
    }
    Some(format!(
        "the host's /dev/null is not the null device ({:?}, rdev {:#x}): runc then chowns it to each \
         container's user and profiles get an fchown that depends on the previous container; \
         restore it: `mknod -m 666 /dev/null.new c 1 3 && mv /dev/null.new /dev/null` (it is \
         replaced by `seccomp-profiler record -o /dev/null`, e.g. from `cargo xtask bench`)",
        meta.file_type(),
        meta.rdev()
    ))
}

/// nginx and redis bind fixed loopback ports: wait (at most 60 s) until nothing answers there, so
/// a test never loads a server that is not its own.
pub(super) fn wait_ports_free() {
    let started = Instant::now();
    loop {
        let busy: Vec<u16> = PORTS
            .into_iter()
            .filter(|port| {
                let addr = SocketAddr::from(([127, 0, 0, 1], *port));
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            })
            .collect();
        if busy.is_empty() {
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let ps = run(&mut docker(["ps"]), QUICK_TIMEOUT);
            panic!(
                "127.0.0.1 ports {busy:?} still answer after 60 s: the container tests need them free \
                 (another test's container, or a server on the host)\n{ps}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
