//! Starts the recorded command: resolves it on PATH, puts the child in the recording cgroup,
//! switches to the target user and execs CMD.
//!
//! CMD's execve is the gate (design.md §2; `Target::GATE_ON_COMMAND_EXEC`): the eBPF side counts
//! the child from that execve on, so nothing the launcher does before it (joining the cgroup,
//! setgroups/setgid/setuid, no_new_privs) lands in the profile, and execve does. That is the
//! point where `exec --profile` installs the profile. (Until issue 13 the launcher installed an
//! allow-all seccomp filter for the gate, which every recorded syscall then paid for.) It does not
//! wait for or signal the child; `commands::record` does that.

use std::{
    ffi::{CString, OsStr, OsString},
    fs::File,
    io,
    os::unix::{
        ffi::OsStrExt as _, fs::PermissionsExt as _, io::AsRawFd as _, process::CommandExt as _,
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LaunchError {
    #[error("command not found: {0:?} (not an executable file, and not found on PATH)")]
    NotFound(OsString),
    #[error("unknown user {0:?}: give a user name or a numeric uid that exists on this machine")]
    UnknownUser(String),
    #[error("cannot start {cmd:?}: {err}")]
    Spawn { cmd: OsString, err: io::Error },
}

impl crate::exit::Coded for LaunchError {
    fn exit_code(&self) -> i32 {
        crate::exit::INPUT
    }
}

/// Who CMD runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

/// Finds `program` the way execvp would: as a path if it contains a slash, else on PATH.
pub fn resolve_program(program: &OsStr) -> Result<PathBuf, LaunchError> {
    let is_executable = |path: &Path| {
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.as_bytes().contains(&b'/') {
        let path = PathBuf::from(program);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(LaunchError::NotFound(program.into()))
        };
    }
    let path_var =
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| LaunchError::NotFound(program.into()))
}

/// The user CMD should run as: `--user`, else the invoking user under sudo, else nobody in
/// particular (None: stay who we are).
pub fn choose_user(requested: Option<&str>) -> Result<Option<RunAs>, LaunchError> {
    if let Some(spec) = requested {
        return lookup_user(spec).map(Some);
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    match std::env::var("SUDO_UID")
        .ok()
        .and_then(|uid| uid.parse::<u32>().ok())
    {
        Some(uid) if euid == 0 && uid != 0 => lookup_user(&uid.to_string()).map(Some),
        _ => Ok(None),
    }
}

fn lookup_user(spec: &str) -> Result<RunAs, LaunchError> {
    let unknown = || LaunchError::UnknownUser(spec.to_owned());
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid out-parameter.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = if let Ok(uid) = spec.parse::<u32>() {
        // SAFETY: buffers are valid and sized; result tells whether pwd was filled.
        unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        }
    } else {
        let name = CString::new(spec).map_err(|_| unknown())?;
        // SAFETY: as above.
        unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        }
    };
    if rc != 0 || result.is_null() {
        return Err(unknown());
    }
    // SAFETY: getpw*_r filled pwd with pointers into buf, which is still alive.
    let (name, home) = unsafe {
        (
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned(),
            PathBuf::from(OsStr::from_bytes(
                std::ffi::CStr::from_ptr(pwd.pw_dir).to_bytes(),
            )),
        )
    };
    let mut groups = vec![0 as libc::gid_t; 256];
    let mut count = groups.len() as libc::c_int;
    let cname = CString::new(name.clone()).map_err(|_| unknown())?;
    // SAFETY: groups has `count` slots; getgrouplist writes at most that many.
    let rc =
        unsafe { libc::getgrouplist(cname.as_ptr(), pwd.pw_gid, groups.as_mut_ptr(), &mut count) };
    groups.truncate(if rc < 0 { 0 } else { count as usize });
    if groups.is_empty() {
        groups.push(pwd.pw_gid);
    }
    Ok(RunAs {
        name,
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        groups,
        home,
    })
}

