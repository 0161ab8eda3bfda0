//! The console's tables in a shared PostgreSQL store (`--store postgres://…`), next to
//! `dlpgate_incidents`: the same tables as in SQLite, prefixed `dlpgate_console_`, and the
//! per-rule index filled by a PL/pgSQL trigger.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;

use super::accounts::{AuditEntry, Triage, TriageStatus, UserRow};
use super::now_ms;
use super::query::{
    incident_sql, paginate, DashboardCounts, Dialect, IncidentQuery, IncidentSummary, Page, Param, TextPlan,
};
use super::search::{Search, WALK_ROWS_PER_PAGE};
use crate::console::auth::Role;
use crate::store::PostgresSettings;

/// `ddl` as one implicit transaction holding the store's schema lock, so consoles (and
/// servers) started together on an empty database take turns: `IF NOT EXISTS` alone fails
/// for the loser of a race on the catalog.
fn under_schema_lock(ddl: &str) -> String {
    format!(
        "SET LOCAL client_min_messages = warning;\nSELECT pg_advisory_xact_lock({});\n{ddl}",
        crate::store::SCHEMA_LOCK
    )
}

/// Statements may run this long (a list page at a million rows takes milliseconds; building
/// the rule index of a large existing store, once, takes longer).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dlpgate_console_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS dlpgate_console_audit (
    seq BIGSERIAL PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS dlpgate_console_audit_target ON dlpgate_console_audit (target, seq);
CREATE TABLE IF NOT EXISTS dlpgate_console_triage (
    incident_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS dlpgate_console_sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS dlpgate_console_sessions_name ON dlpgate_console_sessions (name);
CREATE INDEX IF NOT EXISTS dlpgate_incidents_time_id ON dlpgate_incidents (time_ms, id);
CREATE INDEX IF NOT EXISTS dlpgate_incidents_action_time ON dlpgate_incidents (action, time_ms, id);
CREATE INDEX IF NOT EXISTS dlpgate_incidents_user_time ON dlpgate_incidents (user_name, time_ms, id);
CREATE INDEX IF NOT EXISTS dlpgate_incidents_client_time ON dlpgate_incidents (client_addr, time_ms, id);
CREATE INDEX IF NOT EXISTS dlpgate_incidents_service_time ON dlpgate_incidents (service, time_ms, id);
CREATE INDEX IF NOT EXISTS dlpgate_incidents_sha256 ON dlpgate_incidents (sha256);
";

/// The per-rule index, its backfill and its trigger, made once under a lock on the incidents
/// (no insert falls between the backfill and the trigger). Rules that do not parse add nothing
/// rather than failing the insert.
const RULE_INDEX: &str = "
CREATE TABLE IF NOT EXISTS dlpgate_console_incident_rules (
    rule TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (rule, time_ms, incident_id)
);
CREATE INDEX IF NOT EXISTS dlpgate_console_incident_rules_time ON dlpgate_console_incident_rules (time_ms);
CREATE OR REPLACE FUNCTION dlpgate_console_rules(rules TEXT) RETURNS SETOF TEXT AS $$
BEGIN
    RETURN QUERY SELECT jsonb_array_elements_text(rules::jsonb);
EXCEPTION WHEN others THEN
    RETURN;
END $$ LANGUAGE plpgsql IMMUTABLE;
CREATE OR REPLACE FUNCTION dlpgate_console_rules_fill() RETURNS trigger AS $$
BEGIN
    INSERT INTO dlpgate_console_incident_rules (rule, time_ms, incident_id)
        SELECT r, NEW.time_ms, NEW.id FROM dlpgate_console_rules(NEW.rules_json) r
        ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
INSERT INTO dlpgate_console_incident_rules (rule, time_ms, incident_id)
    SELECT r, i.time_ms, i.id FROM dlpgate_incidents i, dlpgate_console_rules(i.rules_json) r
    ON CONFLICT DO NOTHING;
CREATE TRIGGER dlpgate_console_rules_fill AFTER INSERT ON dlpgate_incidents
    FOR EACH ROW EXECUTE FUNCTION dlpgate_console_rules_fill();
";

/// A pool of connections to the store.
pub struct PgConsole {
    pool: Pool,
}

impl std::fmt::Debug for PgConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConsole").finish_non_exhaustive()
    }
}

