//! The one JSON encoding of an event that long-polling, streaming XHR and the iframe share.

use bytes::Bytes;
use serde::Serialize;

use crate::bus::{Event, Format};

/// The event as a JSON object, encoded once and safe to embed in an HTML `<script>`.
pub fn event(event: &Event) -> Bytes {
    event.frame(Format::Json, |event| Bytes::from(script_safe(event)))
}

/// JSON whose text cannot end a `<script>` element, open a comment, or break a JavaScript
/// string: `<`, `>`, `&`, U+2028 and U+2029 become `\uXXXX` escapes. Outside strings JSON
/// never contains these characters, so the escapes change no value.
pub fn script_safe(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json;
    }
    let mut safe = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => safe.push_str(&format!("\\u{:04x}", c as u32)),
            c => safe.push(c),
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Id;

    #[test]
    fn markup_and_line_separators_are_escaped() {
        let data = "</script><!--&\u{2028}\u{2029}";
        let escaped = script_safe(&data);
        assert_eq!(escaped, r#""\u003c/script\u003e\u003c!--\u0026\u2028\u2029""#);
        assert_eq!(serde_json::from_str::<String>(&escaped).unwrap(), data);
    }

    #[test]
    fn event_json_has_the_documented_fields() {
        let id = Id { epoch: 255, seq: 3 };
        let event = Event::new(id, "news".into(), "message".into(), "a\0b".into(), 1700);
        assert_eq!(
            event_text(&event),
            r#"{"id":"ff-3","channel":"news","event":"message","data":"a\u0000b","time":1700}"#
        );
    }

    fn event_text(e: &Event) -> String {
        String::from_utf8(event(e).to_vec()).unwrap()
    }
}
