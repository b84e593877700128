//! Long-polling: `GET /poll/{channel}`, answered at once from the backlog, or held until
//! the next event or the poll timeout. Events published between two polls wait in the
//! backlog, so a client that polls in a loop misses nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};

use super::{Admitted, SubscribeQuery, held_response, json, subscribe};
use crate::bus::{Cursor, Id, Item, Subscription};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::observe::Transport;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/poll/{channel}", web::get().to(poll));
}

async fn poll(
    request: HttpRequest,
    channel: web::Path<String>,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let cursor = Cursor::parse(&query.cursor)?;
    let timeout = poll_timeout(query.timeout.as_deref(), gateway.settings.poll_timeout)?;
    let admitted = subscribe(&gateway, &request, &channel, &query, cursor).await?;
    let timeout = admitted.valid_for.map_or(timeout, |left| timeout.min(left));
    let mut poll =
        Poll { admitted, _tracked: gateway.metrics.track_subscriber(Transport::Poll), gateway: gateway.into_inner() };
    let mut response = held_response("application/json");
    let mut answer = Answer::default();
    if let Some(item) = poll.admitted.subscription.try_next() {
        answer.push(item);
        return Ok(response.body(poll.finish(answer)));
    }
    // Nothing to send yet: the head goes out now and the answer follows as the body, so
    // the request (and the read buffer it pins) is released while the poll waits. That
    // saves several kilobytes per held poll.
    let body = futures_util::stream::once(async move {
        tokio::select! {
            Some(item) = poll.admitted.subscription.next() => answer.push(item),
            () = tokio::time::sleep(timeout) => {}
            () = poll.gateway.shutdown.cancelled() => {}
        }
        Ok::<_, Infallible>(poll.finish(answer))
    });
    Ok(response.streaming(body))
}

/// One poll in progress, counted as a subscriber until it is answered.
struct Poll {
    admitted: Admitted,
    _tracked: crate::observe::Tracked,
    gateway: Arc<Gateway>,
}

impl Poll {
    /// Adds what else is ready, up to the batch size, and encodes the answer.
    fn finish(self, mut answer: Answer) -> Bytes {
        let mut subscription = self.admitted.subscription;
        answer.fill(&mut subscription, self.gateway.settings.poll_batch as usize);
        let body = answer.encode(subscription.cursor());
        let metrics = &self.gateway.metrics;
        metrics.polls.inc();
        metrics.delivered(Transport::Poll, answer.events.len() as u64, body.len());
        if answer.gap.is_some() {
            metrics.gaps.inc();
        }
        body
    }
}

/// The `timeout` parameter in whole seconds, at most the configured poll timeout.
fn poll_timeout(requested: Option<&str>, max: Duration) -> Result<Duration, ApiError> {
    match requested.filter(|text| !text.is_empty()) {
        None => Ok(max),
        Some(text) => text
            .parse::<u64>()
            .map(|seconds| Duration::from_secs(seconds).min(max))
            .map_err(|_| ApiError::BadRequest("timeout must be a whole number of seconds".into())),
    }
}

/// One poll's answer: its events and whether a gap came before them.
#[derive(Default)]
struct Answer {
    events: Vec<Bytes>,
    gap: Option<Option<Id>>,
}

impl Answer {
    fn push(&mut self, item: Item) {
        match item {
            Item::Event(event) => self.events.push(json::event(&event)),
            Item::Gap { oldest } => self.gap = Some(oldest),
        }
    }

    /// Adds whatever else is ready now, up to `batch` events.
    fn fill(&mut self, subscription: &mut Subscription, batch: usize) {
        while self.events.len() < batch {
            let Some(item) = subscription.try_next() else { break };
            self.push(item);
        }
    }

    /// `{"events":[...],"cursor":"...","gap":false}`, with `"oldest"` after a gap; the
    /// events are spliced in as encoded once for all subscribers.
    fn encode(&self, cursor: Id) -> Bytes {
        let size = self.events.iter().map(|e| e.len() + 1).sum::<usize>() + 96;
        let mut body = BytesMut::with_capacity(size);
        body.extend_from_slice(b"{\"events\":[");
        for (index, event) in self.events.iter().enumerate() {
            if index > 0 {
                body.extend_from_slice(b",");
            }
            body.extend_from_slice(event);
        }
        body.extend_from_slice(format!("],\"cursor\":\"{cursor}\",\"gap\":").as_bytes());
        match self.gap {
            None => body.extend_from_slice(b"false}"),
            Some(oldest) => {
                body.extend_from_slice(format!("true,\"oldest\":{}}}", json::script_safe(&oldest)).as_bytes())
            }
        }
        body.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_without_events_carries_the_cursor() {
        let body = Answer::default().encode(Id { epoch: 1, seq: 5 });
        assert_eq!(&body[..], br#"{"events":[],"cursor":"1-5","gap":false}"#);
    }

    #[test]
    fn answer_after_a_gap_names_the_oldest_event_held() {
        let answer = Answer { events: vec![Bytes::from_static(b"{}"), Bytes::from_static(b"[]")], gap: Some(None) };
        let body = answer.encode(Id { epoch: 1, seq: 5 });
        assert_eq!(&body[..], br#"{"events":[{},[]],"cursor":"1-5","gap":true,"oldest":null}"#);
    }

    #[test]
    fn timeout_is_whole_seconds_capped_by_the_settings() {
        let max = Duration::from_secs(25);
        assert_eq!(poll_timeout(None, max).unwrap(), max);
        assert_eq!(poll_timeout(Some(""), max).unwrap(), max);
        assert_eq!(poll_timeout(Some("3"), max).unwrap(), Duration::from_secs(3));
        assert_eq!(poll_timeout(Some("600"), max).unwrap(), max);
        assert!(poll_timeout(Some("1.5"), max).is_err());
        assert!(poll_timeout(Some("-1"), max).is_err());
    }
}
