//! The incident list: filters, search and keyset pagination (`time_ms, id` below the last
//! row shown), so that page 1,000 costs what page 1 does; and the dashboard's counts.

use rusqlite::types::Value;
use rusqlite::{params, Connection};

use super::search::{self, Search, INDEX_HITS_LIMIT, WALK_ROWS_PER_PAGE};

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
    /// The search box: see [`Search`].
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
    /// A search for a common text read its budget of rows ([`search::WALK_ROWS_PER_PAGE`])
    /// before the page was full: `next` continues with the older incidents.
    pub partial: bool,
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

/// How a free-text search is answered (ids and hashes always come from their indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextPlan {
    /// From the full-text index: SQLite drives the query from its hits (few of them), and
    /// PostgreSQL tests its trigram-indexed text (its planner picks index or time order).
    FromIndex,
    /// Walk the time order and test each row's text: a common text fills a page quickly.
    WalkTime,
}

/// The statement of a list query, and its arguments. Columns: id, time_ms, service,
/// client_addr, user_name, file_name, url, rules_json, action, status.
pub fn incident_sql(q: &IncidentQuery, dialect: Dialect, plan: TextPlan) -> (String, Vec<Param>) {
    let (incidents, rules_table, triage_table) = match dialect {
        Dialect::Sqlite => ("incidents", "console_incident_rules", "console_triage"),
        Dialect::Postgres => {
            ("dlpgate_incidents", "dlpgate_console_incident_rules", "dlpgate_console_triage")
        }
    };
    let search = q.text.as_deref().map(Search::parse);
    let mut st = Statement { dialect, sql: String::new(), args: Vec::new() };
    // In SQLite, a text with few index hits drives the query: each hit is looked up (CROSS
    // JOIN fixes the order), and the rule, if any, is checked per hit.
    let hits = match (&search, dialect, plan) {
        (Some(Ok(Search::Text(text))), Dialect::Sqlite, TextPlan::FromIndex) => {
            let phrase = st.arg(Param::Text(search::fts5_phrase(text)));
            Some(format!(
                "(SELECT rowid AS rid FROM console_incident_search WHERE console_incident_search MATCH {phrase}) h \
                 CROSS JOIN {incidents} i ON i.rowid = h.rid LEFT JOIN {triage_table} t ON t.incident_id = i.id"
            ))
        }
        _ => None,
    };
    let rule_joined = q.rule.is_some() && hits.is_none();
    // With a rule, the rows come from the rule index in time order; else from the incidents.
    // A triage status other than `new` is rare (people set it): its few rows come first (in
    // SQLite, CROSS JOIN fixes the join order), so that the time order is not walked for them.
    let triaged = q.status.as_deref().is_some_and(|s| s != "new");
    let cross = if dialect == Dialect::Sqlite { "CROSS JOIN" } else { "JOIN" };
    let (time, id) = if rule_joined { ("r.time_ms", "r.incident_id") } else { ("i.time_ms", "i.id") };
    let from = match (hits, triaged, rule_joined) {
        (Some(hits), _, _) => hits,
        (None, false, false) => format!("{incidents} i LEFT JOIN {triage_table} t ON t.incident_id = i.id"),
        (None, false, true) => format!(
            "{rules_table} r JOIN {incidents} i ON i.id = r.incident_id \
             LEFT JOIN {triage_table} t ON t.incident_id = i.id"
        ),
        (None, true, false) => format!("{triage_table} t {cross} {incidents} i ON i.id = t.incident_id"),
        (None, true, true) => format!(
            "{triage_table} t {cross} {incidents} i ON i.id = t.incident_id \
             {cross} {rules_table} r ON r.time_ms = i.time_ms AND r.incident_id = i.id"
        ),
    };
    st.sql = format!(
        "SELECT i.id, i.time_ms, i.service, i.client_addr, i.user_name, i.file_name, i.url, i.rules_json, \
         i.action, COALESCE(t.status, 'new') FROM {from} WHERE 1 = 1"
    );
    let mut conds = Vec::new();
    if let Some(rule) = &q.rule {
        let rule = st.arg(Param::Text(rule.clone()));
        conds.push(if rule_joined {
            format!("r.rule = {rule}")
        } else {
            format!(
                "EXISTS (SELECT 1 FROM {rules_table} r WHERE r.rule = {rule} AND r.time_ms = i.time_ms \
                 AND r.incident_id = i.id)"
            )
        });
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
    match &search {
        None => {}
        // Refused by the page before it gets here; matching nothing is the safe reading.
        Some(Err(_)) => conds.push("1 = 0".to_string()),
        Some(Ok(Search::Id(id))) => conds.push(format!("i.id = {}", st.arg(Param::Text(id.clone())))),
        Some(Ok(Search::Sha256(hash))) => {
            conds.push(format!("i.sha256 = {}", st.arg(Param::Text(hash.clone()))))
        }
        Some(Ok(Search::Text(text))) => match dialect {
            // The same test whether the index's hits drive the query or the time order does,
            // so both plans give the same rows (SQLite's lower() folds ASCII letters).
            Dialect::Sqlite => {
                let text = st.arg(Param::Text(text.clone()));
                conds.push(format!(
                    "(instr(lower(i.file_name), lower({text})) > 0 OR instr(lower(i.url), lower({text})) > 0 \
                     OR instr(lower(i.user_name), lower({text})) > 0)"
                ));
            }
            Dialect::Postgres => {
                let pattern = st.arg(Param::Text(search::like_substring(text)));
                conds.push(format!("{} ILIKE {pattern}", search::PG_SEARCH_TEXT));
            }
        },
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
    Page { rows, next, partial: false }
}

/// Runs the query on SQLite: one page, and whether there is another.
pub fn incidents(conn: &Connection, q: &IncidentQuery) -> rusqlite::Result<Page> {
    incidents_with(conn, q, INDEX_HITS_LIMIT, WALK_ROWS_PER_PAGE)
}

/// [`incidents`] with the search's two limits given (tests use small ones).
fn incidents_with(
    conn: &Connection,
    q: &IncidentQuery,
    hits_limit: usize,
    walk_rows: usize,
) -> rusqlite::Result<Page> {
    if let Some(Ok(Search::Text(text))) = q.text.as_deref().map(Search::parse) {
        // Incidents recorded since the console's last pass are indexed first.
        search::sqlite_catch_up(conn)?;
        let hits: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM console_incident_search \
                 WHERE console_incident_search MATCH ?1 LIMIT ?2)",
            )?
            .query_row(params![search::fts5_phrase(&text), hits_limit as i64], |r| r.get(0))?;
        if hits >= hits_limit as i64 {
            return walk_for_text(conn, q, &text, walk_rows);
        }
    }
    let rows = run_sqlite(conn, q, TextPlan::FromIndex, |_| true, usize::MAX)?;
    Ok(paginate(rows.0, q.limit))
}

