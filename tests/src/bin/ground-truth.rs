//! A workload whose syscall footprint is known in advance, for the end-to-end tests.
//!
//! It makes eight rare "marker" syscalls, two from each kind of task a recorder has to follow:
//! the main thread (`sysinfo`, `getpriority`), a second thread (`times`, `sched_getscheduler`), a
//! forked child that never execs (`getsid`, `getpgid`) and an exec'd child (`ioprio_get`,
//! `sched_getparam`). Each marker is made through `libc::syscall`, so no glibc wrapper or Rust
//! runtime path makes it on our behalf; `strace -f` of a plain run shows each marker exactly once,
//! and none of them anywhere else. Every task renames itself (`gt-thread`, `gt-fork`, `gt-exec`)
//! before its markers so a report's `first_comm` tells which task a syscall was seen in.
//!
//! With `--extra` it also calls `sched_get_priority_max(SCHED_OTHER)`, which it never calls
//! otherwise: under a profile recorded without `--extra` that call must be denied, and the process
//! says so and exits 3. Any other failed call is reported and exits 1. `--extra-ignored` makes the
//! same call and ignores its failure (exits 0 either way), the way many programs swallow an EPERM:
//! only a denial counter can tell that it was refused.
//!
//! The whole syscall set is meant to be the same on every run (the determinism test relies on it);
//! the one timing-dependent call, the futex of joining a thread, is made explicitly once.

use std::{ffi::CStr, io, process::Command};

/// The hidden first argument that makes the re-exec'd binary run the exec'd child's part.
const EXEC_CHILD: &str = "__ground-truth-exec-child";

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some(EXEC_CHILD) {
        exec_child();
        return;
    }
    let (extra, ignore_failure) = match first.as_deref() {
        None => (false, false),
        Some("--extra") => (true, false),
        Some("--extra-ignored") => (true, true),
        Some(other) => {
            eprintln!(
                "ground-truth: unknown argument {other:?} (usage: ground-truth [--extra | --extra-ignored])"
            );
            std::process::exit(2);
        }
    };

    // Main thread.
    let mut info = std::mem::MaybeUninit::<libc::sysinfo>::uninit();
    // SAFETY: sysinfo writes one `struct sysinfo` to the pointer, which points at one.
    check("sysinfo", unsafe {
        libc::syscall(libc::SYS_sysinfo, info.as_mut_ptr())
    });
    // SAFETY: getpriority takes two integers and touches no memory.
    check("getpriority", unsafe {
        libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0)
    });

    // Whether pthread_join() waits on a futex depends on whether gt-thread has already exited,
    // so futex would be in some recordings and not others (and a replay of one without it dies:
    // glibc aborts on an unexpected futex error). One explicit wake pins it into every run.
    let word = std::sync::atomic::AtomicU32::new(0);
    // SAFETY: FUTEX_WAKE only looks up waiters on the address of a live, aligned u32.
    check("futex", unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
            std::ptr::null::<libc::timespec>(),
        )
    });

    // A second thread of the same process.
    let thread = std::thread::Builder::new()
        .name("gt-thread".into())
        .spawn(|| {
            let mut tms = std::mem::MaybeUninit::<libc::tms>::uninit();
            // SAFETY: times writes one `struct tms` to the pointer, which points at one.
            check("times", unsafe {
                libc::syscall(libc::SYS_times, tms.as_mut_ptr())
            });
            // SAFETY: sched_getscheduler takes a pid (0 = this thread) and touches no memory.
            check("sched_getscheduler", unsafe {
                libc::syscall(libc::SYS_sched_getscheduler, 0)
            });
        })
        .unwrap_or_else(|err| fail("spawn a thread", err));
    if thread.join().is_err() {
        fail("join the thread", "it panicked");
    }

    fork_child();

    // A child that execs this binary again; it inherits nothing but the environment.
    let exe = std::env::current_exe().unwrap_or_else(|err| fail("find /proc/self/exe", err));
    let status = Command::new(exe)
        .arg(EXEC_CHILD)
        .status()
        .unwrap_or_else(|err| fail("run the exec'd child", err));
    if !status.success() {
        fail("run the exec'd child", status);
    }

    if extra {
        // SAFETY: sched_get_priority_max takes a policy number and touches no memory.
        let ret = unsafe { libc::syscall(libc::SYS_sched_get_priority_max, libc::SCHED_OTHER) };
        if ret < 0 && !ignore_failure {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EPERM) {
                println!("sched_get_priority_max: EPERM (denied by seccomp)");
                std::process::exit(3);
            }
            fail("sched_get_priority_max", err);
        }
    }
    println!(
        "ground-truth: all 8 markers made{}",
        if extra { ", plus --extra" } else { "" }
    );
}

/// Forks a child that makes only raw syscalls and `_exit`s, then waits for it.
fn fork_child() {
    // SAFETY: the only other thread has been joined; the child calls nothing but raw syscalls
    // and async-signal-safe functions before `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fail("fork", io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: raw syscalls on integers and a static NUL-terminated name; no allocation.
        unsafe {
            let name: &CStr = c"gt-fork";
            libc::syscall(libc::SYS_prctl, libc::PR_SET_NAME, name.as_ptr());
            if libc::syscall(libc::SYS_getsid, 0) < 0 {
                raw_fail(b"ground-truth: getsid failed in the forked child\n");
            }
            if libc::syscall(libc::SYS_getpgid, 0) < 0 {
                raw_fail(b"ground-truth: getpgid failed in the forked child\n");
            }
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child and writes its status to a local.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        fail("wait for the forked child", io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        fail("run the forked child", format!("wait status {status:#x}"));
    }
}

/// The exec'd child's part: rename, make two markers, exit.
fn exec_child() {
    let name: &CStr = c"gt-exec";
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    check("prctl(PR_SET_NAME)", unsafe {
        libc::syscall(libc::SYS_prctl, libc::PR_SET_NAME, name.as_ptr())
    });
    // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS = 1, 0 = this process) touches no memory.
    check("ioprio_get", unsafe {
        libc::syscall(libc::SYS_ioprio_get, 1, 0)
    });
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_getparam writes one `struct sched_param` to the pointer, which points at one.
    check("sched_getparam", unsafe {
        libc::syscall(
            libc::SYS_sched_getparam,
            0,
            &mut param as *mut libc::sched_param,
        )
    });
}

/// Exits 1 naming the call if a raw syscall returned an error.
fn check(what: &str, ret: libc::c_long) {
    if ret < 0 {
        fail(what, io::Error::last_os_error());
    }
}

fn fail(what: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("ground-truth: {what} failed: {err}");
    std::process::exit(1);
}

/// Reports a failure from the forked child, where only async-signal-safe calls are allowed.
fn raw_fail(message: &[u8]) -> ! {
    // SAFETY: write reads `message.len()` bytes from a valid slice; `_exit` does not return.
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::_exit(1)
    }
}
