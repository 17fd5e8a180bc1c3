//! Privileged: the kernel side arms a new cgroup2 child of a watched prefix inside `cgroup_mkdir`
//! (before any task can join it), ignores cgroup v1 hierarchies' directories of the same name, and
//! opens the exec gate only outside the host's mount namespace.

use std::{fs, path::PathBuf};

use seccomp_profiler::{cgroup, tracer};

struct Dirs(Vec<PathBuf>);

impl Drop for Dirs {
    fn drop(&mut self) {
        for dir in self.0.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

#[test]
fn cgroup_mkdir_arms_watched_cgroup2_children_only() {
    seccomp_profiler_tests::require_root();
    let prefix = format!("/sp-arm-{}/", std::process::id());
    let tracer = tracer::Tracer::load_with(&tracer::Options {
        watch_prefixes: vec![prefix.clone()],
        watch_flags: profiler_common::Target::GATE_ON_EXEC,
        ..Default::default()
    })
    .expect("load the eBPF programs");
    let root = cgroup::cgroup2_mount().expect("cgroup2 mount");
    let parent = root.join(prefix.trim_matches('/'));
    let child = parent.join("c1");
    let mut dirs = Dirs(vec![]);
    fs::create_dir(&parent).expect("mkdir parent");
    dirs.0.push(parent.clone());
    fs::create_dir(&child).expect("mkdir child");
    dirs.0.push(child.clone());

    // A cgroup v1 hierarchy (hybrid machines) with the same path must not be armed.
    let v1 = PathBuf::from("/sys/fs/cgroup/pids").join(prefix.trim_matches('/'));
    if fs::create_dir(&v1).is_ok() {
        dirs.0.push(v1.clone());
        if fs::create_dir(v1.join("c1")).is_ok() {
            dirs.0.push(v1.join("c1"));
        }
    }

    let parent_id = cgroup::cgroup_id(&parent).expect("parent id");
    let child_id = cgroup::cgroup_id(&child).expect("child id");
    let targets = tracer.targets().expect("read targets");
    let ids: Vec<u64> = targets.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        vec![child_id],
        "only the cgroup2 child is armed (parent {parent_id})"
    );
    let target = tracer.target_of(child_id).expect("lookup").expect("armed");
    assert_eq!(target.flags, profiler_common::Target::GATE_ON_EXEC);
    let path = tracer.slot_path(target.slot).expect("read slot path");
    assert_eq!(path.as_deref(), Some(format!("{prefix}c1").as_str()));
}

/// Every slot taken: `cgroup_mkdir` arms no more, and names each cgroup it could not arm; a
/// released slot is armed again, empty.
#[test]
fn cgroup_mkdir_names_what_it_cannot_arm_and_reuses_released_slots() {
    seccomp_profiler_tests::require_root();
    let prefix = format!("/sp-full-{}/", std::process::id());
    let mut tracer = tracer::Tracer::load_with(&tracer::Options {
        watch_prefixes: vec![prefix.clone()],
        watch_flags: profiler_common::Target::GATE_ON_EXEC,
        ..Default::default()
    })
    .expect("load the eBPF programs");
    let root = cgroup::cgroup2_mount().expect("cgroup2 mount");
    let parent = root.join(prefix.trim_matches('/'));
    let mut dirs = Dirs(vec![]);
    fs::create_dir(&parent).expect("mkdir parent");
    dirs.0.push(parent.clone());
    let slots = profiler_common::MAX_TARGETS as usize;
    for i in 0..slots + 6 {
        let child = parent.join(format!("c{i}"));
        fs::create_dir(&child).expect("mkdir child");
        dirs.0.push(child);
    }
    assert_eq!(
        tracer.targets().expect("targets").len(),
        slots,
        "every slot armed"
    );
    let missed = tracer.take_missed().expect("read missed");
    let expected: Vec<String> = (slots..slots + 6)
        .map(|i| format!("{prefix}c{i}"))
        .collect();
    assert_eq!(missed, expected, "each cgroup it could not arm, in order");
    assert!(
        tracer.take_missed().expect("read missed").is_empty(),
        "taken once"
    );

    // Give back the first child's slot; the next new cgroup gets it, with nothing recorded.
    let first = cgroup::cgroup_id(&parent.join("c0")).expect("id");
    let slot = tracer
        .target_of(first)
        .expect("lookup")
        .expect("armed")
        .slot;
    let recording = tracer.read(slot).expect("read");
    tracer.release(slot, &recording).expect("release");
    assert_eq!(tracer.target_of(first).expect("lookup"), None, "released");
    let again = parent.join("again");
    fs::create_dir(&again).expect("mkdir");
    dirs.0.push(again.clone());
    let id = cgroup::cgroup_id(&again).expect("id");
    let target = tracer
        .target_of(id)
        .expect("lookup")
        .expect("armed in the released slot");
    assert_eq!(target.slot, slot);
    assert_eq!(tracer.total(slot).expect("total"), 0);
    let path = tracer.slot_path(slot).expect("path");
    assert_eq!(path.as_deref(), Some(format!("{prefix}again").as_str()));
}
