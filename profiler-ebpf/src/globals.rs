//! Every global userspace sets with `EbpfLoader::override_global` before load. Each symbol name is
//! the name `profiler_common::globals` documents and `tracer.rs` passes; most are byte offsets into
//! kernel structs read from the running kernel's BTF, because aya emits no CO-RE relocations
//! (design.md §9). This module only declares them; the modules that read them say why.

use aya_ebpf::Global;

#[unsafe(no_mangle)]
pub(crate) static TASK_PID_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static TASK_STATUS_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static COMPAT_STATUS_MASK: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static TASK_NSPROXY_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static NSPROXY_MNT_NS_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static MNT_NS_INUM_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static HOST_MNT_NS: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static CGROUP_KN_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static KERNFS_NODE_ID_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static CGROUP_ROOT_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static ROOT_HIERARCHY_ID_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static WATCH_FLAGS: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static BPRM_SECUREEXEC_BIT: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static TASK_REAL_CRED_OFFSET: Global<u32> = Global::new(0);

// runtimes (issue 11): read only at a successful filter install (`crate::runtime`).
#[unsafe(no_mangle)]
pub(crate) static TASK_ATOMIC_FLAGS_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static TASK_MM_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static MM_EXE_FILE_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static FILE_DENTRY_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static DENTRY_NAME_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static DENTRY_INODE_OFFSET: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static INODE_INO_OFFSET: Global<u32> = Global::new(0);
// --- engines (issue 10) ---
#[unsafe(no_mangle)]
pub(crate) static WATCH_MODE: Global<u32> = Global::new(0);
