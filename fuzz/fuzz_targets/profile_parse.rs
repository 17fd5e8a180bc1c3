//! Bytes → `Profile::from_text` (JSON, YAML, manifests) → `to_json` round trip → `check` → `compile`.
//!
//! Asserts: every parsed profile (checked or not) serializes and re-parses to an equal value, and
//! its JSON is a fixed point; `check` and `compile` never panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use seccomp_profiler::profile::Profile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profile) = Profile::from_text(text, Path::new("fuzz.json")) else {
        return;
    };
    let json = profile.to_json();
    let again = Profile::from_json(&json, Path::new("again.json"))
        .unwrap_or_else(|err| panic!("the written profile does not parse: {err}\n{json}"));
    assert_eq!(again, profile, "the written profile reads back differently");
    assert_eq!(again.to_json(), json, "writing is not a fixed point");

    if profile.check().is_ok() {
        // Errors are fine (libseccomp refusals, the host); a panic is not.
        let _ = profile.compile();
    }
});
