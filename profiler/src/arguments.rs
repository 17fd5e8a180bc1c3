//! Argument values (issue 12, docs/design.md §16): what the kernel side recorded of the arguments
//! Docker's default profile restricts — `socket`'s address family (and the protocol of an
//! `AF_NETLINK` socket), `clone`'s namespace flags (`flags & 0x7E020000`) and `personality`'s
//! persona — as sets of values ([`Observed`]), and their names (`AF_INET6`, `NETLINK_ROUTE`,
//! `CLONE_NEWNS|CLONE_NEWPID`, `PER_LINUX`) for the report and the summary.
//!
//! Only the native table is recorded: a 32-bit (ia32) `socket` usually goes through `socketcall`,
//! whose arguments are behind a pointer, and `clone3`'s flags are behind a pointer on every
//! architecture. It builds no rules (`profile/args.rs` does) and reads no maps (the tracer does).

use std::collections::BTreeSet;

use profiler_common::{
    ARGS_FAMILY_OVERFLOW, ARGS_NETLINK_OVERFLOW, ARGS_PERSONA_OVERFLOW, ArgValues,
    clone_namespace_flags,
};
use serde::{Serialize, Serializer, ser::SerializeStruct};

pub use profiler_common::{AF_NETLINK, CLONE_NAMESPACE_MASK};

/// The syscalls whose arguments are recorded, in the order the report lists them.
pub const SOCKET: &str = "socket";
pub const CLONE: &str = "clone";
pub const PERSONALITY: &str = "personality";

/// The distinct argument values one recording's gated threads passed (native table).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// `socket` arg0 (families < 64).
    pub socket_families: BTreeSet<u64>,
    /// `socket(AF_NETLINK, _, protocol)` arg2 (protocols < 32).
    pub netlink_protocols: BTreeSet<u64>,
    /// `clone` arg0 & [`CLONE_NAMESPACE_MASK`].
    pub clone_namespaces: BTreeSet<u64>,
    /// `personality` arg0.
    pub personas: BTreeSet<u64>,
    /// `ARGS_*_OVERFLOW` bits: a value the record could not keep was made.
    pub overflow: u32,
}

impl Observed {
    /// The union of the per-CPU records of one target.
    pub fn from_per_cpu<'a>(rows: impl IntoIterator<Item = &'a ArgValues>) -> Observed {
        let mut observed = Observed::default();
        for row in rows {
            observed.overflow |= row.overflow;
            observed
                .socket_families
                .extend((0..64).filter(|bit| row.socket_families & (1 << bit) != 0));
            observed
                .netlink_protocols
                .extend((0..32).filter(|bit| row.netlink_protocols & (1 << bit) != 0));
            for index in 0..128u32 {
                if row.clone_namespaces[(index / 64) as usize] & (1 << (index % 64)) != 0 {
                    observed
                        .clone_namespaces
                        .insert(clone_namespace_flags(index));
                }
            }
            let count = (row.persona_count as usize).min(row.personas.len());
            observed.personas.extend(&row.personas[..count]);
        }
        observed
    }

    pub fn is_empty(&self) -> bool {
        self.socket_families.is_empty()
            && self.clone_namespaces.is_empty()
            && self.personas.is_empty()
            && self.overflow == 0
    }

    /// Whether every value of `syscall` that was made is in the record, so that a profile may
    /// allow exactly these values. False for a syscall whose values were not recorded at all.
    pub fn complete(&self, syscall: &str) -> bool {
        match syscall {
            SOCKET => {
                !self.socket_families.is_empty()
                    && self.overflow & (ARGS_FAMILY_OVERFLOW | ARGS_NETLINK_OVERFLOW) == 0
            }
            CLONE => !self.clone_namespaces.is_empty(),
            PERSONALITY => !self.personas.is_empty() && self.overflow & ARGS_PERSONA_OVERFLOW == 0,
            _ => false,
        }
    }

    /// Every recorded call shape of `syscall` as (arg0, arg2): arg2 only for netlink sockets.
    pub fn calls(&self, syscall: &str) -> Vec<(u64, Option<u64>)> {
        match syscall {
            SOCKET => self
                .socket_families
                .iter()
                .flat_map(|&family| {
                    if family == AF_NETLINK && !self.netlink_protocols.is_empty() {
                        self.netlink_protocols
                            .iter()
                            .map(|&protocol| (family, Some(protocol)))
                            .collect::<Vec<_>>()
                    } else {
                        vec![(family, None)]
                    }
                })
                .collect(),
            CLONE => self.clone_namespaces.iter().map(|&v| (v, None)).collect(),
            PERSONALITY => self.personas.iter().map(|&v| (v, None)).collect(),
            _ => Vec::new(),
        }
    }
}

