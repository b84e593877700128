//! `soak`: thousands of subscribers across every transport (WebSocket and JSONP included)
//! for minutes, steady publishing, clients that cut their connections at random and resume
//! from their cursor. Reports lost, duplicated and out-of-order events per transport (all
//! must be zero) and the gateway's memory over time. Loopback only, bounded in time.

use std::collections::HashMap;
use std::time::Duration;

use clap::Parser;
use tokio::sync::watch;
use tokio::time::Instant;

use cometgate_bench::soak::{Client, Totals, Transport};
use cometgate_bench::subscriber::Kind;
use cometgate_bench::{publisher, stats};

#[derive(Parser)]
#[command(about = "Soak run for cometgate: drops, resumes, zero loss, flat memory (loopback only)")]
struct Args {
    /// The gateway, `127.0.0.1:PORT`.
    #[arg(long)]
    target: String,
    /// The gateway's process id, for its memory curve.
    #[arg(long)]
    pid: Option<u32>,
    /// Subscribers, spread evenly over the transports and the channels.
    #[arg(long, default_value_t = 4000)]
    subscribers: usize,
    #[arg(long, default_value_t = 4)]
    channels: usize,
    /// Channel names are `PREFIX-N`: a fresh prefix runs again on the same gateway.
    #[arg(long, default_value = "soak")]
    prefix: String,
    /// How long publishing lasts, in seconds.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Events per second on each channel.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    #[arg(long, default_value_t = 200)]
    payload: usize,
    /// Mean seconds a connection lives before its client cuts it.
    #[arg(long, default_value_t = 20.0)]
    mean_life: f64,
    /// Seconds between two memory samples.
    #[arg(long, default_value_t = 15)]
    sample: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.target.starts_with("127."), "soak targets loopback only");
    let channels: Vec<String> = (0..args.channels).map(|n| format!("{}-{n}", args.prefix)).collect();
    let published: Vec<_> = channels.iter().map(|_| watch::channel(None::<u64>)).collect();
    let deadline = Instant::now() + Duration::from_secs(args.seconds + 120);
    let subscribers: Vec<_> = (0..args.subscribers)
        .map(|n| {
            let transport = Transport::ALL[n % Transport::ALL.len()];
            let channel = (n / Transport::ALL.len()) % channels.len();
            let client = Client {
                transport,
                target: args.target.clone(),
                channel: channels[channel].clone(),
                mean_life: Duration::from_secs_f64(args.mean_life),
                published: published[channel].1.clone(),
            };
            (transport, channel, tokio::spawn(client.run(deadline)))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let memory = tokio::spawn(sample_memory(args.pid, Duration::from_secs(args.sample)));
    let events = (args.rate * args.seconds as f64) as usize;
    let publishers: Vec<_> = channels
        .iter()
        .map(|channel| {
            let (target, channel, rate, size) = (args.target.clone(), channel.clone(), args.rate, args.payload);
            tokio::spawn(async move { publisher::run(&target, Kind::Sse, &[channel], events, rate, size).await })
        })
        .collect();
    for (publisher, (sender, _)) in publishers.into_iter().zip(&published) {
        let sent = publisher.await??.latencies_us.len() as u64;
        sender.send_replace(Some(sent));
    }
    let mut totals: HashMap<Transport, Totals> = HashMap::new();
    for (transport, channel, task) in subscribers {
        let sent = published[channel].0.borrow().unwrap_or(0);
        totals.entry(transport).or_default().add(&task.await?, sent);
    }
    memory.abort();
    print_totals(&totals, events * channels.len());
    let clean = totals.values().all(Totals::clean);
    anyhow::ensure!(clean, "events were lost, repeated or reordered");
    Ok(())
}

/// Prints the gateway's resident memory every `every` until aborted.
async fn sample_memory(pid: Option<u32>, every: Duration) {
    let Some(pid) = pid else { return };
    let started = Instant::now();
    loop {
        let (rss, cpu) = (stats::rss_bytes(pid), stats::cpu_seconds(pid));
        println!("memory t={:>4}s rss={:.1} MiB cpu={cpu:.1}s", started.elapsed().as_secs(), rss as f64 / 1048576.0);
        tokio::time::sleep(every).await;
    }
}

fn print_totals(totals: &HashMap<Transport, Totals>, published: usize) {
    println!("published {published} events");
    println!(
        "{:<8} {:>11} {:>11} {:>11} {:>6} {:>10} {:>11} {:>5} {:>9} {:>6} {:>11} {:>6}",
        "transport",
        "subscribers",
        "expected",
        "received",
        "lost",
        "duplicated",
        "out-of-order",
        "gaps",
        "requests",
        "cuts",
        "server-ends",
        "errors"
    );
    for transport in Transport::ALL {
        let Some(t) = totals.get(&transport) else { continue };
        println!(
            "{:<9} {:>11} {:>11} {:>11} {:>6} {:>10} {:>11} {:>5} {:>9} {:>6} {:>11} {:>6}",
            format!("{transport:?}").to_lowercase(),
            t.subscribers,
            t.expected,
            t.received,
            t.lost,
            t.duplicated,
            t.out_of_order,
            t.counts.gaps,
            t.counts.requests,
            t.counts.cuts,
            t.counts.server_ends,
            t.counts.errors
        );
    }
    for (transport, error) in totals.iter().filter_map(|(k, t)| t.first_error.as_ref().map(|e| (k, e))) {
        println!("{transport:?}, first error: {error}");
    }
}
