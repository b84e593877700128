//! The JSON of an event, and the escaping that makes JSON safe inside an HTML `<script>`.
//!
//! Long-polling, streaming XHR and the iframe carry the same JSON object. It is encoded
//! once per event, as the stream's line ([`super::stream::line`]); the poll splices its
//! fields in, and the iframe escapes them as it copies them into its script.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use serde_json::{Value, json};

use crate::bus::{Event, Id};

/// The event as a JSON object, `{"id":..,"channel":..,"event":..,"data":..,"time":..}`.
pub fn event(event: &Event) -> Bytes {
    Bytes::from(serde_json::to_vec(event).unwrap_or_else(|_| b"null".to_vec()))
}

/// A gap signal's object, `{"oldest":..}`; on a connection that follows several channels
/// it names the channel too.
pub fn gap(channel: &str, oldest: Option<Id>, multi: bool) -> Value {
    match multi {
        true => json!({ "channel": channel, "oldest": oldest }),
        false => json!({ "oldest": oldest }),
    }
}

/// An end signal's object, `{"channel":..,"id":..}`: the id is where a cursor stands
/// once the end is handed out.
pub fn end(end: &Event) -> Value {
    json!({ "channel": end.channel, "id": end.id })
}

/// JSON whose text cannot end a `<script>` element, open a comment, or break a JavaScript
/// string: `<`, `>`, `&`, U+2028 and U+2029 become `\uXXXX` escapes. Outside strings JSON
/// never contains these characters, so the escapes change no value.
pub fn script_safe(value: &impl Serialize) -> String {
    let json = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut safe = BytesMut::with_capacity(json.len());
    extend_script_safe(&mut safe, &json);
    String::from_utf8(safe.to_vec()).unwrap_or_else(|_| "null".to_owned())
}

/// Appends `json` to `out` with the escapes of [`script_safe`]. Working on bytes is sound:
/// in UTF-8 no other character contains the bytes of `<`, `>`, `&`, U+2028 or U+2029.
pub fn extend_script_safe(out: &mut BytesMut, json: &[u8]) {
    let mut rest = json;
    while let Some(at) = rest.iter().position(|&b| matches!(b, b'<' | b'>' | b'&' | 0xE2)) {
        out.extend_from_slice(&rest[..at]);
        let (escape, skip) = match &rest[at..] {
            [b'<', ..] => ("\\u003c", 1),
            [b'>', ..] => ("\\u003e", 1),
            [b'&', ..] => ("\\u0026", 1),
            [0xE2, 0x80, 0xA8, ..] => ("\\u2028", 3),
            [0xE2, 0x80, 0xA9, ..] => ("\\u2029", 3),
            _ => ("", 0),
        };
        match skip {
            0 => out.put_u8(0xE2),
            _ => out.extend_from_slice(escape.as_bytes()),
        }
        rest = &rest[at + skip.max(1)..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Id;

    #[test]
    fn markup_and_line_separators_are_escaped() {
        let data = "</script><!--&\u{2028}\u{2029}\u{2027}€";
        let escaped = script_safe(&data);
        assert_eq!(escaped, "\"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029\u{2027}€\"");
        assert_eq!(serde_json::from_str::<String>(&escaped).unwrap(), data);
    }

    #[test]
    fn event_json_has_the_documented_fields_and_no_script_escapes() {
        let id = Id { epoch: 255, seq: 3 };
        let event = Event::new(id, "news".into(), "message".into(), "a\0<b>".into(), 1700);
        assert_eq!(
            String::from_utf8(super::event(&event).to_vec()).unwrap(),
            r#"{"id":"ff-3","channel":"news","event":"message","data":"a\u0000<b>","time":1700}"#
        );
    }
}
