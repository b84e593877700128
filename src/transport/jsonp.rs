//! JSONP long-polling: `GET /jsonp/{channels}?callback=...`, the long-poll answer as a call
//! of the page's callback, for a `<script>` element on any page: IE 6-9 cannot read another
//! origin with XHR, but any page can load a script from anywhere.
//!
//! A script request carries no `Origin`, so `--allow-origin` cannot be checked here (and a
//! missing `Referer` proves nothing). What keeps a channel private is its token: the gateway
//! uses no cookies or other ambient credentials, so a foreign page reads only the channels
//! it already holds a token for, exactly as it could from its own server.

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};

use super::iframe::check_callback;
use super::json::extend_script_safe;
use super::poll::{Envelope, answer};
use super::{SubscribeQuery, Transport};
use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jsonp/{channels}", web::get().to(connect));
}

async fn connect(
    request: HttpRequest,
    channels: web::Path<String>,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let callback = query.callback.as_deref().filter(|callback| !callback.is_empty());
    let callback = check_callback(callback.ok_or_else(|| ApiError::BadRequest("callback is required".into()))?)?;
    let callback = callback.to_owned();
    let wrap = Box::new(move |json: Bytes| call(&callback, &json));
    let envelope = Envelope { transport: Transport::Jsonp, content_type: "application/javascript; charset=utf-8", wrap };
    answer(request, &channels, &query, gateway, envelope).await
}

/// `callback(<answer>);`, the answer escaped so that no payload can end the script or
/// break the JavaScript of an old engine (`<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`).
pub fn call(callback: &str, answer: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(callback.len() + answer.len() + answer.len() / 8 + 4);
    body.extend_from_slice(callback.as_bytes());
    body.extend_from_slice(b"(");
    extend_script_safe(&mut body, answer);
    body.extend_from_slice(b");");
    body.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_one_call_of_the_callback_with_script_safe_json() {
        let answer = "{\"events\":[{\"data\":\"</script><!--&\u{2028}\"}],\"cursor\":\"1-2\",\"gap\":false}";
        let body = call("app.feed", answer.as_bytes());
        let expected = r#"app.feed({"events":[{"data":"\u003c/script\u003e\u003c!--\u0026\u2028"}],"cursor":"1-2","gap":false});"#;
        assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
    }
}
