//! Channels that end, gaps of one channel among several, tokens over several channels,
//! and the bounds of a channel list.

use std::time::Duration;

use cometgate::auth::Tokens;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, within};
use crate::subscriber::{ALL, Frame, STREAMING, Subscriber, poll};

async fn end(app: &TestApp, channel: &str) -> reqwest::Response {
    within(app.client.delete(app.api_url(&format!("/channels/{channel}"))).send()).await.unwrap()
}

async fn end_id(app: &TestApp, channel: &str) -> String {
    let response = end(app, channel).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

fn event(frame: &Frame) -> (String, String) {
    match frame {
        Frame::Event(event) => (event.channel.clone().unwrap_or_default(), event.data.clone()),
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn every_transport_gets_a_channels_end_after_its_events_and_keeps_the_other_channels() {
    let app = spawn_app().await;
    for transport in ALL {
        let (job, news) = (format!("job-{}", transport.route()), format!("news-{}", transport.route()));
        let (mut subscriber, _) = Subscriber::connect(&app, transport, &format!("{job},{news}"), "").await;
        app.publish(&job, None, "50").await;
        let ended = end_id(&app, &job).await;
        assert_eq!(end_id(&app, &job).await, ended, "ending again answers the same end");
        app.publish(&news, None, "n").await;
        let mut frames = Vec::new();
        while frames.len() < 3 {
            match subscriber.next(&app).await {
                Frame::Heartbeat => {}
                frame => frames.push(frame),
            }
        }
        assert_eq!(event(&frames[0]), (job.clone(), "50".into()), "{transport:?}");
        // A poll answer lists the channels that ended after all its events.
        let (at_end, at_news) = if transport.is_polled() { (2, 1) } else { (1, 2) };
        let expected_id = if transport.is_polled() { None } else { Some(ended.clone()) };
        assert_eq!(frames[at_end], Frame::End { channel: job.clone(), id: expected_id }, "{transport:?}");
        assert_eq!(event(&frames[at_news]), (news.clone(), "n".into()), "{transport:?}");
    }
}

#[tokio::test]
async fn a_publish_to_an_ended_channel_is_refused_and_ending_takes_publisher_rights() {
    let app = spawn_app_with(|s| s.publish_token = Some("publisher".into())).await;
    let anonymous = end(&app, "job").await;
    assert_eq!(anonymous.status(), 401);
    let request = app.client.delete(app.api_url("/channels/job")).bearer_auth("publisher");
    assert_eq!(within(request.send()).await.unwrap().status(), 200);
    let request = app.client.post(app.api_url("/channels/job")).bearer_auth("publisher").body("late");
    let refused = within(request.send()).await.unwrap();
    assert_eq!(refused.status(), 409);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "channel_ended");
}

#[tokio::test]
async fn a_connection_left_with_no_channel_ends_without_a_reconnect_frame() {
    let app = spawn_app().await;
    for transport in STREAMING {
        let channel = format!("job-{}", transport.route());
        let (mut subscriber, _) = Subscriber::connect(&app, transport, &channel, "").await;
        app.publish(&channel, None, "done").await;
        let ended = end_id(&app, &channel).await;
        assert_eq!(event(&subscriber.next(&app).await).1, "done");
        assert_eq!(subscriber.next(&app).await, Frame::End { channel: channel.clone(), id: Some(ended.clone()) });
        let close = subscriber.next(&app).await;
        let resumable = if transport == crate::subscriber::Transport::Sse { Some(ended) } else { None };
        assert_eq!(close, Frame::Close(resumable), "{transport:?}: the body ends with no reconnect frame");
    }
}

#[tokio::test]
async fn an_eventsource_reconnecting_to_ended_channels_gets_204_and_a_cursor_before_the_end_gets_the_rest() {
    let app = spawn_app().await;
    let before = app.publish("job", None, "1").await;
    app.publish("job", None, "2").await;
    let ended = end_id(&app, "job").await;
    for request in [
        app.client.get(app.url("/sse/job")),
        app.client.get(app.url("/sse/job")).header("Last-Event-ID", &ended),
        app.client.get(app.url(&format!("/sse/job?lastEventId={ended}"))),
    ] {
        let response = within(request.send()).await.unwrap();
        assert_eq!(response.status(), 204);
    }
    for transport in ALL {
        let (mut resumed, _) = Subscriber::connect(&app, transport, "job,other", &before).await;
        assert_eq!(event(&resumed.next(&app).await).1, "2", "{transport:?}");
        assert!(matches!(resumed.next(&app).await, Frame::End { channel, .. } if channel == "job"), "{transport:?}");
    }
    let answer = poll(&app, "job", "", Some(25)).await;
    assert_eq!(answer["ended"], serde_json::json!(["job"]), "a poll of an ended channel answers at once");
}

#[tokio::test]
async fn a_cursor_too_old_for_one_channel_gives_that_channel_a_gap_and_resumes_the_others() {
    let app = spawn_app_with(|s| s.backlog_size = 3).await;
    let cursor = poll(&app, "quiet,busy", "", Some(0)).await["cursor"].as_str().unwrap().to_owned();
    app.publish("quiet", None, "q").await;
    let busy: Vec<String> = (0..6).map(|n| n.to_string()).collect();
    let ids = app.publish_all("busy", &busy).await;
    for transport in ALL {
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "quiet,busy", &cursor).await;
        let gap = Frame::ChannelGap { channel: "busy".into(), oldest: Some(ids[3].clone()) };
        assert_eq!(subscriber.next(&app).await, gap, "{transport:?}");
        let events: Vec<_> =
            subscriber.events(&app, 4).await.into_iter().map(|e| (e.channel.unwrap(), e.data)).collect();
        let expected = [("quiet", "q"), ("busy", "3"), ("busy", "4"), ("busy", "5")];
        assert_eq!(events, expected.map(|(c, d)| (c.to_owned(), d.to_owned())), "{transport:?}");
    }
}

#[tokio::test]
async fn a_token_must_cover_every_channel_of_the_list() {
    const SECRET: &str = "a test secret of thirty-two bytes or more";
    let app = spawn_app_with(|s| s.subscribe_secret = Some(SECRET.into())).await;
    let token = Tokens::new(SECRET).mint(&["news", "jobs.*"], Duration::from_secs(60)).unwrap();
    let covered = app.get(&format!("/poll/news,jobs.1,jobs.2?timeout=0&token={token}")).await;
    assert_eq!(covered.status(), 200);
    let refused = app.get(&format!("/sse/news,chat,jobs.1?token={token}")).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    assert!(body["message"].as_str().unwrap().contains("\"chat\""), "{body}");
}

#[tokio::test]
async fn a_channel_list_is_bounded_checked_by_name_and_collapses_duplicates() {
    let app = spawn_app_with(|s| s.max_channels_per_connection = 3).await;
    assert_eq!(app.get("/poll/a,b,c,a,b?timeout=0").await.status(), 200);
    let too_many = app.get("/poll/a,b,c,d?timeout=0").await;
    assert_eq!(too_many.status(), 400);
    let bad = app.get("/sse/a,b%20c").await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"], "bad_channel");
    assert!(body["message"].as_str().unwrap().contains("\"b c\""), "{body}");
    let single = poll(&app, "a,a", "", Some(0)).await;
    assert!(single.get("gaps").is_none() && single["gap"] == false, "one distinct channel keeps its format");
}

#[tokio::test]
async fn a_connection_counts_once_however_many_channels_it_follows() {
    let app = spawn_app_with(|s| s.max_subscribers = 1).await;
    let (_held, _) = Subscriber::connect(&app, crate::subscriber::Transport::Stream, "a,b,c", "").await;
    for channel in ["a", "b", "c"] {
        assert_eq!(app.channel_info(channel).await["subscribers"], 1, "{channel}");
    }
    assert_eq!(app.get("/poll/d?timeout=0").await.status(), 503, "the one connection took the only place");
}
