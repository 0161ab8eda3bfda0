//! The encapsulated HTTP request and response heads.
//!
//! A head parsed from the wire keeps its exact bytes, so an unmodified message is echoed
//! byte for byte; a head built or changed here is encoded afresh.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtoError, Result};
use crate::headers::{parse_decimal, Headers};

/// Header fields parsed into a stack array before a heap one of the limit's size: most heads
/// hold a few, and zeroing 128 entries (4 KiB) cost more than the parse itself.
const ON_STACK: usize = 32;

/// An HTTP request line and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequestHead {
    method: String,
    target: String,
    minor_version: u8,
    headers: Headers,
    raw: Option<Bytes>,
}

/// An HTTP status line and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponseHead {
    minor_version: u8,
    status: u16,
    reason: String,
    headers: Headers,
    raw: Option<Bytes>,
}

impl HttpRequestHead {
    /// A new HTTP/1.1 request head.
    pub fn new(method: impl Into<String>, target: impl Into<String>, headers: Headers) -> Self {
        Self { method: method.into(), target: target.into(), minor_version: 1, headers, raw: None }
    }

    /// Parses exactly one request head from `block`, which must end with its blank line.
    pub fn parse(block: Bytes, max_headers: usize) -> Result<Self> {
        if max_headers > ON_STACK {
            if let Some(head) = Self::parse_with(&block, &mut [httparse::EMPTY_HEADER; ON_STACK])? {
                return Ok(head);
            }
        }
        Self::parse_with(&block, &mut vec![httparse::EMPTY_HEADER; max_headers])?
            .ok_or_else(|| ProtoError::too_large("too many encapsulated HTTP request headers"))
    }

    /// [`Self::parse`] with room for `storage.len()` fields; `None` when there are more.
    fn parse_with<'b>(block: &'b Bytes, storage: &mut [httparse::Header<'b>]) -> Result<Option<Self>> {
        let mut req = httparse::Request::new(storage);
        let len = match req.parse(block) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                return Err(ProtoError::bad("encapsulated HTTP request head is incomplete"))
            }
            Err(httparse::Error::TooManyHeaders) => return Ok(None),
            Err(e) => return Err(ProtoError::bad(format!("encapsulated HTTP request head: {e}"))),
        };
        if len != block.len() {
            return Err(ProtoError::bad("Encapsulated offset does not match the HTTP request head"));
        }
        let head = Self {
            method: req.method.unwrap_or_default().to_string(),
            target: req.path.unwrap_or_default().to_string(),
            minor_version: req.version.unwrap_or(1),
            headers: Headers::from_httparse(req.headers),
            raw: Some(block.clone()),
        };
        check_content_length(&head.headers)?;
        Ok(Some(head))
    }

    /// The method, such as `POST`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target (URL or path).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, for changing; the head is then encoded afresh.
    pub fn headers_mut(&mut self) -> &mut Headers {
        self.raw = None;
        &mut self.headers
    }

    /// `Content-Length`, when present; repeated identical values are accepted.
    pub fn content_length(&self) -> Result<Option<u64>> {
        check_content_length(&self.headers)
    }

    /// Appends the head, blank line included.
    pub fn encode(&self, dst: &mut BytesMut) {
        if let Some(raw) = &self.raw {
            dst.extend_from_slice(raw);
            return;
        }
        dst.put_slice(self.method.as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(self.target.as_bytes());
        dst.put_slice(format!(" HTTP/1.{}\r\n", self.minor_version).as_bytes());
        self.headers.encode(dst);
        dst.put_slice(b"\r\n");
    }

    /// Length of [`HttpRequestHead::encode`].
    pub fn encoded_len(&self) -> usize {
        match &self.raw {
            Some(raw) => raw.len(),
            None => self.method.len() + self.target.len() + 12 + self.headers.encoded_len() + 2,
        }
    }
}

impl HttpResponseHead {
    /// A new HTTP/1.1 response head.
    pub fn new(status: u16, reason: impl Into<String>, headers: Headers) -> Self {
        Self { minor_version: 1, status, reason: reason.into(), headers, raw: None }
    }

    /// Parses exactly one response head from `block`, which must end with its blank line.
    pub fn parse(block: Bytes, max_headers: usize) -> Result<Self> {
        if max_headers > ON_STACK {
            if let Some(head) = Self::parse_with(&block, &mut [httparse::EMPTY_HEADER; ON_STACK])? {
                return Ok(head);
            }
        }
        Self::parse_with(&block, &mut vec![httparse::EMPTY_HEADER; max_headers])?
            .ok_or_else(|| ProtoError::too_large("too many encapsulated HTTP response headers"))
    }

