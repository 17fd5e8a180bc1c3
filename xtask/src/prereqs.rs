//! Installs what building and testing need on a fresh Debian 12 with only rustup's toolchains:
//! Debian packages, the nightly `rust-src` component, `bpf-linker` and (for the tests)
//! `cargo-fuzz`. Idempotent: every step
//! checks first, prints one `xtask: installing …` line only when it really installs, and when
//! nothing was missing the whole run prints `xtask: prerequisites ok`. It never upgrades or
//! removes anything, and it does not start services (see `dockerd`).

use anyhow::{Context, Result, bail};

use crate::{cmd, workspace};

/// Which set of prerequisites a task needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// Enough to build the profiler and the workload binaries (`demo`, `bench`).
    Build,
    /// `Build` plus what the end-to-end tests use (`test`).
    Test,
    /// `Build` plus the server, load generator and side-by-side tracer of `bench` (issue 13).
    Bench,
}

/// Debian packages needed to build, with the reason printed when they get installed.
const BUILD_PACKAGES: &[(&str, &str)] = &[
    ("llvm-22-dev", "needed to build bpf-linker"),
    ("libpolly-22-dev", "needed to build bpf-linker"),
    ("libseccomp-dev", "needed by the libseccomp crate"),
    ("pkg-config", "needed by the libseccomp crate"),
    ("git", "build.rs reads the commit that `--version` names"),
    (
        "dpkg-dev",
        "`dist` computes the package's dependencies with dpkg-shlibdeps",
    ),
];

/// Debian packages the end-to-end tests use on top of `BUILD_PACKAGES`.
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("docker.io", "the container tests run against dockerd"),
    ("busybox-static", "rootfs of the locally built test images"),
    ("nginx-light", "workload of the container tests"),
    ("redis-server", "workload of the container tests"),
    ("redis-tools", "workload of the container tests"),
    ("python3", "workload of the container tests"),
    ("curl", "drives traffic in the container tests"),
    (
        "strace",
        "an independent witness of what the ground-truth workload makes",
    ),
    (
        "socat",
        "a proxy socket to dockerd that the fault tests kill and restart",
    ),
    (
        "util-linux",
        "setpriv: the doctor test runs it as an unprivileged user",
    ),
    ("g++", "builds libFuzzer for the fuzz targets"),
    (
        "python3-jsonschema",
        "validates record --format k8s against the operator's CRD schema",
    ),
    (
        "python3-yaml",
        "reads the k8s manifests for that validation",
    ),
    // Debian 12's compose is v1 (python, command `docker-compose`); it has no `docker compose`
    // plugin package. 1.29 talks to dockerd 20.10 fine.
    ("docker-compose", "runs the two-service compose test"),
    (
        "man-db",
        "the `dist` stage reads the installed package's man page",
    ),
    (
        "bash-completion",
        "the `dist` stage completes a command line with the installed package's script",
    ),
    (
        "python3-venv",
        "holds check-jsonschema, which validates action.yml",
    ),
];

/// Debian packages of the engine tests (issue 10): engines other than Docker, started by the tests.
const ENGINE_TEST_PACKAGES: &[(&str, &str)] = &[
    (
        "podman",
        "the engine tests record a rootful Podman 4.3 container (with runc) and replay it",
    ),
    (
        "containerd",
        "the engine tests start a private containerd 1.6 and drive it with ctr (kubelet-shaped cgroups)",
    ),
];

/// Debian packages `cargo xtask bench` uses on top of `BUILD_PACKAGES` (issue 13).
const BENCH_PACKAGES: &[(&str, &str)] = &[
    ("nginx-light", "the server `bench` loads with wrk"),
    ("wrk", "`bench` measures nginx's requests/s with it"),
    (
        "bpftrace",
        "`bench` counts the same cgroup's syscalls with it, side by side",
    ),
    (
        "bpftool",
        "`bench` names the recorder's programs in its per-program cost",
    ),
];

/// The pinned bpf-linker: this version builds with stable 1.95 against Debian's LLVM 22.
const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

/// The pinned check-jsonschema (PyPI), whose `--builtin-schema vendor.github-actions` is the
/// published schema of action.yml files; installed into [`venv`].
const CHECK_JSONSCHEMA_VERSION: &str = "0.39.0";

/// The pinned cargo-fuzz, which builds and runs the fuzz targets of `fuzz/` (on nightly).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Install whatever of `set` is missing.
pub fn ensure(set: Set) -> Result<()> {
    let mut installed = false;
    installed |= apt_packages(set).context("install the Debian packages")?;
    installed |= nightly_rust_src().context("install the nightly toolchain's rust-src")?;
    installed |= bpf_linker().context("install bpf-linker")?;
    if set == Set::Test {
        installed |= cargo_fuzz().context("install cargo-fuzz")?;
        installed |= check_jsonschema().context("install check-jsonschema")?;
        installed |= kubernetes_validate().context("install kubernetes-validate")?;
    }
    if !installed {
        println!("xtask: prerequisites ok");
    }
    Ok(())
}

