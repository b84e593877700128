//! The event bus: one cheap-to-clone handle that issues ids, keeps each channel's backlog
//! and fans every event out to the channel's subscribers.
//!
//! Two parts sit behind it: a store that owns ids and backlogs ([`memory`] in this process,
//! or [`redis`] shared by several nodes), and this node's [`hub`] of live subscribers.

mod backlog;
mod event;
mod hub;
mod id;
mod memory;
#[cfg(test)]
mod multi_tests;
mod redis;
mod replay;
mod subscription;
#[cfg(test)]
mod tests;
mod tombstones;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use event::{DEFAULT_EVENT_TYPE, END_EVENT_TYPE, Event, Format, NameError, check_channel, check_event_type};
pub use id::{Cursor, Id, MalformedId};
pub use subscription::{Item, Subscription};

use hub::{Hub, Listener};
use memory::Memory;
use redis::RedisStore;
use replay::Replay;

/// How much the bus keeps, taken from the settings.
#[derive(Debug, Clone)]
pub struct Bounds {
    pub backlog_size: usize,
    pub backlog_max_age: Duration,
    /// Live events buffered per channel for subscribers that read slowly; one that falls
    /// further behind refills from the backlog instead.
    pub fanout_buffer: usize,
    /// How long a channel with no subscribers and an empty backlog is kept before it is dropped.
    pub channel_idle: Duration,
    pub max_subscribers: usize,
    /// Most distinct channels this node's subscribers may follow at once, so that names
    /// nobody publishes on cost a bounded amount of fan-out memory.
    pub max_subscribed_channels: usize,
    /// Most channels the in-memory store holds; a publish to a new channel past it is
    /// refused. Also how many dropped channels the store remembers the position of.
    pub max_channels: usize,
}

/// Why the bus refused a request.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the gateway holds its maximum number of subscribers")]
    Full,
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    #[error("the gateway holds its maximum number of channels")]
    TooManyChannels,
    #[error("the gateway's subscribers follow its maximum number of channels")]
    TooManySubscribedChannels,
    #[error("this channel has ended; it takes no more events")]
    Ended,
}

/// The answer to a publish.
#[derive(Debug, Serialize)]
pub struct Published {
    pub id: Id,
    pub channel: String,
    /// How many live subscribers of this node follow the channel as the event is stored.
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

/// The handle every handler clones; all clones share one store and one hub.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    hub: Arc<Hub>,
    permits: Arc<Semaphore>,
    bounds: Bounds,
}

/// The Redis futures are boxed where they are awaited: they are several kilobytes, and
/// unboxed they would size every future that might await them, so each held connection on
/// the in-memory store would carry that space too.
enum Store {
    Memory(Memory),
    Redis(RedisStore),
}

impl Bus {
    /// A bus on the embedded in-memory store, whose fan-out runs as a task of the runtime
    /// it is made in.
    pub fn in_memory(bounds: Bounds) -> Self {
        let (stored, queue) = tokio::sync::mpsc::unbounded_channel();
        let bus = Bus::with_store(Store::Memory(Memory::new(bounds.clone(), stored)), &bounds);
        tokio::spawn(memory::fan_out(bus.inner.hub.clone(), queue));
        bus
    }

    /// A bus on the Redis at `url`, shared with every node that uses the same Redis.
    pub async fn on_redis(url: &str, bounds: Bounds) -> anyhow::Result<Self> {
        Ok(Bus::with_store(Store::Redis(RedisStore::connect(url, bounds.clone()).await?), &bounds))
    }

    fn with_store(store: Store, bounds: &Bounds) -> Self {
        let permits = Arc::new(Semaphore::new(bounds.max_subscribers.min(Semaphore::MAX_PERMITS)));
        let hub = Arc::new(Hub::new(bounds.fanout_buffer, bounds.max_subscribed_channels));
        Bus { inner: Arc::new(Inner { store, hub, permits, bounds: bounds.clone() }) }
    }

    /// The bounds this bus was made with.
    pub fn bounds(&self) -> Bounds {
        self.inner.bounds.clone()
    }

