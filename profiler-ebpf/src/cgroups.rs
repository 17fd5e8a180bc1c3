//! Cgroup arming: the `cgroup_mkdir` program makes a new cgroup2 directory a target the moment it
//! is created, so a container is recorded from its first syscall. Armed are: a child of a watched
//! prefix (WATCH_PREFIXES), and with `WATCH_MODE` a cgroup whose last path component has a
//! container's shape (any engine, any parent: design.md §17) or one a container runtime (runc,
//! crun) makes itself. It owns WATCH_PREFIXES, FREE_SLOTS, SLOT_PATHS and MISSED, and is the only
//! kernel-side writer of TARGETS. It does not arm cgroups that already exist, never disarms one
//! (userspace registers and removes targets, and releases what turns out not to be a container:
//! a runtime's parent directories, a filtered-out container), and never names an engine.
use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use aya_log_ebpf::debug;
use profiler_common::{
    CGROUP_PATH_MAX, Target, WATCH_PREFIX_MAX, WATCH_PREFIX_SLOTS, WATCH_RUNTIME_MKDIR,
    WATCH_SHAPES, stats,
};

use crate::{
    globals::{
        CGROUP_KN_OFFSET, CGROUP_ROOT_OFFSET, KERNFS_NODE_ID_OFFSET, ROOT_HIERARCHY_ID_OFFSET,
        WATCH_FLAGS, WATCH_MODE,
    },
    maps::{FREE_SLOTS, MISSED, SLOT_PATHS, TARGETS, WATCH_PREFIXES},
    stats::bump,
};

/// `cgroup:cgroup_mkdir`, TP_PROTO(struct cgroup *cgrp, const char *path): `arg(0)` is the new
/// cgroup (its hierarchy and kernfs id are read at the offsets in [`crate::globals`]), `arg(1)`
/// its path relative to the hierarchy's root. Linux ≥ 4.17 (raw tracepoints); this two-argument
/// layout is the one in this machine's 6.18 BTF (`btf_trace_cgroup_mkdir`). Fired from
/// cgroup_mkdir() in <https://elixir.bootlin.com/linux/v6.18/source/kernel/cgroup/cgroup.c>;
/// <https://elixir.bootlin.com/linux/v6.18/source/include/trace/events/cgroup.h>
///
/// Runs inside the runtime's mkdir, before any task can join the new cgroup: a cgroup2 child of a
/// watched prefix (e.g. `/docker/<id>`) becomes a target here, so a container is recorded from its
/// first syscall with no race against its entrypoint. Fires for cgroup v1 hierarchies too; only the
/// default (v2) hierarchy, id 0 as in /proc/<pid>/cgroup's "0::" line, is taken.
#[raw_tracepoint(tracepoint = "cgroup_mkdir")]
pub fn cgroup_mkdir(ctx: RawTracePointContext) -> i32 {
    let _ = try_cgroup_mkdir(&ctx);
    0
}

#[inline(always)]
fn try_cgroup_mkdir(ctx: &RawTracePointContext) -> Option<()> {
    let cgrp: *const u8 = ctx.arg(0);
    let path: *const u8 = ctx.arg(1);
    // SAFETY: checked kernel reads from the tracepoint's cgroup and path pointers.
    unsafe {
        let root: *const u8 =
            bpf_probe_read_kernel(cgrp.add(CGROUP_ROOT_OFFSET.load() as usize) as *const *const u8)
                .ok()?;
        let hierarchy: i32 =
            bpf_probe_read_kernel(root.add(ROOT_HIERARCHY_ID_OFFSET.load() as usize) as *const i32)
                .ok()?;
        if hierarchy != 0 {
            return None;
        }
        let mut path_buf = [0u8; CGROUP_PATH_MAX];
        let full = bpf_probe_read_kernel_str_bytes(path, &mut path_buf).ok()?;
        let mode = WATCH_MODE.load();
        let armed = watched(full)
            || (mode & WATCH_SHAPES != 0 && container_shaped(full))
            || (mode & WATCH_RUNTIME_MKDIR != 0 && by_runtime());
        if !armed {
            return None;
        }
        let len = full.len();
        let kn: *const u8 =
            bpf_probe_read_kernel(cgrp.add(CGROUP_KN_OFFSET.load() as usize) as *const *const u8)
                .ok()?;
        let id: u64 =
            bpf_probe_read_kernel(kn.add(KERNFS_NODE_ID_OFFSET.load() as usize) as *const u64)
                .ok()?;
        let Ok(Some(slot)) = FREE_SLOTS.pop() else {
            bump(stats::SLOTS_EXHAUSTED);
            // Say which: userspace names every container it could not record.
            if len > 0 {
                let _ = MISSED.push(&path_buf, 0);
            }
            return None;
        };
        if let Some(entry) = SLOT_PATHS.get_ptr_mut(slot) {
            // Zero-filled by the helper past the string's end (bpf_probe_read_kernel_str pads).
            let _ = bpf_probe_read_kernel_str_bytes(path, &mut *entry);
        }
        let target = Target {
            slot,
            flags: WATCH_FLAGS.load(),
        };
        if TARGETS.insert(&id, &target, 0).is_err() {
            bump(stats::SLOTS_EXHAUSTED);
            return None;
        }
        debug!(ctx, "armed cgroup id {} as target slot {}", id, slot);
    }
    Some(())
}

