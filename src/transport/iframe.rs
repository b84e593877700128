//! Hidden-iframe streaming: `GET /iframe/{channels}`, a never-ending HTML page of
//! `<script>` chunks that call into the parent page, or, for a parent on another origin
//! (`?origin=`), that post each call to it with `postMessage`.

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};

use super::{Framing, SubscribeQuery, Transport, channel_list, held_body, held_response, json, stream, subscribe};
use crate::bus::{Cursor, Event, Id, Item};
use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/iframe/{channels}", web::get().to(connect));
}

async fn connect(
    request: HttpRequest,
    channels: web::Path<String>,
    query: web::Query<SubscribeQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    let channels = channel_list(&channels, gateway.settings.max_channels_per_connection.into())?;
    let cursor = Cursor::parse(&query.cursor)?;
    let callback = check_callback(query.callback.as_deref().unwrap_or(DEFAULT_CALLBACK))?;
    let origin = query.origin.as_deref().filter(|origin| !origin.is_empty());
    let post_to = origin.map(|origin| check_origin(origin, &gateway.settings.allow_origins)).transpose()?;
    let admitted = subscribe(&gateway, &request, &channels, &query, cursor).await?;
    let post_to = post_to.map(|origin| json::script_safe(&origin));
    let framing = Scripts { callback: callback.to_owned(), post_to, multi: channels.len() > 1 };
    let body = held_body(admitted, framing, &gateway);
    Ok(held_response("text/html; charset=utf-8").streaming(body))
}

/// The parent's object the scripts call when the page names none.
const DEFAULT_CALLBACK: &str = "comet";

/// Bytes of padding after the page head, so browsers start running scripts at once.
const PADDING: usize = 1024;

