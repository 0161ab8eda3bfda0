//! `dlpgate serve`: the ICAP listener, signals and graceful shutdown.

use std::time::Duration;

use anyhow::Context;
use icap::server::{bind, raise_nofile_limit, Server, ServerConfig};

use crate::cli::ServeArgs;
use crate::echo::EchoService;

/// Runs the server until SIGTERM or SIGINT, then drains in-flight requests.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let nofile = raise_nofile_limit();
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    let config = ServerConfig {
        max_connections: args.max_connections,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        read_timeout: Duration::from_secs(args.read_timeout),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..ServerConfig::default()
    };
    let listener = bind(args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let server = Server::new(EchoService::new(args.max_connections), config);
    tracing::info!(
        listen = %args.listen,
        data_dir = %args.data_dir.display(),
        max_connections = args.max_connections,
        open_files = nofile,
        "dlpgate serving icap://{}/{{echo,reqmod,respmod}}",
        args.listen
    );
    server
        .serve(listener, shutdown_signal())
        .await
        .context("serving ICAP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining in-flight requests"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: draining in-flight requests"),
    }
}