impl PgConsole {
    /// Connects (TLS as the URL asks, as the incident store does) and adds the console's
    /// tables, indexes and trigger when missing. Call inside a tokio runtime.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let settings =
            PostgresSettings { statement_timeout: STATEMENT_TIMEOUT, ..PostgresSettings::default() };
        let (config, tls) = crate::store::pg_url::parse(url, &settings).map_err(anyhow::Error::msg)?;
        let manager = Manager::from_config(
            config,
            crate::store::pg_tls::MakeRustls::new(tls),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.connect_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .build()
            .context("PostgreSQL pool")?;
        let console = Self { pool };
        // The incident table exists: the caller opened the incident store first.
        let mut client = console.client().await?;
        client.batch_execute(&under_schema_lock(SCHEMA)).await.context("creating the console tables")?;
        let tx = client.transaction().await?;
        tx.batch_execute("LOCK TABLE dlpgate_incidents IN SHARE ROW EXCLUSIVE MODE").await?;
        let built: i64 = tx
            .query_one("SELECT count(*) FROM pg_trigger WHERE tgname = 'dlpgate_console_rules_fill'", &[])
            .await?
            .get(0);
        if built == 0 {
            tx.batch_execute(RULE_INDEX).await.context("building the per-rule incident index")?;
        }
        tx.commit().await.context("building the per-rule incident index")?;
        // The search index: without pg_trgm (not installed, or not allowed to this role) the
        // search still answers, by reading the rows; the log says so.
        if let Err(e) = client.batch_execute(&under_schema_lock(&super::search::pg_schema())).await {
            tracing::warn!(
                "no trigram index for the incident search (it will read every row): {e}; \
                 install PostgreSQL's pg_trgm extension"
            );
        }
        Ok(console)
    }

