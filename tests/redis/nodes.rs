//! Several nodes on one Redis: shared channels, a node that dies, a Redis that restarts.

use std::time::{Duration, Instant};

use cometgate::{Application, Settings};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, spawn_process, within};
use crate::subscriber::{ALL, Frame, STREAMING, Subscriber, poll};

#[tokio::test]
async fn an_event_published_on_one_node_reaches_subscribers_of_another_on_every_transport() {
    let a = spawn_app().await;
    let b = a.spawn_node().await;
    for transport in ALL {
        let (mut subscriber, _) = Subscriber::connect(&b, transport, "shared", "").await;
        let id = a.publish("shared", Some("post"), "from node A").await;
        let event = subscriber.events(&b, 1).await.remove(0);
        assert_eq!((event.id, event.event.as_str(), event.data.as_str()), (id, "post", "from node A"), "{transport:?}");
    }
}

#[tokio::test]
async fn a_subscriber_that_moves_to_another_node_with_its_cursor_gets_exactly_the_missed_events() {
    let a = spawn_app().await;
    let b = a.spawn_node().await;
    for transport in ALL {
        let channel = format!("moving-{transport:?}");
        let (mut on_a, _) = Subscriber::connect(&a, transport, &channel, "").await;
        let first = a.publish(&channel, None, "seen on A").await;
        assert_eq!(on_a.events(&a, 1).await[0].id, first);
        drop(on_a);
        let missed = a.publish_all(&channel, &["m1".into(), "m2".into()]).await;
        let (mut on_b, _) = Subscriber::connect(&b, transport, &channel, &first).await;
        let events = on_b.events(&b, 2).await;
        assert_eq!(events.iter().map(|e| &e.id).collect::<Vec<_>>(), missed.iter().collect::<Vec<_>>());
        let next = b.publish(&channel, None, "after").await;
        assert_eq!(on_b.events(&b, 1).await[0].id, next, "{transport:?} repeated an event");
    }
}

#[tokio::test]
async fn killing_a_node_mid_stream_loses_nothing_for_its_subscribers() {
    let b = spawn_app().await;
    let url = b.redis.as_ref().unwrap().lock().unwrap().url();
    let (mut process, address) = spawn_process(&["--redis-url", &url]);
    let a = TestApp::at(address, b.redis.clone());
    let mut subscribers = Vec::new();
    for transport in STREAMING {
        subscribers.push(Subscriber::connect(&a, transport, "jobs", "").await.0);
    }
    let poll_cursor = poll(&a, "jobs", "", Some(0)).await["cursor"].as_str().unwrap().to_owned();
    let publisher = tokio::spawn({
        let (client, url) = (b.client.clone(), b.url("/channels/jobs"));
        async move {
            let mut ids = Vec::new();
            for n in 0..200 {
                let body: Value =
                    client.post(&url).body(format!("step {n}")).send().await.unwrap().json().await.unwrap();
                ids.push(body["id"].as_str().unwrap().to_owned());
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            ids
        }
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    process.kill().unwrap();
    process.wait().unwrap();
    let published = within(publisher).await.unwrap();
    for mut subscriber in subscribers {
        let mut received = Vec::new();
        loop {
            match subscriber.next(&a).await {
                Frame::Event(event) => received.push(event.id),
                Frame::Heartbeat => {}
                Frame::Close(_) => break,
                other => panic!("{other:?}"),
            }
        }
        let cursor = received.last().cloned().unwrap_or_default();
        let (mut resumed, _) = Subscriber::connect(&b, subscriber.transport, "jobs", &cursor).await;
        let missing = published.len() - received.len();
        received.extend(resumed.events(&b, missing).await.into_iter().map(|e| e.id));
        assert_eq!(received, published, "{:?} lost or repeated events", subscriber.transport);
    }
    let (mut polled, _) = Subscriber::connect(&b, crate::subscriber::Transport::Poll, "jobs", &poll_cursor).await;
    let ids: Vec<String> = polled.events(&b, published.len()).await.into_iter().map(|e| e.id).collect();
    assert_eq!(ids, published, "a long-poll cursor from the dead node did not resume on the other");
}

/// Publishes until the gateway acknowledges with 201; returns the id.
async fn publish_when_back(app: &TestApp, data: &str) -> String {
    let started = Instant::now();
    loop {
        let response = app.publish_raw("news", None, data.to_owned()).await;
        if response.status() == 201 {
            return response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the gateway never recovered from the Redis restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_redis_restart_keeps_subscribers_connected_and_delivers_every_acknowledged_event() {
    let app = spawn_app_with(|s| s.heartbeat = Duration::from_millis(200)).await;
    let mut subscribers = Vec::new();
    for transport in STREAMING {
        subscribers.push(Subscriber::connect(&app, transport, "news", "").await.0);
    }
    let mut acknowledged = app.publish_all("news", &["before 1".into(), "before 2".into()]).await;
    app.redis.as_ref().unwrap().lock().unwrap().stop();
    assert_eq!(app.publish_raw("news", None, "while down").await.status(), 503);
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.redis.as_ref().unwrap().lock().unwrap().restart();
    for n in 0..3 {
        acknowledged.push(publish_when_back(&app, &format!("after {n}")).await);
    }
    for subscriber in &mut subscribers {
        let mut received = Vec::new();
        while received.len() < acknowledged.len() {
            match subscriber.next(&app).await {
                Frame::Event(event) => received.push(event.id),
                Frame::Heartbeat => {}
                other => panic!("{:?}: {other:?} (the connection must survive the restart)", subscriber.transport),
            }
        }
        assert_eq!(received, acknowledged, "{:?}", subscriber.transport);
    }
}

#[tokio::test]
async fn with_redis_down_publishes_and_new_subscribers_get_503_promptly() {
    let app = spawn_app().await;
    app.publish("news", None, "up").await;
    app.redis.as_ref().unwrap().lock().unwrap().stop();
    let started = Instant::now();
    let response = app.publish_raw("news", None, "down").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "store_unavailable");
    for route in ["sse", "poll", "stream", "iframe"] {
        assert_eq!(app.get(&format!("/{route}/news")).await.status(), 503, "{route}");
    }
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "unready");
    assert!(started.elapsed() < Duration::from_secs(5), "refusals took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_node_refuses_to_start_when_redis_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = Settings::with_bind("127.0.0.1:0".parse().unwrap());
    settings.redis_url = Some(format!("redis://127.0.0.1:{closed}/"));
    let error = Application::build(settings).await.err().expect("started without Redis");
    assert!(format!("{error:#}").contains("cannot connect to Redis"), "{error:#}");
}
