//! The Docker client against a real dockerd: `cargo xtask test` runs it (it sets
//! `SECCOMP_PROFILER_DOCKER_TESTS=1` once dockerd answers); a plain `cargo test` skips it and says so.

#![allow(clippy::unwrap_used)]

/// Against a real dockerd, only with `SECCOMP_PROFILER_DOCKER_TESTS=1` (and then it fails,
/// never skips, when something is missing). Needs root, `docker` on PATH and a static busybox:
/// it imports a one-binary image, runs containers with `--network none`, and removes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_dockerd() {
    if std::env::var_os("SECCOMP_PROFILER_DOCKER_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set SECCOMP_PROFILER_DOCKER_TESTS=1 to run against dockerd");
        return;
    }
    live::run().await;
}

mod live {
    use std::{
        fs,
        path::Path,
        process::{Command, Stdio},
        time::{Duration, Instant},
    };

    use super::super::*;

    fn docker(args: &[&str]) -> String {
        let out = Command::new("docker")
            .args(args)
            .stderr(Stdio::inherit())
            .output();
        let out = out.unwrap_or_else(|err| panic!("cannot run docker {args:?}: {err}"));
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            out.status
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Removes what the test made, even when it panics.
    struct Cleanup {
        containers: Vec<String>,
        image: String,
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            for name in &self.containers {
                let _ = Command::new("docker").args(["rm", "-f", name]).output();
            }
            let _ = Command::new("docker").args(["rmi", &self.image]).output();
        }
    }