    async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| anyhow::anyhow!("PostgreSQL: {e}"))
    }

    /// Adds an account and audits it; false when the name is taken.
    pub async fn add_user(&self, name: &str, role: Role, hash: &str, actor: &str) -> anyhow::Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let added = tx
            .execute(
                "INSERT INTO dlpgate_console_users (name, role, password_hash, created_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &role.as_str(), &hash, &now_ms()],
            )
            .await?;
        if added == 1 {
            audit_in(&tx, actor, "user_add", Some(name), Some(role.as_str())).await?;
        }
        tx.commit().await?;
        Ok(added == 1)
    }

    /// Removes an account and audits it; false when there was none.
    pub async fn remove_user(&self, name: &str, actor: &str) -> anyhow::Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("DELETE FROM dlpgate_console_sessions WHERE name = $1", &[&name]).await?;
        let removed = tx.execute("DELETE FROM dlpgate_console_users WHERE name = $1", &[&name]).await?;
        if removed == 1 {
            audit_in(&tx, actor, "user_remove", Some(name), None).await?;
        }
        tx.commit().await?;
        Ok(removed == 1)
    }

    /// Accounts (all, or one by name); unknown roles are skipped.
    pub async fn users(&self, name: Option<&str>) -> anyhow::Result<Vec<UserRow>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, role, password_hash, created_ms FROM dlpgate_console_users \
                 WHERE $1::TEXT IS NULL OR name = $1 ORDER BY name",
                &[&name],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Role::parse(r.get::<_, &str>(1)).map(|role| UserRow {
                    name: r.get(0),
                    role,
                    password_hash: r.get(2),
                    created_ms: r.get(3),
                })
            })
            .collect())
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> anyhow::Result<()> {
        let client = self.client().await?;
        audit_in(&client, actor, action, target, detail).await
    }

    /// The newest `limit` audit entries, optionally about one target.
    pub async fn audit_log(&self, target: Option<&str>, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "SELECT time_ms, actor, action, target, detail FROM dlpgate_console_audit \
                 WHERE $1::TEXT IS NULL OR target = $1 ORDER BY seq DESC LIMIT $2",
                &[&target, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                time_ms: r.get(0),
                actor: r.get(1),
                action: r.get(2),
                target: r.get(3),
                detail: r.get(4),
            })
            .collect())
    }

    /// An incident's triage.
    pub async fn triage(&self, incident: &str) -> anyhow::Result<Option<Triage>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT status, note, updated_by, updated_ms FROM dlpgate_console_triage WHERE incident_id = $1",
                &[&incident],
            )
            .await?;
        Ok(row.map(|r| Triage {
            status: TriageStatus::parse(r.get(0)).unwrap_or(TriageStatus::New),
            note: r.get(1),
            updated_by: r.get(2),
            updated_ms: r.get(3),
        }))
    }

    /// Sets an incident's triage and audits it, in one transaction.
    pub async fn set_triage(
        &self,
        incident: &str,
        status: TriageStatus,
        note: &str,
        by: &str,
    ) -> anyhow::Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO dlpgate_console_triage (incident_id, status, note, updated_by, updated_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident_id) DO UPDATE SET status = excluded.status, \
             note = excluded.note, updated_by = excluded.updated_by, updated_ms = excluded.updated_ms",
            &[&incident, &status.as_str(), &note, &by, &now_ms()],
        )
        .await?;
        let detail = format!("status={} note={note}", status.as_str());
        audit_in(&tx, by, "triage", Some(incident), Some(&detail)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One page of the incident list.
    pub async fn incidents(&self, q: &IncidentQuery) -> anyhow::Result<Page> {
        let (sql, args) = incident_sql(q, Dialect::Postgres, TextPlan::FromIndex);
        let params = boxed(args);
        let refs = as_refs(&params);
        let mut client = self.client().await?;
        // A text the planner finds common is read in time order, row by row: bounded as in
        // SQLite (at most WALK_ROWS_PER_PAGE rows a page), whatever the matches' age. A text it
        // finds rare goes through the trigram index.
        if let Some(Ok(Search::Text(text))) = q.text.as_deref().map(Search::parse) {
            let plan: Vec<String> = client
                .query(&format!("EXPLAIN {sql}"), &refs)
                .await?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect();
            if !plan.iter().any(|line| line.contains("dlpgate_incidents_search")) {
                return self.walk_for_text(&mut client, q, &text).await;
            }
        }
        let rows = client.query(&sql, &refs).await?;
        Ok(paginate(rows.iter().map(summary).collect(), q.limit))
    }

    /// See [`super::query`]'s `walk_for_text`: the other filters' rows in time order, fetched
    /// in batches through a portal, until a page is full or the budget is read.
    async fn walk_for_text(
        &self,
        client: &mut deadpool_postgres::Object,
        q: &IncidentQuery,
        text: &str,
    ) -> anyhow::Result<Page> {
        const BATCH: i32 = 2_000;
        let plain = IncidentQuery { text: None, limit: WALK_ROWS_PER_PAGE.saturating_sub(1), ..q.clone() };
        let (sql, args) = incident_sql(&plain, Dialect::Postgres, TextPlan::WalkTime);
        let params = boxed(args);
        let refs = as_refs(&params);
        let needle = text.to_lowercase();
        let holds = |f: &Option<String>| f.as_deref().is_some_and(|f| f.to_lowercase().contains(&needle));
        let tx = client.transaction().await?;
        let portal = tx.bind(sql.as_str(), &refs).await?;
        let (mut kept, mut read, mut last) = (Vec::new(), 0usize, None);
        'walk: loop {
            let rows = tx.query_portal(&portal, BATCH).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let row = summary(row);
                read += 1;
                last = Some((row.time_ms, row.id.clone()));
                if holds(&row.file_name) || holds(&row.url) || holds(&row.user) {
                    kept.push(row);
                    if kept.len() > q.limit {
                        break 'walk;
                    }
                }
            }
        }
        drop(portal);
        tx.commit().await?;
        if kept.len() > q.limit || read < WALK_ROWS_PER_PAGE {
            return Ok(paginate(kept, q.limit));
        }
        Ok(Page { rows: kept, next: last, partial: true })
    }

    /// The dashboard's counts since `since_ms`.
    pub async fn dashboard(&self, since_ms: i64, top: usize) -> anyhow::Result<DashboardCounts> {
        let client = self.client().await?;
        let top = i64::try_from(top).unwrap_or(10);
        let per_hour = client
            .query(
                "SELECT time_ms / 3600000 AS h, count(*) FILTER (WHERE action = 'block'), \
                 count(*) FILTER (WHERE action <> 'block') FROM dlpgate_incidents WHERE time_ms >= $1 \
                 GROUP BY h ORDER BY h",
                &[&since_ms],
            )
            .await?
            .iter()
            .map(|r| {
                (r.get::<_, i64>(0), r.get::<_, i64>(1).unsigned_abs(), r.get::<_, i64>(2).unsigned_abs())
            })
            .collect();
        let named = |rows: Vec<tokio_postgres::Row>| -> Vec<(String, u64)> {
            rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).unsigned_abs())).collect()
        };
        let top_rules = named(
            client
                .query(
                    "SELECT rule, count(*) AS n FROM dlpgate_console_incident_rules WHERE time_ms >= $1 \
                     GROUP BY rule ORDER BY n DESC, rule LIMIT $2",
                    &[&since_ms, &top],
                )
                .await?,
        );
        let top_users = named(
            client
                .query(
                    "SELECT user_name, count(*) AS n FROM dlpgate_incidents WHERE time_ms >= $1 \
                     AND user_name IS NOT NULL GROUP BY user_name ORDER BY n DESC, user_name LIMIT $2",
                    &[&since_ms, &top],
                )
                .await?,
        );
        Ok(DashboardCounts { per_hour, top_rules, top_users })
    }
}

