//! One set of programs per host (issue 13): concurrent recordings share one host tracer's attached
//! programs and maps instead of each attaching its own, so N recordings cost every syscall on the
//! machine what one does.
//!
//! The host tracer is a process of this same binary (the hidden `__host-tracer` subcommand,
//! [`host`]). The first recorder that finds none starts it, detached (its own session, its log in
//! [`RUN_DIR`]), under an flock so two recorders never start two. It loads and attaches with
//! [`Tracer::load_with`] like a private recorder, holding its links by file descriptor (nothing is
//! pinned), and serves a unix socket whose name carries a hash of the eBPF object and the tool's
//! version: two different builds never share. A recorder connects and receives the map
//! descriptors ([`protocol`]); it claims slots through the host, then marks threads and reads its
//! own slots directly, as a private recorder does.
//!
//! Failing safe: when a recorder's connection closes (clean exit or SIGKILL) the host disarms and
//! releases its slots; the host exits after [`host::LINGER`] with no client, and its exit (or its
//! death) closes the links, which detaches every program. A recorder whose host is gone fails with
//! [`ShareError::HostLost`] (exit 4) instead of writing an incomplete profile.
//!
//! Not shared: the eBPF log (`-vv`; one log ring per load) and kernel-side arming of containers
//! (`--containers`, `watch`: WATCH_MODE and WATCH_PREFIXES are per load). Those load a private
//! set, as does `SECCOMP_PROFILER_SHARED=0`. This module does not decide what a recording does
//! with its slots.

mod fds;
pub mod host;
pub mod protocol;

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read as _, Write as _},
    os::unix::{
        fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _},
        net::UnixStream,
        process::CommandExt as _,
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use thiserror::Error;

use super::{Tracer, TracerError};
use protocol::{Greeting, Reply, Request};

/// The programs and maps a tracer loaded itself, or the maps of a host tracer's set, received as
/// file descriptors.
pub(super) enum Maps {
    Loaded(aya::Ebpf),
    Shared(std::collections::HashMap<String, aya::maps::Map>),
}

impl Maps {
    pub(super) fn map(&self, name: &str) -> Option<&aya::maps::Map> {
        match self {
            Maps::Loaded(ebpf) => ebpf.map(name),
            Maps::Shared(maps) => maps.get(name),
        }
    }

    pub(super) fn map_mut(&mut self, name: &str) -> Option<&mut aya::maps::Map> {
        match self {
            Maps::Loaded(ebpf) => ebpf.map_mut(name),
            Maps::Shared(maps) => maps.get_mut(name),
        }
    }
}

/// Where the host tracer's socket, lock and log live: root's only (0700).
pub const RUN_DIR: &str = "/run/seccomp-profiler";

/// Set to `0` to load a private set of programs (debugging, the benchmark's A/B).
pub const SHARED_ENV: &str = "SECCOMP_PROFILER_SHARED";

/// The hidden subcommand that runs the host tracer.
pub const HOST_SUBCOMMAND: &str = "__host-tracer";

/// How long a starting host tracer may take to load, attach and listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum ShareError {
    #[error("{path} is not a directory only root can use (mode 0700, owner root); remove it")]
    UnsafeDir { path: PathBuf },
    #[error("{what} {path}: {err}")]
    File {
        what: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("cannot duplicate the descriptor of map {0}: {1}")]
    Export(String, io::Error),
    #[error("cannot start the host tracer: {0}")]
    Spawn(io::Error),
    #[error("the host tracer did not start ({reason}); its log, {log}, says:\n{tail}")]
    HostFailed {
        reason: String,
        log: PathBuf,
        tail: String,
    },
    #[error("the host tracer at {socket} spoke an unknown protocol: {message}")]
    Protocol { socket: PathBuf, message: String },
    #[error("the host tracer refused: {0}")]
    Refused(String),
    #[error(
        "the host tracer (pid {pid}) whose eBPF programs this recording used has exited, so \
         nothing is recorded any more and the recording is incomplete; see its log {log} (set \
         {SHARED_ENV}=0 to record with a private set of programs)"
    )]
    HostLost { pid: u32, log: PathBuf },
}

/// This build's socket, lock and log paths: `host-<hash>.{sock,lock,log}` in [`RUN_DIR`], the
/// hash being FNV-1a over the eBPF object and the version string.
#[derive(Clone, Debug)]
pub struct Paths {
    pub socket: PathBuf,
    pub lock: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    pub fn of_this_build() -> Paths {
        Paths::in_dir(
            Path::new(RUN_DIR),
            build_hash(crate::EBPF_OBJECT, crate::cli::VERSION),
        )
    }

