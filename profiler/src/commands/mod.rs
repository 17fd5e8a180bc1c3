//! One module per subcommand. Each exposes `run(args) -> anyhow::Result<i32>` returning the exit code.

pub mod check;
pub mod diff;
pub mod exec;
pub mod merge;
pub mod record;
pub mod validate;

use std::path::Path;

use anyhow::Context as _;

use crate::{exit, profile::Profile};

/// Loads a profile and runs the checks runc and Docker apply; every problem is an input error
/// (exit 2) naming the file. Every subcommand that reads a profile goes through here.
pub(crate) fn load_profile(path: &Path) -> anyhow::Result<Profile> {
    let profile = Profile::load(path).map_err(exit::with(exit::INPUT))?;
    profile
        .check()
        .with_context(|| {
            format!(
                "{} is not a profile runc would apply as written",
                path.display()
            )
        })
        .map_err(exit::with(exit::INPUT))?;
    Ok(profile)
}
