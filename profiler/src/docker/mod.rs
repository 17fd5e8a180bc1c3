//! Talking to the Docker Engine API (through bollard): a container's name or id → its full id,
//! main pid and cgroup v2 path; its labels (compose project and service), the seccomp and
//! no-new-privileges settings it was created with; and the daemon's container event stream
//! (create, start, `docker exec`, die, destroy, …). It deliberately records nothing and never
//! touches eBPF: callers turn what it returns into cgroup ids for the tracer. It also never
//! creates, starts or stops containers — the user's workload does that; the one exception,
//! `record --verify`'s replay (`hardening::replay`), goes through [`Engine::client`].
//!
//! The client negotiates the API version with the daemon (dockerd 20.10 speaks 1.41, bollard 0.21
//! defaults to 1.53), so no field newer than the daemon is ever relied on. A recording that must
//! outlive a lost connection reads events through [`EventSource`] (`events.rs`), which reconnects
//! and replays what it missed.

use std::{
    collections::{BTreeMap, HashMap},
    time::{SystemTime, UNIX_EPOCH},
};

use bollard::{
    Docker,
    errors::Error as BollardError,
    models::{ContainerCreateBody, ContainerInspectResponse, EventMessage, EventMessageTypeEnum},
    query_parameters::EventsOptions,
};
use futures_util::{Stream, StreamExt as _};
use thiserror::Error;

mod events;
mod layout;

pub use events::{EventSource, Outage, Update};
pub use layout::{
    cgroup2_path_of_pid, expected_cgroup2_paths, file_stem, profile_file_name, profile_stem,
};

/// Label Docker Compose puts on every container it creates: the project name.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
/// Label Docker Compose puts on every container it creates: the service name.
pub const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";

/// Where bollard (and the docker CLI) connect when `DOCKER_HOST` is unset.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker daemon at {host} (is dockerd running? is DOCKER_HOST right?): \
         {err}"
    )]
    Unreachable { host: String, err: BollardError },
    #[error("no container is named {0:?} or has that id; `docker ps -a` lists containers")]
    NotFound(String),
    #[error(
        "container {name} ({short_id}) is not running; only a running container can be attached \
         to (start it, or record it from its first syscall with \
         `record --containers -- docker start {name}`)"
    )]
    NotRunning { name: String, short_id: String },
    #[error("the Docker daemon answered {what} with an error: {err}")]
    Api {
        what: &'static str,
        err: BollardError,
    },
}

impl crate::exit::Coded for DockerError {
    fn exit_code(&self) -> i32 {
        match self {
            DockerError::Unreachable { .. } => crate::exit::ENVIRONMENT,
            DockerError::NotFound(_) | DockerError::NotRunning { .. } => crate::exit::INPUT,
            DockerError::Api { .. } => crate::exit::RUNTIME,
        }
    }
}

/// A connection to one Docker daemon.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    /// `DOCKER_HOST` or the default socket, for error messages.
    host: String,
}

/// What `docker inspect` says about one container, reduced to what recording needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    /// The full 64-hex id.
    pub id: String,
    /// The name without Docker's leading '/'.
    pub name: String,
    /// `State.Pid` while the container runs (the entrypoint as seen from the host's pid namespace).
    pub pid: Option<u32>,
    /// `State.Running` (also true while paused).
    pub running: bool,
    /// `Config.Labels`: the container's own labels merged with its image's.
    pub labels: BTreeMap<String, String>,
    /// Label `com.docker.compose.project`.
    pub compose_project: Option<String>,
    /// Label `com.docker.compose.service`.
    pub compose_service: Option<String>,
    /// The seccomp filter the runtime installs (from `HostConfig.SecurityOpt` and `Privileged`).
    pub seccomp: SeccompMode,
    /// Whether `no-new-privileges` was asked for in `HostConfig.SecurityOpt`. A daemon-wide
    /// `dockerd --no-new-privileges` is not visible here (the API does not report it).
    pub no_new_privileges: bool,
    /// The image as the user named it (`Config.Image`, e.g. `nginx:1.22`), else its id.
    pub image: String,
    /// Where its root filesystem lives on the host (`GraphDriver`), for the hardening advice.
    pub rootfs: Rootfs,
    /// Every path inside the container that is a mount (volumes, bind mounts, tmpfs): writes there
    /// never reach the root filesystem, and the runtime may create these paths in it.
    pub mount_points: Vec<String>,
    /// `Config.User` (empty: the image's default, root unless the image says otherwise).
    pub user: String,
    /// How it was created (`Config`, `HostConfig`), to replay it with the recommendation applied.
    pub created_with: Box<ContainerCreateBody>,
}