    fn in_dir(dir: &Path, hash: u64) -> Paths {
        let stem = format!("host-{hash:016x}");
        Paths {
            socket: dir.join(format!("{stem}.sock")),
            lock: dir.join(format!("{stem}.lock")),
            log: dir.join(format!("{stem}.log")),
        }
    }

    /// The paths next to a host's socket (the host is told only its socket).
    pub fn from_socket(socket: &Path) -> Paths {
        Paths {
            socket: socket.to_owned(),
            lock: socket.with_extension("lock"),
            log: socket.with_extension("log"),
        }
    }
}

/// FNV-1a, 64 bits: stable across builds and Rust versions (std's hasher is not promised to be).
fn build_hash(object: &[u8], version: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in object.iter().chain([0u8].iter()).chain(version.as_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Whether recordings share the host tracer: unless `SECCOMP_PROFILER_SHARED=0`.
fn sharing_enabled() -> bool {
    std::env::var(SHARED_ENV).map_or(true, |value| value != "0")
}

/// Creates [`RUN_DIR`] (0700) or checks that it is root's alone: anyone who could write there could
/// put a socket of their own in the host tracer's place.
fn secure_dir(dir: &Path) -> Result<(), ShareError> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => {
            return Err(ShareError::File {
                what: "cannot create",
                path: dir.to_owned(),
                err,
            });
        }
    }
    let meta = fs::symlink_metadata(dir).map_err(|err| ShareError::File {
        what: "cannot read",
        path: dir.to_owned(),
        err,
    })?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o077 != 0 {
        return Err(ShareError::UnsafeDir {
            path: dir.to_owned(),
        });
    }
    Ok(())
}

/// An exclusive flock, released when dropped (closing the file).
struct Lock {
    _file: File,
}

impl Lock {
    fn take(path: &Path) -> Result<Lock, ShareError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(|err| ShareError::File {
                what: "cannot open the lock",
                path: path.to_owned(),
                err,
            })?;
        use std::os::fd::AsRawFd as _;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(ShareError::File {
                what: "cannot lock",
                path: path.to_owned(),
                err: io::Error::last_os_error(),
            });
        }
        Ok(Lock { _file: file })
    }

    /// The lock if nobody holds it now.
    fn try_take(path: &Path) -> Option<Lock> {
        let file = OpenOptions::new().write(true).open(path).ok()?;
        use std::os::fd::AsRawFd as _;
        // SAFETY: flock on a descriptor this function owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        locked.then_some(Lock { _file: file })
    }
}

/// A recorder's connection to the host tracer.
pub struct Client {
    stream: UnixStream,
    host_pid: u32,
    log: PathBuf,
}

impl Client {
    /// Connects to this build's host tracer, starting it when there is none. Returns the maps it
    /// shares and whether it records capability checks.
    fn connect() -> Result<(Client, Greeting, Vec<std::os::fd::OwnedFd>), ShareError> {
        let paths = Paths::of_this_build();
        secure_dir(Path::new(RUN_DIR))?;
        // Held until the greeting arrives: the host accepts every connection made before it
        // takes this lock to exit, so a connection never lands on a host that is leaving.
        let _lock = Lock::take(&paths.lock)?;
        let stream = match UnixStream::connect(&paths.socket) {
            Ok(stream) => stream,
            Err(_) => start_host(&paths)?,
        };
        let (host_pid, _) = fds::peer(&stream).map_err(|err| ShareError::File {
            what: "cannot identify the host tracer behind",
            path: paths.socket.clone(),
            err,
        })?;
        stream
            .set_read_timeout(Some(START_TIMEOUT))
            .map_err(ShareError::Spawn)?;
        let protocol_error = |message: String| ShareError::Protocol {
            socket: paths.socket.clone(),
            message,
        };
        let (payload, map_fds) =
            fds::receive(&stream, 4096).map_err(|err| protocol_error(err.to_string()))?;
        let greeting =
            Greeting::parse(&String::from_utf8_lossy(&payload)).map_err(&protocol_error)?;
        if greeting.maps.len() != map_fds.len() {
            return Err(protocol_error(format!(
                "{} map names but {} descriptors",
                greeting.maps.len(),
                map_fds.len()
            )));
        }
        stream
            .set_read_timeout(None)
            .map_err(|err| protocol_error(err.to_string()))?;
        log::info!(
            "sharing the eBPF programs of host tracer pid {host_pid} ({})",
            paths.socket.display()
        );
        let client = Client {
            stream,
            host_pid,
            log: paths.log,
        };
        Ok((client, greeting, map_fds))
    }

