//! What the fuzz targets share: turning libFuzzer's bytes into profiles the way the commands
//! read them (UTF-8 text, [`Profile::from_text`], then [`Profile::check`]).
//!
//! The two-profile targets (`profile_merge`, `profile_diff`) read one input as two profiles
//! separated by the first NUL byte, which valid JSON text never contains; an input without one is
//! the same profile twice. The seeds in `corpus/` are written that way.

use std::path::Path;

use seccomp_profiler::profile::Profile;

/// The profile in `bytes` if it parses and passes the checks every command applies.
pub fn checked(bytes: &[u8], origin: &str) -> Option<Profile> {
    let text = std::str::from_utf8(bytes).ok()?;
    let profile = Profile::from_text(text, Path::new(origin)).ok()?;
    profile.check().ok()?;
    Some(profile)
}

/// The two halves of a two-profile input: before and after the first NUL byte.
pub fn split_pair(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&byte| byte == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    }
}

/// Both profiles of a two-profile input, when both are checked profiles.
pub fn checked_pair(data: &[u8]) -> Option<(Profile, Profile)> {
    let (a, b) = split_pair(data);
    Some((checked(a, "a.json")?, checked(b, "b.json")?))
}
