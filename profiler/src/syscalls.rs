//! Syscall numbers ↔ names per architecture, answered by libseccomp, and the five architecture
//! names runc accepts. libseccomp is the authority on purpose: runc resolves a profile's names
//! through the same library, so a name that passes here is a name runc will not silently drop
//! (design.md §4).
//!
//! This module does not decide which architecture a recorded number belongs to (the tracer knows
//! whether a task was in compat or x32 mode), and it does not build filters (`profile.rs` does).
//!
//! Numbers are the kernel's own: on x32 they carry bit 30 (`__X32_SYSCALL_BIT`), exactly as
//! `seccomp_data.nr` and the `raw_syscalls:sys_enter` id show them. libseccomp's pseudo-numbers
//! (negative values for names that exist in its tables but not on an architecture, such as
//! `socketcall` on x86_64) are never returned as numbers.

use libseccomp::{ScmpArch, ScmpSyscall};

/// The bit the kernel sets in x32 syscall numbers (`__X32_SYSCALL_BIT` in
/// arch/x86/include/uapi/asm/unistd.h).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// An architecture a profile can list. Only the ones runc accepts for the two host families this
/// tool supports; runc's list (libcontainer/seccomp/config.go) has no `SCMP_ARCH_ARM64`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Arch {
    X86_64,
    X86,
    X32,
    Aarch64,
    Arm,
}

impl Arch {
    /// Every architecture, in the order runc's and Docker's profiles list them.
    pub const ALL: [Arch; 5] = [Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64, Arch::Arm];

    /// The name profiles use, e.g. `SCMP_ARCH_X86_64`.
    pub fn scmp_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::X86 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
        }
    }

    /// Parses a profile's architecture name. Only the spellings runc accepts: `SCMP_ARCH_ARM64`
    /// (a common slip, from libseccomp-golang's `ArchARM64`) is rejected by runc.
    pub fn from_scmp_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|arch| arch.scmp_name() == name)
    }

    /// The architecture this binary was built for, which is the host's: the kernel runs a process
    /// in its native ABI unless the binary itself is compat (ia32, arm) or x32.
    pub fn native() -> Arch {
        NATIVE
    }

    /// The native architecture and the ABIs a process on it can also use: the profile must list
    /// all of them, or a compat binary is killed by the filter's bad-architecture action (this is
    /// what Docker's `archMap` expresses).
    pub fn native_family() -> &'static [Arch] {
        match Arch::native() {
            Arch::X86_64 | Arch::X32 => &[Arch::X86_64, Arch::X86, Arch::X32],
            Arch::Aarch64 => &[Arch::Aarch64, Arch::Arm],
            Arch::X86 => &[Arch::X86],
            Arch::Arm => &[Arch::Arm],
        }
    }

    /// libseccomp's token for this architecture.
    pub fn to_scmp(self) -> ScmpArch {
        match self {
            Arch::X86_64 => ScmpArch::X8664,
            Arch::X86 => ScmpArch::X86,
            Arch::X32 => ScmpArch::X32,
            Arch::Aarch64 => ScmpArch::Aarch64,
            Arch::Arm => ScmpArch::Arm,
        }
    }

    /// Docker's spelling in a rule's `includes.arches`/`excludes.arches` (libseccomp-golang's
    /// names, compared with Go's `runtime.GOARCH` mapped through moby's `goToNative`).
    pub fn docker_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::X86 => "x86",
            Arch::X32 => "x32",
            Arch::Aarch64 => "arm64",
            Arch::Arm => "arm",
        }
    }
}

#[cfg(target_arch = "x86_64")]
const NATIVE: Arch = Arch::X86_64;
#[cfg(target_arch = "aarch64")]
const NATIVE: Arch = Arch::Aarch64;
#[cfg(target_arch = "x86")]
const NATIVE: Arch = Arch::X86;
#[cfg(target_arch = "arm")]
const NATIVE: Arch = Arch::Arm;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "x86",
    target_arch = "arm"
)))]
compile_error!("seccomp-profiler supports x86_64, aarch64, x86 and arm hosts only");

