//! The soak run's parts: resuming clients over every transport, and the check of what
//! each received against what its channel was sent.

pub mod client;

use std::collections::HashSet;

pub use client::{Client, Counts, Ledger};
pub use cometgate_wire::Transport;

/// One transport's totals over its subscribers.
#[derive(Debug, Default)]
pub struct Totals {
    pub subscribers: u64,
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub counts: Counts,
    pub first_error: Option<String>,
}

impl Totals {
    /// Adds one subscriber whose channel was sent events `0..published`.
    pub fn add(&mut self, ledger: &Ledger, published: u64) {
        let unique: HashSet<u64> = ledger.seqs.iter().copied().collect();
        let in_range = unique.iter().filter(|&&seq| seq < published).count() as u64;
        self.subscribers += 1;
        self.expected += published;
        self.received += ledger.seqs.len() as u64;
        self.lost += published - in_range;
        self.duplicated += (ledger.seqs.len() - unique.len()) as u64;
        self.out_of_order += ledger.seqs.windows(2).filter(|pair| pair[1] <= pair[0]).count() as u64;
        self.counts += ledger.counts;
        if self.first_error.is_none() {
            self.first_error.clone_from(&ledger.first_error);
        }
    }

    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.counts.gaps == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_count_loss_duplicates_and_disorder() {
        let mut totals = Totals::default();
        totals.add(&Ledger { seqs: vec![0, 1, 2, 3], ..Ledger::default() }, 4);
        assert!(totals.clean());
        totals.add(&Ledger { seqs: vec![0, 2, 2, 1], ..Ledger::default() }, 4);
        assert_eq!((totals.lost, totals.duplicated, totals.out_of_order), (1, 1, 2));
        assert!(!totals.clean());
    }
}