impl PgConsole {
    /// See [`super::sessions::save`].
    pub async fn save_session(
        &self,
        hash: &str,
        name: &str,
        csrf: &str,
        now: i64,
        lifetime: i64,
        idle: i64,
    ) -> anyhow::Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM dlpgate_console_sessions WHERE created_ms < $1 OR last_seen_ms < $2",
                &[&now.saturating_sub(lifetime), &now.saturating_sub(idle)],
            )
            .await?;
        client
            .execute(
                "INSERT INTO dlpgate_console_sessions (token_hash, name, csrf, created_ms, last_seen_ms) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (token_hash) DO UPDATE SET name = excluded.name, \
                 csrf = excluded.csrf, created_ms = excluded.created_ms, last_seen_ms = excluded.last_seen_ms",
                &[&hash, &name, &csrf, &now],
            )
            .await?;
        Ok(())
    }

    /// See [`super::sessions::load`].
    pub async fn load_session(&self, hash: &str) -> anyhow::Result<Option<super::sessions::StoredSession>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT s.name, u.role, s.csrf, s.created_ms, s.last_seen_ms FROM dlpgate_console_sessions s \
                 JOIN dlpgate_console_users u ON u.name = s.name WHERE s.token_hash = $1",
                &[&hash],
            )
            .await?;
        Ok(row.and_then(|r| {
            Role::parse(r.get::<_, &str>(1)).map(|role| super::sessions::StoredSession {
                name: r.get(0),
                role,
                csrf: r.get(2),
                created_ms: r.get(3),
                last_seen_ms: r.get(4),
            })
        }))
    }

    /// See [`super::sessions::touch`].
    pub async fn touch_session(&self, hash: &str, now: i64) -> anyhow::Result<bool> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE dlpgate_console_sessions SET last_seen_ms = $2 WHERE token_hash = $1",
                &[&hash, &now],
            )
            .await?;
        Ok(changed == 1)
    }

    /// See [`super::sessions::delete`].
    pub async fn delete_session(&self, hash: &str) -> anyhow::Result<()> {
        let client = self.client().await?;
        client.execute("DELETE FROM dlpgate_console_sessions WHERE token_hash = $1", &[&hash]).await?;
        Ok(())
    }

    /// The store's estimated size (the statistics' row count: an exact count reads the table)
    /// and the SIEM sinks' cursors with their lag.
    pub async fn store_state(&self) -> anyhow::Result<super::status::StoreState> {
        use super::status::{SinkCursor, StoreState, LAG_COUNT_LIMIT};
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT greatest(reltuples, 0)::BIGINT, pg_total_relation_size(oid) FROM pg_class \
                 WHERE oid = 'dlpgate_incidents'::regclass",
                &[],
            )
            .await?;
        let (incidents, size): (i64, i64) = (row.get(0), row.get(1));
        let mut sinks = Vec::new();
        let has_cursors: bool =
            client.query_one("SELECT to_regclass('siem_cursor') IS NOT NULL", &[]).await?.get(0);
        if has_cursors {
            for r in client
                .query(
                    "SELECT sink_name, tx, seq, updated_ms, owner FROM siem_cursor ORDER BY sink_name",
                    &[],
                )
                .await?
            {
                let (tx, seq): (i64, i64) = (r.get(1), r.get(2));
                let lag: i64 = client
                    .query_one(
                        "SELECT count(*) FROM (SELECT 1 FROM dlpgate_incidents WHERE (siem_tx, siem_seq) > ($1, $2) \
                         LIMIT $3) s",
                        &[&tx, &seq, &(LAG_COUNT_LIMIT + 1)],
                    )
                    .await?
                    .get(0);
                sinks.push(SinkCursor { name: r.get(0), updated_ms: r.get(3), lag, owner: r.get(4) });
            }
        }
        Ok(StoreState {
            incidents: incidents.unsigned_abs(),
            approximate: true,
            size_bytes: size.unsigned_abs(),
            sinks,
        })
    }
}

/// Query arguments as tokio-postgres takes them.
fn boxed(args: Vec<Param>) -> Vec<Box<dyn ToSql + Sync + Send>> {
    args.into_iter()
        .map(|a| -> Box<dyn ToSql + Sync + Send> {
            match a {
                Param::Int(n) => Box::new(n),
                Param::Text(t) => Box::new(t),
            }
        })
        .collect()
}

fn as_refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// A list row (columns of [`incident_sql`]).
fn summary(r: &tokio_postgres::Row) -> IncidentSummary {
    IncidentSummary {
        id: r.get(0),
        time_ms: r.get(1),
        service: r.get(2),
        client: r.get(3),
        user: r.get(4),
        file_name: r.get(5),
        url: r.get(6),
        rules: serde_json::from_str(r.get(7)).unwrap_or_default(),
        action: r.get(8),
        status: r.get(9),
    }
}

async fn audit_in(
    client: &impl deadpool_postgres::GenericClient,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO dlpgate_console_audit (time_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
            &[&now_ms(), &actor, &action, &target, &detail],
        )
        .await?;
    Ok(())
}
