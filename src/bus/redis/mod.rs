//! The Redis store, for several gateway nodes sharing channels: each channel's backlog is
//! a Redis Stream whose entry ids are our sequence numbers, so ids, cursors and gaps mean
//! the same on every node. New events are announced on one Pub/Sub channel that every
//! node's relay follows (see [`relay`]).
//!
//! Only a publish creates a stream. Each publish also records the channel's last
//! sequence number in one sorted set (at most `max_channels` names, the oldest forgotten
//! into a watermark), so a channel whose stream expired, or a name never published, is
//! answered from where it stood without a false gap. If the epoch key disappears, or the
//! sequence goes back below what this node has seen (Redis lost its data), the next
//! script starts a new epoch and every node adopts it.

mod relay;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};

use super::backlog::ChannelReplay;
use super::event::{END_EVENT_TYPE, Event};
use super::id::{Cursor, Id};
use super::replay::Replay;
use super::{Bounds, BusError, now_ms};

pub use relay::run_relay;

/// Keys are `cometgate:log:<channel>` (streams), `cometgate:seq`, `cometgate:epoch`,
/// `cometgate:last` (sorted set) and `cometgate:watermark`.
const PREFIX: &str = "cometgate:";
const ANNOUNCE: &str = "cometgate:events";

/// A handle on the shared store; cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    connection: ConnectionManager,
    /// The epoch and the highest sequence number this node has seen in it.
    seen: Arc<Mutex<Id>>,
    bounds: Bounds,
    scripts: Arc<Scripts>,
}

struct Scripts {
    publish: Script,
    replay: Script,
}

