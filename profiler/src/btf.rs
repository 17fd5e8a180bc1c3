//! Finds struct member offsets in the running kernel's BTF (`/sys/kernel/btf/vmlinux`), for the few
//! kernel fields the eBPF programs must read (`task_struct.pid`, `thread_info.status`). aya emits no
//! CO-RE relocations (design.md §9), so offsets are resolved here and passed in as globals.
//!
//! A deliberately small reader: it walks the type section once, understands every BTF kind's record
//! length, and answers "byte offset of member M of struct S", following anonymous struct/union
//! members. It does not resolve typedefs or validate the rest of the BTF.
//!
//! Why not aya's own parser (issue 13 asked to read the BTF once, through it): aya 0.14's
//! `EbpfLoader::new` parses /sys/kernel/btf/vmlinux itself, unconditionally, and `aya::Btf` has no
//! public accessor to a type or its members (`Btf::type_by_id`, `Btf::string_at`, `Btf::types`,
//! `Struct::members` and the `BtfMember` fields are all `pub(crate)`; only
//! `id_by_type_name_kind` is public). Parsing with `aya::Btf` and handing it to the loader would
//! add a parse, not remove one. So this reader runs on another core while aya's loader is built
//! (`tracer::load_with`), and keeps only an index of where each type starts; where it can, the
//! one-command and host tracers build that loader without its own parse (`tracer::loader`), which
//! leaves this one as the only read of the kernel's BTF.
//!
//! The file is mapped, not read, where the kernel allows it (Linux ≥ 6.16 maps vmlinux BTF
//! read-only straight from kernel memory): the mapping is not counted in the recorder's RSS, and
//! nothing is copied. Elsewhere it is read into memory, as before.

use std::path::Path;

use thiserror::Error;

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, Error)]
pub enum BtfError {
    #[error(
        "cannot read the kernel's BTF at {path}: {err}; this kernel needs CONFIG_DEBUG_INFO_BTF=y \
         (most distribution kernels ≥ 5.4 have it)"
    )]
    Read { path: String, err: std::io::Error },
    #[error("{path} is not valid BTF: {what}")]
    Malformed { path: String, what: String },
    #[error("the kernel's BTF has no struct {0}")]
    NoStruct(String),
    #[error("the kernel's BTF has no member {member} in struct {strukt}")]
    NoMember { strukt: String, member: String },
}

impl crate::exit::Coded for BtfError {
    fn exit_code(&self) -> i32 {
        crate::exit::ENVIRONMENT
    }
}

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
/// Bytes of one BTF type record before its kind-specific data (`struct btf_type`), and of one
/// struct/union member (`struct btf_member`).
const TYPE_LEN: usize = 12;
const MEMBER_LEN: usize = 12;

/// The raw BTF and where each type starts in it: enough to answer member-offset questions. Type
/// records are read in place when asked about (issue 13: the parse is one pass that keeps four
/// bytes per type, so resolving the offsets costs a few milliseconds and no more memory than the
/// file itself).
pub struct Btf {
    data: Bytes,
    /// `[start, end)` of the string section in `data`.
    strings: (usize, usize),
    /// Byte position in `data` of each type record; index 0 is BTF's `void` (no record).
    types: Vec<u32>,
    /// Ids of the named structs, in id order.
    structs: Vec<u32>,
}

