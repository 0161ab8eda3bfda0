//! The active policy: its name, version and the ISTag the server announces, its rules, and
//! its source text. A file that does not load shows the error with its line.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::html;

use crate::console::auth::CurrentUser;
use crate::console::http::PageError;
use crate::console::Console;

use super::layout::page;

/// The ISTag `serve` announces for a policy version (RFC 3507 caps it at 32 characters: a
/// prefix of the version hash, as `dlp::DlpService` makes it).
pub fn istag(version: &str) -> String {
    format!("\"dlpgate-{}\"", &version[..version.len().min(20)])
}

/// GET /policy.
pub async fn show(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, PageError> {
    render(&console, &user, None).await
}

/// The policy page; `rejected` is an edit that did not validate (its error, its text).
pub async fn render(
    console: &Console,
    user: &CurrentUser,
    rejected: Option<(String, String)>,
) -> Result<Response, PageError> {
    let source = console.policy.clone();
    let loaded = tokio::task::spawn_blocking(move || source.load())
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    let file = console.policy.describe();
    let body = match loaded {
        Err(e) => html! {
            div.error { "The policy file does not load (the server keeps serving the last one that did): " (e) }
            p.note { "File: " (file) }
        },
        Ok((policy, text)) => html! {
            div.box {
                dl {
                    dt { "Policy" } dd { (policy.name()) }
                    dt { "File" } dd { (file) }
                    dt { "Version" } dd { code { (policy.version()) } }
                    dt { "ISTag" } dd { code { (istag(policy.version())) } }
                    dt { "Could not scan" } dd { (format!("{:?}", policy.could_not_scan()).to_lowercase()) }
                }
            }
            table {
                thead { tr { th { "Rule" } th { "Detectors" } th { "Min. count" } th { "Action" } th { "Severity" } th { "Scope" } } }
                tbody {
                    @for r in policy.rules() {
                        tr {
                            td { (r.name) }
                            td { (r.detectors.join(", ")) }
                            td { (r.min_count) }
                            td { span class=(super::incidents::action_class(&format!("{:?}", r.action).to_lowercase())) { (format!("{:?}", r.action).to_lowercase()) } }
                            td { (format!("{:?}", r.severity).to_lowercase()) }
                            td { (format!("{:?}", r.scope).to_lowercase()) }
                        }
                    }
                }
            }
            (super::policy_edit::history_and_form(console, user, &text, rejected.as_ref()).await?)
        },
    };
    Ok(page("Policy", user, body).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_istag_fits_rfc_3507() {
        let tag = super::istag(&"a".repeat(64));
        assert!(tag.len() <= 32, "{tag}");
        assert_eq!(super::istag("v1"), "\"dlpgate-v1\"");
    }
}
