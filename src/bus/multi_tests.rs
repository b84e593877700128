//! The bus with connections that follow several channels: one cursor, exact across
//! channels under concurrent publishers; per-channel gaps; channels that end.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

fn bus(backlog_size: usize, fanout_buffer: usize) -> Bus {
    Bus::in_memory(Bounds {
        backlog_size,
        backlog_max_age: Duration::from_secs(3600),
        fanout_buffer,
        channel_idle: Duration::from_secs(3600),
        max_subscribers: 64,
        max_subscribed_channels: 1024,
        max_channels: 1024,
    })
}

fn names(channels: &[&str]) -> Vec<String> {
    channels.iter().map(|channel| channel.to_string()).collect()
}

/// Reads until `count` events (or ends) are handed out or nothing comes for a while.
async fn read(subscription: &mut Subscription, count: usize) -> Vec<Item> {
    let mut items = Vec::new();
    while items.iter().filter(|item| !matches!(item, Item::Gap { .. })).count() < count {
        match tokio::time::timeout(Duration::from_secs(2), subscription.next()).await {
            Ok(Some(item)) => items.push(item),
            _ => break,
        }
    }
    items
}

fn data(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Event(event) => Some(format!("{}:{}", event.channel, event.data)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_resumed_from_its_cursor_gets_every_event_of_every_channel_once_under_concurrent_publishers() {
    let bus = bus(10_000, 8);
    let channels = names(&["a", "b", "c", "d"]);
    let publishers: Vec<_> = channels
        .iter()
        .map(|channel| {
            let (bus, channel) = (bus.clone(), channel.clone());
            tokio::spawn(async move {
                for n in 0..300 {
                    bus.publish(&channel, "message", n.to_string()).await.unwrap();
                    if n % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    let mut seen: HashMap<String, Vec<u32>> = HashMap::new();
    let mut cursor = Cursor::Earliest;
    while seen.values().map(Vec::len).sum::<usize>() < 1200 {
        let mut subscription = bus.subscribe(&channels, cursor).await.unwrap();
        for item in read(&mut subscription, 37).await {
            let Item::Event(event) = item else { panic!("unexpected {item:?}") };
            seen.entry(event.channel.clone()).or_default().push(event.data.parse().unwrap());
        }
        cursor = Cursor::After(subscription.cursor());
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    for channel in &channels {
        assert_eq!(seen[channel], (0..300).collect::<Vec<_>>(), "channel {channel}");
    }
}

#[tokio::test]
async fn a_cursor_too_old_for_one_channel_gives_a_gap_for_that_channel_only() {
    let bus = bus(3, 64);
    let start = bus.publish("quiet", "message", "q0".into()).await.unwrap().id;
    for n in 0..6 {
        bus.publish("busy", "message", n.to_string()).await.unwrap();
    }
    bus.publish("quiet", "message", "q1".into()).await.unwrap();
    let mut subscription = bus.subscribe(&names(&["quiet", "busy"]), Cursor::After(start)).await.unwrap();
    let items = read(&mut subscription, 4).await;
    assert!(matches!(&items[0], Item::Gap { channel, .. } if channel == "busy"), "{items:?}");
    assert_eq!(data(&items), ["busy:3", "busy:4", "busy:5", "quiet:q1"]);
}

#[tokio::test]
async fn a_channel_ends_after_its_events_leaves_the_connection_and_takes_no_more() {
    let bus = bus(100, 64);
    let channels = names(&["job", "news"]);
    let mut subscription = bus.subscribe(&channels, Cursor::Live).await.unwrap();
    let before = subscription.cursor();
    bus.publish("job", "progress", "50".into()).await.unwrap();
    let end = bus.end("job").await.unwrap().id;
    assert_eq!(bus.end("job").await.unwrap().id, end, "ending again answers the same end");
    assert!(matches!(bus.publish("job", "message", "late".into()).await, Err(BusError::Ended)));
    bus.publish("news", "message", "n".into()).await.unwrap();
    let items = read(&mut subscription, 3).await;
    assert!(matches!(&items[1], Item::End(e) if e.id == end && e.channel == "job"), "{items:?}");
    assert_eq!(data(&items), ["job:50", "news:n"]);
    assert_eq!(subscription.channels(), ["news"]);

    let mut resumed = bus.subscribe(&channels, Cursor::After(before)).await.unwrap();
    let again = read(&mut resumed, 3).await;
    assert_eq!(data(&again), ["job:50", "news:n"], "a cursor from before the end gets the rest, then the end");
    assert!(matches!(&again[1], Item::End(e) if e.id == end));
}

#[tokio::test]
async fn a_connection_whose_channels_all_ended_is_finished_on_arrival() {
    let bus = bus(100, 64);
    bus.publish("job", "message", "x".into()).await.unwrap();
    let end = bus.end("job").await.unwrap().id;
    for cursor in [Cursor::Live, Cursor::After(end)] {
        let mut subscription = bus.subscribe(&names(&["job"]), cursor).await.unwrap();
        assert!(subscription.ended_on_arrival(), "{cursor:?}");
        assert!(matches!(subscription.next().await, Some(Item::End(e)) if e.id == end));
        assert!(subscription.next().await.is_none() && subscription.is_finished());
    }
    let early = bus.subscribe(&names(&["job"]), Cursor::Earliest).await.unwrap();
    assert!(!early.ended_on_arrival(), "an event is still owed");
    let mixed = bus.subscribe(&names(&["job", "other"]), Cursor::Live).await.unwrap();
    assert!(!mixed.ended_on_arrival());
}

#[tokio::test]
async fn a_lagging_connection_refills_every_channel_in_order() {
    let bus = bus(1000, 2);
    let channels = names(&["a", "b"]);
    let mut slow = bus.subscribe(&channels, Cursor::Live).await.unwrap();
    for n in 0..20 {
        bus.publish(if n % 3 == 0 { "a" } else { "b" }, "message", n.to_string()).await.unwrap();
    }
    let items = read(&mut slow, 20).await;
    let got: Vec<u32> = items
        .iter()
        .map(|item| match item {
            Item::Event(event) => event.data.parse().unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

/// What the property test does, step by step.
#[derive(Debug, Clone)]
enum Step {
    Publish(usize),
    Read(usize),
    /// Drops the connection and resumes from its cursor.
    Cut,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![4 => (0..4usize).prop_map(Step::Publish), 2 => (1..6usize).prop_map(Step::Read), 1 => Just(Step::Cut)]
}

/// Runs the steps against a bus with tiny inboxes; returns what the connection read and
/// what the model says it should have, in order.
async fn run(followed: Vec<String>, steps: Vec<Step>) -> (Vec<String>, Vec<String>) {
    const CHANNELS: [&str; 4] = ["a", "b", "c", "d"];
    let bus = bus(10_000, 2);
    bus.publish("a", "message", "before".into()).await.unwrap();
    let mut connection = bus.subscribe(&followed, Cursor::Live).await.unwrap();
    let (mut owed, mut read) = (Vec::new(), Vec::new());
    for (n, step) in steps.into_iter().enumerate() {
        match step {
            Step::Publish(channel) => {
                let channel = CHANNELS[channel];
                bus.publish(channel, "message", n.to_string()).await.unwrap();
                // Lets the fan-out run, so that publishes and reads interleave in the inbox.
                tokio::task::yield_now().await;
                if followed.iter().any(|followed| followed == channel) {
                    owed.push(format!("{channel}:{n}"));
                }
            }
            Step::Read(count) => {
                for _ in 0..count.min(owed.len() - read.len()) {
                    let item = tokio::time::timeout(Duration::from_secs(5), connection.next()).await;
                    read.extend(data(&[item.expect("an owed event never came").expect("closed")]));
                }
            }
            Step::Cut => connection = bus.subscribe(&followed, Cursor::After(connection.cursor())).await.unwrap(),
        }
    }
    while read.len() < owed.len() {
        let item = tokio::time::timeout(Duration::from_secs(5), connection.next()).await;
        read.extend(data(&[item.expect("an owed event never came").expect("closed")]));
    }
    (read, owed)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The model: a connection reads exactly the events of the channels it follows
    /// published after it subscribed, in publish order, however it is cut and resumed.
    #[test]
    fn the_connection_cursor_matches_a_model_of_every_channel(
        followed in proptest::sample::subsequence(vec!["a", "b", "c", "d"], 1..=4),
        steps in proptest::collection::vec(step(), 1..80),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (read, owed) = runtime.block_on(run(names(&followed), steps));
        proptest::prop_assert_eq!(read, owed);
    }
}
