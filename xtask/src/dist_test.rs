//! The `dist` stage of `cargo xtask test`: the release artefacts and the GitHub Action, proven on
//! this machine.
//!
//! 1. `dist --check`: built twice, from two source paths, byte-identical (see `dist`).
//! 2. The `.deb` installs with `dpkg -i`; then `seccomp-profiler --version` prints the version,
//!    `man` renders `seccomp-profiler-record`, and bash-completion completes `rec` to `record` and
//!    `record --cont` to both `--container` flags from the installed script; `dpkg -r` removes it.
//! 3. `action.yml` passes `check-jsonschema --builtin-schema vendor.github-actions` (and a copy
//!    with a broken `runs.using` does not, so the validator is really judging). Its steps then run
//!    the way the runner runs them (each `run:` through `bash --noprofile --norc -eo pipefail`, step
//!    `env:` with the inputs substituted, `GITHUB_STEP_SUMMARY`/`GITHUB_OUTPUT` in files), installing
//!    the package with the Action's own step, against a real recording of `ground-truth`: unchanged
//!    (exit 0, the summary says "no change"), grown by one syscall (`--extra`: exit 1, the summary
//!    names `sched_get_priority_max`), and grown with `update: true` (exit 0, the profile now allows
//!    it). The package is removed at the end, whatever happened, so the machine is left as it was.
//!
//! 4. The tool's image (`tool_image`) is built from the package, runs `--version` and records
//!    `--version` from inside itself.
//!
//! It refuses to run when seccomp-profiler is already installed as a package (removing it would
//! not leave the machine as it was).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cmd, demo, dist, prereqs, tool_image, workspace};

/// `cargo xtask dist --test`: the stage on its own, with what it needs.
pub fn task() -> Result<()> {
    if !workspace::is_root() {
        bail!("`cargo xtask dist --test` needs root (dpkg -i, recording)");
    }
    prereqs::ensure(prereqs::Set::Test)?;
    demo::build_release()?;
    run()
}

/// The stage; expects the test prerequisites and the release build (`ground-truth`).
pub fn run() -> Result<()> {
    let artifacts = dist::build(true)?;
    if package_installed() {
        bail!(
            "the package {0} is installed on this machine; the dist stage installs and removes \
             its own build, so remove it first (`dpkg -r {0}`) or skip this stage",
            dist::NAME
        );
    }
    let result = installed(&artifacts.deb)
        .and_then(|()| action(&artifacts.deb))
        .and_then(|()| tool_image::build(&artifacts.deb).map(drop));
    let removed = remove();
    result.and(removed)
}

fn package_installed() -> bool {
    cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", dist::NAME])
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"install ok installed")
}

/// `dpkg -r` when the package is installed; afterwards the binary must be gone.
fn remove() -> Result<()> {
    if package_installed() {
        cmd::run(cmd::new("dpkg").args(["-r", dist::NAME]))?;
    }
    if Path::new("/usr/bin").join(dist::NAME).exists() {
        bail!("/usr/bin/{} is still there after `dpkg -r`", dist::NAME);
    }
    Ok(())
}

fn installed(deb: &Path) -> Result<()> {
    cmd::run(cmd::new("dpkg").arg("-i").arg(deb))?;
    let version = stdout(cmd::new(format!("/usr/bin/{}", dist::NAME)).arg("--version"))?;
    if !version.contains(dist::VERSION) {
        bail!(
            "the installed `--version` printed {version:?}, not {}",
            dist::VERSION
        );
    }
    let page = stdout(
        cmd::new("man")
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .args(["-P", "cat", "seccomp-profiler-record"]),
    )?;
    if !(page.contains("seccomp-profiler-record") && page.contains("--containers")) {
        bail!("`man seccomp-profiler-record` does not show the record page:\n{page}");
    }
    let main_page = stdout(cmd::new("man").args(["-w", dist::NAME]))?;
    if main_page.trim() != "/usr/share/man/man1/seccomp-profiler.1.gz" {
        bail!("`man -w {}` found {main_page:?}", dist::NAME);
    }
    println!(
        "xtask: dist: installed: {}; man pages render",
        version.trim()
    );
    for (line, expected) in [
        ("seccomp-profiler rec", "record"),
        ("seccomp-profiler record --cont", "--container --containers"),
    ] {
        let got = complete(line)?;
        if got != expected {
            bail!("bash completes `{line}` to {got:?}, expected {expected:?}");
        }
        println!("xtask: dist: bash completes `{line}` to `{got}`");
    }
    // Removed again, so that the Action's own install step installs it.
    remove()
}

