//! Evasions by the way e-mail (MIME) and vCard carry text: encoded words and bodies in
//! charsets other than UTF-8 (ISO-2022-JP, UTF-7, UTF-16, HZ, ISO-2022-KR ...), base64 with
//! bytes outside its alphabet, RFC 2231 parameters continued over sections, and vCard 2.1
//! quoted-printable values continued over lines. A valid value written so must block, and
//! the same disguise carrying only decoys must be allowed.

mod support;

use inspect::testkit::evasion::{base64_std, digits_in, document, DECOYS, VALUES};
use support::{allows, allows_as, blocks, blocks_as, scan, technique, technique_as};

/// Text to the bytes of a charset.
type Encode = dyn Fn(&str) -> Vec<u8>;

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

/// Full-width digits and spaces in the double-byte set of a seven-bit encoding (row 3 and
/// the ideographic space of GB2312 and KS X 1001, high bits cleared), between `open` and
/// `close`; everything else in ASCII.
fn seven_bit(s: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut shifted = false;
    for c in s.chars() {
        let pair = match c {
            '0'..='9' => Some(format!("#{c}")),
            ' ' => Some("!!".to_string()),
            _ => None,
        };
        match pair {
            Some(p) => {
                if !shifted {
                    out.push_str(open);
                    shifted = true;
                }
                out.push_str(&p);
            }
            None => {
                if shifted {
                    out.push_str(close);
                    shifted = false;
                }
                out.push(c);
            }
        }
    }
    if shifted {
        out.push_str(close);
    }
    out
}

fn hz(s: &str) -> String {
    s.lines().map(|l| seven_bit(l, "~{", "~}") + "\n").collect()
}

fn iso_2022_kr(s: &str) -> String {
    format!("\x1b$)C{}", s.lines().map(|l| seven_bit(l, "\x0e", "\x0f") + "\r\n").collect::<String>())
}

fn utf16(s: &str, bom: bool, big: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(if big { &[0xFE, 0xFF] } else { &[0xFF, 0xFE] });
    }
    for u in s.encode_utf16() {
        out.extend_from_slice(&if big { u.to_be_bytes() } else { u.to_le_bytes() });
    }
    out
}

fn mail(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("From: a@example.com\r\nTo: b@example.com\r\nMIME-Version: 1.0\r\n{headers}\r\n\r\n")
        .into_bytes();
    m.extend_from_slice(body);
    m
}

fn subject(word: &str) -> Vec<u8> {
    mail(&format!("Subject: {word}"), b"x\r\n")
}

/// RFC 2047 encoded words in any charset: Japanese mail puts a subject in ISO-2022-JP, and
/// UTF-16, UTF-7, Shift_JIS, EUC-KR, GB18030 and Big5 words are decoded by mail readers too.
#[test]
fn encoded_words_in_other_charsets() {
    let b = |charset: &str, bytes: &[u8]| subject(&format!("=?{charset}?B?{}?=", base64_std(bytes)));
    let card = |v: &str| format!("Card {v}");
    let wide = |v: &str| digits_in(&card(v), '０').replace(' ', "\u{3000}");
    each_value(|v| b("ISO-2022-JP", &encoding_rs::ISO_2022_JP.encode(&format!("番号{}", wide(v))).0));
    each_value(|v| b("shift_jis", &encoding_rs::SHIFT_JIS.encode(&wide(v)).0));
    each_value(|v| b("EUC-KR", &encoding_rs::EUC_KR.encode(&wide(v)).0));
    each_value(|v| b("GB18030", &encoding_rs::GB18030.encode(&wide(v)).0));
    each_value(|v| b("big5", &encoding_rs::BIG5.encode(&wide(v)).0));
    each_value(|v| b("UTF-16", &utf16(&card(v), true, false)));
    each_value(|v| b("UTF-16", &utf16(&card(v), false, true)));
    each_value(|v| b("utf-16le", &utf16(&card(v), false, false)));
    each_value(|v| subject(&format!("=?UTF-7?Q?{}?=", utf7(&card(v)).replace(' ', "_"))));
    each_value(|v| b("utf-7*en", utf7(&card(v)).as_bytes()));
    // The red team's subjects.
    blocks(
        b"From: a@example.com\r\nSubject: =?ISO-2022-JP?B?GyRCSFY5ZiM0IzEjMSMxISEjMSMxIzEjMSEhIzEjMSMxIzEhISMxIzEjMSMxGyhC?=\r\n\r\nx\r\n",
        "credit_card",
    );
    blocks(b"From: a@example.com\r\nSubject: =?UTF-16?B?//5DAGEAcgBkACAANAAxADEAMQAgADEAMQAxADEAIAAxADEAMQAxACAAMQAxADEAMQA=?=\r\n\r\nx\r\n", "credit_card");
    blocks(
        b"From: a@example.com\r\nSubject: =?UTF-7?Q?Card_+ADQAMQAxADE-_1111_1111_1111?=\r\n\r\nx\r\n",
        "credit_card",
    );
    // A charset nobody knows: the bytes as they are.
    blocks(&b("x-unknown", b"Card 4111 1111 1111 1111"), "credit_card");
}

