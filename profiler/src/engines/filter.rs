//! `--filter KEY=VALUE`: which containers a `--containers` recording (or check) keeps. Docker's
//! syntax and meaning where they overlap (`docker ps --filter`), plus the keys other engines
//! need. Several filters all have to match (AND), unlike `docker ps`, which ORs repeated keys:
//! a recording scoped by two conditions should get narrower, not wider.
//!
//! - `name=RE`: a regular expression searched in the container's name with Docker's leading
//!   `/` (`name=app-` matches `/web-app-1`; `name=^/app-` only names that start with `app-`), as
//!   `docker ps` does. A Kubernetes container's name is `<namespace>/<workload>/<container>`.
//! - `label=KEY` or `label=KEY=VALUE`: Docker's or Podman's labels; for other engines the OCI
//!   annotations.
//! - `ancestor=IMAGE`: the image the container runs, by reference (`busybox` is
//!   `busybox:latest`), repository (`busybox` matches any tag when no tag is given) or id prefix.
//!   Unlike Docker, images built FROM it do not match: the tool sees one image per container.
//! - `engine=docker|podman|containerd|cri-o`, `namespace=NS` (Kubernetes, else containerd's),
//!   `pod=NAME` (the pod's name).
//!
//! This module only decides; the recorder asks it once a container's facts are known.

use std::{collections::BTreeMap, fmt, str::FromStr};

use super::Engine;

/// The keys `--filter` takes.
pub const KEYS: [&str; 6] = ["name", "label", "ancestor", "engine", "namespace", "pod"];

/// One `--filter KEY=VALUE`.
#[derive(Clone, Debug)]
pub enum Filter {
    Name(regex::Regex),
    Label { key: String, value: Option<String> },
    Ancestor(String),
    Engine(Engine),
    Namespace(String),
    Pod(String),
}

impl FromStr for Filter {
    type Err = String;

    fn from_str(arg: &str) -> Result<Filter, String> {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!(
                "expected KEY=VALUE with KEY one of {}, got {arg:?}",
                KEYS.join(", ")
            ));
        };
        if value.is_empty() {
            return Err(format!("--filter {key}= needs a value"));
        }
        Ok(match key {
            "name" => Filter::Name(
                regex::Regex::new(value)
                    .map_err(|err| format!("name={value:?} is not a regular expression: {err}"))?,
            ),
            "label" => match value.split_once('=') {
                Some((key, value)) => Filter::Label {
                    key: key.to_owned(),
                    value: Some(value.to_owned()),
                },
                None => Filter::Label {
                    key: value.to_owned(),
                    value: None,
                },
            },
            "ancestor" => Filter::Ancestor(value.to_owned()),
            "engine" => Filter::Engine(
                Engine::ALL
                    .into_iter()
                    .find(|engine| engine.name() == value)
                    .ok_or_else(|| {
                        let names: Vec<&str> = Engine::ALL.iter().map(|e| e.name()).collect();
                        format!("engine={value:?}: expected one of {}", names.join(", "))
                    })?,
            ),
            "namespace" => Filter::Namespace(value.to_owned()),
            "pod" => Filter::Pod(value.to_owned()),
            other => {
                return Err(format!(
                    "unknown filter key {other:?}: expected one of {}",
                    KEYS.join(", ")
                ));
            }
        })
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Name(re) => write!(f, "name={}", re.as_str()),
            Filter::Label { key, value: None } => write!(f, "label={key}"),
            Filter::Label {
                key,
                value: Some(value),
            } => write!(f, "label={key}={value}"),
            Filter::Ancestor(image) => write!(f, "ancestor={image}"),
            Filter::Engine(engine) => write!(f, "engine={engine}"),
            Filter::Namespace(ns) => write!(f, "namespace={ns}"),
            Filter::Pod(pod) => write!(f, "pod={pod}"),
        }
    }
}

/// What a filter is matched against: everything known about one container.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    pub engine: Option<Engine>,
    pub name: &'a str,
    pub labels: Option<&'a BTreeMap<String, String>>,
    pub image: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub pod: Option<&'a str>,
}

impl Filter {
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        match self {
            Filter::Name(re) => re.is_match(&format!("/{}", facts.name)),
            Filter::Label { key, value } => {
                let found = facts.labels.and_then(|labels| labels.get(key));
                match (found, value) {
                    (Some(_), None) => true,
                    (Some(found), Some(value)) => found == value,
                    (None, _) => false,
                }
            }
            Filter::Ancestor(wanted) => facts.image.is_some_and(|image| ancestor(image, wanted)),
            Filter::Engine(engine) => facts.engine == Some(*engine),
            Filter::Namespace(ns) => facts.namespace == Some(ns.as_str()),
            Filter::Pod(pod) => facts.pod == Some(pod.as_str()),
        }
    }
}

