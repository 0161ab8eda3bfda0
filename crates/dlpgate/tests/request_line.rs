//! The request line is inspected (issue 11): a GET has no body, but its query string can
//! carry a card number, and a file name an SSN. Driven by the real c-icap-client; the
//! incidents must hold no matched value in clear, URL and file name included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::c_icap_client::{blocked, Answer};
use support::{require, Dlpgate};

fn icap(server: &Dlpgate, args: &[&str]) -> Answer {
    let out = Command::new(require("c-icap-client"))
        .args(["-i", "127.0.0.1", "-p", &server.port.to_string(), "-v"])
        .args(args)
        .output()
        .unwrap();
    Answer::of(&out)
}

#[test]
fn request_lines_and_file_names_are_inspected_and_stored_masked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Dlpgate::start_with_data(&data, &[]);
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "quarterly numbers, nothing else\n").unwrap();
    let body = body.to_str().unwrap();

    // GETs (no body at all) whose URL leaks, in every spelling a browser sends.
    for url in [
        "http://shop.test/pay?card=4111+1111+1111+1111&lang=en",
        "http://shop.test/pay?card=4111%201111%201111%201111",
        "http://shop.test/orders/4111111111111111/view",
        "http://shop.test/form?ssn=123-45-6789",
    ] {
        let a = icap(&server, &["-s", "reqmod", "-req", url]);
        assert!(blocked(&a), "{url}: {}\n{}", a.text, server.log());
        let a = icap(&server, &["-s", "reqmod", "-req", url, "-nopreview"]);
        assert!(blocked(&a), "{url} without preview: {}", a.text);
    }
    // Look-alikes in a URL pass.
    for url in [
        "http://shop.test/pay?order=4111-1111-1111&id=550e8400-e29b-41d4-a716-446655440000",
        "http://shop.test/search?q=4111111111111112&ts=1700000000123",
        "http://shop.test/",
    ] {
        let a = icap(&server, &["-s", "reqmod", "-req", url]);
        assert_eq!(a.status, 204, "{url}: {}", a.text);
    }
    // A file name carrying an SSN, in an upload's and in a download's Content-Disposition.
    let upload = icap(
        &server,
        &[
            "-s",
            "reqmod",
            "-req",
            "http://upload.test/upload",
            "-f",
            body,
            "-hx",
            "Content-Disposition: attachment; filename*=UTF-8''ssn%20123-45-6789.txt",
        ],
    );
    assert!(blocked(&upload), "{}", upload.text);
    assert!(!upload.text.contains("123-45-6789"), "the block answer names the file masked: {}", upload.text);
    let download = icap(
        &server,
        &[
            "-s",
            "respmod",
            "-resp",
            "http://download.test/report",
            "-f",
            body,
            "-rhx",
            "Content-Disposition: attachment; filename=\"ssn 123-45-6789.txt\"",
        ],
    );
    assert!(blocked(&download), "{}", download.text);
    let clean = icap(
        &server,
        &[
            "-s",
            "reqmod",
            "-req",
            "http://upload.test/upload",
            "-f",
            body,
            "-hx",
            "Content-Disposition: attachment; filename=\"report-2024-03.txt\"",
        ],
    );
    assert_eq!(clean.status, 204, "{}", clean.text);

    // Nothing matched is stored or shown in clear: not in the URL, not in the file name.
    let export = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["incidents", "export", "--format", "json", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    let export = String::from_utf8_lossy(&export.stdout).to_string();
    assert!(export.contains("(url)") && export.contains("(filename)"), "{export}");
    assert!(export.contains("card=***"), "the URL is stored with its values masked: {export}");
    let clear = [
        "4111+1111+1111+1111",
        "4111%201111",
        "4111 1111 1111 1111",
        "4111111111111111",
        "123-45-6789",
        "ssn%20123",
    ];
    for c in clear {
        assert!(!export.contains(c), "an incident holds {c}: {export}");
        assert!(!server.log().contains(c), "the log holds {c}");
        for entry in std::fs::read_dir(&data).unwrap().flatten() {
            if entry.path().is_file() {
                let bytes = std::fs::read(entry.path()).unwrap();
                assert!(
                    !bytes.windows(c.len()).any(|w| w == c.as_bytes()),
                    "{} holds {c}",
                    entry.path().display()
                );
            }
        }
    }
}

/// An upload's request headers are inspected (a custom header, a Referer's query string, a
/// host name, the URL's user information); the site's own credentials (`Cookie`,
/// `Authorization`) are not, so a session token or an API token sent to its own service
/// blocks nothing.
#[test]
fn request_headers_are_inspected_but_not_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Dlpgate::start_with_data(&data, &[]);
    for (url, header) in [
        ("http://x.test/", "X-Card: 4111-1111-1111-1111"),
        ("http://x.test/", "Referer: http://y.test/?cc=4111%201111%201111%201111"),
        ("http://x.test/", "User-Agent: agent 4111 1111 1111 1111"),
        ("http://4111-1111-1111-1111.x.test/", "X-Nothing: 1"),
        ("http://4111-1111-1111-1111@x.test/", "X-Nothing: 1"),
    ] {
        let a = icap(&server, &["-s", "reqmod", "-req", url, "-hx", header]);
        assert!(blocked(&a), "{url} {header}: {}\n{}", a.text, server.log());
    }
    let token = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    for header in [
        format!("Authorization: token {token}"),
        format!("Cookie: session={token}; cc=4111-1111-1111-1111"),
        "X-Order: 4111-1111-1111-1112".to_string(),
    ] {
        let a = icap(&server, &["-s", "reqmod", "-req", "http://api.test/", "-hx", &header]);
        assert_eq!(a.status, 204, "{header}: {}", a.text);
    }
    // The incidents hold the headers' evidence masked, and the URL with its host masked.
    let export = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["incidents", "export", "--format", "json", "--data-dir", data.to_str().unwrap()])
        .output()
        .unwrap();
    let export = String::from_utf8_lossy(&export.stdout).to_string();
    assert!(export.contains("(headers)"), "{export}");
    for c in ["4111-1111-1111-1111", "4111 1111 1111 1111", "4111%201111"] {
        assert!(!export.contains(c), "an incident holds {c}: {export}");
        assert!(!server.log().contains(c), "the log holds {c}");
    }
}
