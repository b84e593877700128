//! One soak subscriber: it connects over its transport (WebSocket included), records every
//! event, cuts its own connection at random moments and resumes from the id of the last event it received, as
//! the browser client does, until it has every event its channel was sent.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use cometgate_wire::{Frame, Reader, Received};

use super::Transport;
use crate::{http, ws};

/// Everything one subscriber saw, checked against what was published once the run ends.
#[derive(Default)]
pub struct Ledger {
    /// The sequence number of every event received, in arrival order.
    pub seqs: Vec<u64>,
    pub counts: Counts,
    pub first_error: Option<String>,
}

/// What happened to a subscriber's connections, summed over subscribers in the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub gaps: u64,
    /// HTTP requests made (a poller makes one per answer).
    pub requests: u64,
    /// Connections the client cut on purpose.
    pub cuts: u64,
    /// Responses the server ended (age or byte caps).
    pub server_ends: u64,
    pub errors: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.gaps += other.gaps;
        self.requests += other.requests;
        self.cuts += other.cuts;
        self.server_ends += other.server_ends;
        self.errors += other.errors;
    }
}

/// The iframe and JSONP callback the soak's pages name, as a page with several clients would.
const CALLBACK: &str = "soak.sub";

/// How a connection ended.
enum Outcome {
    Cut,
    ServerEnded,
    Complete,
}

pub struct Client {
    pub transport: Transport,
    pub target: String,
    pub channel: String,
    /// Mean time a connection lives before the client cuts it (exponentially distributed).
    pub mean_life: Duration,
    /// How many events the channel was sent, known once publishing stops.
    pub published: watch::Receiver<Option<u64>>,
}

impl Client {
    /// Runs until every published event arrived or `deadline` passed.
    pub async fn run(mut self, deadline: Instant) -> Ledger {
        let mut ledger = Ledger::default();
        let mut cursor = "earliest".to_owned();
        let mut poller = None;
        while !self.complete(&ledger) && Instant::now() < deadline {
            let cut_at = (Instant::now() + self.life()).min(deadline);
            let outcome = match self.transport {
                transport if transport.is_polled() => self.poll(&mut poller, &mut cursor, cut_at, &mut ledger).await,
                Transport::Ws => self.socket(&mut cursor, cut_at, &mut ledger).await,
                _ => self.stream(&mut cursor, cut_at, &mut ledger).await,
            };
            match outcome {
                Ok(Outcome::Cut) => ledger.counts.cuts += 1,
                Ok(Outcome::ServerEnded) => ledger.counts.server_ends += 1,
                Ok(Outcome::Complete) => break,
                Err(err) => {
                    ledger.counts.errors += 1;
                    ledger.first_error.get_or_insert_with(|| format!("{err:#}"));
                    poller = None;
                    sleep(Duration::from_millis(fastrand::u64(100..1000))).await;
                }
            }
        }
        ledger
    }

    fn life(&self) -> Duration {
        let uniform = fastrand::f64().max(f64::MIN_POSITIVE);
        self.mean_life.mul_f64(-uniform.ln())
    }

    fn complete(&self, ledger: &Ledger) -> bool {
        match *self.published.borrow() {
            Some(0) => true,
            Some(total) => ledger.seqs.last() == Some(&(total - 1)),
            None => false,
        }
    }

    /// One streaming response (SSE, streaming XHR or iframe), read until it ends or is cut.
    async fn stream(&mut self, cursor: &mut String, cut_at: Instant, ledger: &mut Ledger) -> anyhow::Result<Outcome> {
        let request = self.stream_request(cursor);
        ledger.counts.requests += 1;
        let mut response = http::send(http::connect(&self.target).await?, &request).await?;
        anyhow::ensure!(response.status == 200, "{:?} answered {}", self.transport, response.status);
        let mut reader = Reader::new(self.transport).with_callback(CALLBACK);
        let mut buffer = Vec::new();
        loop {
            tokio::select! {
                read = response.next(&mut buffer) => {
                    if read?.is_none() {
                        return Ok(Outcome::ServerEnded);
                    }
                }
                () = sleep_until(cut_at) => return Ok(Outcome::Cut),
                _ = self.published.changed(), if self.published.borrow().is_none() => {}
            }
            let ended = record(reader.push(&buffer)?.into_iter(), cursor, ledger)?;
            buffer.clear();
            if self.complete(ledger) {
                return Ok(Outcome::Complete);
            }
            if ended {
                return Ok(Outcome::ServerEnded);
            }
        }
    }

