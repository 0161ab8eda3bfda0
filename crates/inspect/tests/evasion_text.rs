//! Evasions by text encoding and layout: for each technique, a valid card, SSN or IBAN
//! written that way must block, and the same technique carrying only decoys (Luhn-invalid
//! card-like numbers, SSNs in invalid ranges, IBANs with a bad checksum, order ids, UUIDs,
//! hashes, timestamps) must be allowed.

mod support;

use support::{allows, allows_as, blocks, blocks_as, scan, technique, technique_as};

/// A CSV field after a numeric field is a value of its own, not the fraction of a decimal
/// number: `1,4111111111111111` holds a card. Groups of three after a comma stay thousands.
#[test]
fn csv_fields_after_numbers() {
    blocks(b"id,card\n1,4111111111111111\n2,4012888888881881\n", "credit_card");
    blocks(b"id;n;card\n17,42,4111 1111 1111 1111\n", "credit_card");
    blocks(b"row,ssn\n7,123-45-6789\n", "us_ssn");
    allows(b"id,card\n1,4111111111111112\n2,4012888888881882\n");
    allows(b"units 4,111,111,111,111,111 and $1,234,567.89 and 0.4111111111111111\n");
    allows(b"id,order\n1,123456789\n2,987654321\n");
}

use inspect::testkit::evasion::{
    cp1252_separators, digits_in, document, fullwidth, html_refs, interleave, json_u, percent,
    quoted_printable_digits, separators, utf16be, utf32, DECOYS, VALUES,
};

/// Applies `f` to the values only (the text around them stays plain).
fn values_only(text: &str, f: impl Fn(&str) -> String) -> Vec<u8> {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("Reference on file: ").and_then(|l| l.strip_suffix(" (checked).\n")) {
            Some(v) => out.push_str(&format!("Reference on file: {} (checked).\n", f(v))),
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}

#[test]
fn digits_of_other_scripts() {
    for zero in ['\u{660}', '\u{6F0}', '\u{966}', '\u{9E6}', '\u{E50}', '\u{FF10}', '\u{1D7CE}', '\u{1D7F6}']
    {
        technique(|t| values_only(t, |v| digits_in(v, zero)));
    }
}

#[test]
fn fullwidth_letters_digits_and_dashes() {
    technique(|t| values_only(t, fullwidth));
    technique(|t| fullwidth(t).into_bytes());
}

#[test]
fn zero_width_and_invisible_characters_inside_values() {
    for ch in [
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}', '\u{180E}', '\u{200E}',
        '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{2063}',
    ] {
        technique(|t| values_only(t, |v| interleave(v, ch)));
    }
}

#[test]
fn unicode_spaces_and_dashes_as_separators() {
    for space in
        ['\u{A0}', '\u{2009}', '\u{202F}', '\u{2007}', '\u{2002}', '\u{200A}', '\u{205F}', '\u{3000}']
    {
        technique(|t| values_only(t, |v| separators(v, space, '-')));
    }
    for dash in [
        '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2212}', '\u{FF0D}',
        '\u{FE63}',
    ] {
        technique(|t| values_only(t, |v| separators(v, ' ', dash)));
    }
}

/// Middle dots and bullets between a card's groups (`4111·1111·1111·1111`, Japanese `・`),
/// in UTF-8 and, for the two Windows-1252 has, as its bytes.
#[test]
fn middle_dots_between_card_groups() {
    for dot in ['\u{B7}', '\u{2022}', '\u{2027}', '\u{2219}', '\u{22C5}', '\u{30FB}', '\u{FF65}'] {
        for (card, valid) in [("4111 1111 1111 1111", true), ("4111 1111 1111 1112", false)] {
            let text = format!("payment {}\n", separators(card, dot, dot));
            if valid {
                blocks(text.as_bytes(), "credit_card");
            } else {
                allows(text.as_bytes());
            }
        }
    }
    for byte in [0x95u8, 0xB7] {
        let text = [&b"payment 4111"[..], &[byte], b"1111", &[byte], b"1111", &[byte], b"1111\n"].concat();
        blocks(&text, "credit_card");
    }
}