/// Whether `path` starts with one of the watched prefixes (and has something after it).
#[inline(always)]
fn watched(path: &[u8]) -> bool {
    for index in 0..WATCH_PREFIX_SLOTS {
        let Some(prefix) = WATCH_PREFIXES.get(index) else {
            continue;
        };
        let len = prefix.len as usize;
        if len == 0 || len > WATCH_PREFIX_MAX || path.len() <= len {
            continue;
        }
        let mut matches = true;
        for i in 0..WATCH_PREFIX_MAX {
            if i >= len {
                break;
            }
            if path.get(i) != prefix.bytes.get(i) {
                matches = false;
                break;
            }
        }
        if matches {
            return true;
        }
    }
    false
}

/// Id prefixes of the last path component of a container's cgroup (design.md §17): Docker and
/// Podman under the systemd driver and Podman under cgroupfs, containerd's CRI plugin and CRI-O
/// under either driver. A bare 64-hex id is Docker's, CRI's and CRI-O's cgroupfs shape.
const ID_PREFIXES: [&[u8]; 4] = [b"docker-", b"libpod-", b"cri-containerd-", b"crio-"];
const SCOPE: &[u8] = b".scope";
const ID_LEN: usize = 64;

/// Whether the last component of `path` is `[prefix]<64 hex>[.scope]`. Read from the end (the
/// id's position is fixed relative to the end), so the verifier walks a few short fixed loops
/// instead of one per possible length. Runs only inside `cgroup_mkdir` (a few per container
/// start), never on the syscall path.
#[inline(always)]
fn container_shaped(path: &[u8]) -> bool {
    let len = path.len();
    if len > CGROUP_PATH_MAX || len < ID_LEN + 1 {
        return false;
    }
    let mut end = len;
    if bytes_at(path, len - SCOPE.len(), SCOPE) {
        end = len - SCOPE.len();
    }
    if end < ID_LEN + 1 {
        return false;
    }
    let id_start = end - ID_LEN;
    for k in 0..ID_LEN {
        match path.get(id_start + k) {
            Some(b) if b.is_ascii_digit() || (b'a'..=b'f').contains(b) => {}
            _ => return false,
        }
    }
    if path.get(id_start - 1) == Some(&b'/') {
        return true;
    }
    for prefix in ID_PREFIXES {
        let plen = prefix.len();
        if id_start > plen
            && bytes_at(path, id_start - plen, prefix)
            && path.get(id_start - plen - 1) == Some(&b'/')
        {
            return true;
        }
    }
    false
}

/// Whether `path[at..]` starts with `expected`.
#[inline(always)]
fn bytes_at(path: &[u8], at: usize, expected: &[u8]) -> bool {
    for (k, byte) in expected.iter().enumerate() {
        if path.get(at + k) != Some(byte) {
            return false;
        }
    }
    true
}

/// Whether the task making the cgroup is a container runtime: runc makes a container's cgroup
/// (and its missing parents) itself in `runc create` (comm `runc`; libcontainer's cgroup manager
/// `Apply`), crun in `crun create`. Under the systemd driver systemd makes the scope instead, and
/// the scope has a container's shape.
#[inline(always)]
fn by_runtime() -> bool {
    let Ok(comm) = bpf_get_current_comm() else {
        return false;
    };
    let runtime = |name: &[u8]| bytes_at(&comm, 0, name) && comm.get(name.len()) == Some(&0);
    runtime(b"runc") || runtime(b"crun")
}
