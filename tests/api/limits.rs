//! What one client may take, and what abusive clients get while others are served.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{spawn_app_with, within};
use crate::subscriber::{Frame, Subscriber, Transport};

#[tokio::test]
async fn past_the_per_ip_cap_new_connections_get_429_until_one_is_released() {
    let app = spawn_app_with(|s| {
        s.limit_loopback = true;
        s.max_connections_per_ip = 2;
    })
    .await;
    let first = Subscriber::connect(&app, Transport::Sse, "a", "").await;
    let _second = Subscriber::connect(&app, Transport::Stream, "b", "").await;
    for route in ["sse", "poll", "stream", "iframe"] {
        let response = app.get(&format!("/{route}/c?timeout=0")).await;
        assert_eq!(response.status(), 429, "{route}");
        assert_eq!(response.headers()["retry-after"], "5");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "too_many_requests");
    }
    drop(first);
    app.await_subscribers("a", 0).await;
    assert_eq!(app.get("/poll/c?timeout=0").await.status(), 200);
}

#[tokio::test]
async fn loopback_peers_are_exempt_from_per_ip_limits_by_default() {
    let app = spawn_app_with(|s| {
        s.max_connections_per_ip = 1;
        s.publish_rate = 1;
    })
    .await;
    let _held: Vec<_> =
        futures_util::future::join_all((0..3).map(|_| Subscriber::connect(&app, Transport::Sse, "a", ""))).await;
    for n in 0..5 {
        app.publish("a", None, &n.to_string()).await;
    }
}

#[tokio::test]
async fn a_publish_flood_gets_429_while_subscribers_keep_receiving() {
    let app = spawn_app_with(|s| {
        s.limit_loopback = true;
        s.publish_rate = 20;
    })
    .await;
    let (mut reader, _) = Subscriber::connect(&app, Transport::Sse, "news", "").await;
    let mut accepted = Vec::new();
    let mut refused = 0;
    for n in 0..200 {
        let response = app.publish_raw("news", None, n.to_string()).await;
        match response.status().as_u16() {
            201 => accepted.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()),
            429 => {
                assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused >= 150, "only {refused} of 200 refused at 20/s");
    let received: Vec<String> = reader.events(&app, accepted.len()).await.into_iter().map(|e| e.id).collect();
    assert_eq!(received, accepted);
}

#[tokio::test]
async fn an_oversized_request_head_gets_431_with_a_json_reason() {
    let app = spawn_app_with(|s| s.max_request_head = 2048).await;
    let response =
        app.client.get(app.url("/poll/news?timeout=0")).header("X-Padding", "p".repeat(4096)).send().await.unwrap();
    assert_eq!(response.status(), 431);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "head_too_large");
    let long_url = format!("/poll/news?timeout=0&x={}", "q".repeat(4096));
    assert_eq!(app.get(&long_url).await.status(), 431);
    assert_eq!(app.get("/poll/news?timeout=0").await.status(), 200);
}

#[tokio::test]
async fn a_reader_too_far_behind_is_cut_and_resumes_from_its_cursor_losing_nothing() {
    let app = spawn_app_with(|s| {
        s.backlog_size = 5000;
        s.fanout_buffer = 4;
        s.max_unsent_bytes = 64 * 1024;
        s.stream_max_bytes = 1 << 30;
    })
    .await;
    let (mut slow, _) = Subscriber::connect(&app, Transport::Stream, "firehose", "").await;
    let datas: Vec<String> = (0..3000).map(|n| format!("{n:04}{}", "s".repeat(4000))).collect();
    let ids = app.publish_all("firehose", &datas).await;
    let mut received = Vec::new();
    let cursor = loop {
        match slow.next(&app).await {
            Frame::Event(event) => received.push(event.id),
            Frame::Close(cursor) => break cursor.unwrap(),
            other => panic!("{other:?}"),
        }
    };
    assert!(received.len() < ids.len(), "never cut");
    let (mut resumed, _) = Subscriber::connect(&app, Transport::Stream, "firehose", &cursor).await;
    let rest = ids.len() - received.len();
    received.extend(resumed.events(&app, rest).await.into_iter().map(|e| e.id));
    assert_eq!(received, ids);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("cometgate_slow_readers_cut_total ") && !l.ends_with(" 0")));
}

#[tokio::test]
async fn a_half_sent_request_is_dropped_while_others_are_served_on_time() {
    let app = spawn_app_with(|s| s.request_timeout = Duration::from_millis(500)).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stalled = std::net::TcpStream::connect(&address).unwrap();
    stalled.write_all(b"GET /poll/news HTTP/1.1\r\nHost: x\r\nX-Half: ").unwrap();
    let (mut reader, _) = Subscriber::connect(&app, Transport::Sse, "news", "").await;
    let started = Instant::now();
    let id = app.publish("news", None, "on time").await;
    assert_eq!(within(reader.events(&app, 1)).await[0].id, id);
    assert!(started.elapsed() < Duration::from_secs(1));
    stalled.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    let closed = stalled.read_to_end(&mut answer);
    assert!(closed.is_ok(), "the half-sent connection was not closed: {closed:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
}
