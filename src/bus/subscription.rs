//! One subscriber's view of a channel: the replay it is owed, then the live events.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::Bus;
use super::backlog::Replay;
use super::event::Event;
use super::hub::Listener;
use super::id::{Cursor, Id};

/// What a subscriber is handed next.
#[derive(Debug, Clone)]
pub enum Item {
    Event(Arc<Event>),
    /// Events after the subscriber's cursor were lost; `oldest` is the oldest still held.
    Gap {
        oldest: Option<Id>,
    },
}

/// A subscriber's place in a channel. Dropping it unsubscribes.
///
/// It hands out the replay first, then live events, skipping any it has already handed
/// out. When it falls so far behind that the live fan-out drops events for it, it refills
/// from the backlog after its own cursor, so it never skips an event silently. So it does
/// when an event of a new epoch arrives (the store lost its data): the refill tells of the gap.
pub struct Subscription {
    bus: Bus,
    channel: String,
    pending: VecDeque<Item>,
    listener: Listener,
    /// The last event handed out (or the cursor it came with).
    position: Id,
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
    _permit: OwnedSemaphorePermit,
}

impl Subscription {
    pub(super) fn new(
        bus: Bus,
        channel: &str,
        cursor: Cursor,
        replay: Replay,
        listener: Listener,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        let mut subscription = Subscription {
            bus,
            channel: channel.to_owned(),
            pending: VecDeque::new(),
            listener,
            position: replay.start,
            lagged: false,
            behind: 0,
            lost: replay.gap.map(|_| lost_cursor(cursor)),
            _permit: permit,
        };
        subscription.queue(replay);
        subscription
    }

    fn queue(&mut self, replay: Replay) {
        let gap = replay.gap.map(|oldest| Item::Gap { oldest });
        self.pending.extend(gap);
        self.pending.extend(replay.events.into_iter().map(Item::Event));
    }

    /// Where a reconnect must resume so that it misses nothing: the last event handed out.
    pub fn cursor(&self) -> Id {
        self.lost.unwrap_or(self.position)
    }

    pub fn channel(&self) -> &str {
        &self.channel
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
            if self.lagged {
                return None;
            }
            match self.listener.try_recv() {
                Ok(event) => {
                    if let Some(item) = self.fresh(event) {
                        return Some(item);
                    }
                }
                Err(TryRecvError::Lagged(_)) => self.lagged = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    /// The next item, waiting for it; `None` once the bus is gone or cannot refill this
    /// subscriber, which then resumes from [`Self::cursor`] on a new connection. Cancel-safe.
    pub async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.try_next() {
                return Some(item);
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
                Err(RecvError::Lagged(_)) => self.lagged = true,
                Err(RecvError::Closed) => return None,
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
        if let Item::Event(event) = &item {
            self.position = event.id;
            self.behind = self.behind.saturating_sub(event.data.len());
        }
        item
    }

    fn fresh(&mut self, event: Arc<Event>) -> Option<Item> {
        if event.id.epoch != self.position.epoch {
            self.lagged = true;
            return None;
        }
        (event.id.seq > self.position.seq).then(|| self.hand(Item::Event(event)))
    }

    /// Catches up from the store after the subscriber's own cursor, with a fresh listener.
    async fn refill(&mut self) -> Option<()> {
        let cursor = self.cursor();
        let (replay, listener) = self.bus.resume(&self.channel, Cursor::After(cursor)).await.ok()?;
        self.listener = listener;
        self.lagged = false;
        self.position = replay.start;
        self.lost = replay.gap.map(|_| cursor);
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
