//! RTF as an attacker writes it: every character a `\uN` escape with no fallback
//! (`\uc0`), values in destinations glued to the text of the next one (document
//! properties, annotations, footnotes, shape properties), a value cut by hidden text
//! (`\v`), and CJK text in `\'hh` escapes of a double-byte code page. A valid value
//! written that way must block; the same document with only decoys must be allowed.

mod support;

use encoding_rs::{Encoding, BIG5, EUC_KR, GBK, SHIFT_JIS};
use inspect::testkit::evasion::{fullwidth, DECOYS, VALUES};
use support::{allows, blocks, technique};

const HEAD: &str = r"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}\f0 ";

/// RTF text for plain text: `\`, `{` and `}` escaped, line breaks as `\par`.
fn escape(t: &str) -> String {
    t.replace('\\', "\\\\").replace('{', "\\{").replace('}', "\\}").replace('\n', "\\par\n")
}

/// A document of the default font holding `body` (RTF).
fn rtf(body: &str) -> Vec<u8> {
    format!("{HEAD}{body}\\par}}").into_bytes()
}

/// Every UTF-16 unit of `t` as `\uN` (signed, as RTF writes them), each followed by
/// `fallback`; line breaks stay `\par`.
fn u_escapes(t: &str, fallback: &str) -> String {
    let mut s = String::new();
    for c in t.chars() {
        if c == '\n' {
            s.push_str("\\par\n");
            continue;
        }
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            s.push_str(&format!("\\u{} {fallback}", *u as i16));
        }
    }
    s
}

/// `t` in `enc`, every byte of a non-ASCII character as `\'hh` (as Word writes them), or,
/// with `literal_ascii`, only bytes from 0x80 up (the second byte of a Shift_JIS character
/// may be a letter, written as itself).
fn hex_escapes(t: &str, enc: &'static Encoding, literal_ascii: bool) -> String {
    let mut s = String::new();
    for c in t.chars() {
        let mut buf = [0; 4];
        let c = &*c.encode_utf8(&mut buf);
        if c.is_ascii() {
            s.push_str(&escape(c));
            continue;
        }
        let (bytes, _, _) = enc.encode(c);
        for &b in bytes.iter() {
            if b < 0x80 && literal_ascii {
                s.push_str(&escape(&char::from(b).to_string()));
            } else {
                s.push_str(&format!("\\'{b:02x}"));
            }
        }
    }
    s
}

/// `\uc0`: no fallback character after each `\uN`; `\uc1`, `\uc2` with fallbacks of each
/// kind (a byte, a `\'hh` escape, a control word, `\binN` and its data).
#[test]
fn unicode_escapes_with_every_fallback_count() {
    technique(|t| rtf(&format!("\\uc0 {}", u_escapes(t, ""))));
    technique(|t| rtf(&format!("\\uc0{}", u_escapes(t, "").replace(' ', ""))));
    technique(|t| rtf(&u_escapes(t, "?")));
    technique(|t| rtf(&format!("\\uc1 {}", u_escapes(t, "\\'3f"))));
    technique(|t| rtf(&format!("\\uc2 {}", u_escapes(t, "\\'81\\'40"))));
    technique(|t| rtf(&format!("\\uc2 {}", u_escapes(t, "\\b0 x"))));
    technique(|t| rtf(&format!("\\uc2 {}", u_escapes(t, "\\bin1 xy"))));
    technique(|t| rtf(&format!("\\uc3 {}", u_escapes(t, "\r\n?\\'3f\\~"))));
}

/// `\uc` is a property of the group: it comes back when the group ends.
#[test]
fn the_fallback_count_is_restored_at_the_end_of_a_group() {
    technique(|t| {
        let mut s = String::from("\\uc1 ");
        for c in t.chars() {
            if c == '\n' {
                s.push_str("\\par\n");
            } else {
                s.push_str(&format!("{{\\uc0 \\u{} }}\\u{} ?", c as u32, 0x200B));
            }
        }
        rtf(&s)
    });
    // A fallback never reaches past its group.
    technique(|t| {
        let groups: String = t
            .chars()
            .map(|c| if c == '\n' { "\\par\n".to_string() } else { format!("{{\\uc5 \\u{} }}", c as u32) })
            .collect();
        rtf(&groups)
    });
}

/// Characters outside the Basic Multilingual Plane are two `\uN` (a surrogate pair).
#[test]
fn surrogate_pairs() {
    let bold = |t: &str| inspect::testkit::evasion::digits_in(t, '𝟎');
    technique(|t| rtf(&u_escapes(&bold(t), "?")));
    technique(|t| rtf(&format!("\\uc0 {}", u_escapes(&bold(t), ""))));
}

