//! Which host names the gateway answers for: a page whose name was rebound to the
//! gateway's address is refused on every route before anything happens.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, within};

async fn as_host(app: &TestApp, method: Method, path: &str, host: &str, origin: &str) -> reqwest::Response {
    let request = app.client.request(method, app.url(path)).header("Host", host).header("Origin", origin);
    within(request.body("x").send()).await.unwrap()
}

const EVERY_KIND_OF_ROUTE: [(&str, &str); 6] = [
    ("POST", "/channels/news"),
    ("GET", "/channels/news"),
    ("GET", "/sse/news"),
    ("GET", "/poll/news?timeout=0"),
    ("POST", "/demo/jobs?channel=news&steps=1&pace_ms=10"),
    ("GET", "/"),
];

#[tokio::test]
async fn a_page_rebound_to_the_gateway_is_refused_on_every_route() {
    let app = spawn_app().await;
    for (method, path) in EVERY_KIND_OF_ROUTE {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = as_host(&app, method, path, "evil.example", "http://evil.example").await;
        assert_eq!(response.status(), 421, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unknown_host", "{path}");
    }
    assert!(app.channel_info("news").await["last_id"].is_null(), "a refused publish was stored");
}

#[tokio::test]
async fn loopback_names_are_answered_on_any_port() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), "[::1]:1234".to_owned()] {
        let origin = format!("http://{host}");
        assert_eq!(as_host(&app, Method::POST, "/channels/news", &host, &origin).await.status(), 201, "{host}");
        assert_eq!(as_host(&app, Method::GET, "/channels/news", &host, &origin).await.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn a_public_origin_is_answered_and_counts_as_the_gateways_own() {
    let app = spawn_app_with(|s| s.public_origins = vec!["https://push.example.com".into()]).await;
    let own = as_host(&app, Method::POST, "/channels/news", "push.example.com", "https://push.example.com").await;
    assert_eq!(own.status(), 201);
    assert!(own.headers().get("access-control-allow-origin").is_none());
    let foreign = as_host(&app, Method::POST, "/channels/news", "push.example.com", "https://evil.example").await;
    assert_eq!(foreign.status(), 403);
    let other = as_host(&app, Method::GET, "/healthz", "evil.example", "https://push.example.com").await;
    assert_eq!(other.status(), 421);
}
