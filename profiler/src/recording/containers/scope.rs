//! What `--containers` keeps: every container of every engine is named by the engine that knows
//! it (Docker's API in the recorder itself; Podman's inspect or the OCI bundle here,
//! `crate::engines`), `--filter` is applied once it is named, and a container outside it (or a
//! pod's sandbox, or a runtime's parent directory) is disarmed with its slot released, so nothing
//! of it is kept (design.md §17). Non-Docker containers end when their cgroup goes: no Docker event
//! says so. A bare-id container nothing has named yet first waits a little for Docker's events
//! (`tracked::UNNAMED_GRACE`): it may be Docker's.

use super::{RecordError, Recorder};
use crate::{engines, output::summary, tracer};

impl Recorder<'_> {
    /// Disarms a slot nobody will read, dropping whatever it counted.
    pub(super) fn release_slot(&mut self, slot: u32) -> Result<(), RecordError> {
        let runtime = |err: tracer::TracerError| RecordError::Runtime(err.to_string());
        let recording = self.tracer.read(slot).map_err(runtime)?;
        self.tracer.release(slot, &recording).map_err(runtime)
    }

    /// Asks engines other than Docker about the containers Docker does not name (Podman's
    /// inspect, the OCI bundle), applies `--filter` to everything named since the last look, and
    /// finishes the non-Docker containers whose cgroup is gone (no Docker event says so).
    pub(super) async fn describe_others(
        &mut self,
        cut_short: Option<&'static str>,
    ) -> Result<(), RecordError> {
        let slots: Vec<u32> = self.tracked.keys().copied().collect();
        for slot in slots {
            let Some(entry) = self.tracked.get_mut(&slot) else {
                continue;
            };
            if entry.finished {
                continue;
            }
            if entry.wants_meta()
                && let (Some(shape), Some(dir)) = (entry.shape.clone(), entry.cgroup_dir())
                && let Some(meta) = engines::describe(&shape, &dir).await
            {
                log::debug!("container {} is {meta:?}", entry.id);
                entry.learn_meta(meta);
            }
            if self.judge(slot)? {
                continue;
            }
            let Some(entry) = self.tracked.get_mut(&slot) else {
                continue;
            };
            if !entry.ends_by_docker_event()
                && !entry.cgroup_exists()
                && !entry.may_still_be_named(std::time::Instant::now())
            {
                self.finish(slot, false, cut_short)?;
            }
        }
        Ok(())
    }

    /// Applies `--filter` (and drops a pod's sandbox) once a container's facts are known; true when
    /// the container was disarmed. Its slot is released with whatever it counted so far, so
    /// nothing of it is kept.
    pub(super) fn judge(&mut self, slot: u32) -> Result<bool, RecordError> {
        let Some(entry) = self.tracked.get_mut(&slot) else {
            return Ok(false);
        };
        if entry.verdict.is_some() {
            return Ok(false);
        }
        let keep = if entry.is_sandbox() {
            false
        } else if self.filters.is_empty() {
            true
        } else {
            let by_shape = (entry.shape.as_ref().and_then(|shape| shape.engine))
                .and_then(|engine| self.filters.by_engine_only(engine));
            match (entry.facts(), by_shape) {
                (Some(facts), _) => self.filters.matches(&facts),
                (None, Some(verdict)) => verdict,
                (None, None) => return Ok(false),
            }
        };
        entry.verdict = Some(keep);
        if keep {
            return Ok(false);
        }
        let name = entry.display_name();
        if entry.is_sandbox() {
            log::debug!("container {name} is a pod sandbox (pause); not recorded");
        } else {
            log::info!("container {name} does not match --filter; disarmed");
            self.filtered_out.push(name);
        }
        self.tracked.remove(&slot);
        self.release_slot(slot)?;
        Ok(true)
    }

    /// Tells what `--filter` left out, and makes a recording in which nothing matched a finding.
    pub(super) fn say_filtered(&mut self) {
        if self.filters.is_empty() {
            return;
        }
        self.filtered_out.sort();
        let out = if self.filtered_out.is_empty() {
            "no container was seen at all".to_owned()
        } else {
            format!("filtered out: {}", self.filtered_out.join(", "))
        };
        if self.outcome.recorded == 0 && self.outcome.failed.is_empty() {
            self.outcome.nothing_matched = true;
            summary::error(&format!(
                "no container matched --filter {}; {out}",
                self.filters.describe()
            ));
        } else if !self.filtered_out.is_empty() {
            summary::note(&format!(
                "seccomp-profiler: not recorded (--filter {}): {}",
                self.filters.describe(),
                self.filtered_out.join(", ")
            ));
        }
    }
}
