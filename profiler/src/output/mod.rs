//! Everything a run writes: the profile in its formats ([`formats`]), the JSON report
//! ([`report`]), the summary on stderr ([`summary`]), and the one atomic, symlink-refusing writer
//! every file goes through ([`writer`]). It renders and writes; it does not decide what a profile
//! allows (`profile`) or what a run recorded (`recording`).

/// `diff`'s renderings: text, markdown, JSON.
pub mod diff;
pub mod formats;
pub mod report;
pub mod summary;
pub mod writer;

pub use writer::{Destination, OutputError};

use std::io::Write as _;

use crate::{cli::Format, recording::Built};

/// Writes a recording's profile in `format` (to `profile`, or stdout) and its report, each
/// atomically through its checked destination. `name` names a Kubernetes object.
pub fn write_recording(
    built: &Built,
    format: Format,
    name: &str,
    profile: Option<&Destination>,
    report: Option<&Destination>,
) -> anyhow::Result<()> {
    let text = formats::render(&built.profile, format, name)
        .map_err(|err| crate::exit::InputError(format!("cannot write the profile: {err}")))?;
    match profile {
        Some(destination) => destination.write(text.as_bytes())?,
        None => to_stdout("profile", &text)?,
    }
    if let Some(destination) = report {
        write_report(built, destination)?;
    }
    Ok(())
}

/// Writes `text` to stdout; a closed or full stdout is an error naming `role`, never a panic.
pub fn to_stdout(role: &'static str, text: &str) -> Result<(), OutputError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|err| OutputError::Write {
            role,
            path: "stdout".into(),
            err,
        })
}

/// Writes only the report (`check` never writes the recorded profile itself).
pub fn write_report(built: &Built, destination: &Destination) -> Result<(), OutputError> {
    let mut text = serde_json::to_string_pretty(&built.report)
        .expect("a report holds only strings, numbers, lists and maps, which always serialize");
    text.push('\n');
    destination.write(text.as_bytes())
}
