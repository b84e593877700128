//! A bounded fuzz of the HTTP API over real TCP: generated channel names, query strings
//! and publish bodies get a documented success or a 4xx with a JSON reason, never a 5xx
//! or a hang, and the gateway still works afterwards.

use std::time::Duration;

use cometgate::{Application, Settings};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;

const REQUESTS: usize = 300;
/// A small event limit so bodies around it are cheap to send.
const MAX_EVENT_BYTES: usize = 256;
const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Publish,
    Channel,
    Poll,
    Sse,
    Stream,
    Iframe,
}

#[derive(Debug)]
struct Request {
    endpoint: Endpoint,
    channel: String,
    query: String,
    body: Vec<u8>,
}

impl Request {
    fn url(&self, base: &str) -> String {
        let (path, query) = match self.endpoint {
            Endpoint::Publish | Endpoint::Channel => ("channels", self.query.clone()),
            Endpoint::Poll => ("poll", format!("timeout=0&{}", self.query)),
            Endpoint::Sse => ("sse", self.query.clone()),
            Endpoint::Stream => ("stream", self.query.clone()),
            Endpoint::Iframe => ("iframe", self.query.clone()),
        };
        format!("{base}/{path}/{}?{query}", self.channel)
    }
}

/// Path or query text: plain name characters, percent-escapes of any byte, broken
/// escapes and raw characters that need encoding.
fn fragment() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[A-Za-z0-9_.:-]{1,8}",
        2 => any::<u8>().prop_map(|byte| format!("%{byte:02X}")),
        1 => prop_oneof![Just("%"), Just("%2"), Just("%zz"), Just("%%"), Just("%C3"), Just("%FF%FE")].prop_map(String::from),
        1 => "[ é😀<>\"'+;,=&#]".prop_map(String::from),
        1 => Just("a".repeat(130)),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("cursor"),
        Just("callback"),
        Just("timeout"),
        Just("event"),
        Just("token"),
        Just("x"),
        Just("")
    ];
    let value = prop_oneof![
        fragment(),
        Just("earliest".to_owned()),
        Just("1-0".to_owned()),
        Just("0".to_owned()),
        Just("app.sub1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("-1".to_owned()),
    ];
    prop::collection::vec((key, value), 0..4)
        .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let around_limit = MAX_EVENT_BYTES - 8..MAX_EVENT_BYTES + 8;
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..MAX_EVENT_BYTES + 16),
        any::<String>().prop_map(String::into_bytes),
        around_limit.clone().prop_map(|n| vec![b'x'; n]),
        around_limit.prop_map(|n| "é".repeat(n / 2).into_bytes()),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let endpoint = prop_oneof![
        3 => Just(Endpoint::Publish),
        1 => Just(Endpoint::Channel),
        2 => Just(Endpoint::Poll),
        1 => Just(Endpoint::Sse),
        1 => Just(Endpoint::Stream),
        1 => Just(Endpoint::Iframe),
    ];
    let channel = prop_oneof![3 => "[A-Za-z0-9_.:-]{1,12}", 2 => fragment()];
    (endpoint, channel, query(), body()).prop_map(|(endpoint, channel, query, body)| Request {
        endpoint,
        channel,
        query,
        body,
    })
}

async fn spawn_gateway() -> String {
    let mut settings = Settings::with_bind("127.0.0.1:0".parse().unwrap());
    settings.workers = Some(2);
    settings.max_event_bytes = MAX_EVENT_BYTES;
    settings.poll_timeout = Duration::from_secs(1);
    let application = Application::build(settings).await.expect("gateway failed to start");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

async fn send(client: &Client, base: &str, request: &Request) -> Option<Response> {
    let url = reqwest::Url::parse(&request.url(base)).ok()?;
    let method = if matches!(request.endpoint, Endpoint::Publish) { Method::POST } else { Method::GET };
    let sent = client.request(method, url).body(request.body.clone()).send();
    let response = tokio::time::timeout(WAIT, sent).await;
    Some(response.unwrap_or_else(|_| panic!("no answer within {WAIT:?} to {request:?}")).expect("request failed"))
}

/// The success each endpoint documents: its status and content type.
fn documented_success(endpoint: Endpoint) -> (StatusCode, &'static str) {
    match endpoint {
        Endpoint::Publish => (StatusCode::CREATED, "application/json"),
        Endpoint::Channel | Endpoint::Poll => (StatusCode::OK, "application/json"),
        Endpoint::Sse => (StatusCode::OK, "text/event-stream"),
        Endpoint::Stream => (StatusCode::OK, "text/plain"),
        Endpoint::Iframe => (StatusCode::OK, "text/html"),
    }
}

async fn json_body(response: Response, request: &Request) -> Value {
    let body = tokio::time::timeout(WAIT, response.bytes()).await;
    let body = body.unwrap_or_else(|_| panic!("body did not end within {WAIT:?} for {request:?}")).unwrap();
    serde_json::from_slice(&body).unwrap_or_else(|_| panic!("body is not JSON for {request:?}: {body:?}"))
}

async fn check_answer(response: Response, request: &Request) {
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let (success, kind) = documented_success(request.endpoint);
    if status == success {
        assert!(content_type.unwrap_or_default().starts_with(kind), "{request:?}");
        let held = matches!(request.endpoint, Endpoint::Sse | Endpoint::Stream | Endpoint::Iframe);
        if !held {
            check_success_body(json_body(response, request).await, request);
        }
        return;
    }
    assert!(status.is_client_error(), "{status} for {request:?}");
    let error = json_body(response, request).await;
    assert!(error["error"].is_string() && error["message"].is_string(), "{status} {error} for {request:?}");
}

fn check_success_body(body: Value, request: &Request) {
    let fields: &[&str] = match request.endpoint {
        Endpoint::Publish => &["id", "channel", "subscribers"],
        Endpoint::Channel => &["channel", "last_id", "backlog", "subscribers"],
        _ => &["events", "cursor", "gap"],
    };
    for field in fields {
        assert!(body.get(field).is_some(), "no {field} in {body} for {request:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_a_documented_answer_and_the_gateway_keeps_working() {
    let base = spawn_gateway().await;
    let client = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut runner = TestRunner::deterministic();
    let strategy = request();
    let mut sent = 0;
    for _ in 0..REQUESTS {
        let request = strategy.new_tree(&mut runner).unwrap().current();
        if let Some(response) = send(&client, &base, &request).await {
            check_answer(response, &request).await;
            sent += 1;
        }
    }
    assert!(sent > REQUESTS * 9 / 10, "only {sent} of {REQUESTS} generated URLs were valid");
    still_publishes_and_polls(&client, &base).await;
}

async fn still_publishes_and_polls(client: &Client, base: &str) {
    let published = client.post(format!("{base}/channels/after-fuzz")).body("still here").send().await.unwrap();
    assert_eq!(published.status(), StatusCode::CREATED);
    let polled = client.get(format!("{base}/poll/after-fuzz?cursor=earliest&timeout=0")).send().await.unwrap();
    assert_eq!(polled.status(), StatusCode::OK);
    let body: Value = polled.json().await.unwrap();
    assert_eq!(body["events"][0]["data"], "still here");
}
