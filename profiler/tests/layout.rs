//! The layout rules of `profiler/src` that reviews kept having to enforce by hand, checked on the
//! source itself: the pipeline reads off the folders only while they hold.
//!
//! - No module under `commands/` imports another command: shared work lives in `recording/`,
//!   `profile/` or `output/`.
//! - No file is over 700 lines: a longer one is usually two modules.
//! - Seccomp action and operator names (`"SCMP_ACT_…"`, `"SCMP_CMP_…"`) are spelled only inside the
//!   typed profile model (`profile/`); everything else uses its types. Unit tests elsewhere may
//!   still write a profile as JSON input.
//! - Only `output/writer.rs` opens files for writing, so every output gets its checks.

use std::{
    fs,
    path::{Path, PathBuf},
};

const MAX_LINES: usize = 700;

fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read profiler/src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    assert!(files.len() > 20, "found only {files:?}");
    files
}

/// The code of a source file without its unit tests (a `#[cfg(test)]` module inside it, or the
/// whole file when it is a test module such as `docker/live_tests.rs`).
fn code_of(path: &Path) -> String {
    if path
        .file_stem()
        .is_some_and(|stem| stem.to_string_lossy().ends_with("tests"))
    {
        return String::new();
    }
    let text = fs::read_to_string(path).expect("read source");
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or(&text)
        .to_owned()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn no_file_is_over_700_lines() {
    let long: Vec<String> = sources()
        .iter()
        .filter_map(|path| {
            let lines = fs::read_to_string(path)
                .expect("read source")
                .lines()
                .count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", relative(path)))
        })
        .collect();
    assert!(long.is_empty(), "split these modules: {long:?}");
}

#[test]
fn commands_do_not_import_each_other() {
    let commands: Vec<PathBuf> = sources()
        .into_iter()
        .filter(|p| relative(p).starts_with("commands/") && !p.ends_with("mod.rs"))
        .collect();
    let names: Vec<String> = commands
        .iter()
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    let mut found = Vec::new();
    for path in &commands {
        let text = fs::read_to_string(path).expect("read source");
        let own = path.file_stem().expect("stem").to_string_lossy();
        for other in names.iter().filter(|n| **n != own) {
            for pattern in [
                format!("super::{other}"),
                format!("commands::{other}"),
                format!("super::{{{other}"),
            ] {
                if text.contains(&pattern) {
                    found.push(format!("{} uses {pattern}", relative(path)));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn action_names_are_spelled_only_in_the_profile_model() {
    let mut found = Vec::new();
    for path in sources() {
        let rel = relative(&path);
        if rel.starts_with("profile/") || rel == "profile.rs" {
            continue;
        }
        for (n, line) in code_of(&path).lines().enumerate() {
            if line.contains("\"SCMP_ACT_") || line.contains("\"SCMP_CMP_") {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "use the profile model's types: {found:?}");
}

#[test]
fn only_the_writer_writes_files() {
    let mut found = Vec::new();
    for path in sources() {
        let rel = relative(&path);
        if rel == "output/writer.rs" {
            continue;
        }
        for (n, line) in code_of(&path).lines().enumerate() {
            // cgroup control files and the launcher's cgroup.procs are not outputs.
            let writes = line.contains("fs::write(") && !line.contains("cgroup.");
            // Nor are the host tracer's lock and log in /run/seccomp-profiler (issue 13).
            let host_state = rel == "tracer/share/mod.rs" && line.contains(".create(true)");
            if (writes || line.contains("File::create(") || line.contains(".create(true)"))
                && !host_state
            {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "write through output::writer: {found:?}");
}
