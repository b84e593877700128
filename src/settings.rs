//! Every address, timeout, size and limit of the gateway, read from flags or the environment.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use crate::bus::Bounds;

/// cometgate: one event bus, five Comet transports (SSE, long-polling, streaming XHR,
/// hidden iframe, JSONP). Every flag can also be set by the environment variable shown.
#[derive(Debug, Clone, Parser)]
#[command(name = "cometgate", version, about, long_about = None)]
pub struct Settings {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on; port 0 picks a free port.
    #[arg(help_heading = "Serving and access", long, env = "COMETGATE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// A second address for the publishers' and operators' side (publish API, channel
    /// figures, `/metrics`, `/healthz`, `/readyz`), served by a worker of its own so that no
    /// subscriber load delays a publish. With it, those routes leave `--bind`.
    #[arg(help_heading = "Serving and access", long, env = "COMETGATE_INTERNAL_BIND")]
    pub internal_bind: Option<SocketAddr>,

    /// Token publishers must send as `Authorization: Bearer <token>`. Without one, only
    /// loopback peers may publish (set one behind a reverse proxy on the same host).
    #[arg(help_heading = "Serving and access", long, env = "COMETGATE_PUBLISH_TOKEN", hide_env_values = true)]
    pub publish_token: Option<String>,

    /// Secret that signs subscriber tokens (JWT, HS256). With it, every subscriber must
    /// present a token for its channel; without it, channels are public.
    #[arg(help_heading = "Serving and access", long, env = "COMETGATE_SUBSCRIBE_SECRET", hide_env_values = true)]
    pub subscribe_secret: Option<String>,

    /// Origins allowed to call the gateway from a browser (repeatable, or comma-separated in
    /// the environment); `*` allows any. Without it, only the gateway's own origin.
    #[arg(
        help_heading = "Serving and access",
        long = "allow-origin",
        env = "COMETGATE_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,

