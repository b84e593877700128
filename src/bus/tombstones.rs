//! What the in-memory store remembers of the channels it dropped: where each one stood,
//! so that a cursor at a dropped channel's last event resumes without a false gap.

use std::collections::{HashMap, VecDeque};

/// The floor (the position below which events may be lost) of recently dropped
/// channels, at most `capacity` of them, the oldest forgotten first. `watermark` is at
/// least the floor of every channel forgotten, so it stands in for any name not held.
#[derive(Debug)]
pub struct Tombstones {
    floors: HashMap<String, u64>,
    order: VecDeque<(String, u64)>,
    capacity: usize,
    watermark: u64,
}

impl Tombstones {
    pub fn new(capacity: usize) -> Self {
        Tombstones { floors: HashMap::new(), order: VecDeque::new(), capacity, watermark: 0 }
    }

    /// Remembers that `channel` was dropped with its events up to `floor` gone.
    pub fn bury(&mut self, channel: &str, floor: u64) {
        self.floors.insert(channel.to_owned(), floor);
        self.order.push_back((channel.to_owned(), floor));
        while self.order.len() > self.capacity {
            let Some((name, floor)) = self.order.pop_front() else { break };
            // An entry whose channel came back (or was buried again) since is stale.
            if self.floors.get(&name) == Some(&floor) {
                self.floors.remove(&name);
                self.watermark = self.watermark.max(floor);
            }
        }
    }

    /// Where a channel the store does not hold stands.
    pub fn floor(&self, channel: &str) -> u64 {
        self.floors.get(channel).copied().unwrap_or(self.watermark)
    }

    /// The floor of a channel created again, whose backlog remembers it from now on.
    pub fn raise(&mut self, channel: &str) -> u64 {
        self.floors.remove(channel).unwrap_or(self.watermark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_never_dropped_stands_at_the_watermark_of_those_forgotten() {
        let mut tombstones = Tombstones::new(2);
        assert_eq!(tombstones.floor("never"), 0);
        tombstones.bury("a", 5);
        tombstones.bury("b", 3);
        tombstones.bury("c", 9);
        assert_eq!((tombstones.floor("a"), tombstones.floor("b"), tombstones.floor("c")), (5, 3, 9));
        assert_eq!(tombstones.floor("never"), 5, "a (5) was forgotten first");
    }

    #[test]
    fn a_channel_that_comes_back_takes_its_floor_and_leaves_a_stale_entry_behind() {
        let mut tombstones = Tombstones::new(1);
        tombstones.bury("a", 5);
        assert_eq!(tombstones.raise("a"), 5);
        assert_eq!(tombstones.floor("a"), 0);
        tombstones.bury("b", 7);
        assert_eq!((tombstones.floor("a"), tombstones.floor("b")), (0, 7), "the stale a raised nothing");
    }
}
