//! Who may read and who may call: subscriber tokens on every transport, and origins.

use std::time::Duration;

use cometgate::auth::Tokens;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::subscriber::{ALL, Frame, STREAMING, Subscriber};

const SECRET: &str = "a test secret of thirty-two bytes or more";

async fn status_and_code(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    if status == 200 {
        return (status, String::new());
    }
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_owned())
}

fn tampered(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    format!("{rest}.{flipped}{}", &signature[1..])
}

#[tokio::test]
async fn every_transport_refuses_bad_tokens_and_accepts_a_valid_one() {
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let tokens = Tokens::new(SECRET);
    let valid = tokens.mint(&["news"], Duration::from_secs(60)).unwrap();
    let other_channel = tokens.mint(&["sports"], Duration::from_secs(60)).unwrap();
    let foreign = Tokens::new("another secret").mint(&["news"], Duration::from_secs(60)).unwrap();
    let expired = tokens.mint(&["news"], Duration::ZERO).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for route in ["sse", "poll", "stream", "iframe"] {
        let path = |token: &str| format!("/{route}/news?timeout=0&token={token}");
        assert_eq!(status_and_code(&app, &format!("/{route}/news?timeout=0")).await, (401, "missing_token".into()));
        assert_eq!(status_and_code(&app, &path(&other_channel)).await, (403, "forbidden".into()), "{route}");
        assert_eq!(status_and_code(&app, &path(&tampered(&valid))).await, (401, "invalid_token".into()), "{route}");
        assert_eq!(status_and_code(&app, &path(&foreign)).await, (401, "invalid_token".into()), "{route}");
        assert_eq!(status_and_code(&app, &path(&expired)).await, (401, "invalid_token".into()), "{route}");
        assert_eq!(status_and_code(&app, &path(&valid)).await.0, 200, "{route}");
    }
}

#[tokio::test]
async fn a_token_may_grant_a_channel_prefix_and_travel_in_the_authorization_header() {
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let token = Tokens::new(SECRET).mint(&["jobs.*"], Duration::from_secs(60)).unwrap();
    let request = app.client.get(app.url("/poll/jobs.42?timeout=0")).bearer_auth(&token);
    assert_eq!(request.send().await.unwrap().status(), 200);
    let elsewhere = app.client.get(app.url("/poll/news?timeout=0")).bearer_auth(&token);
    assert_eq!(elsewhere.send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires_and_a_fresh_token_resumes_without_loss() {
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let tokens = Tokens::new(SECRET);
    for transport in STREAMING {
        let short = format!("&token={}", tokens.mint(&["news"], Duration::from_secs(1)).unwrap());
        let (mut subscriber, _) = Subscriber::connect_with(&app, transport, "news", "", &short).await;
        let seen = app.publish("news", None, "seen").await;
        let started = std::time::Instant::now();
        let (events, cursor) = subscriber.until_close(&app).await;
        assert!(started.elapsed() < Duration::from_secs(3), "{transport:?} outlived its token");
        assert_eq!(events.iter().map(|e| &e.id).collect::<Vec<_>>(), [&seen]);
        let missed = app.publish_all("news", &["b".into(), "c".into()]).await;
        let fresh = format!("&token={}", tokens.mint(&["news"], Duration::from_secs(60)).unwrap());
        let (mut resumed, _) = Subscriber::connect_with(&app, transport, "news", &cursor.unwrap(), &fresh).await;
        let ids: Vec<String> = resumed.events(&app, 2).await.into_iter().map(|e| e.id).collect();
        assert_eq!(ids, missed, "{transport:?}");
    }
}

#[tokio::test]
async fn without_a_secret_channels_are_public_on_every_transport() {
    let app = spawn_app().await;
    for transport in ALL {
        let channel = format!("open-{transport:?}");
        let (mut subscriber, _) = Subscriber::connect(&app, transport, &channel, "earliest").await;
        let id = app.publish(&channel, None, "x").await;
        assert_eq!(subscriber.events(&app, 1).await[0].id, id);
    }
}

#[tokio::test]
async fn the_token_command_mints_a_token_the_gateway_accepts() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cometgate"))
        .args(["--subscribe-secret", SECRET, "token", "--channel", "news", "--ttl", "5m"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap();
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    assert_eq!(status_and_code(&app, &format!("/poll/news?timeout=0&token={}", token.trim())).await.0, 200);
}

async fn with_origin(app: &TestApp, method: reqwest::Method, path: &str, origin: &str) -> reqwest::Response {
    let request = app.client.request(method, app.url(path)).header("Origin", origin);
    request.send().await.unwrap()
}

#[tokio::test]
async fn by_default_only_the_gateways_own_origin_may_call_it() {
    let app = spawn_app().await;
    let foreign = with_origin(&app, reqwest::Method::GET, "/poll/news?timeout=0", "https://evil.example").await;
    assert_eq!(foreign.status(), 403);
    assert_eq!(foreign.json::<Value>().await.unwrap()["error"], "forbidden");
    let publish = app.client.post(app.url("/channels/news")).header("Origin", "https://evil.example").body("x");
    assert_eq!(publish.send().await.unwrap().status(), 403);
    assert!(app.channel_info("news").await["last_id"].is_null(), "a refused publish was stored");
    let own = app.client.post(app.url("/channels/news")).header("Origin", app.address.clone()).body("x");
    let own = own.send().await.unwrap();
    assert_eq!(own.status(), 201);
    assert!(own.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn allowed_origins_get_cors_headers_and_preflight_answers() {
    let app = spawn_app_with(|s| s.allow_origins = vec!["https://app.example".into()]).await;
    let allowed = with_origin(&app, reqwest::Method::GET, "/poll/news?timeout=0", "https://app.example").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(allowed.headers()["vary"], "Origin");
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/channels/news"))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(preflight.headers()["access-control-allow-methods"], "GET, POST, OPTIONS");
    assert_eq!(preflight.headers()["access-control-allow-headers"], "authorization, content-type");
    let other = with_origin(&app, reqwest::Method::OPTIONS, "/channels/news", "https://evil.example").await;
    assert_eq!(other.status(), 403);
}

#[tokio::test]
async fn a_star_allows_any_origin_without_credentials() {
    let app = spawn_app_with(|s| s.allow_origins = vec!["*".into()]).await;
    let (mut subscriber, _) = Subscriber::connect(&app, crate::subscriber::Transport::Stream, "news", "").await;
    let response = with_origin(&app, reqwest::Method::POST, "/channels/news", "https://any.example").await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response.headers().get("access-control-allow-credentials").is_none());
    assert!(matches!(subscriber.next(&app).await, Frame::Event(_)));
}