/// A container's root filesystem as its storage driver keeps it (`GraphDriver` of inspect).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rootfs {
    /// The storage driver, e.g. `overlay2`.
    pub driver: String,
    /// overlay2's `UpperDir`: the container's writable layer, where every write to its root
    /// filesystem lands. None for other drivers.
    pub upper_dir: Option<std::path::PathBuf>,
    /// overlay2's `LowerDir`, topmost first: the container's init layer, then the image's layers.
    pub lower_dirs: Vec<std::path::PathBuf>,
}

/// Which seccomp filter the runtime installs in a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompMode {
    /// No `seccomp=` option: the daemon's default profile (its built-in one unless dockerd was
    /// started with `--seccomp-profile`).
    Default,
    /// `seccomp=unconfined`, or a privileged container: no filter is installed at all, so the
    /// recorder cannot gate on the filter install (design.md §2) and falls back to the first
    /// execve.
    Unconfined,
    /// `seccomp=<profile>`: the CLI reads the file and the daemon stores its JSON content. What is
    /// recorded under it can only be a subset of it (design.md §1).
    Custom,
}

/// One container event from the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    /// The action exactly as dockerd sends it. Most are one word (`create`, `start`, `die`,
    /// `destroy`, `kill`, `stop`, `exec_die`, …), but some carry a detail after ": " —
    /// dockerd 20.10 sends `exec_create: ls /` and `exec_start: sh -c echo hi` (the command joined
    /// with spaces) and `health_status: healthy`. Match on [`ContainerEvent::verb`].
    pub action: String,
    /// The container's full id.
    pub id: String,
    /// The container's name (attribute `name`), without a leading '/'.
    pub name: Option<String>,
    /// The image as the user named it (attribute `image`, like `Config.Image`).
    pub image: Option<String>,
    /// The container's compose labels: dockerd puts every label of the container among the
    /// event's attributes, so a container can be named after its service even when it can no
    /// longer be inspected.
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// When the daemon emitted the event, in nanoseconds since the Unix epoch (`timeNano`).
    pub time_nanos: i64,
    /// The exit code a `die` event carries (attribute `exitCode`).
    pub exit_code: Option<i64>,
}

impl ContainerEvent {
    /// The action without its detail: `exec_start` for `exec_start: sh -c echo hi`.
    pub fn verb(&self) -> &str {
        self.action
            .split_once(": ")
            .map_or(&self.action, |(verb, _)| verb)
    }

    fn from_message(message: EventMessage) -> Option<ContainerEvent> {
        if message
            .typ
            .is_some_and(|typ| typ != EventMessageTypeEnum::CONTAINER)
        {
            return None;
        }
        let action = message.action?;
        let actor = message.actor?;
        let id = actor.id?;
        let mut attributes = actor.attributes.unwrap_or_default();
        let name = (attributes.remove("name")).map(|name| name.trim_start_matches('/').to_owned());
        let time_nanos = message
            .time_nano
            .or_else(|| message.time.map(|secs| secs.saturating_mul(1_000_000_000)))
            .unwrap_or_default();
        Some(ContainerEvent {
            action,
            id,
            name,
            image: attributes.remove("image").filter(|image| !image.is_empty()),
            compose_project: attributes.remove(COMPOSE_PROJECT_LABEL),
            compose_service: attributes.remove(COMPOSE_SERVICE_LABEL),
            exit_code: attributes
                .get("exitCode")
                .and_then(|code| code.parse().ok()),
            time_nanos,
        })
    }
}

