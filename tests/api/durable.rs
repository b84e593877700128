//! The durable single node (`--data-dir`): the real binary in a child process on a real
//! directory, killed with SIGKILL or stopped with SIGTERM and started again; subscribers
//! resume on every transport with no gap and nothing repeated. Also: the directory's lock,
//! the `always` mode's promise, a full disk, and the history API on disk.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::helpers::{DEADLINE, TestApp, spawn_app_with, spawn_process};
use crate::history::{page, pages_both_ways};
use crate::subscriber::{ALL, Subscriber, Transport, poll};

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct DataDir(PathBuf);

impl DataDir {
    pub fn new(name: &str) -> DataDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("cometgate-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        DataDir(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The gateway on `dir` in a process of its own, and a client of it.
fn start(dir: &DataDir, args: &[&str]) -> (Child, TestApp) {
    let (child, address) = spawn_process(&[&["--data-dir", dir.path()], args].concat());
    (child, TestApp::at(address, None))
}

fn kill_9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn stop(mut child: Child) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < DEADLINE, "the gateway did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn epoch_of(id: &str) -> &str {
    id.split('-').next().unwrap()
}

fn seq_of(id: &str) -> u64 {
    id.split('-').nth(1).unwrap().parse().unwrap()
}

/// Each transport reads two of three events; the gateway goes down by `restart`; each
/// resumes from its cursor and gets the third and two new ones, in order, with no gap
/// frame (which [`Subscriber::events`] refuses) and nothing twice.
async fn resumes_across(restart: fn(Child)) {
    let dir = DataDir::new("resume");
    let (child, app) = start(&dir, &[]);
    let mut cursors = Vec::new();
    for transport in ALL {
        let channel = format!("resume-{transport:?}");
        let ids = app.publish_all(&channel, &["one".into(), "two".into(), "three".into()]).await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, &channel, "earliest").await;
        let read = subscriber.events(&app, 2).await;
        assert_eq!(read.iter().map(|e| &e.id).collect::<Vec<_>>(), [&ids[0], &ids[1]], "{transport:?}");
        cursors.push((transport, channel, ids));
    }
    restart(child);
    let (child, app) = start(&dir, &[]);
    for (transport, channel, ids) in cursors {
        let new = app.publish_all(&channel, &["four".into(), "five".into()]).await;
        assert_eq!(epoch_of(&new[0]), epoch_of(&ids[0]), "the epoch changed");
        let (mut subscriber, _) = Subscriber::connect(&app, transport, &channel, &ids[1]).await;
        let resumed: Vec<(String, String)> =
            subscriber.events(&app, 3).await.into_iter().map(|e| (e.id, e.data)).collect();
        let expected = [(&ids[2], "three"), (&new[0], "four"), (&new[1], "five")];
        assert_eq!(resumed, expected.map(|(id, data)| (id.clone(), data.to_owned())), "{transport:?}");
    }
    kill_9(child);
}

#[tokio::test]
async fn after_kill_9_every_transport_resumes_from_its_cursor_with_no_gap_and_nothing_repeated() {
    resumes_across(kill_9).await;
}

#[tokio::test]
async fn after_a_clean_stop_every_transport_resumes_from_its_cursor_with_no_gap_and_nothing_repeated() {
    resumes_across(stop).await;
}

#[tokio::test]
async fn with_fsync_always_every_publish_answered_201_survives_a_kill_at_a_random_moment() {
    let dir = DataDir::new("always");
    let (child, app) = start(&dir, &["--fsync", "always"]);
    let publisher = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for n in 0..1000 {
            let url = app.api_url("/channels/burst");
            match app.client.post(url).body(format!("event {n}")).send().await {
                Ok(response) if response.status() == 201 => {
                    let body: Value = response.json().await.unwrap();
                    acknowledged.push((body["id"].as_str().unwrap().to_owned(), format!("event {n}")));
                }
                _ => break,
            }
        }
        acknowledged
    });
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    tokio::time::sleep(Duration::from_millis(100 + u64::from(nanos % 400))).await;
    kill_9(child);
    let acknowledged = crate::helpers::within(publisher).await.unwrap();
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < 1000,
        "the kill fell outside the burst: {}",
        acknowledged.len()
    );
    let (child, app) = start(&dir, &[]);
    let (held, _) = page(&app, "burst", "limit=1000").await;
    let held: Vec<(String, String)> = held
        .iter()
        .rev()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e["data"].as_str().unwrap().to_owned()))
        .collect();
    assert!(held.len() >= acknowledged.len(), "{} held, {} acknowledged", held.len(), acknowledged.len());
    assert_eq!(held[..acknowledged.len()], acknowledged[..], "an acknowledged event is missing or changed");
    let next = app.publish("burst", None, "after").await;
    assert!(seq_of(&next) > seq_of(&held.last().unwrap().0), "the sequence went back");
    kill_9(child);
}

