//! Syscalls that widen the attack surface when a profile starts allowing them, each with a one-line
//! note saying why. `diff` shows these notes next to added syscalls, so that a reviewer sees at a
//! glance which part of a profile's growth deserves a question.
//!
//! The table is curated, not derived: it holds the syscalls Docker's default profile denies or
//! gates behind a capability, plus the ones that have been container-escape or kernel-exploit
//! vectors. It does not rate syscalls that are missing from it (most are ordinary), and it does not
//! look at arguments. Every name is one libseccomp 2.5.4 knows (the test checks it), so the notes
//! never mention a name a profile could not carry.

/// Name → why allowing it matters. Sorted by name (the test checks it), so lookups can bisect.
/// Notes are plain text without `|`, so they fit a markdown table cell as written.
const NOTES: [(&str, &str); 62] = [
    (
        "acct",
        "switches process accounting on or off for the whole host (CAP_SYS_PACCT)",
    ),
    (
        "add_key",
        "adds keys to kernel keyrings, which are not namespaced: keys can leak between containers",
    ),
    (
        "adjtimex",
        "with CAP_SYS_TIME, adjusts the system clock, which is not namespaced",
    ),
    (
        "bpf",
        "loads eBPF programs and reads maps: a large kernel attack surface with a history of privilege-escalation bugs",
    ),
    (
        "chroot",
        "changes the root directory; a process that keeps a directory fd outside it can walk out",
    ),
    (
        "clock_adjtime",
        "with CAP_SYS_TIME, adjusts the system clock, which is not namespaced",
    ),
    (
        "clock_settime",
        "sets the system clock, which is not namespaced (CAP_SYS_TIME)",
    ),
    (
        "clone3",
        "can create namespaces, and seccomp cannot filter its flags (they are in a struct, not an argument)",
    ),
    ("delete_module", "unloads kernel modules (CAP_SYS_MODULE)"),
    (
        "fanotify_init",
        "watches file access across a mount or filesystem, and can block it (CAP_SYS_ADMIN)",
    ),
    (
        "finit_module",
        "loads a kernel module from a file: code running in the kernel (CAP_SYS_MODULE)",
    ),
    (
        "fsconfig",
        "new mount API: configures a filesystem to mount, the power of mount(2)",
    ),
    (
        "fsmount",
        "new mount API: creates a mount, the power of mount(2)",
    ),
    (
        "fsopen",
        "new mount API: opens a filesystem to mount, the power of mount(2)",
    ),
    (
        "fspick",
        "new mount API: reconfigures an existing mount, the power of mount(2)",
    ),
    (
        "init_module",
        "loads a kernel module from memory: code running in the kernel (CAP_SYS_MODULE)",
    ),
    (
        "io_uring_enter",
        "io_uring: operations submitted through its rings are not seen by seccomp; a frequent source of kernel exploits",
    ),
    (
        "io_uring_register",
        "io_uring: operations submitted through its rings are not seen by seccomp; a frequent source of kernel exploits",
    ),
    (
        "io_uring_setup",
        "io_uring: operations submitted through its rings are not seen by seccomp; a frequent source of kernel exploits",
    ),
    (
        "ioperm",
        "direct access to hardware I/O ports (CAP_SYS_RAWIO)",
    ),
    (
        "iopl",
        "raises the I/O privilege level: access to every hardware I/O port (CAP_SYS_RAWIO)",
    ),
    (
        "kcmp",
        "compares kernel objects of two processes (ptrace access rules apply); leaks kernel object ordering",
    ),
    (
        "kexec_file_load",
        "loads a new kernel to boot into (CAP_SYS_BOOT)",
    ),
    (
        "kexec_load",
        "loads a new kernel to boot into (CAP_SYS_BOOT)",
    ),
    (
        "keyctl",
        "manages kernel keyrings, which are not namespaced: keys can leak between containers",
    ),
    (
        "lookup_dcookie",
        "oprofile's path lookup by cookie (CAP_SYS_ADMIN); no use outside profiling",
    ),
    (
        "mbind",
        "NUMA memory policy; with CAP_SYS_NICE it moves pages shared with other processes",
    ),
    (
        "migrate_pages",
        "moves another process's pages between NUMA nodes (CAP_SYS_NICE for others' processes)",
    ),
    (
        "mount",
        "mounts filesystems; with CAP_SYS_ADMIN a path to host devices and a classic container escape",
    ),
    (
        "mount_setattr",
        "new mount API: changes mount properties such as read-only and ID mapping",
    ),
    (
        "move_mount",
        "new mount API: attaches or moves a mount, the power of mount(2)",
    ),
    (
        "move_pages",
        "moves another process's pages between NUMA nodes and reports where they are",
    ),
    (
        "name_to_handle_at",
        "produces the file handles open_by_handle_at accepts (the Shocker escape's first step)",
    ),
    (
        "nfsservctl",
        "the old kernel NFS server interface (removed in Linux 3.1)",
    ),
    (
        "open_by_handle_at",
        "opens files by handle without a path: the Shocker container escape (CAP_DAC_READ_SEARCH)",
    ),
    (
        "open_tree",
        "new mount API: clones a mount tree to attach elsewhere, the power of mount(2)",
    ),
    (
        "perf_event_open",
        "performance monitoring: exposes kernel addresses and has a history of privilege-escalation bugs",
    ),
    (
        "personality",
        "changes the execution domain; ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC weaken ASLR and NX",
    ),
    (
        "pidfd_getfd",
        "copies a file descriptor out of another process (ptrace access rules apply)",
    ),
    (
        "pivot_root",
        "changes the root filesystem; only container runtimes need it",
    ),
    (
        "process_madvise",
        "gives memory advice for another process (ptrace access rules apply)",
    ),
    (
        "process_vm_readv",
        "reads another process's memory directly (ptrace access rules apply)",
    ),
    (
        "process_vm_writev",
        "writes another process's memory directly (ptrace access rules apply)",
    ),
    (
        "ptrace",
        "reads and writes other processes' memory and registers; it could bypass seccomp before Linux 4.8",
    ),
    (
        "quotactl",
        "manages disk quotas of host filesystems (CAP_SYS_ADMIN)",
    ),
    (
        "quotactl_fd",
        "manages disk quotas of host filesystems (CAP_SYS_ADMIN)",
    ),
    (
        "reboot",
        "restarts or halts the machine, or starts a kexec'd kernel (CAP_SYS_BOOT)",
    ),
    (
        "request_key",
        "asks the kernel for a key, possibly running a host helper; keyrings are not namespaced",
    ),
    (
        "setdomainname",
        "sets the NIS domain name (the host's, outside a UTS namespace)",
    ),
    (
        "sethostname",
        "sets the host name (the host's, outside a UTS namespace)",
    ),
    (
        "setns",
        "joins another namespace through a file descriptor, such as the host's if one leaks in",
    ),
    (
        "settimeofday",
        "sets the system clock, which is not namespaced (CAP_SYS_TIME)",
    ),
    (
        "stime",
        "sets the system clock, which is not namespaced (CAP_SYS_TIME)",
    ),
    (
        "swapoff",
        "stops swapping to a device or file of the host (CAP_SYS_ADMIN)",
    ),
    (
        "swapon",
        "starts swapping to a device or file of the host (CAP_SYS_ADMIN)",
    ),
    (
        "syslog",
        "reads or clears the kernel log, which can expose kernel addresses (CAP_SYSLOG)",
    ),
    (
        "umount",
        "unmounts filesystems; can uncover paths the runtime masked, such as under /proc",
    ),
    (
        "umount2",
        "unmounts filesystems; can uncover paths the runtime masked, such as under /proc",
    ),
    (
        "unshare",
        "creates namespaces; a user namespace opens kernel code otherwise reserved to root",
    ),
    (
        "userfaultfd",
        "lets user space stall kernel page faults, which widens race windows kernel exploits use",
    ),
    (
        "vm86",
        "enters virtual 8086 mode (32-bit x86 only); a history of kernel bugs",
    ),
    (
        "vm86old",
        "enters virtual 8086 mode (32-bit x86 only); a history of kernel bugs",
    ),
];

