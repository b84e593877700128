//! Server-Sent Events: `GET /sse/{channels}`, read by the browser's `EventSource`.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;

use super::{Framing, SubscribeQuery, Transport, channel_list, held_body, held_response, json, stream, subscribe};
use crate::bus::{Cursor, DEFAULT_EVENT_TYPE, Event, Format, Id, Item};
use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sse/{channels}", web::get().to(connect));
}

/// A request whose channels have all ended, with nothing left to send, is answered `204`:
/// the one answer that makes a plain `EventSource` stop reconnecting for good.
async fn connect(
    request: HttpRequest,
    channels: web::Path<String>,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let channels = channel_list(&channels, gateway.settings.max_channels_per_connection.into())?;
    let cursor = resume_from(&request, &query)?;
    let admitted = subscribe(&gateway, &request, &channels, &query, cursor).await?;
    if admitted.subscription.ended_on_arrival() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let framing = Sse { retry: gateway.settings.sse_retry, multi: channels.len() > 1 };
    let body = held_body(admitted, framing, &gateway);
    Ok(held_response("text/event-stream; charset=utf-8").streaming(body))
}

/// Where the subscriber resumes: the `Last-Event-ID` a browser sends when it reconnects,
/// else the id a polyfill puts in the query (`lastEventId`, or Mercure's `lastEventID`),
/// else `?cursor`. An empty id defers to the next; an unreadable one is a lost cursor (gap,
/// then backlog), never a `400`, since an EventSource gives up for good on an error status.
fn resume_from(request: &HttpRequest, query: &SubscribeQuery) -> Result<Cursor, ApiError> {
    match request.headers().get("last-event-id").map(|header| header.to_str()) {
        Some(Err(_)) => return Ok(Cursor::Unknown),
        Some(Ok(id)) if !id.is_empty() => return Ok(Cursor::from_last_event_id(id)),
        _ => {}
    }
    let polyfill = [&query.last_event_id, &query.last_event_id_mercure].into_iter().flatten();
    match polyfill.map(String::as_str).find(|id| !id.is_empty()) {
        Some(id) => Ok(Cursor::from_last_event_id(id)),
        None => Ok(Cursor::parse(&query.cursor)?),
    }
}

/// SSE framing: events as `id`/`event`/`data` fields; the stream ends by closing, and the
/// browser reconnects with `Last-Event-ID`. On a connection that follows several channels
/// the `data` is the event's JSON line, which names its channel.
pub(super) struct Sse {
    pub(super) retry: Duration,
    pub(super) multi: bool,
}

impl Framing for Sse {
    const TRANSPORT: Transport = Transport::Sse;

    /// `retry`, and an `id` field with no data: it sets the browser's last event id to the
    /// starting cursor without dispatching an event, so a reconnect before the first event
    /// still resumes from there.
    fn open(&self, cursor: Id) -> Bytes {
        Bytes::from(format!("retry: {}\nid: {cursor}\n\n", self.retry.as_millis()))
    }

    fn item(&self, item: &Item) -> Bytes {
        match item {
            Item::Event(event) if self.multi => event.frame(Format::SseMulti, encode_multi),
            Item::Event(event) => event.frame(Format::Sse, encode),
            Item::Gap { channel, oldest } => gap(channel, *oldest, self.multi),
            Item::End(end) => signal("comet-end", Some(end.id), &serde_json::json!({ "channel": end.channel })),
        }
    }

    fn heartbeat(&self) -> Bytes {
        Bytes::from_static(b": heartbeat\n\n")
    }

    fn close(&self, _cursor: Id) -> Bytes {
        Bytes::new()
    }
}

