//! The incident list: filters, search and keyset pagination (`time_ms, id` below the last
//! row shown), so that page 1,000 costs what page 1 does; and the dashboard's counts.

use rusqlite::types::Value;
use rusqlite::{params, Connection};

/// Rows per page of the incident list.
pub const PAGE_SIZE: usize = 50;

/// What the incident list shows: every field is optional, all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentQuery {
    /// At or after (ms since the epoch).
    pub from_ms: Option<i64>,
    /// Before (ms since the epoch).
    pub to_ms: Option<i64>,
    /// With this rule among its rules.
    pub rule: Option<String>,
    /// `block` or `monitor`.
    pub action: Option<String>,
    /// From this user.
    pub user: Option<String>,
    /// From this client address.
    pub client: Option<String>,
    /// On this ICAP service.
    pub service: Option<String>,
    /// Triage status name ([`super::TriageStatus::as_str`]).
    pub status: Option<String>,
    /// Case-insensitive text found in the file name, URL or user, or an exact id or SHA-256.
    pub text: Option<String>,
    /// Only rows strictly older than this `(time_ms, id)`: the next page.
    pub after: Option<(i64, String)>,
    /// Rows wanted.
    pub limit: usize,
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentSummary {
    /// Incident id.
    pub id: String,
    /// When (ms since the epoch).
    pub time_ms: i64,
    /// ICAP service.
    pub service: String,
    /// Client address.
    pub client: Option<String>,
    /// User.
    pub user: Option<String>,
    /// File name.
    pub file_name: Option<String>,
    /// URL.
    pub url: Option<String>,
    /// Rules that matched.
    pub rules: Vec<String>,
    /// `block` or `monitor`.
    pub action: String,
    /// Triage status name (`new` when never triaged).
    pub status: String,
}

/// A page of the list and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page {
    /// The rows, newest first.
    pub rows: Vec<IncidentSummary>,
    /// Where the next page starts, when there is one.
    pub next: Option<(i64, String)>,
}

