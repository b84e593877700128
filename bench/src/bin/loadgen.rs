//! `loadgen`: holds N subscribers on cometgate or Nchan, publishes M events at a rate, and
//! reports delivery latency, loss, duplicates, connection rate, and the server's CPU time
//! and memory. Loopback only, bounded in time.

use std::collections::HashSet;
use std::time::Duration;

use clap::Parser;
use tokio::time::Instant;

use cometgate_bench::subscriber::{self, Kind, Tally};
use cometgate_bench::{publisher, stats};

#[derive(Parser)]
#[command(about = "Load generator for cometgate and Nchan (loopback only)")]
struct Args {
    /// Server address, `127.0.0.1:PORT`; repeat it to spread subscribers over several nodes
    /// (events are published to the first).
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Where events are published (cometgate's `--internal-bind`); default: the first target.
    #[arg(long)]
    publish_to: Option<String>,
    /// How subscribers connect.
    #[arg(long, value_enum)]
    kind: Kind,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// Events per second; 0 publishes as fast as the server answers.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Server process ids whose CPU time and memory to report (repeatable).
    #[arg(long = "pid")]
    pids: Vec<u32>,
    #[arg(long, default_value = "bench")]
    channel: String,
    /// Channels each subscriber follows on its one connection (`bench.0,...`); 1 is the
    /// plain channel.
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Publish on each of the followed channels in turn, instead of only the first.
    #[arg(long)]
    spread: bool,
    /// Longest the whole run may take, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Connect, measure memory, and stop without publishing.
    #[arg(long)]
    idle_only: bool,
}

impl Args {
    /// The channels subscribers follow.
    fn followed(&self) -> Vec<String> {
        match self.channels {
            0 | 1 => vec![self.channel.clone()],
            n => (0..n).map(|i| format!("{}.{i}", self.channel)).collect(),
        }
    }

    /// The channel slot of a subscribe path.
    fn path_channels(&self) -> String {
        self.followed().join(",")
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let publish_to = args.publish_to.clone().unwrap_or_else(|| args.targets[0].clone());
    let loopback = |target: &String| target.starts_with("127.");
    anyhow::ensure!(args.targets.iter().all(loopback) && loopback(&publish_to), "loadgen targets loopback only");
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let rss_before = stats::total(&args.pids, stats::rss_bytes);
    let started = Instant::now();
    let held = connect_all(&args).await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    let expected = if args.idle_only { usize::MAX } else { args.events };
    let tasks: Vec<_> = held
        .into_iter()
        .enumerate()
        .map(|(n, held)| {
            let (kind, channel) = (args.kind, args.path_channels());
            let target = args.targets[n % args.targets.len()].clone();
            tokio::spawn(async move { subscriber::run(held, kind, &target, &channel, expected, deadline).await })
        })
        .collect();
    // Every subscriber now holds a request (a poller, its first held poll) and waits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_held = stats::total(&args.pids, stats::rss_bytes);
    let idle_bytes = rss_held.saturating_sub(rss_before) / args.subscribers.max(1) as u64;
    let report = Report::new(&args, connect_seconds, idle_bytes);
    if args.idle_only {
        report.print(&[], &publisher::Published::default(), 0.0);
        return Ok(());
    }
    let cpu_before = stats::total(&args.pids, stats::cpu_seconds);
    let followed = args.followed();
    let published_on = if args.spread { &followed[..] } else { &followed[..1] };
    let published = publisher::run(&publish_to, args.kind, published_on, args.events, args.rate, args.payload).await?;
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await?);
    }
    let cpu = stats::total(&args.pids, stats::cpu_seconds) - cpu_before;
    report.print(&tallies, &published, cpu);
    Ok(())
}

/// Connects every subscriber, 500 at a time, round-robin over the targets.
async fn connect_all(args: &Args) -> anyhow::Result<Vec<subscriber::Held>> {
    let mut held = Vec::with_capacity(args.subscribers);
    for batch in (0..args.subscribers).collect::<Vec<_>>().chunks(500) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|&n| {
                let target = args.targets[n % args.targets.len()].clone();
                let (kind, channel) = (args.kind, args.path_channels());
                tokio::spawn(async move { subscriber::connect(kind, &target, &channel).await })
            })
            .collect();
        for task in tasks {
            held.push(task.await??);
        }
    }
    Ok(held)
}

struct Report {
    kind: Kind,
    subscribers: usize,
    events: usize,
    connect_seconds: f64,
    idle_bytes: u64,
}

impl Report {
    fn new(args: &Args, connect_seconds: f64, idle_bytes: u64) -> Self {
        Report { kind: args.kind, subscribers: args.subscribers, events: args.events, connect_seconds, idle_bytes }
    }

    fn print(&self, tallies: &[Tally], published: &publisher::Published, cpu: f64) {
        let mut latencies: Vec<u64> = tallies.iter().flat_map(|t| t.latencies_us.iter().copied()).collect();
        latencies.sort_unstable();
        let deliveries = latencies.len();
        let (mut lost, mut duplicated, mut errors, mut requests) = (0, 0, 0, 0);
        for tally in tallies {
            let unique: HashSet<u64> = tally.seqs.iter().copied().collect();
            lost += self.events.saturating_sub(unique.len());
            duplicated += tally.seqs.len() - unique.len();
            errors += usize::from(tally.error.is_some());
            requests += tally.requests;
        }
        let ms = |q: f64| stats::quantile(&latencies, q) as f64 / 1000.0;
        let mut publish = published.latencies_us.clone();
        publish.sort_unstable();
        let elapsed = published.seconds.max(f64::EPSILON);
        println!(
            "{{\"kind\":\"{:?}\",\"subscribers\":{},\"events\":{},\"connects_per_s\":{:.0},\"idle_bytes_per_subscriber\":{},\
             \"deliveries\":{},\"deliveries_per_s\":{:.0},\"p50_ms\":{:.1},\"p99_ms\":{:.1},\"max_ms\":{:.1},\"lost\":{},\
             \"duplicated\":{},\"subscriber_errors\":{},\"requests\":{},\"server_cpu_s\":{:.2},\"cpu_us_per_delivery\":{:.2},\
             \"publish_p50_ms\":{:.2},\"publish_p99_ms\":{:.2},\"published_per_s\":{:.0}}}",
            self.kind,
            self.subscribers,
            self.events,
            self.subscribers as f64 / self.connect_seconds.max(f64::EPSILON),
            self.idle_bytes,
            deliveries,
            deliveries as f64 / elapsed,
            ms(0.5),
            ms(0.99),
            ms(1.0),
            lost,
            duplicated,
            errors,
            requests,
            cpu,
            cpu * 1e6 / deliveries.max(1) as f64,
            stats::quantile(&publish, 0.5) as f64 / 1000.0,
            stats::quantile(&publish, 0.99) as f64 / 1000.0,
            published.latencies_us.len() as f64 / elapsed,
        );
    }
}
