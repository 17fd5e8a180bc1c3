//! Compilation into a libseccomp filter with runc's semantics ([`Profile::compile`]), including an
//! emulation of runc's `-ENOSYS` stub, and the conversions of actions and argument conditions into
//! libseccomp's types that validation shares ([`scmp_action`], [`scmp_conditions`]).
//!
//! It builds the filter; it does not load it (`exec` does, right before execve), and it decides
//! Docker's `includes`/`excludes` through host.rs.

use std::collections::HashSet;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    error::SeccompError,
};

use super::{
    Action, ArgCond, ENOSYS, Op, Profile, ProfileError,
    host::{CAP_SYS_ADMIN, Host, rule_applies},
    validate::place,
};
use crate::syscalls::{self, Arch};

fn lib_err(what: impl Into<String>) -> impl FnOnce(SeccompError) -> ProfileError {
    let what = what.into();
    move |err| ProfileError::Libseccomp { what, err }
}

/// runc's `getAction`: `SCMP_ACT_KILL` is KILL_THREAD; ERRNO and TRACE return their effective
/// errno ([`Action::effective_errno`]). NOTIFY and unknown actions are refused.
pub(super) fn scmp_action(
    place: &str,
    action: &Action,
    errno_ret: Option<u32>,
) -> Result<ScmpAction, ProfileError> {
    // runc casts errnoRet to int16; anything above 16 bits would silently change meaning.
    if let Some(value) = errno_ret
        && value > u32::from(u16::MAX)
    {
        return Err(ProfileError::ErrnoRet {
            place: place.to_owned(),
            value,
        });
    }
    let errno = action.effective_errno(errno_ret).unwrap_or_default();
    Ok(match action {
        Action::Kill | Action::KillThread => ScmpAction::KillThread,
        Action::KillProcess => ScmpAction::KillProcess,
        Action::Trap => ScmpAction::Trap,
        Action::Errno => ScmpAction::Errno(errno as i32),
        Action::Trace => ScmpAction::Trace(errno as u16),
        Action::Allow => ScmpAction::Allow,
        Action::Log => ScmpAction::Log,
        Action::Notify => {
            return Err(ProfileError::Notify {
                place: place.to_owned(),
            });
        }
        Action::Unknown(name) => {
            return Err(ProfileError::UnknownAction {
                place: place.to_owned(),
                action: name.clone(),
            });
        }
    })
}

/// A rule's conditions, and whether an argument index repeats (then runc adds each condition as
/// its own rule, because libseccomp refuses two conditions on one argument with EINVAL).
pub(super) fn scmp_conditions(
    place: &str,
    args: &[ArgCond],
) -> Result<(Vec<ScmpArgCompare>, bool), ProfileError> {
    let mut seen = [false; 6];
    let mut repeated = false;
    let mut conditions = Vec::with_capacity(args.len());
    for arg in args {
        let op = match &arg.op {
            Op::NotEqual => ScmpCompareOp::NotEqual,
            Op::Less => ScmpCompareOp::Less,
            Op::LessOrEqual => ScmpCompareOp::LessOrEqual,
            Op::Equal => ScmpCompareOp::Equal,
            Op::GreaterEqual => ScmpCompareOp::GreaterEqual,
            Op::Greater => ScmpCompareOp::Greater,
            // libseccomp-golang's MakeCondition(index, op, value, valueTwo) passes value as
            // datum_a, which libseccomp takes as the mask for MASKED_EQ.
            Op::MaskedEqual => ScmpCompareOp::MaskedEqual(arg.value),
            Op::Unknown(other) => {
                return Err(ProfileError::UnknownOperator {
                    place: place.to_owned(),
                    op: other.clone(),
                });
            }
        };
        let slot = seen
            .get_mut(arg.index as usize)
            .ok_or_else(|| ProfileError::ArgIndex {
                place: place.to_owned(),
                index: arg.index,
            })?;
        repeated |= *slot;
        *slot = true;
        let datum = if matches!(op, ScmpCompareOp::MaskedEqual(_)) {
            arg.value_two
        } else {
            arg.value
        };
        conditions.push(ScmpArgCompare::new(arg.index, op, datum));
    }
    Ok((conditions, repeated))
}

/// One (name, action, conditions) as runc's specconv expands a rule: one entry per name.
struct Entry<'a> {
    place: String,
    name: &'a str,
    action: ScmpAction,
    conditions: Vec<ScmpArgCompare>,
    split: bool,
}