fn packages(set: Set) -> Vec<(&'static str, &'static str)> {
    let mut all = BUILD_PACKAGES.to_vec();
    if set == Set::Test {
        all.extend_from_slice(TEST_PACKAGES);
        all.extend_from_slice(RUNTIME_PACKAGES);
        all.extend_from_slice(ENGINE_TEST_PACKAGES);
    }
    if set == Set::Bench {
        all.extend_from_slice(BENCH_PACKAGES);
    }
    all
}

/// Container runtimes the runtime tests and `runtime-table` record under, besides Docker's runc
/// (dockerd learns about them in `crun::ensure_registered`).
const RUNTIME_PACKAGES: &[(&str, &str)] = &[(
    "crun",
    "the runtime tests record and replay containers under crun as well as runc",
)];

/// `dpkg-query -W -f='${Status}'` says `install ok installed` for an installed package; it fails
/// (or says something else, e.g. `deinstall ok config-files`) otherwise.
fn is_installed(package: &str) -> bool {
    cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| out.status.success() && is_installed_status(&out.stdout))
}

fn is_installed_status(status: &[u8]) -> bool {
    status.trim_ascii() == b"install ok installed"
}

/// `llvm-22-dev libpolly-22-dev (needed to build bpf-linker), curl (…)`: packages grouped by
/// reason, in list order.
fn describe(missing: &[(&str, &str)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for &(name, why) in missing {
        match groups.iter_mut().find(|(w, _)| *w == why) {
            Some((_, names)) => names.push(name),
            None => groups.push((why, vec![name])),
        }
    }
    groups
        .iter()
        .map(|(why, names)| format!("{} ({why})", names.join(" ")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn apt_packages(set: Set) -> Result<bool> {
    let missing: Vec<_> = packages(set)
        .into_iter()
        .filter(|(name, _)| !is_installed(name))
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    let names: Vec<&str> = missing.iter().map(|(name, _)| *name).collect();
    if !workspace::is_root() {
        bail!(
            "missing Debian packages {names}; installing them needs root: run this as root \
             (e.g. `sudo -E cargo xtask …`) or `apt-get install {names}` first",
            names = names.join(" ")
        );
    }
    println!("xtask: installing {}", describe(&missing));
    // Once per run, right before the first install: a fresh machine has no package lists.
    cmd::run(cmd::new("apt-get").args(["update", "-q"]))?;
    cmd::run(
        cmd::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            // needrestart (when installed) would otherwise ask or print a page after the install.
            .env("NEEDRESTART_SUSPEND", "1")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&names),
    )?;
    Ok(true)
}

fn has_nightly(toolchain_list: &str) -> bool {
    toolchain_list.lines().any(|l| l.starts_with("nightly"))
}

/// `rustup component list --installed` prints `rust-src` without a target suffix.
fn has_rust_src(installed_components: &str) -> bool {
    installed_components
        .lines()
        .any(|l| l.split_whitespace().next() == Some("rust-src"))
}

fn nightly_rust_src() -> Result<bool> {
    let stdout = |c: &mut std::process::Command| -> Result<String> {
        Ok(String::from_utf8_lossy(&cmd::output(c)?.stdout).into_owned())
    };
    let toolchains = stdout(cmd::new("rustup").args(["toolchain", "list"])).context(
        "list rustup's toolchains (the eBPF build needs rustup with a nightly toolchain)",
    )?;
    let mut installed = false;
    if !has_nightly(&toolchains) {
        println!("xtask: installing the nightly toolchain (needed to build the eBPF programs)");
        cmd::run(cmd::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
        installed = true;
    }
    let components = stdout(cmd::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]))?;
    if !has_rust_src(&components) {
        println!("xtask: installing rust-src for nightly (needed to build the eBPF programs)");
        cmd::run(cmd::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
        installed = true;
    }
    Ok(installed)
}

fn bpf_linker() -> Result<bool> {
    if cmd::succeeds(cmd::new("bpf-linker").arg("--version")) {
        return Ok(false);
    }
    println!(
        "xtask: installing bpf-linker {BPF_LINKER_VERSION} (links the eBPF programs; takes about 2 minutes)"
    );
    let mut install = cmd::cargo();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(format!("{LLVM_PREFIX}/bin").into()).chain(std::env::split_paths(&path)),
    )
    .context("build PATH for the bpf-linker build")?;
    install
        .env("LLVM_PREFIX", LLVM_PREFIX)
        .env("PATH", path)
        .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION])
        .args(["--no-default-features", "--features", "llvm-22"]);
    cmd::run(&mut install)?;
    if !cmd::succeeds(cmd::new("bpf-linker").arg("--version")) {
        bail!(
            "bpf-linker was installed but `bpf-linker --version` still fails; is $CARGO_HOME/bin on PATH?"
        );
    }
    Ok(true)
}

