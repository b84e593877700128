//! The demo: the transport-comparison page at `/`, the static client files, and the
//! simulated background job that feeds the page's progress bars.

mod jobs;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use rust_embed::RustEmbed;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index)).route("/static/{path:.*}", web::get().to(asset));
    jobs::configure(cfg);
}

/// The channel the demo page subscribes its four panes to.
const DEMO_CHANNEL: &str = "demo";

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    channel: &'a str,
    version: &'a str,
}

async fn index() -> Result<HttpResponse, ApiError> {
    let page = IndexPage { channel: DEMO_CHANNEL, version: env!("CARGO_PKG_VERSION") };
    let html = page.render().map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html))
}

/// The files under `static/`, compiled into release builds so the binary runs from anywhere.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = Assets::get(&path).ok_or(ApiError::NotFound)?;
    let mime = HeaderValue::from_str(file.metadata.mimetype()).map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .body(file.data.into_owned()))
}
