//! One connection's view of the channels it follows: the replay it is owed, then the
//! live events, in id order across all of them.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::Bus;
use super::event::Event;
use super::hub::{Listener, Missed};
use super::id::{Cursor, Id};
use super::replay::Replay;

/// What a subscriber is handed next.
#[derive(Debug, Clone)]
pub enum Item {
    Event(Arc<Event>),
    /// Events of `channel` after the subscriber's cursor were lost; `oldest` is the oldest
    /// still held.
    Gap {
        channel: String,
        oldest: Option<Id>,
    },
    /// The channel ended after all its events: the connection no longer follows it.
    End(Arc<Event>),
}

/// A connection's place in its channels. Dropping it unsubscribes.
///
/// It hands out the replay first, then live events, skipping any it has already handed
/// out. Events come in id order over all its channels, so its cursor, the last id handed
/// out, is exact for every one of them. When it falls so far behind that its inbox
/// overflows, it refills from the store after its own cursor, so it never skips an event
/// silently; so it does when an event of a new epoch arrives (the store lost its data):
/// the refill tells of the gap.
pub struct Subscription {
    bus: Bus,
    pending: VecDeque<Item>,
    listener: Listener,
    /// The last event handed out (or the cursor it came with).
    position: Id,
    /// Where the position moves once the replay is handed out: the store's last id when
    /// the replay was read.
    head: Id,
    /// The live fan-out dropped events for this subscriber, or the epoch changed: refill
    /// from the store first.
    lagged: bool,
    /// Bytes of data still queued from the last refill: how far behind live it is.
    behind: usize,
    /// Before a gap signal is handed out, the cursor the subscriber came with (or one that
    /// is lost for sure): a client that takes a cursor from a frame sent ahead of the gap
    /// signal and reconnects is told of the gap again, never resumed as if nothing was
    /// lost. Once the signal is out, frames after it carry the clean position, so a poll
    /// that answers a gap with no events does not send its client into a loop of gaps.
    lost: Option<Id>,
    /// Whether it was made for channels that had all ended, with nothing else owed.
    ended_on_arrival: bool,
    _permit: OwnedSemaphorePermit,
}

impl Subscription {
    pub(super) fn new(
        bus: Bus,
        cursor: Cursor,
        replay: Replay,
        listener: Listener,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        let ended_on_arrival = replay.gaps.is_empty()
            && replay.events.iter().all(|event| event.is_end())
            && replay.ended.len() + replay.events.len() == listener.following().len();
        let mut subscription = Subscription {
            bus,
            pending: VecDeque::new(),
            listener,
            position: replay.start,
            head: replay.head,
            lagged: false,
            behind: 0,
            lost: (!replay.gaps.is_empty()).then(|| lost_cursor(cursor)),
            ended_on_arrival,
            _permit: permit,
        };
        subscription.queue(replay);
        subscription
    }

    fn queue(&mut self, replay: Replay) {
        let gaps = replay.gaps.into_iter().map(|(channel, oldest)| Item::Gap { channel, oldest });
        self.pending.extend(gaps);
        self.pending.extend(replay.ended.into_iter().map(Item::End));
        self.pending.extend(replay.events.into_iter().map(|event| match event.is_end() {
            true => Item::End(event),
            false => Item::Event(event),
        }));
        self.settle();
    }

    /// Where a reconnect must resume so that it misses nothing: the last event handed out.
    pub fn cursor(&self) -> Id {
        self.lost.unwrap_or(self.position)
    }

    /// The channels it still follows.
    pub fn channels(&self) -> &[String] {
        self.listener.following()
    }

    /// Whether every channel it followed has ended and all it was owed was handed out.
    pub fn is_finished(&self) -> bool {
        self.pending.is_empty() && self.listener.following().is_empty()
    }

    /// Whether its channels had all ended before it came, with nothing owed but their
    /// ends: an EventSource is then told to stop reconnecting (SSE `204`).
    pub fn ended_on_arrival(&self) -> bool {
        self.ended_on_arrival
    }

    /// Whether an item is ready without waiting (the replay is not yet drained).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next item if one is ready now (a lagged subscriber waits for [`Self::next`]).
    pub fn try_next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(self.hand(item));
            }
            if self.lagged || self.is_finished() {
                return None;
            }
            match self.listener.try_recv() {
                Ok(event) => {
                    if let Some(item) = self.fresh(event) {
                        return Some(item);
                    }
                }
                Err(Missed::Overflowed) => self.lagged = true,
                Err(Missed::Empty) => return None,
            }
        }
    }

    /// The next item, waiting for it; `None` once every channel ended, or the bus is gone
    /// or cannot refill this subscriber, which then resumes from [`Self::cursor`] on a new
    /// connection. Cancel-safe.
    pub async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.try_next() {
                return Some(item);
            }
            if self.is_finished() {
                return None;
            }
            if self.lagged {
                self.refill().await?;
                continue;
            }
            match self.listener.recv().await {
                Ok(event) => {
                    if let Some(item) = self.fresh(event) {
                        return Some(item);
                    }
                }
                Err(Missed::Overflowed) => self.lagged = true,
                Err(Missed::Empty) => return None,
            }
        }
    }

    /// Bytes of event data it must still be sent to catch up with the live stream, after
    /// it fell so far behind that it had to refill from the store.
    pub fn behind(&self) -> usize {
        self.behind
    }

    fn hand(&mut self, item: Item) -> Item {
        self.lost = None;
        match &item {
            Item::Event(event) => {
                self.position.seq = self.position.seq.max(event.id.seq);
                self.behind = self.behind.saturating_sub(event.data.len());
            }
            Item::End(end) => {
                self.position.seq = self.position.seq.max(end.id.seq);
                self.listener.leave(&end.channel);
            }
            Item::Gap { .. } => {}
        }
        self.settle();
        item
    }

    /// Once the replay is handed out, every event up to the store's head when it was read
    /// has been: the position moves there, and live copies up to it are skipped.
    fn settle(&mut self) {
        if self.pending.is_empty() && self.head.seq > self.position.seq {
            self.position.seq = self.head.seq;
        }
    }

    fn fresh(&mut self, event: Arc<Event>) -> Option<Item> {
        if event.id.epoch != self.position.epoch {
            self.lagged = true;
            return None;
        }
        if event.id.seq <= self.position.seq {
            return None;
        }
        let item = if event.is_end() { Item::End(event) } else { Item::Event(event) };
        Some(self.hand(item))
    }

    /// Catches up from the store after the subscriber's own cursor, with a fresh listener.
    async fn refill(&mut self) -> Option<()> {
        let cursor = self.cursor();
        let following = self.channels().to_vec();
        let (replay, listener) = self.bus.resume(&following, Cursor::After(cursor)).await.ok()?;
        self.listener = listener;
        self.lagged = false;
        self.position = replay.start;
        self.head = replay.head;
        self.lost = (!replay.gaps.is_empty()).then_some(cursor);
        self.behind = replay.events.iter().map(|event| event.data.len()).sum();
        self.queue(replay);
        Some(())
    }
}

/// A cursor that stays lost: the one the subscriber sent, or for an unreadable one, the
/// first id of an epoch that never exists.
fn lost_cursor(cursor: Cursor) -> Id {
    match cursor {
        Cursor::After(id) => id,
        _ => Id { epoch: 0, seq: 0 },
    }
}
