//! Makes one named rare syscall over and over for a while, so a test can tell recordings apart:
//! `marker --syscall NAME --millis M` loops on NAME for M milliseconds (default 1000) and prints
//! `calls=<N>`. NAME is one of sysinfo, times, getpriority, getsid, getpgid, sched_getscheduler.
//!
//! Timing uses `Instant` (the vDSO's clock_gettime, no syscall), so the loop makes NAME and
//! nothing else.

use std::{
    io,
    time::{Duration, Instant},
};

fn main() {
    let (name, millis) = parse_args().unwrap_or_else(|message| {
        eprintln!("marker: {message} (usage: marker --syscall NAME [--millis M])");
        std::process::exit(2);
    });
    let make: fn() -> libc::c_long = match name.as_str() {
        "sysinfo" => || {
            let mut info = std::mem::MaybeUninit::<libc::sysinfo>::uninit();
            // SAFETY: sysinfo writes one `struct sysinfo` to the pointer, which points at one.
            unsafe { libc::syscall(libc::SYS_sysinfo, info.as_mut_ptr()) }
        },
        "times" => || {
            let mut tms = std::mem::MaybeUninit::<libc::tms>::uninit();
            // SAFETY: times writes one `struct tms` to the pointer, which points at one.
            unsafe { libc::syscall(libc::SYS_times, tms.as_mut_ptr()) }
        },
        // SAFETY: integer arguments only, no memory is touched.
        "getpriority" => || unsafe { libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0) },
        // SAFETY: a pid (0 = this process), no memory is touched.
        "getsid" => || unsafe { libc::syscall(libc::SYS_getsid, 0) },
        // SAFETY: a pid (0 = this process), no memory is touched.
        "getpgid" => || unsafe { libc::syscall(libc::SYS_getpgid, 0) },
        // SAFETY: a pid (0 = this thread), no memory is touched.
        "sched_getscheduler" => || unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) },
        other => {
            eprintln!("marker: unsupported syscall {other:?}");
            std::process::exit(2);
        }
    };

    let deadline = Instant::now() + Duration::from_millis(millis);
    let mut calls = 0u64;
    loop {
        if make() < 0 {
            eprintln!("marker: {name} failed: {}", io::Error::last_os_error());
            std::process::exit(1);
        }
        calls += 1;
        if Instant::now() >= deadline {
            break;
        }
    }
    println!("calls={calls}");
}

fn parse_args() -> Result<(String, u64), String> {
    let (mut name, mut millis) = (None, 1000u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--syscall" => name = Some(value),
            "--millis" => {
                millis = value
                    .parse()
                    .map_err(|_| "--millis takes a number".to_string())?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((name.ok_or("--syscall is required")?, millis))
}
