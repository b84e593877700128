//! What an operator reads: metrics, liveness and readiness.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::subscriber::{Frame, Subscriber, Transport, poll};

async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let response = app.get("/metrics").await;
    assert_eq!(response.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    let text = response.text().await.unwrap();
    let line = text.lines().find(|line| line.starts_with(&format!("{line_start} ")));
    line.map_or(0.0, |line| line.rsplit(' ').next().unwrap().parse().unwrap())
}

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;
    let health: serde_json::Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(health, serde_json::json!({ "status": "ok" }));
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn metrics_count_subscribers_by_transport_and_release_them() {
    let app = spawn_app().await;
    let (sse, _) = Subscriber::connect(&app, Transport::Sse, "news", "").await;
    let (stream, _) = Subscriber::connect(&app, Transport::Stream, "news", "").await;
    assert_eq!(metric(&app, "cometgate_subscribers{transport=\"sse\"}").await, 1.0);
    assert_eq!(metric(&app, "cometgate_subscribers{transport=\"stream\"}").await, 1.0);
    drop((sse, stream));
    app.await_subscribers("news", 0).await;
    assert_eq!(metric(&app, "cometgate_subscribers{transport=\"sse\"}").await, 0.0);
    assert_eq!(metric(&app, "cometgate_subscribers{transport=\"stream\"}").await, 0.0);
}

#[tokio::test]
async fn metrics_count_published_and_delivered_events_polls_and_gaps() {
    let app = spawn_app_with(|s| s.backlog_size = 2).await;
    let (mut sse, _) = Subscriber::connect(&app, Transport::Sse, "news", "").await;
    app.publish_all("news", &["a".into(), "b".into(), "c".into()]).await;
    sse.events(&app, 3).await;
    assert_eq!(metric(&app, "cometgate_events_published_total").await, 3.0);
    assert_eq!(metric(&app, "cometgate_events_delivered_total{transport=\"sse\"}").await, 3.0);
    assert!(metric(&app, "cometgate_bytes_out_total{transport=\"sse\"}").await > 0.0);
    assert_eq!(metric(&app, "cometgate_publish_seconds_count").await, 3.0);
    let lost = "1-1";
    let answer = poll(&app, "news", lost, Some(0)).await;
    assert_eq!(answer["gap"], true);
    let (mut stream, _) = Subscriber::connect(&app, Transport::Stream, "news", lost).await;
    assert!(matches!(stream.next(&app).await, Frame::Gap(_)));
    assert_eq!(metric(&app, "cometgate_poll_requests_total").await, 1.0);
    assert_eq!(metric(&app, "cometgate_events_delivered_total{transport=\"poll\"}").await, 2.0);
    assert_eq!(metric(&app, "cometgate_gaps_total").await, 2.0);
}
