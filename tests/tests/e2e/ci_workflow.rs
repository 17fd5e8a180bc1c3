//! Privileged: the CI footprint gate on real recordings. `check` passes the unchanged workload and
//! fails (exit 1, naming the syscall) on a variant that makes one more; `--update` accepts it;
//! `diff` and `merge` work on recorded profiles and reports; every command refuses malformed input
//! with exit 2 and writes nothing.

use std::{
    collections::BTreeSet,
    ffi::OsStr,
    path::{Path, PathBuf},
};

use seccomp_profiler_tests::{Output, Profile, RecordPaths, profiler_command, record, run};
use serde_json::Value;

use crate::support::{TIMEOUT, ground_truth, tempdir};

fn profiler<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(&mut profiler_command(args), TIMEOUT)
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

/// Records `cmd` into `dir/label.json` (+ report) and returns the paths.
fn recorded(dir: &Path, label: &str, cmd: &[&OsStr]) -> RecordPaths {
    let paths = RecordPaths::new(dir, label);
    record(&paths, cmd, TIMEOUT);
    paths
}

#[test]
fn check_catches_growth_and_update_accepts_it() {
    let dir = tempdir();
    let gt = ground_truth();
    let paths = recorded(dir.path(), "gt", &[gt.as_os_str()]);
    let profile = paths.profile.clone();

    let same = profiler([
        OsStr::new("check"),
        OsStr::new("--profile"),
        profile.as_os_str(),
        OsStr::new("--"),
        gt.as_os_str(),
    ]);
    assert_eq!(
        code(&same),
        Some(0),
        "the unchanged workload must pass:\n{}",
        same.stderr
    );
    assert!(same.stderr.contains("check: ok"), "{}", same.stderr);

    let grown = profiler([
        OsStr::new("check"),
        OsStr::new("--profile"),
        profile.as_os_str(),
        OsStr::new("--"),
        gt.as_os_str(),
        OsStr::new("--extra"),
    ]);
    assert_eq!(
        code(&grown),
        Some(1),
        "one more syscall must fail the gate:\n{}",
        grown.stderr
    );
    let listed: Vec<&str> = grown
        .stderr
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| {
            word.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(
        listed.contains(&"sched_get_priority_max"),
        "the new syscall is named:\n{}",
        grown.stderr
    );
    assert!(
        grown.stderr.contains("sched_get_priority_max") && grown.stderr.contains("ground-truth"),
        "{}",
        grown.stderr
    );

    let before = std::fs::read(&profile).expect("profile");
    let updated = profiler([
        OsStr::new("check"),
        OsStr::new("--update"),
        OsStr::new("--profile"),
        profile.as_os_str(),
        OsStr::new("--"),
        gt.as_os_str(),
        OsStr::new("--extra"),
    ]);
    assert_eq!(code(&updated), Some(0), "{}", updated.stderr);
    let after = Profile::read(&profile).allowed();
    assert!(after.contains("sched_get_priority_max"));
    let old = dir.path().join("old.json");
    std::fs::write(&old, before).expect("write old");
    let diff = profiler([OsStr::new("diff"), old.as_os_str(), profile.as_os_str()]);
    assert_eq!(code(&diff), Some(1));
    assert!(
        diff.stdout.contains("+ sched_get_priority_max"),
        "{}",
        diff.stdout
    );
}

#[test]
fn diff_and_merge_on_recorded_profiles() {
    let dir = tempdir();
    let t = recorded(dir.path(), "true", &[OsStr::new("/bin/true")]);
    let l = recorded(dir.path(), "ls", &[OsStr::new("/bin/ls"), OsStr::new("/")]);
    let (t_names, l_names) = (
        Profile::read(&t.profile).allowed(),
        Profile::read(&l.profile).allowed(),
    );
    let added: BTreeSet<String> = l_names.difference(&t_names).cloned().collect();
    assert!(
        added.contains("getdents64"),
        "ls reads a directory: {added:?}"
    );

    let grow = profiler([
        OsStr::new("diff"),
        t.profile.as_os_str(),
        l.profile.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("json"),
    ]);
    assert_eq!(code(&grow), Some(1), "{}", grow.stderr);
    let json: Value = serde_json::from_str(&grow.stdout).expect("diff json");
    let json_added: BTreeSet<String> = json["added"]
        .as_array()
        .expect("added")
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        json_added, added,
        "diff's added list is exactly the difference"
    );
    assert_eq!(json["widened"], true);

    let shrink = profiler([
        OsStr::new("diff"),
        l.profile.as_os_str(),
        t.profile.as_os_str(),
    ]);
    assert_eq!(
        code(&shrink),
        Some(0),
        "NEW allowing less is not a finding:\n{}",
        shrink.stdout
    );

    let markdown = profiler([
        OsStr::new("diff"),
        t.profile.as_os_str(),
        l.profile.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("markdown"),
    ]);
    assert!(
        markdown.stdout.starts_with("### seccomp profile: "),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown.stdout.contains("| `getdents64` |"),
        "{}",
        markdown.stdout
    );

    // A risky addition carries its note.
    let risky = dir.path().join("risky.json");
    let mut value: Value =
        serde_json::from_slice(&std::fs::read(&l.profile).expect("ls profile")).expect("json");
    value["syscalls"][0]["names"]
        .as_array_mut()
        .expect("names")
        .push("ptrace".into());
    std::fs::write(&risky, serde_json::to_vec_pretty(&value).expect("encode")).expect("write");
    let noted = profiler([OsStr::new("diff"), l.profile.as_os_str(), risky.as_os_str()]);
    assert_eq!(code(&noted), Some(1));
    assert!(
        noted
            .stdout
            .lines()
            .any(|line| line.contains("+ ptrace") && line.contains('⚠')),
        "{}",
        noted.stdout
    );

    // Reports compare capabilities too: chown needs CAP_CHOWN, true needs none.
    let target = dir.path().join("owned");
    std::fs::write(&target, b"x").expect("write");
    let c = recorded(
        dir.path(),
        "chown",
        &[
            OsStr::new("/bin/chown"),
            OsStr::new("nobody"),
            target.as_os_str(),
        ],
    );
    let caps = profiler([
        OsStr::new("diff"),
        t.report.as_os_str(),
        c.report.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("json"),
    ]);
    assert_eq!(code(&caps), Some(1), "{}", caps.stderr);
    let json: Value = serde_json::from_str(&caps.stdout).expect("json");
    assert_eq!(
        json["capabilities"]["added"],
        serde_json::json!(["CAP_CHOWN"]),
        "{}",
        caps.stdout
    );

    // merge: union, valid, order-independent, and it runs both workloads.
    let (m1, m2) = (dir.path().join("m1.json"), dir.path().join("m2.json"));
    let merged = profiler([
        OsStr::new("merge"),
        t.profile.as_os_str(),
        l.profile.as_os_str(),
        OsStr::new("-o"),
        m1.as_os_str(),
    ]);
    assert_eq!(code(&merged), Some(0), "{}", merged.stderr);
    profiler([
        OsStr::new("merge"),
        l.profile.as_os_str(),
        t.profile.as_os_str(),
        OsStr::new("-o"),
        m2.as_os_str(),
    ]);
    assert_eq!(
        std::fs::read(&m1).expect("m1"),
        std::fs::read(&m2).expect("m2"),
        "merge output must not depend on argument order"
    );
    let union: BTreeSet<String> = t_names.union(&l_names).cloned().collect();
    assert_eq!(Profile::read(&m1).allowed(), union);
    assert_eq!(
        code(&profiler([OsStr::new("validate"), m1.as_os_str()])),
        Some(0)
    );
    for cmd in [&["/bin/true"][..], &["/bin/ls", "/"][..]] {
        let mut args = vec![
            OsStr::new("exec"),
            OsStr::new("--profile"),
            m1.as_os_str(),
            OsStr::new("--"),
        ];
        args.extend(cmd.iter().map(OsStr::new));
        let out = profiler(args);
        assert_eq!(
            code(&out),
            Some(0),
            "{cmd:?} under the merged profile: {}",
            out.stderr
        );
    }
}

