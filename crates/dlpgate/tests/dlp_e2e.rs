//! The DLP server end to end with the real c-icap-client: every file of the engine's labelled
//! corpus, as an upload (REQMOD) and as a download (RESPMOD), with and without preview, gets
//! the verdict the default policy demands; blocks leave incidents that survive kill -9; no
//! matched value appears in clear in the store or the logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use inspect::testkit::{gzip, labelled_corpus, Sample};
use support::c_icap_client::{blocked, Answer};
use support::{require, Dlpgate};

/// c-icap-client processes at once.
const CLIENTS: usize = 8;

fn send(server: &Dlpgate, file: &Path, sample: &Sample, method: &str, preview: bool) -> Answer {
    let mut cmd = Command::new(require("c-icap-client"));
    cmd.args(["-i", "127.0.0.1", "-p", &server.port.to_string(), "-v", "-f"]).arg(file);
    let name = sample.filename.clone().unwrap_or_else(|| "upload.bin".to_string());
    let header_flag = if method == "reqmod" {
        cmd.args(["-s", "reqmod", "-req", &format!("http://upload.test/{name}")]);
        "-hx"
    } else {
        cmd.args(["-s", "respmod", "-resp", &format!("http://download.test/{name}")]);
        "-rhx"
    };
    if let Some(ct) = &sample.content_type {
        cmd.args([header_flag, &format!("Content-Type: {ct}")]);
    }
    if let Some(ce) = &sample.content_encoding {
        cmd.args([header_flag, &format!("Content-Encoding: {ce}")]);
    }
    if !preview {
        cmd.arg("-nopreview");
    }
    let out = cmd.output().unwrap();
    Answer::of(&out)
}

#[test]
fn every_corpus_file_gets_the_default_policy_verdict() {
    let server = Dlpgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut corpus = labelled_corpus();
    // The same texts again, gzip-encoded on the wire.
    let encoded: Vec<Sample> = corpus
        .iter()
        .filter(|s| s.name.starts_with("txt/") && s.content_encoding.is_none())
        .map(|s| Sample {
            name: format!("gzip-{}", s.name),
            bytes: gzip(&s.bytes),
            content_encoding: Some("gzip".to_string()),
            ..s.clone()
        })
        .collect();
    corpus.extend(encoded);
    let mut jobs = Vec::new();
    for (i, sample) in corpus.iter().enumerate() {
        let file = dir.path().join(format!("sample-{i}"));
        std::fs::write(&file, &sample.bytes).unwrap();
        for method in ["reqmod", "respmod"] {
            for preview in [true, false] {
                jobs.push((file.clone(), sample, method, preview));
            }
        }
    }
    // c-icap-client waits on its own Nagle-delayed last chunk (about 40 ms an exchange), so
    // the exchanges run on several connections at once, as a proxy's would.
    let next = AtomicUsize::new(0);
    let wrong = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| {
                while let Some((file, sample, method, preview)) =
                    jobs.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let answer = send(&server, file, sample, method, *preview);
                    let ok = if sample.expect_block { blocked(&answer) } else { answer.status == 204 };
                    if !ok {
                        wrong.lock().unwrap().push(format!(
                            "{} {method} preview={preview}: status {}",
                            sample.name, answer.status
                        ));
                    }
                }
            });
        }
    });
    let checked = jobs.len();
    let wrong = wrong.into_inner().unwrap();
    assert!(checked > 100, "the corpus is not empty ({checked})");
    assert!(
        wrong.is_empty(),
        "{} of {checked} exchanges got the wrong verdict:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn blocks_leave_durable_masked_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let card = "4111 1111 1111 1111";
    let body = dir.path().join("leak.txt");
    std::fs::write(&body, format!("quarterly numbers\ncard {card}\nssn 078-05-1120\n")).unwrap();
    let sample = Sample {
        name: "leak".into(),
        bytes: Vec::new(),
        filename: Some("leak.txt".into()),
        content_type: Some("text/plain".into()),
        content_encoding: None,
        expect_block: true,
        expect_detector: None,
    };
    let data_arg = data.to_str().unwrap().to_string();
    let mut server = Dlpgate::start_with_data(&data, &["--log", "debug"]);
    let answer = send(&server, &body, &sample, "reqmod", true);
    assert!(blocked(&answer), "{}\nserver log:\n{}", answer.text, server.log());
    let id = answer
        .text
        .lines()
        .find_map(|l| l.trim().strip_prefix("X-Incident-ID: "))
        .expect("the block answer names its incident")
        .to_string();
    // kill -9 right after the answer: the incident was committed before it left.
    server.guard.child.kill().unwrap();
    let _ = server.guard.child.wait();
    let log = server.log();

    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["incidents", "show", &id, "--data-dir", &data_arg])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("credit_card") && shown.contains("leak.txt"), "{shown}");
    assert!(shown.contains("4111********1111") || shown.contains("1111"), "masked evidence: {shown}");

    // No matched value in clear anywhere: store files (WAL included) and logs.
    for clear in ["4111111111111111", "4111 1111 1111 1111", "078-05-1120", "078051120"] {
        assert!(!log.contains(clear), "log holds {clear}");
        assert!(!shown.contains(clear), "incident shows {clear}");
        for entry in std::fs::read_dir(&data).unwrap().flatten() {
            if entry.path().is_file() {
                let bytes = std::fs::read(entry.path()).unwrap();
                assert!(
                    !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                    "{} holds {clear}",
                    entry.path().display()
                );
            }
        }
    }
}
