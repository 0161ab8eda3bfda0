//! Routes and what wraps every one of them: the session check (only `/login` and `/healthz`
//! answer without a session), security headers, a request deadline, and the error pages.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::auth::{same_token, CurrentUser, Role};
use super::pages;
use super::Console;

/// A request must be answered within this (the tester's scan included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest form body (triage notes, logins, account forms).
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Longest triage note kept.
pub const MAX_NOTE_CHARS: usize = 4000;

/// The session cookie over HTTPS: `__Host-` binds it to this origin, path `/`, Secure.
pub const SESSION_COOKIE_HTTPS: &str = "__Host-dlpgate_session";
/// The session cookie over loopback HTTP (a `__Host-` cookie needs Secure).
pub const SESSION_COOKIE_HTTP: &str = "dlpgate_session";

/// Every route. Each page checks its role; the layer checks the session.
pub fn router(console: Arc<Console>) -> Router {
    let protected = Router::new()
        .route("/", get(pages::dashboard::show))
        .route("/incidents", get(pages::incidents::list))
        .route("/incidents/export.csv", get(pages::export::csv))
        .route("/incidents/export.json", get(pages::export::json))
        .route("/incidents/{id}", get(pages::incident::show))
        .route("/incidents/{id}/triage", post(pages::incident::triage))
        .route(
            "/policy",
            get(pages::policy::show)
                .post(pages::policy_edit::save)
                .layer(DefaultBodyLimit::max(pages::policy_edit::MAX_POLICY_BYTES * 4)),
        )
        .route(
            "/policy/test",
            get(pages::tester::form)
                .post(pages::tester::run)
                .layer(DefaultBodyLimit::max(pages::tester::MAX_UPLOAD_BYTES + MAX_FORM_BYTES)),
        )
        .route("/certificates", get(pages::certificates::show))
        .route(
            "/connectors",
            get(pages::connectors::list)
                .post(pages::connectors::add)
                .layer(DefaultBodyLimit::max(pages::connectors::MAX_TRUST_BYTES + MAX_FORM_BYTES)),
        )
        .route("/connectors/test", post(pages::connectors::test))
        .route("/scans", get(pages::scan_jobs::list).post(pages::scan_jobs::start))
        .route("/scans/{id}", get(pages::scan_jobs::show))
        .route("/scans/{id}/cancel", post(pages::scan_jobs::cancel))
        .route("/users", get(pages::admin::users).post(pages::admin::add_user))
        .route("/audit", get(pages::admin::audit))
        .route("/logout", post(pages::login::logout))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(console.clone(), require_session));
    Router::new()
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn_with_state(console.clone(), security_headers))
        .with_state(console)
}

/// No session: a page asks for the login, anything else gets 401.
async fn require_session(State(console): State<Arc<Console>>, mut request: Request, next: Next) -> Response {
    let user = match session_cookie(request.headers(), console.https) {
        Some(token) => session_user(&console, &token).await,
        None => None,
    };
    match user {
        Some(user) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        None if request.method() == Method::GET || request.method() == Method::HEAD => {
            Redirect::to("/login").into_response()
        }
        None => (StatusCode::UNAUTHORIZED, "log in first").into_response(),
    }
}

/// The user of a session: from memory, else from the store (a session started before a
/// restart, or by another console on the same store). A store that does not answer counts as
/// no session (logged).
async fn session_user(console: &Console, token: &str) -> Option<CurrentUser> {
    let hash = super::auth::digest(token);
    if let Some(user) = console.sessions.get(token) {
        if console.sessions.save_due(token) {
            match console.db.touch_session(&hash).await {
                Ok(true) => {}
                // Ended elsewhere (a logout on another console, the account removed).
                Ok(false) => {
                    console.sessions.remove(token);
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "console: cannot save a session's activity")
                }
            }
        }
        return Some(user);
    }
    if token.len() != 64 {
        return None;
    }
    let stored = match console.db.load_session(&hash).await {
        Ok(stored) => stored?,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "console: cannot read the stored sessions");
            return None;
        }
    };
    let now = super::db::now_ms();
    let ago = |ms: i64| Duration::from_millis(u64::try_from(now.saturating_sub(ms)).unwrap_or(0));
    let user = CurrentUser { name: stored.name, role: stored.role, csrf: stored.csrf };
    console.sessions.adopt(token, user, ago(stored.created_ms), ago(stored.last_seen_ms))
}

/// Headers on every answer, and the request deadline.
async fn security_headers(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    let mut response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    };
    let headers = response.headers_mut();
    let csp = format!(
        "default-src 'none'; style-src '{}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'",
        pages::layout::style_hash()
    );
    let set = [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::X_FRAME_OPTIONS, "DENY".to_string()),
        (header::REFERRER_POLICY, "no-referrer".to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin".to_string()),
    ];
    for (name, value) in set {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if console.https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

async fn not_found() -> Response {
    PageError::NotFound.into_response()
}

/// The session token from the request's cookies.
pub fn session_cookie(headers: &HeaderMap, https: bool) -> Option<String> {
    cookie(headers, if https { SESSION_COOKIE_HTTPS } else { SESSION_COOKIE_HTTP })
}

/// A cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, and Secure over HTTPS.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: Duration, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{secure}", max_age.as_secs())
}

/// 403 unless the user's role is at least `role`.
pub fn require(user: &CurrentUser, role: Role) -> Result<(), PageError> {
    if user.role >= role {
        Ok(())
    } else {
        Err(PageError::Forbidden(format!("this needs the {} role", role.as_str())))
    }
}

/// 403 unless `token` is the session's CSRF token.
pub fn check_csrf(user: &CurrentUser, token: Option<&str>) -> Result<(), PageError> {
    match token {
        Some(token) if same_token(token, &user.csrf) => Ok(()),
        _ => Err(PageError::Forbidden("missing or wrong form token (reload the page)".to_string())),
    }
}

/// What a page can fail with; each gets its status and a short page.
#[derive(Debug)]
#[non_exhaustive]
pub enum PageError {
    /// 400.
    BadRequest(String),
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound,
    /// 500: logged, never shown (it may name files or the database).
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Self::NotFound => (StatusCode::NOT_FOUND, "no such page".to_string()),
            Self::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "console");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error (see the server log)".to_string())
            }
        };
        (status, pages::layout::bare(status.as_str(), &message)).into_response()
    }
}
