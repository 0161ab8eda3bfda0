//! The scan threads: engine work that can take long (finishing a held zip or PDF, feeding a
//! decoder or a container) runs on tokio's blocking pool, at most one task per core at once,
//! so a burst of bombs queues up instead of starting hundreds of threads, and the async
//! workers keep answering small requests.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why work did not run on the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    /// No scan thread came free within the overload wait.
    Busy,
    /// The work panicked.
    Failed,
}

/// A bounded set of scan threads.
#[derive(Debug, Clone)]
pub struct ScanPool {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl ScanPool {
    /// `threads` scan threads (at least one); work waits at most `wait` for one.
    pub fn new(threads: usize, wait: Duration) -> Self {
        Self { slots: Arc::new(Semaphore::new(threads.max(1))), wait }
    }

    /// One scan thread per core.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    /// Runs `work` on a scan thread.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let slot = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => return Err(PoolError::Busy),
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|_| PoolError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_waits_for_a_free_thread_then_gives_up() {
        let pool = ScanPool::new(1, Duration::from_millis(100));
        let (started, running) = tokio::sync::oneshot::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy = pool.clone();
        let long = tokio::spawn(async move {
            busy.run(move || {
                let _ = started.send(());
                let _ = wait.recv();
            })
            .await
        });
        running.await.unwrap_or_default();
        assert_eq!(pool.run(|| 1).await, Err(PoolError::Busy));
        let _ = release.send(());
        assert_eq!(long.await.ok(), Some(Ok(())));
        assert_eq!(pool.run(|| 2).await, Ok(2));
    }
}
