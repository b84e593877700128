//! The held-connection loop every streaming transport shares: one event source, one
//! heartbeat, an age and a byte cap, and shutdown, each ending the response with the
//! transport's reconnect frame.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::time::{Instant, Sleep, sleep_until};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::Admitted;
use super::Transport;
use crate::bus::{Id, Item, Subscription};
use crate::gateway::Gateway;
use crate::limits::ConnectionSlot;
use crate::observe::{Delivery, Metrics};

/// How one transport frames what the loop sends. Every method is a pure encoder.
pub trait Framing: 'static {
    const TRANSPORT: Transport;
    /// The first bytes of the response (padding, the starting cursor).
    fn open(&self, cursor: Id) -> Bytes;
    fn item(&self, item: &Item) -> Bytes;
    fn heartbeat(&self) -> Bytes;
    /// The last bytes, telling the client where to resume; may be empty.
    fn close(&self, cursor: Id) -> Bytes;
}

/// Most bytes gathered into one write when a subscriber has several events waiting.
const MAX_BATCH: usize = 16 * 1024;

/// Why a held connection ended; logged when it does.
#[derive(Debug, Clone, Copy)]
enum End {
    Shutdown,
    MaxAge,
    MaxBytes,
    BusClosed,
    TokenExpired,
    SlowReader,
    ChannelsEnded,
    ClientGone,
}

impl End {
    fn name(self) -> &'static str {
        match self {
            End::Shutdown => "shutdown",
            End::MaxAge => "max_age",
            End::MaxBytes => "max_bytes",
            End::BusClosed => "bus_closed",
            End::TokenExpired => "token_expired",
            End::SlowReader => "slow_reader",
            End::ChannelsEnded => "channels_ended",
            End::ClientGone => "client_gone",
        }
    }
}

/// One held response. Its timers and its shutdown signal live as long as it does: made
/// anew for every event, each would be registered and cleared again for every subscriber
/// at every event, a few percent of the gateway's CPU in a large fan-out.
struct HeldConnection<F: Framing> {
    subscription: Subscription,
    framing: F,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    metrics: Arc<Metrics>,
    delivery: Delivery,
    _counted: (crate::observe::Tracked, ConnectionSlot),
    heartbeat: Duration,
    /// Fires at the heartbeat interval after the last write; moved on lazily, only when it
    /// fires early because something was written since it was set.
    idle: Pin<Box<Sleep>>,
    last_write: Instant,
    started: Instant,
    deadline: Pin<Box<Sleep>>,
    /// Why the deadline ends the response: the age cap, or the token's expiry.
    at_deadline: End,
    max_bytes: usize,
    max_unsent: usize,
    sent: usize,
    events: u64,
    opened: bool,
    ended: Option<End>,
}

/// The body of a held response: the open frame, then items, heartbeats when idle, and a
/// close frame when the response reaches its age or byte cap, its subscriber's token
/// expires or it falls too far behind, or the gateway shuts down.
pub fn held_body<F: Framing>(
    admitted: Admitted,
    framing: F,
    gateway: &Gateway,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    let settings = &gateway.settings;
    let started = Instant::now();
    let max_age = started + settings.stream_max_age;
    let (deadline, at_deadline) = match admitted.valid_for.map(|left| started + left) {
        Some(expiry) if expiry < max_age => (expiry, End::TokenExpired),
        _ => (max_age, End::MaxAge),
    };
    let held = HeldConnection {
        subscription: admitted.subscription,
        framing,
        shutdown: Box::pin(gateway.shutdown.clone().cancelled_owned()),
        metrics: gateway.metrics.clone(),
        delivery: gateway.metrics.delivery(F::TRANSPORT),
        _counted: (gateway.metrics.track_subscriber(F::TRANSPORT), admitted.slot),
        heartbeat: settings.heartbeat,
        idle: Box::pin(sleep_until(started + settings.heartbeat)),
        last_write: started,
        started,
        deadline: Box::pin(sleep_until(deadline)),
        at_deadline,
        max_bytes: settings.stream_max_bytes,
        max_unsent: settings.max_unsent_bytes,
        sent: 0,
        events: 0,
        opened: false,
        ended: None,
    };
    futures_util::stream::unfold(held, |mut held| async move {
        let events_before = held.events;
        let frame = held.next_frame().await?;
        held.sent += frame.len();
        held.last_write = Instant::now();
        held.delivery.count(held.events - events_before, frame.len());
        Some((Ok(frame), held))
    })
}