/// Whether the launcher sets no_new_privs: the kernel lets a process install a filter only with
/// CAP_SYS_ADMIN or no_new_privs, and a process that switched to a non-root user has neither; so
/// `exec --profile` as such a user must set it, and `record` sets it too, so that CMD is recorded
/// as it will run under its profile (a setuid binary does not gain privileges under it).
pub fn needs_no_new_privs(user: Option<&RunAs>) -> bool {
    // SAFETY: geteuid has no preconditions.
    user.is_some_and(|u| u.uid != 0) || unsafe { libc::geteuid() } != 0
}

/// Whether CMD is recorded from its execve (`record -- CMD`: its target has
/// `Target::GATE_ON_COMMAND_EXEC`, and it runs with no_new_privs when [`needs_no_new_privs`]), or
/// only joins its cgroup (the command that starts containers, which is not recorded but is stopped
/// with its cgroup).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Exec,
    None,
}

/// Spawns CMD in the cgroup whose `cgroup.procs` is `procs`, as `user`, with no_new_privs when
/// `gate` records it as a non-root user; CMD inherits stdin, stdout and stderr.
pub fn spawn(
    cmd: &[OsString],
    procs: &File,
    user: Option<&RunAs>,
    gate: Gate,
) -> Result<Child, LaunchError> {
    spawn_with_stdout(cmd, procs, user, gate, None)
}

/// [`spawn`], with CMD's stdout going to `stdout` when given (`record` without `-o` gives it the
/// recorder's stderr, so that its stdout carries only the profile).
pub fn spawn_with_stdout(
    cmd: &[OsString],
    procs: &File,
    user: Option<&RunAs>,
    gate: Gate,
    stdout: Option<Stdio>,
) -> Result<Child, LaunchError> {
    let program = resolve_program(&cmd[0])?;
    let mut command = Command::new(&program);
    command.arg0(&cmd[0]).args(&cmd[1..]);
    if let Some(stdout) = stdout {
        command.stdout(stdout);
    }
    if let Some(user) = user {
        command
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    let procs_fd = procs.as_raw_fd();
    let ids = user.map(|u| (u.uid, u.gid, u.groups.clone()));
    let no_new_privs = gate == Gate::Exec && needs_no_new_privs(user);
    // SAFETY: the closure runs in the forked child before execve and only makes raw syscalls
    // (write, setgroups, setgid, setuid, prctl) on data prepared before the fork: no allocation,
    // no locks.
    unsafe {
        command.pre_exec(move || {
            let check = |rc: libc::c_long| {
                if rc < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            check(libc::write(procs_fd, b"0".as_ptr().cast(), 1) as libc::c_long)?;
            if let Some((uid, gid, groups)) = &ids {
                check(libc::setgroups(groups.len(), groups.as_ptr()) as libc::c_long)?;
                check(libc::setgid(*gid) as libc::c_long)?;
                check(libc::setuid(*uid) as libc::c_long)?;
            }
            if no_new_privs {
                check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as libc::c_long)?;
            }
            Ok(())
        });
    }
    command.spawn().map_err(|err| LaunchError::Spawn {
        cmd: cmd[0].clone(),
        err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_on_path_and_by_path() {
        assert!(
            resolve_program(OsStr::new("sh"))
                .expect("sh on PATH")
                .is_absolute()
        );
        assert_eq!(
            resolve_program(OsStr::new("/bin/sh")).expect("path"),
            PathBuf::from("/bin/sh")
        );
        assert!(matches!(
            resolve_program(OsStr::new("no-such-cmd-xyz")),
            Err(LaunchError::NotFound(_))
        ));
        assert!(matches!(
            resolve_program(OsStr::new("/etc/passwd")),
            Err(LaunchError::NotFound(_))
        ));
    }

    #[test]
    fn looks_up_users() {
        let root = lookup_user("root").expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(lookup_user("0").expect("uid 0").name, "root");
        assert!(matches!(
            lookup_user("no-such-user-xyz"),
            Err(LaunchError::UnknownUser(_))
        ));
    }
}
