//! Pages of a channel's history, for a chat's first paint and for paging back: the
//! newest events, the events before an id (newest first) or after one (oldest first).

use std::collections::VecDeque;
use std::sync::Arc;

use super::event::Event;
use super::id::Id;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest events, newest first.
    Newest,
    /// The events before this id, newest first.
    Before(Id),
    /// The events after this id, oldest first.
    After(Id),
}

impl Page {
    /// The id the page is relative to.
    pub fn id(self) -> Option<Id> {
        match self {
            Page::Newest => None,
            Page::Before(id) | Page::After(id) => Some(id),
        }
    }
}

/// One page: its events in the page's order, and whether the backlog holds more beyond it.
#[derive(Debug, Default)]
pub struct History {
    pub events: Vec<Arc<Event>>,
    pub more: bool,
}

impl History {
    /// The page of `events` (a backlog, oldest first) with at most `limit` events.
    pub fn of(events: &VecDeque<Arc<Event>>, page: Page, limit: usize) -> History {
        let (start, newest_first) = match page {
            Page::Newest => (events.len(), true),
            Page::Before(id) => (events.partition_point(|e| e.id.seq < id.seq), true),
            Page::After(id) => (events.partition_point(|e| e.id.seq <= id.seq), false),
        };
        if newest_first {
            let taken = events.range(..start).rev().take(limit).cloned().collect();
            return History { events: taken, more: start > limit };
        }
        let taken = events.range(start..).take(limit).cloned().collect();
        History { events: taken, more: events.len() - start > limit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(seqs: &[u64]) -> VecDeque<Arc<Event>> {
        let event = |seq| Arc::new(Event::new(Id { epoch: 1, seq }, "c".into(), "m".into(), String::new(), 0));
        seqs.iter().map(|&seq| event(seq)).collect()
    }

    fn seqs(history: &History) -> (Vec<u64>, bool) {
        (history.events.iter().map(|e| e.id.seq).collect(), history.more)
    }

    fn id(seq: u64) -> Id {
        Id { epoch: 1, seq }
    }

    #[test]
    fn the_newest_page_reads_back_from_the_head() {
        let events = backlog(&[3, 5, 8]);
        assert_eq!(seqs(&History::of(&events, Page::Newest, 2)), (vec![8, 5], true));
        assert_eq!(seqs(&History::of(&events, Page::Newest, 3)), (vec![8, 5, 3], false));
    }

    #[test]
    fn before_and_after_exclude_the_id_and_need_not_name_a_held_event() {
        let events = backlog(&[3, 5, 8]);
        assert_eq!(seqs(&History::of(&events, Page::Before(id(8)), 1)), (vec![5], true));
        assert_eq!(seqs(&History::of(&events, Page::Before(id(6)), 5)), (vec![5, 3], false));
        assert_eq!(seqs(&History::of(&events, Page::After(id(3)), 1)), (vec![5], true));
        assert_eq!(seqs(&History::of(&events, Page::After(id(4)), 2)), (vec![5, 8], false));
        assert_eq!(seqs(&History::of(&events, Page::After(id(8)), 2)), (vec![], false));
    }
}
