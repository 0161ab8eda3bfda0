//! UTF-16 without a byte order mark, as an attacker shapes it to escape the guess: one
//! stray byte in front, text whose characters have no zero byte (full-width digits, CJK
//! around them), a short value alone. A valid value written that way must block, and the
//! same text holding only decoys (Luhn-invalid card-like numbers, SSNs in invalid ranges,
//! IBANs with a bad checksum, order ids, UUIDs, hashes, timestamps) must be allowed.

mod support;

use inspect::testkit::evasion::{fullwidth, utf16be, DECOYS, VALUES};
use support::{allows, blocks, technique};

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Full-width letters and digits (no zero byte but for spaces and line breaks), big- and
/// little-endian, alone and after one stray byte of every kind.
#[test]
fn full_width_utf16_without_a_byte_order_mark() {
    technique(|t| utf16be(&fullwidth(t)));
    technique(|t| utf16le(&fullwidth(t)));
    for stray in [b'x', b'7', b' ', 0x00, 0xFF, 0x80] {
        technique(|t| [&[stray][..], &utf16be(&fullwidth(t))].concat());
        technique(|t| [&[stray][..], &utf16le(&fullwidth(t))].concat());
        technique(|t| [&[stray][..], &utf16be(t)].concat());
    }
}

/// A value alone, or in a sentence of CJK text, in full-width digits.
#[test]
fn short_full_width_values_and_cjk_around_them() {
    for (det, value) in VALUES {
        let fw = fullwidth(value);
        for text in [fw.clone(), format!("卡号：{fw}。谢谢"), format!("口座番号 {fw} です")] {
            blocks(&utf16be(&text), det);
            blocks(&utf16le(&text), det);
            blocks(&[&b"x"[..], &utf16be(&text)].concat(), det);
        }
    }
    for decoy in DECOYS {
        let fw = fullwidth(decoy);
        for text in [fw.clone(), format!("卡号：{fw}。谢谢")] {
            allows(&utf16be(&text));
            allows(&[&b"x"[..], &utf16be(&text)].concat());
        }
    }
}

/// Text mostly in Chinese, Japanese or Korean, whose units are rarely wide (a zero or 0xFF
/// byte only in spaces, full-width punctuation and the value), both byte orders; the value
/// at its start, in its middle and at its end.
#[test]
fn values_in_mostly_cjk_text() {
    let chinese = "这是一份关于季度财务报告的文件，包含多项数据和分析。".repeat(30);
    let korean = "이 문서는 분기별 재무 보고서에 관한 것으로 여러 데이터와 분석을 포함합니다".repeat(30);
    let japanese = "本書類は四半期の財務報告に関するもので、複数のデータと分析を含みます。".repeat(30);
    for (det, value) in VALUES {
        let fw = fullwidth(value);
        let mut texts = vec![format!("口座番号：{fw}。{japanese}")];
        for f in [&chinese, &korean] {
            texts.extend([format!("卡号：{fw}。{f}"), format!("{f}番号{fw}{f}"), format!("{f}：{fw}")]);
        }
        for text in texts {
            blocks(&utf16be(&text), det);
            blocks(&utf16le(&text), det);
        }
    }
    for decoy in DECOYS {
        let fw = fullwidth(decoy);
        for f in [&chinese, &korean, &japanese] {
            allows(&utf16le(&format!("卡号：{fw}。{f}")));
            allows(&utf16be(&format!("{f}番号{fw}{f}")));
        }
    }
}

/// Japanese whose first KiB has no zero or 0xFF byte at all (only kana, kanji and `、。`),
/// then the value in full-width digits: both byte orders, and after a stray byte.
#[test]
fn values_after_kana_and_kanji_only_text() {
    let japanese = "本書類は四半期の財務報告に関するもので、複数のデータと分析を含みます。".repeat(30);
    let wrap = |v: &str| format!("{japanese}口座番号：{}。{japanese}", fullwidth(v));
    for (det, value) in VALUES {
        let text = wrap(value);
        blocks(&utf16be(&text), det);
        blocks(&utf16le(&text), det);
        blocks(&[&b"x"[..], &utf16le(&text)].concat(), det);
        blocks(&[&b"\x96"[..], &utf16be(&text)].concat(), det);
    }
    for decoy in DECOYS {
        allows(&utf16le(&wrap(decoy)));
        allows(&[&b"x"[..], &utf16be(&wrap(decoy))].concat());
    }
}

/// The value comes after a first KiB that is all ASCII in UTF-16, or all full-width.
#[test]
fn the_value_after_the_first_kib() {
    let filler = "Nothing to see in this paragraph, only words. ".repeat(30);
    technique(|t| utf16be(&format!("{filler}\n{}", fullwidth(t))));
    technique(|t| [&b"x"[..], &utf16be(&format!("{}\n{}", fullwidth(&filler), fullwidth(t)))].concat());
}

/// A stray byte cannot be told from a character at either end of UTF-16 text with no byte
/// order mark (`7` then big-endian `4111...` is also little-endian `74111...`): a digit put
/// in front of a value or after it must not hide it, whichever reading is chosen.
#[test]
fn a_stray_digit_at_either_end() {
    for (det, value) in VALUES {
        for text in [value.to_string(), fullwidth(value)] {
            for bytes in [utf16be(&text), utf16le(&text)] {
                blocks(&[&b"7"[..], &bytes].concat(), det);
                blocks(&[&bytes[..], b"7"].concat(), det);
                blocks(&bytes, det);
            }
        }
    }
    for decoy in DECOYS {
        for bytes in [utf16be(decoy), utf16le(&fullwidth(decoy))] {
            allows(&[&b"7"[..], &bytes].concat());
            allows(&[&bytes[..], b"7"].concat());
        }
    }
}

/// UTF-32 without a byte order mark, as Python's `utf-32-le` and `utf-32-be` codecs write
/// it, alone, in full-width characters and after one to three stray bytes.
#[test]
fn utf32_without_a_byte_order_mark() {
    let utf32 = |t: &str, big: bool| -> Vec<u8> {
        t.chars()
            .flat_map(|c| if big { (c as u32).to_be_bytes() } else { (c as u32).to_le_bytes() })
            .collect()
    };
    for big in [false, true] {
        technique(|t| utf32(t, big));
        technique(|t| utf32(&fullwidth(t), big));
        for stray in [&b"x"[..], b"7 ", b"\xFF\x00\x01"] {
            technique(|t| [stray, &utf32(t, big)].concat());
        }
        for (det, value) in VALUES {
            blocks(&utf32(value, big), det);
            blocks(&[&b"7"[..], &utf32(value, big)].concat(), det);
        }
    }
}