/// An IBAN's groups of four joined by dashes or dots instead of spaces, the same throughout.
#[test]
fn iban_groups_joined_by_dashes_or_dots() {
    for joiner in ["-", "."] {
        let iban = |s: &str| format!("Pay to IBAN {}\n", s.replace(' ', joiner));
        blocks(iban("DE89 3704 0044 0532 0130 00").as_bytes(), "iban");
        blocks(iban("GB82 WEST 1234 5698 7654 32").as_bytes(), "iban");
        allows(iban("DE89 3704 0044 0532 0130 01").as_bytes());
    }
    // Mixed joiners are no IBAN's grouping.
    allows(b"IBAN DE89-3704 0044.0532-0130 00\n");
}

#[test]
fn html_character_references() {
    for hex in [false, true] {
        // In plain text, in HTML, in an attribute, in JSON.
        technique(|t| values_only(t, |v| html_refs(v, hex)));
        technique(|t| {
            format!(
                "<html><body><p>{}</p></body></html>",
                String::from_utf8_lossy(&values_only(t, |v| html_refs(v, hex)))
            )
            .into_bytes()
        });
        technique(|t| {
            format!(
                "<form><input value=\"{}\"></form>",
                String::from_utf8_lossy(&values_only(t, |v| html_refs(v, hex))).replace('\n', " ")
            )
            .into_bytes()
        });
        technique(|t| {
            format!(
                "{{\"html\": \"{}\"}}",
                String::from_utf8_lossy(&values_only(t, |v| html_refs(v, hex))).replace('\n', "\\n")
            )
            .into_bytes()
        });
    }
    // Named references for the separators.
    technique(|t| values_only(t, |v| v.replace(' ', "&nbsp;").replace('-', "&ndash;")));
    technique(|t| values_only(t, |v| v.replace(' ', "&thinsp;").replace('-', "&#8209;")));
}

#[test]
fn percent_encoding_in_urls_and_form_bodies() {
    // A URL in text.
    technique(|t| values_only(t, |v| format!("https://pay.example/charge?n={}", percent(v))));
    // A form body, by its Content-Type and by its look.
    let form = |t: &str| {
        let fields: Vec<String> =
            t.lines().enumerate().map(|(k, l)| format!("f{k}={}", percent(l).replace("%20", "+"))).collect();
        fields.join("&").into_bytes()
    };
    technique_as(Some("application/x-www-form-urlencoded"), form);
    technique(form);
    // `+` for the spaces of a value, the rest as it is.
    technique_as(Some("application/x-www-form-urlencoded"), |t| {
        format!("note={}", t.replace('\n', "%0A").replace(' ', "+")).into_bytes()
    });
}

#[test]
fn json_unicode_escapes() {
    // In a JSON body.
    technique(|t| format!("{{\"note\": \"{}\"}}", json_u(t)).into_bytes());
    // In JSON kept as a string inside JSON, and in JavaScript in a page.
    technique(|t| {
        format!("{{\"body\": \"{{\\\"note\\\": \\\"{}\\\"}}\"}}", json_u(t).replace('\\', "\\\\"))
            .into_bytes()
    });
    technique(|t| format!("<html><script>var n = \"{}\";</script></html>", json_u(t)).into_bytes());
    technique(|t| values_only(t, json_u));
}

#[test]
fn quoted_printable_text() {
    technique(|t| quoted_printable_digits(t).into_bytes());
}

/// Junk in front of quoted-printable text: a line longer than quoted-printable allows, a
/// bad `=` escape, binary bytes. The lines that follow are still read as quoted-printable,
/// so a value split by a soft line break is joined. (A junk line used to decide "not
/// quoted-printable" before any soft break was seen; more junk lines than the text has soft
/// breaks still do: docs/POLICY.md.)
#[test]
fn quoted_printable_after_a_junk_first_line() {
    let long = "x".repeat(120);
    for junk in [format!("{long}\r\n"), "a=ZZ b\r\n".to_string(), format!("{long} ")] {
        technique(|t| [junk.as_bytes(), quoted_printable_digits(t).as_bytes()].concat());
    }
    technique(|t| [&b"\x89\x00\xfe\x01"[..], quoted_printable_digits(t).as_bytes()].concat());
}

