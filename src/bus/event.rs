//! The transport-neutral event, the names it carries, and its cache of encoded frames.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde::Serialize;

use super::id::Id;

/// One published event. Transports never change it; they encode it.
#[derive(Debug, Serialize)]
pub struct Event {
    pub id: Id,
    pub channel: String,
    #[serde(rename = "event")]
    pub kind: String,
    pub data: String,
    /// Unix time of the publish in milliseconds, so clients can measure delivery latency.
    pub time: u64,
    /// Each format's encoding once asked for: `None` when it did not fit the budget.
    #[serde(skip)]
    frames: [OnceLock<Option<Bytes>>; Format::COUNT],
    /// Bytes of the frames cached so far.
    #[serde(skip)]
    cached: AtomicUsize,
}

/// The encodings the transports share. Each event is encoded at most once per format,
/// however many subscribers receive it, as long as its frames fit its budget.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Sse,
    /// SSE on a connection that follows several channels: the JSON line as `data`.
    SseMulti,
    /// The JSON line of streaming XHR, whose fields long-polling and the iframe reuse.
    JsonLine,
}

impl Format {
    const COUNT: usize = 3;
}

/// Bytes of frames an event may cache beyond twice its payload: the id, channel, type and
/// time fields and the framings' prefixes, twice over.
const FRAME_OVERHEAD: usize = 1024;

impl Event {
    /// Whether this is a channel's end rather than an event.
    pub fn is_end(&self) -> bool {
        self.kind == END_EVENT_TYPE
    }

    pub fn new(id: Id, channel: String, kind: String, data: String, time: u64) -> Self {
        let (frames, cached) = Default::default();
        Event { id, channel, kind, data, time, frames, cached }
    }

    /// The event in `format`, encoded by `encode` the first time it is asked for and kept
    /// while the cached frames stay within twice the payload (plus a small constant), so an
    /// event never holds more than about three times its payload. A payload that escapes
    /// badly (control characters in JSON, line breaks in SSE) is encoded again for each
    /// subscriber instead: it costs CPU, never memory.
    pub fn frame(&self, format: Format, encode: fn(&Event) -> Bytes) -> Bytes {
        let mut fresh = None;
        let cached = self.frames[format as usize].get_or_init(|| {
            let frame = encode(self);
            if self.reserve(frame.len()) {
                return Some(frame);
            }
            fresh = Some(frame);
            None
        });
        match cached {
            Some(frame) => frame.clone(),
            None => fresh.unwrap_or_else(|| encode(self)),
        }
    }

    /// Bytes this event holds: its payload, names and cached frames.
    pub fn held_bytes(&self) -> usize {
        let frames = self.frames.iter().filter_map(|frame| frame.get()?.as_ref()).map(Bytes::len);
        self.data.len() + self.channel.len() + self.kind.len() + frames.sum::<usize>()
    }

    fn reserve(&self, len: usize) -> bool {
        let budget = 2 * self.data.len() + FRAME_OVERHEAD;
        let before = self.cached.fetch_add(len, Ordering::Relaxed);
        let fits = before + len <= budget;
        if !fits {
            self.cached.fetch_sub(len, Ordering::Relaxed);
        }
        fits
    }
}

/// Why a channel or event name was refused; the text is sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("channel must be 1 to 128 characters of A-Z a-z 0-9 _ . : -")]
    Channel,
    #[error("event type must be 1 to 64 characters of A-Z a-z 0-9 _ . : -")]
    EventType,
    #[error("event types starting with \"comet-\" are reserved for the gateway")]
    Reserved,
}

/// The event type of a publish that names none.
pub const DEFAULT_EVENT_TYPE: &str = "message";

/// The type of the entry that ends a channel: stored after its last event, so that every
/// subscriber, and every cursor resumed from before it, reaches it after all the events.
/// Publishers cannot send it (`comet-` is reserved).
pub const END_EVENT_TYPE: &str = "comet-end";

fn is_name(text: &str, max: usize) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
    !text.is_empty() && text.len() <= max && text.chars().all(allowed)
}

/// Checks a channel name from a path.
pub fn check_channel(name: &str) -> Result<(), NameError> {
    is_name(name, 128).then_some(()).ok_or(NameError::Channel)
}

/// Checks a publisher's event type; empty means [`DEFAULT_EVENT_TYPE`].
pub fn check_event_type(kind: &str) -> Result<&str, NameError> {
    match kind {
        "" => Ok(DEFAULT_EVENT_TYPE),
        k if !is_name(k, 64) => Err(NameError::EventType),
        k if k.starts_with("comet-") => Err(NameError::Reserved),
        k => Ok(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_the_documented_alphabet() {
        assert!(check_channel("jobs.42:progress_A-z").is_ok());
        assert!(check_channel(&"a".repeat(128)).is_ok());
        for bad in ["", "a b", "a/b", "é", "a%2F", &"a".repeat(129)] {
            assert_eq!(check_channel(bad), Err(NameError::Channel), "{bad:?}");
        }
    }

    #[test]
    fn event_types_default_to_message_and_reserve_comet_prefix() {
        assert_eq!(check_event_type(""), Ok("message"));
        assert_eq!(check_event_type("progress"), Ok("progress"));
        assert_eq!(check_event_type("comet-gap"), Err(NameError::Reserved));
        assert_eq!(check_event_type("new post"), Err(NameError::EventType));
        assert_eq!(check_event_type(&"e".repeat(65)), Err(NameError::EventType));
    }

    #[test]
    fn a_frame_is_encoded_once_and_shared() {
        let event = Event::new(Id { epoch: 1, seq: 1 }, "c".into(), "m".into(), "d".into(), 0);
        let first = event.frame(Format::JsonLine, |e| Bytes::from(e.data.clone()));
        let second = event.frame(Format::JsonLine, |_| Bytes::from_static(b"encoded again"));
        assert_eq!(first, second);
        assert_eq!(first.as_ptr(), second.as_ptr());
    }

    #[test]
    fn a_frame_past_the_budget_is_encoded_again_each_time() {
        let event = Event::new(Id { epoch: 1, seq: 1 }, "c".into(), "m".into(), "d".into(), 0);
        let huge = |_: &Event| Bytes::from(vec![b'x'; 4096]);
        let first = event.frame(Format::Sse, huge);
        let second = event.frame(Format::Sse, huge);
        assert_eq!(first, second);
        assert_ne!(first.as_ptr(), second.as_ptr());
        assert_eq!(event.held_bytes(), 3);
    }
}
