//! The gateway's API tests: one binary, each test against its own gateway on port 0.

/// The API tests run on the embedded in-memory bus here, and on Redis in `tests/redis`.
pub const BACKEND: helpers::Backend = helpers::Backend::Memory;

mod access;
mod channels;
mod demo;
mod edges;
mod ends;
// Shared with tests/redis, which alone uses the parts for several nodes and Redis faults.
#[allow(dead_code)]
mod helpers;
mod hosts;
mod internal;
mod jsonp;
mod lifecycle;
mod limits;
mod multi;
mod observe;
mod payloads;
mod poll;
mod publish;
#[allow(dead_code)]
mod redis_server;
mod slow_readers;
mod sse;
mod stream_and_iframe;
mod subscriber;
mod tokens;
mod transports;
