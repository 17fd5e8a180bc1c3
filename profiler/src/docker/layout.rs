//! Where Docker's containers live and what they are called on disk: the cgroup v2 paths dockerd
//! gives a container (which new cgroups are containers, of every engine, is `crate::engines`), a process's
//! cgroup v2 path, and the file name a container's profile gets. Paths only; it never talks to
//! the daemon.

use std::{fs, io};

use super::ContainerInfo;

/// The two places dockerd puts a container in the cgroup v2 tree, relative to the cgroup2 mount:
/// `/docker/<id>` with the cgroupfs driver (this project's machines: hybrid hierarchy, cgroup2 at
/// /sys/fs/cgroup/unified) and `/system.slice/docker-<id>.scope` with the systemd driver. A
/// daemon started with `--cgroup-parent` puts it elsewhere; [`cgroup2_path_of_pid`] is the truth
/// once the container runs.
pub fn expected_cgroup2_paths(id: &str) -> [String; 2] {
    [
        format!("/docker/{id}"),
        format!("/system.slice/docker-{id}.scope"),
    ]
}

/// The cgroup v2 path of a process relative to the cgroup2 mount, from the "0::" line of
/// `/proc/<pid>/cgroup` (present on unified and hybrid hierarchies, whatever the cgroup driver).
/// Read from the host's cgroup namespace, as this tool runs.
pub fn cgroup2_path_of_pid(pid: u32) -> io::Result<String> {
    let file = format!("/proc/{pid}/cgroup");
    let text = fs::read_to_string(&file)?;
    parse_cgroup2_path(&text)
        .map(str::to_owned)
        .map_err(|why| io::Error::new(io::ErrorKind::NotFound, format!("{file}: {why}")))
}

fn parse_cgroup2_path(proc_cgroup: &str) -> Result<&str, &'static str> {
    let path = proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or("no cgroup v2 (\"0::\") line; is a cgroup2 filesystem mounted?")?;
    // The kernel appends " (deleted)" when the cgroup was removed (proc_cgroup_show).
    if path.ends_with(" (deleted)") {
        return Err("the process's cgroup v2 was removed (did the container just stop?)");
    }
    Ok(path)
}

/// The profile file name for a container: its compose service when labelled, else its name,
/// with every character outside `[A-Za-z0-9._-]` replaced by '_', plus ".json". Two compose
/// projects with the same service name (or a scaled service) map to the same name: callers that
/// record several containers must tell them apart.
pub fn profile_file_name(info: &ContainerInfo) -> String {
    format!(
        "{}.json",
        profile_stem(info.compose_service.as_deref(), &info.name, &info.id)
    )
}

/// The rule of [`profile_file_name`] without the extension, for whatever source named the
/// container (`docker inspect`, or the attributes of its events): its compose `service` when
/// labelled, else its `name`, else its short id.
pub fn profile_stem(service: Option<&str>, name: &str, id: &str) -> String {
    let base = service
        .filter(|service| !service.is_empty())
        .unwrap_or(name);
    let base = if base.is_empty() {
        id.get(..12).unwrap_or(id)
    } else {
        base
    };
    file_stem(base)
}

/// `name` with every character outside `[A-Za-z0-9._-]` replaced by '_': safe as a file name.
pub fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // "." and ".." would name directories, not files.
    if stem.trim_matches('.').is_empty() {
        stem.replace('.', "_")
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup2_path_from_hybrid_proc_file() {
        let id = "ead626c32b8e1e87e201b183b79adb4771c96686b64e638e9615b0d0849ad373";
        let text = format!(
            "12:rdma:/\n11:hugetlb:/docker/{id}\n10:perf_event:/docker/{id}\n\
             9:name=systemd:/docker/{id}\n8:pids:/docker/{id}\n7:blkio:/docker/{id}\n\
             6:freezer:/docker/{id}\n5:devices:/docker/{id}\n4:memory:/docker/{id}\n\
             3:cpuset:/docker/{id}\n2:cpu,cpuacct:/docker/{id}\n1:net_cls,net_prio:/\n\
             0::/docker/{id}\n"
        );
        assert_eq!(
            parse_cgroup2_path(&text).expect("a cgroup2 line"),
            format!("/docker/{id}")
        );
        assert_eq!(
            parse_cgroup2_path(&text).expect("a cgroup2 line"),
            expected_cgroup2_paths(id)[0]
        );
        assert_eq!(
            parse_cgroup2_path("0::/docker/abc").expect("a cgroup2 line"),
            "/docker/abc"
        );
        // Unified hierarchy, systemd driver.
        let systemd = format!("0::/system.slice/docker-{id}.scope\n");
        assert_eq!(
            parse_cgroup2_path(&systemd).expect("a cgroup2 line"),
            expected_cgroup2_paths(id)[1]
        );
        assert_eq!(parse_cgroup2_path("0::/\n").expect("a cgroup2 line"), "/");
        // v1 only, and a removed cgroup.
        assert!(parse_cgroup2_path("1:name=systemd:/docker/abc\n").is_err());
        assert!(parse_cgroup2_path("0::/docker/abc (deleted)\n").is_err());
    }

    #[test]
    fn cgroup2_path_of_this_process() {
        // Every process has a "0::" line when a cgroup2 hierarchy exists (this project's machines).
        let path =
            cgroup2_path_of_pid(std::process::id()).expect("this process has a cgroup2 path");
        assert!(path.starts_with('/'), "{path}");
    }
}