#[test]
fn windows_1252_and_latin_1() {
    technique(cp1252_separators);
    technique(|t| {
        let mut b = b"Caf\xe9 cr\xe8me br\xfbl\xe9e \xa9 2024.\n".to_vec();
        b.extend(values_only(t, |v| v.to_string()));
        b
    });
}

#[test]
fn wide_encodings() {
    technique(utf16be);
    technique(|t| utf16be(&values_only_str(t, |v| digits_in(v, '\u{FF10}'))));
    technique(|t| utf32(t, false));
    technique(|t| utf32(t, true));
    technique(|t| utf32(&values_only_str(t, |v| interleave(v, '\u{200B}')), true));
}

fn values_only_str(t: &str, f: impl Fn(&str) -> String) -> String {
    String::from_utf8(values_only(t, f)).expect("UTF-8 in, UTF-8 out")
}

mod base64_blobs {
    use inspect::testkit::evasion::{base64_std, base64_url, base64_wrapped, document, DECOYS, VALUES};
    use inspect::testkit::{docx, pdf, zip_of};
    use inspect::{CouldNotScan, LimitKind};

    use super::*;

    /// Files an API might carry: the document as text, in a zip, as a Word file, as a PDF.
    fn files(text: &str) -> Vec<Vec<u8>> {
        let lines: Vec<&str> = text.lines().collect();
        vec![
            text.as_bytes().to_vec(),
            zip_of(&[("notes/ledger.txt", text.as_bytes())]),
            docx(&lines),
            pdf(&lines, false),
        ]
    }

    /// Each file, carried by `carry` (bytes -> body), blocks with valid values and passes
    /// with decoys.
    #[track_caller]
    fn carried(content_type: Option<&str>, carry: impl Fn(&[u8]) -> Vec<u8>) {
        for (det, value) in VALUES {
            for f in files(&document(&[value])) {
                blocks_as(&carry(&f), content_type, det);
            }
        }
        for f in files(&document(DECOYS)) {
            allows_as(&carry(&f), content_type);
        }
    }

    #[test]
    fn in_json() {
        carried(None, |f| {
            format!("{{\"name\": \"upload\", \"content\": \"{}\", \"size\": {}}}", base64_std(f), f.len())
                .into_bytes()
        });
        carried(None, |f| format!("[{{\"data\":\"{}\"}}]", base64_url(f)).into_bytes());
        // Wrapped with escaped line breaks, and with escaped slashes.
        carried(None, |f| {
            format!("{{\"b\": \"{}\"}}", base64_wrapped(f, 76, "\\n").replace('/', "\\/")).into_bytes()
        });
    }

    #[test]
    fn in_xml() {
        carried(None, |f| {
            format!(
                "<?xml version=\"1.0\"?>\n<upload>\n  <file name=\"x\">\n    {}\n  </file>\n</upload>\n",
                base64_wrapped(f, 76, "\n    ")
            )
            .into_bytes()
        });
        carried(None, |f| {
            format!(
                "<soap:Envelope><soap:Body><Doc>{}</Doc></soap:Body></soap:Envelope>",
                base64_wrapped(f, 64, "&#13;&#10;")
            )
            .into_bytes()
        });
        carried(None, |f| {
            format!(
                "<html><body><a href=\"data:application/octet-stream;base64,{}\">x</a></body></html>",
                base64_std(f)
            )
            .into_bytes()
        });
    }

    #[test]
    fn in_form_fields() {
        let form = |f: &[u8]| {
            let b = base64_std(f).replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
            format!("name=report&file={b}&submit=Send").into_bytes()
        };
        carried(Some("application/x-www-form-urlencoded"), form);
        carried(None, form);
    }