fn u16_at(data: &[u8], at: usize) -> Result<u16, String> {
    data.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

impl Btf {
    pub fn from_vmlinux() -> Result<Btf, BtfError> {
        Btf::from_file(Path::new(VMLINUX))
    }

    pub fn from_file(path: &Path) -> Result<Btf, BtfError> {
        let read_err = |err| BtfError::Read {
            path: path.display().to_string(),
            err,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let data = match Bytes::map(&file) {
            Some(mapped) => mapped,
            None => {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut &file, &mut data).map_err(read_err)?;
                Bytes::Owned(data)
            }
        };
        Btf::parse(data).map_err(|what| BtfError::Malformed {
            path: path.display().to_string(),
            what,
        })
    }

    fn parse(data: Bytes) -> Result<Btf, String> {
        if u16_at(&data, 0)? != MAGIC {
            return Err("bad magic (big-endian or not BTF)".into());
        }
        let hdr_len = u32_at(&data, 4)? as usize;
        let (type_off, type_len) = (u32_at(&data, 8)? as usize, u32_at(&data, 12)? as usize);
        let (str_off, str_len) = (u32_at(&data, 16)? as usize, u32_at(&data, 20)? as usize);
        let types_start = hdr_len + type_off;
        let types_end = types_start + type_len;
        let strings = (hdr_len + str_off, hdr_len + str_off + str_len);
        if strings.1 > data.len() || types_end > data.len() || data.len() >= u32::MAX as usize {
            return Err("section out of bounds".into());
        }
        let mut types = vec![u32::MAX];
        let mut structs = Vec::new();
        let mut at = types_start;
        while at < types_end {
            let name_off = u32_at(&data, at)?;
            let info = u32_at(&data, at + 4)?;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            if kind == KIND_STRUCT && name_off != 0 {
                structs.push(types.len() as u32);
            }
            types.push(at as u32);
            // Trailing data per kind: include/uapi/linux/btf.h.
            let extra = match kind {
                1 | 14 | 17 => 4,                              // INT, VAR, DECL_TAG
                3 => 12,                                       // ARRAY
                KIND_STRUCT | KIND_UNION => vlen * MEMBER_LEN, // btf_member
                6 | 13 => vlen * 8,                            // ENUM, FUNC_PROTO
                15 | 19 => vlen * 12,                          // DATASEC, ENUM64
                2 | 7..=12 | 16 | 18 => 0, // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
                other => return Err(format!("unknown BTF kind {other}")),
            };
            at += TYPE_LEN + extra;
        }
        if at != types_end {
            return Err("type section ends inside a type".into());
        }
        Ok(Btf {
            data,
            strings,
            types,
            structs,
        })
    }

    fn name(&self, off: u32) -> &[u8] {
        let rest = self
            .data
            .get(self.strings.0 + off as usize..self.strings.1)
            .unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// `(position, name_off, kind, kind_flag, vlen)` of a type record.
    fn header(&self, id: u32) -> Option<(usize, u32, u32, bool, usize)> {
        let at = *self.types.get(id as usize).filter(|&&at| at != u32::MAX)? as usize;
        let name_off = u32_at(&self.data, at).ok()?;
        let info = u32_at(&self.data, at + 4).ok()?;
        Some((
            at,
            name_off,
            (info >> 24) & 0x1f,
            info >> 31 == 1,
            (info & 0xffff) as usize,
        ))
    }

    /// Byte offset of `member` in `struct strukt`, searching anonymous struct/union members too.
    pub fn member_offset(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        self.member_bit_offset(strukt, member).map(|bits| bits / 8)
    }

    /// Bit offset of `member` in `struct strukt` (for bitfields such as `linux_binprm.secureexec`).
    pub fn member_bit_offset(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        // Keep the first definition of a name (vmlinux has one per struct).
        let id = self
            .structs
            .iter()
            .copied()
            .find(|&id| {
                self.header(id)
                    .is_some_and(|(_, name_off, ..)| self.name(name_off) == strukt.as_bytes())
            })
            .ok_or_else(|| BtfError::NoStruct(strukt.into()))?;
        self.find_member(id, member.as_bytes(), 0)
            .ok_or_else(|| BtfError::NoMember {
                strukt: strukt.into(),
                member: member.into(),
            })
    }

    /// `(name_off, type_id, bit_offset)` of each member of a struct or union.
    fn members(&self, id: u32) -> Option<impl Iterator<Item = (u32, u32, u32)> + '_> {
        let (at, _, kind, kind_flag, vlen) = self.header(id)?;
        if !matches!(kind, KIND_STRUCT | KIND_UNION) {
            return None;
        }
        Some((0..vlen).filter_map(move |i| {
            let m = at + TYPE_LEN + i * MEMBER_LEN;
            let raw = u32_at(&self.data, m + 8).ok()?;
            // With kind_flag set, the top 8 bits hold a bitfield size.
            let bit_offset = if kind_flag { raw & 0x00ff_ffff } else { raw };
            Some((
                u32_at(&self.data, m).ok()?,
                u32_at(&self.data, m + 4).ok()?,
                bit_offset,
            ))
        }))
    }

    fn find_member(&self, id: u32, member: &[u8], base_bits: u32) -> Option<u32> {
        if let Some((_, _, bits)) = self
            .members(id)?
            .find(|&(name_off, ..)| name_off != 0 && self.name(name_off) == member)
        {
            return Some(base_bits + bits);
        }
        // Anonymous members (e.g. unions inside task_struct) are searched one level at a time.
        self.members(id)?
            .filter(|&(name_off, ..)| name_off == 0)
            .find_map(|(_, type_id, bits)| self.find_member(type_id, member, base_bits + bits))
    }
}

/// The BTF's bytes: a private read-only mapping of the file, or the file read into memory.
enum Bytes {
    Mapped { at: *mut libc::c_void, len: usize },
    Owned(Vec<u8>),
}

// SAFETY: the mapping is read-only and private, owned by this value alone, and unmapped once.
unsafe impl Send for Bytes {}
unsafe impl Sync for Bytes {}

impl Bytes {
    /// Maps the whole file read-only, or `None` when it is empty or the kernel refuses (a sysfs
    /// file without mmap support answers EIO or EINVAL).
    fn map(file: &std::fs::File) -> Option<Bytes> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: a fresh private read-only mapping of `len` bytes of an open file; the result is
        // checked, and the mapping lives until `drop` unmaps it.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (at != libc::MAP_FAILED).then_some(Bytes::Mapped { at, len })
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            // SAFETY: `at` is a live read-only mapping of `len` bytes (see `map`).
            Bytes::Mapped { at, len } => unsafe {
                std::slice::from_raw_parts(at.cast::<u8>(), *len)
            },
            Bytes::Owned(data) => data,
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Bytes::Mapped { at, len } = *self {
            // SAFETY: unmaps the mapping made in `map`, once; no slice of it outlives `self`.
            unsafe { libc::munmap(at, len) };
        }
    }
}

