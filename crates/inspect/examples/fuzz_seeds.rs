//! Writes the seed corpus of the `extract` fuzz target: one small file per format.
//!
//! `cargo run -p inspect --features testkit --example fuzz_seeds -- fuzz/corpus/extract`

use inspect::testkit::evasion::disguised_samples;
use inspect::testkit::office::{docx_with, odf_with, pptx_with, xlsx_with};
use inspect::testkit::ole::msg_with;
use inspect::testkit::pdfkit::{cmap_bomb, encrypted, form_fan_out, pdf_case, PDF_CASES};
use inspect::testkit::{
    bzip2, encrypted_zip, gif, gzip, jpeg, mp4, nested_zip, pdf, png, png_ztxt, riff, seven_z, tar_entries,
    tar_of, wrap, xz, zip_laid_out, zip_of, zstd, TarEntry, ZipMember, TAR_END,
};

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus/extract".into());
    std::fs::create_dir_all(&dir)?;
    let text = "card 4111 1111 1111 1111\nssn 123-45-6789\nmail a@b.co\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n";
    // The fuzz target reads its first byte as a selector (0 = no encoding).
    for fmt in [
        "txt",
        "utf16le",
        "shift_jis",
        "gbk_fullwidth",
        "ebcdic",
        "html",
        "json",
        "multipart_nohdr",
        "eml",
        "zip",
        "gzip",
        "tar",
        "tar_gz",
        "lz4",
        "tar_lz4_legacy",
        "lzma",
        "lzip",
        "zlib",
        "docx",
        "xlsx",
        "odt",
        "pdf",
        "rtf",
        "doc",
        "xls",
        "ole_utf16",
    ] {
        let s = wrap(fmt, text);
        let mut b = vec![0u8];
        b.extend_from_slice(&s.bytes);
        std::fs::write(format!("{dir}/{fmt}"), b)?;
    }
    // A uuencoded file alone, and inline in a mail body.
    let uu = inspect::testkit::evasion::uuencode("notes.txt", text.as_bytes());
    std::fs::write(format!("{dir}/uuencoded"), [&[0u8][..], &uu].concat())?;
    let mail = [&b"\0From: a@b.c\r\nSubject: files\r\n\r\nHere:\r\n"[..], &uu].concat();
    std::fs::write(format!("{dir}/eml_uuencoded"), mail)?;
    // Mail, vCard and text in the charsets and encodings their readers decode.
    let seeds: [(&str, &[u8]); 8] = [
        ("eml_utf7_body", b"From: a@b.c\r\nTo: d@e.f\r\nContent-Type: text/plain; charset=UTF-7\r\n\r\ncard +ADQAMQAxADEAIAAxADEAMQAxACAAMQAxADEAMQAgADEAMQAxADE- a+-b +2D3eAA-\r\n"),
        ("eml_hz_body", b"From: a@b.c\r\nTo: d@e.f\r\nContent-Type: text/plain; charset=HZ-GB-2312\r\n\r\n~{?(:E#4#1#1#1!!#1#1#1#1!!#1#1#1#1!!#1#1#1#1~} ~~ ~\n~{#\r\n"),
        ("eml_iso2022kr_body", b"From: a@b.c\r\nTo: d@e.f\r\nContent-Type: text/plain; charset=ISO-2022-KR\r\n\r\n\x1b$)C\x0e9xH##4#1#1#1!!#1#1#1#1!!#1#1#1#1!!#1#1#1#1\x0f \x1b$\x0e#\r\n"),
        ("eml_2047_charsets", b"From: a@b.c\r\nSubject: =?ISO-2022-JP?B?GyRCSFY5ZiM0IzEjMSMxGyhC?= =?UTF-16?B?//40ADEA?= =?UTF-7*en?Q?+ADQAMQ-?= =?utf-32?B?AAAANA==?=\r\n\r\nx\r\n"),
        ("eml_b64_junk", b"From: a@b.c\r\nTo: d@e.f\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!Q.2.F.y.Z.C.B.u.d.W.1.i.Z.X.I.g.N.D.E.x.M.S.A.x.M.T.E.x.I.D.E.x.M.T.E.g.M.T.E.x.M.Q==Cg=\r\n"),
        ("eml_2231_continued", b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain; name*1=\" 1111\"; name*0=\"4111\"\r\nContent-Disposition: attachment; filename*0*=utf-8''%34%31; filename*1=\"11 1111 1111 1111.txt\"; x*=iso-8859-1'en'%E9\r\n\r\nxx\r\n--XX--\r\n"),
        ("vcf_qp_soft_break", b"BEGIN:VCARD\r\nVERSION:2.1\r\nNOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:f=C3=BCr 4111 1=\r\n111 1111 1111 =4=\r\n\r\nN;QUOTED-PRINTABLE;CHARSET=ISO-8859-2:=B1=\nx\r\nEND:VCARD\r\n"),
        ("txt_utf7_signature", b"+/v8-Card number: +ADQAMQAxADEAIAAxADEAMQAxACAAMQAxADEAMQAgADEAMQAxADE- +/v9\n"),
    ];
    for (name, bytes) in seeds {
        std::fs::write(format!("{dir}/{name}"), [&[0u8][..], bytes].concat())?;
    }
    for (name, sel, fmt) in
        [("ce_gzip", 1u8, "ce_gzip"), ("ce_deflate", 2, "ce_deflate"), ("ce_br", 3, "ce_br")]
    {
        let mut b = vec![sel];
        b.extend_from_slice(&wrap(fmt, text).bytes);
        std::fs::write(format!("{dir}/{name}"), b)?;
    }
    // Selector 5: Content-Encoding zstd.
    let mut b = vec![5u8];
    b.extend(zstd(text.as_bytes()));
    std::fs::write(format!("{dir}/ce_zstd"), b)?;
    let t = text.as_bytes();
    let tar = tar_of(&[("a.txt", t)]);
    let two_gz = [gzip(b"first member\n"), gzip(t)].concat();
    let ztxt = png_ztxt("Comment", t);
    // Office documents with text in every hiding place, and the LibreOffice fixtures.
    let card = "card 4111 1111 1111 1111";
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/office");
    let mut office = vec![
        ("docx_places", docx_with("split_runs", card)),
        ("xlsx_places", xlsx_with("formula_split_literals", card)),
        ("pptx_places", pptx_with("notes", card)),
        ("odt_places", odf_with("odt", "split_spans", card)),
        ("ods_places", odf_with("ods", "named_expression", card)),
        ("odp_places", odf_with("odp", "master_page", card)),
        ("msg", msg_with("rtf_body", card)),
    ];
    for name in ["places.doc", "places.xls", "encrypted.doc", "encrypted.xls"] {
        office.push((name, std::fs::read(fixtures.join(name))?));
    }
    for (name, bytes) in office {
        let mut b = vec![0u8];
        b.extend_from_slice(&bytes);
        std::fs::write(format!("{dir}/{}", name.replace('.', "_")), b)?;
    }
    for (name, bytes) in [
        ("encrypted_zip", encrypted_zip()),
        ("nested_zip", nested_zip(3)),
        ("pdf_broken_xref", pdf(&["card 4111 1111 1111 1111"], true)),
        // Formats and hiding places of the containers work (issue 11).
        ("bzip2", bzip2(t)),
        ("xz", xz(t)),
        ("zstd", zstd(t)),
        ("tar_bz2", bzip2(&tar)),
        ("tar_xz", xz(&tar)),
        ("tar_zst", zstd(&tar)),
        ("seven_z", seven_z(&[("a.txt", t), ("dir/b.txt", b"hello")], None, false)),
        ("seven_z_encrypted", seven_z(&[("a.txt", t)], Some("pw"), true)),
        ("gzip_two_members_and_tail", [two_gz, t.to_vec()].concat()),
        (
            "tar_types_and_tail",
            [
                tar_entries(&[
                    TarEntry { name: "p", kind: b'x', link: "", data: b"11 path=a\n" },
                    TarEntry { name: "l", kind: b'2', link: "target", data: b"" },
                    TarEntry { name: "d", kind: b'5', link: "", data: t },
                ]),
                TAR_END.to_vec(),
                t.to_vec(),
            ]
            .concat(),
        ),
        (
            "zip_gaps_and_comments",
            zip_laid_out(
                b"",
                &[ZipMember {
                    name: "a.txt",
                    data: t,
                    comment: "entry comment",
                    gap_after: b"gap",
                    ..ZipMember::default()
                }],
                b"before cd",
                b"archive comment",
                b"after end",
            ),
        ),
        ("zip_after_zip", [zip_of(&[("a.txt", t)]), zip_of(&[("b.txt", b"x".as_slice())])].concat()),
        (
            "png_text_and_tail",
            [
                png(&[
                    ("tEXt", b"Comment\0hello".as_slice()),
                    ("zTXt", &ztxt),
                    ("IDAT", b"pixels".as_slice()),
                ]),
                zip_of(&[("a.txt", t)]),
            ]
            .concat(),
        ),
        ("jpeg_com_and_tail", [jpeg(&[(0xFE, t)], b"scan\xFFdata"), t.to_vec()].concat()),
        ("gif_comment", gif(t, b"pixels")),
        ("wav", riff(b"WAVE", &[(b"fmt ", &[0u8; 16][..]), (b"data", t)])),
        ("mp4", mp4(&[(b"udta", t), (b"mdat", b"samples".as_slice())])),
        ("exe_with_zip", [b"MZ".to_vec(), vec![0x90; 200], zip_of(&[("a.txt", t)])].concat()),
        ("rtf_objects", b"{\\rtf1 hi {\\*\\comment c}{\\object{\\*\\objdata 48656c6c6f}}}".to_vec()),
    ] {
        let mut b = vec![0u8];
        b.extend_from_slice(&bytes);
        std::fs::write(format!("{dir}/{name}"), b)?;
    }
    // One PDF per construct the extractor reads (filters, fonts, layout, syntax).
    let lines = ["card 4111 1111 1111 1111", "ssn 123-45-6789"];
    let mut pdfs: Vec<(String, Vec<u8>)> =
        PDF_CASES.iter().map(|case| (format!("pdf_{case}"), pdf_case(case, &lines))).collect();
    pdfs.push(("pdf_cmap_bomb".into(), cmap_bomb(20)));
    pdfs.push(("pdf_form_fan_out".into(), form_fan_out(6)));
    pdfs.push(("pdf_encrypted".into(), encrypted(&lines)));
    for (name, bytes) in pdfs {
        let mut b = vec![0u8];
        b.extend_from_slice(&bytes);
        std::fs::write(format!("{dir}/{name}"), b)?;
    }
    // The normaliser's decoders and the base64 blob finder: one seed per disguise.
    for (name, bytes, _) in disguised_samples().into_iter().filter(|(n, _, _)| n.ends_with("/value")) {
        let mut b = vec![0u8];
        b.extend_from_slice(&bytes);
        std::fs::write(format!("{dir}/norm_{}", name.trim_end_matches("/value")), b)?;
    }
    Ok(())
}