    #[test]
    fn in_plain_text_and_e_mail() {
        carried(None, |f| {
            format!("Here is the export you asked for:\n\n{}\n\nRegards\n", base64_wrapped(f, 76, "\n"))
                .into_bytes()
        });
        carried(None, |f| {
            format!(
                "From: a@example.com\r\nTo: b@example.com\r\nSubject: export\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe file, pasted:\r\n{}\r\n",
                base64_wrapped(f, 76, "\r\n")
            )
            .into_bytes()
        });
    }

    /// Blobs inside blobs are opened one level deeper each time, up to the depth limit.
    #[test]
    fn nesting_is_bounded_by_the_depth_limit() {
        let nest = |levels: usize| {
            let mut body = document(&["4111 1111 1111 1111"]).into_bytes();
            for _ in 0..levels {
                body = format!("{{\"data\": \"{}\"}}", base64_std(&body)).into_bytes();
            }
            body
        };
        blocks(&nest(9), "credit_card");
        let v = scan(&nest(12), None);
        assert!(
            matches!(v.could_not_scan, Some(CouldNotScan::Limit { limit: LimitKind::MaxDepth, .. }))
                && v.is_block(),
            "{v:?}"
        );
        let e = scan(&nest(3), None);
        assert_eq!(e.evidence[0].member, "base64#1/base64#1/base64#1", "{e:?}");
    }
}

/// A card or IBAN written in groups, wrapped where a group separator was (as mail clients,
/// PDF text and narrow columns do): one line break, with CRLF, trailing spaces or
/// indentation, stands for one separator. Only on a line of ordinary length (40 bytes or
/// more up to the break), so that short table rows never pair up.
#[test]
fn grouped_values_wrapped_at_a_separator() {
    let lead = "We received the payment details from the customer yesterday,";
    for wrapped in [
        format!("{lead} card 4111 1111 1111\n1111, to be charged."),
        format!("{lead} card 4111 1111\r\n1111 1111, to be charged."),
        format!("{lead} card 4111 \n    1111 1111 1111, to be charged."),
        format!("{lead} card 5500 0000 0000\n0004 to be charged."),
        format!("{lead} amex 3782 822463\n10005 to be charged."),
    ] {
        blocks(wrapped.as_bytes(), "credit_card");
    }
    for wrapped in [
        format!("{lead} please pay to DE89 3704 0044\n0532 0130 00 by Friday."),
        "IBAN DE89 3704\r\n0044 0532 0130 00".to_string(),
    ] {
        blocks(wrapped.as_bytes(), "iban");
    }
    // A grouped value whose next line starts with a number is still the value: the wrap
    // reading (which finds nothing) must not hide the reading up to the line break. Office
    // extractors put one value per line, so this is every list of properties or cells.
    for hidden in [
        format!("{lead} card 4111 1111 1111 1111\n12 items"),
        "4111 0000 0000 0032\n4111 0000 0000 0040\n".to_string(),
        "card 4111 1111 1111 1111\n2026".to_string(),
        format!("{lead} 5500 0000 0000 0004\r\n  1234 5678"),
    ] {
        blocks(hidden.as_bytes(), "credit_card");
    }
    blocks(b"ssn 123-45-6789\n1234", "us_ssn");
    // Decoys wrapped the same way.
    allows(format!("{lead} card 4111 1111 1111\n1112, to be charged.").as_bytes());
    allows(format!("{lead} please pay to DE89 3704 0044\n0532 0130 01 by Friday.").as_bytes());
    // Table rows: short lines never join, however their numbers would pair up.
    allows(b"code\n4111 1111\n1111 1111\n5500 0000\n0000 0004\n");
    allows(b"Reference   4111 1111\n1111 1111   Widget\n");
    // A number without groups split over two lines is two numbers (a fixed-width column
    // of 8-digit ids pairs up into a Luhn-valid card once in a hundred rows).
    allows(b"order ids\n41111111\n11111111\n55000000\n00000004\n");
    allows(format!("{lead} 41111111\n11111111 is the pair of ids.").as_bytes());
    // Two line breaks are a paragraph, not a wrap.
    allows(format!("{lead} card 4111 1111\n\n1111 1111 to be charged.").as_bytes());
}

