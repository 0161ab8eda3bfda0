//! A plain HTTP/1.1 client for the web console's tests, and the pieces of its pages they read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Http {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Http {
    pub fn header(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Http {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Http { status, head: head.to_string(), body: body.to_string() }
}

/// Form-encodes pairs.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&").into_bytes()
}

pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Waits until the console listens (it starts after the ICAP listener the support waits for).
pub fn wait_for(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !testpeers::listening(port) {
        assert!(std::time::Instant::now() < deadline, "the console is not listening on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `csrf` hidden field of a page.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_string()
}

/// Loads the login form and posts it; the answer.
pub fn try_login(port: u16, name: &str, password: &str) -> Http {
    let form_page = http(port, "GET", "/login", &[], b"");
    let login_cookie = form_page.header("set-cookie")[0].split(';').next().unwrap().to_string();
    let token = csrf_of(&form_page.body);
    http(
        port,
        "POST",
        "/login",
        &[FORM, ("Cookie", &login_cookie)],
        &form(&[("name", name), ("password", password), ("csrf", &token)]),
    )
}

/// Logs in; the session cookie (`name=value`) and the CSRF token of its pages.
pub fn session(port: u16, name: &str, password: &str) -> (String, String) {
    let answer = try_login(port, name, password);
    assert_eq!(answer.status, 303, "login of {name}: {}", answer.head);
    let cookie = answer
        .header("set-cookie")
        .into_iter()
        .find(|c| c.contains("dlpgate_session="))
        .expect("a session cookie");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = http(port, "GET", "/", &[("Cookie", &cookie)], b"");
    assert_eq!(page.status, 200);
    (cookie, csrf_of(&page.body))
}

/// Starts a REQMOD upload of `body` named `file_name` to an ICAP server; gives the incident id
/// of its block answer.
pub fn upload_incident(icap: std::net::SocketAddr, file_name: &str, body: &[u8]) -> String {
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
    let (answer, _) = super::exchange_raw(icap, &msg, Duration::from_secs(10));
    let answer = String::from_utf8_lossy(&answer).to_string();
    super::load::incident_id(&answer).unwrap_or_else(|| panic!("no incident id in {answer}"))
}