impl Engine {
    /// Connects to the daemon named by `DOCKER_HOST` (default: the local socket) and settles on
    /// the newest API version both sides speak.
    pub async fn connect() -> Result<Engine, DockerError> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_DOCKER_HOST.to_owned());
        let unreachable = |err| DockerError::Unreachable {
            host: host.clone(),
            err,
        };
        let docker = Docker::connect_with_defaults().map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        Ok(Engine { docker, host })
    }

    /// The API version in use after negotiation (e.g. "1.41" with dockerd 20.10).
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// Looks a container up by name or (full or unambiguous short) id, running or not.
    pub async fn inspect(&self, name_or_id: &str) -> Result<ContainerInfo, DockerError> {
        match self.docker.inspect_container(name_or_id, None).await {
            Ok(response) => Ok(container_info(response)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(DockerError::NotFound(name_or_id.to_owned())),
            Err(err) => Err(self.classify("inspect", err)),
        }
    }

    /// Like [`Engine::inspect`], but fails with [`DockerError::NotRunning`] unless the container
    /// runs and has a pid: what attaching to a container needs.
    pub async fn inspect_running(&self, name_or_id: &str) -> Result<ContainerInfo, DockerError> {
        let info = self.inspect(name_or_id).await?;
        if info.running && info.pid.is_some() {
            Ok(info)
        } else {
            Err(DockerError::NotRunning {
                name: info.name,
                short_id: info.id.chars().take(12).collect(),
            })
        }
    }

    /// Container events from the moment this is called on, until the daemon closes the stream
    /// (it stops or restarts; the stream then ends, after an `Err` if the connection broke).
    ///
    /// The stream is lazy (the request goes out when it is first polled), so it asks the daemon
    /// for events `since` the time of this call: dockerd replays what it buffered (its last 256
    /// events) before going live, so a container created between this call and the first poll is
    /// not missed. Same-host daemons share our clock; with a remote `DOCKER_HOST`, clock skew
    /// widens or narrows that window.
    ///
    /// Events come only after the daemon has acted: `start` arrives once the runtime has started
    /// the entrypoint — by then runc has already installed the seccomp filter — and at `create`
    /// the container's cgroup does not exist yet (runc makes it during `start`).
    pub fn events(&self) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + use<> {
        self.events_between(now_nanos(), None)
    }

    /// Container events from `since` (nanoseconds since the Unix epoch, inclusive) on: those
    /// dockerd still buffers first, then live ones. With `until`, only those up to then (inclusive),
    /// and the stream ends: how a reconnected recording catches up on what it missed.
    pub fn events_between(
        &self,
        since: i64,
        until: Option<i64>,
    ) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + Send + use<> {
        let options = EventsOptions {
            since: Some(docker_time(since)),
            until: until.map(docker_time),
            filters: Some(HashMap::from([(
                "type".to_owned(),
                vec!["container".to_owned()],
            )])),
        };
        let engine = self.clone();
        self.docker
            .events(Some(options))
            .filter_map(move |message| {
                let result = match message {
                    Ok(message) => ContainerEvent::from_message(message).map(Ok),
                    Err(err) => Some(Err(engine.classify("the event stream", err))),
                };
                std::future::ready(result)
            })
    }

    /// Whether the daemon answers (`GET /_ping`).
    pub async fn ping(&self) -> Result<(), DockerError> {
        (self.docker.ping().await)
            .map(drop)
            .map_err(|err| self.classify("ping", err))
    }

    /// The client, for the few callers that act on containers themselves (the replay of
    /// `record --verify`).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// `DOCKER_HOST`, or the default socket: where this engine connects.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// An HTTP-level answer from the daemon is an API error; anything below it (socket missing,
    /// connection refused or reset, timeout) means the daemon is not reachable.
    fn classify(&self, what: &'static str, err: BollardError) -> DockerError {
        match err {
            BollardError::DockerResponseServerError { .. }
            | BollardError::JsonDataError { .. }
            | BollardError::JsonSerdeError { .. } => DockerError::Api { what, err },
            _ => DockerError::Unreachable {
                host: self.host.clone(),
                err,
            },
        }
    }
}

/// Now, in nanoseconds since the Unix epoch: the unit of event times.
pub fn now_nanos() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)
}

/// A time as the events API takes it: seconds since the Unix epoch with a 9-digit fraction.
fn docker_time(nanos: i64) -> String {
    let nanos = nanos.max(0);
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
}

