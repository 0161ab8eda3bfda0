//! Console sessions kept in the store, so that a restart or a second console on the same store
//! does not log users out. A row holds the SHA-256 of the cookie (never the cookie), the
//! account, the session's CSRF token and its times; the account's role is read from the
//! accounts table at each restore, so a removed account's sessions end.

use rusqlite::{params, Connection, OptionalExtension};

use crate::console::auth::Role;

/// The SQLite table (PostgreSQL: the same, prefixed `dlpgate_`).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS console_sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_name ON console_sessions (name);
";

/// A stored session, with its account's current role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// Account.
    pub name: String,
    /// The account's role now.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
    /// Login time (ms since the epoch).
    pub created_ms: i64,
    /// Last activity saved.
    pub last_seen_ms: i64,
}

/// Saves a new session, and drops the ones that ended (`lifetime_ms`, `idle_ms`) by now.
pub fn save(
    conn: &Connection,
    hash: &str,
    name: &str,
    csrf: &str,
    now_ms: i64,
    lifetime_ms: i64,
    idle_ms: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM console_sessions WHERE created_ms < ?1 OR last_seen_ms < ?2",
        params![now_ms.saturating_sub(lifetime_ms), now_ms.saturating_sub(idle_ms)],
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO console_sessions (token_hash, name, csrf, created_ms, last_seen_ms) \
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![hash, name, csrf, now_ms],
    )?;
    Ok(())
}

/// The session stored under `hash`, if its account still exists with a known role.
pub fn load(conn: &Connection, hash: &str) -> rusqlite::Result<Option<StoredSession>> {
    let row = conn
        .query_row(
            "SELECT s.name, u.role, s.csrf, s.created_ms, s.last_seen_ms FROM console_sessions s \
             JOIN console_users u ON u.name = s.name WHERE s.token_hash = ?1",
            params![hash],
            |r| Ok((r.get(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    Ok(row.and_then(|(name, role, csrf, created_ms, last_seen_ms)| {
        Role::parse(&role).map(|role| StoredSession { name, role, csrf, created_ms, last_seen_ms })
    }))
}

/// Records activity; false when the store no longer holds the session (it was ended by a
/// logout on another console, or its account removed).
pub fn touch(conn: &Connection, hash: &str, now_ms: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE console_sessions SET last_seen_ms = ?2 WHERE token_hash = ?1",
        params![hash, now_ms],
    )? == 1)
}

/// Ends a session (logout).
pub fn delete(conn: &Connection, hash: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM console_sessions WHERE token_hash = ?1", params![hash])?;
    Ok(())
}
