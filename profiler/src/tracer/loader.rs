//! aya's loader without its parse of the kernel's BTF (issue 13: start-up and peak RSS).
//!
//! aya 0.14's `EbpfLoader::new` reads and parses `/sys/kernel/btf/vmlinux` unconditionally (about
//! 20 ms and 10 MiB of peak RSS here), only to apply CO-RE relocations, and this object has none:
//! the few kernel offsets the programs need are read by `crate::btf` and passed in as globals.
//! aya 0.15 makes that parse lazy, but needs rustc 1.98, newer than the toolchains this project
//! builds with.
//!
//! So, where the process may (CAP_SYS_ADMIN), the loader is built on a short-lived thread of its
//! own whose mount namespace is private (`unshare(CLONE_NEWNS)` works per thread) and has
//! /dev/null bound over the BTF file: aya's parse fails at once and the loader gets no target BTF,
//! which `EbpfLoader::btf(None)` documents as "no BTF relocations". The rest of the process never
//! sees the namespace, which goes away with the thread. Anywhere else (no CAP_SYS_ADMIN, a seccomp
//! profile without `unshare` or `mount`), aya parses as it always did.
//!
//! Used only by the one-command and host tracers (`Options::lean_loader`): the long-running
//! container recorders and the node agent keep the plain loader, so the agent's own seccomp
//! profile needs neither `unshare` nor `mount`.

use std::ffi::{CStr, CString};
use std::io;

use aya::EbpfLoader;

const DEV_NULL: &CStr = c"/dev/null";
const ROOT: &CStr = c"/";

/// A loader, without aya's vmlinux parse when `lean` and the process may hide the file.
pub(super) fn new(lean: bool) -> EbpfLoader<'static> {
    if !lean {
        return EbpfLoader::new();
    }
    let built = std::thread::spawn(|| -> io::Result<EbpfLoader<'static>> {
        hide_vmlinux_from_this_thread()?;
        Ok(EbpfLoader::new())
    })
    .join()
    .expect("the loader thread panicked");
    match built {
        Ok(loader) => loader,
        Err(err) => {
            log::debug!("aya's loader parses the kernel's BTF itself (cannot hide it: {err})");
            EbpfLoader::new()
        }
    }
}

/// Gives the calling thread a private mount namespace in which vmlinux BTF reads as empty.
fn hide_vmlinux_from_this_thread() -> io::Result<()> {
    let vmlinux = CString::new(crate::btf::VMLINUX).expect("a path without NUL");
    // SAFETY: plain syscalls on NUL-terminated strings that outlive them; unshare affects this
    // thread only (it is not CLONE_VM or CLONE_SIGHAND), and the mounts happen in the namespace
    // it just made.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        // Nothing done here may propagate back to the host's mounts.
        check(libc::mount(
            std::ptr::null(),
            ROOT.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        check(libc::mount(
            DEV_NULL.as_ptr(),
            vmlinux.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        ))?;
    }
    Ok(())
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidden_file_stays_visible_to_the_rest_of_the_process() {
        if unsafe { libc::geteuid() } != 0 || !std::path::Path::new(crate::btf::VMLINUX).exists() {
            eprintln!("skipped: needs root and /sys/kernel/btf/vmlinux");
            return;
        }
        let seen_inside = std::thread::spawn(|| {
            hide_vmlinux_from_this_thread().map(|()| std::fs::read(crate::btf::VMLINUX))
        })
        .join()
        .expect("the thread runs")
        .expect("root can hide vmlinux from one thread")
        .expect("the bound /dev/null reads");
        assert!(
            seen_inside.is_empty(),
            "inside the thread, vmlinux is /dev/null"
        );
        let outside = std::fs::metadata(crate::btf::VMLINUX).expect("vmlinux BTF exists");
        assert!(
            outside.len() > 0,
            "the rest of the process still sees the BTF"
        );
    }
}
