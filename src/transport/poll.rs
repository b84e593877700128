//! Long-polling: `GET /poll/{channels}`, answered at once from the backlog, or held until
//! the next event or the poll timeout. Events published between two polls wait in the
//! backlog, so a client that polls in a loop misses nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};

use super::stream::{fields, line};
use super::{Admitted, SubscribeQuery, Transport, channel_list, held_response, json, subscribe};
use crate::bus::{Cursor, Id, Item, Subscription};
use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/poll/{channels}", web::get().to(poll));
}

async fn poll(
    request: HttpRequest,
    channel: web::Path<String>,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let envelope = Envelope { transport: Transport::Poll, content_type: "application/json", wrap: Box::new(|json| json) };
    answer(request, &channel, &query, gateway, envelope).await
}

/// How a poll's JSON answer is sent: the transport it counts under, its content type, and
/// what wraps it (nothing for `/poll`, a callback for `/jsonp`).
pub(super) struct Envelope {
    pub transport: Transport,
    pub content_type: &'static str,
    pub wrap: Box<dyn FnOnce(Bytes) -> Bytes + Send>,
}

/// Answers one poll of `channels`: at once when events are waiting, else when the next one
/// comes or the timeout passes.
pub(super) async fn answer(
    request: HttpRequest,
    channels: &str,
    query: &SubscribeQuery,
    gateway: web::Data<Gateway>,
    envelope: Envelope,
) -> Result<HttpResponse, ApiError> {
    let channels = channel_list(channels, gateway.settings.max_channels_per_connection.into())?;
    let cursor = Cursor::parse(&query.cursor)?;
    let timeout = poll_timeout(query.timeout.as_deref(), gateway.settings.poll_timeout)?;
    let admitted = subscribe(&gateway, &request, &channels, query, cursor).await?;
    let timeout = admitted.valid_for.map_or(timeout, |left| timeout.min(left));
    let _tracked = gateway.metrics.track_subscriber(envelope.transport);
    let mut response = held_response(envelope.content_type);
    let mut poll = Poll { admitted, _tracked, envelope, gateway: gateway.into_inner() };
    let mut answer = Answer { multi: channels.len() > 1, ..Answer::default() };
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
    envelope: Envelope,
    gateway: Arc<Gateway>,
}

