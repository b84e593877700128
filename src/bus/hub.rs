//! This node's fan-out: one broadcast sender per channel with local subscribers. Events
//! reach it from the store (in memory) or from the Redis relay (several nodes).
//!
//! A channel's entry lives exactly as long as its listeners: the last one to leave frees
//! it, so a name costs the hub nothing once nobody here listens; and there are at most
//! `--max-subscribed-channels` entries, past which a listener of one more is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::BusError;
use super::event::Event;
use super::id::Id;

type Channels = Arc<Mutex<HashMap<String, Local>>>;

/// The local subscribers of every channel.
pub struct Hub {
    channels: Channels,
    buffer: usize,
    max_channels: usize,
}

struct Local {
    sender: broadcast::Sender<Arc<Event>>,
    /// Last id handed to this channel's subscribers, so that a relay that catches up after
    /// a reconnect knows where to start and never hands an event twice.
    relayed: Id,
}

/// A receiver of one channel's live events. Dropping it unsubscribes; the last one
/// dropped frees the channel's entry.
pub struct Listener {
    receiver: broadcast::Receiver<Arc<Event>>,
    channels: Channels,
    channel: String,
}

impl Hub {
    /// A hub whose channels buffer `buffer` live events for slow readers, for at most
    /// `max_channels` channels at once.
    pub fn new(buffer: usize, max_channels: usize) -> Self {
        Hub { channels: Channels::default(), buffer: buffer.max(1), max_channels }
    }

    /// A listener of the channel's live events from now on; refused, before anything is
    /// allocated, when it would take the hub past its number of channels.
    pub fn subscribe(&self, channel: &str) -> Result<Listener, BusError> {
        let mut channels = self.channels();
        let receiver = match channels.get(channel) {
            Some(local) => local.sender.subscribe(),
            None if channels.len() >= self.max_channels => return Err(BusError::TooManySubscribedChannels),
            None => {
                let (sender, receiver) = broadcast::channel(self.buffer);
                channels.insert(channel.to_owned(), Local { sender, relayed: Id { epoch: 0, seq: 0 } });
                receiver
            }
        };
        Ok(Listener { receiver, channels: self.channels.clone(), channel: channel.to_owned() })
    }

    /// Hands `event` to the channel's local subscribers unless they had it already;
    /// returns how many it was handed to. An event of another epoch is always new.
    pub fn deliver(&self, event: Arc<Event>) -> usize {
        let mut channels = self.channels();
        let Some(local) = channels.get_mut(&event.channel) else { return 0 };
        if event.id.epoch == local.relayed.epoch && event.id.seq <= local.relayed.seq {
            return 0;
        }
        local.relayed = event.id;
        local.sender.send(event).unwrap_or(0)
    }

    /// Channels with local subscribers and the last id each has been sent.
    pub fn positions(&self) -> Vec<(String, Id)> {
        self.channels().iter().map(|(channel, local)| (channel.clone(), local.relayed)).collect()
    }

    pub fn subscribers(&self, channel: &str) -> usize {
        self.channels().get(channel).map_or(0, |local| local.sender.receiver_count())
    }

    /// Channels with at least one local subscriber.
    pub fn channel_count(&self) -> usize {
        self.channels().len()
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<String, Local>> {
        lock(&self.channels)
    }
}

impl Listener {
    pub fn try_recv(&mut self) -> Result<Arc<Event>, TryRecvError> {
        self.receiver.try_recv()
    }

    pub async fn recv(&mut self) -> Result<Arc<Event>, RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for Listener {
    /// Receivers are only made under the lock, so when this one is the last left it
    /// stays the last, and the entry can go.
    fn drop(&mut self) {
        let mut channels = lock(&self.channels);
        if channels.get(&self.channel).is_some_and(|local| local.sender.receiver_count() <= 1) {
            channels.remove(&self.channel);
        }
    }
}

fn lock(channels: &Channels) -> MutexGuard<'_, HashMap<String, Local>> {
    channels.lock().unwrap_or_else(PoisonError::into_inner)
}
