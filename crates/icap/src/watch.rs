//! Reload anything that lives in files (TLS credentials, a policy) when its files change.
//!
//! The directories are watched, not the files: editors and tools such as certbot replace a
//! file by renaming a new one over it, which a watch on the old file would miss.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

/// How long to wait after a change before reloading, so that a certificate and its key written
/// one after the other are read together.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(500);

/// Something that can reload itself from files (TLS settings, a policy).
pub trait Reload: Send + Sync + 'static {
    /// The files whose change triggers a reload.
    fn watched_files(&self) -> Vec<PathBuf>;
    /// Reloads; a failure leaves the old state in force. Returns warnings to log.
    fn reload(&self) -> Result<Vec<String>, String>;
    /// A name for the log.
    fn what(&self) -> &'static str;
}

/// Reloads `target` whenever one of its files changes, until the returned watcher is dropped.
pub fn watch_files<R: Reload>(target: Arc<R>) -> Result<notify::RecommendedWatcher, notify::Error> {
    let files: Vec<PathBuf> = target.watched_files().iter().map(|p| absolute(p)).collect();
    let dirs: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let names = files.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if event.paths.iter().any(|p| names.iter().any(|f| p == f || p.file_name() == f.file_name())) {
                let _ = tx.send(());
            }
        }
    })?;
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            tokio::time::sleep(RELOAD_DEBOUNCE).await;
            while rx.try_recv().is_ok() {}
            match target.reload() {
                Ok(warnings) => {
                    tracing::info!("{} changed on disk: reloaded", target.what());
                    for warning in warnings {
                        tracing::warn!("{warning}");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "{} changed on disk but the new files are refused; the previous ones stay", target.what())
                }
            }
        }
    });
    Ok(watcher)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
