//! Document fingerprints end to end: `fingerprint add|list|remove` on generated protected
//! documents (text, Word and OpenDocument originals, a licence header subtracted as a
//! template), `policy test --data-dir`, `serve` with the real c-icap-client (REQMOD and
//! RESPMOD, and a document added while it runs), and `scan` through it. Excerpts,
//! reformatted copies and copies in other formats block; documents on the same topic and
//! documents sharing only the licence header pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use inspect::testkit::fingerprints::{edited, licence_header, protected_document, reformatted, Corpus};
use support::c_icap_client::{blocked, Answer};
use support::{require, Dlpgate};

fn dlpgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(args).env_remove("DLPGATE_LOG").output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

const POLICY: &str = "[policy]\nname = \"fp\"\ndisable = [\"phone\", \"email\"]\n\n\
    [[rule]]\nname = \"protected-documents\"\nfingerprint = { index = \"contracts\", min_containment = 0.2 }\n\
    severity = \"high\"\naction = \"block\"\n";

/// Protected document `i`: the licence header, then its own text.
fn doc(i: u64) -> String {
    format!("{}\n\n{}", licence_header(), protected_document(i, 1200))
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// The protected folder: documents 0-7 as text, 8 as Word, 9 as OpenDocument; and the
/// licence header as a template file.
fn originals(dir: &Path) -> (PathBuf, PathBuf) {
    let folder = dir.join("contracts");
    std::fs::create_dir_all(folder.join("2024")).unwrap();
    for i in 0..8 {
        std::fs::write(folder.join(format!("doc{i}.txt")), doc(i)).unwrap();
    }
    std::fs::write(folder.join("2024/doc8.docx"), inspect::testkit::docx(&lines(&doc(8)))).unwrap();
    std::fs::write(folder.join("2024/doc9.odt"), inspect::testkit::odf("odt", &lines(&doc(9)))).unwrap();
    let licence = dir.join("licence.txt");
    std::fs::write(&licence, licence_header()).unwrap();
    (folder, licence)
}

fn excerpt(s: &str, from: f64, share: f64) -> String {
    let w: Vec<&str> = s.split_whitespace().collect();
    let a = (w.len() as f64 * from) as usize;
    w[a..a + (w.len() as f64 * share) as usize].join(" ")
}

/// Objects that must block, and objects that must pass.
fn cases(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    let write = |name: &str, body: Vec<u8>| {
        let p = cases.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let filler = |seed| Corpus::new(seed).prose(1500);
    let body3 = protected_document(3, 1200);
    let block = vec![
        write("renamed_copy.bin", doc(0).into_bytes()),
        write(
            "excerpt_30.txt",
            format!("{}\n\n{}\n\n{}", filler(7), excerpt(&body3, 0.3, 0.3), filler(8)).into_bytes(),
        ),
        write(
            "excerpt_60.txt",
            format!("Fwd:\n{}\n-- \nsent from my phone", excerpt(&body3, 0.1, 0.6)).into_bytes(),
        ),
        write("reformatted.txt", reformatted(&doc(1)).into_bytes()),
        write("edited.txt", edited(&doc(2), 20, 5).into_bytes()),
        write("txt_as.docx", inspect::testkit::docx(&lines(&doc(4)))),
        write("txt_as.pdf", inspect::testkit::pdf(&lines(&doc(5)), false)),
        write("docx_as.html", inspect::testkit::wrap("html", &doc(8)).bytes),
        write("odt_as.pdf", inspect::testkit::pdf(&lines(&doc(9)), false)),
        write("as_mail.eml", inspect::testkit::wrap("eml", &doc(6)).bytes),
    ];
    let allow = vec![
        write("same_topic.txt", filler(90).into_bytes()),
        write("licence_only.txt", format!("{}\n\n{}", licence_header(), filler(91)).into_bytes()),
        write("excerpt_10.txt", format!("{}\n{}", filler(92), excerpt(&body3, 0.5, 0.1)).into_bytes()),
        write("unprotected_doc.txt", doc(11).into_bytes()),
    ];
    (block, allow)
}

fn add(data: &Path, args: &[&str]) -> Output {
    let mut a = vec!["fingerprint", "add", "--data-dir", data.to_str().unwrap(), "--name", "contracts"];
    a.extend_from_slice(args);
    dlpgate(&a)
}

fn policy_test(data: &Path, policy: &Path, files: &[PathBuf]) -> Vec<(String, serde_json::Value)> {
    let mut args = vec!["policy", "test", "--json", "--data-dir", data.to_str().unwrap(), "--policy"];
    args.push(policy.to_str().unwrap());
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = dlpgate(&args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let name =
                Path::new(v["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
            (name, v["verdict"].clone())
        })
        .collect()
}

#[test]
fn add_list_remove_and_policy_test() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (folder, licence) = originals(dir.path());
    let out = add(&data, &[folder.to_str().unwrap(), "--exclude", licence.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("10 documents and 1 templates added"), "{said}");
    assert!(
        data.join("fingerprints/contracts.fpi").exists() && data.join("fingerprints/contracts.docs").exists()
    );

    let out = dlpgate(&["fingerprint", "list", "--data-dir", data.to_str().unwrap()]);
    assert!(
        text(&out).contains("contracts: 10 documents") && text(&out).contains("1 templates subtracted"),
        "{}",
        text(&out)
    );
    let out = dlpgate(&["fingerprint", "list", "--data-dir", data.to_str().unwrap(), "contracts"]);
    assert!(text(&out).contains("contracts/2024/doc8.docx: document"), "{}", text(&out));
    assert!(text(&out).contains("(template) licence.txt: template"), "{}", text(&out));

    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let (block, allow) = cases(dir.path());
    let verdicts = policy_test(&data, &policy, &[block.clone(), allow.clone()].concat());
    assert_eq!(verdicts.len(), block.len() + allow.len());
    let protected_words: Vec<String> = (0..10).map(|i| protected_document(i, 1200)).collect();
    for (name, v) in &verdicts {
        let should_block = block.iter().any(|b| b.ends_with(name));
        assert_eq!(v["decision"] == "block", should_block, "{name}: {v}");
        // Evidence names documents and shares, never their text.
        let json = v.to_string();
        for d in &protected_words {
            let run: Vec<&str> = d.split_whitespace().skip(40).take(4).collect();
            assert!(!json.contains(&run.join(" ")), "{name} shows text: {json}");
        }
    }
    let evidence = |name: &str| {
        let (_, v) = verdicts.iter().find(|(n, _)| n == name).unwrap();
        v["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["masked"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(evidence("renamed_copy.bin").contains(&"contracts: contracts/doc0.txt: exact copy".to_string()));
    let e = evidence("excerpt_30.txt");
    assert!(
        e.iter().any(|m| m.starts_with("contracts: contracts/doc3.txt: ") && m.contains("% of its text")),
        "{e:?}"
    );
    assert!(evidence("odt_as.pdf").iter().any(|m| m.starts_with("contracts: contracts/2024/doc9.odt: ")));

    // Removing a document: its copy passes, the others still block.
    let out = dlpgate(&[
        "fingerprint",
        "remove",
        "--data-dir",
        data.to_str().unwrap(),
        "contracts",
        "contracts/doc0.txt",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v = policy_test(&data, &policy, &block[..2]);
    assert_eq!(v[0].1["decision"], "allow", "{:?}", v[0]);
    assert_eq!(v[1].1["decision"], "block", "{:?}", v[1]);
    let out =
        dlpgate(&["fingerprint", "remove", "--data-dir", data.to_str().unwrap(), "contracts", "nope.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("has no document \"nope.txt\""), "{}", text(&out));

    // Bad input: clear errors, the index unchanged.
    let before = std::fs::read(data.join("fingerprints/contracts.fpi")).unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    for (args, says) in
        [(vec!["/no/such/file"], "cannot read /no/such/file"), (vec![empty.to_str().unwrap()], "is empty")]
    {
        let out = add(&data, &args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
    let out = dlpgate(&[
        "fingerprint",
        "add",
        "--data-dir",
        data.to_str().unwrap(),
        "--name",
        "../x",
        licence.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(data.join("fingerprints/contracts.fpi")).unwrap(), before);

    let out = dlpgate(&["fingerprint", "remove", "--data-dir", data.to_str().unwrap(), "contracts"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = dlpgate(&["policy", "check", "--data-dir", data.to_str().unwrap(), policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no fingerprint index \"contracts\""), "{}", text(&out));
}

fn send(server: &Dlpgate, file: &Path, service: &str) -> Answer {
    let mut cmd = Command::new(require("c-icap-client"));
    cmd.args(["-i", "127.0.0.1", "-p", &server.port.to_string(), "-v", "-f"]).arg(file);
    if service == "reqmod" {
        cmd.args(["-s", "reqmod", "-req", "http://upload.test/doc"]);
    } else {
        cmd.args(["-s", "respmod", "-resp", "http://download.test/doc"]);
    }
    Answer::of(&cmd.output().unwrap())
}

#[test]
fn serve_over_icap_scan_and_a_document_added_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (folder, licence) = originals(dir.path());
    assert!(add(&data, &[folder.to_str().unwrap(), "--exclude", licence.to_str().unwrap()]).status.success());
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let server = Dlpgate::start_with_data(&data, &["--policy", policy.to_str().unwrap()]);
    let (block, allow) = cases(dir.path());
    for service in ["reqmod", "respmod"] {
        for f in &block {
            let a = send(&server, f, service);
            assert!(blocked(&a), "{service} {}: {}", f.display(), a.text);
            assert!(a.text.contains("protected-documents"), "{}", a.text);
        }
        for f in &allow {
            let a = send(&server, f, service);
            assert!(!blocked(&a) && matches!(a.status, 200 | 204), "{service} {}: {}", f.display(), a.text);
        }
    }

    // `scan` through the server.
    let uri = format!("icap://127.0.0.1:{}/reqmod", server.port);
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["scan", "--json", "--server", &uri, dir.path().join("cases").to_str().unwrap()])
        .env("DLPGATE_CONFIG_DIR", dir.path().join("cfg"))
        .env_remove("DLPGATE_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let mut seen = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = Path::new(v["path"].as_str().unwrap()).file_name().unwrap().to_owned();
        let should_block = block.iter().any(|b| b.file_name() == Some(&name));
        assert_eq!(v["verdict"] == "block", should_block, "{line}");
        seen += 1;
    }
    assert_eq!(seen, block.len() + allow.len());

    // Document 11 is added while the server runs: its copy blocks once the index is
    // swapped in, and requests sent meanwhile all get answers.
    let unprotected = allow.last().unwrap().clone();
    let sender = {
        let port = server.port;
        let doc = block[1].clone();
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            for _ in 0..20 {
                let out = Command::new(require("c-icap-client"))
                    .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-v", "-s", "reqmod", "-f"])
                    .arg(&doc)
                    .args(["-req", "http://upload.test/doc"])
                    .output()
                    .unwrap();
                answers.push(Answer::of(&out).status);
            }
            answers
        })
    };
    let new_doc = dir.path().join("doc11.txt");
    std::fs::write(&new_doc, doc(11)).unwrap();
    let out = add(&data, &[new_doc.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 documents and 0 templates added, 11 kept"), "{}", text(&out));
    server.wait_for_log("policy changed on disk", 1);
    let answers = sender.join().unwrap();
    assert!(answers.iter().all(|&s| s == 200 || s == 204), "{answers:?}");
    let a = send(&server, &unprotected, "reqmod");
    assert!(blocked(&a), "the new document is protected: {}", a.text);
    assert!(blocked(&send(&server, &block[0], "reqmod")), "the old documents still are");
}
