//! The kernel memory the recorder's eBPF maps hold (issue 13): the sum of `memlock:` over this
//! process's map file descriptors in `/proc/self/fdinfo`, written to the report as
//! `run.kernel_map_bytes`. Since Linux 6.4 `memlock` is each map's own memory-usage estimate
//! (pre-allocated hash entries included); older kernels report a page-rounded size.

use std::fs;

/// Bytes of kernel memory held by this process's eBPF maps; None when /proc cannot be read.
pub fn map_bytes() -> Option<u64> {
    let mut total = 0;
    for entry in fs::read_dir("/proc/self/fdinfo").ok()?.flatten() {
        // An fd closed since the listing is simply gone: skip it.
        if let Ok(text) = fs::read_to_string(entry.path()) {
            total += map_memlock(&text).unwrap_or(0);
        }
    }
    Some(total)
}

/// `memlock:` of one fdinfo text, when it describes an eBPF map (it has `map_type:`).
fn map_memlock(fdinfo: &str) -> Option<u64> {
    fdinfo.lines().find(|line| line.starts_with("map_type:"))?;
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("memlock:"))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_maps_only() {
        let map = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nmap_type:\t1\n\
                   key_size:\t8\nvalue_size:\t4\nmax_entries:\t65536\nmap_flags:\t0x0\n\
                   map_extra:\t0x0\nmemlock:\t5243904\nmap_id:\t12\nfrozen:\t0\n";
        assert_eq!(map_memlock(map), Some(5_243_904));
        let prog = "pos:\t0\nflags:\t02000002\nprog_type:\t5\nprog_jited:\t1\nmemlock:\t4096\n";
        assert_eq!(map_memlock(prog), None);
        assert_eq!(map_memlock("pos:\t0\nflags:\t02\n"), None);
    }

    #[test]
    fn reads_this_process() {
        // No maps open in the unit-test process: the sum is there and zero.
        assert_eq!(map_bytes(), Some(0));
    }
}