/// The oldest libseccomp this tool works with: profiles are compiled with raw kernel error codes
/// (`SCMP_FLTATR_API_SYSRAWRC`) and the binary-tree optimizer (`SCMP_FLTATR_CTL_OPTIMIZE`), both
/// new in 2.5.0; `SCMP_ACT_LOG` and `SCMP_ACT_KILL_PROCESS` need 2.4.0.
pub const MIN_LIBSECCOMP: (u32, u32, u32) = (2, 5, 0);

/// The version of the libseccomp library this process has loaded (not the one it was built
/// against), from `seccomp_version()`.
pub fn library_version() -> Option<(u32, u32, u32)> {
    let version = libseccomp::ScmpVersion::current().ok()?;
    Some((version.major, version.minor, version.micro))
}

/// libseccomp's name for `nr` on `arch`, or `None` if libseccomp does not know that number there.
///
/// On x32 only numbers with bit 30 set are x32 syscalls: libseccomp would also name a plain number
/// (it strips the bit before looking up), but a number without the bit comes from an x86_64 task
/// and naming it from the x32 table would mislabel it (design.md §5).
pub fn name_of(arch: Arch, nr: u32) -> Option<String> {
    if arch == Arch::X32 && nr & X32_SYSCALL_BIT == 0 {
        return None;
    }
    // Above i32::MAX the value would reach libseccomp as one of its negative pseudo-numbers.
    let nr = i32::try_from(nr).ok()?;
    ScmpSyscall::from(nr).get_name_by_arch(arch.to_scmp()).ok()
}

/// The kernel's number for `name` on `arch`; `None` if libseccomp does not know the name, or knows
/// it only as a pseudo-number there (the syscall does not exist on that architecture).
///
/// On x32 the number includes bit 30, as the kernel sees it (`read` is `0x4000_0000`).
pub fn number_of(arch: Arch, name: &str) -> Option<u32> {
    let nr = ScmpSyscall::from_name_by_arch(name, arch.to_scmp()).ok()?;
    u32::try_from(i32::from(nr)).ok()
}

/// Whether libseccomp resolves `name` on the native architecture, to a real or a pseudo-number.
/// This is exactly runc's test (`libseccomp.GetSyscallFromName` in `matchCall`): a name failing it
/// is skipped without an error, and the workload gets the default action for that syscall.
pub fn is_known_name(name: &str) -> bool {
    ScmpSyscall::from_name(name).is_ok()
}

