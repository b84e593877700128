//! Opening the data directory: its lock, its format, and what it holds read back.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::super::event::Event;
use super::super::id::Id;
use super::super::now_ms;
use super::{Fsync, Inner, Journal, SEQ_BLOCK, State, record};

pub const EPOCH: &str = "epoch";
pub const SEQ: &str = "seq";
const FORMAT: &str = "format";
/// The layout of [`record`]; a directory written by another layout is refused.
const FORMAT_VERSION: u64 = 1;

/// Journal files kept before fjall flushes the keyspaces that hold the oldest one back
/// (fjall's least; its default, 512 MiB, let a soak's directory grow past 250 MiB while
/// the events themselves took 6 MiB). Each file is preallocated to 64 MiB, sparse.
const MAX_JOURNALS: u64 = 64 << 20;
/// A keyspace's memory table flushed to disk at this size (fjall's default: 64 MiB), so
/// that journals are released sooner and the events are not held twice in memory for long.
const MAX_MEMTABLE: u64 = 16 << 20;

/// What the directory held: the bus's epoch, the last sequence number it may have issued,
/// and its channels.
pub struct Restored {
    pub epoch: u64,
    pub last_seq: u64,
    /// Channels with events first, then the tombstones (no events) by rising floor.
    pub channels: Vec<RestoredChannel>,
}

pub struct RestoredChannel {
    pub name: String,
    pub floor: u64,
    /// Oldest first; empty for a channel that was dropped.
    pub events: Vec<Arc<Event>>,
}

/// Opens the directory and reads it back. `new_epoch` starts a new life of the bus on it
/// (the events keep their order and take the new epoch): after restoring an older copy,
/// whose sequence is behind ids already issued, so that no id is issued twice.
pub fn open(path: &Path, fsync: Fsync, new_epoch: bool) -> anyhow::Result<(Journal, Restored)> {
    let shown = path.display();
    std::fs::create_dir_all(path).with_context(|| format!("cannot create the data directory {shown}"))?;
    let db = Database::builder(path).max_journaling_size(MAX_JOURNALS).open().map_err(|err| match err {
        fjall::Error::Locked => anyhow::anyhow!(
            "the data directory {shown} is locked by another process (is another cometgate running on it?)"
        ),
        err => anyhow::anyhow!("cannot open the data directory {shown}: {err} (corrupt, or not a cometgate store?)"),
    })?;
    let keyspace = |name: &str| {
        db.keyspace(name, || KeyspaceCreateOptions::default().max_memtable_size(MAX_MEMTABLE))
            .with_context(|| format!("cannot open the keyspace {name:?} in the data directory {shown}"))
    };
    let (events, floors, meta) = (keyspace("events")?, keyspace("channels")?, keyspace("meta")?);
    let kept = check_meta(&meta, path)?;
    let epoch = if new_epoch { now_ms().max(kept + 1) } else { kept };
    let reserved = read_u64(&meta, SEQ, path)?.unwrap_or(0);
    let (channels, newest) = read_channels(&events, &floors, epoch, path)?;
    let last_seq = reserved.max(newest);
    let trimmed = channels.iter().map(|channel| (channel.name.clone(), channel.floor)).collect();
    let state = State { trimmed, reserved: last_seq + SEQ_BLOCK };
    let mut batch = db.batch();
    batch.insert(&meta, EPOCH, record::encode_u64(epoch));
    batch.insert(&meta, FORMAT, record::encode_u64(FORMAT_VERSION));
    batch.insert(&meta, SEQ, record::encode_u64(state.reserved));
    batch.durability(Some(PersistMode::SyncAll)).commit().with_context(|| format!("cannot write to {shown}"))?;
    let path = path.to_owned();
    let inner = Inner { db, events, floors, meta, fsync, path, state: Mutex::new(state) };
    Ok((Journal { inner: Arc::new(inner) }, Restored { epoch, last_seq, channels }))
}

/// The epoch kept in the directory (or a new one for a new directory), after checking
/// that the directory is of this format.
fn check_meta(meta: &Keyspace, path: &Path) -> anyhow::Result<u64> {
    match read_u64(meta, FORMAT, path)? {
        Some(FORMAT_VERSION) | None => {}
        Some(other) => bail!(
            "the data directory {} has format {other}; this cometgate reads format {FORMAT_VERSION}",
            path.display()
        ),
    }
    Ok(read_u64(meta, EPOCH, path)?.unwrap_or_else(now_ms))
}

fn read_u64(keyspace: &Keyspace, key: &str, path: &Path) -> anyhow::Result<Option<u64>> {
    let corrupt = || format!("the data directory {} is corrupt: bad {key:?} record", path.display());
    let Some(bytes) = keyspace.get(key).with_context(corrupt)? else { return Ok(None) };
    record::decode_u64(&bytes).with_context(corrupt).map(Some)
}

/// Every channel with its floor and events, and the highest sequence number of any event.
fn read_channels(
    events: &Keyspace,
    floors: &Keyspace,
    epoch: u64,
    path: &Path,
) -> anyhow::Result<(Vec<RestoredChannel>, u64)> {
    let corrupt = |what: &str| format!("the data directory {} is corrupt: {what}", path.display());
    let mut floor_of = HashMap::new();
    for guard in floors.iter() {
        let (key, value) = guard.into_inner().with_context(|| corrupt("unreadable channel"))?;
        let name = String::from_utf8(key.to_vec()).ok().with_context(|| corrupt("bad channel name"))?;
        floor_of.insert(name, record::decode_u64(&value).with_context(|| corrupt("bad channel floor"))?);
    }
    let mut held: BTreeMap<String, Vec<Arc<Event>>> = BTreeMap::new();
    let mut newest = 0;
    for guard in events.iter() {
        let (key, value) = guard.into_inner().with_context(|| corrupt("unreadable event"))?;
        let (channel, seq) = record::split_event_key(&key).with_context(|| corrupt("bad event key"))?;
        let event = record::decode_event(Id { epoch, seq }, channel, &value).with_context(|| corrupt("bad event"))?;
        newest = newest.max(seq);
        held.entry(channel.to_owned()).or_default().push(Arc::new(event));
    }
    let mut channels: Vec<RestoredChannel> = held
        .into_iter()
        .map(|(name, events)| RestoredChannel { floor: floor_of.remove(&name).unwrap_or(0), name, events })
        .collect();
    let mut tombstones: Vec<_> = floor_of.into_iter().collect();
    tombstones.sort_by_key(|(_, floor)| *floor);
    channels.extend(tombstones.into_iter().map(|(name, floor)| RestoredChannel { name, floor, events: Vec::new() }));
    Ok((channels, newest))
}
