//! `engines`: the two embedded storage engines considered for the durable store, redb and
//! fjall, measured on the gateway's write pattern: one append per publish (key = channel and
//! sequence number), the channel's oldest event removed once its backlog is full, under
//! each durability mode. It reports publish latency and throughput, then kills a writer
//! child with SIGKILL and counts the acknowledged events that did not survive.
//!
//! `cargo run --release -p cometgate-bench --features engines --bin engines -- [DIR]`

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cometgate_bench::stats;

mod stores;

use stores::{Engine, Mode, Store};

/// Channels the events are spread over, and how many each keeps.
const CHANNELS: u64 = 10;
const BACKLOG: u64 = 1000;
const PAYLOAD: usize = 200;
/// How often the `interval` mode makes the writes durable.
const INTERVAL: Duration = Duration::from_millis(100);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child(&args[2..]);
    }
    let root = args.get(1).map_or_else(|| std::env::temp_dir().join("cometgate-engines"), PathBuf::from);
    println!(
        "| engine | durability | publishes | p50 (µs) | p99 (µs) | publishes/s | acknowledged, lost after kill -9 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for engine in [Engine::Redb, Engine::Fjall] {
        for mode in [Mode::Always, Mode::Interval, Mode::Never] {
            let events = if mode == Mode::Always { 2_000 } else { 20_000 };
            let (latencies, seconds) = timed(engine, mode, &fresh(&root, engine, mode, "timed")?, events)?;
            let (acknowledged, lost) = crash(engine, mode, &fresh(&root, engine, mode, "crash")?)?;
            println!(
                "| {engine:?} | {mode:?} | {events} | {} | {} | {:.0} | {acknowledged}, {lost} |",
                stats::quantile(&latencies, 0.5),
                stats::quantile(&latencies, 0.99),
                events as f64 / seconds,
            );
        }
    }
    Ok(())
}

fn fresh(root: &Path, engine: Engine, mode: Mode, run: &str) -> anyhow::Result<PathBuf> {
    let dir = root.join(format!("{engine:?}-{mode:?}-{run}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Appends `events` one at a time; each one's latency in µs, sorted, and the whole time.
fn timed(engine: Engine, mode: Mode, dir: &Path, events: u64) -> anyhow::Result<(Vec<u64>, f64)> {
    let store = Store::open(engine, mode, dir, INTERVAL)?;
    let payload = vec![b'x'; PAYLOAD];
    let mut latencies = Vec::with_capacity(events as usize);
    let started = Instant::now();
    for seq in 1..=events {
        let one = Instant::now();
        store.append(seq % CHANNELS, seq, &payload, BACKLOG)?;
        latencies.push(one.elapsed().as_micros() as u64);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok((latencies, seconds))
}

/// Starts a writer child, kills it with SIGKILL after half a second of acknowledged
/// appends, reopens the directory and counts the acknowledged events that are missing.
fn crash(engine: Engine, mode: Mode, dir: &Path) -> anyhow::Result<(u64, String)> {
    let mut writer = Command::new(std::env::current_exe()?)
        .args(["child", &format!("{engine:?}"), &format!("{mode:?}")])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(writer.stdout.take().expect("piped stdout")).lines();
    let started = Instant::now();
    let mut acknowledged: u64 = 0;
    while started.elapsed() < Duration::from_millis(500) {
        match lines.next() {
            Some(line) => acknowledged = line?.parse()?,
            None => anyhow::bail!("the writer child stopped by itself"),
        }
    }
    writer.kill()?;
    writer.wait()?;
    let store = Store::open(engine, mode, dir, INTERVAL)?;
    // The child went on appending (and evicting) between the last line read and the kill,
    // so the events it legitimately dropped are those a full window below the newest held.
    let first_kept = store.newest().max(acknowledged).saturating_sub(CHANNELS * BACKLOG) + 1;
    let lost: Vec<u64> = (first_kept..=acknowledged).filter(|&seq| !store.holds(seq % CHANNELS, seq)).collect();
    let range = match (lost.first(), lost.last()) {
        (Some(first), Some(last)) => format!(" (seq {first}..={last})"),
        _ => String::new(),
    };
    Ok((acknowledged, format!("{}{range}", lost.len())))
}

/// The child: appends until killed, printing each sequence number once its append returned.
fn child(args: &[String]) -> anyhow::Result<()> {
    let [engine, mode, dir] = args else { anyhow::bail!("child ENGINE MODE DIR") };
    let store = Store::open(engine.parse()?, mode.parse()?, Path::new(dir), INTERVAL)?;
    let payload = vec![b'x'; PAYLOAD];
    let mut out = std::io::stdout().lock();
    for seq in 1.. {
        store.append(seq % CHANNELS, seq, &payload, BACKLOG)?;
        writeln!(out, "{seq}")?;
        out.flush()?;
    }
    Ok(())
}
