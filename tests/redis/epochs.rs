//! A Redis that loses its data (flushed, restarted without persistence): the sequence
//! starts again in a new epoch, and every subscriber is told of the gap.

use crate::helpers::{TestApp, spawn_app};
use crate::subscriber::{Frame, Subscriber, Transport, poll};

fn flush_all(app: &TestApp) {
    let port = app.redis.as_ref().unwrap().lock().unwrap().port.to_string();
    let output = std::process::Command::new("redis-cli").args(["-p", &port, "FLUSHALL"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");
}

#[tokio::test]
async fn after_redis_loses_its_data_held_subscribers_get_a_gap_then_the_new_events() {
    let a = spawn_app().await;
    let b = a.spawn_node().await;
    let old = a.publish_all("news", &["one".into(), "two".into()]).await;
    let (mut on_a, _) = Subscriber::connect(&a, Transport::Sse, "news", &old[1]).await;
    let (mut on_b, _) = Subscriber::connect(&b, Transport::Stream, "news", &old[1]).await;
    flush_all(&a);
    let new = a.publish("news", None, "after the flush").await;
    for (subscriber, app) in [(&mut on_a, &a), (&mut on_b, &b)] {
        assert_eq!(subscriber.next(app).await, Frame::Gap(Some(new.clone())), "{:?}", subscriber.transport);
        assert_eq!(subscriber.events(app, 1).await[0].id, new, "{:?}", subscriber.transport);
    }
}

#[tokio::test]
async fn after_redis_loses_its_data_old_cursors_get_a_gap_and_no_node_reissues_an_id() {
    let a = spawn_app().await;
    let b = a.spawn_node().await;
    let old = a.publish_all("news", &["one".into(), "two".into()]).await;
    flush_all(&a);
    let answer = poll(&b, "news", &old[1], Some(0)).await;
    assert_eq!(answer["gap"], true, "{answer}");
    let new = vec![a.publish("news", None, "from A").await, b.publish("news", None, "from B").await];
    assert!(new.iter().all(|id| !old.contains(id)), "an id was issued twice: {old:?} then {new:?}");
    let answer = poll(&a, "news", &old[1], Some(0)).await;
    assert_eq!(answer["gap"], true, "{answer}");
    let ids: Vec<&str> = answer["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, new);
}
