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
