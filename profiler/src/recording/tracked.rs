//! What `record --containers` knows about one container it records, and where each fact came
//! from: the kernel side's cgroup path (always), the attributes of Docker's events (name, image,
//! compose labels), and `docker inspect` (all of that plus the seccomp mode and no-new-privileges).
//! What was learned is never replaced by nothing, so a container keeps the best name any source
//! gave it. When the Docker API was lost while the container lived, [`Tracked::outage_warning`]
//! says what in its report is uncertain and why.
//!
//! It never talks to dockerd or the tracer; the recorder feeds it what they said.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use crate::{
    cgroup, docker, engines,
    output::report::{ContainerContext, KubernetesContext},
    recording::context,
};

/// A container seen during the recording.
#[derive(Clone)]
pub(super) struct Tracked {
    pub slot: u32,
    pub id: String,
    /// Its cgroup, relative to the cgroup2 mount, as the kernel side recorded it when arming.
    pub cgroup: String,
    /// What `docker inspect` said, once it answered.
    info: Option<docker::ContainerInfo>,
    /// The newest event that carried the container's name (its attributes also carry the image
    /// and labels): what names it when it cannot be inspected (gone before the API came back).
    named_by: Option<docker::ContainerEvent>,
    /// When it started: its `start` event's time, else when it was first seen.
    started: Instant,
    /// When it died, from its `die` event's time; None when no `die` event was seen.
    died: Option<Instant>,
    /// The exit code its `die` event carried.
    pub exit_code: Option<i64>,
    /// The API outages (indexes into `Outcome::api_outages`) it lived through.
    pub outages: Vec<usize>,
    /// Its recording has been read (at `die`, when its cgroup was found gone, or at the end).
    pub finished: bool,
    /// What its cgroup path says (engine, id, pod).
    pub shape: Option<engines::Shape>,
    /// What an engine other than Docker said about it (`podman inspect`, its OCI bundle).
    meta: Option<engines::Meta>,
    /// `--filter`'s verdict once its facts were known: Some(false) means disarmed.
    pub verdict: Option<bool>,
    /// `docker exec` sessions started in it while recording (dockerd runs HEALTHCHECKs as execs).
    pub execs: u32,
    /// When its cgroup was first found gone while nothing had told which engine it is
    /// ([`Tracked::may_still_be_named`]).
    gone_since: Option<Instant>,
}

/// How long a container whose cgroup is gone, and which no engine has named yet, waits for
/// Docker's events before it is ended by its cgroup alone: a bare 64-hex cgroup may be a Docker
/// container that started and ended within one tick, whose `start` and `die` events (which carry
/// its name) are still on their way on a loaded machine.
pub(super) const UNNAMED_GRACE: Duration = Duration::from_secs(3);

/// Where a container's name comes from, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameSource {
    Inspect,
    Events,
    CgroupPath,
}

impl Tracked {
    pub fn new(slot: u32, id: String, cgroup: String, outages: Vec<usize>) -> Tracked {
        Tracked {
            slot,
            id,
            info: None,
            named_by: None,
            started: Instant::now(),
            died: None,
            exit_code: None,
            outages,
            finished: false,
            shape: engines::classify(&cgroup),
            meta: None,
            verdict: None,
            cgroup,
            execs: 0,
            gone_since: None,
        }
    }

    /// Nothing has named it (no inspect, event or other engine), and its cgroup's shape does not
    /// say which engine it is (a bare 64-hex id: Docker's cgroupfs driver, or containerd's).
    pub fn unnamed_bare_id(&self) -> bool {
        self.named_by_nothing()
            && self
                .shape
                .as_ref()
                .is_some_and(|shape| shape.engine.is_none())
    }

    /// No `docker inspect`, no Docker event and no other engine has said anything about it.
    fn named_by_nothing(&self) -> bool {
        self.info.is_none() && self.named_by.is_none() && self.meta.is_none()
    }

    /// Whether a container whose cgroup is gone may still be named by a Docker event: nothing
    /// has named it (no inspect, event or other engine), its cgroup's shape does not say which
    /// engine it is, and it was first found gone less than [`UNNAMED_GRACE`] ago.
    pub fn may_still_be_named(&mut self, now: Instant) -> bool {
        if !self.unnamed_bare_id() {
            return false;
        }
        let since = *self.gone_since.get_or_insert(now);
        now.duration_since(since) < UNNAMED_GRACE
    }

    pub fn has_info(&self) -> bool {
        self.info.is_some()
    }

