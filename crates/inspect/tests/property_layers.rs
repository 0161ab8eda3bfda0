//! The property issue 11 asks for: random text, with or without a real value, wrapped in one
//! to three random layers (garbage before and after, compression, archives, encodings) and
//! fed in random chunk sizes, blocks if and only if a value is present, and never comes
//! out could-not-scan.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::sync::Arc;

use inspect::testkit::evasion::{base64_std, percent, utf16be};
use inspect::testkit::{
    bzip2, ebcdic, gzip, lz4, lz4_legacy, lzip, lzma, tar_of, xz, zip_of, zip_stored, zlib, zstd,
};
use inspect::{Engine, Limits, Policy, ScanContext, Verdict};
use proptest::prelude::*;

/// Values the default policy blocks.
const VALUES: &[&str] = &[
    "card 4111 1111 1111 1111",
    "mc 5500-0000-0000-0004",
    "visa 4012888888881881",
    "SSN 123-45-6789",
    "ssn: 219 09 9999",
    "IBAN DE89 3704 0044 0532 0130 00",
    "iban GB82WEST12345698765432",
];

/// Look-alikes the default policy must not block.
const DECOYS: &[&str] = &[
    "order 4111111111111112",
    "card 5500 0000 0000 0005",
    "SSN 000-12-3456",
    "ssn 666-12-3456",
    "ssn 912-34-5678",
    "IBAN DE89 3704 0044 0532 0130 01",
    "iban GB82WEST12345698765433",
    "order id 2024-000123-77",
    "invoice 1234567890",
    "id 550e8400-e29b-41d4-a716-446655440000",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    "at 2024-01-15T10:30:00Z",
    "epoch 1700000000123",
];

const WORDS: &[&str] = &[
    "the",
    "report",
    "quarterly",
    "numbers",
    "team",
    "met",
    "on",
    "Tuesday",
    "review",
    "total",
    "amount",
    "and",
];

/// One wrapping around the bytes so far.
#[derive(Debug, Clone, Copy)]
enum Layer {
    Garbage,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    Lz4,
    Lz4Legacy,
    Lzma,
    Lzip,
    Zlib,
    /// The text after a line of capitals, in EBCDIC (code page 037).
    Ebcdic,
    Zip,
    ZipStored,
    Tar,
    Base64Json,
    Utf16,
    QuotedPrintable,
    Percent,
    /// The text between Chinese, Japanese or Korean sentences, in a legacy encoding with no
    /// label: Shift_JIS, ISO-2022-JP, EUC-JP, GBK, Big5 or EUC-KR (by index).
    LegacyCjk(usize),
}

impl Layer {
    /// Encodings of text apply to text only.
    fn needs_text(self) -> bool {
        matches!(
            self,
            Layer::Utf16 | Layer::QuotedPrintable | Layer::Percent | Layer::LegacyCjk(_) | Layer::Ebcdic
        )
    }

    /// Formats known only at the head of an object (no signature is searched for inside
    /// other content): docs/POLICY.md ("Known limits").
    fn only_at_head(self) -> bool {
        matches!(
            self,
            Layer::Lz4Legacy | Layer::Lzma | Layer::Lzip | Layer::Zlib | Layer::Ebcdic | Layer::Tar
        )
    }

    /// Whether what it makes is ASCII text.
    fn makes_text(self) -> bool {
        matches!(self, Layer::Base64Json | Layer::QuotedPrintable | Layer::Percent)
    }
}

fn layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        Just(Layer::Garbage),
        Just(Layer::Gzip),
        Just(Layer::Bzip2),
        Just(Layer::Xz),
        Just(Layer::Zstd),
        Just(Layer::Lz4),
        Just(Layer::Lz4Legacy),
        Just(Layer::Lzma),
        Just(Layer::Lzip),
        Just(Layer::Zlib),
        Just(Layer::Ebcdic),
        Just(Layer::Zip),
        Just(Layer::ZipStored),
        Just(Layer::Tar),
        Just(Layer::Base64Json),
        Just(Layer::Utf16),
        Just(Layer::QuotedPrintable),
        Just(Layer::Percent),
        (0..LEGACY_CJK.len()).prop_map(Layer::LegacyCjk),
    ]
}

