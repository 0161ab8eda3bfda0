//! `dlpgate policy check|test|default`: errors name their line; `test` prints verdicts with
//! masked evidence and exits 0 (allowed), 1 (blocked) or 2 (error).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn dlpgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn check_validates_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, default_policy, _) = dlpgate(&["policy", "default"]);
    assert_eq!(code, 0);
    let good = dir.path().join("good.toml");
    std::fs::write(&good, &default_policy).unwrap();
    let (code, out, err) = dlpgate(&["policy", "check", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK"), "{out}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, format!("{default_policy}\n[[rule]]\nname = \"broken\"\nmin_count = \"many\"\n"))
        .unwrap();
    let (code, _, err) = dlpgate(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml") && err.contains("line"), "{err}");
}

#[test]
fn test_prints_masked_verdicts_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, "meeting notes, nothing sensitive; call 555-0100\n").unwrap();
    let leak = dir.path().join("leak.csv");
    std::fs::write(&leak, "name,card\nbob,5555 5555 5555 4444\n").unwrap();

    let (code, out, err) = dlpgate(&["policy", "test", clean.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ALLOW"), "{out}");

    let (code, out, _) = dlpgate(&["policy", "test", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "a folder with a leak: {out}");
    assert!(out.contains("BLOCK") && out.contains("leak.csv") && out.contains("credit_card"), "{out}");
    assert!(!out.contains("5555 5555 5555 4444") && !out.contains("5555555555554444"), "masked: {out}");

    let (code, out, _) = dlpgate(&["policy", "test", "--json", leak.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["verdict"]["decision"], "block");
    assert!(v["path"].as_str().unwrap().ends_with("leak.csv"));

    let (code, _, err) = dlpgate(&["policy", "test", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

/// `policy test DIR | head -1`: the reader goes away after one line, and dlpgate ends
/// quietly, by SIGPIPE as Unix tools do, instead of panicking in `println!`.
#[test]
fn test_ends_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    for k in 0..2000 {
        std::fs::write(dir.path().join(format!("f{k}.txt")), "nothing to see here\n").unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["policy", "test", dir.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("ALLOW"), "{first}");
    // The reader is dropped here, as `head -1` exits.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
    assert_eq!(out.status.signal(), Some(13), "ended by SIGPIPE: {:?} {err}", out.status);
}

/// Files written by the real compressors: each format the engine reads is opened and its
/// card found; each it cannot read is could-not-scan (`unsupported`), never read as raw
/// bytes in which the compressed value would go unseen. The text repeats itself around the
/// card, so that no compressor leaves the card's digits in the clear.
#[test]
fn files_from_real_compressors_are_opened_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for k in 0..60 {
        text.push_str(&format!("order {k:06} customer 1111 paid 4111 amount {k}.00\n"));
        if k == 30 {
            text.push_str("card number 4111 1111 1111 1111\n");
        }
    }
    let plain = dir.path().join("notes.txt");
    std::fs::write(&plain, &text).unwrap();
    let run = |program: &str, args: &[&str]| {
        let out =
            Command::new(testpeers::require(program)).args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run("lz4", &["-q", "-f", "notes.txt", "frame.lz4"]);
    run("lz4", &["-q", "-f", "-BD", "--content-size", "-B4", "notes.txt", "linked.lz4"]);
    run("lz4", &["-q", "-f", "-l", "notes.txt", "legacy.lz4"]);
    run("xz", &["-k", "-f", "--format=lzma", "--suffix=.lzma", "notes.txt"]);
    run("lzip", &["-k", "-f", "notes.txt"]);
    run(
        "python3",
        &["-c", "import zlib; open('notes.zlib','wb').write(zlib.compress(open('notes.txt','rb').read()))"],
    );
    run("lzop", &["-q", "-f", "notes.txt"]);
    run("gcab", &["-c", "-z", "notes.cab", "notes.txt"]);
    // `compress -c` writes to stdout: keep its output.
    let z = Command::new(testpeers::require("compress"))
        .args(["-c", "notes.txt"])
        .current_dir(dir.path())
        .output();
    std::fs::write(dir.path().join("notes.txt.Z"), z.unwrap().stdout).unwrap();

    for (file, member) in [
        ("frame.lz4", "unlz4"),
        ("linked.lz4", "unlz4"),
        ("legacy.lz4", "unlz4"),
        ("notes.txt.lzma", "unlzma"),
        ("notes.txt.lz", "lunzip"),
        ("notes.zlib", "inflate"),
    ] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("4111 1111 1111 1111"),
            "{file} holds the card in the clear"
        );
        let (code, out, err) =
            dlpgate(&["policy", "test", "--json", dir.path().join(file).to_str().unwrap()]);
        assert_eq!(code, 1, "{file}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        let evidence = v["verdict"]["evidence"].as_array().unwrap();
        assert!(
            evidence
                .iter()
                .any(|e| e["detector"] == "credit_card" && e["member"].as_str().unwrap().ends_with(member)),
            "{file}: {out}"
        );
    }
    for (file, format) in [("notes.txt.Z", "compress (.Z)"), ("notes.txt.lzo", "lzop"), ("notes.cab", "cab")]
    {
        let (code, out, err) =
            dlpgate(&["policy", "test", "--json", dir.path().join(file).to_str().unwrap()]);
        assert_eq!(code, 1, "{file}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["verdict"]["could_not_scan"]["reason"], "unsupported", "{file}: {out}");
        assert_eq!(v["verdict"]["could_not_scan"]["format"], format, "{file}: {out}");
    }
}

/// Archives as 7-Zip writes them with each of its methods, and zip's LZMA as Python writes
/// it: every member is read (the member's name says by which path), none is refused.
#[test]
fn archives_from_7zip_are_read_with_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for k in 0..400 {
        text.push_str(&format!("order {k:06} customer 1111 paid 4111 amount {k}.00\n"));
        if k == 300 {
            text.push_str("card number 4111 1111 1111 1111\n");
        }
    }
    std::fs::write(dir.path().join("notes.txt"), &text).unwrap();
    let seven = |args: &[&str]| {
        let out =
            Command::new(testpeers::require("7zz")).args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "7zz {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let mut files = Vec::new();
    for method in ["LZMA", "PPMd", "Deflate64", "BZip2", "Deflate", "Copy"] {
        let name = format!("zip-{method}.zip");
        seven(&["a", "-bso0", "-tzip", &format!("-mm={method}"), &name, "notes.txt"]);
        files.push(name);
    }
    for method in ["LZMA", "LZMA2", "PPMd", "BZip2", "Deflate"] {
        let name = format!("7z-{method}.7z");
        seven(&["a", "-bso0", "-t7z", &format!("-m0={method}"), &name, "notes.txt"]);
        files.push(name);
    }
    let py = Command::new(testpeers::require("python3"))
        .args([
            "-c",
            "import zipfile; zipfile.ZipFile('py-lzma.zip', 'w', zipfile.ZIP_LZMA).write('notes.txt')",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    files.push("py-lzma.zip".into());
    for file in &files {
        let path = dir.path().join(file);
        if !file.contains("Copy") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("4111 1111 1111 1111"),
                "{file} holds the card"
            );
        }
        let (code, out, err) = dlpgate(&["policy", "test", "--json", path.to_str().unwrap()]);
        assert_eq!(code, 1, "{file}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert!(v["verdict"]["could_not_scan"].is_null(), "{file}: {out}");
        let evidence = v["verdict"]["evidence"].as_array().unwrap();
        assert!(
            evidence
                .iter()
                .any(|e| e["detector"] == "credit_card"
                    && e["member"].as_str().unwrap().ends_with("notes.txt")),
            "{file}: {out}"
        );
    }
}

/// Files encrypted by the usual tools are could-not-scan `encrypted`, as an encrypted zip
/// is: `openssl enc`, `gpg -c` (binary and armored), `openssl cms -encrypt` (DER, and as an
/// S/MIME mail). A clear-signed message and a signed mail stay readable and block.
#[test]
fn files_encrypted_by_common_tools_are_could_not_scan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("v.txt"), "customer card 4111 1111 1111 1111\n").unwrap();
    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(testpeers::require(program))
            .args(args)
            .env("GNUPGHOME", &home)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run("openssl", &["enc", "-aes-256-cbc", "-pbkdf2", "-k", "pw", "-in", "v.txt", "-out", "v.enc"]);
    run(
        "gpg",
        &["--batch", "--passphrase", "pw", "--pinentry-mode", "loopback", "-c", "-o", "v.gpg", "v.txt"],
    );
    run(
        "gpg",
        &["--batch", "--passphrase", "pw", "--pinentry-mode", "loopback", "-c", "-a", "-o", "v.asc", "v.txt"],
    );
    run(
        "openssl",
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1", "-keyout",
            "k.pem", "-out", "c.pem",
        ],
    );
    run(
        "openssl",
        &["cms", "-encrypt", "-aes256", "-in", "v.txt", "-outform", "DER", "-out", "v.p7m", "c.pem"],
    );
    run("openssl", &["smime", "-encrypt", "-aes256", "-in", "v.txt", "-out", "v.eml", "c.pem"]);
    for file in ["v.enc", "v.gpg", "v.asc", "v.p7m", "v.eml"] {
        let (code, out, err) =
            dlpgate(&["policy", "test", "--json", dir.path().join(file).to_str().unwrap()]);
        assert_eq!(code, 1, "{file}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["verdict"]["could_not_scan"]["reason"], "encrypted", "{file}: {out}");
    }
    // Signed, not encrypted: the text is there to read.
    run(
        "openssl",
        &["smime", "-sign", "-in", "v.txt", "-signer", "c.pem", "-inkey", "k.pem", "-out", "s.eml"],
    );
    let (code, out, err) = dlpgate(&["policy", "test", "--json", dir.path().join("s.eml").to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(v["verdict"]["could_not_scan"].is_null(), "{out}");
    assert!(
        v["verdict"]["evidence"].as_array().unwrap().iter().any(|e| e["detector"] == "credit_card"),
        "{out}"
    );
}

/// EBCDIC written by Python's codecs (code pages 037 and 500, as mainframe exports are):
/// the card in it is found, the decoys are not.
#[test]
fn ebcdic_exports_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import sys\n\
        text = 'CUSTOMER 000123 JANE DOE OPENED 2024-01-15 ORDER 4111 1111 1111 1112\\n' * 3\n\
        for cp in ('cp037', 'cp500'):\n\
        \x20   open(sys.argv[1] + '/clean.' + cp, 'wb').write(text.encode(cp))\n\
        \x20   open(sys.argv[1] + '/leak.' + cp, 'wb').write((text + 'CARD 4111 1111 1111 1111\\n').encode(cp))\n";
    let out = Command::new(testpeers::require("python3"))
        .args(["-c", script, dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for cp in ["cp037", "cp500"] {
        let (code, out, err) =
            dlpgate(&["policy", "test", dir.path().join(format!("leak.{cp}")).to_str().unwrap()]);
        assert_eq!(code, 1, "{cp}: {out}{err}");
        assert!(out.contains("credit_card 4111********1111"), "{cp}: {out}");
        let (code, out, err) =
            dlpgate(&["policy", "test", dir.path().join(format!("clean.{cp}")).to_str().unwrap()]);
        assert_eq!(code, 0, "{cp}: {out}{err}");
    }
}