impl Poll {
    /// Adds what else is ready, up to the batch size and byte bound, and encodes the answer.
    fn finish(self, mut answer: Answer) -> Bytes {
        let mut subscription = self.admitted.subscription;
        let settings = &self.gateway.settings;
        answer.fill(&mut subscription, settings.poll_batch as usize, settings.poll_max_bytes);
        let json = answer.encode(answer.last.unwrap_or_else(|| subscription.cursor()), answer.multi);
        let body = (self.envelope.wrap)(json);
        let metrics = &self.gateway.metrics;
        metrics.polls.inc();
        metrics.delivered(self.envelope.transport, answer.events.len() as u64, body.len());
        if !answer.gaps.is_empty() {
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

/// One poll's answer: its events (as their shared JSON lines), the gaps that came first and
/// the channels that ended.
#[derive(Default)]
pub(super) struct Answer {
    events: Vec<Bytes>,
    gaps: Vec<(String, Option<Id>)>,
    ended: Vec<String>,
    /// Whether the poll follows several channels (each gap then names its channel).
    multi: bool,
    /// Bytes the events take in the answer.
    size: usize,
    /// The id of the last event in the answer, where its client resumes.
    last: Option<Id>,
}

impl Answer {
    pub(super) fn push(&mut self, item: Item) {
        self.push_within(item, usize::MAX);
    }

    /// Adds the item unless it is an event that would take the answer past `max_bytes`
    /// (the first event always goes in); says whether it went in.
    fn push_within(&mut self, item: Item, max_bytes: usize) -> bool {
        let event = match item {
            Item::Event(event) => event,
            Item::Gap { channel, oldest } => {
                self.gaps.push((channel, oldest));
                return true;
            }
            Item::End(end) => {
                self.ended.push(end.channel.clone());
                self.last = Some(end.id);
                return true;
            }
        };
        let line = line(&event);
        let size = fields(&line).len() + 2;
        if !self.events.is_empty() && self.size.saturating_add(size) > max_bytes {
            return false;
        }
        self.size += size;
        self.events.push(line);
        self.last = Some(event.id);
        true
    }

    /// Adds whatever else is ready now, up to `batch` events and about `max_bytes`. An
    /// event that would pass the bound is left out (the subscription is dropped after the
    /// answer), and the client's cursor stops before it: the next poll starts there.
    fn fill(&mut self, subscription: &mut Subscription, batch: usize, max_bytes: usize) {
        while self.events.len() < batch {
            let Some(item) = subscription.try_next() else { break };
            if !self.push_within(item, max_bytes) {
                break;
            }
        }
    }

    /// `{"events":[...],"cursor":"...","gap":false}`, with `"oldest"` after a gap (`"gaps"`,
    /// one per channel, when the poll follows several), and `"ended"` naming the channels
    /// that ended; each event's fields are spliced in as encoded once for all subscribers.
    pub(super) fn encode(&self, cursor: Id, multi: bool) -> Bytes {
        let mut body = BytesMut::with_capacity(self.size + 96);
        body.extend_from_slice(b"{\"events\":[");
        for (index, event) in self.events.iter().enumerate() {
            body.extend_from_slice(if index > 0 { b",{" } else { b"{" });
            body.extend_from_slice(fields(event));
        }
        body.extend_from_slice(format!("],\"cursor\":\"{cursor}\",\"gap\":").as_bytes());
        match (self.gaps.first(), multi) {
            (None, _) => body.extend_from_slice(b"false"),
            (Some((_, oldest)), false) => {
                body.extend_from_slice(format!("true,\"oldest\":{}", serde_json::json!(oldest)).as_bytes())
            }
            (Some(_), true) => {
                let gaps: Vec<_> = self.gaps.iter().map(|(channel, oldest)| json::gap(channel, *oldest, true)).collect();
                body.extend_from_slice(format!("true,\"gaps\":{}", serde_json::json!(gaps)).as_bytes())
            }
        }
        if !self.ended.is_empty() {
            body.extend_from_slice(format!(",\"ended\":{}", serde_json::json!(self.ended)).as_bytes());
        }
        body.extend_from_slice(b"}");
        body.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_without_events_carries_the_cursor() {
        let body = Answer::default().encode(Id { epoch: 1, seq: 5 }, false);
        assert_eq!(&body[..], br#"{"events":[],"cursor":"1-5","gap":false}"#);
    }

    #[test]
    fn answer_after_a_gap_names_the_oldest_event_held() {
        let lines = [
            br#"{"type":"event","a":1}
"#,
            br#"{"type":"event","b":2}
"#,
        ];
        let events = lines.iter().map(|line| Bytes::from_static(*line)).collect();
        let answer = Answer { events, gaps: vec![("c".into(), None)], ..Answer::default() };
        let body = answer.encode(Id { epoch: 1, seq: 5 }, false);
        assert_eq!(&body[..], br#"{"events":[{"a":1},{"b":2}],"cursor":"1-5","gap":true,"oldest":null}"#);
    }

    #[test]
    fn among_several_channels_each_gap_names_its_channel_and_ends_are_listed() {
        let gaps = vec![("a".into(), None), ("b".into(), Some(Id { epoch: 1, seq: 3 }))];
        let answer = Answer { gaps, ended: vec!["c".into()], ..Answer::default() };
        let body = answer.encode(Id { epoch: 1, seq: 5 }, true);
        let expected = r#"{"events":[],"cursor":"1-5","gap":true,"gaps":[{"channel":"a","oldest":null},{"channel":"b","oldest":"1-3"}],"ended":["c"]}"#;
        assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
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