/// Runs the query: one page, and whether there is another.
pub fn incidents(conn: &Connection, q: &IncidentQuery) -> rusqlite::Result<Page> {
    // With a rule, the rows come from the rule index in time order; else from the incidents.
    // A triage status other than `new` is rare (people set it): its few rows come first
    // (CROSS JOIN fixes SQLite's join order), so that the time order is not walked for them.
    let triaged = q.status.as_deref().is_some_and(|s| s != "new");
    let (base, time, id) = match &q.rule {
        Some(_) => (
            "console_incident_rules r JOIN incidents i ON i.id = r.incident_id",
            "r.time_ms",
            "r.incident_id",
        ),
        None => ("incidents i", "i.time_ms", "i.id"),
    };
    let from = match (triaged, q.rule.is_some()) {
        (false, _) => format!("{base} LEFT JOIN console_triage t ON t.incident_id = i.id"),
        (true, false) => "console_triage t CROSS JOIN incidents i ON i.id = t.incident_id".to_string(),
        (true, true) => "console_triage t CROSS JOIN incidents i ON i.id = t.incident_id \
                         CROSS JOIN console_incident_rules r ON r.time_ms = i.time_ms AND r.incident_id = i.id"
            .to_string(),
    };
    let mut sql = format!(
        "SELECT i.id, i.time_ms, i.service, i.client_addr, i.user_name, i.file_name, i.url, i.rules_json, \
         i.action, COALESCE(t.status, 'new') FROM {from} WHERE 1 = 1"
    );
    let mut args: Vec<Value> = Vec::new();
    macro_rules! cond {
        ($part:expr, $value:expr) => {{
            sql.push_str(&$part);
            args.push($value);
        }};
    }
    if let Some(rule) = &q.rule {
        cond!(" AND r.rule = ?", Value::Text(rule.clone()));
    }
    if let Some(ms) = q.from_ms {
        cond!(&format!(" AND {time} >= ?"), Value::Integer(ms));
    }
    if let Some(ms) = q.to_ms {
        cond!(&format!(" AND {time} < ?"), Value::Integer(ms));
    }
    for (column, value) in [
        ("i.action", &q.action),
        ("i.user_name", &q.user),
        ("i.client_addr", &q.client),
        ("i.service", &q.service),
    ] {
        if let Some(value) = value {
            cond!(&format!(" AND {column} = ?"), Value::Text(value.clone()));
        }
    }
    match q.status.as_deref() {
        None => {}
        Some("new") => sql.push_str(" AND t.status IS NULL"),
        Some(status) => cond!(" AND t.status = ?", Value::Text(status.to_string())),
    }
    if let Some(text) = &q.text {
        let lower = text.to_lowercase();
        sql.push_str(
            " AND (instr(lower(i.file_name), ?1x) > 0 OR instr(lower(i.url), ?1x) > 0 \
             OR instr(lower(i.user_name), ?1x) > 0 OR i.id = ?2x OR i.sha256 = ?1x)",
        );
        // Numbered placeholders cannot mix with '?': spell each one out.
        let n = args.len();
        sql = sql.replace("?1x", &format!("?{}", n + 1)).replace("?2x", &format!("?{}", n + 2));
        args.push(Value::Text(lower));
        args.push(Value::Text(text.clone()));
    }
    if let Some((ms, last)) = &q.after {
        let n = args.len();
        sql.push_str(&format!(" AND ({time}, {id}) < (?{}, ?{})", n + 1, n + 2));
        args.push(Value::Integer(*ms));
        args.push(Value::Text(last.clone()));
    }
    let n = args.len();
    sql.push_str(&format!(" ORDER BY {time} DESC, {id} DESC LIMIT ?{}", n + 1));
    args.push(Value::Integer(i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX)));
    let sql = number_placeholders(&sql);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            let rules: String = r.get(7)?;
            Ok(IncidentSummary {
                id: r.get(0)?,
                time_ms: r.get(1)?,
                service: r.get(2)?,
                client: r.get(3)?,
                user: r.get(4)?,
                file_name: r.get(5)?,
                url: r.get(6)?,
                rules: serde_json::from_str(&rules).unwrap_or_default(),
                action: r.get(8)?,
                status: r.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = if rows.len() > q.limit {
        rows.truncate(q.limit);
        rows.last().map(|r| (r.time_ms, r.id.clone()))
    } else {
        None
    };
    Ok(Page { rows, next })
}

/// Gives every bare `?` its number, so that bare and numbered placeholders can share a
/// statement (SQLite numbers a bare `?` after the largest number seen so far, which is not
/// what the argument list holds).
fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        if chars.peek().is_some_and(char::is_ascii_digit) {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            n = n.max(digits.parse().unwrap_or(0));
            out.push('?');
            out.push_str(&digits);
        } else {
            n += 1;
            out.push_str(&format!("?{n}"));
        }
    }
    out
}

/// What the dashboard draws.
#[derive(Debug, Clone, Default)]
pub struct DashboardCounts {
    /// Per hour (hours since the epoch): (block, monitor).
    pub per_hour: Vec<(i64, u64, u64)>,
    /// Rules with the most incidents.
    pub top_rules: Vec<(String, u64)>,
    /// Users with the most incidents.
    pub top_users: Vec<(String, u64)>,
}

