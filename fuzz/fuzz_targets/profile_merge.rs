//! Two checked profiles (split at the first NUL byte) → `merge::merge` both ways.
//!
//! Asserts: merge never panics; it succeeds or fails the same whichever input comes first, and
//! when it succeeds the two orders give the same bytes, the merged profile allows every name that
//! either input allows unconditionally, and it is never refused by the checks its inputs passed.
//!
//! The one name a merge may take away is `clone3`, and only as documented in `profile::args`:
//! when the merge allows `clone` only under argument conditions, `clone3` (whose flags seccomp
//! cannot read) is answered ENOSYS instead, with a `clone3:` warning.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seccomp_profiler::profile::{ProfileError, merge};
use seccomp_profiler_fuzz::checked_pair;

fuzz_target!(|data: &[u8]| {
    let Some((a, b)) = checked_pair(data) else {
        return;
    };
    let ab = merge::merge(&[
        ("a.json".to_owned(), a.clone()),
        ("b.json".to_owned(), b.clone()),
    ]);
    let ba = merge::merge(&[
        ("b.json".to_owned(), b.clone()),
        ("a.json".to_owned(), a.clone()),
    ]);
    let (ab, ba) = match (ab, ba) {
        (Ok(ab), Ok(ba)) => (ab, ba),
        (Err(ab), Err(ba)) => {
            for err in [ab, ba] {
                assert!(
                    !matches!(err, ProfileError::MergedInvalid { .. }),
                    "the merge of two checked profiles fails the checks: {:?}",
                    std::error::Error::source(&err).map(ToString::to_string)
                );
            }
            return;
        }
        (ab, ba) => panic!("merge depends on the order: a+b {ab:?}, b+a {ba:?}"),
    };
    assert_eq!(
        ab.profile.to_json(),
        ba.profile.to_json(),
        "merge(a, b) != merge(b, a)"
    );
    let allowed = ab.profile.allowed_names();
    for name in a.allowed_names().iter().chain(&b.allowed_names()) {
        if name == "clone3" && clone3_refused_for_a_restricted_clone(&ab) {
            continue;
        }
        assert!(
            allowed.contains(name),
            "{name} is allowed by an input but not by the merge"
        );
    }
});

/// The merge answers `clone3` ENOSYS, says so, and allows `clone` only under conditions (some
/// rule permits it, but not by name alone).
fn clone3_refused_for_a_restricted_clone(merged: &merge::Merged) -> bool {
    let profile = &merged.profile;
    let clone_conditional = profile.syscalls.iter().any(|rule| {
        rule.action.permits() && !rule.args.is_empty() && rule.names.iter().any(|n| n == "clone")
    });
    clone_conditional
        && !profile.allowed_names().contains("clone")
        && profile.enosys_names().contains("clone3")
        && merged.warnings.iter().any(|w| w.starts_with("clone3:"))
}
