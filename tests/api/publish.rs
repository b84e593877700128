//! The publish API and every refusal: each bad input gets its status and a JSON error.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, within};
use crate::subscriber::{Subscriber, Transport};

async fn assert_error(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn publish_answers_201_with_id_channel_and_live_subscriber_count() {
    let app = spawn_app().await;
    let (_sub, _) = Subscriber::connect(&app, Transport::Stream, "news", "").await;
    let response = app.publish_raw("news", None, "hello").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["channel"], "news");
    assert_eq!(body["subscribers"], 1);
    let info = app.channel_info("news").await;
    assert_eq!(info, serde_json::json!({ "channel": "news", "last_id": body["id"], "backlog": 1, "subscribers": 1 }));
}

#[tokio::test]
async fn a_never_used_channel_reports_null_and_zeros() {
    let app = spawn_app().await;
    let info = app.channel_info("unused").await;
    assert_eq!(info, serde_json::json!({ "channel": "unused", "last_id": null, "backlog": 0, "subscribers": 0 }));
}

#[tokio::test]
async fn ids_increase_and_are_never_reissued() {
    let app = spawn_app().await;
    let a = app.publish("one", None, "x").await;
    let b = app.publish("two", None, "x").await;
    let c = app.publish("one", None, "x").await;
    let seq = |id: &str| id.rsplit('-').next().unwrap().parse::<u64>().unwrap();
    assert!(seq(&a) < seq(&b) && seq(&b) < seq(&c));
}

#[tokio::test]
async fn bad_channel_names_are_refused_on_every_route() {
    let app = spawn_app().await;
    let long = "a".repeat(129);
    for channel in ["a%20b", "caf%C3%A9", "a!", long.as_str()] {
        assert_error(app.publish_raw(channel, None, "x").await, 400, "bad_channel").await;
        assert_error(app.get(&format!("/channels/{channel}")).await, 400, "bad_channel").await;
        for route in ["sse", "poll", "stream", "iframe"] {
            assert_error(app.get(&format!("/{route}/{channel}")).await, 400, "bad_channel").await;
        }
    }
}

#[tokio::test]
async fn bad_and_reserved_event_types_are_refused() {
    let app = spawn_app().await;
    for event in ["comet-gap", "a%20b", &"e".repeat(65)] {
        assert_error(app.publish_raw("news", Some(event), "x").await, 400, "bad_event_type").await;
    }
    assert_eq!(app.publish_raw("news", Some(""), "x").await.status(), 201);
}

#[tokio::test]
async fn malformed_cursors_are_refused_on_every_transport() {
    let app = spawn_app().await;
    for route in ["sse", "poll", "stream", "iframe"] {
        for cursor in ["latest", "12", "x-1", "1-"] {
            assert_error(app.get(&format!("/{route}/news?cursor={cursor}")).await, 400, "bad_cursor").await;
        }
    }
}

#[tokio::test]
async fn bad_callbacks_and_timeouts_are_refused() {
    let app = spawn_app().await;
    for callback in ["alert(1)", "a..b", "1x", "a%3Bb"] {
        assert_error(app.get(&format!("/iframe/news?callback={callback}")).await, 400, "bad_request").await;
    }
    assert_error(app.get("/poll/news?timeout=soon").await, 400, "bad_request").await;
}

#[tokio::test]
async fn oversized_bodies_get_413_whether_declared_or_streamed() {
    let app = spawn_app_with(|s| s.max_event_bytes = 1024).await;
    assert_eq!(app.publish_raw("news", None, "x".repeat(1024)).await.status(), 201);
    assert_error(app.publish_raw("news", None, "x".repeat(1025)).await, 413, "too_large").await;
    let chunks = vec![Ok::<_, std::io::Error>(vec![b'x'; 800]), Ok(vec![b'x'; 800])];
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_error(app.publish_raw("news", None, streamed).await, 413, "too_large").await;
    assert_eq!(app.channel_info("news").await["backlog"], 1);
}

#[tokio::test]
async fn non_utf8_bodies_are_refused() {
    let app = spawn_app().await;
    assert_error(app.publish_raw("news", None, vec![0x66, 0xff, 0x6f]).await, 400, "not_utf8").await;
}

#[tokio::test]
async fn a_configured_token_is_required_to_publish() {
    let app = spawn_app_with(|s| s.publish_token = Some("s3cret".into())).await;
    let post = |auth: Option<&str>| {
        let mut request = app.client.post(app.url("/channels/news")).body("x");
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        within(request.send())
    };
    let missing = post(None).await.unwrap();
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_error(missing, 401, "missing_token").await;
    assert_error(post(Some("Bearer wrong")).await.unwrap(), 403, "forbidden").await;
    assert_error(post(Some("Basic s3cret")).await.unwrap(), 401, "missing_token").await;
    assert_eq!(post(Some("Bearer s3cret")).await.unwrap().status(), 201);
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let app = spawn_app().await;
    assert_error(app.get("/nothing/here").await, 404, "not_found").await;
}