/// Every number libseccomp can name on `arch`, ascending. Covers the kernel's numbering ranges for
/// the five architectures: the ordinary table, x32's bit-30 range, and ARM's private
/// `__ARM_NR_BASE` (0x0f0000) range.
pub fn known_numbers(arch: Arch) -> Vec<u32> {
    // No table has reached 1024 entries; x32's own entries end at 547.
    const TABLE_END: u32 = 1024;
    const ARM_NR_BASE: u32 = 0x000f_0000;
    let table =
        |start: u32| (start..start + TABLE_END).filter(move |&nr| name_of(arch, nr).is_some());
    match arch {
        Arch::X32 => table(X32_SYSCALL_BIT).collect(),
        Arch::Arm => table(0).chain(table(ARM_NR_BASE)).collect(),
        Arch::X86_64 | Arch::X86 | Arch::Aarch64 => table(0).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names_round_trip_and_reject_arm64() {
        for arch in Arch::ALL {
            assert_eq!(Arch::from_scmp_name(arch.scmp_name()), Some(arch));
        }
        assert_eq!(Arch::from_scmp_name("SCMP_ARCH_ARM64"), None);
        assert_eq!(Arch::from_scmp_name("SCMP_ARCH_MIPS"), None);
        assert_eq!(Arch::from_scmp_name("scmp_arch_x86_64"), None);
        assert_eq!(Arch::X86_64.scmp_name(), "SCMP_ARCH_X86_64");
        assert_eq!(Arch::Aarch64.scmp_name(), "SCMP_ARCH_AARCH64");
    }

    #[test]
    fn native_family_starts_with_native() {
        assert_eq!(Arch::native_family()[0], Arch::native());
        if cfg!(target_arch = "x86_64") {
            assert_eq!(Arch::native_family(), &[Arch::X86_64, Arch::X86, Arch::X32]);
        }
        if cfg!(target_arch = "aarch64") {
            assert_eq!(Arch::native_family(), &[Arch::Aarch64, Arch::Arm]);
        }
    }

    #[test]
    fn x86_64_round_trips() {
        for (nr, name) in [
            (0, "read"),
            (59, "execve"),
            (435, "clone3"),
            (231, "exit_group"),
        ] {
            assert_eq!(name_of(Arch::X86_64, nr).as_deref(), Some(name));
            assert_eq!(number_of(Arch::X86_64, name), Some(nr));
        }
        // A pseudo-number on x86_64: the name is known, the syscall does not exist there.
        assert_eq!(number_of(Arch::X86_64, "socketcall"), None);
        assert_eq!(name_of(Arch::X86_64, u32::MAX), None);
        assert_eq!(name_of(Arch::X86_64, 100_000), None);
    }

    #[test]
    fn ia32_uses_its_own_table() {
        assert_eq!(name_of(Arch::X86, 11).as_deref(), Some("execve"));
        assert_eq!(number_of(Arch::X86, "execve"), Some(11));
        assert_eq!(name_of(Arch::X86, 102).as_deref(), Some("socketcall"));
        assert_eq!(number_of(Arch::X86, "socketcall"), Some(102));
        // The same number means different syscalls on the two tables.
        assert_eq!(name_of(Arch::X86_64, 11).as_deref(), Some("munmap"));
    }

    #[test]
    fn x32_numbers_carry_bit_30() {
        assert_eq!(number_of(Arch::X32, "read"), Some(X32_SYSCALL_BIT));
        assert_eq!(name_of(Arch::X32, X32_SYSCALL_BIT).as_deref(), Some("read"));
        // x32's own entries (512..) also carry the bit.
        assert_eq!(
            name_of(Arch::X32, X32_SYSCALL_BIT | 512).as_deref(),
            Some("rt_sigaction")
        );
        // Without the bit a number is an x86_64 syscall: never name it from the x32 table.
        assert_eq!(name_of(Arch::X32, 0), None);
        assert_eq!(name_of(Arch::X32, 512), None);
    }

    #[test]
    fn arm_families() {
        assert_eq!(number_of(Arch::Aarch64, "read"), Some(63));
        assert_eq!(number_of(Arch::Arm, "execve"), Some(11));
        assert_eq!(number_of(Arch::Arm, "set_tls"), Some(0x000f_0005));
        assert_eq!(number_of(Arch::Aarch64, "open"), None);
    }

    #[test]
    fn known_names() {
        assert!(is_known_name("read"));
        assert!(is_known_name("clone3"));
        // Known to libseccomp, a pseudo-number on x86_64: runc keeps such names.
        assert!(is_known_name("socketcall"));
        assert!(!is_known_name("not_a_syscall"));
        assert!(!is_known_name(""));
        assert!(!is_known_name("read\0"));
        assert!(!is_known_name(&"x".repeat(100)));
    }

    #[test]
    fn known_numbers_cover_tables() {
        let x86_64 = known_numbers(Arch::X86_64);
        assert!(x86_64.contains(&0) && x86_64.contains(&435));
        assert!(x86_64.windows(2).all(|w| w[0] < w[1]));
        let x32 = known_numbers(Arch::X32);
        assert!(x32.iter().all(|nr| nr & X32_SYSCALL_BIT != 0));
        assert!(known_numbers(Arch::Arm).contains(&0x000f_0005));
    }
}
