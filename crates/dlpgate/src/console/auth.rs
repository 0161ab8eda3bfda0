//! Who may do what: roles, argon2id password hashes, sessions with idle and absolute
//! timeouts, per-session CSRF tokens, and the login throttle.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

/// A session ends after this long without a request.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after the login, however busy.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at once; past it the oldest is dropped (its user logs in again).
pub const MAX_SESSIONS: usize = 10_000;
/// Failed logins allowed per client address, and per account name, in [`LOGIN_FAILURE_WINDOW`];
/// further attempts get 429 until the oldest failure leaves the window.
pub const LOGIN_FAILURES_ALLOWED: usize = 5;
/// The window of [`LOGIN_FAILURES_ALLOWED`].
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses and names the throttle tracks at once (bounded memory under a spray).
pub const MAX_THROTTLED_KEYS: usize = 100_000;
/// Shortest password `console user add` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted anywhere (argon2 hashes any length; the form must stay small).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What an account may do; each role can do what the ones below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
#[non_exhaustive]
pub enum Role {
    /// Reads the dashboard, incidents and the policy.
    Viewer,
    /// Also triages and exports incidents and uses the policy tester.
    Analyst,
    /// Also manages accounts and reads the audit log.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Analyst => "analyst",
            Self::Admin => "admin",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Viewer, Self::Analyst, Self::Admin].into_iter().find(|r| r.as_str() == text)
    }
}

/// The argon2id hash (PHC string, OWASP's parameters: 19 MiB, 2 passes) of `password`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// True when `password` matches `hash`; a hash that does not parse matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password is checked against successfully in practice, verified for unknown
/// names so that a login takes as long whether the name exists or not.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // getrandom only fails without any OS source, where nothing here can work anyway: an
    // all-zero token would then be refused by `Sessions::get` (never issued twice).
    if getrandom::fill(&mut bytes).is_err() {
        tracing::error!("no randomness for a session token");
    }
    hex::encode(bytes)
}

/// Equal-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A logged-in user, as the handlers see it.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// Account name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The token every state change must carry.
    pub csrf: String,
}

#[derive(Debug)]
struct Session {
    user: CurrentUser,
    created: Instant,
    last_seen: Instant,
    /// When `last_seen` was last written to the store.
    saved_seen: Instant,
}

/// How often a busy session's last activity is written to the store (its idle timeout after
/// a restart is this much early at most).
pub const SESSION_SAVE_EVERY: Duration = Duration::from_secs(60);

/// The live sessions, in memory, keyed by the SHA-256 of their cookie. They are also kept in
/// the store (by that hash: a copy of the database holds no usable cookie), so a restart or a
/// second console on the same store does not log anyone out: a cookie this memory does not
/// know is looked up there ([`Self::adopt`]).
#[derive(Debug)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
    idle: Duration,
    lifetime: Duration,
}

impl Sessions {
    /// Sessions with these timeouts.
    pub fn new(idle: Duration, lifetime: Duration) -> Self {
        Self { by_hash: Mutex::new(HashMap::new()), idle, lifetime }
    }

    /// The absolute lifetime (the cookie's Max-Age).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Starts a session; gives its cookie value and its user (to be saved in the store).
    pub fn create(&self, name: &str, role: Role) -> (String, CurrentUser) {
        let token = random_token();
        let user = CurrentUser { name: name.to_string(), role, csrf: random_token() };
        self.insert(&token, user.clone(), Instant::now(), Instant::now());
        (token, user)
    }

    /// Takes in a session the store holds (started `age` ago, last used `idle_for` ago) if it
    /// is still alive; gives its user.
    pub fn adopt(
        &self,
        token: &str,
        user: CurrentUser,
        age: Duration,
        idle_for: Duration,
    ) -> Option<CurrentUser> {
        if token.len() != 64 || age >= self.lifetime || idle_for >= self.idle {
            return None;
        }
        let now = Instant::now();
        let created = now.checked_sub(age)?;
        let last_seen = now.checked_sub(idle_for)?;
        self.insert(token, user.clone(), created, last_seen);
        Some(user)
    }

