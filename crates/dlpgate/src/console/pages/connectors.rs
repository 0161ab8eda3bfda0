//! Connectors (the CASB's "add external DLP" wizard): the connectors of `connectors.toml`,
//! a form to add one (name, type, servers, the server's certificate or CA as an upload), and
//! the four-step connectivity test of `dlpgate connector test`, shown step by step with each
//! failure and what to do. Adding and testing are admin actions, audited.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use crate::connector::model::CONNECTORS_FILE;
use crate::connector::{Connector, ConnectorsFile, Kind, Server, Tls};
use crate::console::auth::{CurrentUser, Role};
use crate::console::http::{check_csrf, require, PageError};
use crate::console::Console;

use super::layout::page;

/// Longest a connectivity test may run (every server's four steps).
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest certificate upload.
pub const MAX_TRUST_BYTES: usize = 256 * 1024;
/// Most servers one connector gets from the form.
pub const MAX_SERVERS: usize = 32;

/// GET /connectors (analyst).
pub async fn list(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, PageError> {
    require(&user, Role::Analyst)?;
    let body = render(&console, &user, None).await?;
    Ok(page("Connectors", &user, body).into_response())
}

async fn render(console: &Console, user: &CurrentUser, result: Option<Markup>) -> Result<Markup, PageError> {
    let path = console.connector_dir.join(CONNECTORS_FILE);
    let file = tokio::task::spawn_blocking(move || ConnectorsFile::load(&path))
        .await
        .map_err(|e| PageError::Internal(e.into()))?;
    Ok(html! {
        @if let Some(result) = result { (result) }
        p.note { "Connectors file: " (console.connector_dir.join(CONNECTORS_FILE).display().to_string())
            @if user.role >= Role::Admin { " · " a href="/scans" { "Run a scan job →" } } }
        @match &file {
            Err(e) => div.error { (format!("{e:#}")) },
            Ok(file) if file.connectors.is_empty() => p { "No connector yet." },
            Ok(file) => table {
                thead { tr { th { "Name" } th { "Type" } th { "Servers" } th { "Trust" } th { "On failure" } th {} } }
                tbody { @for c in &file.connectors {
                    tr {
                        td { (c.name) }
                        td { (format!("{:?}", c.kind).to_uppercase()) }
                        td.wrap { (c.servers.iter().map(|s| s.uri.as_str()).collect::<Vec<_>>().join(", ")) }
                        td.wrap { (c.tls.trust.as_ref().map(|p| p.display().to_string()).unwrap_or_default()) }
                        td { (c.failure.action().replace("block", "fail closed").replace("allow", "fail open")) }
                        td { @if user.role >= Role::Admin {
                            form method="post" action="/connectors/test" {
                                input type="hidden" name="csrf" value=(user.csrf);
                                input type="hidden" name="name" value=(c.name);
                                button type="submit" { "Test" }
                            }
                        } }
                    }
                } }
            },
        }
        @if user.role >= Role::Admin {
            h2 { "Add a connector" }
            form.box method="post" action="/connectors" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(user.csrf);
                p { label { "Name " input name="name" required; } " "
                    label { "Type " select name="type" {
                        option value="reqmod" { "Generic ICAP – REQMOD" }
                        option value="respmod" { "Generic ICAP – RESPMOD" }
                    } } }
                p { label { "Primary and additional servers, one per line (icap://host:port/service or icaps://…)" br;
                    textarea name="servers" rows="3" cols="70" required {} } }
                p { label { "Server certificate or its CA (PEM, for icaps) " input type="file" name="trust"; } }
                button type="submit" { "Add" }
            }
        }
    })
}

