//! `POST /demo/jobs`, demo only: a simulated background job that publishes `progress`
//! events on its channel at a steady pace, then one `finish` event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bus::{Bus, check_channel};
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
}

/// The accepted job, as answered with `202`.
#[derive(Serialize)]
struct Job {
    job: String,
    channel: String,
    steps: u32,
    pace_ms: u64,
}

static NEXT_JOB: AtomicU64 = AtomicU64::new(1);

async fn start(
    request: HttpRequest,
    query: web::Query<JobQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, gateway.settings.publish_token.as_deref())?;
    let job = job(query.into_inner())?;
    let (bus, shutdown) = (gateway.bus.clone(), gateway.shutdown.clone());
    let answer = HttpResponse::Accepted().json(&job);
    tokio::spawn(async move { shutdown.run_until_cancelled(run(bus, job)).await });
    Ok(answer)
}

fn job(query: JobQuery) -> Result<Job, ApiError> {
    let steps = query.steps.unwrap_or(20);
    let pace_ms = query.pace_ms.unwrap_or(200);
    if !(1..=1000).contains(&steps) || !(10..=10_000).contains(&pace_ms) {
        return Err(ApiError::BadRequest("steps must be 1 to 1000 and pace_ms 10 to 10000".into()));
    }
    let job = NEXT_JOB.fetch_add(1, Ordering::Relaxed).to_string();
    let channel = query.channel.unwrap_or_else(|| format!("job-{job}"));
    check_channel(&channel)?;
    Ok(Job { job, channel, steps, pace_ms })
}

async fn run(bus: Bus, job: Job) {
    for step in 1..=job.steps {
        tokio::time::sleep(Duration::from_millis(job.pace_ms)).await;
        let percent = step * 100 / job.steps;
        let message = format!("step {step} of {}", job.steps);
        let data = json!({ "job": job.job, "step": step, "steps": job.steps, "percent": percent, "message": message });
        if bus.publish(&job.channel, "progress", data.to_string()).await.is_err() {
            return;
        }
    }
    let data = json!({ "job": job.job, "percent": 100, "message": "done" });
    let _ = bus.publish(&job.channel, "finish", data.to_string()).await;
}
