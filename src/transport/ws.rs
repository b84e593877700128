//! WebSocket: `GET /ws` and `GET /ws/{channels}`. One socket carries the stream transport's
//! JSON objects as text frames and takes `subscribe` and `unsubscribe` messages, so a page
//! changes its channels without reconnecting. Framing is `actix-ws`'s.
//!
//! Live events wait in the socket's [`Outbox`] until the connection takes them, and a
//! reader is cut when what waits there, in `actix-ws`'s queue and in its subscription's
//! refill passes `--max-unsent-bytes`. A replay (the backlog a resuming client is owed) is
//! taken from the bus only as the connection takes it, so a long one never looks slow.

use std::collections::VecDeque;
use std::future::{pending, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Message, ProtocolError, Session};
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::Sink;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};

use super::stream::JsonLines;
use super::{Framing, SubscribeQuery, Transport, channel_list};
use crate::bus::{Cursor, Id, Item, Subscription, check_channel};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::limits::ConnectionSlot;
use crate::observe::{Delivery, Tracked};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws", web::get().to(connect)).route("/ws/{channels}", web::get().to(connect));
}

/// Largest message a client may send; a larger one closes the socket with 1009.
const MAX_MESSAGE: usize = 4096;

/// Checks the upgrade, admits the channels of the path (refusals are HTTP errors, before
/// the upgrade) and runs the socket as a task of the worker.
async fn connect(
    request: HttpRequest,
    body: web::Payload,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let start = Cursor::parse(&query.cursor)?;
    let (response, session, incoming) = actix_ws::handle(&request, body)
        .map_err(|err| ApiError::BadRequest(format!("this route takes a WebSocket upgrade: {err}")))?;
    let slot = gateway.limits.take_connection(&request)?;
    let written = Arc::new(Written::default());
    let window = gateway.settings.max_unsent_bytes / 4;
    let outbox = Outbox::new(session, written.clone(), window, gateway.metrics.delivery(Transport::Ws));
    let tracked = gateway.metrics.track_subscriber(Transport::Ws);
    let token = query.into_inner().token;
    let mut socket = Socket { gateway, request, token, start, channels: Vec::new(), subscription: None, outbox };
    if let Some(list) = socket.request.match_info().get("channels").map(str::to_owned) {
        let names = channel_list(&list, socket.gateway.settings.max_channels_per_connection.into())?;
        socket.subscribe(names, None, None).await.map_err(|Refusal(err, _)| err)?;
    }
    let incoming = incoming.max_frame_size(MAX_MESSAGE).aggregate_continuations().max_continuation_size(MAX_MESSAGE);
    actix_web::rt::spawn(socket.run(incoming, (tracked, slot)));
    Ok(response.map_body(|_, body| Counted { body, written }).map_into_boxed_body())
}

/// Why a socket ended, and how the gateway closes it.
#[derive(Debug, Clone, Copy)]
enum End {
    Shutdown,
    TokenExpired,
    SlowReader,
    NoPong,
    BusClosed,
    TooLarge,
    NotUtf8,
    BadFrame,
    ClientClosed,
    ClientGone,
}

impl End {
    /// The close code, when the gateway ends the socket: a reconnect frame goes first.
    fn code(self) -> Option<CloseCode> {
        match self {
            End::Shutdown | End::NoPong => Some(CloseCode::Away),
            End::TokenExpired | End::SlowReader => Some(CloseCode::Policy),
            End::BusClosed => Some(CloseCode::Again),
            End::TooLarge => Some(CloseCode::Size),
            End::NotUtf8 => Some(CloseCode::Invalid),
            End::BadFrame => Some(CloseCode::Protocol),
            End::ClientClosed | End::ClientGone => None,
        }
    }
}

