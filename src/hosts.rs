//! Which host names the gateway answers for. A page on `evil.example` whose name is
//! rebound to 127.0.0.1 reaches a loopback gateway with `Host: evil.example` and, to the
//! browser, its own origin: the gateway would take it for same-origin. So a request is
//! answered only when its `Host` is `localhost`, an IP address (an address can only
//! reach the gateway if it is the gateway's own, so no page can rebind one) or a name
//! in `--public-origin`; any other gets `421` before CORS or a handler sees it.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::error::ApiError;
use crate::gateway::Gateway;

pub async fn check_host(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let gateway = request.app_data::<web::Data<Gateway>>().cloned();
    let origins = gateway.as_ref().map_or(&[][..], |gateway| &gateway.settings.public_origins);
    // A browser always sends `Host`; a client without one is not a page being rebound.
    let known = request_host(&request).is_none_or(|host| is_known(host, origins));
    if !known {
        let refusal = ApiError::UnknownHost.error_response();
        return Ok(request.into_response(refusal));
    }
    next.call(request).await
}

/// The `Host` header (or the authority of an absolute request URI), as sent.
pub fn request_host(request: &ServiceRequest) -> Option<&str> {
    match request.headers().get(header::HOST) {
        Some(host) => Some(host.to_str().unwrap_or("")),
        None => request.uri().authority().map(|authority| authority.as_str()),
    }
}

/// Whether `host` (a `Host` header: a name or address, with or without a port) names
/// this gateway.
fn is_known(host: &str, public_origins: &[String]) -> bool {
    let name = without_port(host).to_ascii_lowercase();
    if name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let bracketed = name.strip_prefix('[').and_then(|rest| rest.strip_suffix(']'));
    if bracketed.is_some_and(|address| address.parse::<std::net::Ipv6Addr>().is_ok()) {
        return true;
    }
    public_origins.iter().any(|origin| origin_name(origin).eq_ignore_ascii_case(&name))
}

/// `host` without its `:port`; an IPv6 address keeps its brackets.
fn without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty() && !port.contains(']') && (!name.contains(':') || name.ends_with(']')) =>
        {
            name
        }
        _ => host,
    }
}

/// The host name of an origin such as `https://push.example.com:8443`.
pub fn origin_name(origin: &str) -> &str {
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    without_port(authority.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_are_known_on_any_port() {
        for host in ["localhost", "LOCALHOST:8080", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:8080", "10.1.2.3:9"] {
            assert!(is_known(host, &[]), "{host}");
        }
    }

    #[test]
    fn other_names_are_known_only_when_configured() {
        let origins = vec!["https://push.example.com".to_owned(), "http://other.example:8080/".to_owned()];
        assert!(!is_known("evil.example", &origins));
        assert!(!is_known("localhost.evil.example", &origins));
        assert!(!is_known("127.0.0.1.evil.example:80", &origins));
        assert!(!is_known("", &origins));
        assert!(is_known("push.example.com", &origins));
        assert!(is_known("Push.Example.com:443", &origins));
        assert!(is_known("other.example", &origins));
    }

    #[test]
    fn ports_are_cut_off_names_and_addresses_alike() {
        assert_eq!(without_port("a.example:80"), "a.example");
        assert_eq!(without_port("[::1]:80"), "[::1]");
        assert_eq!(without_port("[::1]"), "[::1]");
        assert_eq!(without_port("::1"), "::1");
        assert_eq!(origin_name("https://a.example:8443"), "a.example");
    }
}
