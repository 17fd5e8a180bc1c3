//! What `record` writes is usable as written. `--format k8s` passes the security-profiles-operator's
//! v1 CRD schema with unknown fields as errors (`tests/schemas/`, checked by Python's jsonschema,
//! not by this tool), for file and container names with dots, capitals and underscores (and the
//! JSON that `merge` makes of a container's manifest runs that container); the tool's own YAML and
//! an OCI `config.json` are read back by `validate`, `exec`, `merge` and `diff`, and the YAML's
//! rules are what `exec` enforces. With the profile on stdout, CMD's own stdout goes to stderr, so
//! stdout is the profile alone. An `-o` name that does not fit `--format` is refused before CMD
//! runs.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::Command,
};

use seccomp_profiler_tests::{Output, Profile, profiler_command, run};

use crate::support::{BUSYBOX, DockerRun, Session, TIMEOUT, tempdir};

/// The workload: small, and its syscalls include getdents64, which `ls` cannot do without.
const LS: [&str; 2] = ["/bin/ls", "/"];

fn profiler<S: AsRef<OsStr>>(args: &[S]) -> Output {
    run(&mut profiler_command(args), TIMEOUT)
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `record --format k8s -o DIR/<stem>.yaml -- ls /`.
fn record_k8s(dir: &Path, stem: &str) -> (PathBuf, Output) {
    let path = dir.join(format!("{stem}.yaml"));
    let mut command = profiler_command(["record", "--format", "k8s", "-o"]);
    command.arg(&path).arg("--").args(LS);
    let output = run(&mut command, TIMEOUT);
    output.assert_code(0);
    (path, output)
}

#[test]
fn k8s_output_passes_the_operators_crd_strictly_and_reads_back() {
    let dir = tempdir();
    let stems = [
        ("My_App.v2", "my-app.v2"),
        ("x..y", "x.y"),
        ("a.-b_C", "a.b-c"),
    ];
    let recorded: Vec<(PathBuf, Output)> = stems
        .iter()
        .map(|(stem, _)| record_k8s(dir.path(), stem))
        .collect();
    let manifests: Vec<&PathBuf> = recorded.iter().map(|(path, _)| path).collect();

    // The operator's schema, strictly, by an independent validator.
    let mut check = Command::new("/usr/bin/python3");
    check
        .arg(repo_file("scripts/check-k8s-manifest.py"))
        .arg(repo_file("schemas/spo-seccompprofile-v1.json"))
        .args(&manifests);
    let checked = run(&mut check, TIMEOUT);
    checked.assert_code(0);
    assert_eq!(
        checked
            .stdout
            .lines()
            .filter(|line| line.ends_with(": ok"))
            .count(),
        3,
        "{checked}"
    );

    for ((path, output), (stem, name)) in recorded.iter().zip(stems) {
        let yaml = std::fs::read_to_string(path).expect("read the manifest");
        assert!(
            yaml.contains(&format!("\nmetadata:\n  name: {name}\n")),
            "{stem}: {yaml}"
        );
        // The hints name what works: kubectl and the operator's install path, not Docker + YAML.
        let shown = path.display().to_string();
        assert!(
            output.stderr.contains(&format!("kubectl apply -f {shown}"))
                && output
                    .stderr
                    .contains(&format!("localhostProfile: operator/{name}.json"))
                && !output.stderr.contains(&format!("seccomp={shown}")),
            "{output}"
        );
    }

    // The tool reads its own YAML back: validate, exec, merge (into Docker JSON), diff.
    let yaml = manifests[0];
    profiler(&[OsStr::new("validate"), yaml.as_os_str()]).assert_code(0);
    let mut exec = profiler_command(["exec", "--profile"]);
    exec.arg(yaml).arg("--").args(LS);
    run(&mut exec, TIMEOUT).assert_code(0);
    let json = dir.path().join("merged.json");
    profiler(&[
        OsStr::new("merge"),
        yaml.as_os_str(),
        OsStr::new("-o"),
        json.as_os_str(),
    ])
    .assert_code(0);
    let merged = Profile::read(&json);
    assert!(merged.allowed().contains("getdents64"), "{:#}", merged.json);
    let text = std::fs::read_to_string(yaml).expect("read");
    for name in merged.allowed() {
        assert!(
            text.contains(&format!("    - {name}\n")),
            "{name} not in {text}"
        );
    }
    for (old, new) in [(yaml, &json), (&json, yaml)] {
        profiler(&[OsStr::new("diff"), old.as_os_str(), new.as_os_str()]).assert_code(0);
    }

    // exec enforces the YAML's rules: without getdents64, ls cannot list the directory.
    let without = dir.path().join("without.yaml");
    let cut = text.replace("    - getdents64\n", "");
    assert_ne!(cut, text, "the manifest allows getdents64");
    std::fs::write(&without, cut).expect("write");
    let mut exec = profiler_command(["exec", "--profile"]);
    exec.arg(&without).arg("--").args(LS);
    let denied = run(&mut exec, TIMEOUT);
    assert_ne!(denied.code(), 0, "ls ran without getdents64\n{denied}");
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "{denied}"
    );

    // An OCI config.json is read through its linux.seccomp.
    let config = dir.path().join("config.json");
    let bundle = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": LS},
        "linux": {"seccomp": merged.json},
    });
    std::fs::write(&config, bundle.to_string()).expect("write");
    let validated = profiler(&[OsStr::new("validate"), config.as_os_str()]);
    validated.assert_code(0);
    assert!(validated.stdout.contains(": valid"), "{validated}");
}

