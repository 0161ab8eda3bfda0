//! The Prometheus endpoint of `dlpgate serve`: requests by method, ICAP status and verdict,
//! bytes scanned, request and engine latency histograms, open connections, store errors, and
//! `/healthz`; each figure moves with the traffic that was sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::BufReader;
use std::net::TcpStream;
use std::time::Duration;

use support::load::sample;
use support::{free_port, http_get, reqmod, wait_for_port, Dlpgate};

#[test]
fn metrics_follow_the_traffic() {
    let metrics_port = free_port();
    let server = Dlpgate::start(&["--metrics-listen", &format!("127.0.0.1:{metrics_port}")]);
    wait_for_port(metrics_port, Duration::from_secs(10));

    let health = http_get(metrics_port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"), "{health}");
    assert!(http_get(metrics_port, "/nope").starts_with("HTTP/1.1 404"));

    let before = http_get(metrics_port, "/metrics");
    assert_eq!(sample(&before, "dlpgate_store_errors_total"), Some(0.0), "{before}");

    // Three clean uploads, two leaks, on one connection that stays open while we look.
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut conn = BufReader::new(stream);
    let clean = b"the minutes of the weekly meeting\n";
    let leak = b"card 4111 1111 1111 1111\n";
    let mut sent = 0;
    for body in [&clean[..], &leak[..], &clean[..], &leak[..], &clean[..]] {
        let answer = reqmod(&mut conn, server.port, body).unwrap();
        assert!(matches!(answer.status, 200 | 204), "{}", answer.head);
        sent += body.len();
    }

    let m = http_get(metrics_port, "/metrics");
    let series = |labels: &str| format!("dlpgate_icap_requests_total{{{labels}}}");
    assert_eq!(sample(&m, &series(r#"method="REQMOD",status="204",verdict="allow""#)), Some(3.0), "{m}");
    assert_eq!(sample(&m, &series(r#"method="REQMOD",status="200",verdict="block""#)), Some(2.0), "{m}");
    assert_eq!(sample(&m, "dlpgate_scanned_bytes_total"), Some(sent as f64), "{m}");
    assert_eq!(sample(&m, "dlpgate_request_duration_seconds_count"), Some(5.0), "{m}");
    assert_eq!(sample(&m, "dlpgate_engine_duration_seconds_count"), Some(5.0), "{m}");
    assert!(sample(&m, "dlpgate_request_duration_seconds_sum").is_some_and(|s| s > 0.0), "{m}");
    assert!(m.contains("dlpgate_request_duration_seconds_bucket{le="), "a histogram: {m}");
    assert_eq!(sample(&m, "dlpgate_open_connections"), Some(1.0), "{m}");
    assert!(m.contains(r#"dlpgate_verdicts_total{service="reqmod",verdict="block"} 2"#), "{m}");
    assert_eq!(sample(&m, "dlpgate_store_errors_total"), Some(0.0), "{m}");

    // The connection closes: the gauge comes back down.
    drop(conn);
    let mut open = None;
    for _ in 0..100 {
        open = sample(&http_get(metrics_port, "/metrics"), "dlpgate_open_connections");
        if open == Some(0.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(open, Some(0.0));
}