/// A callback is a dotted path of JavaScript identifiers (`comet`, `app.sub1`) and nothing
/// else, since it is written into the page as code.
pub fn check_callback(callback: &str) -> Result<&str, ApiError> {
    let identifier = |part: &str| {
        let mut chars = part.chars();
        let first = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
        first && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    let valid = callback.len() <= 128 && callback.split('.').all(identifier);
    valid.then_some(callback).ok_or_else(|| {
        ApiError::BadRequest("callback must be a dotted JavaScript identifier such as comet or app.sub1".into())
    })
}

/// A parent page's origin the scripts may post to: `http` or `https`, a host and maybe a
/// port, nothing else (it is written into the page), and allowed by `--allow-origin`.
pub fn check_origin(origin: &str, allowed: &[String]) -> Result<String, ApiError> {
    let (scheme, rest) = origin.split_once("://").unwrap_or(("", ""));
    let host_char = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    let well_formed = matches!(scheme, "http" | "https") && !rest.is_empty() && rest.chars().all(host_char);
    if !well_formed {
        return Err(ApiError::BadRequest("origin must be scheme://host[:port], such as https://app.example".into()));
    }
    let listed = allowed.iter().any(|allowed| allowed == "*" || allowed == origin);
    listed.then(|| origin.to_owned()).ok_or(ApiError::Forbidden("this origin is not allowed: see --allow-origin"))
}

/// An event as the iframe sends it to `callback`: `<script>parent.comet.showMsg({..})</script>`.
pub fn encode(event: &Event, callback: &str) -> Bytes {
    Scripts { callback: callback.to_owned(), post_to: None, multi: false }.show(event)
}

/// `<script>parent.<callback>.<method>(<args>)</script>` chunks, or with a target origin
/// `<script>parent.postMessage("{\"comet\":<callback>,\"method\":<method>,\"args\":[<args>]}",<origin>)</script>`.
pub(super) struct Scripts {
    pub(super) callback: String,
    /// The parent's origin as a JavaScript string literal, when the scripts post to it.
    pub(super) post_to: Option<String>,
    /// Whether the connection follows several channels (a gap then names its channel).
    pub(super) multi: bool,
}

impl Scripts {
    fn call(&self, method: &str, args: &[u8]) -> Bytes {
        self.script(method, args.len(), |frame| frame.extend_from_slice(args))
    }

    /// `showMsg` with the event's JSON object, taken from its shared line and made safe
    /// for the script as it is copied in (the line itself is plain JSON).
    fn show(&self, event: &Event) -> Bytes {
        let line = stream::line(event);
        let fields = stream::fields(&line);
        self.script("showMsg", fields.len() + 1, |frame| {
            frame.extend_from_slice(b"{");
            json::extend_script_safe(frame, fields);
        })
    }

    fn script(&self, method: &str, size: usize, args: impl FnOnce(&mut BytesMut)) -> Bytes {
        let mut frame = BytesMut::with_capacity(size + self.callback.len() + 80);
        let Some(origin) = &self.post_to else {
            for part in [b"<script>parent.", self.callback.as_bytes(), b".", method.as_bytes(), b"("] {
                frame.extend_from_slice(part);
            }
            args(&mut frame);
            frame.extend_from_slice(b")</script>\n");
            return frame.freeze();
        };
        // IE 8 and 9 post only strings, so the message is JSON text in a string literal.
        let mut message = BytesMut::with_capacity(size + self.callback.len() + 40);
        for part in [&b"{\"comet\":\""[..], self.callback.as_bytes(), b"\",\"method\":\"", method.as_bytes(), b"\",\"args\":["] {
            message.extend_from_slice(part);
        }
        args(&mut message);
        message.extend_from_slice(b"]}");
        let message = json::script_safe(&String::from_utf8_lossy(&message));
        for part in [&b"<script>parent.postMessage("[..], message.as_bytes(), b",", origin.as_bytes(), b")</script>\n"] {
            frame.extend_from_slice(part);
        }
        frame.freeze()
    }
}

impl Framing for Scripts {
    const TRANSPORT: Transport = Transport::Iframe;

    fn open(&self, _cursor: Id) -> Bytes {
        let head = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>cometgate</title></head><body>\n";
        let mut frame = BytesMut::with_capacity(head.len() + PADDING + 8);
        frame.extend_from_slice(head.as_bytes());
        frame.extend_from_slice(b"<!--");
        frame.resize(frame.len() + PADDING, b' ');
        frame.extend_from_slice(b"-->\n");
        frame.freeze()
    }

    fn item(&self, item: &Item) -> Bytes {
        match item {
            Item::Event(event) => self.show(event),
            Item::Gap { channel, oldest } => {
                self.call("gap", json::script_safe(&json::gap(channel, *oldest, self.multi)).as_bytes())
            }
            Item::End(end) => self.call("end", json::script_safe(&json::end(end)).as_bytes()),
        }
    }

    fn heartbeat(&self) -> Bytes {
        self.call("heartbeat", b"")
    }

    fn close(&self, cursor: Id) -> Bytes {
        let mut frame = BytesMut::from(&self.call("timeout", json::script_safe(&cursor).as_bytes())[..]);
        frame.extend_from_slice(b"</body></html>\n");
        frame.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn text(bytes: Bytes) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn scripts(callback: &str) -> Scripts {
        Scripts { callback: callback.into(), post_to: None, multi: false }
    }

    #[test]
    fn for_another_origin_every_call_is_posted_to_exactly_that_origin() {
        let framing = Scripts { callback: "comet".into(), post_to: Some(json::script_safe(&"https://app.example")), multi: false };
        let event = Event::new(Id { epoch: 1, seq: 2 }, "c".into(), "message".into(), "</script>".into(), 3);
        let json = r#"{"id":"1-2","channel":"c","event":"message","data":"\u003c/script\u003e","time":3}"#;
        let message = format!(r#"{{"comet":"comet","method":"showMsg","args":[{json}]}}"#);
        let expected = format!("<script>parent.postMessage({},\"https://app.example\")</script>\n", json::script_safe(&message));
        let frame = text(framing.item(&Item::Event(Arc::new(event))));
        assert_eq!(frame, expected);
        assert!(!frame[8..frame.len() - 10].contains(['<', '>']), "nothing can end the script: {frame}");
        let heartbeat = r#"<script>parent.postMessage("{\"comet\":\"comet\",\"method\":\"heartbeat\",\"args\":[]}","https://app.example")</script>"#;
        assert_eq!(text(framing.heartbeat()), format!("{heartbeat}\n"));
    }

    #[test]
    fn only_well_formed_allowed_origins_are_posted_to() {
        let allowed = vec!["https://app.example".to_owned()];
        assert_eq!(check_origin("https://app.example", &allowed).unwrap(), "https://app.example");
        assert!(matches!(check_origin("https://evil.example", &allowed), Err(ApiError::Forbidden(_))));
        let any = vec!["*".to_owned()];
        assert!(check_origin("http://localhost:8080", &any).is_ok());
        for bad in ["javascript:alert(1)", "https://a.example/path", "https://a\"b", "ftp://a.example", "https://", "app.example"] {
            assert!(matches!(check_origin(bad, &any), Err(ApiError::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn events_call_show_msg_on_the_named_callback_with_script_safe_json() {
        let event = Event::new(Id { epoch: 1, seq: 2 }, "c".into(), "message".into(), "</script>\u{2028}".into(), 3);
        let frame = text(scripts("app.sub1").item(&Item::Event(Arc::new(event))));
        let json = r#"{"id":"1-2","channel":"c","event":"message","data":"\u003c/script\u003e\u2028","time":3}"#;
        assert_eq!(frame, format!("<script>parent.app.sub1.showMsg({json})</script>\n"));
    }

    #[test]
    fn gap_heartbeat_and_timeout_calls() {
        let framing = scripts("comet");
        let gap = Item::Gap { channel: "c".into(), oldest: Some(Id { epoch: 1, seq: 4 }) };
        assert_eq!(text(framing.item(&gap)), "<script>parent.comet.gap({\"oldest\":\"1-4\"})</script>\n");
        let end = Event::new(Id { epoch: 1, seq: 8 }, "c".into(), "comet-end".into(), String::new(), 9);
        let end = text(framing.item(&Item::End(Arc::new(end))));
        assert_eq!(end, "<script>parent.comet.end({\"channel\":\"c\",\"id\":\"1-8\"})</script>\n");
        assert_eq!(text(framing.heartbeat()), "<script>parent.comet.heartbeat()</script>\n");
        let close = text(framing.close(Id { epoch: 1, seq: 7 }));
        assert_eq!(close, "<script>parent.comet.timeout(\"1-7\")</script>\n</body></html>\n");
    }

    #[test]
    fn open_pads_at_least_one_kilobyte() {
        assert!(scripts("comet").open(Id { epoch: 1, seq: 0 }).len() > PADDING);
    }

    #[test]
    fn only_dotted_identifiers_are_callbacks() {
        for good in ["comet", "app.sub1", "_x.$y", "a1.b2.c3"] {
            assert!(check_callback(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "a..b", "a.", ".a", "a-b", "a(1)", "a;alert(1)", "a b", "a[0]", "é"] {
            assert!(check_callback(bad).is_err(), "{bad}");
        }
    }
}
