//! The bundled demo workload (`cargo xtask demo`): a small program that does a few recognisable,
//! self-contained things, so a new user can record it, read its profile and replay it.
//!
//! It writes a temporary file and reads it back, checksums the data on a worker thread, serves one
//! page over HTTP on 127.0.0.1 (an ephemeral port) and fetches it from itself, and lists the
//! directory it worked in. With `--escape` it then tries what an attacker would —
//! `ptrace(PTRACE_TRACEME)`, harmless here — and reports whether the profile blocked it: exit 3
//! with `ptrace denied: EPERM` when it did, exit 0 when it went through (the expected outcome
//! with no profile). It needs nothing from the network or the filesystem beyond the temp dir.

use std::{
    fs,
    io::{self, BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    process::ExitCode,
};

const PAGE: &str = "<h1>hello from demo-workload</h1>\n";

fn main() -> ExitCode {
    let escape = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--escape") => true,
        Some(other) => {
            eprintln!(
                "demo-workload: unknown argument {other:?} (usage: demo-workload [--escape])"
            );
            return ExitCode::from(2);
        }
    };
    match run(escape) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("demo-workload: failed: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(escape: bool) -> io::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("demo-workload-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let result = steps(&dir, escape);
    // Best effort: a leftover dir in /tmp is not worth failing the demo for.
    let _ = fs::remove_dir_all(&dir);
    result
}

fn steps(dir: &Path, escape: bool) -> io::Result<ExitCode> {
    // 1. A file round trip.
    let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    let file = dir.join("data.bin");
    fs::write(&file, &data)?;
    let read_back = fs::read(&file)?;
    if read_back != data {
        return Err(io::Error::other(
            "the file read back differs from what was written",
        ));
    }
    println!(
        "demo-workload: wrote and read back {} bytes in {}",
        data.len(),
        file.display()
    );

    // 2. A checksum on a worker thread.
    let checksum = std::thread::spawn(move || fnv1a(&read_back))
        .join()
        .map_err(|_| io::Error::other("the checksum thread panicked"))?;
    println!("demo-workload: worker thread computed checksum {checksum:016x}");

    // 3. A tiny HTTP server on loopback, and one request to it from this process.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let server = std::thread::spawn(move || serve_one(&listener));
    let body = fetch(&address.to_string())?;
    server
        .join()
        .map_err(|_| io::Error::other("the server thread panicked"))??;
    if body != PAGE {
        return Err(io::Error::other(format!("unexpected page {body:?}")));
    }
    println!(
        "demo-workload: served and fetched http://{address}/ ({} bytes)",
        body.len()
    );

    // 4. A directory listing.
    fs::write(dir.join("notes.txt"), "recorded by seccomp-profiler\n")?;
    let mut names: Vec<String> = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<_>>()?;
    names.sort();
    println!(
        "demo-workload: {} contains {}",
        dir.display(),
        names.join(", ")
    );

    println!("demo-workload: all steps OK");
    if escape {
        return Ok(try_escape());
    }
    Ok(ExitCode::SUCCESS)
}

/// Tries `ptrace(PTRACE_TRACEME)`: a debugger-attach primitive a profile for this demo must deny.
fn try_escape() -> ExitCode {
    // SAFETY: PTRACE_TRACEME ignores the other arguments and touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EPERM) {
            println!("demo-workload: ptrace denied: EPERM (blocked by the profile)");
            return ExitCode::from(3);
        }
        println!("demo-workload: ptrace failed: {err} (not the profile's EPERM)");
        return ExitCode::FAILURE;
    }
    println!("demo-workload: ptrace(PTRACE_TRACEME) was NOT blocked (expected without a profile)");
    ExitCode::SUCCESS
}

fn serve_one(listener: &TcpListener) -> io::Result<()> {
    let (stream, _) = listener.accept()?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    // Read the request line and headers, up to the blank line.
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
        PAGE.len()
    );
    (&stream).write_all(response.as_bytes())
}

fn fetch(address: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other("no end of headers in the response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(io::Error::other(format!(
            "unexpected status line in {head:?}"
        )));
    }
    Ok(body.to_string())
}

/// 64-bit FNV-1a: small, dependency-free, good enough to show a worker did real work.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
