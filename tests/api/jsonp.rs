//! JSONP specifics: exact headers and bytes, callback refusal, and a cursor loop that keeps
//! up with a fast publisher.

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, within};

#[tokio::test]
async fn a_jsonp_answer_is_one_script_safe_call_with_script_headers() {
    let app = spawn_app().await;
    let id = app.publish("news", None, "</script><!--&\u{2028}").await;
    let response = app.get("/jsonp/news?cursor=earliest&callback=app.feed").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/javascript; charset=utf-8");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = response.text().await.unwrap();
    let prefix = format!(
        r#"app.feed({{"events":[{{"id":"{id}","channel":"news","event":"message","data":"\u003c/script\u003e\u003c!--\u0026\u2028","time":"#
    );
    assert!(body.starts_with(&prefix), "{body}");
    assert!(body.ends_with(&format!(r#"}}],"cursor":"{id}","gap":false}});"#)), "{body}");
}

#[tokio::test]
async fn a_missing_or_unsafe_callback_is_refused_with_a_json_400() {
    let app = spawn_app().await;
    for query in ["", "?callback=", "?callback=alert(1)", "?callback=a;b", "?callback=%3C/script%3E", "?callback=a..b"]
    {
        let response = app.get(&format!("/jsonp/news{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "bad_request", "{query}");
    }
}

#[tokio::test]
async fn a_jsonp_cursor_loop_gets_two_thousand_fast_events_exactly_once_in_order() {
    const EVENTS: usize = 2_000;
    let app = spawn_app_with(|s| s.backlog_size = 4 * EVENTS as u32).await;
    let start = app.get("/jsonp/fast?timeout=0&callback=cb").await.bytes().await.unwrap();
    let (_, mut cursor) = cometgate_wire::jsonp(&start, "cb").unwrap();
    let publisher = tokio::spawn({
        let app = crate::helpers::TestApp::at(app.address.clone(), None);
        async move {
            let mut ids = Vec::with_capacity(EVENTS);
            for n in 0..EVENTS {
                ids.push(app.publish("fast", None, &n.to_string()).await);
            }
            ids
        }
    });
    let mut received = Vec::with_capacity(EVENTS);
    while received.len() < EVENTS {
        let body = app.get(&format!("/jsonp/fast?cursor={cursor}&callback=cb")).await.bytes().await.unwrap();
        let (frames, next) = cometgate_wire::jsonp(&body, "cb").unwrap();
        for frame in frames {
            match frame {
                cometgate_wire::Frame::Event(event) => received.push((event.id, event.data)),
                other => panic!("unexpected {other:?} after {} events", received.len()),
            }
        }
        cursor = next;
    }
    let ids = within(publisher).await.unwrap();
    let expected: Vec<(String, String)> = ids.into_iter().enumerate().map(|(n, id)| (id, n.to_string())).collect();
    assert_eq!(received, expected);
}
