//! Pages of history from a channel's stream: `XREVRANGE` newest first, `XRANGE` oldest
//! first, skipping entries past the backlog's age that the replay script has not yet trimmed.

use std::sync::Arc;

use redis::Value;

use super::super::event::Event;
use super::super::history::{History, Page};
use super::super::{BusError, now_ms};
use super::{RedisStore, stream_key, unavailable};

impl RedisStore {
    /// A page of the channel's history, as [`History::of`] answers it in memory.
    pub async fn history(&self, channel: &str, page: Page, limit: usize) -> Result<History, BusError> {
        let (command, mut from, to) = match page {
            Page::Newest => ("XREVRANGE", "+".to_owned(), "-"),
            Page::Before(id) => ("XREVRANGE", format!("({}-0", id.seq), "-"),
            Page::After(id) => ("XRANGE", format!("({}-0", id.seq), "+"),
        };
        let cutoff =
            now_ms().saturating_sub(u64::try_from(self.bounds.backlog_max_age.as_millis()).unwrap_or(u64::MAX));
        let mut events = Vec::new();
        while events.len() <= limit {
            let wanted = limit + 1 - events.len();
            let entries = self.range(command, channel, &from, to, wanted).await?;
            let Some(last) = entries.last() else { break };
            from = format!("({}-0", last.id.seq);
            let (fetched, held_before) = (entries.len(), events.len());
            events.extend(entries.into_iter().filter(|event| event.time >= cutoff));
            // Newest first, one expired entry means every older one is expired too.
            let expired = events.len() - held_before < fetched;
            if fetched < wanted || (expired && command == "XREVRANGE") {
                break;
            }
        }
        let more = events.len() > limit;
        events.truncate(limit);
        Ok(History { events, more })
    }

    async fn range(
        &self,
        command: &str,
        channel: &str,
        from: &str,
        to: &str,
        count: usize,
    ) -> Result<Vec<Arc<Event>>, BusError> {
        let entries: Vec<Value> = redis::cmd(command)
            .arg(stream_key(channel))
            .arg(from)
            .arg(to)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        entries.iter().map(|entry| self.event(channel, entry)).collect()
    }
}
