//! What the operator sees: Prometheus metrics at `/metrics`, liveness at `/healthz`,
//! readiness (the bus, and Redis when configured, answers) at `/readyz`.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::transport::Transport;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics))
        .route("/healthz", web::get().to(|| async { HttpResponse::Ok().json(json!({ "status": "ok" })) }))
        .route("/readyz", web::get().to(ready));
}

impl EncodeLabelValue for Transport {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.name())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ByTransport {
    pub transport: Transport,
}

/// Every figure the gateway keeps; cheap to update from any worker.
pub struct Metrics {
    registry: Registry,
    pub subscribers: Family<ByTransport, Gauge>,
    pub delivered: Family<ByTransport, Counter>,
    pub bytes_out: Family<ByTransport, Counter>,
    pub published: Counter,
    pub publish_seconds: Histogram,
    pub gaps: Counter,
    pub slow_readers_cut: Counter,
    pub polls: Counter,
    channels: Gauge,
    backlog_events: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("cometgate");
        let metrics = Metrics {
            subscribers: Family::default(),
            delivered: Family::default(),
            bytes_out: Family::default(),
            published: Counter::default(),
            publish_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            gaps: Counter::default(),
            slow_readers_cut: Counter::default(),
            polls: Counter::default(),
            channels: Gauge::default(),
            backlog_events: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "subscribers",
            "Subscribers held now, long-polls in progress included",
            metrics.subscribers.clone(),
        );
        registry.register("events_delivered", "Events written to subscribers", metrics.delivered.clone());
        registry.register("bytes_out", "Bytes written to subscribers", metrics.bytes_out.clone());
        registry.register("events_published", "Events accepted from publishers", metrics.published.clone());
        registry.register("publish_seconds", "Time to accept a publish", metrics.publish_seconds.clone());
        registry.register("gaps", "Gap signals sent to subscribers that missed events", metrics.gaps.clone());
        registry.register(
            "slow_readers_cut",
            "Subscribers cut for reading too slowly",
            metrics.slow_readers_cut.clone(),
        );
        registry.register("poll_requests", "Long-poll requests answered", metrics.polls.clone());
        registry.register("channels", "Channels this node holds", metrics.channels.clone());
        registry.register("backlog_events", "Events held in this node's backlogs", metrics.backlog_events.clone());
        Metrics { registry, ..metrics }
    }
}

impl Metrics {
    /// Counts a subscriber for as long as the returned guard lives.
    pub fn track_subscriber(&self, transport: Transport) -> Tracked {
        let gauge = self.subscribers.get_or_create(&ByTransport { transport }).clone();
        gauge.inc();
        Tracked(gauge)
    }

    pub fn delivered(&self, transport: Transport, events: u64, bytes: usize) {
        self.delivery(transport).count(events, bytes);
    }

    /// One transport's delivery counters, for a held connection to look up once rather
    /// than at every write (the lookup hashes the label and takes a lock).
    pub fn delivery(&self, transport: Transport) -> Delivery {
        let labels = ByTransport { transport };
        Delivery {
            events: self.delivered.get_or_create(&labels).clone(),
            bytes: self.bytes_out.get_or_create(&labels).clone(),
        }
    }
}

/// Where one transport counts the events and bytes it writes.
pub struct Delivery {
    events: Counter,
    bytes: Counter,
}

impl Delivery {
    pub fn count(&self, events: u64, bytes: usize) {
        self.events.inc_by(events);
        self.bytes.inc_by(bytes as u64);
    }
}

/// A subscriber being counted; dropping it stops the count.
pub struct Tracked(Gauge);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn metrics(gateway: web::Data<Gateway>) -> Result<HttpResponse, ApiError> {
    let metrics = &gateway.metrics;
    let (channels, events) = gateway.bus.totals();
    metrics.channels.set(i64::try_from(channels).unwrap_or(i64::MAX));
    metrics.backlog_events.set(i64::try_from(events).unwrap_or(i64::MAX));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &metrics.registry)
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(HttpResponse::Ok().insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type))).body(text))
}

/// Ready when the bus answers within a second: always in memory, a `PING` with Redis.
async fn ready(gateway: web::Data<Gateway>) -> HttpResponse {
    match tokio::time::timeout(Duration::from_secs(1), gateway.bus.ready()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(Err(err)) => {
            HttpResponse::ServiceUnavailable().json(json!({ "status": "unready", "reason": err.to_string() }))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "unready", "reason": "the bus did not answer within 1 s" })),
    }
}