/// A text body (or part) in the charset its Content-Type names, as the reader shows it:
/// UTF-7 (Outlook decodes it), HZ, ISO-2022-KR, UTF-16 without a byte order mark.
#[test]
fn body_in_its_charset() {
    let wide = |t: &str| digits_in(t, '０').replace(' ', "\u{3000}");
    let bodies: [(&str, Box<Encode>); 6] = [
        ("UTF-7", Box::new(|t: &str| utf7(t).into_bytes())),
        ("HZ-GB-2312", Box::new(|t: &str| hz(t).into_bytes())),
        ("ISO-2022-KR", Box::new(|t: &str| iso_2022_kr(t).into_bytes())),
        ("utf-16", Box::new(|t: &str| utf16(t, false, true))),
        ("Shift_JIS", Box::new(move |t: &str| encoding_rs::SHIFT_JIS.encode(&wide(t)).0.into_owned())),
        (
            "windows-874",
            Box::new(|t: &str| encoding_rs::WINDOWS_874.encode(&digits_in(t, '๐')).0.into_owned()),
        ),
    ];
    for (charset, encode) in &bodies {
        // A single-part message.
        technique(|t| mail(&format!("Content-Type: text/plain; charset={charset}"), &encode(t)));
        // A part of a multipart message, base64 or not.
        technique(|t| {
            let mut body = format!(
                "--XX\r\nContent-Type: text/plain; charset=\"{charset}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX\r\nContent-Type: text/plain; charset={charset}\r\n\r\n",
                base64_std(&encode("nothing here\n"))
            )
            .into_bytes();
            body.extend_from_slice(&encode(t));
            body.extend_from_slice(b"\r\n--XX--\r\n");
            mail("Content-Type: multipart/mixed; boundary=XX", &body)
        });
        // A multipart body read as it streams.
        technique_as(Some("multipart/mixed; boundary=XX"), |t| {
            let mut body =
                format!("--XX\r\nContent-Type: text/plain; charset={charset}\r\n\r\n").into_bytes();
            body.extend_from_slice(&encode(t));
            body.extend_from_slice(b"\r\n--XX--\r\n");
            body
        });
    }
    // The labels are not trusted: the bytes are read as they are too.
    technique(|t| mail("Content-Type: text/plain; charset=utf-16", t.as_bytes()));
    technique(|t| mail("Content-Type: text/plain; charset=utf-7", t.replace("file: ", "file: +").as_bytes()));
    // A label on something that is not text changes nothing.
    blocks(
        &mail("Content-Type: application/octet-stream; charset=utf-7", b"card +4111 1111 1111 1111"),
        "credit_card",
    );
}

