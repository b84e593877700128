//! A minimal HTTP/1.1 client over raw TCP: one request, then the body as it arrives,
//! de-chunked. Small on purpose: ten thousand of them share one process.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response being read: its head, then body bytes as they come.
pub struct Response {
    stream: TcpStream,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    framing: Framing,
    raw: Vec<u8>,
}

enum Framing {
    Length(usize),
    Chunked(Chunk),
    UntilClose,
}

/// Where a chunked body's decoder stands.
enum Chunk {
    Size,
    Data(usize),
    DataEnd,
    Done,
}

/// Opens a connection to `address` (`host:port`).
pub async fn connect(address: &str) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(address).await.with_context(|| format!("connect {address}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sends `request` (a complete HTTP/1.1 request) on `stream` and reads the response head.
pub async fn send(mut stream: TcpStream, request: &[u8]) -> anyhow::Result<Response> {
    stream.write_all(request).await?;
    Response::read_head(stream).await
}

/// A GET with the given extra header lines (each ending in CRLF).
pub fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").into_bytes()
}

impl Response {
    pub async fn read_head(mut stream: TcpStream) -> anyhow::Result<Response> {
        let mut raw = Vec::with_capacity(1024);
        let end = loop {
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            let mut chunk = [0u8; 2048];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed before the response head");
            }
            raw.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let framing = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            Framing::Chunked(Chunk::Size)
        } else if let Some(length) = header("content-length").and_then(|v| v.parse().ok()) {
            Framing::Length(length)
        } else {
            Framing::UntilClose
        };
        raw.drain(..end + 4);
        Ok(Response { stream, status, headers, framing, raw })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The next body bytes, de-chunked; `None` at the end of the body.
    pub async fn next(&mut self, out: &mut Vec<u8>) -> anyhow::Result<Option<()>> {
        loop {
            if self.take_ready(out)? {
                return Ok(Some(()));
            }
            if self.finished() {
                return Ok(None);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.raw.extend_from_slice(&chunk[..n]);
        }
    }

    /// The whole remaining body within `limit`, and the connection for the next request.
    pub async fn finish(mut self, limit: Duration) -> anyhow::Result<(Vec<u8>, TcpStream)> {
        let mut body = Vec::new();
        tokio::time::timeout(limit, async {
            while self.next(&mut body).await?.is_some() {}
            anyhow::Ok(())
        })
        .await??;
        Ok((body, self.stream))
    }

    fn finished(&self) -> bool {
        matches!(self.framing, Framing::Length(0) | Framing::Chunked(Chunk::Done))
    }

    /// Moves whatever body bytes are buffered into `out`; true if it moved any.
    fn take_ready(&mut self, out: &mut Vec<u8>) -> anyhow::Result<bool> {
        let before = out.len();
        match &mut self.framing {
            Framing::UntilClose => out.append(&mut self.raw),
            Framing::Length(left) => {
                let n = (*left).min(self.raw.len());
                out.extend(self.raw.drain(..n));
                *left -= n;
            }
            Framing::Chunked(chunk) => loop {
                match chunk {
                    Chunk::Size => {
                        let Some(at) = self.raw.windows(2).position(|w| w == b"\r\n") else { break };
                        let line = String::from_utf8_lossy(&self.raw[..at]).into_owned();
                        self.raw.drain(..at + 2);
                        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)?;
                        *chunk = if size == 0 { Chunk::Done } else { Chunk::Data(size) };
                    }
                    Chunk::Data(left) => {
                        let n = (*left).min(self.raw.len());
                        if n == 0 {
                            break;
                        }
                        out.extend(self.raw.drain(..n));
                        *left -= n;
                        if *left == 0 {
                            *chunk = Chunk::DataEnd;
                        }
                    }
                    Chunk::DataEnd => {
                        if self.raw.len() < 2 {
                            break;
                        }
                        self.raw.drain(..2);
                        *chunk = Chunk::Size;
                    }
                    Chunk::Done => break,
                }
            },
        }
        Ok(out.len() > before)
    }
}
