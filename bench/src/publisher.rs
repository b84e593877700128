//! The publisher: one keep-alive connection posting events at a steady rate.

use std::time::Duration;

use anyhow::ensure;
use tokio::time::Instant;

use crate::http;
use crate::subscriber::{Kind, now_us, payload};

#[derive(Default)]
pub struct Published {
    /// How long each publish request took, in µs.
    pub latencies_us: Vec<u64>,
    /// From the first publish until every subscriber was done.
    pub seconds: f64,
}

/// Publishes `events` payloads of `size` bytes at `rate` per second (0: back to back),
/// each on the next of `channels` in turn.
pub async fn run(
    target: &str,
    kind: Kind,
    channels: &[String],
    events: usize,
    rate: f64,
    size: usize,
) -> anyhow::Result<Published> {
    let nchan = kind.is_nchan();
    let paths: Vec<String> = channels
        .iter()
        .map(|channel| if nchan { format!("/pub?id={channel}") } else { format!("/channels/{channel}") })
        .collect();
    let mut stream = http::connect(target).await?;
    let mut published = Published::default();
    let started = Instant::now();
    for seq in 0..events as u64 {
        if rate > 0.0 {
            tokio::time::sleep_until(started + Duration::from_secs_f64(seq as f64 / rate)).await;
        }
        let (path, body) = (&paths[seq as usize % paths.len()], payload(seq, size));
        let request =
            format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let sent = now_us();
        let response = http::send(stream, request.as_bytes()).await?;
        let status = response.status;
        let (_, next) = response.finish(Duration::from_secs(30)).await?;
        stream = next;
        ensure!((200..300).contains(&status), "publish answered {status}");
        published.latencies_us.push(now_us() - sent);
    }
    published.seconds = started.elapsed().as_secs_f64();
    Ok(published)
}
