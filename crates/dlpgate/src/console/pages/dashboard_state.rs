//! The dashboard's live half: requests per second and engine latency from the server's own
//! metrics (inside `serve`; said to be unavailable when the console runs alone), the incident
//! store's state and each SIEM sink's. Charts are SVG drawn here.

use maud::{html, Markup};

use crate::console::db::status::{StoreState, LAG_COUNT_LIMIT};
use crate::console::live::{self, LiveMetrics, Sample};
use crate::console::Console;

use super::layout::time;

/// The server section: request rate and engine latency over the last minute, and the rate
/// per reading over the readings kept.
pub fn server(live: Option<&LiveMetrics>) -> Markup {
    let Some(live) = live else {
        return html! {
            div.box { h2 { "Server" }
                p.note { "Requests per second and engine latency: not available: this console runs apart from the \
                          ICAP server (dlpgate console). Open the console of dlpgate serve --console-listen, or \
                          read the server's /metrics endpoint." }
            }
        };
    };
    let readings = live.readings();
    let Some(now) = readings.last() else { return html! {} };
    // The last minute, or what has been kept so far.
    let minute_ago = readings.iter().find(|s| s.at_ms >= now.at_ms - 60_000).unwrap_or(now);
    let rate = live::rate(minute_ago, now);
    let quantile = |q: f64| match live::engine_quantile(minute_ago, now, q) {
        None => "no scan".to_string(),
        Some(bound) if bound.is_infinite() => "above the largest bucket".to_string(),
        Some(bound) => format!("≤ {}", seconds(bound)),
    };
    let since = (now.at_ms - minute_ago.at_ms) / 1000;
    html! {
        div.box { h2 { "Server" }
            p {
                "Requests per second (last " (since) " s): " strong id="req-rate" { (format!("{rate:.1}")) }
                " · engine latency p50 " strong { (quantile(0.5)) } ", p99 " strong { (quantile(0.99)) }
                " · requests answered since start: " (format!("{:.0}", now.requests))
            }
            (rate_chart(&readings))
            @if let Some(pending) = now.journal_pending {
                p { "Incident journal backlog (waiting for the store): " strong id="journal-pending" { (format!("{pending:.0}")) } }
            }
        }
    }
}

/// The store section.
pub fn store(console: &Console, state: &Result<StoreState, String>) -> Markup {
    html! {
        div.box { h2 { "Incident store" }
            p { (console.store_location) }
            @match state {
                Ok(s) => p {
                    "Reachable · " strong { @if s.approximate { "about " } (s.incidents) } " incidents · "
                    (bytes(s.size_bytes)) " on disk"
                },
                Err(e) => p.error { "Not reachable: " (e) },
            }
        }
    }
}

/// The SIEM section: one row per sink the store has a cursor for (a sink is known from its
/// first start), with this server's counters and last error when it runs the sink.
pub fn siem(live: Option<&LiveMetrics>, state: &Result<StoreState, String>) -> Markup {
    let counters: Vec<(String, f64, f64, f64)> =
        live.map(|l| l.readings()).and_then(|r| r.last().cloned()).map_or_else(Vec::new, |s: Sample| s.siem);
    let status = live.map(|l| l.siem.snapshot()).unwrap_or_default();
    let cursors = state.as_ref().map(|s| s.sinks.clone()).unwrap_or_default();
    html! {
        div.box { h2 { "SIEM sinks" }
            @if cursors.is_empty() && counters.is_empty() {
                p.note { "No SIEM sink (dlpgate serve --siem URL)." }
            } @else {
                table id="siem-sinks" {
                    thead { tr { th { "Sink" } th { "Queued" } th { "Delivered" } th { "Failed" } th { "Last error" } th { "Cursor lag" } th { "Cursor moved" } } }
                    tbody {
                        @for cursor in &cursors {
                            @let counts = counters.iter().find(|c| c.0 == cursor.name);
                            @let sink = status.get(&cursor.name);
                            tr {
                                td.wrap { (cursor.name) }
                                @if let Some((_, queued, delivered, failed)) = counts {
                                    td { (format!("{queued:.0}")) } td { (format!("{delivered:.0}")) } td { (format!("{failed:.0}")) }
                                } @else {
                                    td colspan="3" { span.note { "not run by this server" } }
                                }
                                td { @match sink.and_then(|s| s.last_error.as_ref()) {
                                    Some((at, e)) => { (time(*at)) ": " (e) },
                                    None => "none",
                                } }
                                td { @if cursor.lag > LAG_COUNT_LIMIT { "more than " (LAG_COUNT_LIMIT) } @else { (cursor.lag) } }
                                td { (time(cursor.updated_ms)) }
                            }
                        }
                    }
                }
                @if live.is_none() {
                    p.note { "Queued, delivered, failed and the last error are the server's: not available here, as this \
                              console runs apart from it. The cursors and their lag are read from the store." }
                }
            }
        }
    }
}

/// Requests per second between consecutive readings, as bars.
fn rate_chart(readings: &[Sample]) -> Markup {
    const W: f64 = 960.0;
    const H: f64 = 80.0;
    let rates: Vec<f64> = readings.windows(2).map(|w| live::rate(&w[0], &w[1])).collect();
    if rates.is_empty() {
        return html! { p.note { "The rate chart fills in as readings are taken (one per " (live::SAMPLE_EVERY.as_secs()) " s)." } };
    }
    let max = rates.iter().copied().fold(0.0, f64::max).max(1.0);
    let slots = (live::SAMPLES_KEPT - 1) as f64;
    let bar = (W - 40.0) / slots;
    let first = slots as usize - rates.len().min(slots as usize);
    html! {
        svg width=(W) height=(H + 20.0) viewBox={ "0 0 " (W) " " (H + 20.0) } role="img" aria-label="requests per second" {
            line x1="40" y1=(H) x2=(W) y2=(H) stroke="#999" {}
            text x="0" y="12" font-size="11" { (format!("{max:.0}/s")) }
            text x="0" y=(H) font-size="11" { "0" }
            @for (i, r) in rates.iter().rev().take(slots as usize).rev().enumerate() {
                @let h = (r / max * H).round();
                rect x=(format!("{:.1}", 40.0 + (first + i) as f64 * bar + 1.0)) y=(H - h) width=(format!("{:.1}", (bar - 2.0).max(1.0))) height=(h) fill="#2f6feb" { title { (format!("{r:.1} req/s")) } }
            }
            text x="40" y=(H + 16.0) font-size="11" { "5 minutes ago" }
            text x=(W - 30.0) y=(H + 16.0) font-size="11" { "now" }
        }
    }
}

fn seconds(s: f64) -> String {
    if s < 0.001 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n => format!("{:.1} KiB", n as f64 / 1024.0),
    }
}
