//! Long-poll specifics: holding, batching, and a polling loop that loses nothing.

use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with, within};
use crate::subscriber::poll;

#[tokio::test]
async fn a_poll_loop_receives_2000_fast_events_exactly_once_in_order() {
    let app = spawn_app_with(|s| s.backlog_size = 4000).await;
    let first = poll(&app, "firehose", "", Some(0)).await;
    let mut cursor = first["cursor"].as_str().unwrap().to_owned();
    let publisher = {
        let (client, url) = (app.client.clone(), app.url("/channels/firehose"));
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..2000 {
                let response = client.post(&url).body(n.to_string()).send().await.unwrap();
                let body: serde_json::Value = response.json().await.unwrap();
                ids.push(body["id"].as_str().unwrap().to_owned());
            }
            ids
        })
    };
    let mut received = Vec::new();
    while received.len() < 2000 {
        let answer = poll(&app, "firehose", &cursor, None).await;
        assert_eq!(answer["gap"], false);
        for event in answer["events"].as_array().unwrap() {
            received.push((event["id"].as_str().unwrap().to_owned(), event["data"].as_str().unwrap().to_owned()));
        }
        cursor = answer["cursor"].as_str().unwrap().to_owned();
    }
    let ids = within(publisher).await.unwrap();
    let expected: Vec<_> = ids.into_iter().zip((0..2000).map(|n: i32| n.to_string())).collect();
    assert_eq!(received, expected);
}

#[tokio::test]
async fn a_poll_without_cursor_holds_until_the_next_event() {
    let app = spawn_app().await;
    let held = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/poll/news"));
        async move { client.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    });
    app.await_subscribers("news", 1).await;
    let id = app.publish("news", None, "hello").await;
    let answer = within(held).await.unwrap();
    assert_eq!(answer["events"][0]["id"], id.as_str());
    assert_eq!(answer["events"][0]["data"], "hello");
    assert_eq!(answer["cursor"], id.as_str());
    app.await_subscribers("news", 0).await;
}

#[tokio::test]
async fn a_timed_out_poll_answers_the_position_so_nothing_published_after_is_missed() {
    let app = spawn_app().await;
    let before = app.publish("news", None, "before").await;
    let answer = poll(&app, "news", "", Some(1)).await;
    assert_eq!(answer, serde_json::json!({ "events": [], "cursor": before, "gap": false }));
    let after = app.publish("news", None, "after").await;
    let next = poll(&app, "news", &before, Some(1)).await;
    assert_eq!(next["events"][0]["id"], after.as_str());
}

#[tokio::test]
async fn the_poll_timeout_is_capped_by_the_settings() {
    let app = spawn_app_with(|s| s.poll_timeout = Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let answer = poll(&app, "news", "", Some(60)).await;
    assert!(answer["events"].as_array().unwrap().is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_long_backlog_comes_in_batches_of_the_configured_size() {
    let app = spawn_app_with(|s| s.poll_batch = 10).await;
    let datas: Vec<String> = (0..25).map(|n| n.to_string()).collect();
    let ids = app.publish_all("news", &datas).await;
    let mut cursor = "earliest".to_owned();
    for (batch, size) in [10, 10, 5].into_iter().enumerate() {
        let answer = poll(&app, "news", &cursor, Some(0)).await;
        let got: Vec<_> = answer["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        let start = batch * 10;
        assert_eq!(got, ids[start..start + size].iter().map(String::as_str).collect::<Vec<_>>());
        cursor = answer["cursor"].as_str().unwrap().to_owned();
    }
}

#[tokio::test]
async fn poll_answers_are_json_and_never_cached() {
    let app = spawn_app().await;
    let response = app.get("/poll/news?timeout=0").await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_held_poll_is_never_buffered_by_a_proxy() {
    let app = spawn_app_with(|s| s.poll_timeout = Duration::from_millis(200)).await;
    let response = app.get("/poll/news").await;
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_gap_with_nothing_held_answers_a_clean_cursor_so_the_next_poll_waits() {
    let app = spawn_app().await;
    let before_a_restart = "1-7";
    let answer = poll(&app, "news", before_a_restart, Some(1)).await;
    assert_eq!(answer["gap"], true, "{answer}");
    assert_eq!(answer["events"], serde_json::json!([]));
    let cursor = answer["cursor"].as_str().unwrap().to_owned();
    assert_ne!(cursor, before_a_restart);
    let held = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url(&format!("/poll/news?cursor={cursor}")));
        async move { client.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    });
    app.await_subscribers("news", 1).await;
    let id = app.publish("news", None, "next").await;
    let next = within(held).await.unwrap();
    assert_eq!(next, serde_json::json!({ "events": [next["events"][0].clone()], "cursor": id, "gap": false }));
    assert_eq!(next["events"][0]["data"], "next");
}

/// The default `--poll-max-bytes`.
const POLL_MAX_BYTES: usize = 256 * 1024;

#[tokio::test]
async fn a_long_poll_answer_stays_within_its_byte_bound_and_the_next_polls_bring_the_rest_exactly() {
    let app = spawn_app().await;
    let fill = |n: usize| if n % 4 == 3 { "\0" } else { "<" }.repeat(64 * 1024 - 2);
    let datas: Vec<String> = (0..12).map(|n| format!("{n:02}{}", fill(n))).collect();
    app.publish_all("big", &datas).await;
    let (mut cursor, mut received) = ("earliest".to_owned(), Vec::new());
    while received.len() < datas.len() {
        let response = app.get(&format!("/poll/big?cursor={cursor}&timeout=0")).await;
        let body = within(response.bytes()).await.unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let events = answer["events"].as_array().unwrap();
        assert!(!events.is_empty(), "an answer with events left to send carried none");
        if events.len() > 1 {
            assert!(body.len() <= POLL_MAX_BYTES + 128, "{} events in {} bytes", events.len(), body.len());
        }
        received.extend(events.iter().map(|event| event["data"].as_str().unwrap().to_owned()));
        cursor = answer["cursor"].as_str().unwrap().to_owned();
    }
    assert_eq!(received, datas);
}
