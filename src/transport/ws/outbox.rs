//! What waits to be sent on a socket, and the bytes that are not yet on the wire: the
//! frames queued here, and those handed to `actix-ws` that its response body has not yet
//! handed to the connection (counted by [`Counted`], the body wrapped).

use std::collections::VecDeque;
use std::future::{pending, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_ws::{Closed, CloseCode, CloseReason, Message, Session};
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::Sink;
use tokio::sync::Notify;

use crate::bus::Id;
use crate::observe::Delivery;

/// A stream line as the text of a frame: without its newline, and the open line without
/// the padding an XHR needs.
pub(super) fn text(line: Bytes) -> Option<ByteString> {
    let start = line.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(line.len());
    let end = line.len() - usize::from(line.ends_with(b"\n"));
    ByteString::try_from(line.slice(start..end.max(start))).ok()
}

/// A frame waiting for the connection, and the cursor a client resumes from once it has it.
pub(super) struct Outgoing {
    message: Message,
    size: usize,
    cursor: Option<Id>,
    events: u64,
}

/// What waits to be sent on one socket, counted in bytes as they go on the wire.
pub(super) struct Outbox {
    session: Session,
    pub(super) frames: VecDeque<Outgoing>,
    /// Bytes of the frames waiting here.
    queued: usize,
    /// Bytes handed to `actix-ws` so far.
    pub(super) handed: usize,
    written: Arc<Written>,
    /// Most bytes handed to `actix-ws` and not yet written: its queue holds 32 frames
    /// whatever their size, so this bounds it in bytes.
    window: usize,
    /// The cursor of the last frame handed over: where a client that got it all resumes.
    delivered: Option<Id>,
    delivery: Delivery,
    /// Events and bytes handed over, for the log.
    pub(super) events: u64,
}

impl Outbox {
    pub(super) fn new(session: Session, written: Arc<Written>, window: usize, delivery: Delivery) -> Self {
        let (frames, delivered) = (VecDeque::new(), None);
        Outbox { session, frames, queued: 0, handed: 0, written, window, delivered, delivery, events: 0 }
    }

    /// Queues a frame, with the cursor a client resumes from once it has it.
    pub(super) fn push(&mut self, message: Message, cursor: Option<Id>, events: u64) {
        let size = wire_size(&message);
        self.queued += size;
        self.frames.push_back(Outgoing { message, size, cursor, events });
    }

    /// Bytes queued for the client and not yet written to its connection.
    pub(super) fn unsent(&self) -> usize {
        self.queued + self.in_flight()
    }

    fn in_flight(&self) -> usize {
        self.handed.saturating_sub(self.written.bytes.load(Ordering::Relaxed))
    }

    /// Waits until `actix-ws` takes a frame, and hands it the next; never, with none waiting.
    pub(super) async fn ready(&mut self) -> Result<(), Closed> {
        if self.frames.is_empty() {
            return pending().await;
        }
        while self.in_flight() >= self.window {
            self.written.more.notified().await;
        }
        poll_fn(|cx| Pin::new(&mut self.session).poll_ready(cx)).await?;
        let Some(frame) = self.frames.pop_front() else { return Ok(()) };
        Pin::new(&mut self.session).start_send(frame.message)?;
        (self.queued, self.handed) = (self.queued - frame.size, self.handed + frame.size);
        self.delivered = frame.cursor.or(self.delivered);
        self.events += frame.events;
        self.delivery.count(frame.events, frame.size);
        Ok(())
    }

    /// Drops what is still waiting, then closes: when the gateway ends the socket (with
    /// `code`), after a reconnect frame, made by `reconnect` from the client's cursor.
    pub(super) async fn close(
        mut self,
        code: Option<(CloseCode, String)>,
        reconnect: impl FnOnce(Id) -> Option<ByteString>,
    ) -> Result<(), Closed> {
        let Some((code, reason)) = code else { return self.session.close(None).await };
        if let Some(frame) = self.delivered.and_then(reconnect) {
            self.session.text(frame).await?;
        }
        self.session.close(Some(CloseReason { code, description: Some(reason) })).await
    }
}

/// Bytes of a frame from the server: the payload and a header of 2, 4 or 10 bytes.
fn wire_size(message: &Message) -> usize {
    let payload = match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        _ => 0,
    };
    payload + if payload < 126 { 2 } else if payload <= 0xFFFF { 4 } else { 10 }
}

/// Bytes the response body has handed to the connection so far, and a signal when more are.
#[derive(Default)]
pub(super) struct Written {
    bytes: AtomicUsize,
    more: Notify,
}

/// The socket's response body, counting the bytes it hands to the connection.
pub(super) struct Counted {
    pub(super) body: BoxBody,
    pub(super) written: Arc<Written>,
}

impl MessageBody for Counted {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            this.written.bytes.fetch_add(chunk.len(), Ordering::Relaxed);
            this.written.more.notify_one();
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_line_becomes_a_frame_without_its_padding_or_newline() {
        let open = Bytes::from(format!("{}\n{{\"type\":\"open\",\"cursor\":\"1-0\"}}\n", " ".repeat(2047)));
        assert_eq!(text(open).unwrap(), r#"{"type":"open","cursor":"1-0"}"#);
        assert_eq!(text(Bytes::from_static(b"{\"type\":\"heartbeat\"}\n")).unwrap(), r#"{"type":"heartbeat"}"#);
    }

    #[test]
    fn a_frame_on_the_wire_is_its_payload_and_a_header_of_2_4_or_10_bytes() {
        let text = |len: usize| Message::Text("x".repeat(len).into());
        assert_eq!(wire_size(&Message::Ping(Bytes::new())), 2);
        assert_eq!(wire_size(&text(125)), 127);
        assert_eq!(wire_size(&text(126)), 130);
        assert_eq!(wire_size(&text(65535)), 65539);
        assert_eq!(wire_size(&text(65536)), 65546);
    }
}