    fn lost(&self) -> ShareError {
        ShareError::HostLost {
            pid: self.host_pid,
            log: self.log.clone(),
        }
    }

    /// Whether the host tracer is still there (a poll that does not wait).
    pub fn alive(&self) -> Result<(), ShareError> {
        if fds::hung_up(&self.stream) {
            return Err(self.lost());
        }
        Ok(())
    }

    fn ask(&mut self, request: Request) -> Result<Reply, ShareError> {
        self.alive()?;
        self.stream
            .write_all(request.encode().as_bytes())
            .map_err(|_| self.lost())?;
        // Byte by byte up to the newline: a reply is a few bytes, and nothing may stay buffered
        // (an unread byte would look like a hang-up to `alive`).
        let mut line = Vec::new();
        let mut byte = [0u8];
        loop {
            match self.stream.read(&mut byte) {
                Ok(0) | Err(_) => return Err(self.lost()),
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
            }
        }
        Reply::parse(&String::from_utf8_lossy(&line)).map_err(|message| ShareError::Protocol {
            socket: Paths::of_this_build().socket,
            message,
        })
    }

    pub(super) fn add_target(&mut self, cgroup_id: u64, flags: u32) -> Result<u32, TracerError> {
        match self.ask(Request::Add { cgroup_id, flags })? {
            Reply::Slot(slot) => Ok(slot),
            Reply::Full => Err(TracerError::TooManyTargets(host::CAPACITY)),
            Reply::Error(message) => Err(ShareError::Refused(message).into()),
        }
    }

    pub(super) fn add_target_in_slot(
        &mut self,
        cgroup_id: u64,
        slot: u32,
        flags: u32,
    ) -> Result<(), TracerError> {
        match self.ask(Request::AddInSlot {
            cgroup_id,
            slot,
            flags,
        })? {
            Reply::Slot(_) => Ok(()),
            Reply::Full => Err(TracerError::TooManyTargets(host::CAPACITY)),
            Reply::Error(message) => Err(ShareError::Refused(message).into()),
        }
    }
}