fn container_info(response: ContainerInspectResponse) -> ContainerInfo {
    let state = response.state.unwrap_or_default();
    let config = response.config.unwrap_or_default();
    let host_config = response.host_config.unwrap_or_default();
    let rootfs = rootfs(response.graph_driver.as_ref());
    let mut mount_points: Vec<String> = (response.mounts.iter().flatten())
        .filter_map(|mount| mount.destination.clone())
        .chain(
            host_config
                .tmpfs
                .iter()
                .flatten()
                .map(|(dst, _)| dst.clone()),
        )
        .collect();
    mount_points.sort();
    mount_points.dedup();
    let created_with = Box::new(ContainerCreateBody {
        user: config.user.clone(),
        env: config.env.clone(),
        cmd: config.cmd.clone(),
        image: config.image.clone(),
        working_dir: config.working_dir.clone(),
        entrypoint: config.entrypoint.clone(),
        stop_signal: config.stop_signal.clone(),
        host_config: Some(host_config.clone()),
        ..ContainerCreateBody::default()
    });
    let running = state.running.unwrap_or(false);
    // State.Pid is 0 when the container is not running.
    let pid = state
        .pid
        .and_then(|pid| u32::try_from(pid).ok())
        .filter(|&pid| running && pid > 0);
    let labels: BTreeMap<String, String> = config.labels.unwrap_or_default().into_iter().collect();
    let (seccomp, no_new_privileges) = parse_security_opts(
        host_config.security_opt.as_deref().unwrap_or_default(),
        host_config.privileged.unwrap_or(false),
    );
    ContainerInfo {
        id: response.id.unwrap_or_default(),
        name: response
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        pid,
        running,
        compose_project: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
        compose_service: labels.get(COMPOSE_SERVICE_LABEL).cloned(),
        labels,
        seccomp,
        no_new_privileges,
        image: config
            .image
            .filter(|image| !image.is_empty())
            .or(response.image)
            .unwrap_or_default(),
        rootfs,
        mount_points,
        user: config.user.unwrap_or_default(),
        created_with,
    }
}

/// overlay2 keeps `UpperDir` and `LowerDir` (colon-separated, topmost first) in `GraphDriver.Data`;
/// other drivers keep other keys, and then only the driver's name is known.
fn rootfs(driver: Option<&bollard::models::DriverData>) -> Rootfs {
    let Some(driver) = driver else {
        return Rootfs::default();
    };
    let overlay = driver.name == "overlay2";
    let data = |key: &str| driver.data.get(key).filter(|_| overlay);
    Rootfs {
        driver: driver.name.clone(),
        upper_dir: data("UpperDir").map(std::path::PathBuf::from),
        lower_dirs: (data("LowerDir").into_iter())
            .flat_map(|dirs| dirs.split(':'))
            .filter(|dir| !dir.is_empty())
            .map(std::path::PathBuf::from)
            .collect(),
    }
}

