//! Everything a run writes: the profile in its formats ([`formats`]), the JSON report
//! ([`report`]), the summary on stderr ([`summary`]), and the one atomic, symlink-refusing writer
//! every file goes through ([`writer`]). It renders and writes; it does not decide what a profile
//! allows (`profile`) or what a run recorded (`recording`).

/// `diff`'s renderings: text, markdown, JSON.
pub mod diff;
pub mod formats;
pub mod report;
pub mod writer;

pub use writer::{Destination, OutputError};