/// One socket: its channels, their subscription, and what waits to be sent.
struct Socket {
    gateway: web::Data<Gateway>,
    /// The upgrade request, for the tokens of later subscribes (its `Authorization`).
    request: HttpRequest,
    /// `?token=`, for a subscribe message that brings none.
    token: Option<String>,
    /// Where a subscription starts when the socket has none.
    start: Cursor,
    /// The channels followed, each with the expiry of the token that admitted it.
    channels: Vec<(String, Option<Instant>)>,
    subscription: Option<Subscription>,
    outbox: Outbox,
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum Request {
    Subscribe {
        channels: Vec<String>,
        cursor: Option<String>,
        token: Option<String>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
}

/// A refused request, and the channel it names when one is to blame.
struct Refusal(ApiError, Option<String>);

impl Socket {
    /// Serves the socket until it ends, then closes it and says why in one log line.
    async fn run(mut self, mut incoming: AggregatedMessageStream, _counted: (Tracked, ConnectionSlot)) {
        let started = Instant::now();
        let end = self.serve(&mut incoming).await;
        drop(self.subscription.take());
        if matches!(end, End::SlowReader) {
            self.gateway.metrics.slow_readers_cut.inc();
        }
        let (drain, outbox) = (self.gateway.settings.drain, self.outbox);
        let (events, bytes) = (outbox.events, outbox.handed);
        let _ = tokio::time::timeout(drain, outbox.close(end)).await;
        let lasted_ms = started.elapsed().as_millis() as u64;
        tracing::info!(transport = "ws", reason = ?end, lasted_ms, bytes, events, "socket ended");
    }

    /// The socket's loop: client messages, frames out as the connection takes them,
    /// items from the bus, pings; it returns why the socket ends.
    async fn serve(&mut self, incoming: &mut AggregatedMessageStream) -> End {
        let settings = &self.gateway.settings;
        let (heartbeat, max_unsent) = (settings.heartbeat, settings.max_unsent_bytes);
        let shutdown = self.gateway.shutdown.clone();
        let mut pings = interval_at(Instant::now() + heartbeat, heartbeat);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        loop {
            let expiry = self.channels.iter().filter_map(|(_, expiry)| *expiry).min();
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return End::Shutdown,
                () = until(expiry) => return End::TokenExpired,
                message = incoming.recv() => {
                    heard = Instant::now();
                    if let Some(end) = self.take(message).await {
                        return end;
                    }
                }
                ready = self.outbox.ready() => if ready.is_err() { return End::ClientGone },
                item = next(&mut self.subscription), if self.outbox.frames.is_empty() || !self.replaying() => {
                    let Some(item) = item else { return End::BusClosed };
                    self.queue(&item);
                    let behind = self.subscription.as_ref().map_or(0, Subscription::behind);
                    if self.outbox.unsent() + behind > max_unsent {
                        return End::SlowReader;
                    }
                }
                _ = pings.tick() => {
                    if heard.elapsed() > 2 * heartbeat {
                        return End::NoPong;
                    }
                    self.outbox.push(Message::Ping(Bytes::new()), None, 0);
                }
            }
        }
    }

    /// Whether the subscription's next item is replayed (from the backlog) rather than live.
    fn replaying(&self) -> bool {
        self.subscription.as_ref().is_some_and(Subscription::has_pending)
    }

    /// Acts on one message from the client; `Some` when it ends the socket.
    async fn take(&mut self, message: Option<Result<AggregatedMessage, ProtocolError>>) -> Option<End> {
        let Some(message) = message else { return Some(End::ClientGone) };
        let text = match message {
            Ok(AggregatedMessage::Text(text)) => text,
            Ok(AggregatedMessage::Binary(_)) => return self.refuse(Refusal(bad("messages are JSON text"), None)),
            Ok(AggregatedMessage::Ping(bytes)) => return self.outbox.push(Message::Pong(bytes), None, 0),
            Ok(AggregatedMessage::Pong(_)) => return None,
            Ok(AggregatedMessage::Close(_)) => return Some(End::ClientClosed),
            Err(ProtocolError::Io(err)) if err.kind() == std::io::ErrorKind::InvalidData => return Some(End::NotUtf8),
            Err(ProtocolError::Overflow | ProtocolError::Io(_)) => return Some(End::TooLarge),
            Err(_) => return Some(End::BadFrame),
        };
        let done = match serde_json::from_str::<Request>(&text) {
            Err(err) => Err(Refusal(bad(&format!("malformed message: {err}")), None)),
            Ok(Request::Subscribe { channels, cursor, token }) => self.subscribe(channels, cursor, token).await,
            Ok(Request::Unsubscribe { channels }) => {
                let kept = self.channels.iter().filter(|(name, _)| !channels.contains(name)).cloned().collect();
                self.follow(kept, None).await
            }
        };
        done.err().and_then(|refusal| self.refuse(refusal))
    }

    /// Sends the refusal as an error frame; the socket stays open.
    fn refuse(&mut self, Refusal(error, channel): Refusal) -> Option<End> {
        let frame = json!({ "type": "error", "code": error.code(), "message": error.to_string(), "channel": channel });
        self.outbox.push(Message::Text(frame.to_string().into()), None, 0)
    }

    /// Adds the channels of `names` (each checked, with its token) to those followed.
    async fn subscribe(&mut self, names: Vec<String>, cursor: Option<String>, token: Option<String>) -> Result<(), Refusal> {
        let cursor = cursor.as_deref().map(Cursor::parse).transpose().map_err(|err| Refusal(err.into(), None))?;
        let mut channels = self.channels.clone();
        for name in names {
            check_channel(&name).map_err(|err| Refusal(err.into(), Some(name.clone())))?;
            let expiry = self.admit(&name, token.as_deref()).map_err(|err| Refusal(err, Some(name.clone())))?;
            match channels.iter_mut().find(|(followed, _)| *followed == name) {
                Some(entry) => entry.1 = expiry,
                None => channels.push((name, expiry)),
            }
        }
        let max = usize::from(self.gateway.settings.max_channels_per_connection);
        if channels.len() > max {
            return Err(Refusal(bad(&format!("at most {max} channels per connection")), None));
        }
        self.follow(channels, cursor).await
    }

    /// When the channel's token (the message's, else the upgrade's) expires, if one is needed.
    fn admit(&self, channel: &str, token: Option<&str>) -> Result<Option<Instant>, ApiError> {
        let Some(tokens) = &self.gateway.tokens else { return Ok(None) };
        let token = token.filter(|token| !token.is_empty()).or(self.token.as_deref());
        let channel = [channel.to_owned()];
        Ok(Some(Instant::now() + tokens.check(&self.request, token, &channel)?))
    }

    /// Follows `channels` from where the old subscription stands (exact: the bus hands out
    /// every channel's events in id order), or from `cursor` when the socket had none, and
    /// acknowledges with an open frame. A refusal leaves the old set in place.
    async fn follow(&mut self, channels: Vec<(String, Option<Instant>)>, cursor: Option<Cursor>) -> Result<(), Refusal> {
        let start = match &self.subscription {
            Some(old) => Cursor::After(old.cursor()),
            None => cursor.unwrap_or(self.start),
        };
        let names: Vec<String> = channels.iter().map(|(name, _)| name.clone()).collect();
        let subscription = match names.is_empty() {
            true => None,
            false => Some(self.gateway.bus.subscribe(&names, start).await.map_err(|err| Refusal(err.into(), None))?),
        };
        let opened = match (&subscription, start) {
            (Some(subscription), _) => Some(subscription.cursor()),
            (None, Cursor::After(id)) => Some(id),
            (None, _) => None,
        };
        self.start = opened.map_or(start, Cursor::After);
        (self.subscription, self.channels) = (subscription, channels);
        if let Some(frame) = opened.and_then(|cursor| text(JsonLines { multi: false }.open(cursor))) {
            self.outbox.push(Message::Text(frame), opened, 0);
        }
        Ok(())
    }

    /// Queues an item from the bus, with the cursor a client resumes from once it has it.
    /// A gap names its channel when the socket follows several, as on a stream; an ended
    /// channel leaves the socket, which stays open to subscribe again.
    fn queue(&mut self, item: &Item) {
        let Some(subscription) = &self.subscription else { return };
        let (cursor, multi) = (subscription.cursor(), self.channels.len() > 1);
        let events = match item {
            Item::Event(_) => 1,
            Item::Gap { .. } => {
                self.gateway.metrics.gaps.inc();
                0
            }
            Item::End(_) => {
                self.channels.retain(|(name, _)| subscription.channels().contains(name));
                if subscription.is_finished() {
                    (self.subscription, self.start) = (None, Cursor::After(cursor));
                }
                0
            }
        };
        if let Some(frame) = text(JsonLines { multi }.item(item)) {
            self.outbox.push(Message::Text(frame), Some(cursor), events);
        }
    }
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

/// The next item of the subscription; never, without one.
async fn next(subscription: &mut Option<Subscription>) -> Option<Item> {
    match subscription {
        Some(subscription) => subscription.next().await,
        None => pending().await,
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}

/// A stream line as the text of a frame: without its newline, and the open line without
/// the padding an XHR needs.
fn text(line: Bytes) -> Option<ByteString> {
    let start = line.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(line.len());
    let end = line.len() - usize::from(line.ends_with(b"\n"));
    ByteString::try_from(line.slice(start..end.max(start))).ok()
}

/// A frame waiting for the connection, and the cursor a client resumes from once it has it.
struct Outgoing {
    message: Message,
    size: usize,
    cursor: Option<Id>,
    events: u64,
}

/// What waits to be sent on one socket, counted in bytes as they go on the wire.
struct Outbox {
    session: Session,
    frames: VecDeque<Outgoing>,
    /// Bytes of the frames waiting here.
    queued: usize,
    /// Bytes handed to `actix-ws` so far.
    handed: usize,
    written: Arc<Written>,
    /// Most bytes handed to `actix-ws` and not yet written: its queue holds 32 frames
    /// whatever their size, so this bounds it in bytes.
    window: usize,
    /// The cursor of the last frame handed over: where a client that got it all resumes.
    delivered: Option<Id>,
    delivery: Delivery,
    events: u64,
}

impl Outbox {
    fn new(session: Session, written: Arc<Written>, window: usize, delivery: Delivery) -> Self {
        let (frames, delivered) = (VecDeque::new(), None);
        Outbox { session, frames, queued: 0, handed: 0, written, window, delivered, delivery, events: 0 }
    }

    /// Queues a frame (returns `None`, so that a message handler can end with it).
    fn push(&mut self, message: Message, cursor: Option<Id>, events: u64) -> Option<End> {
        let size = wire_size(&message);
        self.queued += size;
        self.frames.push_back(Outgoing { message, size, cursor, events });
        None
    }

    /// Bytes queued for the client and not yet written to its connection.
    fn unsent(&self) -> usize {
        self.queued + self.in_flight()
    }

    fn in_flight(&self) -> usize {
        self.handed.saturating_sub(self.written.bytes.load(Ordering::Relaxed))
    }

    /// Waits until `actix-ws` takes a frame, and hands it the next; never, with none waiting.
    async fn ready(&mut self) -> Result<(), actix_ws::Closed> {
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

    /// Drops what is still waiting, then sends the reconnect frame (when the gateway ends
    /// the socket and the client has a cursor) and the close.
    async fn close(mut self, end: End) -> Result<(), actix_ws::Closed> {
        let Some(code) = end.code() else { return self.session.close(None).await };
        if let Some(frame) = self.delivered.and_then(|cursor| text(JsonLines { multi: false }.close(cursor))) {
            self.session.text(frame).await?;
        }
        self.session.close(Some(CloseReason { code, description: Some(format!("{end:?}")) })).await
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
struct Written {
    bytes: AtomicUsize,
    more: Notify,
}

/// The socket's response body, counting the bytes it hands to the connection.
struct Counted {
    body: BoxBody,
    written: Arc<Written>,
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
