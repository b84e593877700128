//! The same API tests on the Redis backend (each gateway on a `redis-server` of its own),
//! plus what only several nodes show: sharing channels, losing a node, losing Redis.

pub const BACKEND: helpers::Backend = helpers::Backend::Redis;

#[path = "../api/access.rs"]
mod access;
#[path = "../api/channels.rs"]
mod channels;
#[path = "../api/demo.rs"]
mod demo;
#[path = "../api/edges.rs"]
mod edges;
#[path = "../api/ends.rs"]
mod ends;
mod epochs;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/hosts.rs"]
mod hosts;
#[path = "../api/internal.rs"]
mod internal;
#[path = "../api/jsonp.rs"]
mod jsonp;
#[path = "../api/lifecycle.rs"]
mod lifecycle;
#[path = "../api/limits.rs"]
mod limits;
#[path = "../api/multi.rs"]
mod multi;
mod nodes;
#[path = "../api/observe.rs"]
mod observe;
#[path = "../api/payloads.rs"]
mod payloads;
#[path = "../api/poll.rs"]
mod poll;
#[path = "../api/publish.rs"]
mod publish;
#[path = "../api/redis_server.rs"]
mod redis_server;
#[path = "../api/slow_readers.rs"]
mod slow_readers;
#[path = "../api/sse.rs"]
mod sse;
#[path = "../api/stream_and_iframe.rs"]
mod stream_and_iframe;
#[path = "../api/subscriber.rs"]
mod subscriber;
#[path = "../api/tokens.rs"]
mod tokens;
#[path = "../api/transports.rs"]
mod transports;
