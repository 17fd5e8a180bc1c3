//! A container event stream that survives losing the Docker API: [`EventSource`] reads dockerd's
//! events, and when the stream breaks or ends (the daemon restarts, its socket goes away, a proxy
//! in between dies) it says so, retries with back-off, and once the daemon answers again it hands
//! over the events it missed before going live again. dockerd keeps its last 256 events, so a
//! short outage loses nothing: each event carries the container's name, image and labels.
//!
//! It only reports what it knows: which events came, when the API was lost and regained. What an
//! outage means for a recording (which metadata is uncertain, the exit code) is the recorder's
//! business.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures_util::StreamExt as _;
use tokio::{
    sync::{Notify, mpsc},
    task::JoinHandle,
};

use super::{ContainerEvent, Engine, now_nanos};

/// The first retry after the stream broke, doubled after every failed attempt up to
/// [`MAX_BACKOFF`]: a restarting daemon is back within a few attempts, and a dead one costs a
/// connection attempt every 2 s.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How long one reconnection attempt (a ping, then the catch-up read) may take: a daemon that
/// accepts connections but does not answer is still down.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the source has to say, in order.
#[derive(Debug)]
pub enum Update {
    /// A container event, live.
    Event(ContainerEvent),
    /// The event stream broke or ended: the API is unreachable from `at` until [`Update::Regained`].
    Lost { at: SystemTime, cause: String },
    /// The daemon answers again at `at`. `missed` are the events it emitted while the stream was
    /// down (from dockerd's buffer, oldest first); live events follow.
    Regained {
        at: SystemTime,
        missed: Vec<ContainerEvent>,
    },
}

/// One time the Docker API could not be reached during a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// When the event stream broke.
    pub from: SystemTime,
    /// When the API answered again, or — when it never did — when the recording ended.
    pub to: SystemTime,
    /// Whether the API answered again before the recording ended.
    pub regained: bool,
    /// What broke the stream, e.g. "cannot reach the Docker daemon at …: error reading a body".
    pub cause: String,
}

impl Outage {
    /// An outage that has just begun.
    pub fn begin(from: SystemTime, cause: String) -> Outage {
        Outage {
            from,
            to: from,
            regained: false,
            cause,
        }
    }

    pub fn duration(&self) -> Duration {
        self.to.duration_since(self.from).unwrap_or_default()
    }

    /// "from 10:41:02.113 to 10:41:04.220 UTC (2.1 s)", or "from 10:41:02.113 UTC until the
    /// recording ended (3.0 s)".
    pub fn describe(&self) -> String {
        let seconds = self.duration().as_secs_f64();
        if self.regained {
            format!(
                "from {} to {} UTC ({seconds:.1} s)",
                time_of_day(self.from),
                time_of_day(self.to)
            )
        } else {
            format!(
                "from {} UTC until the recording ended ({seconds:.1} s)",
                time_of_day(self.from)
            )
        }
    }
}

/// `HH:MM:SS.mmm` of a time, UTC: the clock dockerd's own log uses, to line the two up.
fn time_of_day(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since_epoch.subsec_millis()
    )
}

/// Container events from the moment it is started, reconnecting when the API is lost.
///
/// The reading runs in a task of its own, so [`EventSource::next`] is cancel-safe (it can be one
/// branch of a `select!`) and a reconnection in progress is never abandoned half-way. The task
/// ends when the source is dropped.
pub struct EventSource {
    updates: mpsc::Receiver<Update>,
    /// Cuts the current back-off short: see [`EventSource::retry_now`].
    retry: Arc<Notify>,
    task: JoinHandle<()>,
}

impl EventSource {
    /// Starts reading events emitted from now on. Must be called inside the tokio runtime.
    pub fn start(engine: &Engine) -> EventSource {
        let (sender, updates) = mpsc::channel(256);
        let retry = Arc::new(Notify::new());
        let task = tokio::spawn(read(engine.clone(), now_nanos(), sender, retry.clone()));
        EventSource {
            updates,
            retry,
            task,
        }
    }

    /// The next update; None only once the reading task is gone (it never ends by itself).
    pub async fn next(&mut self) -> Option<Update> {
        self.updates.recv().await
    }

    /// While the API is lost, tries to reconnect at once instead of at the end of the back-off:
    /// for a recording about to end, which still wants to learn what it missed.
    pub fn retry_now(&self) {
        self.retry.notify_one();
    }
}

impl Drop for EventSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reading task: the live stream until it breaks, then [`reconnect`], for ever. `since` is the
/// time of the newest event seen (or of the start), where a catch-up begins; it is inclusive, so
/// that event may come twice, but none is skipped.
async fn read(engine: Engine, mut since: i64, updates: mpsc::Sender<Update>, retry: Arc<Notify>) {
    loop {
        let mut stream = Box::pin(engine.events_between(since, None));
        let cause = loop {
            match stream.next().await {
                Some(Ok(event)) => {
                    since = since.max(event.time_nanos);
                    if updates.send(Update::Event(event)).await.is_err() {
                        return;
                    }
                }
                Some(Err(err)) => break err.to_string(),
                None => break "the daemon closed the event stream".to_owned(),
            }
        };
        drop(stream);
        log::warn!("lost the Docker API: {cause}; reconnecting");
        let lost = Update::Lost {
            at: SystemTime::now(),
            cause,
        };
        if updates.send(lost).await.is_err() {
            return;
        }
        let (until, missed) = reconnect(&engine, since, &retry).await;
        since = since.max(until);
        log::warn!(
            "the Docker API answers again; {} event(s) it sent meanwhile were replayed",
            missed.len()
        );
        let regained = Update::Regained {
            at: SystemTime::now(),
            missed,
        };
        if updates.send(regained).await.is_err() {
            return;
        }
    }
}

/// Retries with back-off (or at once when `retry` is notified) until the daemon answers and its
/// buffered events since `since` have been read; returns the time the catch-up read up to and the
/// events it got. Live events are read from that time on, so none falls between the two reads.
async fn reconnect(engine: &Engine, since: i64, retry: &Notify) -> (i64, Vec<ContainerEvent>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = retry.notified() => {}
        }
        match tokio::time::timeout(ATTEMPT_TIMEOUT, catch_up(engine, since)).await {
            Ok(Ok(caught_up)) => return caught_up,
            Ok(Err(err)) => log::debug!("the Docker API is still unreachable: {err}"),
            Err(_) => log::debug!("the Docker API did not answer within {ATTEMPT_TIMEOUT:?}"),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn catch_up(
    engine: &Engine,
    since: i64,
) -> Result<(i64, Vec<ContainerEvent>), super::DockerError> {
    engine.ping().await?;
    let until = now_nanos();
    let mut stream = Box::pin(engine.events_between(since, Some(until)));
    let mut missed = Vec::new();
    while let Some(event) = stream.next().await {
        missed.push(event?);
    }
    Ok((until, missed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_read_as_clock_times() {
        let from = UNIX_EPOCH + Duration::from_millis(1_795_362_408_113);
        let mut outage = Outage::begin(from, "gone".into());
        outage.to = from + Duration::from_millis(2_107);
        assert_eq!(
            outage.describe(),
            "from 15:46:48.113 UTC until the recording ended (2.1 s)"
        );
        outage.regained = true;
        assert_eq!(
            outage.describe(),
            "from 15:46:48.113 to 15:46:50.220 UTC (2.1 s)"
        );
    }
}
