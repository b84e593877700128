//! Property tests on everything the gateway parses from a request and on every
//! transport's encoder, checked against independent models and real parsers of each
//! framing; and a bounded fuzz of the HTTP API over real TCP.
//!
//! Layout:
//! - `names`: cursors, ids, channel names, event types and callbacks against models;
//! - `encoders`: any UTF-8 payload round-trips through SSE, stream lines and iframe JSON;
//! - `history`: paging the history API both ways against a model of the backlog;
//! - `http`: generated requests against a gateway on 127.0.0.1 never get a 5xx or hang.

mod encoders;
mod history;
mod http;
mod names;

/// Cases per property: enough to reach the edges, few enough to run in seconds in debug.
const CASES: u32 = 512;