#[test]
fn malformed_input_is_exit_2_and_writes_nothing() {
    let dir = tempdir();
    let good = recorded(dir.path(), "good", &[OsStr::new("/bin/true")]).profile;
    let bad_dir = dir.path().join("a-directory");
    std::fs::create_dir(&bad_dir).expect("mkdir");
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("not-json", Some("this is not json")),
        (
            "wrong-types",
            Some(r#"{"defaultAction": 5, "syscalls": "read"}"#),
        ),
        (
            "unknown-names",
            Some(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","not_a_syscall"],"action":"SCMP_ACT_ALLOW"}]}"#,
            ),
        ),
        ("empty", Some("")),
        ("missing", None),
    ];
    let mut inputs: Vec<PathBuf> = cases
        .iter()
        .map(|(name, text)| {
            let path = dir.path().join(format!("{name}.json"));
            if let Some(text) = text {
                std::fs::write(&path, text).expect("write case");
            }
            path
        })
        .collect();
    inputs.push(bad_dir);

    for input in &inputs {
        let shown = input
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let out_file = dir.path().join(format!("out-{shown}"));
        let runs: Vec<(&str, Output)> = vec![
            (
                "validate",
                profiler([OsStr::new("validate"), input.as_os_str()]),
            ),
            (
                "diff old",
                profiler([OsStr::new("diff"), input.as_os_str(), good.as_os_str()]),
            ),
            (
                "diff new",
                profiler([OsStr::new("diff"), good.as_os_str(), input.as_os_str()]),
            ),
            (
                "merge",
                profiler([
                    OsStr::new("merge"),
                    good.as_os_str(),
                    input.as_os_str(),
                    OsStr::new("-o"),
                    out_file.as_os_str(),
                ]),
            ),
            (
                "exec",
                profiler([
                    OsStr::new("exec"),
                    OsStr::new("--profile"),
                    input.as_os_str(),
                    OsStr::new("--"),
                    OsStr::new("/bin/true"),
                ]),
            ),
            (
                "check",
                profiler([
                    OsStr::new("check"),
                    OsStr::new("--profile"),
                    input.as_os_str(),
                    OsStr::new("--"),
                    OsStr::new("/bin/true"),
                ]),
            ),
        ];
        for (what, output) in runs {
            assert_eq!(
                code(&output),
                Some(2),
                "{what} {shown}: expected exit 2\nstdout: {}\nstderr: {}",
                output.stdout,
                output.stderr
            );
            assert!(
                output.stderr.contains("error:") && output.stderr.contains(&shown),
                "{what} {shown}: the error names the file: {}",
                output.stderr
            );
            assert!(
                output.stdout.is_empty(),
                "{what} {shown}: nothing on stdout: {}",
                output.stdout
            );
        }
        assert!(
            !out_file.exists(),
            "merge -o must not write {}",
            out_file.display()
        );
    }
    // check --containers loads every profile in its directory before anything runs.
    let profile_dir = dir.path().join("profiles");
    std::fs::create_dir(&profile_dir).expect("mkdir");
    std::fs::copy(&good, profile_dir.join("web.json")).expect("copy");
    std::fs::write(profile_dir.join("cache.json"), "this is not json").expect("write");
    let ran = dir.path().join("cmd-ran");
    let output = profiler([
        OsStr::new("check"),
        OsStr::new("--containers"),
        OsStr::new("--profile"),
        profile_dir.as_os_str(),
        OsStr::new("--"),
        OsStr::new("touch"),
        ran.as_os_str(),
    ]);
    assert_eq!(
        code(&output),
        Some(2),
        "check --containers: {}",
        output.stderr
    );
    assert!(
        output.stderr.contains("error:") && output.stderr.contains("cache.json"),
        "check --containers: the error names the bad profile: {}",
        output.stderr
    );
    assert!(
        !ran.exists(),
        "check --containers ran CMD despite a bad profile"
    );

    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left: {leftovers:?}");
}

