//! The publisher's API: `POST /channels/{channel}` to publish, `DELETE` to end the channel,
//! `GET` for its figures.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::auth::bearer;
use crate::bus::{check_channel, check_event_type};
use crate::error::ApiError;
use crate::gateway::Gateway;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let other_methods = || async { Err::<HttpResponse, _>(ApiError::MethodNotAllowed) };
    cfg.service(
        web::resource("/channels/{channel}")
            .route(web::post().to(publish))
            .route(web::delete().to(end))
            .route(web::get().to(info))
            .default_service(web::to(other_methods)),
    );
}

#[derive(Deserialize)]
struct PublishQuery {
    #[serde(default)]
    event: String,
}

async fn publish(
    request: HttpRequest,
    channel: web::Path<String>,
    query: web::Query<PublishQuery>,
    body: web::Payload,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, gateway.settings.publish_token.as_deref())?;
    gateway.limits.publish(&request)?;
    check_channel(&channel)?;
    let kind = check_event_type(&query.event)?;
    let data = read_text(&request, body, gateway.settings.max_event_bytes).await?;
    let started = std::time::Instant::now();
    let published = gateway.bus.publish(&channel, kind, data).await?;
    gateway.metrics.publish_seconds.observe(started.elapsed().as_secs_f64());
    gateway.metrics.published.inc();
    Ok(HttpResponse::Created().json(published))
}

/// Ends the channel with the publisher's rights: `200` with the end's id (the same id
/// when it had ended already).
async fn end(
    request: HttpRequest,
    channel: web::Path<String>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, gateway.settings.publish_token.as_deref())?;
    gateway.limits.publish(&request)?;
    check_channel(&channel)?;
    Ok(HttpResponse::Ok().json(gateway.bus.end(&channel).await?))
}

#[derive(Deserialize)]
struct InfoQuery {
    token: Option<String>,
}

async fn info(
    request: HttpRequest,
    channel: web::Path<String>,
    query: web::Query<InfoQuery>,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, ApiError> {
    check_channel(&channel)?;
    if let Some(tokens) = &gateway.tokens {
        // Private channels keep their figures private too: whoever may read the channel
        // or publish may see them.
        if authorize(&request, gateway.settings.publish_token.as_deref()).is_err() {
            tokens.check(&request, query.token.as_deref(), std::slice::from_ref(&*channel))?;
        }
    }
    Ok(HttpResponse::Ok().json(gateway.bus.info(&channel).await?))
}

/// With a token configured, the request must carry it; without one, only loopback peers
/// may publish, so a fresh install is never an open relay.
pub fn authorize(request: &HttpRequest, token: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = token else {
        let loopback = request.peer_addr().is_some_and(|peer| is_loopback(peer.ip()));
        return loopback
            .then_some(())
            .ok_or(ApiError::Forbidden("no publish token is configured, so only loopback peers may publish"));
    };
    let sent = bearer(request).ok_or(ApiError::MissingToken("publishing needs an Authorization: Bearer token"))?;
    constant_time_eq(sent.as_bytes(), expected.as_bytes())
        .then_some(())
        .ok_or(ApiError::Forbidden("wrong publish token"))
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Compares without stopping at the first difference, so timing tells nothing of the
/// token (`subtle` keeps the compiler from shortening the loop; only the length shows).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The whole body as UTF-8 text, refused as soon as it passes `limit` bytes.
async fn read_text(request: &HttpRequest, mut body: web::Payload, limit: usize) -> Result<String, ApiError> {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    let mut bytes = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| ApiError::BadRequest(format!("could not read the body: {err}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(Vec::from(bytes)).map_err(|_| ApiError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content_and_length() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }

    #[test]
    fn ipv4_mapped_loopback_counts_as_loopback() {
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(!is_loopback("10.0.0.1".parse().unwrap()));
    }
}
