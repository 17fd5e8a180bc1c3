//! The process exit codes, one place, and how an error finds its code.
//!
//! [`TABLE`] is the one description of every code: `--help` renders it ([`help_text`]), and the
//! README's "Exit codes" section and `docs/ci.md` carry its [`markdown`] verbatim (a unit test
//! keeps them equal). Each row says what the code does, command by command: read the `Coded`
//! impls and every `exit::` constant returned before changing a row.
//!
//! Every error type that can reach `main` knows its own exit code ([`Coded`]): a profile that does
//! not parse is invalid input wherever it is read, a program the kernel rejects means this machine
//! cannot trace. `?` carries the code with the error; `main` asks [`code_of`], which looks through
//! the chain for the outermost error that knows its code (so a wrapper such as
//! `RecordError::Build` can say that a profile error *during a recording* is a runtime failure).
//!
//! One rule keeps messages readable: a message that prints its cause (`…: {err}; do this`) does not
//! also return it from `source()`, and one that returns it does not print it, so `main`'s `{:#}`
//! shows every cause exactly once.

use std::error::Error;

pub const OK: i32 = 0;
/// `check` saw syscalls outside the profile; `diff` saw NEW allow more than OLD; a container
/// `--containers` could not record.
pub const FINDING: i32 = 1;
/// Bad arguments or input files, CMD not found, an output path that cannot be written.
pub const INPUT: i32 = 2;
/// The machine cannot trace: privileges, BTF, cgroup v2, eBPF load/attach, dockerd unreachable;
/// `doctor` found a required check missing.
pub const ENVIRONMENT: i32 = 3;
/// A failure after tracing started, or an error that knows no better code.
pub const RUNTIME: i32 = 4;
/// `record`/`check`: CMD exited non-zero (the profile was still written, or the check passed).
pub const CMD_FAILED: i32 = 5;

/// One exit code as users read it.
pub struct ExitCode {
    pub code: i32,
    /// When a command returns it, command by command.
    pub meaning: &'static str,
    /// What to do about it (README and docs/ci.md only; `--help` stays short).
    pub action: &'static str,
}

/// Every exit code, in order. The wording must match the code: `Coded` impls, `Outcome::exit_code`
/// and the commands' own returns.
pub const TABLE: [ExitCode; 6] = [
    ExitCode {
        code: OK,
        meaning: "success; also a recording cut short by `--duration` or a signal (the profile is \
                  complete); `doctor`: this machine can record",
        action: "nothing",
    },
    ExitCode {
        code: FINDING,
        meaning: "a finding: `check` saw syscalls outside the profile or an argument value \
                  outside its conditions (all are listed; with \
                  `--containers` also a container with no profile in DIR, or no container at \
                  all), `diff` saw NEW allow a syscall or capability OLD does not, `record \
                  --containers` or `check --containers` could not record a container (more than \
                  64 ran at once; the summary names each), `record --containers --verify`: a \
                  container did not run with its whole recommendation applied (the summary shows \
                  its `docker run` line and last log lines), `--containers --filter`: no container \
                  matched (the summary names those filtered out), `check --enforce` or `watch` saw \
                  seccomp refuse calls (each listed with its count, errno and first command)",
        action: "fix the code, or accept the growth: `check --update`, then review the profile's \
                 diff; for `--verify`, adjust the advice the summary names (README, read-only \
                 root); for a refusal, allow it in the profile (or `merge` a recording of that \
                 path)",
    },
    ExitCode {
        code: INPUT,
        meaning: "invalid input: bad arguments, an unreadable or invalid profile or report, CMD \
                  not found, an unknown `--user`, a `--container` that does not exist or is not \
                  running, a `--cgroup` that is not a cgroup2 directory, a container engine \
                  client as CMD without `--containers` (`record -- docker run …`), a bad \
                  `--filter`, an output that cannot be written (a missing directory, a symlink, two \
                  outputs naming one file, a full disk); `exec`: a filter the kernel refuses",
        action: "fix the command line or the file the message names",
    },
    ExitCode {
        code: ENVIRONMENT,
        meaning: "this machine cannot trace: not root (neither CAP_BPF + CAP_PERFMON nor \
                  CAP_SYS_ADMIN), no BTF, no cgroup v2 mount or no cgroup can be made in it, the \
                  eBPF programs failed to load or attach, dockerd unreachable (`--container`, \
                  `--containers`); `doctor`: a required check is missing",
        action: "run `seccomp-profiler doctor` there: it names what is missing and how to fix it",
    },
    ExitCode {
        code: RUNTIME,
        meaning: "recording failed while running (an I/O or kernel error after tracing \
                  started, the host tracer whose programs it shared exited, or any other \
                  unexpected error); with `--containers`: a container's profile could not be written (the \
                  others were; the summary names it), or the Docker API was lost for a while \
                  (every container was still recorded; its report says what is uncertain)",
        action: "rerun; report it if it persists",
    },
    ExitCode {
        code: CMD_FAILED,
        meaning: "`record` and `check`: CMD itself exited non-zero and nothing else failed: \
                  `record` still wrote the profile, `check` saw nothing outside it (a run cut \
                  short by `--duration` or a signal is not a failure)",
        action: "fix CMD (e.g. the failing tests); the footprint was fine",
    },
];

/// What the table cannot say row by row: which code wins, and `exec`.
pub const NOTES: [&str; 2] = [
    "When several apply, `check`'s own findings (1) come first, then 4, then a container not \
     recorded (1), then 5.",
    "`exec` replaces itself with CMD, so after a successful start its exit code is CMD's (126 \
     when the profile denies execve itself).",
];

