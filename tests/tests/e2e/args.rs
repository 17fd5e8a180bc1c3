//! End to end: argument rules (`record --args`, docs/design.md §16). The `sockets` workload
//! (`src/bin/sockets.rs`) opens AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK/NETLINK_ROUTE sockets,
//! queries its personality and forks with a plain clone; its `alg` and `newuser` modes then try `socket(AF_ALG, …)` and
//! `clone(CLONE_NEWUSER)` and exit 3 on EPERM. Recorded with `--args`, its profile lets the plain
//! run work and denies both modes, as a command (`exec`) and as a container under a real runtime;
//! recorded without `--args`, the same calls are allowed by name. The values are in the report
//! either way, and `check` names a value outside the profile's conditions.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use seccomp_profiler_tests::{
    Output, RecordPaths, Report, exec_command, profiler_command, record, run, workload,
};

use crate::support::{BUSYBOX, QUICK_TIMEOUT, Session, TIMEOUT, strings, tempdir};

/// What `sockets` exits with when its mode's call got EPERM.
const EPERM_EXIT: i32 = 3;

/// The values the plain run passes, as the report names them.
const FAMILIES: [&str; 4] = ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"];

fn sockets() -> PathBuf {
    workload("sockets")
}

/// The `name`s of one of the report's `arguments` lists.
fn argument_names(report: &Report, list: &str) -> Vec<String> {
    let values = report.json["arguments"][list]
        .as_array()
        .unwrap_or_else(|| panic!("report has no arguments.{list}: {:#}", report.json));
    values
        .iter()
        .map(|value| value["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `(names, args)` of every rule with argument conditions, e.g. `("socket", "[{…}]")`.
fn conditional_rules(profile: &seccomp_profiler_tests::Profile) -> Vec<(String, String)> {
    profile
        .rules()
        .iter()
        .filter(|rule| rule["args"].is_array())
        .map(|rule| {
            (
                rule["names"][0].as_str().unwrap_or_default().to_owned(),
                rule["args"].to_string(),
            )
        })
        .collect()
}

/// Names of SCMP_ACT_ALLOW rules without argument conditions.
fn allowed_by_name(profile: &seccomp_profiler_tests::Profile) -> Vec<String> {
    profile
        .rules()
        .iter()
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW" && !rule["args"].is_array())
        .flat_map(|rule| strings::<Vec<String>>(&rule["names"]))
        .collect()
}

fn exec(profile: &Path, mode: Option<&str>) -> Output {
    let mut cmd: Vec<OsString> = vec![sockets().into()];
    cmd.extend(mode.map(OsString::from));
    run(&mut exec_command(profile, &cmd), TIMEOUT)
}

#[test]
fn args_command_profile_allows_the_run_and_denies_other_values() {
    let dir = tempdir();
    let restricted = RecordPaths::new(dir.path(), "args");
    run(&mut restricted.command(&["--args"], &[sockets()]), TIMEOUT).assert_code(0);
    let plain = RecordPaths::new(dir.path(), "plain");
    record(&plain, &[sockets()], TIMEOUT);

    // The report lists the values by name, with or without --args.
    for paths in [&restricted, &plain] {
        let report = paths.report();
        assert_eq!(
            argument_names(&report, "socket_families"),
            FAMILIES,
            "{:#}",
            report.json
        );
        assert_eq!(argument_names(&report, "clone_namespace_flags"), ["0"]);
        assert_eq!(
            argument_names(&report, "netlink_protocols"),
            ["NETLINK_ROUTE"]
        );
        assert_eq!(
            argument_names(&report, "personalities"),
            ["0xffffffff (query)"]
        );
    }
    assert!(plain.report().json.get("argument_rules").is_none());
    assert_eq!(
        strings::<Vec<String>>(&restricted.report().json["argument_rules"]["restricted"]),
        ["clone", "personality", "socket"]
    );

    // --args: one rule per value, Docker's style; clone3 answered ENOSYS; without: by name.
    let profile = restricted.profile();
    let unconditional = allowed_by_name(&profile);
    for name in ["socket", "clone", "clone3"] {
        assert!(
            !unconditional.contains(&name.to_owned()),
            "{name} by name: {:#}",
            profile.json
        );
    }
    assert!(
        profile
            .names_with_action("SCMP_ACT_ERRNO")
            .contains("clone3")
    );
    assert_eq!(
        conditional_rules(&profile),
        [
            (
                "clone".to_owned(),
                r#"[{"index":0,"op":"SCMP_CMP_MASKED_EQ","value":2114060288}]"#.to_owned()
            ),
            (
                "personality".to_owned(),
                r#"[{"index":0,"op":"SCMP_CMP_EQ","value":4294967295}]"#.to_owned()
            ),
            (
                "socket".to_owned(),
                r#"[{"index":0,"op":"SCMP_CMP_EQ","value":1}]"#.to_owned()
            ),
            (
                "socket".to_owned(),
                r#"[{"index":0,"op":"SCMP_CMP_EQ","value":2}]"#.to_owned()
            ),
            (
                "socket".to_owned(),
                r#"[{"index":0,"op":"SCMP_CMP_EQ","value":10}]"#.to_owned()
            ),
            (
                "socket".to_owned(),
                r#"[{"index":0,"op":"SCMP_CMP_EQ","value":16},{"index":2,"op":"SCMP_CMP_EQ","value":0}]"#
                    .to_owned()
            ),
        ]
    );
    let by_name = plain.profile();
    let unconditional = allowed_by_name(&by_name);
    assert!(
        unconditional.contains(&"socket".to_owned()) && unconditional.contains(&"clone".to_owned())
    );
    assert!(conditional_rules(&by_name).is_empty());
    run(
        &mut profiler_command(["validate".as_ref(), restricted.profile.as_os_str()]),
        TIMEOUT,
    )
    .assert_code(0);

    // Under the --args profile: the run works, AF_ALG and CLONE_NEWUSER get EPERM.
    exec(&restricted.profile, None).assert_code(0);
    for mode in ["alg", "newuser"] {
        let output = exec(&restricted.profile, Some(mode));
        output.assert_code(EPERM_EXIT);
        assert!(output.stdout.contains("sockets: EPERM"), "{output}");
    }
    // Under the profile without --args they pass seccomp (this kernel may lack AF_ALG: exit 4).
    let alg = exec(&plain.profile, Some("alg"));
    assert_ne!(alg.code(), EPERM_EXIT, "allowed by name, yet EPERM\n{alg}");
    exec(&plain.profile, Some("newuser")).assert_code(0);

    // check: the same run is inside the conditions; a CLONE_NEWUSER is named as outside.
    let check = |mode: Option<&str>| {
        let mut command = profiler_command([
            "check".as_ref(),
            "--profile".as_ref(),
            restricted.profile.as_os_str(),
        ]);
        command.arg("--").arg(sockets()).args(mode);
        run(&mut command, TIMEOUT)
    };
    check(None).assert_code(0);
    let outside = check(Some("newuser"));
    outside.assert_code(1);
    assert!(outside.stderr.contains("clone(CLONE_NEWUSER)"), "{outside}");
    assert!(!outside.stderr.contains("socket("), "{outside}");

    // diff: allowing socket by name is a widening of the --args profile, not the other way round.
    let diff = |old: &Path, new: &Path| {
        run(
            &mut profiler_command([OsString::from("diff"), old.into(), new.into()]),
            TIMEOUT,
        )
    };
    diff(&restricted.profile, &plain.profile).assert_code(1);
    diff(&plain.profile, &restricted.profile).assert_code(0);

    // check --update keeps the rules (--args is implied by them) and adds the new value's rule:
    // CLONE_NEWUSER then runs, AF_ALG stays denied.
    let updated = dir.path().join("updated.json");
    std::fs::copy(&restricted.profile, &updated).unwrap_or_else(|err| panic!("copy: {err}"));
    let mut command = profiler_command([
        OsString::from("check"),
        "--update".into(),
        "--profile".into(),
        updated.clone().into(),
        "--".into(),
        sockets().into(),
        "newuser".into(),
    ]);
    run(&mut command, TIMEOUT).assert_code(0);
    let grown = seccomp_profiler_tests::Profile::read(&updated);
    assert!(
        !allowed_by_name(&grown).contains(&"socket".to_owned()),
        "{:#}",
        grown.json
    );
    assert!(
        conditional_rules(&grown).contains(&(
            "clone".to_owned(),
            r#"[{"index":0,"op":"SCMP_CMP_MASKED_EQ","value":2114060288,"valueTwo":268435456}]"#
                .to_owned()
        )),
        "{:#}",
        grown.json
    );
    exec(&updated, Some("newuser")).assert_code(0);
    exec(&updated, Some("alg")).assert_code(EPERM_EXIT);
}

/// The bind mounts that make a host binary run in the busybox image: the binary and each shared
/// library `ldd` lists, at the same paths.
fn workload_mounts(binary: &Path) -> Vec<String> {
    let ldd = run(Command::new("ldd").arg(binary), QUICK_TIMEOUT);
    ldd.assert_code(0);
    let mut mounts = vec![format!("{}:/{}:ro", binary.display(), file_name(binary))];
    for path in ldd
        .stdout
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
    {
        let real = std::fs::canonicalize(path)
            .unwrap_or_else(|err| panic!("cannot resolve {path} from ldd: {err}"));
        mounts.push(format!("{}:{path}:ro", real.display()));
    }
    mounts
        .into_iter()
        .flat_map(|mount| ["-v".to_owned(), mount])
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Records the `sockets` container with `--args` under `runtime` (Docker's `--runtime`), then
/// replays it under the profile with the same runtime: the plain run works, the `alg` and
/// `newuser` modes get EPERM. A runtime gets its own recording, since each runs different code
/// after the filter install (docs/design.md §12). The crun variant is one more caller.
fn argument_rules_hold_in_a_container(runtime: &str) {
    let mut session = Session::begin(&format!("args-{runtime}"));
    let mut options = vec!["--runtime".to_owned(), runtime.to_owned()];
    options.extend(workload_mounts(&sockets()));
    let binary = format!("/{}", file_name(&sockets()));
    let name = session.container("rec");
    let recorded_run = crate::support::DockerRun::named(&name).options(options.clone());
    let recording = session.record_with(
        "args",
        &["--args"],
        &recorded_run.argv(BUSYBOX, &[binary.as_str()]),
        TIMEOUT,
        0,
    );
    let report = recording.report(&name);
    assert_eq!(
        argument_names(&report, "socket_families"),
        FAMILIES,
        "{:#}",
        report.json
    );
    let profile = recording.profile_path(&name);
    assert!(
        recording
            .profile(&name)
            .names_with_action("SCMP_ACT_ERRNO")
            .contains("clone3"),
        "clone3 must be answered ENOSYS when clone is restricted"
    );
    for (mode, code) in [
        (None, 0),
        (Some("alg"), EPERM_EXIT),
        (Some("newuser"), EPERM_EXIT),
    ] {
        let role = format!("replay-{}", mode.unwrap_or("plain"));
        let replay = session
            .docker_run(&role, Some(&profile), false)
            .options(options.clone());
        let mut argv = vec![binary.as_str()];
        argv.extend(mode);
        let output = run(&mut replay.command(BUSYBOX, &argv), QUICK_TIMEOUT);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{runtime}, mode {mode:?}, under {}:\n{output}",
            profile.display()
        );
    }
    // The kernel's denial counter sees the refused values too (design.md §15): each mode run
    // under `check --enforce --containers` is named with exactly the call its rule refused.
    for (mode, refused) in [("alg", "socket"), ("newuser", "clone")] {
        let replay = session
            .docker_run(&format!("enforce-{mode}"), Some(&profile), false)
            .options(options.clone());
        let line = replay.shell_line(BUSYBOX, &[binary.as_str(), mode]);
        let out = run(
            &mut profiler_command([
                "check",
                "--enforce",
                "--containers",
                "--",
                "sh",
                "-c",
                &line,
            ]),
            QUICK_TIMEOUT,
        );
        assert_eq!(out.code(), 1, "{runtime}, mode {mode}:\n{}", out.stderr);
        let rows = crate::denials::denial_rows(&out.stderr);
        let names: Vec<&str> = rows.iter().map(|row| row.0.as_str()).collect();
        assert_eq!(names, [refused], "{runtime}, mode {mode}:\n{}", out.stderr);
        assert_eq!(
            rows[0].2, "EPERM",
            "{runtime}, mode {mode}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn args_container_profile_under_runc() {
    argument_rules_hold_in_a_container("runc");
}

#[test]
fn args_container_profile_under_crun() {
    argument_rules_hold_in_a_container("crun");
}