// ---- found by tests/property_layers.rs ----

#[test]
fn percent_encoding_applied_twice() {
    technique(|t| percent(&percent(t)).into_bytes());
    technique(|t| percent(t).replace('%', "%25").into_bytes());
}

#[test]
fn a_byte_order_mark_in_front_of_ascii_text() {
    // FF FE makes the engine read UTF-16LE; the bytes as they are are read too.
    technique(|t| [b"\xFF\xFE".as_slice(), t.as_bytes()].concat());
    technique(|t| [b"\xFE\xFF".as_slice(), t.as_bytes()].concat());
}

#[test]
fn base64_json_behind_binary_bytes() {
    use inspect::testkit::evasion::base64_std;
    technique(|t| {
        let json = format!("{{\"name\":\"a.txt\",\"content\":\"{}\"}}", base64_std(t.as_bytes()));
        let junk: Vec<u8> = (0u8..64).map(|k| k.wrapping_mul(37) % 32).collect();
        [junk.as_slice(), json.as_bytes(), &junk].concat()
    });
}

#[test]
fn json_or_html_sent_as_quoted_printable() {
    use inspect::testkit::evasion::base64_std;
    let qp = |s: &str| {
        // Soft line breaks every 60 characters, as mail software writes them.
        let b = s.replace('=', "=3D");
        let chunks: Vec<String> =
            b.as_bytes().chunks(60).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        chunks.join("=\n").into_bytes()
    };
    technique(|t| qp(&format!("{{\"content\":\"{}\"}}", base64_std(t.as_bytes()))));
    technique(|t| qp(&format!("<html><body><p>{}</p></body></html>", t.replace('\n', " "))));
}

/// UTF-16 after the first KiB of ASCII text, or inside binary data, where identification
/// does not see it: little- and big-endian, at even and odd offsets, with or without a byte
/// order mark, alone or inside a tar in the text.
#[test]
fn utf16_text_past_the_head_of_text_or_binary() {
    let le = |t: &str| t.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    let be = |t: &str| t.encode_utf16().flat_map(u16::to_be_bytes).collect::<Vec<u8>>();
    let text_head = inspect::testkit::prose(1500, 11, 0);
    let mut binary_head = b"\x7fELF\x02\x01\x01\0".to_vec();
    binary_head.extend((0..1500u32).map(|i| (i.wrapping_mul(13) % 251) as u8 | 0x80));
    for (host, head) in [("text", &text_head), ("binary", &binary_head)] {
        for (order, encode) in [("le", &le as &dyn Fn(&str) -> Vec<u8>), ("be", &be)] {
            for lead in [&b""[..], b"x", b"\xFF\xFE", b"\xFE\xFF\x01"] {
                let wrap = |t: &str| [head.as_slice(), lead, &encode(t), b"\nascii tail\n"].concat();
                let label = format!("{host}/{order}/lead {lead:?}");
                for (det, value) in VALUES {
                    let v = scan(&wrap(&document(&[value])), None);
                    assert!(
                        v.is_block() && v.counts.get(*det).copied().unwrap_or(0) > 0,
                        "{label}: {det}: {v:?}"
                    );
                }
                let v = scan(&wrap(&document(DECOYS)), None);
                assert!(!v.is_block() && v.could_not_scan.is_none(), "{label}: decoys: {v:?}");
            }
        }
        // Inside a tar inside the text.
        let tar = inspect::testkit::tar_of(&[("notes.txt", &le(&document(&[VALUES[0].1])))]);
        let v = scan(&[head.as_slice(), &tar].concat(), None);
        assert!(v.is_block(), "{host}: tar: {v:?}");
    }
}

/// A hiding place: its name, the Content-Type it is sent with, and the document holding a
/// value there.
type Place = (&'static str, &'static str, fn(&str) -> String);