    /// Stores the event and hands it to the channel's subscribers. It returns once the
    /// event is stored; the subscribers are woken after, so neither slow nor many
    /// subscribers slow the publisher.
    pub async fn publish(&self, channel: &str, kind: &str, data: String) -> Result<Published, BusError> {
        let id = match &self.inner.store {
            Store::Memory(memory) => memory.append(channel, kind, data)?,
            Store::Redis(redis) => Box::pin(redis.append(channel, kind, &data)).await?,
        };
        let subscribers = self.inner.hub.subscribers(channel);
        Ok(Published { id, channel: channel.to_owned(), subscribers })
    }

    /// Ends the channel: its end is stored after its last event, every subscriber gets it
    /// after all the events, and later publishes are refused while it is kept (as long as
    /// an event). Ending it again answers with the first end's id.
    pub async fn end(&self, channel: &str) -> Result<Published, BusError> {
        self.publish(channel, END_EVENT_TYPE, String::new()).await
    }

    /// Subscribes one connection to `channels` from `cursor`: the replay it is owed, then
    /// every live event, exactly once, in id order across the channels.
    pub async fn subscribe(&self, channels: &[String], cursor: Cursor) -> Result<Subscription, BusError> {
        let permit = self.inner.permits.clone().try_acquire_owned().map_err(|_| BusError::Full)?;
        let (replay, listener) = self.resume(channels, cursor).await?;
        Ok(Subscription::new(self.clone(), cursor, replay, listener, permit))
    }

    /// A listener of live events, then the replay of every channel read at one moment: an
    /// event published in between is in one or both (the subscription skips the second
    /// copy by id), never in neither, and the replay holds every event up to its `head`.
    /// A refused replay drops the listener, which frees what it took.
    async fn resume(&self, channels: &[String], cursor: Cursor) -> Result<(Replay, Listener), BusError> {
        let listener = self.inner.hub.listen(channels)?;
        let replay = match &self.inner.store {
            Store::Memory(memory) => memory.replay(channels, cursor),
            Store::Redis(redis) => Box::pin(redis.replay(channels, cursor)).await?,
        };
        Ok((replay, listener))
    }

    /// The channel's figures, without creating it.
    pub async fn info(&self, channel: &str) -> Result<ChannelInfo, BusError> {
        let (last_id, backlog) = match &self.inner.store {
            Store::Memory(memory) => memory.info(channel),
            Store::Redis(redis) => Box::pin(redis.info(channel)).await?,
        };
        let subscribers = self.inner.hub.subscribers(channel);
        Ok(ChannelInfo { channel: channel.to_owned(), last_id, backlog, subscribers })
    }

    /// Runs what the bus does in the background until `shutdown`: sweeping idle channels
    /// every `period`, and with Redis, relaying other nodes' events to this node.
    pub async fn run(self, period: Duration, shutdown: CancellationToken) {
        if let Store::Redis(redis) = &self.inner.store {
            tokio::spawn(redis::run_relay(redis.clone(), self.clone(), shutdown.clone()));
        }
        let mut ticks = tokio::time::interval(period);
        while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
            self.sweep();
        }
    }

    /// Forgets channels nobody uses; returns how many channels the store dropped.
    pub fn sweep(&self) -> usize {
        match &self.inner.store {
            Store::Memory(memory) => memory.sweep(&self.inner.hub),
            Store::Redis(_) => 0,
        }
    }

    /// How many channels this process holds (in memory) or follows (with Redis).
    pub fn channel_count(&self) -> usize {
        self.totals().0
    }

    /// Channels this process holds and events in their backlogs (with Redis: the channels
    /// this node follows, and no events, since the backlogs live in Redis).
    pub fn totals(&self) -> (usize, usize) {
        match &self.inner.store {
            Store::Memory(memory) => memory.totals(),
            Store::Redis(_) => (self.inner.hub.channel_count(), 0),
        }
    }

    /// Whether the store answers.
    pub async fn ready(&self) -> Result<(), BusError> {
        match &self.inner.store {
            Store::Memory(_) => Ok(()),
            Store::Redis(redis) => Box::pin(redis.ping()).await,
        }
    }

    fn hub(&self) -> &Hub {
        &self.inner.hub
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
