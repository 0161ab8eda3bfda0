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

/// The SQL dialects the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `?1` placeholders, `instr`, tables without a prefix.
    Sqlite,
    /// PostgreSQL: `$1` placeholders, `strpos`, tables prefixed `dlpgate_`.
    Postgres,
}

/// A query argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A 64-bit integer.
    Int(i64),
    /// Text.
    Text(String),
}

/// Statement text and its arguments, numbered as they are pushed.
struct Statement {
    dialect: Dialect,
    sql: String,
    args: Vec<Param>,
}

impl Statement {
    /// The placeholder of a new argument.
    fn arg(&mut self, value: Param) -> String {
        self.args.push(value);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.args.len()),
            Dialect::Postgres => format!("${}", self.args.len()),
        }
    }
}

/// The statement of a list query, and its arguments. Columns: id, time_ms, service,
/// client_addr, user_name, file_name, url, rules_json, action, status.
pub fn incident_sql(q: &IncidentQuery, dialect: Dialect) -> (String, Vec<Param>) {
    let (incidents, rules_table, triage_table) = match dialect {
        Dialect::Sqlite => ("incidents", "console_incident_rules", "console_triage"),
        Dialect::Postgres => {
            ("dlpgate_incidents", "dlpgate_console_incident_rules", "dlpgate_console_triage")
        }
    };
    // With a rule, the rows come from the rule index in time order; else from the incidents.
    // A triage status other than `new` is rare (people set it): its few rows come first (in
    // SQLite, CROSS JOIN fixes the join order), so that the time order is not walked for them.
    let triaged = q.status.as_deref().is_some_and(|s| s != "new");
    let cross = if dialect == Dialect::Sqlite { "CROSS JOIN" } else { "JOIN" };
    let (time, id) = if q.rule.is_some() { ("r.time_ms", "r.incident_id") } else { ("i.time_ms", "i.id") };
    let from = match (triaged, q.rule.is_some()) {
        (false, false) => format!("{incidents} i LEFT JOIN {triage_table} t ON t.incident_id = i.id"),
        (false, true) => format!(
            "{rules_table} r JOIN {incidents} i ON i.id = r.incident_id \
             LEFT JOIN {triage_table} t ON t.incident_id = i.id"
        ),
        (true, false) => format!("{triage_table} t {cross} {incidents} i ON i.id = t.incident_id"),
        (true, true) => format!(
            "{triage_table} t {cross} {incidents} i ON i.id = t.incident_id \
             {cross} {rules_table} r ON r.time_ms = i.time_ms AND r.incident_id = i.id"
        ),
    };
    let mut st = Statement {
        dialect,
        sql: format!(
            "SELECT i.id, i.time_ms, i.service, i.client_addr, i.user_name, i.file_name, i.url, i.rules_json, \
             i.action, COALESCE(t.status, 'new') FROM {from} WHERE 1 = 1"
        ),
        args: Vec::new(),
    };
    let mut conds = Vec::new();
    if let Some(rule) = &q.rule {
        conds.push(format!("r.rule = {}", st.arg(Param::Text(rule.clone()))));
    }
    if let Some(ms) = q.from_ms {
        conds.push(format!("{time} >= {}", st.arg(Param::Int(ms))));
    }
    if let Some(ms) = q.to_ms {
        conds.push(format!("{time} < {}", st.arg(Param::Int(ms))));
    }
    for (column, value) in [
        ("i.action", &q.action),
        ("i.user_name", &q.user),
        ("i.client_addr", &q.client),
        ("i.service", &q.service),
    ] {
        if let Some(value) = value {
            conds.push(format!("{column} = {}", st.arg(Param::Text(value.clone()))));
        }
    }
    match q.status.as_deref() {
        None => {}
        Some("new") => conds.push("t.status IS NULL".to_string()),
        Some(status) => conds.push(format!("t.status = {}", st.arg(Param::Text(status.to_string())))),
    }
    if let Some(text) = &q.text {
        // An incident id or a SHA-256 is looked up by its index; other text is searched for
        // in the file name, URL and user of each row (a scan, newest first, until a page is
        // full: narrow it with a time range when the text is rare).
        if text.starts_with("inc-") && text.len() <= 64 {
            conds.push(format!("i.id = {}", st.arg(Param::Text(text.clone()))));
        } else if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            conds.push(format!("i.sha256 = {}", st.arg(Param::Text(text.to_ascii_lowercase()))));
        } else {
            let find = if dialect == Dialect::Sqlite { "instr" } else { "strpos" };
            let lower = st.arg(Param::Text(text.to_lowercase()));
            conds.push(format!(
                "({find}(lower(i.file_name), {lower}) > 0 OR {find}(lower(i.url), {lower}) > 0 \
                 OR {find}(lower(i.user_name), {lower}) > 0)"
            ));
        }
    }
    if let Some((ms, last)) = &q.after {
        let (ms, last) = (st.arg(Param::Int(*ms)), st.arg(Param::Text(last.clone())));
        conds.push(format!("({time}, {id}) < ({ms}, {last})"));
    }
    for cond in conds {
        st.sql.push_str(" AND ");
        st.sql.push_str(&cond);
    }
    let limit = st.arg(Param::Int(i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX)));
    st.sql.push_str(&format!(" ORDER BY {time} DESC, {id} DESC LIMIT {limit}"));
    (st.sql, st.args)
}

