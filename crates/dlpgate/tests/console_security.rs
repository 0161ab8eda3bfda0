//! The web console's security against a real `dlpgate serve --console-listen`: no route
//! without a session, no state change without the CSRF token, roles enforced on the server,
//! an XSS file name shown as text, a brute-force login throttled, headers on every answer,
//! plain HTTP refused off loopback, and HTTPS cookies marked Secure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::console::{csrf_of, form, http, wait_for, Http, FORM};
use support::{free_port, Dlpgate};

/// The password every test account gets.
const PASSWORD: &str = "correct horse battery staple";

/// A server with a console, and accounts of each role.
struct Console {
    server: Dlpgate,
    port: u16,
}

impl Console {
    fn start() -> Self {
        let port = free_port();
        let server = Dlpgate::start(&["--console-listen", &format!("127.0.0.1:{port}")]);
        wait_for(port);
        let console = Self { server, port };
        for (name, role) in [("ann", "admin"), ("ana", "analyst"), ("vic", "viewer")] {
            console.add_user(name, role);
        }
        console
    }

    fn add_user(&self, name: &str, role: &str) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
            .args(["console", "user", "add", name, "--role", role, "--data-dir"])
            .arg(self.server.dir.path().join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// Logs in; gives the session cookie (`name=value`) and the CSRF token of its pages.
    fn login(&self, name: &str) -> (String, String) {
        let answer = self.try_login(name, PASSWORD);
        assert_eq!(answer.status, 303, "login of {name}: {}", answer.head);
        let cookie = answer
            .header("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("dlpgate_session="))
            .expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        let cookie = cookie.split(';').next().unwrap().to_string();
        let page = self.get("/", &cookie);
        assert_eq!(page.status, 200);
        (cookie, csrf_of(&page.body))
    }

    fn try_login(&self, name: &str, password: &str) -> Http {
        let form_page = http(self.port, "GET", "/login", &[], b"");
        let login_cookie = form_page.header("set-cookie")[0].split(';').next().unwrap().to_string();
        let token = csrf_of(&form_page.body);
        http(
            self.port,
            "POST",
            "/login",
            &[FORM, ("Cookie", &login_cookie)],
            &form(&[("name", name), ("password", password), ("csrf", &token)]),
        )
    }

    fn get(&self, path: &str, cookie: &str) -> Http {
        http(self.port, "GET", path, &[("Cookie", cookie)], b"")
    }

    fn post(&self, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Http {
        http(self.port, "POST", path, &[FORM, ("Cookie", cookie)], &form(pairs))
    }

    /// Sends an upload with a card number through REQMOD; gives the incident id.
    fn incident(&self, file_name: &str) -> String {
        let body = b"card 4111 1111 1111 1111\n";
        let http_head = format!(
            "POST /upload HTTP/1.1\r\nHost: upload.test\r\nContent-Type: text/plain\r\n\
             Content-Disposition: attachment; filename=\"{file_name}\"\r\n\r\n"
        );
        let mut msg = format!(
            "REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\nConnection: close\r\n\
             Encapsulated: req-hdr=0, req-body={}\r\n\r\n{http_head}{:x}\r\n",
            http_head.len(),
            body.len()
        )
        .into_bytes();
        msg.extend_from_slice(body);
        msg.extend_from_slice(b"\r\n0\r\n\r\n");
        let (answer, _) = support::exchange_raw(self.server.addr, &msg, Duration::from_secs(10));
        let answer = String::from_utf8_lossy(&answer).to_string();
        support::load::incident_id(&answer).unwrap_or_else(|| panic!("no incident id in {answer}"))
    }
}

#[test]
fn no_route_answers_without_a_session_but_login_and_healthz() {
    let console = Console::start();
    let id = console.incident("report.txt");
    let pages = [
        "/".to_string(),
        "/incidents".to_string(),
        "/incidents?rule=credit-card".to_string(),
        format!("/incidents/{id}"),
        "/incidents/export.csv".to_string(),
        "/incidents/export.json".to_string(),
        "/policy".to_string(),
        "/policy/test".to_string(),
        "/certificates".to_string(),
        "/connectors".to_string(),
        "/users".to_string(),
        "/audit".to_string(),
        "/scans".to_string(),
        "/scans/1".to_string(),
        "/no/such/page".to_string(),
        "/login/../users".to_string(),
    ];
    for path in &pages {
        let answer = http(console.port, "GET", path, &[], b"");
        assert_eq!(answer.status, 303, "GET {path}: {}", answer.head);
        assert_eq!(answer.header("location"), vec!["/login".to_string()], "GET {path}");
        assert!(!answer.body.contains(&id), "GET {path} leaked the incident");
        // A forged or expired cookie is no session either.
        let forged = console.get(path, &format!("dlpgate_session={}", "ab".repeat(32)));
        assert_eq!(forged.status, 303, "GET {path} with a forged cookie");
    }
    for path in [
        format!("/incidents/{id}/triage"),
        "/users".into(),
        "/policy/test".into(),
        "/logout".into(),
        "/scans".into(),
        "/scans/1/cancel".into(),
    ] {
        let answer = http(console.port, "POST", &path, &[FORM], b"status=resolved");
        assert_eq!(answer.status, 401, "POST {path}: {}", answer.head);
    }
    assert_eq!(http(console.port, "GET", "/healthz", &[], b"").body, "ok");
    let login = http(console.port, "GET", "/login", &[], b"");
    assert_eq!(login.status, 200);
    // Every answer carries the security headers; the policy allows no script at all.
    for answer in [&login, &http(console.port, "GET", "/", &[], b"")] {
        let csp = answer.header("content-security-policy").join("");
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(answer.header("x-content-type-options"), vec!["nosniff".to_string()]);
        assert_eq!(answer.header("x-frame-options"), vec!["DENY".to_string()]);
    }
    assert!(!login.body.contains("<script"), "{}", login.body);
}

#[test]
fn state_changes_need_the_csrf_token() {
    let console = Console::start();
    let id = console.incident("report.txt");
    let (cookie, csrf) = console.login("ann");
    let triage = format!("/incidents/{id}/triage");
    for token in [None, Some("0".repeat(64)), Some(String::new())] {
        let mut pairs = vec![("status", "resolved"), ("note", "done")];
        if let Some(token) = &token {
            pairs.push(("csrf", token));
        }
        let answer = console.post(&triage, &cookie, &pairs);
        assert_eq!(answer.status, 403, "triage with token {token:?}: {}", answer.head);
        let user = console.post(
            "/users",
            &cookie,
            &[&pairs[..], &[("name", "eve"), ("role", "admin"), ("password", PASSWORD)]].concat(),
        );
        assert_eq!(user.status, 403, "add user with token {token:?}");
        assert_eq!(console.post("/logout", &cookie, &pairs[2..]).status, 403);
        let scan =
            console.post("/scans", &cookie, &[&pairs[2..], &[("path", "/tmp"), ("connector", "x")]].concat());
        assert_eq!(scan.status, 403, "scan job with token {token:?}");
        assert_eq!(console.post("/scans/1/cancel", &cookie, &pairs[2..]).status, 403);
    }
    assert!(!console.get("/scans", &cookie).body.contains("/scans/1\""), "a job started");
    // The tester takes a multipart form: its token is checked too.
    let multipart =
        "--XX\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\ncard 4111 1111 1111 1111\r\n--XX--\r\n";
    let tester = http(
        console.port,
        "POST",
        "/policy/test",
        &[("Content-Type", "multipart/form-data; boundary=XX"), ("Cookie", &cookie)],
        multipart.as_bytes(),
    );
    assert_eq!(tester.status, 403, "{}", tester.head);
    // Nothing changed.
    let page = console.get(&format!("/incidents/{id}"), &cookie);
    assert!(page.body.contains("Status: <strong>new</strong>"), "{}", page.body);
    assert!(!console.get("/users", &cookie).body.contains("eve"));
    // With the token, it works, and the audit log says who did it.
    let ok = console.post(&triage, &cookie, &[("status", "resolved"), ("note", "done"), ("csrf", &csrf)]);
    assert_eq!(ok.status, 303, "{}", ok.head);
    let page = console.get(&format!("/incidents/{id}"), &cookie);
    assert!(page.body.contains("Status: <strong>resolved</strong> — set by ann"), "{}", page.body);
    let audit = console.get("/audit", &cookie).body;
    assert!(audit.contains("triage") && audit.contains(&id) && audit.contains("status=resolved"), "{audit}");
    // A login form needs its own token, bound to its cookie.
    let forged = http(
        console.port,
        "POST",
        "/login",
        &[FORM],
        &form(&[("name", "ann"), ("password", PASSWORD), ("csrf", &"a".repeat(64))]),
    );
    assert_eq!(forged.status, 403);
}

#[test]
fn roles_are_enforced_on_the_server() {
    let console = Console::start();
    let id = console.incident("report.txt");
    let (analyst, analyst_csrf) = console.login("ana");
    for path in ["/users", "/audit"] {
        assert_eq!(console.get(path, &analyst).status, 403, "analyst GET {path}");
    }
    let test = console.post("/connectors/test", &analyst, &[("csrf", &analyst_csrf), ("name", "x")]);
    assert_eq!(test.status, 403, "an analyst ran a connector test");
    // Scan jobs read files on the server: admins only, even to look at them.
    assert_eq!(console.get("/scans", &analyst).status, 403, "analyst GET /scans");
    assert_eq!(console.get("/scans/1", &analyst).status, 403, "analyst GET /scans/1");
    let scan =
        console.post("/scans", &analyst, &[("csrf", &analyst_csrf), ("path", "/tmp"), ("connector", "x")]);
    assert_eq!(scan.status, 403, "an analyst started a scan job");
    assert_eq!(console.post("/scans/1/cancel", &analyst, &[("csrf", &analyst_csrf)]).status, 403);
    let add = console.post(
        "/users",
        &analyst,
        &[("csrf", &analyst_csrf), ("name", "eve"), ("role", "admin"), ("password", PASSWORD)],
    );
    assert_eq!(add.status, 403, "an analyst added an account: {}", add.head);
    assert_eq!(console.try_login("eve", PASSWORD).status, 401, "the account exists");
    // The analyst's own rights work.
    assert_eq!(console.get("/incidents/export.csv", &analyst).status, 200);
    let triage = console.post(
        &format!("/incidents/{id}/triage"),
        &analyst,
        &[("csrf", &analyst_csrf), ("status", "in_progress"), ("note", "")],
    );
    assert_eq!(triage.status, 303);

    let (viewer, viewer_csrf) = console.login("vic");
    let triage = console.post(
        &format!("/incidents/{id}/triage"),
        &viewer,
        &[("csrf", &viewer_csrf), ("status", "resolved"), ("note", "")],
    );
    assert_eq!(triage.status, 403, "a viewer triaged");
    for path in [
        "/incidents/export.csv",
        "/incidents/export.json",
        "/policy/test",
        "/users",
        "/audit",
        "/connectors",
        "/scans",
    ] {
        assert_eq!(console.get(path, &viewer).status, 403, "viewer GET {path}");
    }
    assert_eq!(console.get(&format!("/incidents/{id}"), &viewer).status, 200);
    let page = console.get(&format!("/incidents/{id}"), &viewer).body;
    assert!(page.contains("in progress"), "{page}");
    assert!(!page.contains("/triage\""), "a viewer is offered the triage form");
}

#[test]
fn a_script_in_a_file_name_shows_as_text() {
    let console = Console::start();
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>.txt";
    let id = console.incident(evil);
    let (cookie, _) = console.login("ann");
    for path in [format!("/incidents/{id}"), "/incidents".to_string(), "/incidents?q=script".to_string()] {
        let page = console.get(&path, &cookie).body;
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;.txt"),
            "{path}: {page}"
        );
        assert!(!page.contains("<script") && !page.contains("<img"), "{path}: {page}");
    }
    // A search term is echoed escaped too.
    let page = console.get("/incidents?q=%22%3E%3Cscript%3E", &cookie).body;
    assert!(!page.contains("\"><script>") && page.contains("&quot;&gt;&lt;script&gt;"), "{page}");
    // The CSV export never starts a cell with a formula.
    let id2 = console.incident("=HYPERLINK(\"http://x\")");
    let csv = console.get("/incidents/export.csv", &cookie).body;
    assert!(csv.contains(&id2) && csv.contains("'=HYPERLINK"), "{csv}");
}

#[test]
fn a_brute_force_login_is_throttled() {
    let console = Console::start();
    for attempt in 0..5 {
        let answer = console.try_login("ann", &format!("wrong password {attempt}"));
        assert_eq!(answer.status, 401, "attempt {attempt}");
        assert!(answer.body.contains("Wrong name or password"), "{}", answer.body);
    }
    // Now even the right password is refused for a while, from this address and for this name.
    let answer = console.try_login("ann", PASSWORD);
    assert_eq!(answer.status, 429, "{}", answer.head);
    assert!(answer.header("set-cookie").iter().all(|c| !c.starts_with("dlpgate_session")));
    // Another name from the same address is throttled too (the address used its failures).
    assert_eq!(console.try_login("ana", PASSWORD).status, 429);
    // The attempts are in the audit log (read from the store: the throttle holds for ann).
    let db = rusqlite::Connection::open(console.server.dir.path().join("data/incidents.db")).unwrap();
    let failed: i64 = db
        .query_row(
            "SELECT count(*) FROM console_audit WHERE action = 'login_failed' AND actor = 'ann'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failed, 5);
}

#[test]
fn plain_http_is_refused_off_loopback_and_https_cookies_are_secure() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["console", "--console-listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address") && stderr.contains("--console-cert"), "{stderr}");

    support::cert_init(dir.path());
    let port = free_port();
    let server = Dlpgate::start(&[
        "--console-listen",
        &format!("127.0.0.1:{port}"),
        "--console-cert",
        &dir.path().join("server.crt").display().to_string(),
        "--console-key",
        &dir.path().join("server.key").display().to_string(),
    ]);
    wait_for(port);
    let curl = |args: &[&str]| {
        let out = Command::new(support::require("curl"))
            .args(["-sk", "-D", "-", "-o", "/dev/null"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let login = curl(&[&format!("https://127.0.0.1:{port}/login")]);
    assert!(login.starts_with("HTTP/1.1 200"), "{login}\n{}", server.log());
    assert!(login.to_lowercase().contains("strict-transport-security"), "{login}");
    let cookie = login.lines().find(|l| l.to_lowercase().starts_with("set-cookie:")).unwrap_or_default();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    // Plain HTTP to the HTTPS port gets nothing useful.
    let plain = curl(&[&format!("http://127.0.0.1:{port}/login")]);
    assert!(!plain.contains("200"), "{plain}");
}

#[test]
fn policy_edits_are_validated_audited_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    let original = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(["policy", "default"]).output().unwrap().stdout,
    )
    .unwrap();
    std::fs::write(&policy, &original).unwrap();
    let port = free_port();
    let server = Dlpgate::start(&[
        "--console-listen",
        &format!("127.0.0.1:{port}"),
        "--policy",
        &policy.display().to_string(),
    ]);
    wait_for(port);
    let console = Console { server, port };
    console.add_user("ann", "admin");
    console.add_user("ana", "analyst");

    // An analyst cannot, and nobody can without the token.
    let (analyst, analyst_csrf) = console.login("ana");
    assert_eq!(
        console.post("/policy", &analyst, &[("csrf", &analyst_csrf), ("policy", "x = 1")]).status,
        403
    );
    let (admin, csrf) = console.login("ann");
    assert_eq!(console.post("/policy", &admin, &[("policy", &original)]).status, 403);
    assert!(!console.get("/policy", &analyst).body.contains("<textarea"), "an analyst is offered the editor");

    // A broken policy is refused with its line, and the file is left alone.
    let broken = original.replacen("[[rule]]", "[[rule]]\nmin_count = \"many\"", 1);
    let refused = console.post("/policy", &admin, &[("csrf", &csrf), ("policy", &broken)]);
    assert_eq!(refused.status, 200, "{}", refused.head);
    assert!(refused.body.contains("Not saved") && refused.body.contains("line"), "{}", refused.body);
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), original);

