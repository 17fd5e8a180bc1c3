//! Makes 32-bit (ia32) syscalls from a 64-bit process, for the test of the recorder's compat
//! table: `ia32-getsid --calls N` enters the kernel N times through `int 0x80` with eax = 147,
//! which is `getsid` in the ia32 table and `sched_getscheduler` in the x86-64 one, then prints
//! `calls=N`. The kernel runs such a call as ia32 (TS_COMPAT), and so does seccomp: a filter sees
//! arch AUDIT_ARCH_I386 and nr 147. A recorder that missed the table would name it
//! `sched_getscheduler`; a profile without `getsid` for SCMP_ARCH_X86 makes it fail here, with
//! exit code 1 and the errno on stderr.
//!
//! Only pointer-free arguments: `int 0x80` truncates registers to 32 bits.

fn main() {
    let calls = parse_args().unwrap_or_else(|message| {
        eprintln!("ia32-getsid: {message} (usage: ia32-getsid [--calls N])");
        std::process::exit(2);
    });
    for _ in 0..calls {
        let ret = ia32_getsid_self();
        if ret < 0 {
            eprintln!(
                "ia32-getsid: getsid failed: {}",
                std::io::Error::from_raw_os_error(-ret)
            );
            std::process::exit(1);
        }
    }
    println!("calls={calls}");
}

/// ia32 `getsid(0)` through the 32-bit entry point; returns eax (a session id, or -errno).
#[cfg(target_arch = "x86_64")]
fn ia32_getsid_self() -> i32 {
    const IA32_GETSID: u32 = 147;
    let ret: u32;
    // SAFETY: int 0x80 with eax = 147 (getsid) and ebx = 0 (this process) reads no memory. rbx is
    // reserved by LLVM, so the argument goes in through a scratch register swapped in and out.
    // The ia32 entry preserves the other registers except eax, and r8-r11 only since Linux 4.17:
    // they are declared clobbered.
    unsafe {
        core::arch::asm!(
            "xchg {arg:r}, rbx",
            "int 0x80",
            "xchg {arg:r}, rbx",
            arg = inout(reg) 0u64 => _,
            inlateout("eax") IA32_GETSID => ret,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret as i32
}

#[cfg(not(target_arch = "x86_64"))]
fn ia32_getsid_self() -> i32 {
    eprintln!("ia32-getsid: only x86-64 has the ia32 entry point");
    std::process::exit(2);
}

fn parse_args() -> Result<u64, String> {
    let mut calls = 1000u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--calls" => {
                calls = args
                    .next()
                    .ok_or("--calls needs a value")?
                    .parse()
                    .map_err(|_| "--calls takes a whole number".to_string())?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(calls)
}