/// The kernel offsets the eBPF programs need, from this kernel's BTF.
#[derive(Clone, Copy, Debug)]
pub struct KernelOffsets {
    pub task_pid: u32,
    /// `task_struct.thread_info.status`, or 0 where compat detection is not supported.
    pub task_status: u32,
    pub compat_status_mask: u32,
    /// `task_struct.nsproxy`, `nsproxy.mnt_ns`, and `mnt_namespace.ns.inum` (one offset).
    pub task_nsproxy: u32,
    pub nsproxy_mnt_ns: u32,
    pub mnt_ns_inum: u32,
    /// `cgroup.kn`, `kernfs_node.id` (a cgroup's id), `cgroup.root`, `cgroup_root.hierarchy_id`.
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    pub cgroup_root: u32,
    pub root_hierarchy_id: u32,
    /// Bit offset of the `linux_binprm.secureexec` bitfield: set for a setuid/setgid/file-capability exec.
    pub bprm_secureexec_bit: u32,
    /// `task_struct.real_cred`: the task's own credentials (`cred` may be overridden by the kernel).
    pub task_real_cred: u32,
    /// runtimes (issue 11): `task_struct.atomic_flags`, and the chain to the executable's name
    /// and inode: `task_struct.mm`, `mm_struct.exe_file`, `file.f_path.dentry`,
    /// `dentry.d_name.name`, `dentry.d_inode`, `inode.i_ino`.
    pub task_atomic_flags: u32,
    pub task_mm: u32,
    pub mm_exe_file: u32,
    pub file_dentry: u32,
    pub dentry_name: u32,
    pub dentry_inode: u32,
    pub inode_ino: u32,
}

