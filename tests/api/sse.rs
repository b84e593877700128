//! SSE specifics: exact bytes and headers, `Last-Event-ID`, and an independent parser.

use futures_util::StreamExt;
use sse_stream::SseStream;

use crate::helpers::{DEADLINE, spawn_app, within};
use crate::payloads::{as_sse_delivers, tricky};

#[tokio::test]
async fn sse_headers_and_bytes_on_the_wire_are_exact() {
    let app = spawn_app().await;
    let id = app.publish("news", Some("post"), "two\r\nlines").await;
    let mut body = app.open("/sse/news?cursor=earliest").await;
    assert_eq!(body.headers["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(body.headers["cache-control"], "no-store");
    assert_eq!(body.headers["x-accel-buffering"], "no");
    assert_eq!(body.headers["x-content-type-options"], "nosniff");
    assert!(body.headers.get("content-encoding").is_none());
    let before = format!("{}-{}", id.split('-').next().unwrap(), 0);
    let open = format!("retry: 2000\nid: {before}\n\n");
    let event = format!("id: {id}\nevent: post\ndata: two\ndata: lines\n\n");
    let expected = format!("{open}{event}");
    assert_eq!(String::from_utf8(body.take(expected.len()).await).unwrap(), expected);
}

#[tokio::test]
async fn last_event_id_header_wins_over_the_cursor_parameter() {
    let app = spawn_app().await;
    let ids = app.publish_all("news", &["a".into(), "b".into(), "c".into()]).await;
    let request = app.client.get(app.url("/sse/news?cursor=earliest")).header("Last-Event-ID", &ids[1]);
    let mut body = crate::helpers::Incoming::new(within(request.send()).await.unwrap());
    body.until(b"\n\n").await.unwrap();
    let event = String::from_utf8(body.until(b"\n\n").await.unwrap()).unwrap();
    assert_eq!(event, format!("id: {}\ndata: c\n\n", ids[2]));
}

#[tokio::test]
async fn malformed_last_event_id_gets_gap_then_backlog_not_an_error() {
    let app = spawn_app().await;
    let id = app.publish("news", None, "kept").await;
    let request = app.client.get(app.url("/sse/news")).header("Last-Event-ID", "not an id");
    let mut body = crate::helpers::Incoming::new(within(request.send()).await.unwrap());
    assert_eq!(body.status, 200);
    body.until(b"\n\n").await.unwrap();
    let gap = String::from_utf8(body.until(b"\n\n").await.unwrap()).unwrap();
    assert_eq!(gap, format!("event: comet-gap\ndata: {{\"oldest\":\"{id}\"}}\n\n"));
    let event = String::from_utf8(body.until(b"\n\n").await.unwrap()).unwrap();
    assert_eq!(event, format!("id: {id}\ndata: kept\n\n"));
}

/// The stream read by `sse-stream`, a parser we did not write.
#[tokio::test]
async fn an_independent_sse_parser_reports_exactly_what_was_published() {
    let app = spawn_app().await;
    let response = within(app.client.get(app.url("/sse/parsed")).send()).await.unwrap();
    let mut events = SseStream::from_bytes_stream(response.bytes_stream());
    app.await_subscribers("parsed", 1).await;
    let datas = tricky();
    let mut published = Vec::new();
    for (n, data) in datas.iter().enumerate() {
        let kind = if n % 3 == 0 { "progress" } else { "message" };
        let id = app.publish("parsed", Some(kind), data).await;
        published.push((id, kind.to_owned(), as_sse_delivers(data)));
    }
    let mut parsed = Vec::new();
    while parsed.len() < published.len() {
        let block = tokio::time::timeout(DEADLINE, events.next()).await.unwrap().unwrap().unwrap();
        if let (Some(id), Some(data)) = (block.id, block.data) {
            parsed.push((id, block.event.unwrap_or_else(|| "message".to_owned()), data));
        }
    }
    assert_eq!(parsed, published);
}

#[tokio::test]
async fn an_unreadable_last_event_id_gets_a_gap_and_an_empty_one_defers_to_the_cursor() {
    let app = spawn_app().await;
    let id = app.publish("news", None, "kept").await;
    let binary = reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap();
    let request = app.client.get(app.url("/sse/news")).header("Last-Event-ID", binary);
    let mut body = crate::helpers::Incoming::new(within(request.send()).await.unwrap());
    body.until(b"\n\n").await.unwrap();
    let gap = String::from_utf8(body.until(b"\n\n").await.unwrap()).unwrap();
    assert!(gap.starts_with("event: comet-gap\n"), "{gap}");
    let request = app.client.get(app.url("/sse/news?cursor=earliest")).header("Last-Event-ID", "");
    let mut body = crate::helpers::Incoming::new(within(request.send()).await.unwrap());
    body.until(b"\n\n").await.unwrap();
    let event = String::from_utf8(body.until(b"\n\n").await.unwrap()).unwrap();
    assert_eq!(event, format!("id: {id}\ndata: kept\n\n"));
}

#[tokio::test]
async fn after_a_gap_the_open_block_keeps_the_lost_cursor_so_a_quick_reconnect_is_told_again() {
    let app = crate::helpers::spawn_app_with(|s| s.backlog_size = 1).await;
    let lost = app.publish("news", None, "a").await;
    app.publish_all("news", &["b".into(), "c".into()]).await;
    let mut body = app.open(&format!("/sse/news?cursor={lost}")).await;
    let open = String::from_utf8(body.until(b"\n\n").await.unwrap()).unwrap();
    assert_eq!(open, format!("retry: 2000\nid: {lost}\n\n"));
}

/// EventSource polyfills resume with the last id in the query, since a cross-origin
/// `Last-Event-ID` header would need a preflight.
#[tokio::test]
async fn a_polyfill_resumes_from_the_last_id_in_its_query_with_the_header_first() {
    let app = spawn_app().await;
    let ids = app.publish_all("news", &["a".into(), "b".into(), "c".into()]).await;
    let first_event = |path: String, header: Option<String>| {
        let mut request = app.client.get(app.url(&path));
        if let Some(value) = header {
            request = request.header("Last-Event-ID", value);
        }
        async move {
            let mut body = crate::helpers::Incoming::new(within(request.send()).await.unwrap());
            body.until(b"\n\n").await.unwrap();
            String::from_utf8(body.until(b"\n\n").await.unwrap()).unwrap()
        }
    };
    let expected = |n: usize, data: &str| format!("id: {}\ndata: {data}\n\n", ids[n]);
    assert_eq!(first_event(format!("/sse/news?lastEventId={}", ids[0]), None).await, expected(1, "b"));
    assert_eq!(first_event(format!("/sse/news?lastEventID={}", ids[1]), None).await, expected(2, "c"));
    let both = format!("/sse/news?lastEventId={}&cursor=earliest", ids[1]);
    assert_eq!(first_event(both, None).await, expected(2, "c"), "the query id goes before ?cursor");
    let path = format!("/sse/news?lastEventId={}", ids[1]);
    assert_eq!(first_event(path, Some(ids[0].clone())).await, expected(1, "b"), "the header goes first");
    let unreadable = first_event("/sse/news?lastEventId=garbage".into(), None).await;
    assert!(unreadable.starts_with("event: comet-gap\n"), "{unreadable}");
}
