//! Cross-origin rules for every route: same-origin only by default, or the origins in
//! `--allow-origin`. A request from any other origin is refused with `403` before it
//! reaches a handler, so a foreign page can neither read a channel nor publish into one
//! (a loopback publish from a page the user happens to have open included).

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::hosts::request_host;

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

pub async fn cors(request: ServiceRequest, next: Next<BoxBody>) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(gateway) = request.app_data::<web::Data<Gateway>>().cloned() else { return next.call(request).await };
    let settings = &gateway.settings;
    let Some(origin) = foreign_origin(&request, &settings.public_origins) else { return next.call(request).await };
    let allowed = allow(&settings.allow_origins, &origin);
    let Some(allowed) = allowed else {
        let refusal = ApiError::Forbidden("this origin is not allowed: see --allow-origin").error_response();
        return Ok(request.into_response(refusal));
    };
    if request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let answer = preflight(allowed, request.headers());
        return Ok(request.into_response(answer));
    }
    let mut response = next.call(request).await?;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    Ok(response)
}

/// The request's `Origin` when it is not the gateway's own (browsers send none on a
/// same-origin `GET`, and their own on a same-origin `POST`). Its own origin is the one
/// in `Host` (vetted by [`crate::hosts`]; `X-Forwarded-Host` is not, so it is not read)
/// or one of `--public-origin`.
fn foreign_origin(request: &ServiceRequest, public_origins: &[String]) -> Option<String> {
    let origin = request.headers().get(header::ORIGIN)?.to_str().unwrap_or("null").to_owned();
    let host = request_host(request).unwrap_or_default();
    let own = format!("{}://{host}", request.connection_info().scheme());
    let public = public_origins.iter().any(|public| public.trim_end_matches('/').eq_ignore_ascii_case(&origin));
    (origin != own && !public).then_some(origin)
}

/// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed. With `*`
/// allowed, it is `*`, which browsers never combine with credentials.
fn allow(allowed: &[String], origin: &str) -> Option<HeaderValue> {
    if allowed.iter().any(|a| a == "*") {
        return Some(HeaderValue::from_static("*"));
    }
    allowed.iter().any(|a| a == origin).then(|| HeaderValue::from_str(origin).ok()).flatten()
}

fn preflight(allowed: HeaderValue, request: &HeaderMap) -> HttpResponse {
    let requested = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    let mut answer = HttpResponse::build(StatusCode::NO_CONTENT);
    answer
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS")))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE)))
        .insert_header((header::VARY, HeaderValue::from_static("Origin")));
    if let Some(headers) = requested {
        answer.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, headers));
    }
    answer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_or_a_star_are_allowed() {
        let list = vec!["https://app.example".to_owned()];
        assert_eq!(allow(&list, "https://app.example").unwrap(), "https://app.example");
        assert!(allow(&list, "https://evil.example").is_none());
        assert!(allow(&[], "https://app.example").is_none());
        assert_eq!(allow(&["*".to_owned()], "https://any.example").unwrap(), "*");
    }
}
