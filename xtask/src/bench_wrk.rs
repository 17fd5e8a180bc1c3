//! The server stage of `cargo xtask bench` (issue 13): Debian's nginx on 127.0.0.1 loaded by
//! `wrk` for a few seconds, (a) plain, (b) under `noop-tracer`, (c) under `seccomp-profiler
//! record`, interleaved over rounds. Each round gives requests/s for the three; the lines are
//! recorded ÷ plain and floor ÷ plain, paired per round.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{bench_host, cmd, workspace};

const PORT: u16 = 18_913;

/// Requests/s per round for plain, floor and recorded nginx.
pub struct Wrk {
    pub plain: Vec<f64>,
    pub floor: Vec<f64>,
    pub recorded: Vec<f64>,
}

pub fn measure(profiler: &Path, noop_tracer: &Path, rounds: usize, seconds: u64) -> Result<Wrk> {
    let dir = prepare()?;
    let conf = dir.join("nginx.conf");
    let nginx = |prefix: &mut Command| {
        prefix
            .args(["/usr/sbin/nginx", "-p"])
            .arg(&dir)
            .arg("-c")
            .arg(&conf);
    };
    println!(
        "xtask: bench: {rounds} rounds of wrk against nginx, {seconds} s each (plain, noop-tracer, record)"
    );
    let mut wrk = Wrk {
        plain: Vec::new(),
        floor: Vec::new(),
        recorded: Vec::new(),
    };
    for round in 1..=rounds {
        let mut a = cmd::new("env");
        nginx(&mut a);
        let mut b = cmd::new(noop_tracer);
        b.arg("--");
        nginx(&mut b);
        let mut c = cmd::new(profiler);
        c.args(["record", "-o", "/dev/null", "--"]);
        nginx(&mut c);
        let plain = under(&mut a, &dir, seconds)?;
        let floor = under(&mut b, &dir, seconds)?;
        let recorded = under(&mut c, &dir, seconds)?;
        bench_host::settle()?;
        println!(
            "  round {round}/{rounds}: plain {plain:.0} req/s, noop-tracer {floor:.0}, record {recorded:.0}"
        );
        wrk.plain.push(plain);
        wrk.floor.push(floor);
        wrk.recorded.push(recorded);
    }
    Ok(wrk)
}

/// A prefix and a one-page site of its own under target/xtask/bench-nginx.
fn prepare() -> Result<PathBuf> {
    let dir = workspace::scratch_dir()?.join("bench-nginx");
    fs::create_dir_all(dir.join("www")).with_context(|| format!("create {}", dir.display()))?;
    fs::write(
        dir.join("www/index.html"),
        "<html><body>bench</body></html>\n",
    )
    .context("write the bench page")?;
    let conf = format!(
        "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n\
         pid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {dir}/tmp;\n  \
         server {{ listen 127.0.0.1:{PORT}; root {dir}/www; }}\n}}\n",
        dir = dir.display()
    );
    fs::write(dir.join("nginx.conf"), conf).context("write the bench nginx.conf")?;
    Ok(dir)
}

/// Starts `c` (nginx, maybe wrapped by a tracer), loads it with wrk, stops nginx by its master's
/// pid file, waits for `c`. Returns requests/s.
fn under(c: &mut Command, dir: &Path, seconds: u64) -> Result<f64> {
    let what = cmd::display(c);
    let _ = fs::remove_file(dir.join("nginx.pid"));
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start `{what}`"))?;
    let result = load(&mut child, dir, seconds, &what);
    stop(&mut child, dir);
    result
}

fn load(child: &mut Child, dir: &Path, seconds: u64, what: &str) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", PORT)).is_err() || !dir.join("nginx.pid").exists() {
        if let Some(status) = child.try_wait()? {
            bail!(
                "`{what}` exited ({status}) before nginx listened on 127.0.0.1:{PORT}; see {}",
                dir.join("error.log").display()
            );
        }
        if Instant::now() > deadline {
            bail!("nginx of `{what}` did not listen on 127.0.0.1:{PORT} within 60 s");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let mut w = cmd::new("wrk");
    w.args(["-t1", "-c8", &format!("-d{seconds}s")])
        .arg(format!("http://127.0.0.1:{PORT}/index.html"));
    let out = cmd::output(&mut w)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    parse_requests_per_sec(&stdout).with_context(|| {
        format!(
            "find `Requests/sec:` in the output of `{}`:\n{}",
            cmd::display(&w),
            stdout
        )
    })
}

fn stop(child: &mut Child, dir: &Path) {
    let master = fs::read_to_string(dir.join("nginx.pid"))
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok());
    match master {
        // SAFETY: kill with the pid of the nginx master this bench started.
        Some(pid) => unsafe {
            libc::kill(pid, libc::SIGTERM);
        },
        None => {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
}

/// The float in wrk's `Requests/sec:  12345.67` line.
fn parse_requests_per_sec(stdout: &str) -> Option<f64> {
    stdout.lines().find_map(|line| {
        line.trim()
            .strip_prefix("Requests/sec:")?
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 1s test @ http://127.0.0.1:18913/\n  1 threads and 8 connections\n\
                   Requests/sec:  23456.78\nTransfer/sec:      5.67MB\n";
        assert_eq!(parse_requests_per_sec(out), Some(23456.78));
        assert_eq!(parse_requests_per_sec("Requests/sec: n/a"), None);
    }
}
