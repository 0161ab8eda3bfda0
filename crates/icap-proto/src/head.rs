//! Shared parts of reading a message head: finding its end and splitting the start line.

use crate::error::{ProtoError, Result};

/// Index just past the first empty line (`\r\n\r\n` or `\n\n`) at or after `from`.
pub(crate) fn find_blank_line(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(pos) = memchr::memchr(b'\n', buf.get(at..)?) {
        let nl = at + pos;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => at = nl + 1,
        }
    }
    None
}

/// Splits `block` into its first line (without line end) and the rest.
pub(crate) fn split_start_line(block: &[u8]) -> Result<(&str, &[u8])> {
    let end = memchr::memchr(b'\n', block).ok_or_else(|| ProtoError::bad("no start line"))?;
    let line = &block[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = std::str::from_utf8(line).map_err(|_| ProtoError::bad("start line is not text"))?;
    Ok((line, &block[end + 1..]))
}

/// Leading empty lines that may precede a message (RFC 9112 section 2.2 asks to ignore them).
pub(crate) fn leading_empty_lines(buf: &[u8]) -> usize {
    buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count()
}

/// Checks the `ICAP/1.0` version token; another ICAP version is 505, anything else 400.
pub(crate) fn check_version(token: &str) -> Result<()> {
    if token == "ICAP/1.0" {
        Ok(())
    } else if token.starts_with("ICAP/") {
        Err(ProtoError::version(format!("{token} (only ICAP/1.0 is supported)")))
    } else {
        Err(ProtoError::bad(format!("not an ICAP start line: version {token:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_crlf_and_lf_blank_lines() {
        assert_eq!(find_blank_line(b"a\r\nb\r\n\r\nrest", 0), Some(8));
        assert_eq!(find_blank_line(b"a\nb\n\nrest", 0), Some(5));
        assert_eq!(find_blank_line(b"a\r\nb\r\n\r", 0), None);
    }
}
