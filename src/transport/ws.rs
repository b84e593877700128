//! WebSocket: `GET /ws` and `GET /ws/{channels}`. One socket carries the stream transport's
//! JSON objects as text frames and takes `subscribe` and `unsubscribe` messages, so a page
//! changes its channels without reconnecting. Framing is `actix-ws`'s.
//!
//! Live events wait in the socket's [`Outbox`] until the connection takes them, and a
//! reader is cut when what waits there, in `actix-ws`'s queue and in its subscription's
//! refill passes `--max-unsent-bytes`. A replay (the backlog a resuming client is owed) is
//! taken from the bus only as the connection takes it, so a long one never looks slow.

mod outbox;

use std::future::pending;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, Message, ProtocolError};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};

use super::stream::JsonLines;
use super::{Framing, SubscribeQuery, Transport, channel_list};
use crate::bus::{Cursor, Item, Subscription, check_channel};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::limits::ConnectionSlot;
use crate::observe::Tracked;
use outbox::{Counted, Outbox, Written, text};

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
    let window = (gateway.settings.max_unsent_bytes / 4).max(1);
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
        let code = end.code().map(|code| (code, format!("{end:?}")));
        let reconnect = |cursor| text(JsonLines { multi: false }.close(cursor));
        let _ = tokio::time::timeout(drain, outbox.close(code, reconnect)).await;
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
                    if self.outbox.unsent() > max_unsent {
                        return End::SlowReader;
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
            Ok(AggregatedMessage::Ping(bytes)) => return self.reply(Message::Pong(bytes)),
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
        self.reply(Message::Text(frame.to_string().into()))
    }

    /// Queues a frame that moves no cursor; the socket goes on.
    fn reply(&mut self, message: Message) -> Option<End> {
        self.outbox.push(message, None, 0);
        None
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
