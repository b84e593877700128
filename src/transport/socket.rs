//! Options set on every accepted connection, so that what the kernel holds for a client
//! is small and bounded in time as well as in bytes.
//!
//! A client that stops reading stops the gateway too: once the kernel's send buffer and
//! actix's write buffer (32 KiB, plus the chunk that filled it) are full, actix no longer
//! polls the response body, so no held loop can notice. What such a connection holds is
//! therefore bounded by the buffers themselves (a capped send buffer), and how long it
//! holds them by the kernel (`TCP_USER_TIMEOUT`, which also ends a zero window).

use std::any::Any;
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use socket2::SockRef;

use crate::settings::Settings;

/// The on-connect hook for the server, with the socket sizes and timeout of `settings`.
pub fn on_connect(settings: &Settings) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
    let (send_buffer, send_timeout) = (settings.send_buffer, settings.send_timeout);
    move |connection, _| {
        if let Some(tcp) = connection.downcast_ref::<TcpStream>() {
            tune(tcp, send_buffer, send_timeout);
        }
    }
}

/// Events are small writes that must leave at once: Nagle's algorithm would hold one back
/// until the client acknowledges the last (up to 40 ms with delayed acks). A send buffer
/// of 0 keeps the kernel's autotuning (up to megabytes per connection), a timeout of 0
/// the kernel's retransmission limits (many minutes, forever for a zero window).
fn tune(tcp: &TcpStream, send_buffer: usize, send_timeout: Duration) {
    let socket = SockRef::from(tcp);
    let _ = socket.set_tcp_nodelay(true);
    if send_buffer > 0 {
        let _ = socket.set_send_buffer_size(send_buffer);
    }
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    let _ = socket.set_tcp_user_timeout(Some(send_timeout).filter(|timeout| !timeout.is_zero()));
    #[cfg(not(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))]
    let _ = send_timeout;
}
