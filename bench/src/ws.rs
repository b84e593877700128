//! A WebSocket subscriber's socket (tokio-tungstenite) with small buffers, so that ten
//! thousand of them fit in one load generator, and its text messages as bytes.

use anyhow::Context;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::http;

pub type Socket = WebSocketStream<TcpStream>;

/// Bytes read from the connection at a time; the library's default (128 KiB) per socket
/// would cost the load generator more memory than the gateway it measures.
const READ_BUFFER: usize = 4096;

/// Opens a WebSocket to `path` on `address` (`host:port`); an upgrade the server refuses
/// is an error naming its status.
pub async fn connect(address: &str, path: &str) -> anyhow::Result<Socket> {
    let stream = http::connect(address).await?;
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER).write_buffer_size(0);
    let url = format!("ws://{address}{path}");
    let (socket, _) = tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
        .await
        .with_context(|| format!("WebSocket upgrade of {path}"))?;
    Ok(socket)
}

/// The next text message, skipping control frames (the library answers pings while it
/// reads); `None` once the server closed the socket.
pub async fn next_text(socket: &mut Socket) -> anyhow::Result<Option<Vec<u8>>> {
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => return Ok(Some(text.as_bytes().to_vec())),
            Message::Close(_) => return Ok(None),
            Message::Binary(_) => anyhow::bail!("a binary WebSocket message"),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
    Ok(None)
}
