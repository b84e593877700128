//! The demo job is a publisher like any other: counted, rate-limited, and off with
//! `--no-demo`; it runs on a channel of its own, announced where asked; the static files
//! carry validators, and the client library is its parts joined.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, within};
use crate::subscriber::{Frame, Subscriber, Transport};

async fn start_job(app: &TestApp, query: &str) -> reqwest::Response {
    within(app.client.post(app.url(&format!("/demo/jobs?{query}"))).send()).await.unwrap()
}

async fn published_total(app: &TestApp) -> String {
    let text = app.get("/metrics").await.text().await.unwrap();
    let line = text.lines().find(|line| line.starts_with("cometgate_events_published_total "));
    line.unwrap_or_default().rsplit(' ').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_demo_jobs_events_count_as_published() {
    let app = spawn_app().await;
    let (mut subscriber, _) = Subscriber::connect(&app, Transport::Sse, "job", "").await;
    assert_eq!(start_job(&app, "channel=job&steps=2&pace_ms=10").await.status(), 202);
    let events = subscriber.events(&app, 3).await;
    assert_eq!(events.last().unwrap().event, "finish");
    assert_eq!(published_total(&app).await, "3");
}

#[tokio::test]
async fn starting_demo_jobs_is_held_to_the_publish_rate() {
    let app = spawn_app_with(|s| {
        s.limit_loopback = true;
        s.publish_rate = 1;
    })
    .await;
    assert_eq!(start_job(&app, "steps=1&pace_ms=10").await.status(), 202);
    let refused = start_job(&app, "steps=1&pace_ms=10").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "too_many_requests");
}

#[tokio::test]
async fn a_demo_jobs_events_take_from_its_starters_publish_rate() {
    let app = spawn_app_with(|s| {
        s.limit_loopback = true;
        s.publish_rate = 2;
    })
    .await;
    let (mut subscriber, _) = Subscriber::connect(&app, Transport::Sse, "paced", "").await;
    let started = std::time::Instant::now();
    assert_eq!(start_job(&app, "channel=paced&steps=2&pace_ms=10").await.status(), 202);
    assert_eq!(subscriber.events(&app, 3).await.last().unwrap().event, "finish");
    // The start and the first event spend the burst of 2; the next two wait 500 ms each.
    assert!(started.elapsed() >= std::time::Duration::from_millis(800), "{:?}", started.elapsed());
}

#[tokio::test]
async fn without_the_demo_its_page_and_jobs_are_gone_but_the_client_library_stays() {
    let app = spawn_app_with(|s| s.no_demo = true).await;
    for path in ["/", "/static/demo.js", "/static/demo.css", "/static/comet/core.js"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "not_found");
    }
    let job = start_job(&app, "steps=1&pace_ms=10").await;
    assert_eq!(job.status(), 404);
    assert_eq!(job.json::<Value>().await.unwrap()["error"], "not_found");
    assert_eq!(app.get("/static/comet.js").await.status(), 200);
    assert_eq!(spawn_app().await.get("/").await.status(), 200);
}

#[tokio::test]
async fn static_files_carry_a_validator_and_answer_304_when_unchanged() {
    let app = spawn_app().await;
    let first = app.get("/static/comet.js").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 20, "{etag}");
    let again = app.client.get(app.url("/static/comet.js")).header("If-None-Match", &etag);
    let again = within(again.send()).await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());
    let stale = app.client.get(app.url("/static/comet.js")).header("If-None-Match", "\"other\"");
    assert_eq!(within(stale.send()).await.unwrap().status(), 200);
    let other = app.client.get(app.url("/static/demo.js")).header("If-None-Match", &etag);
    assert_eq!(within(other.send()).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_demo_job_announced_on_a_channel_runs_on_a_channel_of_its_own_that_ends_when_done() {
    let app = spawn_app().await;
    let (mut lobby, _) = Subscriber::connect(&app, Transport::Sse, "lobby", "").await;
    let started = start_job(&app, "announce=lobby&steps=2&pace_ms=10").await;
    assert_eq!(started.status(), 202);
    let job: Value = started.json().await.unwrap();
    let channel = job["channel"].as_str().unwrap().to_owned();
    assert_eq!(channel, format!("job-{}", job["job"].as_str().unwrap()));
    let announced = lobby.events(&app, 1).await.remove(0);
    assert_eq!(announced.event, "job");
    let data: Value = serde_json::from_str(&announced.data).unwrap();
    assert_eq!((data["channel"].as_str(), data["steps"].as_u64()), (Some(channel.as_str()), Some(2)));
    let (mut follower, _) = Subscriber::connect(&app, Transport::Stream, &channel, &announced.id).await;
    let kinds: Vec<String> = follower.events(&app, 3).await.into_iter().map(|event| event.event).collect();
    assert_eq!(kinds, ["progress", "progress", "finish"]);
    match follower.next(&app).await {
        Frame::End { channel: ended, id: Some(_) } => assert_eq!(ended, channel),
        other => panic!("expected the job's channel to end after finish, got {other:?}"),
    }
}

#[tokio::test]
async fn a_demo_job_refuses_a_bad_channel_to_announce_on() {
    let app = spawn_app().await;
    let refused = start_job(&app, "announce=no%20spaces&steps=1&pace_ms=10").await;
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "bad_channel");
}

#[tokio::test]
async fn the_client_library_is_served_as_its_parts_joined_in_order() {
    let app = spawn_app_with(|s| s.no_demo = true).await;
    let parts = [
        include_str!("../../static/comet/core.js"),
        include_str!("../../static/comet/link.js"),
        include_str!("../../static/comet/transports.js"),
        include_str!("../../static/comet/ladder.js"),
        include_str!("../../static/comet/connection.js"),
        include_str!("../../static/comet/shared.js"),
    ];
    let served = app.get("/static/comet.js").await;
    assert_eq!(served.headers()["content-type"], "text/javascript");
    assert_eq!(served.text().await.unwrap(), parts.map(|part| format!("{part}\n")).concat());
}

#[tokio::test]
async fn a_demo_job_on_a_channel_its_starter_named_leaves_that_channel_open() {
    let app = spawn_app().await;
    let (mut subscriber, _) = Subscriber::connect(&app, Transport::Stream, "named", "").await;
    assert_eq!(start_job(&app, "channel=named&steps=1&pace_ms=10").await.status(), 202);
    assert_eq!(subscriber.events(&app, 2).await.last().unwrap().event, "finish");
    let after = app.publish_raw("named", None, "the channel still takes posts").await;
    assert_eq!(after.status(), 201);
}
