//! Outputs never write through a symlink, and are checked before anything runs. Every kind of
//! output (`record -o`, `--report`, `merge -o`, `check --update`, a file inside the `--containers`
//! directory) is tried as a symlink that another user (`nobody`) made in a sticky, world-writable
//! directory like /tmp, pointing at a root-owned file: the file's bytes stay as they were and the
//! command says why. Two outputs naming one file, and an output in a missing directory, are
//! refused before the workload starts.

use std::{
    fs,
    os::unix::fs::{MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    process::Command,
};

use seccomp_profiler_tests::{Output, profiler_command, run};

use crate::support::{BUSYBOX, LOAD_TIMEOUT, Session, TIMEOUT, ground_truth, tempdir};

/// A root-owned file that must never change, and a sticky world-writable directory in which
/// `nobody` plants links to it.
struct Trap {
    _dir: tempfile::TempDir,
    victim: PathBuf,
    original: Vec<u8>,
    public: PathBuf,
}

impl Trap {
    fn new() -> Trap {
        let dir = tempdir();
        let private = dir.path().join("private");
        fs::create_dir(&private).expect("mkdir");
        let victim = private.join("victim.json");
        // A valid profile, so `check --update` gets as far as wanting to write it.
        let original = fs::read(repo_profile()).expect("read a checked-in profile");
        fs::write(&victim, &original).expect("write victim");
        assert_eq!(fs::metadata(&victim).expect("stat").uid(), 0, "run as root");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let public = dir.path().join("public");
        fs::create_dir(&public).expect("mkdir");
        fs::set_permissions(&public, fs::Permissions::from_mode(0o1777)).expect("chmod 1777");
        Trap {
            _dir: dir,
            victim,
            original,
            public,
        }
    }

    /// `nobody` makes `public/NAME -> victim`.
    fn link(&self, name: &str) -> PathBuf {
        let link = self.public.join(name);
        let output = run(
            Command::new("runuser")
                .args(["-u", "nobody", "--", "ln", "-s"])
                .arg(&self.victim)
                .arg(&link),
            TIMEOUT,
        );
        output.assert_code(0);
        assert_eq!(fs::symlink_metadata(&link).expect("lstat").uid(), 65534);
        link
    }

    fn assert_untouched(&self, output: &Output) {
        assert_eq!(
            fs::read(&self.victim).expect("read victim"),
            self.original,
            "the symlink's target was written\n{output}"
        );
    }
}

fn repo_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/busybox-ls.json")
}

fn assert_refused_symlink(output: &Output, link: &Path) {
    output.assert_code(2);
    let expected = format!("{} is a symlink", link.display());
    assert!(
        output.stderr.contains(&expected),
        "expected {expected:?}\n{output}"
    );
    assert!(
        output.stderr.contains("never writes through a symlink"),
        "{output}"
    );
}

#[test]
fn record_outputs_refuse_symlinks() {
    let trap = Trap::new();
    let marker = trap.public.join("ran");
    let touch = [
        "sh".to_owned(),
        "-c".to_owned(),
        format!("touch {}", marker.display()),
    ];

    let link = trap.link("p.json");
    let output = run(
        profiler_command(["record", "-o"])
            .arg(&link)
            .arg("--")
            .args(&touch),
        TIMEOUT,
    );
    assert_refused_symlink(&output, &link);
    trap.assert_untouched(&output);
    assert!(
        !marker.exists(),
        "the output is checked before CMD runs\n{output}"
    );

    let report = trap.link("r.json");
    let profile = trap.public.join("ok.json");
    let output = run(
        profiler_command(["record", "-o"])
            .arg(&profile)
            .arg("--report")
            .arg(&report)
            .arg("--")
            .args(&touch),
        TIMEOUT,
    );
    assert_refused_symlink(&output, &report);
    trap.assert_untouched(&output);
    assert!(!marker.exists() && !profile.exists(), "{output}");
}

#[test]
fn merge_and_check_update_refuse_symlinks() {
    let trap = Trap::new();
    let link = trap.link("merged.json");
    let output = run(
        profiler_command(["merge"])
            .arg(repo_profile())
            .arg("-o")
            .arg(&link),
        TIMEOUT,
    );
    assert_refused_symlink(&output, &link);
    trap.assert_untouched(&output);

    // The ground-truth program makes syscalls busybox's profile lacks, so --update would write.
    let link = trap.link("checked.json");
    let output = run(
        profiler_command(["check", "--update", "--profile"])
            .arg(&link)
            .arg("--")
            .arg(ground_truth()),
        TIMEOUT,
    );
    assert_refused_symlink(&output, &link);
    trap.assert_untouched(&output);
}

#[test]
fn a_containers_output_that_is_a_symlink_is_refused_and_the_others_written() {
    let trap = Trap::new();
    let mut session = Session::begin("symlinkdir");
    let trapped = session.container("trapped");
    let fine = session.container("fine");
    // The output directory is the sticky public one; nobody planted `<trapped>.json` in it.
    let link = trap.link(&format!("{trapped}.json"));
    let script = format!(
        "{} && {}",
        crate::support::DockerRun::named(&trapped).shell_line(BUSYBOX, &["true"]),
        crate::support::DockerRun::named(&fine).shell_line(BUSYBOX, &["true"])
    );
    let mut command = profiler_command(["record", "--containers", "-o"]);
    command.arg(&trap.public).args(["--", "sh", "-c", &script]);
    let output = run(&mut command, LOAD_TIMEOUT);
    output.assert_code(4);
    trap.assert_untouched(&output);
    assert!(
        output
            .stderr
            .contains(&format!("{} is a symlink", link.display())),
        "{output}"
    );
    assert!(
        output.stderr.contains(&format!(
            "FAILED: 1 container(s) recorded but not written: {trapped}"
        )),
        "{output}"
    );
    assert!(
        trap.public.join(format!("{fine}.json")).is_file(),
        "{output}"
    );
}

#[test]
fn outputs_are_checked_before_the_workload_runs() {
    let dir = tempdir();
    let marker = dir.path().join("ran");
    let touch = [
        "sh".to_owned(),
        "-c".to_owned(),
        format!("touch {}", marker.display()),
    ];
    let same = dir.path().join("p.json");
    let cases: [(Vec<std::ffi::OsString>, &str); 3] = [
        (
            vec![
                "-o".into(),
                same.clone().into(),
                "--report".into(),
                dir.path().join("./p.json").into(),
            ],
            "profile and report name the same file",
        ),
        (
            vec!["-o".into(), dir.path().join("missing/p.json").into()],
            "does not exist: create it first",
        ),
        (
            vec!["-o".into(), dir.path().join("newdir/").into()],
            "is a directory: give a file name",
        ),
    ];
    for (args, message) in cases {
        let output = run(
            profiler_command(["record"])
                .args(&args)
                .arg("--")
                .args(&touch),
            TIMEOUT,
        );
        output.assert_code(2);
        assert!(
            output.stderr.contains(message),
            "expected {message:?}\n{output}"
        );
        assert!(
            !marker.exists(),
            "CMD ran before the outputs were checked\n{output}"
        );
        assert!(!same.exists(), "{output}");
    }
}
