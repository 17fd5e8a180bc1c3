//! Folding partials: one profile per (namespace, workload, container) from the partials of many
//! replicas on many nodes (the union, [`crate::profile::merge`]), and its coverage: for every
//! allowed syscall, how many container instances (replicas) and nodes contributed it. A syscall
//! only some replicas made is where a rollout risks a denial: a code path the others never took
//! while recorded (or took on a node not recorded at all).
//!
//! Partials of one workload container whose default actions differ are refused (as `merge`
//! refuses plain profiles), and so are partials recorded on nodes of different architectures: a
//! name valid on one may not exist on the other; merge each architecture's partials apart. The
//! same instance given twice (a directory copied twice) counts once.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Key, Provenance};
use crate::{
    exit,
    profile::{Action, Profile, merge::merge},
};

/// One partial, read from `label` (its path).
pub struct Input {
    pub label: String,
    pub profile: Profile,
    pub provenance: Provenance,
}

/// How many replicas and nodes allowed one syscall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub name: String,
    pub replicas: usize,
    pub nodes: usize,
}

/// The merged profile of one workload container, and what went into it.
#[derive(Debug)]
pub struct Folded {
    pub key: Key,
    pub profile: Profile,
    pub warnings: Vec<String>,
    /// Container instances (distinct node and container id).
    pub replicas: usize,
    pub nodes: BTreeSet<String>,
    pub pods: BTreeSet<String>,
    /// Instances recorded after they had started (their start-up was not seen).
    pub attached: usize,
    /// Instances whose partial was written while they still ran.
    pub running: usize,
    /// Every allowed name, sorted.
    pub coverage: Vec<Coverage>,
    /// The partial files read.
    pub sources: Vec<String>,
}

impl Folded {
    /// The names not every replica (or not every node) contributed.
    pub fn partial_coverage(&self) -> impl Iterator<Item = &Coverage> {
        let nodes = self.nodes.len();
        (self.coverage.iter()).filter(move |c| c.replicas < self.replicas || c.nodes < nodes)
    }
}

/// Names a rule lets through: unconditional allows and allows under argument conditions.
fn allowed(profile: &Profile) -> BTreeSet<String> {
    (profile.syscalls.iter())
        .filter(|rule| rule.action == Action::Allow)
        .flat_map(|rule| rule.names.iter().cloned())
        .collect()
}

/// Folds partials into one [`Folded`] per key, sorted by key.
pub fn fold(inputs: Vec<Input>) -> anyhow::Result<Vec<Folded>> {
    let mut by_key: BTreeMap<Key, Vec<Input>> = BTreeMap::new();
    for input in inputs {
        by_key
            .entry(Key::of(&input.provenance))
            .or_default()
            .push(input);
    }
    by_key
        .into_iter()
        .map(|(key, inputs)| fold_one(key, inputs))
        .collect()
}

