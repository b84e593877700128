//! One subscriber per task, over any of cometgate's transports or Nchan's subscriber kinds
//! (WebSocket included); each finds the benchmark's payload markers in what it receives.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use tokio::time::Instant;

use crate::http::{self, Response};
use crate::ws;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Sse,
    Poll,
    Stream,
    Iframe,
    /// cometgate's `/ws/{channels}`.
    Ws,
    NchanSse,
    NchanPoll,
    NchanStream,
    /// Nchan's WebSocket subscriber, on the same location as its SSE and long-poll.
    NchanWs,
}

impl Kind {
    /// Whether the server is Nchan (its publisher and subscriber paths differ).
    pub fn is_nchan(self) -> bool {
        matches!(self, Kind::NchanSse | Kind::NchanPoll | Kind::NchanStream | Kind::NchanWs)
    }
}

/// What one subscriber received: the sequence numbers, and each one's latency in µs.
#[derive(Default)]
pub struct Tally {
    pub seqs: Vec<u64>,
    pub latencies_us: Vec<u64>,
    pub requests: u64,
    pub error: Option<String>,
}

/// The payload of event `seq`: a marker the scanners find in any framing, the send time,
/// and padding up to `size` bytes.
pub fn payload(seq: u64, size: usize) -> String {
    let mut text = format!("~{seq}.{}.", now_us());
    while text.len() < size {
        text.push('x');
    }
    text
}

pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// A subscriber connected and waiting: a streaming response, a WebSocket, or a poller's
/// position.
pub enum Held {
    Streaming(Response),
    Socket(Box<ws::Socket>),
    Polling { stream: tokio::net::TcpStream, cursor: String, etag: Option<(String, String)> },
}

pub async fn connect(kind: Kind, address: &str, channel: &str) -> anyhow::Result<Held> {
    let socket = |path: String| async move { anyhow::Ok(Held::Socket(Box::new(ws::connect(address, &path).await?))) };
    let stream = match kind {
        Kind::Ws => return socket(format!("/ws/{channel}")).await,
        Kind::NchanWs => return socket(format!("/sub/{channel}")).await,
        _ => http::connect(address).await?,
    };
    let held = match kind {
        Kind::Sse => Held::Streaming(http::send(stream, &http::get(&format!("/sse/{channel}"), "")).await?),
        Kind::Stream => Held::Streaming(http::send(stream, &http::get(&format!("/stream/{channel}"), "")).await?),
        Kind::Iframe => Held::Streaming(http::send(stream, &http::get(&format!("/iframe/{channel}"), "")).await?),
        Kind::NchanSse => Held::Streaming(
            http::send(stream, &http::get(&format!("/sub/{channel}"), "Accept: text/event-stream\r\n")).await?,
        ),
        Kind::NchanStream => Held::Streaming(http::send(stream, &http::get(&format!("/raw/{channel}"), "")).await?),
        Kind::Poll => {
            let response = http::send(stream, &http::get(&format!("/poll/{channel}?timeout=0"), "")).await?;
            let (body, stream) = response.finish(Duration::from_secs(30)).await?;
            Held::Polling { stream, cursor: field(&body, "cursor").unwrap_or_default(), etag: None }
        }
        Kind::NchanPoll => Held::Polling { stream, cursor: String::new(), etag: None },
        Kind::Ws | Kind::NchanWs => anyhow::bail!("{kind:?} is a socket, opened above"),
    };
    if let Held::Streaming(response) = &held {
        anyhow::ensure!(response.status == 200, "{kind:?} subscribe answered {}", response.status);
    }
    Ok(held)
}

/// Receives until `expected` events arrived or `deadline` passed.
pub async fn run(held: Held, kind: Kind, address: &str, channel: &str, expected: usize, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let result = tokio::time::timeout_at(deadline, receive(held, kind, address, channel, expected, &mut tally)).await;
    if let Ok(Err(err)) = result {
        tally.error = Some(err.to_string());
    }
    tally
}

