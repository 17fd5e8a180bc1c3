//! The privileged end-to-end tests: one test binary, one module per topic. Every test drives the
//! real `seccomp-profiler` (its eBPF programs loaded on this kernel, real processes and Docker
//! containers) and asserts what was recorded; most also replay the workload under the profile and
//! show a call outside it denied.
//!
//! - `agent`: the Kubernetes node agent on two simulated nodes, and `merge` of its partials with
//!   coverage, replayed under containerd;
//! - `record_command`: `record -- CMD` on workloads whose syscalls are known (`src/bin/`);
//! - `containers`: `record --containers` and `check --containers` on real containers;
//! - `capabilities`: the capability recommendation, proven by running with exactly it;
//! - `hardening`: read-only root filesystem, tmpfs/volumes and non-root advice, proven by replay;
//! - `args`: argument rules (`record --args`): proven by `exec` and by a container replay;
//! - `attach`: `record --container` on a container that is already running;
//! - `ci_workflow`: `check`, `diff`, `merge` and malformed input, on real recordings;
//! - `denials`: `check --enforce` names every call seccomp refused (per command, per container);
//! - `deploy`: the node agent's DaemonSet (`deploy/`): its exact privileges are enough, and
//!   each capability is needed;
//! - `doctor`: `doctor` proves this machine can record as root and names what nobody lacks;
//!   `--version` names a commit of this repository and the locked crate versions;
//! - `kernel_arming`: the kernel side arms new cgroup2 children of a watched prefix;
//! - `signals`: SIGTERM, SIGINT and SIGHUP stop every target the same way; a killed recorder's
//!   cgroup is removed by the next one;
//! - `shared_host`: concurrent recordings share one host tracer's programs and stay exact; a
//!   killed recorder is disarmed, the last one gone or the host killed leaves nothing attached;
//! - `formats`: `--format k8s` passes the operator's CRD strictly, the tool reads its own YAML and
//!   an OCI config.json back, and stdout carries only the profile;
//! - `outputs`: no output is written through a symlink, and outputs are checked before CMD runs;
//! - `limits`: the fault matrix: many containers, a full disk, a FIFO, a closed stderr, edge
//!   durations, oversized profiles, concurrent recordings;
//! - `faults`: the Docker API lost mid-recording (a proxy socket killed, then restarted or not):
//!   containers keep their real names, the reports say what is uncertain, exit 4;
//! - `runtimes`: profiles recorded under runc and crun, with and without no-new-privileges, made
//!   with `--runtimes runc,crun`, replayed under both runtimes in both modes;
//! - `verdicts`: the kernel side's verdict cache is zeroed before a kept generation can wrap,
//!   on a real cgroup move and on userspace's add;
//! - `support`: what they share (test containers and their `docker run`, sessions, checks).
//!
//! Run with `cargo xtask test`, as root: it builds the binaries and the test images, starts dockerd,
//! sets `SECCOMP_PROFILER_BIN`, `SECCOMP_PROFILER_WORKLOADS` and `SECCOMP_PROFILER_IMAGES`, and runs
//! this binary with `--test-threads=1`; without that environment every test panics rather than pass
//! by testing nothing. One module's tests: `cargo xtask test -- containers::`.

mod agent;
mod args;
mod attach;
mod capabilities;
mod ci_workflow;
mod containers;
mod denials;
mod deploy;
mod doctor;
mod engines;
mod faults;
mod formats;
mod hardening;
mod kernel_arming;
mod limits;
mod outputs;
mod record_command;
mod runtimes;
mod shared_host;
mod signals;
mod support;
mod verdicts;