/// A common text: the other filters' rows in time order, at most `walk_rows` of them, each
/// tested for the text (ASCII letters folded, as SQLite's `lower()` does in the index's plan),
/// until a page is full. When the budget runs out first, the page says so and its cursor
/// continues below the last row read: every page costs at most `walk_rows` rows, wherever the
/// matches are.
fn walk_for_text(
    conn: &Connection,
    q: &IncidentQuery,
    text: &str,
    walk_rows: usize,
) -> rusqlite::Result<Page> {
    let needle = text.to_ascii_lowercase();
    let holds =
        |field: &Option<String>| field.as_deref().is_some_and(|f| f.to_ascii_lowercase().contains(&needle));
    let plain = IncidentQuery { text: None, limit: walk_rows.saturating_sub(1), ..q.clone() };
    let (rows, read, last) = run_sqlite(
        conn,
        &plain,
        TextPlan::WalkTime,
        |r| holds(&r.file_name) || holds(&r.url) || holds(&r.user),
        q.limit + 1,
    )?;
    if rows.len() > q.limit || read < walk_rows {
        return Ok(paginate(rows, q.limit));
    }
    Ok(Page { rows, next: last, partial: true })
}

/// Runs a list query, keeping the rows `keep` accepts until `wanted` are kept: the rows, how
/// many were read, and the `(time, id)` of the last one read.
#[allow(clippy::type_complexity)]
fn run_sqlite(
    conn: &Connection,
    q: &IncidentQuery,
    plan: TextPlan,
    keep: impl Fn(&IncidentSummary) -> bool,
    wanted: usize,
) -> rusqlite::Result<(Vec<IncidentSummary>, usize, Option<(i64, String)>)> {
    let (sql, args) = incident_sql(q, Dialect::Sqlite, plan);
    let args = args.into_iter().map(|a| match a {
        Param::Int(n) => Value::Integer(n),
        Param::Text(t) => Value::Text(t),
    });
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
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
    })?;
    let (mut kept, mut read, mut last) = (Vec::new(), 0, None);
    for row in rows {
        let row = row?;
        read += 1;
        last = Some((row.time_ms, row.id.clone()));
        if keep(&row) {
            kept.push(row);
            if kept.len() >= wanted {
                break;
            }
        }
    }
    Ok((kept, read, last))
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
    use crate::console::db::{open_sqlite, ConsoleDb, TriageStatus};
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

    #[test]
    fn search_finds_substrings_through_the_index_and_reads_its_syntax_literally() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(crate::store::SQLITE_FILE), true).unwrap();
        let named = |n: i64, name: &str| Incident {
            file_name: Some(name.to_string()),
            ..incident(n, "iban", "bob", "block")
        };
        // Before the console opens (backfilled by the migration) and after (the trigger).
        store.record(&named(1, "Quarterly \"Payroll\" NEAR(final)*.xlsx")).unwrap();
        store.record(&named(2, "minus-sign - report.txt")).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let db = runtime.block_on(ConsoleDb::open(dir.path(), None)).unwrap();
        store.record(&named(3, "Éclair-Ünïcode.PDF")).unwrap();
        // Many rows holding "common" take the other plan (walk the time order).
        let many: Vec<Incident> =
            (10..10 + INDEX_HITS_LIMIT as i64 + 5).map(|n| named(n, &format!("common-{n}.bin"))).collect();
        store.record_many(&many).unwrap();
        let found = |text: &str| {
            let q = IncidentQuery { text: Some(text.into()), limit: 20, ..Default::default() };
            let page = runtime.block_on(db.incidents(q)).unwrap();
            page.rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(found("payroll\""), vec!["inc-0001"], "a quote is a character");
        assert_eq!(found("NEAR(final)*"), vec!["inc-0001"], "NEAR( and * are characters");
        assert_eq!(found("n - r"), vec!["inc-0002"], "- is a character");
        assert!(found("\" OR \"").is_empty(), "no OR across the quotes");
        assert!(found("final* OR minus").is_empty(), "no syntax widens the search");
        assert!(found("no-such-file").is_empty());
        assert!(found("x.test/common").is_empty(), "within one field, not across the URL and the file name");
        assert_eq!(found("CLAIR-"), vec!["inc-0003"], "inserted after the index was built; any case");
        assert_eq!(found("http://x.test/File-2.t"), vec!["inc-0002"], "in the URL");
        let common = found("common-");
        assert_eq!(common.len(), 20, "the walk of the time order fills a page");
        assert_eq!(common[0], format!("inc-{:04}", 10 + INDEX_HITS_LIMIT as i64 + 4));
        // Pages of a search with few hits, in time order, each row once.
        let q = IncidentQuery { text: Some("common-1000".into()), limit: 3, ..Default::default() };
        let mut seen = Vec::new();
        let mut q = q;
        loop {
            let page = runtime.block_on(db.incidents(q.clone())).unwrap();
            seen.extend(page.rows.iter().map(|r| r.id.clone()));
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        let expected: Vec<String> = (10..10 + INDEX_HITS_LIMIT as i64 + 5)
            .rev()
            .filter(|n| format!("common-{n}.bin").contains("common-1000"))
            .map(|n| format!("inc-{n:04}"))
            .collect();
        assert_eq!(seen, expected);
        // A rule filter with an indexed search: checked per hit.
        let q = IncidentQuery {
            text: Some("payroll".into()),
            rule: Some("iban".into()),
            limit: 5,
            ..Default::default()
        };
        assert_eq!(ids(&runtime.block_on(db.incidents(q)).unwrap()), vec!["inc-0001"]);
        let q = IncidentQuery {
            text: Some("payroll".into()),
            rule: Some("us-ssn".into()),
            limit: 5,
            ..Default::default()
        };
        assert!(runtime.block_on(db.incidents(q)).unwrap().rows.is_empty());
    }

    #[test]
    fn a_common_text_reads_a_bounded_number_of_rows_per_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(crate::store::SQLITE_FILE), true).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let db = runtime.block_on(ConsoleDb::open(dir.path(), None)).unwrap();
        for n in 0..30 {
            let name = if n < 5 { format!("Old-{n}.txt") } else { format!("new-{n}.txt") };
            store.record(&Incident { file_name: Some(name), ..incident(n, "iban", "bob", "block") }).unwrap();
        }
        drop(db);
        let conn = open_sqlite(dir.path()).unwrap();
        // Two index hits or more: the walk; ten rows a page at most.
        let mut q = IncidentQuery { text: Some("OLD-".into()), limit: 3, ..Default::default() };
        let (mut seen, mut partial) = (Vec::new(), Vec::new());
        loop {
            let page = incidents_with(&conn, &q, 2, 10).unwrap();
            seen.extend(page.rows.iter().map(|r| r.id.clone()));
            partial.push(page.partial);
            match page.next {
                Some(next) => q.after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["inc-0004", "inc-0003", "inc-0002", "inc-0001", "inc-0000"]);
        assert_eq!(partial, [true, true, false, false], "two pages of ten rows without a match");
        // The same search through the index's hits: one pass, full pages.
        let q = IncidentQuery { text: Some("OLD-".into()), limit: 10, ..Default::default() };
        let page = incidents_with(&conn, &q, 100, 10).unwrap();
        assert_eq!(page.rows.len(), 5);
        assert!(!page.partial && page.next.is_none());
        // An incident the server records later is indexed once, whichever console catches up.
        store
            .record(&Incident {
                file_name: Some("late-arrival.txt".into()),
                ..incident(40, "iban", "bob", "block")
            })
            .unwrap();
        let other = open_sqlite(dir.path()).unwrap();
        search::sqlite_catch_up(&other).unwrap();
        search::sqlite_catch_up(&conn).unwrap();
        let q = IncidentQuery { text: Some("late-arr".into()), limit: 10, ..Default::default() };
        let page = incidents_with(&conn, &q, 100, 10).unwrap();
        assert_eq!(ids(&page), vec!["inc-0040"], "found once");
        let hits: i64 = conn
            .query_row("SELECT count(*) FROM console_incident_search WHERE console_incident_search MATCH '\"late-arr\"'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(hits, 1, "indexed once");
    }
}
