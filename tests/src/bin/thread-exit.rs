//! A workload whose threads end one of two ways, for the test that a profile never hangs a thread.
//!
//! It starts four threads that each make one `getppid`. Without arguments the threads then wait
//! forever and the process ends with `exit_group` while they still exist, so no thread ever calls
//! `exit`: a recording of it never sees `exit`. With `--join` the threads return and are joined, so
//! each ends through the `exit` syscall (glibc's thread exit), which is the code path the recording
//! did not take. Under a profile that refuses `exit`, glibc retries it forever: the thread spins at
//! 100 % CPU and `--join` never finishes. It prints `thread-exit: 4 threads done` when it does.

use std::{sync::mpsc, thread};

const THREADS: usize = 4;

fn main() {
    let join = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--join") => true,
        Some(other) => {
            eprintln!("thread-exit: unknown argument {other:?} (usage: thread-exit [--join])");
            std::process::exit(2);
        }
    };
    let (started, ready) = mpsc::channel();
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let started = started.clone();
            thread::Builder::new()
                .name(format!("te-{i}"))
                .spawn(move || {
                    // SAFETY: getppid takes no arguments and touches no memory.
                    unsafe { libc::syscall(libc::SYS_getppid) };
                    // The receiver outlives every send: main waits for all of them.
                    let _ = started.send(());
                    if !join {
                        loop {
                            thread::park();
                        }
                    }
                })
                .unwrap_or_else(|err| {
                    eprintln!("thread-exit: cannot spawn a thread: {err}");
                    std::process::exit(1);
                })
        })
        .collect();
    for _ in 0..THREADS {
        if ready.recv().is_err() {
            eprintln!("thread-exit: a thread ended before it started");
            std::process::exit(1);
        }
    }
    if join {
        for handle in handles {
            if handle.join().is_err() {
                eprintln!("thread-exit: a thread panicked");
                std::process::exit(1);
            }
        }
    }
    println!("thread-exit: {THREADS} threads done");
    // Ends with exit_group (the parked threads, if any, still exist).
    std::process::exit(0);
}
