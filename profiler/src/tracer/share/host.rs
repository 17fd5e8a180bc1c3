//! The host tracer process (`seccomp-profiler __host-tracer --socket PATH`, started by the first
//! recorder that finds none): it loads and attaches the programs once ([`Tracer::load_with`], no
//! watch settings, eBPF log off), then serves recorders on a unix socket, one thread each. It arms
//! the cgroups they ask for, remembers which slots each connection owns ([`Owners`]) and, when a
//! connection closes for any reason, disarms and releases that connection's slots. With no client
//! for [`LINGER`] it removes its socket and exits; the kernel detaches its programs when its link
//! descriptors close, which also happens if it is killed. It never reads a recording for anyone.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    os::{
        fd::{AsFd as _, BorrowedFd, OwnedFd},
        unix::{fs::PermissionsExt as _, net::UnixListener, net::UnixStream},
    },
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use profiler_common::{Mark, maps};

use super::{
    Lock, Paths, fds,
    protocol::{Greeting, Owners, Reply, Request},
};
use crate::tracer::{Options, Tracer, TracerError};

/// How long the host stays with no client before it detaches everything and exits: long enough
/// for back-to-back recordings (a CI job's `check` after `check`) to reuse one load, short enough
/// that nothing stays attached for long once recording is over.
pub const LINGER: Duration = Duration::from_secs(1);

/// How often the accept loop looks at the idle clock.
const TICK: Duration = Duration::from_millis(20);

struct State {
    tracer: Tracer,
    owners: Owners,
    /// Since when no client is connected.
    idle_since: Option<Instant>,
}

/// Target slots of the shared set: every recording on the host takes one (a `--cgroup` tree one),
/// so 64 concurrent recordings fit, at the memory a 64-slot set holds (README "Cost").
pub const CAPACITY: u32 = profiler_common::MAX_TARGETS;

/// The host tracer's own cgroup, `seccomp-profiler-<pid>-pidns<inode>-host` (crate::cgroup). The
/// first recorder starts the host, so the host would otherwise live in that recorder's cgroup: a
/// CI job's, a systemd unit's, a container's. When that job ended and its cgroup was killed, the
/// host went with it, and every other recording on the machine failed with exit 4. In a cgroup of
/// its own it outlives the recorder that started it, as it outlives that recorder's session.
/// Dropped on the way out: the host moves back to the root first, so removing the cgroup kills
/// nothing. If the host is killed, the next recorder's stale-cgroup sweep removes it.
struct Home(Option<crate::cgroup::OwnedCgroup>);

