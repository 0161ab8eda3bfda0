//! The login form (with its own double-submit CSRF token, since there is no session yet),
//! the throttle, argon2id verification off the async workers, and logout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use crate::console::auth::{random_token, same_token, verify_password, CurrentUser, MAX_PASSWORD_BYTES};
use crate::console::http::{check_csrf, cookie, session_cookie, set_cookie, PageError};
use crate::console::http::{SESSION_COOKIE_HTTP, SESSION_COOKIE_HTTPS};
use crate::console::Console;

/// The login form's token cookie, scoped to `/login`.
const LOGIN_COOKIE: &str = "dlpgate_login";
/// How long a login form stays usable.
const LOGIN_FORM_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The login form fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
}

/// A form carrying only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct TokenOnly {
    csrf: Option<String>,
}

/// GET /login.
pub async fn form(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    login_page(&console, &headers, StatusCode::OK, None)
}

/// The login form. Its token is the browser's login cookie when it has one: a second load
/// (a redirected favicon request, another tab) must not invalidate the form on screen.
fn login_page(console: &Console, headers: &HeaderMap, status: StatusCode, message: Option<&str>) -> Response {
    let token = cookie(headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(random_token);
    let cookie = set_cookie(LOGIN_COOKIE, &token, "/login", LOGIN_FORM_LIFETIME, console.https);
    (status, [(header::SET_COOKIE, cookie)], render(&token, message)).into_response()
}

fn render(token: &str, message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Log in · dlpgate" }
                style { (PreEscaped(super::layout::STYLE)) }
            }
            body {
                main.login {
                    h1 { "dlpgate console" }
                    @if let Some(message) = message { div.error role="alert" { (message) } }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(token);
                        label { "Name" input name="name" autocomplete="username" required autofocus; }
                        label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

/// POST /login.
pub async fn submit(
    State(console): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(login): Form<LoginForm>,
) -> Result<Response, PageError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_token(&expected, &login.csrf) {
        return Err(PageError::Forbidden(
            "the login form expired or was not this server's: reload it".into(),
        ));
    }
    // Names are at most 64 characters: a longer one cannot exist, and is cut before it becomes
    // a throttle key (whose count is bounded, not their size).
    let name: String = login.name.trim().chars().take(64).collect();
    let keys = vec![format!("ip:{}", peer.ip()), format!("user:{}", name.to_lowercase())];
    if console.throttle.blocked(&keys) {
        tracing::warn!(%peer, user = %name, "console login throttled");
        return Ok(login_page(
            &console,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed logins: wait a few minutes."),
        ));
    }
    let password = login.password;
    let lookup = name.clone();
    let user = console.db.user(&lookup).await?;
    let verified = tokio::task::spawn_blocking(move || {
        let hash = user.as_ref().map_or(crate::console::auth::decoy_hash(), |u| u.password_hash.as_str());
        let ok = password.len() <= MAX_PASSWORD_BYTES && verify_password(hash, &password);
        user.filter(|_| ok)
    })
    .await
    .map_err(|e| PageError::Internal(e.into()))?;
    let Some(user) = verified else {
        console.throttle.failed(&keys);
        let actor = name.chars().take(64).collect::<String>();
        let detail = format!("from {}", peer.ip());
        console.db.audit(&actor, "login_failed", None, Some(&detail)).await?;
        return Ok(login_page(&console, &headers, StatusCode::UNAUTHORIZED, Some("Wrong name or password.")));
    };
    let (token, session) = console.sessions.create(&user.name, user.role);
    let hash = crate::console::auth::digest(&token);
    console.db.save_session(&hash, &session, console.sessions.lifetime(), console.sessions.idle()).await?;
    let (actor, detail) = (user.name.clone(), format!("from {}", peer.ip()));
    console.db.audit(&actor, "login", None, Some(&detail)).await?;
    let name = if console.https { SESSION_COOKIE_HTTPS } else { SESSION_COOKIE_HTTP };
    let session = set_cookie(name, &token, "/", console.sessions.lifetime(), console.https);
    let clear = set_cookie(LOGIN_COOKIE, "", "/login", Duration::ZERO, console.https);
    let mut response = Redirect::to("/").into_response();
    for value in [session, clear] {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// POST /logout.
pub async fn logout(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    headers: HeaderMap,
    Form(form): Form<TokenOnly>,
) -> Result<Response, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    if let Some(token) = session_cookie(&headers, console.https) {
        console.sessions.remove(&token);
        console.db.delete_session(&crate::console::auth::digest(&token)).await?;
    }
    console.db.audit(&user.name, "logout", None, None).await?;
    let name = if console.https { SESSION_COOKIE_HTTPS } else { SESSION_COOKIE_HTTP };
    let clear = set_cookie(name, "", "/", Duration::ZERO, console.https);
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}
