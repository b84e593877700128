//! The bus end to end in one process: fan-out, refill after lag, gaps, idle channels.

use std::time::Duration;

use super::*;

fn bus(backlog_size: usize, fanout_buffer: usize) -> Bus {
    Bus::in_memory(Bounds {
        backlog_size,
        backlog_max_age: Duration::from_secs(3600),
        fanout_buffer,
        channel_idle: Duration::ZERO,
        max_subscribers: 8,
        max_subscribed_channels: 1024,
        max_channels: 3,
    })
}

async fn follow(bus: &Bus, channel: &str, cursor: Cursor) -> Result<Subscription, BusError> {
    bus.subscribe(&[channel.to_owned()], cursor).await
}

async fn publish(bus: &Bus, data: &str) -> Id {
    bus.publish("c", "message", data.into()).await.unwrap().id
}

fn data(item: Option<Item>) -> String {
    match item {
        Some(Item::Event(event)) => event.data.clone(),
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn every_subscriber_gets_every_event_once_in_order() {
    let bus = bus(10, 4);
    let mut first = follow(&bus, "c", Cursor::Live).await.unwrap();
    let mut second = follow(&bus, "c", Cursor::Live).await.unwrap();
    for n in 0..3 {
        assert_eq!(bus.publish("c", "message", n.to_string()).await.unwrap().subscribers, 2);
    }
    for subscriber in [&mut first, &mut second] {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(data(subscriber.next().await));
        }
        assert_eq!(got, ["0", "1", "2"]);
        assert!(subscriber.try_next().is_none());
    }
}

#[tokio::test]
async fn a_lagging_subscriber_refills_from_the_backlog_without_loss_or_repeat() {
    let bus = bus(100, 2);
    let mut slow = follow(&bus, "c", Cursor::Live).await.unwrap();
    for n in 0..10 {
        publish(&bus, &n.to_string()).await;
    }
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(data(slow.next().await));
    }
    assert_eq!(got, (0..10).map(|n| n.to_string()).collect::<Vec<_>>());
    assert!(slow.try_next().is_none());
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_the_backlog_is_told_with_a_gap() {
    let bus = bus(3, 2);
    let mut slow = follow(&bus, "c", Cursor::Live).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(publish(&bus, &n.to_string()).await);
    }
    tokio::task::yield_now().await;
    assert_eq!([data(slow.next().await), data(slow.next().await)], ["0", "1"], "what its inbox held");
    assert!(matches!(slow.next().await, Some(Item::Gap { oldest, .. }) if oldest == Some(ids[7])));
    let got: Vec<String> = [(); 3].iter().map(|_| data(slow.try_next())).collect();
    assert_eq!(got, ["7", "8", "9"]);
}

#[tokio::test]
async fn the_cursor_stays_lost_until_the_gap_signal_is_handed_out() {
    let bus = bus(2, 4);
    let lost = publish(&bus, "a").await;
    for data in ["b", "c", "d"] {
        publish(&bus, data).await;
    }
    let mut subscriber = follow(&bus, "c", Cursor::After(lost)).await.unwrap();
    assert_eq!(subscriber.cursor(), lost, "a reconnect now must be told of the gap again");
    assert!(matches!(subscriber.try_next(), Some(Item::Gap { .. })));
    assert_eq!(subscriber.cursor(), Id { epoch: lost.epoch, seq: 2 }, "just before the oldest held");
    assert_eq!(data(subscriber.try_next()), "c");
    let unknown = follow(&bus, "c", Cursor::Unknown).await.unwrap();
    assert_eq!(unknown.cursor(), Id { epoch: 0, seq: 0 });
}

#[tokio::test]
async fn the_cursor_follows_what_was_handed_out() {
    let bus = bus(10, 4);
    let before = follow(&bus, "c", Cursor::Live).await.unwrap().cursor();
    let id = publish(&bus, "x").await;
    let mut subscriber = follow(&bus, "c", Cursor::After(before)).await.unwrap();
    assert_eq!(subscriber.cursor(), before);
    subscriber.try_next();
    assert_eq!(subscriber.cursor(), id);
}

