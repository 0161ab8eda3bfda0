//! One incident: its ICAP context, file, rules and masked evidence (the store never holds a
//! matched value), its triage with who set it and when, and the triage form.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

use crate::console::auth::{CurrentUser, Role};
use crate::console::db::TriageStatus;
use crate::console::http::{check_csrf, require, PageError, MAX_NOTE_CHARS};
use crate::console::Console;

use super::incidents::{action_class, encode};
use super::layout::{page, time};

/// Triage entries shown on the page.
const HISTORY_SHOWN: usize = 50;

/// GET /incidents/{id}.
pub async fn show(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let store = console.store.clone();
    let lookup = id.clone();
    let incident = tokio::task::spawn_blocking(move || store.get(&lookup))
        .await
        .map_err(|e| PageError::Internal(e.into()))?
        .map_err(|e| PageError::Internal(e.into()))?
        .ok_or(PageError::NotFound)?;
    let triage = console.db.triage(&id).await?;
    let history = console.db.audit_log(Some(&id), HISTORY_SHOWN).await?;
    let status = triage.as_ref().map_or(TriageStatus::New, |t| t.status);
    let i = &incident;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        div.grid {
            div.box {
                h2 { "Verdict" }
                dl {
                    dt { "Action" } dd { span class=(action_class(&i.action)) { (i.action) } }
                    dt { "Rules" } dd { (i.rules.join(", ")) }
                    dt { "Severity" } dd { (opt(&i.severity)) }
                    @if let Some(reason) = &i.reason { dt { "Reason" } dd { (reason) } }
                    dt { "Policy version" } dd { (i.policy_version) }
                    dt { "Time" } dd { (crate::store::format_time(i.time)) }
                    dt { "Incident" } dd { (i.id) }
                }
            }
            div.box {
                h2 { "ICAP context" }
                dl {
                    dt { "Service" } dd { (i.service) " (" (i.method) ")" }
                    dt { "Client" } dd { (opt(&i.client_addr)) }
                    dt { "User" } dd { (opt(&i.user)) }
                    dt { "Groups" } dd { (i.groups.join(", ")) }
                    @if let Some(subject) = &i.tls_subject { dt { "TLS client" } dd { (subject) } }
                    @if let Some(claimed) = &i.claimed {
                        dt { "Claimed identity (untrusted)" }
                        dd { (claimed.user.clone().unwrap_or_default()) " " (claimed.groups.join(", ")) " " (claimed.client_ip.clone().unwrap_or_default()) }
                    }
                    dt { "URL" } dd { (opt(&i.url)) }
                }
            }
            div.box {
                h2 { "File" }
                dl {
                    dt { "Name" } dd { (opt(&i.file_name)) }
                    dt { "Type" } dd { (opt(&i.content_type)) }
                    dt { "Size" } dd { (i.size) " bytes" }
                    dt { "SHA-256" } dd { code { (i.sha256) } }
                }
            }
        }
        div.box {
            h2 { "Evidence (masked)" }
            @if i.evidence.is_empty() { p.note { "No evidence recorded." } }
            @else {
                table {
                    thead { tr { th { "Detector" } th { "Masked value" } th { "Where" } } }
                    tbody { @for e in &i.evidence { tr { td { (e.detector) } td { code { (e.masked) } } td { (e.location) } } } }
                }
            }
            @if !i.counts.is_empty() {
                p.note { "Matches per detector: "
                    @for (n, (detector, count)) in i.counts.iter().enumerate() {
                        @if n > 0 { ", " } (detector) " " (count)
                    }
                }
            }
        }
        div.box {
            h2 { "Triage" }
            p { "Status: " strong { (status.label()) }
                @if let Some(t) = &triage { " — set by " (t.updated_by) " at " (time(t.updated_ms)) }
            }
            @if let Some(t) = &triage { @if !t.note.is_empty() { p { "Note: " (t.note) } } }
            @if user.role >= Role::Analyst {
                form method="post" action={ "/incidents/" (encode(&i.id)) "/triage" } {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label { "Status " select name="status" {
                        @for s in TriageStatus::ALL { option value=(s.as_str()) selected[s == status] { (s.label()) } }
                    } }
                    " "
                    label { "Note " input name="note" size="60" maxlength=(MAX_NOTE_CHARS) value=(triage.as_ref().map(|t| t.note.as_str()).unwrap_or("")); }
                    " "
                    button type="submit" { "Save" }
                }
            }
            @if !history.is_empty() {
                h2 { "History" }
                table {
                    thead { tr { th { "When" } th { "Who" } th { "What" } } }
                    tbody { @for h in &history { tr { td { (time(h.time_ms)) } td { (h.actor) } td { (h.action) " " (h.detail.clone().unwrap_or_default()) } } } }
                }
            }
        }
    };
    Ok(page("Incident", &user, body).into_response())
}

/// The triage form.
#[derive(Debug, Deserialize)]
pub struct TriageForm {
    csrf: Option<String>,
    status: Option<String>,
    #[serde(default)]
    note: String,
}

/// POST /incidents/{id}/triage (analyst).
pub async fn triage(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    Form(form): Form<TriageForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    require(&user, Role::Analyst)?;
    let wanted = form.status.unwrap_or_default();
    let status = TriageStatus::parse(&wanted)
        .ok_or_else(|| PageError::BadRequest(format!("unknown status {wanted:?}")))?;
    if form.note.chars().count() > MAX_NOTE_CHARS {
        return Err(PageError::BadRequest(format!("the note is longer than {MAX_NOTE_CHARS} characters")));
    }
    let store = console.store.clone();
    let lookup = id.clone();
    let exists = tokio::task::spawn_blocking(move || store.get(&lookup))
        .await
        .map_err(|e| PageError::Internal(e.into()))?
        .map_err(|e| PageError::Internal(e.into()))?
        .is_some();
    if !exists {
        return Err(PageError::NotFound);
    }
    console.db.set_triage(&id, status, form.note.trim(), &user.name).await?;
    Ok(Redirect::to(&format!("/incidents/{}", encode(&id))).into_response())
}
