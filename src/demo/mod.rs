//! The demo: the transport-comparison page at `/`, the static client files, and the
//! simulated background job that feeds the page's progress bars. `--no-demo` leaves only
//! the client library, `/static/comet.js`.

mod jobs;

use std::time::{Duration, UNIX_EPOCH};

use actix_web::http::header::{self, ETag, EntityTag, Header, HeaderValue, IfNoneMatch, LastModified};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use rust_embed::RustEmbed;

use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index)).route("/static/{path:.*}", web::get().to(asset));
    jobs::configure(cfg);
}

/// The channel the demo page subscribes its five panes to.
const DEMO_CHANNEL: &str = "demo";

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    channel: &'a str,
    version: &'a str,
}

async fn index(gateway: web::Data<Gateway>) -> Result<HttpResponse, ApiError> {
    if gateway.settings.no_demo {
        return Err(ApiError::NotFound);
    }
    let page = IndexPage { channel: DEMO_CHANNEL, version: env!("CARGO_PKG_VERSION") };
    let html = page.render().map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// The files under `static/`, compiled into release builds so the binary runs from anywhere.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// The client library, served with or without the demo.
const CLIENT: &str = "comet.js";

/// The parts `/static/comet.js` joins, in order: users load one script, and each part
/// stays a file of a readable size.
const CLIENT_PARTS: [&str; 6] = [
    "comet/core.js",
    "comet/link.js",
    "comet/transports.js",
    "comet/ladder.js",
    "comet/connection.js",
    "comet/shared.js",
];

/// A file as served: its bytes, its `ETag`, its type and when it last changed.
struct Served {
    data: Vec<u8>,
    etag: EntityTag,
    mime: String,
    modified: Option<u64>,
}

/// A file of `static/`, with its validators: `no-cache` makes a browser ask again on
/// every load, and the `ETag` (the embedded file's SHA-256) lets it be answered `304`
/// with no body when it has the file already.
async fn asset(
    request: HttpRequest,
    path: web::Path<String>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    if gateway.settings.no_demo && path.as_str() != CLIENT {
        return Err(ApiError::NotFound);
    }
    let file = if path.as_str() == CLIENT { client() } else { file(&path) }.ok_or(ApiError::NotFound)?;
    let unchanged = match IfNoneMatch::parse(&request) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&file.etag)),
        Err(_) => false,
    };
    let mut answer = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    answer
        .insert_header(ETag(file.etag))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
    if let Some(modified) = file.modified {
        answer.insert_header(LastModified((UNIX_EPOCH + Duration::from_secs(modified)).into()));
    }
    if unchanged {
        return Ok(answer.finish());
    }
    let mime = HeaderValue::from_str(&file.mime).map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(answer.insert_header((header::CONTENT_TYPE, mime)).body(file.data))
}

fn file(path: &str) -> Option<Served> {
    let file = Assets::get(path)?;
    let hash = file.metadata.sha256_hash();
    Some(Served {
        etag: EntityTag::new_strong(hex(&hash)),
        mime: file.metadata.mimetype().to_owned(),
        modified: file.metadata.last_modified(),
        data: file.data.into_owned(),
    })
}

/// The client parts joined; its `ETag` joins the start of each part's hash, so it
/// changes whenever a part does.
fn client() -> Option<Served> {
    let mut joined =
        Served { data: Vec::new(), etag: EntityTag::new_strong(String::new()), mime: String::new(), modified: None };
    let mut tag = String::new();
    for path in CLIENT_PARTS {
        let part = file(path)?;
        joined.data.extend_from_slice(&part.data);
        joined.data.push(b'\n');
        tag.push_str(&part.etag.tag()[..16]);
        joined.mime = part.mime;
        joined.modified = joined.modified.max(part.modified);
    }
    joined.etag = EntityTag::new_strong(tag);
    Some(joined)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
