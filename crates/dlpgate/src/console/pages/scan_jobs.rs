//! Scan jobs (Connectors → Run a scan job): a path the server can read, sent file by file
//! through a connector; the job page reloads itself every [`REFRESH_SECONDS`] while the job
//! runs (a meta refresh: no script) with files done, bytes and verdict counts, then shows
//! every file's result with the masked evidence of blocked ones. Admin only: a job reads any
//! file the server can read and sends it to an ICAP server. Started and cancelled jobs are
//! audited (`scan_start`, `scan_cancel`).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use crate::connector::model::CONNECTORS_FILE;
use crate::connector::ConnectorsFile;
use crate::console::auth::{CurrentUser, Role};
use crate::console::http::{check_csrf, require, PageError};
use crate::console::jobs::{self, JobSpec, JobStatus, JobView};
use crate::console::Console;

use super::layout::{page, page_refreshing, time};

/// Seconds between two loads of a running job's page.
pub const REFRESH_SECONDS: u32 = 2;
/// Longest path accepted from the form.
pub const MAX_PATH_CHARS: usize = 4096;

/// GET /scans (admin): the form and the jobs.
pub async fn list(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, PageError> {
    require(&user, Role::Admin)?;
    Ok(page("Scan jobs", &user, render(&console, &user, None).await?).into_response())
}

async fn render(console: &Console, user: &CurrentUser, error: Option<String>) -> Result<Markup, PageError> {
    let path = console.connector_dir.join(CONNECTORS_FILE);
    let names: Vec<String> = tokio::task::spawn_blocking(move || ConnectorsFile::load(&path))
        .await
        .map_err(|e| PageError::Internal(e.into()))?
        .map(|f| f.connectors.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    let all = console.jobs.list();
    Ok(html! {
        @if let Some(e) = error { div.error id="scan-error" { (e) } }
        div.box {
            h2 { "Run a scan job" }
            p.note { "Every regular file under a path this server can read (links are not followed) goes through a \
                      connector's ICAP servers, as dlpgate scan does. At most " (jobs::MAX_FILES_PER_JOB)
                      " files a job and " (jobs::MAX_RUNNING_JOBS) " jobs at once; jobs are kept in memory (the last "
                      (jobs::JOBS_KEPT) ") and forgotten on restart." }
            @if names.is_empty() {
                p { "No connector yet: " a href="/connectors" { "add one" } " first." }
            } @else {
                form method="post" action="/scans" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label { "Path (absolute) " input name="path" size="50" required placeholder="/srv/share/finance"; } " "
                    label { "Connector " select name="connector" { @for n in &names { option value=(n) { (n) } } } } " "
                    button type="submit" { "Start" }
                }
            }
        }
        @if !all.is_empty() {
            table {
                thead { tr { th { "Job" } th { "Started" } th { "By" } th { "Path" } th { "Connector" } th { "Status" } th { "Files" } th { "Blocked" } } }
                tbody { @for j in &all {
                    tr {
                        td { a href={ "/scans/" (j.id) } { "#" (j.id) } }
                        td { (time(j.started_ms)) } td { (j.started_by) } td.wrap { (j.path) } td { (j.connector) }
                        td { (status_text(&j.status)) } td { (j.done_files) " / " (j.total_files) } td { (j.blocked) }
                    }
                } }
            }
        }
    })
}

/// The start form.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    csrf: Option<String>,
    path: Option<String>,
    connector: Option<String>,
}

/// POST /scans (admin): checks the path and starts a job, then shows it.
pub async fn start(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    require(&user, Role::Admin)?;
    let path = form.path.unwrap_or_default().trim().to_string();
    let connector = form.connector.unwrap_or_default();
    let refuse = |message: String| async {
        let body = render(&console, &user, Some(message)).await?;
        Ok::<_, PageError>(
            (axum::http::StatusCode::BAD_REQUEST, page("Scan jobs", &user, body)).into_response(),
        )
    };
    if path.is_empty() || path.chars().count() > MAX_PATH_CHARS {
        return refuse(format!("give a path of 1 to {MAX_PATH_CHARS} characters")).await;
    }
    let file = console.connector_dir.join(CONNECTORS_FILE);
    let known = tokio::task::spawn_blocking(move || ConnectorsFile::load(&file))
        .await
        .map_err(|e| PageError::Internal(e.into()))?
        .is_ok_and(|f| f.connectors.iter().any(|c| c.name == connector));
    if !known {
        return refuse(format!("no connector named {connector:?}")).await;
    }
    let spec = JobSpec {
        path: PathBuf::from(&path),
        connector: connector.clone(),
        connector_dir: console.connector_dir.clone(),
        user: user.name.clone(),
    };
    let checked = {
        let (jobs_console, store) = (console.clone(), console.store.clone());
        tokio::task::spawn_blocking(move || jobs_console.jobs.start(spec, store))
            .await
            .map_err(|e| PageError::Internal(e.into()))?
    };
    match checked {
        Ok(id) => {
            let detail = format!("connector={connector} job={id}");
            console.db.audit(&user.name, "scan_start", Some(&path), Some(&detail)).await?;
            Ok(Redirect::to(&format!("/scans/{id}")).into_response())
        }
        Err(message) => refuse(message).await,
    }
}

