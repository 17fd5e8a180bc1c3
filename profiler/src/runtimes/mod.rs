//! Profiles that carry across container runtimes and no-new-privileges modes (issue 11,
//! docs/design.md §12). What a runtime does under the filter before it execs the entrypoint
//! differs: runc (Go) installs before dropping capabilities unless no-new-privileges is set, crun
//! (C) uses other syscalls for the same work. A recording knows which runtime installed its filter
//! ([`identify`]) and which syscalls were made in that runtime phase; the [`table`] knows, per
//! measured runtime and mode, what that phase needs. [`plan`] combines them for `record
//! --runtimes/--nnp`: the names to add, and what the profile is made for. It records nothing and
//! writes nothing.

pub mod identify;
pub mod table;

use std::collections::BTreeSet;

use serde::Serialize;

pub use identify::Identity;
use table::Table;

/// A no-new-privileges mode a profile is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Nnp {
    Off,
    On,
}

impl Nnp {
    pub fn as_str(self) -> &'static str {
        match self {
            Nnp::Off => "off",
            Nnp::On => "on",
        }
    }
}

/// `record --runtimes NAME[@VERSION],… --nnp on,off`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// None: the runtime that installed the filter. Empty: none (the runtime seen still decides
    /// whether the Go runtime's set is implied).
    pub runtimes: Option<Vec<String>>,
    /// Empty: both.
    pub nnp: Vec<Nnp>,
}

/// clap's value parser for one `--runtimes` entry: a runtime (and version) the embedded table has
/// measured data for; anything else is refused before recording starts (exit code 2).
pub fn parse_runtime(value: &str) -> Result<String, String> {
    let table = Table::embedded();
    let (name, version) = match value.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (value, None),
    };
    match table.find(name) {
        Some(measured) if version.is_none_or(|v| v == measured.version) => Ok(name.to_owned()),
        Some(measured) => Err(format!(
            "no measured data for {name} {}: the runtime table has {name} {} (profiles/runtimes.json); \
             measure this version with `cargo xtask runtime-table` on a machine that has it",
            version.unwrap_or(""),
            measured.version
        )),
        None => Err(format!(
            "no measured data for runtime `{name}`: the runtime table has {} (profiles/runtimes.json); \
             measure it with `cargo xtask runtime-table` on a machine that has it",
            if table.runtimes.is_empty() {
                "nothing".to_owned()
            } else {
                table.describe()
            }
        )),
    }
}

/// What went into a profile because of runtimes, for the report, summary and profile comment.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RuntimeReport {
    /// The runtime that installed the filter, as identified from the installing task.
    pub installed_by: Option<Identity>,
    /// no-new-privileges on the installing task: "on", "off", "both" (several installs
    /// differed), or None (no filter install opened the gate).
    pub no_new_privileges: Option<&'static str>,
    /// Runtimes (name and measured version) whose runtime phase the profile covers.
    pub made_for: Vec<String>,
    pub nnp_modes: Vec<Nnp>,
    /// Names added from the runtime table that the recording did not see.
    pub added_from_table: Vec<String>,
    /// The Go runtime's timing-dependent syscalls are implied (a listed runtime is a Go program).
    pub go_runtime_implied: bool,
}

impl RuntimeReport {
    /// One line for the summary and the allow rule's comment.
    pub fn describe(&self) -> Option<String> {
        let installed = self.installed_by.as_ref()?;
        let nnp = self.no_new_privileges.unwrap_or("unknown");
        let seen = match &installed.version {
            Some(version) => format!("{} {version}", installed.name),
            None => installed.name.clone(),
        };
        let mut line = format!("recorded under {seen} (no-new-privileges {nnp})");
        if !self.made_for.is_empty() {
            let modes: Vec<&str> = self.nnp_modes.iter().map(|m| m.as_str()).collect();
            line.push_str(&format!(
                "; made for {} with no-new-privileges {}",
                self.made_for.join(", "),
                modes.join(" and ")
            ));
        }
        Some(line)
    }
}

/// The result of [`plan`].
pub struct Plan {
    pub report: RuntimeReport,
    /// Runtime-phase names to allow besides the recorded ones.
    pub add: BTreeSet<String>,
    pub warnings: Vec<String>,
}

