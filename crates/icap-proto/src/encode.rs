//! Encoders for every message either role sends.
//!
//! The `Encapsulated` header is always computed from the heads given, so offsets cannot be
//! wrong; it keeps its position when the head already has one, so a parsed message re-encodes
//! to the same bytes.

use bytes::BytesMut;

use crate::encapsulated::{Encapsulated, Section};
use crate::headers::Headers;
use crate::http::{HttpRequestHead, HttpResponseHead};
use crate::message::{Request, RequestHead, Response, ResponseHead};

/// The encapsulated part of a message: its HTTP heads and which body follows.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    /// HTTP request head, first.
    pub http_request: Option<&'a HttpRequestHead>,
    /// HTTP response head, after the request head.
    pub http_response: Option<&'a HttpResponseHead>,
    /// The body entity; `NullBody` when none follows.
    pub body: Section,
}

impl<'a> Parts<'a> {
    /// No HTTP heads and no body: `Encapsulated: null-body=0`.
    pub const NONE: Parts<'static> =
        Parts { http_request: None, http_response: None, body: Section::NullBody };

    fn encapsulated(&self) -> Encapsulated {
        let mut heads = Vec::with_capacity(2);
        if let Some(h) = self.http_request {
            heads.push((Section::ReqHdr, h.encoded_len()));
        }
        if let Some(h) = self.http_response {
            heads.push((Section::ResHdr, h.encoded_len()));
        }
        Encapsulated::new(&heads, self.body)
    }

    fn encode_heads(&self, dst: &mut BytesMut) {
        if let Some(h) = self.http_request {
            h.encode(dst);
        }
        if let Some(h) = self.http_response {
            h.encode(dst);
        }
    }
}

/// Appends an ICAP request head with its encapsulated HTTP heads; the body chunks follow.
pub fn encode_request_head(head: &RequestHead, parts: Parts<'_>, dst: &mut BytesMut) {
    head.encode_start(dst);
    encode_headers_with_encapsulated(&head.headers, Some(&parts), dst);
    parts.encode_heads(dst);
}

/// Appends an ICAP response head with its encapsulated HTTP heads; the body chunks follow.
pub fn encode_response_head(head: &ResponseHead, parts: Parts<'_>, dst: &mut BytesMut) {
    head.encode_start(dst);
    encode_headers_with_encapsulated(&head.headers, Some(&parts), dst);
    parts.encode_heads(dst);
}

/// Appends a response with no `Encapsulated` header at all, as for `100 Continue`.
pub fn encode_bare_response(head: &ResponseHead, dst: &mut BytesMut) {
    head.encode_start(dst);
    encode_headers_with_encapsulated(&head.headers, None, dst);
}

/// Appends `ICAP/1.0 100 Continue` with its blank line.
pub fn encode_continue(dst: &mut BytesMut) {
    dst.extend_from_slice(b"ICAP/1.0 100 Continue\r\n\r\n");
}

/// Appends the headers and the blank line, with `Encapsulated` as `parts` say (in the place of
/// the first one the headers hold, else last) or none: what `Headers::set` (or `remove`) and
/// `Headers::encode` give, without copying the headers for each answer.
fn encode_headers_with_encapsulated(headers: &Headers, parts: Option<&Parts<'_>>, dst: &mut BytesMut) {
    let encapsulated = parts.map(Parts::encapsulated);
    let mut pending = encapsulated.as_ref();
    let put_encapsulated = |name: &str, value: &Encapsulated, dst: &mut BytesMut| {
        dst.extend_from_slice(name.as_bytes());
        let _ = std::fmt::Write::write_fmt(dst, format_args!(": {value}\r\n"));
    };
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("encapsulated") {
            if let Some(value) = pending.take() {
                put_encapsulated(name, value, dst);
            }
            continue;
        }
        dst.reserve(name.len() + value.len() + 4);
        dst.extend_from_slice(name.as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value);
        dst.extend_from_slice(b"\r\n");
    }
    if let Some(value) = pending {
        put_encapsulated("Encapsulated", value, dst);
    }
    dst.extend_from_slice(b"\r\n");
}

impl Request {
    /// The parts this request carries, with the body entity its `Encapsulated` names.
    pub fn parts(&self) -> Parts<'_> {
        Parts {
            http_request: self.http_request.as_ref(),
            http_response: self.http_response.as_ref(),
            body: self.encapsulated.as_ref().map_or(Section::NullBody, |e| e.body()),
        }
    }

    /// Appends the head and encapsulated heads (not the body).
    pub fn encode_head(&self, dst: &mut BytesMut) {
        if self.encapsulated.is_none() && self.http_request.is_none() && self.http_response.is_none() {
            self.head.encode_start(dst);
            encode_headers_with_encapsulated(&self.head.headers, None, dst);
        } else {
            encode_request_head(&self.head, self.parts(), dst);
        }
    }
}

impl Response {
    /// The parts this response carries.
    pub fn parts(&self) -> Parts<'_> {
        Parts {
            http_request: self.http_request.as_ref(),
            http_response: self.http_response.as_ref(),
            body: self.encapsulated.as_ref().map_or(Section::NullBody, |e| e.body()),
        }
    }

    /// Appends the head and encapsulated heads (not the body).
    pub fn encode_head(&self, dst: &mut BytesMut) {
        if self.encapsulated.is_none() && self.http_request.is_none() && self.http_response.is_none() {
            encode_bare_response(&self.head, dst);
        } else {
            encode_response_head(&self.head, self.parts(), dst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `encode_headers_with_encapsulated` stands for: `set` (or `remove`), then `encode`.
    fn reference(headers: &Headers, parts: Option<&Parts<'_>>) -> BytesMut {
        let mut headers = headers.clone();
        match parts {
            Some(parts) => headers.set("Encapsulated", parts.encapsulated().to_string()),
            None => headers.remove("Encapsulated"),
        }
        let mut out = BytesMut::new();
        headers.encode(&mut out);
        out.extend_from_slice(b"\r\n");
        out
    }

    #[test]
    fn encapsulated_goes_where_set_would_put_it() {
        let http = HttpResponseHead::new(403, "Forbidden", Headers::new());
        let with = Parts { http_request: None, http_response: Some(&http), body: Section::ResBody };
        let mut cases = Vec::new();
        let mut h = Headers::new();
        h.append("ISTag", "\"t\"");
        h.append("Server", "x");
        cases.push(h.clone());
        h.append("encapsulated", "null-body=0");
        h.append("X-A", "1");
        h.append("Encapsulated", "res-body=9");
        cases.push(h);
        cases.push(Headers::new());
        for headers in &cases {
            for parts in [Some(&with), Some(&Parts::NONE), None] {
                let mut got = BytesMut::new();
                encode_headers_with_encapsulated(headers, parts, &mut got);
                assert_eq!(got, reference(headers, parts), "{headers:?}");
            }
        }
    }
}
