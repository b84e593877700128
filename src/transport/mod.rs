//! The transports, and what they share: how a held connection is run, its headers,
//! the JSON encoding of an event, and the options of every accepted socket.
//!
//! Each transport owns its routes and a [`Framing`]; the loop that holds a connection open
//! (next event, heartbeat, age and byte caps, shutdown) is [`held_body`], written once.
//! The list of transports is the one `transports!` line below.

mod held;
pub mod json;
pub mod socket;
#[cfg(test)]
mod tests;

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use serde::Deserialize;

use crate::bus::{Cursor, Subscription, check_channel};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::limits::ConnectionSlot;

pub use held::{Framing, held_body};

/// Declares the transports from one list: each is a module of this folder with a
/// `configure` for its routes, a [`Transport`] variant, and a name (its route segment,
/// metric label and log name).
macro_rules! transports {
    ($($variant:ident => $module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// The ways a subscriber is served.
        #[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
        pub enum Transport {
            $($variant),+
        }

        impl Transport {
            /// Every transport, in the order they are listed.
            pub const ALL: &'static [Transport] = &[$(Transport::$variant),+];

            /// The name used in routes, metric labels and logs.
            pub fn name(self) -> &'static str {
                match self {
                    $(Transport::$variant => stringify!($module)),+
                }
            }
        }

        /// Registers every transport's routes.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $($module::configure(cfg);)+
        }
    };
}

transports! { Sse => sse, Poll => poll, Stream => stream, Iframe => iframe, Jsonp => jsonp }

/// The query parameters the transports accept; each uses those it needs.
#[derive(Debug, Default, Deserialize)]
pub struct SubscribeQuery {
    #[serde(default)]
    pub cursor: String,
    pub callback: Option<String>,
    pub timeout: Option<String>,
    pub token: Option<String>,
    /// SSE: where an EventSource polyfill resumes (it cannot send `Last-Event-ID` across
    /// origins without a preflight, so it sends the id in the query).
    #[serde(rename = "lastEventId")]
    pub last_event_id: Option<String>,
    /// The same, as Mercure spells it.
    #[serde(rename = "lastEventID")]
    pub last_event_id_mercure: Option<String>,
    /// Iframe: the parent page's origin, when it is not the gateway's; the scripts then
    /// deliver with `postMessage` to exactly that origin.
    pub origin: Option<String>,
}

/// A subscription, and how long the subscriber's token lets it be held (`None`: public).
pub struct Admitted {
    pub subscription: Subscription,
    pub valid_for: Option<Duration>,
    /// The connection as counted against its peer's limit, for as long as it is held.
    pub slot: ConnectionSlot,
}

/// Admits the request to the channels from the path (checking its token when the gateway
/// requires one) and subscribes it at `cursor`. It counts once against the limits, however
/// many channels it follows.
pub async fn subscribe(
    gateway: &Gateway,
    request: &HttpRequest,
    channels: &[String],
    query: &SubscribeQuery,
    cursor: Cursor,
) -> Result<Admitted, ApiError> {
    let valid_for = match &gateway.tokens {
        Some(tokens) => Some(tokens.check(request, query.token.as_deref(), channels)?),
        None => None,
    };
    let slot = gateway.limits.take_connection(request)?;
    Ok(Admitted { subscription: gateway.bus.subscribe(channels, cursor).await?, valid_for, slot })
}

/// The channels of a subscribe path, `a` or `a,b,c`: each name checked, duplicates
/// collapsed (first place kept), at most `max` of them. A single name is refused as it
/// always was; in a list, the refusal names the bad one.
pub fn channel_list(path: &str, max: usize) -> Result<Vec<String>, ApiError> {
    if !path.contains(',') {
        check_channel(path)?;
        return Ok(vec![path.to_owned()]);
    }
    let mut channels: Vec<String> = Vec::new();
    for name in path.split(',') {
        check_channel(name).map_err(|err| ApiError::ChannelInList(name.chars().take(128).collect(), err))?;
        if !channels.iter().any(|listed| listed == name) {
            channels.push(name.to_owned());
        }
        if channels.len() > max {
            return Err(ApiError::BadRequest(format!("at most {max} channels per connection")));
        }
    }
    Ok(channels)
}

/// A response with the headers every held connection needs: never cached, never buffered
/// by a proxy, never sniffed (Chromium holds a sniffed `text/plain` stream back for 1 KiB).
/// Nothing here compresses, since an unflushed compressor would hold the stream.
pub fn held_response(content_type: &'static str) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header(("x-accel-buffering", HeaderValue::from_static("no")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
    response
}
