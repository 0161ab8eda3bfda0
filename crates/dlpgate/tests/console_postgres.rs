//! The web console on a shared PostgreSQL store (Debian's package, a temporary cluster on a
//! loopback port): accounts made with `console user add --store`, incidents recorded before
//! the console first opened the store (backfilled into the rule index) and after (the
//! trigger), filters, triage and its status filter, the dashboard and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::console::{http, session, upload_incident, wait_for, FORM};
use support::postgres::Postgres;
use support::{free_port, ChildGuard, Dlpgate};

const PASSWORD: &str = "correct horse battery staple";
const CARD: &[u8] = b"card 4111 1111 1111 1111\n";

#[test]
fn the_console_lists_filters_and_triages_incidents_in_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path());
    let url = pg.url();
    let server = Dlpgate::start_with_data(&dir.path().join("data"), &["--store", &url]);
    let before = upload_incident(server.addr, "before.txt", CARD);

    let mut add = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["console", "user", "add", "ann", "--role", "admin", "--store", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(PASSWORD.as_bytes()).unwrap();
    assert!(add.wait().unwrap().success());
    let after = upload_incident(server.addr, "after.txt", CARD);

    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlpgate"));
    cmd.args(["console", "--store", &url, "--console-listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.path().join("console.log")).unwrap()));
    let _console = ChildGuard::spawn("dlpgate console", &mut cmd);
    wait_for(port);
    let (cookie, csrf) = session(port, "ann", PASSWORD);
    let get = |path: &str| http(port, "GET", path, &[("Cookie", &cookie)], b"");

    let list = get("/incidents?rule=credit-card&action=block").body;
    assert!(list.contains("before.txt") && list.contains("after.txt"), "{list}");
    assert!(!get("/incidents?rule=us-ssn").body.contains("before.txt"));
    let found = get("/incidents?q=BEFORE").body;
    assert!(found.contains("before.txt") && !found.contains("after.txt"), "{found}");
    // The trigram index serves the search; its syntax characters are literal.
    let plan = pg.psql("SELECT indexdef FROM pg_indexes WHERE indexname = 'dlpgate_incidents_search'");
    assert!(plan.contains("gin_trgm_ops"), "{plan}");
    assert!(get("/incidents?q=fter.tx").body.contains("after.txt"));
    for literal in ["%25%25%25", "___", "%22+OR+%22", "fore%25", "NEAR(", "*.txt", "-before"] {
        let page = get(&format!("/incidents?q={literal}"));
        assert_eq!(page.status, 200, "{literal}");
        assert!(page.body.contains("No incident matches"), "{literal}: {}", page.body);
    }
    assert_eq!(get("/incidents?q=ab").status, 400, "too short for the index");

    let triage = http(
        port,
        "POST",
        &format!("/incidents/{before}/triage"),
        &[FORM, ("Cookie", &cookie)],
        &support::console::form(&[("csrf", &csrf), ("status", "false_positive"), ("note", "test data")]),
    );
    assert_eq!(triage.status, 303, "{}", triage.head);
    let resolved = get("/incidents?status=false_positive").body;
    assert!(resolved.contains("before.txt") && !resolved.contains("after.txt"), "{resolved}");
    let with_rule = get("/incidents?status=false_positive&rule=credit-card").body;
    assert!(with_rule.contains("before.txt"), "{with_rule}");
    let detail = get(&format!("/incidents/{before}")).body;
    assert!(detail.contains("false positive") && detail.contains("4111********1111"), "{detail}");
    assert!(get(&format!("/incidents/{after}")).body.contains("Status: <strong>new</strong>"));

    let dashboard = get("/").body;
    assert!(dashboard.contains("credit-card"), "{dashboard}");
    // Apart from the server: no live metrics, and the page says so; the store's state is read.
    assert!(dashboard.contains("not available: this console runs apart from the ICAP server"), "{dashboard}");
    assert!(dashboard.contains("PostgreSQL postgres@127.0.0.1:"), "{dashboard}");
    assert!(dashboard.contains("Reachable"), "{dashboard}");
    assert!(!dashboard.contains("password"), "{dashboard}");
    assert!(dashboard.contains("No SIEM sink"), "{dashboard}");
    let audit = get("/audit").body;
    assert!(audit.contains("triage") && audit.contains("user_add") && audit.contains("login"), "{audit}");
    let csv = get("/incidents/export.csv?rule=credit-card").body;
    assert_eq!(csv.lines().count(), 3, "{csv}");

    // No --policy: the console shows what the nodes follow, the newest stored version, and
    // sends edits to `policy push`.
    let policy = get("/policy").body;
    assert!(
        policy.contains("the newest version stored in PostgreSQL") && policy.contains("default"),
        "{policy}"
    );
    let file = dir.path().join("pushed.toml");
    std::fs::write(&file, "[policy]\nname = \"pushed-by-test\"\n\n[[rule]]\nname = \"cards\"\ndetectors = [\"credit_card\"]\naction = \"block\"\n").unwrap();
    let push = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["policy", "push", "--store", &url])
        .arg(&file)
        .output()
        .unwrap();
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    let policy = get("/policy").body;
    assert!(policy.contains("pushed-by-test"), "{policy}");
    assert!(policy.contains("Version history") && policy.contains("version 1: pushed-by-test"), "{policy}");
    let body = format!("csrf={csrf}&policy=x");
    let edit = http(port, "POST", "/policy", &[("Cookie", &cookie), FORM], body.as_bytes());
    assert!(edit.body.contains("policy push"), "{} {}", edit.status, edit.body);
}