/// Filter attributes that must be equal on every per-architecture context (seccomp_merge
/// requires the same default action, NNP and TSYNC).
struct Attributes {
    default: ScmpAction,
    no_new_privs: bool,
    tsync: bool,
    log: bool,
    spec_allow: bool,
    optimize: bool,
}

/// Syscall numbers up to this one are answered ENOSYS on the native architecture even when
/// libseccomp cannot name them. The x86_64 and asm-generic (aarch64) tables grow contiguously and
/// end near 470 in Linux 6.18; on x86_64, 512 and up are x32's slots.
const NATIVE_ENOSYS_CEILING: u32 = 511;

impl Profile {
    /// Builds the filter runc would install for this profile (libcontainer/seccomp/seccomp_linux.go
    /// and patchbpf/enosys_linux.go, runc 1.1), after Docker's `archMap`/`includes`/`excludes`
    /// processing. Nothing is loaded.
    ///
    /// - Default action with `defaultErrnoRet` (ERRNO without it is EPERM). The native architecture
    ///   is always in the filter; the effective architectures are added to it.
    /// - Names libseccomp cannot resolve are skipped, and rules whose action equals the default are
    ///   skipped (libseccomp refuses them with EACCES), both as runc does.
    /// - A rule whose conditions repeat an argument index becomes one rule per condition.
    /// - runc's ENOSYS stub answers ENOSYS for every number above the highest one the profile
    ///   names on each listed architecture (unless the default action is ALLOW, LOG or TRACE, or
    ///   no architectures are listed). It is emulated with ERRNO(ENOSYS) rules, one per number
    ///   libseccomp knows on that architecture above that maximum, plus every number up to 511 on
    ///   the native architecture. Numbers libseccomp does not know on a non-native architecture
    ///   still get the default action, because libseccomp adds rules there only by name. On ia32,
    ///   libseccomp also applies such a rule to the socketcall/ipc multiplexed form of a socket or
    ///   IPC syscall, which runc's stub (direct numbers only) does not.
    ///   Checked against runc 1.1.5 on Linux 6.18: the same errno for unlisted numbers below and
    ///   above the maximum (EPERM, ENOSYS), including numbers libseccomp cannot name up to 511.
    /// - No-new-privileges is left off when the process holds CAP_SYS_ADMIN (runc's default for a
    ///   container without no-new-privileges), and turned on otherwise, since the kernel installs a
    ///   filter only with one of the two.
    pub fn compile(&self) -> Result<ScmpFilterContext, ProfileError> {
        let default = scmp_action(
            "defaultAction",
            &self.default_action,
            self.default_errno_ret,
        )?;
        let arches = self.effective_architectures()?;
        let host = Host::current()?;

        let mut attributes = Attributes {
            default,
            no_new_privs: !host.has_cap(CAP_SYS_ADMIN),
            tsync: false,
            log: false,
            spec_allow: false,
            optimize: false,
        };
        for flag in &self.flags {
            match flag.as_str() {
                // runc ignores TSYNC because libseccomp-golang sets it on every filter anyway.
                "SECCOMP_FILTER_FLAG_TSYNC" => attributes.tsync = true,
                "SECCOMP_FILTER_FLAG_LOG" => attributes.log = true,
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => attributes.spec_allow = true,
                // Only changes how a notify listener waits; notify is refused, and libseccomp
                // 2.5 has no attribute for it.
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => {}
                other => {
                    return Err(ProfileError::UnknownFlag {
                        flag: other.to_owned(),
                    });
                }
            }
        }

        let mut entries = Vec::new();
        // What runc adds, one rule per name of every applying rule: duplicates included.
        let mut runc_rules = 0usize;
        // A name repeated with the same action and conditions (in one rule or several) is added
        // once: libseccomp gives the same filter, and adding 100,000 repeats took minutes.
        let mut seen: HashSet<(&str, ScmpAction, Vec<ScmpArgCompare>, bool)> = HashSet::new();
        for (i, rule) in self.syscalls.iter().enumerate() {
            let place = place(i, rule);
            if rule.names.is_empty() {
                return Err(ProfileError::NoNames { place });
            }
            let action = scmp_action(&place, &rule.action, rule.errno_ret)?;
            let (conditions, split) = scmp_conditions(&place, &rule.args)?;
            if !rule_applies(&place, rule, &host)? {
                log::debug!("{place}: not applied on this host (includes/excludes)");
                continue;
            }
            runc_rules += rule.names.len();
            for name in &rule.names {
                if !seen.insert((name, action, conditions.clone(), split)) {
                    continue;
                }
                entries.push(Entry {
                    place: place.clone(),
                    name,
                    action,
                    conditions: conditions.clone(),
                    split,
                });
            }
        }
        // runc turns on libseccomp's binary-tree optimization above 32 (per-name) rules; fewer
        // rules avoid a libseccomp ≤ 2.5.4 bug with the optimization and no rules.
        attributes.optimize = runc_rules > 32;

        // runc's `generatePatch` skips permissive defaults. With an ERRNO(ENOSYS) default the
        // stub changes nothing, and libseccomp would refuse rules equal to the default.
        let stub = !matches!(
            default,
            ScmpAction::Allow | ScmpAction::Log | ScmpAction::Trace(_)
        ) && default != ScmpAction::Errno(ENOSYS as i32);
        // The native architecture is always in runc's filter (libseccomp's seccomp_init adds it);
        // the stub covers only the listed ones.
        let native = Arch::native();
        let build = |arch: Arch| -> Result<ScmpFilterContext, ProfileError> {
            let mut ctx = new_context(arch, &attributes)?;
            add_entries(&mut ctx, arch, &entries, default)?;
            if stub && arches.contains(&arch) {
                add_enosys_stub(&mut ctx, arch, &entries);
            }
            Ok(ctx)
        };
        let mut filter = build(native)?;
        for &arch in arches.iter().filter(|arch| **arch != native) {
            filter.merge(build(arch)?).map_err(lib_err(format!(
                "merge the {} filter into the native one",
                arch.scmp_name()
            )))?;
        }
        Ok(filter)
    }
}

