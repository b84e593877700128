//! The reference client of cometgate's wire contract: it reads each transport's framing
//! into the frames a client acts on, written apart from the gateway's encoders on purpose,
//! so that the API tests and the load tools check the wire as a browser client reads it.
//!
//! Sans-IO: a [`Reader`] takes the bytes of a streaming response as they arrive and hands
//! back complete frames; [`poll`] reads one long-poll answer. Strict: a field, a line type
//! or a callback the contract does not name is an error, never skipped.

mod streams;

use anyhow::Context;
use serde_json::Value;

pub use streams::Reader;

/// The transports a client can subscribe with, as the contract names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Sse,
    Poll,
    Stream,
    Iframe,
    Jsonp,
}

impl Transport {
    /// Every transport, for tests and load runs that cover them all.
    pub const ALL: [Transport; 5] =
        [Transport::Sse, Transport::Poll, Transport::Stream, Transport::Iframe, Transport::Jsonp];
    /// The transports that hold one response open and stream frames into it.
    pub const STREAMING: [Transport; 3] = [Transport::Sse, Transport::Stream, Transport::Iframe];

    /// Whether each answer is one request's body (long-poll, JSONP) rather than a stream.
    pub fn is_polled(self) -> bool {
        matches!(self, Transport::Poll | Transport::Jsonp)
    }

    /// The first segment of its subscribe path (`/sse/{channel}`).
    pub fn route(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::Poll => "poll",
            Transport::Stream => "stream",
            Transport::Iframe => "iframe",
            Transport::Jsonp => "jsonp",
        }
    }
}

/// One thing a subscriber is told, whatever the framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The response opened at this cursor (SSE's open block, the stream's `open` line).
    Open(String),
    Event(Received),
    /// Events were lost; the oldest still held, if any.
    Gap(Option<String>),
    /// On a connection that follows several channels: events of `channel` were lost.
    ChannelGap {
        channel: String,
        oldest: Option<String>,
    },
    /// The channel ended; `id` is its end's id (a poll answer names no id).
    End {
        channel: String,
        id: Option<String>,
    },
    Heartbeat,
    /// The response ended; resume from this cursor (SSE: the last id seen, as a browser's
    /// EventSource keeps it; `None` where the server sent no cursor).
    Close(Option<String>),
}

/// An event as a client receives it. `channel` is read only on a connection that follows
/// several channels (one channel's events all belong to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub event: String,
    pub data: String,
    pub channel: Option<String>,
}

/// A long-poll answer of one channel: its frames (a gap first, if any, then the events)
/// and the cursor of the next poll.
pub fn poll(body: &[u8]) -> anyhow::Result<(Vec<Frame>, String)> {
    answer(body, false)
}

/// A long-poll answer, of several channels when `multi`: gaps first (one per channel when
/// `multi`), then the events, then the channels that ended; and the next poll's cursor.
pub fn answer(body: &[u8], multi: bool) -> anyhow::Result<(Vec<Frame>, String)> {
    let answer: Value = serde_json::from_slice(body).context("a poll answer that is not JSON")?;
    let mut frames = Vec::new();
    match (&answer["gap"], multi) {
        (Value::Bool(true), false) => frames.push(Frame::Gap(oldest(&answer)?)),
        (Value::Bool(true), true) => {
            for gap in answer["gaps"].as_array().context("a multi-channel gap without gaps")? {
                frames.push(Frame::ChannelGap { channel: text(gap, "channel")?, oldest: oldest(gap)? });
            }
        }
        (Value::Bool(false), _) => {}
        (other, _) => anyhow::bail!("a poll answer whose gap is {other}"),
    }
    for event in answer["events"].as_array().context("a poll answer without events")? {
        frames.push(Frame::Event(received(event, multi)?));
    }
    for channel in answer["ended"].as_array().into_iter().flatten() {
        let channel = channel.as_str().context("an ended channel that is not a string")?.to_owned();
        frames.push(Frame::End { channel, id: None });
    }
    Ok((frames, text(&answer, "cursor")?))
}

/// A JSONP answer of one channel, `callback(<poll answer>);`.
pub fn jsonp(body: &[u8], callback: &str) -> anyhow::Result<(Vec<Frame>, String)> {
    jsonp_answer(body, callback, false)
}

