//! One connection for many channels: twenty channels, four publishers at once, and on every
//! transport a subscriber that cuts its connection at random and resumes from its cursor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::subscriber::{ALL, Frame, Subscriber, Transport, poll};

const CHANNELS: usize = 20;
const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 60;

fn channel_list() -> String {
    (0..CHANNELS).map(|n| format!("ch{n}")).collect::<Vec<_>>().join(",")
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// Publishes from `PUBLISHERS` tasks at once; returns each channel's data in id order.
async fn publish_concurrently(app: Arc<TestApp>) -> BTreeMap<String, Vec<String>> {
    let tasks = (0..PUBLISHERS).map(|publisher| {
        let app = app.clone();
        tokio::spawn(async move {
            let mut random = Lcg(publisher as u64 + 1);
            let mut published = Vec::new();
            for n in 0..PER_PUBLISHER {
                let channel = format!("ch{}", random.below(CHANNELS as u64));
                let data = format!("p{publisher}-{n}");
                let id = app.publish(&channel, None, &data).await;
                published.push((seq(&id), channel, data));
                tokio::time::sleep(Duration::from_millis(random.below(12))).await;
            }
            published
        })
    });
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let mut by_channel: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, channel, data) in all {
        by_channel.entry(channel).or_default().push(data);
    }
    by_channel
}

fn seq(id: &str) -> u64 {
    id.rsplit('-').next().unwrap().parse().unwrap()
}

/// Follows every channel on `transport`, cutting the connection after 50-300 ms each time
/// and resuming from the last cursor received, until `total` events arrived.
async fn follow_with_cuts(
    app: Arc<TestApp>,
    transport: Transport,
    start: String,
    total: usize,
) -> BTreeMap<String, Vec<String>> {
    let mut random = Lcg(transport as u64 + 100);
    let (mut cursor, mut received, mut count) = (start, BTreeMap::<String, Vec<String>>::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count < total {
        assert!(Instant::now() < deadline, "{transport:?}: {count} of {total} events after 60 s");
        let (mut subscriber, _) = Subscriber::connect(&app, transport, &channel_list(), &cursor).await;
        let cut = Instant::now() + Duration::from_millis(50 + random.below(250));
        while let Ok(frame) = tokio::time::timeout_at(cut, subscriber.next(&app)).await {
            match frame {
                Frame::Event(event) => {
                    cursor = event.id.clone();
                    received.entry(event.channel.expect("a channel")).or_default().push(event.data);
                    count += 1;
                }
                Frame::Close(Some(close)) => {
                    cursor = close;
                    break;
                }
                Frame::Heartbeat | Frame::Open(_) => {}
                other => panic!("{transport:?}: unexpected {other:?}"),
            }
        }
    }
    received
}

#[tokio::test]
async fn every_transport_resumes_twenty_channels_under_four_publishers_with_every_event_once_in_order() {
    let app = Arc::new(spawn_app_with(|s| s.stream_max_bytes = 8 * 1024).await);
    let start = poll(&app, &channel_list(), "", Some(0)).await["cursor"].as_str().unwrap().to_owned();
    let total = PUBLISHERS * PER_PUBLISHER;
    let followers = ALL.map(|transport| follow_with_cuts(app.clone(), transport, start.clone(), total));
    let (published, received) =
        tokio::join!(publish_concurrently(app.clone()), futures_util::future::join_all(followers));
    for (transport, received) in ALL.iter().zip(received) {
        assert_eq!(received, published, "{transport:?}: per channel, every event exactly once and in order");
    }
}

#[tokio::test]
async fn a_cursor_from_one_transport_resumes_another_across_channel_lists() {
    let app = spawn_app().await;
    let (mut first, _) = Subscriber::connect(&app, Transport::Stream, "a,b,c", "").await;
    app.publish("a", None, "1").await;
    app.publish("c", None, "2").await;
    let cursor = first.events(&app, 2).await[1].id.clone();
    app.publish("b", None, "3").await;
    app.publish("z", None, "elsewhere").await;
    for transport in ALL {
        let (mut resumed, _) = Subscriber::connect(&app, transport, "b,a", &cursor).await;
        let event = &resumed.events(&app, 1).await[0];
        assert_eq!((event.channel.as_deref(), event.data.as_str()), (Some("b"), "3"), "{transport:?}");
    }
}
