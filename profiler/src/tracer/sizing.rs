//! How big each eBPF map is made at load (issue 13): for the number of targets a recording will
//! follow at once (`Options::capacity`), not for the most any recording could. A one-command
//! recording holds well under 1 MiB of kernel memory; one sized for 64 targets (`--containers`,
//! `watch`, a host-wide tracer) holds what every recording did before (about 6 MiB, mostly
//! COUNTS and FIRST_COMM, which are per-CPU and per syscall number).
//!
//! Maps not named here keep the size `profiler-ebpf/src/maps.rs` declares: TARGETS (a few KiB,
//! and `record --cgroup` may arm many cgroups into one slot), STATS, WATCH_PREFIXES, and the hash
//! maps created without pre-allocation (MARKED_TGIDS, PENDING, DENIALS), whose memory follows
//! their entries but for the bucket array (16 bytes per entry of room).

use profiler_common::{
    CAP_BUCKETS, CAP_SLOTS, MARK_FILTER_CHUNK, MARK_FILTER_MAX_CHUNKS, MAX_TARGETS, MISSED_MAX,
    NR_SLOTS, TABLES, maps,
};

/// Room in MARKS (live marked threads) per target, and for all targets together (what a
/// 64-target recorder always had). MARKS is not pre-allocated: the room costs 16 bytes of bucket
/// per entry, the entries themselves only while their threads live. A full MARKS is counted
/// (`stats::MARK_FAILED`) and the recording said to be incomplete.
const MARKS_PER_TARGET: u32 = 1 << 14;
const MARKS_MAX: u32 = 1 << 16;

/// aya-log's ring buffer without `-v`: the log level is off, nothing is ever written to it, and a
/// ring buffer cannot be smaller than a page (it stays 128 KiB with `-v`).
fn quiet_log_bytes() -> u32 {
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(page).ok().filter(|&p| p > 0).unwrap_or(4096)
}

/// Entries of MARK_FILTER for the kernel's pid_max (every tid it can hand out), at most
/// [`MARK_FILTER_MAX_CHUNKS`]; tids beyond them are looked up in MARKS as before. pid_max can be
/// raised later: the filter then covers the tids it was sized for.
fn mark_filter_chunks(pid_max: Option<u32>) -> u32 {
    let tids = pid_max.unwrap_or(u32::MAX);
    tids.div_ceil(MARK_FILTER_CHUNK as u32)
        .clamp(1, MARK_FILTER_MAX_CHUNKS)
}

fn pid_max() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The targets a recorder can follow: at least one, at most [`MAX_TARGETS`].
pub fn clamp_capacity(capacity: u32) -> u32 {
    capacity.clamp(1, MAX_TARGETS)
}

/// `(map, max_entries)` for a recorder following up to `capacity` targets at once. `watching`:
/// new cgroups are armed at `cgroup_mkdir` (then MISSED can name those it could not arm).
pub fn max_entries(capacity: u32, watching: bool, verbose: bool) -> Vec<(&'static str, u32)> {
    let slots = clamp_capacity(capacity);
    let tables = slots * TABLES;
    let mut sizes = vec![
        (maps::MARKS, (slots * MARKS_PER_TARGET).min(MARKS_MAX)),
        (maps::COUNTS, tables),
        (maps::RUNTIME_PHASE_SEEN, tables),
        (maps::FIRST_COMM, tables * NR_SLOTS as u32),
        (maps::SLOT_FLAGS, slots),
        (maps::INSTALLER, slots),
        (maps::SLOT_PATHS, slots),
        (maps::ARG_VALUES, slots),
        (maps::FREE_SLOTS, slots),
        (maps::CAP_COUNTS, slots * CAP_BUCKETS),
        (maps::CAP_FIRST, slots * CAP_SLOTS as u32),
        (maps::MISSED, if watching { MISSED_MAX } else { 1 }),
        (maps::MARK_FILTER, mark_filter_chunks(pid_max())),
    ];
    if !verbose {
        sizes.push((maps::AYA_LOGS, quiet_log_bytes()));
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(sizes: &[(&str, u32)], map: &str) -> u32 {
        sizes.iter().find(|(name, _)| *name == map).expect(map).1
    }

    #[test]
    fn one_target_pays_for_one() {
        let one = max_entries(1, false, false);
        assert_eq!(size(&one, maps::COUNTS), TABLES);
        assert_eq!(size(&one, maps::FIRST_COMM), TABLES * NR_SLOTS as u32);
        assert_eq!(size(&one, maps::FREE_SLOTS), 1);
        assert_eq!(size(&one, maps::MISSED), 1);
        assert_eq!(size(&one, maps::MARKS), MARKS_PER_TARGET);
        let all = max_entries(MAX_TARGETS, true, true);
        assert_eq!(size(&all, maps::COUNTS), MAX_TARGETS * TABLES);
        assert_eq!(size(&all, maps::CAP_FIRST), MAX_TARGETS * CAP_SLOTS as u32);
        assert_eq!(size(&all, maps::MARKS), MARKS_MAX);
        assert_eq!(size(&all, maps::MISSED), MISSED_MAX);
        assert!(all.iter().all(|(name, _)| *name != maps::AYA_LOGS));
    }

    #[test]
    fn mark_filter_covers_pid_max_up_to_its_cap() {
        assert_eq!(
            mark_filter_chunks(Some(32768)),
            8,
            "the default pid_max: 32 KiB"
        );
        assert_eq!(
            mark_filter_chunks(Some(32769)),
            9,
            "a partial page still needs one"
        );
        assert_eq!(mark_filter_chunks(Some(1)), 1);
        assert_eq!(mark_filter_chunks(Some(4_194_304)), MARK_FILTER_MAX_CHUNKS);
        assert_eq!(mark_filter_chunks(None), MARK_FILTER_MAX_CHUNKS);
    }

    #[test]
    fn capacity_is_clamped() {
        assert_eq!(clamp_capacity(0), 1);
        assert_eq!(clamp_capacity(1000), MAX_TARGETS);
        assert_eq!(max_entries(0, false, false), max_entries(1, false, false));
    }
}
