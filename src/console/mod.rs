//! `streetwatch console`: the control room's web console. Follows one or more brokers (edge
//! boxes, sites), folds alerts into cases in a database (SQLite file by default, PostgreSQL by
//! URL), and serves the case list and case pages on loopback; an operator's decision is stored
//! and published back on the camera's feedback topic.
//!
//! Layout: `config` (console.toml), `case` (the pure fold of alerts into cases), `board` (the
//! cameras' state from status and health messages, pure), `stats` (counts and rates, pure),
//! `store` (the database), `ingest` (the MQTT followers), `web` (the UI), `auth` (operator
//! accounts and sessions), `zones` (calibration edits, pure) and `editor` (the zone editor's
//! pages).

pub mod auth;
pub mod board;
pub mod case;
pub mod config;
pub mod editor;
pub mod ingest;
pub mod stats;
pub mod store;
pub mod web;
pub mod zones;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use config::ConsoleConfig;

pub fn run(cfg: ConsoleConfig) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    runtime.block_on(serve(cfg))
}

async fn serve(cfg: ConsoleConfig) -> Result<()> {
    std::fs::create_dir_all(cfg.data_dir.join("snapshots"))
        .map_err(|e| Error::io(&cfg.data_dir, e))?;
    let store = Arc::new(
        store::Store::open(&cfg.database)
            .await
            .map_err(|e| Error::config(&cfg.path, None, format!("field database: {e}")))?,
    );
    let (updates, _) = tokio::sync::broadcast::channel(1024);
    let stats = Arc::new(ingest::IngestStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let feedback = ingest::start(
        &cfg.brokers,
        store.clone(),
        cfg.data_dir.clone(),
        updates.clone(),
        stats.clone(),
        stop.clone(),
    )
    .map_err(|e| Error::config(&cfg.path, None, e))?;
    let app = Arc::new(web::App {
        store: store.clone(),
        feedback,
        updates,
        data_dir: cfg.data_dir.clone(),
        stats,
        calibrations: cfg.calibrations.clone(),
        zone_writes: tokio::sync::Mutex::new(()),
        auth: auth::Auth::new(cfg.operators.clone(), cfg.secure_cookies),
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| Error::io(format!("listen {}", cfg.listen), e))?;
    tracing::info!(listen = %cfg.listen, database = %redact_db(&cfg.database), "console serving");
    eprintln!("streetwatch console: http://{}/", cfg.listen);
    let server = axum::serve(listener, web::router(app));
    tokio::select! {
        r = server => r.map_err(|e| Error::io("console server", e))?,
        () = shutdown_signal() => {}
    }
    stop.store(true, Ordering::Relaxed);
    // Open event streams would hold a graceful shutdown forever: the store is closed and the
    // process ends; nothing unacknowledged is lost (the brokers keep it).
    tokio::time::timeout(Duration::from_secs(2), store.close())
        .await
        .ok();
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// A database URL for logs: any password taken out.
pub fn redact_db(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
