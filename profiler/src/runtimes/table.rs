//! The measured runtime table (`profiles/runtimes.json`, embedded at build time): per container
//! runtime and version, and per no-new-privileges mode, the syscalls the runtime itself made under
//! the filter before exec'ing the entrypoint (the runtime phase) in a minimal container. It is
//! data measured by the tool (`cargo xtask runtime-table`, the union of several runs, because a
//! Go runtime's scheduler and allocator act on timing), never a hand-typed list. This module only
//! parses and looks up; `--check` lives in the xtask.

use serde::{Deserialize, Serialize};

/// The checked-in table, compiled in.
pub const EMBEDDED: &str = include_str!("../../../profiles/runtimes.json");

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Table {
    /// How the table was made (for people reading the file).
    pub comment: String,
    /// `uname -r` of the machine that measured it.
    pub kernel: String,
    /// Recordings per (runtime, mode) whose union each list is.
    pub runs: u32,
    pub runtimes: Vec<Measured>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Measured {
    pub name: String,
    /// As the runtime's `--version` prints it (`1.1.5+ds1`).
    pub version: String,
    /// A Go program: its language runtime's timing-dependent syscalls are implied too.
    pub go: bool,
    /// Sorted names made in the runtime phase with no-new-privileges off and on.
    pub nnp_off: Vec<String>,
    pub nnp_on: Vec<String>,
}

impl Measured {
    pub fn names(&self, nnp: super::Nnp) -> &[String] {
        match nnp {
            super::Nnp::Off => &self.nnp_off,
            super::Nnp::On => &self.nnp_on,
        }
    }
}

impl Table {
    /// The embedded table. It is checked by a unit test, so a parse failure here is a build bug.
    pub fn embedded() -> Table {
        serde_json::from_str(EMBEDDED).unwrap_or_else(|_| Table {
            comment: String::new(),
            kernel: String::new(),
            runs: 0,
            runtimes: Vec::new(),
        })
    }

    pub fn find(&self, name: &str) -> Option<&Measured> {
        self.runtimes.iter().find(|m| m.name == name)
    }

    /// What the table knows, for messages: `crun 1.8.1, runc 1.1.5+ds1`.
    pub fn describe(&self) -> String {
        self.runtimes
            .iter()
            .map(|m| format!("{} {}", m.name, m.version))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses_and_is_sorted() {
        let table: Table = serde_json::from_str(EMBEDDED).expect("profiles/runtimes.json parses");
        assert!(!table.runtimes.is_empty());
        for measured in &table.runtimes {
            for names in [&measured.nnp_off, &measured.nnp_on] {
                assert!(!names.is_empty(), "{}", measured.name);
                assert!(names.windows(2).all(|w| w[0] < w[1]), "{}", measured.name);
                for name in names {
                    assert!(crate::syscalls::is_known_name(name), "{name}");
                }
            }
        }
    }
}
