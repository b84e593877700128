//! `HEAD` on every `GET` route: the request is routed as a `GET` and its answer keeps its
//! status and headers but loses its body (actix writes a sized body's length and leaves
//! the bytes out). A held answer (a stream, a waiting poll) is dropped at once, so a
//! `HEAD` never holds a connection or a subscription.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

pub async fn head_as_get(
    mut request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if request.method() != Method::HEAD {
        return next.call(request).await;
    }
    request.head_mut().method = Method::GET;
    let response = next.call(request).await?;
    Ok(response.map_body(|_, body| match body.size() {
        BodySize::Stream => BoxBody::new(actix_web::body::None::new()),
        _ => body,
    }))
}