    /// What `docker inspect` said, once it answered.
    pub fn info(&self) -> Option<&docker::ContainerInfo> {
        self.info.as_ref()
    }

    /// Keeps what `docker inspect` said.
    pub fn learn(&mut self, info: docker::ContainerInfo) {
        self.info = Some(info);
    }

    /// Keeps what an event says: its name and attributes, and the time of `start` and `die`.
    pub fn saw(&mut self, event: &docker::ContainerEvent) {
        match event.verb() {
            "start" => self.started = instant_of(event.time_nanos),
            "die" => {
                self.died = Some(instant_of(event.time_nanos));
                self.exit_code = event.exit_code;
            }
            "exec_start" => self.execs += 1,
            _ => {}
        }
        if event.name.is_some() {
            self.named_by = Some(event.clone());
        }
    }

    fn name_source(&self) -> NameSource {
        match (&self.info, &self.named_by) {
            (Some(_), _) => NameSource::Inspect,
            (None, Some(_)) => NameSource::Events,
            (None, None) => NameSource::CgroupPath,
        }
    }

    fn short_id(&self) -> String {
        self.id.chars().take(12).collect()
    }

    pub fn display_name(&self) -> String {
        let from_event = || self.named_by.as_ref().and_then(|e| e.name.clone());
        let from_meta = || self.other_engine().map(|meta| meta.name.clone());
        (self.info.as_ref().map(|info| info.name.clone()))
            .or_else(from_event)
            .or_else(from_meta)
            .unwrap_or_else(|| self.short_id())
    }

    /// What a non-Docker engine said about it (None for a Docker container: Docker's API names it).
    pub fn other_engine(&self) -> Option<&engines::Meta> {
        self.meta
            .as_ref()
            .filter(|meta| meta.engine != Some(engines::Engine::Docker))
    }

    /// Keeps what `podman inspect` or its OCI bundle said.
    pub fn learn_meta(&mut self, meta: engines::Meta) {
        self.meta = Some(meta);
    }

    /// Whether its facts are to be asked of an engine other than Docker: it is no Docker
    /// container by its shape, or Docker has not named it (a CRI container has Docker's bare-id
    /// shape). A Docker container's bundle says so (containerd namespace `moby`), after which
    /// only Docker's API names it.
    pub fn wants_meta(&self) -> bool {
        self.named_by_nothing()
            && self
                .shape
                .as_ref()
                .is_some_and(|s| s.engine != Some(engines::Engine::Docker))
    }

    /// Whether Docker's events tell when it ends (else its cgroup's removal does).
    pub fn ends_by_docker_event(&self) -> bool {
        self.info.is_some()
            || self.named_by.is_some()
            || self
                .meta
                .as_ref()
                .is_some_and(|m| m.engine == Some(engines::Engine::Docker))
            || self
                .shape
                .as_ref()
                .is_some_and(|s| s.engine == Some(engines::Engine::Docker))
    }

