//! Whole documents written out in hex, in base64 lines narrower than a blob's, in base32
//! or in base 85: what `xxd -p`, Python's `.hex()`, `base64 -w N`, `base32`, `btoa` and
//! Python's `a85encode` and `b85encode` make, and what `xxd -r -p`, `base64 -d`, `base32 -d`
//! and the decoders read back, also behind a title line. Every value so written blocks;
//! the decoys so written pass.

mod support;

use base64::Engine as _;
use support::technique;

fn wrap(s: &str, width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for line in s.as_bytes().chunks(width) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

fn hex(t: &str) -> String {
    t.bytes().map(|x| format!("{x:02x}")).collect()
}

/// RFC 4648 base32, padded (`base32`, Python's `b32encode`).
fn base32(t: &str) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for group in t.as_bytes().chunks(5) {
        let mut b = [0u8; 8];
        b[3..3 + group.len()].copy_from_slice(group);
        let v = u64::from_be_bytes(b);
        let n = (group.len() * 8).div_ceil(5);
        for k in 0..8 {
            out.push(if k < n { char::from(A[((v >> (35 - 5 * k)) & 31) as usize]) } else { '=' });
        }
    }
    out
}

/// Base 85 in `alphabet`: whole groups, and a last partial one padded and cut as Python's
/// `a85encode` and `b85encode` (no padding asked for) write it.
fn base85(t: &str, alphabet: &[u8]) -> String {
    let mut out = String::new();
    for group in t.as_bytes().chunks(4) {
        let mut b = [0u8; 4];
        b[..group.len()].copy_from_slice(group);
        let mut v = u32::from_be_bytes(b);
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = alphabet[(v % 85) as usize];
            v /= 85;
        }
        out.extend(digits[..group.len() + 1].iter().map(|&d| char::from(d)));
    }
    out
}

fn ascii85(t: &str) -> String {
    let a: Vec<u8> = (b'!'..=b'u').collect();
    base85(t, &a)
}

fn b85(t: &str) -> String {
    base85(t, b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~")
}

#[test]
fn base32_objects() {
    // `base32`: 76 characters a line; `b32encode`: one line.
    technique(|t| wrap(&base32(t), 76));
    technique(|t| base32(t).into_bytes());
    technique(|t| wrap(&base32(t), 64));
}

#[test]
fn base85_objects() {
    // Python's `a85encode`, one line; Adobe's `<~...~>` wrapped at 76 as `a85encode(adobe=True,
    // wrapcol=76)` writes it (the `<~` counts in the first line).
    technique(|t| ascii85(t).into_bytes());
    technique(|t| {
        let framed = format!("<~{}", ascii85(t));
        let mut w = wrap(&framed, 76);
        w.pop();
        w.extend_from_slice(b"~>\n");
        w
    });
    // Python's `b85encode`.
    technique(|t| b85(t).into_bytes());
}

/// A hex dump or narrow base64 behind a short title line (and a blank line), and hex in
/// both cases: `xxd -r -p` reads both, and a receiver drops the title. A value in the title
/// is read too.
#[test]
fn dumps_behind_a_title_and_mixed_case_hex() {
    technique(|t| [&b"-- dump --\n"[..], &wrap(&hex(t), 60)].concat());
    technique(|t| {
        let b = base64::engine::general_purpose::STANDARD.encode(t);
        [&b"Attachment (base64):\n\n"[..], &wrap(&b, 40)].concat()
    });
    technique(|t| [&b"=== export ===\n"[..], &wrap(&base32(t), 76)].concat());
    let mixed = |t: &str| -> String {
        hex(t).chars().enumerate().map(|(k, c)| if k % 3 == 0 { c.to_ascii_uppercase() } else { c }).collect()
    };
    technique(|t| wrap(&mixed(t), 60));
    technique(|t| mixed(t).into_bytes());
    let decoys = inspect::testkit::evasion::document(inspect::testkit::evasion::DECOYS);
    support::blocks(
        &[&b"dump of 4111 1111 1111 1111\n"[..], &wrap(&hex(&decoys), 60)].concat(),
        "credit_card",
    );
}

#[test]
fn hex_dumps() {
    // `xxd -p`: 60 digits a line.
    technique(|t| wrap(&hex(t), 60));
    // `.hex()`, `binascii.hexlify`: one line, either case.
    technique(|t| hex(t).into_bytes());
    technique(|t| hex(t).to_uppercase().into_bytes());
    // Windows line ends.
    technique(|t| {
        wrap(&hex(t), 32)
            .iter()
            .flat_map(|&b| if b == b'\n' { vec![b'\r', b'\n'] } else { vec![b] })
            .collect()
    });
}

#[test]
fn base64_in_narrow_lines() {
    for width in [16, 40, 48, 57, 60] {
        technique(|t| wrap(&base64::engine::general_purpose::STANDARD.encode(t), width));
        technique(|t| wrap(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t), width));
    }
}

/// A GIF comment longer than one sub-block (255 bytes), the value across the boundary at
/// every offset: readers join the sub-blocks, and so does the engine.
#[test]
fn gif_comments_across_sub_blocks() {
    for at in 238..256 {
        let mut comment = vec![b'x'; at];
        comment.extend_from_slice(b" 4111 1111 1111 1111 trailing words");
        support::blocks(&inspect::testkit::gif(&comment, b"pixels"), "credit_card");
        let mut decoy = vec![b'x'; at];
        decoy.extend_from_slice(b" 4111 1111 1111 1112 trailing words");
        support::allows(&inspect::testkit::gif(&decoy, b"pixels"));
    }
}
