//! One channel's backlog: a bounded ring of recent events, and what a cursor is owed from it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::event::Event;
use super::id::{Cursor, Id};

/// The recent events of one channel, oldest first, bounded in count and age.
///
/// Besides the events it keeps two positions (sequence numbers): `floor`, below which
/// events may have been lost (evicted, expired, or from before this channel was created),
/// and `head`, the channel's position now. A cursor between the two is a clean resume.
#[derive(Debug)]
pub struct Backlog {
    events: VecDeque<Arc<Event>>,
    capacity: usize,
    max_age: Duration,
    floor: u64,
    head: u64,
    /// The id of the last event ever published here, even if it has expired since.
    last: Option<Id>,
}

/// What a subscriber is owed on arrival: whether it missed events, and the events to send.
#[derive(Debug)]
pub struct Replay {
    /// `Some(oldest id still held)` when events after the cursor were lost.
    pub gap: Option<Option<Id>>,
    pub events: Vec<Arc<Event>>,
    /// Where the subscriber stands before `events`: its cursor.
    pub start: Id,
}

impl Backlog {
    /// An empty backlog for a new channel whose events up to `floor` may be lost.
    pub fn new(capacity: usize, max_age: Duration, floor: u64) -> Self {
        let events = VecDeque::with_capacity(capacity.min(64));
        Backlog { events, capacity, max_age, floor, head: floor, last: None }
    }

    /// What the store knows of a channel it does not hold: nothing lost after `floor`,
    /// nothing published after it up to the bus's `head`. It allocates nothing.
    pub fn absent(floor: u64, head: u64) -> Self {
        Backlog { events: VecDeque::new(), capacity: 0, max_age: Duration::ZERO, floor, head, last: None }
    }

    pub fn push(&mut self, event: Arc<Event>) {
        if self.events.len() >= self.capacity.max(1) {
            self.evict_oldest();
        }
        self.head = event.id.seq;
        self.last = Some(event.id);
        self.events.push_back(event);
    }

    /// Drops the events published before `now_ms - max_age`.
    pub fn expire(&mut self, now_ms: u64) {
        let max_age = u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX);
        let cutoff = now_ms.saturating_sub(max_age);
        while self.events.front().is_some_and(|e| e.time < cutoff) {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some(event) = self.events.pop_front() {
            self.floor = event.id.seq;
        }
    }

    /// Everything `cursor` is owed, in an epoch whose ids carry `epoch`.
    pub fn replay(&self, cursor: Cursor, epoch: u64) -> Replay {
        match cursor {
            Cursor::Live => Replay { gap: None, events: Vec::new(), start: Id { epoch, seq: self.head } },
            Cursor::Earliest => self.after(self.floor, epoch),
            Cursor::After(id) if id.epoch == epoch && (self.floor..=self.head).contains(&id.seq) => {
                self.after(id.seq, epoch)
            }
            Cursor::After(_) | Cursor::Unknown => Replay { gap: Some(self.oldest()), ..self.after(self.floor, epoch) },
        }
    }

    fn after(&self, seq: u64, epoch: u64) -> Replay {
        let start = self.events.partition_point(|e| e.id.seq <= seq);
        let events = self.events.range(start..).cloned().collect();
        Replay { gap: None, events, start: Id { epoch, seq } }
    }

    /// The position below which events may be lost.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    pub fn oldest(&self) -> Option<Id> {
        self.events.front().map(|e| e.id)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn last(&self) -> Option<Id> {
        self.last
    }

