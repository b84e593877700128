//! The load tools' shared parts:
//! - `http`: a minimal HTTP/1.1 client, small enough for ten thousand per process;
//! - `subscriber`, `publisher`: the load generator's clients, which find payload markers in
//!   any framing (cometgate's transports and Nchan's subscriber kinds);
//! - `soak`: a resuming client per transport that parses each framing and keeps its cursor;
//! - `stats`: percentiles, and a server's CPU time and memory from `/proc`;
//! - `ws`: a WebSocket subscriber's socket, with buffers small enough for ten thousand.
//!
//! The binaries are `loadgen` (one measured run) and `soak` (minutes of drops and resumes).

pub mod http;
pub mod publisher;
pub mod soak;
pub mod stats;
pub mod subscriber;
pub mod ws;
