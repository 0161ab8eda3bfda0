//! JSON to text.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonState {
    Out,
    Str,
    Esc,
    Unicode { n: u8, acc: u16 },
}

/// JSON to text: string contents with escapes decoded, each string on its own line;
/// everything outside strings (numbers included) kept as it is.
#[derive(Debug)]
pub(crate) struct Json {
    state: JsonState,
    high: Option<u16>,
}

impl Json {
    pub fn new() -> Self {
        Self { state: JsonState::Out, high: None }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &b in data {
            match self.state {
                JsonState::Out => {
                    if b == b'"' {
                        self.state = JsonState::Str;
                        out.push(b'\n');
                    } else {
                        out.push(b);
                    }
                }
                JsonState::Str => match b {
                    b'"' => {
                        self.state = JsonState::Out;
                        out.push(b'\n');
                    }
                    b'\\' => self.state = JsonState::Esc,
                    _ => out.push(b),
                },
                JsonState::Esc => {
                    self.state = JsonState::Str;
                    match b {
                        b'n' | b'r' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'b' | b'f' => out.push(b' '),
                        b'u' => self.state = JsonState::Unicode { n: 0, acc: 0 },
                        // Not JSON, but JSON5 and JavaScript: left for the normaliser.
                        b'x' => out.extend_from_slice(b"\\x"),
                        _ => out.push(b),
                    }
                }
                JsonState::Unicode { n, acc } => {
                    let Some(v) = (b as char).to_digit(16) else {
                        self.state = JsonState::Str;
                        if n == 0 && b == b'{' {
                            // JavaScript's `\u{34}`: left for the normaliser, as `\x` is.
                            out.extend_from_slice(b"\\u{");
                        } else {
                            out.push(b);
                        }
                        continue;
                    };
                    let acc = (acc << 4) | v as u16;
                    if n < 3 {
                        self.state = JsonState::Unicode { n: n + 1, acc };
                        continue;
                    }
                    self.state = JsonState::Str;
                    self.unit(acc, out);
                }
            }
        }
    }

    fn unit(&mut self, u: u16, out: &mut Vec<u8>) {
        if (0xD800..0xDC00).contains(&u) {
            self.high = Some(u);
            return;
        }
        let c = match (self.high.take(), u) {
            (Some(h), 0xDC00..=0xDFFF) => {
                char::from_u32(0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00))
            }
            _ => char::from_u32(u32::from(u)),
        }
        .unwrap_or('\u{FFFD}');
        let mut b = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_unescapes() {
        let mut j = Json::new();
        let mut out = Vec::new();
        for b in br#"{"a":"SSN\n123\u002d45-6789","n":4111111111111111,"e":"\ud83d\ude00"}"# {
            j.push(&[*b], &mut out);
        }
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("SSN\n123-45-6789"), "{s:?}");
        assert!(s.contains(":4111111111111111,"), "{s:?}");
        assert!(s.contains('\u{1F600}'), "{s:?}");
    }
}
