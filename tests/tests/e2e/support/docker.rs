//! The Docker side of the container tests: the local test images, `docker` command lines
//! (`DockerRun` is the one place a test container's `docker run` is spelled), and whether this
//! machine is ready for them (`cargo xtask test` ran, the images exist, `/dev/null` is
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

/// One `docker run` of a test container, built up and then turned into its argument list by
/// `argv`. Always `--network none`: no test may send traffic to Docker's bridge (the machine rules), and the
/// servers that need a network get the host's from their load scripts in `tests/scripts/`. `--rm`
/// unless `detached`, `--name` when named, then the options given, the image and its command.
#[derive(Debug, Clone, Default)]
pub struct DockerRun {
    name: Option<String>,
    detach: bool,
    options: Vec<OsString>,
}

impl DockerRun {
    /// A container Docker names.
    pub fn new() -> Self {
        Self::default()
    }

    /// A container called `name` (from `Session::container`, which removes it at the end).
    pub fn named(name: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            ..Self::default()
        }
    }

    /// `-d` instead of `--rm`: the container keeps running after `docker run` returns.
    pub fn detached(mut self) -> Self {
        self.detach = true;
        self
    }

    /// `--security-opt seccomp=PROFILE`: a profile file, or `unconfined`.
    pub fn seccomp(mut self, profile: impl AsRef<OsStr>) -> Self {
        self.options.extend(seccomp_opt(profile.as_ref()));
        self
    }

    /// `--security-opt no-new-privileges`.
    pub fn no_new_privileges(mut self) -> Self {
        self.options.extend(NO_NEW_PRIVILEGES.map(OsString::from));
        self
    }

    /// More options, in this order before the image: `--cap-drop=ALL`, `--entrypoint PATH`, ….
    pub fn options<I, S>(mut self, options: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.options.extend(options.into_iter().map(Into::into));
        self
    }

    /// The whole command line, `docker run … IMAGE COMMAND…`: as it is, the CMD of a recording.
    pub fn argv<S: AsRef<OsStr>>(&self, image: &str, command: &[S]) -> Vec<OsString> {
        let mut argv: Vec<OsString> = ["docker", "run", if self.detach { "-d" } else { "--rm" }]
            .map(OsString::from)
            .to_vec();
        argv.extend(["--network", "none"].map(OsString::from));
        if let Some(name) = &self.name {
            argv.extend([OsString::from("--name"), OsString::from(name)]);
        }
        argv.extend(self.options.iter().cloned());
        argv.push(image.into());
        argv.extend(command.iter().map(|arg| arg.as_ref().to_owned()));
        argv
    }

    /// `argv` as one line for `sh -c`: its words joined by spaces, so none may need quoting.
    pub fn shell_line<S: AsRef<OsStr>>(&self, image: &str, command: &[S]) -> String {
        let words: Vec<String> = self
            .argv(image, command)
            .iter()
            .map(|word| word.to_string_lossy().into_owned())
            .collect();
        let plain = |word: &String| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
        };
        assert!(
            words.iter().all(plain),
            "a word of {words:?} needs shell quoting"
        );
        words.join(" ")
    }

    /// `argv` as a `Command` to run.
    pub fn command<S: AsRef<OsStr>>(&self, image: &str, command: &[S]) -> Command {
        let argv = self.argv(image, command);
        let mut docker = Command::new(&argv[0]);
        docker.args(&argv[1..]);
        docker
    }
}

/// `--security-opt no-new-privileges`.
const NO_NEW_PRIVILEGES: [&str; 2] = ["--security-opt", "no-new-privileges"];

/// `--security-opt seccomp=PROFILE`.
fn seccomp_opt(profile: &OsStr) -> [OsString; 2] {
    let mut value = OsString::from("seccomp=");
    value.push(profile);
    [OsString::from("--security-opt"), value]
}

/// `--security-opt` arguments for a replay under `profile`, optionally with no-new-privileges: for
/// a load script, which passes them on to its own `docker run`.
pub fn security_opts(profile: &Path, no_new_privileges: bool) -> Vec<OsString> {
    let mut opts = seccomp_opt(profile.as_os_str()).to_vec();
    if no_new_privileges {
        opts.extend(NO_NEW_PRIVILEGES.map(OsString::from));
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
