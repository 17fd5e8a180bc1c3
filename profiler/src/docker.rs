//! Talking to the Docker Engine API (through bollard): a container's name or id → its full id,
//! main pid and cgroup v2 path; its labels (compose project and service), the seccomp and
//! no-new-privileges settings it was created with; and the daemon's container event stream
//! (create, start, `docker exec`, die, destroy, …). It deliberately records nothing and never
//! touches eBPF: callers turn what it returns into cgroup ids for the tracer. It also never
//! creates, starts or stops containers — the user's workload does that.
//!
//! The client negotiates the API version with the daemon (dockerd 20.10 speaks 1.41, bollard 0.21
//! defaults to 1.53), so no field newer than the daemon is ever relied on.

use std::{
    collections::{BTreeMap, HashMap},
    fs, io,
    time::{SystemTime, UNIX_EPOCH},
};

use bollard::{
    Docker,
    errors::Error as BollardError,
    models::{ContainerInspectResponse, EventMessage, EventMessageTypeEnum},
    query_parameters::EventsOptions,
};
use futures_util::{Stream, StreamExt as _};
use thiserror::Error;

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

/// Which seccomp filter the runtime installs in a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompMode {
    /// No `seccomp=` option: the daemon's default profile (its built-in one unless dockerd was
    /// started with `--seccomp-profile`).
    Default,
    /// `seccomp=unconfined`, or a privileged container: no filter is installed at all, so the
    /// recorder cannot gate on the filter install (DESIGN fact 2) and falls back to the first
    /// execve.
    Unconfined,
    /// `seccomp=<profile>`: the CLI reads the file and the daemon stores its JSON content. What is
    /// recorded under it can only be a subset of it (DESIGN fact 1).
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
    /// When the daemon emitted the event, in nanoseconds since the Unix epoch (`timeNano`).
    pub time_nanos: i64,
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
        let name = actor
            .attributes
            .and_then(|mut attributes| attributes.remove("name"))
            .map(|name| name.trim_start_matches('/').to_owned());
        let time_nanos = message
            .time_nano
            .or_else(|| message.time.map(|secs| secs.saturating_mul(1_000_000_000)))
            .unwrap_or_default();
        Some(ContainerEvent {
            action,
            id,
            name,
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
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let options = EventsOptions {
            since: Some(format!("{}.{:09}", since.as_secs(), since.subsec_nanos())),
            until: None,
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

fn container_info(response: ContainerInspectResponse) -> ContainerInfo {
    let state = response.state.unwrap_or_default();
    let config = response.config.unwrap_or_default();
    let host_config = response.host_config.unwrap_or_default();
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

/// Where dockerd puts containers in the cgroup2 tree: `/docker/<id>` with the cgroupfs driver,
/// `/system.slice/docker-<id>.scope` with the systemd driver. `--containers` arms new cgroups under
/// these prefixes.
pub const CGROUP_PREFIXES: [&str; 2] = ["/docker/", "/system.slice/docker-"];

/// The 64-hex container id in a cgroup path like `/docker/<id>` or `/system.slice/docker-<id>.scope`.
pub fn container_id_of_path(path: &str) -> Option<String> {
    let last = path.rsplit('/').next()?;
    let id = last.strip_prefix("docker-").unwrap_or(last);
    let id = id.strip_suffix(".scope").unwrap_or(id);
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
}

/// The two places dockerd puts a container in the cgroup v2 tree, relative to the cgroup2 mount:
/// `/docker/<id>` with the cgroupfs driver (this project's machines: hybrid hierarchy, cgroup2 at
/// /sys/fs/cgroup/unified) and `/system.slice/docker-<id>.scope` with the systemd driver. A
/// daemon started with `--cgroup-parent` puts it elsewhere; [`cgroup2_path_of_pid`] is the truth
/// once the container runs.
pub fn expected_cgroup2_paths(id: &str) -> [String; 2] {
    [
        format!("/docker/{id}"),
        format!("/system.slice/docker-{id}.scope"),
    ]
}

/// The cgroup v2 path of a process relative to the cgroup2 mount, from the "0::" line of
/// `/proc/<pid>/cgroup` (present on unified and hybrid hierarchies, whatever the cgroup driver).
/// Read from the host's cgroup namespace, as this tool runs.
pub fn cgroup2_path_of_pid(pid: u32) -> io::Result<String> {
    let file = format!("/proc/{pid}/cgroup");
    let text = fs::read_to_string(&file)?;
    parse_cgroup2_path(&text)
        .map(str::to_owned)
        .map_err(|why| io::Error::new(io::ErrorKind::NotFound, format!("{file}: {why}")))
}

fn parse_cgroup2_path(proc_cgroup: &str) -> Result<&str, &'static str> {
    let path = proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or("no cgroup v2 (\"0::\") line; is a cgroup2 filesystem mounted?")?;
    // The kernel appends " (deleted)" when the cgroup was removed (proc_cgroup_show).
    if path.ends_with(" (deleted)") {
        return Err("the process's cgroup v2 was removed (did the container just stop?)");
    }
    Ok(path)
}

/// The profile file name for a container: its compose service when labelled, else its name,
/// with every character outside `[A-Za-z0-9._-]` replaced by '_', plus ".json". Two compose
/// projects with the same service name (or a scaled service) map to the same name: callers that
/// record several containers must tell them apart.
pub fn profile_file_name(info: &ContainerInfo) -> String {
    let base = info
        .compose_service
        .as_deref()
        .filter(|service| !service.is_empty())
        .unwrap_or(&info.name);
    let base = if base.is_empty() {
        info.id.get(..12).unwrap_or(&info.id)
    } else {
        base
    };
    format!("{}.json", file_stem(base))
}

/// `name` with every character outside `[A-Za-z0-9._-]` replaced by '_': safe as a file name.
pub fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // "." and ".." would name directories, not files.
    if stem.trim_matches('.').is_empty() {
        stem.replace('.', "_")
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn container_ids_from_cgroup_paths() {
        let id = "a".repeat(64);
        assert_eq!(
            container_id_of_path(&format!("/docker/{id}")),
            Some(id.clone())
        );
        assert_eq!(
            container_id_of_path(&format!("/system.slice/docker-{id}.scope")),
            Some(id.clone())
        );
        assert_eq!(container_id_of_path("/docker/buildkit"), None);
        assert_eq!(
            container_id_of_path(&format!("/docker/{}", "g".repeat(64))),
            None
        );
    }

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
    fn cgroup2_path_from_hybrid_proc_file() {
        let id = "ead626c32b8e1e87e201b183b79adb4771c96686b64e638e9615b0d0849ad373";
        let text = format!(
            "12:rdma:/\n11:hugetlb:/docker/{id}\n10:perf_event:/docker/{id}\n\
             9:name=systemd:/docker/{id}\n8:pids:/docker/{id}\n7:blkio:/docker/{id}\n\
             6:freezer:/docker/{id}\n5:devices:/docker/{id}\n4:memory:/docker/{id}\n\
             3:cpuset:/docker/{id}\n2:cpu,cpuacct:/docker/{id}\n1:net_cls,net_prio:/\n\
             0::/docker/{id}\n"
        );
        assert_eq!(parse_cgroup2_path(&text).unwrap(), format!("/docker/{id}"));
        assert_eq!(
            parse_cgroup2_path(&text).unwrap(),
            expected_cgroup2_paths(id)[0]
        );
        assert_eq!(parse_cgroup2_path("0::/docker/abc").unwrap(), "/docker/abc");
        // Unified hierarchy, systemd driver.
        let systemd = format!("0::/system.slice/docker-{id}.scope\n");
        assert_eq!(
            parse_cgroup2_path(&systemd).unwrap(),
            expected_cgroup2_paths(id)[1]
        );
        assert_eq!(parse_cgroup2_path("0::/\n").unwrap(), "/");
        // v1 only, and a removed cgroup.
        assert!(parse_cgroup2_path("1:name=systemd:/docker/abc\n").is_err());
        assert!(parse_cgroup2_path("0::/docker/abc (deleted)\n").is_err());
    }

    #[test]
    fn cgroup2_path_of_this_process() {
        // Every process has a "0::" line when a cgroup2 hierarchy exists (this project's machines).
        let path = cgroup2_path_of_pid(std::process::id()).unwrap();
        assert!(path.starts_with('/'), "{path}");
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

    /// Against a real dockerd, only with `SECCOMP_PROFILER_DOCKER_TESTS=1` (and then it fails,
    /// never skips, when something is missing). Needs root, `docker` on PATH and a static busybox:
    /// it imports a one-binary image, runs containers with `--network none`, and removes both.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn against_dockerd() {
        if std::env::var_os("SECCOMP_PROFILER_DOCKER_TESTS").is_none_or(|v| v != "1") {
            eprintln!("skipped: set SECCOMP_PROFILER_DOCKER_TESTS=1 to run against dockerd");
            return;
        }
        live::run().await;
    }

    mod live {
        use std::{
            path::Path,
            process::{Command, Stdio},
            time::{Duration, Instant},
        };

        use super::super::*;

        fn docker(args: &[&str]) -> String {
            let out = Command::new("docker")
                .args(args)
                .stderr(Stdio::inherit())
                .output();
            let out = out.unwrap_or_else(|err| panic!("cannot run docker {args:?}: {err}"));
            assert!(
                out.status.success(),
                "docker {args:?} failed: {}",
                out.status
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        }

        /// Removes what the test made, even when it panics.
        struct Cleanup {
            containers: Vec<String>,
            image: String,
        }

        impl Drop for Cleanup {
            fn drop(&mut self) {
                for name in &self.containers {
                    let _ = Command::new("docker").args(["rm", "-f", name]).output();
                }
                let _ = Command::new("docker").args(["rmi", &self.image]).output();
            }
        }

        fn import_busybox_image(tag: &str) {
            let busybox = ["/bin/busybox", "/usr/bin/busybox"]
                .into_iter()
                .find(|p| Path::new(p).exists())
                .expect("no busybox on the host (apt-get install busybox-static)");
            let dir = tempfile::tempdir().unwrap();
            let bin = dir.path().join("bin");
            fs::create_dir_all(&bin).unwrap();
            fs::copy(busybox, bin.join("busybox")).unwrap();
            for applet in ["sh", "ls", "sleep", "cat", "true"] {
                std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
            }
            let tar = dir.path().join("rootfs.tar");
            let status = Command::new("tar")
                .arg("-C")
                .arg(dir.path())
                .arg("-cf")
                .arg(&tar)
                .arg("bin")
                .status()
                .unwrap();
            assert!(status.success());
            docker(&["import", &tar.display().to_string(), tag]);
        }

        pub(super) async fn run() {
            let engine = Engine::connect()
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(engine.api_version(), "1.41", "expected dockerd 20.10");

            let me = std::process::id();
            let image = format!("sp-test/busybox:docker-rs-{me}");
            let probe = format!("sp-probe-{me}");
            let unconfined = format!("sp-probe-unconfined-{me}");
            let mut cleanup = Cleanup {
                containers: vec![],
                image: image.clone(),
            };
            import_busybox_image(&image);

            // Subscribe, but poll only after the container exists: `since` must replay it.
            let mut events = Box::pin(engine.events());
            cleanup.containers.push(probe.clone());
            let id = docker(&[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                &probe,
                "--label",
                "com.docker.compose.project=demo",
                "--label",
                "com.docker.compose.service=web/api",
                &image,
                "sleep",
                "30",
            ]);

            let info = engine.inspect_running(&probe).await.unwrap();
            assert_eq!(info.id, id);
            assert_eq!(info.name, probe);
            assert!(info.running);
            assert_eq!(info.seccomp, SeccompMode::Default);
            assert!(!info.no_new_privileges);
            assert_eq!(info.image, image);
            assert_eq!(info.compose_project.as_deref(), Some("demo"));
            assert_eq!(info.compose_service.as_deref(), Some("web/api"));
            assert_eq!(profile_file_name(&info), "web_api.json");
            let by_short_id = engine.inspect(&id[..12]).await.unwrap();
            assert_eq!(by_short_id.id, id);

            let pid = info.pid.unwrap();
            let path = cgroup2_path_of_pid(pid).unwrap();
            assert!(expected_cgroup2_paths(&id).contains(&path), "{path}");
            let mount = crate::cgroup::cgroup2_mount().unwrap();
            let dir = mount.join(path.trim_start_matches('/'));
            assert!(dir.is_dir(), "{}", dir.display());
            eprintln!("pid {pid}, cgroup2 {}", dir.display());

            docker(&["exec", &probe, "ls", "/"]);
            docker(&["stop", "-t", "1", &probe]);

            let stopped = engine.inspect(&probe).await.unwrap();
            assert_eq!((stopped.running, stopped.pid), (false, None));
            match engine.inspect_running(&probe).await {
                Err(DockerError::NotRunning { .. }) => {}
                other => panic!("expected NotRunning, got {other:?}"),
            }
            match engine.inspect("sp-no-such-container").await {
                Err(DockerError::NotFound(_)) => {}
                other => panic!("expected NotFound, got {other:?}"),
            }

            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while !seen
                .iter()
                .any(|e: &ContainerEvent| e.id == id && e.verb() == "die")
            {
                let left = deadline.saturating_duration_since(Instant::now());
                let next = tokio::time::timeout(left, events.next()).await;
                let event = next
                    .expect("timed out waiting for events")
                    .expect("stream ended");
                let event = event.unwrap();
                if event.id == id {
                    eprintln!("event {} {}", event.time_nanos, event.action);
                    seen.push(event);
                }
            }
            let verbs: Vec<&str> = seen.iter().map(ContainerEvent::verb).collect();
            for verb in [
                "create",
                "start",
                "exec_create",
                "exec_start",
                "exec_die",
                "kill",
                "die",
            ] {
                assert!(verbs.contains(&verb), "no {verb} event in {verbs:?}");
            }
            assert!(
                seen.iter().any(|e| e.action == "exec_start: ls /"),
                "{seen:?}"
            );
            assert!(
                seen.iter()
                    .all(|e| e.name.as_deref() == Some(probe.as_str()))
            );
            let time = |verb: &str| seen.iter().find(|e| e.verb() == verb).map(|e| e.time_nanos);
            let (create, start) = (time("create").unwrap(), time("start").unwrap());
            assert!(create <= start);
            eprintln!("create → start: {} µs", (start - create) / 1000);

            // The security options, as dockerd stores them.
            let profile = tempfile::NamedTempFile::new().unwrap();
            fs::write(profile.path(), r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
            let custom = format!("seccomp={}", profile.path().display());
            let cases: [(&[&str], SeccompMode, bool); 4] = [
                (
                    &[
                        "--security-opt",
                        "seccomp=unconfined",
                        "--security-opt",
                        "no-new-privileges",
                    ],
                    SeccompMode::Unconfined,
                    true,
                ),
                (
                    &[
                        "--security-opt",
                        &custom,
                        "--security-opt",
                        "no-new-privileges:true",
                    ],
                    SeccompMode::Custom,
                    true,
                ),
                (
                    &["--security-opt", "no-new-privileges=false"],
                    SeccompMode::Default,
                    false,
                ),
                (&["--privileged"], SeccompMode::Unconfined, false),
            ];
            cleanup.containers.push(unconfined.clone());
            for (flags, seccomp, nnp) in cases {
                let mut args = vec!["create", "--network", "none", "--name", &unconfined];
                args.extend_from_slice(flags);
                args.extend_from_slice(&[&image, "true"]);
                docker(&args);
                let info = engine.inspect(&unconfined).await.unwrap();
                assert_eq!(
                    (info.seccomp, info.no_new_privileges),
                    (seccomp, nnp),
                    "{flags:?}"
                );
                assert_eq!((info.running, info.pid), (false, None));
                docker(&["rm", &unconfined]);
            }
            drop(cleanup);
        }
    }
}
