//! The event bus: one cheap-to-clone handle that issues ids, keeps each channel's backlog
//! and fans every event out to the channel's live subscribers.

mod backlog;
mod event;
mod id;
mod subscription;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

pub use backlog::Replay;
pub use event::{DEFAULT_EVENT_TYPE, Event, Format, NameError, check_channel, check_event_type};
pub use id::{Cursor, Id, MalformedId};
pub use subscription::{Item, Subscription};

/// The bus's bounds, taken from the settings.
#[derive(Debug, Clone)]
pub struct Limits {
    pub backlog_size: usize,
    pub backlog_max_age: Duration,
    /// Live events buffered per channel for subscribers that read slowly; one that falls
    /// further behind refills from the backlog instead.
    pub fanout_buffer: usize,
    /// How long a channel with no subscribers and an empty backlog is kept before it is dropped.
    pub channel_idle: Duration,
    pub max_subscribers: usize,
}

/// Why the bus refused a request.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the gateway holds its maximum number of subscribers")]
    Full,
}

/// The answer to a publish.
#[derive(Debug, Serialize)]
pub struct Published {
    pub id: Id,
    pub channel: String,
    /// How many live subscribers the event was handed to.
    pub subscribers: usize,
}

/// What `GET /channels/{channel}` reports.
#[derive(Debug, Serialize)]
pub struct ChannelInfo {
    pub channel: String,
    pub last_id: Option<Id>,
    pub backlog: usize,
    pub subscribers: usize,
}

/// The handle every handler clones; all clones share one set of channels.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    epoch: u64,
    last_seq: AtomicU64,
    channels: Mutex<HashMap<String, Channel>>,
    permits: Arc<Semaphore>,
    limits: Limits,
}

struct Channel {
    backlog: Backlog,
    sender: broadcast::Sender<Arc<Event>>,
    touched: Instant,
}

use backlog::Backlog;

impl Bus {
    /// A bus whose epoch is the time it was made, so ids from an earlier run are foreign.
    pub fn new(limits: Limits) -> Self {
        let permits = Arc::new(Semaphore::new(limits.max_subscribers.min(Semaphore::MAX_PERMITS)));
        let inner = Inner { epoch: now_ms(), last_seq: AtomicU64::new(0), channels: Mutex::default(), permits, limits };
        Bus { inner: Arc::new(inner) }
    }

    /// The id of sequence number `seq` in this bus's epoch.
    pub fn id(&self, seq: u64) -> Id {
        Id { epoch: self.inner.epoch, seq }
    }

    /// Appends an event to the channel's backlog and hands it to its live subscribers.
    /// It returns once the event is stored; slow subscribers never slow the publisher.
    pub async fn publish(&self, channel: &str, kind: &str, data: String) -> Result<Published, BusError> {
        let mut channels = self.channels();
        let state = self.channel(&mut channels, channel);
        let seq = self.inner.last_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Event::new(self.id(seq), channel.to_owned(), kind.to_owned(), data, now_ms());
        let event = Arc::new(event);
        state.backlog.push(event.clone());
        let subscribers = state.sender.send(event).unwrap_or(0);
        Ok(Published { id: self.id(seq), channel: channel.to_owned(), subscribers })
    }

    /// Subscribes from `cursor`: the replay it is owed, then every live event, exactly once.
    pub async fn subscribe(&self, channel: &str, cursor: Cursor) -> Result<Subscription, BusError> {
        let permit = self.inner.permits.clone().try_acquire_owned().map_err(|_| BusError::Full)?;
        let mut channels = self.channels();
        let state = self.channel(&mut channels, channel);
        let replay = state.backlog.replay(cursor, self.inner.epoch);
        let receiver = state.sender.subscribe();
        drop(channels);
        Ok(Subscription::new(self.clone(), channel, replay, receiver, permit))
    }

    /// A fresh replay after `seq` and a fresh receiver, taken together so nothing falls
    /// between them: how a subscriber that lagged behind the live fan-out catches up.
    fn resume(&self, channel: &str, seq: u64) -> (Replay, broadcast::Receiver<Arc<Event>>) {
        let mut channels = self.channels();
        let state = self.channel(&mut channels, channel);
        let replay = state.backlog.replay(Cursor::After(self.id(seq)), self.inner.epoch);
        (replay, state.sender.subscribe())
    }

    /// The channel's figures, without creating it.
    pub fn info(&self, channel: &str) -> ChannelInfo {
        let channels = self.channels();
        let state = channels.get(channel);
        ChannelInfo {
            channel: channel.to_owned(),
            last_id: state.and_then(|s| s.backlog.last()),
            backlog: state.map_or(0, |s| s.backlog.len()),
            subscribers: state.map_or(0, |s| s.sender.receiver_count()),
        }
    }

    /// Expires old events and drops channels that nobody uses; returns how many it dropped.
    pub fn sweep(&self) -> usize {
        let idle = self.inner.limits.channel_idle;
        let now = now_ms();
        let mut channels = self.channels();
        let before = channels.len();
        channels.retain(|_, state| {
            state.backlog.expire(now);
            let unused = state.sender.receiver_count() == 0 && state.backlog.is_empty();
            !(unused && state.touched.elapsed() >= idle)
        });
        before - channels.len()
    }

    /// Sweeps every `period` until `shutdown`.
    pub async fn run_sweeper(self, period: Duration, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(period);
        while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
            let dropped = self.sweep();
            if dropped > 0 {
                tracing::debug!(dropped, "dropped idle channels");
            }
        }
    }

    /// How many channels the bus holds now.
    pub fn channel_count(&self) -> usize {
        self.channels().len()
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<String, Channel>> {
        self.inner.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn channel<'a>(&self, channels: &'a mut HashMap<String, Channel>, name: &str) -> &'a mut Channel {
        let limits = &self.inner.limits;
        let state = channels.entry(name.to_owned()).or_insert_with(|| Channel {
            backlog: Backlog::new(
                limits.backlog_size,
                limits.backlog_max_age,
                self.inner.last_seq.load(Ordering::Relaxed),
            ),
            sender: broadcast::channel(limits.fanout_buffer.max(1)).0,
            touched: Instant::now(),
        });
        state.backlog.expire(now_ms());
        state.touched = Instant::now();
        state
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
