//! PDF objects (section 7.3) as far as the extractor needs them: dictionaries of streams,
//! fonts, resources and pages. Parsing is bounded by the bytes of the object and a depth.

use super::lexer::{decode_name, decode_string, number, Lexer, Tok};

/// Deepest nesting of arrays and dictionaries parsed; deeper values are dropped.
const MAX_NESTING: u32 = 32;

/// A parsed object.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Obj {
    Null,
    Bool(bool),
    Num(f64),
    /// A string, decoded (escapes, hex).
    Str(Vec<u8>),
    /// A name, decoded, without its slash.
    Name(Vec<u8>),
    Array(Vec<Obj>),
    Dict(Dict),
    /// An indirect reference: object number (the generation is not needed: the newest
    /// definition of a number wins).
    Ref(u32),
}

/// A dictionary; duplicate keys keep their first value.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Dict(pub Vec<(Vec<u8>, Obj)>);

impl Dict {
    pub fn get(&self, key: &[u8]) -> Option<&Obj> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` holds the name `value`.
    pub fn is(&self, key: &[u8], value: &[u8]) -> bool {
        self.get(key).and_then(Obj::name) == Some(value)
    }
}

impl Obj {
    pub fn num(&self) -> Option<f64> {
        match self {
            Obj::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn name(&self) -> Option<&[u8]> {
        match self {
            Obj::Name(n) => Some(n),
            _ => None,
        }
    }

    pub fn dict(&self) -> Option<&Dict> {
        match self {
            Obj::Dict(d) => Some(d),
            _ => None,
        }
    }

    pub fn array(&self) -> Option<&[Obj]> {
        match self {
            Obj::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn reference(&self) -> Option<u32> {
        match self {
            Obj::Ref(r) => Some(*r),
            _ => None,
        }
    }
}

/// Parses one object at the lexer's position; `None` at the end of the input or at a token
/// that starts no object (`>>`, `]`, `endobj`, `stream` ...).
pub(super) fn parse(lex: &mut Lexer<'_>) -> Option<Obj> {
    parse_at(lex, 0)
}

fn parse_at(lex: &mut Lexer<'_>, depth: u32) -> Option<Obj> {
    let t = lex.next_token()?;
    let bytes = lex.bytes(&t);
    if depth >= MAX_NESTING && matches!(t.kind, Tok::ArrayOpen | Tok::DictOpen) {
        skip_nested(lex);
        return Some(Obj::Null);
    }
    Some(match t.kind {
        Tok::Number => {
            // `N G R` is a reference.
            let mut ahead = lex.clone();
            if let (Some(g), Some(r)) = (ahead.next_token(), ahead.next_token()) {
                let integer = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
                if g.kind == Tok::Number
                    && r.kind == Tok::Keyword
                    && ahead.bytes(&r) == b"R"
                    && integer(bytes)
                    && integer(ahead.bytes(&g))
                {
                    *lex = ahead;
                    return Some(Obj::Ref(std::str::from_utf8(bytes).ok()?.parse().ok()?));
                }
            }
            Obj::Num(number(bytes))
        }
        Tok::Name => {
            let mut n = Vec::new();
            decode_name(bytes, &mut n);
            Obj::Name(n)
        }
        Tok::Literal | Tok::Hex => {
            let mut s = Vec::new();
            decode_string(lex.data, &t, &mut s);
            Obj::Str(s)
        }
        Tok::ArrayOpen => {
            let mut items = Vec::new();
            loop {
                match lex.peek() {
                    None => break,
                    Some(n) if n.kind == Tok::ArrayClose => {
                        lex.next_token();
                        break;
                    }
                    Some(n) if matches!(n.kind, Tok::DictClose) || is_end_keyword(lex.bytes(&n)) => break,
                    Some(_) => match parse_at(lex, depth + 1) {
                        Some(o) => items.push(o),
                        None => {
                            lex.next_token();
                        }
                    },
                }
            }
            Obj::Array(items)
        }
        Tok::DictOpen => {
            let mut d = Dict::default();
            while let Some(k) = lex.next_token() {
                match k.kind {
                    Tok::DictClose => break,
                    Tok::Name => {
                        let mut key = Vec::new();
                        decode_name(lex.bytes(&k), &mut key);
                        // A key without a value (`/A >>`) ends the dictionary there.
                        match lex.peek() {
                            Some(n) if n.kind == Tok::DictClose => {}
                            Some(n) if is_end_keyword(lex.bytes(&n)) => break,
                            _ => {
                                // Duplicates are kept; `get` finds the first.
                                let v = parse_at(lex, depth + 1).unwrap_or(Obj::Null);
                                d.0.push((key, v));
                            }
                        }
                    }
                    Tok::Keyword if is_end_keyword(lex.bytes(&k)) => {
                        lex.pos = k.start;
                        break;
                    }
                    _ => {}
                }
            }
            Obj::Dict(d)
        }
        Tok::Keyword => match bytes {
            b"true" => Obj::Bool(true),
            b"false" => Obj::Bool(false),
            b"null" => Obj::Null,
            _ => {
                lex.pos = t.start;
                return None;
            }
        },
        Tok::Comment => return parse_at(lex, depth),
        _ => {
            lex.pos = t.start;
            return None;
        }
    })
}

/// Skips the rest of an array or dictionary whose opening token was just read, without
/// recursion.
fn skip_nested(lex: &mut Lexer<'_>) {
    let mut open = 1u32;
    while let Some(t) = lex.next_token() {
        match t.kind {
            Tok::ArrayOpen | Tok::DictOpen => open += 1,
            Tok::ArrayClose | Tok::DictClose => {
                open -= 1;
                if open == 0 {
                    return;
                }
            }
            Tok::Keyword if is_end_keyword(lex.bytes(&t)) => {
                lex.pos = t.start;
                return;
            }
            _ => {}
        }
    }
}

/// Keywords that end an object: a broken dictionary stops at them instead of eating the
/// next object.
fn is_end_keyword(b: &[u8]) -> bool {
    matches!(b, b"endobj" | b"stream" | b"endstream" | b"obj" | b"trailer" | b"xref" | b"startxref")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &[u8]) -> Obj {
        parse(&mut Lexer::new(s, 0)).unwrap()
    }

    #[test]
    fn values() {
        let o = obj(b"<< /Type /Font /W [1 [500 600] 3 0 R] /T (a\\)b) /H <4142> /N#20x 1.5 /B true >>");
        let d = o.dict().unwrap();
        assert!(d.is(b"Type", b"Font"));
        assert_eq!(
            d.get(b"W"),
            Some(&Obj::Array(vec![
                Obj::Num(1.0),
                Obj::Array(vec![Obj::Num(500.0), Obj::Num(600.0)]),
                Obj::Ref(3)
            ]))
        );
        assert_eq!(d.get(b"T"), Some(&Obj::Str(b"a)b".to_vec())));
        assert_eq!(d.get(b"H"), Some(&Obj::Str(b"AB".to_vec())));
        assert_eq!(d.get(b"N x"), Some(&Obj::Num(1.5)));
        assert_eq!(d.get(b"B"), Some(&Obj::Bool(true)));
    }

    #[test]
    fn broken_dictionaries_stop_at_keywords() {
        let o = obj(b"<< /Length 5 /Filter\nstream\nxx");
        assert_eq!(o.dict().unwrap().get(b"Length"), Some(&Obj::Num(5.0)));
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(obj(deep.as_bytes()), Obj::Array(_)));
    }
}