impl Home {
    /// None, with a warning, where no cgroup can be made or joined: the host then stays where it
    /// was started, as before.
    fn enter() -> Option<Home> {
        let made = crate::cgroup::OwnedCgroup::create("host").and_then(|cgroup| {
            cgroup.join()?;
            Ok(cgroup)
        });
        match made {
            Ok(cgroup) => {
                log::info!(
                    "host tracer runs in its own cgroup {}",
                    cgroup.path().display()
                );
                Some(Home(Some(cgroup)))
            }
            Err(err) => {
                log::warn!(
                    "host tracer stays in the cgroup of the recorder that started it ({err}): \
                     ending that recorder's cgroup ends every shared recording"
                );
                None
            }
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Err(err) = crate::cgroup::leave_to_root() {
            // Removing the cgroup would kill this process: leave it to the next sweep.
            log::warn!("cannot leave its cgroup ({err}); the next recorder removes it");
            std::mem::forget(self.0.take());
        }
    }
}

/// Runs the host tracer until it has been idle for [`LINGER`]. Returns the exit code.
pub fn run(socket: &Path) -> anyhow::Result<i32> {
    let _home = Home::enter();
    let paths = Paths::from_socket(socket);
    let tracer = Tracer::load_with(&Options {
        capacity: CAPACITY,
        lean_loader: true,
        ..Options::default()
    })?;
    let exported = tracer.export_maps()?;
    let greeting = Greeting {
        capabilities: tracer.records_capabilities(),
        maps: exported.iter().map(|(name, _)| name.clone()).collect(),
    }
    .encode();
    let fds: Arc<Vec<OwnedFd>> = Arc::new(exported.into_iter().map(|(_, fd)| fd).collect());
    // The recorder that started us holds the lock until it is connected: a socket file here is a
    // dead host's.
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", socket.display()))?;
    listener
        .set_nonblocking(true)
        .context("cannot make the socket non-blocking")?;
    log::info!(
        "host tracer pid {} attached and listening on {}",
        std::process::id(),
        socket.display()
    );
    let state = Arc::new(Mutex::new(State {
        tracer,
        owners: Owners::default(),
        idle_since: Some(Instant::now()),
    }));
    let mut next_client: u64 = 0;
    loop {
        while let Ok((stream, _)) = listener.accept() {
            next_client += 1;
            accept(&state, stream, next_client, &greeting, &fds);
        }
        let idle = lock(&state)
            .idle_since
            .is_some_and(|t| t.elapsed() >= LINGER);
        if idle {
            // Recorders connect under this lock: holding it, a last accept sees every connection
            // made before the socket goes away, and none can be made after.
            if let Some(_held) = Lock::try_take(&paths.lock) {
                let mut late = false;
                while let Ok((stream, _)) = listener.accept() {
                    next_client += 1;
                    accept(&state, stream, next_client, &greeting, &fds);
                    late = true;
                }
                if !late {
                    let _ = std::fs::remove_file(socket);
                    log::info!("no recorder for {LINGER:?}: detaching and exiting");
                    return Ok(crate::exit::OK);
                }
            }
        }
        std::thread::sleep(TICK);
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A client thread that panicked leaves consistent maps behind (each map write is whole).
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Greets a new recorder and serves it on its own thread.
fn accept(
    state: &Arc<Mutex<State>>,
    stream: UnixStream,
    client: u64,
    greeting: &str,
    fds: &Arc<Vec<OwnedFd>>,
) {
    // The socket's directory is root's alone; this is the second lock on the door.
    match fds::peer(&stream) {
        Ok((pid, 0)) => log::info!("recorder pid {pid} connected (connection {client})"),
        Ok((pid, uid)) => {
            log::warn!("refused pid {pid}: uid {uid} is not root");
            return;
        }
        Err(err) => {
            log::warn!("refused a connection whose peer is unknown: {err}");
            return;
        }
    }
    let _ = stream.set_nonblocking(false);
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|fd| fd.as_fd()).collect();
    if let Err(err) = fds::send(&stream, greeting.as_bytes(), &borrowed) {
        log::warn!("connection {client}: cannot send the maps: {err}");
        return;
    }
    {
        let mut state = lock(state);
        state.owners.connect(client);
        state.idle_since = None;
    }
    let state = Arc::clone(state);
    std::thread::spawn(move || {
        serve(&state, &stream, client);
        let mut state = lock(&state);
        let slots = state.owners.disconnect(client);
        for &slot in &slots {
            if let Err(err) = state.tracer.release_owned(slot) {
                log::warn!("connection {client}: cannot release slot {slot}: {err:#}");
            }
        }
        log::info!("connection {client} closed: released slots {slots:?}");
        if state.owners.clients() == 0 {
            state.idle_since = Some(Instant::now());
        }
    });
}

/// Answers one recorder's requests until its connection closes.
fn serve(state: &Mutex<State>, stream: &UnixStream, client: u64) {
    let mut writer = stream;
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let reply = match Request::parse(&line) {
            Ok(request) => handle(&mut lock(state), client, request),
            Err(message) => Reply::Error(message),
        };
        if writer.write_all(reply.encode().as_bytes()).is_err() {
            return;
        }
    }
}

fn handle(state: &mut State, client: u64, request: Request) -> Reply {
    match request {
        Request::Add { cgroup_id, flags } => match state.tracer.add_target(cgroup_id, flags) {
            Ok(slot) => match state.owners.claim(client, slot) {
                Ok(()) => Reply::Slot(slot),
                Err(message) => Reply::Error(message),
            },
            Err(TracerError::TooManyTargets(_)) => Reply::Full,
            Err(err) => Reply::Error(format!("{err:#}")),
        },
        Request::AddInSlot {
            cgroup_id,
            slot,
            flags,
        } => {
            if !state.owners.owns(client, slot) {
                return Reply::Error(format!("slot {slot} is not this recording's"));
            }
            match state.tracer.add_target_in_slot(cgroup_id, slot, flags) {
                Ok(()) => Reply::Slot(slot),
                Err(TracerError::TooManyTargets(_)) => Reply::Full,
                Err(err) => Reply::Error(format!("{err:#}")),
            }
        }
    }
}

impl Tracer {
    /// Every map of the loaded object with a descriptor of its own to send (the object's maps
    /// stay open here, so recorders always see the ones the programs use).
    fn export_maps(&self) -> Result<Vec<(String, OwnedFd)>, TracerError> {
        let super::Maps::Loaded(ebpf) = &self.ebpf else {
            return Ok(Vec::new());
        };
        let mut exported = Vec::new();
        for (name, map) in ebpf.maps() {
            use aya::maps::Map;
            let data = match map {
                Map::Array(data)
                | Map::HashMap(data)
                | Map::PerCpuArray(data)
                | Map::PerCpuHashMap(data)
                | Map::Queue(data)
                | Map::RingBuf(data) => data,
                _ => continue,
            };
            let fd = data
                .fd()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|err| super::ShareError::Export(name.to_owned(), err))?;
            exported.push((name.to_owned(), fd));
        }
        Ok(exported)
    }

    /// What [`Tracer::release`] does for a finished recording, for a connection that closed: its
    /// slot's targets disarmed, its per-slot entries emptied, the slot freed. Marks still pointing
    /// at the slot (threads the recorder left running, when it was killed) are dropped too, so the
    /// slot's next owner never sees them.
    fn release_owned(&mut self, slot: u32) -> Result<(), TracerError> {
        let recording = self.read(slot)?;
        self.release(slot, &recording)?;
        let mut marks: aya::maps::HashMap<&mut aya::maps::MapData, u32, Mark> =
            self.open_mut(maps::MARKS)?;
        let stale: Vec<u32> = marks
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, mark)| u32::from(mark.slot) == slot)
            .map(|(tid, _)| tid)
            .collect();
        for tid in stale {
            let _ = marks.remove(&tid);
        }
        Ok(())
    }
}
