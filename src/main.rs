//! The `cometgate` binary: reads the settings, starts the gateway, stops it on a signal.

use anyhow::Context;
use clap::Parser;
use cometgate::auth::{Tokens, check_secret};
use cometgate::settings::{Command, LogFormat};
use cometgate::{Application, Settings, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    if let Some(secret) = &settings.subscribe_secret {
        check_secret(secret)?;
    }
    if let Some(Command::Token { channel, ttl }) = &settings.command {
        let secret = settings.subscribe_secret.as_deref().context("`token` needs --subscribe-secret")?;
        println!("{}", Tokens::new(secret).mint(channel, *ttl)?);
        return Ok(());
    }
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()));
    match settings.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    if settings.publish_token.is_none() {
        tracing::warn!(
            "no publish token is set: only loopback peers may publish, and behind a reverse proxy on this host every peer looks loopback; set --publish-token there"
        );
    }
    let (host, internal_host) = (settings.bind.ip(), settings.internal_bind.map(|address| address.ip()));
    let application = Application::build(settings).await?;
    println!("cometgate listening on http://{host}:{}", application.port());
    if let (Some(internal_host), Some(port)) = (internal_host, application.internal_port()) {
        println!("cometgate publishing API on http://{internal_host}:{port}");
    }
    let shutdown = application.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: ending held connections");
        shutdown.cancel();
    });
    application.run_until_stopped().await?;
    Ok(())
}