/// How a call shape of `syscall` reads: `AF_INET6`, `AF_NETLINK/NETLINK_ROUTE`, `CLONE_NEWUSER`.
pub fn describe(syscall: &str, arg0: u64, arg2: Option<u64>) -> String {
    match (syscall, arg2) {
        (SOCKET, Some(protocol)) => {
            format!("{}/{}", family_name(arg0), netlink_name(protocol))
        }
        (SOCKET, None) => family_name(arg0),
        (CLONE, _) => clone_name(arg0),
        (PERSONALITY, _) => persona_name(arg0),
        _ => format!("{arg0:#x}"),
    }
}

/// include/linux/socket.h, Linux 6.18 (AF_MAX 46).
const FAMILIES: [&str; 46] = [
    "AF_UNSPEC",
    "AF_UNIX",
    "AF_INET",
    "AF_AX25",
    "AF_IPX",
    "AF_APPLETALK",
    "AF_NETROM",
    "AF_BRIDGE",
    "AF_ATMPVC",
    "AF_X25",
    "AF_INET6",
    "AF_ROSE",
    "AF_DECnet",
    "AF_NETBEUI",
    "AF_SECURITY",
    "AF_KEY",
    "AF_NETLINK",
    "AF_PACKET",
    "AF_ASH",
    "AF_ECONET",
    "AF_ATMSVC",
    "AF_RDS",
    "AF_SNA",
    "AF_IRDA",
    "AF_PPPOX",
    "AF_WANPIPE",
    "AF_LLC",
    "AF_IB",
    "AF_MPLS",
    "AF_CAN",
    "AF_TIPC",
    "AF_BLUETOOTH",
    "AF_IUCV",
    "AF_RXRPC",
    "AF_ISDN",
    "AF_PHONET",
    "AF_IEEE802154",
    "AF_CAIF",
    "AF_ALG",
    "AF_NFC",
    "AF_VSOCK",
    "AF_KCM",
    "AF_QIPCRTR",
    "AF_SMC",
    "AF_XDP",
    "AF_MCTP",
];

/// include/uapi/linux/netlink.h, Linux 6.18.
const NETLINK: [&str; 23] = [
    "NETLINK_ROUTE",
    "NETLINK_UNUSED",
    "NETLINK_USERSOCK",
    "NETLINK_FIREWALL",
    "NETLINK_SOCK_DIAG",
    "NETLINK_NFLOG",
    "NETLINK_XFRM",
    "NETLINK_SELINUX",
    "NETLINK_ISCSI",
    "NETLINK_AUDIT",
    "NETLINK_FIB_LOOKUP",
    "NETLINK_CONNECTOR",
    "NETLINK_NETFILTER",
    "NETLINK_IP6_FW",
    "NETLINK_DNRTMSG",
    "NETLINK_KOBJECT_UEVENT",
    "NETLINK_GENERIC",
    "",
    "NETLINK_SCSITRANSPORT",
    "NETLINK_ECRYPTFS",
    "NETLINK_RDMA",
    "NETLINK_CRYPTO",
    "NETLINK_SMC",
];

