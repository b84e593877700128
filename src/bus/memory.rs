//! The embedded store: every channel's backlog in this process's memory.
//!
//! Only a publish creates a channel: a subscriber to a name never published costs the
//! store nothing and never counts against `max_channels`, the publishers' budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;

use super::backlog::Backlog;
use super::event::{END_EVENT_TYPE, Event};
use super::hub::Hub;
use super::id::{Cursor, Id};
use super::replay::Replay;
use super::tombstones::Tombstones;
use super::{Bounds, BusError, now_ms};

/// Backlogs by channel, and the one sequence counter of this epoch.
pub struct Memory {
    epoch: u64,
    last_seq: AtomicU64,
    channels: Mutex<Channels>,
    bounds: Bounds,
    /// Stored events on their way to the hub, in id order (see [`fan_out`]).
    stored: mpsc::UnboundedSender<Arc<Event>>,
}

struct Channels {
    held: HashMap<String, Stored>,
    /// Where the channels dropped when idle stood (as many as may be held).
    dropped: Tombstones,
}

struct Stored {
    backlog: Backlog,
    touched: Instant,
}

impl Memory {
    /// An empty store whose epoch is the time it was made, so ids of an earlier run are
    /// foreign; its stored events go to `stored`, for [`fan_out`].
    pub fn new(bounds: Bounds, stored: mpsc::UnboundedSender<Arc<Event>>) -> Self {
        let channels = Channels { held: HashMap::new(), dropped: Tombstones::new(bounds.max_channels) };
        Memory { epoch: now_ms(), last_seq: AtomicU64::new(0), channels: Mutex::new(channels), bounds, stored }
    }

    /// Stores the event, and queues it for the hub under the same lock, so that the queue,
    /// and so every subscriber, has the events in id order. An end ([`END_EVENT_TYPE`]) of a
    /// channel that ended already answers with the first end's id.
    pub fn append(&self, channel: &str, kind: &str, data: String) -> Result<Id, BusError> {
        let mut channels = self.channels();
        let stored = self.stored(&mut channels, channel)?;
        if let Some(end) = stored.backlog.ended() {
            return if kind == END_EVENT_TYPE { Ok(end.id) } else { Err(BusError::Ended) };
        }
        let id = Id { epoch: self.epoch, seq: self.last_seq.fetch_add(1, Ordering::Relaxed) + 1 };
        let event = Arc::new(Event::new(id, channel.to_owned(), kind.to_owned(), data, now_ms()));
        stored.backlog.push(event.clone());
        // Only fails once the fan-out has stopped with the process; the event is stored.
        let _ = self.stored.send(event);
        Ok(id)
    }

    /// What `cursor` is owed on the channels, all read under one lock; a channel not held
    /// is answered from where it stood, not created.
    pub fn replay(&self, following: &[String], cursor: Cursor) -> Replay {
        let mut channels = self.channels();
        let Channels { held, dropped } = &mut *channels;
        let head = self.last_seq.load(Ordering::Relaxed);
        let parts = following.iter().map(|channel| {
            let part = match held.get_mut(channel) {
                Some(stored) => {
                    stored.backlog.expire(now_ms());
                    stored.touched = Instant::now();
                    stored.backlog.replay(cursor, self.epoch, head)
                }
                None => Backlog::absent(dropped.floor(channel), head).replay(cursor, self.epoch, head),
            };
            (channel.clone(), part)
        });
        Replay::merge(Id { epoch: self.epoch, seq: head }, parts.collect::<Vec<_>>())
    }

    /// The last id published on the channel and how many events it holds, without creating it.
    pub fn info(&self, channel: &str) -> (Option<Id>, usize) {
        let mut channels = self.channels();
        let Some(stored) = channels.held.get_mut(channel) else { return (None, 0) };
        stored.backlog.expire(now_ms());
        (stored.backlog.last(), stored.backlog.len())
    }

    /// Expires old events and drops channels that are empty, idle and without subscribers,
    /// remembering where each stood.
    pub fn sweep(&self, hub: &Hub) -> usize {
        let now = now_ms();
        let mut channels = self.channels();
        let Channels { held, dropped } = &mut *channels;
        let before = held.len();
        held.retain(|name, stored| {
            stored.backlog.expire(now);
            let unused = stored.backlog.is_empty() && hub.subscribers(name) == 0;
            let keep = !(unused && stored.touched.elapsed() >= self.bounds.channel_idle);
            if !keep {
                dropped.bury(name, stored.backlog.floor());
            }
            keep
        });
        before - held.len()
    }

    /// Channels held and events in all their backlogs.
    pub fn totals(&self) -> (usize, usize) {
        let channels = self.channels();
        (channels.held.len(), channels.held.values().map(|stored| stored.backlog.len()).sum())
    }

    fn channels(&self) -> MutexGuard<'_, Channels> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The channel a publish appends to, created if new (from where it stood when dropped).
    fn stored<'a>(&self, channels: &'a mut Channels, name: &str) -> Result<&'a mut Stored, BusError> {
        let Channels { held, dropped } = channels;
        if held.len() >= self.bounds.max_channels && !held.contains_key(name) {
            return Err(BusError::TooManyChannels);
        }
        let bounds = &self.bounds;
        let stored = held.entry(name.to_owned()).or_insert_with(|| Stored {
            backlog: Backlog::new(bounds.backlog_size, bounds.backlog_max_age, dropped.raise(name)),
            touched: Instant::now(),
        });
        stored.backlog.expire(now_ms());
        stored.touched = Instant::now();
        Ok(stored)
    }
}

/// Hands stored events to the hub, in id order, off the publishers' path: a publish
/// returns once its event is stored, however many subscribers there are to wake (from a
/// publisher's own thread, waking 10,000 subscribers on other threads took about 10 ms).
/// A subscriber that arrives between the store and the hub finds the event in its replay
/// and skips the live copy by id. Ends when the store is dropped.
pub async fn fan_out(hub: Arc<Hub>, mut stored: mpsc::UnboundedReceiver<Arc<Event>>) {
    let mut batch = Vec::with_capacity(FAN_OUT_BATCH);
    while stored.recv_many(&mut batch, FAN_OUT_BATCH).await > 0 {
        for event in batch.drain(..) {
            hub.deliver(event);
        }
    }
}

/// Most stored events taken from the queue at once.
const FAN_OUT_BATCH: usize = 64;
