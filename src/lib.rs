//! cometgate: a Comet gateway. Publishers post events to named channels; subscribers get
//! every event, in order and exactly once, over the transport their browser can use.
//!
//! # Layout
//! - [`bus`]: ids, the per-channel backlog, cursors and fan-out, behind one cheap handle.
//! - [`transport`]: one module per transport (SSE, long-poll, streaming XHR, hidden
//!   iframe, JSONP), each with its routes and a pure encoder; the held-connection loop and the
//!   options of every accepted socket are shared.
//! - [`publish`]: the publisher's API and who may use it.
//! - [`history`]: pages of a channel's backlog, newest or oldest first.
//! - [`auth`]: subscriber tokens (who may read a channel).
//! - [`head`]: `HEAD` answered like `GET`, without a body and without holding.
//! - [`hosts`]: which `Host` names the gateway answers for (no DNS rebinding).
//! - [`cors`]: which other origins may call the gateway from a browser.
//! - [`demo`]: the transport-comparison page, the static client, the simulated job.
//! - [`limits`]: what one client may take (connections, publish rate, head size).
//! - [`observe`]: Prometheus metrics, liveness and readiness.
//! - [`settings`]: every address, timeout, size and limit, from flags or the environment.
//! - [`error`]: the HTTP errors, one status and a JSON body each.
//! - [`gateway`]: the state every handler shares (bus, settings, metrics, limits).
//! - [`startup`]: [`Application`], which builds the [`gateway::Gateway`], binds and serves.

pub mod auth;
pub mod bus;
pub mod cors;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod head;
pub mod history;
pub mod hosts;
pub mod limits;
pub mod observe;
pub mod publish;
pub mod settings;
pub mod startup;
pub mod transport;

pub use settings::Settings;
pub use startup::{Application, shutdown_signal};
