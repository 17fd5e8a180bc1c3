//! Arch ABI constants: the native syscall numbers the gate and the capability buckets look for,
//! and where `struct pt_regs` keeps the first two syscall arguments at `sys_enter`
//! (arch/x86/include/asm/ptrace.h; arch/arm64/include/asm/ptrace.h). One set per `bpf_target_arch`
//! (aya-build passes the host's); an arch without one does not build. Arch-independent uapi
//! constants (seccomp.h, prctl.h, capability.h) stay next to their one user.

#[cfg(bpf_target_arch = "x86_64")]
pub(crate) use x86_64::*;

#[cfg(bpf_target_arch = "aarch64")]
pub(crate) use aarch64::*;

#[cfg(bpf_target_arch = "x86_64")]
mod x86_64 {
    pub const SYS_EXECVE: i64 = 59;
    pub const SYS_EXECVEAT: i64 = 322;
    pub const SYS_PRCTL: i64 = 157;
    pub const SYS_SECCOMP: i64 = 317;
    /// `pt_regs.di` and `pt_regs.si`.
    pub const ARG0_OFFSET: usize = 14 * 8;
    pub const ARG1_OFFSET: usize = 13 * 8;
    /// `pt_regs.orig_ax`: the syscall number as entered (x32's bit 30 included), still there at
    /// `sys_exit` after seccomp refused the call (read as its low 32 bits).
    pub const SYSCALL_NR_OFFSET: usize = 15 * 8;
    /// `pt_regs.dx`, the third argument (argument rules).
    pub const ARG2_OFFSET: usize = 12 * 8;
    pub const SYS_SOCKET: u64 = 41;
    pub const SYS_CLONE: u64 = 56;
    pub const SYS_PERSONALITY: u64 = 135;
    /// Syscalls that account memory through `security_vm_enough_memory_mm`: mmap, mprotect, brk,
    /// mremap, shmget, shmat, clone, fork, vfork, execve, execveat, clone3.
    pub const VM_ACCOUNTING: [u32; 12] = [9, 10, 12, 25, 29, 30, 56, 57, 58, 59, 322, 435];
}

#[cfg(bpf_target_arch = "aarch64")]
mod aarch64 {
    pub const SYS_EXECVE: i64 = 221;
    pub const SYS_EXECVEAT: i64 = 281;
    pub const SYS_PRCTL: i64 = 167;
    pub const SYS_SECCOMP: i64 = 277;
    /// `pt_regs.regs[0]` and `pt_regs.regs[1]`.
    pub const ARG0_OFFSET: usize = 0;
    pub const ARG1_OFFSET: usize = 8;
    /// `pt_regs.syscallno` (an s32 after `regs[31]`, sp, pc, pstate and orig_x0).
    pub const SYSCALL_NR_OFFSET: usize = 35 * 8;
    /// `pt_regs.regs[2]` (argument rules).
    pub const ARG2_OFFSET: usize = 16;
    pub const SYS_SOCKET: u64 = 198;
    pub const SYS_CLONE: u64 = 220;
    pub const SYS_PERSONALITY: u64 = 92;
    /// mmap, mprotect, brk, mremap, shmget, shmat, clone, execve, execveat, clone3.
    pub const VM_ACCOUNTING: [u32; 10] = [222, 226, 214, 216, 194, 196, 220, 221, 281, 435];
}
