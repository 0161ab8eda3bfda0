//! Whole documents written out in hex or in base64 lines narrower than a blob's: what
//! `xxd -p`, Python's `.hex()` and `base64 -w N` make, and what `xxd -r -p` and
//! `base64 -d` read back. Every value so written blocks; the decoys so written pass.

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