/// A filter for one architecture only, so that the ENOSYS rules can differ per architecture;
/// [`Profile::compile`] merges them (seccomp_merge).
fn new_context(arch: Arch, attributes: &Attributes) -> Result<ScmpFilterContext, ProfileError> {
    let what = |step: &str| format!("{step} for {}", arch.scmp_name());
    let mut ctx =
        ScmpFilterContext::new(attributes.default).map_err(lib_err(what("create a filter")))?;
    if arch != Arch::native() {
        ctx.add_arch(arch.to_scmp())
            .map_err(lib_err(what("add the architecture")))?;
        ctx.remove_arch(ScmpArch::Native)
            .map_err(lib_err(what("remove the native architecture")))?;
    }
    ctx.set_ctl_nnp(attributes.no_new_privs)
        .map_err(lib_err(what("set no_new_privs")))?;
    // The kernel's errno (EACCES without CAP_SYS_ADMIN, …) rather than libseccomp's ECANCELED.
    ctx.set_api_sysrawrc(true)
        .map_err(lib_err(what("ask for raw error codes")))?;
    if attributes.tsync {
        ctx.set_ctl_tsync(true)
            .map_err(lib_err(what("set SECCOMP_FILTER_FLAG_TSYNC")))?;
    }
    if attributes.log {
        ctx.set_ctl_log(true)
            .map_err(lib_err(what("set SECCOMP_FILTER_FLAG_LOG")))?;
    }
    if attributes.spec_allow {
        ctx.set_ctl_ssb(true)
            .map_err(lib_err(what("set SECCOMP_FILTER_FLAG_SPEC_ALLOW")))?;
    }
    if attributes.optimize {
        ctx.set_ctl_optimize(2)
            .map_err(lib_err(what("enable binary-tree optimization")))?;
    }
    Ok(ctx)
}

