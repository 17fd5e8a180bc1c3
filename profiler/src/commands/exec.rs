//! `seccomp-profiler exec --profile FILE -- CMD [ARGS]`: runs CMD under a profile the way a
//! container runtime applies it, to prove a profile of a plain command: the profile is checked and
//! compiled with runc's semantics (`Profile::compile`), CMD is resolved and its argv/envp built,
//! then the filter is loaded and execve follows at once. Like runc with no-new-privileges off, the
//! filter is loaded while the process still has its privileges, and CMD's own execve runs under it.
//!
//! It does not record anything, fork, or change user, namespaces or capabilities.
//!
//! Exit codes: CMD's own once it has started (this process becomes CMD); 2 when the profile is
//! invalid, CMD is not found or not executable, or the kernel refuses the filter; 126 when execve
//! itself fails after the filter is loaded (typically because the profile denies execve).

use std::{
    ffi::{CString, OsStr, OsString},
    os::unix::ffi::{OsStrExt as _, OsStringExt as _},
    path::{Path, PathBuf},
};

use anyhow::Context as _;

use crate::{
    cli::ExecArgs,
    exit::{self, InputError},
};

/// The exit status when execve fails under the filter, as shells use for "found but could not run".
const EXEC_FAILED: i32 = 126;

/// glibc execvp's search path when PATH is unset (confstr _CS_PATH).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

pub fn run(args: ExecArgs) -> anyhow::Result<i32> {
    let profile_path = &args.profile;
    let profile = super::load_profile(profile_path)?;
    let filter = profile.compile().with_context(|| {
        format!(
            "{} does not compile into a seccomp filter",
            profile_path.display()
        )
    })?;
    let allowed = profile.allowed_names();
    if !profile.default_action.permits()
        && !["exit_group", "exit"].iter().any(|n| allowed.contains(*n))
    {
        // glibc's _exit tries exit_group, then exit, then executes an illegal instruction: under
        // this profile every process, CMD and this one alike, dies with SIGSEGV or spins instead
        // of exiting, and no exit code could say what happened.
        return exit::input(format!(
            "{} allows neither exit_group nor exit, so no process can exit under it (it would die \
             with SIGSEGV instead); allow exit_group",
            profile_path.display()
        ));
    }
    if !profile.default_action.permits() && !allowed.contains("execve") {
        log::warn!(
            "{} does not allow execve unconditionally: CMD will probably fail to start \
             (exit {EXEC_FAILED})",
            profile_path.display()
        );
    }

    let Some((program, rest)) = args.cmd.split_first() else {
        return exit::input("no command given; pass it after `--`");
    };
    let path = resolve_command(program, std::env::var_os("PATH").as_deref())?;

    // Everything execve and the error report need is built now: once the filter is loaded, the
    // profile may deny whatever an allocation or std's Command would do (mmap, brk, rt_sigaction…).
    let c_path = to_cstring(path.as_os_str())?;
    let argv: Vec<CString> = std::iter::once(program)
        .chain(rest)
        .map(|arg| to_cstring(arg))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(key, value)| {
            let mut pair = key;
            pair.push("=");
            pair.push(value);
            to_cstring(&pair)
        })
        .collect::<Result<_, _>>()?;
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);
    let mut report = ExecFailureReport::new(&path, profile_path);

    filter.load().map_err(|err| {
        let errno = err
            .sysrawrc()
            .map(|rc| std::io::Error::from_raw_os_error(-rc));
        let detail = errno.map_or_else(|| err.to_string(), |errno| errno.to_string());
        InputError(format!(
            "the kernel refused the filter of {}: {detail}; it needs CAP_SYS_ADMIN or \
             no_new_privs, and at most 4096 BPF instructions",
            profile_path.display()
        ))
    })?;

    // SAFETY: c_path, argv_ptrs and envp_ptrs are NUL-terminated strings and NULL-terminated
    // pointer arrays whose backing CStrings (argv, envp) outlive the call. On success execve does
    // not return.
    unsafe {
        libc::execve(c_path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
    }
    // Reading errno is a load from thread-local memory, not a syscall.
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    report.write_and_exit(errno);
}

/// Resolves CMD as execvp would: a name with a slash is a path, anything else is searched in PATH
/// (an empty PATH entry is the current directory).
fn resolve_command(program: &OsStr, path_var: Option<&OsStr>) -> Result<PathBuf, InputError> {
    if program.is_empty() {
        return Err(InputError(
            "the command is an empty string; pass a program name or path after `--`".to_owned(),
        ));
    }
    if program.as_bytes().contains(&b'/') {
        let path = PathBuf::from(program);
        return match check_executable(&path) {
            Ok(()) => Ok(path),
            Err(problem) => Err(InputError(format!(
                "cannot run {}: {problem}",
                path.display()
            ))),
        };
    }
    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut not_executable = None;
    for dir in std::env::split_paths(path_var) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(program);
        match check_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Problem::Missing) => {}
            Err(problem) => {
                not_executable.get_or_insert((candidate, problem));
            }
        }
    }
    match not_executable {
        Some((candidate, problem)) => Err(InputError(format!(
            "cannot run {}: {problem}",
            candidate.display()
        ))),
        None => Err(InputError(format!(
            "{} not found in PATH ({}); pass its full path or install it",
            Path::new(program).display(),
            Path::new(path_var).display()
        ))),
    }
}

#[derive(Debug)]
enum Problem {
    Missing,
    Directory,
    NotExecutable,
    Other(std::io::Error),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing => write!(f, "no such file; check the path"),
            Problem::Directory => write!(f, "it is a directory; pass the program inside it"),
            Problem::NotExecutable => {
                write!(
                    f,
                    "it is not executable; `chmod +x` it or pass another program"
                )
            }
            Problem::Other(err) => write!(f, "{err}; check the path and its permissions"),
        }
    }
}