fn fold_one(key: Key, inputs: Vec<Input>) -> anyhow::Result<Folded> {
    let first = &inputs[0];
    if let Some(other) =
        (inputs.iter()).find(|i| i.profile.architectures != first.profile.architectures)
    {
        return exit::input(format!(
            "partials of {key} were recorded on nodes of different architectures ({} on {}: {}; \
             {} on {}: {}): a profile lists the syscall names of one architecture family; merge \
             each architecture's partials separately",
            first.label,
            first.provenance.node,
            first.profile.architectures.join(","),
            other.label,
            other.provenance.node,
            other.profile.architectures.join(","),
        ));
    }
    let labelled: Vec<(String, Profile)> = (inputs.iter())
        .map(|i| (i.label.clone(), i.profile.clone()))
        .collect();
    let merged = merge(&labelled)?;
    // One instance (node, container id) counts once, whichever of its copies were given.
    let mut instances: BTreeMap<(&str, &str), (BTreeSet<String>, &Provenance)> = BTreeMap::new();
    for input in &inputs {
        let p = &input.provenance;
        let entry = instances
            .entry((p.node.as_str(), p.container_id.as_str()))
            .or_insert_with(|| (BTreeSet::new(), p));
        entry.0.extend(allowed(&input.profile));
        // The newest copy says whether it still ran.
        if p.updated > entry.1.updated {
            entry.1 = p;
        }
    }
    let mut replicas: BTreeMap<String, usize> = BTreeMap::new();
    let mut nodes: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for ((node, _), (names, _)) in &instances {
        for name in names {
            *replicas.entry(name.clone()).or_default() += 1;
            nodes.entry(name.clone()).or_default().insert(node);
        }
    }
    let coverage = (replicas.into_iter())
        .map(|(name, count)| Coverage {
            nodes: nodes.get(&name).map_or(0, BTreeSet::len),
            name,
            replicas: count,
        })
        .collect();
    let provenances = || instances.values().map(|(_, p)| *p);
    Ok(Folded {
        profile: merged.profile,
        warnings: merged.warnings,
        replicas: instances.len(),
        nodes: provenances().map(|p| p.node.clone()).collect(),
        pods: provenances().map(|p| p.pod.clone()).collect(),
        attached: provenances().filter(|p| p.recorded == "attached").count(),
        running: provenances().filter(|p| p.ended.is_none()).count(),
        coverage,
        sources: inputs.iter().map(|i| i.label.clone()).collect(),
        key,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::syscalls::Arch;

    fn input(node: &str, id: &str, names: &[&str], arches: &[Arch]) -> Input {
        let names = names.iter().map(|n| (*n).to_owned()).collect();
        Input {
            label: format!("{node}/{id}.json"),
            profile: Profile::minimal(&names, arches).unwrap(),
            provenance: Provenance {
                node: node.into(),
                namespace: "prod".into(),
                pod: format!("shop-7d4b9c8f6d-{id}"),
                workload: "shop".into(),
                container: "web".into(),
                container_id: id.into(),
                recorded: "start".into(),
                ended: Some("2026-11-30T14:05:09Z".into()),
                ..Provenance::default()
            },
        }
    }

    #[test]
    fn union_with_coverage_per_replica_and_node() {
        let x86 = [Arch::X86_64];
        let folded = fold(vec![
            input("node-a", "aaaa", &["read", "write", "mkdir"], &x86),
            input("node-b", "bbbb", &["read", "write"], &x86),
            input("node-b", "cccc", &["read", "openat"], &x86),
            // The same instance again (a copied directory): counts once.
            input("node-b", "cccc", &["read", "openat"], &x86),
        ])
        .unwrap();
        assert_eq!(folded.len(), 1);
        let web = &folded[0];
        assert_eq!(web.key.to_string(), "prod/shop/web");
        assert_eq!((web.replicas, web.nodes.len(), web.pods.len()), (3, 2, 3));
        assert_eq!(
            web.profile.allowed_names().into_iter().collect::<Vec<_>>(),
            ["mkdir", "openat", "read", "write"]
        );
        let cov = |name: &str| {
            let c = web.coverage.iter().find(|c| c.name == name).unwrap();
            (c.replicas, c.nodes)
        };
        assert_eq!(cov("read"), (3, 2));
        assert_eq!(cov("write"), (2, 2));
        assert_eq!(cov("mkdir"), (1, 1));
        assert_eq!(cov("openat"), (1, 1));
        let partial: Vec<&str> = web.partial_coverage().map(|c| c.name.as_str()).collect();
        assert_eq!(partial, ["mkdir", "openat", "write"]);
    }

    #[test]
    fn refuses_mixed_architectures_and_defaults() {
        let err = fold(vec![
            input("node-a", "aaaa", &["read"], &[Arch::X86_64]),
            input("node-b", "bbbb", &["read"], &[Arch::X86_64, Arch::X86]),
        ])
        .unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);
        assert!(
            format!("{err:#}").contains("different architectures"),
            "{err:#}"
        );
        let mut allow = input("node-b", "bbbb", &["read"], &[Arch::X86_64]);
        allow.profile.default_action = Action::Allow;
        let err = fold(vec![
            input("node-a", "aaaa", &["read"], &[Arch::X86_64]),
            allow,
        ])
        .unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);
        assert!(
            format!("{err:#}").contains("default actions differ"),
            "{err:#}"
        );
    }
}
