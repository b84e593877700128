//! The load tools' WebSocket and JSONP clients against a real gateway on 127.0.0.1 port 0:
//! the load generator's `ws` subscribers count every event once, and the soak's resuming
//! clients cut their connections and still get every event once, in order.

use std::time::Duration;

use cometgate::{Application, Settings};
use tokio::sync::watch;
use tokio::time::Instant;

use cometgate_bench::publisher;
use cometgate_bench::soak::{Client, Transport};
use cometgate_bench::subscriber::{self, Kind};

/// A gateway on an ephemeral loopback port; its address, `127.0.0.1:PORT`.
async fn spawn_gateway() -> String {
    let mut settings = Settings::with_bind("127.0.0.1:0".parse().expect("a socket address"));
    settings.workers = Some(2);
    let application = Application::build(settings).await.expect("gateway failed to start");
    let address = format!("127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_websocket_subscribers_count_every_event_once() {
    let address = spawn_gateway().await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(subscriber::connect(Kind::Ws, &address, "bench-ws").await.expect("a ws subscriber connects"));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let tasks: Vec<_> = held
        .into_iter()
        .map(|held| {
            let address = address.clone();
            tokio::spawn(async move { subscriber::run(held, Kind::Ws, &address, "bench-ws", 20, deadline).await })
        })
        .collect();
    let channels = ["bench-ws".to_owned()];
    publisher::run(&address, Kind::Ws, &channels, 20, 200.0, 64).await.expect("publishing works");
    for task in tasks {
        let tally = task.await.expect("a subscriber task");
        assert_eq!(tally.error, None);
        assert_eq!(tally.seqs, (0..20).collect::<Vec<u64>>());
        assert_eq!(tally.requests, 1, "one socket, no reconnect");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_websocket_and_jsonp_clients_resume_across_cuts_with_nothing_lost_or_repeated() {
    let address = spawn_gateway().await;
    for transport in [Transport::Ws, Transport::Jsonp] {
        let channel = format!("soak-{}", transport.route());
        let (sent, published) = watch::channel(None);
        let client = Client {
            transport,
            target: address.clone(),
            channel: channel.clone(),
            mean_life: Duration::from_millis(150),
            published,
        };
        let subscriber = tokio::spawn(client.run(Instant::now() + Duration::from_secs(30)));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let published = publisher::run(&address, Kind::Sse, &[channel], 80, 100.0, 64).await.expect("publishing works");
        sent.send_replace(Some(published.latencies_us.len() as u64));
        let ledger = subscriber.await.expect("a soak client task");
        assert_eq!(ledger.first_error, None, "{transport:?}");
        assert_eq!(ledger.seqs, (0..80).collect::<Vec<u64>>(), "{transport:?}");
        assert_eq!(ledger.counts.gaps, 0, "{transport:?}");
        assert!(ledger.counts.cuts > 0, "{transport:?}: the client never cut its connection");
    }
}