    /// The events held, oldest first.
    pub fn events(&self) -> &VecDeque<Arc<Event>> {
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: u64 = 7;

    fn backlog_with(capacity: usize, seqs: &[u64]) -> Backlog {
        let mut backlog = Backlog::new(capacity, Duration::from_secs(60), 10);
        for &seq in seqs {
            let id = Id { epoch: EPOCH, seq };
            backlog.push(Arc::new(Event::new(id, "c".into(), "message".into(), seq.to_string(), seq * 1000)));
        }
        backlog
    }

    fn seqs(replay: &Replay) -> Vec<u64> {
        replay.events.iter().map(|e| e.id.seq).collect()
    }

    fn after(seq: u64) -> Cursor {
        Cursor::After(Id { epoch: EPOCH, seq })
    }

    #[test]
    fn live_cursor_gets_nothing_but_the_current_position() {
        let replay = backlog_with(5, &[11, 12]).replay(Cursor::Live, EPOCH);
        assert!(replay.events.is_empty() && replay.gap.is_none());
        assert_eq!(replay.start, Id { epoch: EPOCH, seq: 12 });
    }

    #[test]
    fn earliest_gets_the_whole_backlog_without_gap() {
        let replay = backlog_with(5, &[11, 12, 15]).replay(Cursor::Earliest, EPOCH);
        assert_eq!((seqs(&replay), replay.gap), (vec![11, 12, 15], None));
    }

    #[test]
    fn cursor_in_backlog_gets_exactly_what_follows() {
        let backlog = backlog_with(5, &[11, 12, 15]);
        assert_eq!(seqs(&backlog.replay(after(12), EPOCH)), vec![15]);
        assert_eq!(seqs(&backlog.replay(after(13), EPOCH)), vec![15]);
        assert!(backlog.replay(after(15), EPOCH).events.is_empty());
    }

    #[test]
    fn cursor_just_before_the_oldest_held_event_is_a_clean_resume() {
        let backlog = backlog_with(2, &[11, 12, 13]);
        let replay = backlog.replay(after(11), EPOCH);
        assert_eq!((seqs(&replay), replay.gap), (vec![12, 13], None));
    }

    #[test]
    fn evicted_cursor_gets_gap_with_oldest_then_backlog() {
        let backlog = backlog_with(2, &[11, 12, 13]);
        let replay = backlog.replay(after(10), EPOCH);
        assert_eq!(replay.gap, Some(Some(Id { epoch: EPOCH, seq: 12 })));
        assert_eq!(seqs(&replay), vec![12, 13]);
    }

    #[test]
    fn foreign_epoch_ahead_and_unknown_cursors_get_gap() {
        let backlog = backlog_with(5, &[11, 12]);
        let foreign = Cursor::After(Id { epoch: EPOCH + 1, seq: 11 });
        for cursor in [foreign, after(13), Cursor::Unknown] {
            let replay = backlog.replay(cursor, EPOCH);
            assert!(replay.gap.is_some(), "{cursor:?}");
            assert_eq!(seqs(&replay), vec![11, 12]);
        }
    }

    #[test]
    fn expiry_drops_old_events_and_raises_the_floor() {
        let mut backlog = backlog_with(5, &[11, 12, 13]);
        backlog.expire(12_000 + 60_000);
        assert_eq!(backlog.oldest(), Some(Id { epoch: EPOCH, seq: 12 }));
        assert!(backlog.replay(after(10), EPOCH).gap.is_some());
        assert!(backlog.replay(after(11), EPOCH).gap.is_none());
        backlog.expire(u64::MAX);
        assert!(backlog.is_empty());
        assert_eq!(backlog.last(), Some(Id { epoch: EPOCH, seq: 13 }));
        assert_eq!(backlog.replay(after(13), EPOCH).gap, None);
    }

    #[test]
    fn an_absent_channel_resumes_cursors_between_its_floor_and_the_bus_head() {
        let absent = Backlog::absent(5, 20);
        for (cursor, gap) in [(after(5), false), (after(20), false), (after(4), true), (after(21), true)] {
            let replay = absent.replay(cursor, EPOCH);
            assert_eq!((replay.gap.is_some(), replay.events.len()), (gap, 0), "{cursor:?}");
        }
        assert_eq!(absent.replay(Cursor::Live, EPOCH).start, Id { epoch: EPOCH, seq: 20 });
        assert_eq!(absent.replay(Cursor::Earliest, EPOCH).gap, None);
    }
}