/// Reads `HostConfig.SecurityOpt` the way dockerd 20.10 does (`parseSecurityOpt` in
/// daemon/daemon_unix.go): a bare `no-new-privileges`, else key and value split at the first '='
/// or, failing that, the first ':' (the pre-17.04 form, still accepted); a later option
/// overrides an earlier one. A privileged container gets no seccomp filter whatever it asked
/// for (`setSeccomp` in daemon/seccomp_linux.go returns early).
fn parse_security_opts(opts: &[String], privileged: bool) -> (SeccompMode, bool) {
    let mut seccomp = SeccompMode::Default;
    let mut no_new_privileges = false;
    for opt in opts {
        if opt == "no-new-privileges" {
            no_new_privileges = true;
            continue;
        }
        let Some((key, value)) = opt.split_once('=').or_else(|| opt.split_once(':')) else {
            continue;
        };
        match key {
            "seccomp" => {
                seccomp = match value {
                    "unconfined" => SeccompMode::Unconfined,
                    // "builtin" (Docker ≥ 23) names the daemon's default explicitly.
                    "" | "builtin" => SeccompMode::Default,
                    _ => SeccompMode::Custom,
                }
            }
            // dockerd rejects values strconv.ParseBool does not accept, so none can reach us.
            "no-new-privileges" => no_new_privileges = go_parse_bool(value).unwrap_or(false),
            _ => {}
        }
    }
    if privileged {
        seccomp = SeccompMode::Unconfined;
    }
    (seccomp, no_new_privileges)
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod live_tests;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn security_opts_seccomp() {
        let seccomp = |list: &[&str], privileged| parse_security_opts(&opts(list), privileged).0;
        assert_eq!(seccomp(&[], false), SeccompMode::Default);
        assert_eq!(
            seccomp(&["apparmor=unconfined", "label=disable"], false),
            SeccompMode::Default
        );
        assert_eq!(
            seccomp(&["seccomp=unconfined"], false),
            SeccompMode::Unconfined
        );
        assert_eq!(
            seccomp(&["seccomp:unconfined"], false),
            SeccompMode::Unconfined
        );
        assert_eq!(seccomp(&["seccomp=builtin"], false), SeccompMode::Default);
        // What the CLI sends for `--security-opt seccomp=profile.json`: the file's JSON content.
        let custom = r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"]}]}"#;
        assert_eq!(seccomp(&[custom], false), SeccompMode::Custom);
        assert_eq!(
            seccomp(&["seccomp=/etc/docker/p.json"], false),
            SeccompMode::Custom
        );
        // The last one wins, as in dockerd.
        assert_eq!(
            seccomp(&[custom, "seccomp=unconfined"], false),
            SeccompMode::Unconfined
        );
        assert_eq!(
            seccomp(&["seccomp=unconfined", custom], false),
            SeccompMode::Custom
        );
        // Privileged containers get no filter whatever they asked for.
        assert_eq!(seccomp(&[], true), SeccompMode::Unconfined);
        assert_eq!(seccomp(&[custom], true), SeccompMode::Unconfined);
    }

    #[test]
    fn security_opts_no_new_privileges() {
        let nnp = |list: &[&str]| parse_security_opts(&opts(list), false).1;
        assert!(!nnp(&[]));
        assert!(nnp(&["no-new-privileges"]));
        assert!(nnp(&["no-new-privileges:true"]));
        assert!(nnp(&["no-new-privileges=true"]));
        assert!(nnp(&["no-new-privileges=1"]));
        assert!(!nnp(&["no-new-privileges=false"]));
        assert!(!nnp(&["no-new-privileges:false"]));
        assert!(!nnp(&["no-new-privileges", "no-new-privileges=false"]));
        assert!(nnp(&["seccomp=unconfined", "no-new-privileges"]));
        let (seccomp, nnp) = parse_security_opts(
            &opts(&["no-new-privileges:true", "seccomp:unconfined"]),
            false,
        );
        assert_eq!((seccomp, nnp), (SeccompMode::Unconfined, true));
    }

    fn info(name: &str, service: Option<&str>) -> ContainerInfo {
        ContainerInfo {
            id: "0123456789ab".repeat(5) + "cdef",
            name: name.to_owned(),
            pid: None,
            running: false,
            labels: BTreeMap::new(),
            compose_project: service.map(|_| "demo".to_owned()),
            compose_service: service.map(str::to_owned),
            seccomp: SeccompMode::Default,
            no_new_privileges: false,
            image: "busybox".to_owned(),
            rootfs: Default::default(),
            mount_points: Vec::new(),
            user: String::new(),
            created_with: Box::default(),
        }
    }

    #[test]
    fn profile_file_names() {
        assert_eq!(profile_file_name(&info("sp-probe", None)), "sp-probe.json");
        assert_eq!(
            profile_file_name(&info("demo-web-1", Some("web"))),
            "web.json"
        );
        assert_eq!(
            profile_file_name(&info("demo-web-1", Some(""))),
            "demo-web-1.json"
        );
        assert_eq!(profile_file_name(&info("a/b c:d", None)), "a_b_c_d.json");
        assert_eq!(
            profile_file_name(&info("x", Some("../../etc/passwd"))),
            ".._.._etc_passwd.json"
        );
        assert_eq!(
            profile_file_name(&info("x", Some("Api.v2_ok-1"))),
            "Api.v2_ok-1.json"
        );
        assert_eq!(
            profile_file_name(&info("x", Some("dienst-ü"))),
            "dienst-_.json"
        );
        assert_eq!(profile_file_name(&info("", None)), "0123456789ab.json");
    }

    #[test]
    fn event_verbs_and_messages() {
        use bollard::models::EventActor;
        let message = EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some("exec_start: sh -c echo hi".to_owned()),
            actor: Some(EventActor {
                id: Some("abc".to_owned()),
                attributes: Some(HashMap::from([("name".to_owned(), "sp-probe".to_owned())])),
            }),
            scope: None,
            time: Some(1_795_362_408),
            time_nano: Some(1_795_362_408_696_988_846),
        };
        let event = ContainerEvent::from_message(message.clone()).unwrap();
        assert_eq!(event.verb(), "exec_start");
        assert_eq!(event.action, "exec_start: sh -c echo hi");
        assert_eq!(event.name.as_deref(), Some("sp-probe"));
        assert_eq!(event.time_nanos, 1_795_362_408_696_988_846);
        let old = EventMessage {
            time_nano: None,
            action: Some("die".to_owned()),
            ..message.clone()
        };
        let event = ContainerEvent::from_message(old).unwrap();
        assert_eq!(
            (event.verb(), event.time_nanos),
            ("die", 1_795_362_408_000_000_000)
        );
        let image = EventMessage {
            typ: Some(EventMessageTypeEnum::IMAGE),
            ..message
        };
        assert!(ContainerEvent::from_message(image).is_none());
    }
}
