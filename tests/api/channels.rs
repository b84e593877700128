//! What a channel costs and remembers: subscribers never take the publishers' channel
//! budget, and a channel dropped when idle still knows where it stood.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{DEADLINE, TestApp, spawn_app_with};
use crate::subscriber::{Subscriber, Transport, poll};

/// The Redis keys matching `pattern` (none on the in-memory store).
fn redis_keys(app: &TestApp, pattern: &str) -> Vec<String> {
    let Some(redis) = &app.redis else { return Vec::new() };
    let port = redis.lock().unwrap().port.to_string();
    let output = std::process::Command::new("redis-cli").args(["-p", &port, "--scan", "--pattern", pattern]).output();
    String::from_utf8(output.expect("redis-cli failed").stdout).unwrap().lines().map(str::to_owned).collect()
}

/// Waits until the store has dropped the channel (its last id is forgotten).
async fn await_dropped(app: &TestApp, channel: &str) {
    let started = std::time::Instant::now();
    while !app.channel_info(channel).await["last_id"].is_null() {
        assert!(started.elapsed() < DEADLINE, "channel {channel} never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn polling_names_nobody_published_never_refuses_a_publish_to_a_new_channel() {
    let app = spawn_app_with(|s| s.max_channels = 200).await;
    for n in 0..200 {
        assert_eq!(app.get(&format!("/poll/junk{n}?timeout=0")).await.status(), 200);
    }
    assert_eq!(app.publish_raw("new", None, "from a publisher").await.status(), 201);
    assert_eq!(redis_keys(&app, "cometgate:*junk*"), Vec::<String>::new(), "a key per subscribed name");
}

#[tokio::test]
async fn names_held_only_by_subscribers_are_bounded_by_max_subscribers_which_refuses_the_subscriber() {
    let app = spawn_app_with(|s| {
        s.max_subscribers = 2;
        s.max_channels = 2;
    })
    .await;
    let _a = Subscriber::connect(&app, Transport::Sse, "held-a", "").await;
    let _b = Subscriber::connect(&app, Transport::Stream, "held-b", "").await;
    let refused = app.get("/sse/held-c").await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "too_many_subscribers");
    for channel in ["new-a", "new-b"] {
        assert_eq!(app.publish_raw(channel, None, "x").await.status(), 201, "{channel}");
    }
}

#[tokio::test]
async fn channels_followed_only_by_subscribers_have_their_own_bound_which_refuses_the_subscriber() {
    let app = spawn_app_with(|s| s.max_subscribed_channels = 2).await;
    let (_a, _) = Subscriber::connect(&app, Transport::Sse, "followed-a", "").await;
    let (_b, _) = Subscriber::connect(&app, Transport::Stream, "followed-b", "").await;
    for route in ["sse", "poll", "stream", "iframe"] {
        let refused = app.get(&format!("/{route}/followed-c")).await;
        assert_eq!(refused.status(), 503, "{route}");
        assert_eq!(refused.json::<Value>().await.unwrap()["error"], "too_many_subscribed_channels", "{route}");
    }
    let (mut again, _) = Subscriber::connect(&app, Transport::Iframe, "followed-a", "").await;
    assert_eq!(app.publish_raw("followed-c", None, "x").await.status(), 201, "publishers are never refused");
    let id = app.publish("followed-a", None, "still served").await;
    assert_eq!(again.events(&app, 1).await[0].id, id);
    drop(_b);
    app.await_subscribers("followed-b", 0).await;
    assert_eq!(app.get("/poll/followed-c?timeout=0").await.status(), 200, "a freed channel makes room");
}

#[tokio::test]
async fn a_cursor_at_the_last_event_of_a_dropped_channel_resumes_without_a_gap() {
    let app = spawn_app_with(|s| {
        s.backlog_max_age = Duration::from_millis(100);
        s.channel_idle = Duration::ZERO;
        s.sweep_interval = Duration::from_millis(50);
    })
    .await;
    let first = app.publish("idle", None, "one").await;
    let last = app.publish("idle", None, "two").await;
    let head = app.publish("elsewhere", None, "moves the sequence on").await;
    await_dropped(&app, "idle").await;
    let answer = poll(&app, "idle", &last, Some(0)).await;
    assert_eq!(answer, serde_json::json!({ "events": [], "cursor": head, "gap": false }), "moved to the bus's head");
    let answer = poll(&app, "idle", &first, Some(0)).await;
    assert_eq!(answer["gap"], true, "the event after {first} expired: {answer}");
}

#[tokio::test]
async fn a_cursor_from_before_a_name_was_first_published_resumes_without_a_gap() {
    let app = spawn_app_with(|_| {}).await;
    let before: Value = poll(&app, "later", "", Some(0)).await;
    let cursor = before["cursor"].as_str().unwrap().to_owned();
    app.publish("elsewhere", None, "moves the sequence on").await;
    let id = app.publish("later", None, "first").await;
    let answer = poll(&app, "later", &cursor, Some(0)).await;
    assert_eq!(answer["gap"], false, "{answer}");
    assert_eq!(answer["events"][0]["id"], id.as_str());
}
