//! Starts a gateway on 127.0.0.1 port 0 and talks to it over real TCP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cometgate::{Application, Settings};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::redis_server::RedisServer;

/// How long any single wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Which store the gateways of a test binary run on; each binary sets `crate::BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
}

pub struct TestApp {
    pub address: String,
    /// The internal listener's address (publish API, figures, metrics), when it has one.
    pub internal_address: Option<String>,
    pub client: reqwest::Client,
    pub shutdown: CancellationToken,
    /// The Redis this gateway (and any node started beside it) runs on.
    pub redis: Option<Arc<Mutex<RedisServer>>>,
    settings: Settings,
}

/// A gateway with test-friendly settings, changed further by `configure`, on the test
/// binary's backend (a Redis of its own when that is Redis).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings::with_bind("127.0.0.1:0".parse().unwrap());
    settings.workers = Some(2);
    configure(&mut settings);
    let redis = (crate::BACKEND == Backend::Redis).then(|| Arc::new(Mutex::new(RedisServer::start())));
    start(settings, redis).await
}

async fn start(mut settings: Settings, redis: Option<Arc<Mutex<RedisServer>>>) -> TestApp {
    if let Some(redis) = &redis {
        settings.redis_url = Some(redis.lock().unwrap().url());
    }
    let application = Application::build(settings.clone()).await.expect("gateway failed to start");
    let address = format!("http://127.0.0.1:{}", application.port());
    let internal_address = application.internal_port().map(|port| format!("http://127.0.0.1:{port}"));
    let shutdown = application.shutdown_token();
    tokio::spawn(application.run_until_stopped());
    TestApp { address, internal_address, client: reqwest::Client::new(), shutdown, redis, settings }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The gateway binary in a process of its own (so it can be signalled or killed), with
/// `args` after `--bind 127.0.0.1:0`; returns it and its address.
pub fn spawn_process(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cometgate"))
        .args(["--bind", "127.0.0.1:0", "--workers", "1"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cannot start the cometgate binary");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().strip_prefix("cometgate listening on ").expect("unexpected first line").to_owned();
    (child, address)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// A client of a gateway that runs elsewhere (another process).
    pub fn at(address: String, redis: Option<Arc<Mutex<RedisServer>>>) -> TestApp {
        let settings = Settings::with_bind("127.0.0.1:0".parse().unwrap());
        let client = reqwest::Client::new();
        TestApp { address, internal_address: None, client, shutdown: CancellationToken::new(), redis, settings }
    }

    /// Another gateway node with the same settings on the same Redis.
    pub async fn spawn_node(&self) -> TestApp {
        start(self.settings.clone(), self.redis.clone()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A URL of the publishers' side: the internal listener when there is one.
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{}", self.internal_address.as_ref().unwrap_or(&self.address), path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        within(self.client.get(self.url(path)).send()).await.expect("GET failed")
    }

    pub async fn publish_raw(
        &self,
        channel: &str,
        event: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let query = event.map(|e| format!("?event={e}")).unwrap_or_default();
        let request = self.client.post(self.api_url(&format!("/channels/{channel}{query}"))).body(body);
        within(request.send()).await.expect("publish failed")
    }

    /// Publishes and returns the new event's id, failing the test on anything but `201`.
    pub async fn publish(&self, channel: &str, event: Option<&str>, data: &str) -> String {
        let response = self.publish_raw(channel, event, data.to_owned()).await;
        assert_eq!(response.status(), 201, "publish refused: {:?}", response.text().await);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// Publishes `datas` as `message` events and returns their ids.
    pub async fn publish_all(&self, channel: &str, datas: &[String]) -> Vec<String> {
        let mut ids = Vec::new();
        for data in datas {
            ids.push(self.publish(channel, None, data).await);
        }
        ids
    }

    pub async fn channel_info(&self, channel: &str) -> Value {
        let request = self.client.get(self.api_url(&format!("/channels/{channel}")));
        within(request.send()).await.expect("GET failed").json().await.unwrap()
    }

    /// Waits until the channel reports `count` subscribers.
    pub async fn await_subscribers(&self, channel: &str, count: u64) {
        let started = tokio::time::Instant::now();
        loop {
            let info = self.channel_info(channel).await;
            if info["subscribers"] == count {
                return;
            }
            assert!(started.elapsed() < DEADLINE, "subscribers stayed {} instead of {count}", info["subscribers"]);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Opens a streaming GET and returns its body as it arrives.
    pub async fn open(&self, path: &str) -> Incoming {
        let response = self.get(path).await;
        Incoming::new(response)
    }
}

/// Fails the test if `future` takes longer than [`DEADLINE`].
pub async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(DEADLINE, future).await.expect("timed out waiting")
}

/// A response body read piece by piece, each read under the deadline.
pub struct Incoming {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: Vec<u8>,
    ended: bool,
    /// Bytes of body received so far.
    pub received: usize,
}

impl Incoming {
    pub fn new(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Incoming {
            status,
            headers,
            body: response.bytes_stream().boxed(),
            buffer: Vec::new(),
            ended: false,
            received: 0,
        }
    }

    /// The bytes up to and including the next `delimiter`, or `None` once the body ended or
    /// the connection broke.
    pub async fn until(&mut self, delimiter: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self.buffer.windows(delimiter.len()).position(|w| w == delimiter) {
                return Some(self.buffer.drain(..at + delimiter.len()).collect());
            }
            if self.ended {
                return None;
            }
            match within(self.body.next()).await {
                Some(Ok(chunk)) => self.push(&chunk),
                Some(Err(_)) | None => self.ended = true,
            }
        }
    }

    /// The next bytes of the body (first what [`Incoming::until`] left over), or `None`
    /// once it ended or the connection broke.
    pub async fn chunk(&mut self) -> Option<Vec<u8>> {
        if !self.buffer.is_empty() {
            return Some(std::mem::take(&mut self.buffer));
        }
        if self.ended {
            return None;
        }
        match within(self.body.next()).await {
            Some(Ok(chunk)) => {
                self.received += chunk.len();
                Some(chunk.to_vec())
            }
            Some(Err(_)) | None => {
                self.ended = true;
                None
            }
        }
    }

    /// Exactly `count` bytes.
    pub async fn take(&mut self, count: usize) -> Vec<u8> {
        while self.buffer.len() < count {
            let chunk = within(self.body.next()).await.expect("body ended early");
            self.push(&chunk.expect("body read failed"));
        }
        self.buffer.drain(..count).collect()
    }

    fn push(&mut self, chunk: &[u8]) {
        self.received += chunk.len();
        self.buffer.extend_from_slice(chunk);
    }
}
