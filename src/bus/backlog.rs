//! One channel's backlog: a bounded ring of recent events, and what a cursor is owed from it.
//!
//! A channel that ended keeps its end as its last entry (an event of type
//! [`END_EVENT_TYPE`]), for as long as any event is kept.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::event::{END_EVENT_TYPE, Event};
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

/// What one channel owes a cursor: whether events after it were lost, and the events to send.
#[derive(Debug)]
pub struct ChannelReplay {
    /// `Some(oldest id still held)` when events after the cursor were lost.
    pub gap: Option<Option<Id>>,
    pub events: Vec<Arc<Event>>,
    /// Where the subscriber stands on this channel before `events`.
    pub start: u64,
    /// The channel's end when the cursor is already past it (so it is not in `events`).
    pub ended: Option<Arc<Event>>,
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

    /// Everything `cursor` is owed, in an epoch whose ids carry `epoch` and whose last id
    /// issued on any channel is `head`: a cursor of this epoch up to `head` is a clean
    /// resume, since its connection may have followed channels that moved further.
    pub fn replay(&self, cursor: Cursor, epoch: u64, head: u64) -> ChannelReplay {
        let head = head.max(self.head);
        match cursor {
            Cursor::Live => ChannelReplay { gap: None, events: Vec::new(), start: head, ended: self.ended() },
            Cursor::Earliest => self.after(self.floor),
            Cursor::After(id) if id.epoch == epoch && (self.floor..=head).contains(&id.seq) => self.after(id.seq),
            Cursor::After(_) | Cursor::Unknown => ChannelReplay { gap: Some(self.oldest()), ..self.after(self.floor) },
        }
    }

    fn after(&self, seq: u64) -> ChannelReplay {
        let start = self.events.partition_point(|e| e.id.seq <= seq);
        let events: Vec<_> = self.events.range(start..).cloned().collect();
        let ended = self.ended().filter(|end| end.id.seq <= seq);
        ChannelReplay { gap: None, events, start: seq, ended }
    }

    /// The channel's end, while it is kept.
    pub fn ended(&self) -> Option<Arc<Event>> {
        self.events.back().filter(|event| event.kind == END_EVENT_TYPE).cloned()
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

    fn seqs(replay: &ChannelReplay) -> Vec<u64> {
        replay.events.iter().map(|e| e.id.seq).collect()
    }

    fn after(seq: u64) -> Cursor {
        Cursor::After(Id { epoch: EPOCH, seq })
    }

    #[test]
    fn live_cursor_gets_nothing_but_the_current_position() {
        let replay = backlog_with(5, &[11, 12]).replay(Cursor::Live, EPOCH, 0);
        assert!(replay.events.is_empty() && replay.gap.is_none());
        assert_eq!(replay.start, 12);
    }

    #[test]
    fn earliest_gets_the_whole_backlog_without_gap() {
        let replay = backlog_with(5, &[11, 12, 15]).replay(Cursor::Earliest, EPOCH, 0);
        assert_eq!((seqs(&replay), replay.gap), (vec![11, 12, 15], None));
    }

    #[test]
    fn cursor_in_backlog_gets_exactly_what_follows() {
        let backlog = backlog_with(5, &[11, 12, 15]);
        assert_eq!(seqs(&backlog.replay(after(12), EPOCH, 0)), vec![15]);
        assert_eq!(seqs(&backlog.replay(after(13), EPOCH, 0)), vec![15]);
        assert!(backlog.replay(after(15), EPOCH, 0).events.is_empty());
    }

    #[test]
    fn cursor_just_before_the_oldest_held_event_is_a_clean_resume() {
        let backlog = backlog_with(2, &[11, 12, 13]);
        let replay = backlog.replay(after(11), EPOCH, 0);
        assert_eq!((seqs(&replay), replay.gap), (vec![12, 13], None));
    }

    #[test]
    fn evicted_cursor_gets_gap_with_oldest_then_backlog() {
        let backlog = backlog_with(2, &[11, 12, 13]);
        let replay = backlog.replay(after(10), EPOCH, 0);
        assert_eq!(replay.gap, Some(Some(Id { epoch: EPOCH, seq: 12 })));
        assert_eq!(seqs(&replay), vec![12, 13]);
    }

    #[test]
    fn foreign_epoch_ahead_and_unknown_cursors_get_gap() {
        let backlog = backlog_with(5, &[11, 12]);
        let foreign = Cursor::After(Id { epoch: EPOCH + 1, seq: 11 });
        for cursor in [foreign, after(13), Cursor::Unknown] {
            let replay = backlog.replay(cursor, EPOCH, 0);
            assert!(replay.gap.is_some(), "{cursor:?}");
            assert_eq!(seqs(&replay), vec![11, 12]);
        }
    }

    #[test]
    fn expiry_drops_old_events_and_raises_the_floor() {
        let mut backlog = backlog_with(5, &[11, 12, 13]);
        backlog.expire(12_000 + 60_000);
        assert_eq!(backlog.oldest(), Some(Id { epoch: EPOCH, seq: 12 }));
        assert!(backlog.replay(after(10), EPOCH, 0).gap.is_some());
        assert!(backlog.replay(after(11), EPOCH, 0).gap.is_none());
        backlog.expire(u64::MAX);
        assert!(backlog.is_empty());
        assert_eq!(backlog.last(), Some(Id { epoch: EPOCH, seq: 13 }));
        assert_eq!(backlog.replay(after(13), EPOCH, 0).gap, None);
    }

    #[test]
    fn an_absent_channel_resumes_cursors_between_its_floor_and_the_bus_head() {
        let absent = Backlog::absent(5, 20);
        for (cursor, gap) in [(after(5), false), (after(20), false), (after(4), true), (after(21), true)] {
            let replay = absent.replay(cursor, EPOCH, 0);
            assert_eq!((replay.gap.is_some(), replay.events.len()), (gap, 0), "{cursor:?}");
        }
        assert_eq!(absent.replay(Cursor::Live, EPOCH, 0).start, 20);
        assert_eq!(absent.replay(Cursor::Earliest, EPOCH, 0).gap, None);
    }

    #[test]
    fn a_cursor_ahead_of_the_channel_but_not_of_the_bus_resumes_cleanly() {
        let backlog = backlog_with(5, &[11, 12]);
        let replay = backlog.replay(after(30), EPOCH, 30);
        assert_eq!((replay.gap, replay.events.len(), replay.start), (None, 0, 30));
        assert!(backlog.replay(after(31), EPOCH, 30).gap.is_some());
    }

    #[test]
    fn an_end_is_replayed_after_the_events_or_reported_when_the_cursor_passed_it() {
        let mut backlog = backlog_with(5, &[11, 12]);
        let end = Arc::new(Event::new(
            Id { epoch: EPOCH, seq: 14 },
            "c".into(),
            END_EVENT_TYPE.into(),
            String::new(),
            14_000,
        ));
        backlog.push(end);
        let before = backlog.replay(after(11), EPOCH, 20);
        assert_eq!((seqs(&before), before.ended.is_none()), (vec![12, 14], true));
        for passed in [backlog.replay(after(14), EPOCH, 20), backlog.replay(Cursor::Live, EPOCH, 20)] {
            assert_eq!((passed.events.len(), passed.ended.map(|end| end.id.seq)), (0, Some(14)));
        }
    }
}
