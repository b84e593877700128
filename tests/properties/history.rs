//! The history API against a model: whatever was published and whatever page sizes a
//! client asks for, paging back from the head and forward from the start reads exactly
//! the backlog the model keeps (the newest `BACKLOG` events), each event once, in order,
//! and `more` is true exactly when a page stopped short of the end. On memory and on disk.

use std::path::PathBuf;
use std::time::Duration;

use cometgate::{Application, Settings};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::Client;
use serde_json::Value;

/// Events each channel keeps: small, so that most cases evict.
const BACKLOG: usize = 6;
const CASES: usize = 48;
const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Case {
    published: usize,
    /// Page sizes asked for in turn, cycled.
    limits: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (0..20usize, prop::collection::vec(1..5usize, 1..4)).prop_map(|(published, limits)| Case { published, limits })
}

async fn spawn_gateway(data_dir: Option<PathBuf>) -> String {
    let mut settings = Settings::with_bind("127.0.0.1:0".parse().unwrap());
    settings.workers = Some(2);
    settings.backlog_size = BACKLOG as u32;
    settings.publish_rate = 0;
    settings.data_dir = data_dir;
    let application = Application::build(settings).await.expect("gateway failed to start");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

async fn get(client: &Client, url: String) -> Value {
    let response = tokio::time::timeout(WAIT, client.get(&url).send()).await.expect("no answer").unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

/// Every page from `start` (a query naming before or after, or nothing) until `more` is
/// false, checking each page's size; returns the ids in the order read.
async fn read_all(
    client: &Client,
    base: &str,
    channel: &str,
    start: String,
    case: &Case,
    forward: bool,
) -> Vec<String> {
    let (mut ids, mut query) = (Vec::new(), start);
    for limit in case.limits.iter().cycle() {
        let page = get(client, format!("{base}/channels/{channel}/events?limit={limit}{query}")).await;
        let events: Vec<String> =
            page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        let more = page["more"].as_bool().unwrap();
        assert!(events.len() == *limit || (!more && events.len() < *limit), "{case:?}: {page}");
        ids.extend(events);
        if !more {
            return ids;
        }
        let last = ids.last().unwrap();
        query = if forward { format!("&after={last}") } else { format!("&before={last}") };
    }
    unreachable!()
}

async fn check(client: &Client, base: &str, channel: &str, case: &Case) {
    let mut published = Vec::new();
    for n in 0..case.published {
        let response = client.post(format!("{base}/channels/{channel}")).body(n.to_string()).send().await.unwrap();
        assert_eq!(response.status(), 201);
        published.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let kept = published[published.len().saturating_sub(BACKLOG)..].to_vec();
    let mut backward = read_all(client, base, channel, String::new(), case, false).await;
    backward.reverse();
    assert_eq!(backward, kept, "{case:?}: paging back");
    let Some(first) = published.first() else { return };
    let start = format!("&after={}-0", first.split('-').next().unwrap());
    assert_eq!(read_all(client, base, channel, start, case, true).await, kept, "{case:?}: paging forward");
    for (at, pivot) in kept.iter().enumerate() {
        let page = get(client, format!("{base}/channels/{channel}/events?limit={BACKLOG}&before={pivot}")).await;
        let before: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        let expected: Vec<&str> = kept[..at].iter().rev().map(String::as_str).collect();
        assert_eq!(before, expected, "{case:?}: before {pivot}");
    }
}

async fn pages_match_the_model(data_dir: Option<PathBuf>) {
    let base = spawn_gateway(data_dir).await;
    let client = Client::new();
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    for n in 0..CASES {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        check(&client, &base, &format!("case{n}"), &case).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_back_and_forth_reads_the_model_backlog_in_memory() {
    pages_match_the_model(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_back_and_forth_reads_the_model_backlog_on_disk() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("cometgate-history-prop-{}-{nanos}", std::process::id()));
    pages_match_the_model(Some(dir.clone())).await;
    let _ = std::fs::remove_dir_all(dir);
}
