//! Names the calls seccomp refused (the tracer's [`Refusal`]s, design.md §15) per syscall table,
//! the way `build` names the calls that were allowed, and renders them for a summary. It decides
//! nothing about exit codes and writes nothing.

use profiler_common::TABLE_X32;

use super::build::table_arch;
use crate::{
    output::report::DeniedEntry,
    syscalls::{self, Arch},
    tracer::{Recording, denials::Refusal},
};

/// The refusals of one recording, named and sorted.
pub fn name(recording: &Recording) -> Vec<DeniedEntry> {
    name_refusals(&recording.denials)
}

/// Refusals read straight from the tracer, named and sorted.
pub fn name_refusals(refusals: &[Refusal]) -> Vec<DeniedEntry> {
    let mut entries: Vec<DeniedEntry> = refusals.iter().map(entry).collect();
    entries.sort();
    entries
}

fn entry(refusal: &Refusal) -> DeniedEntry {
    let arch = table_arch(refusal.table);
    let number = if refusal.table == TABLE_X32 {
        refusal.nr | syscalls::X32_SYSCALL_BIT
    } else {
        refusal.nr
    };
    let name = arch
        .and_then(|arch| syscalls::name_of(arch, number))
        .unwrap_or_else(|| format!("#{number}"));
    DeniedEntry {
        name,
        arch: arch.map_or("unknown", Arch::scmp_name),
        number,
        errno: refusal.errno,
        errno_name: errno_name(refusal.errno),
        count: refusal.count,
        first_comm: refusal.first_comm.clone(),
    }
}

/// The symbolic name of the errnos a profile commonly returns; `errno N` for the others.
pub fn errno_name(errno: u32) -> String {
    let known = match errno {
        0 => "no errno",
        1 => "EPERM",
        13 => "EACCES",
        22 => "EINVAL",
        38 => "ENOSYS",
        95 => "EOPNOTSUPP",
        _ => return format!("errno {errno}"),
    };
    known.to_owned()
}

/// Summary lines for a list of refusals: a header and one aligned row per entry.
pub fn table(entries: &[DeniedEntry]) -> Vec<String> {
    let mut lines = vec![format!(
        "  {:<24} {:>10}  {:<10} first refused to",
        "syscall", "count", "errno"
    )];
    for entry in entries {
        let name = if entry.arch == Arch::native().scmp_name() {
            entry.name.clone()
        } else {
            format!("{} ({})", entry.name, entry.arch)
        };
        lines.push(format!(
            "  {:<24} {:>10}  {:<10} {}",
            name, entry.count, entry.errno_name, entry.first_comm
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use profiler_common::{TABLE_COMPAT, TABLE_NATIVE};

    fn recording(refusals: Vec<Refusal>) -> Recording {
        Recording {
            denials: refusals,
            ..Recording::default()
        }
    }

    fn refusal(table: u32, nr: u32, errno: u32, count: u64) -> Refusal {
        Refusal {
            table,
            nr,
            errno,
            count,
            first_comm: "w".into(),
        }
    }

    #[test]
    fn names_each_table_from_its_own_arch() {
        // x86_64 83 is mkdir; ia32 39 is mkdir too, 20 getpid; x86_64 20 is writev.
        if Arch::native() != Arch::X86_64 {
            return;
        }
        let named = name(&recording(vec![
            refusal(TABLE_NATIVE, 83, 1, 3),
            refusal(TABLE_NATIVE, 20, 38, 1),
            refusal(TABLE_COMPAT, 20, 1, 2),
            refusal(TABLE_NATIVE, 1000, 1, 1),
        ]));
        let got: Vec<(&str, &str, u32, &str)> = named
            .iter()
            .map(|e| {
                (
                    e.name.as_str(),
                    e.arch,
                    e.count as u32,
                    e.errno_name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("#1000", "SCMP_ARCH_X86_64", 1, "EPERM"),
                ("getpid", "SCMP_ARCH_X86", 2, "EPERM"),
                ("mkdir", "SCMP_ARCH_X86_64", 3, "EPERM"),
                ("writev", "SCMP_ARCH_X86_64", 1, "ENOSYS"),
            ]
        );
        let lines = table(&named);
        assert!(lines[2].contains("getpid (SCMP_ARCH_X86)"), "{lines:?}");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(1), "EPERM");
        assert_eq!(errno_name(38), "ENOSYS");
        assert_eq!(errno_name(0), "no errno");
        assert_eq!(errno_name(61), "errno 61");
    }
}
