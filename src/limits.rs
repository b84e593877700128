//! What one client may take: held connections per IP, publishes per second per IP, and
//! the size of a request head. An IPv6 client is limited by its /64. Loopback peers are exempt unless `--limit-loopback` is set,
//! since loopback is where the application's own backend and a reverse proxy on the same
//! host connect from (limit clients at the proxy there).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::settings::Settings;

/// The per-client limits of one gateway.
pub struct PeerLimits {
    per_ip: usize,
    limit_loopback: bool,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
    publishes: Option<RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>>,
}

/// One held connection counted against its peer; dropping it releases the count.
pub struct ConnectionSlot {
    ip: Option<IpAddr>,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PeerLimits {
    pub fn new(settings: &Settings) -> Self {
        let quota = NonZeroU32::new(settings.publish_rate).map(Quota::per_second);
        PeerLimits {
            per_ip: settings.max_connections_per_ip,
            limit_loopback: settings.limit_loopback,
            held: Arc::default(),
            publishes: quota.map(RateLimiter::keyed),
        }
    }

    /// Counts a held connection (a long-poll included) of the request's peer, or refuses
    /// it with `429` when the peer holds its maximum already.
    pub fn take_connection(&self, request: &HttpRequest) -> Result<ConnectionSlot, ApiError> {
        let ip = self.limited_peer(request);
        if let Some(ip) = ip {
            let mut held = lock(&self.held);
            let count = held.entry(ip).or_default();
            if *count >= self.per_ip {
                return Err(ApiError::TooMany("this address holds its maximum number of connections", 5));
            }
            *count += 1;
        }
        Ok(ConnectionSlot { ip, held: self.held.clone() })
    }

    /// Takes one publish from the peer's allowance, or refuses it with `429`.
    pub fn publish(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let (Some(limiter), Some(ip)) = (&self.publishes, self.limited_peer(request)) else { return Ok(()) };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooMany("this address publishes faster than --publish-rate", wait.as_secs().max(1))
        })
    }

    /// Waits until `peer` (see [`PeerLimits::limited_peer`]) may publish once more, then
    /// takes it: for what the gateway publishes on a peer's behalf (a demo job's events),
    /// which is slowed to the peer's rate rather than refused.
    pub async fn pace_publish(&self, peer: Option<IpAddr>) {
        let (Some(limiter), Some(ip)) = (&self.publishes, peer) else { return };
        while let Err(not_until) = limiter.check_key(&ip) {
            tokio::time::sleep(not_until.wait_time_from(DefaultClock::default().now())).await;
        }
    }

    /// Forgets the rate state of publishers that have been quiet.
    pub fn sweep(&self) {
        if let Some(limiter) = &self.publishes {
            limiter.retain_recent();
        }
    }

    /// What the request's peer is limited as, or `None` when it is not limited.
    pub fn limited_peer(&self, request: &HttpRequest) -> Option<IpAddr> {
        let ip = request.peer_addr()?.ip().to_canonical();
        (self.limit_loopback || !ip.is_loopback()).then(|| peer_key(ip))
    }
}

/// What a peer is limited as: an IPv4 address alone (an IPv4-mapped IPv6 one included),
/// an IPv6 address with its whole /64, since one host or one subscriber line is usually
/// given a /64 and may use any address in it.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut held = lock(&self.held);
        if let Some(count) = held.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                held.remove(&ip);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Refuses requests whose line and headers together pass `--max-request-head` bytes with
/// `431`, before any handler runs.
pub async fn check_head(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = request.app_data::<web::Data<Gateway>>().map_or(usize::MAX, |g| g.settings.max_request_head);
    let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if request.uri().to_string().len() + headers > limit {
        return Ok(request.into_response(ApiError::HeadTooLarge(limit).error_response()));
    }
    next.call(request).await
}

/// How often quiet publishers' rate state is forgotten.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn limits(per_ip: usize) -> PeerLimits {
        let mut settings = Settings::with_bind("127.0.0.1:0".parse().unwrap());
        settings.max_connections_per_ip = per_ip;
        PeerLimits::new(&settings)
    }

    fn from(peer: &str) -> HttpRequest {
        TestRequest::default().peer_addr(peer.parse().unwrap()).to_http_request()
    }

    #[test]
    fn ipv6_addresses_are_keyed_by_their_64_and_ipv4_ones_alone() {
        let key = |ip: &str| peer_key(ip.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(key("192.0.2.1"), "192.0.2.1");
    }

    #[test]
    fn ipv6_peers_of_one_64_share_their_connections() {
        let limits = limits(1);
        let _held = limits.take_connection(&from("[2001:db8:1:2::1]:1000")).unwrap();
        assert!(limits.take_connection(&from("[2001:db8:1:2:ffff::9]:1001")).is_err());
        assert!(limits.take_connection(&from("[2001:db8:1:3::1]:1002")).is_ok());
    }

    #[test]
    fn ipv4_peers_count_alone_even_when_mapped_into_ipv6() {
        let limits = limits(1);
        let _held = limits.take_connection(&from("[::ffff:192.0.2.1]:1000")).unwrap();
        assert!(limits.take_connection(&from("192.0.2.1:1001")).is_err());
        assert!(limits.take_connection(&from("192.0.2.2:1002")).is_ok());
    }
}
