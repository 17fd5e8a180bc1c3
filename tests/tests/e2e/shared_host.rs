//! One set of programs per host (issue 13, README "Cost"): concurrent `record -- CMD` share one
//! host tracer's programs and each recording stays exactly its own workload's; a recorder killed
//! with SIGKILL has its cgroup disarmed at once, and once the last is gone nothing of ours stays
//! attached; a host tracer that dies fails its recordings with exit 4 and detaches everything;
//! the host tracer lives in a cgroup of its own, so the end of the first recorder's does not end it.
//!
//! What is attached is read from the kernel's own account, `/proc/PID/fdinfo` of every process
//! running the binary under test (a raw tracepoint link names its `tp_name`), and TARGETS is read
//! through the host's map ids: no process's word is taken for it.

use std::{
    collections::BTreeSet,
    ffi::OsString,
    fs,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    time::Duration,
};

use seccomp_profiler_tests::{RecordPaths, Report, Running, profiler, spawn, workload};

use crate::support::{TIMEOUT, ground_truth, tempdir, wait_for};

/// The markers `marker` can loop on: one recording each.
const MARKERS: [&str; 6] = [
    "sysinfo",
    "times",
    "getpriority",
    "getsid",
    "getpgid",
    "sched_getscheduler",
];

/// How long the host tracer may take to notice and act (its linger is 1 s).
const SETTLE: Duration = Duration::from_secs(4);

/// Processes running the binary under test, by `/proc/PID/exe`.
fn ours() -> Vec<u32> {
    let exe = fs::canonicalize(profiler()).expect("canonical path of the profiler");
    fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|path| path == exe))
        .collect()
}

fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// Our host tracers (the hidden subcommand).
fn host_tracers() -> Vec<u32> {
    ours()
        .into_iter()
        .filter(|&pid| cmdline(pid).contains("__host-tracer"))
        .collect()
}

/// Every fdinfo text of a process (fds closed meanwhile are skipped).
fn fdinfos(pid: u32) -> Vec<String> {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| fs::read_to_string(entry.path()).ok())
        .collect()
}

fn field<'a>(fdinfo: &'a str, key: &str) -> Option<&'a str> {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .map(str::trim)
}

/// Raw tracepoint links a process holds on `tracepoint`.
fn links_on(pid: u32, tracepoint: &str) -> usize {
    fdinfos(pid)
        .iter()
        .filter(|info| field(info, "link_type:") == Some("raw_tracepoint"))
        .filter(|info| field(info, "tp_name:") == Some(tracepoint))
        .count()
}

/// eBPF programs and links a process holds, of any kind.
fn programs_and_links(pid: u32) -> usize {
    fdinfos(pid)
        .iter()
        .filter(|info| field(info, "prog_type:").is_some() || field(info, "link_type:").is_some())
        .count()
}

/// Links on `sys_enter` held by every process of ours: (pid, count) for each that holds any.
fn sys_enter_holders() -> Vec<(u32, usize)> {
    ours()
        .into_iter()
        .map(|pid| (pid, links_on(pid, "sys_enter")))
        .filter(|(_, links)| *links > 0)
        .collect()
}

/// The cgroup ids armed in the host tracer's TARGETS map, read through the map ids its fdinfo
/// names.
fn armed(host: u32) -> BTreeSet<u64> {
    use aya::maps::{HashMap, Map, MapData, MapInfo};
    let ids: BTreeSet<u32> = fdinfos(host)
        .iter()
        .filter_map(|info| field(info, "map_id:")?.parse().ok())
        .collect();
    let id = ids
        .into_iter()
        .find(|&id| {
            MapInfo::from_id(id)
                .is_ok_and(|info| info.name_as_str() == Some(profiler_common::maps::TARGETS))
        })
        .unwrap_or_else(|| panic!("host tracer {host} holds no TARGETS map"));
    let map = Map::from_map_data(MapData::from_id(id).expect("open TARGETS by id"))
        .expect("TARGETS is a map");
    let targets: HashMap<_, u64, profiler_common::Target> =
        HashMap::try_from(map).expect("TARGETS is a hash map of cgroup ids");
    targets
        .keys()
        .map(|key| key.expect("a TARGETS key"))
        .collect()
}