/// A JSONP answer, read as [`answer`] reads the answer inside. It must be safe as a
/// script: no raw `<`, `>`, `&`, U+2028 or U+2029 anywhere.
pub fn jsonp_answer(body: &[u8], callback: &str, multi: bool) -> anyhow::Result<(Vec<Frame>, String)> {
    let text = std::str::from_utf8(body).context("a JSONP answer that is not UTF-8")?;
    let unsafe_at = text.find(['<', '>', '&', '\u{2028}', '\u{2029}']);
    anyhow::ensure!(unsafe_at.is_none(), "a JSONP answer with a raw {:?}", &text[unsafe_at.unwrap_or(0)..][..1]);
    let inner = text.strip_prefix(callback).and_then(|rest| rest.strip_prefix('('));
    let inner = inner.and_then(|rest| rest.strip_suffix(");")).with_context(|| format!("not a call of {callback}"))?;
    answer(inner.as_bytes(), multi)
}

/// An event object (`{"id","channel","event","data",...}`) as received.
fn received(object: &Value, multi: bool) -> anyhow::Result<Received> {
    let channel = if multi { Some(text(object, "channel")?) } else { None };
    Ok(Received { id: text(object, "id")?, event: text(object, "event")?, data: text(object, "data")?, channel })
}

/// An end signal's object, `{"channel","id"}`.
fn end(object: &Value) -> anyhow::Result<Frame> {
    Ok(Frame::End { channel: text(object, "channel")?, id: Some(text(object, "id")?) })
}

/// A gap signal's object: with a channel on a connection that follows several.
fn gap(object: &Value, multi: bool) -> anyhow::Result<Frame> {
    match multi {
        true => Ok(Frame::ChannelGap { channel: text(object, "channel")?, oldest: oldest(object)? }),
        false => Ok(Frame::Gap(oldest(object)?)),
    }
}

/// The `oldest` of a gap signal: an id, or `null` when nothing is held.
fn oldest(object: &Value) -> anyhow::Result<Option<String>> {
    match &object["oldest"] {
        Value::Null => Ok(None),
        Value::String(id) => Ok(Some(id.clone())),
        other => anyhow::bail!("a gap whose oldest is {other}"),
    }
}

fn text(object: &Value, name: &str) -> anyhow::Result<String> {
    object[name].as_str().map(str::to_owned).with_context(|| format!("no {name} in {object}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_answer_with_a_gap_puts_the_gap_first() {
        let body = br#"{"events":[{"id":"1-3","event":"m","data":"c"}],"cursor":"1-3","gap":true,"oldest":"1-3"}"#;
        let (frames, cursor) = poll(body).unwrap();
        let event = Received { id: "1-3".into(), event: "m".into(), data: "c".into(), channel: None };
        assert_eq!(frames, [Frame::Gap(Some("1-3".into())), Frame::Event(event)]);
        assert_eq!(cursor, "1-3");
    }

    #[test]
    fn a_jsonp_answer_is_the_poll_answer_inside_one_call_and_must_be_script_safe() {
        let body = br#"app.feed({"events":[{"id":"1-1","event":"m","data":"\u003c/script\u003e"}],"cursor":"1-1","gap":false});"#;
        let (frames, cursor) = jsonp(body, "app.feed").unwrap();
        let event = Received { id: "1-1".into(), event: "m".into(), data: "</script>".into(), channel: None };
        assert_eq!((frames, cursor.as_str()), (vec![Frame::Event(event)], "1-1"));
        assert!(jsonp(body, "other").is_err());
        assert!(jsonp(br#"cb({"events":[],"cursor":"</script>","gap":false});"#, "cb").is_err());
    }

    #[test]
    fn a_multi_channel_answer_names_each_gap_and_event_channel_and_lists_the_ended() {
        let body = br#"{"events":[{"id":"1-4","channel":"b","event":"m","data":"x"}],"cursor":"1-5","gap":true,"gaps":[{"channel":"a","oldest":null}],"ended":["b"]}"#;
        let (frames, cursor) = answer(body, true).unwrap();
        let event = Received { id: "1-4".into(), event: "m".into(), data: "x".into(), channel: Some("b".into()) };
        let gap = Frame::ChannelGap { channel: "a".into(), oldest: None };
        assert_eq!(frames, [gap, Frame::Event(event), Frame::End { channel: "b".into(), id: None }]);
        assert_eq!(cursor, "1-5");
        assert!(answer(br#"{"events":[],"cursor":"1-5","gap":true,"oldest":null}"#, true).is_err());
    }

    #[test]
    fn a_poll_answer_without_cursor_or_with_a_bad_gap_is_an_error() {
        assert!(poll(br#"{"events":[],"gap":false}"#).is_err());
        assert!(poll(br#"{"events":[],"cursor":"1-1","gap":"no"}"#).is_err());
    }
}
