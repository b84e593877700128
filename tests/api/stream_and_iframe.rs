//! Streaming XHR and hidden-iframe specifics: headers, preludes, callbacks, and markup
//! in payloads that must never leave the script it is carried in.

use crate::helpers::spawn_app;

#[tokio::test]
async fn streaming_xhr_headers_and_prelude_are_exact() {
    let app = spawn_app().await;
    let mut body = app.open("/stream/news").await;
    assert_eq!(body.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(body.headers["cache-control"], "no-store");
    assert_eq!(body.headers["x-accel-buffering"], "no");
    assert_eq!(body.headers["x-content-type-options"], "nosniff");
    let padding = body.take(2048).await;
    assert_eq!(&padding[..2047], &[b' '; 2047][..]);
    assert_eq!(padding[2047], b'\n');
    let open = String::from_utf8(body.until(b"\n").await.unwrap()).unwrap();
    assert!(open.starts_with("{\"type\":\"open\",\"cursor\":\""), "{open}");
}

#[tokio::test]
async fn iframe_headers_and_callback_name_are_honoured() {
    let app = spawn_app().await;
    let id = app.publish("news", None, "hi").await;
    let mut body = app.open("/iframe/news?cursor=earliest&callback=app.sub1").await;
    assert_eq!(body.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(body.headers["cache-control"], "no-store");
    assert_eq!(body.headers["x-content-type-options"], "nosniff");
    let prelude = String::from_utf8(body.until(b"-->\n").await.unwrap()).unwrap();
    assert!(prelude.starts_with("<!DOCTYPE html>") && prelude.len() > 1024);
    let script = String::from_utf8(body.until(b"</script>\n").await.unwrap()).unwrap();
    let time_at = script.find("\"time\":").unwrap();
    let expected = format!(
        "<script>parent.app.sub1.showMsg({{\"id\":\"{id}\",\"channel\":\"news\",\"event\":\"message\",\"data\":\"hi\","
    );
    assert_eq!(&script[..time_at], expected);
}

#[tokio::test]
async fn markup_in_a_payload_never_opens_or_closes_a_script_in_the_iframe() {
    let app = spawn_app().await;
    let hostile = "</script><script>alert(1)</script><!--<script>\u{2028}";
    app.publish("news", None, hostile).await;
    app.publish("news", Some("x"), "</SCRIPT >").await;
    let mut body = app.open("/iframe/news?cursor=earliest").await;
    body.until(b"-->\n").await.unwrap();
    for _ in 0..2 {
        let script = String::from_utf8(body.until(b"</script>\n").await.unwrap()).unwrap();
        let lower = script.to_lowercase();
        assert_eq!(lower.matches("<script").count(), 1, "{script}");
        assert_eq!(lower.matches("</script").count(), 1, "{script}");
        assert!(!script.contains("<!--") && !script.contains('\u{2028}'), "{script}");
    }
}

/// A parent page on another origin cannot be called into; the iframe posts to it instead,
/// to exactly the origin named (never `*`), which must be allowed.
#[tokio::test]
async fn an_iframe_for_an_allowed_origin_posts_every_call_to_exactly_that_origin() {
    let app = crate::helpers::spawn_app_with(|s| s.allow_origins = vec!["http://app.example:8000".into()]).await;
    let datas = crate::payloads::tricky();
    let ids = app.publish_all("news", &datas).await;
    let mut body = app.open("/iframe/news?cursor=earliest&origin=http://app.example:8000").await;
    assert_eq!(body.status, 200);
    let mut reader =
        cometgate_wire::Reader::new(cometgate_wire::Transport::Iframe).posting_to("http://app.example:8000");
    let mut received = Vec::new();
    while received.len() < datas.len() {
        for frame in reader.push(&body.chunk().await.expect("the iframe ended")).unwrap() {
            match frame {
                cometgate_wire::Frame::Event(event) => received.push((event.id, event.data)),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(received, ids.into_iter().zip(datas).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_iframe_origin_must_be_allowed_and_well_formed() {
    let app = crate::helpers::spawn_app_with(|s| s.allow_origins = vec!["https://app.example".into()]).await;
    for (origin, status, error) in [
        ("https://evil.example", 403, "forbidden"),
        ("javascript:alert(1)", 400, "bad_request"),
        ("https://app.example/page", 400, "bad_request"),
        ("https://app.example%22);alert(1)//", 400, "bad_request"),
    ] {
        let response = app.get(&format!("/iframe/news?origin={origin}")).await;
        assert_eq!(response.status(), status, "{origin}");
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], error, "{origin}");
    }
    let closed = spawn_app().await;
    assert_eq!(
        closed.get("/iframe/news?origin=https://app.example").await.status(),
        403,
        "no origin is allowed by default"
    );
}