/// Legacy encodings and a sentence of their language.
const LEGACY_CJK: &[(&encoding_rs::Encoding, &str)] = &[
    (encoding_rs::SHIFT_JIS, "本書類は四半期の財務報告に関するもので、複数のデータと分析を含みます。"),
    (encoding_rs::ISO_2022_JP, "来月の請求書を添付いたしますので、ご確認ください。"),
    (encoding_rs::EUC_JP, "東京都千代田区の本社で、来週の月曜日に定例会議を開催いたします。"),
    (encoding_rs::GBK, "这是一份关于季度财务报告的文件，包含多项数据和分析。"),
    (encoding_rs::BIG5, "這是一份關於季度財務報告的文件，包含多項數據和分析。"),
    (encoding_rs::EUC_KR, "이 문서는 분기별 재무 보고서에 관한 것으로 여러 데이터와 분석을 포함합니다. "),
];

/// Quoted-printable as mail software writes it: `=XX` for `=` and bytes outside ASCII,
/// soft line breaks before 76 characters.
fn quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut col = 0;
    for &b in data {
        let enc = if b == b'=' || b >= 0x80 || (b < 0x20 && b != b'\n') {
            format!("={b:02X}").into_bytes()
        } else {
            vec![b]
        };
        if b == b'\n' {
            out.push(b'\n');
            col = 0;
            continue;
        }
        if col + enc.len() > 75 {
            out.extend_from_slice(b"=\n");
            col = 0;
        }
        col += enc.len();
        out.extend_from_slice(&enc);
    }
    out
}

fn wrap(layer: Layer, data: &[u8], garbage: &(Vec<u8>, Vec<u8>)) -> Vec<u8> {
    match layer {
        Layer::Garbage => [garbage.0.as_slice(), data, garbage.1.as_slice()].concat(),
        Layer::Gzip => gzip(data),
        Layer::Bzip2 => bzip2(data),
        Layer::Xz => xz(data),
        Layer::Zstd => zstd(data),
        Layer::Lz4 => lz4(data),
        Layer::Lz4Legacy => lz4_legacy(data),
        Layer::Lzma => lzma(data),
        Layer::Lzip => lzip(data),
        Layer::Zlib => zlib(data),
        Layer::Ebcdic => {
            let text = format!(
                "QUARTERLY ACCOUNT EXTRACT FOR THE BRANCH OFFICE RUN 0042\n{}",
                std::str::from_utf8(data).unwrap()
            );
            ebcdic(&text)
        }
        Layer::Zip => zip_of(&[("readme.txt", b"nothing here"), ("data.bin", data)]),
        Layer::ZipStored => zip_stored(&[("data.bin", data)]),
        Layer::Tar => tar_of(&[("data.bin", data)]),
        Layer::Base64Json => {
            format!("{{\"name\":\"upload.bin\",\"content\":\"{}\"}}", base64_std(data)).into_bytes()
        }
        Layer::Utf16 => utf16be(std::str::from_utf8(data).unwrap()),
        Layer::QuotedPrintable => quoted_printable(data),
        Layer::Percent => percent(std::str::from_utf8(data).unwrap()).into_bytes(),
        Layer::LegacyCjk(i) => {
            let (encoding, sentence) = LEGACY_CJK[i];
            let text = format!("{}{}{}", sentence.repeat(3), std::str::from_utf8(data).unwrap(), sentence);
            encoding.encode(&text).0.into_owned()
        }
    }
}

