//! Which runtime installed a target's filter, in which mode, and what it did before exec'ing the
//! entrypoint (issue 11, docs/design.md §12). Two cold paths, never on an untraced syscall:
//! - [`note_install`], from the gate's `sys_exit` on a successful install: the installing task's
//!   no-new-privileges bit (`PFA_NO_NEW_PRIVS`, bit 0 of `task_struct.atomic_flags`) becomes a
//!   slot flag, and the first install of a slot records the task's executable (the dentry name
//!   and inode of `mm->exe_file`) and comm in INSTALLER. Userspace tells runc, crun and youki
//!   apart from that, not from a list of names the user keeps.
//! - [`note_runtime_phase`], from `sys_enter` for a gated thread that has not exec'd yet: one byte
//!   per syscall number in RUNTIME_PHASE_SEEN.
//!
//! It owns INSTALLER and RUNTIME_PHASE_SEEN; it decides nothing about the gate or the counts.

use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_task, bpf_probe_read_kernel,
    bpf_probe_read_kernel_str_bytes,
};
use profiler_common::{INSTALL_NNP, INSTALL_NO_NNP};

use crate::{
    gate::note_slot,
    globals::{
        DENTRY_INODE_OFFSET, DENTRY_NAME_OFFSET, FILE_DENTRY_OFFSET, INODE_INO_OFFSET,
        MM_EXE_FILE_OFFSET, TASK_ATOMIC_FLAGS_OFFSET, TASK_MM_OFFSET,
    },
    maps::{INSTALLER, RUNTIME_PHASE_SEEN},
};

/// include/linux/sched.h: `#define PFA_NO_NEW_PRIVS 0`, a bit of `task_struct.atomic_flags`.
const PFA_NO_NEW_PRIVS: u64 = 1 << 0;

/// A filter install by the current task opened `slot`'s gate.
#[inline(never)]
pub(crate) fn note_install(slot: u32) {
    // SAFETY: checked kernel reads starting at the current task; offsets come from this kernel's BTF.
    let task = unsafe { bpf_get_current_task() } as *const u8;
    let flags: u64 = unsafe {
        bpf_probe_read_kernel(task.add(TASK_ATOMIC_FLAGS_OFFSET.load() as usize) as *const u64)
    }
    .unwrap_or(0);
    note_slot(
        slot,
        if flags & PFA_NO_NEW_PRIVS != 0 {
            INSTALL_NNP
        } else {
            INSTALL_NO_NNP
        },
    );
    let Some(seen) = INSTALLER.get_ptr_mut(slot) else {
        return;
    };
    // SAFETY: a plain array element, written while its comm is empty (first install of the slot);
    // a racing install on another CPU writes an equally true installer.
    unsafe {
        if (*seen).comm[0] != 0 {
            return;
        }
        if let Ok(comm) = bpf_get_current_comm() {
            (*seen).comm = comm;
        }
        let Some(dentry) = exe_dentry(task) else {
            return;
        };
        if let Ok(name) = bpf_probe_read_kernel(
            dentry.add(DENTRY_NAME_OFFSET.load() as usize) as *const *const u8
        ) {
            let _ = bpf_probe_read_kernel_str_bytes(name, &mut (*seen).exe_name);
        }
        if let Ok(inode) = bpf_probe_read_kernel(
            dentry.add(DENTRY_INODE_OFFSET.load() as usize) as *const *const u8
        ) {
            (*seen).exe_ino =
                bpf_probe_read_kernel(inode.add(INODE_INO_OFFSET.load() as usize) as *const u64)
                    .unwrap_or(0);
        }
    }
}

/// task->mm->exe_file->f_path.dentry.
///
/// # Safety
/// `task` must be the current task.
#[inline(always)]
unsafe fn exe_dentry(task: *const u8) -> Option<*const u8> {
    // SAFETY: checked reads; a kernel thread has no mm and yields None.
    unsafe {
        let mm =
            bpf_probe_read_kernel(task.add(TASK_MM_OFFSET.load() as usize) as *const *const u8)
                .ok()?;
        if mm.is_null() {
            return None;
        }
        let file =
            bpf_probe_read_kernel(mm.add(MM_EXE_FILE_OFFSET.load() as usize) as *const *const u8)
                .ok()?;
        if file.is_null() {
            return None;
        }
        bpf_probe_read_kernel(file.add(FILE_DENTRY_OFFSET.load() as usize) as *const *const u8).ok()
    }
}

/// A gated thread that has not exec'd yet made syscall `nr` of table entry `key`.
#[inline(never)]
pub(crate) fn note_runtime_phase(key: u32, nr: usize) {
    if let Some(seen) = RUNTIME_PHASE_SEEN.get_ptr_mut(key)
        && nr < profiler_common::NR_SLOTS
    {
        // SAFETY: a plain array element; every writer writes the same byte value.
        unsafe { (*seen)[nr] = 1 };
    }
}
