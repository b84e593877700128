//! The history API, `GET /channels/{channel}/events`: pages newest first from the head or
//! before an id, oldest first after one, its bounds and its tokens. It runs on every store:
//! here and in tests/redis on this binary's backend, and on a data directory in `durable`.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const SECRET: &str = "a test secret of thirty-two bytes or more";

/// The page at `query` (`limit=2&before=...`), failing the test on anything but `200`.
pub async fn page(app: &TestApp, channel: &str, query: &str) -> (Vec<Value>, bool) {
    let response = app.get(&format!("/channels/{channel}/events?{query}")).await;
    assert_eq!(response.status(), 200, "{query}: {:?}", response.text().await);
    let body: Value = response.json().await.unwrap();
    (body["events"].as_array().unwrap().clone(), body["more"].as_bool().unwrap())
}

fn ids(events: &[Value]) -> Vec<&str> {
    events.iter().map(|event| event["id"].as_str().unwrap()).collect()
}

/// Publishes five events on `channel` and pages through them both ways.
pub async fn pages_both_ways(app: &TestApp, channel: &str) {
    let datas: Vec<String> = (0..5).map(|n| format!("event {n}")).collect();
    let id = app.publish_all(channel, &datas).await;
    let (newest, more) = page(app, channel, "limit=2").await;
    assert_eq!((ids(&newest), more), (vec![&*id[4], &*id[3]], true));
    let (older, more) = page(app, channel, &format!("limit=2&before={}", id[3])).await;
    assert_eq!((ids(&older), more), (vec![&*id[2], &*id[1]], true));
    let (oldest, more) = page(app, channel, &format!("limit=2&before={}", id[1])).await;
    assert_eq!((ids(&oldest), more), (vec![&*id[0]], false));
    let (forward, more) = page(app, channel, &format!("limit=3&after={}", id[0])).await;
    assert_eq!((ids(&forward), more), (vec![&*id[1], &*id[2], &*id[3]], true));
    let (rest, more) = page(app, channel, &format!("after={}", id[3])).await;
    assert_eq!((ids(&rest), more), (vec![&*id[4]], false));
    let (all, more) = page(app, channel, "").await;
    assert_eq!((all.len(), more), (5, false));
}

#[tokio::test]
async fn history_pages_newest_first_from_the_head_and_before_an_id_and_oldest_first_after_one() {
    let app = spawn_app().await;
    pages_both_ways(&app, "chat").await;
}

#[tokio::test]
async fn history_events_are_the_stream_objects_without_a_type() {
    let app = spawn_app().await;
    let id = app.publish("chat", Some("joined"), "<ann> \"é\"\n").await;
    let (events, _) = page(&app, "chat", "").await;
    let event = events[0].as_object().unwrap();
    let mut fields: Vec<&str> = event.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["channel", "data", "event", "id", "time"]);
    assert_eq!(
        (&event["id"], &event["event"], &event["data"]),
        (&Value::from(id), &"joined".into(), &"<ann> \"é\"\n".into())
    );
}

#[tokio::test]
async fn history_of_a_channel_never_published_is_empty_and_creates_nothing() {
    let app = spawn_app().await;
    assert_eq!(page(&app, "nobody", "").await, (vec![], false));
    assert!(app.channel_info("nobody").await["last_id"].is_null());
}

#[tokio::test]
async fn history_refuses_bad_limits_and_ids_with_400_and_a_reason() {
    let app = spawn_app().await;
    let id = app.publish("chat", None, "x").await;
    for query in [
        "limit=0".to_owned(),
        "limit=1001".to_owned(),
        "limit=ten".to_owned(),
        "limit=-1".to_owned(),
        "before=garbage".to_owned(),
        "after=".to_owned(),
        format!("before={id}&after={id}"),
        "after=1-1".to_owned(),
    ] {
        let response = app.get(&format!("/channels/chat/events?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string() && body["message"].is_string(), "{query}: {body}");
    }
    assert_eq!(page(&app, "chat", "limit=1000").await.0.len(), 1);
    assert_eq!(app.get("/channels/bad%20name/events").await.status(), 400);
}

#[tokio::test]
async fn history_takes_the_subscribers_token_in_the_query_or_as_bearer() {
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let tokens = cometgate::auth::Tokens::new(SECRET);
    let token = tokens.mint(&["chat"], std::time::Duration::from_secs(60)).unwrap();
    let other = tokens.mint(&["other"], std::time::Duration::from_secs(60)).unwrap();
    app.publish("chat", None, "private").await;
    assert_eq!(app.get("/channels/chat/events").await.status(), 401);
    assert_eq!(app.get(&format!("/channels/chat/events?token={other}")).await.status(), 403);
    assert_eq!(app.get("/channels/chat/events?token=forged").await.status(), 401);
    assert_eq!(page(&app, "chat", &format!("token={token}")).await.0.len(), 1);
    let bearer = app.client.get(app.url("/channels/chat/events")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
}

#[tokio::test]
async fn history_is_served_on_the_public_listener_beside_the_transports() {
    let app = spawn_app_with(|s| s.internal_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    app.publish("chat", None, "x").await;
    assert_eq!(page(&app, "chat", "").await.0.len(), 1);
}