    /// [`Self::parse`] with room for `storage.len()` fields; `None` when there are more.
    fn parse_with<'b>(block: &'b Bytes, storage: &mut [httparse::Header<'b>]) -> Result<Option<Self>> {
        let mut res = httparse::Response::new(storage);
        let len = match res.parse(block) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                return Err(ProtoError::bad("encapsulated HTTP response head is incomplete"))
            }
            Err(httparse::Error::TooManyHeaders) => return Ok(None),
            Err(e) => return Err(ProtoError::bad(format!("encapsulated HTTP response head: {e}"))),
        };
        if len != block.len() {
            return Err(ProtoError::bad("Encapsulated offset does not match the HTTP response head"));
        }
        let head = Self {
            minor_version: res.version.unwrap_or(1),
            status: res.code.unwrap_or_default(),
            reason: res.reason.unwrap_or_default().to_string(),
            headers: Headers::from_httparse(res.headers),
            raw: Some(block.clone()),
        };
        check_content_length(&head.headers)?;
        Ok(Some(head))
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, for changing; the head is then encoded afresh.
    pub fn headers_mut(&mut self) -> &mut Headers {
        self.raw = None;
        &mut self.headers
    }

    /// `Content-Length`, when present; repeated identical values are accepted.
    pub fn content_length(&self) -> Result<Option<u64>> {
        check_content_length(&self.headers)
    }

    /// Appends the head, blank line included.
    pub fn encode(&self, dst: &mut BytesMut) {
        if let Some(raw) = &self.raw {
            dst.extend_from_slice(raw);
            return;
        }
        dst.put_slice(format!("HTTP/1.{} {} ", self.minor_version, self.status).as_bytes());
        dst.put_slice(self.reason.as_bytes());
        dst.put_slice(b"\r\n");
        self.headers.encode(dst);
        dst.put_slice(b"\r\n");
    }

    /// Length of [`HttpResponseHead::encode`].
    pub fn encoded_len(&self) -> usize {
        match &self.raw {
            Some(raw) => raw.len(),
            None => 13 + self.reason.len() + 2 + self.headers.encoded_len() + 2,
        }
    }
}

/// Accepts repeated `Content-Length` fields only when they agree (c-icap-client repeats it).
fn check_content_length(headers: &Headers) -> Result<Option<u64>> {
    let mut found: Option<u64> = None;
    for value in headers.get_all("content-length") {
        let text = std::str::from_utf8(value).map_err(|_| ProtoError::bad("Content-Length is not text"))?;
        for item in text.split(',') {
            let n = parse_decimal("Content-Length", item)?;
            match found {
                Some(previous) if previous != n => {
                    return Err(ProtoError::bad("conflicting Content-Length values"))
                }
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_identical_content_length_is_accepted() {
        let raw = Bytes::from_static(
            b"POST http://x/upload HTTP/1.0\r\nContent-Length: 63\r\nContent-Length: 63\r\n\r\n",
        );
        let head = HttpRequestHead::parse(raw.clone(), 32).unwrap();
        assert_eq!(head.content_length().unwrap(), Some(63));
        let mut out = BytesMut::new();
        head.encode(&mut out);
        assert_eq!(out, raw);
    }

    #[test]
    fn conflicting_content_length_is_rejected() {
        let raw = Bytes::from_static(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
        assert!(HttpRequestHead::parse(raw, 32).is_err());
    }

    #[test]
    fn built_heads_encode_to_their_length() {
        let mut h = Headers::new();
        h.append("Content-Type", "text/html");
        let res = HttpResponseHead::new(403, "Forbidden", h.clone());
        let mut out = BytesMut::new();
        res.encode(&mut out);
        assert_eq!(&out[..], b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n");
        assert_eq!(out.len(), res.encoded_len());
        let req = HttpRequestHead::new("GET", "/x", h);
        let mut out = BytesMut::new();
        req.encode(&mut out);
        assert_eq!(out.len(), req.encoded_len());
        assert_eq!(HttpRequestHead::parse(out.freeze(), 8).unwrap().target(), "/x");
    }

    #[test]
    fn heads_with_more_fields_than_the_stack_array_parse_up_to_the_limit() {
        let head = |start: &str, n: usize| {
            let fields: String = (0..n).map(|k| format!("X-Field-{k}: v{k}\r\n")).collect();
            Bytes::from(format!("{start}\r\n{fields}\r\n"))
        };
        for n in [0, ON_STACK - 1, ON_STACK, ON_STACK + 1, 128] {
            let req = HttpRequestHead::parse(head("GET /x HTTP/1.1", n), 128).unwrap();
            assert_eq!(
                req.headers().get(&format!("x-field-{}", n.max(1) - 1)),
                (n > 0).then(|| format!("v{}", n - 1)).as_deref()
            );
            assert_eq!(req.encoded_len(), head("GET /x HTTP/1.1", n).len());
            let res = HttpResponseHead::parse(head("HTTP/1.1 200 OK", n), 128).unwrap();
            assert_eq!(res.headers().get("x-field-0").is_some(), n > 0);
            assert_eq!(res.status(), 200);
        }
        let too_many = HttpRequestHead::parse(head("GET /x HTTP/1.1", 129), 128).unwrap_err();
        assert!(too_many.is_limit(), "{too_many}");
        assert!(HttpResponseHead::parse(head("HTTP/1.1 200 OK", 129), 128).unwrap_err().is_limit());
        // A limit below the stack array's size holds as before.
        assert!(HttpRequestHead::parse(head("GET /x HTTP/1.1", 9), 8).unwrap_err().is_limit());
        assert!(HttpResponseHead::parse(head("HTTP/1.1 200 OK", 8), 8).is_ok());
    }

    #[test]
    fn a_head_longer_than_its_offset_range_is_rejected() {
        let raw = Bytes::from_static(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nextra");
        assert!(HttpRequestHead::parse(raw, 8).is_err());
    }
}
