//! `check --enforce` (design.md §15): the workload runs *under* its profile and every call seccomp
//! refuses is counted in the kernel, so a short profile fails loudly here instead of blind in
//! production. `--profile FILE -- CMD` runs CMD through this binary's own `exec --profile FILE`
//! (libseccomp, runc's semantics), behind the recorder's launcher; `--containers -- CMD` and
//! `--container NAME` take whatever filter each container's runtime installed
//! (`--security-opt seccomp=…`). Exit 1 lists every refusal per target.
//!
//! It does not compare the recorded syscalls with a profile (under the filter nothing outside it
//! gets past seccomp); that is plain `check`.

use std::{ffi::OsString, path::Path};

use anyhow::Context as _;

use super::Collect;
use crate::{
    cli::CheckArgs,
    exit,
    output::{self, Destination, report::DeniedEntry, summary},
    recording::{self, Options, Target, context::os_args, denied},
};

pub(super) fn run(args: CheckArgs, options: &Options) -> anyhow::Result<i32> {
    let own_filters = args.containers || args.container.is_some();
    if own_filters && args.profile.is_some() {
        return exit::input(
            "check --enforce with --containers or --container uses each container's own profile \
             (its --security-opt seccomp=…); drop --profile, or check a command: \
             check --enforce --profile FILE -- CMD",
        );
    }
    let shown_cmd = os_args(&args.cmd).join(" ");
    let (target, profile_shown) = match (args.container, args.containers) {
        (Some(name), _) => (Target::Container { name }, None),
        (None, true) => (Target::Containers { cmd: args.cmd }, None),
        (None, false) => {
            let Some(profile) = args.profile else {
                return exit::input(
                    "check --enforce -- CMD needs --profile FILE: the profile CMD runs under",
                );
            };
            // Checked now (exit 2 on a bad profile) rather than by the `exec` child mid-run.
            let loaded = crate::commands::load_profile(&profile)?;
            if !loaded.default_action.permits()
                && !loaded.allowed_names().contains("exit")
                && args.duration.is_none()
            {
                log::warn!(
                    "{} does not allow `exit`: a thread that ends under it spins forever (glibc \
                     retries a refused exit); pass --duration to bound the run",
                    profile.display()
                );
            }
            let cmd = exec_under(&profile, &args.cmd)?;
            (
                Target::Command {
                    cmd,
                    user: args.user,
                },
                Some(profile.display().to_string()),
            )
        }
    };
    let report = (args.report.as_deref())
        .map(|path| Destination::check("report", path))
        .transpose()?;
    let mut collected = Collect::new(profile_shown.clone().unwrap_or_default());
    let outcome = recording::run(&target, options, &mut collected)?;
    if let (Some(report), Some(finished)) = (&report, collected.recordings.first()) {
        output::write_report(&finished.built, report)?;
    }
    if collected.recordings.is_empty() {
        summary::note(&format!(
            "seccomp-profiler check --enforce: FAILED — nothing was checked: no container started \
             while `{shown_cmd}` ran"
        ));
        return Ok(exit::FINDING);
    }
    let mut failed = false;
    for finished in &collected.recordings {
        let what = match (&target, &finished.stem) {
            (Target::Command { .. }, _) => format!("`{shown_cmd}`"),
            (Target::Container { name }, _) => format!("container {name}"),
            (_, Some(stem)) => format!("container {stem}"),
            (_, None) => "a container".to_owned(),
        };
        let under = profile_shown
            .clone()
            .unwrap_or_else(|| "its own profile".to_owned());
        let denied = &finished.built.report.denied_syscalls;
        failed |= !denied.is_empty();
        summary::note(&verdict(
            &what,
            &under,
            denied,
            finished.built.report.total_syscalls,
        ));
    }
    Ok(if failed {
        exit::FINDING
    } else {
        outcome.exit_code()
    })
}

/// `CMD` as this binary's `exec --profile FILE -- CMD`: loaded through libseccomp exactly like
/// `exec` (the proven way a plain command runs under a profile), after the launcher's gate.
fn exec_under(profile: &Path, cmd: &[OsString]) -> anyhow::Result<Vec<OsString>> {
    let exe = std::env::current_exe().context("cannot find this program's own executable")?;
    let profile = std::path::absolute(profile)
        .with_context(|| format!("cannot resolve {}", profile.display()))?;
    let mut wrapped: Vec<OsString> = vec![
        exe.into(),
        "exec".into(),
        "--profile".into(),
        profile.into(),
        "--".into(),
    ];
    wrapped.extend(cmd.iter().cloned());
    Ok(wrapped)
}

/// The summary for one target: ok, or every refusal.
fn verdict(what: &str, under: &str, denied: &[DeniedEntry], calls: u64) -> String {
    if denied.is_empty() {
        return format!(
            "seccomp-profiler check --enforce: ok — seccomp refused none of the {calls} calls \
             {what} made under {under}"
        );
    }
    let refused: u64 = denied.iter().map(|d| d.count).sum();
    let mut lines = vec![format!(
        "seccomp-profiler check --enforce: FAILED — under {under}, seccomp refused {refused} \
         call(s) of {} syscall(s) to {what}:",
        denied.len()
    )];
    lines.extend(denied::table(denied));
    lines.push(
        "  to allow them: add them to the profile, or record the path that makes them and \
         `seccomp-profiler merge` the recordings"
            .to_owned(),
    );
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_lists_every_refusal() {
        let entry = DeniedEntry {
            name: "mkdir".into(),
            arch: "SCMP_ARCH_X86_64",
            number: 83,
            errno: 1,
            errno_name: "EPERM".into(),
            count: 3,
            first_comm: "busybox".into(),
        };
        let text = verdict("container web", "its own profile", &[entry], 10);
        assert!(text.contains("FAILED"), "{text}");
        assert!(text.contains("refused 3 call(s) of 1 syscall(s)"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains("mkdir") && l.contains("EPERM") && l.contains("busybox")),
            "{text}"
        );
        let ok = verdict("`x`", "p.json", &[], 10);
        assert!(
            ok.contains("ok — seccomp refused none of the 10 calls"),
            "{ok}"
        );
    }
}
