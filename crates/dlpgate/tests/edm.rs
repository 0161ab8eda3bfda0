//! Exact Data Match end to end: `edm index|list|remove` on a generated customer table,
//! `policy test --data-dir`, `serve` with the real c-icap-client (REQMOD and RESPMOD, and an
//! index rebuilt while it runs), and `scan` through it. Documents with a real row's fields
//! block; near misses (a primary alone, another row's fields, fields too far apart, a value
//! in no row) pass. The index holds none of the table's values in any encoding.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::c_icap_client::{blocked, Answer};
use support::{require, Dlpgate};

const FIRST: [&str; 12] = [
    "Jane", "John", "Amelia", "Omar", "Chen", "Priya", "Lucas", "Fatima", "Ivan", "Sofia", "Kwame", "Élodie",
];
const LAST: [&str; 10] =
    ["Doe", "Smith", "Okafor", "Garcia", "Nguyen", "Kowalski", "Haddad", "Müller", "Rossi", "Tanaka"];
const STREETS: [&str; 6] =
    ["Main Street", "Oak Avenue", "Harbour Road", "Mill Lane", "King Street", "Elm Court"];

/// One customer: id, name, e-mail, phone, SSN, address.
fn customer(i: usize) -> [String; 6] {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    [
        format!("CU{:07}", 1_000_003 + i * 7919 % 9_000_000),
        format!("{first} {last}{}", if i >= 120 { format!("-{}", i / 120) } else { String::new() }),
        format!("{}.{}{i}@corp.example", first.to_lowercase(), last.to_lowercase()),
        format!("({}) {:03}-{:04}", 201 + i % 700, (i * 37) % 1000, (i * 7331) % 10_000),
        format!("{:03}-{:02}-{:04}", 100 + i % 600, 10 + i % 89, 1000 + (i * 97) % 9000),
        format!("{} {}", 10 + i, STREETS[i % STREETS.len()]),
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The table as a messy export: a BOM, CRLF, a quoted name with a comma and an address with a
/// newline.
fn write_table(path: &Path, rows: usize, change: Option<(usize, &str)>) -> Vec<[String; 6]> {
    let mut text = String::from("\u{feff}customer_id,name,email,phone,ssn,address\r\n");
    let mut table = Vec::new();
    for i in 0..rows {
        let mut c = customer(i);
        if let Some((row, name)) = change {
            if row == i {
                c[1] = name.to_string();
            }
        }
        if i == 5 {
            c[1] = "Doe, Jane".to_string();
        }
        if i == 6 {
            c[5] = "16 Oak Avenue\nApt 4".to_string();
        }
        let line: Vec<String> = c.iter().map(|f| csv_field(f)).collect();
        text.push_str(&line.join(","));
        text.push_str("\r\n");
        table.push(c);
    }
    std::fs::write(path, text).unwrap();
    table
}

fn dlpgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(args).env_remove("DLPGATE_LOG").output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

const POLICY: &str = "[policy]\nname = \"edm\"\ndisable = [\"phone\", \"email\", \"us_ssn\"]\n\n\
    [[rule]]\nname = \"customer-records\"\nedm = { index = \"customers\", min_fields = 2, proximity = 300 }\n\
    severity = \"high\"\naction = \"block\"\n";

fn index(data: &Path, csv: &Path) -> Output {
    dlpgate(&[
        "edm",
        "index",
        "--data-dir",
        data.to_str().unwrap(),
        "--name",
        "customers",
        "--primary",
        "customer_id,email",
        csv.to_str().unwrap(),
    ])
}

/// Documents that must block, and near misses that must pass, for `table`.
fn documents(dir: &Path, t: &[[String; 6]]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let write = |name: &str, body: String| {
        let p = docs.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let r = &t[17];
    let other = &t[18];
    let filler = "The quarterly review covers logistics, hiring and the office move. ".repeat(8);
    let block = vec![
        write(
            "id_and_name.txt",
            format!("Escalation: customer {} ({}) called twice.\n", r[0], r[1].to_uppercase()),
        ),
        write(
            "email_and_phone.txt",
            format!(
                "{filler}\nreach {} on {}\n{filler}",
                r[2].to_uppercase(),
                r[3].replace(['(', ')', ' ', '-'], ".")
            ),
        ),
        write(
            "ssn_and_address_before_id.txt",
            format!("{} / {}\nre: account {}\n", r[4], r[5], r[0].to_lowercase()),
        ),
        write("quoted_name_row.txt", format!("{} <{}>", t[5][1], t[5][2])),
    ];
    let allow = vec![
        write("primary_only.txt", format!("Ticket for {} closed.\n", r[0])),
        write("another_rows_fields.txt", format!("Customer {} ({}, {})\n", r[0], other[1], other[3])),
        write(
            "too_far_apart.txt",
            format!("Customer {}\n{}\n{filler}{filler}\nName: {}\n", r[0], filler, r[1]),
        ),
        write("value_in_no_row.txt", format!("Customer CU0000000 ({}), {}\n", r[1], r[3])),
        write("fields_without_primary.txt", format!("{} lives at {}, phone {}\n", r[1], r[5], r[3])),
    ];
    (block, allow)
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

/// Every encoding of a value an index could leak it in.
fn encodings(value: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for v in
        [value.to_string(), value.to_lowercase(), value.chars().filter(|c| c.is_alphanumeric()).collect()]
    {
        if v.len() < 5 {
            continue;
        }
        out.push(v.as_bytes().to_vec());
        out.push(v.encode_utf16().flat_map(u16::to_le_bytes).collect());
        out.push(v.encode_utf16().flat_map(u16::to_be_bytes).collect());
        out.push(hex::encode(v.as_bytes()).into_bytes());
        out.push(hex::encode_upper(v.as_bytes()).into_bytes());
        out.push(
            base64::engine::general_purpose::STANDARD
                .encode(v.as_bytes())
                .trim_end_matches('=')
                .as_bytes()
                .to_vec(),
        );
    }
    out
}

#[test]
fn index_policy_test_and_the_index_holds_no_value() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("customers.csv");
    let table = write_table(&csv, 2000, None);
    let out = index(&data, &csv);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("2000 records, 2000 rows indexed, 0 refused"), "{said}");
    assert!(said.contains("column \"phone\": phone") && said.contains("column \"name\": text"), "{said}");

    // The key: 0600 in a 0700 directory apart from the index.
    use std::os::unix::fs::PermissionsExt;
    let key = data.join("edm-keys/customers.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(data.join("edm-keys")).unwrap().permissions().mode() & 0o777, 0o700);

    let out = dlpgate(&["edm", "list", "--data-dir", data.to_str().unwrap()]);
    assert!(
        text(&out).contains("customers: 2000 rows") && text(&out).contains("customer_id*"),
        "{}",
        text(&out)
    );

    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let (block, allow) = documents(dir.path(), &table);
    let verdicts = policy_test(&data, &policy, &[block.clone(), allow.clone()].concat());
    for (name, v) in &verdicts {
        let should_block = block.iter().any(|b| b.ends_with(name));
        assert_eq!(v["decision"] == "block", should_block, "{name}: {v}");
        let json = v.to_string();
        for cell in &table[17] {
            assert!(!json.contains(cell.as_str()), "{name} shows {cell}: {json}");
        }
    }
    let (_, first) = verdicts.iter().find(|(n, _)| n == "id_and_name.txt").unwrap();
    let edm: Vec<_> =
        first["evidence"].as_array().unwrap().iter().filter(|e| e["detector"] == "edm:customers").collect();
    // Row 18 starts on line 20: row 7's address holds a newline.
    assert_eq!(edm[0]["masked"], "customers row 18 (line 20): customer_id, name", "{first}");

    // No value of the table in the index, in any encoding.
    let bytes = std::fs::read(data.join("edm/customers.edm")).unwrap();
    for row in &table {
        for cell in row {
            for enc in encodings(cell) {
                assert!(memchr::memmem::find(&bytes, &enc).is_none(), "{cell:?} is in the index");
            }
        }
    }

    // A key others can read is refused, with the chmod to run.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = dlpgate(&["policy", "check", "--data-dir", data.to_str().unwrap(), policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("chmod 600"), "{}", text(&out));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Another key: refused by its check, not silently matching nothing.
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    let out = dlpgate(&["policy", "check", "--data-dir", data.to_str().unwrap(), policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("key does not belong"), "{}", text(&out));

    let out = dlpgate(&["edm", "remove", "--data-dir", data.to_str().unwrap(), "customers"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!key.exists() && !data.join("edm/customers.edm").exists());
    let out = dlpgate(&["policy", "check", "--data-dir", data.to_str().unwrap(), policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no EDM index \"customers\""), "{}", text(&out));
}

#[test]
fn bad_rows_are_reported_with_lines_and_too_many_fail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("messy.csv");
    let mut text_csv = String::from("customer_id,name,email\n");
    for i in 0..100 {
        match i {
            10 => text_csv.push_str("CU1,too,many,fields\n"),
            20 => text_csv.push_str(",No Id,\n"),
            30 => text_csv.push_str("CU0000029,Name 29,n29@x.example\n"),
            _ => text_csv.push_str(&format!("CU{i:07},Name {i},n{i}@x.example\n")),
        }
    }
    std::fs::write(&csv, &text_csv).unwrap();
    let out = index(&data, &csv);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("1 wrong number of fields: line 12"), "{said}");
    assert!(said.contains("1 empty primary: line 22"), "{said}");
    assert!(said.contains("1 duplicate row: line 32"), "{said}");
    // Over 5%: refused, and the old index stays.
    let before = std::fs::read(data.join("edm/customers.edm")).unwrap();
    let worse: String = text_csv
        .lines()
        .enumerate()
        .map(|(i, l)| if i % 10 == 3 { "x\n".to_string() } else { format!("{l}\n") })
        .collect();
    std::fs::write(&csv, worse).unwrap();
    let out = index(&data, &csv);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("over the 5.0% allowed"), "{}", text(&out));
    assert_eq!(std::fs::read(data.join("edm/customers.edm")).unwrap(), before);
}

fn send(server: &Dlpgate, file: &Path, service: &str) -> Answer {
    let mut cmd = Command::new(require("c-icap-client"));
    cmd.args(["-i", "127.0.0.1", "-p", &server.port.to_string(), "-v", "-f"]).arg(file);
    if service == "reqmod" {
        cmd.args(["-s", "reqmod", "-req", "http://upload.test/doc.txt"]);
    } else {
        cmd.args(["-s", "respmod", "-resp", "http://download.test/doc.txt"]);
    }
    Answer::of(&cmd.output().unwrap())
}

#[test]
fn serve_over_icap_with_a_rebuilt_index_and_scan() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("customers.csv");
    let table = write_table(&csv, 3000, None);
    assert!(index(&data, &csv).status.success());
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let server = Dlpgate::start_with_data(&data, &["--policy", policy.to_str().unwrap()]);
    let (block, allow) = documents(dir.path(), &table);
    for service in ["reqmod", "respmod"] {
        for f in &block {
            let a = send(&server, f, service);
            assert!(blocked(&a), "{service} {}: {}", f.display(), a.text);
            assert!(a.text.contains("customer-records"), "{}", a.text);
        }
        for f in &allow {
            let a = send(&server, f, service);
            assert!(!blocked(&a) && matches!(a.status, 200 | 204), "{service} {}: {}", f.display(), a.text);
        }
    }

    // `scan` through the server.
    let uri = format!("icap://127.0.0.1:{}/reqmod", server.port);
    let cfg = dir.path().join("cfg");
    let docs = dir.path().join("docs");
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["scan", "--json", "--server", &uri, docs.to_str().unwrap()])
        .env("DLPGATE_CONFIG_DIR", &cfg)
        .env_remove("DLPGATE_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = Path::new(v["path"].as_str().unwrap()).file_name().unwrap().to_owned();
        let should_block = block.iter().any(|b| b.file_name() == Some(&name));
        assert_eq!(v["verdict"] == "block", should_block, "{line}");
    }

    // Row 17 changes its name and the index is rebuilt while the server runs: the new name
    // blocks, the old one no longer corroborates, and requests sent meanwhile all get answers.
    let sender = {
        let port = server.port;
        let doc = block[0].clone();
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            for _ in 0..20 {
                let out = Command::new(require("c-icap-client"))
                    .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-v", "-s", "reqmod", "-f"])
                    .arg(&doc)
                    .args(["-req", "http://upload.test/doc.txt"])
                    .output()
                    .unwrap();
                answers.push(Answer::of(&out).status);
            }
            answers
        })
    };
    let table2 = write_table(&csv, 3000, Some((17, "Renamed Person")));
    assert!(index(&data, &csv).status.success());
    server.wait_for_log("policy changed on disk", 1);
    let answers = sender.join().unwrap();
    assert!(answers.iter().all(|&s| s == 200 || s == 204), "{answers:?}");
    let renamed = dir.path().join("renamed.txt");
    std::fs::write(&renamed, format!("customer {} is {}", table2[17][0], table2[17][1])).unwrap();
    assert!(blocked(&send(&server, &renamed, "reqmod")));
    assert!(!blocked(&send(&server, &block[0], "reqmod")), "the old name no longer matches");
}
