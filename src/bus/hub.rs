//! This node's fan-out: one broadcast sender per channel with local subscribers. Events
//! reach it from the store (in memory) or from the Redis relay (several nodes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast;

use super::event::Event;

/// The local subscribers of every channel.
pub struct Hub {
    channels: Mutex<HashMap<String, Local>>,
    buffer: usize,
}

struct Local {
    sender: broadcast::Sender<Arc<Event>>,
    /// Highest sequence number handed to this channel's subscribers, so that a relay that
    /// catches up after a reconnect knows where to start and never hands an event twice.
    relayed: u64,
}

impl Hub {
    /// A hub whose channels buffer `buffer` live events for slow readers.
    pub fn new(buffer: usize) -> Self {
        Hub { channels: Mutex::default(), buffer: buffer.max(1) }
    }

    /// A receiver of the channel's live events from now on.
    pub fn subscribe(&self, channel: &str) -> broadcast::Receiver<Arc<Event>> {
        let mut channels = self.channels();
        if let Some(local) = channels.get(channel) {
            return local.sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(self.buffer);
        channels.insert(channel.to_owned(), Local { sender, relayed: 0 });
        receiver
    }

    /// Hands `event` to the channel's local subscribers unless they had it already;
    /// returns how many it was handed to.
    pub fn deliver(&self, event: Arc<Event>) -> usize {
        let mut channels = self.channels();
        let Some(local) = channels.get_mut(&event.channel) else { return 0 };
        if event.id.seq <= local.relayed {
            return 0;
        }
        local.relayed = event.id.seq;
        local.sender.send(event).unwrap_or(0)
    }

    /// Channels with local subscribers and the sequence number each has been sent up to.
    pub fn positions(&self) -> Vec<(String, u64)> {
        let channels = self.channels();
        channels.iter().filter(|(_, l)| l.sender.receiver_count() > 0).map(|(c, l)| (c.clone(), l.relayed)).collect()
    }

    pub fn subscribers(&self, channel: &str) -> usize {
        self.channels().get(channel).map_or(0, |local| local.sender.receiver_count())
    }

    /// Forgets channels whose last local subscriber has left.
    pub fn sweep(&self) {
        self.channels().retain(|_, local| local.sender.receiver_count() > 0);
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<String, Local>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