impl<F: Framing> HeldConnection<F> {
    async fn next_frame(&mut self) -> Option<Bytes> {
        if !self.opened {
            self.opened = true;
            return Some(self.framing.open(self.subscription.cursor()));
        }
        if self.ended.is_some() {
            return None;
        }
        if self.sent >= self.max_bytes {
            return self.end(End::MaxBytes);
        }
        if self.subscription.behind() > self.max_unsent {
            self.metrics.slow_readers_cut.inc();
            return self.end(End::SlowReader);
        }
        loop {
            tokio::select! {
                biased;
                () = &mut self.shutdown => return self.end(End::Shutdown),
                () = &mut self.deadline => return self.end(self.at_deadline),
                item = self.subscription.next() => return match item {
                    Some(item) => {
                        // Let the other woken subscribers and the publisher run once
                        // before writing: in a burst, more events have arrived by then
                        // and one write carries them all (1,000 subscribers flat out:
                        // 133k -> 189k deliveries/s, 7.6 -> 5.5 µs CPU each); when
                        // events are sparse it costs one more poll.
                        tokio::task::yield_now().await;
                        Some(self.batch(&item))
                    }
                    None if self.subscription.is_finished() => {
                        self.ended = Some(End::ChannelsEnded);
                        None
                    }
                    None => self.end(End::BusClosed),
                },
                () = &mut self.idle => {
                    let (due, now) = (self.last_write + self.heartbeat, Instant::now());
                    if due > now {
                        self.idle.as_mut().reset(due);
                        continue;
                    }
                    self.idle.as_mut().reset(now + self.heartbeat);
                    return Some(self.framing.heartbeat());
                }
            }
        }
    }

    /// The item, with any others already waiting, in one write, up to the byte cap.
    fn batch(&mut self, first: &Item) -> Bytes {
        let first = self.frame(first);
        let (sent, max_bytes) = (self.sent, self.max_bytes);
        let room = |len: usize| sent + len < max_bytes && len < MAX_BATCH;
        if !room(first.len()) {
            return first;
        }
        let Some(second) = self.subscription.try_next() else { return first };
        let mut batch = BytesMut::from(&first[..]);
        batch.extend_from_slice(&self.frame(&second));
        while room(batch.len()) {
            let Some(item) = self.subscription.try_next() else { break };
            batch.extend_from_slice(&self.frame(&item));
        }
        batch.freeze()
    }

    fn frame(&mut self, item: &Item) -> Bytes {
        match item {
            Item::Event(_) => self.events += 1,
            Item::Gap { .. } => drop(self.metrics.gaps.inc()),
            Item::End(_) => {}
        }
        self.framing.item(item)
    }

    fn end(&mut self, reason: End) -> Option<Bytes> {
        self.ended = Some(reason);
        Some(self.framing.close(self.subscription.cursor())).filter(|frame| !frame.is_empty())
    }
}

/// One log line per held connection, whatever ended it; a client that left ends it by
/// dropping the body before the loop ended it.
impl<F: Framing> Drop for HeldConnection<F> {
    fn drop(&mut self) {
        let reason = self.ended.unwrap_or(End::ClientGone).name();
        let lasted_ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(
            transport = F::TRANSPORT.name(),
            channels = self.subscription.channels().join(","),
            reason,
            lasted_ms,
            bytes = self.sent,
            events = self.events,
            "held connection ended"
        );
    }
}