/// runc's `matchCall` for every entry. Numbers are given in the native numbering (or as
/// libseccomp's pseudo-number), which libseccomp translates by name for the context's
/// architecture, exactly as for runc's multi-architecture filter.
fn add_entries(
    ctx: &mut ScmpFilterContext,
    arch: Arch,
    entries: &[Entry<'_>],
    default: ScmpAction,
) -> Result<(), ProfileError> {
    for entry in entries {
        if entry.action == default {
            continue;
        }
        let Ok(syscall) = ScmpSyscall::from_name(entry.name) else {
            log::debug!(
                "{}: unknown syscall {:?} ignored, as runc does",
                entry.place,
                entry.name
            );
            continue;
        };
        let what = || {
            format!(
                "add the rule for {} ({}, {})",
                entry.name,
                entry.place,
                arch.scmp_name()
            )
        };
        if entry.conditions.is_empty() {
            ctx.add_rule(entry.action, syscall)
                .map_err(lib_err(what()))?;
        } else if entry.split {
            for condition in &entry.conditions {
                ctx.add_rule_conditional(entry.action, syscall, std::slice::from_ref(condition))
                    .map_err(lib_err(what()))?;
            }
        } else {
            ctx.add_rule_conditional(entry.action, syscall, &entry.conditions)
                .map_err(lib_err(what()))?;
        }
    }
    Ok(())
}

/// Emulates runc's `generateEnosysStub` for one architecture: ENOSYS above the highest number
/// any entry names there (pseudo-numbers do not count; no named number, no stub, as in runc's
/// `findLastSyscalls`). Numbers libseccomp cannot add a rule for are left to the default action.
fn add_enosys_stub(ctx: &mut ScmpFilterContext, arch: Arch, entries: &[Entry<'_>]) {
    let Some(max) = entries
        .iter()
        .filter_map(|entry| syscalls::number_of(arch, entry.name))
        .max()
    else {
        log::debug!(
            "no syscall of the profile exists on {}: no ENOSYS stub, as runc",
            arch.scmp_name()
        );
        return;
    };
    let enosys = ScmpAction::Errno(ENOSYS as i32);
    let mut candidates: Vec<ScmpSyscall> = Vec::new();
    for nr in syscalls::known_numbers(arch)
        .into_iter()
        .filter(|nr| *nr > max)
    {
        // Rules name syscalls in the native numbering; libseccomp maps the name back to `nr`.
        if let Some(syscall) =
            syscalls::name_of(arch, nr).and_then(|name| ScmpSyscall::from_name(&name).ok())
        {
            candidates.push(syscall);
        }
    }
    if arch == Arch::native() {
        for nr in max.saturating_add(1)..=NATIVE_ENOSYS_CEILING {
            if syscalls::name_of(arch, nr).is_none()
                && let Ok(nr) = i32::try_from(nr)
            {
                candidates.push(ScmpSyscall::from(nr));
            }
        }
    }
    for syscall in candidates {
        if let Err(err) = ctx.add_rule(enosys, syscall) {
            log::debug!(
                "ENOSYS rule for syscall {} on {} not added: {err}",
                i32::from(syscall),
                arch.scmp_name()
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::{collections::BTreeSet, io, path::Path};

    use super::*;

    const DOCKER_20: &str = include_str!("../../tests/fixtures/docker-moby-v20.10.24-default.json");
    const DOCKER_28: &str = include_str!("../../tests/fixtures/docker-moby-v28.2.2-default.json");

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn parse(text: &str) -> Profile {
        Profile::from_json(text, Path::new("test.json")).unwrap()
    }

    fn pfc(ctx: &ScmpFilterContext) -> String {
        let file = tempfile::tempfile().unwrap();
        ctx.export_pfc(&file).unwrap();
        let mut text = String::new();
        let mut file = file;
        io::Seek::rewind(&mut file).unwrap();
        io::Read::read_to_string(&mut file, &mut text).unwrap();
        text
    }

    /// The line after `if ($syscall == NR)` in libseccomp's pseudo-filter code.
    fn action_after(pfc: &str, nr: u32) -> Option<String> {
        let marker = format!("if ($syscall == {nr})\n");
        pfc.find(&marker).map(|at| {
            pfc[at + marker.len()..]
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
    }

    fn bpf_instructions(ctx: &ScmpFilterContext) -> u64 {
        let file = tempfile::tempfile().unwrap();
        ctx.export_bpf(&file).unwrap();
        file.metadata().unwrap().len() / 8
    }

    #[test]
    fn docker_default_profiles() {
        let docker20 = parse(DOCKER_20);
        assert_eq!(docker20.allowed_names().len(), 346);
        docker20.check().unwrap();
        let arches = docker20.effective_architectures().unwrap();
        assert_eq!(arches, Arch::native_family());
        docker20.compile().unwrap();

        let docker28 = parse(DOCKER_28);
        assert_eq!(docker28.allowed_names().len(), 361);
        // Docker 28 names syscalls newer than some libseccomp versions (mseal, …): check() must
        // flag exactly those this libseccomp does not know, and compile() must skip them.
        match docker28.check() {
            Ok(()) => {}
            Err(ProfileError::UnknownSyscalls(names)) => {
                assert!(
                    names.iter().all(|name| !syscalls::is_known_name(name)),
                    "{names:?}"
                );
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        docker28.compile().unwrap();
    }

    #[test]
    fn compile_emulates_runc_enosys_stub() {
        if Arch::native() != Arch::X86_64 {
            return;
        }
        // Highest named number on x86_64: execve (59). exit (60) is above it: ENOSYS. vfork (58)
        // is below it and unnamed: the default action.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["read","execve"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        let action_of = |nr: u32| action_after(&text, nr);
        assert_eq!(action_of(0).as_deref(), Some("action ALLOW;"), "{text}");
        assert_eq!(action_of(59).as_deref(), Some("action ALLOW;"), "{text}");
        assert_eq!(
            action_of(60).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
        assert_eq!(
            action_of(435).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
        // Unknown to libseccomp on x86_64 (a hole in the table) but still above the maximum.
        assert_eq!(
            action_of(400).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
        assert_eq!(action_of(58), None, "{text}");

        // Without architectures runc generates no stub at all.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO",
                "syscalls":[{"names":["read","execve"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        assert!(!text.contains("ERRNO(38)"), "{text}");

        // Nor with a permissive default action.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        assert!(!text.contains("ERRNO(38)"), "{text}");
    }

    #[test]
    fn compile_follows_runc_rule_handling() {
        // A rule equal to the default (ERRNO without errnoRet is EPERM), an unknown name, and
        // a repeated argument index: runc skips, skips, and splits.
        let profile = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[
                  {"names":["read"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["mount"],"action":"SCMP_ACT_ERRNO"},
                  {"names":["not_a_syscall"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                  {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[
                    {"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]},
                  {"names":["reboot"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["s390x"]}}
                ]}"#,
        );
        let text = pfc(&profile.compile().unwrap());
        assert!(
            text.contains("if ($a0.lo32 == 8)"),
            "both personality conditions: {text}"
        );
        assert!(
            text.contains("if ($a0.lo32 == 0)"),
            "both personality conditions: {text}"
        );
        assert!(
            text.contains("if ($a0.lo32 & 0x7e020000 == 0)"),
            "MASKED_EQ mask: {text}"
        );
        assert!(
            !text.contains("\"mount\""),
            "rule equal to the default: {text}"
        );
        // reboot's rule is dropped (s390x only); as the highest number is mount (165), reboot
        // (169) falls under the ENOSYS stub rather than being allowed.
        assert_eq!(
            action_after(&text, 169).as_deref(),
            Some("action ERRNO(38);"),
            "{text}"
        );
    }

    #[test]
    fn filters_fit_the_kernel_limit() {
        // The worst case for the ENOSYS emulation: a tiny profile on every architecture of the
        // family, so almost every syscall gets its own ERRNO(38) rule. BPF_MAXINSNS is 4096.
        let profile = parse(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":[{}],
                "syscalls":[{{"names":["read"],"action":"SCMP_ACT_ALLOW"}}]}}"#,
            Arch::native_family()
                .iter()
                .map(|a| format!("{:?}", a.scmp_name()))
                .collect::<Vec<_>>()
                .join(",")
        ));
        let len = bpf_instructions(&profile.compile().unwrap());
        assert!(len < 4096, "{len} instructions");
        let docker = bpf_instructions(&parse(DOCKER_20).compile().unwrap());
        assert!(docker < 4096, "{docker} instructions");
        let minimal = Profile::minimal(
            &set(&["read", "write", "exit_group"]),
            Arch::native_family(),
        )
        .unwrap();
        assert!(bpf_instructions(&minimal.compile().unwrap()) < 4096);
    }

    #[test]
    fn repeated_names_are_added_once() {
        // More than 32 names, so that both filters get runc's binary-tree optimization (runc
        // counts repeats towards its threshold, as the end of this test shows).
        let names: Vec<String> = syscalls::known_numbers(Arch::X86_64)
            .into_iter()
            .filter_map(|nr| syscalls::name_of(Arch::X86_64, nr))
            .take(40)
            .collect();
        let once = Profile::minimal(&names.iter().cloned().collect(), &[Arch::X86_64]).unwrap();
        let mut repeated = once.clone();
        repeated.syscalls[0].names = (0..100_000)
            .map(|i| names[i % names.len()].clone())
            .collect();
        repeated.syscalls.push(once.syscalls[0].clone());
        let started = std::time::Instant::now();
        let filter = repeated.compile().unwrap();
        // Each repeat used to be its own libseccomp rule: minutes for 100,000.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(pfc(&filter), pfc(&once.compile().unwrap()));

        // Five names written eight times are 40 rules to runc: the optimization is on.
        let mut five = Profile::minimal(&set(&["read"]), &[Arch::X86_64]).unwrap();
        five.syscalls[0].names = (0..40).map(|i| names[i % 5].clone()).collect();
        assert!(pfc(&five.compile().unwrap()).contains("else #"));
    }
}
