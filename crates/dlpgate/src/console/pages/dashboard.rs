//! The dashboard: incidents per hour over the last day (block and monitor, stacked, as an SVG
//! drawn here: no script), and the top rules and users; then the server's request rate and
//! engine latency, the store's and the SIEM sinks' state ([`super::dashboard_state`]).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};

use crate::console::auth::CurrentUser;
use crate::console::db::{now_ms, DashboardCounts};
use crate::console::http::PageError;
use crate::console::Console;

use super::dashboard_state;
use super::incidents::encode;
use super::layout::page;

/// Hours the chart covers.
pub const CHART_HOURS: i64 = 24;
/// Names in each top list.
pub const TOP_NAMES: usize = 10;

/// GET /.
pub async fn show(
    State(console): State<Arc<Console>>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, PageError> {
    let now_hour = now_ms() / 3_600_000;
    let since = (now_hour - CHART_HOURS + 1) * 3_600_000;
    let counts = console.db.dashboard(since, TOP_NAMES).await?;
    let sqlite_file = console.policy.data_dir.join(crate::store::SQLITE_FILE);
    let store = console.db.store_state(sqlite_file).await.map_err(|e| format!("{e:#}"));
    let live = console.live.as_ref();
    let body = html! {
        (dashboard_state::server(live))
        div.box { h2 { "Incidents per hour, last " (CHART_HOURS) " hours (UTC)" } (chart(&counts, now_hour)) }
        div.grid {
            div.box { h2 { "Top rules" } (top(&counts.top_rules, "rule")) }
            div.box { h2 { "Top users" } (top(&counts.top_users, "user")) }
        }
        div.grid {
            (dashboard_state::store(&console, &store))
        }
        (dashboard_state::siem(live, &store))
    };
    Ok(page("Dashboard", &user, body).into_response())
}

fn top(names: &[(String, u64)], field: &str) -> Markup {
    html! {
        @if names.is_empty() { p.note { "No incident with a " (field) " in the last " (CHART_HOURS) " hours." } }
        @else {
            table { tbody { @for (name, n) in names {
                tr { td { a href={ "/incidents?" (field) "=" (encode(name)) } { (name) } } td { (n) } }
            } } }
        }
    }
}

/// Stacked bars: block (red) under monitor (amber), one per hour, with a scale.
fn chart(counts: &DashboardCounts, now_hour: i64) -> Markup {
    const W: i64 = 960;
    const H: i64 = 200;
    const LEFT: i64 = 40;
    let first = now_hour - CHART_HOURS + 1;
    let mut hours = vec![(0u64, 0u64); usize::try_from(CHART_HOURS).unwrap_or(24)];
    for &(hour, block, monitor) in &counts.per_hour {
        if let Some(slot) = usize::try_from(hour - first).ok().and_then(|i| hours.get_mut(i)) {
            *slot = (block, monitor);
        }
    }
    let max = hours.iter().map(|(b, m)| b + m).max().unwrap_or(0).max(1);
    let bar = (W - LEFT) / CHART_HOURS;
    let scale = |n: u64| i64::try_from(n.saturating_mul(u64::try_from(H).unwrap_or(200)) / max).unwrap_or(H);
    html! {
        svg width=(W) height=(H + 30) viewBox={ "0 0 " (W) " " (H + 30) } role="img" aria-label="incidents per hour" {
            line x1=(LEFT) y1=(H) x2=(W) y2=(H) stroke="#999" {}
            text x="0" y="12" font-size="11" { (max) }
            text x="0" y=(H) font-size="11" { "0" }
            @for (i, (block, monitor)) in hours.iter().enumerate() {
                @let x = LEFT + i64::try_from(i).unwrap_or(0) * bar;
                @let hb = scale(*block);
                @let hm = scale(*monitor);
                rect x=(x + 2) y=(H - hb) width=(bar - 4) height=(hb) fill="#b3261e" { title { (block) " blocked" } }
                rect x=(x + 2) y=(H - hb - hm) width=(bar - 4) height=(hm) fill="#d29922" { title { (monitor) " monitored" } }
                @if i % 3 == 0 {
                    text x=(x) y=(H + 16) font-size="11" { (format!("{:02}:00", (first + i64::try_from(i).unwrap_or(0)).rem_euclid(24))) }
                }
            }
            rect x=(W - 200) y="0" width="10" height="10" fill="#b3261e" {}
            text x=(W - 185) y="10" font-size="11" { "block" }
            rect x=(W - 130) y="0" width="10" height="10" fill="#d29922" {}
            text x=(W - 115) y="10" font-size="11" { "monitor" }
        }
    }
}
