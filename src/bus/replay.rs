//! What a subscriber is owed on arrival over all the channels it follows, read from the
//! store at one moment: the per-channel replays merged into one sequence in id order.

use std::sync::Arc;

use super::backlog::ChannelReplay;
use super::event::Event;
use super::id::Id;

/// The replay of a connection's channels.
#[derive(Debug)]
pub struct Replay {
    /// The channels whose events after the cursor were lost, each with its oldest id held.
    pub gaps: Vec<(String, Option<Id>)>,
    /// Ends of channels the cursor had already passed: announced again, first, so the
    /// connection drops those channels.
    pub ended: Vec<Arc<Event>>,
    /// Every event (and end) owed, in id order.
    pub events: Vec<Arc<Event>>,
    /// Where the subscriber stands before `events`.
    pub start: Id,
    /// The store's last id when it was read: every event up to it on these channels is in
    /// `events` or before `start`, so a live event up to it is a second copy.
    pub head: Id,
}

impl Replay {
    /// Merges the channels' replays, read at one moment in the store whose last id was
    /// `head`.
    pub fn merge(head: Id, parts: impl IntoIterator<Item = (String, ChannelReplay)>) -> Replay {
        let mut replay = Replay { gaps: Vec::new(), ended: Vec::new(), events: Vec::new(), start: head, head };
        for (channel, part) in parts {
            replay.start.seq = replay.start.seq.min(part.start);
            replay.events.extend(part.events);
            replay.ended.extend(part.ended);
            if let Some(oldest) = part.gap {
                replay.gaps.push((channel, oldest));
            }
        }
        replay.events.sort_by_key(|event| event.id.seq);
        replay
    }
}
