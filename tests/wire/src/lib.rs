//! The reference client of cometgate's wire contract: it reads each transport's framing
//! into the frames a client acts on, written apart from the gateway's encoders on purpose,
//! so that the API tests and the load tools check the wire as a browser client reads it.
//!
//! Sans-IO: a [`Reader`] takes the bytes of a streaming response as they arrive (or a
//! WebSocket's text messages, one at a time) and hands back complete frames; [`poll`]
//! reads one long-poll answer. Strict: a field, a line type
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
    Ws,
}

impl Transport {
    /// Every transport, for tests and load runs that cover them all.
    pub const ALL: [Transport; 6] =
        [Transport::Sse, Transport::Poll, Transport::Stream, Transport::Iframe, Transport::Jsonp, Transport::Ws];
    /// The transports served as plain HTTP responses: all but WebSocket.
    pub const RESPONSES: [Transport; 5] =
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
            Transport::Ws => "ws",
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
    Heartbeat,
    /// The response ended; resume from this cursor (SSE: the last id seen, as a browser's
    /// EventSource keeps it; `None` where the server sent no cursor).
    Close(Option<String>),
}

/// An event as a client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub event: String,
    pub data: String,
}

/// A long-poll answer: its frames (a gap first, if any, then the events) and the cursor of
/// the next poll.
pub fn poll(body: &[u8]) -> anyhow::Result<(Vec<Frame>, String)> {
    let answer: Value = serde_json::from_slice(body).context("a poll answer that is not JSON")?;
    let mut frames = Vec::new();
    match &answer["gap"] {
        Value::Bool(true) => frames.push(Frame::Gap(oldest(&answer)?)),
        Value::Bool(false) => {}
        other => anyhow::bail!("a poll answer whose gap is {other}"),
    }
    for event in answer["events"].as_array().context("a poll answer without events")? {
        frames.push(Frame::Event(received(event)?));
    }
    Ok((frames, text(&answer, "cursor")?))
}

/// A JSONP answer, `callback(<poll answer>);`, read as [`poll`] reads the answer inside. It
/// must be safe as a script: no raw `<`, `>`, `&`, U+2028 or U+2029 anywhere.
pub fn jsonp(body: &[u8], callback: &str) -> anyhow::Result<(Vec<Frame>, String)> {
    let text = std::str::from_utf8(body).context("a JSONP answer that is not UTF-8")?;
    let unsafe_at = text.find(['<', '>', '&', '\u{2028}', '\u{2029}']);
    anyhow::ensure!(unsafe_at.is_none(), "a JSONP answer with a raw {:?}", &text[unsafe_at.unwrap_or(0)..][..1]);
    let inner = text.strip_prefix(callback).and_then(|rest| rest.strip_prefix('('));
    let inner = inner.and_then(|rest| rest.strip_suffix(");")).with_context(|| format!("not a call of {callback}"))?;
    poll(inner.as_bytes())
}

/// An event object (`{"id","event","data",...}`) as received.
fn received(object: &Value) -> anyhow::Result<Received> {
    Ok(Received { id: text(object, "id")?, event: text(object, "event")?, data: text(object, "data")? })
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
        let event = Received { id: "1-3".into(), event: "m".into(), data: "c".into() };
        assert_eq!(frames, [Frame::Gap(Some("1-3".into())), Frame::Event(event)]);
        assert_eq!(cursor, "1-3");
    }

    #[test]
    fn a_jsonp_answer_is_the_poll_answer_inside_one_call_and_must_be_script_safe() {
        let body = br#"app.feed({"events":[{"id":"1-1","event":"m","data":"\u003c/script\u003e"}],"cursor":"1-1","gap":false});"#;
        let (frames, cursor) = jsonp(body, "app.feed").unwrap();
        let event = Received { id: "1-1".into(), event: "m".into(), data: "</script>".into() };
        assert_eq!((frames, cursor.as_str()), (vec![Frame::Event(event)], "1-1"));
        assert!(jsonp(body, "other").is_err());
        assert!(jsonp(br#"cb({"events":[],"cursor":"</script>","gap":false});"#, "cb").is_err());
    }

    #[test]
    fn a_poll_answer_without_cursor_or_with_a_bad_gap_is_an_error() {
        assert!(poll(br#"{"events":[],"gap":false}"#).is_err());
        assert!(poll(br#"{"events":[],"cursor":"1-1","gap":"no"}"#).is_err());
    }
}
