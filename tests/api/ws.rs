//! The WebSocket transport with an independent client (`tokio-tungstenite`): channels changed
//! on a live socket, cursors shared with the other transports, pings, `Origin`, bad
//! messages, limits, slow readers and shutdown. The payload corpus, named events, resuming
//! and gaps run over `/ws` with every other transport in `transports.rs`.

use std::time::Duration;

use cometgate::auth::Tokens;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, within};
use crate::subscriber::{Socket, next_text, open_socket, poll};

fn ws_url(app: &TestApp, path: &str) -> String {
    format!("ws{}{path}", app.address.trim_start_matches("http"))
}

async fn send(socket: &mut Socket, message: Value) {
    within(socket.send(Message::text(message.to_string()))).await.expect("send failed");
}

async fn next_json(socket: &mut Socket) -> Value {
    serde_json::from_str(&next_text(socket).await.expect("the socket closed")).expect("a message that is not JSON")
}

/// Reads up to the end of the socket: the messages before its close, and the close code.
async fn until_closed(socket: &mut Socket) -> (Vec<Value>, Option<u16>) {
    let mut messages = Vec::new();
    loop {
        match within(socket.next()).await {
            Some(Ok(Message::Text(text))) => messages.push(serde_json::from_str(text.as_str()).unwrap()),
            Some(Ok(Message::Close(frame))) => return (messages, frame.map(|frame| u16::from(frame.code))),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (messages, None),
        }
    }
}

/// The ids of the events among `messages`.
fn event_ids(messages: &[Value]) -> Vec<String> {
    messages.iter().filter(|m| m["type"] == "event").map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

/// An upgrade that must be refused: its status and JSON body.
async fn refused(app: &TestApp, path: &str, origin: Option<&str>) -> (u16, Value) {
    let mut request = ws_url(app, path).into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    match within(tokio_tungstenite::connect_async(request)).await {
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (response.status().as_u16(), serde_json::from_slice(&body).expect("a refusal without JSON"))
        }
        other => panic!("{path} was not refused: {:?}", other.map(|(_, response)| response.status())),
    }
}

/// Reads until the next open frame, returning the messages before it and its cursor.
async fn until_open(socket: &mut Socket) -> (Vec<Value>, String) {
    let mut before = Vec::new();
    loop {
        let message = next_json(socket).await;
        assert_ne!(message["type"], "error", "refused: {message}");
        match message["type"].as_str() {
            Some("open") => return (before, message["cursor"].as_str().unwrap().to_owned()),
            _ => before.push(message),
        }
    }
}

/// The sequence number of an id (`<epoch>-<seq>`).
fn seq(id: &str) -> u64 {
    id.rsplit('-').next().unwrap().parse().unwrap()
}

/// Reads up to the acknowledgement of a change of channels (an open frame), adding what
/// came before it and then a marker of the change to `messages`.
async fn acknowledged(socket: &mut Socket, kind: &str, messages: &mut Vec<Value>) {
    let (before, _) = until_open(socket).await;
    messages.extend(before);
    messages.push(json!({ "type": "ack", "change": kind }));
}

