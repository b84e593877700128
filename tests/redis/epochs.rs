//! A Redis that loses its data (flushed, restarted without persistence, a failover to a
//! replica that lagged): the sequence starts again in a new epoch, and every subscriber
//! is told of the gap.

use crate::helpers::{TestApp, spawn_app};
use crate::subscriber::{Frame, Subscriber, Transport, poll};

fn redis_cli(app: &TestApp, command: &[&str]) {
    let port = app.redis.as_ref().unwrap().lock().unwrap().port.to_string();
    let output = std::process::Command::new("redis-cli").args(["-p", &port]).args(command).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");
}

fn flush_all(app: &TestApp) {
    redis_cli(app, &["FLUSHALL"]);
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

#[tokio::test]
async fn a_sequence_that_goes_back_within_its_epoch_starts_a_new_one_instead_of_reissuing_ids() {
    let a = spawn_app().await;
    let b = a.spawn_node().await;
    let old = a.publish_all("news", &["one".into(), "two".into(), "three".into()]).await;
    let (mut on_b, _) = Subscriber::connect(&b, Transport::Sse, "news", &old[2]).await;
    redis_cli(&a, &["SET", "cometgate:seq", "1"]);
    let new = a.publish("news", None, "after a failover to a replica two events behind").await;
    assert!(!old.contains(&new), "{new} was issued before");
    assert!(matches!(on_b.next(&b).await, Frame::Gap(Some(_))));
    let events = on_b.events(&b, 4).await;
    assert_eq!(events.last().map(|event| &event.id), Some(&new));
    assert_eq!(poll(&b, "news", &old[2], Some(0)).await["gap"], true);
}