/// Cuts the extra row a query asks for into the next page's cursor.
pub fn paginate(mut rows: Vec<IncidentSummary>, limit: usize) -> Page {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| (r.time_ms, r.id.clone()))
    } else {
        None
    };
    Page { rows, next }
}

/// Runs the query on SQLite: one page, and whether there is another.
pub fn incidents(conn: &Connection, q: &IncidentQuery) -> rusqlite::Result<Page> {
    let (sql, args) = incident_sql(q, Dialect::Sqlite);
    let args = args.into_iter().map(|a| match a {
        Param::Int(n) => Value::Integer(n),
        Param::Text(t) => Value::Text(t),
    });
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
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
    Ok(paginate(rows, q.limit))
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

/// Counts since `since_ms`, at most `top` names per list. Each count reads the time index
/// (INDEXED BY): without table statistics SQLite preferred walking the whole rule or user
/// index for the GROUP BY, 107 ms at 1,000,000 incidents for an empty day.
pub fn dashboard(conn: &Connection, since_ms: i64, top: usize) -> rusqlite::Result<DashboardCounts> {
    let top = i64::try_from(top).unwrap_or(10);
    let per_hour = conn
        .prepare_cached(
            "SELECT time_ms / 3600000 AS h, SUM(action = 'block'), SUM(action <> 'block') \
             FROM incidents INDEXED BY incidents_time_id WHERE time_ms >= ?1 GROUP BY h ORDER BY h",
        )?
        .query_map(params![since_ms], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let top_rules = conn
        .prepare_cached(
            "SELECT rule, count(*) AS n FROM console_incident_rules INDEXED BY console_incident_rules_time \
             WHERE time_ms >= ?1 \
             GROUP BY rule ORDER BY n DESC, rule LIMIT ?2",
        )?
        .query_map(params![since_ms, top], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let top_users = conn
        .prepare_cached(
            "SELECT user_name, count(*) AS n FROM incidents INDEXED BY incidents_time_id \
             WHERE time_ms >= ?1 AND user_name IS NOT NULL \
             GROUP BY user_name ORDER BY n DESC, user_name LIMIT ?2",
        )?
        .query_map(params![since_ms, top], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(DashboardCounts { per_hour, top_rules, top_users })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::db::{ConsoleDb, TriageStatus};
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
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let db = runtime.block_on(ConsoleDb::open(dir.path(), None)).unwrap();
        for n in 50..100 {
            let action = if n % 10 == 0 { "monitor" } else { "block" };
            store.record(&incident(n, rule(n), if n % 5 == 0 { "ann" } else { "bob" }, action)).unwrap();
        }
        let run = |q: IncidentQuery| runtime.block_on(db.incidents(q)).unwrap();
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
        let q = IncidentQuery { text: Some("inc-0042".into()), limit: 50, ..Default::default() };
        assert_eq!(ids(&run(q)), vec!["inc-0042"], "by id");
        let q = IncidentQuery { text: Some(format!("{:064X}", 42)), limit: 50, ..Default::default() };
        assert_eq!(ids(&run(q)), vec!["inc-0042"], "by SHA-256, any case");
        let q = IncidentQuery { text: Some("%".into()), limit: 50, ..Default::default() };
        assert!(run(q).rows.is_empty(), "no LIKE wildcards");

        runtime.block_on(db.set_triage("inc-0040", TriageStatus::Resolved, "", "ann")).unwrap();
        runtime.block_on(db.set_triage("inc-0041", TriageStatus::Resolved, "", "ann")).unwrap();
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
