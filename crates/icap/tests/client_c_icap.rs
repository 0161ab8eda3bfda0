//! `icap::client` against the real c-icap server with srv_echo, started on a free loopback
//! port: OPTIONS fields, then REQMOD and RESPMOD with bodies of 0 B, 1 B, 1 KiB and 10 MiB,
//! with and without preview, with and without 204 offered, one after another on pooled
//! connections and several at once. srv_echo alternates 200 and 204; a 200 must bring the
//! body back byte-identical. c-icap missing is a failure, never a skip (CI installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use icap::client::{Client, ClientConfig, ClientRequest, IcapUri, Preview};
use icap_proto::{Headers, HttpRequestHead, HttpResponseHead, Method};

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn upload(len: usize) -> HttpRequestHead {
    let mut h = Headers::new();
    h.append("Host", "upload.test");
    h.append("Content-Length", len.to_string());
    HttpRequestHead::new("POST", "http://upload.test/file.bin", h)
}

fn download(len: usize) -> HttpResponseHead {
    let mut h = Headers::new();
    h.append("Content-Type", "application/octet-stream");
    h.append("Content-Length", len.to_string());
    HttpResponseHead::new(200, "OK", h)
}

fn request(method: Method, size: usize) -> ClientRequest {
    match method {
        Method::Reqmod => ClientRequest::reqmod(upload(size)),
        _ => ClientRequest::respmod(Some(upload(0)), download(size)),
    }
}

/// Sends one message; returns its ICAP status after checking an echo is byte-identical.
async fn exchange(client: &Client, uri: &IcapUri, req: &ClientRequest, body: Option<&[u8]>) -> u16 {
    let what = format!(
        "{} {:?} B preview={:?} 204={}",
        req.method,
        body.map(<[u8]>::len),
        req.preview,
        req.allow_204
    );
    let mut answer = Vec::new();
    let mut reader = body;
    let res = client
        .send(
            uri,
            req,
            reader.as_mut().map(|r| r as &mut (dyn tokio::io::AsyncRead + Unpin + Send)),
            &mut answer,
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let len = body.map_or(0, |b| b.len() as u64);
    if res.status == 204 && req.preview != Preview::Off {
        // A 204 to the preview: the server needs no more of the body.
        assert!(res.sent_len <= len, "{what}");
    } else {
        assert_eq!(res.sent_len, len, "{what}");
    }
    assert!(res.istag().is_some_and(|t| !t.is_empty()), "{what}: no ISTag");
    assert!(res.unmodified, "{what}: an echo changes nothing");
    match res.status {
        200 => {
            assert!(answer == body.unwrap_or_default(), "{what}: echo differs ({} bytes back)", answer.len());
            match req.method {
                Method::Reqmod => assert_eq!(
                    res.http_request.as_ref().map(|h| h.target()),
                    Some("http://upload.test/file.bin")
                ),
                _ => assert_eq!(res.http_response.as_ref().map(|h| h.status()), Some(200)),
            }
        }
        204 => assert!(req.allow_204 || req.preview != Preview::Off, "{what}: 204 was not offered"),
        other => panic!("{what}: ICAP {other}"),
    }
    res.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_against_c_icap_srv_echo() {
    let dir = tempfile::tempdir().unwrap();
    // c-icap started as root runs its workers as another user: they must reach the dir.
    let _ = std::process::Command::new("chmod").arg("0777").arg(dir.path()).status();
    let (_c_icap, port) = testpeers::start_c_icap(dir.path());
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{}/echo", port).parse().unwrap();

    let options = client.options(&uri).await.unwrap();
    assert!(
        options.methods.contains(&Method::Reqmod) && options.methods.contains(&Method::Respmod),
        "{options:?}"
    );
    assert!(options.istag.len() > 2, "{options:?}");
    assert_eq!(options.preview, Some(1024));
    assert!(options.allow.no_content);

    let mut statuses = Vec::new();
    for size in [0usize, 1, 1024, 10 * 1024 * 1024] {
        let body = pattern(size, size as u64);
        for method in [Method::Reqmod, Method::Respmod] {
            for (preview, allow_204) in
                [(Preview::FromOptions, true), (Preview::Off, true), (Preview::Off, false)]
            {
                let mut req = request(method, size);
                req.preview = preview;
                req.allow_204 = allow_204;
                let status = exchange(&client, &uri, &req, Some(&body)).await;
                if !allow_204 && preview == Preview::Off {
                    assert_eq!(status, 200, "{method} {size} B: 204 not offered and no preview");
                }
                statuses.push(status);
            }
        }
    }
    // No body at all (null-body).
    for method in [Method::Reqmod, Method::Respmod] {
        statuses.push(exchange(&client, &uri, &request(method, 0), None).await);
    }
    assert!(
        statuses.contains(&200) && statuses.contains(&204),
        "srv_echo alternates 200 and 204: {statuses:?}"
    );

    // Several at once over clones of one client: the pool hands each its own connection.
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (client, uri) = (client.clone(), uri.clone());
            tokio::spawn(async move {
                let body = pattern(1024 * 1024 + i, i as u64);
                let method = if i % 2 == 0 { Method::Reqmod } else { Method::Respmod };
                exchange(&client, &uri, &request(method, body.len()), Some(&body)).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    // The collecting form.
    let mut body: &[u8] = b"collected";
    let got = client.reqmod(&uri, upload(9), Some(&mut body)).await.unwrap();
    assert!(got.response.unmodified && (got.response.status == 204 || got.body == b"collected"));

    let err = client.options(&uri.with_service("nosuch")).await.unwrap_err();
    assert!(err.is_service_not_found() && err.was_answered(), "{err}");
}
