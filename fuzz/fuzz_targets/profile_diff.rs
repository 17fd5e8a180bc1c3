//! Two checked profiles (split at the first NUL byte) → `compare::compare`.
//!
//! Asserts: compare never panics; a profile compared with itself differs in nothing and is not
//! wider; what compare(a, b) adds is what compare(b, a) removes, and the other way round.

#![no_main]

use libfuzzer_sys::fuzz_target;
use seccomp_profiler::profile::compare::{Diff, Entry, Side, compare};
use seccomp_profiler_fuzz::checked_pair;

fn names(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|entry| entry.name.as_str()).collect()
}

fn assert_unchanged(diff: &Diff) {
    assert!(diff.is_empty(), "a profile differs from itself: {diff:?}");
    assert!(!diff.widened, "a profile is wider than itself: {diff:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((a, b)) = checked_pair(data) else {
        return;
    };
    let (a, b) = (Side::Profile(a), Side::Profile(b));
    assert_unchanged(&compare(&a, &a));
    assert_unchanged(&compare(&b, &b));
    let (ab, ba) = (compare(&a, &b), compare(&b, &a));
    assert_eq!(names(&ab.added), names(&ba.removed));
    assert_eq!(names(&ab.removed), names(&ba.added));
    assert_eq!(ab.unchanged, ba.unchanged);
});
