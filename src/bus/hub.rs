//! This node's fan-out: every connection's inbox, filed under each channel it follows.
//! Events reach it from the store (in memory) or from the Redis relay (several nodes),
//! always in id order, and it hands each to the inboxes in that order: so a connection
//! that follows several channels reads their events in id order too, and its cursor (the
//! last id it handed out) says exactly what it has had on every channel.
//!
//! A channel's entry lives exactly as long as its listeners: the last one to leave frees
//! it, so a name costs the hub nothing once nobody here listens; and there are at most
//! `--max-subscribed-channels` entries, past which a listener of one more is refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::BusError;
use super::event::Event;
use super::id::Id;

type Channels = Arc<Mutex<HashMap<String, Local>>>;

/// The local listeners of every channel.
pub struct Hub {
    channels: Channels,
    buffer: usize,
    max_channels: usize,
}

struct Local {
    inboxes: Vec<Arc<Inbox>>,
    /// Last id handed to this channel's listeners, so that a relay that catches up after
    /// a reconnect knows where to start and never hands an event twice.
    relayed: Id,
}

/// One connection's queue of live events, bounded by `--fanout-buffer`.
struct Inbox {
    sender: mpsc::Sender<Arc<Event>>,
    /// Set when an event did not fit: from then on nothing more is queued (a later event
    /// handed before the missing one would move the cursor past it), and the listener
    /// refills from the store once it has read what is queued.
    overflowed: AtomicBool,
}

/// A receiver of the live events of a set of channels. Dropping it unsubscribes; the
/// last listener of a channel to leave frees the channel's entry.
pub struct Listener {
    receiver: mpsc::Receiver<Arc<Event>>,
    inbox: Arc<Inbox>,
    channels: Channels,
    following: Vec<String>,
}

/// Why [`Listener::recv`] has no event.
#[derive(Debug, PartialEq, Eq)]
pub enum Missed {
    /// Nothing queued now.
    Empty,
    /// Events were dropped for this listener: refill from the store.
    Overflowed,
}

impl Hub {
    /// A hub whose inboxes hold `buffer` live events for slow readers, for at most
    /// `max_channels` channels at once.
    pub fn new(buffer: usize, max_channels: usize) -> Self {
        Hub { channels: Channels::default(), buffer: buffer.max(1), max_channels }
    }

    /// A listener of the channels' live events from now on, on all of them at once;
    /// refused, before anything is filed, when it would take the hub past its number of
    /// channels.
    pub fn listen(&self, following: &[String]) -> Result<Listener, BusError> {
        let mut channels = self.channels();
        let new = following.iter().filter(|channel| !channels.contains_key(*channel)).count();
        if new > 0 && channels.len() + new > self.max_channels {
            return Err(BusError::TooManySubscribedChannels);
        }
        let (sender, receiver) = mpsc::channel(self.buffer);
        let inbox = Arc::new(Inbox { sender, overflowed: AtomicBool::new(false) });
        for channel in following {
            let local = channels
                .entry(channel.clone())
                .or_insert_with(|| Local { inboxes: Vec::new(), relayed: Id { epoch: 0, seq: 0 } });
            local.inboxes.push(inbox.clone());
        }
        Ok(Listener { receiver, inbox, channels: self.channels.clone(), following: following.to_vec() })
    }

    /// Hands `event` to the channel's listeners unless they had it already; returns how
    /// many it was handed to. An event of another epoch is always new.
    pub fn deliver(&self, event: Arc<Event>) -> usize {
        let mut channels = self.channels();
        let Some(local) = channels.get_mut(&event.channel) else { return 0 };
        if event.id.epoch == local.relayed.epoch && event.id.seq <= local.relayed.seq {
            return 0;
        }
        local.relayed = event.id;
        local.inboxes.iter().filter(|inbox| inbox.offer(&event)).count()
    }

    /// Channels with local listeners and the last id each has been sent.
    pub fn positions(&self) -> Vec<(String, Id)> {
        self.channels().iter().map(|(channel, local)| (channel.clone(), local.relayed)).collect()
    }

    /// How many connections here follow the channel.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.channels().get(channel).map_or(0, |local| local.inboxes.len())
    }

    /// Channels with at least one local listener.
    pub fn channel_count(&self) -> usize {
        self.channels().len()
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<String, Local>> {
        lock(&self.channels)
    }
}

impl Inbox {
    /// Queues the event unless the inbox overflowed before; says whether it was queued.
    fn offer(&self, event: &Arc<Event>) -> bool {
        if self.overflowed.load(Ordering::Relaxed) {
            return false;
        }
        match self.sender.try_send(event.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::Release);
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }
}

impl Listener {
    /// The next queued event, or why there is none. An overflow is reported only once
    /// everything queued before it has been read, since those events are in order.
    pub fn try_recv(&mut self) -> Result<Arc<Event>, Missed> {
        match self.receiver.try_recv() {
            Ok(event) => Ok(event),
            Err(_) if self.inbox.overflowed.load(Ordering::Acquire) => Err(Missed::Overflowed),
            Err(_) => Err(Missed::Empty),
        }
    }

    /// The next event, waiting for it. An inbox only overflows when it is full, so a
    /// listener waiting on an empty one is always woken by an event first.
    pub async fn recv(&mut self) -> Result<Arc<Event>, Missed> {
        match self.try_recv() {
            Err(Missed::Empty) => self.receiver.recv().await.ok_or(Missed::Overflowed),
            ready => ready,
        }
    }

    /// Stops following `channel` (it ended); events of it already queued stay queued.
    pub fn leave(&mut self, channel: &str) {
        if let Some(index) = self.following.iter().position(|followed| followed == channel) {
            self.following.swap_remove(index);
            unfile(&mut lock(&self.channels), channel, &self.inbox);
        }
    }

    /// The channels it follows.
    pub fn following(&self) -> &[String] {
        &self.following
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut channels = lock(&self.channels);
        for channel in &self.following {
            unfile(&mut channels, channel, &self.inbox);
        }
    }
}

/// Takes the inbox off the channel's list, and the channel off the hub when it was the last.
fn unfile(channels: &mut HashMap<String, Local>, channel: &str, inbox: &Arc<Inbox>) {
    let Some(local) = channels.get_mut(channel) else { return };
    if let Some(index) = local.inboxes.iter().position(|filed| Arc::ptr_eq(filed, inbox)) {
        local.inboxes.swap_remove(index);
    }
    if local.inboxes.is_empty() {
        channels.remove(channel);
    }
}

fn lock(channels: &Channels) -> MutexGuard<'_, HashMap<String, Local>> {
    channels.lock().unwrap_or_else(PoisonError::into_inner)
}