/// Whether a container running `image` matches `ancestor=wanted`.
fn ancestor(image: &str, wanted: &str) -> bool {
    let normal = |reference: &str| {
        let reference = reference
            .strip_prefix("docker.io/library/")
            .unwrap_or(reference);
        let reference = reference.strip_prefix("localhost/").unwrap_or(reference);
        let last = reference.rsplit('/').next().unwrap_or(reference);
        if last.contains(':') || last.contains('@') {
            reference.to_owned()
        } else {
            format!("{reference}:latest")
        }
    };
    let repository = |reference: &str| -> String {
        let normal = normal(reference);
        match normal.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => repo.to_owned(),
            _ => normal,
        }
    };
    let wanted_has_tag = wanted.rsplit('/').next().is_some_and(|l| l.contains(':'));
    normal(image) == normal(wanted)
        || (!wanted_has_tag && repository(image) == repository(wanted))
        || (wanted.len() >= 12
            && image
                .trim_start_matches("sha256:")
                .starts_with(wanted.trim_start_matches("sha256:")))
}

/// Every `--filter` of one command line (all must match).
#[derive(Clone, Debug, Default)]
pub struct Filters(pub Vec<Filter>);

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        self.0.iter().all(|filter| filter.matches(facts))
    }

    /// The verdict when only the engine is known (from the cgroup's shape), if the filters need
    /// nothing else: a container that ends before its engine names it is still judged.
    pub fn by_engine_only(&self, engine: Engine) -> Option<bool> {
        let mut verdict = true;
        for filter in &self.0 {
            match filter {
                Filter::Engine(wanted) => verdict &= *wanted == engine,
                _ => return None,
            }
        }
        Some(verdict)
    }

    /// The filters as the command line gave them, for messages: `name=app-, engine=podman`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(Filter::to_string).collect();
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(arg: &str) -> Filter {
        arg.parse().expect("a valid filter")
    }

    #[test]
    fn names_match_like_docker_ps() {
        let facts = Facts {
            name: "web-app-1",
            ..Facts::default()
        };
        assert!(filter("name=app-").matches(&facts), "substring");
        assert!(
            !filter("name=^/app-").matches(&facts),
            "anchored at the start"
        );
        assert!(filter("name=^/web").matches(&facts));
        assert!(filter("name=1$").matches(&facts));
        assert!("name=(".parse::<Filter>().is_err());
    }

    #[test]
    fn labels_images_and_the_other_keys() {
        let labels: BTreeMap<String, String> = [("tier".to_owned(), "web".to_owned())].into();
        let facts = Facts {
            engine: Some(Engine::Containerd),
            name: "prod/shop/web",
            labels: Some(&labels),
            image: Some("docker.io/library/busybox:1.36"),
            namespace: Some("prod"),
            pod: Some("shop-7d4b9c8f6d-x2x9k"),
        };
        assert!(filter("label=tier").matches(&facts));
        assert!(filter("label=tier=web").matches(&facts));
        assert!(!filter("label=tier=db").matches(&facts));
        assert!(filter("ancestor=busybox").matches(&facts), "any tag");
        assert!(filter("ancestor=busybox:1.36").matches(&facts));
        assert!(!filter("ancestor=busybox:latest").matches(&facts));
        assert!(filter("engine=containerd").matches(&facts));
        assert!(!filter("engine=podman").matches(&facts));
        assert!(filter("namespace=prod").matches(&facts));
        assert!(filter("pod=shop-7d4b9c8f6d-x2x9k").matches(&facts));
        let all = Filters(vec![filter("namespace=prod"), filter("engine=docker")]);
        assert!(!all.matches(&facts), "filters AND");
        assert_eq!(all.describe(), "namespace=prod, engine=docker");
        let podman = Filters(vec![filter("engine=podman")]);
        assert_eq!(podman.by_engine_only(Engine::Podman), Some(true));
        assert_eq!(podman.by_engine_only(Engine::Crio), Some(false));
        assert_eq!(
            all.by_engine_only(Engine::Docker),
            None,
            "namespace= needs more"
        );
        for bad in ["name", "size=1", "engine=lxc", "pod="] {
            assert!(bad.parse::<Filter>().is_err(), "{bad}");
        }
    }
}
