//! How long a request body may take: each read has a timeout, the body must keep a minimum
//! data rate, and the whole request has an absolute deadline. A per-read timeout alone lets a
//! client hold a connection forever with one byte every 29 seconds.
//!
//! Only time spent waiting for the client counts towards the rate: a service that takes its
//! time between reads (scanning, waiting for memory) never makes the client look slow.

use std::time::Duration;

use tokio::time::Instant;

use super::ServerConfig;

/// Why a body was too late (answered `408`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Late {
    /// Nothing arrived for the read timeout.
    ReadTimeout,
    /// Less than the minimum rate arrived over a window.
    TooSlow,
    /// The request deadline passed.
    Deadline,
}

impl Late {
    /// The `X-Error-Reason` of the `408`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Late::ReadTimeout => "request not received within the read timeout",
            Late::TooSlow => "request body arrives slower than the minimum rate",
            Late::Deadline => "request not received within the request deadline",
        }
    }
}

/// The clock of one request's body.
#[derive(Debug)]
pub(crate) struct Pace {
    read_timeout: Duration,
    deadline: Instant,
    window: Duration,
    /// Bytes each window must bring; 0 turns the rate check off.
    min_bytes: u64,
    /// Time spent waiting in the current window, and what it brought.
    waited: Duration,
    bytes: u64,
}

impl Pace {
    /// The pace of a request whose head arrived at `started`.
    pub(crate) fn new(config: &ServerConfig, started: Instant) -> Self {
        let window = config.min_body_rate_window.max(Duration::from_millis(1));
        let min_bytes = (config.min_body_rate as f64 * window.as_secs_f64()) as u64;
        Self {
            read_timeout: config.read_timeout,
            deadline: started + config.request_deadline,
            window,
            min_bytes,
            waited: Duration::ZERO,
            bytes: 0,
        }
    }

    /// The read timeout.
    pub(crate) fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// The latest a wait that starts `now` may last before [`Pace::waited`] must judge it.
    pub(crate) fn wait_until(&self, now: Instant, read_deadline: Instant) -> Instant {
        let until = read_deadline.min(self.deadline);
        if self.min_bytes == 0 {
            return until;
        }
        until.min(now + self.window.saturating_sub(self.waited))
    }

    /// Counts a wait of `elapsed` that brought `bytes`; at the end of each window, the window
    /// must have brought the minimum.
    pub(crate) fn waited(&mut self, elapsed: Duration, bytes: u64) -> Result<(), Late> {
        self.waited += elapsed;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.min_bytes > 0 && self.waited >= self.window {
            if self.bytes < self.min_bytes {
                return Err(Late::TooSlow);
            }
            self.waited = Duration::ZERO;
            self.bytes = 0;
        }
        Ok(())
    }

    /// Whether the request deadline or the read deadline has passed at `now`.
    pub(crate) fn expired(&self, now: Instant, read_deadline: Instant) -> Option<Late> {
        if now >= self.deadline {
            Some(Late::Deadline)
        } else if now >= read_deadline {
            Some(Late::ReadTimeout)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(rate: u64) -> Pace {
        let config = ServerConfig {
            min_body_rate: rate,
            min_body_rate_window: Duration::from_secs(10),
            request_deadline: Duration::from_secs(100),
            ..ServerConfig::default()
        };
        Pace::new(&config, Instant::now())
    }

    #[test]
    fn each_window_of_waiting_must_bring_the_minimum() {
        let mut p = pace(100);
        // 9 s of waiting with 500 bytes: the window is not over yet.
        assert_eq!(p.waited(Duration::from_secs(9), 500), Ok(()));
        // The window ends with 1,000 bytes: just enough; a new window starts.
        assert_eq!(p.waited(Duration::from_secs(1), 500), Ok(()));
        assert_eq!(p.waited(Duration::from_secs(10), 999), Err(Late::TooSlow));
        // Off: any pace passes.
        assert_eq!(pace(0).waited(Duration::from_secs(1000), 0), Ok(()));
    }

    #[test]
    fn waits_end_at_the_window_or_a_deadline() {
        let p = pace(100);
        let now = Instant::now();
        assert_eq!(p.wait_until(now, now + Duration::from_secs(30)), now + Duration::from_secs(10));
        assert_eq!(p.wait_until(now, now + Duration::from_secs(5)), now + Duration::from_secs(5));
        assert_eq!(p.expired(now, now + Duration::from_secs(5)), None);
        assert_eq!(
            p.expired(now + Duration::from_secs(5), now + Duration::from_secs(5)),
            Some(Late::ReadTimeout)
        );
        assert_eq!(
            p.expired(now + Duration::from_secs(100), now + Duration::from_secs(500)),
            Some(Late::Deadline)
        );
    }
}
