//! Faults outside the recorder that it must survive and report: the Docker API lost and regained
//! in the middle of `record --containers`. The recorder reaches dockerd through a proxy socket
//! (`socat`, with `DOCKER_HOST` pointing at it) that the test kills and restarts while CMD runs;
//! CMD's own docker CLI uses the real socket, so the containers run as if nothing happened. Every
//! container must still get its profile under its real name, the report of a container whose
//! metadata the outage left uncertain must say so, and the exit code must say that the run was
//! degraded (4).

use std::{
    fs,
    os::unix::{net::UnixStream, process::CommandExt as _},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use seccomp_profiler_tests::{Report, profiler_command, spawn};

use crate::support::{BUSYBOX, LOAD_TIMEOUT, Session, TIMEOUT};

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

/// Polls `ready` every 50 ms for up to `timeout`.
fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
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

/// Container A runs before the outage, B runs and ends while the recorder cannot reach the API,
/// C runs after it answers again. All three get a profile under their real names; only B's report
/// warns (its name and image come from the events the daemon replayed, its seccomp mode is
/// unknown); the summary names the outage; `record` exits 4.
#[test]
fn the_docker_api_lost_and_regained_mid_recording() {
    let mut session = Session::begin("faults");
    let names = ["a", "b", "c"].map(|role| session.container(role));
    let dir = session.path().to_owned();
    let socket = dir.join("docker-proxy.sock");
    let mut proxy = Proxy::start(&socket, &dir.join("proxy-1.log"));
    assert!(
        UnixStream::connect(&socket).is_ok(),
        "the proxy does not accept connections"
    );

    let marker = |name: &str| dir.join(name);
    let (a_done, api_down, b_done, api_up) = (
        marker("a-done"),
        marker("api-down"),
        marker("b-done"),
        marker("api-up"),
    );
    let run = |name: &str, command: &[&str]| {
        crate::support::DockerRun::named(name).shell_line(BUSYBOX, command)
    };
    let script = [
        "set -e".to_owned(),
        // CMD inherits the recorder's DOCKER_HOST; its docker CLI talks to dockerd directly.
        format!("export DOCKER_HOST=unix://{DOCKER_SOCKET}"),
        run(&names[0], &["true"]),
        format!("touch {}", a_done.display()),
        await_file(&api_down),
        run(&names[1], &["sleep", "0.3"]),
        format!("touch {}", b_done.display()),
        await_file(&api_up),
        run(&names[2], &["true"]),
    ]
    .join("\n");

    let profiles = dir.join("profiles");
    let reports = dir.join("reports");
    let mut command = profiler_command(["record", "--containers"]);
    command
        .arg("-o")
        .arg(&profiles)
        .arg("--report-dir")
        .arg(&reports)
        .args(["--", "sh", "-c", &script])
        .env("DOCKER_HOST", format!("unix://{}", socket.display()));
    let recording = spawn(&mut command);

    wait_for("container A to finish", TIMEOUT, || a_done.exists());
    let lost = Instant::now();
    proxy.stop();
    touch(&api_down);
    wait_for("container B to finish", TIMEOUT, || b_done.exists());
    std::thread::sleep(OUTAGE.saturating_sub(lost.elapsed()));
    let proxy = Proxy::start(&socket, &dir.join("proxy-2.log"));
    // C starts only once the recorder is back, so it alone must carry no doubt. The back-off
    // retries at least every 2 s.
    proxy.wait_for_a_client(TIMEOUT);
    touch(&api_up);

    let output = recording.wait(LOAD_TIMEOUT);
    output.assert_code(4);
    let mut written: Vec<String> = fs::read_dir(&profiles)
        .expect("read the profile directory")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let expected: Vec<String> = names.iter().map(|name| format!("{name}.json")).collect();
    assert_eq!(written, expected, "one profile per real name\n{output}");

    let report = |name: &str| Report::read(&reports.join(format!("{name}.report.json")));
    let outage_warnings = |report: &Report| -> Vec<String> {
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
    };
    let b = report(&names[1]);
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
        let report = report(name);
        assert_eq!(
            outage_warnings(&report),
            Vec::<String>::new(),
            "{name} was fully known\n{output}"
        );
        assert_eq!(report.run()["container"]["seccomp"], "default", "{name}");
    }
    let summary = output
        .stderr
        .lines()
        .find(|line| line.contains("FAILED: the Docker API was unreachable"))
        .unwrap_or_else(|| panic!("the summary does not mention the outage\n{output}"));
    assert!(
        summary.contains(names[1].as_str()) && !summary.contains(names[2].as_str()),
        "the summary names the container left uncertain: {summary}"
    );
    assert!(
        output.stderr.contains("3 container(s) recorded"),
        "{output}"
    );
}
