//! The policy tester: `dlpgate policy test` in the browser. An uploaded file or pasted text is
//! scanned in memory with the active policy and the verdict shown with masked evidence;
//! nothing is recorded and the upload is never written anywhere.

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use inspect::{Decision, Engine, Limits, ScanContext, Verdict};
use maud::{html, Markup};

use crate::console::auth::{CurrentUser, Role};
use crate::console::http::{check_csrf, require, PageError};
use crate::console::Console;

use super::layout::page;

/// Largest file or text the tester takes (the request body limit adds a little for the form).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// GET /policy/test (analyst).
pub async fn form(Extension(user): Extension<CurrentUser>) -> Result<Response, PageError> {
    require(&user, Role::Analyst)?;
    Ok(page("Policy tester", &user, tester_form(&user)).into_response())
}

fn tester_form(user: &CurrentUser) -> Markup {
    html! {
        p.note { "The file or text is scanned in memory with the active policy. Nothing is recorded and the upload is not stored. At most " (MAX_UPLOAD_BYTES / (1024 * 1024)) " MiB." }
        form.box method="post" action="/policy/test" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(user.csrf);
            p { label { "File " input type="file" name="file"; } }
            p { label { "or text" br; textarea name="text" rows="6" cols="80" {} } }
            p { label { input type="radio" name="direction" value="upload" checked; " upload (REQMOD)" } " "
                label { input type="radio" name="direction" value="download"; " download (RESPMOD)" } }
            button type="submit" { "Test" }
        }
    }
}

/// POST /policy/test (analyst).
pub async fn run(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let (mut csrf, mut file, mut text, mut download) = (None, None, None, false);
    let too_big = || PageError::BadRequest(format!("the tester takes at most {MAX_UPLOAD_BYTES} bytes"));
    while let Some(field) = multipart.next_field().await.map_err(|e| PageError::BadRequest(e.body_text()))? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(|e| PageError::BadRequest(e.body_text()))?;
        if data.len() > MAX_UPLOAD_BYTES {
            return Err(too_big());
        }
        match name.as_str() {
            "csrf" => csrf = Some(String::from_utf8_lossy(&data).into_owned()),
            "direction" => download = data.as_ref() == b"download",
            "file" if !data.is_empty() => file = Some((file_name, data)),
            "text" if !data.is_empty() => text = Some(data),
            _ => {}
        }
    }
    check_csrf(&user, csrf.as_deref())?;
    require(&user, Role::Analyst)?;
    let (name, data) = match (file, text) {
        (Some((name, data)), _) => (name, data),
        (None, Some(data)) => (None, data),
        (None, None) => return Err(PageError::BadRequest("give a file or some text to test".to_string())),
    };
    let source = console.policy.clone();
    let shown_name = name.clone();
    let verdict = tokio::task::spawn_blocking(move || -> Result<Verdict, String> {
        let (policy, _) = source.load()?;
        let engine = Engine::new(Arc::new(policy), Limits::default());
        let ctx = ScanContext {
            method: if download { inspect::Method::Respmod } else { inspect::Method::Reqmod },
            meta: name.iter().map(|n| inspect::MetaText::filename(n)).collect(),
            filename: name,
            ..ScanContext::default()
        };
        Ok(engine.scan_bytes(ctx, &data))
    })
    .await
    .map_err(|e| PageError::Internal(e.into()))?;
    let result = match verdict {
        Err(e) => html! { div.error { "The policy does not load: " (e) } },
        Ok(v) => render(&v, shown_name.as_deref()),
    };
    let body = html! { (result) (tester_form(&user)) };
    Ok(page("Policy tester", &user, body).into_response())
}

fn render(v: &Verdict, name: Option<&str>) -> Markup {
    let (class, label) = match v.decision {
        Decision::Block => ("block", "BLOCK"),
        Decision::Monitor => ("monitor", "MONITOR"),
        _ => ("allow", "ALLOW"),
    };
    html! {
        div.box id="verdict" {
            h2 { "Verdict: " span class=(class) { (label) } @if let Some(name) = name { " — " (name) } }
            @if !v.rules.is_empty() {
                p { "Rules: " (v.rules.iter().map(|r| format!("{} ({:?})", r.name, r.action).to_lowercase()).collect::<Vec<_>>().join(", ")) }
            }
            @if let Some(c) = &v.could_not_scan { p { "Could not scan: " (c.to_string()) } }
            @if !v.evidence.is_empty() {
                table {
                    thead { tr { th { "Detector" } th { "Masked value" } th { "Where" } th { "Confidence" } } }
                    tbody {
                        @for e in &v.evidence {
                            tr {
                                td { (e.detector) }
                                td { code { (e.masked) } }
                                td { @if !e.member.is_empty() { (e.member) " " } "offset " (e.offset) }
                                td { (format!("{:?}", e.confidence).to_lowercase()) }
                            }
                        }
                    }
                }
            }
            p.note { (v.scanned_bytes) " bytes of text scanned; policy version " code { (v.policy_version) } }
        }
    }
}
