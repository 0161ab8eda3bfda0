//! Connections still opening: a TLS handshake or a PROXY header under way. Nobody is
//! authenticated yet, so they get slots of their own, apart from the served connections, and
//! when those run out the oldest opening connection is dropped to make room. Idle sockets
//! then cannot keep real clients out: an attacker must open connections faster than real
//! clients finish their handshakes, instead of just holding some open.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// The opening connections of one server (or tunnel), oldest first.
#[derive(Debug, Clone)]
pub struct OpeningSlots {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    next_id: AtomicU64,
    queue: Mutex<VecDeque<(u64, CancellationToken)>>,
}

/// One opening connection's slot: `evicted` fires when a newer connection needed it. Dropping
/// it (the connection opened, or failed) frees the slot.
#[derive(Debug)]
pub struct OpeningSlot {
    slots: Arc<Inner>,
    id: u64,
    /// Cancelled when this connection is dropped to make room.
    pub evicted: CancellationToken,
}

impl OpeningSlots {
    /// Room for `capacity` opening connections (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity: capacity.max(1),
                next_id: AtomicU64::new(0),
                queue: Mutex::new(VecDeque::new()),
            }),
        }
    }

    /// A slot for a new connection; when all are taken, the oldest holder is evicted. Returns
    /// whether someone was evicted, for the log and metrics.
    pub fn admit(&self) -> (OpeningSlot, bool) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let evicted = CancellationToken::new();
        let mut queue = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut made_room = false;
        while queue.len() >= self.inner.capacity {
            if let Some((_, oldest)) = queue.pop_front() {
                oldest.cancel();
                made_room = true;
            }
        }
        queue.push_back((id, evicted.clone()));
        (OpeningSlot { slots: self.inner.clone(), id, evicted }, made_room)
    }

    /// Opening connections now.
    pub fn len(&self) -> usize {
        self.inner.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no connection is opening.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for OpeningSlot {
    fn drop(&mut self) {
        let mut queue = self.slots.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = queue.iter().position(|(id, _)| *id == self.id) {
            queue.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_opening_connection_makes_room() {
        let slots = OpeningSlots::new(2);
        let (a, _) = slots.admit();
        let (b, _) = slots.admit();
        let (c, evicted) = slots.admit();
        assert!(evicted && a.evicted.is_cancelled() && !b.evicted.is_cancelled());
        assert_eq!(slots.len(), 2);
        drop(b);
        let (_d, evicted) = slots.admit();
        assert!(!evicted && !c.evicted.is_cancelled());
        drop(a);
        assert_eq!(slots.len(), 2);
    }
}
