//! Streaming XHR: `GET /stream/{channels}`, one chunked response of JSON lines that the
//! browser reads as it grows (XHR readyState 3, or a fetch stream).

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};

use super::{Framing, SubscribeQuery, Transport, channel_list, held_body, held_response, json, subscribe};
use crate::bus::{Cursor, Event, Format, Id, Item};
use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/stream/{channels}", web::get().to(connect));
}

async fn connect(
    request: HttpRequest,
    channels: web::Path<String>,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let channels = channel_list(&channels, gateway.settings.max_channels_per_connection.into())?;
    let admitted = subscribe(&gateway, &request, &channels, &query, Cursor::parse(&query.cursor)?).await?;
    let body = held_body(admitted, JsonLines { multi: channels.len() > 1 }, &gateway);
    Ok(held_response("text/plain; charset=utf-8").streaming(body))
}

/// Bytes of padding before the first line: old IE fires no progress event before 2 KiB.
const PADDING: usize = 2048;

/// One JSON object per line, each with a `type`; a gap names its channel when the
/// connection follows several.
pub struct JsonLines {
    pub multi: bool,
}

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
            Item::Gap { channel, oldest } => signal("gap", &json::gap(channel, *oldest, self.multi)),
            Item::End(end) => signal("end", &json::end(end)),
        }
    }

    fn heartbeat(&self) -> Bytes {
        Bytes::from_static(b"{\"type\":\"heartbeat\"}\n")
    }

    fn close(&self, cursor: Id) -> Bytes {
        Bytes::from(format!("{{\"type\":\"reconnect\",\"cursor\":\"{cursor}\"}}\n"))
    }
}

/// A line of the gateway's own: `{"type":<kind>,` then the object's fields.
fn signal(kind: &str, object: &serde_json::Value) -> Bytes {
    let object = object.to_string();
    Bytes::from(format!("{{\"type\":\"{kind}\",{}\n", &object[1..]))
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
        let open = text(JsonLines { multi: false }.open(Id { epoch: 1, seq: 0 }));
        assert_eq!(open.len(), PADDING + "{\"type\":\"open\",\"cursor\":\"1-0\"}\n".len());
        assert!(open[..PADDING - 1].bytes().all(|b| b == b' '));
        assert!(open[PADDING - 1..].starts_with("\n{\"type\":\"open\",\"cursor\":\"1-0\"}\n"));
    }

    #[test]
    fn gap_end_heartbeat_and_reconnect_lines() {
        let (single, multi) = (JsonLines { multi: false }, JsonLines { multi: true });
        let gap = Item::Gap { channel: "c".into(), oldest: Some(Id { epoch: 1, seq: 4 }) };
        assert_eq!(text(single.item(&gap)), "{\"type\":\"gap\",\"oldest\":\"1-4\"}\n");
        assert_eq!(text(multi.item(&gap)), "{\"type\":\"gap\",\"channel\":\"c\",\"oldest\":\"1-4\"}\n");
        let end = Item::End(std::sync::Arc::new(Event::new(Id { epoch: 1, seq: 8 }, "c".into(), "comet-end".into(), String::new(), 9)));
        assert_eq!(text(single.item(&end)), "{\"type\":\"end\",\"channel\":\"c\",\"id\":\"1-8\"}\n");
        assert_eq!(text(single.heartbeat()), "{\"type\":\"heartbeat\"}\n");
        assert_eq!(text(single.close(Id { epoch: 1, seq: 7 })), "{\"type\":\"reconnect\",\"cursor\":\"1-7\"}\n");
    }
}