    /// Origins the gateway is reached by (repeatable, or comma-separated in the
    /// environment), such as `https://push.example.com`. Requests are answered only when
    /// their `Host` is `localhost`, an IP address or one of these names (others get `421`,
    /// which stops DNS rebinding), and a page from one of these origins is same-origin.
    #[arg(
        help_heading = "Serving and access",
        long = "public-origin",
        env = "COMETGATE_PUBLIC_ORIGIN",
        value_delimiter = ','
    )]
    pub public_origins: Vec<String>,

    /// Turn the demo off: `/` and `POST /demo/jobs` answer `404` (the client library at
    /// `/static/comet.js` stays).
    #[arg(help_heading = "Serving and access", long, env = "COMETGATE_NO_DEMO")]
    pub no_demo: bool,

    /// Redis to share channels, ids and backlogs with other nodes (`redis://host:port/db`).
    /// Without it the bus lives in this process's memory.
    #[arg(help_heading = "Store", long, env = "COMETGATE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Events kept per channel for subscribers that resume.
    #[arg(help_heading = "Store", long, env = "COMETGATE_BACKLOG_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub backlog_size: u32,

    /// How long an event stays in its channel's backlog.
    #[arg(help_heading = "Store", long, env = "COMETGATE_BACKLOG_MAX_AGE", default_value = "1h", value_parser = humantime::parse_duration)]
    pub backlog_max_age: Duration,

    /// Largest event payload a publisher may send, in bytes.
    #[arg(help_heading = "Store", long, env = "COMETGATE_MAX_EVENT_BYTES", default_value_t = 64 * 1024)]
    pub max_event_bytes: usize,

    /// Most channels held in memory: a publish that would create one more gets `503`
    /// (subscribing creates none). Also how many dropped channels' positions are remembered.
    #[arg(help_heading = "Store", long, env = "COMETGATE_MAX_CHANNELS", default_value_t = 100_000)]
    pub max_channels: usize,

    /// Live events buffered per channel for slow readers; past it they refill from the backlog.
    #[arg(help_heading = "Store", long, env = "COMETGATE_FANOUT_BUFFER", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout_buffer: u32,

    /// How long an unused channel (no subscribers, empty backlog) is kept before it is dropped.
    #[arg(help_heading = "Store", long, env = "COMETGATE_CHANNEL_IDLE", default_value = "5m", value_parser = humantime::parse_duration)]
    pub channel_idle: Duration,

    /// How often idle channels and expired events are swept.
    #[arg(help_heading = "Store", long, env = "COMETGATE_SWEEP_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub sweep_interval: Duration,

    /// Interval between heartbeats on an idle held connection.
    #[arg(help_heading = "Transports", long, env = "COMETGATE_HEARTBEAT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub heartbeat: Duration,

    /// Longest a long-poll is held when no event comes (and its default).
    #[arg(help_heading = "Transports", long, env = "COMETGATE_POLL_TIMEOUT", default_value = "25s", value_parser = humantime::parse_duration)]
    pub poll_timeout: Duration,

    /// Most events one long-poll answer carries; the client comes straight back for more.
    #[arg(help_heading = "Transports", long, env = "COMETGATE_POLL_BATCH", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub poll_batch: u32,

    /// Bytes after which a long-poll answer takes no more events (it always carries at
    /// least one); the client comes straight back for the rest with the answer's cursor.
    #[arg(help_heading = "Transports", long, env = "COMETGATE_POLL_MAX_BYTES", default_value_t = 256 * 1024)]
    pub poll_max_bytes: usize,

    /// Age after which a streaming response ends itself with a reconnect frame.
    #[arg(help_heading = "Transports", long, env = "COMETGATE_STREAM_MAX_AGE", default_value = "10m", value_parser = humantime::parse_duration)]
    pub stream_max_age: Duration,

    /// Bytes after which a streaming response ends itself (the browser keeps them all).
    #[arg(help_heading = "Transports", long, env = "COMETGATE_STREAM_MAX_BYTES", default_value_t = 128 * 1024)]
    pub stream_max_bytes: usize,

    /// Reconnection delay an EventSource is told to use (the SSE `retry:` field).
    #[arg(help_heading = "Transports", long, env = "COMETGATE_SSE_RETRY", default_value = "2s", value_parser = humantime::parse_duration)]
    pub sse_retry: Duration,

    /// Most subscribers held at once; past it new ones get `503` with `Retry-After`.
    #[arg(help_heading = "Limits", long, env = "COMETGATE_MAX_SUBSCRIBERS", default_value_t = 16_384)]
    pub max_subscribers: usize,

    /// Most distinct channels this node's subscribers follow at once; a subscriber to one
    /// more gets `503` (publishers are never refused for it).
    #[arg(help_heading = "Limits", long, env = "COMETGATE_MAX_SUBSCRIBED_CHANNELS", default_value_t = 16_384)]
    pub max_subscribed_channels: usize,

    /// Most channels one connection may follow (`/sse/a,b,c`); more is `400`.
    #[arg(help_heading = "Limits", long, env = "COMETGATE_MAX_CHANNELS_PER_CONNECTION", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_channels_per_connection: u16,

    /// Connections the kernel may queue before the gateway accepts them (a burst of
    /// reconnecting clients arrives at once; a short queue drops them for a second).
    #[arg(help_heading = "Limits", long, env = "COMETGATE_LISTEN_BACKLOG", default_value_t = 4096)]
    pub listen_backlog: u32,

    /// Most held connections (long-polls included) one IP address may have at once.
    #[arg(help_heading = "Limits", long, env = "COMETGATE_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,

    /// Most publishes per second one IP address may send (0: no limit).
    #[arg(help_heading = "Limits", long, env = "COMETGATE_PUBLISH_RATE", default_value_t = 1000)]
    pub publish_rate: u32,

    /// Apply the per-IP limits to loopback peers too (off: loopback is the application's
    /// backend or a reverse proxy on this host, whose clients all look like loopback).
    #[arg(help_heading = "Limits", long, env = "COMETGATE_LIMIT_LOOPBACK")]
    pub limit_loopback: bool,

    /// Largest request line plus headers, in bytes; past it requests get `431`.
    #[arg(help_heading = "Limits", long, env = "COMETGATE_MAX_REQUEST_HEAD", default_value_t = 16 * 1024)]
    pub max_request_head: usize,

    /// Longest a client may take to send its request line and headers.
    #[arg(help_heading = "Limits", long, env = "COMETGATE_REQUEST_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Bytes a subscriber may fall behind the live stream before it is cut (it resumes
    /// from its cursor, losing nothing).
    #[arg(help_heading = "Limits", long, env = "COMETGATE_MAX_UNSENT_BYTES", default_value_t = 1 << 20)]
    pub max_unsent_bytes: usize,

    /// Kernel send buffer of each connection, in bytes (Linux reserves twice this); it bounds
    /// what a client that stops reading holds in the kernel. 0: the kernel's autotuning.
    #[arg(help_heading = "Limits", long, env = "COMETGATE_SEND_BUFFER", default_value_t = 64 * 1024)]
    pub send_buffer: usize,

    /// Longest sent data may stay unacknowledged, a zero window included, before the kernel
    /// closes the connection (`TCP_USER_TIMEOUT`, Linux); the client resumes from its last
    /// complete event. 0: the kernel's default.
    #[arg(help_heading = "Limits", long, env = "COMETGATE_SEND_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub send_timeout: Duration,

    /// Longest the server waits for open requests after a shutdown signal.
    #[arg(help_heading = "Process", long, env = "COMETGATE_DRAIN", default_value = "5s", value_parser = humantime::parse_duration)]
    pub drain: Duration,

    /// Log lines as human-readable text or as one JSON object per line.
    #[arg(help_heading = "Process", long, env = "COMETGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Worker threads (default: one per core).
    #[arg(help_heading = "Process", long, env = "COMETGATE_WORKERS")]
    pub workers: Option<usize>,
}

/// What the binary does instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Prints a subscriber token signed with --subscribe-secret.
    Token {
        /// A channel it grants, or a prefix ending in `*` (`jobs.*`); repeat for several.
        #[arg(long, required = true)]
        channel: Vec<String>,
        /// How long it stays valid.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}

/// How log lines are written (the level comes from `RUST_LOG`, default `info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// The defaults with the given address: how tests build settings without the environment.
    pub fn with_bind(bind: SocketAddr) -> Self {
        let mut settings = Settings::parse_from(["cometgate"]);
        settings.bind = bind;
        settings
    }

    /// The bus's share of the settings.
    pub fn bounds(&self) -> Bounds {
        Bounds {
            backlog_size: self.backlog_size as usize,
            backlog_max_age: self.backlog_max_age,
            fanout_buffer: self.fanout_buffer as usize,
            channel_idle: self.channel_idle,
            max_subscribers: self.max_subscribers,
            max_subscribed_channels: self.max_subscribed_channels,
            max_channels: self.max_channels,
        }
    }
}
