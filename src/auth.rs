//! Who may subscribe: with a subscribe secret set, a subscriber presents a signed token
//! (a JWT, HS256) naming the channels, or channel prefixes, and an expiry. Any JWT library
//! can mint one; `cometgate token --channel news --channel 'jobs.*' --ttl 1h` does too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::HttpRequest;
use actix_web::http::header;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What a token grants: `channel` and each of `channels` is a channel name, or a prefix
/// ending in `*` (`jobs.*` grants `jobs.42`); `exp` is its expiry in Unix seconds. An `nbf`
/// (not before, Unix seconds) claim is honoured too.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    pub exp: u64,
}

impl Claims {
    /// The first channel not granted, if any.
    fn uncovered<'a>(&self, channels: &'a [String]) -> Option<&'a String> {
        let patterns = self.channel.iter().chain(&self.channels);
        channels.iter().find(|channel| !patterns.clone().any(|pattern| grants(pattern, channel)))
    }
}

/// The shortest subscribe secret accepted: as long as HS256's own output, so that a
/// token cannot be forged by guessing the key offline (an empty one forges anything).
pub const MIN_SECRET_BYTES: usize = 32;

/// Refuses a subscribe secret too short to keep tokens unforgeable. The secret itself is
/// never part of the message.
pub fn check_secret(secret: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        secret.len() >= MIN_SECRET_BYTES,
        "--subscribe-secret (COMETGATE_SUBSCRIBE_SECRET) must be at least {MIN_SECRET_BYTES} bytes, not {}: \
         with a short one anyone can forge tokens (make one with `openssl rand -hex 32`)",
        secret.len()
    );
    Ok(())
}

/// The longest a checked token is taken to stay valid: far beyond any stream's life, and
/// short enough that a deadline of now plus it never overflows (`exp` may be `u64::MAX`).
const LONGEST_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Mints and checks tokens with one shared secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Tokens {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry and not-before are honoured to the second: no minute of grace.
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        let secret = secret.as_bytes();
        Tokens { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    /// A token for `channels` (names or `prefix*`es) valid for `ttl`; one channel is
    /// written as the `channel` claim, which every version of the gateway reads.
    pub fn mint(&self, channels: &[impl AsRef<str>], ttl: Duration) -> anyhow::Result<String> {
        let exp = unix_now().saturating_add(ttl.as_secs());
        let mut names = channels.iter().map(|channel| channel.as_ref().to_owned());
        let claims = match channels.len() {
            1 => Claims { channel: names.next(), exp, ..Claims::default() },
            _ => Claims { channels: names.collect(), exp, ..Claims::default() },
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Checks the request's token (`?token=` or `Authorization: Bearer`) for every one of
    /// `channels`, returning how long it stays valid.
    pub fn check(
        &self,
        request: &HttpRequest,
        query_token: Option<&str>,
        channels: &[String],
    ) -> Result<Duration, ApiError> {
        let token = query_token
            .filter(|t| !t.is_empty())
            .or_else(|| bearer(request))
            .ok_or(ApiError::MissingToken("subscribing needs a token: ?token=... or Authorization: Bearer ..."))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| ApiError::InvalidToken(err.to_string()))?
            .claims;
        if let Some(channel) = claims.uncovered(channels) {
            return Err(ApiError::NotCovered(channel.clone()));
        }
        Ok(Duration::from_secs(claims.exp.saturating_sub(unix_now())).min(LONGEST_VALIDITY))
    }
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(request: &HttpRequest) -> Option<&str> {
    request.headers().get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

fn grants(pattern: &str, channel: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => channel.starts_with(prefix),
        None => pattern == channel,
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn secrets_shorter_than_32_bytes_are_refused() {
        assert!(check_secret("").is_err());
        assert!(check_secret(&"s".repeat(31)).is_err());
        assert!(check_secret(&"s".repeat(32)).is_ok());
    }

    #[test]
    fn prefixes_end_in_a_star() {
        assert!(grants("news", "news"));
        assert!(!grants("news", "news2"));
        assert!(grants("jobs.*", "jobs.42"));
        assert!(!grants("jobs.*", "jobsX"));
        assert!(grants("*", "anything"));
    }

    #[test]
    fn a_minted_token_grants_its_channel_only() {
        let tokens = Tokens::new("secret");
        let token = tokens.mint(&names(&["news"]), Duration::from_secs(60)).unwrap();
        let request = TestRequest::default().to_http_request();
        let left = tokens.check(&request, Some(&token), &names(&["news"])).unwrap();
        assert!(left <= Duration::from_secs(60) && left >= Duration::from_secs(58));
        assert!(matches!(tokens.check(&request, Some(&token), &names(&["other"])), Err(ApiError::NotCovered(_))));
    }

    #[test]
    fn a_token_for_several_channels_must_cover_every_channel_asked_for() {
        let tokens = Tokens::new("secret");
        let token = tokens.mint(&names(&["news", "jobs.*"]), Duration::from_secs(60)).unwrap();
        let request = TestRequest::default().to_http_request();
        assert!(tokens.check(&request, Some(&token), &names(&["jobs.1", "news", "jobs.2"])).is_ok());
        let refused = tokens.check(&request, Some(&token), &names(&["news", "chat", "jobs.3"]));
        assert!(matches!(refused, Err(ApiError::NotCovered(channel)) if channel == "chat"));
    }

    fn names(channels: &[&str]) -> Vec<String> {
        channels.iter().map(|channel| channel.to_string()).collect()
    }

    #[test]
    fn tokens_signed_with_another_secret_or_expired_are_invalid() {
        let request = TestRequest::default().to_http_request();
        let foreign = Tokens::new("other").mint(&names(&["news"]), Duration::from_secs(60)).unwrap();
        assert!(matches!(
            Tokens::new("secret").check(&request, Some(&foreign), &names(&["news"])),
            Err(ApiError::InvalidToken(_))
        ));
        let tokens = Tokens::new("secret");
        let claims = Claims { channel: Some("news".into()), exp: unix_now() - 1, ..Claims::default() };
        let expired = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &tokens.encoding).unwrap();
        assert!(matches!(tokens.check(&request, Some(&expired), &names(&["news"])), Err(ApiError::InvalidToken(_))));
    }

    #[test]
    fn validity_is_capped_so_no_deadline_overflows() {
        let tokens = Tokens::new("secret");
        let claims = Claims { channel: Some("news".into()), exp: u64::MAX, ..Claims::default() };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &tokens.encoding).unwrap();
        let request = TestRequest::default().to_http_request();
        assert_eq!(tokens.check(&request, Some(&token), &names(&["news"])).unwrap(), LONGEST_VALIDITY);
        assert!(std::time::Instant::now().checked_add(LONGEST_VALIDITY).is_some());
    }

    #[test]
    fn the_header_is_read_when_the_query_has_no_token() {
        let tokens = Tokens::new("secret");
        let token = tokens.mint(&names(&["news"]), Duration::from_secs(60)).unwrap();
        let request =
            TestRequest::default().insert_header(("Authorization", format!("Bearer {token}"))).to_http_request();
        assert!(tokens.check(&request, None, &names(&["news"])).is_ok());
        let bare = TestRequest::default().to_http_request();
        assert!(matches!(tokens.check(&bare, None, &names(&["news"])), Err(ApiError::MissingToken(_))));
    }
}