#[test]
fn oci_and_k8s_formats_carry_the_same_profile() {
    let dir = tempdir();
    let docker = recorded(dir.path(), "ls", &[OsStr::new("/bin/ls"), OsStr::new("/")]);
    let names = Profile::read(&docker.profile).allowed();
    let oci = dir.path().join("ls.oci.json");
    let k8s = dir.path().join("web-ls.yaml");
    for (format, path) in [("oci", &oci), ("k8s", &k8s)] {
        let mut command = profiler_command(["record", "--format", format, "-o"]);
        command.arg(path).args(["--", "/bin/ls", "/"]);
        run(&mut command, TIMEOUT).assert_code(0);
    }
    let oci_profile = Profile::read(&oci);
    assert_eq!(
        oci_profile.allowed(),
        names,
        "the same allow list in OCI form"
    );
    assert!(
        !std::fs::read_to_string(&oci)
            .expect("oci")
            .contains("\"comment\""),
        "OCI has no Docker extras"
    );
    let replay = profiler([
        OsStr::new("exec"),
        OsStr::new("--profile"),
        oci.as_os_str(),
        OsStr::new("--"),
        OsStr::new("/bin/ls"),
        OsStr::new("/"),
    ]);
    assert_eq!(code(&replay), Some(0), "{}", replay.stderr);

    let yaml = std::fs::read_to_string(&k8s).expect("k8s");
    assert!(yaml.starts_with("apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\nmetadata:\n  name: web-ls\n"), "{yaml}");
    let listed: BTreeSet<String> = yaml
        .split("  - action: SCMP_ACT_ALLOW\n")
        .nth(1)
        .expect("an allow rule")
        .lines()
        .skip_while(|line| line.trim() != "names:")
        .skip(1)
        .take_while(|line| line.starts_with("    - "))
        .map(|line| line.trim_start_matches("    - ").to_owned())
        .collect();
    assert_eq!(listed, names, "the same allow list in the manifest");
}