/// Decides what a profile carries for runtimes. `identity` is the runtime that installed the
/// filter (None when none did), `nnp_seen` its no-new-privileges mode(s).
pub fn plan(
    table: &Table,
    identity: Option<Identity>,
    nnp_seen: Option<&'static str>,
    request: &Request,
    recorded: &BTreeSet<String>,
) -> Plan {
    let mut warnings = Vec::new();
    let modes: Vec<Nnp> = if request.nnp.is_empty() {
        vec![Nnp::Off, Nnp::On]
    } else {
        let mut modes = request.nnp.clone();
        modes.sort();
        modes.dedup();
        modes
    };
    let is_launcher = identity
        .as_ref()
        .is_some_and(|i| i.name == env!("CARGO_PKG_NAME"));
    let targets: Vec<String> = match (&request.runtimes, &identity) {
        (Some(list), _) => list.clone(),
        (None, Some(seen)) if !is_launcher => vec![seen.name.clone()],
        _ => Vec::new(),
    };
    let mut add = BTreeSet::new();
    let mut made_for = Vec::new();
    let mut go = false;
    for name in &targets {
        let Some(measured) = table.find(name) else {
            warnings.push(format!(
                "no measured runtime-phase data for {name} (the runtime table has {}): this profile \
                 carries only what this recording saw, so it is proven for this runtime and \
                 no-new-privileges mode only",
                table.describe()
            ));
            continue;
        };
        if let Some(seen) = identity.as_ref().filter(|seen| &seen.name == name)
            && let Some(version) = &seen.version
            && version != &measured.version
        {
            warnings.push(format!(
                "the runtime table measured {name} {}, but {name} {version} installed this filter: \
                 the table's runtime-phase names were added, and may not be all this version needs; \
                 re-measure with `cargo xtask runtime-table`",
                measured.version
            ));
        }
        for mode in &modes {
            add.extend(measured.names(*mode).iter().cloned());
        }
        go |= measured.go;
        made_for.push(format!("{} {}", measured.name, measured.version));
    }
    if request.runtimes.as_ref().is_none_or(Vec::is_empty) {
        // The runtime seen is a target even without measured data: its own phase was recorded.
        go |= identity.as_ref().is_some_and(|i| i.go);
    }
    let added_from_table: Vec<String> = add.difference(recorded).cloned().collect();
    let nnp_modes = if made_for.is_empty() {
        Vec::new()
    } else {
        modes
    };
    Plan {
        report: RuntimeReport {
            installed_by: identity,
            no_new_privileges: nnp_seen,
            made_for,
            nnp_modes,
            added_from_table,
            go_runtime_implied: go,
        },
        add,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            comment: String::new(),
            kernel: "k".into(),
            runs: 1,
            runtimes: vec![
                table::Measured {
                    name: "crun".into(),
                    version: "1.8.1".into(),
                    go: false,
                    nnp_off: vec!["execve".into(), "setresuid".into()],
                    nnp_on: vec!["execve".into()],
                },
                table::Measured {
                    name: "runc".into(),
                    version: "1.1.5".into(),
                    go: true,
                    nnp_off: vec!["capset".into(), "execve".into()],
                    nnp_on: vec!["execve".into(), "getppid".into()],
                },
            ],
        }
    }

    fn seen(name: &str, version: &str, go: bool) -> Identity {
        Identity {
            name: name.into(),
            version: Some(version.into()),
            go,
            ..Identity::default()
        }
    }

    #[test]
    fn default_is_the_runtime_seen_in_both_modes() {
        let recorded: BTreeSet<String> = ["execve".to_owned()].into();
        let plan = plan(
            &table(),
            Some(seen("crun", "1.8.1", false)),
            Some("on"),
            &Request::default(),
            &recorded,
        );
        assert_eq!(
            plan.add,
            ["execve".to_owned(), "setresuid".to_owned()].into()
        );
        assert_eq!(plan.report.added_from_table, ["setresuid"]);
        assert!(!plan.report.go_runtime_implied, "crun is C");
        assert_eq!(plan.report.made_for, ["crun 1.8.1"]);
        assert!(plan.warnings.is_empty());
        let line = plan.report.describe().expect("line");
        assert_eq!(
            line,
            "recorded under crun 1.8.1 (no-new-privileges on); made for crun 1.8.1 with no-new-privileges off and on"
        );
    }

    #[test]
    fn listed_runtimes_add_their_phases_and_go() {
        let request = Request {
            runtimes: Some(vec!["runc".into(), "crun".into()]),
            nnp: vec![Nnp::On],
        };
        let plan = plan(
            &table(),
            Some(seen("crun", "1.8.1", false)),
            Some("on"),
            &request,
            &BTreeSet::new(),
        );
        assert_eq!(plan.add, ["execve".to_owned(), "getppid".to_owned()].into());
        assert!(plan.report.go_runtime_implied, "runc is Go");
    }

    #[test]
    fn unmeasured_runtime_or_version_is_named() {
        let plan = plan(
            &table(),
            Some(seen("youki", "0.3", false)),
            Some("off"),
            &Request::default(),
            &BTreeSet::new(),
        );
        assert!(plan.add.is_empty());
        assert!(plan.warnings[0].contains("no measured runtime-phase data for youki"));
        let plan = plan_for_version("1.9.0");
        assert!(plan.warnings[0].contains("measured crun 1.8.1, but crun 1.9.0"));
    }

    fn plan_for_version(version: &str) -> Plan {
        plan(
            &table(),
            Some(seen("crun", version, false)),
            Some("off"),
            &Request::default(),
            &BTreeSet::new(),
        )
    }
}