/// GET /scans/{id} (admin): progress, then results.
pub async fn show(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    require(&user, Role::Admin)?;
    let job = id.parse::<u64>().ok().and_then(|id| console.jobs.get(id)).ok_or(PageError::NotFound)?;
    let refresh = job.status.is_active().then_some(REFRESH_SECONDS);
    let body = job_body(&job, &user);
    Ok(page_refreshing(&format!("Scan job #{}", job.id), &user, body, refresh).into_response())
}

fn job_body(job: &JobView, user: &CurrentUser) -> Markup {
    html! {
        p { a href="/scans" { "← Scan jobs" } }
        div.box id="scan-progress" {
            h2 { "Scan of " (job.path) " through " (job.connector) }
            p { "Status: " strong id="scan-status" { (status_text(&job.status)) }
                " · started " (time(job.started_ms)) " by " (job.started_by)
                @if let Some(end) = job.ended_ms { " · ended " (time(end)) } }
            p id="scan-counts" {
                "Files: " strong { (job.done_files) " / " (job.total_files) } " · " (bytes(job.done_bytes))
                " · " span.allow { (job.allowed) " allowed" } " · " span.block { (job.blocked) " blocked" }
                " · " (job.errors) " without a verdict"
                @if job.skipped > 0 { " · " (job.skipped) " skipped" }
            }
            @if job.status.is_active() {
                p.note { "This page reloads every " (REFRESH_SECONDS) " s while the job runs." }
                form method="post" action={ "/scans/" (job.id) "/cancel" } {
                    input type="hidden" name="csrf" value=(user.csrf);
                    button type="submit" { "Cancel" }
                }
            }
            @if !job.stderr.trim().is_empty() && !matches!(job.status, JobStatus::Running) {
                pre { (job.stderr) }
            }
        }
        @if !job.results.is_empty() {
            p.note { "Blocked files first, then files without a verdict, then allowed ones." }
            table id="scan-results" {
                thead { tr { th { "File" } th { "Verdict" } th { "Rules" } th { "Masked evidence" } th { "Incident / reason" } } }
                tbody { @for r in by_verdict(&job.results) {
                    tr {
                        td.wrap { (r.record.path) }
                        td { span class=(super::incidents::action_class(r.record.verdict.as_str())) { (r.record.verdict.as_str()) } }
                        td { (r.record.rules.join(", ")) }
                        td.wrap { (r.evidence.join("; ")) }
                        td.wrap {
                            @if let Some(id) = &r.record.incident_id {
                                a href={ "/incidents/" (super::incidents::encode(id)) } { (id) } " "
                            }
                            (r.record.reason.as_deref().unwrap_or(""))
                        }
                    }
                } }
            }
        }
    }
}

/// Blocked, then without a verdict, then skipped, then allowed; by path within each.
fn by_verdict(results: &[jobs::FileResult]) -> Vec<&jobs::FileResult> {
    let rank = |r: &jobs::FileResult| match r.record.verdict.as_str() {
        "block" => 0,
        "error" => 1,
        "skipped" => 2,
        _ => 3,
    };
    let mut sorted: Vec<&jobs::FileResult> = results.iter().collect();
    sorted.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.record.path.cmp(&b.record.path)));
    sorted
}

/// The cancel form.
#[derive(Debug, Deserialize)]
pub struct CancelForm {
    csrf: Option<String>,
}

/// POST /scans/{id}/cancel (admin).
pub async fn cancel(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    require(&user, Role::Admin)?;
    let id = id.parse::<u64>().map_err(|_| PageError::NotFound)?;
    if console.jobs.cancel(id) {
        console.db.audit(&user.name, "scan_cancel", Some(&format!("job {id}")), None).await?;
    } else if console.jobs.get(id).is_none() {
        return Err(PageError::NotFound);
    }
    Ok(Redirect::to(&format!("/scans/{id}")).into_response())
}

fn status_text(status: &JobStatus) -> String {
    match status {
        JobStatus::Counting => "counting files".to_string(),
        JobStatus::Running => "running".to_string(),
        JobStatus::Finished => "finished".to_string(),
        JobStatus::Cancelled => "cancelled".to_string(),
        JobStatus::Failed(why) => format!("failed: {why}"),
    }
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}