    /// One WebSocket subscribed from the cursor at its upgrade, read until the server
    /// closes it or the client cuts it (dropped without a closing handshake, as by a lost
    /// network).
    async fn socket(&mut self, cursor: &mut String, cut_at: Instant, ledger: &mut Ledger) -> anyhow::Result<Outcome> {
        ledger.counts.requests += 1;
        let mut socket = ws::connect(&self.target, &format!("/ws/{}?cursor={cursor}", self.channel)).await?;
        let mut reader = Reader::new(Transport::Ws);
        loop {
            let mut ended = false;
            tokio::select! {
                message = ws::next_text(&mut socket) => match message? {
                    Some(message) => ended = record(reader.push(&message)?.into_iter(), cursor, ledger)?,
                    None => return Ok(Outcome::ServerEnded),
                },
                () = sleep_until(cut_at) => return Ok(Outcome::Cut),
                _ = self.published.changed(), if self.published.borrow().is_none() => {}
            }
            if self.complete(ledger) {
                return Ok(Outcome::Complete);
            }
            if ended {
                return Ok(Outcome::ServerEnded);
            }
        }
    }

    /// The request a browser's client sends: SSE resumes by `Last-Event-ID`, the others by
    /// `?cursor=`.
    fn stream_request(&self, cursor: &str) -> Vec<u8> {
        let channel = &self.channel;
        match self.transport {
            Transport::Sse if cursor == "earliest" => http::get(&format!("/sse/{channel}?cursor=earliest"), ""),
            Transport::Sse => http::get(&format!("/sse/{channel}"), &format!("Last-Event-ID: {cursor}\r\n")),
            Transport::Stream => http::get(&format!("/stream/{channel}?cursor={cursor}"), ""),
            _ => http::get(&format!("/iframe/{channel}?cursor={cursor}&callback={CALLBACK}"), ""),
        }
    }

    /// Polls (long-poll or JSONP) on one keep-alive connection until the client cuts it.
    async fn poll(
        &mut self,
        connection: &mut Option<TcpStream>,
        cursor: &mut String,
        cut_at: Instant,
        ledger: &mut Ledger,
    ) -> anyhow::Result<Outcome> {
        loop {
            if self.complete(ledger) {
                return Ok(Outcome::Complete);
            }
            let stream = match connection.take() {
                Some(stream) => stream,
                None => http::connect(&self.target).await?,
            };
            let (route, channel) = (self.transport.route(), &self.channel);
            let request = http::get(&format!("/{route}/{channel}?cursor={cursor}&timeout=5&callback={CALLBACK}"), "");
            ledger.counts.requests += 1;
            let answer = async {
                let response = http::send(stream, &request).await?;
                anyhow::ensure!(response.status == 200, "poll answered {}", response.status);
                response.finish(Duration::from_secs(30)).await
            };
            let (body, stream) = tokio::select! {
                answer = answer => answer?,
                () = sleep_until(cut_at) => return Ok(Outcome::Cut),
            };
            let (frames, next) = match self.transport {
                Transport::Jsonp => cometgate_wire::jsonp(&body, CALLBACK)?,
                _ => cometgate_wire::poll(&body)?,
            };
            record(frames.into_iter(), cursor, ledger)?;
            *cursor = next;
            *connection = Some(stream);
        }
    }
}

/// Records events and gaps, moving the cursor to each event's id; true at an end frame.
fn record(frames: impl Iterator<Item = Frame>, cursor: &mut String, ledger: &mut Ledger) -> anyhow::Result<bool> {
    let mut ended = false;
    for frame in frames {
        match frame {
            Frame::Event(Received { id, data, .. }) => {
                ledger.seqs.push(sequence(&data)?);
                *cursor = id;
            }
            Frame::Gap(_) | Frame::ChannelGap { .. } => ledger.counts.gaps += 1,
            Frame::Close(_) | Frame::End { .. } => ended = true,
            Frame::Open(_) | Frame::Heartbeat => {}
        }
    }
    Ok(ended)
}

/// The publisher's sequence number in a payload `~SEQ.TIME.xxx`.
fn sequence(data: &str) -> anyhow::Result<u64> {
    let seq = data.strip_prefix('~').and_then(|rest| rest.split('.').next()).and_then(|seq| seq.parse().ok());
    seq.ok_or_else(|| anyhow::anyhow!("a payload that is not the publisher's: {data:.40}"))
}
