//! One module per subcommand. Each exposes `run(args) -> anyhow::Result<i32>` returning the exit code.

pub mod agent;
pub mod check;
pub mod completions;
pub mod diff;
pub mod doctor;
pub mod exec;
pub mod host_tracer;
pub mod merge;
pub mod record;
pub mod validate;
pub mod watch;

use std::path::Path;

use crate::profile::{self, Profile};

/// Loads a profile and runs the checks runc and Docker apply ([`profile::load_checked`]); every
/// problem is an input error (exit 2) naming the file. Every subcommand that reads a profile goes
/// through here.
pub(crate) fn load_profile(path: &Path) -> anyhow::Result<Profile> {
    Ok(profile::load_checked(path)?)
}