    // A valid change is saved, reloaded by the server, and in the version history.
    let changed = original.replacen("name = \"credit-card\"", "name = \"card-numbers\"", 1);
    assert_ne!(changed, original);
    let saved = console.post("/policy", &admin, &[("csrf", &csrf), ("policy", &changed)]);
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), changed);
    console.server.wait_for_log("changed on disk: reloaded", 1);
    let page = console.get("/policy", &admin).body;
    assert!(
        page.contains("card-numbers") && page.contains("Version history") && page.contains("-&gt;"),
        "{page}"
    );
    assert!(console.get("/audit", &admin).body.contains("policy_change"));
    // The server blocks with the renamed rule.
    let id = console.incident("after-edit.txt");
    assert!(console.get(&format!("/incidents/{id}"), &admin).body.contains("card-numbers"));
}

#[test]
fn scan_jobs_refuse_bad_paths_and_report_a_real_scan() {
    let config = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Dlpgate::start(&[
        "--console-listen",
        &format!("127.0.0.1:{port}"),
        "--console-connector-dir",
        config.path().to_str().unwrap(),
    ]);
    wait_for(port);
    let console = Console { server, port };
    console.add_user("ann", "admin");
    let (cookie, csrf) = console.login("ann");
    // A connector to this same server.
    let added = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["connector", "--config-dir"])
        .arg(config.path())
        .args(["add", "self", "--server", &format!("icap://{}/reqmod", console.server.addr)])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("clean.txt"), b"nothing to see\n").unwrap();
    std::fs::write(files.path().join("card.txt"), b"card 4111 1111 1111 1111\n").unwrap();
    let dir = files.path().to_str().unwrap();
    let start = |path: &str, connector: &str| {
        console.post("/scans", &cookie, &[("csrf", &csrf), ("path", path), ("connector", connector)])
    };
    let pattern = format!("{dir}/*.txt");
    for (path, message) in [
        ("relative/path", "absolute path"),
        ("/no/such/dir/anywhere", "No such file"),
        (pattern.as_str(), "not a pattern"),
        ("", "give a path"),
        ("/dev/null", "neither a file nor a directory"),
    ] {
        let answer = start(path, "self");
        assert_eq!(answer.status, 400, "{path}: {}", answer.head);
        assert!(answer.body.contains(message), "{path}: {}", answer.body);
    }
    let unknown = start(dir, "nobody");
    assert!(unknown.status == 400 && unknown.body.contains("no connector named"), "{}", unknown.body);
    assert!(!console.get("/scans", &cookie).body.contains("/scans/1\""), "a refused job was kept");

    let started = start(dir, "self");
    assert_eq!(started.status, 303, "{}", started.body);
    let job = started.header("location").join("");
    assert_eq!(job, "/scans/1");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let page = loop {
        let page = console.get(&job, &cookie).body;
        if !page.contains("http-equiv=\"refresh\"") {
            break page;
        }
        assert!(page.contains("Cancel"), "a running job offers to cancel: {page}");
        assert!(std::time::Instant::now() < deadline, "the job never ended: {page}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(page.contains("finished"), "{page}");
    assert!(page.contains("2 / 2"), "both files done: {page}");
    assert!(page.contains("1 allowed") && page.contains("1 blocked"), "{page}");
    let card_row = page.split("<tr>").find(|row| row.contains("card.txt")).expect("a row for card.txt");
    assert!(card_row.contains("block") && card_row.contains("credit-card"), "{card_row}");
    assert!(card_row.contains("4111********1111"), "masked evidence: {card_row}");
    assert!(!page.contains("4111 1111 1111 1111"), "the clear number is shown");
    let clean_row = page.split("<tr>").find(|row| row.contains("clean.txt")).expect("a row for clean.txt");
    assert!(clean_row.contains("allow"), "{clean_row}");
    // A finished job cannot be cancelled; an unknown one is 404.
    assert_eq!(console.post("/scans/1/cancel", &cookie, &[("csrf", &csrf)]).status, 303);
    assert_eq!(console.post("/scans/99/cancel", &cookie, &[("csrf", &csrf)]).status, 404);
    assert_eq!(console.get("/scans/99", &cookie).status, 404);
    let audit = console.get("/audit", &cookie).body;
    assert!(audit.contains("scan_start") && audit.contains("connector=self job=1"), "{audit}");
    assert!(!audit.contains("scan_cancel"), "{audit}");
}

#[test]
fn a_session_survives_a_restart_and_works_on_a_second_console() {
    let console = Console::start();
    let id = console.incident("report.txt");
    let (cookie, csrf) = console.login("ann");
    let data = console.server.dir.path().join("data");
    let start_second = |port: u16| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlpgate"));
        cmd.args(["console", "--console-listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = support::ChildGuard::spawn("dlpgate console", &mut cmd);
        wait_for(port);
        guard
    };
    let second = free_port();
    let guard = start_second(second);
    let page = http(second, "GET", "/", &[("Cookie", &cookie)], b"");
    assert_eq!(page.status, 200, "the second console logged the user out: {}", page.head);
    assert!(page.body.contains("ann (admin)"), "{}", page.body);
    // The session's CSRF token came along: a state change works there.
    let triage = http(
        second,
        "POST",
        &format!("/incidents/{id}/triage"),
        &[FORM, ("Cookie", &cookie)],
        &form(&[("csrf", &csrf), ("status", "resolved"), ("note", "")]),
    );
    assert_eq!(triage.status, 303, "{}", triage.head);
    // A restart of that console: still logged in.
    drop(guard);
    let guard = start_second(second);
    assert_eq!(
        http(second, "GET", "/incidents", &[("Cookie", &cookie)], b"").status,
        200,
        "a restart logged out"
    );
    // The store holds the cookie's hash, never the cookie.
    let token = cookie.split_once('=').unwrap().1;
    for file in ["incidents.db", "incidents.db-wal"] {
        let bytes = std::fs::read(data.join(file)).unwrap_or_default();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "{file} holds the cookie");
    }
    // A logout there ends it there, after a restart too.
    let logout = http(second, "POST", "/logout", &[FORM, ("Cookie", &cookie)], &form(&[("csrf", &csrf)]));
    assert_eq!(logout.status, 303, "{}", logout.head);
    assert_eq!(http(second, "GET", "/", &[("Cookie", &cookie)], b"").status, 303);
    drop(guard);
    let _guard = start_second(second);
    assert_eq!(http(second, "GET", "/", &[("Cookie", &cookie)], b"").status, 303, "a logout was undone");
}
