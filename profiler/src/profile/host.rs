//! The host a profile is compiled for ([`Host`]): its architecture, the capabilities this process
//! holds and the running kernel's version, which decide Docker's `includes`/`excludes`
//! ([`rule_applies`]) and runc's no-new-privileges choice.
//!
//! It reads the host; it does not build filters (compile.rs does).

use std::{ffi::CStr, io};

use super::{
    ProfileError, Rule,
    validate::{cap_bit, min_kernel, parse_kernel_version},
};
use crate::syscalls::Arch;

pub(super) const CAP_SYS_ADMIN: u32 = 21;

/// What the running process and kernel look like, for Docker's `includes`/`excludes` and for
/// runc's no-new-privileges choice.
#[derive(Clone, Copy, Debug)]
pub(super) struct Host {
    pub(super) arch: Arch,
    /// The effective capability set, bit n = capability n.
    pub(super) caps: u64,
    /// (major, minor) of the running kernel, as Docker's `kernelGreaterEqualThan` compares it.
    pub(super) kernel: Option<(u32, u32)>,
}

impl Host {
    pub(super) fn current() -> Result<Host, ProfileError> {
        Ok(Host {
            arch: Arch::native(),
            caps: effective_caps()?,
            kernel: kernel_version(),
        })
    }

    pub(super) fn has_cap(&self, bit: u32) -> bool {
        bit < 64 && self.caps & (1 << bit) != 0
    }
}

/// The calling thread's effective capabilities, from capget(2).
fn effective_caps() -> Result<u64, ProfileError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with a v3 header writes exactly two `Data` structs, which `data` holds.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(ProfileError::Host {
            what: "read this process's capabilities (capget)",
            err: io::Error::last_os_error(),
        });
    }
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

/// The running kernel's (major, minor), from uname(2)'s release.
pub(super) fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: utsname is plain old data; uname fills it in.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates every utsname field.
    let release = unsafe { CStr::from_ptr(uts.release.as_ptr()) };
    parse_kernel_version(&release.to_string_lossy())
}

/// Whether Docker keeps a rule on this host (moby profiles/seccomp/seccomp_linux.go,
/// `setupSeccomp`): excludes first, then includes; every `includes.caps` entry must be held.
/// Docker compares caps with the container's bounding set; for a plain command the process's
/// effective set is what the command will hold.
pub(super) fn rule_applies(place: &str, rule: &Rule, host: &Host) -> Result<bool, ProfileError> {
    let native = host.arch.docker_name();
    let kernel_at_least = |value: &str| -> Result<bool, ProfileError> {
        let wanted = min_kernel(place, value)?;
        let running = host.kernel.ok_or_else(|| ProfileError::Host {
            what: "read the running kernel's version (uname)",
            err: io::Error::other("release is not MAJOR.MINOR…"),
        })?;
        Ok(running >= wanted)
    };
    if let Some(excludes) = &rule.excludes {
        if excludes.arches.iter().any(|arch| arch == native) {
            return Ok(false);
        }
        for cap in &excludes.caps {
            if host.has_cap(cap_bit(place, cap)?) {
                return Ok(false);
            }
        }
        if let Some(value) = &excludes.min_kernel
            && kernel_at_least(value)?
        {
            return Ok(false);
        }
    }
    if let Some(includes) = &rule.includes {
        if !includes.arches.is_empty() && !includes.arches.iter().any(|arch| arch == native) {
            return Ok(false);
        }
        for cap in &includes.caps {
            if !host.has_cap(cap_bit(place, cap)?) {
                return Ok(false);
            }
        }
        if let Some(value) = &includes.min_kernel
            && !kernel_at_least(value)?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn includes_and_excludes_like_docker() {
        let host = Host {
            arch: Arch::X86_64,
            caps: 1 << CAP_SYS_ADMIN,
            kernel: Some((6, 18)),
        };
        let rule = |json: &str| -> Rule { serde_json::from_str(json).unwrap() };
        let applies = |r: &Rule| rule_applies("r", r, &host).unwrap();
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{},"excludes":{}}"#
        )));
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64","x32"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}}"#
        )));
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN","CAP_BPF"]}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMIN"]}}"#
        )));
        assert!(applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"6.19"}}"#
        )));
        assert!(!applies(&rule(
            r#"{"names":["a"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"6.18"}}"#
        )));
    }
}
