//! The state every handler shares, built once per process. It sits below the handlers
//! (they read it) and below [`crate::startup`] (which builds it and serves them).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::auth::Tokens;
use crate::bus::Bus;
use crate::limits::PeerLimits;
use crate::observe::Metrics;
use crate::settings::Settings;

/// What every handler shares: one bus (built once, outside the worker factory, so all
/// workers see the same channels), the settings, and the shutdown token held streams watch.
pub struct Gateway {
    pub bus: Bus,
    pub settings: Settings,
    pub shutdown: CancellationToken,
    pub metrics: Arc<Metrics>,
    /// Set when subscribers need tokens.
    pub tokens: Option<Tokens>,
    pub limits: PeerLimits,
}

impl Gateway {
    /// The state of a gateway on `bus`, with counters and limits fresh from `settings`.
    pub fn new(bus: Bus, settings: Settings, shutdown: CancellationToken) -> Self {
        let tokens = settings.subscribe_secret.as_deref().map(Tokens::new);
        let limits = PeerLimits::new(&settings);
        Gateway { bus, settings, shutdown, metrics: Arc::default(), tokens, limits }
    }
}