#[test]
fn with_the_profile_on_stdout_cmd_stdout_goes_to_stderr() {
    let output = run(
        &mut profiler_command(["record", "--", "sh", "-c", "echo hi"]),
        TIMEOUT,
    );
    output.assert_code(0);
    let profile: serde_json::Value = serde_json::from_str(&output.stdout)
        .unwrap_or_else(|err| panic!("stdout is not the profile alone: {err}\n{output}"));
    assert!(profile["syscalls"].is_array(), "{output}");
    assert!(output.stderr.lines().any(|line| line == "hi"), "{output}");

    // With -o, stdout is CMD's again.
    let dir = tempdir();
    let mut command = profiler_command(["record", "-o"]);
    command
        .arg(dir.path().join("p.json"))
        .args(["--", "sh", "-c", "echo hi"]);
    let output = run(&mut command, TIMEOUT);
    output.assert_code(0);
    assert_eq!(output.stdout, "hi\n", "{output}");
}

#[test]
fn outputs_that_cannot_work_are_refused_before_cmd_runs() {
    let dir = tempdir();
    let ran = dir.path().join("cmd-ran");
    let refused = |args: &[&str], expected: &str| {
        let mut command = profiler_command(args);
        command
            .arg("--")
            .arg("touch")
            .arg(&ran)
            .current_dir(dir.path());
        let output = run(&mut command, TIMEOUT);
        output.assert_code(2);
        assert!(output.stderr.contains(expected), "{output}");
        assert!(!ran.exists(), "CMD ran: {output}");
    };
    refused(
        &["record", "--format", "k8s", "-o", "p.json"],
        "*.yaml or *.yml",
    );
    refused(&["record", "-o", "p.yaml"], "name it *.json");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert!(left.is_empty(), "nothing is written: {left:?}");
}

#[test]
fn containers_k8s_output_passes_the_crd_and_converts_for_docker() {
    let mut session = Session::begin("k8s");
    // Docker allows capitals, underscores and dots in container names; Kubernetes does not.
    let container = session.container("My_Web.v2");
    let expected = container.to_ascii_lowercase().replace('_', "-");
    let dir = session.path().join("profiles");
    let mut command = profiler_command(["record", "--containers", "--format", "k8s", "-o"]);
    command
        .arg(&dir)
        .arg("--")
        .args(DockerRun::named(&container).argv(BUSYBOX, &["ls", "/"]));
    let output = run(&mut command, TIMEOUT);
    output.assert_code(0);
    let manifest = dir.join(format!("{container}.yaml"));

    let mut check = Command::new("/usr/bin/python3");
    check
        .arg(repo_file("scripts/check-k8s-manifest.py"))
        .arg(repo_file("schemas/spo-seccompprofile-v1.json"))
        .arg(&manifest);
    run(&mut check, TIMEOUT).assert_code(0);
    let yaml = std::fs::read_to_string(&manifest).expect("read the manifest");
    assert!(
        yaml.contains(&format!("\nmetadata:\n  name: {expected}\n")),
        "{yaml}"
    );
    assert!(
        output
            .stderr
            .contains(&format!("localhostProfile: operator/{expected}.json")),
        "{output}"
    );

    // The hint for Docker works: merge makes the JSON, and the container runs under it.
    let json = session.path().join("web.json");
    profiler(&[
        OsStr::new("merge"),
        manifest.as_os_str(),
        OsStr::new("-o"),
        json.as_os_str(),
    ])
    .assert_code(0);
    let replay = run(
        &mut DockerRun::new()
            .seccomp(&json)
            .command(BUSYBOX, &["ls", "/"]),
        TIMEOUT,
    );
    replay.assert_code(0);
}
