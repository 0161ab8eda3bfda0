//! CSV and JSON export of the list's current filter (analyst), each export in the audit log.
//! CSV cells that a spreadsheet would run as a formula are prefixed with `'`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use crate::console::auth::{CurrentUser, Role};
use crate::console::db::IncidentSummary;
use crate::console::http::{require, PageError};
use crate::console::Console;
use crate::store::Incident;

use super::incidents::Filters;

/// Most incidents one export holds (newest first); narrow the filter for more.
pub const MAX_EXPORT_ROWS: usize = 50_000;

/// GET /incidents/export.csv.
pub async fn csv(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let incidents = fetch(&console, &user, &filters, "csv").await?;
    let mut out = String::from("id,time,action,rules,severity,service,method,client,user,groups,url,file_name,content_type,size,sha256,evidence,status\n");
    for (i, status) in &incidents {
        let evidence: Vec<String> =
            i.evidence.iter().map(|e| format!("{}={}@{}", e.detector, e.masked, e.location)).collect();
        let cells = [
            i.id.clone(),
            crate::store::format_time(i.time),
            i.action.clone(),
            i.rules.join(";"),
            i.severity.clone().unwrap_or_default(),
            i.service.clone(),
            i.method.clone(),
            i.client_addr.clone().unwrap_or_default(),
            i.user.clone().unwrap_or_default(),
            i.groups.join(";"),
            i.url.clone().unwrap_or_default(),
            i.file_name.clone().unwrap_or_default(),
            i.content_type.clone().unwrap_or_default(),
            i.size.to_string(),
            i.sha256.clone(),
            evidence.join(";"),
            status.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"incidents.csv\""),
        ],
        out,
    )
        .into_response())
}

/// GET /incidents/export.json: a JSON array of incidents, each with its triage status.
pub async fn json(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let incidents = fetch(&console, &user, &filters, "json").await?;
    let values: Vec<serde_json::Value> = incidents
        .iter()
        .map(|(i, status)| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            if let Some(object) = v.as_object_mut() {
                object.insert("triage_status".to_string(), serde_json::Value::from(status.as_str()));
            }
            v
        })
        .collect();
    let body = serde_json::to_string_pretty(&values).map_err(|e| PageError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"incidents.json\""),
        ],
        body,
    )
        .into_response())
}

/// The filtered incidents, whole, with their triage status; the export is audited.
async fn fetch(
    console: &Arc<Console>,
    user: &CurrentUser,
    filters: &Filters,
    format: &str,
) -> Result<Vec<(Incident, String)>, PageError> {
    require(user, Role::Analyst)?;
    let q = filters.to_query(MAX_EXPORT_ROWS)?;
    let page = console.db.incidents(q).await?;
    let partial =
        if page.partial { " (a common text: only the newest rows of the range were searched)" } else { "" };
    let detail = format!("{format} {} incidents{partial}: {}", page.rows.len(), filters.query_string());
    console.db.audit(&user.name, "export", None, Some(&detail)).await?;
    let store = console.store.clone();
    let rows: Vec<IncidentSummary> = page.rows;
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(incident) = store.get(&row.id)? {
                out.push((incident, row.status));
            }
        }
        Ok::<_, crate::store::StoreError>(out)
    })
    .await
    .map_err(|e| PageError::Internal(e.into()))?
    .map_err(|e| PageError::Internal(e.into()))
}

/// One CSV cell: quoted when needed, and never a formula (`=`, `+`, `-`, `@`, tab, CR first).
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
