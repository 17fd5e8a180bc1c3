//! Faults outside the recorder that it must survive and report: the Docker API lost in the middle
//! of `record --containers`, then regained or lost for good. The recorder reaches dockerd through a proxy socket
//! (`socat`, with `DOCKER_HOST` pointing at it) that the test kills and restarts while CMD runs;
//! CMD's own docker CLI uses the real socket, so the containers run as if nothing happened. Every
//! container must still get its profile under its real name, the report of a container whose
//! metadata the outage left uncertain must say so, and the exit code must say that the run was
//! degraded (4).

use std::{
    fs,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{Output, Report, Running, profiler_command, spawn};

use crate::support::{BUSYBOX, DockerRun, LOAD_TIMEOUT, Session, TIMEOUT, wait_for};

/// The real daemon socket the proxy forwards to.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// How long the API stays lost: long enough for the recorder's back-off to retry several times.
const OUTAGE: Duration = Duration::from_secs(2);

/// `socat UNIX-LISTEN:SOCKET,fork UNIX-CONNECT:/var/run/docker.sock` in a process group of its
/// own, so that stopping it also ends the connections its forked children carry (the recorder's
/// event stream among them), as a dying daemon or proxy would. Stopped when dropped.
struct Proxy {
    child: Child,
    log: PathBuf,
}

impl Proxy {
    /// Starts the proxy (`-d -d` logs every connection to `log`) and waits until it listens.
    fn start(socket: &Path, log: &Path) -> Proxy {
        let log_file = fs::File::create(log)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", log.display()));
        let child = Command::new("socat")
            .args(["-d", "-d"])
            .arg(format!(
                "UNIX-LISTEN:{},fork,unlink-early",
                socket.display()
            ))
            .arg(format!("UNIX-CONNECT:{DOCKER_SOCKET}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start socat ({err}): `cargo xtask test` installs it, or `apt-get \
                     install socat`"
                )
            });
        let proxy = Proxy {
            child,
            log: log.to_owned(),
        };
        wait_for("the proxy to listen", TIMEOUT, || {
            proxy.logged("listening on")
        });
        proxy
    }

    fn logged(&self, what: &str) -> bool {
        fs::read_to_string(&self.log).is_ok_and(|log| log.contains(what))
    }

    /// Waits until someone (only the recorder uses it) connects through the proxy.
    fn wait_for_a_client(&self, timeout: Duration) {
        wait_for(
            "the recorder to reconnect through the proxy",
            timeout,
            || self.logged("accepting connection"),
        );
    }

    /// SIGTERM to the proxy's whole process group, then waits for the proxy itself.
    fn stop(&mut self) {
        if let Ok(pgid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on the process group of a child this test started and has not reaped.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A shell line that waits for `file` to exist, at most 60 s (then the script fails).
fn await_file(file: &Path) -> String {
    format!(
        "i=0; while [ ! -e {file} ]; do i=$((i+1)); if [ $i -gt 600 ]; then echo 'no {file}' >&2; \
         exit 9; fi; sleep 0.1; done",
        file = file.display()
    )
}

fn touch(file: &Path) {
    fs::write(file, b"").unwrap_or_else(|err| panic!("cannot create {}: {err}", file.display()));
}

/// A `record --containers` whose recorder reaches dockerd only through a proxy socket.
struct ProxiedRecording {
    dir: PathBuf,
    socket: PathBuf,
    profiles: PathBuf,
    reports: PathBuf,
}

impl ProxiedRecording {
    fn new(session: &Session) -> Self {
        let dir = session.path().to_owned();
        Self {
            socket: dir.join("docker-proxy.sock"),
            profiles: dir.join("profiles"),
            reports: dir.join("reports"),
            dir,
        }
    }

    /// A file the script and the test signal each other with.
    fn marker(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The proxy, its connections logged to `proxy-N.log`. Only the recorder may connect to it:
    /// a connection is how the test knows the recorder is back.
    fn proxy(&self, n: u32) -> Proxy {
        Proxy::start(&self.socket, &self.dir.join(format!("proxy-{n}.log")))
    }

    /// Starts `record --containers -o DIR/profiles --report-dir DIR/reports -- sh -c SCRIPT`, the
    /// recorder's `DOCKER_HOST` at the proxy and the script's at the real socket.
    fn start(&self, lines: &[String]) -> Running {
        let script = [
            "set -e".to_owned(),
            // CMD inherits the recorder's DOCKER_HOST; its docker CLI talks to dockerd directly.
            format!("export DOCKER_HOST=unix://{DOCKER_SOCKET}"),
        ]
        .iter()
        .chain(lines)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
        let mut command = profiler_command(["record", "--containers"]);
        command
            .arg("-o")
            .arg(&self.profiles)
            .arg("--report-dir")
            .arg(&self.reports)
            .args(["--", "sh", "-c", &script])
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()));
        spawn(&mut command)
    }

    /// The profile files written, sorted.
    fn profile_files(&self) -> Vec<String> {
        let mut written: Vec<String> = fs::read_dir(&self.profiles)
            .expect("read the profile directory")
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        written
    }

    fn report(&self, stem: &str) -> Report {
        Report::read(&self.reports.join(format!("{stem}.report.json")))
    }
}

/// The `docker run` line of a one-shot busybox container.
fn docker_run(name: &str, command: &[&str]) -> String {
    DockerRun::named(name).shell_line(BUSYBOX, command)
}

/// The report's warnings about an API outage.
fn outage_warnings(report: &Report) -> Vec<String> {
    let warnings = report.json["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    warnings
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("the Docker API was unreachable"))
        .map(str::to_owned)
        .collect()
}

/// The summary's line about the outage.
fn outage_line(output: &Output) -> &str {
    output
        .stderr
        .lines()
        .find(|line| line.contains("FAILED: the Docker API was unreachable"))
        .unwrap_or_else(|| panic!("the summary does not mention the outage\n{output}"))
}

/// Container A runs before the outage, B runs and ends while the recorder cannot reach the API,
/// C runs after it answers again. All three get a profile under their real names; only B's report
/// warns (its name and image come from the events the daemon replayed, its seccomp mode is
/// unknown); the summary names the outage; `record` exits 4.
#[test]
fn the_docker_api_lost_and_regained_mid_recording() {
    let mut session = Session::begin("faults");
    let names = ["a", "b", "c"].map(|role| session.container(role));
    let recording = ProxiedRecording::new(&session);
    let mut proxy = recording.proxy(1);
    let [a_done, api_down, b_done, api_up] =
        ["a-done", "api-down", "b-done", "api-up"].map(|m| recording.marker(m));
    let running = recording.start(&[
        docker_run(&names[0], &["true"]),
        format!("touch {}", a_done.display()),
        await_file(&api_down),
        docker_run(&names[1], &["sleep", "0.3"]),
        format!("touch {}", b_done.display()),
        await_file(&api_up),
        docker_run(&names[2], &["true"]),
    ]);

    wait_for("container A to finish", TIMEOUT, || a_done.exists());
    let lost = Instant::now();
    proxy.stop();
    touch(&api_down);
    wait_for("container B to finish", TIMEOUT, || b_done.exists());
    std::thread::sleep(OUTAGE.saturating_sub(lost.elapsed()));
    let proxy = recording.proxy(2);
    // C starts only once the recorder is back, so it alone must carry no doubt. The back-off
    // retries at least every 2 s.
    proxy.wait_for_a_client(TIMEOUT);
    touch(&api_up);

    let output = running.wait(LOAD_TIMEOUT);
    output.assert_code(4);
    let expected: Vec<String> = names.iter().map(|name| format!("{name}.json")).collect();
    assert_eq!(
        recording.profile_files(),
        expected,
        "one profile per real name\n{output}"
    );
    let b = recording.report(&names[1]);
    let container = &b.run()["container"];
    assert_eq!(container["name"], names[1].as_str(), "{:#}", b.json);
    assert_eq!(
        container["image"], BUSYBOX,
        "the image from B's events\n{:#}",
        b.json
    );
    assert_eq!(container["seccomp"], "unknown", "{:#}", b.json);
    let warnings = outage_warnings(&b);
    assert!(
        warnings.len() == 1 && warnings[0].contains("come from Docker's events"),
        "B's report says what is uncertain: {warnings:?}\n{output}"
    );
    for name in [&names[0], &names[2]] {
        let report = recording.report(name);
        assert_eq!(
            outage_warnings(&report),
            Vec::<String>::new(),
            "{name} was fully known\n{output}"
        );
        assert_eq!(report.run()["container"]["seccomp"], "default", "{name}");
    }
    let summary = outage_line(&output);
    assert!(
        summary.contains(" to ")
            && summary.contains(names[1].as_str())
            && !summary.contains(names[2].as_str()),
        "the summary names the outage and the container left uncertain: {summary}"
    );
    assert!(
        output.stderr.contains("3 container(s) recorded"),
        "{output}"
    );
}

/// The API is lost for good while B runs: nothing can name B, so its profile is named by the
/// short id in its cgroup path, its report says so and that its end was noticed late, the summary
/// says the outage lasted until the recording ended, and `record` exits 4.
#[test]
fn the_docker_api_lost_for_good() {
    let mut session = Session::begin("faultsgone");
    let names = ["a", "b"].map(|role| session.container(role));
    let recording = ProxiedRecording::new(&session);
    let mut proxy = recording.proxy(1);
    let [a_done, api_down, cid] = ["a-done", "api-down", "b.cid"].map(|m| recording.marker(m));
    let b_run = DockerRun::named(&names[1])
        .options(["--cidfile".into(), cid.clone().into_os_string()])
        .shell_line(BUSYBOX, &["sleep", "0.3"]);
    let running = recording.start(&[
        docker_run(&names[0], &["true"]),
        format!("touch {}", a_done.display()),
        await_file(&api_down),
        b_run,
    ]);

    wait_for("container A to finish", TIMEOUT, || a_done.exists());
    proxy.stop();
    touch(&api_down);

    let output = running.wait(LOAD_TIMEOUT);
    output.assert_code(4);
    let id = fs::read_to_string(&cid).expect("B's id file");
    let short_id = id.trim().get(..12).expect("a 64-hex id").to_owned();
    let mut expected = vec![format!("{}.json", names[0]), format!("{short_id}.json")];
    expected.sort();
    assert_eq!(
        recording.profile_files(),
        expected,
        "B is named by the short id of its cgroup path\n{output}"
    );
    let b = recording.report(&short_id);
    let warnings = outage_warnings(&b);
    assert!(
        warnings.len() == 1
            && warnings[0].contains("until the recording ended")
            && warnings[0].contains("its name is its short id")
            && warnings[0].contains("its end was noticed late"),
        "B's report says what is uncertain: {warnings:?}\n{output}"
    );
    assert_eq!(
        outage_warnings(&recording.report(&names[0])),
        Vec::<String>::new()
    );
    let summary = outage_line(&output);
    assert!(
        summary.contains("until the recording ended") && summary.contains(&short_id),
        "{summary}"
    );
}

/// The API answers again just before CMD ends, between two attempts of the recorder's back-off:
/// the recorder tries once more at the end, so B, which ran during the outage, is still named from
/// the events the daemon kept, and the outage is reported as regained.
#[test]
fn the_docker_api_back_just_before_the_end() {
    let mut session = Session::begin("faultsend");
    let names = ["a", "b"].map(|role| session.container(role));
    let recording = ProxiedRecording::new(&session);
    let mut proxy = recording.proxy(1);
    let [a_done, api_down, b_done, api_up] =
        ["a-done", "api-down", "b-done", "api-up"].map(|m| recording.marker(m));
    let running = recording.start(&[
        docker_run(&names[0], &["true"]),
        format!("touch {}", a_done.display()),
        await_file(&api_down),
        docker_run(&names[1], &["sleep", "0.3"]),
        format!("touch {}", b_done.display()),
        await_file(&api_up),
    ]);

    wait_for("container A to finish", TIMEOUT, || a_done.exists());
    proxy.stop();
    touch(&api_down);
    wait_for("container B to finish", TIMEOUT, || b_done.exists());
    let _proxy = recording.proxy(2);
    touch(&api_up);

    let output = running.wait(LOAD_TIMEOUT);
    output.assert_code(4);
    let expected: Vec<String> = names.iter().map(|name| format!("{name}.json")).collect();
    assert_eq!(recording.profile_files(), expected, "{output}");
    let warnings = outage_warnings(&recording.report(&names[1]));
    assert!(
        warnings.len() == 1 && warnings[0].contains("come from Docker's events"),
        "{warnings:?}\n{output}"
    );
    let summary = outage_line(&output);
    assert!(
        !summary.contains("until the recording ended"),
        "the API was back: {summary}"
    );
}