    fn import_busybox_image(tag: &str) {
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("no busybox on the host (apt-get install busybox-static)");
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::copy(busybox, bin.join("busybox")).unwrap();
        for applet in ["sh", "ls", "sleep", "cat", "true"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        let tar = dir.path().join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(dir.path())
            .arg("-cf")
            .arg(&tar)
            .arg("bin")
            .status()
            .unwrap();
        assert!(status.success());
        docker(&["import", &tar.display().to_string(), tag]);
    }

    pub(super) async fn run() {
        let engine = Engine::connect()
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(engine.api_version(), "1.41", "expected dockerd 20.10");

        let me = std::process::id();
        let image = format!("sp-test/busybox:docker-rs-{me}");
        let probe = format!("sp-probe-{me}");
        let unconfined = format!("sp-probe-unconfined-{me}");
        let mut cleanup = Cleanup {
            containers: vec![],
            image: image.clone(),
        };
        import_busybox_image(&image);

        // Subscribe, but poll only after the container exists: `since` must replay it.
        let mut events = Box::pin(engine.events());
        cleanup.containers.push(probe.clone());
        let id = docker(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &probe,
            "--label",
            "com.docker.compose.project=demo",
            "--label",
            "com.docker.compose.service=web/api",
            &image,
            "sleep",
            "30",
        ]);

        let info = engine.inspect_running(&probe).await.unwrap();
        assert_eq!(info.id, id);
        assert_eq!(info.name, probe);
        assert!(info.running);
        assert_eq!(info.seccomp, SeccompMode::Default);
        assert!(!info.no_new_privileges);
        assert_eq!(info.image, image);
        assert_eq!(info.compose_project.as_deref(), Some("demo"));
        assert_eq!(info.compose_service.as_deref(), Some("web/api"));
        assert_eq!(profile_file_name(&info), "web_api.json");
        let by_short_id = engine.inspect(&id[..12]).await.unwrap();
        assert_eq!(by_short_id.id, id);

        let pid = info.pid.unwrap();
        let path = cgroup2_path_of_pid(pid).unwrap();
        assert!(expected_cgroup2_paths(&id).contains(&path), "{path}");
        let mount = crate::cgroup::cgroup2_mount().unwrap();
        let dir = mount.join(path.trim_start_matches('/'));
        assert!(dir.is_dir(), "{}", dir.display());
        eprintln!("pid {pid}, cgroup2 {}", dir.display());

        docker(&["exec", &probe, "ls", "/"]);
        docker(&["stop", "-t", "1", &probe]);

        let stopped = engine.inspect(&probe).await.unwrap();
        assert_eq!((stopped.running, stopped.pid), (false, None));
        match engine.inspect_running(&probe).await {
            Err(DockerError::NotRunning { .. }) => {}
            other => panic!("expected NotRunning, got {other:?}"),
        }
        match engine.inspect("sp-no-such-container").await {
            Err(DockerError::NotFound(_)) => {}
            other => panic!("expected NotFound, got {other:?}"),
        }

        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !seen
            .iter()
            .any(|e: &ContainerEvent| e.id == id && e.verb() == "die")
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, events.next()).await;
            let event = next
                .expect("timed out waiting for events")
                .expect("stream ended");
            let event = event.unwrap();
            if event.id == id {
                eprintln!("event {} {}", event.time_nanos, event.action);
                seen.push(event);
            }
        }
        let verbs: Vec<&str> = seen.iter().map(ContainerEvent::verb).collect();
        for verb in [
            "create",
            "start",
            "exec_create",
            "exec_start",
            "exec_die",
            "kill",
            "die",
        ] {
            assert!(verbs.contains(&verb), "no {verb} event in {verbs:?}");
        }
        assert!(
            seen.iter().any(|e| e.action == "exec_start: ls /"),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .all(|e| e.name.as_deref() == Some(probe.as_str()))
        );
        // Every event carries the image and the container's labels: what names a container that
        // can no longer be inspected.
        assert!(
            seen.iter()
                .all(|e| e.image.as_deref() == Some(image.as_str())
                    && e.compose_project.as_deref() == Some("demo")
                    && e.compose_service.as_deref() == Some("web/api")),
            "{seen:?}"
        );
        // A bounded read replays the buffered events up to `until` and ends: how a reconnected
        // recording catches up.
        let first = seen.first().map(|e| e.time_nanos).unwrap();
        let until = super::super::now_nanos();
        let replayed = tokio::time::timeout(
            Duration::from_secs(10),
            engine
                .events_between(first, Some(until))
                .collect::<Vec<_>>(),
        )
        .await
        .expect("a bounded event read ends");
        let replayed: Vec<ContainerEvent> = replayed
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.id == id)
            .collect();
        // `stop` follows `die`, so it may be replayed though the live loop above ended before it.
        assert_eq!(
            replayed.get(..seen.len()),
            Some(seen.as_slice()),
            "the same events, in order"
        );
        engine.ping().await.unwrap();
        let time = |verb: &str| seen.iter().find(|e| e.verb() == verb).map(|e| e.time_nanos);
        let (create, start) = (time("create").unwrap(), time("start").unwrap());
        assert!(create <= start);
        eprintln!("create → start: {} µs", (start - create) / 1000);

        // The security options, as dockerd stores them.
        let profile = tempfile::NamedTempFile::new().unwrap();
        fs::write(profile.path(), r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        let custom = format!("seccomp={}", profile.path().display());
        let cases: [(&[&str], SeccompMode, bool); 4] = [
            (
                &[
                    "--security-opt",
                    "seccomp=unconfined",
                    "--security-opt",
                    "no-new-privileges",
                ],
                SeccompMode::Unconfined,
                true,
            ),
            (
                &[
                    "--security-opt",
                    &custom,
                    "--security-opt",
                    "no-new-privileges:true",
                ],
                SeccompMode::Custom,
                true,
            ),
            (
                &["--security-opt", "no-new-privileges=false"],
                SeccompMode::Default,
                false,
            ),
            (&["--privileged"], SeccompMode::Unconfined, false),
        ];
        cleanup.containers.push(unconfined.clone());
        for (flags, seccomp, nnp) in cases {
            let mut args = vec!["create", "--network", "none", "--name", &unconfined];
            args.extend_from_slice(flags);
            args.extend_from_slice(&[&image, "true"]);
            docker(&args);
            let info = engine.inspect(&unconfined).await.unwrap();
            assert_eq!(
                (info.seccomp, info.no_new_privileges),
                (seccomp, nnp),
                "{flags:?}"
            );
            assert_eq!((info.running, info.pid), (false, None));
            docker(&["rm", &unconfined]);
        }
        drop(cleanup);
    }
}
