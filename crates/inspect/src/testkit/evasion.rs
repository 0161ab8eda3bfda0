//! Disguises for sensitive values, as an attacker (or an odd tool) writes them: other
//! scripts' digits, invisible characters, Unicode separators, character references,
//! escapes, quoted-printable, other encodings. Each takes plain text and returns it
//! disguised; applied to decoys they must stay clean.

/// Valid values the default policy blocks, by detector.
pub const VALUES: &[(&str, &str)] = &[
    ("credit_card", "4111 1111 1111 1111"),
    ("credit_card", "5500-0000-0000-0004"),
    ("us_ssn", "123-45-6789"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
];

/// Look-alikes that must never match: Luhn-invalid card-like numbers, SSNs in invalid
/// ranges, an IBAN with a bad checksum, order ids, a UUID, a hash, timestamps.
pub const DECOYS: &[&str] = &[
    "4111 1111 1111 1112",
    "5500-0000-0000-0005",
    "666-12-3456",
    "900-12-3456",
    "123-00-4567",
    "DE89 3704 0044 0532 0130 01",
    "ORD-2024-000123",
    "550e8400-e29b-41d4-a716-446655440000",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "2024-01-15T10:30:00Z",
    "1700000000123",
    "4111111111111112",
];

/// ASCII digits written in the script whose zero is `zero` (`'٠'`, `'۰'`, `'०'`, `'０'`,
/// `'𝟎'`, ...).
pub fn digits_in(s: &str, zero: char) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) if c.is_ascii_digit() => char::from_u32(zero as u32 + d).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Full-width ASCII: digits, letters, `-` (U+FF10, U+FF21, U+FF0D, ...); spaces stay.
pub fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect()
}

/// `ch` after every character (zero-width spaces, soft hyphens, bidi marks, ...).
pub fn interleave(s: &str, ch: char) -> String {
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        out.push(ch);
    }
    out
}

/// Group separators (space, `-`) replaced: spaces by `space`, dashes by `dash`.
pub fn separators(s: &str, space: char, dash: char) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => space,
            '-' => dash,
            c => c,
        })
        .collect()
}

/// Every character as an HTML character reference: `&#52;` (`hex`: `&#x34;`).
pub fn html_refs(s: &str, hex: bool) -> String {
    s.chars().map(|c| if hex { format!("&#x{:x};", c as u32) } else { format!("&#{};", c as u32) }).collect()
}

/// Every character percent-encoded (UTF-8 bytes, `%34`).
pub fn percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Every character as a JSON `\uXXXX` escape (surrogate pairs beyond the BMP).
pub fn json_u(s: &str) -> String {
    s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect()
}

/// Every digit as a JavaScript (or C, Python) hex escape: `\x34`.
pub fn js_hex(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { format!("\\x{:02x}", c as u32) } else { c.to_string() })
        .collect()
}

/// Every digit as a JavaScript code point escape: `\u{34}`.
pub fn js_code_point(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
        .collect()
}

/// Every character as a `%uXXXX` escape, as JavaScript's `escape()` writes characters
/// beyond Latin-1 and IIS decodes them (surrogate pairs beyond the BMP).
pub fn percent_u(s: &str) -> String {
    s.encode_utf16().map(|u| format!("%u{u:04X}")).collect()
}

/// Quoted-printable with every digit escaped (`=34`) and soft line breaks every 40
/// characters of output.
pub fn quoted_printable_digits(s: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for c in s.chars() {
        let enc = if c.is_ascii_digit() || c == '=' || !c.is_ascii() {
            c.to_string().bytes().map(|b| format!("={b:02X}")).collect()
        } else if c == '\n' {
            col = 0;
            out.push_str("\r\n");
            continue;
        } else {
            c.to_string()
        };
        if col + enc.len() > 40 {
            out.push_str("=\r\n");
            col = 0;
        }
        col += enc.len();
        out.push_str(&enc);
    }
    out
}

/// Windows-1252 bytes: spaces as no-break spaces (0xA0), dashes as en dashes (0x96); the
/// rest must be ASCII.
pub fn cp1252_separators(s: &str) -> Vec<u8> {
    s.bytes()
        .map(|b| match b {
            b' ' => 0xA0,
            b'-' => 0x96,
            b => b,
        })
        .collect()
}

