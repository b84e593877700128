//! `POST /demo/jobs`, demo only: a simulated background job that publishes `progress`
//! events on its channel at a steady pace, then one `finish` event. On a channel of its
//! own (`job-<n>`, when the starter names none) it then ends the channel; a channel the
//! starter named may serve others, and stays open. With `announce=<channel>` it first publishes
//! a `job` event there naming its channel, so the demo page follows the job from that
//! event's id and misses none of it. Starting one is a publish (same authorization and
//! rate limit), and its events count as published and take from the starter's
//! `--publish-rate` (a job waits for it rather than flood).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bus::{BusError, check_channel};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::publish::authorize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo/jobs", web::post().to(start));
}

#[derive(Deserialize)]
struct JobQuery {
    steps: Option<u32>,
    pace_ms: Option<u64>,
    channel: Option<String>,
    announce: Option<String>,
}

/// The accepted job, as answered with `202`.
#[derive(Serialize)]
struct Job {
    job: String,
    channel: String,
    steps: u32,
    pace_ms: u64,
    #[serde(skip)]
    announce: Option<String>,
    /// The channel is the job's own, ended when the job is done.
    #[serde(skip)]
    own_channel: bool,
}

static NEXT_JOB: AtomicU64 = AtomicU64::new(1);

async fn start(
    request: HttpRequest,
    query: web::Query<JobQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    if gateway.settings.no_demo {
        return Err(ApiError::NotFound);
    }
    authorize(&request, gateway.settings.publish_token.as_deref())?;
    gateway.limits.publish(&request)?;
    let job = job(query.into_inner())?;
    let answer = HttpResponse::Accepted().json(&job);
    let (shutdown, peer) = (gateway.shutdown.clone(), gateway.limits.limited_peer(&request));
    tokio::spawn(async move { shutdown.run_until_cancelled(run(gateway.into_inner(), peer, job)).await });
    Ok(answer)
}

fn job(query: JobQuery) -> Result<Job, ApiError> {
    let steps = query.steps.unwrap_or(20);
    let pace_ms = query.pace_ms.unwrap_or(200);
    if !(1..=1000).contains(&steps) || !(10..=10_000).contains(&pace_ms) {
        return Err(ApiError::BadRequest("steps must be 1 to 1000 and pace_ms 10 to 10000".into()));
    }
    let job = NEXT_JOB.fetch_add(1, Ordering::Relaxed).to_string();
    let own_channel = query.channel.is_none();
    let channel = query.channel.unwrap_or_else(|| format!("job-{job}"));
    check_channel(&channel)?;
    if let Some(announce) = &query.announce {
        check_channel(announce)?;
    }
    Ok(Job { job, channel, steps, pace_ms, announce: query.announce, own_channel })
}

/// Publishes the job's events at its pace, and no faster than its starter may publish.
async fn run(gateway: Arc<Gateway>, peer: Option<IpAddr>, job: Job) {
    if let Some(announce) = &job.announce {
        let data = json!({ "job": job.job, "channel": job.channel, "steps": job.steps, "pace_ms": job.pace_ms });
        gateway.limits.pace_publish(peer).await;
        if publish(&gateway, announce, "job", data).await.is_err() {
            return;
        }
    }
    for step in 1..=job.steps {
        tokio::time::sleep(Duration::from_millis(job.pace_ms)).await;
        let percent = step * 100 / job.steps;
        let message = format!("step {step} of {}", job.steps);
        let data = json!({ "job": job.job, "step": step, "steps": job.steps, "percent": percent, "message": message });
        gateway.limits.pace_publish(peer).await;
        if publish(&gateway, &job.channel, "progress", data).await.is_err() {
            return;
        }
    }
    let data = json!({ "job": job.job, "percent": 100, "message": "done" });
    gateway.limits.pace_publish(peer).await;
    if publish(&gateway, &job.channel, "finish", data).await.is_ok() && job.own_channel {
        end(&gateway, &job.channel).await;
    }
}

/// Ends the job's channel: its subscribers get the end signal after `finish`, and the
/// channel leaves every connection that follows it.
async fn end(gateway: &Gateway, channel: &str) {
    if let Err(err) = gateway.bus.end(channel).await {
        tracing::warn!(%channel, error = %err, "the demo job could not end its channel");
    }
}

/// Publishes one of the job's events, counted like any publisher's.
async fn publish(gateway: &Gateway, channel: &str, kind: &str, data: serde_json::Value) -> Result<(), BusError> {
    let started = std::time::Instant::now();
    gateway.bus.publish(channel, kind, data.to_string()).await?;
    gateway.metrics.publish_seconds.observe(started.elapsed().as_secs_f64());
    gateway.metrics.published.inc();
    Ok(())
}
