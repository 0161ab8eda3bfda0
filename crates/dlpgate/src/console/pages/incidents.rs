//! The incident list: filters (time, rule, action, user, client, service, triage status),
//! search, keyset pagination, and links to export the same filter.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use crate::console::auth::{CurrentUser, Role};
use crate::console::db::{IncidentQuery, TriageStatus, PAGE_SIZE};
use crate::console::http::PageError;
use crate::console::Console;

use super::layout::{page, time};

/// The list's query string. Empty fields mean "any".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    from: Option<String>,
    to: Option<String>,
    rule: Option<String>,
    action: Option<String>,
    user: Option<String>,
    client: Option<String>,
    service: Option<String>,
    status: Option<String>,
    q: Option<String>,
    after: Option<String>,
}

/// Longest value of one filter field.
const MAX_FILTER_CHARS: usize = 512;

impl Filters {
    /// The store query for these filters; a time or cursor that does not parse is a 400.
    pub fn to_query(&self, limit: usize) -> Result<IncidentQuery, PageError> {
        let text = |v: &Option<String>| -> Result<Option<String>, PageError> {
            match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) if v.chars().count() > MAX_FILTER_CHARS => Err(PageError::BadRequest(format!(
                    "a filter is longer than {MAX_FILTER_CHARS} characters"
                ))),
                other => Ok(other.map(str::to_string)),
            }
        };
        let status = text(&self.status)?;
        if let Some(s) = &status {
            if TriageStatus::parse(s).is_none() {
                return Err(PageError::BadRequest(format!("unknown triage status {s:?}")));
            }
        }
        let search = text(&self.q)?;
        if let Some(q) = &search {
            crate::console::db::search::Search::parse(q).map_err(PageError::BadRequest)?;
        }
        let after = match text(&self.after)? {
            None => None,
            Some(cursor) => {
                let parsed = cursor
                    .split_once(':')
                    .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_string())));
                Some(parsed.ok_or_else(|| PageError::BadRequest("bad page cursor".to_string()))?)
            }
        };
        Ok(IncidentQuery {
            from_ms: text(&self.from)?.map(|t| parse_time(&t)).transpose()?,
            to_ms: text(&self.to)?.map(|t| parse_time(&t)).transpose()?,
            rule: text(&self.rule)?,
            action: text(&self.action)?,
            user: text(&self.user)?,
            client: text(&self.client)?,
            service: text(&self.service)?,
            status,
            text: search,
            after,
            limit,
        })
    }

    /// The query string of these filters (without the cursor), for links.
    pub fn query_string(&self) -> String {
        let fields = [
            ("from", &self.from),
            ("to", &self.to),
            ("rule", &self.rule),
            ("action", &self.action),
            ("user", &self.user),
            ("client", &self.client),
            ("service", &self.service),
            ("status", &self.status),
            ("q", &self.q),
        ];
        fields
            .iter()
            .filter_map(|(k, v)| {
                v.as_deref().filter(|v| !v.trim().is_empty()).map(|v| format!("{k}={}", encode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `2026-12-07`, `2026-12-07T03:10` (an HTML datetime-local field), or RFC 3339; UTC.
fn parse_time(text: &str) -> Result<i64, PageError> {
    use time::macros::format_description;
    let bad = || {
        PageError::BadRequest(format!("cannot read the time {text:?} (use 2026-12-07 or 2026-12-07T03:10)"))
    };
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp() * 1000);
    }
    let minute = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let second = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let dt = time::PrimitiveDateTime::parse(text, &minute)
        .or_else(|_| time::PrimitiveDateTime::parse(text, &second))
        .or_else(|_| {
            time::Date::parse(text, format_description!("[year]-[month]-[day]")).map(|d| d.midnight())
        })
        .map_err(|_| bad())?;
    Ok(dt.assume_utc().unix_timestamp() * 1000)
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GET /incidents.
pub async fn list(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let q = filters.to_query(PAGE_SIZE)?;
    let page_rows = console.db.incidents(q).await?;
    let base = filters.query_string();
    let body = html! {
        (filter_form(&filters))
        @if user.role >= Role::Analyst {
            p.note {
                "Export this filter: "
                a href={ "/incidents/export.csv?" (base) } { "CSV" } " · "
                a href={ "/incidents/export.json?" (base) } { "JSON" }
            }
        }
        @if page_rows.partial {
            p.note id="search-partial" {
                "This text is common: the newest " (crate::console::db::search::WALK_ROWS_PER_PAGE)
                " incidents of this page's range were searched"
                @if let Some((ms, _)) = &page_rows.next { " (down to " (time(*ms)) ")" }
                ". Older incidents may match too: continue below, or narrow the search with a time range or filter."
            }
        }
        @if page_rows.rows.is_empty() && !page_rows.partial {
            p { "No incident matches." }
        } @else if page_rows.rows.is_empty() {
        } @else {
            table {
                thead { tr { th { "Time" } th { "Action" } th { "Rules" } th { "User" } th { "Client" } th { "Service" } th { "File / URL" } th { "Status" } } }
                tbody {
                    @for r in &page_rows.rows {
                        tr {
                            td { a href={ "/incidents/" (encode(&r.id)) } { (time(r.time_ms)) } }
                            td { span class=(action_class(&r.action)) { (r.action) } }
                            td { (r.rules.join(", ")) }
                            td { (r.user.as_deref().unwrap_or("")) }
                            td { (r.client.as_deref().unwrap_or("")) }
                            td { (r.service) }
                            td.wrap { (r.file_name.as_deref().or(r.url.as_deref()).unwrap_or("")) }
                            td { (TriageStatus::parse(&r.status).map_or(r.status.as_str(), |s| s.label())) }
                        }
                    }
                }
            }
        }
        @if let Some((ms, id)) = &page_rows.next {
            p { a href={ "/incidents?" (base) "&after=" (ms) ":" (encode(id)) } {
                @if page_rows.partial { "Search older incidents →" } @else { "Older incidents →" } } }
        }
    };
    Ok(page("Incidents", &user, body).into_response())
}

/// The CSS class of an action.
pub fn action_class(action: &str) -> &'static str {
    match action {
        "block" => "block",
        "monitor" => "monitor",
        _ => "allow",
    }
}

fn filter_form(f: &Filters) -> Markup {
    let v = |x: &Option<String>| x.clone().unwrap_or_default();
    html! {
        form.filters method="get" action="/incidents" {
            label { "From (UTC)" input type="datetime-local" name="from" value=(v(&f.from)); }
            label { "To (UTC)" input type="datetime-local" name="to" value=(v(&f.to)); }
            label { "Rule" input name="rule" value=(v(&f.rule)) size="14"; }
            label { "Action" select name="action" {
                @for (value, label) in [("", "any"), ("block", "block"), ("monitor", "monitor")] {
                    option value=(value) selected[f.action.as_deref().unwrap_or("") == value] { (label) }
                }
            } }
            label { "User" input name="user" value=(v(&f.user)) size="12"; }
            label { "Client" input name="client" value=(v(&f.client)) size="12"; }
            label { "Service" input name="service" value=(v(&f.service)) size="8"; }
            label { "Status" select name="status" {
                option value="" selected[f.status.as_deref().unwrap_or("").is_empty()] { "any" }
                @for s in TriageStatus::ALL {
                    option value=(s.as_str()) selected[f.status.as_deref() == Some(s.as_str())] { (s.label()) }
                }
            } }
            label { "Search" input type="search" name="q" value=(v(&f.q)) placeholder="file, URL, user (3+ characters), id, SHA-256"; }
            button type="submit" { "Filter" }
            a href="/incidents" { "Clear" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_cursors_parse_or_are_refused() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-01T00:01").unwrap(), 60_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert!(parse_time("yesterday").is_err());
        let f = Filters { after: Some("12:inc-1".into()), rule: Some(" r ".into()), ..Filters::default() };
        let q = f.to_query(5).unwrap();
        assert_eq!(q.after, Some((12, "inc-1".to_string())));
        assert_eq!(q.rule.as_deref(), Some("r"));
        assert!(Filters { after: Some("x".into()), ..Filters::default() }.to_query(5).is_err());
        assert!(Filters { status: Some("done".into()), ..Filters::default() }.to_query(5).is_err());
        assert_eq!(encode("a b&c=<d>"), "a%20b%26c%3D%3Cd%3E");
    }
}