/// What bash-completion offers for `line` with the cursor at its end: the installed script, loaded
/// on demand by bash-completion's own loader as in an interactive shell, sorted and space-joined.
fn complete(line: &str) -> Result<String> {
    let script = r#"
source /usr/share/bash-completion/bash_completion
_completion_loader seccomp-profiler
function=$(complete -p seccomp-profiler | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[ -n "$function" ] || { echo "no completion registered for seccomp-profiler" >&2; exit 1; }
read -r -a COMP_WORDS <<< "$LINE"
COMP_LINE="$LINE"
COMP_POINT=${#LINE}
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
"$function" seccomp-profiler "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
"#;
    let out = stdout(
        cmd::new("bash")
            .args(["--noprofile", "--norc", "-c", script])
            .env("LINE", line),
    )?;
    Ok(out.trim().to_owned())
}

fn stdout(command: &mut std::process::Command) -> Result<String> {
    Ok(String::from_utf8_lossy(&cmd::output(command)?.stdout).into_owned())
}

/// The Action: schema, then three runs of its steps.
fn action(deb: &Path) -> Result<()> {
    let action_file = workspace::root().join("action.yml");
    validate(&action_file)?;
    let action = load_yaml(&action_file)?;

    let dir = workspace::scratch_dir()?.join("action");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let ground_truth = workspace::release_bin("ground-truth");
    let workload = ground_truth.to_str().context("non-UTF-8 target dir")?;
    // The checked-in profile of the example: the command recorded the way the Action runs it.
    let profile = dir.join("profile.json");
    cmd::run(
        cmd::new(workspace::release_bin(dist::NAME))
            .arg("record")
            .arg("-o")
            .arg(&profile)
            .args(["--", "bash", "-c", workload]),
    )?;
    let inputs = |command: &str, update: &str| {
        BTreeMap::from([
            ("package".to_owned(), deb.display().to_string()),
            ("profile".to_owned(), "profile.json".to_owned()),
            ("command".to_owned(), command.to_owned()),
            ("update".to_owned(), update.to_owned()),
            ("working-directory".to_owned(), dir.display().to_string()),
        ])
    };

    let same = run_action(&action, &inputs(workload, "false"), &dir)?;
    same.expect(0, "the unchanged command")?;
    if !same.summary.contains("no change") {
        bail!(
            "the summary of an unchanged run does not say so:\n{}",
            same.summary
        );
    }
    let grown_command = format!("{workload} --extra");
    let grown = run_action(&action, &inputs(&grown_command, "false"), &dir)?;
    grown.expect(1, "the command with one more syscall")?;
    if !grown.summary.contains("sched_get_priority_max") {
        bail!(
            "the summary of a grown run does not name the new syscall:\n{}",
            grown.summary
        );
    }
    let updated = run_action(&action, &inputs(&grown_command, "true"), &dir)?;
    updated.expect(0, "the grown command with update: true")?;
    let rewritten = fs::read_to_string(&profile)?;
    if !(updated.summary.contains("sched_get_priority_max")
        && rewritten.contains("\"sched_get_priority_max\""))
    {
        bail!(
            "update: true did not add the new syscall to the profile and the summary:\n{}",
            updated.summary
        );
    }
    println!(
        "xtask: dist: the Action passed an unchanged run, failed a grown one, updated on request"
    );
    Ok(())
}

/// check-jsonschema against the published schema; a broken copy must fail it.
fn validate(action_file: &Path) -> Result<()> {
    let checker = prereqs::venv().join("bin/check-jsonschema");
    let check = |file: &Path| {
        cmd::new(&checker)
            .args(["--builtin-schema", "vendor.github-actions"])
            .arg(file)
            .output()
            .with_context(|| format!("run {}", checker.display()))
    };
    let out = check(action_file)?;
    if !out.status.success() {
        bail!(
            "action.yml does not pass the GitHub Actions schema:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let broken = workspace::scratch_dir()?.join("action-broken.yml");
    let text = fs::read_to_string(action_file)?;
    if !text.contains("using: composite") {
        bail!("action.yml has no `using: composite`");
    }
    fs::write(&broken, text.replace("using: composite", "using: compost"))?;
    if check(&broken)?.status.success() {
        bail!("check-jsonschema accepted an action with `using: compost`: it is not validating");
    }
    println!("xtask: dist: action.yml passes the GitHub Actions schema (a broken copy does not)");
    Ok(())
}

/// YAML → JSON with the ruamel.yaml that check-jsonschema brings along.
fn load_yaml(path: &Path) -> Result<Value> {
    let python = prereqs::venv().join("bin/python");
    let out = cmd::output(
        cmd::new(&python)
            .arg("-c")
            .arg(
                "import json, sys\nfrom ruamel.yaml import YAML\n\
         print(json.dumps(YAML(typ='safe').load(open(sys.argv[1]))))",
            )
            .arg(path),
    )?;
    serde_json::from_slice(&out.stdout).context("parse the JSON form of action.yml")
}

struct Run {
    code: i32,
    summary: String,
    outputs: String,
}

impl Run {
    fn expect(&self, code: i32, what: &str) -> Result<()> {
        if self.code != code {
            bail!(
                "the Action exited {} for {what}, expected {code}; summary:\n{}",
                self.code,
                self.summary
            );
        }
        if !self.outputs.contains(&format!("exit-code={code}\n")) {
            bail!(
                "the check step's outputs {:?} lack exit-code={code}",
                self.outputs
            );
        }
        Ok(())
    }
}

/// Runs the composite Action's steps in order, stopping at the first that fails, as the runner
/// does. Only `${{ inputs.NAME }}` expressions (and `inputs.NAME != ''` as a condition) are
/// understood; anything else fails the test rather than being skipped.
fn run_action(action: &Value, given: &BTreeMap<String, String>, dir: &Path) -> Result<Run> {
    let mut inputs = BTreeMap::new();
    let declared = action["inputs"]
        .as_object()
        .context("action.yml has no inputs")?;
    for (name, spec) in declared {
        let value = match given.get(name) {
            Some(value) => value.clone(),
            None if spec["required"] == Value::Bool(true) => bail!("input {name} is required"),
            None => spec["default"].as_str().unwrap_or_default().to_owned(),
        };
        inputs.insert(name.clone(), value);
    }
    if let Some(unknown) = given.keys().find(|k| !declared.contains_key(*k)) {
        bail!("action.yml declares no input {unknown}");
    }
    let summary = dir.join("step-summary.md");
    fs::write(&summary, "")?;
    let steps = action["runs"]["steps"]
        .as_array()
        .context("no runs.steps")?;
    let mut outputs = String::new();
    let mut code = 0;
    for (index, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or("unnamed").to_owned();
        if let Some(condition) = step["if"].as_str()
            && !condition_holds(condition, &inputs)?
        {
            println!("xtask: dist: action step `{name}` skipped (if: {condition})");
            continue;
        }
        let script = step["run"].as_str().context("a step without `run:`")?;
        if script.contains("${{") {
            bail!(
                "step `{name}` expands an expression inside `run:`; pass it through `env:` (script injection)"
            );
        }
        let script_file = dir.join(format!("step-{index}.sh"));
        fs::write(&script_file, script)?;
        let output_file = dir.join(format!("step-{index}.out"));
        fs::write(&output_file, "")?;
        let mut bash = cmd::new("bash");
        bash.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_ACTION_PATH", workspace::root())
            .env("RUNNER_TEMP", dir);
        if let Some(env) = step["env"].as_object() {
            for (key, value) in env {
                bash.env(
                    key,
                    substitute(value.as_str().unwrap_or_default(), &inputs)?,
                );
            }
        }
        let workdir = match step["working-directory"].as_str() {
            Some(w) => PathBuf::from(substitute(w, &inputs)?),
            None => workspace::root().to_path_buf(),
        };
        bash.current_dir(workdir);
        let status = cmd::run_status(&mut bash)?;
        if step["id"].as_str() == Some("check") {
            outputs = fs::read_to_string(&output_file)?;
        }
        code = status.code().unwrap_or(-1);
        if code != 0 {
            println!("xtask: dist: action step `{name}` exited with {code}");
            break;
        }
    }
    Ok(Run {
        code,
        summary: fs::read_to_string(&summary)?,
        outputs,
    })
}

fn condition_holds(condition: &str, inputs: &BTreeMap<String, String>) -> Result<bool> {
    let name = condition
        .trim()
        .strip_prefix("inputs.")
        .and_then(|rest| rest.strip_suffix(" != ''"))
        .with_context(|| format!("unsupported condition `{condition}`"))?;
    Ok(!inputs
        .get(name)
        .with_context(|| format!("no input {name}"))?
        .is_empty())
}

/// `${{ inputs.NAME }}` replaced by the input's value.
fn substitute(text: &str, inputs: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").context("unclosed ${{")? + start;
        let expression = rest[start + 3..end].trim();
        let name = expression
            .strip_prefix("inputs.")
            .with_context(|| format!("unsupported expression `{expression}`"))?;
        out.push_str(
            inputs
                .get(name)
                .with_context(|| format!("no input {name}"))?,
        );
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        let inputs = BTreeMap::from([
            ("a".to_owned(), "x y".to_owned()),
            ("e".to_owned(), String::new()),
        ]);
        assert_eq!(
            substitute("p ${{ inputs.a }}/${{inputs.e}}!", &inputs).expect("ok"),
            "p x y/!"
        );
        assert!(substitute("${{ github.sha }}", &inputs).is_err());
        assert!(condition_holds("inputs.a != ''", &inputs).expect("ok"));
        assert!(!condition_holds("inputs.e != ''", &inputs).expect("ok"));
        assert!(condition_holds("always()", &inputs).is_err());
    }
}
