//! Editing the policy file (admin): the new text is validated as the server would load it
//! (errors name the line), then replaces the file atomically; the server's watcher reloads it.
//! Each change is in the audit log with the old and new versions: the version history.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use crate::console::auth::{CurrentUser, Role};
use crate::console::http::{check_csrf, require, PageError};
use crate::console::Console;

use super::layout::time;

/// Largest policy the editor takes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Policy changes shown in the history.
const HISTORY_SHOWN: usize = 50;

/// The version history and, for admins editing a policy file, the editor; else the source.
pub async fn history_and_form(
    console: &Console,
    user: &CurrentUser,
    text: &str,
    rejected: Option<&(String, String)>,
) -> Result<Markup, PageError> {
    // (when, who, what): the file's audited edits, or the stored versions nodes follow.
    let history: Vec<(i64, String, String)> = match (&console.policy.path, &console.policy.stored) {
        (Some(path), _) => console
            .db
            .audit_log(Some(&path.display().to_string()), HISTORY_SHOWN)
            .await?
            .into_iter()
            .map(|h| (h.time_ms, h.actor, h.detail.unwrap_or_default()))
            .collect(),
        (None, Some(_)) => {
            let source = console.policy.clone();
            tokio::task::spawn_blocking(move || source.stored_history(HISTORY_SHOWN))
                .await
                .map_err(|e| PageError::Internal(e.into()))?
                .map_err(|e| PageError::Internal(anyhow::anyhow!(e)))?
                .into_iter()
                .map(|v| {
                    let ms =
                        v.pushed.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
                    let sha = v.sha256.get(..12).unwrap_or_default().to_string();
                    (ms, v.pushed_by, format!("version {}: {} (sha256 {sha}...)", v.version, v.name))
                })
                .collect()
        }
        (None, None) => Vec::new(),
    };
    let editable = console.policy.path.is_some() && user.role >= Role::Admin;
    Ok(html! {
        @if !history.is_empty() {
            h2 { "Version history" }
            table {
                thead { tr { th { "When" } th { "Who" } th { "Change" } } }
                tbody { @for (when, who, what) in &history { tr { td { (time(*when)) } td { (who) } td { (what) } } } }
            }
        }
        @if editable {
            h2 { "Edit" }
            @if let Some((error, _)) = rejected { div.error role="alert" { "Not saved: " (error) } }
            form method="post" action="/policy" {
                input type="hidden" name="csrf" value=(user.csrf);
                textarea name="policy" rows="30" cols="100" spellcheck="false" {
                    (rejected.map_or(text, |(_, attempted)| attempted.as_str()))
                }
                p { button type="submit" { "Validate and save" } }
            }
        } @else {
            h2 { "Source" }
            pre { (text) }
            @if console.policy.stored.is_some() { p.note { "This policy is stored in PostgreSQL: change it with dlpgate policy push --store URL FILE, which every node follows." } }
            @else if console.policy.path.is_none() { p.note { "The built-in policy cannot be edited: start the server with --policy FILE." } }
        }
    })
}

/// The editor's form.
#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    csrf: Option<String>,
    policy: Option<String>,
}

/// POST /policy (admin).
pub async fn save(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Form(form): Form<PolicyForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    require(&user, Role::Admin)?;
    let Some(path) = console.policy.path.clone() else {
        return Err(PageError::BadRequest(if console.policy.stored.is_some() {
            "this policy is stored in PostgreSQL: change it with `dlpgate policy push --store URL FILE`"
                .to_string()
        } else {
            "the built-in policy cannot be edited".to_string()
        }));
    };
    let text = form.policy.unwrap_or_default().replace("\r\n", "\n");
    if text.len() > MAX_POLICY_BYTES {
        return Err(PageError::BadRequest(format!("the policy is over {MAX_POLICY_BYTES} bytes")));
    }
    let source = console.policy.clone();
    let new_text = text.clone();
    let outcome = tokio::task::spawn_blocking(move || replace(&source, &path, &new_text))
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    match outcome {
        Ok(Ok((old, new))) => {
            let target = console.policy.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            let detail = format!("version {old} -> {new} (ISTag {})", super::policy::istag(&new));
            console.db.audit(&user.name, "policy_change", Some(&target), Some(&detail)).await?;
            Ok(Redirect::to("/policy").into_response())
        }
        Ok(Err(invalid)) => super::policy::render(&console, &user, Some((invalid, text))).await,
        Err(e) => Err(PageError::Internal(e)),
    }
}

/// Validates `text` as the server loads a policy (its indexes from the data directory), then
/// renames it over the file (mode kept). Gives (old version, new version), or the validation
/// error with the file's name.
fn replace(
    source: &crate::console::PolicySource,
    path: &std::path::Path,
    text: &str,
) -> anyhow::Result<Result<(String, String), String>> {
    use std::io::Write;
    let old =
        source.load().map(|(p, _)| p.version().to_string()).unwrap_or_else(|_| "(unloadable)".to_string());
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".policy-edit-").tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    let policy = match crate::edm::files::load_policy(tmp.path(), &source.data_dir) {
        Ok(policy) => policy,
        Err(e) => {
            let shown = e.replace(&tmp.path().display().to_string(), &path.display().to_string());
            return Ok(Err(shown));
        }
    };
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.persist(path)?;
    Ok(Ok((old, policy.version().to_string())))
}
