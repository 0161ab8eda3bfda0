//! The certificates in use (the icaps:// listener's and the console's): subject, names,
//! validity, SPKI pin, and a warning when expiry is near.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::html;

use crate::console::auth::CurrentUser;
use crate::console::http::PageError;
use crate::console::Console;

use super::layout::page;

/// GET /certificates.
pub async fn show(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, PageError> {
    let files = console.certificates.clone();
    let described = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|(role, path)| {
                let info = icap::tls::load_certs(&path).map_err(|e| e.to_string()).and_then(|certs| {
                    certs.first().map(icap::tls::describe_cert).transpose().map_err(|e| e.to_string())
                });
                (role, path, info)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| PageError::Internal(e.into()))?;
    let body = html! {
        @if described.is_empty() {
            p { "No certificate in use: the ICAP listener and the console serve without TLS (plain ICAP, console on loopback)." }
        }
        @for (role, path, info) in &described {
            div.box {
                h2 { (role) }
                p.note { (path.display().to_string()) }
                @match info {
                    Err(e) => div.error { (e) },
                    Ok(None) => p { "No certificate in the file." },
                    Ok(Some(c)) => {
                        @if c.days_left() < icap::tls::EXPIRY_WARNING_DAYS {
                            div.error { "Expires in " (c.days_left()) " days." }
                        }
                        dl {
                            dt { "Subject" } dd { (c.subject) }
                            dt { "Issuer" } dd { (c.issuer) }
                            dt { "Names (SAN)" } dd { (c.sans.join(", ")) }
                            dt { "Valid from" } dd { (super::layout::time(c.not_before.saturating_mul(1000))) }
                            dt { "Valid until" } dd { (super::layout::time(c.not_after.saturating_mul(1000))) " (" (c.days_left()) " days left)" }
                            dt { "SPKI pin (SHA-256)" } dd { code { (c.spki_sha256) } }
                            dt { "Certificate SHA-256" } dd { code { (c.cert_sha256) } }
                        }
                    },
                }
            }
        }
    };
    Ok(page("Certificates", &user, body).into_response())
}
