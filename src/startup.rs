//! Startup as a type: [`Application::build`] binds its own listeners (port 0 works), wires
//! the bus, the routes and the shutdown token, and [`Application::run_until_stopped`] serves.

use std::net::SocketAddr;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::auth::check_secret;
use crate::bus::Bus;
use crate::cors::cors;
use crate::error::{ApiError, bad_request};
use crate::gateway::Gateway;
use crate::head::head_as_get;
use crate::hosts::check_host;
use crate::limits::{self, check_head};
use crate::settings::Settings;
use crate::{demo, history, observe, publish, transport};

/// A gateway bound to its address (and to its internal address, when it has one) and
/// ready to serve.
pub struct Application {
    port: u16,
    internal_port: Option<u16>,
    servers: Vec<Server>,
    shutdown: CancellationToken,
}

/// What a listener serves: everything, or with `--internal-bind` the subscribers' side
/// on the public listener and the publishers' and operators' side on the internal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    All,
    Public,
    Internal,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        if let Some(secret) = &settings.subscribe_secret {
            check_secret(secret)?;
        }
        let shutdown = CancellationToken::new();
        let bus = match (&settings.redis_url, &settings.data_dir) {
            (Some(_), Some(_)) => anyhow::bail!("--data-dir and --redis-url exclude each other: choose one store"),
            (Some(url), None) => Bus::on_redis(url, settings.bounds()).await?,
            (None, Some(path)) => Bus::on_disk(path, settings.durability(), settings.bounds())?,
            (None, None) => Bus::in_memory(settings.bounds()),
        };
        tokio::spawn(bus.clone().run(settings.sweep_interval, shutdown.clone()));
        let gateway = web::Data::new(Gateway::new(bus, settings.clone(), shutdown.clone()));
        tokio::spawn(sweep_limits(gateway.clone(), shutdown.clone()));
        let listeners = match settings.internal_bind {
            None => vec![(settings.bind, Side::All, settings.workers)],
            Some(internal) => {
                vec![(settings.bind, Side::Public, settings.workers), (internal, Side::Internal, Some(1))]
            }
        };
        let mut bound = Vec::new();
        for (address, side, workers) in listeners {
            match listen(&gateway, address, side, workers) {
                Ok(server) => bound.push(server),
                Err(err) => {
                    shutdown.cancel();
                    return Err(err).with_context(|| format!("cannot listen on {address}"));
                }
            }
        }
        let ports: Vec<u16> = bound.iter().map(|(port, _)| *port).collect();
        let servers = bound.into_iter().map(|(_, server)| server).collect();
        Ok(Application { port: ports[0], internal_port: ports.get(1).copied(), servers, shutdown })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the internal listener, when `--internal-bind` is set.
    pub fn internal_port(&self) -> Option<u16> {
        self.internal_port
    }

    /// Cancelling this token shuts the gateway down: held responses end with their
    /// reconnect frame, then the server stops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handles: Vec<_> = self.servers.iter().map(Server::handle).collect();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            futures_util::future::join_all(handles.iter().map(|handle| handle.stop(true))).await;
        });
        for result in futures_util::future::join_all(self.servers).await {
            result?;
        }
        Ok(())
    }
}

/// One listener with workers of its own: publishers on the internal listener never wait
/// for a worker that is busy with subscribers.
fn listen(
    gateway: &web::Data<Gateway>,
    address: SocketAddr,
    side: Side,
    workers: Option<usize>,
) -> std::io::Result<(u16, Server)> {
    let settings = &gateway.settings;
    let gateway = gateway.clone();
    let app = move || {
        App::new()
            .app_data(gateway.clone())
            .wrap(from_fn(head_as_get))
            .wrap(from_fn(cors))
            .wrap(from_fn(check_host))
            .wrap(from_fn(check_head))
            .configure(|cfg| routes(cfg, side))
    };
    let mut server = HttpServer::new(app)
        .on_connect(transport::socket::on_connect(settings))
        .disable_signals()
        // A browser never half-closes while it waits for events: a closed read side
        // means the subscriber left, and it is released at once, not at the next write.
        .h1_allow_half_closed(false)
        .client_request_timeout(settings.request_timeout)
        .shutdown_timeout(settings.drain.as_secs().max(1))
        .backlog(settings.listen_backlog);
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    let server = server.bind(address)?;
    let port = server.addrs().first().map_or(address.port(), |bound| bound.port());
    Ok((port, server.run()))
}

/// The routes of one side, and JSON errors for what no handler sees.
fn routes(cfg: &mut web::ServiceConfig, side: Side) {
    cfg.app_data(web::QueryConfig::default().error_handler(|err, _| bad_request(err)))
        .app_data(web::PathConfig::default().error_handler(|err, _| bad_request(err)));
    if side != Side::Public {
        publish::configure(cfg);
        observe::configure(cfg);
    }
    if side != Side::Internal {
        transport::configure(cfg);
        history::configure(cfg);
        demo::configure(cfg);
    }
    cfg.default_service(web::to(|| async { Err::<HttpResponse, _>(ApiError::NotFound) }));
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