async fn receive(
    held: Held,
    kind: Kind,
    address: &str,
    channel: &str,
    expected: usize,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    match held {
        Held::Streaming(mut response) => {
            tally.requests = 1;
            let mut buffer = Vec::new();
            while tally.seqs.len() < expected {
                if response.next(&mut buffer).await?.is_none() {
                    anyhow::bail!("the stream ended");
                }
                scan(&mut buffer, tally);
            }
        }
        Held::Socket(mut socket) => {
            tally.requests = 1;
            while tally.seqs.len() < expected {
                let Some(mut message) = ws::next_text(&mut socket).await? else {
                    anyhow::bail!("the socket closed");
                };
                scan(&mut message, tally);
            }
        }
        Held::Polling { mut stream, mut cursor, mut etag } => {
            while tally.seqs.len() < expected {
                let request = match (kind, &etag) {
                    (Kind::Poll, _) => http::get(&format!("/poll/{channel}?cursor={cursor}&timeout=25"), ""),
                    (_, Some((modified, tag))) => http::get(
                        &format!("/sub/{channel}"),
                        &format!("If-Modified-Since: {modified}\r\nIf-None-Match: {tag}\r\n"),
                    ),
                    (_, None) => http::get(&format!("/sub/{channel}"), ""),
                };
                tally.requests += 1;
                // A browser reopens a keep-alive connection the server closed while idle; so do we.
                let (status, next_etag, mut body, next) = match poll_once(stream, &request).await {
                    Ok(answer) => answer,
                    Err(_) => poll_once(http::connect(address).await?, &request).await?,
                };
                stream = next;
                if kind == Kind::Poll {
                    cursor = field(&body, "cursor").unwrap_or(cursor);
                } else if status == 200 {
                    etag = next_etag.or(etag);
                }
                scan(&mut body, tally);
            }
        }
    }
    Ok(())
}

type PollAnswer = (u16, Option<(String, String)>, Vec<u8>, tokio::net::TcpStream);

async fn poll_once(stream: tokio::net::TcpStream, request: &[u8]) -> anyhow::Result<PollAnswer> {
    let response = http::send(stream, request).await?;
    let etag = response.header("last-modified").zip(response.header("etag"));
    let etag = etag.map(|(m, e)| (m.to_owned(), e.to_owned()));
    let status = response.status;
    let (body, stream) = response.finish(Duration::from_secs(60)).await?;
    Ok((status, etag, body, stream))
}

/// Records every complete `~seq.time.` marker in `buffer`, keeping a partial one at the end.
fn scan(buffer: &mut Vec<u8>, tally: &mut Tally) {
    let mut keep_from = buffer.len();
    let mut at = 0;
    while let Some(offset) = buffer[at..].iter().position(|&b| b == b'~') {
        let start = at + offset;
        match marker(&buffer[start + 1..]) {
            Some(Some((seq, sent_us, len))) => {
                tally.seqs.push(seq);
                tally.latencies_us.push(now_us().saturating_sub(sent_us));
                at = start + 1 + len;
            }
            Some(None) => at = start + 1,
            None => {
                keep_from = start;
                break;
            }
        }
    }
    buffer.drain(..keep_from);
}

/// `seq.time.` at the start of `text`: `None` if more bytes are needed, `Some(None)` if
/// it is not a marker.
fn marker(text: &[u8]) -> Option<Option<(u64, u64, usize)>> {
    let mut numbers = [0u64; 2];
    let mut at = 0;
    for number in &mut numbers {
        let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        if at + digits >= text.len() {
            return None;
        }
        if digits == 0 || text[at + digits] != b'.' {
            return Some(None);
        }
        *number = std::str::from_utf8(&text[at..at + digits]).ok()?.parse().ok()?;
        at += digits + 1;
    }
    Some(Some((numbers[0], numbers[1], at)))
}

/// A JSON string field's value, found by name (enough for the cursor of a poll answer).
fn field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let key = format!("\"{name}\":\"");
    let start = text.find(&key)? + key.len();
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_across_reads() {
        let mut tally = Tally::default();
        let mut buffer = b"data: ~12.100.xxx\n\ndata: ~13.2".to_vec();
        scan(&mut buffer, &mut tally);
        assert_eq!(tally.seqs, [12]);
        buffer.extend_from_slice(b"00.xx\n");
        scan(&mut buffer, &mut tally);
        assert_eq!(tally.seqs, [12, 13]);
        assert!(buffer.is_empty() || !buffer.contains(&b'~'));
    }
}
