//! dlpgate's ICAP client against the real c-icap server with srv_echo (which alternates 200
//! and 204): OPTIONS, REQMOD and RESPMOD, bodies of 0 B to 10 MiB, with and without preview.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use icap::client::{Client, ClientConfig, ClientRequest, IcapUri, Preview};
use icap_proto::{Headers, HttpRequestHead, HttpResponseHead, Method};
use support::{pseudo_random, start_c_icap, Dlpgate};

fn upload(len: usize) -> HttpRequestHead {
    let mut h = Headers::new();
    h.append("Host", "upload.test");
    h.append("Content-Length", len.to_string());
    HttpRequestHead::new("POST", "http://upload.test/file.bin", h)
}

fn download(len: usize) -> HttpResponseHead {
    let mut h = Headers::new();
    h.append("Content-Length", len.to_string());
    h.append("Content-Type", "application/octet-stream");
    HttpResponseHead::new(200, "OK", h)
}

async fn run_matrix(client: &Client, uri: &IcapUri, expect_echo_or_204: bool) -> (usize, usize) {
    let (mut echoed, mut no_content) = (0, 0);
    for size in [0usize, 1, 1024, 10 * 1024 * 1024] {
        let body = pseudo_random(size, size as u64 + 1);
        for method in [Method::Reqmod, Method::Respmod] {
            for preview in [Preview::FromOptions, Preview::Off] {
                let mut request = match method {
                    Method::Reqmod => ClientRequest::reqmod(upload(size)),
                    _ => ClientRequest::respmod(Some(upload(0)), download(size)),
                };
                // From OPTIONS: 1024 bytes with 204 offered; off: no preview, no 204.
                if preview == Preview::Off {
                    request.preview = Preview::Off;
                    request.allow_204 = false;
                }
                let mut reader: &[u8] = &body;
                let mut answer = Vec::new();
                let what = format!("{method} {size} B preview={preview:?}");
                let response = client.send(uri, &request, Some(&mut reader), &mut answer).await.expect(&what);
                match response.status {
                    200 => {
                        assert!(answer == body, "{what}: echoed body differs ({} bytes back)", answer.len());
                        assert!(response.unmodified, "{what}");
                        assert_eq!(response.sent_len, size as u64, "{what}");
                        echoed += 1;
                    }
                    204 => {
                        assert!(expect_echo_or_204, "{what}");
                        assert!(response.unmodified);
                        // After a preview, the rest is never sent.
                        let expected = if preview == Preview::Off { size } else { size.min(1024) };
                        assert_eq!(response.sent_len, expected as u64, "{what}");
                        no_content += 1;
                    }
                    other => panic!("{what}: status {other}"),
                }
            }
        }
    }
    (echoed, no_content)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_against_c_icap_srv_echo() {
    let dir = tempfile::tempdir().unwrap();
    let (_c_icap, port) = start_c_icap(dir.path());
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/echo").parse().unwrap();
    let options = client.options(&uri).await.unwrap();
    assert_eq!(options.methods, [Method::Respmod, Method::Reqmod]);
    assert_eq!(options.preview, Some(1024));
    assert!(options.allow.no_content);
    assert!(options.istag.starts_with('"'));
    assert_eq!(options.options_ttl, Some(3600));
    let (echoed, no_content) = run_matrix(&client, &uri, true).await;
    assert!(echoed > 0 && no_content > 0, "srv_echo alternates 200 and 204 ({echoed} / {no_content})");

    let missing = client.options(&uri.with_service("nosuch")).await.unwrap_err();
    assert!(missing.is_service_not_found(), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_against_dlpgate_serve() {
    let server = Dlpgate::start(&[]);
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{}/echo", server.port).parse().unwrap();
    let options = client.options(&uri).await.unwrap();
    assert_eq!(options.preview, Some(1024));
    let (echoed, no_content) = run_matrix(&client, &uri, true).await;
    // dlpgate's echo answers 204 after a preview, and echoes when neither 204 nor preview.
    assert_eq!((echoed, no_content), (8, 8));
}