/// Why allowing `name` widens the attack surface, if the table has a note for it.
pub fn note(name: &str) -> Option<&'static str> {
    NOTES
        .binary_search_by(|(known, _)| (*known).cmp(name))
        .ok()
        .map(|index| NOTES[index].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::is_known_name;

    #[test]
    fn every_name_is_known_to_libseccomp() {
        let unknown: Vec<&str> = NOTES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !is_known_name(name))
            .collect();
        assert!(unknown.is_empty(), "libseccomp does not know {unknown:?}");
    }

    #[test]
    fn table_is_sorted_unique_and_fits_markdown() {
        assert!(
            NOTES.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "sort NOTES by name"
        );
        for (name, text) in NOTES {
            assert!(
                !text.is_empty() && !text.contains('|') && !text.contains('\n'),
                "{name}"
            );
            assert!(text.len() < 120, "{name}: keep the note to one line");
        }
    }

    #[test]
    fn lookups() {
        assert!(note("ptrace").is_some_and(|text| text.contains("memory")));
        assert!(note("open_by_handle_at").is_some_and(|text| text.contains("Shocker")));
        assert!(note("clone3").is_some_and(|text| text.contains("cannot filter")));
        assert!(note("acct").is_some());
        assert!(note("vm86old").is_some());
        assert_eq!(note("read"), None);
        assert_eq!(note(""), None);
        assert_eq!(note("zzz"), None);
    }
}