/// Markup: every byte inside a tag is read, not only text and comments: attribute values of
/// inline tags (where office runs keep formatting), unquoted values, processing
/// instructions, and a `<` that starts no tag.
#[test]
fn values_hidden_inside_tags() {
    let places: [Place; 6] = [
        ("span attribute", "text/html", |v| {
            format!("<html><body><p>x<span x=\"{v}\">y</span></p></body></html>")
        }),
        ("unquoted value", "text/html", |v| {
            format!("<html><body><input value={}></body></html>", v.replace(' ', ""))
        }),
        ("lt then digit", "text/html", |v| format!("<html><body><p>ref <{v}> ok</p></body></html>")),
        ("xml attribute of a", "application/xml", |v| {
            format!("<?xml version=\"1.0\"?><doc><a b=\"{v}\"/></doc>")
        }),
        ("processing instruction", "application/xml", |v| {
            format!("<?xml version=\"1.0\"?><?note {v}?><doc/>")
        }),
        ("office run formatting", "application/xml", |v| {
            format!("<w:document><w:p><w:r w:rsidR=\"{v}\"><w:t>x</w:t></w:r></w:p></w:document>")
        }),
    ];
    for (name, content_type, place) in places {
        for (det, value) in VALUES {
            let v = scan(place(value).as_bytes(), Some(content_type));
            assert!(v.is_block() && v.counts.get(*det).copied().unwrap_or(0) > 0, "{name}: {det}: {v:?}");
        }
        for decoy in DECOYS {
            let v = scan(place(decoy).as_bytes(), Some(content_type));
            assert!(!v.is_block() && v.could_not_scan.is_none(), "{name}: decoy {decoy}: {v:?}");
        }
    }
}

/// Folds `line` as vCard, iCalendar and LDIF writers do: CRLF and a space after every 75
/// octets (74 on continuation lines), wherever they fall, in a value too.
fn folded(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line.as_bytes();
    let mut width = 75;
    while rest.len() > width {
        out.push_str(&String::from_utf8_lossy(&rest[..width]));
        out.push_str("\r\n ");
        rest = &rest[width..];
        width = 74;
    }
    out.push_str(&String::from_utf8_lossy(rest));
    out
}

/// A contact's note, an event's description and an LDAP entry's description, folded at 75
/// octets: the fold falls inside values at every offset the text puts them at.
#[test]
fn folded_lines_of_vcard_icalendar_and_ldif() {
    let wraps: [fn(&str) -> String; 3] = [
        |t| {
            format!(
                "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jane Doe\r\n{}\r\nEND:VCARD\r\n",
                folded(&format!("NOTE:{t}"))
            )
        },
        |t| {
            format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                folded(&format!("DESCRIPTION:{t}"))
            )
        },
        |t| {
            format!(
                "version: 1\ndn: cn=Jane Doe,dc=example,dc=com\n{}\n",
                folded(&format!("description: {t}"))
            )
        },
    ];
    for wrap in wraps {
        // Every shift of the fold against the value.
        for pad in 0..20 {
            technique(|t| wrap(&format!("{}{}", "x".repeat(pad), t.replace('\n', " "))).into_bytes());
        }
    }
}

/// A line break or tab escaped in a string (`\n`, as a SQL dump, a log line holding JSON or
/// a vCard note writes it) parts the text before it from a value right after it.
#[test]
fn escaped_line_breaks_before_values() {
    for escape in ["\\n", "\\r\\n", "\\t", "\\N"] {
        let line =
            |v: &str| format!("INSERT INTO notes VALUES (1,'first line{escape}{v}{escape}last line');\n");
        for (det, value) in VALUES {
            blocks(line(value).as_bytes(), det);
        }
        for decoy in DECOYS {
            allows(line(decoy).as_bytes());
        }
    }
}

/// A mainframe export in EBCDIC (code page 037): its digits are no ASCII digits.
#[test]
fn ebcdic_text() {
    technique(inspect::testkit::ebcdic);
    technique(|t| inspect::testkit::ebcdic(&t.to_uppercase()));
}
