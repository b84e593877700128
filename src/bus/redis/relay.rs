//! The relay: one Pub/Sub connection per node that hands every announced event to this
//! node's local subscribers, and after any reconnect first catches up from the streams,
//! so an outage of Redis loses nothing for the subscribers this node holds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::super::Bus;
use super::super::event::Event;
use super::super::id::Id;
use super::{ANNOUNCE, RedisStore};

/// Relays until `shutdown`, reconnecting with backoff whenever the connection drops.
pub async fn run_relay(store: RedisStore, bus: Bus, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        match shutdown.run_until_cancelled(relay(&store, &bus)).await {
            None => return,
            Some(Ok(())) => backoff = Duration::from_millis(100),
            Some(Err(err)) => tracing::warn!(%err, ?backoff, "Redis relay lost; reconnecting"),
        }
        if shutdown.run_until_cancelled(tokio::time::sleep(backoff)).await.is_none() {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One connection's life: subscribe, catch up, then relay until the connection ends.
async fn relay(store: &RedisStore, bus: &Bus) -> anyhow::Result<()> {
    let mut pubsub = store.client.get_async_pubsub().await?;
    pubsub.subscribe(ANNOUNCE).await?;
    if let Some(epoch) = store.stored_epoch().await? {
        store.adopt(Id { epoch, seq: 0 });
    }
    let positions: Vec<_> = bus
        .hub()
        .positions()
        .into_iter()
        .map(|(channel, relayed)| (channel, if relayed.epoch == store.epoch() { relayed.seq } else { 0 }))
        .collect();
    for event in store.after(&positions).await? {
        bus.hub().deliver(event);
    }
    tracing::info!("Redis relay connected");
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        let payload: String = message.get_payload()?;
        match parse(&payload) {
            Some(event) => {
                store.adopt(event.id);
                bus.hub().deliver(event);
            }
            None => tracing::warn!("ignored a malformed announcement"),
        }
    }
    anyhow::bail!("the Pub/Sub connection closed")
}

/// An announcement: `channel \n epoch \n seq \n time \n type \n data` (data may hold newlines).
fn parse(payload: &str) -> Option<Arc<Event>> {
    let mut parts = payload.splitn(6, '\n');
    let channel = parts.next()?.to_owned();
    let epoch = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let time = parts.next()?.parse().ok()?;
    let (kind, data) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    Some(Arc::new(Event::new(Id { epoch, seq }, channel, kind, data, time)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_keep_newlines_in_data() {
        let event = parse("news\n9\n42\n1700\nprogress\na\nb\n").unwrap();
        assert_eq!((event.id, event.channel.as_str(), event.time), (Id { epoch: 9, seq: 42 }, "news", 1700));
        assert_eq!((event.kind.as_str(), event.data.as_str()), ("progress", "a\nb\n"));
    }

    #[test]
    fn truncated_announcements_are_refused() {
        assert!(parse("news\n9\n42\n1700").is_none());
        assert!(parse("news\n9\nx\n1700\nm\nd").is_none());
    }
}
