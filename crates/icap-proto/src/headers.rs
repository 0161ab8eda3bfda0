//! Header fields: order and repeats kept, names compared without case.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtoError, Result};

/// An ordered list of header fields.
///
/// Names keep the spelling they arrived with, so a message re-encodes to the same bytes;
/// lookups ignore case. Repeated fields are kept in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, Bytes)>,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a header block that ends with an empty line, using httparse.
    ///
    /// `block` must hold the whole block; `limit` bounds the number of fields.
    pub(crate) fn parse_block(block: &[u8], limit: usize) -> Result<(Self, usize)> {
        // Obsolete line folding (a line starting with a space or tab continues the previous
        // field) is still sent by ICAP servers for X-Violations-Found; RFC 9112 section 5.2
        // says to replace each fold with a space before parsing.
        if memchr::memchr_iter(b'\n', block).any(|i| matches!(block.get(i + 1), Some(b' ' | b'\t'))) {
            let unfolded = unfold(block);
            let (headers, _) = Self::parse_unfolded(&unfolded, limit)?;
            return Ok((headers, block.len()));
        }
        Self::parse_unfolded(block, limit)
    }

    fn parse_unfolded(block: &[u8], limit: usize) -> Result<(Self, usize)> {
        // Most blocks hold a few fields: try a small array on the stack before a heap one of
        // `limit` entries (zeroing 128 of them cost more than the parse itself).
        const ON_STACK: usize = 32;
        if limit > ON_STACK {
            let mut storage = [httparse::EMPTY_HEADER; ON_STACK];
            match httparse::parse_headers(block, &mut storage) {
                Ok(httparse::Status::Complete((len, parsed))) => {
                    return Ok((Self::from_httparse(parsed), len))
                }
                Err(httparse::Error::TooManyHeaders) => {}
                other => return Self::parse_result(other, limit),
            }
        }
        let mut storage = vec![httparse::EMPTY_HEADER; limit];
        let parsed = httparse::parse_headers(block, &mut storage);
        Self::parse_result(parsed, limit)
    }

    fn parse_result(
        parsed: httparse::Result<(usize, &[httparse::Header<'_>])>,
        limit: usize,
    ) -> Result<(Self, usize)> {
        match parsed {
            Ok(httparse::Status::Complete((len, parsed))) => Ok((Self::from_httparse(parsed), len)),
            Ok(httparse::Status::Partial) => Err(ProtoError::bad("header block is not terminated")),
            Err(httparse::Error::TooManyHeaders) => {
                Err(ProtoError::too_large(format!("more than {limit} header fields")))
            }
            Err(e) => Err(ProtoError::bad(format!("invalid header field: {e}"))),
        }
    }

    pub(crate) fn from_httparse(parsed: &[httparse::Header<'_>]) -> Self {
        let fields =
            parsed.iter().map(|h| (h.name.to_string(), Bytes::copy_from_slice(trim_ows(h.value)))).collect();
        Self { fields }
    }

    /// Adds a field at the end, keeping any earlier field of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<Bytes>) {
        self.fields.push((name.into(), value.into()));
    }

    /// Replaces every field of this name with one, in the place of the first.
    pub fn set(&mut self, name: &str, value: impl Into<Bytes>) {
        let value = value.into();
        match self.fields.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(first) => {
                self.fields[first].1 = value;
                let mut index = 0;
                self.fields.retain(|(n, _)| {
                    let keep = index <= first || !n.eq_ignore_ascii_case(name);
                    index += 1;
                    keep
                });
            }
            None => self.fields.push((name.to_string(), value)),
        }
    }

    /// Removes every field of this name.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of a field, as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&Bytes> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The first value of a field, when it is valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of a field, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// True when the field is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// The comma-separated items of every value of a field, trimmed, in order.
    ///
    /// `Allow: 206, trailers` gives `["206", "trailers"]`.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|item| !item.is_empty())
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Writes `Name: value\r\n` for each field (no terminating empty line).
    pub fn encode(&self, dst: &mut BytesMut) {
        for (name, value) in &self.fields {
            dst.reserve(name.len() + value.len() + 4);
            dst.put_slice(name.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(value);
            dst.put_slice(b"\r\n");
        }
    }

    /// Encoded length of [`Headers::encode`].
    pub fn encoded_len(&self) -> usize {
        self.fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum()
    }
}

/// Replaces every `CRLF` (or `LF`) followed by spaces or tabs with one space.
fn unfold(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len());
    let mut i = 0;
    while i < block.len() {
        let line_end = match block[i] {
            b'\r' if block.get(i + 1) == Some(&b'\n') => Some(2),
            b'\n' => Some(1),
            _ => None,
        };
        if let Some(n) = line_end {
            if matches!(block.get(i + n), Some(b' ' | b'\t')) {
                out.push(b' ');
                i += n;
                while matches!(block.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                continue;
            }
        }
        out.push(block[i]);
        i += 1;
    }
    out
}

fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    &value[start..end]
}

/// Parses a header value as a non-negative decimal integer.
pub(crate) fn parse_decimal(name: &str, value: &str) -> Result<u64> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProtoError::bad(format!("{name} is not a number: {value:?}")));
    }
    value.parse().map_err(|_| ProtoError::bad(format!("{name} is out of range: {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_and_keep_repeats() {
        let (h, len) =
            Headers::parse_block(b"Allow: 206, trailers\r\nallow: 204\r\nX-A:  v \r\n\r\n", 8).unwrap();
        assert_eq!(len, 46);
        assert_eq!(h.get("ALLOW"), Some("206, trailers"));
        assert_eq!(h.list("allow").collect::<Vec<_>>(), ["206", "trailers", "204"]);
        assert_eq!(h.get("x-a"), Some("v"));
    }

    #[test]
    fn set_replaces_all_in_place_of_first() {
        let mut h = Headers::new();
        h.append("A", "1");
        h.append("B", "2");
        h.append("a", "3");
        h.set("A", "9");
        let names: Vec<_> = h.iter().map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v))).collect();
        assert_eq!(names, ["A=9", "B=2"]);
    }

    #[test]
    fn folded_lines_are_joined() {
        let block =
            b"X-Violations-Found: 1\r\n\tfile.txt\r\n\tcredit_card\r\n\t0\r\n\t2\r\nISTag: \"x\"\r\n\r\n";
        let (h, len) = Headers::parse_block(block, 8).unwrap();
        assert_eq!(len, block.len());
        assert_eq!(h.get("x-violations-found"), Some("1 file.txt credit_card 0 2"));
        assert_eq!(h.get("istag"), Some("\"x\""));
    }

    #[test]
    fn too_many_headers_is_a_limit() {
        let err = Headers::parse_block(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 2).unwrap_err();
        assert!(err.is_limit());
    }

    /// Blocks past the small first try still parse up to the limit, and no further.
    #[test]
    fn large_blocks_parse_up_to_the_limit() {
        let block = |n: usize| {
            let mut b: String = (0..n).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
            b.push_str("\r\n");
            b
        };
        let (h, len) = Headers::parse_block(block(100).as_bytes(), 128).unwrap();
        assert_eq!(len, block(100).len());
        assert_eq!(h.get("x-field-99"), Some("99"));
        assert_eq!(h.iter().count(), 100);
        assert!(Headers::parse_block(block(129).as_bytes(), 128).unwrap_err().is_limit());
        assert!(Headers::parse_block(b"X-A: 1\r\nbad line\r\n\r\n", 128)
            .unwrap_err()
            .to_string()
            .contains("invalid"));
    }
}
