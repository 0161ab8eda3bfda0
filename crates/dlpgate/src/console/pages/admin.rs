//! Admin pages: accounts (list, add) and the audit log.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

use crate::console::auth::{hash_password, CurrentUser, Role};
use crate::console::http::{check_csrf, require, PageError};
use crate::console::Console;

use super::layout::{page, time};

/// Audit entries shown.
pub const AUDIT_SHOWN: usize = 500;

/// GET /users (admin).
pub async fn users(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, PageError> {
    require(&user, Role::Admin)?;
    let rows = console.db.users().await?;
    let body = html! {
        table {
            thead { tr { th { "Name" } th { "Role" } th { "Created" } } }
            tbody { @for u in &rows { tr { td { (u.name) } td { (u.role.as_str()) } td { (time(u.created_ms)) } } } }
        }
        h2 { "Add an account" }
        form.box method="post" action="/users" {
            input type="hidden" name="csrf" value=(user.csrf);
            label { "Name " input name="name" required; } " "
            label { "Role " select name="role" {
                @for r in [Role::Viewer, Role::Analyst, Role::Admin] { option value=(r.as_str()) { (r.as_str()) } }
            } } " "
            label { "Password " input type="password" name="password" autocomplete="new-password" required; } " "
            button type="submit" { "Add" }
        }
    };
    Ok(page("Accounts", &user, body).into_response())
}

/// The add-account form.
#[derive(Debug, Deserialize)]
pub struct AddUser {
    csrf: Option<String>,
    name: Option<String>,
    role: Option<String>,
    password: Option<String>,
}

/// POST /users (admin).
pub async fn add_user(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Form(form): Form<AddUser>,
) -> Result<Response, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    require(&user, Role::Admin)?;
    let name = form.name.unwrap_or_default().trim().to_string();
    let role = Role::parse(form.role.as_deref().unwrap_or_default())
        .ok_or_else(|| PageError::BadRequest("unknown role".to_string()))?;
    let password = form.password.unwrap_or_default();
    crate::console::users::check_name(&name).map_err(|e| PageError::BadRequest(e.to_string()))?;
    crate::console::users::check_password(&password).map_err(|e| PageError::BadRequest(e.to_string()))?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PageError::Internal(e.into()))??;
    let added = console.db.add_user(&name, role, &hash, &user.name).await?;
    if !added {
        return Err(PageError::BadRequest(format!("the account {name:?} exists already")));
    }
    Ok(Redirect::to("/users").into_response())
}

/// GET /audit (admin).
pub async fn audit(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, PageError> {
    require(&user, Role::Admin)?;
    let entries = console.db.audit_log(None, AUDIT_SHOWN).await?;
    let body = html! {
        p.note { "The newest " (AUDIT_SHOWN) " entries: logins, failed logins, triage, exports and account changes." }
        table {
            thead { tr { th { "When" } th { "Who" } th { "What" } th { "On" } th { "Detail" } } }
            tbody { @for e in &entries {
                tr { td { (time(e.time_ms)) } td { (e.actor) } td { (e.action) } td { (e.target.clone().unwrap_or_default()) } td.wrap { (e.detail.clone().unwrap_or_default()) } }
            } }
        }
    };
    Ok(page("Audit log", &user, body).into_response())
}