/// Counts since `since_ms`, at most `top` names per list.
pub fn dashboard(conn: &Connection, since_ms: i64, top: usize) -> rusqlite::Result<DashboardCounts> {
    let top = i64::try_from(top).unwrap_or(10);
    let per_hour = conn
        .prepare_cached(
            "SELECT time_ms / 3600000 AS h, SUM(action = 'block'), SUM(action <> 'block') FROM incidents \
             WHERE time_ms >= ?1 GROUP BY h ORDER BY h",
        )?
        .query_map(params![since_ms], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let top_rules = conn
        .prepare_cached(
            "SELECT rule, count(*) AS n FROM console_incident_rules WHERE time_ms >= ?1 \
             GROUP BY rule ORDER BY n DESC, rule LIMIT ?2",
        )?
        .query_map(params![since_ms, top], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let top_users = conn
        .prepare_cached(
            "SELECT user_name, count(*) AS n FROM incidents WHERE time_ms >= ?1 AND user_name IS NOT NULL \
             GROUP BY user_name ORDER BY n DESC, user_name LIMIT ?2",
        )?
        .query_map(params![since_ms, top], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(DashboardCounts { per_hour, top_rules, top_users })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::db::{accounts, ConsoleDb, TriageStatus};
    use crate::store::{from_millis, Incident, IncidentStore, SqliteStore};

    fn incident(n: i64, rule: &str, user: &str, action: &str) -> Incident {
        Incident {
            id: format!("inc-{n:04}"),
            time: from_millis(1_000_000 + n * 1000),
            service: if n % 2 == 0 { "reqmod" } else { "respmod" }.to_string(),
            method: "REQMOD".to_string(),
            client_addr: Some(format!("10.0.0.{}", n % 3)),
            tls_subject: None,
            user: Some(user.to_string()),
            groups: Vec::new(),
            claimed: None,
            url: Some(format!("http://x.test/File-{n}.txt")),
            file_name: Some(format!("File-{n}.txt")),
            content_type: None,
            size: 1,
            sha256: format!("{n:064x}"),
            rules: vec![rule.to_string()],
            counts: Default::default(),
            evidence: Vec::new(),
            action: action.to_string(),
            reason: None,
            severity: None,
            policy_version: "v".to_string(),
        }
    }

    fn ids(page: &Page) -> Vec<&str> {
        page.rows.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn filters_and_keyset_pages_find_every_row_once() {
        let dir = tempfile::tempdir().unwrap();
        // Half the incidents before the console's tables exist (backfilled), half after (trigger).
        let store = SqliteStore::open(&dir.path().join(crate::store::SQLITE_FILE), true).unwrap();
        let rule = |n: i64| if n % 4 == 0 { "iban" } else { "credit-card" };
        for n in 0..50 {
            store.record(&incident(n, rule(n), if n % 5 == 0 { "ann" } else { "bob" }, "block")).unwrap();
        }
        let db = ConsoleDb::open(dir.path(), None).unwrap();
        for n in 50..100 {
            let action = if n % 10 == 0 { "monitor" } else { "block" };
            store.record(&incident(n, rule(n), if n % 5 == 0 { "ann" } else { "bob" }, action)).unwrap();
        }
        let run = |q: IncidentQuery| db.call_blocking(|c| incidents(c, &q)).unwrap();
        let all_pages = |q: IncidentQuery| {
            let mut seen = Vec::new();
            let mut q = IncidentQuery { limit: 7, ..q };
            loop {
                let page = run(q.clone());
                seen.extend(page.rows.iter().map(|r| r.id.clone()));
                match page.next {
                    Some(next) => q.after = Some(next),
                    None => return seen,
                }
            }
        };
        let every = all_pages(IncidentQuery::default());
        let expected: Vec<String> = (0..100).rev().map(|n| format!("inc-{n:04}")).collect();
        assert_eq!(every, expected, "newest first, each once");
        let iban = all_pages(IncidentQuery { rule: Some("iban".into()), ..Default::default() });
        let expected: Vec<String> =
            (0..100).rev().filter(|n| n % 4 == 0).map(|n| format!("inc-{n:04}")).collect();
        assert_eq!(iban, expected, "the rule index holds backfilled and new incidents");
        let q = IncidentQuery {
            user: Some("ann".into()),
            action: Some("monitor".into()),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(ids(&run(q)), vec!["inc-0090", "inc-0080", "inc-0070", "inc-0060", "inc-0050"]);
        let q = IncidentQuery {
            from_ms: Some(1_000_000 + 10_000),
            to_ms: Some(1_000_000 + 13_000),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(ids(&run(q)), vec!["inc-0012", "inc-0011", "inc-0010"]);
        let q = IncidentQuery { text: Some("file-42.TXT".into()), limit: 50, ..Default::default() };
        assert_eq!(ids(&run(q)), vec!["inc-0042"], "search ignores case");
        let q = IncidentQuery { text: Some("%".into()), limit: 50, ..Default::default() };
        assert!(run(q).rows.is_empty(), "no LIKE wildcards");

        db.call_blocking(|c| accounts::set_triage(c, "inc-0040", TriageStatus::Resolved, "", "ann")).unwrap();
        db.call_blocking(|c| accounts::set_triage(c, "inc-0041", TriageStatus::Resolved, "", "ann")).unwrap();
        let q = IncidentQuery { status: Some("resolved".into()), limit: 50, ..Default::default() };
        assert_eq!(ids(&run(q)), vec!["inc-0041", "inc-0040"]);
        let q = IncidentQuery {
            status: Some("resolved".into()),
            rule: Some("iban".into()),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(ids(&run(q)), vec!["inc-0040"]);
        let q = IncidentQuery { status: Some("new".into()), limit: 200, ..Default::default() };
        assert_eq!(run(q).rows.len(), 98);
    }
}