/// The cgroup `record -- CMD` with this pid made, once CMD runs in it.
fn command_cgroup(recorder: u32) -> Option<PathBuf> {
    // `seccomp-profiler-<pid>-pidns<inode>-cmd` (crate::cgroup).
    let prefix = format!("seccomp-profiler-{recorder}-");
    let dir = fs::read_dir(seccomp_profiler::cgroup::cgroup2_mount().expect("a cgroup2 mount"))
        .expect("read the cgroup2 root")
        .flatten()
        .find(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix) && name.ends_with("-cmd")
        })?
        .path();
    let procs = fs::read_to_string(dir.join("cgroup.procs")).ok()?;
    (!procs.trim().is_empty()).then_some(dir)
}

/// No host tracer of ours and nothing of ours attached, within [`SETTLE`].
fn assert_all_detached(why: &str) {
    wait_for(why, SETTLE, || {
        host_tracers().is_empty() && sys_enter_holders().is_empty()
    });
    for pid in ours() {
        assert_eq!(
            programs_and_links(pid),
            0,
            "{why}: pid {pid} ({}) still holds programs or links",
            cmdline(pid)
        );
    }
}

/// `record -- marker --syscall SYSCALL --millis MILLIS` into `DIR/SYSCALL.json`, started.
fn record_marker(dir: &Path, syscall: &str, millis: u32) -> (RecordPaths, Running) {
    let (paths, mut command) = marker_command(dir, syscall, millis);
    (paths, spawn(&mut command))
}

fn marker_command(dir: &Path, syscall: &str, millis: u32) -> (RecordPaths, std::process::Command) {
    let paths = RecordPaths::new(dir, syscall);
    let cmd: [OsString; 5] = [
        workload("marker").into(),
        "--syscall".into(),
        syscall.into(),
        "--millis".into(),
        millis.to_string().into(),
    ];
    let command = paths.command(&[], &cmd);
    (paths, command)
}

