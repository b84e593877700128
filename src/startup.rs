//! Startup as a type: [`Application::build`] binds its own listener (port 0 works), wires
//! the bus, the routes and the shutdown token, and [`Application::run_until_stopped`] serves.

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::cors::cors;
use crate::error::{ApiError, bad_request};
use crate::gateway::Gateway;
use crate::head::head_as_get;
use crate::hosts::check_host;
use crate::limits::{self, check_head};
use crate::settings::Settings;
use crate::{demo, observe, publish, transport};

/// A gateway bound to its address and ready to serve.
pub struct Application {
    port: u16,
    server: Server,
    shutdown: CancellationToken,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        let bus = match &settings.redis_url {
            Some(url) => Bus::on_redis(url, settings.bounds()).await?,
            None => Bus::in_memory(settings.bounds()),
        };
        tokio::spawn(bus.clone().run(settings.sweep_interval, shutdown.clone()));
        let gateway = web::Data::new(Gateway::new(bus, settings.clone(), shutdown.clone()));
        tokio::spawn(sweep_limits(gateway.clone(), shutdown.clone()));
        let app = move || {
            App::new()
                .app_data(gateway.clone())
                .wrap(from_fn(head_as_get))
                .wrap(from_fn(cors))
                .wrap(from_fn(check_host))
                .wrap(from_fn(check_head))
                .configure(routes)
        };
        let mut server = HttpServer::new(app)
            .on_connect(without_nagle)
            .disable_signals()
            // A browser never half-closes while it waits for events: a closed read side
            // means the subscriber left, and it is released at once, not at the next write.
            .h1_allow_half_closed(false)
            .client_request_timeout(settings.request_timeout)
            .shutdown_timeout(settings.drain.as_secs().max(1))
            .backlog(settings.listen_backlog);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = match server.bind(settings.bind) {
            Ok(server) => server,
            Err(err) => {
                shutdown.cancel();
                return Err(err).with_context(|| format!("cannot listen on {}", settings.bind));
            }
        };
        let port = server.addrs().first().map_or(settings.bind.port(), |address| address.port());
        Ok(Application { port, server: server.run(), shutdown })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cancelling this token shuts the gateway down: held responses end with their
    /// reconnect frame, then the server stops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            handle.stop(true).await;
        });
        self.server.await
    }
}

/// Every route of the gateway, and JSON errors for what no handler sees.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|err, _| bad_request(err)))
        .app_data(web::PathConfig::default().error_handler(|err, _| bad_request(err)));
    publish::configure(cfg);
    transport::configure(cfg);
    demo::configure(cfg);
    observe::configure(cfg);
    cfg.default_service(web::to(|| async { Err::<HttpResponse, _>(ApiError::NotFound) }));
}

/// Events are small writes that must leave at once: Nagle's algorithm would hold one back
/// until the client acknowledges the last (up to 40 ms with delayed acks).
fn without_nagle(connection: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        let _ = tcp.set_nodelay(true);
    }
}

async fn sweep_limits(gateway: web::Data<Gateway>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(limits::SWEEP_PERIOD);
    while shutdown.run_until_cancelled(ticks.tick()).await.is_some() {
        gateway.limits.sweep();
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            },
            Err(_) => drop(interrupt.await),
        }
    }
    #[cfg(not(unix))]
    drop(interrupt.await);
}