/// A part in its charset is decoded a slice at a time: a value across the slices' seams
/// (64 KiB) reads whole.
#[test]
fn long_body_in_its_charset() {
    for pad in [65_530, 65_536 - 7, 65_536 - 20] {
        let filler = "x".repeat(pad);
        let body = format!(
            "{filler} {}
",
            utf7("4111 1111 1111 1111")
        );
        blocks(&mail("Content-Type: text/plain; charset=utf-7", body.as_bytes()), "credit_card");
        let body = format!(
            "{filler} {}
",
            utf7("4111 1111 1111 1112")
        );
        allows(&mail("Content-Type: text/plain; charset=utf-7", body.as_bytes()));
    }
}

/// Japanese mail in ISO-2022-JP (which identification reads so by its escapes) and UTF-16
/// with a byte order mark are read once: a value counts once.
#[test]
fn a_charset_read_already_is_read_once() {
    let jp = encoding_rs::ISO_2022_JP.encode("番号は 4111 1111 1111 1111 です。カード番号").0.into_owned();
    let filler = "nothing to see here. ".repeat(20);
    let utf16_bom = utf16(&format!("{filler}card 4111 1111 1111 1111 {filler}"), true, false);
    for (charset, body) in [("ISO-2022-JP", jp), ("utf-16", utf16_bom)] {
        let v = scan(&mail(&format!("Content-Type: text/plain; charset={charset}"), &body), None);
        assert_eq!(v.counts.get("credit_card").copied(), Some(1), "{charset}: {v:?}");
    }
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

/// Base64 bodies with bytes outside the alphabet, which decoders leave out (RFC 2045, 6.8):
/// junk in front, a dot after every character, pieces padded one by one.
#[test]
fn base64_bodies_with_junk() {
    let b64 =
        |body: String| mail("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64", body.as_bytes());
    technique(|t| b64(format!("!!{}", base64_std(t.as_bytes()))));
    technique(|t| b64(base64_std(t.as_bytes()).chars().flat_map(|c| [c, '.']).collect()));
    technique(|t| {
        b64(t.lines().map(|l| base64_std(format!("{l}\n").as_bytes())).collect::<Vec<_>>().join("*"))
    });
    // In a multipart part, buffered or streamed.
    technique(|t| {
        let body = format!(
            "--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n%%{}\r\n--XX--\r\n",
            base64_std(t.as_bytes())
        );
        mail("Content-Type: multipart/mixed; boundary=XX", body.as_bytes())
    });
    technique_as(Some("multipart/mixed; boundary=XX"), |t| {
        format!(
            "--XX\r\nContent-Transfer-Encoding: base64\r\n\r\n%%{}\r\n--XX--\r\n",
            base64_std(t.as_bytes())
        )
        .into_bytes()
    });
    // Text marked base64 that is not: read as it is written too.
    technique(|t| b64(format!("-- {t}")));
    // The red team's bodies.
    blocks(&b64("!!Q2FyZCBudW1iZXIgNDExMSAxMTExIDExMTEgMTExMQ0K".into()), "credit_card");
    allows(&b64("!!Q2FyZCBudW1iZXIgNDExMSAxMTExIDExMTEgMTExMg0K".into()));
}

/// RFC 2231 parameters continued over sections (`filename*0`, `filename*1` ...), plain or
/// percent-encoded (`filename*0*=utf-8''...`), in any parameter: a value split over them
/// reads whole.
#[test]
fn rfc2231_continuations() {
    let split = |v: &str| {
        let at = v.len() / 2;
        (v[..at].to_string(), v[at..].to_string())
    };
    let part = |header: String| {
        let body = format!("--XX\r\n{header}\r\n\r\nxx\r\n--XX--\r\n");
        mail("Content-Type: multipart/mixed; boundary=XX", body.as_bytes())
    };
    let pct = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    each_value(|v| {
        let (a, b) = split(v);
        part(format!(
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*0=\"{a}\"; filename*1=\"{b}.txt\""
        ))
    });
    each_value(|v| {
        let (a, b) = split(v);
        part(format!("Content-Type: application/octet-stream; name*1=\"{b}.txt\";\r\n name*0=\"{a}\""))
    });
    each_value(|v| {
        let (a, b) = split(v);
        part(format!(
            "Content-Type: text/plain\r\nContent-Disposition: attachment; filename*0*=utf-8''{}; filename*1*={}",
            pct(&a),
            pct(&b)
        ))
    });
    each_value(|v| {
        let (a, b) = split(v);
        part(format!("Content-Type: text/plain; x-note*0=\"{a}\"; x-note*1=\"{b}\""))
    });
    // In a form upload read as it streams, and in a message's own headers.
    each_value(|v| {
        let (a, b) = split(v);
        format!(
            "--XX\r\nContent-Disposition: form-data; name=\"f\"; filename*0=\"{a}\"; filename*1=\"{b}\"\r\n\r\nxx\r\n--XX--\r\n"
        )
        .into_bytes()
    });
    for (det, value) in VALUES {
        let (a, b) = split(value);
        let upload = format!(
            "--XX\r\nContent-Disposition: form-data; name=\"f\"; filename*0=\"{a}\"; filename*1=\"{b}\"\r\n\r\nxx\r\n--XX--\r\n"
        );
        blocks_as(upload.as_bytes(), Some("multipart/form-data; boundary=XX"), det);
        let (a, b) = split(value);
        blocks(&mail(&format!("Content-Type: text/plain; x-ref*0=\"{a}\"; x-ref*1=\"{b}\""), b"x"), det);
    }
    for decoy in DECOYS {
        let (a, b) = split(decoy);
        let upload = format!("--XX\r\nContent-Disposition: form-data; name=\"f\"; filename*0=\"{a}\"; filename*1=\"{b}\"\r\n\r\nxx\r\n--XX--\r\n");
        allows_as(upload.as_bytes(), Some("multipart/form-data; boundary=XX"));
    }
    // The red team's message; sections out of order.
    blocks(
        &part(
            "Content-Disposition: attachment; filename*0=\"4111 1111\"; filename*1=\" 1111 1111.txt\"".into(),
        ),
        "credit_card",
    );
    blocks(
        &part(
            "Content-Disposition: attachment; filename*1=\" 1111 1111.txt\"; filename*0=\"4111 1111\"".into(),
        ),
        "credit_card",
    );
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

/// The document, with its charset label, as a single-part mail: the controls that passed
/// before still pass, and plain UTF-8 mail reads as before.
#[test]
fn ordinary_mail_is_unchanged() {
    technique(|t| mail("Content-Type: text/plain; charset=utf-8", t.as_bytes()));
    technique(|t| mail("Content-Type: text/plain; charset=iso-8859-1", t.as_bytes()));
    technique(|t| {
        mail(
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64",
            base64_std(t.as_bytes()).as_bytes(),
        )
    });
    let _ = document(&[]);
}

/// Mail whose first header is not one of the usual first ones (Python's `email` writes
/// `Subject:` first, `openssl smime` writes `To:`, signers put `DKIM-Signature:` first), and
/// an mbox export: still read as mail, so a quoted-printable body is decoded.
#[test]
fn mail_known_by_any_first_header_and_mbox() {
    let body = "Hi Bob, as discussed on the phone please charge the customer card number 41=\r\n11 1111 1111 1111 for the renewal.\r\n";
    let decoy = body.replace("1111 for", "1112 for");
    for first in
        ["Subject: renewal", "To: b@y.example", "DKIM-Signature: v=1; a=rsa-sha256", "Thread-Topic: x"]
    {
        let mail = |b: &str| {
            format!(
                "{first}\r\nFrom: a@x.example\r\nTo: b@y.example\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{b}"
            )
        };
        support::blocks(mail(body).as_bytes(), "credit_card");
        support::allows(mail(&decoy).as_bytes());
        let mbox = format!("From a@x.example Mon Dec  7 10:00:00 2026\n{}", mail(body));
        support::blocks(mbox.as_bytes(), "credit_card");
    }
}
