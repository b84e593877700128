//! The edges of subscriber tokens: the secret that signs them, claims at the limits of
//! time, and who may read a channel's figures once channels are private.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{DEADLINE, TestApp, spawn_app_with, within};
use crate::subscriber::{STREAMING, Subscriber};

const SECRET: &str = "a test secret of thirty-two bytes or more";

fn signed(claims: Value) -> String {
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn private_app() -> TestApp {
    spawn_app_with(|s| {
        s.subscribe_secret = Some(SECRET.into());
        s.publish_token = Some("publisher".into());
    })
    .await
}

/// Waits for the gateway process to exit on its own; kills it if it is still serving.
fn exit_of(mut child: Child) -> Option<String> {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if child.try_wait().unwrap().is_some() {
            let output = child.wait_with_output().unwrap();
            assert!(!output.status.success());
            return Some(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

#[test]
fn an_empty_or_short_subscribe_secret_stops_the_gateway_before_it_serves() {
    for (secret, from_env) in [("", false), ("", true), ("short", false), (&"s".repeat(31), true)] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cometgate"));
        command.args(["--bind", "127.0.0.1:0"]).stdout(Stdio::null()).stderr(Stdio::piped());
        if from_env {
            command.env("COMETGATE_SUBSCRIBE_SECRET", secret);
        } else {
            command.args(["--subscribe-secret", secret]);
        }
        let stderr = exit_of(command.spawn().unwrap());
        let stderr = stderr.unwrap_or_else(|| panic!("the gateway served with the secret {secret:?}"));
        assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    }
}

#[tokio::test]
async fn an_embedding_application_cannot_build_a_gateway_with_a_short_secret_either() {
    let mut settings = cometgate::Settings::with_bind("127.0.0.1:0".parse().unwrap());
    settings.subscribe_secret = Some("x".repeat(31));
    let refused = cometgate::Application::build(settings).await.err().expect("a 31-byte secret was taken");
    assert!(refused.to_string().contains("at least 32 bytes"), "{refused}");
}

#[tokio::test]
async fn a_token_valid_until_the_end_of_time_streams_like_any_other() {
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let token = format!("&token={}", signed(json!({ "channel": "news", "exp": u64::MAX })));
    for transport in STREAMING {
        let (mut subscriber, _) = Subscriber::connect_with(&app, transport, "news", "", &token).await;
        let id = app.publish("news", None, "x").await;
        assert_eq!(subscriber.events(&app, 1).await[0].id, id, "{transport:?}");
    }
    let poll = app.get(&format!("/poll/news?timeout=0{token}")).await;
    assert_eq!(poll.status(), 200);
}

#[tokio::test]
async fn a_token_is_refused_before_its_not_before_time_and_accepted_after_it() {
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let now = unix_now();
    let early = signed(json!({ "channel": "news", "exp": now + 600, "nbf": now + 300 }));
    let ready = signed(json!({ "channel": "news", "exp": now + 600, "nbf": now - 1 }));
    for route in ["sse", "poll", "stream", "iframe"] {
        let response = app.get(&format!("/{route}/news?timeout=0&token={early}")).await;
        assert_eq!(response.status(), 401, "{route}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_token");
        let response = within(app.client.get(app.url(&format!("/{route}/news?timeout=0&token={ready}"))).send());
        assert_eq!(response.await.unwrap().status(), 200, "{route}");
    }
}

#[tokio::test]
async fn private_channel_figures_need_a_token_for_the_channel_or_the_publish_token() {
    let app = private_app().await;
    let figures = |auth: Option<String>, query: &str| {
        let mut request = app.client.get(app.url(&format!("/channels/news{query}")));
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        within(request.send())
    };
    let exp = unix_now() + 60;
    let news = signed(json!({ "channel": "news", "exp": exp }));
    let sports = signed(json!({ "channel": "sports", "exp": exp }));
    let refused = figures(None, "").await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "missing_token");
    assert_eq!(figures(None, &format!("?token={sports}")).await.unwrap().status(), 403);
    assert_eq!(figures(Some("wrong".into()), "").await.unwrap().status(), 401);
    for (auth, query) in
        [(None, format!("?token={news}")), (Some(news), String::new()), (Some("publisher".into()), String::new())]
    {
        let answer = figures(auth, &query).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.json::<Value>().await.unwrap()["channel"], "news");
    }
}
