//! A workload whose argument values are known, for the argument-rule tests (docs/design.md §16).
//!
//! Every run opens and closes an `AF_UNIX` stream socket, an `AF_INET` and an `AF_INET6` datagram
//! socket and an `AF_NETLINK` socket of protocol `NETLINK_ROUTE` (no traffic: it runs with
//! `--network none`), asks for its personality (`personality(0xffffffff)`), then forks one child
//! with a plain `clone(SIGCHLD)` (no namespace flags) that exits at once, and waits for it. A mode then tries
//! one call a profile recorded from the plain run allows by name but not by value:
//!
//! - `alg`: `socket(AF_ALG, SOCK_SEQPACKET, 0)`;
//! - `newuser`: `clone(CLONE_NEWUSER | SIGCHLD)`, a child in a new user namespace.
//!
//! Exit status: 0 when everything (and the mode's call) succeeded, 3 when the mode's call got
//! EPERM (what a seccomp profile answers), 4 when it failed otherwise (the kernel refused it:
//! then the test cannot tell), 1 when the plain part failed. It prints one line per step.

use std::io::Error;

const EXIT_EPERM: i32 = 3;
const EXIT_OTHER: i32 = 4;

fn socket(family: i32, kind: i32, name: &str) -> Result<(), Error> {
    socket_with(family, kind, 0, name)
}

fn socket_with(family: i32, kind: i32, protocol: i32, name: &str) -> Result<(), Error> {
    // SAFETY: socket takes no pointers.
    let fd = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(Error::last_os_error());
    }
    // SAFETY: fd was just opened by this thread and is closed once.
    unsafe { libc::close(fd) };
    println!("sockets: {name} ok");
    Ok(())
}

/// A raw `clone(flags | SIGCHLD)` with no new stack: a fork whose child exits at once.
fn fork_with(flags: libc::c_long, name: &str) -> Result<(), Error> {
    // SAFETY: with a null stack the child runs on a copy of this stack, as after fork(); it only
    // calls _exit. The arguments x86_64 and aarch64 share: flags, stack, parent_tid, child_tid, tls.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as libc::c_long,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: the child ends here without running anything else.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: status is a valid out pointer.
    if unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) } < 0 {
        return Err(Error::last_os_error());
    }
    println!("sockets: {name} ok");
    Ok(())
}

/// `personality(0xffffffff)`: a query that changes nothing.
fn persona() -> Result<(), Error> {
    // SAFETY: personality takes no pointers; 0xffffffff only reads the persona.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    if persona < 0 {
        return Err(Error::last_os_error());
    }
    println!("sockets: personality {persona:#x} ok");
    Ok(())
}

fn main() {
    let mode = std::env::args().nth(1);
    let plain = socket(libc::AF_UNIX, libc::SOCK_STREAM, "AF_UNIX")
        .and_then(|()| socket(libc::AF_INET, libc::SOCK_DGRAM, "AF_INET"))
        .and_then(|()| socket(libc::AF_INET6, libc::SOCK_DGRAM, "AF_INET6"))
        .and_then(|()| {
            let (family, kind) = (libc::AF_NETLINK, libc::SOCK_RAW);
            socket_with(
                family,
                kind,
                libc::NETLINK_ROUTE,
                "AF_NETLINK/NETLINK_ROUTE",
            )
        })
        .and_then(|()| persona())
        .and_then(|()| fork_with(0, "clone"));
    if let Err(err) = plain {
        println!("sockets: FAILED: {err}");
        std::process::exit(1);
    }
    let tried = match mode.as_deref() {
        None => return,
        Some("alg") => socket(libc::AF_ALG, libc::SOCK_SEQPACKET, "AF_ALG"),
        Some("newuser") => fork_with(libc::CLONE_NEWUSER as libc::c_long, "CLONE_NEWUSER"),
        Some(other) => {
            eprintln!("sockets: unknown mode {other:?} (usage: sockets [alg|newuser])");
            std::process::exit(2);
        }
    };
    match tried {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::EPERM) => {
            println!("sockets: EPERM: {err}");
            std::process::exit(EXIT_EPERM);
        }
        Err(err) => {
            println!("sockets: failed otherwise: {err}");
            std::process::exit(EXIT_OTHER);
        }
    }
}