/// POST /connectors (admin): the wizard.
pub async fn add(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let (mut csrf, mut name, mut kind, mut servers, mut trust) =
        (None, String::new(), Kind::Reqmod, String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(|e| PageError::BadRequest(e.body_text()))? {
        let field_name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(|e| PageError::BadRequest(e.body_text()))?;
        let text = || String::from_utf8_lossy(&data).trim().to_string();
        match field_name.as_str() {
            "csrf" => csrf = Some(text()),
            "name" => name = text(),
            "type" => kind = if text() == "respmod" { Kind::Respmod } else { Kind::Reqmod },
            "servers" => servers = text(),
            "trust" if !data.is_empty() => {
                if data.len() > MAX_TRUST_BYTES {
                    return Err(PageError::BadRequest(format!(
                        "the certificate is over {MAX_TRUST_BYTES} bytes"
                    )));
                }
                trust = Some(data);
            }
            _ => {}
        }
    }
    check_csrf(&user, csrf.as_deref())?;
    require(&user, Role::Admin)?;
    crate::console::users::check_name(&name)
        .map_err(|e| PageError::BadRequest(e.to_string().replace("account names", "connector names")))?;
    let servers = servers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(Server::parse_arg)
        .collect::<Result<Vec<_>, _>>()
        .map_err(PageError::BadRequest)?;
    if servers.is_empty() || servers.len() > MAX_SERVERS {
        return Err(PageError::BadRequest(format!("give 1 to {MAX_SERVERS} servers")));
    }
    let dir = console.connector_dir.clone();
    let connector_name = name.clone();
    tokio::task::spawn_blocking(move || save(&dir, connector_name, kind, servers, trust))
        .await
        .map_err(|e| PageError::Internal(e.into()))?
        .map_err(|e| PageError::BadRequest(format!("{e:#}")))?;
    console.db.audit(&user.name, "connector_add", Some(&name), None).await?;
    Ok(Redirect::to("/connectors").into_response())
}

/// Writes the certificate (checked to parse) and adds the connector to the file.
fn save(
    dir: &std::path::Path,
    name: String,
    kind: Kind,
    servers: Vec<Server>,
    trust: Option<bytes::Bytes>,
) -> anyhow::Result<()> {
    let path = dir.join(CONNECTORS_FILE);
    let mut file = ConnectorsFile::load(&path)?;
    if file.find(&name).is_some() {
        anyhow::bail!("a connector {name:?} exists already");
    }
    let mut tls = Tls::default();
    if let Some(pem) = trust {
        crate::fsat::ensure_private_dir(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &pem)?;
        icap::tls::load_certs(tmp.path()).map_err(|e| anyhow::anyhow!("the uploaded certificate: {e}"))?;
        let trust_path = dir.join(format!("{name}-trust.pem"));
        tmp.persist(&trust_path)?;
        tls.trust = Some(trust_path);
    }
    let mut connector = Connector::ad_hoc(servers, kind, tls);
    connector.name = name;
    connector.validate()?;
    file.connectors.push(connector);
    file.save(&path)
}

/// The test form.
#[derive(Debug, Deserialize)]
pub struct TestForm {
    csrf: Option<String>,
    name: Option<String>,
}

/// POST /connectors/test (admin): runs `dlpgate connector test NAME` and shows its steps.
pub async fn test(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Form(form): Form<TestForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    require(&user, Role::Admin)?;
    let name = form.name.unwrap_or_default();
    let exe = std::env::current_exe().map_err(|e| PageError::Internal(e.into()))?;
    let mut command = tokio::process::Command::new(exe);
    // `--` before the name: a name starting with `-` is a name, never a flag.
    command
        .args(["connector", "--config-dir"])
        .arg(&console.connector_dir)
        .args(["test", "--", &name])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(TEST_TIMEOUT, command.output())
        .await
        .map_err(|_| PageError::BadRequest(format!("the test took over {} s", TEST_TIMEOUT.as_secs())))?
        .map_err(|e| PageError::Internal(e.into()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let passed = output.status.success();
    let detail = if passed { "passed" } else { "failed" };
    console.db.audit(&user.name, "connector_test", Some(&name), Some(detail)).await?;
    let result = html! {
        div.box id="connector-test" {
            h2 { "Connectivity test of " (name) ": " @if passed { span.allow { "PASSED" } } @else { span.block { "FAILED" } } }
            table {
                thead { tr { th { "Step" } th { "Result" } th { "Details" } } }
                tbody { @for (step, status, text) in steps(&stdout) {
                    tr { td { (step) } td { @if status == "FAILED" { span.block { (status) } } @else if status == "ok" { span.allow { (status) } } @else { (status) } } td.wrap { (text) } }
                } }
            }
            @if !stderr.trim().is_empty() { div.error { (stderr) } }
        }
    };
    let body = render(&console, &user, Some(result)).await?;
    Ok(page("Connectors", &user, body).into_response())
}

/// The test's report, line by line: (step, ok/FAILED/"", text). Server lines start a group;
/// indented lines without a step continue the one above.
fn steps(report: &str) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    for line in report.lines() {
        if !line.starts_with("  ") {
            rows.push((String::new(), String::new(), line.trim().to_string()));
            continue;
        }
        let rest = &line[2..];
        let step = rest.get(..11).unwrap_or(rest).trim().to_string();
        let tail = rest.get(11..).unwrap_or("").trim_start();
        let (status, text) = match tail.split_once(char::is_whitespace) {
            Some((s @ ("ok" | "FAILED"), text)) => (s.to_string(), text.trim().to_string()),
            _ if tail == "ok" || tail == "FAILED" => (tail.to_string(), String::new()),
            _ => (String::new(), tail.trim().to_string()),
        };
        rows.push((step, status, text));
    }
    rows
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_report_splits_into_steps() {
        let report = "server icap://127.0.0.1:1/reqmod\n  1. connect  FAILED  connection refused\n  \
                      {:<11}         what to do: start the server\n  3. OPTIONS  ok      200 OK\n";
        let report = report.replace("{:<11}", &" ".repeat(11));
        let rows = super::steps(&report);
        assert_eq!(rows[0].2, "server icap://127.0.0.1:1/reqmod");
        assert_eq!(
            (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].2.as_str()),
            ("1. connect", "FAILED", "connection refused")
        );
        assert_eq!(rows[2].2, "what to do: start the server");
        assert_eq!((rows[3].0.as_str(), rows[3].1.as_str()), ("3. OPTIONS", "ok"));
    }
}
