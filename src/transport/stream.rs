//! Streaming XHR: `GET /stream/{channel}`, one chunked response of JSON lines that the
//! browser reads as it grows (XHR readyState 3, or a fetch stream).

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};

use serde_json::json;

use super::{Transport, Framing, SubscribeQuery, held_body, held_response, subscribe};
use crate::bus::{Cursor, Event, Format, Id, Item};
use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/stream/{channel}", web::get().to(connect));
}

async fn connect(
    request: HttpRequest,
    channel: web::Path<String>,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let admitted = subscribe(&gateway, &request, &channel, &query, Cursor::parse(&query.cursor)?).await?;
    let body = held_body(admitted, JsonLines, &gateway);
    Ok(held_response("text/plain; charset=utf-8").streaming(body))
}

/// Bytes of padding before the first line: old IE fires no progress event before 2 KiB.
const PADDING: usize = 2048;

/// One JSON object per line, each with a `type`.
pub(super) struct JsonLines;

impl Framing for JsonLines {
    const TRANSPORT: Transport = Transport::Stream;

    fn open(&self, cursor: Id) -> Bytes {
        let mut frame = BytesMut::with_capacity(PADDING + 64);
        frame.resize(PADDING - 1, b' ');
        frame.extend_from_slice(b"\n");
        frame.extend_from_slice(format!("{{\"type\":\"open\",\"cursor\":\"{cursor}\"}}\n").as_bytes());
        frame.freeze()
    }

    fn item(&self, item: &Item) -> Bytes {
        match item {
            Item::Event(event) => line(event),
            Item::Gap { oldest } => Bytes::from(format!("{{\"type\":\"gap\",\"oldest\":{}}}\n", json!(oldest))),
        }
    }

    fn heartbeat(&self) -> Bytes {
        Bytes::from_static(b"{\"type\":\"heartbeat\"}\n")
    }

    fn close(&self, cursor: Id) -> Bytes {
        Bytes::from(format!("{{\"type\":\"reconnect\",\"cursor\":\"{cursor}\"}}\n"))
    }
}

/// What a line holds before the event's fields.
const LINE_PREFIX: &[u8] = b"{\"type\":\"event\",";

/// The event as a line, encoded once for every subscriber of every JSON transport (within
/// the event's cache budget, see [`Event::frame`]).
pub fn line(event: &Event) -> Bytes {
    event.frame(Format::JsonLine, encode)
}

/// One event as a line: its JSON fields flat beside `"type":"event"`. Plain JSON: a line
/// is never part of a script, so nothing is escaped for one.
pub fn encode(event: &Event) -> Bytes {
    let mut frame = Vec::with_capacity(event.data.len() + 128);
    frame.extend_from_slice(&LINE_PREFIX[..LINE_PREFIX.len() - 1]);
    let object_at = frame.len();
    if serde_json::to_writer(&mut frame, event).is_err() {
        return Bytes::from_static(b"{\"type\":\"event\"}\n");
    }
    frame[object_at] = b',';
    frame.push(b'\n');
    Bytes::from(frame)
}

/// The event's fields in a [`line`], everything after the opening `{` of its JSON object:
/// `"id":..,"time":..}`.
pub fn fields(line: &[u8]) -> &[u8] {
    line.get(LINE_PREFIX.len()..line.len().saturating_sub(1)).unwrap_or(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Bytes) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn event_line_has_type_beside_the_event_fields() {
        let event = Event::new(Id { epoch: 1, seq: 2 }, "c".into(), "progress".into(), "a\nb".into(), 9);
        let expected = "{\"type\":\"event\",\"id\":\"1-2\",\"channel\":\"c\",\"event\":\"progress\",\"data\":\"a\\nb\",\"time\":9}\n";
        assert_eq!(text(encode(&event)), expected);
        assert_eq!(text(Bytes::copy_from_slice(fields(&line(&event)))), &expected[16..expected.len() - 1]);
    }

    #[test]
    fn a_line_is_plain_json_with_markup_left_as_it_is() {
        let event = Event::new(Id { epoch: 1, seq: 2 }, "c".into(), "m".into(), "</script>&\u{2028}".into(), 9);
        assert!(text(line(&event)).contains("\"data\":\"</script>&\u{2028}\""));
    }

    #[test]
    fn open_is_two_kilobytes_of_padding_then_the_cursor() {
        let open = text(JsonLines.open(Id { epoch: 1, seq: 0 }));
        assert_eq!(open.len(), PADDING + "{\"type\":\"open\",\"cursor\":\"1-0\"}\n".len());
        assert!(open[..PADDING - 1].bytes().all(|b| b == b' '));
        assert!(open[PADDING - 1..].starts_with("\n{\"type\":\"open\",\"cursor\":\"1-0\"}\n"));
    }

    #[test]
    fn gap_heartbeat_and_reconnect_lines() {
        let gap = Item::Gap { oldest: Some(Id { epoch: 1, seq: 4 }) };
        assert_eq!(text(JsonLines.item(&gap)), "{\"type\":\"gap\",\"oldest\":\"1-4\"}\n");
        assert_eq!(text(JsonLines.heartbeat()), "{\"type\":\"heartbeat\"}\n");
        assert_eq!(text(JsonLines.close(Id { epoch: 1, seq: 7 })), "{\"type\":\"reconnect\",\"cursor\":\"1-7\"}\n");
    }
}
