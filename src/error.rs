//! The HTTP layer's errors: each variant is one status and a JSON body saying what is wrong.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::bus::{BusError, MalformedId, NameError};

/// Everything a request can be refused for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `400`: a channel or event name outside the allowed alphabet or length.
    #[error(transparent)]
    Name(#[from] NameError),
    /// `400`: a bad name in a channel list, named in the message.
    #[error("channel {0:?}: {1}")]
    ChannelInList(String, NameError),
    /// `400`: a `cursor` that is neither empty, `earliest` nor an id.
    #[error("bad cursor: {0}")]
    Cursor(#[from] MalformedId),
    /// `400`: any other malformed parameter (callback, timeout, query string).
    #[error("{0}")]
    BadRequest(String),
    /// `400`: a publish body that is not UTF-8.
    #[error("event data must be UTF-8 text")]
    NotUtf8,
    /// `413`: a publish body over the configured maximum.
    #[error("event data is larger than the maximum of {0} bytes")]
    TooLarge(usize),
    /// `401`: a token is needed and none was sent.
    #[error("{0}")]
    MissingToken(&'static str),
    /// `401`: a subscriber token that is malformed, badly signed or expired.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// `403`: a wrong publish token, a subscriber token for another channel, an origin
    /// not allowed, or no publish token configured and a peer that is not loopback.
    #[error("{0}")]
    Forbidden(&'static str),
    /// `403`: a subscriber token that does not cover one of the channels asked for.
    #[error("the token does not cover channel {0:?}")]
    NotCovered(String),
    /// `429` with `Retry-After` (seconds): the peer holds or sends too much.
    #[error("{0}")]
    TooMany(&'static str, u64),
    /// `431`: a request line and headers over the configured size.
    #[error("the request line and headers are larger than {0} bytes")]
    HeadTooLarge(usize),
    /// `421`: a `Host` the gateway does not answer for (see `--public-origin`).
    #[error("this gateway does not answer for this host name: see --public-origin")]
    UnknownHost,
    /// `405`: a route that exists, with a method it does not take.
    #[error("this route does not take this method")]
    MethodNotAllowed,
    /// `404`: no such route.
    #[error("no such resource")]
    NotFound,
    /// `500`: a fault of the gateway's own; the cause is logged, not sent.
    #[error("internal error")]
    Internal(String),
    /// `503` with `Retry-After`: the gateway is full, or its store (Redis) is unreachable;
    /// `409` for a publish to a channel that ended.
    #[error("{}", bus_message(.0))]
    Bus(#[from] BusError),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Name(NameError::Channel) | ApiError::ChannelInList(..) => "bad_channel",
            ApiError::Name(_) => "bad_event_type",
            ApiError::Cursor(_) => "bad_cursor",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotUtf8 => "not_utf8",
            ApiError::TooLarge(_) => "too_large",
            ApiError::MissingToken(_) => "missing_token",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::Forbidden(_) | ApiError::NotCovered(_) => "forbidden",
            ApiError::TooMany(..) => "too_many_requests",
            ApiError::HeadTooLarge(_) => "head_too_large",
            ApiError::UnknownHost => "unknown_host",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::Internal(_) => "internal",
            ApiError::Bus(BusError::Full) => "too_many_subscribers",
            ApiError::Bus(BusError::Unavailable(_)) => "store_unavailable",
            ApiError::Bus(BusError::TooManyChannels) => "too_many_channels",
            ApiError::Bus(BusError::TooManySubscribedChannels) => "too_many_subscribed_channels",
            ApiError::Bus(BusError::Ended) => "channel_ended",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Name(_)
            | ApiError::ChannelInList(..)
            | ApiError::Cursor(_)
            | ApiError::BadRequest(_)
            | ApiError::NotUtf8 => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MissingToken(_) | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::NotCovered(_) => StatusCode::FORBIDDEN,
            ApiError::TooMany(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnknownHost => StatusCode::MISDIRECTED_REQUEST,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Bus(BusError::Ended) => StatusCode::CONFLICT,
            ApiError::Bus(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(cause, "internal error"),
            ApiError::Bus(BusError::Unavailable(cause)) => tracing::warn!(cause, "event store unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Bus(BusError::Ended) => &mut response,
            ApiError::Bus(_) => response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5"))),
            ApiError::TooMany(_, seconds) => response.insert_header((header::RETRY_AFTER, HeaderValue::from(*seconds))),
            ApiError::MissingToken(_) | ApiError::InvalidToken(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")))
            }
            _ => &mut response,
        };
        response.json(json!({ "error": self.code(), "message": self.to_string() }))
    }
}

/// The store's own error text stays in the log; the client learns only that it is down.
fn bus_message(err: &BusError) -> String {
    match err {
        BusError::Full | BusError::TooManyChannels | BusError::TooManySubscribedChannels | BusError::Ended => {
            err.to_string()
        }
        BusError::Unavailable(_) => "the event store is unavailable; retry shortly".into(),
    }
}

/// Turns the framework's own extractor errors (bad query strings, paths) into ours.
pub fn bad_request(err: impl std::fmt::Display) -> actix_web::Error {
    ApiError::BadRequest(err.to_string()).into()
}