/// UTF-16BE without a byte order mark.
pub fn utf16be(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// UTF-32 with its byte order mark, little or big endian.
pub fn utf32(s: &str, big_endian: bool) -> Vec<u8> {
    std::iter::once('\u{FEFF}')
        .chain(s.chars())
        .flat_map(|c| if big_endian { (c as u32).to_be_bytes() } else { (c as u32).to_le_bytes() })
        .collect()
}

/// A sentence around each of `values`, one per line, after some ordinary text.
pub fn document(values: &[&str]) -> String {
    let mut s = String::from("Quarterly notes for the finance team, 2024-03-31.\n");
    for v in values {
        s.push_str(&format!("Reference on file: {v} (checked).\n"));
    }
    s.push_str("End of notes.\n");
    s
}

/// Standard base64 (`+/`, padded).
pub fn base64_std(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// URL-safe base64 (`-_`, no padding).
pub fn base64_url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Standard base64 in lines of `width` characters joined by `eol` (MIME: 76 and CRLF).
pub fn base64_wrapped(data: &[u8], width: usize, eol: &str) -> String {
    let s = base64_std(data);
    s.as_bytes()
        .chunks(width.max(4))
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(eol)
}

/// One document per disguise, with a valid card (and an SSN in some) or with decoys only:
/// `(name, bytes, content type)`. Used by the chunking tests and as fuzz seeds.
pub fn disguised_samples() -> Vec<(String, Vec<u8>, Option<String>)> {
    let value_doc = document(&["4111 1111 1111 1111", "123-45-6789"]);
    let decoy_doc = document(DECOYS);
    let mut out = Vec::new();
    for (label, text) in [("value", &value_doc), ("decoys", &decoy_doc)] {
        let form = || {
            let fields: Vec<String> = text
                .lines()
                .enumerate()
                .map(|(k, l)| format!("f{k}={}", percent(l).replace("%20", "+")))
                .collect();
            fields.join("&").into_bytes()
        };
        let zip = crate::testkit::zip_of(&[("notes.txt", text.as_bytes())]);
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            ("arabic_indic", digits_in(text, '\u{660}').into_bytes(), None),
            ("fullwidth", fullwidth(text).into_bytes(), None),
            ("zero_width", interleave(text, '\u{200B}').into_bytes(), None),
            ("nbsp_en_dash", separators(text, '\u{A0}', '\u{2013}').into_bytes(), None),
            ("html_refs", format!("<p>{}</p>", html_refs(text, false)).into_bytes(), None),
            ("html_hex_refs_plain", html_refs(text, true).into_bytes(), None),
            ("percent", percent(text).into_bytes(), None),
            ("form", form(), Some("application/x-www-form-urlencoded")),
            ("json_u", format!("{{\"n\": \"{}\"}}", json_u(text)).into_bytes(), None),
            ("quoted_printable", quoted_printable_digits(text).into_bytes(), None),
            ("js_hex", js_hex(text).into_bytes(), None),
            ("js_code_point", js_code_point(text).into_bytes(), None),
            ("percent_u", percent_u(text).into_bytes(), None),
            (
                "qp_over_percent",
                format!("Notes=\r\n{}", percent(text).replace('%', "=25")).into_bytes(),
                None,
            ),
            (
                "reference_over_percent",
                format!("<a href=\"{}\">x</a>", percent(text).replace('%', "&#37;")).into_bytes(),
                None,
            ),
            // One escape character in front of each value (`%4111 ...`, `&#123-...`), and a
            // soft line break that makes `KEY=4111...` quoted-printable.
            ("escape_lead", text.replace("file: ", "file: %").into_bytes(), None),
            ("reference_lead", text.replace("file: ", "file: &#").into_bytes(), None),
            ("fake_soft_break", format!("config=\n{}", text.replace("file: ", "file=")).into_bytes(), None),
            ("cp1252", cp1252_separators(text), None),
            ("utf16be", utf16be(text), None),
            ("utf32le", utf32(text, false), None),
            (
                "combining_keycaps",
                text.chars()
                    .flat_map(|c| if c.is_ascii_digit() { vec![c, '\u{FE0F}', '\u{20E3}'] } else { vec![c] })
                    .collect::<String>()
                    .into_bytes(),
                None,
            ),
            (
                "html_hidden_decoys",
                format!("<html><body><p>{}</p></body></html>", text.replace(' ', " <span hidden>7</span>"))
                    .into_bytes(),
                None,
            ),
            (
                "utf32le_no_bom_stray",
                [&b"x"[..], &text.chars().flat_map(|c| (c as u32).to_le_bytes()).collect::<Vec<u8>>()]
                    .concat(),
                None,
            ),
            ("utf16be_fullwidth_stray", [&b"7"[..], &utf16be(&fullwidth(text))].concat(), None),
            ("base64_json", format!("{{\"file\": \"{}\"}}", base64_std(text.as_bytes())).into_bytes(), None),
            ("base64_zip_xml", format!("<f>\n{}\n</f>", base64_wrapped(&zip, 76, "\n")).into_bytes(), None),
            (
                "wrapped",
                format!(
                    "We received the payment details from the customer yesterday,\n{}",
                    text.replace(" 1111 1111 ", " 1111\n1111 ")
                )
                .into_bytes(),
                None,
            ),
        ];
        for (name, bytes, ct) in cases {
            out.push((format!("{name}/{label}"), bytes, ct.map(str::to_string)));
        }
    }
    out
}

/// uuencode of `data` as `uuencode` writes it: a `begin 644 NAME` line, lines of 45 bytes,
/// backquotes for zero, a backquote line and `end`.
pub fn uuencode(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("begin 644 {name}\n").into_bytes();
    let ch = |v: u8| if v == 0 { b'`' } else { v + 0x20 };
    for chunk in data.chunks(45) {
        out.push(ch(chunk.len() as u8));
        for g in chunk.chunks(3) {
            let b = [g[0], g.get(1).copied().unwrap_or(0), g.get(2).copied().unwrap_or(0)];
            out.extend([
                ch(b[0] >> 2),
                ch(((b[0] & 3) << 4) | (b[1] >> 4)),
                ch(((b[1] & 15) << 2) | (b[2] >> 6)),
                ch(b[2] & 63),
            ]);
        }
        out.push(b'\n');
    }
    out.extend_from_slice(b"`\nend\n");
    out
}
