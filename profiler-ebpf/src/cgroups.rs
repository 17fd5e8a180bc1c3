//! Cgroup arming: the `cgroup_mkdir` program makes a new cgroup2 child of a watched prefix (e.g.
//! `/docker/<id>`) a target the moment it is created, so a container is recorded from its first
//! syscall. It owns WATCH_PREFIXES, FREE_SLOTS, SLOT_PATHS and MISSED, and is the only kernel-side writer
//! of TARGETS. It does not arm cgroups that already exist, never disarms one (userspace registers
//! and removes targets), and does not tell a container's cgroup from any other child of the prefix
//! (userspace checks what an armed path is).

use aya_ebpf::{
    helpers::{bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use aya_log_ebpf::debug;
use profiler_common::{CGROUP_PATH_MAX, Target, WATCH_PREFIX_MAX, WATCH_PREFIX_SLOTS, stats};

use crate::{
    globals::{
        CGROUP_KN_OFFSET, CGROUP_ROOT_OFFSET, KERNFS_NODE_ID_OFFSET, ROOT_HIERARCHY_ID_OFFSET,
        WATCH_FLAGS,
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
        let mut prefix_buf = [0u8; WATCH_PREFIX_MAX + 4];
        let start = bpf_probe_read_kernel_str_bytes(path, &mut prefix_buf).ok()?;
        if !watched(start) {
            return None;
        }
        let kn: *const u8 =
            bpf_probe_read_kernel(cgrp.add(CGROUP_KN_OFFSET.load() as usize) as *const *const u8)
                .ok()?;
        let id: u64 =
            bpf_probe_read_kernel(kn.add(KERNFS_NODE_ID_OFFSET.load() as usize) as *const u64)
                .ok()?;
        let Ok(Some(slot)) = FREE_SLOTS.pop() else {
            bump(stats::SLOTS_EXHAUSTED);
            // Say which: userspace names every container it could not record.
            let mut missed = [0u8; CGROUP_PATH_MAX];
            if bpf_probe_read_kernel_str_bytes(path, &mut missed).is_ok() {
                let _ = MISSED.push(&missed, 0);
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
