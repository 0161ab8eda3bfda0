//! The frame of every page: navigation for the user's role, the logout form, and the one
//! stylesheet, inline and allowed by its hash in the Content-Security-Policy (no script at
//! all is allowed).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::console::auth::{CurrentUser, Role};

/// The stylesheet, the only inline content the CSP allows (by hash).
pub(crate) const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#cfd8ea;text-decoration:none}header a:hover{color:#fff}
header .who{margin-left:auto;display:flex;gap:.8em;align-items:center}
main{padding:1.2em;max-width:1300px}
h1{font-size:1.4em;margin:.2em 0 .8em}h2{font-size:1.1em}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #dde1e8;padding:.35em .5em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#eef1f6}
td.wrap{word-break:break-all;max-width:28em}
form.filters{display:flex;flex-wrap:wrap;gap:.5em;align-items:end;margin-bottom:1em}
form.filters label{display:flex;flex-direction:column;font-size:.8em}
input,select,textarea,button{font:inherit;padding:.3em .4em}
button{background:#2d5bd7;color:#fff;border:0;border-radius:3px;padding:.4em .9em;cursor:pointer}
button.link{background:none;color:#cfd8ea;padding:0}
.block{color:#b3261e;font-weight:600}.monitor{color:#9a6700;font-weight:600}.allow{color:#1a7f37;font-weight:600}
.box{background:#fff;border:1px solid #dde1e8;padding:1em;margin-bottom:1em}
.error{background:#fde8e7;border:1px solid #e6a19c;padding:.6em;margin-bottom:1em}
.note{color:#5b6475;font-size:.9em}
pre{background:#fff;border:1px solid #dde1e8;padding:.8em;overflow:auto;font-size:.85em}
dl{display:grid;grid-template-columns:max-content auto;gap:.25em 1em}dt{font-weight:600}dd{margin:0;word-break:break-all}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1em}
.login{max-width:22em;margin:4em auto}.login label{display:block;margin:.6em 0}.login input{width:100%;box-sizing:border-box}
";

/// The CSP source of [`STYLE`]: `sha256-...`.
pub fn style_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE)))
    })
}

/// A page for a logged-in user.
pub fn page(title: &str, user: &CurrentUser, body: Markup) -> Markup {
    page_refreshing(title, user, body, None)
}

/// A page that the browser loads again every `refresh` seconds (a `<meta http-equiv>`
/// refresh: no script, which the CSP forbids), for progress.
pub fn page_refreshing(title: &str, user: &CurrentUser, body: Markup, refresh: Option<u32>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh { meta http-equiv="refresh" content=(seconds); }
                title { (title) " · dlpgate" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "dlpgate" }
                    a href="/" { "Dashboard" }
                    a href="/incidents" { "Incidents" }
                    a href="/policy" { "Policy" }
                    @if user.role >= Role::Analyst { a href="/policy/test" { "Tester" } }
                    @if user.role >= Role::Analyst { a href="/connectors" { "Connectors" } }
                    a href="/certificates" { "Certificates" }
                    @if user.role >= Role::Admin {
                        a href="/users" { "Accounts" }
                        a href="/audit" { "Audit log" }
                    }
                    span.who {
                        span { (user.name) " (" (user.role.as_str()) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page without the navigation (login, errors).
pub fn bare(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · dlpgate" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { h1 { (title) } p { (message) } p { a href="/" { "Back" } } } }
        }
    }
}

/// A stored time (ms since the epoch) as `2026-12-07 03:10:53 UTC`.
pub fn time(ms: i64) -> String {
    let t = time::OffsetDateTime::from(crate::store::from_millis(ms));
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&format).unwrap_or_else(|_| ms.to_string())
}