/// Document properties, annotations, footnotes, headers, field codes, shape properties and
/// any `\*` destination are text of their own: a value in one is not glued to the text
/// of the next.
#[test]
fn destinations_are_separate_text() {
    let places: &[(&str, &str)] = &[
        ("info title", r"{\info{\title 7}{\title VALUE}{\author x7}}hello"),
        ("info subject", r"{\info{\author 7}{\subject SSN VALUE}{\operator 7}}hello"),
        ("info keywords", r"{\info{\keywords VALUE}{\comment 7}{\doccomm 7}}hello"),
        ("info company", r"{\info{\company 7}{\manager VALUE}{\category 7}{\hlinkbase 7}}hello"),
        ("info \\*company", r"{\info{\*\company VALUE}{\*\manager 7}}hello"),
        ("annotation", r"hello{\*\atnid 7}{\*\atnauthor 7}\chatn{\*\annotation{\*\atnref 1}VALUE}7"),
        ("annotation without \\*", r"hello{\atnid 7}{\atnauthor 7}{\annotation{\atnref 1}VALUE}7"),
        ("footnote", r"Note{\footnote\pard VALUE}7 more"),
        ("header", r"{\header\pard 7}{\headerl VALUE}{\footer 7}hello"),
        ("field code", r"{\field{\fldinst HYPERLINK VALUE}{\fldrslt 7}}"),
        ("shape", r"{\shp{\*\shpinst{\sp{\sn fillColor}{\sv VALUE}}{\sp{\sn 7}{\sv 7}}}}"),
        ("unknown \\*", r"{\*\foo 7}{\*\bar VALUE}{\*\baz 7}"),
        ("index entry", r"x{\xe 7}{\xe VALUE}{\tc 7}"),
        ("text box", r"{\shptxt 7}{\shptxt VALUE}7"),
    ];
    for (place, body) in places {
        for (det, value) in VALUES {
            blocks(&rtf(&body.replace("VALUE", value)), det);
            let _ = place;
        }
        for decoy in DECOYS {
            allows(&rtf(&body.replace("VALUE", decoy)));
        }
    }
}

/// What is displayed in the text around a destination that is not displayed there (a
/// field code, a footnote, a comment) reads as one: a field's result is displayed where
/// the field is.
#[test]
fn destinations_do_not_cut_the_text_around_them() {
    for (det, value) in VALUES {
        let (a, b) = value.split_at(value.len() / 2);
        for body in [
            format!(r"Card {a}{{\field{{\fldinst HYPERLINK x7}}{{\fldrslt {b}}}}} done"),
            format!(r"Card {a}{{\field{{\*\fldinst HYPERLINK x7}}{{\fldrslt {b}}}}} done"),
            format!(r"Card {a}{{\footnote 7}}{b} done"),
            format!(r"Card {a}{{\*\bkmkstart x7}}{b}{{\*\bkmkend x7}} done"),
            format!(r"Card {a}{{\b {b}}} done"),
            format!(r"Card {{\i {a}}}{{\b {b}}} done"),
        ] {
            blocks(&rtf(&body), det);
        }
    }
    for decoy in DECOYS {
        let (a, b) = decoy.split_at(decoy.len() / 2);
        allows(&rtf(&format!(r"Card {a}{{\field{{\fldinst HYPERLINK x7}}{{\fldrslt {b}}}}} done")));
        allows(&rtf(&format!(r"Card {a}{{\footnote 7}}{b} done")));
    }
}

/// Hidden text (`\v`) is not displayed: the text around it reads as one, and hidden text
/// is read as text of its own (it may hold a value too).
#[test]
fn hidden_text() {
    for (det, value) in VALUES {
        let (a, b) = value.split_at(value.len() / 2);
        for body in [
            format!(r"Card {a}{{\v 9999}}{b} done"),
            format!(r"Card {a}{{\v\f0 9 {{\b 99}} 9}}{b} done"),
            format!(r"Card {a}\v 9999\v0 {b} done"),
            format!(r"Card {a}\v 9999\plain {b} done"),
            format!(r"Card {a}{{\deleted 9999}}{b} done"),
            format!(r"{{\shptxt Card {a}{{\v 9999}}{b} done}}"),
            format!(r"Hello {{\v {value}}} world"),
            format!(r"Hello \v {value}\v0  world"),
        ] {
            blocks(&rtf(&body), det);
        }
    }
    for decoy in DECOYS {
        let (a, b) = decoy.split_at(decoy.len() / 2);
        allows(&rtf(&format!(r"Card {a}{{\v 9999}}{b} done")));
        allows(&rtf(&format!(r"Hello {{\v {decoy}}} world")));
    }
}

