//! `seccomp-profiler record`: checks where the outputs go, before anything runs, then hands the
//! target to the recording pipeline with a sink that writes each finished recording (profile in
//! the chosen format, report) and prints its summary. With the profile on stdout, CMD's own stdout
//! goes to stderr; `--containers` writes into `-o DIR`, the current directory by default.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
};

use crate::{
    cli::{Format, RecordArgs},
    exit,
    output::{self, Destination, formats, summary, writer},
    profile::Action,
    recording::{self, Finished, Options, Sink, Target},
};

pub fn run(args: RecordArgs, verbose: u8) -> anyhow::Result<i32> {
    let target = match args.cgroup {
        Some(path) => Target::Cgroup { path },
        None => Target::new(args.cmd, args.user, args.container, args.containers),
    };
    if let Target::Command { cmd, .. } = &target
        && let Some(refusal) = crate::engines::client_refusal(cmd)
    {
        return exit::input(refusal);
    }
    let options = Options {
        duration: args.duration,
        verbose: verbose > 1,
        verify: args.verify,
        args: args.args,
        runtimes: crate::runtimes::Request {
            runtimes: args.runtimes.clone(),
            nnp: args.nnp.clone(),
        },
        filters: crate::engines::Filters(args.filter),
    };
    let mut sink = match &target {
        Target::Containers { .. } => {
            // The CLI contract's `--containers [-o DIR]`: the current directory by default,
            // which --help says and the summary names with every profile it writes.
            let dir = args.output.unwrap_or_else(|| PathBuf::from("."));
            writer::ensure_dir("output", &dir)?;
            if let Some(reports) = &args.report_dir {
                writer::ensure_dir("report", reports)?;
            }
            Writer::Directory {
                format: args.format,
                dir,
                report_dir: args.report_dir,
            }
        }
        _ => {
            if let Some(path) = &args.output {
                check_extension(args.format, path)?;
            }
            let profile = (args.output.as_deref())
                .map(|path| Destination::check("profile", path))
                .transpose()?;
            let report = (args.report.as_deref())
                .map(|path| Destination::check("report", path))
                .transpose()?;
            writer::distinct(
                &[profile.as_ref(), report.as_ref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
            )?;
            Writer::Files {
                format: args.format,
                profile,
                report,
            }
        }
    };
    let outcome = if args.complain {
        recording::run(&target, &options, &mut Complain(&mut sink))?
    } else {
        recording::run(&target, &options, &mut sink)?
    };
    Ok(outcome.exit_code())
}

/// `--complain`: every profile is written in complain mode (`Profile::complain`), and the summary
/// says what that means and how to see what the strict profile would refuse.
struct Complain<'a>(&'a mut Writer);

impl Sink for Complain<'_> {
    fn profile_ref(&self, stem: Option<&str>) -> String {
        self.0.profile_ref(stem)
    }

    fn takes_stdout(&self) -> bool {
        self.0.takes_stdout()
    }

    fn accept(&mut self, mut finished: Finished) -> anyhow::Result<()> {
        let profile_ref = self.0.profile_ref(finished.stem.as_deref());
        finished.built.profile = finished.built.profile.complain();
        self.0.accept(finished)?;
        summary::note(&format!(
            "  complain mode: {profile_ref} has defaultAction {}: a call outside it is logged by \
             the kernel (audit), not refused. The strict profile is the same file with \
             defaultAction {} (what `record` without --complain writes); `seccomp-profiler check \
             --container NAME --profile STRICT` lists what it would refuse",
            Action::Log,
            Action::Errno
        ));
        Ok(())
    }
}

