//! Chinese, Japanese and Korean text in the legacy double-byte encodings that Excel, old
//! mail clients and web pages still write (Shift_JIS, ISO-2022-JP, EUC-JP, GBK, Big5, EUC-KR), with no
//! label saying so. Read as bytes, their full-width digits are no digits, and in Shift_JIS
//! and Big5 the second byte of `：` is an ASCII letter glued to the value after it. A valid
//! value, in ASCII or full-width digits, must block; the decoys must be allowed.

mod support;

use encoding_rs::{Encoding, BIG5, EUC_JP, EUC_KR, GBK, ISO_2022_JP, SHIFT_JIS};
use inspect::testkit::evasion::{fullwidth, DECOYS, VALUES};
use support::{allows, blocks};

/// Each encoding with text of its language and a label to put in front of a value.
fn samples() -> Vec<(&'static Encoding, String, &'static str)> {
    let japanese = "本書類は四半期の財務報告に関するもので、複数のデータと分析を含みます。".repeat(8);
    let simplified = "这是一份关于季度财务报告的文件，包含多项数据和分析。".repeat(8);
    let traditional = "這是一份關於季度財務報告的文件，包含多項數據和分析。".repeat(8);
    let korean = "이 문서는 분기별 재무 보고서에 관한 것으로 여러 데이터와 분석을 포함합니다. ".repeat(8);
    vec![
        (SHIFT_JIS, japanese.clone(), "カード番号："),
        (ISO_2022_JP, japanese.clone(), "カード番号："),
        (EUC_JP, japanese, "口座番号："),
        (GBK, simplified, "卡号："),
        (BIG5, traditional, "卡號："),
        (EUC_KR, korean, "카드 번호："),
    ]
}

fn encode(encoding: &'static Encoding, text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding.encode(text);
    assert!(!unmappable, "{} cannot write the sample", encoding.name());
    bytes.into_owned()
}

#[test]
fn values_in_legacy_cjk_text() {
    for (encoding, filler, label) in samples() {
        for (det, value) in VALUES {
            for v in [value.to_string(), fullwidth(value)] {
                let text = format!("{filler}{label}{v}。{filler}");
                blocks(&encode(encoding, &text), det);
                // At the very start too, and after a line of ASCII.
                blocks(&encode(encoding, &format!("{label}{v}。{filler}")), det);
                blocks(&encode(encoding, &format!("id,name\n{filler}{label}{v}")), det);
            }
        }
        for decoy in DECOYS {
            for v in [decoy.to_string(), fullwidth(decoy)] {
                allows(&encode(encoding, &format!("{filler}{label}{v}。{filler}")));
            }
        }
    }
}