    /// A pod's sandbox (pause) container, which is never recorded.
    pub fn is_sandbox(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.sandbox)
    }

    /// Everything `--filter` can match, once something named it; None before.
    pub fn facts(&self) -> Option<engines::filter::Facts<'_>> {
        use engines::filter::Facts;
        if let Some(info) = &self.info {
            return Some(Facts {
                engine: Some(engines::Engine::Docker),
                name: &info.name,
                labels: Some(&info.labels),
                image: Some(&info.image),
                namespace: None,
                pod: None,
            });
        }
        if let Some(event) = &self.named_by {
            return Some(Facts {
                engine: Some(engines::Engine::Docker),
                name: event.name.as_deref().unwrap_or_default(),
                labels: None,
                image: event.image.as_deref(),
                namespace: None,
                pod: None,
            });
        }
        let meta = self.other_engine()?;
        let kube = meta.kube.as_ref();
        Some(Facts {
            engine: meta.engine,
            name: &meta.name,
            labels: Some(&meta.labels),
            image: meta.image.as_deref(),
            namespace: (kube.map(|k| k.namespace.as_str()))
                .or(meta.containerd_namespace.as_deref()),
            pod: kube.map(|k| k.pod.as_str()),
        })
    }

    /// The file name of its profile, without `.json`: its compose service, else its name.
    pub fn file_stem(&self) -> String {
        let service = match (&self.info, &self.named_by) {
            (Some(info), _) => info.compose_service.clone(),
            (None, Some(event)) => event.compose_service.clone(),
            (None, None) => None,
        };
        docker::profile_stem(service.as_deref(), &self.display_name(), &self.id)
    }

    pub fn cgroup_dir(&self) -> Option<PathBuf> {
        let root = cgroup::cgroup2_mount().ok()?;
        Some(root.join(self.cgroup.trim_start_matches('/')))
    }

    /// Whether its cgroup still exists: the kernel's word on whether it still runs.
    pub fn cgroup_exists(&self) -> bool {
        self.cgroup_dir().is_some_and(|dir| dir.is_dir())
    }

    /// From its start to its death (or to now, when no `die` event said when).
    pub fn duration(&self) -> Duration {
        (self.died.unwrap_or_else(Instant::now)).saturating_duration_since(self.started)
    }

    /// The report's `container`: from `docker inspect` when it answered, else what its events
    /// said (the seccomp mode and no-new-privileges setting stay unknown).
    pub fn context(&self, running_at_end: bool) -> ContainerContext {
        let name = self.display_name();
        let mut container =
            context::container(&self.id, name, self.info.as_ref(), false, running_at_end);
        if let (None, Some(event)) = (&self.info, &self.named_by) {
            container.image = event.image.clone();
            container.compose_project = event.compose_project.clone();
            container.compose_service = event.compose_service.clone();
            container.engine = Some(engines::Engine::Docker.name());
        }
        if let (None, None, Some(meta)) = (&self.info, &self.named_by, self.other_engine()) {
            container.image = meta.image.clone();
            container.engine = meta.engine.map(engines::Engine::name);
            container.no_new_privileges = meta.no_new_privileges;
            container.kubernetes = meta.kube.as_ref().map(|pod| KubernetesContext {
                namespace: pod.namespace.clone(),
                pod: pod.pod.clone(),
                pod_uid: pod.uid.clone(),
                workload: pod.workload.clone(),
                container: pod.container.clone(),
            });
        }
        container
    }

    /// Says what is uncertain about this container because the Docker API was unreachable
    /// (`outages`: every outage of the recording) while it lived: where its name comes from, and
    /// whether its end was noticed late. None when it lived through no outage, or when everything
    /// was learned afterwards (inspected, and its `die` event replayed).
    pub fn outage_warning(
        &self,
        outages: &[docker::Outage],
        running_at_end: bool,
    ) -> Option<String> {
        let lived_through: Vec<&docker::Outage> = (self.outages.iter())
            .filter_map(|&index| outages.get(index))
            .collect();
        let last = lived_through.last()?;
        let mut uncertain = Vec::new();
        let why_not_inspected = if last.regained {
            "it was removed before the API answered again"
        } else {
            "the API did not answer again before the recording ended"
        };
        match self.name_source() {
            NameSource::Inspect => {}
            NameSource::Events => uncertain.push(format!(
                "`docker inspect` could not tell about it ({why_not_inspected}), so its name, \
                 image and compose labels come from Docker's events and its seccomp mode and \
                 no-new-privileges setting are unknown"
            )),
            NameSource::CgroupPath => uncertain.push(format!(
                "neither `docker inspect` nor any Docker event named it ({why_not_inspected}), \
                 so its name is its short id from its cgroup path {} and its image, labels, \
                 seccomp mode and no-new-privileges setting are unknown",
                self.cgroup
            )),
        }
        if self.died.is_none() && !running_at_end {
            uncertain.push(format!(
                "no `die` event was seen for it, so its end was noticed late and its duration \
                 ({:.1} s) is an upper bound",
                self.duration().as_secs_f64()
            ));
        }
        if uncertain.is_empty() {
            return None;
        }
        let when: Vec<String> = lived_through.iter().map(|o| o.describe()).collect();
        Some(format!(
            "the Docker API was unreachable {}: {}",
            when.join(", and "),
            uncertain.join("; ")
        ))
    }
}