impl KernelOffsets {
    pub fn resolve(btf: &Btf) -> Result<KernelOffsets, BtfError> {
        let task_pid = btf.member_offset("task_struct", "pid")?;
        let (task_status, compat_status_mask) = if cfg!(target_arch = "x86_64") {
            // thread_info is embedded in task_struct (CONFIG_THREAD_INFO_IN_TASK); TS_COMPAT is
            // 0x0002 in arch/x86/include/asm/thread_info.h.
            let info = btf.member_offset("task_struct", "thread_info")?;
            (info + btf.member_offset("thread_info", "status")?, 0x0002)
        } else {
            (0, 0)
        };
        Ok(KernelOffsets {
            task_pid,
            task_status,
            compat_status_mask,
            task_nsproxy: btf.member_offset("task_struct", "nsproxy")?,
            nsproxy_mnt_ns: btf.member_offset("nsproxy", "mnt_ns")?,
            mnt_ns_inum: btf.member_offset("mnt_namespace", "ns")?
                + btf.member_offset("ns_common", "inum")?,
            cgroup_kn: btf.member_offset("cgroup", "kn")?,
            kernfs_node_id: btf.member_offset("kernfs_node", "id")?,
            cgroup_root: btf.member_offset("cgroup", "root")?,
            root_hierarchy_id: btf.member_offset("cgroup_root", "hierarchy_id")?,
            bprm_secureexec_bit: btf.member_bit_offset("linux_binprm", "secureexec")?,
            task_real_cred: btf.member_offset("task_struct", "real_cred")?,
            task_atomic_flags: btf.member_offset("task_struct", "atomic_flags")?,
            task_mm: btf.member_offset("task_struct", "mm")?,
            mm_exe_file: btf.member_offset("mm_struct", "exe_file")?,
            file_dentry: btf.member_offset("file", "f_path")?
                + btf.member_offset("path", "dentry")?,
            dentry_name: btf.member_offset("dentry", "d_name")?
                + btf.member_offset("qstr", "name")?,
            dentry_inode: btf.member_offset("dentry", "d_inode")?,
            inode_ino: btf.member_offset("inode", "i_ino")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_file_reads_as_its_bytes() {
        // A regular file maps on every kernel; vmlinux BTF maps on Linux ≥ 6.16.
        let path = std::env::temp_dir().join(format!("btf-map-test-{}", std::process::id()));
        std::fs::write(&path, b"\x9f\xeb some bytes").expect("write a temporary file");
        let mapped =
            Bytes::map(&std::fs::File::open(&path).expect("open it")).expect("a regular file maps");
        assert!(matches!(mapped, Bytes::Mapped { .. }));
        assert_eq!(&*mapped, b"\x9f\xeb some bytes");
        std::fs::remove_file(&path).expect("remove it");
        if let Ok(file) = std::fs::File::open(VMLINUX)
            && let Some(mapped) = Bytes::map(&file)
        {
            assert_eq!(
                &*mapped,
                std::fs::read(VMLINUX).expect("read vmlinux BTF").as_slice()
            );
        }
    }

    #[test]
    fn running_kernel_offsets() {
        // Reading vmlinux BTF needs no privileges; a kernel without it cannot run the recorder.
        if !Path::new(VMLINUX).exists() {
            eprintln!("skipped: {VMLINUX} does not exist on this machine");
            return;
        }
        let btf = Btf::from_vmlinux().expect("parse vmlinux BTF");
        let offsets = KernelOffsets::resolve(&btf).expect("resolve offsets");
        // thread_info is the first member of task_struct on x86 (and `status` follows
        // flags + syscall_work), so the status offset is small; pid sits deep in the struct.
        assert!(offsets.task_pid > 64, "{offsets:?}");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                btf.member_offset("task_struct", "thread_info").expect("ti"),
                0
            );
            assert!(
                offsets.task_status > 0 && offsets.task_status < 64,
                "{offsets:?}"
            );
        }
        assert!(matches!(
            btf.member_offset("task_struct", "no_such_field"),
            Err(BtfError::NoMember { .. })
        ));
        // A bitfield: its bit offset is not a byte multiple on every kernel, but lies in the struct.
        assert!(offsets.bprm_secureexec_bit > 0, "{offsets:?}");
        assert!(matches!(
            btf.member_offset("no_such_struct", "pid"),
            Err(BtfError::NoStruct(_))
        ));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(Bytes::Owned(b"not btf at all, clearly".to_vec())).is_err());
        assert!(Btf::parse(Bytes::Owned(vec![0x9f, 0xeb])).is_err());
    }
}