/// The table as `--help` shows it after every command's options.
pub fn help_text() -> String {
    const WIDTH: usize = 100;
    let mut text = String::from("Exit codes:\n");
    for row in &TABLE {
        let lead = format!("  {}  ", row.code);
        text.push_str(&wrap(row.meaning, &lead, WIDTH));
    }
    for note in NOTES {
        text.push_str(&wrap(note, "", WIDTH));
    }
    text.pop();
    text
}

/// `text` wrapped to `width` columns, its first line after `lead`, the others indented as deep.
fn wrap(text: &str, lead: &str, width: usize) -> String {
    let indent = " ".repeat(lead.chars().count());
    let mut out = String::new();
    let mut line = lead.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The table as the README and docs/ci.md carry it, with its notes as paragraphs.
pub fn markdown() -> String {
    let mut text = String::from("| code | meaning | what to do |\n|---|---|---|\n");
    for row in &TABLE {
        text.push_str(&format!(
            "| {} | {} | {} |\n",
            row.code, row.meaning, row.action
        ));
    }
    for note in NOTES {
        text.push('\n');
        text.push_str(note);
        text.push('\n');
    }
    text
}

/// An error that knows which exit code it ends the process with.
pub trait Coded {
    fn exit_code(&self) -> i32;
}

/// A problem with what the user asked for that has no richer type: a wrong combination of
/// arguments, a directory where a file is needed. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl Coded for InputError {
    fn exit_code(&self) -> i32 {
        INPUT
    }
}

/// Shorthand for `Err(InputError(message).into())`.
pub fn input<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(InputError(message.into()).into())
}

/// The exit code for an error: the outermost cause that knows its code, else [`RUNTIME`].
pub fn code_of(error: &anyhow::Error) -> i32 {
    error.chain().find_map(coded).unwrap_or(RUNTIME)
}

/// Every error type of the crate that carries a code, asked in turn.
fn coded(cause: &(dyn Error + 'static)) -> Option<i32> {
    macro_rules! first_coded {
        ($($ty:ty),+ $(,)?) => {
            $(if let Some(error) = cause.downcast_ref::<$ty>() {
                return Some(error.exit_code());
            })+
        };
    }
    first_coded!(
        InputError,
        crate::profile::ProfileError,
        crate::output::OutputError,
        crate::recording::RecordError,
        crate::tracer::TracerError,
        crate::btf::BtfError,
        crate::cgroup::CgroupError,
        crate::launcher::LaunchError,
        crate::docker::DockerError,
    );
    None
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    use super::*;

    #[test]
    fn the_outermost_coded_cause_decides() {
        let plain = anyhow::anyhow!("something broke");
        assert_eq!(code_of(&plain), RUNTIME);
        let input: anyhow::Error = InputError("bad".into()).into();
        assert_eq!(code_of(&input), INPUT);
        let Err(wrapped) = Err::<(), _>(input).context("failed to do it") else {
            unreachable!("an Err stays an Err")
        };
        assert_eq!(code_of(&wrapped), INPUT, "context keeps the code");
        assert_eq!(format!("{wrapped:#}"), "failed to do it: bad");
    }

    #[test]
    fn the_table_lists_every_code_once_in_order() {
        let codes: Vec<i32> = TABLE.iter().map(|row| row.code).collect();
        assert_eq!(
            codes,
            [OK, FINDING, INPUT, ENVIRONMENT, RUNTIME, CMD_FAILED]
        );
        for row in &TABLE {
            assert!(
                !row.meaning.contains('|') && !row.action.contains('|'),
                "a `|` would split the markdown row of {}",
                row.code
            );
        }
    }

    #[test]
    fn help_shows_every_row_within_100_columns() {
        let help = help_text();
        for row in &TABLE {
            assert!(help.contains(&format!("\n  {}  ", row.code)), "{help}");
            let words: Vec<&str> = row.meaning.split_whitespace().collect();
            let shown: Vec<&str> = help.split_whitespace().collect();
            assert!(
                shown.windows(words.len()).any(|window| window == words),
                "code {} is not shown word for word:\n{help}",
                row.code
            );
        }
        for line in help.lines() {
            assert!(line.chars().count() <= 100, "too wide: {line:?}");
        }
        let command = <crate::cli::Cli as clap::CommandFactory>::command();
        let rendered = command.clone().render_long_help().to_string();
        assert!(rendered.contains(&help), "top-level --help:\n{rendered}");
        for sub in command.get_subcommands() {
            let rendered = sub.clone().render_long_help().to_string();
            assert!(
                rendered.contains(&help),
                "`{}` --help lacks the exit codes",
                sub.get_name()
            );
        }
    }

    /// The README and docs/ci.md carry the table verbatim, so they can never drift from `--help`.
    #[test]
    fn readme_and_ci_docs_carry_the_same_table() {
        let table = markdown();
        for doc in ["README.md", "docs/ci.md"] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/..").to_owned() + "/" + doc;
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read {path}: {err}"));
            assert!(
                text.contains(&table),
                "{doc} must contain the exit-code table exactly as exit::markdown() renders it \
                 (paste it under its \"Exit codes\" heading):\n{table}"
            );
            assert_eq!(
                text.matches("| code |").count(),
                1,
                "{doc} has a second exit-code table"
            );
        }
    }
}
