//! What one event costs in memory once every transport has encoded it.

use std::sync::Arc;
use std::time::Duration;

use super::Framing;
use super::iframe::Scripts;
use super::poll::Answer;
use super::sse::Sse;
use super::stream::JsonLines;
use crate::bus::{Event, Id, Item};

/// The largest payload a publisher may send by default.
const PAYLOAD: usize = 64 * 1024;

/// Payloads whose encodings grow the most: `<` (6 bytes in script-safe JSON), NUL (6 in
/// any JSON), U+2028 (6 for 3 in script-safe JSON), LF (7 in SSE, one `data:` line each).
fn worst_payloads() -> Vec<(&'static str, String)> {
    vec![
        ("all <", "<".repeat(PAYLOAD)),
        ("all NUL", "\0".repeat(PAYLOAD)),
        ("all U+2028", "\u{2028}".repeat(PAYLOAD / 3)),
        ("all LF", "\n".repeat(PAYLOAD)),
        ("mixed", "<\0\n\u{2028}&".repeat(PAYLOAD / 8)),
    ]
}

/// Sends the event through each transport's encoder twice, as for two subscribers each.
fn encode_everywhere(event: &Arc<Event>) {
    let item = Item::Event(event.clone());
    for _ in 0..2 {
        for multi in [false, true] {
            Sse { retry: Duration::from_secs(2), multi }.item(&item);
        }
        JsonLines { multi: false }.item(&item);
        Scripts { callback: "comet".into(), post_to: None, multi: false }.item(&item);
        let mut answer = Answer::default();
        answer.push(item.clone());
        answer.encode(event.id, false);
    }
}

#[test]
fn an_event_holds_at_most_three_times_its_payload_after_every_transport_encoded_it() {
    for (name, data) in worst_payloads() {
        let len = data.len();
        let event = Arc::new(Event::new(Id { epoch: 1, seq: 1 }, "c".repeat(128), "e".repeat(64), data, 0));
        encode_everywhere(&event);
        let held = event.held_bytes();
        assert!(held <= 3 * len + 2048, "{name}: {held} bytes held for a payload of {len}");
    }
}
