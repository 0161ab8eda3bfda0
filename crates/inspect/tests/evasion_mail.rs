//! Evasions by the way e-mail (MIME) and vCard carry text: UTF-7 text, and vCard 2.1
//! quoted-printable values continued over lines. A valid value written so must block, and
//! the same disguise carrying only decoys must be allowed.

mod support;

use inspect::testkit::evasion::{base64_std, DECOYS, VALUES};
use support::{allows, blocks, technique};

/// Every valid value in `wrap` blocks; the decoys in it pass.
#[track_caller]
fn each_value(wrap: impl Fn(&str) -> Vec<u8>) {
    for (det, value) in VALUES {
        blocks(&wrap(value), det);
    }
    for decoy in DECOYS {
        allows(&wrap(decoy));
    }
}

/// UTF-7 (RFC 2152): runs of characters other than letters in modified base64.
fn utf7(s: &str) -> String {
    let mut out = String::new();
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if !run.is_empty() {
            let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('+');
            out.push_str(base64_std(&bytes).trim_end_matches('='));
            out.push('-');
            run.clear();
        }
    };
    for c in s.chars() {
        if c.is_ascii_alphabetic() || c == '\n' || c == '\r' {
            flush(&mut run, &mut out);
            out.push(c);
        } else {
            let mut b = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut b));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A text file that starts with the UTF-7 signature (`+/v8-`, the byte order mark in UTF-7)
/// is read as UTF-7.
#[test]
fn utf7_text_by_its_signature() {
    technique(|t| format!("+/v8-{}", utf7(t)).into_bytes());
    // The signature's last character carries the top bits of the next character: `+/v9`
    // before U+4000-7FFF, `+/v+` before U+8000-BFFF, `+/v/` before U+C000-FFFF.
    let run = |s: &str| {
        let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
        format!("+{}-", base64_std(&bytes).trim_end_matches('='))
    };
    for (sig, text) in [
        ("+/v9", format!("{} 4111 1111 1111 1111", run("\u{feff}\u{5361}"))),
        ("+/v+", format!("{} 4111 1111 1111 1111", run("\u{feff}\u{8d26}"))),
        ("+/v/", run("\u{feff}４１１１　１１１１　１１１１　１１１１")),
    ] {
        assert!(text.starts_with(sig), "{text}");
        blocks(text.as_bytes(), "credit_card");
        let decoy = text.replace("4111 1111 1111 1111", "4111 1111 1111 1112").replace(
            &run("\u{feff}４１１１　１１１１　１１１１　１１１１"),
            &run("\u{feff}４１１１　１１１１　１１１１　１１１２"),
        );
        allows(decoy.as_bytes());
    }
    blocks(b"+/v8-Card number: +ADQAMQAxADEAIAAxADEAMQAxACAAMQAxADEAMQAgADEAMQAxADE-\n", "credit_card");
    allows(b"+/v8-Card number: +ADQAMQAxADEAIAAxADEAMQAxACAAMQAxADEAMQAgADEAMQAxADI-\n");
}

/// vCard 2.1 (and vCalendar 1.0) quoted-printable values: `=XX` escapes and a `=` at a
/// line's end that continues the value on the next line, a number's middle too, in the
/// property's charset.
#[test]
fn vcard_quoted_printable_values() {
    let qp_utf8 = |v: &str| {
        let at = v.len() / 2;
        format!("Kreditkarte f=C3=BCr Zahlungen, Nummer {}=\r\n{} g=C3=BCltig bis 12/28", &v[..at], &v[at..])
    };
    each_value(|v| {
        format!("BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;Jane\r\nNOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{}\r\nEND:VCARD\r\n", qp_utf8(v))
            .into_bytes()
    });
    // Escapes of every digit, bare `QUOTED-PRINTABLE`, Latin-1 around, line breaks alone.
    each_value(|v| {
        let esc: String = v.chars().map(|c| format!("={:02X}", c as u32)).collect();
        let at = esc.len() / 2 / 3 * 3;
        format!(
            "BEGIN:VCARD\nVERSION:2.1\nNOTE;QUOTED-PRINTABLE;CHARSET=ISO-8859-1:f=FCr {}=\n{} ok\nEND:VCARD\n",
            &esc[..at],
            &esc[at..]
        )
        .into_bytes()
    });
    // vCalendar.
    each_value(|v| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nDESCRIPTION;ENCODING=QUOTED-PRINTABLE:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            qp_utf8(v)
        )
        .into_bytes()
    });
    // The red team's card.
    blocks(b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\nNOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Kreditkarte f=C3=BCr Zahlungen im Gesch=C3=A4ft, Nummer 4111 1=\r\n111 1111 1111 g=C3=BCltig bis 12/28\r\nEND:VCARD\r\n", "credit_card");
}
