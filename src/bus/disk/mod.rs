//! The durable store's journal: every event the in-memory store holds is also written to
//! fjall in the data directory before its publish is answered, so a restarted gateway
//! reads back its epoch, its sequence and every channel's backlog (see [`restore`]).
//!
//! fjall writes each batch to its own journal file in the operating system's buffers,
//! so a crash of the process loses nothing; when that file reaches the disk is the
//! [`Fsync`] mode's choice. Three keyspaces: `events` (see [`record`]), `channels` (each
//! channel's floor, kept after the channel is dropped as its tombstone) and `meta` (the
//! epoch, the format and the sequence number reserved so far).

mod record;
mod restore;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fjall::{Database, Keyspace, OwnedWriteBatch, PersistMode};
use tokio_util::sync::CancellationToken;

use super::BusError;
use super::event::Event;

pub use restore::Restored;

/// When an acknowledged publish reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fsync {
    /// Before the publish is answered: it survives a power loss.
    Always,
    /// Within [`FLUSH_INTERVAL`] after it: a power loss may take that interval's events.
    Interval,
    /// When the operating system writes it out: a power loss may take more.
    Never,
}

/// How often the `interval` mode makes the journal durable.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Sequence numbers reserved on disk at once. The reservation is made durable before any
/// number in it is issued, so a power loss never makes the sequence go back (which would
/// issue an id twice); a restart continues after the reservation, skipping at most this many.
const SEQ_BLOCK: u64 = 10_000;

/// The handle on the data directory; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    events: Keyspace,
    floors: Keyspace,
    meta: Keyspace,
    fsync: Fsync,
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    /// Each held channel's floor as written: its events up to it are deleted from disk.
    trimmed: HashMap<String, u64>,
    /// The highest sequence number reserved on disk.
    reserved: u64,
}

impl Journal {
    /// Opens (or creates) the data directory and reads back what it holds; with
    /// `new_epoch`, its events take a new epoch (see [`restore::open`]).
    pub fn open(path: &Path, fsync: Fsync, new_epoch: bool) -> anyhow::Result<(Journal, Restored)> {
        restore::open(path, fsync, new_epoch)
    }

    pub fn fsync(&self) -> Fsync {
        self.inner.fsync
    }

    /// Writes the event, and deletes its channel's events up to `floor`, in one batch
    /// that reaches the operating system before this returns.
    pub fn append(&self, event: &Event, floor: u64) -> Result<(), BusError> {
        let inner = &*self.inner;
        let mut state = self.state();
        let mut batch = inner.db.batch();
        batch.insert(&inner.events, record::event_key(&event.channel, event.id.seq), record::encode_event(event));
        self.trim_into(&mut batch, &mut state, &event.channel, floor);
        let reserving = event.id.seq > state.reserved;
        if reserving {
            state.reserved = event.id.seq + SEQ_BLOCK;
            batch.insert(&inner.meta, restore::SEQ, record::encode_u64(state.reserved));
        }
        let mode = if reserving { PersistMode::SyncAll } else { PersistMode::Buffer };
        batch.durability(Some(mode)).commit().map_err(|err| self.failed(&err))
    }

    /// Deletes from disk what the store no longer holds: each channel's events up to its
    /// floor; a dropped channel keeps only its floor, as its tombstone.
    pub fn sweep(&self, floors: &[(String, u64, bool)]) {
        let mut state = self.state();
        let mut batch = self.inner.db.batch();
        for (channel, floor, dropped) in floors {
            self.trim_into(&mut batch, &mut state, channel, *floor);
            if *dropped {
                state.trimmed.remove(channel);
            }
        }
        if let Err(err) = batch.durability(Some(PersistMode::Buffer)).commit() {
            self.failed(&err);
        }
    }

    /// Makes everything written so far durable. It blocks; call it off the async threads.
    pub fn sync(&self) -> Result<(), BusError> {
        self.inner.db.persist(PersistMode::SyncAll).map_err(|err| self.failed(&err))
    }

    /// In the `always` mode, waits until the events written so far are durable.
    pub async fn settle(&self) -> Result<(), BusError> {
        if self.fsync() != Fsync::Always {
            return Ok(());
        }
        let journal = self.clone();
        let synced = tokio::task::spawn_blocking(move || journal.sync()).await;
        synced.unwrap_or_else(|err| Err(BusError::Unavailable(err.to_string())))
    }

    /// Until `shutdown`, makes the journal durable every [`FLUSH_INTERVAL`] in the
    /// `interval` mode; in every mode, once more as the gateway stops.
    pub async fn run(self, shutdown: CancellationToken) {
        if self.fsync() == Fsync::Interval {
            let mut ticks = tokio::time::interval(FLUSH_INTERVAL);
            while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
                let journal = self.clone();
                // After a failed write fjall refuses every other: stop asking (and logging).
                if !matches!(tokio::task::spawn_blocking(move || journal.sync()).await, Ok(Ok(()))) {
                    break;
                }
            }
        }
        shutdown.cancelled().await;
        let _ = tokio::task::spawn_blocking(move || self.sync()).await;
    }

    /// Adds to `batch` the deletion of `channel`'s events up to `floor` and its new floor.
    fn trim_into(&self, batch: &mut OwnedWriteBatch, state: &mut State, channel: &str, floor: u64) {
        let inner = &*self.inner;
        let trimmed = state.trimmed.get(channel).copied();
        if trimmed == Some(floor) {
            return;
        }
        let from = trimmed.map_or(0, |seq| seq.saturating_add(1));
        if from <= floor {
            let range = record::event_key(channel, from)..=record::event_key(channel, floor);
            for key in inner.events.range(range).filter_map(|guard| guard.key().ok()) {
                batch.remove(&inner.events, key);
            }
        }
        batch.insert(&inner.floors, channel, record::encode_u64(floor));
        state.trimmed.insert(channel.to_owned(), floor);
    }

    /// Logs a write that failed and turns it into a refusal: fjall takes no more writes
    /// after one failed (it cannot vouch for its journal), so publishes are refused until
    /// the gateway is restarted; subscribers are served from memory meanwhile.
    fn failed(&self, err: &fjall::Error) -> BusError {
        let path = self.inner.path.display();
        tracing::error!(%path, error = %err, "cannot write to the data directory");
        BusError::Unavailable(format!("cannot write to the data directory {path}: {err}"))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