    /// True once per [`SESSION_SAVE_EVERY`] for a session: time to save its activity.
    pub fn save_due(&self, token: &str) -> bool {
        let now = Instant::now();
        let mut map = self.lock();
        match map.get_mut(&digest(token)) {
            Some(s) if now.duration_since(s.saved_seen) >= SESSION_SAVE_EVERY => {
                s.saved_seen = now;
                true
            }
            _ => false,
        }
    }

    fn insert(&self, token: &str, user: CurrentUser, created: Instant, last_seen: Instant) {
        let now = Instant::now();
        let session = Session { user, created, last_seen, saved_seen: now };
        let mut map = self.lock();
        map.retain(|_, s| self.alive(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(digest(token), session);
    }

    /// The user of a live session, which counts as activity; `None` when unknown or expired.
    pub fn get(&self, token: &str) -> Option<CurrentUser> {
        if token.len() != 64 {
            return None;
        }
        let now = Instant::now();
        let key = digest(token);
        let mut map = self.lock();
        let alive = map.get(&key).is_some_and(|s| self.alive(s, now));
        if !alive {
            map.remove(&key);
            return None;
        }
        let session = map.get_mut(&key)?;
        session.last_seen = now;
        Some(session.user.clone())
    }

    /// Ends a session.
    pub fn remove(&self, token: &str) {
        self.lock().remove(&digest(token));
    }

    /// Ends every session of an account (removed, or its role changed).
    pub fn remove_user(&self, name: &str) {
        self.lock().retain(|_, s| s.user.name != name);
    }

    fn alive(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) < self.idle && now.duration_since(s.created) < self.lifetime
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key a session is kept under, in memory and in the store: the SHA-256 of its cookie.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Failed logins per client address and per account name, in a sliding window.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// True when any of `keys` has used up its failures.
    pub fn blocked(&self, keys: &[String]) -> bool {
        let now = Instant::now();
        let mut map = self.lock();
        keys.iter().any(|k| {
            map.get_mut(k).is_some_and(|times| {
                prune(times, now);
                times.len() >= LOGIN_FAILURES_ALLOWED
            })
        })
    }

    /// Counts a failure against each of `keys`.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= MAX_THROTTLED_KEYS {
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        for key in keys {
            if map.len() >= MAX_THROTTLED_KEYS && !map.contains_key(key) {
                continue;
            }
            let times = map.entry(key.clone()).or_default();
            prune(times, now);
            times.push_back(now);
            while times.len() > LOGIN_FAILURES_ALLOWED {
                times.pop_front();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times.front().is_some_and(|t| now.duration_since(*t) >= LOGIN_FAILURE_WINDOW) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "anything"));
    }

    #[test]
    fn sessions_end_when_idle_and_at_their_lifetime() {
        let idle = Sessions::new(Duration::from_millis(30), Duration::from_secs(60));
        let (token, _) = idle.create("ann", Role::Viewer);
        assert_eq!(idle.get(&token).unwrap().name, "ann");
        std::thread::sleep(Duration::from_millis(60));
        assert!(idle.get(&token).is_none(), "idle session still alive");

        let short = Sessions::new(Duration::from_secs(60), Duration::from_millis(50));
        let (token, _) = short.create("bob", Role::Admin);
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(20));
            let _ = short.get(&token);
        }
        assert!(short.get(&token).is_none(), "session outlived its absolute lifetime");
        assert!(short.get("").is_none());
    }

    #[test]
    fn the_throttle_blocks_after_the_allowed_failures() {
        let throttle = LoginThrottle::default();
        let keys = vec!["ip:192.0.2.1".to_string(), "user:ann".to_string()];
        for _ in 0..LOGIN_FAILURES_ALLOWED {
            assert!(!throttle.blocked(&keys));
            throttle.failed(&keys);
        }
        assert!(throttle.blocked(&keys));
        assert!(throttle.blocked(&["user:ann".to_string()]), "the name is throttled from any address");
        assert!(!throttle.blocked(&["ip:192.0.2.2".to_string(), "user:bob".to_string()]));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert_ne!(random_token(), random_token());
    }
}
