//! What the engine and the incident learn from the ICAP and encapsulated HTTP heads: the
//! direction, URL, file name, content type and encoding, and who the end user is (believed
//! only from the clients [`super::trust`] names).
//!
//! The request line is inspected too, body or not: the URL's path and query (decoded), the
//! `Content-Disposition` file name and an upload's request headers (with the URL's host)
//! go to the engine as meta texts, and an incident stores them masked when they matched.

use icap_proto::{Headers, Method, Request};
use inspect::meta::{masked_name, masked_url};
use inspect::{Engine, MetaText, ScanContext};

use super::trust::IdentityTrust;
use crate::store::ClaimedIdentity;

/// The end user, as Squid sends it (`icap_send_client_ip`, `icap_client_username_header`),
/// when the client that sent it is trusted to say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `X-Client-IP`, from a trusted client.
    pub x_client_ip: Option<String>,
    /// The peer's address (the client's, when no proxy sends `X-Client-IP`; the PROXY
    /// protocol's address when the listener takes one).
    pub peer: std::net::IpAddr,
    /// `X-Authenticated-User` from a trusted client, without a `Local://` or `LDAP://` prefix.
    pub user: Option<String>,
    /// `X-Authenticated-Groups` from a trusted client, comma-separated.
    pub groups: Vec<String>,
    /// The same headers from a client not trusted to send them: recorded, never used.
    pub claimed: Option<ClaimedIdentity>,
}

/// Reads the identity headers: used when `trust` believes the client (`peer`, and the
/// subject of its verified certificate), else kept as claimed.
pub fn identity(
    headers: &Headers,
    peer: &std::net::SocketAddr,
    tls_subject: Option<&str>,
    trust: &IdentityTrust,
) -> Identity {
    let x_client_ip = headers.get("x-client-ip").map(str::to_string);
    let user = headers.get("x-authenticated-user").map(strip_scheme).filter(|u| !u.is_empty());
    let groups: Vec<String> =
        headers.list("x-authenticated-groups").map(strip_scheme).filter(|g| !g.is_empty()).collect();
    if trust.trusts(peer.ip(), tls_subject) {
        return Identity { x_client_ip, peer: peer.ip(), user, groups, claimed: None };
    }
    let claimed = (x_client_ip.is_some() || user.is_some() || !groups.is_empty())
        .then_some(ClaimedIdentity { user, groups, client_ip: x_client_ip });
    Identity { x_client_ip: None, peer: peer.ip(), user: None, groups: Vec::new(), claimed }
}

impl Identity {
    /// `X-Client-IP`, else the peer address: formatted only for an incident or its log line,
    /// not for every request.
    pub fn client_addr(&self) -> String {
        self.x_client_ip.clone().unwrap_or_else(|| self.peer.to_string())
    }
}

/// `Local://alice` or `LDAP://cn=alice,...` (RFC 3507 section 4.9's examples use these forms)
/// gives `alice` or the DN.
fn strip_scheme(value: &str) -> String {
    let value = value.trim();
    match value.split_once("://") {
        Some((scheme, rest)) if scheme.chars().all(|c| c.is_ascii_alphanumeric()) => rest.to_string(),
        _ => value.to_string(),
    }
}

/// The scan context for a REQMOD (the upload is the request body) or a RESPMOD (the download
/// is the response body).
pub fn scan_context(request: &Request, who: &Identity) -> ScanContext {
    let http_request = request.http_request.as_ref();
    let body_headers: Option<&Headers> = match request.head.method {
        Method::Respmod => request.http_response.as_ref().map(|r| r.headers()),
        _ => http_request.map(|r| r.headers()),
    };
    let url = http_request.map(|r| r.target().to_string());
    let disposition = body_headers.and_then(|h| h.get("content-disposition")).and_then(disposition_filename);
    let mut meta = Vec::new();
    if let Some(u) = url.as_deref().map(MetaText::url).filter(|m| !m.text.is_empty()) {
        meta.push(u);
    }
    if let Some(f) = &disposition {
        meta.push(MetaText::filename(f));
    }
    // An upload's request headers carry data too (a custom header, a Referer's query, a
    // host name); the site's own credentials do not leave with them (`UNSCANNED_HEADERS`).
    if request.head.method != Method::Respmod {
        if let Some(r) = http_request {
            let fields = r
                .headers()
                .iter()
                .filter(|(name, _)| !UNSCANNED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)))
                .map(|(name, value)| (name, value.as_ref()));
            let headers = MetaText::headers(fields, url.as_deref());
            if !headers.text.is_empty() {
                meta.push(headers);
            }
        }
    }
    let filename = disposition.or_else(|| url.as_deref().and_then(url_filename));
    ScanContext {
        method: match request.head.method {
            Method::Respmod => inspect::Method::Respmod,
            _ => inspect::Method::Reqmod,
        },
        url,
        filename,
        content_type: body_headers.and_then(|h| h.get("content-type")).map(str::to_string),
        content_encoding: body_headers
            .and_then(|h| h.get("content-encoding"))
            .map(str::to_string)
            .filter(|e| !e.eq_ignore_ascii_case("identity")),
        user: who.user.clone(),
        groups: who.groups.clone(),
        meta,
    }
}

/// Request headers not scanned: the credentials a client sends the site it talks to
/// (session cookies hold JWTs, which would record an incident on every request; GitHub API
/// calls and `git push` carry the user's own token), and fields the ICAP client adds.
const UNSCANNED_HEADERS: [&str; 5] =
    ["authorization", "proxy-authorization", "cookie", "x-authenticated-user", "x-authenticated-groups"];

