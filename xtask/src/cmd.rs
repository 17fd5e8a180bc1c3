//! Running external commands, in one place: every command starts from the repository root with
//! `$CARGO_HOME/bin` on `PATH` (where `cargo install bpf-linker` puts it), is echoed as `$ …`
//! when its output is meant for the reader, and a failure becomes an error naming the command and
//! its exit status. What to run, and in which order, is decided by the task modules, not here.

use std::env;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;

use anyhow::{Context, Result, bail};

use crate::workspace;

/// A command that runs from the repository root, with `$CARGO_HOME/bin` on `PATH`.
pub fn new(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace::root());
    if let Some(path) = path_with_cargo_bin() {
        cmd.env("PATH", path);
    }
    cmd
}

/// The cargo that runs us (`$CARGO`), so nested builds use the same toolchain even under `sudo`
/// where `~/.cargo/bin` may not be on `PATH`.
pub fn cargo() -> Command {
    new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `PATH` plus `$CARGO_HOME/bin` at the end when it is missing; `None` when nothing to add.
fn path_with_cargo_bin() -> Option<OsString> {
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let bin = home.join("bin");
    let path = env::var_os("PATH").unwrap_or_default();
    if env::split_paths(&path).any(|p| p == bin) {
        return None;
    }
    env::join_paths(env::split_paths(&path).chain([bin])).ok()
}

/// The command as a reader would type it from the repository root: explicit environment first
/// (except `PATH`), paths under the root made relative, `$CARGO` shown as `cargo`.
pub fn display(cmd: &Command) -> String {
    let mut words = Vec::new();
    for (key, value) in cmd.get_envs() {
        if key == "PATH" {
            continue;
        }
        if let Some(value) = value {
            words.push(format!(
                "{}={}",
                key.to_string_lossy(),
                quote(&relative(value))
            ));
        }
    }
    let program = cmd.get_program();
    if Some(program) == env::var_os("CARGO").as_deref() {
        words.push("cargo".to_owned());
    } else {
        words.push(quote(&relative(program)));
    }
    words.extend(cmd.get_args().map(|arg| quote(&relative(arg))));
    words.join(" ")
}

/// `word` with the repository root's prefix removed, as [`display`] shows paths.
pub fn relative(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let root = format!("{}/", workspace::root().display());
    match word.strip_prefix(&root) {
        Some(rest) => rest.to_owned(),
        None => word.into_owned(),
    }
}

fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Echo the command, run it with inherited stdio and fail unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = run_status(cmd)?;
    check(cmd, status)
}

/// Echo the command and run it with inherited stdio; the caller judges the exit status.
pub fn run_status(cmd: &mut Command) -> Result<ExitStatus> {
    let shown = display(cmd);
    println!("$ {shown}");
    io::stdout().flush().ok();
    cmd.status().with_context(|| format!("start `{shown}`"))
}

/// Run without echo, output captured, and fail (showing its stderr) unless it exits 0.
pub fn output(cmd: &mut Command) -> Result<Output> {
    let shown = display(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("start `{shown}`"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "`{shown}` exited with {}: {}",
            out.status,
            stderr.trim_end()
        );
    }
    Ok(out)
}

/// Whether the command can be started and exits 0; all output discarded. For probes.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Echo the command and run it, passing its stdout and stderr through while also keeping them:
/// returns the exit status and everything it printed (stdout then stderr).
pub fn run_tee(cmd: &mut Command) -> Result<(ExitStatus, String)> {
    let shown = display(cmd);
    println!("$ {shown}");
    io::stdout().flush().ok();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start `{shown}`"))?;
    let stdout = child.stdout.take().map(|s| tee(s, io::stdout));
    let stderr = child.stderr.take().map(|s| tee(s, io::stderr));
    let status = child
        .wait()
        .with_context(|| format!("wait for `{shown}`"))?;
    let mut text = String::new();
    for copier in [stdout, stderr].into_iter().flatten() {
        text.push_str(&copier.join().unwrap_or_default());
    }
    Ok((status, text))
}

fn tee<R, W, F>(mut from: R, to: F) -> thread::JoinHandle<String>
where
    R: Read + Send + 'static,
    W: Write,
    F: Fn() -> W + Send + 'static,
{
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut out = to();
            out.write_all(&buf[..n]).ok();
            out.flush().ok();
            kept.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Turn a non-zero exit status into an error naming the command.
pub fn check(cmd: &Command, status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        bail!("`{}` exited with {status}", display(cmd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_makes_paths_relative_and_quotes() {
        let mut cmd = Command::new(workspace::root().join("target/release/x"));
        cmd.env("K", workspace::root().join("target"))
            .args(["a b", "--flag", "it's"]);
        assert_eq!(
            display(&cmd),
            r"K=target target/release/x 'a b' --flag 'it'\''s'"
        );
    }
}
