//! The `Encapsulated` header: which HTTP parts follow the ICAP head, at which offsets.

use std::fmt;

use crate::error::{ProtoError, Result};

/// One entity named in `Encapsulated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// Encapsulated HTTP request head.
    ReqHdr,
    /// Encapsulated HTTP response head.
    ResHdr,
    /// Chunked HTTP request body.
    ReqBody,
    /// Chunked HTTP response body.
    ResBody,
    /// Chunked OPTIONS body.
    OptBody,
    /// No body follows.
    NullBody,
}

impl Section {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::ReqHdr => "req-hdr",
            Section::ResHdr => "res-hdr",
            Section::ReqBody => "req-body",
            Section::ResBody => "res-body",
            Section::OptBody => "opt-body",
            Section::NullBody => "null-body",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "req-hdr" => Section::ReqHdr,
            "res-hdr" => Section::ResHdr,
            "req-body" => Section::ReqBody,
            "res-body" => Section::ResBody,
            "opt-body" => Section::OptBody,
            "null-body" => Section::NullBody,
            _ => return None,
        })
    }

    /// True for the sections that end the list: a body or `null-body`.
    pub fn is_body(self) -> bool {
        matches!(self, Section::ReqBody | Section::ResBody | Section::OptBody | Section::NullBody)
    }
}

/// A checked `Encapsulated` value: heads first, in order, then exactly one body entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulated {
    heads: Vec<(Section, usize)>,
    body: Section,
    body_offset: usize,
}

impl Encapsulated {
    /// Builds the value for heads of the given lengths, in order, followed by `body`.
    pub fn new(heads: &[(Section, usize)], body: Section) -> Self {
        let mut offset = 0;
        let heads = heads
            .iter()
            .map(|&(section, len)| {
                let at = offset;
                offset += len;
                (section, at)
            })
            .collect();
        Self { heads, body, body_offset: offset }
    }

    /// Parses `req-hdr=0, res-hdr=137, res-body=296`.
    pub fn parse(value: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, offset) = item
                .split_once('=')
                .ok_or_else(|| ProtoError::bad(format!("Encapsulated entry without offset: {item:?}")))?;
            let section = Section::from_name(name.trim())
                .ok_or_else(|| ProtoError::bad(format!("unknown Encapsulated entity: {name:?}")))?;
            let offset = crate::headers::parse_decimal("Encapsulated offset", offset)?;
            let offset =
                usize::try_from(offset).map_err(|_| ProtoError::bad("Encapsulated offset out of range"))?;
            entries.push((section, offset));
        }
        let Some(&(body, body_offset)) = entries.last() else {
            return Err(ProtoError::bad("Encapsulated is empty"));
        };
        if !body.is_body() {
            return Err(ProtoError::bad("Encapsulated must end with a body or null-body entity"));
        }
        let heads: Vec<_> = entries[..entries.len() - 1].to_vec();
        let mut previous: Option<(Section, usize)> = None;
        for &(section, offset) in &heads {
            if section.is_body() {
                return Err(ProtoError::bad("Encapsulated has more than one body entity"));
            }
            match previous {
                None if offset != 0 => {
                    return Err(ProtoError::bad("the first Encapsulated entity must be at offset 0"))
                }
                Some((prev, prev_offset)) => {
                    if prev == section || (prev == Section::ResHdr && section == Section::ReqHdr) {
                        return Err(ProtoError::bad("Encapsulated heads are repeated or out of order"));
                    }
                    if offset <= prev_offset {
                        return Err(ProtoError::bad("Encapsulated offsets must increase"));
                    }
                }
                None => {}
            }
            previous = Some((section, offset));
        }
        match previous {
            None if body_offset != 0 => {
                return Err(ProtoError::bad("a lone Encapsulated body entity must be at offset 0"))
            }
            Some((_, prev_offset)) if body_offset <= prev_offset => {
                return Err(ProtoError::bad("Encapsulated offsets must increase"))
            }
            _ => {}
        }
        Ok(Self { heads, body, body_offset })
    }

    /// The head sections with their byte ranges inside the encapsulated part.
    pub fn head_ranges(&self) -> impl Iterator<Item = (Section, std::ops::Range<usize>)> + '_ {
        self.heads.iter().enumerate().map(|(i, &(section, start))| {
            let end = self.heads.get(i + 1).map_or(self.body_offset, |&(_, next)| next);
            (section, start..end)
        })
    }

    /// True when this head section is present.
    pub fn has(&self, section: Section) -> bool {
        self.body == section || self.heads.iter().any(|&(s, _)| s == section)
    }

    /// The body entity (`null-body` when there is no body).
    pub fn body(&self) -> Section {
        self.body
    }

    /// Total length of the encapsulated heads, which is where the body starts.
    pub fn heads_len(&self) -> usize {
        self.body_offset
    }
}

impl fmt::Display for Encapsulated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (section, offset) in &self.heads {
            write!(f, "{}={}, ", section.as_str(), offset)?;
        }
        write!(f, "{}={}", self.body.as_str(), self.body_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_every_entity() {
        let e = Encapsulated::parse("req-hdr=0, res-hdr=137, res-body=296").unwrap();
        assert_eq!(e.to_string(), "req-hdr=0, res-hdr=137, res-body=296");
        let ranges: Vec<_> = e.head_ranges().collect();
        assert_eq!(ranges, [(Section::ReqHdr, 0..137), (Section::ResHdr, 137..296)]);
        assert_eq!(e.body(), Section::ResBody);
        for v in ["null-body=0", "opt-body=0", "req-hdr=0, req-body=10", "req-hdr=0, null-body=5"] {
            assert_eq!(Encapsulated::parse(v).unwrap().to_string(), v);
        }
    }

    #[test]
    fn rejects_malformed_values() {
        for v in [
            "",
            "req-hdr=0",
            "req-hdr=5, null-body=9",
            "req-hdr=0, res-hdr=0, null-body=9",
            "res-hdr=0, req-hdr=9, null-body=19",
            "req-hdr=0, req-body=4, res-body=9",
            "req-hdr=x, null-body=1",
            "foo=0",
            "req-hdr=0, null-body=0",
            "null-body=3",
        ] {
            assert!(Encapsulated::parse(v).is_err(), "{v} should be rejected");
        }
    }
}