/// The URL and file name as an incident stores them (and a block answer names the file):
/// masked when a detector matches in them, so that a URL that leaked a card never stores
/// the card in clear.
pub fn stored_names(engine: &Engine, ctx: &ScanContext) -> (Option<String>, Option<String>) {
    let url = ctx.url.as_deref().map(|u| {
        if engine.finds(ctx, &MetaText::url(u))
            || engine.finds(ctx, &MetaText::headers(std::iter::empty(), Some(u)))
        {
            masked_url(u)
        } else {
            u.to_string()
        }
    });
    let name = ctx.filename.as_deref().map(|f| {
        if engine.finds(ctx, &MetaText::filename(f)) {
            masked_name(f)
        } else {
            f.to_string()
        }
    });
    (url, name)
}

/// `attachment; filename="report.docx"` or `filename*=UTF-8''report%20q3.docx`.
fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    for param in value.split(';').map(str::trim) {
        let Some((name, v)) = param.split_once('=') else { continue };
        let v = v.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = v.split_once("''").map_or(v, |(_, rest)| rest);
                return Some(percent_decode(encoded));
            }
            "filename" => plain = Some(v.to_string()),
            _ => {}
        }
    }
    plain.filter(|f| !f.is_empty())
}

/// The last path segment of a URL, when it looks like a file name.
fn url_filename(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let last = path.rsplit('/').next().unwrap_or_default();
    (!last.is_empty()).then(|| percent_decode(last))
}

fn percent_decode(s: &str) -> String {
    inspect::meta::percent_decode(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_disposition_and_url() {
        assert_eq!(disposition_filename("attachment; filename=\"q3.xlsx\"").as_deref(), Some("q3.xlsx"));
        assert_eq!(
            disposition_filename("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf").as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(url_filename("http://h/files/report%20q3.docx?x=1").as_deref(), Some("report q3.docx"));
        assert_eq!(url_filename("http://h/"), None);
        assert_eq!(url_filename("/upload.bin").as_deref(), Some("upload.bin"));
    }

    fn loopback_trusted() -> IdentityTrust {
        IdentityTrust::new(&[], "127.0.0.1:1344".parse().unwrap(), false)
    }

    #[test]
    fn matched_urls_and_names_are_stored_masked() {
        let engine = Engine::new(std::sync::Arc::new(inspect::Policy::builtin()), inspect::Limits::default());
        let ctx = ScanContext {
            url: Some("http://shop.test/pay?card=4111+1111+1111+1111&lang=en".into()),
            filename: Some("ssn 123-45-6789.txt".into()),
            ..ScanContext::default()
        };
        let (url, name) = stored_names(&engine, &ctx);
        assert_eq!(url.as_deref(), Some("http://shop.test/pay?card=***&lang=***"));
        assert_eq!(name.as_deref(), Some("***.txt"));
        let clean = ScanContext {
            url: Some("http://shop.test/pay?order=17".into()),
            filename: Some("report.txt".into()),
            ..ScanContext::default()
        };
        let (url, name) = stored_names(&engine, &clean);
        assert_eq!(url.as_deref(), Some("http://shop.test/pay?order=17"));
        assert_eq!(name.as_deref(), Some("report.txt"));
    }

    #[test]
    fn identity_strips_schemes() {
        let mut h = Headers::new();
        h.append("X-Authenticated-User", "Local://alice");
        h.append("X-Authenticated-Groups", "LDAP://finance, hr");
        h.append("X-Client-IP", "192.0.2.5");
        let who = identity(&h, &"127.0.0.1:1".parse().unwrap(), None, &loopback_trusted());
        assert_eq!(who.user.as_deref(), Some("alice"));
        assert_eq!(who.groups, ["finance", "hr"]);
        assert_eq!(who.client_addr(), "192.0.2.5");
        assert_eq!(
            identity(&Headers::new(), &"127.0.0.1:1".parse().unwrap(), None, &loopback_trusted())
                .client_addr(),
            "127.0.0.1"
        );
    }

    /// From a client the trust list does not name, the headers are claims: not the user, not
    /// the groups, not the client address; kept to be recorded.
    #[test]
    fn identity_from_an_untrusted_client_is_only_claimed() {
        let mut h = Headers::new();
        h.append("X-Authenticated-User", "Local://alice");
        h.append("X-Authenticated-Groups", "finance");
        h.append("X-Client-IP", "192.0.2.5");
        let who = identity(&h, &"198.51.100.9:4000".parse().unwrap(), None, &loopback_trusted());
        assert_eq!((who.user.as_deref(), who.groups.len()), (None, 0));
        assert_eq!(who.client_addr(), "198.51.100.9");
        let claimed = who.claimed.unwrap();
        assert_eq!(claimed.user.as_deref(), Some("alice"));
        assert_eq!(claimed.groups, ["finance"]);
        assert_eq!(claimed.client_ip.as_deref(), Some("192.0.2.5"));
        let request = icap_proto::Request {
            head: icap_proto::RequestHead::new(Method::Reqmod, "icap://h/reqmod"),
            encapsulated: None,
            http_request: None,
            http_response: None,
            preview: None,
        };
        let ctx = scan_context(
            &request,
            &identity(&h, &"198.51.100.9:1".parse().unwrap(), None, &loopback_trusted()),
        );
        assert_eq!((ctx.user, ctx.groups.len()), (None, 0), "never used for rule scoping");
        // Nothing claimed, nothing recorded.
        assert!(identity(&Headers::new(), &"198.51.100.9:1".parse().unwrap(), None, &loopback_trusted())
            .claimed
            .is_none());
    }
}