/// `-o FILE`'s extension must agree with `--format` when FILE is a file: the hints printed after
/// recording (and the `--containers` file names) tell a Kubernetes manifest from a profile by
/// `.yaml`/`.yml`, and a YAML manifest passed to `docker run --security-opt seccomp=` would fail.
fn check_extension(format: Format, path: &Path) -> anyhow::Result<()> {
    // A device or FIFO (`-o /dev/null`, `-o /dev/stdout`) has no name to go by.
    if std::fs::metadata(path).is_ok_and(|meta| !meta.is_file()) {
        return Ok(());
    }
    match (format, formats::is_manifest_path(path)) {
        (Format::K8s, false) => exit::input(format!(
            "{}: --format k8s writes a YAML SeccompProfile manifest; name the file *.yaml or *.yml",
            path.display()
        )),
        (Format::Docker | Format::Oci, true) => exit::input(format!(
            "{}: --format {} writes JSON, but a .yaml/.yml file is taken for a Kubernetes \
             manifest; name it *.json, or use --format k8s",
            path.display(),
            if format == Format::Docker {
                "docker"
            } else {
                "oci"
            }
        )),
        _ => Ok(()),
    }
}

/// What a profile written to stdout is called: its Kubernetes object's name, and the file the
/// hints refer to (`seccomp-profile.json`, or `.yaml` for k8s), so that both agree.
const STDOUT_NAME: &str = "seccomp-profile";

/// Writes each finished recording as it arrives.
enum Writer {
    /// `-o FILE` (or stdout) and `--report FILE`: one recording.
    Files {
        format: Format,
        profile: Option<Destination>,
        report: Option<Destination>,
    },
    /// `--containers -o DIR [--report-dir DIR]`: one `<stem>.json` per container.
    Directory {
        format: Format,
        dir: PathBuf,
        report_dir: Option<PathBuf>,
    },
}

impl Writer {
    fn profile_file(format: Format, stem: &str) -> String {
        let extension = if format == Format::K8s {
            "yaml"
        } else {
            "json"
        };
        format!("{stem}.{extension}")
    }
}

impl Sink for Writer {
    fn profile_ref(&self, stem: Option<&str>) -> String {
        match (self, stem) {
            (
                Writer::Files {
                    format, profile, ..
                },
                _,
            ) => profile.as_ref().map_or_else(
                || Writer::profile_file(*format, STDOUT_NAME),
                |d| d.path().display().to_string(),
            ),
            (Writer::Directory { format, dir, .. }, stem) => dir
                .join(Writer::profile_file(*format, stem.unwrap_or("PROFILE")))
                .display()
                .to_string(),
        }
    }

    fn takes_stdout(&self) -> bool {
        matches!(self, Writer::Files { profile: None, .. })
    }

    fn accept(&mut self, finished: Finished) -> anyhow::Result<()> {
        match self {
            Writer::Files {
                format,
                profile,
                report,
            } => {
                let name = (profile.as_ref())
                    .and_then(|d| d.path().file_stem())
                    .map_or_else(
                        || STDOUT_NAME.to_owned(),
                        |stem| stem.to_string_lossy().into_owned(),
                    );
                output::write_recording(
                    &finished.built,
                    *format,
                    &name,
                    profile.as_ref(),
                    report.as_ref(),
                )?;
                summary::recording(
                    &finished.built,
                    profile.as_ref().map(Destination::path),
                    report.as_ref().map(Destination::path),
                );
            }
            Writer::Directory {
                format,
                dir,
                report_dir,
            } => {
                let stem = finished.stem.as_deref().unwrap_or("container");
                let file = Writer::profile_file(*format, stem);
                let profile = Destination::in_dir("profile", dir, OsStr::new(&file))?;
                let report = (report_dir.as_deref())
                    .map(|reports| {
                        let name = format!("{stem}.report.json");
                        Destination::in_dir("report", reports, OsStr::new(&name))
                    })
                    .transpose()?;
                writer::distinct(
                    &[Some(&profile), report.as_ref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>(),
                )?;
                output::write_recording(
                    &finished.built,
                    *format,
                    stem,
                    Some(&profile),
                    report.as_ref(),
                )?;
                summary::recording(
                    &finished.built,
                    Some(profile.path()),
                    report.as_ref().map(Destination::path),
                );
            }
        }
        Ok(())
    }
}
