//! Files uuencoded into mail, as older clients attach them (`begin 644 NAME` ... `end` in the
//! body) and as the `x-uuencode` transfer encoding sends them, and a `.uue` file uploaded on
//! its own. The encoded lines read as noise; the decoded file must be scanned, archives in
//! it too. A valid value so hidden must block, and the decoys must be allowed.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use inspect::testkit::zip_of;
use support::technique;

fn uuencode(name: &str, data: &[u8]) -> String {
    String::from_utf8(inspect::testkit::evasion::uuencode(name, data)).unwrap()
}

const HEAD: &str = "From: a@example.com\r\nTo: b@example.com\r\nSubject: the files\r\n";

#[test]
fn inline_in_a_plain_mail_body() {
    technique(|doc| {
        format!("{HEAD}\r\nHere they are.\r\n\r\n{}\r\nBye\r\n", uuencode("notes.txt", doc.as_bytes()))
            .into_bytes()
    });
}

#[test]
fn as_the_x_uuencode_transfer_encoding() {
    technique(|doc| {
        format!(
            "{HEAD}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
             Content-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\nContent-Type: application/octet-stream; name=\"d.txt\"\r\n\
             Content-Transfer-Encoding: x-uuencode\r\n\r\n{}--b1--\r\n",
            uuencode("d.txt", doc.as_bytes())
        )
        .into_bytes()
    });
}

#[test]
fn inside_a_mime_text_part_and_holding_a_zip() {
    technique(|doc| {
        let zip = zip_of(&[("inner/data.txt", doc.as_bytes())]);
        format!(
            "{HEAD}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nArchive below.\r\n{}",
            uuencode("data.zip", &zip)
        )
        .into_bytes()
    });
}

#[test]
fn a_uue_file_alone() {
    technique(|doc| uuencode("secret.txt", doc.as_bytes()).into_bytes());
    technique(|doc| {
        uuencode("secret.zip", &zip_of(&[("s.txt", doc.as_bytes())])).replace('\n', "\r\n").into_bytes()
    });
}

/// A line of text in front of the `begin` line does not hide the block.
#[test]
fn a_uue_file_after_a_line_of_text() {
    technique(|doc| {
        [&b"Here is the file you asked for:\n\n"[..], &uu_bytes("secret.txt", doc.as_bytes())].concat()
    });
}

/// A `begin` line in front of other text takes nothing from how that text is read: a zip
/// appended after the block is still opened.
#[test]
fn a_begin_line_does_not_blind_the_rest() {
    technique(|doc| [uu_bytes("x.txt", b"nothing"), zip_of(&[("s.txt", doc.as_bytes())])].concat());
}

fn uu_bytes(name: &str, data: &[u8]) -> Vec<u8> {
    inspect::testkit::evasion::uuencode(name, data)
}

/// Text past the bytes held for its blocks is still read: a `begin` line in front of a text
/// larger than `max_buffered_bytes` does not hide a value in that text (the blocks that
/// could not be held make the object could-not-scan as well).
#[test]
fn text_past_the_held_bytes_is_still_read() {
    let limits = inspect::Limits { max_buffered_bytes: 4096, ..inspect::Limits::default() };
    let engine = inspect::Engine::new(std::sync::Arc::new(inspect::Policy::builtin()), limits);
    let filler = "Nothing to see in this line of the report.\n".repeat(400);
    let text =
        [uu_bytes("x.txt", b"nothing"), format!("{filler}card 4111 1111 1111 1111\n").into_bytes()].concat();
    let v = engine.scan_bytes(inspect::ScanContext::default(), &text);
    assert!(v.counts.get("credit_card").copied().unwrap_or(0) > 0, "{v:?}");
    assert!(v.could_not_scan.is_some(), "{v:?}");
}
