//! The embedded store: every channel's backlog in this process's memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::backlog::{Backlog, Replay};
use super::event::Event;
use super::hub::Hub;
use super::id::{Cursor, Id};
use super::{Bounds, BusError, now_ms};

/// Backlogs by channel, and the one sequence counter of this epoch.
pub struct Memory {
    epoch: u64,
    last_seq: AtomicU64,
    channels: Mutex<HashMap<String, Stored>>,
    bounds: Bounds,
}

struct Stored {
    backlog: Backlog,
    touched: Instant,
}

impl Memory {
    /// An empty store whose epoch is the time it was made, so ids of an earlier run are foreign.
    pub fn new(bounds: Bounds) -> Self {
        Memory { epoch: now_ms(), last_seq: AtomicU64::new(0), channels: Mutex::default(), bounds }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Stores the event and hands it to the hub under one lock, so that live subscribers
    /// receive a channel's events in id order.
    pub fn append(&self, channel: &str, kind: &str, data: String, hub: &Hub) -> Result<(Id, usize), BusError> {
        let mut channels = self.channels();
        let stored = self.stored(&mut channels, channel)?;
        let id = Id { epoch: self.epoch, seq: self.last_seq.fetch_add(1, Ordering::Relaxed) + 1 };
        let event = Arc::new(Event::new(id, channel.to_owned(), kind.to_owned(), data, now_ms()));
        stored.backlog.push(event.clone());
        Ok((id, hub.deliver(event)))
    }

    pub fn replay(&self, channel: &str, cursor: Cursor) -> Result<Replay, BusError> {
        let mut channels = self.channels();
        Ok(self.stored(&mut channels, channel)?.backlog.replay(cursor, self.epoch))
    }

    /// The last id published on the channel and how many events it holds, without creating it.
    pub fn info(&self, channel: &str) -> (Option<Id>, usize) {
        let mut channels = self.channels();
        let Some(stored) = channels.get_mut(channel) else { return (None, 0) };
        stored.backlog.expire(now_ms());
        (stored.backlog.last(), stored.backlog.len())
    }

    /// Expires old events and drops channels that are empty, idle and without subscribers.
    pub fn sweep(&self, hub: &Hub) -> usize {
        let now = now_ms();
        let mut channels = self.channels();
        let before = channels.len();
        channels.retain(|name, stored| {
            stored.backlog.expire(now);
            let unused = stored.backlog.is_empty() && hub.subscribers(name) == 0;
            !(unused && stored.touched.elapsed() >= self.bounds.channel_idle)
        });
        before - channels.len()
    }

    /// Channels held and events in all their backlogs.
    pub fn totals(&self) -> (usize, usize) {
        let channels = self.channels();
        (channels.len(), channels.values().map(|stored| stored.backlog.len()).sum())
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<String, Stored>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stored<'a>(&self, channels: &'a mut HashMap<String, Stored>, name: &str) -> Result<&'a mut Stored, BusError> {
        let bounds = &self.bounds;
        if channels.len() >= bounds.max_channels && !channels.contains_key(name) {
            return Err(BusError::TooManyChannels);
        }
        let stored = channels.entry(name.to_owned()).or_insert_with(|| {
            let head = self.last_seq.load(Ordering::Relaxed);
            Stored { backlog: Backlog::new(bounds.backlog_size, bounds.backlog_max_age, head), touched: Instant::now() }
        });
        stored.backlog.expire(now_ms());
        stored.touched = Instant::now();
        Ok(stored)
    }
}