fn check_executable(path: &Path) -> Result<(), Problem> {
    let meta = std::fs::metadata(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => Problem::Missing,
        _ => Problem::Other(err),
    })?;
    if meta.is_dir() {
        return Err(Problem::Directory);
    }
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Problem::Missing)?;
    // access(X_OK) asks the kernel with this process's credentials, so root needs an x bit too,
    // exactly as execve will.
    // SAFETY: c_path is a valid NUL-terminated string.
    if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } != 0 {
        return Err(Problem::NotExecutable);
    }
    Ok(())
}

fn to_cstring(text: &OsStr) -> Result<CString, InputError> {
    CString::new(OsString::from(text).into_vec()).map_err(|_| {
        InputError(format!(
            "{:?} contains a NUL byte, which execve cannot pass; remove it",
            Path::new(text)
        ))
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The message for a failed execve, prepared before the filter is loaded and completed without
/// allocating: after the load the only syscalls made are one write(2) and exit_group(2), and the
/// profile may deny even those (then the exit is still 126, or SIGSYS under a KILL default).
struct ExecFailureReport {
    buffer: Vec<u8>,
}

impl ExecFailureReport {
    fn new(program: &Path, profile: &Path) -> ExecFailureReport {
        let prefix = format!(
            "error: cannot start {} under {}: execve failed with ",
            program.display(),
            profile.display()
        );
        let mut buffer = Vec::with_capacity(prefix.len() + 256);
        buffer.extend_from_slice(prefix.as_bytes());
        ExecFailureReport { buffer }
    }

    /// Appends without ever growing the buffer (growing would call the allocator).
    fn push(&mut self, bytes: &[u8]) {
        let room = self.buffer.capacity() - self.buffer.len();
        self.buffer
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn complete(&mut self, errno: i32) {
        self.push(errno_name(errno).as_bytes());
        self.push(b" (errno ");
        let mut digits = [0u8; 12];
        self.push(format_decimal(errno, &mut digits));
        self.push(b")");
        self.push(match errno {
            libc::EPERM | libc::EACCES | libc::ENOSYS => {
                b"; the profile probably denies execve: allow it (every workload needs it)\n"
            }
            _ => b"\n",
        });
    }

    fn write_and_exit(&mut self, errno: i32) -> ! {
        self.complete(errno);
        // SAFETY: writes bytes from a live buffer to fd 2, then ends the process; no allocation,
        // no locks, no other syscall (eprintln! could take locks and make syscalls the profile
        // denies).
        unsafe {
            libc::write(2, self.buffer.as_ptr().cast(), self.buffer.len());
            libc::_exit(EXEC_FAILED)
        }
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ELIBBAD => "ELIBBAD",
        _ => "an error",
    }
}

/// Writes `value` in decimal into `buf` and returns the digits, without allocating.
fn format_decimal(value: i32, buf: &mut [u8; 12]) -> &[u8] {
    let mut n = value.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use crate::profile::{Action, Profile};

    #[test]
    fn resolves_through_path() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::write(&data, "").unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path_var =
            std::env::join_paths(["/nonexistent", dir.path().to_str().unwrap()]).unwrap();

        assert_eq!(
            resolve_command(OsStr::new("tool"), Some(&path_var)).unwrap(),
            tool
        );
        let err = resolve_command(OsStr::new("data"), Some(&path_var)).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{err}");
        let err = resolve_command(OsStr::new("nope"), Some(&path_var)).unwrap_err();
        assert!(err.to_string().contains("nope not found in PATH"), "{err}");
        assert!(err.to_string().contains("full path"), "{err}");

        assert_eq!(resolve_command(tool.as_os_str(), None).unwrap(), tool);
        let err = resolve_command(dir.path().join("missing").as_os_str(), None).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
        let err = resolve_command(dir.path().as_os_str(), None).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        assert!(resolve_command(OsStr::new(""), None).is_err());
        assert!(resolve_command(OsStr::new("sh"), None).is_ok());
    }

    #[test]
    fn failure_report_never_grows() {
        let mut report = ExecFailureReport::new(Path::new("/bin/true"), Path::new("p.json"));
        let capacity = report.buffer.capacity();
        report.complete(libc::EPERM);
        assert_eq!(report.buffer.capacity(), capacity);
        let text = String::from_utf8(report.buffer).unwrap();
        assert!(
            text.starts_with(
                "error: cannot start /bin/true under p.json: execve failed with EPERM (errno 1)"
            ),
            "{text}"
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn decimal_without_allocation() {
        let mut buf = [0u8; 12];
        assert_eq!(format_decimal(0, &mut buf), b"0");
        assert_eq!(format_decimal(38, &mut buf), b"38");
        assert_eq!(format_decimal(i32::MIN, &mut buf), b"-2147483648");
    }

    #[test]
    fn bad_profile_exits_with_input_before_running() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("p.json");
        let notify = Profile {
            default_action: Action::Notify,
            ..Profile::default()
        };
        std::fs::write(&profile, notify.to_json()).unwrap();
        let err = run(ExecArgs {
            profile,
            cmd: vec!["true".into()],
        })
        .unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);

        let profile = dir.path().join("ok.json");
        let allow = Profile {
            default_action: Action::Allow,
            ..Profile::default()
        };
        std::fs::write(&profile, allow.to_json()).unwrap();
        let err = run(ExecArgs {
            profile,
            cmd: vec!["no-such-command-xyz".into()],
        })
        .unwrap_err();
        assert_eq!(exit::code_of(&err), exit::INPUT);
        assert!(format!("{err:#}").contains("not found in PATH"), "{err:#}");
    }
}