/// The Python virtual environment under `target/xtask/venv` that holds check-jsonschema (kept
/// out of the system's Python).
pub fn venv() -> std::path::PathBuf {
    workspace::target_dir().join("xtask/venv")
}

fn check_jsonschema() -> Result<bool> {
    let venv = venv();
    let bin = venv.join("bin/check-jsonschema");
    let version = cmd::new(&bin).arg("--version").output();
    if version.is_ok_and(|out| {
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains(CHECK_JSONSCHEMA_VERSION)
    }) {
        return Ok(false);
    }
    println!(
        "xtask: installing check-jsonschema {CHECK_JSONSCHEMA_VERSION} from PyPI into {} \
         (validates action.yml)",
        cmd::relative(venv.as_os_str())
    );
    cmd::run(cmd::new("python3").args(["-m", "venv"]).arg(&venv))?;
    cmd::run(cmd::new(venv.join("bin/pip")).args([
        "install",
        "-q",
        &format!("check-jsonschema=={CHECK_JSONSCHEMA_VERSION}"),
    ]))?;
    Ok(true)
}

/// The pinned kubernetes-validate (PyPI), which bundles the Kubernetes API's JSON schemas up to
/// [`crate::manifests::KUBERNETES_VERSION`]; `validate-manifests` checks `deploy/` with it (issue
/// 10). Installed into [`venv`] next to check-jsonschema; it brings jsonschema and PyYAML, which
/// also run `tests/scripts/check-k8s-manifest.py` there.
pub const KUBERNETES_VALIDATE_VERSION: &str = "1.37.0";

/// kubernetes-validate in [`venv`] (made here if `check_jsonschema` has not made it yet).
pub fn kubernetes_validate() -> Result<bool> {
    let venv = venv();
    let version = cmd::new(venv.join("bin/kubernetes-validate"))
        .arg("--version")
        .output();
    if version.is_ok_and(|out| {
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).trim() == KUBERNETES_VALIDATE_VERSION
    }) {
        return Ok(false);
    }
    println!(
        "xtask: installing kubernetes-validate {KUBERNETES_VALIDATE_VERSION} from PyPI into {} \
         (validates the manifests of deploy/)",
        cmd::relative(venv.as_os_str())
    );
    if !venv.join("bin/pip").exists() {
        cmd::run(cmd::new("python3").args(["-m", "venv"]).arg(&venv)).context(
            "make the Python venv (Debian's python3-venv; `cargo xtask setup --test` installs it)",
        )?;
    }
    cmd::run(cmd::new(venv.join("bin/pip")).args([
        "install",
        "-q",
        &format!("kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}"),
    ]))?;
    Ok(true)
}

/// What `cargo xtask fuzz` alone needs: the nightly toolchain and cargo-fuzz (no root).
pub fn ensure_fuzzing() -> Result<()> {
    nightly_rust_src().context("install the nightly toolchain's rust-src")?;
    cargo_fuzz().context("install cargo-fuzz")?;
    Ok(())
}

fn cargo_fuzz() -> Result<bool> {
    if cmd::succeeds(cmd::new("cargo-fuzz").arg("--version")) {
        return Ok(false);
    }
    println!(
        "xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} (builds and runs the fuzz targets; takes about 2 minutes)"
    );
    cmd::run(cmd::cargo().args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--locked",
    ]))?;
    if !cmd::succeeds(cmd::new("cargo-fuzz").arg("--version")) {
        bail!(
            "cargo-fuzz was installed but `cargo-fuzz --version` still fails; is $CARGO_HOME/bin on PATH?"
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status() {
        assert!(is_installed_status(b"install ok installed"));
        assert!(!is_installed_status(b"deinstall ok config-files"));
        assert!(!is_installed_status(b""));
    }

    #[test]
    fn rustup_listings() {
        assert!(has_nightly(
            "stable-x86_64-unknown-linux-gnu (default)\nnightly-x86_64-unknown-linux-gnu\n"
        ));
        assert!(!has_nightly("stable-x86_64-unknown-linux-gnu (default)\n"));
        assert!(has_rust_src(
            "cargo-x86_64-unknown-linux-gnu\nrust-src\nrustc-x86_64-unknown-linux-gnu\n"
        ));
        assert!(!has_rust_src(
            "cargo-x86_64-unknown-linux-gnu\nrust-std-x86_64-unknown-linux-gnu\n"
        ));
    }

    #[test]
    fn install_line_groups_by_reason() {
        let line = describe(&[("a", "x"), ("b", "y"), ("c", "x")]);
        assert_eq!(line, "a c (x), b (y)");
        assert!(packages(Set::Test).len() > packages(Set::Build).len());
    }
}
