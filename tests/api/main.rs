//! The gateway's API tests: one binary, each test against its own gateway on port 0.

mod helpers;
mod lifecycle;
mod payloads;
mod poll;
mod publish;
mod sse;
mod stream_and_iframe;
mod subscriber;
mod transports;
