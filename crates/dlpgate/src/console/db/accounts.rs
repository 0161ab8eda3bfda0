//! Accounts, the audit log and triage: the rows the console itself writes.

use rusqlite::{params, Connection, OptionalExtension};

use super::now_ms;
use crate::console::auth::Role;

/// One account (the hash is argon2id, PHC string form).
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Login name.
    pub name: String,
    /// What the account may do.
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When it was made.
    pub created_ms: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// When.
    pub time_ms: i64,
    /// Who (an account name, or the name tried at a failed login).
    pub actor: String,
    /// What: `login`, `login_failed`, `logout`, `triage`, `user_add`, `export`, ...
    pub action: String,
    /// On what (an incident id, an account).
    pub target: Option<String>,
    /// Details (new status, note, filter).
    pub detail: Option<String>,
}

/// An incident's triage state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TriageStatus {
    /// Not looked at yet (no triage row).
    New,
    /// Someone is on it.
    InProgress,
    /// Dealt with.
    Resolved,
    /// Not a real leak.
    FalsePositive,
}

impl TriageStatus {
    /// Every status, in the order the form lists them.
    pub const ALL: [TriageStatus; 4] = [Self::New, Self::InProgress, Self::Resolved, Self::FalsePositive];

    /// The stored and submitted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::InProgress => "in_progress",
            Self::Resolved => "resolved",
            Self::FalsePositive => "false_positive",
        }
    }

    /// The label shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::InProgress => "in progress",
            Self::Resolved => "resolved",
            Self::FalsePositive => "false positive",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The triage of one incident.
#[derive(Debug, Clone)]
pub struct Triage {
    /// Its status.
    pub status: TriageStatus,
    /// The analyst's note.
    pub note: String,
    /// Who set it.
    pub updated_by: String,
    /// When.
    pub updated_ms: i64,
}

/// Adds an account; false when the name is taken.
pub fn add_user(conn: &Connection, name: &str, role: Role, hash: &str) -> rusqlite::Result<bool> {
    let added = conn.execute(
        "INSERT INTO console_users (name, role, password_hash, created_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO NOTHING",
        params![name, role.as_str(), hash, now_ms()],
    )?;
    Ok(added == 1)
}

/// One account by name.
pub fn user(conn: &Connection, name: &str) -> rusqlite::Result<Option<UserRow>> {
    conn.query_row(
        "SELECT name, role, password_hash, created_ms FROM console_users WHERE name = ?1",
        params![name],
        read_user,
    )
    .optional()
    .map(Option::flatten)
}

/// Every account, by name.
pub fn users(conn: &Connection) -> rusqlite::Result<Vec<UserRow>> {
    let mut stmt =
        conn.prepare("SELECT name, role, password_hash, created_ms FROM console_users ORDER BY name")?;
    let rows = stmt.query_map([], read_user)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.into_iter().flatten().collect())
}

/// Removes an account; false when there was none.
pub fn remove_user(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM console_sessions WHERE name = ?1", params![name])?;
    Ok(conn.execute("DELETE FROM console_users WHERE name = ?1", params![name])? == 1)
}

/// A row whose role this version does not know is skipped (never given a default role).
fn read_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<UserRow>> {
    let role: String = row.get(1)?;
    Ok(Role::parse(&role).map(|role| UserRow {
        name: row.get(0).unwrap_or_default(),
        role,
        password_hash: row.get(2).unwrap_or_default(),
        created_ms: row.get(3).unwrap_or_default(),
    }))
}

/// Appends to the audit log.
pub fn audit(
    conn: &Connection,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO console_audit (time_ms, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now_ms(), actor, action, target, detail],
    )?;
    Ok(())
}

/// The newest `limit` audit entries, optionally about one target only.
pub fn audit_log(conn: &Connection, target: Option<&str>, limit: usize) -> rusqlite::Result<Vec<AuditEntry>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let read = |r: &rusqlite::Row<'_>| {
        Ok(AuditEntry {
            time_ms: r.get(0)?,
            actor: r.get(1)?,
            action: r.get(2)?,
            target: r.get(3)?,
            detail: r.get(4)?,
        })
    };
    let rows = match target {
        Some(target) => conn
            .prepare(
                "SELECT time_ms, actor, action, target, detail FROM console_audit WHERE target = ?1 \
                 ORDER BY seq DESC LIMIT ?2",
            )?
            .query_map(params![target, limit], read)?
            .collect(),
        None => conn
            .prepare(
                "SELECT time_ms, actor, action, target, detail FROM console_audit ORDER BY seq DESC LIMIT ?1",
            )?
            .query_map(params![limit], read)?
            .collect(),
    };
    rows
}

/// The triage of an incident (none: [`TriageStatus::New`]).
pub fn triage(conn: &Connection, incident: &str) -> rusqlite::Result<Option<Triage>> {
    conn.query_row(
        "SELECT status, note, updated_by, updated_ms FROM console_triage WHERE incident_id = ?1",
        params![incident],
        |r| {
            let status: String = r.get(0)?;
            Ok(Triage {
                status: TriageStatus::parse(&status).unwrap_or(TriageStatus::New),
                note: r.get(1)?,
                updated_by: r.get(2)?,
                updated_ms: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Sets an incident's triage and records it in the audit log, in one transaction.
pub fn set_triage(
    conn: &Connection,
    incident: &str,
    status: TriageStatus,
    note: &str,
    by: &str,
) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO console_triage (incident_id, status, note, updated_by, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (incident_id) DO UPDATE SET status = excluded.status, note = excluded.note, \
         updated_by = excluded.updated_by, updated_ms = excluded.updated_ms",
        params![incident, status.as_str(), note, by, now_ms()],
    )?;
    let detail = format!("status={} note={note}", status.as_str());
    audit(&tx, by, "triage", Some(incident), Some(&detail))?;
    tx.commit()
}
