//! Process-wide byte budgets: one for memory (bodies held for an echo or for a scan, message
//! heads past a small allowance, the engine's buffers) and one for spool files on disk. Every
//! request takes what it holds from them before it grows, and gives it back when done; when a
//! budget is spent, new work waits a bounded time, then gets `503`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// A shared allowance of bytes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ByteBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    permits: Semaphore,
    total: u64,
}

impl ByteBudget {
    /// A budget of `total` bytes.
    pub fn new(total: u64) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS as u64);
        Self { inner: Arc::new(Inner { permits: Semaphore::new(total as usize), total }) }
    }

    /// The size of the budget.
    pub fn total(&self) -> u64 {
        self.inner.total
    }

    /// Bytes taken now.
    pub fn in_use(&self) -> u64 {
        self.inner.total - self.inner.permits.available_permits() as u64
    }

    /// Takes `n` bytes if they are free now.
    pub fn try_take(&self, n: u64) -> bool {
        let Ok(n) = u32::try_from(n) else { return false };
        match self.inner.permits.try_acquire_many(n) {
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(_) => false,
        }
    }

    /// Takes `n` bytes, waiting at most `wait` for them to be given back.
    pub async fn take(&self, n: u64, wait: Duration) -> bool {
        let Ok(n) = u32::try_from(n) else { return false };
        if u64::from(n) > self.inner.total {
            return false;
        }
        match tokio::time::timeout(wait, self.inner.permits.acquire_many(n)).await {
            Ok(Ok(permit)) => {
                permit.forget();
                true
            }
            _ => false,
        }
    }

    /// Gives `n` bytes back.
    pub fn give(&self, n: u64) {
        if n > 0 {
            self.inner.permits.add_permits(n as usize);
        }
    }
}

/// Bytes one holder took from a [`ByteBudget`], given back when it is dropped.
#[derive(Debug)]
pub struct Lease {
    budget: ByteBudget,
    held: u64,
}

impl Lease {
    /// An empty lease on `budget`.
    pub fn new(budget: &ByteBudget) -> Self {
        Self { budget: budget.clone(), held: 0 }
    }

    /// Bytes held.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Holds `n` more bytes if they are free now.
    pub fn try_grow(&mut self, n: u64) -> bool {
        let ok = self.budget.try_take(n);
        if ok {
            self.held += n;
        }
        ok
    }

    /// Holds `n` more bytes, waiting at most `wait` for them.
    pub async fn grow(&mut self, n: u64, wait: Duration) -> bool {
        let ok = self.budget.try_take(n) || self.budget.take(n, wait).await;
        if ok {
            self.held += n;
        }
        ok
    }

    /// Holds at least `n` bytes in all, waiting at most `wait` for the difference.
    pub async fn grow_to(&mut self, n: u64, wait: Duration) -> bool {
        n <= self.held || self.grow(n - self.held, wait).await
    }

    /// Gives back everything held.
    pub fn clear(&mut self) {
        self.budget.give(self.held);
        self.held = 0;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn leases_take_wait_and_give_back() {
        let budget = ByteBudget::new(100);
        let mut a = Lease::new(&budget);
        assert!(a.try_grow(60));
        let mut b = Lease::new(&budget);
        assert!(!b.try_grow(50), "only 40 left");
        assert!(!b.grow(50, Duration::from_secs(1)).await, "nobody gives back within the wait");
        assert!(!b.grow(101, Duration::from_secs(1)).await, "never more than the whole budget");
        let waiter = tokio::spawn(async move {
            let ok = b.grow(50, Duration::from_secs(5)).await;
            (ok, b)
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(a);
        let (ok, b) = waiter.await.unwrap();
        assert!(ok && b.held() == 50);
        assert_eq!(budget.in_use(), 50);
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }
}