/// include/uapi/linux/sched.h: the bits of [`CLONE_NAMESPACE_MASK`], in flag order.
const CLONE_NAMESPACES: [(u64, &str); 7] = [
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
];

/// include/uapi/linux/personality.h: the flags above the base persona.
const PERSONA_FLAGS: [(u64, &str); 11] = [
    (0x0020000, "UNAME26"),
    (0x0040000, "ADDR_NO_RANDOMIZE"),
    (0x0080000, "FDPIC_FUNCPTRS"),
    (0x0100000, "MMAP_PAGE_ZERO"),
    (0x0200000, "ADDR_COMPAT_LAYOUT"),
    (0x0400000, "READ_IMPLIES_EXEC"),
    (0x0800000, "ADDR_LIMIT_32BIT"),
    (0x1000000, "SHORT_INODE"),
    (0x2000000, "WHOLE_SECONDS"),
    (0x4000000, "STICKY_TIMEOUTS"),
    (0x8000000, "ADDR_LIMIT_3GB"),
];

pub fn family_name(family: u64) -> String {
    usize::try_from(family)
        .ok()
        .and_then(|index| FAMILIES.get(index))
        .map_or_else(|| format!("family {family}"), |name| (*name).to_owned())
}

pub fn netlink_name(protocol: u64) -> String {
    usize::try_from(protocol)
        .ok()
        .and_then(|index| NETLINK.get(index))
        .filter(|name| !name.is_empty())
        .map_or_else(
            || format!("netlink protocol {protocol}"),
            |name| (*name).to_owned(),
        )
}

/// `CLONE_NEWNS|CLONE_NEWPID`, or `0` for a clone without namespace flags.
pub fn clone_name(flags: u64) -> String {
    let names: Vec<&str> = CLONE_NAMESPACES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "0".to_owned()
    } else {
        names.join("|")
    }
}

/// `PER_LINUX`, `PER_LINUX32|ADDR_NO_RANDOMIZE`, `0xffffffff (query)`.
pub fn persona_name(persona: u64) -> String {
    if persona == 0xffff_ffff {
        return "0xffffffff (query)".to_owned();
    }
    let known_flags: u64 = PERSONA_FLAGS.iter().map(|(bit, _)| bit).sum();
    if persona & !(known_flags | 0xff) != 0 {
        return format!("{persona:#x}");
    }
    let base = match persona & 0xff {
        0 => "PER_LINUX".to_owned(),
        8 => "PER_LINUX32".to_owned(),
        other => format!("persona {other:#x}"),
    };
    let mut parts = vec![base];
    parts.extend(
        PERSONA_FLAGS
            .iter()
            .filter(|(bit, _)| persona & bit != 0)
            .map(|(_, name)| (*name).to_owned()),
    );
    parts.join("|")
}

/// A value with its name, as the report lists it.
#[derive(Serialize)]
struct Named {
    value: u64,
    name: String,
}

fn named(values: &BTreeSet<u64>, name: fn(u64) -> String) -> Vec<Named> {
    values
        .iter()
        .map(|&value| Named {
            value,
            name: name(value),
        })
        .collect()
}

/// The report's `arguments` object: every value by number and name, which syscalls' values are
/// incomplete, and what is not recorded.
impl Serialize for Observed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let incomplete: Vec<&str> = [
            (SOCKET, ARGS_FAMILY_OVERFLOW | ARGS_NETLINK_OVERFLOW),
            (PERSONALITY, ARGS_PERSONA_OVERFLOW),
        ]
        .into_iter()
        .filter(|(_, bits)| self.overflow & bits != 0)
        .map(|(name, _)| name)
        .collect();
        let mut state = serializer.serialize_struct("Observed", 6)?;
        state.serialize_field(
            "socket_families",
            &named(&self.socket_families, family_name),
        )?;
        state.serialize_field(
            "netlink_protocols",
            &named(&self.netlink_protocols, netlink_name),
        )?;
        state.serialize_field(
            "clone_namespace_flags",
            &named(&self.clone_namespaces, clone_name),
        )?;
        state.serialize_field("personalities", &named(&self.personas, persona_name))?;
        state.serialize_field("incomplete", &incomplete)?;
        state.serialize_field(
            "scope",
            "native syscall table only; clone3's flags are behind a pointer and are not recorded",
        )?;
        state.end()
    }
}