/// Japanese, Chinese and Korean text in `\'hh` escapes: the code page of the document
/// (`\ansicpgN`) or of the font (`\fcharsetN`, `\cpgN`) decodes them, double-byte
/// characters whole (two escapes, or an escape and a literal second byte).
#[test]
fn cjk_code_pages() {
    let sjis_head = r"{\rtf1\ansi\ansicpg932\deff0{\fonttbl{\f0\fcharset128 MS Gothic;}}\f0 ";
    let label = |t: &str| t.replace("Reference on file: ", "カード番号：");
    for literal in [false, true] {
        technique(|t| {
            format!("{sjis_head}{}\\par}}", hex_escapes(&label(t), SHIFT_JIS, literal)).into_bytes()
        });
    }
    // The code page by the font alone, and by `\cpg`.
    let fonts = r"{\fonttbl{\f0\fcharset0 Arial;}{\f1\fcharset128 MS Gothic;}{\f2\cpg936 SimSun;}}";
    technique(|t| {
        format!(
            r"{{\rtf1\ansi\ansicpg1252\deff0{fonts}\f0 Hi {{\f1 {}}}\par}}",
            hex_escapes(&label(t), SHIFT_JIS, false)
        )
        .into_bytes()
    });
    technique(|t| {
        format!(r"{{\rtf1\ansi\deff0{fonts}\f0 Hi \f2 {}\par}}", hex_escapes(&fullwidth(t), GBK, false))
            .into_bytes()
    });
    // As Word writes it: Latin fonts of character set 0, the double-byte font associated
    // (`\dbch\afN`), the complex-script one set apart (`\rtlch\afN`).
    technique(|t| {
        format!(
            r"{{\rtf1\ansi\ansicpg932\deff0{{\fonttbl{{\f0\fcharset0 Century;}}{{\f13\fcharset128 MS Mincho;}}}}\loch\f0\hich\af0\dbch\af13 {{\rtlch\fcs1 \af0 \ltrch\fcs0 {}}}\par}}",
            hex_escapes(&label(t), SHIFT_JIS, false)
        )
        .into_bytes()
    });
    // Full-width digits in each double-byte code page.
    for (cpg, charset, enc) in [(936, 134, GBK), (950, 136, BIG5), (949, 129, EUC_KR), (932, 128, SHIFT_JIS)]
    {
        technique(|t| {
            format!(
                r"{{\rtf1\ansi\ansicpg{cpg}\deff0{{\fonttbl{{\f0\fcharset{charset} F;}}}}\f0 {}\par}}",
                hex_escapes(&fullwidth(t), enc, false)
            )
            .into_bytes()
        });
    }
}

/// A double-byte lead byte never eats an ASCII digit that is no second byte, and a lone one
/// hides nothing.
#[test]
fn stray_lead_bytes() {
    let head = r"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0\fcharset134 SimSun;}}\f0 ";
    for (det, value) in VALUES.iter().filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit())) {
        for body in [format!(r"\'81{value}"), format!(r"x\'81 {value}"), format!(r"{{\'81}}{value}\'81")] {
            blocks(format!("{head}{body}\\par}}").as_bytes(), det);
        }
    }
}

/// The red team's files, as they were written.
#[test]
fn red_team_reproducers() {
    blocks(
        br"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}\f0 Card number: \uc0 \u52 \u49 \u49 \u49 \u32 \u49 \u49 \u49 \u49 \u32 \u49 \u49 \u49 \u49 \u32 \u49 \u49 \u49 \u49 \par}",
        "credit_card",
    );
    blocks(
        br"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}{\info{\title 4111 1111 1111 1111}{\author x}}\f0 hello\par}",
        "credit_card",
    );
    blocks(
        br"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}{\info{\subject ssn 219-09-9999}}\f0 hello\par}",
        "us_ssn",
    );
    blocks(
        br"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}\f0 Card number: x{\*\atnid JS}{\*\atnauthor J}\chatn{\*\annotation{\*\atnref 1}4111 1111 1111 1111}\par}",
        "credit_card",
    );
    blocks(
        br"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}\f0 Card number: 4111 {\v 9999}1111 1111 1111\par}",
        "credit_card",
    );
    blocks(
        br"{\rtf1\ansi\ansicpg932\deff0{\fonttbl{\f0\fcharset128 MS Gothic;}}\f0 \'83\'4a\'81\'5b\'83\'68\'94\'d4\'8d\'86\'81\'464111 1111 1111 1111\par}",
        "credit_card",
    );
    blocks(
        br"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0\fcharset134 SimSun;}}\f0 \'bf\'a8\'ba\'c5\'a3\'ba\'a3\'b4\'a3\'b1\'a3\'b1\'a3\'b1\'a1\'a1\'a3\'b1\'a3\'b1\'a3\'b1\'a3\'b1\'a1\'a1\'a3\'b1\'a3\'b1\'a3\'b1\'a3\'b1\'a1\'a1\'a3\'b1\'a3\'b1\'a3\'b1\'a3\'b1\par}",
        "credit_card",
    );
}

/// Text in a plain document, and text in `\'hh` escapes of Windows-1252, read as before.
#[test]
fn plain_documents() {
    technique(|t| rtf(&escape(t)));
    technique(|t| rtf(&hex_escapes(&t.replace(' ', "\u{a0}"), encoding_rs::WINDOWS_1252, false)));
}