fn kill(pid: u32) {
    // SAFETY: kill(2) on a pid this test looked up; it touches no memory.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}

/// Kills what a SIGKILLed recorder left in its cgroup and removes the cgroup.
fn clean_up(cgroup: &Path) {
    let _ = fs::write(cgroup.join("cgroup.kill"), "1");
    wait_for("the cgroup to empty", TIMEOUT, || {
        fs::read_to_string(cgroup.join("cgroup.procs")).map_or(true, |p| p.trim().is_empty())
    });
    let _ = fs::remove_dir(cgroup);
}

/// A SIGKILLed recorder: its marker, still running in `cgroup` and holding the recorder's output
/// pipes, goes first; then the recorder is reaped.
fn reap_killed(recorder: Running, cgroup: &Path) {
    clean_up(cgroup);
    let killed = recorder.wait(TIMEOUT);
    assert_eq!(killed.status.code(), None, "{killed}");
}

/// The recording ends with 0 and saw exactly its own marker, every call of it.
fn assert_only_its_marker(paths: &RecordPaths, recorder: Running, marker: &'static str) {
    let output = recorder.wait(TIMEOUT);
    output.assert_code(0);
    assert_eq!(
        markers_seen(&paths.report()),
        vec![(marker, output.stdout_value("calls"))],
        "{output}"
    );
}

/// The marker syscalls a recording saw, with their counts.
fn markers_seen(report: &Report) -> Vec<(&'static str, u64)> {
    MARKERS
        .iter()
        .map(|&name| (name, report.count(name)))
        .filter(|(_, count)| *count > 0)
        .collect()
}

#[test]
fn eight_concurrent_recordings_share_one_set_and_each_is_exactly_its_own() {
    assert_all_detached("a host tracer left by an earlier test to exit");
    let dir = tempdir();
    // The reference: ground-truth's syscall set recorded alone, with a private set of programs.
    let reference = RecordPaths::new(dir.path(), "reference");
    let output = seccomp_profiler_tests::run(
        reference
            .command(&[], &[ground_truth()])
            .env("SECCOMP_PROFILER_SHARED", "0"),
        TIMEOUT,
    );
    output.assert_code(0);
    let expected = reference.report().seen();

    let markers: Vec<_> = MARKERS
        .iter()
        .map(|syscall| record_marker(dir.path(), syscall, 3000))
        .collect();
    wait_for("six markers running under their recorders", TIMEOUT, || {
        markers
            .iter()
            .all(|(_, running)| command_cgroup(running.pid()).is_some())
    });
    // Six recordings at once: one host tracer holds the only sys_enter link of ours, and no
    // recorder holds a program or a link (only the maps it was sent).
    let hosts = host_tracers();
    assert_eq!(hosts.len(), 1, "host tracers: {hosts:?}");
    assert_eq!(sys_enter_holders(), vec![(hosts[0], 1)]);
    for (_, running) in &markers {
        assert_eq!(
            programs_and_links(running.pid()),
            0,
            "recorder {} attached programs of its own",
            running.pid()
        );
    }
    assert_eq!(armed(hosts[0]).len(), MARKERS.len());

    // Two more, alongside: ground-truth twice, concurrently.
    let truths: Vec<_> = ["truth-1", "truth-2"]
        .iter()
        .map(|name| {
            let paths = RecordPaths::new(dir.path(), name);
            let running = spawn(&mut paths.command(&[], &[ground_truth()]));
            (paths, running)
        })
        .collect();
    for (paths, running) in truths {
        running.wait(TIMEOUT).assert_code(0);
        let report = paths.report();
        assert_eq!(report.seen(), expected, "ground-truth, shared vs. private");
        // Each marker syscall exactly once, as ground-truth makes it: none of the markers' loops.
        let once: Vec<_> = markers_seen(&report);
        assert_eq!(
            once,
            MARKERS.iter().map(|&name| (name, 1)).collect::<Vec<_>>(),
            "ground-truth's markers"
        );
    }
    for (paths, running) in markers {
        let output = running.wait(TIMEOUT);
        output.assert_code(0);
        let report = paths.report();
        let own = paths
            .profile
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("named after its syscall")
            .to_owned();
        assert_eq!(
            markers_seen(&report),
            vec![(
                MARKERS
                    .iter()
                    .find(|&&m| m == own)
                    .copied()
                    .expect("a marker"),
                output.stdout_value("calls")
            )],
            "only its own marker, every call of it\n{output}"
        );
    }
    assert_all_detached("the host tracer to detach after the last recording");
}

#[test]
fn a_killed_recorder_is_disarmed_and_the_last_one_leaves_nothing_attached() {
    assert_all_detached("a host tracer left by an earlier test to exit");
    let dir = tempdir();
    let (_, doomed) = record_marker(dir.path(), "sysinfo", 20_000);
    let (paths, survivor) = record_marker(dir.path(), "times", 5000);
    wait_for("both markers running", TIMEOUT, || {
        command_cgroup(doomed.pid()).is_some() && command_cgroup(survivor.pid()).is_some()
    });
    let cgroup = command_cgroup(doomed.pid()).expect("the doomed recorder's cgroup");
    let id = fs::metadata(&cgroup).expect("stat the cgroup").ino();
    let host = host_tracers()[0];
    assert!(armed(host).contains(&id), "cgroup {id} is not armed");

    kill(doomed.pid());
    // Within a second: the host sees the connection close at once.
    wait_for(
        "the killed recorder's cgroup to be disarmed",
        Duration::from_secs(1),
        || !armed(host).contains(&id),
    );
    // Its marker still runs (nobody was left to stop it), unrecorded; it holds the recorder's
    // output pipes, so it goes before the recorder is waited for.
    assert!(
        fs::read_to_string(cgroup.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty()),
        "the killed recorder's workload is gone"
    );
    reap_killed(doomed, &cgroup);
    assert_only_its_marker(&paths, survivor, "times");

    // The last recorder killed: the host tracer sees its connection close, lingers, detaches.
    let (_, last) = record_marker(dir.path(), "getsid", 20_000);
    wait_for("the last marker running", TIMEOUT, || {
        command_cgroup(last.pid()).is_some()
    });
    let cgroup = command_cgroup(last.pid()).expect("the last recorder's cgroup");
    assert_eq!(sys_enter_holders().len(), 1);
    kill(last.pid());
    assert_all_detached("nothing attached once the last recorder was killed");
    clean_up(&cgroup);
    last.wait(TIMEOUT);
}

/// The cgroup v2 path of a process, from the `0::` line of `/proc/PID/cgroup`.
fn cgroup_of(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .unwrap_or_default()
        .to_owned()
}

/// A CI job that started the first recorder ends, and its cgroup is killed (`cgroup.kill`, as
/// systemd or a runner does): the host tracer that recorder started lives in a cgroup of its own,
/// so a second job's recording goes on and is exact. Before, the host lived in the first job's
/// cgroup, died with it, and the second recording failed with exit 4.
#[test]
fn the_first_recorders_cgroup_ending_leaves_the_host_tracer_running() {
    use std::os::unix::{io::AsRawFd as _, process::CommandExt as _};

    assert_all_detached("a host tracer left by an earlier test to exit");
    let dir = tempdir();
    let root = seccomp_profiler::cgroup::cgroup2_mount().expect("a cgroup2 mount");
    let job = root.join(format!("sp-e2e-job-{}", std::process::id()));
    fs::create_dir(&job).expect("create the job's cgroup");
    let procs = fs::OpenOptions::new()
        .write(true)
        .open(job.join("cgroup.procs"))
        .expect("open the job's cgroup.procs");
    let procs_fd = procs.as_raw_fd();
    let (_, mut command) = marker_command(dir.path(), "sysinfo", 20_000);
    // SAFETY: one write(2) of a static buffer to an fd opened before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::write(procs_fd, b"0".as_ptr().cast(), 1) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let first = spawn(&mut command);
    drop(procs);
    wait_for("the first job's marker running", TIMEOUT, || {
        command_cgroup(first.pid()).is_some()
    });
    let first_cmd = command_cgroup(first.pid()).expect("the first recorder's cgroup");
    let hosts = host_tracers();
    assert_eq!(hosts.len(), 1, "host tracers: {hosts:?}");
    let host_cgroup = cgroup_of(hosts[0]);
    let job_name = job.file_name().and_then(|n| n.to_str()).expect("job name");
    assert!(
        cgroup_of(first.pid()).ends_with(job_name),
        "the first recorder is not in the job's cgroup: {}",
        cgroup_of(first.pid())
    );
    assert!(
        host_cgroup.starts_with(&format!("/seccomp-profiler-{}-", hosts[0]))
            && host_cgroup.ends_with("-host"),
        "the host tracer's cgroup: {host_cgroup}"
    );

    let (paths, survivor) = record_marker(dir.path(), "times", 4000);
    wait_for("the second job's marker running", TIMEOUT, || {
        command_cgroup(survivor.pid()).is_some()
    });
    clean_up(&job);
    assert_eq!(
        host_tracers(),
        hosts,
        "the host tracer died with the first job"
    );
    reap_killed(first, &first_cmd);
    assert_only_its_marker(&paths, survivor, "times");
    assert_all_detached("the host tracer to detach after the last recording");
    assert!(
        !root.join(host_cgroup.trim_start_matches('/')).exists(),
        "the host tracer left its cgroup {host_cgroup} behind"
    );
}

#[test]
fn a_lost_host_tracer_fails_the_recording_with_exit_4() {
    assert_all_detached("a host tracer left by an earlier test to exit");
    let dir = tempdir();
    let (paths, running) = record_marker(dir.path(), "getpgid", 20_000);
    wait_for("the marker running", TIMEOUT, || {
        command_cgroup(running.pid()).is_some()
    });
    let cgroup = command_cgroup(running.pid()).expect("the recorder's cgroup");
    let hosts = host_tracers();
    assert_eq!(hosts.len(), 1, "host tracers: {hosts:?}");
    kill(hosts[0]);
    let output = running.wait(TIMEOUT);
    output.assert_code(4);
    assert!(
        output.stderr.contains("host tracer")
            && output.stderr.contains("has exited")
            && output.stderr.contains("SECCOMP_PROFILER_SHARED=0"),
        "{output}"
    );
    assert!(
        output.elapsed < Duration::from_secs(5),
        "noticed late\n{output}"
    );
    assert!(!paths.profile.exists(), "a profile was written\n{output}");
    // The recorder stopped its workload and removed its cgroup on the way out.
    assert!(!cgroup.exists(), "the workload was left running\n{output}");
    assert_all_detached("nothing attached once the host tracer was killed");
}

#[test]
fn shared_0_loads_a_private_set() {
    assert_all_detached("a host tracer left by an earlier test to exit");
    let dir = tempdir();
    let (paths, mut command) = marker_command(dir.path(), "times", 1000);
    let running = spawn(command.env("SECCOMP_PROFILER_SHARED", "0"));
    wait_for("the marker running", TIMEOUT, || {
        command_cgroup(running.pid()).is_some()
    });
    assert!(host_tracers().is_empty(), "a host tracer was started");
    assert_eq!(sys_enter_holders(), vec![(running.pid(), 1)]);
    assert_only_its_marker(&paths, running, "times");
}
