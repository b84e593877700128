//! Any UTF-8 payload round-trips through each transport's encoder and a real parser of
//! that framing.

use bytes::Bytes;
use cometgate::bus::{Event, Id};
use cometgate::transport::{iframe, json, sse, stream};
use futures_util::{FutureExt, StreamExt, stream as futures_stream};
use proptest::prelude::*;
use serde_json::Value;
use sse_stream::SseStream;

/// Text made of the contract's tricky pieces mixed with arbitrary characters.
fn payload() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("\r\n".to_owned()),
        Just("\r".to_owned()),
        Just("\n".to_owned()),
        Just("\0".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("\u{2029}".to_owned()),
        Just("</script>".to_owned()),
        Just("<!--".to_owned()),
        Just("&amp;>".to_owned()),
        Just("😀𝄞".to_owned()),
        Just(" data: x".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\"\\".to_owned()),
    ];
    prop_oneof![any::<String>(), prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())]
}

fn event_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("message".to_owned()),
        "[A-Za-z0-9_.:-]{1,64}".prop_filter("reserved", |k| !k.starts_with("comet-"))
    ]
}

fn channel() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:-]{1,128}"
}

fn event() -> impl Strategy<Value = Event> {
    (any::<u64>(), any::<u64>(), channel(), event_type(), payload(), any::<u64>())
        .prop_map(|(epoch, seq, channel, kind, data, time)| Event::new(Id { epoch, seq }, channel, kind, data, time))
}

/// One event as an EventSource dispatches it.
#[derive(Debug)]
struct Dispatched {
    /// The last event id, which an EventSource keeps from block to block.
    id: String,
    event: String,
    data: String,
}

/// What an EventSource reports for the bytes, parsed by the `sse-stream` crate from a
/// stream cut into chunks at `cuts`; the last id carries over as in a browser, and a
/// block without data dispatches nothing.
fn parse_sse(bytes: &[u8], cuts: &[usize]) -> Vec<Dispatched> {
    let mut chunks = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&bytes.len()]) {
        let cut = cut.clamp(start, bytes.len());
        chunks.push(Ok::<_, std::io::Error>(Bytes::copy_from_slice(&bytes[start..cut])));
        start = cut;
    }
    let blocks = SseStream::from_bytes_stream(futures_stream::iter(chunks)).collect::<Vec<_>>();
    let blocks = blocks.now_or_never().expect("a finite stream parses without waiting");
    let mut last_id = String::new();
    let mut dispatched = Vec::new();
    for block in blocks {
        let block = block.expect("the SSE parser accepted the frame");
        last_id = block.id.unwrap_or(last_id);
        if let Some(data) = block.data {
            let event = block.event.unwrap_or_else(|| "message".to_owned());
            dispatched.push(Dispatched { id: last_id.clone(), event, data });
        }
    }
    dispatched
}

/// The one documented SSE exception: CR and CRLF inside data reach the client as LF.
fn as_eventsource_sees(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

/// The arguments of `<script>parent.comet.showMsg(ARGS)</script>`, as the iframe sends it.
fn script_arguments(script: &str) -> &str {
    let inner = script.strip_prefix("<script>parent.comet.showMsg(").expect("script prefix");
    inner.strip_suffix(")</script>").expect("script suffix")
}

const UNSAFE_IN_SCRIPT: [char; 5] = ['<', '>', '&', '\u{2028}', '\u{2029}'];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::CASES))]

    #[test]
    fn any_payload_survives_sse_encoding_and_a_third_party_parser(
        event in event(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let bytes = sse::encode(&event);
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let parsed = parse_sse(&bytes, &cuts);
        prop_assert_eq!(parsed.len(), 1);
        prop_assert_eq!(&parsed[0].id, &event.id.to_string());
        prop_assert_eq!(&parsed[0].event, &event.kind);
        prop_assert_eq!(&parsed[0].data, &as_eventsource_sees(&event.data));
    }

    #[test]
    fn an_sse_gap_after_an_event_carries_the_oldest_id_and_keeps_the_last_id(
        event in event(), oldest_epoch in any::<u64>(), oldest_seq in any::<u64>()
    ) {
        let oldest = Id { epoch: oldest_epoch, seq: oldest_seq };
        let bytes = [sse::encode(&event), sse::gap("c", Some(oldest), false)].concat();
        let parsed = parse_sse(&bytes, &[]);
        prop_assert_eq!(parsed.len(), 2);
        prop_assert_eq!(&parsed[1].event, "comet-gap");
        prop_assert_eq!(&parsed[1].id, &event.id.to_string());
        let data: Value = serde_json::from_str(&parsed[1].data).unwrap();
        prop_assert_eq!(data, serde_json::json!({ "oldest": oldest.to_string() }));
    }

    #[test]
    fn any_payload_survives_sse_among_several_channels_as_one_json_data_line(event in event()) {
        let parsed = parse_sse(&sse::encode_multi(&event), &[]);
        prop_assert_eq!(parsed.len(), 1);
        prop_assert_eq!(&parsed[0].id, &event.id.to_string());
        prop_assert_eq!(&parsed[0].event, &event.kind);
        let object: Value = serde_json::from_str(&parsed[0].data).unwrap();
        let expected = serde_json::json!({
            "id": event.id.to_string(), "channel": event.channel, "event": event.kind, "data": event.data, "time": event.time,
        });
        prop_assert_eq!(object, expected);
    }

    #[test]
    fn any_payload_survives_a_stream_line_parsed_as_json(event in event()) {
        let line = String::from_utf8(stream::encode(&event).to_vec()).unwrap();
        prop_assert_eq!(line.find('\n'), Some(line.len() - 1), "one line, ended by LF");
        let parsed: Value = serde_json::from_str(&line).unwrap();
        let expected = serde_json::json!({
            "type": "event",
            "id": event.id.to_string(),
            "channel": event.channel,
            "event": event.kind,
            "data": event.data,
            "time": event.time,
        });
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn any_payload_in_an_iframe_script_cannot_escape_it_and_parses_back(event in event()) {
        let script = String::from_utf8(iframe::encode(&event, "comet").to_vec()).unwrap();
        let script = script.strip_suffix('\n').expect("a script ends its line");
        let arguments = script_arguments(script);
        prop_assert!(!arguments.contains(UNSAFE_IN_SCRIPT), "{}", arguments);
        let parsed: Value = serde_json::from_str(arguments).unwrap();
        prop_assert_eq!(&parsed["data"], &Value::from(event.data.as_str()));
        prop_assert_eq!(&parsed["id"], &Value::from(event.id.to_string()));
        prop_assert_eq!(&parsed["event"], &Value::from(event.kind.as_str()));
        prop_assert_eq!(&parsed["channel"], &Value::from(event.channel.as_str()));
        prop_assert_eq!(&parsed["time"], &Value::from(event.time));
    }

    #[test]
    fn the_json_object_of_any_event_is_the_fields_of_its_stream_line(event in event()) {
        let line = stream::encode(&event);
        let object = [&b"{"[..], stream::fields(&line)].concat();
        prop_assert_eq!(&object[..], &json::event(&event)[..]);
        let parsed: Value = serde_json::from_slice(&object).unwrap();
        prop_assert_eq!(&parsed["data"], &Value::from(event.data.as_str()));
    }

    #[test]
    fn script_safe_json_never_contains_a_closing_tag_and_parses_back(text in payload()) {
        let safe = json::script_safe(&text);
        prop_assert!(!safe.contains("</"), "{}", safe);
        prop_assert!(!safe.contains(UNSAFE_IN_SCRIPT), "{}", safe);
        prop_assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), text);
    }
}