/// The instant of an event time (nanoseconds since the Unix epoch, on the daemon's clock; the
/// same host shares ours). A missing time (0) is taken as now.
fn instant_of(time_nanos: i64) -> Instant {
    let now = Instant::now();
    let ago = docker::now_nanos().saturating_sub(time_nanos);
    match u64::try_from(ago) {
        Ok(ago) if time_nanos > 0 => now.checked_sub(Duration::from_nanos(ago)).unwrap_or(now),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn event(verb: &str, name: &str, service: Option<&str>) -> docker::ContainerEvent {
        docker::ContainerEvent {
            action: verb.to_owned(),
            id: ID.to_owned(),
            name: Some(name.to_owned()),
            image: Some("busybox".to_owned()),
            compose_project: service.map(|_| "demo".to_owned()),
            compose_service: service.map(str::to_owned),
            time_nanos: docker::now_nanos(),
            exit_code: None,
        }
    }

    fn info(name: &str) -> docker::ContainerInfo {
        docker::ContainerInfo {
            id: ID.to_owned(),
            name: name.to_owned(),
            pid: None,
            running: false,
            labels: Default::default(),
            compose_project: None,
            compose_service: None,
            seccomp: docker::SeccompMode::Default,
            no_new_privileges: false,
            image: "busybox".to_owned(),
            rootfs: Default::default(),
            mount_points: Vec::new(),
            user: String::new(),
            created_with: Box::default(),
        }
    }

    #[test]
    fn a_bare_id_gone_unnamed_waits_for_dockers_events_a_little() {
        let start = Instant::now();
        let mut bare = Tracked::new(3, ID.to_owned(), format!("/docker/{ID}"), Vec::new());
        assert!(bare.may_still_be_named(start), "first found gone");
        assert!(bare.may_still_be_named(start + UNNAMED_GRACE / 2));
        assert!(
            !bare.may_still_be_named(start + UNNAMED_GRACE),
            "the grace is over"
        );
        let mut named = Tracked::new(3, ID.to_owned(), format!("/docker/{ID}"), Vec::new());
        named.saw(&event("die", "web", None));
        assert!(!named.may_still_be_named(start), "its die event named it");
        assert_eq!(named.display_name(), "web");
        let scoped = format!("/system.slice/docker-{ID}.scope");
        let mut docker = Tracked::new(3, ID.to_owned(), scoped, Vec::new());
        assert!(
            !docker.may_still_be_named(start),
            "the shape says Docker: its event ends it"
        );
        let mut podman = Tracked::new(
            3,
            ID.to_owned(),
            format!("/libpod_parent/libpod-{ID}"),
            Vec::new(),
        );
        assert!(
            !podman.may_still_be_named(start),
            "the shape says Podman: no Docker event comes"
        );
    }

    fn outage(regained: bool) -> docker::Outage {
        let from = UNIX_EPOCH + Duration::from_secs(1_795_362_408);
        let mut outage = docker::Outage::begin(from, "unexpected EOF".into());
        outage.to = from + Duration::from_millis(2100);
        outage.regained = regained;
        outage
    }

    #[test]
    fn the_best_name_known_wins() {
        let mut tracked = Tracked::new(0, ID.to_owned(), format!("/docker/{ID}"), vec![]);
        assert_eq!(tracked.display_name(), "0123456789ab");
        assert_eq!(tracked.file_stem(), "0123456789ab");
        tracked.saw(&event("start", "demo_web_1", Some("web")));
        assert_eq!(tracked.display_name(), "demo_web_1");
        assert_eq!(tracked.file_stem(), "web");
        assert_eq!(tracked.context(false).image.as_deref(), Some("busybox"));
        assert_eq!(tracked.context(false).seccomp, "unknown");
        tracked.learn(info("renamed"));
        tracked.saw(&event("die", "later", None));
        assert_eq!(tracked.display_name(), "renamed", "inspect beats events");
        assert_eq!(tracked.context(false).seccomp, "default");
    }

    #[test]
    fn an_outage_warns_only_about_what_is_uncertain() {
        let outages = [outage(true)];
        let mut tracked = Tracked::new(0, ID.to_owned(), format!("/docker/{ID}"), vec![]);
        assert_eq!(
            tracked.outage_warning(&outages, false),
            None,
            "no outage lived"
        );
        tracked.outages.push(0);
        let warning = tracked.outage_warning(&outages, false).unwrap_or_default();
        assert!(
            warning.starts_with("the Docker API was unreachable from 15:46:48.000 to ")
                && warning.contains("its name is its short id from its cgroup path")
                && warning.contains("its end was noticed late"),
            "{warning}"
        );
        tracked.saw(&event("die", "sp-b", None));
        let warning = tracked.outage_warning(&outages, false).unwrap_or_default();
        assert!(
            warning.contains("come from Docker's events") && !warning.contains("noticed late"),
            "{warning}"
        );
        tracked.learn(info("sp-b"));
        assert_eq!(tracked.outage_warning(&outages, false), None, "all learned");
    }
}