/// The text: words with decoys among them, and the value (if any) somewhere.
fn text() -> impl Strategy<Value = (String, bool)> {
    (
        prop::collection::vec(prop::sample::select(WORDS), 8..40),
        prop::collection::vec(prop::sample::select(DECOYS), 0..4),
        prop::option::of(prop::sample::select(VALUES)),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(words, decoys, value, at)| {
            let mut parts: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            for (k, d) in decoys.iter().enumerate() {
                let i = (k * 7 + 3) % parts.len();
                parts.insert(i, format!("{d},"));
            }
            if let Some(v) = value {
                parts.insert(at.index(parts.len() + 1), format!("{v},"));
            }
            (parts.join(" ") + "\n", value.is_some())
        })
}

fn garbage() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (prop::collection::vec(any::<u8>(), 0..48), prop::collection::vec(any::<u8>(), 0..48))
}

fn scan_in_chunks(engine: &Engine, data: &[u8], sizes: &[usize]) -> Verdict {
    let mut s = engine.scanner(ScanContext::default());
    let mut i = 0;
    let mut k = 0;
    while i < data.len() {
        let n = sizes[k % sizes.len()].clamp(1, data.len() - i);
        s.feed(&data[i..i + n]);
        i += n;
        k += 1;
    }
    s.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn block_if_and_only_if_a_value_is_present(
        (text, has_value) in text(),
        layers in prop::collection::vec(layer(), 1..=3),
        garbage in garbage(),
        sizes in prop::collection::vec(1usize..300, 1..4),
    ) {
        let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
        let mut data = text.into_bytes();
        let mut is_text = true;
        let mut applied = Vec::new();
        // The text encodings stacked on each other (quoted-printable inside percent-encoding,
        // or the reverse) are left out: docs/POLICY.md ("Not decoded").
        let mut encoded: Option<Layer> = None;
        for l in layers {
            if l.needs_text() && !is_text {
                continue;
            }
            let stacked = matches!(
                (encoded, l),
                (Some(Layer::QuotedPrintable), Layer::Percent | Layer::QuotedPrintable)
                    | (Some(Layer::Percent), Layer::QuotedPrintable)
            );
            // Quoted-printable is only recognised when its first line is a line (no junk in
            // front of it): docs/POLICY.md ("Not decoded").
            // So are CJK sentences in front of it.
            let junk_before_qp =
                matches!((encoded, l), (Some(Layer::QuotedPrintable), Layer::Garbage | Layer::LegacyCjk(_)));
            // A tar, a legacy lz4, lzma, lzip or zlib stream and EBCDIC text not at the head of
            // an object are read as bytes: docs/POLICY.md ("Known limits").
            let junk_before_tar = matches!(l, Layer::Garbage) && applied.last().is_some_and(|a: &Layer| a.only_at_head());
            // Percent-encoding is undone twice over, not three times (docs/POLICY.md).
            let third_percent = matches!(l, Layer::Percent)
                && applied.iter().filter(|a| matches!(a, Layer::Percent)).count() >= 2;
            // EBCDIC is known by the spaces, letters and digits of its head: prose, as a
            // mainframe export is, not base64 or escapes written in it (docs/POLICY.md).
            let ebcdic_of_encoded = matches!(l, Layer::Ebcdic) && !applied.is_empty();
            if stacked || junk_before_qp || junk_before_tar || third_percent || ebcdic_of_encoded {
                continue;
            }
            if matches!(l, Layer::QuotedPrintable | Layer::Percent) {
                encoded = Some(l);
            } else if !matches!(l, Layer::Garbage) {
                encoded = None;
            }
            data = wrap(l, &data, &garbage);
            is_text = l.makes_text() || (is_text && matches!(l, Layer::Garbage) && garbage.0.is_ascii() && garbage.1.is_ascii());
            applied.push(l);
        }
        let whole = engine.scan_bytes(ScanContext::default(), &data);
        let parts = scan_in_chunks(&engine, &data, &sizes);
        prop_assert!(whole.could_not_scan.is_none(), "{applied:?}: {whole:?}");
        prop_assert_eq!(whole.is_block(), has_value, "{:?}: {:?}", applied, whole);
        prop_assert_eq!(&parts, &whole, "{:?} in chunks {:?}", applied, sizes);
    }
}
