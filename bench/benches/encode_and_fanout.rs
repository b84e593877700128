//! Micro-benchmarks: each transport's encoder, and the bus fanning one event out to
//! 100,000 in-process subscribers, so regressions show without a full load run.

use std::hint::black_box;
use std::time::Duration;

use cometgate::bus::{Bounds, Bus, Cursor, Event, Id};
use cometgate::transport::{iframe, sse, stream};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn event(size: usize) -> Event {
    let data = "x".repeat(size - 12) + "\nline two\u{2028}";
    Event::new(Id { epoch: 0x18f3a2b4c5d, seq: 42 }, "news".into(), "message".into(), data, 1_700_000_000_000)
}

fn encoders(c: &mut Criterion) {
    for size in [64, 4096] {
        let mut group = c.benchmark_group(format!("encode {size} B"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("sse", |b| b.iter(|| sse::encode(black_box(&event(size)))));
        group.bench_function("json line (stream, and poll's fields)", |b| {
            b.iter(|| stream::encode(black_box(&event(size))))
        });
        group.bench_function("iframe script", |b| b.iter(|| iframe::encode(black_box(&event(size)), "comet")));
        group.finish();
    }
}

const SUBSCRIBERS: usize = 100_000;

fn fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let bounds = Bounds {
        backlog_size: 1000,
        backlog_max_age: Duration::from_secs(3600),
        fanout_buffer: 16,
        channel_idle: Duration::from_secs(300),
        max_subscribers: SUBSCRIBERS,
        max_subscribed_channels: SUBSCRIBERS,
        max_channels: 10,
    };
    // The bus's fan-out is a task of the runtime it is made in.
    let bus = runtime.block_on(async { Bus::in_memory(bounds) });
    let mut subscriptions = runtime.block_on(async {
        let mut all = Vec::with_capacity(SUBSCRIBERS);
        for _ in 0..SUBSCRIBERS {
            all.push(bus.subscribe(&["news".to_owned()], Cursor::Live).await.expect("a subscription"));
        }
        all
    });
    let mut group = c.benchmark_group("bus");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    group.sample_size(10);
    group.bench_function("publish one event to 100,000 subscribers and take it", |b| {
        b.iter(|| {
            runtime.block_on(async {
                bus.publish("news", "message", "hello".into()).await.expect("published");
                // Let the fan-out hand the event to the hub.
                tokio::task::yield_now().await;
            });
            for subscription in &mut subscriptions {
                black_box(subscription.try_next());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, encoders, fanout);
criterion_main!(benches);