/// Starts the host tracer (the lock is held) and connects to it once it listens.
fn start_host(paths: &Paths) -> Result<UnixStream, ShareError> {
    let exe = std::env::current_exe().map_err(ShareError::Spawn)?;
    // One host's log at a time: the last one's is of no use once a new host starts.
    let log = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&paths.log)
        .map_err(|err| ShareError::File {
            what: "cannot open the host tracer's log",
            path: paths.log.clone(),
            err,
        })?;
    let log_err = log.try_clone().map_err(ShareError::Spawn)?;
    let mut command = Command::new(exe);
    command
        .args(["-v", HOST_SUBCOMMAND, "--socket"])
        .arg(&paths.socket)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: setsid is async-signal-safe; it detaches the host from the recorder's session and
    // process group, so a Ctrl-C or a kill of the recorder's group does not reach it.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(ShareError::Spawn)?;
    log::info!("started host tracer pid {}", child.id());
    let started = Instant::now();
    loop {
        if let Ok(stream) = UnixStream::connect(&paths.socket) {
            reap_later(child);
            return Ok(stream);
        }
        let failed = |reason: String| ShareError::HostFailed {
            reason,
            log: paths.log.clone(),
            tail: log_tail(&paths.log),
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Err(failed(format!("it exited with {status}")));
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!(
                "it was not listening after {}s",
                START_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The host tracer outlives most recorders; the one that started it waits for it in the
/// background so it never lingers as a zombie while that recorder runs.
fn reap_later(mut child: Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

/// What the host wrote to its log (its reason to fail), at most the last 2 KiB.
fn log_tail(log: &Path) -> String {
    let text = fs::read(log).unwrap_or_default();
    let tail = &text[text.len().saturating_sub(2048)..];
    String::from_utf8_lossy(tail).trim_end().to_owned()
}

impl Tracer {
    /// The tracer a recording of a command, a container or a cgroup uses: the host tracer's shared
    /// programs, or a private set when `ebpf_log` is asked for (one log per load),
    /// `SECCOMP_PROFILER_SHARED=0` is set, or the host tracer cannot be used (a warning says why).
    pub fn for_recording(ebpf_log: bool) -> Result<Tracer, TracerError> {
        if ebpf_log {
            log::info!("the eBPF log needs a private set of programs: not sharing");
            return Tracer::load(true);
        }
        if !sharing_enabled() {
            log::info!("{SHARED_ENV}=0: loading a private set of programs");
            return Tracer::load(false);
        }
        match Client::connect() {
            Ok((client, greeting, map_fds)) => Tracer::shared(client, greeting, map_fds),
            Err(err) => {
                log::warn!(
                    "cannot share the host tracer's eBPF programs, loading a private set: {err}"
                );
                Tracer::load(false)
            }
        }
    }

    fn shared(
        client: Client,
        greeting: Greeting,
        map_fds: Vec<std::os::fd::OwnedFd>,
    ) -> Result<Tracer, TracerError> {
        let mut maps = std::collections::HashMap::new();
        for (name, fd) in greeting.maps.into_iter().zip(map_fds) {
            let map = aya::maps::MapData::from_fd(fd)
                .and_then(aya::maps::Map::from_map_data)
                .map_err(|err| ShareError::Protocol {
                    socket: Paths::of_this_build().socket,
                    message: format!("map {name} cannot be opened: {err}"),
                })?;
            maps.insert(name, map);
        }
        let mut tracer = Tracer {
            ebpf: Maps::Shared(maps),
            logger: None,
            capabilities: greeting.capabilities,
            capacity: host::CAPACITY,
            host: Some(client),
            stats_baseline: [0; profiler_common::stats::COUNT as usize],
        };
        tracer.stats_baseline = tracer.read_stats()?;
        Ok(tracer)
    }

    /// Fails when the programs this tracer counts with are gone (the host tracer exited). A
    /// private set is always there.
    pub fn healthy(&self) -> Result<(), TracerError> {
        match &self.host {
            Some(host) => Ok(host.alive()?),
            None => Ok(()),
        }
    }

    /// Whether this tracer uses the host tracer's programs.
    pub fn is_shared(&self) -> bool {
        self.host.is_some()
    }

    fn read_stats(&self) -> Result<[u64; profiler_common::stats::COUNT as usize], TracerError> {
        let array: aya::maps::PerCpuArray<&aya::maps::MapData, u64> =
            self.open(profiler_common::maps::STATS)?;
        let mut values = [0; profiler_common::stats::COUNT as usize];
        for (index, value) in values.iter_mut().enumerate() {
            *value = array
                .get(&(index as u32), 0)
                .map_err(super::map_err(profiler_common::maps::STATS))?
                .iter()
                .sum();
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_never_share_a_socket() {
        let object = b"\x7fELF one object";
        let one = build_hash(object, "0.1.0 (abc)");
        assert_eq!(one, build_hash(object, "0.1.0 (abc)"));
        assert_ne!(one, build_hash(object, "0.1.0 (abd)"));
        assert_ne!(one, build_hash(b"\x7fELF another object", "0.1.0 (abc)"));
        // The separator keeps object and version apart.
        assert_ne!(build_hash(b"ab", "c"), build_hash(b"a", "bc"));
        let paths = Paths::in_dir(Path::new("/run/x"), 0xab);
        assert_eq!(paths.socket, Path::new("/run/x/host-00000000000000ab.sock"));
        let next = Paths::from_socket(&paths.socket);
        assert_eq!(next.lock, paths.lock);
        assert_eq!(next.log, paths.log);
    }

    #[test]
    fn a_directory_others_can_enter_is_refused() {
        let tmp = tempfile::tempdir().expect("ok");
        let dir = tmp.path().join("run");
        secure_dir(&dir).expect("ok");
        assert_eq!(fs::metadata(&dir).expect("ok").mode() & 0o777, 0o700);
        secure_dir(&dir).expect("ok");
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("ok");
        assert!(matches!(
            secure_dir(&dir),
            Err(ShareError::UnsafeDir { .. })
        ));
        let link = tmp.path().join("link");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("ok");
        std::os::unix::fs::symlink(&dir, &link).expect("ok");
        assert!(matches!(
            secure_dir(&link),
            Err(ShareError::UnsafeDir { .. })
        ));
    }

    #[test]
    fn the_lock_is_exclusive() {
        let tmp = tempfile::tempdir().expect("ok");
        let path = tmp.path().join("host.lock");
        let held = Lock::take(&path).expect("ok");
        assert!(Lock::try_take(&path).is_none());
        drop(held);
        assert!(Lock::try_take(&path).is_some());
    }
}
