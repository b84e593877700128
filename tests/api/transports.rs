//! The contract every transport keeps, run against each of the four.

use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with};
use crate::payloads::{as_sse_delivers, tricky};
use crate::subscriber::{ALL, Frame, Received, STREAMING, Subscriber, Transport};

fn expected(transport: Transport, ids: &[String], datas: &[String]) -> Vec<Received> {
    let deliver = |data: &String| if transport == Transport::Sse { as_sse_delivers(data) } else { data.clone() };
    ids.iter()
        .zip(datas)
        .map(|(id, data)| Received { id: id.clone(), event: "message".into(), data: deliver(data), channel: None })
        .collect()
}

#[tokio::test]
async fn tricky_payloads_arrive_unchanged_and_in_order_from_backlog_and_live() {
    for transport in ALL {
        let app = spawn_app().await;
        let datas = tricky();
        let (early, late) = datas.split_at(datas.len() / 2);
        let mut ids = app.publish_all("payloads", early).await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "payloads", "earliest").await;
        ids.extend(app.publish_all("payloads", late).await);
        let events = subscriber.events(&app, datas.len()).await;
        assert_eq!(events, expected(transport, &ids, &datas), "{transport:?}");
    }
}

#[tokio::test]
async fn named_event_types_reach_every_transport() {
    for transport in ALL {
        let app = spawn_app().await;
        let id = app.publish("job-1", Some("progress"), "{\"percent\":50}").await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "job-1", "earliest").await;
        let events = subscriber.events(&app, 1).await;
        assert_eq!(
            events[0],
            Received { id, event: "progress".into(), data: "{\"percent\":50}".into(), channel: None }
        );
    }
}

#[tokio::test]
async fn resume_by_cursor_delivers_exactly_the_missed_events() {
    for transport in ALL {
        let app = spawn_app().await;
        let datas: Vec<String> = (1..=5).map(|n| format!("event {n}")).collect();
        let ids = app.publish_all("news", &datas).await;
        let (mut subscriber, opened) = Subscriber::connect(&app, transport, "news", &ids[1]).await;
        if transport != Transport::Iframe {
            assert_eq!(opened, ids[1], "{transport:?} opened elsewhere");
        }
        assert_eq!(subscriber.events(&app, 3).await, expected(transport, &ids[2..], &datas[2..]));
        let marker = app.publish("news", None, "marker").await;
        assert_eq!(subscriber.events(&app, 1).await[0].id, marker, "{transport:?} repeated or lost an event");
    }
}

#[tokio::test]
async fn lost_cursor_yields_gap_with_oldest_then_the_whole_backlog() {
    for transport in ALL {
        let app = spawn_app_with(|s| s.backlog_size = 3).await;
        let datas: Vec<String> = (1..=6).map(|n| format!("event {n}")).collect();
        let ids = app.publish_all("news", &datas).await;
        let foreign_epoch = "1-1".to_owned();
        for cursor in [&ids[0], &foreign_epoch] {
            let (mut subscriber, _) = Subscriber::connect(&app, transport, "news", cursor).await;
            assert_eq!(subscriber.next(&app).await, Frame::Gap(Some(ids[3].clone())), "{transport:?}");
            assert_eq!(subscriber.events(&app, 3).await, expected(transport, &ids[3..], &datas[3..]));
        }
    }
}

#[tokio::test]
async fn cursor_just_before_the_oldest_held_event_resumes_without_gap() {
    for transport in ALL {
        let app = spawn_app_with(|s| s.backlog_size = 3).await;
        let datas: Vec<String> = (1..=6).map(|n| format!("event {n}")).collect();
        let ids = app.publish_all("news", &datas).await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "news", &ids[2]).await;
        assert_eq!(subscriber.events(&app, 3).await, expected(transport, &ids[3..], &datas[3..]), "{transport:?}");
    }
}

#[tokio::test]
async fn idle_streams_get_heartbeats() {
    for transport in STREAMING {
        let app = spawn_app_with(|s| s.heartbeat = Duration::from_millis(100)).await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "quiet", "").await;
        for _ in 0..2 {
            assert_eq!(subscriber.next(&app).await, Frame::Heartbeat, "{transport:?}");
        }
    }
}

#[tokio::test]
async fn age_cap_ends_the_stream_with_a_cursor_that_loses_nothing() {
    for transport in STREAMING {
        let app = spawn_app_with(|s| s.stream_max_age = Duration::from_millis(700)).await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "news", "").await;
        let first = app.publish_all("news", &["a".into(), "b".into()]).await;
        let (events, cursor) = subscriber.until_close(&app).await;
        assert_eq!(events.iter().map(|e| &e.id).collect::<Vec<_>>(), first.iter().collect::<Vec<_>>());
        assert_eq!(cursor.as_ref(), Some(&first[1]), "{transport:?} reconnect cursor");
        let missed = app.publish_all("news", &["c".into(), "d".into()]).await;
        let (mut resumed, _) = Subscriber::connect(&app, transport, "news", &cursor.unwrap()).await;
        let events = resumed.events(&app, 2).await;
        assert_eq!(events.iter().map(|e| &e.id).collect::<Vec<_>>(), missed.iter().collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn age_cap_before_any_event_reconnects_from_the_opening_position() {
    for transport in STREAMING {
        let app = spawn_app_with(|s| s.stream_max_age = Duration::from_millis(300)).await;
        app.publish("news", None, "before").await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "news", "").await;
        let (events, cursor) = subscriber.until_close(&app).await;
        assert!(events.is_empty());
        let missed = app.publish("news", None, "between").await;
        let (mut resumed, _) = Subscriber::connect(&app, transport, "news", &cursor.unwrap()).await;
        assert_eq!(resumed.events(&app, 1).await[0].id, missed, "{transport:?}");
    }
}

#[tokio::test]
async fn byte_cap_ends_the_stream_past_it_by_at_most_one_event() {
    for transport in STREAMING {
        const CAP: usize = 8 * 1024;
        let app = spawn_app_with(|s| s.stream_max_bytes = CAP).await;
        let datas: Vec<String> = (0..20).map(|n| format!("{n:04}{}", "x".repeat(996))).collect();
        let ids = app.publish_all("big", &datas).await;
        let (mut subscriber, _) = Subscriber::connect(&app, transport, "big", "earliest").await;
        let (mut events, cursor) = subscriber.until_close(&app).await;
        assert!(!events.is_empty() && events.len() < 20, "{transport:?} sent {} events", events.len());
        let (largest_frame, close_frame) = (1200, 100);
        assert!(subscriber.body().received <= CAP + largest_frame + close_frame, "{transport:?} passed the cap");
        assert_eq!(cursor.as_ref(), Some(&events.last().unwrap().id));
        let mut cursor = cursor.unwrap();
        while events.len() < 20 {
            let (mut resumed, _) = Subscriber::connect(&app, transport, "big", &cursor).await;
            while events.len() < 20 {
                match resumed.next(&app).await {
                    Frame::Event(event) => events.push(event),
                    Frame::Close(next) => {
                        cursor = next.unwrap();
                        break;
                    }
                    other => panic!("{transport:?}: {other:?}"),
                }
            }
        }
        assert_eq!(events, expected(transport, &ids, &datas), "{transport:?}");
    }
}
