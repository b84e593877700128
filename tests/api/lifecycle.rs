//! Connections over time: release on disconnect, limits, slow readers, idle channels,
//! and shutdown.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{DEADLINE, spawn_app, spawn_app_with, within};
use crate::subscriber::{ALL, Frame, STREAMING, Subscriber, Transport};

#[tokio::test]
async fn a_disconnected_subscriber_is_released_at_once() {
    for transport in STREAMING {
        let app = spawn_app().await;
        let (subscriber, _) = Subscriber::connect(&app, transport, "news", "").await;
        app.await_subscribers("news", 1).await;
        drop(subscriber);
        app.await_subscribers("news", 0).await;
    }
}

#[tokio::test]
async fn a_long_poll_in_progress_counts_as_a_subscriber_until_it_is_dropped() {
    let app = spawn_app().await;
    let held = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/poll/news"));
        async move { client.get(url).send().await.unwrap().text().await }
    });
    app.await_subscribers("news", 1).await;
    held.abort();
    app.await_subscribers("news", 0).await;
}

#[tokio::test]
async fn past_the_subscriber_cap_new_subscribers_get_503_with_retry_after() {
    let app = spawn_app_with(|s| s.max_subscribers = 2).await;
    let _first = Subscriber::connect(&app, Transport::Sse, "a", "").await;
    let _second = Subscriber::connect(&app, Transport::Stream, "b", "").await;
    for route in ["sse", "poll", "stream", "iframe"] {
        let response = app.get(&format!("/{route}/c")).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "5");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "too_many_subscribers");
    }
}

#[tokio::test]
async fn shutdown_ends_every_held_response_promptly_with_its_reconnect_frame() {
    let app = spawn_app_with(|s| s.drain = Duration::from_secs(30)).await;
    let id = app.publish("news", None, "last").await;
    let mut subscribers = Vec::new();
    for transport in STREAMING {
        subscribers.push(Subscriber::connect(&app, transport, "news", &id).await.0);
    }
    let held_poll = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url(&format!("/poll/news?cursor={id}")));
        async move { client.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    });
    app.await_subscribers("news", 4).await;
    let started = std::time::Instant::now();
    app.shutdown.cancel();
    for subscriber in &mut subscribers {
        assert_eq!(subscriber.next(&app).await, Frame::Close(Some(id.clone())), "{:?}", subscriber.transport);
    }
    let answer = within(held_poll).await.unwrap();
    assert_eq!(answer["cursor"], id.as_str());
    assert!(started.elapsed() < Duration::from_secs(3), "shutdown took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_reader_that_falls_behind_gets_a_gap_or_every_event_never_a_silent_skip() {
    let app = spawn_app_with(|s| {
        s.backlog_size = 50;
        s.fanout_buffer = 8;
        s.stream_max_bytes = 64 << 20;
    })
    .await;
    for transport in STREAMING {
        let channel = format!("slow-{transport:?}");
        let (mut slow, _) = Subscriber::connect(&app, transport, &channel, "").await;
        let data = "y".repeat(16_000);
        let datas: Vec<String> = (0..600).map(|n| format!("{n:03}{data}")).collect();
        let ids = app.publish_all(&channel, &datas).await;
        let mut expected = 0;
        let mut gaps = 0;
        while expected < ids.len() {
            match slow.next(&app).await {
                Frame::Event(event) => {
                    assert_eq!(event.id, ids[expected], "{transport:?} skipped without a gap");
                    expected += 1;
                }
                Frame::Gap(Some(oldest)) => {
                    gaps += 1;
                    expected = ids.iter().position(|id| *id == oldest).expect("gap names an unknown id");
                }
                Frame::Heartbeat => {}
                other => panic!("{transport:?}: {other:?}"),
            }
        }
        assert!(gaps >= 1, "{transport:?} never fell behind: the test proves nothing");
    }
}

#[tokio::test]
async fn a_slow_reader_does_not_hold_back_the_publisher_or_other_subscribers() {
    let app = spawn_app_with(|s| {
        s.backlog_size = 100;
        s.stream_max_bytes = 64 << 20;
    })
    .await;
    let stalled = app.open("/stream/shared").await;
    let (mut reader, _) = Subscriber::connect(&app, Transport::Sse, "shared", "").await;
    let data = "z".repeat(16 * 1024);
    for _ in 0..200 {
        let id = within(app.publish("shared", None, &data)).await;
        let event = reader.events(&app, 1).await.remove(0);
        assert_eq!(event.id, id);
    }
    drop(stalled);
}

#[tokio::test]
async fn channels_nobody_uses_are_dropped_once_their_backlog_expires() {
    let app = spawn_app_with(|s| {
        s.backlog_max_age = Duration::from_millis(100);
        s.channel_idle = Duration::ZERO;
        s.sweep_interval = Duration::from_millis(50);
    })
    .await;
    app.publish("ephemeral", None, "x").await;
    let started = std::time::Instant::now();
    while !app.channel_info("ephemeral").await["last_id"].is_null() {
        assert!(started.elapsed() < DEADLINE, "channel never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_transport_subscribes_from_the_same_backlog() {
    let app = spawn_app().await;
    let id = app.publish("shared", None, "one backlog").await;
    for transport in ALL {
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "shared", "earliest").await;
        assert_eq!(subscriber.events(&app, 1).await[0].id, id);
    }
}

#[tokio::test]
async fn sigterm_ends_held_streams_with_their_reconnect_frame_and_exits_promptly() {
    let (mut process, address) = crate::helpers::spawn_process(&[]);
    let app = crate::helpers::TestApp::at(address, None);
    let id = app.publish("news", None, "before").await;
    let (mut subscriber, _) = Subscriber::connect(&app, Transport::Stream, "news", &id).await;
    let started = std::time::Instant::now();
    std::process::Command::new("kill").args(["-TERM", &process.id().to_string()]).status().unwrap();
    assert_eq!(subscriber.next(&app).await, Frame::Close(Some(id)));
    while process.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(5), "the gateway did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
