//! A syscall storm for the end-to-end tests: many threads and a stream of short-lived processes.
//!
//! `--threads T` threads each call `getppid` in a tight loop and count their calls, while one more
//! thread keeps starting child processes that each make one marker syscall, chosen round-robin
//! from `sysinfo`, `times`, `getsid` and `sched_getscheduler`, then exit; it reaps each before
//! starting the next. The children are made the way `posix_spawn` makes them,
//! `clone(CLONE_VM | CLONE_VFORK)`: a plain `fork` of this multi-threaded process write-protects
//! the memory the getppid threads use (copy-on-write faults, TLB shootdowns on every fork), which
//! measured here cost ~10 % of the rate and gave ~10x fewer children (~500/s instead of ~6,000/s). After `--seconds S` it
//! stops and prints `key=value` lines: `getppid_calls`, `children`, `elapsed_ms`,
//! `syscalls_per_sec` (getppid calls per second). Nothing else in the process calls `getppid`, so a
//! recorder's count for it must equal `getppid_calls` exactly.
//!
//! The default of 4 threads was tuned on the project's 2-core VM (syscall ~1 µs, untraced, idle):
//! 1 thread reaches ~0.95M getppid/s, 2 ~1.65M, 4 ~1.65M, 6 ~1.8M; past 4 the spawning thread gets
//! too small a share of the CPU (~60,000 children in 3 s at 1 thread, ~15,000 at 4, ~10,000 at 6).

use std::{
    io,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

/// The markers the forked children make, one each, in turn.
const MARKERS: [(&str, libc::c_long); 4] = [
    ("sysinfo", libc::SYS_sysinfo),
    ("times", libc::SYS_times),
    ("getsid", libc::SYS_getsid),
    ("sched_getscheduler", libc::SYS_sched_getscheduler),
];

static STOP: AtomicBool = AtomicBool::new(false);

fn main() {
    let (seconds, threads) = parse_args().unwrap_or_else(|message| {
        eprintln!("stress: {message} (usage: stress [--seconds S] [--threads T])");
        std::process::exit(2);
    });

    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(call_getppid))
        .collect();
    let forker = std::thread::spawn(fork_children);
    std::thread::sleep(seconds);
    STOP.store(true, Ordering::Relaxed);

    let mut calls = 0u64;
    for worker in workers {
        calls += worker
            .join()
            .unwrap_or_else(|_| die("a getppid thread panicked"));
    }
    let children = forker
        .join()
        .unwrap_or_else(|_| die("the fork thread panicked"));
    let elapsed = start.elapsed();

    println!("getppid_calls={calls}");
    println!("children={children}");
    println!("elapsed_ms={}", elapsed.as_millis());
    println!(
        "syscalls_per_sec={}",
        (calls as f64 / elapsed.as_secs_f64()) as u64
    );
}

fn parse_args() -> Result<(Duration, usize), String> {
    let (mut seconds, mut threads) = (3.0f64, 4usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                seconds = value()?
                    .parse()
                    .map_err(|_| "--seconds takes a number".to_string())?
            }
            "--threads" => {
                threads = value()?
                    .parse()
                    .map_err(|_| "--threads takes a number".to_string())?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !(seconds > 0.0 && seconds.is_finite()) || threads == 0 {
        return Err("--seconds and --threads must be positive".into());
    }
    Ok((Duration::from_secs_f64(seconds), threads))
}

fn call_getppid() -> u64 {
    let mut calls = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        // SAFETY: getppid takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
        calls += 1;
    }
    calls
}

fn fork_children() -> u64 {
    // The children's stack. CLONE_VFORK suspends this thread until the child has exited, so one
    // stack serves every child in turn.
    let mut stack = vec![0u8; 64 * 1024];
    let top = ((stack.as_mut_ptr() as usize + stack.len()) & !15) as *mut libc::c_void;
    let mut children = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        let marker = (children % MARKERS.len() as u64) as usize;
        // SAFETY: `child` runs on its own stack, touches only that stack and the static MARKERS
        // table, and makes raw syscalls; the shared memory (CLONE_VM) is not written.
        let pid = unsafe {
            libc::clone(
                child,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                marker as *mut _,
            )
        };
        if pid < 0 {
            die(&format!("clone failed: {}", io::Error::last_os_error()));
        }
        let mut status = 0;
        // SAFETY: waits for our own child and writes its status to a local.
        if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
            die(&format!("waitpid failed: {}", io::Error::last_os_error()));
        }
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            let name = MARKERS[marker].0;
            die(&format!(
                "a child making {name} failed (wait status {status:#x})"
            ));
        }
        children += 1;
    }
    children
}

/// A child process: one marker syscall, then exit (glibc's clone calls `exit` with our return).
extern "C" fn child(marker: *mut libc::c_void) -> libc::c_int {
    let number = MARKERS[marker as usize].1;
    // Big enough for `struct sysinfo` and `struct tms`.
    let mut buffer = [0u64; 32];
    // SAFETY: sysinfo and times write at most 112 bytes into the 256-byte buffer; getsid and
    // sched_getscheduler take pid 0 (this process) and touch no memory.
    let ret = unsafe {
        if number == libc::SYS_sysinfo || number == libc::SYS_times {
            libc::syscall(number, buffer.as_mut_ptr())
        } else {
            libc::syscall(number, 0)
        }
    };
    if ret < 0 { 1 } else { 0 }
}

fn die(message: &str) -> ! {
    eprintln!("stress: {message}");
    std::process::exit(1);
}