#[cfg(test)]
mod tests {
    use profiler_common::{PERSONA_SLOTS, clone_namespace_index};

    use super::*;

    #[test]
    fn names() {
        assert_eq!(family_name(1), "AF_UNIX");
        assert_eq!(family_name(10), "AF_INET6");
        assert_eq!(family_name(38), "AF_ALG");
        assert_eq!(family_name(40), "AF_VSOCK");
        assert_eq!(family_name(45), "AF_MCTP");
        assert_eq!(family_name(63), "family 63");
        assert_eq!(netlink_name(0), "NETLINK_ROUTE");
        assert_eq!(netlink_name(17), "netlink protocol 17");
        assert_eq!(clone_name(0), "0");
        assert_eq!(clone_name(0x2002_0000), "CLONE_NEWNS|CLONE_NEWPID");
        assert_eq!(clone_name(CLONE_NAMESPACE_MASK).matches('|').count(), 6);
        assert_eq!(persona_name(0), "PER_LINUX");
        assert_eq!(persona_name(0x20008), "PER_LINUX32|UNAME26");
        assert_eq!(persona_name(0x40000), "PER_LINUX|ADDR_NO_RANDOMIZE");
        assert_eq!(persona_name(0xffff_ffff), "0xffffffff (query)");
        assert_eq!(persona_name(0x1_0000_0000), "0x100000000");
        assert_eq!(describe(SOCKET, 16, Some(0)), "AF_NETLINK/NETLINK_ROUTE");
    }

    #[test]
    fn union_over_cpus() {
        let mut one = ArgValues::EMPTY;
        one.socket_families = (1 << 1) | (1 << 2);
        let newuser = clone_namespace_index(0x1000_0000);
        one.clone_namespaces[0] = 1 | (1 << newuser);
        one.personas[0] = 0xffff_ffff;
        one.persona_count = 1;
        let mut two = ArgValues::EMPTY;
        two.socket_families = (1 << 10) | (1 << 16);
        two.netlink_protocols = 1 << 0;
        // The full mask is index 127, in the high word.
        two.clone_namespaces[1] = 1 << 63;
        two.personas = [0, 8, 0xffff_ffff, 0, 0, 0];
        two.persona_count = 3;
        let observed = Observed::from_per_cpu([&one, &two]);
        assert_eq!(
            observed.socket_families.iter().copied().collect::<Vec<_>>(),
            [1, 2, 10, 16]
        );
        assert_eq!(
            observed
                .clone_namespaces
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [0, 0x1000_0000, CLONE_NAMESPACE_MASK]
        );
        assert_eq!(
            observed.personas.iter().copied().collect::<Vec<_>>(),
            [0, 8, 0xffff_ffff]
        );
        assert!(observed.complete(SOCKET) && observed.complete(CLONE));
        assert_eq!(
            observed.calls(SOCKET),
            [(1, None), (2, None), (10, None), (16, Some(0))]
        );
        let mut full = ArgValues::EMPTY;
        full.persona_count = PERSONA_SLOTS as u32;
        full.overflow = ARGS_PERSONA_OVERFLOW;
        let observed = Observed::from_per_cpu([&full]);
        assert!(
            !observed.complete(PERSONALITY),
            "an overflow is never exact"
        );
        let json = serde_json::to_value(&observed).unwrap_or_default();
        assert_eq!(json["incomplete"], serde_json::json!(["personality"]));
    }
}