impl RedisStore {
    /// Connects and reads (or sets) the epoch shared by every node on this Redis. Fails
    /// when Redis cannot be reached, so a node never starts without its store.
    pub async fn connect(url: &str, bounds: Bounds) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).with_context(|| format!("bad Redis URL {url:?}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let mut connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .with_context(|| format!("cannot connect to Redis at {url}"))?;
        let epoch_key = format!("{PREFIX}epoch");
        let (_, epoch): (Value, u64) = redis::pipe()
            .cmd("SET")
            .arg(&epoch_key)
            .arg(now_ms())
            .arg("NX")
            .cmd("GET")
            .arg(&epoch_key)
            .query_async(&mut connection)
            .await
            .with_context(|| format!("cannot read the epoch from Redis at {url}"))?;
        let scripts = Scripts {
            publish: Script::new(concat!(include_str!("shared.lua"), include_str!("publish.lua"))),
            replay: Script::new(concat!(include_str!("shared.lua"), include_str!("replay.lua"))),
        };
        let seen = Arc::new(Mutex::new(Id { epoch, seq: 0 }));
        Ok(RedisStore { client, connection, seen, bounds, scripts: Arc::new(scripts) })
    }

    pub fn epoch(&self) -> u64 {
        self.seen().epoch
    }

    fn seen(&self) -> Id {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes note of an id Redis answered with: a new epoch means Redis lost its data.
    pub(super) fn adopt(&self, id: Id) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.epoch == id.epoch {
            seen.seq = seen.seq.max(id.seq);
            return;
        }
        let (previous, epoch) = (seen.epoch, id.epoch);
        tracing::warn!(previous, epoch, "Redis lost its data; a new epoch starts and subscribers are told of a gap");
        *seen = id;
    }

    /// The script with the keys and the two arguments every script starts with.
    fn invocation<'a>(&self, script: &'a Script, channel: &str) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        for key in ["epoch", "seq"] {
            invocation.key(format!("{PREFIX}{key}"));
        }
        invocation.key(stream_key(channel)).key(format!("{PREFIX}last")).key(format!("{PREFIX}watermark"));
        invocation.arg(now_ms().max(self.epoch() + 1)).arg(channel);
        invocation
    }

    /// Appends the event; every node's relay then hands it to its local subscribers. An
    /// end of a channel that ended already answers with the first end's id.
    pub async fn append(&self, channel: &str, kind: &str, data: &str) -> Result<Id, BusError> {
        let seen = self.seen();
        let (epoch, seq, ended): (u64, u64, u8) = self
            .invocation(&self.scripts.publish, channel)
            .arg(self.bounds.backlog_size)
            .arg(kind)
            .arg(data)
            .arg(now_ms())
            .arg(self.ttl_ms())
            .arg(ANNOUNCE)
            .arg(self.bounds.max_channels)
            .arg(seen.epoch)
            .arg(seen.seq)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        self.adopt(Id { epoch, seq });
        match ended == 1 && kind != END_EVENT_TYPE {
            true => Err(BusError::Ended),
            false => Ok(Id { epoch, seq }),
        }
    }

    /// What `cursor` is owed on the channels, read and decided in one atomic script.
    pub async fn replay(&self, channels: &[String], cursor: Cursor) -> Result<Replay, BusError> {
        let (mode, Id { epoch, seq }) = match cursor {
            Cursor::Live => ("live", Id { epoch: 0, seq: 0 }),
            Cursor::Earliest => ("earliest", Id { epoch: 0, seq: 0 }),
            Cursor::After(id) => ("after", id),
            Cursor::Unknown => ("lost", Id { epoch: 0, seq: 0 }),
        };
        let cutoff =
            now_ms().saturating_sub(u64::try_from(self.bounds.backlog_max_age.as_millis()).unwrap_or(u64::MAX));
        let first = channels.first().map_or("", String::as_str);
        let mut invocation = self.invocation(&self.scripts.replay, first);
        invocation.arg(mode).arg(epoch).arg(seq).arg(cutoff).arg(self.ttl_ms()).arg(self.bounds.backlog_size);
        for channel in channels {
            invocation.key(stream_key(channel)).arg(channel);
        }
        let (epoch, head, parts): (u64, u64, Vec<ScriptPart>) =
            invocation.invoke_async(&mut self.connection.clone()).await.map_err(unavailable)?;
        self.adopt(Id { epoch, seq: head });
        let parts = channels.iter().zip(parts).map(|(channel, (gap, start, entries, last))| {
            let events = self.events(channel, &entries)?;
            let last = self.events(channel, &last)?.pop();
            let ended = last.filter(|last| last.is_end() && last.id.seq <= start);
            let gap = (gap == 1).then(|| events.first().map(|event| event.id));
            Ok((channel.clone(), ChannelReplay { gap, events, start, ended }))
        });
        Ok(Replay::merge(Id { epoch, seq: head }, parts.collect::<Result<Vec<_>, BusError>>()?))
    }

    /// The id of the newest event held and how many are held.
    pub async fn info(&self, channel: &str) -> Result<(Option<Id>, usize), BusError> {
        let key = stream_key(channel);
        let (length, newest): (usize, Vec<Value>) = redis::pipe()
            .cmd("XLEN")
            .arg(&key)
            .cmd("XREVRANGE")
            .arg(&key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        let last = newest.first().map(|entry| self.event(channel, entry).map(|e| e.id)).transpose()?;
        Ok((last, length))
    }

    pub async fn ping(&self) -> Result<(), BusError> {
        redis::cmd("PING").query_async(&mut self.connection.clone()).await.map_err(unavailable)
    }

    /// The entries after each channel's position, read in one transaction and merged in
    /// id order: how the relay catches up after a reconnect without handing a connection
    /// that follows several of them an event before an older one.
    async fn after(&self, positions: &[(String, u64)]) -> Result<Vec<Arc<Event>>, BusError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (channel, seq) in positions {
            pipe.cmd("XRANGE").arg(stream_key(channel)).arg(format!("({seq}-0")).arg("+");
        }
        let streams: Vec<Vec<Value>> = pipe.query_async(&mut self.connection.clone()).await.map_err(unavailable)?;
        let mut events = Vec::new();
        for ((channel, _), entries) in positions.iter().zip(streams) {
            events.extend(self.events(channel, &entries)?);
        }
        events.sort_by_key(|event| event.id.seq);
        Ok(events)
    }

    fn events(&self, channel: &str, entries: &[Value]) -> Result<Vec<Arc<Event>>, BusError> {
        entries.iter().map(|entry| self.event(channel, entry)).collect()
    }

    fn id(&self, seq: u64) -> Id {
        Id { epoch: self.epoch(), seq }
    }

    /// The epoch as Redis holds it now, if it holds one: what the relay checks on connecting.
    async fn stored_epoch(&self) -> Result<Option<u64>, BusError> {
        let key = format!("{PREFIX}epoch");
        redis::cmd("GET").arg(key).query_async(&mut self.connection.clone()).await.map_err(unavailable)
    }

    /// A stream outlives its newest event by the longer of the backlog age and the idle
    /// time of a channel, as a channel in memory does.
    fn ttl_ms(&self) -> u64 {
        let ttl = self.bounds.backlog_max_age.max(self.bounds.channel_idle).max(Duration::from_secs(1));
        u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// One stream entry, `[id, [field, value, ...]]`, as an event.
    fn event(&self, channel: &str, entry: &Value) -> Result<Arc<Event>, BusError> {
        let malformed = || BusError::Unavailable("malformed stream entry in Redis".into());
        let (id, fields): (String, Vec<String>) = redis::from_redis_value_ref(entry).map_err(|_| malformed())?;
        let seq = id.split('-').next().and_then(|s| s.parse().ok()).ok_or_else(malformed)?;
        let field = |name: &str| fields.chunks(2).find(|pair| pair[0] == name).map(|pair| pair[1].clone());
        let time = field("t").and_then(|t| t.parse().ok()).ok_or_else(malformed)?;
        let (kind, data) = (field("e").ok_or_else(malformed)?, field("d").ok_or_else(malformed)?);
        Ok(Arc::new(Event::new(self.id(seq), channel.to_owned(), kind, data, time)))
    }
}

/// One channel's part of the replay script's answer: gap flag, start, entries after the
/// start, and the newest entry (to tell an end the cursor already passed).
type ScriptPart = (u8, u64, Vec<Value>, Vec<Value>);

fn stream_key(channel: &str) -> String {
    format!("{PREFIX}log:{channel}")
}

fn unavailable(err: redis::RedisError) -> BusError {
    BusError::Unavailable(err.to_string())
}