#[tokio::test]
async fn dropping_a_subscription_releases_it_and_its_permit() {
    let bus = bus(10, 4);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(follow(&bus, "c", Cursor::Live).await.unwrap());
    }
    assert!(matches!(follow(&bus, "c", Cursor::Live).await, Err(BusError::Full)));
    assert_eq!(bus.info("c").await.unwrap().subscribers, 8);
    held.clear();
    assert_eq!(bus.info("c").await.unwrap().subscribers, 0);
    assert!(follow(&bus, "c", Cursor::Live).await.is_ok());
}

#[tokio::test]
async fn a_dropped_channel_comes_back_with_new_ids_and_a_gap_only_for_cursors_before_its_last_event() {
    let bus = Bus::in_memory(Bounds { backlog_max_age: Duration::ZERO, ..bus(10, 4).bounds() });
    let lost = publish(&bus, "x").await;
    let last = publish(&bus, "y").await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(bus.sweep(), 1);
    assert_eq!((bus.channel_count(), bus.info("c").await.unwrap().last_id), (0, None));
    bus.publish("elsewhere", "message", "moves the counter".into()).await.unwrap();
    let new = publish(&bus, "z").await;
    assert!(new.seq > last.seq);
    let mut resumed = follow(&bus, "c", Cursor::After(lost)).await.unwrap();
    assert!(matches!(resumed.try_next(), Some(Item::Gap { .. })), "y expired unseen");
    let mut resumed = follow(&bus, "c", Cursor::After(last)).await.unwrap();
    assert_eq!(data(resumed.try_next()), "z", "nothing was lost after y");
}

#[tokio::test]
async fn a_cursor_at_the_last_id_issued_before_a_channel_came_back_resumes_cleanly() {
    let bus = Bus::in_memory(Bounds { backlog_max_age: Duration::ZERO, ..bus(10, 4).bounds() });
    let old = publish(&bus, "x").await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    bus.sweep();
    let mut resumed = follow(&bus, "c", Cursor::After(old)).await.unwrap();
    assert!(resumed.try_next().is_none(), "no id was issued after it, so nothing can have been missed");
}

#[tokio::test]
async fn a_new_channel_past_the_maximum_is_refused_and_existing_ones_keep_working() {
    let bus = bus(10, 4);
    for channel in ["a", "b", "c"] {
        bus.publish(channel, "message", "x".into()).await.unwrap();
    }
    assert!(matches!(bus.publish("d", "message", "x".into()).await, Err(BusError::TooManyChannels)));
    assert!(bus.publish("a", "message", "y".into()).await.is_ok());
}

#[tokio::test]
async fn subscribers_to_names_never_published_take_no_channel_from_publishers() {
    let bus = bus(10, 4);
    let _held: Vec<_> =
        futures_util::future::join_all(["d", "e", "f", "g"].map(|c| follow(&bus, c, Cursor::Live))).await;
    assert_eq!(bus.channel_count(), 0);
    for channel in ["a", "b", "c"] {
        bus.publish(channel, "message", "x".into()).await.unwrap();
    }
}

#[tokio::test]
async fn neither_a_refused_nor_a_dropped_subscription_leaves_a_hub_entry() {
    let bus = bus(10, 4);
    let held: Vec<_> = futures_util::future::join_all((0..8).map(|_| follow(&bus, "held", Cursor::Live))).await;
    assert!(matches!(follow(&bus, "refused", Cursor::Live).await, Err(BusError::Full)));
    assert_eq!(bus.hub().channel_count(), 1, "the refused subscribe allocated a channel");
    drop(held);
    for channel in ["a", "b", "c", "d", "e"] {
        drop(follow(&bus, channel, Cursor::Live).await);
    }
    assert_eq!(bus.hub().channel_count(), 0, "a channel outlived its last subscriber");
}

#[tokio::test]
async fn channels_with_subscribers_are_never_swept() {
    let bus = Bus::in_memory(Bounds { backlog_max_age: Duration::ZERO, ..bus(10, 4).bounds() });
    publish(&bus, "x").await;
    let _subscriber = follow(&bus, "c", Cursor::Live).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(bus.sweep(), 0);
    assert_eq!(bus.channel_count(), 1);
}
