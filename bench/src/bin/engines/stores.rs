//! One small interface over the two engines, for the comparison: append an event and drop
//! the channel's oldest, and ask whether an event is held.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use fjall::{KeyspaceCreateOptions, PersistMode};
use redb::{Durability, ReadableDatabase, ReadableTable, TableDefinition};

const EVENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("events");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Redb,
    Fjall,
}

/// When an acknowledged append reaches the disk: before the acknowledgement, within an
/// interval after it, or when the operating system decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Always,
    Interval,
    Never,
}

impl FromStr for Engine {
    type Err = anyhow::Error;
    fn from_str(text: &str) -> anyhow::Result<Self> {
        [Engine::Redb, Engine::Fjall]
            .into_iter()
            .find(|e| format!("{e:?}") == text)
            .ok_or_else(|| anyhow::anyhow!(text.to_owned()))
    }
}

impl FromStr for Mode {
    type Err = anyhow::Error;
    fn from_str(text: &str) -> anyhow::Result<Self> {
        [Mode::Always, Mode::Interval, Mode::Never]
            .into_iter()
            .find(|m| format!("{m:?}") == text)
            .ok_or_else(|| anyhow::anyhow!(text.to_owned()))
    }
}

pub enum Store {
    Redb { db: Arc<redb::Database>, durability: Durability },
    Fjall { db: fjall::Database, events: fjall::Keyspace, persist: PersistMode },
}

impl Store {
    /// Opens (or creates) the store in `dir`; in the interval mode a thread makes the writes
    /// durable every `interval` for as long as the process lives.
    pub fn open(engine: Engine, mode: Mode, dir: &Path, interval: Duration) -> anyhow::Result<Store> {
        let store = match engine {
            Engine::Redb => {
                let db = Arc::new(redb::Database::create(dir.join("events.redb"))?);
                let durability = if mode == Mode::Always { Durability::Immediate } else { Durability::None };
                Store::Redb { db, durability }
            }
            Engine::Fjall => {
                let db = fjall::Database::builder(dir).open()?;
                let events = db.keyspace("events", KeyspaceCreateOptions::default)?;
                let persist = if mode == Mode::Always { PersistMode::SyncAll } else { PersistMode::Buffer };
                Store::Fjall { db, events, persist }
            }
        };
        if mode == Mode::Interval {
            store.sync_every(interval);
        }
        Ok(store)
    }

    fn sync_every(&self, interval: Duration) {
        let sync: Box<dyn Fn() -> anyhow::Result<()> + Send> = match self {
            Store::Redb { db, .. } => {
                let db = db.clone();
                Box::new(move || {
                    let mut tx = db.begin_write()?;
                    tx.set_durability(Durability::Immediate)?;
                    Ok(tx.commit()?)
                })
            }
            Store::Fjall { db, .. } => {
                let db = db.clone();
                Box::new(move || Ok(db.persist(PersistMode::SyncAll)?))
            }
        };
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(interval);
                if sync().is_err() {
                    return;
                }
            }
        });
    }

    /// Appends one event, and removes the channel's oldest once it holds `backlog`
    /// (events of a channel are `CHANNELS` sequence numbers apart here).
    pub fn append(&self, channel: u64, seq: u64, payload: &[u8], backlog: u64) -> anyhow::Result<()> {
        let evicted = seq.checked_sub(super::CHANNELS * backlog).filter(|&old| old > 0);
        match self {
            Store::Redb { db, durability } => {
                let mut tx = db.begin_write()?;
                tx.set_durability(*durability)?;
                {
                    let mut table = tx.open_table(EVENTS)?;
                    table.insert(&key(channel, seq)[..], payload)?;
                    if let Some(old) = evicted {
                        table.remove(&key(channel, old)[..])?;
                    }
                }
                tx.commit()?;
            }
            Store::Fjall { db, events, persist } => {
                let mut batch = db.batch().durability(Some(*persist));
                batch.insert(events, key(channel, seq), payload);
                if let Some(old) = evicted {
                    batch.remove(events, key(channel, old));
                }
                batch.commit()?;
            }
        }
        Ok(())
    }

    pub fn holds(&self, channel: u64, seq: u64) -> bool {
        match self {
            Store::Redb { db, .. } => db
                .begin_read()
                .ok()
                .and_then(|tx| tx.open_table(EVENTS).ok())
                .and_then(|table| table.get(&key(channel, seq)[..]).ok().flatten())
                .is_some(),
            Store::Fjall { events, .. } => events.contains_key(key(channel, seq)).unwrap_or(false),
        }
    }
}

impl Store {
    /// The highest sequence number held.
    pub fn newest(&self) -> u64 {
        let seqs: Vec<u64> = match self {
            Store::Redb { db, .. } => {
                let Ok(tx) = db.begin_read() else { return 0 };
                let Ok(table) = tx.open_table(EVENTS) else { return 0 };
                let Ok(entries) = table.iter() else { return 0 };
                entries.filter_map(Result::ok).map(|(key, _)| seq_of(key.value())).collect()
            }
            Store::Fjall { events, .. } => {
                events.iter().filter_map(|guard| guard.key().ok()).map(|key| seq_of(&key)).collect()
            }
        };
        seqs.into_iter().max().unwrap_or(0)
    }
}

fn seq_of(key: &[u8]) -> u64 {
    key.get(8..16).and_then(|bytes| bytes.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// Channel then sequence number, big-endian: a channel's events sort in order.
fn key(channel: u64, seq: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&channel.to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}
