//! HTTP at its edges: `HEAD` on every `GET` route, and a JSON body on refusals the
//! framework would answer bare.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, spawn_app, within};

/// Sends `request` as raw bytes and reads the whole answer (the request asks to close).
async fn raw(app: &TestApp, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    within(stream.read_to_end(&mut answer)).await.unwrap();
    String::from_utf8(answer).unwrap()
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.lines().find_map(|line| {
        let (key, value) = line.split_once(": ")?;
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

#[tokio::test]
async fn head_answers_every_get_route_like_get_without_a_body_and_never_holds() {
    let app = spawn_app().await;
    let routes = ["/healthz", "/readyz", "/metrics", "/channels/news", "/", "/static/comet.js"];
    let held = ["/sse/news", "/poll/news", "/stream/news", "/iframe/news"];
    for path in routes.into_iter().chain(held) {
        let answer = raw(&app, &format!("HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {answer}");
        assert!(answer.ends_with("\r\n\r\n"), "{path} sent a body: {answer}");
    }
    let get = app.get("/healthz").await.text().await.unwrap();
    let head = raw(&app, "HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(header(&head, "content-length"), Some(get.len().to_string().as_str()));
    assert_eq!(header(&head, "content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_method_a_route_does_not_take_gets_a_json_405() {
    let app = spawn_app().await;
    for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
        let response = within(app.client.request(method, app.url("/channels/news")).send()).await.unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "method_not_allowed");
    }
}