#[tokio::test]
async fn channels_change_on_a_live_socket_with_nothing_lost_or_repeated_on_those_kept() {
    let app = spawn_app().await;
    let mut socket = open_socket(&app, "/ws/a").await;
    until_open(&mut socket).await;
    let (mut published_a, mut messages) = (Vec::new(), Vec::new());
    for round in 0..10 {
        let kind = if round % 2 == 0 { "subscribe" } else { "unsubscribe" };
        send(&mut socket, json!({ "type": kind, "channels": ["b"] })).await;
        for n in 0..5 {
            published_a.push(app.publish("a", None, &format!("a{round}-{n}")).await);
            app.publish("b", None, &format!("b{round}-{n}")).await;
        }
        acknowledged(&mut socket, kind, &mut messages).await;
    }
    send(&mut socket, json!({ "type": "subscribe", "channels": ["b"] })).await;
    acknowledged(&mut socket, "subscribe", &mut messages).await;
    let marker_b = app.publish("b", None, "marker").await;
    published_a.push(app.publish("a", None, "marker").await);
    while messages.last().unwrap()["id"] != published_a.last().unwrap().as_str() {
        messages.push(next_json(&mut socket).await);
    }
    let ids = event_ids(&messages);
    assert!(ids.windows(2).all(|pair| seq(&pair[0]) < seq(&pair[1])), "not in id order: {ids:?}");
    let on = |channel: &str| -> Vec<Value> {
        messages.iter().filter(|m| m["channel"] == channel).map(|m| m["id"].clone()).collect()
    };
    let expected_a: Vec<Value> = published_a.into_iter().map(Value::from).collect();
    assert_eq!(on("a"), expected_a, "channel a lost or repeated an event");
    assert!(on("b").contains(&marker_b.into()), "b was not followed again");
    let mut following_b = false;
    for message in &messages {
        match message["type"].as_str() {
            Some("ack") => following_b = message["change"] == "subscribe",
            Some("event") if message["channel"] == "b" => assert!(following_b, "b after it was dropped"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn an_id_from_a_socket_resumes_a_poll_and_a_poll_cursor_resumes_a_socket() {
    let app = spawn_app().await;
    let mut socket = open_socket(&app, "/ws/news").await;
    until_open(&mut socket).await;
    let ids = app.publish_all("news", &["1".into(), "2".into(), "3".into()]).await;
    let received = [next_json(&mut socket).await, next_json(&mut socket).await];
    drop(socket);
    let answer = poll(&app, "news", received[1]["id"].as_str().unwrap(), Some(0)).await;
    assert_eq!(answer["events"].as_array().unwrap().len(), 1);
    assert_eq!(answer["events"][0]["id"], ids[2].as_str());
    let missed = app.publish_all("news", &["4".into(), "5".into()]).await;
    let cursor = answer["cursor"].as_str().unwrap();
    let mut socket = open_socket(&app, &format!("/ws/news?cursor={cursor}")).await;
    assert_eq!(until_open(&mut socket).await.1, cursor);
    let resumed = [next_json(&mut socket).await, next_json(&mut socket).await];
    assert_eq!(event_ids(&resumed), missed);
}

#[tokio::test]
async fn a_socket_is_pinged_and_closed_once_its_peer_stops_answering() {
    let app = spawn_app_with(|s| s.heartbeat = Duration::from_millis(100)).await;
    let mut socket = open_socket(&app, "/ws/quiet").await;
    let (_, opened) = until_open(&mut socket).await;
    let mut pings = 0;
    while pings < 5 {
        if let Some(Ok(Message::Ping(_))) = within(socket.next()).await {
            pings += 1;
        }
    }
    app.await_subscribers("quiet", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.await_subscribers("quiet", 0).await;
    let (messages, code) = until_closed(&mut socket).await;
    assert_eq!(messages, [json!({ "type": "reconnect", "cursor": opened })]);
    assert_eq!(code, Some(1001));
}

#[tokio::test]
async fn an_upgrade_from_an_origin_not_allowed_is_refused_before_it_upgrades() {
    let app = spawn_app_with(|s| s.allow_origins = vec!["https://app.example".into()]).await;
    let (status, body) = refused(&app, "/ws/news", Some("https://evil.example")).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    assert_eq!(app.channel_info("news").await["subscribers"], 0);
    for origin in [Some("https://app.example"), Some(app.address.as_str()), None] {
        let mut request = ws_url(&app, "/ws/news").into_client_request().unwrap();
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", origin.parse().unwrap());
        }
        let (mut socket, _) = within(tokio_tungstenite::connect_async(request)).await.expect("refused");
        until_open(&mut socket).await;
    }
}

#[tokio::test]
async fn malformed_or_refused_messages_get_an_error_frame_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let mut socket = open_socket(&app, "/ws").await;
    let refusals = [
        (Message::text("not json"), "bad_request", Value::Null),
        (Message::text(r#"{"type":"dance"}"#), "bad_request", Value::Null),
        (Message::binary(b"{}".to_vec()), "bad_request", Value::Null),
        (Message::text(r#"{"type":"subscribe","channels":["ok","bad name"]}"#), "bad_channel", "bad name".into()),
        (Message::text(r#"{"type":"subscribe","channels":["news"],"cursor":"x"}"#), "bad_cursor", Value::Null),
    ];
    for (message, code, channel) in refusals {
        within(socket.send(message)).await.unwrap();
        let error = next_json(&mut socket).await;
        assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("error"), Some(code)), "{error}");
        assert_eq!(error["channel"], channel);
    }
    send(&mut socket, json!({ "type": "subscribe", "channels": ["news"] })).await;
    until_open(&mut socket).await;
    let id = app.publish("news", None, "still open").await;
    assert_eq!(next_json(&mut socket).await["id"], id.as_str());
}

#[tokio::test]
async fn a_message_over_4_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let mut socket = open_socket(&app, "/ws/news").await;
    until_open(&mut socket).await;
    let subscribe = json!({ "type": "subscribe", "channels": ["news"] }).to_string();
    let padded = |size: usize| format!("{subscribe}{}", " ".repeat(size - subscribe.len()));
    within(socket.send(Message::text(padded(4096)))).await.unwrap();
    until_open(&mut socket).await;
    within(socket.send(Message::text(padded(4097)))).await.unwrap();
    let (_, code) = until_closed(&mut socket).await;
    assert_eq!(code, Some(1009));
}

#[tokio::test]
async fn tokens_come_in_the_query_or_in_the_subscribe_message() {
    const SECRET: &str = "a test secret of thirty-two bytes or more";
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let token = Tokens::new(SECRET).mint(&["news"], Duration::from_secs(60)).unwrap();
    assert_eq!(refused(&app, "/ws/news", None).await.1["error"], "missing_token");
    let mut socket = open_socket(&app, &format!("/ws/news?token={token}")).await;
    until_open(&mut socket).await;
    let mut socket = open_socket(&app, "/ws").await;
    send(&mut socket, json!({ "type": "subscribe", "channels": ["news"] })).await;
    let error = next_json(&mut socket).await;
    assert_eq!((error["code"].as_str(), error["channel"].as_str()), (Some("missing_token"), Some("news")));
    send(&mut socket, json!({ "type": "subscribe", "channels": ["news"], "token": token })).await;
    until_open(&mut socket).await;
}

#[tokio::test]
async fn a_socket_whose_token_expires_gets_a_reconnect_frame_then_1008() {
    const SECRET: &str = "a test secret of thirty-two bytes or more";
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let token = Tokens::new(SECRET).mint(&["news"], Duration::from_secs(2)).unwrap();
    let mut socket = open_socket(&app, &format!("/ws/news?token={token}")).await;
    let (_, opened) = until_open(&mut socket).await;
    let (messages, code) = until_closed(&mut socket).await;
    assert_eq!((messages, code), (vec![json!({ "type": "reconnect", "cursor": opened })], Some(1008)));
}

#[tokio::test]
async fn upgrades_are_limited_and_counted_as_the_other_subscribers_are() {
    let app = spawn_app_with(|s| s.max_subscribers = 1).await;
    let mut first = open_socket(&app, "/ws/a").await;
    until_open(&mut first).await;
    let (status, body) = refused(&app, "/ws/b", None).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("too_many_subscribers")));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("cometgate_subscribers{transport=\"ws\"} 1"), "{metrics}");
    let plain = app.get("/ws/a").await;
    assert_eq!(plain.status(), 400);
    let app = spawn_app_with(|s| (s.limit_loopback, s.max_connections_per_ip) = (true, 1)).await;
    let _held = open_socket(&app, "/ws").await;
    assert_eq!(refused(&app, "/ws", None).await.0, 429);
}

/// A socket whose connection has a 4 KiB receive buffer, so that it fills at once.
async fn open_small(app: &TestApp, path: &str) -> Socket {
    let address: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let tcp = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    tcp.connect(&address.into()).unwrap();
    tcp.set_nonblocking(true).unwrap();
    let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tokio::net::TcpStream::from_std(tcp.into()).unwrap());
    within(tokio_tungstenite::client_async(ws_url(app, path), tcp)).await.unwrap().0
}

#[tokio::test]
async fn a_client_that_sends_without_reading_is_cut_before_its_error_frames_pile_up() {
    let app = spawn_app_with(|s| s.max_unsent_bytes = 64 * 1024).await;
    let mut socket = open_small(&app, "/ws").await;
    for _ in 0..5000 {
        if within(socket.feed(Message::text("x"))).await.is_err() {
            break;
        }
    }
    let _ = within(socket.flush()).await;
    let (messages, code) = until_closed(&mut socket).await;
    assert_eq!(code, Some(1008), "after {} error frames", messages.len());
}

#[tokio::test]
async fn a_slow_reader_is_closed_with_a_reconnect_cursor_that_resumes_exactly() {
    let app = spawn_app_with(|s| s.max_unsent_bytes = 64 * 1024).await;
    let mut socket = open_small(&app, "/ws/slow").await;
    let (_, opened) = until_open(&mut socket).await;
    let datas: Vec<String> = (0..150).map(|n| format!("{n:04}{}", "x".repeat(4092))).collect();
    let mut ids = Vec::new();
    for data in &datas {
        ids.push(app.publish("slow", None, data).await);
    }
    app.await_subscribers("slow", 0).await;
    let (messages, code) = until_closed(&mut socket).await;
    assert_eq!(code, Some(1008));
    let received = event_ids(&messages);
    assert!(received.len() < ids.len(), "nothing was cut");
    assert_eq!(received, ids[..received.len()], "events before the cut were lost or repeated");
    let reconnect = messages.last().unwrap();
    assert_eq!(reconnect["type"], "reconnect");
    assert_eq!(reconnect["cursor"].as_str().unwrap(), received.last().unwrap_or(&opened));
    let mut resumed = open_socket(&app, &format!("/ws/slow?cursor={}", reconnect["cursor"].as_str().unwrap())).await;
    until_open(&mut resumed).await;
    let mut rest = Vec::new();
    while rest.len() < ids.len() - received.len() {
        rest.push(next_json(&mut resumed).await);
    }
    assert_eq!(event_ids(&rest), ids[received.len()..]);
}

#[tokio::test]
async fn shutdown_sends_a_reconnect_frame_then_closes_with_1001() {
    let app = spawn_app_with(|s| s.drain = Duration::from_secs(30)).await;
    let mut socket = open_socket(&app, "/ws/news").await;
    until_open(&mut socket).await;
    let id = app.publish("news", None, "last").await;
    assert_eq!(next_json(&mut socket).await["id"], id.as_str());
    app.shutdown.cancel();
    let (messages, code) = until_closed(&mut socket).await;
    assert_eq!((messages, code), (vec![json!({ "type": "reconnect", "cursor": id })], Some(1001)));
}
