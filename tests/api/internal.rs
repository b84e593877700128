//! `--internal-bind`: the publishers' and operators' side on a listener of its own.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with, within};
use crate::subscriber::{ALL, Frame, Subscriber};

async fn split_app() -> TestApp {
    spawn_app_with(|s| s.internal_bind = Some("127.0.0.1:0".parse().unwrap())).await
}

async fn status(app: &TestApp, method: reqwest::Method, url: String) -> (u16, Value) {
    let response = within(app.client.request(method, url).send()).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn with_an_internal_listener_publishing_and_figures_leave_the_public_one() {
    let app = split_app().await;
    for (method, path) in [
        (reqwest::Method::POST, "/channels/news"),
        (reqwest::Method::GET, "/channels/news"),
        (reqwest::Method::GET, "/metrics"),
        (reqwest::Method::GET, "/healthz"),
        (reqwest::Method::GET, "/readyz"),
    ] {
        let (public, body) = status(&app, method.clone(), app.url(path)).await;
        assert_eq!((public, body["error"].as_str()), (404, Some("not_found")), "{method} {path} on the public side");
        let (internal, _) = status(&app, method.clone(), app.api_url(path)).await;
        assert!([200, 201].contains(&internal), "{method} {path} on the internal side: {internal}");
    }
}

#[tokio::test]
async fn subscribers_stay_on_the_public_listener_and_get_what_the_internal_one_accepts() {
    let app = split_app().await;
    for path in ["/sse/news", "/poll/news?timeout=0", "/stream/news", "/iframe/news", "/"] {
        let (internal, body) = status(&app, reqwest::Method::GET, app.api_url(path)).await;
        assert_eq!((internal, body["error"].as_str()), (404, Some("not_found")), "{path} on the internal side");
    }
    for transport in ALL {
        let channel = format!("split-{transport:?}");
        let (mut subscriber, _) = Subscriber::connect(&app, transport, &channel, "").await;
        let id = app.publish(&channel, None, "across listeners").await;
        match subscriber.next(&app).await {
            Frame::Event(event) => assert_eq!((event.id, event.data.as_str()), (id, "across listeners")),
            other => panic!("{transport:?}: expected the event, got {other:?}"),
        }
    }
}
