//! Streaming XHR: `GET /stream/{channel}`, one chunked response of JSON lines that the
//! browser reads as it grows (XHR readyState 3, or a fetch stream).

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};

use super::{Framing, SubscribeQuery, held_body, held_response, json, subscribe};
use crate::bus::{Cursor, Event, Format, Id, Item};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::observe::Transport;

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
struct JsonLines;

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
            Item::Event(event) => event.frame(Format::StreamLine, encode),
            Item::Gap { oldest } => {
                Bytes::from(format!("{{\"type\":\"gap\",\"oldest\":{}}}\n", json::script_safe(oldest)))
            }
        }
    }

    fn heartbeat(&self) -> Bytes {
        Bytes::from_static(b"{\"type\":\"heartbeat\"}\n")
    }

    fn close(&self, cursor: Id) -> Bytes {
        Bytes::from(format!("{{\"type\":\"reconnect\",\"cursor\":\"{cursor}\"}}\n"))
    }
}

/// One event as a line: its JSON fields flat beside `"type":"event"`.
pub fn encode(event: &Event) -> Bytes {
    let fields = json::event(event);
    let mut frame = BytesMut::with_capacity(fields.len() + 16);
    frame.extend_from_slice(b"{\"type\":\"event\",");
    frame.extend_from_slice(&fields[1..]);
    frame.extend_from_slice(b"\n");
    frame.freeze()
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
