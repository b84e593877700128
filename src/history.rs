//! The history API: `GET /channels/{channel}/events`, pages of a channel's backlog for a
//! chat's first paint and for paging back. It is a read, so it sits beside the transports
//! on the public listener and takes a subscriber's token.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::bus::{Event, Id, Page, check_channel};
use crate::error::ApiError;
use crate::gateway::Gateway;

/// Events per page when the request names no `limit`, and the most it may name.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/channels/{channel}/events", web::get().to(events));
}

#[derive(Deserialize)]
struct HistoryQuery {
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    token: Option<String>,
}

/// `{"events": [...], "more": bool}`: newest first from the head or `before` an id,
/// oldest first `after` one; `more` says whether the backlog holds more in that direction.
async fn events(
    request: HttpRequest,
    channel: web::Path<String>,
    query: web::Query<HistoryQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    check_channel(&channel)?;
    if let Some(tokens) = &gateway.tokens {
        tokens.check(&request, query.token.as_deref(), std::slice::from_ref(&*channel))?;
    }
    let (page, limit) = (page(&query)?, limit(query.limit.as_deref())?);
    let history = gateway.bus.history(&channel, page, limit).await?.ok_or_else(|| {
        ApiError::BadRequest("the id is from an earlier life of the bus (another epoch): page from the head".into())
    })?;
    let events: Vec<&Event> = history.events.iter().map(|event| &**event).collect();
    Ok(HttpResponse::Ok().json(json!({ "events": events, "more": history.more })))
}

fn page(query: &HistoryQuery) -> Result<Page, ApiError> {
    match (&query.before, &query.after) {
        (Some(_), Some(_)) => Err(ApiError::BadRequest("name before or after, not both".into())),
        (Some(id), None) => Ok(Page::Before(id.parse::<Id>()?)),
        (None, Some(id)) => Ok(Page::After(id.parse::<Id>()?)),
        (None, None) => Ok(Page::Newest),
    }
}

fn limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else { return Ok(DEFAULT_LIMIT) };
    text.parse()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| ApiError::BadRequest(format!("limit must be a number from 1 to {MAX_LIMIT}")))
}