/// One event as an SSE block. The data goes out one `data:` line per line, split where
/// the EventSource parser splits (CRLF, LF, CR); it rejoins them with LF.
pub fn encode(event: &Event) -> Bytes {
    let mut frame = String::with_capacity(event.data.len() + 64);
    frame.push_str("id: ");
    frame.push_str(&event.id.to_string());
    frame.push('\n');
    if event.kind != DEFAULT_EVENT_TYPE {
        frame.push_str("event: ");
        frame.push_str(&event.kind);
        frame.push('\n');
    }
    for line in lines(&event.data) {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

/// One event on a connection that follows several channels: the `data` is the event's JSON
/// object, taken from its stream line (one line: JSON escapes line breaks), `event` its
/// type as for one channel.
pub fn encode_multi(event: &Event) -> Bytes {
    let line = stream::line(event);
    let mut frame = Vec::with_capacity(line.len() + event.kind.len() + 48);
    frame.extend_from_slice(format!("id: {}\n", event.id).as_bytes());
    if event.kind != DEFAULT_EVENT_TYPE {
        frame.extend_from_slice(format!("event: {}\n", event.kind).as_bytes());
    }
    frame.extend_from_slice(b"data: {");
    frame.extend_from_slice(stream::fields(&line));
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// The gap signal of `channel` (named in the data when the connection follows several).
pub fn gap(channel: &str, oldest: Option<Id>, multi: bool) -> Bytes {
    signal("comet-gap", None, &json::gap(channel, oldest, multi))
}

/// A gateway signal as an event of its own type. A gap has no `id`, so it never moves the
/// cursor; an end has its id, so a reconnect after it is answered `204`.
fn signal(kind: &str, id: Option<Id>, data: &serde_json::Value) -> Bytes {
    let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
    Bytes::from(format!("{id}event: {kind}\ndata: {data}\n\n"))
}

fn lines(data: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let text = rest?;
        let Some(at) = text.find(['\r', '\n']) else {
            rest = None;
            return Some(text);
        };
        let skip = if text[at..].starts_with("\r\n") { 2 } else { 1 };
        rest = Some(&text[at + skip..]);
        Some(&text[..at])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: &str) -> Event {
        Event::new(Id { epoch: 10, seq: 5 }, "c".into(), kind.into(), data.into(), 0)
    }

    fn text(bytes: Bytes) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn message_events_carry_id_and_data_only() {
        assert_eq!(text(encode(&event("message", "hi"))), "id: a-5\ndata: hi\n\n");
    }

    #[test]
    fn named_events_carry_their_type() {
        assert_eq!(text(encode(&event("progress", "50"))), "id: a-5\nevent: progress\ndata: 50\n\n");
    }

    #[test]
    fn every_line_break_form_starts_a_new_data_line() {
        let frame = text(encode(&event("message", "a\r\nb\nc\rd\n")));
        assert_eq!(frame, "id: a-5\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \n\n");
    }

    #[test]
    fn empty_data_is_one_empty_data_line() {
        assert_eq!(text(encode(&event("message", ""))), "id: a-5\ndata: \n\n");
    }

    #[test]
    fn leading_space_survives_the_parser_stripping_one() {
        assert_eq!(text(encode(&event("message", " x"))), "id: a-5\ndata:  x\n\n");
    }

    fn sse(multi: bool) -> Sse {
        Sse { retry: Duration::from_millis(1500), multi }
    }

    #[test]
    fn gap_has_no_id_field_and_names_its_channel_among_several() {
        let gap = |oldest| Item::Gap { channel: "c".into(), oldest };
        let frame = text(sse(false).item(&gap(Some(Id { epoch: 10, seq: 9 }))));
        assert_eq!(frame, "event: comet-gap\ndata: {\"oldest\":\"a-9\"}\n\n");
        assert_eq!(text(sse(false).item(&gap(None))), "event: comet-gap\ndata: {\"oldest\":null}\n\n");
        assert_eq!(text(sse(true).item(&gap(None))), "event: comet-gap\ndata: {\"channel\":\"c\",\"oldest\":null}\n\n");
    }

    #[test]
    fn an_end_carries_its_id_so_the_next_reconnect_resumes_past_it() {
        let end = Item::End(std::sync::Arc::new(event("comet-end", "")));
        assert_eq!(text(sse(true).item(&end)), "id: a-5\nevent: comet-end\ndata: {\"channel\":\"c\"}\n\n");
    }

    #[test]
    fn among_several_channels_the_data_is_the_json_object_of_the_event() {
        let frame = text(encode_multi(&event("progress", "a\nb")));
        let line = r#"{"id":"a-5","channel":"c","event":"progress","data":"a\nb","time":0}"#;
        assert_eq!(frame, format!("id: a-5\nevent: progress\ndata: {line}\n\n"));
    }

    #[test]
    fn open_sets_retry_and_the_starting_cursor() {
        let sse = sse(false);
        assert_eq!(text(sse.open(Id { epoch: 10, seq: 0 })), "retry: 1500\nid: a-0\n\n");
    }
}
