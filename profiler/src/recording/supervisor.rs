//! When a recording stops, for every target alike: the workload ends by itself, `--duration`
//! passes, or the recorder gets SIGINT, SIGTERM or SIGHUP (Ctrl-C, `timeout`, CI cancelling a job,
//! a closed terminal). All three signals mean the same: stop the workload, then write a complete
//! profile flagged `cut_short` with the signal named. A workload that ignores SIGTERM gets SIGKILL
//! after [`STOP_GRACE`], like `docker stop`.
//!
//! The supervisor only says *when*; each target decides *how* its workload is stopped (a command's
//! cgroup, the containers a command started) and owns the loop that waits for it. The signal
//! handlers are installed when the supervisor is made, before any cgroup or program exists, so a
//! signal during set-up cannot leave anything behind either.

use std::{io::IsTerminal as _, time::Duration};

use tokio::{
    signal::unix::{Signal, SignalKind, signal},
    time::{Instant, Interval, MissedTickBehavior},
};

use crate::tracer;

/// How long a workload gets to stop after SIGTERM before what is left of it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Why a recording was cut short. Its name goes into the report's `cut_short_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Duration,
    Signal(&'static str),
}

impl StopReason {
    /// `duration`, `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Duration => "duration",
            StopReason::Signal(name) => name,
        }
    }

    /// How the summary says it: "stopped at --duration", "stopped by SIGTERM".
    pub fn describe(name: &str) -> String {
        match name {
            "duration" => "stopped at --duration".to_owned(),
            "SIGINT" => "stopped by Ctrl-C (SIGINT)".to_owned(),
            signal => format!("stopped by {signal}"),
        }
    }
}

/// What the target should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Time to refresh the progress line and look for new targets.
    Tick,
    /// Ask the workload to stop (SIGTERM). Comes once.
    Stop(StopReason),
    /// The grace period after [`Event::Stop`] is over: kill what is left. Comes once.
    Kill,
}

/// The clock and the signals of one recording.
pub struct Supervisor {
    deadline: Option<Instant>,
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    tick: Interval,
    stopped: Option<(StopReason, Instant)>,
    killed: bool,
    progress: bool,
}

impl Supervisor {
    /// Installs the handlers for SIGINT, SIGTERM and SIGHUP; `duration` starts counting now.
    /// Must be called inside the tokio runtime.
    pub fn new(duration: Option<Duration>) -> std::io::Result<Supervisor> {
        let mut tick = tokio::time::interval(tracer::POLL_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ok(Supervisor {
            deadline: duration.map(|d| Instant::now() + d),
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            tick,
            stopped: None,
            killed: false,
            progress: std::io::stderr().is_terminal(),
        })
    }

    /// Restarts `--duration` from now (when the workload starts, after the set-up).
    pub fn start_clock(&mut self, duration: Option<Duration>) {
        self.deadline = duration.map(|d| Instant::now() + d);
    }

    /// The next thing to do. Cancel-safe: use it as one arm of a `select!`.
    pub async fn next(&mut self) -> Event {
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let stop_at = match self.stopped {
            None => self.deadline.unwrap_or(far),
            Some(_) => far,
        };
        let kill_at = match self.stopped {
            Some((_, at)) if !self.killed => at + STOP_GRACE,
            _ => far,
        };
        let stopping = self.stopped.is_none();
        let reason = tokio::select! {
            _ = self.tick.tick() => return Event::Tick,
            _ = tokio::time::sleep_until(kill_at) => {
                self.killed = true;
                return Event::Kill;
            }
            _ = tokio::time::sleep_until(stop_at), if stopping => StopReason::Duration,
            Some(()) = self.interrupt.recv() => StopReason::Signal("SIGINT"),
            Some(()) = self.terminate.recv() => StopReason::Signal("SIGTERM"),
            Some(()) = self.hangup.recv() => StopReason::Signal("SIGHUP"),
        };
        match self.stopped {
            None => {
                self.stopped = Some((reason, Instant::now()));
                Event::Stop(reason)
            }
            // A second signal while stopping: don't wait out the grace period.
            Some(_) if !self.killed => {
                self.killed = true;
                Event::Kill
            }
            Some(_) => Event::Tick,
        }
    }

    /// Why the recording was cut short, if it was.
    pub fn cut_short(&self) -> Option<StopReason> {
        self.stopped.map(|(reason, _)| reason)
    }

    /// Redraws the progress line (only on a terminal).
    pub fn progress(&self, line: &str) {
        if self.progress {
            crate::output::summary::progress(line);
        }
    }

    /// Clears the progress line before the summary is printed.
    pub fn clear_progress(&self) {
        if self.progress {
            crate::output::summary::progress("");
        }
    }
}

/// A single-threaded tokio runtime: every target runs on one.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// SIGTERM (or another signal) to a process we started and have not reaped.
pub fn signal_pid(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) touches no memory; the pid is our own unreaped child.
        unsafe { libc::kill(pid, signal) };
    }
}
