//! Number-dense benchmark and decoy text: prose where one word in twenty is a long number,
//! and ledger-like CSV exports full of order ids, amounts, dates, phone-like numbers and
//! card-like numbers that fail the Luhn check.

use super::prose;

/// A small deterministic generator (xorshift64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `n` random ASCII digits, the first never `0`.
    pub fn digits(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        for k in 0..n {
            let d = if k == 0 { 1 + self.below(9) } else { self.below(10) };
            s.push(char::from(b'0' + d as u8));
        }
        s
    }
}

/// Luhn check digit that makes `body` + digit valid.
fn luhn_digit(body: &str) -> u8 {
    let mut sum = 0u32;
    for (k, b) in body.bytes().rev().enumerate() {
        let mut v = u32::from(b - b'0');
        if k % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    ((10 - sum % 10) % 10) as u8
}

/// A 16-digit number with a card brand's prefix that fails the Luhn check.
pub fn luhn_invalid_card(rng: &mut Rng) -> String {
    let prefix = ["4", "51", "52", "53", "54", "55", "6011", "35"][rng.below(8) as usize];
    let body = format!("{prefix}{}", rng.digits(15 - prefix.len()));
    let bad = (luhn_digit(&body) + 1 + rng.below(9) as u8) % 10;
    format!("{body}{bad}")
}

/// A 16-digit number with a card brand's prefix that passes the Luhn check.
pub fn luhn_valid_card(rng: &mut Rng) -> String {
    let prefix = ["4", "51", "52", "53", "54", "55", "6011"][rng.below(7) as usize];
    let body = format!("{prefix}{}", rng.digits(15 - prefix.len()));
    let d = luhn_digit(&body);
    format!("{body}{d}")
}

/// `digits` in groups of four joined by `sep`.
pub fn grouped(digits: &str, sep: &str) -> String {
    digits.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(sep)
}

/// Prose of `len` bytes in which one word in twenty is a number of 6 to 10 digits (order
/// ids, references, amounts in cents): the "number-dense" text. A sensitive value
/// every `secret_every` bytes (never, when 0).
pub fn number_dense(len: usize, seed: u64, secret_every: usize) -> Vec<u8> {
    let words = prose(len + 4096, seed, secret_every);
    let mut rng = Rng::new(seed.wrapping_add(17));
    let mut out = Vec::with_capacity(len + 64);
    for w in words.split_inclusive(|&b| b == b' ') {
        if out.len() >= len {
            break;
        }
        if w.first().is_some_and(u8::is_ascii_alphabetic) && rng.below(20) == 0 {
            let n = 6 + rng.below(5) as usize;
            out.extend_from_slice(rng.digits(n).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out.truncate(len);
    out
}

/// A CSV export of `len` bytes: order ids, invoice numbers, dates and timestamps, amounts,
/// quantities, phone numbers, account-like references, UUIDs and card-like numbers that fail
/// the Luhn check. Nothing in it is sensitive; the default policy must allow it.
pub fn ledger(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 256);
    out.extend_from_slice(
        b"date,invoice,order_id,customer_id,sku,qty,unit_price,amount,currency,phone,reference,card_on_file,created_at,uuid\n",
    );
    let mut row = 0u64;
    while out.len() < len {
        row += 1;
        let (y, m, d) = (2019 + rng.below(6), 1 + rng.below(12), 1 + rng.below(28));
        let card = luhn_invalid_card(&mut rng);
        let card = match rng.below(3) {
            0 => card,
            1 => grouped(&card, " "),
            _ => grouped(&card, "-"),
        };
        let order_len = 8 + rng.below(3) as usize;
        let order = rng.digits(order_len);
        let customer = rng.digits(6);
        let sku = format!("SKU-{:05}-{}", rng.below(100_000), rng.below(10));
        let qty = 1 + rng.below(40);
        let unit = format!("{}.{:02}", rng.below(10_000), rng.below(100));
        let amount = format!("{}.{:02}", rng.below(100_000), rng.below(100));
        let phone = format!("+49 {} {}", rng.digits(3), rng.digits(7));
        let reference = format!("{}/{}", rng.digits(4), rng.digits(6));
        let epoch = 1_600_000_000 + rng.below(200_000_000);
        let (hh, mm, ss) = (rng.below(24), rng.below(60), rng.below(60));
        let uuid = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            rng.next_u64() as u32,
            rng.below(0x10000),
            rng.below(0x1000),
            rng.below(0x1000),
            rng.next_u64() & 0xFFFF_FFFF_FFFF
        );
        let line = format!(
            "{y}-{m:02}-{d:02},INV-{y}-{row:06},{order},{customer},{sku},{qty},{unit},{amount},EUR,{phone},{reference},{card},{y}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z {epoch},{uuid}\n"
        );
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luhn(d: &str) -> bool {
        let body = &d[..d.len() - 1];
        luhn_digit(body) == d.as_bytes()[d.len() - 1] - b'0'
    }

    #[test]
    fn card_generators_keep_their_promise() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            assert!(!luhn(&luhn_invalid_card(&mut rng)));
            assert!(luhn(&luhn_valid_card(&mut rng)));
        }
        assert!(luhn("4111111111111111"));
    }
}