/// Runs the binary with `args` until it exits on its own, returning its stderr.
fn refused(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cometgate"))
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert!(!output.status.success(), "the gateway started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_second_gateway_on_the_same_directory_refuses_to_start_naming_the_directory() {
    let dir = DataDir::new("locked");
    let (child, _app) = start(&dir, &[]);
    let stderr = refused(&["--data-dir", dir.path()]);
    assert!(stderr.contains(dir.path()) && stderr.contains("locked"), "{stderr}");
    kill_9(child);
}

#[test]
fn a_data_directory_with_redis_is_refused() {
    let stderr = refused(&["--data-dir", "/tmp/unused", "--redis-url", "redis://127.0.0.1:1"]);
    assert!(stderr.contains("--data-dir") && stderr.contains("--redis-url"), "{stderr}");
}

#[test]
fn a_data_directory_that_is_not_a_store_is_refused_naming_it() {
    let dir = DataDir::new("corrupt");
    std::fs::write(Path::new(dir.path()).join("version"), b"not a store").unwrap();
    let stderr = refused(&["--data-dir", dir.path()]);
    assert!(stderr.contains(dir.path()), "{stderr}");
}

#[tokio::test]
async fn history_pages_both_ways_on_a_data_directory() {
    let dir = DataDir::new("history");
    let path = PathBuf::from(dir.path());
    let app = spawn_app_with(|s| s.data_dir = Some(path)).await;
    pages_both_ways(&app, "chat").await;
}

/// The gateway started by `command`, and its address from its first line.
fn serve(mut command: Command) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().strip_prefix("cometgate listening on ").expect("unexpected first line").to_owned();
    (child, address)
}

#[tokio::test]
async fn a_full_disk_answers_publishes_with_503_and_retry_after_and_subscribers_keep_being_served() {
    let dir = DataDir::new("full");
    // A 1 MiB tmpfs on the data directory, mounted in a mount namespace of the gateway's
    // own (a user namespace makes that work without root), so nothing outlives the test.
    let script = r#"mount -t tmpfs -o size=1m tmpfs "$1" && shift && exec "$@""#;
    let mut command = Command::new("unshare");
    command.args(["--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", dir.path()]);
    command.args([env!("CARGO_BIN_EXE_cometgate"), "--bind", "127.0.0.1:0", "--workers", "1"]);
    command.args(["--data-dir", dir.path(), "--backlog-size", "5000", "--stream-max-bytes", "67108864"]);
    let (mut child, address) = serve(command);
    let app = TestApp::at(address, None);
    let (mut subscriber, _) = Subscriber::connect(&app, Transport::Sse, "full", "").await;
    let mut acknowledged = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    // Letters from a xorshift generator: what the journal cannot compress.
    let mut data = || -> String {
        (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect()
    };
    let refusal = loop {
        assert!(acknowledged.len() < 2000, "2,000 publishes of 4 KiB fitted on a 1 MiB disk");
        let response = app.publish_raw("full", None, data()).await;
        if response.status() != 201 {
            break response;
        }
        acknowledged.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    };
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.headers()["retry-after"], "5");
    assert_eq!(refusal.json::<Value>().await.unwrap()["error"], "store_unavailable");
    assert!(!acknowledged.is_empty(), "the first publish was refused: the test proves nothing");
    assert_eq!(app.publish_raw("full", None, "again").await.status(), 503);
    let received: Vec<String> = subscriber.events(&app, acknowledged.len()).await.into_iter().map(|e| e.id).collect();
    assert_eq!(received, acknowledged, "the live subscriber");
    let answer = poll(&app, "full", "earliest", Some(0)).await;
    assert_eq!(answer["events"][0]["id"], acknowledged[0].as_str(), "a new subscriber");
    assert!(child.try_wait().unwrap().is_none(), "the gateway exited");
    kill_9(child);
}

#[tokio::test]
async fn a_channel_dropped_before_a_restart_still_tells_a_lost_cursor_from_a_current_one() {
    let dir = DataDir::new("dropped");
    let flags = ["--backlog-max-age", "200ms", "--channel-idle", "0s", "--sweep-interval", "50ms"];
    let (child, app) = start(&dir, &flags);
    let ids = app.publish_all("gone", &["one".into(), "two".into()]).await;
    let started = Instant::now();
    while !app.channel_info("gone").await["last_id"].is_null() {
        assert!(started.elapsed() < DEADLINE, "the channel was never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill_9(child);
    let (child, app) = start(&dir, &flags);
    assert_eq!(poll(&app, "gone", &ids[1], Some(0)).await["gap"], false, "the cursor at its last event");
    assert_ne!(poll(&app, "gone", &ids[0], Some(0)).await["gap"], false, "a cursor whose next event expired");
    kill_9(child);
}

#[tokio::test]
async fn a_new_epoch_after_restoring_a_copy_keeps_the_events_and_tells_old_cursors_of_a_gap() {
    let dir = DataDir::new("epoch");
    let (child, app) = start(&dir, &[]);
    let old = app.publish_all("chat", &["one".into(), "two".into()]).await;
    stop(child);
    let (child, app) = start(&dir, &["--new-epoch"]);
    let (events, _) = page(&app, "chat", "").await;
    let held: Vec<&str> = events.iter().map(|e| e["data"].as_str().unwrap()).collect();
    assert_eq!(held, ["two", "one"]);
    assert_ne!(epoch_of(events[0]["id"].as_str().unwrap()), epoch_of(&old[1]));
    let answer = poll(&app, "chat", &old[1], Some(0)).await;
    assert_ne!(answer["gap"], false, "a cursor of the old epoch resumed as if current");
    assert_eq!(answer["events"].as_array().unwrap().len(), 2);
    kill_9(child);
}
