//! Secret tokens found by their literal prefix, PEM private keys, JWTs and e-mail addresses.

use aho_corasick::{AhoCorasick, Input};

use super::{before, context, is_word, Builtin, Confidence, Found};

/// What a literal prefix announces.
#[derive(Debug, Clone, Copy)]
pub(super) struct Literal {
    builtin: Builtin,
    prefix_len: usize,
}

fn literals_of(b: Builtin) -> &'static [&'static str] {
    match b {
        Builtin::PrivateKey => &["-----BEGIN "],
        Builtin::AwsAccessKey => &["AKIA", "ASIA", "ABIA", "ACCA"],
        Builtin::GithubToken => &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        Builtin::SlackToken => &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"],
        Builtin::StripeKey => &["sk_live_", "rk_live_"],
        Builtin::GoogleApiKey => &["AIza"],
        Builtin::GitlabToken => &["glpat-"],
        Builtin::NpmToken => &["npm_"],
        Builtin::Jwt => &["eyJ"],
        _ => &[],
    }
}

/// One automaton over the literal prefixes of every enabled token detector.
pub(super) fn literal_automaton(enabled: &[bool]) -> Result<(Option<AhoCorasick>, Vec<Literal>), String> {
    let mut pats = Vec::new();
    let mut kinds = Vec::new();
    for b in Builtin::ALL {
        if !enabled.get(b.id().0 as usize).copied().unwrap_or(false) {
            continue;
        }
        for p in literals_of(b) {
            pats.push(*p);
            kinds.push(Literal { builtin: b, prefix_len: p.len() });
        }
    }
    if pats.is_empty() {
        return Ok((None, kinds));
    }
    // Leftmost-first lets the automaton use its SIMD (Teddy) prefilter.
    let ac = AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(&pats)
        .map_err(|e| format!("literal prefixes: {e}"))?;
    Ok((Some(ac), kinds))
}

/// Length of the run of bytes from `i` satisfying `f`, at most `max + 1`.
fn span(buf: &[u8], i: usize, max: usize, f: impl Fn(u8) -> bool) -> usize {
    buf.get(i..).unwrap_or(&[]).iter().take(max + 1).take_while(|&&b| f(b)).count()
}

fn b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Examines every literal prefix that starts in `buf[start..end]`.
pub(super) fn scan_literals(buf: &[u8], base: u64, start: usize, end: usize, found: &mut Found<'_>) {
    let set = found.set;
    let Some(ac) = &set.literals else { return };
    // No literal can start inside another's occurrence, so the non-overlapping search (which
    // uses the fast prefilter) finds every occurrence, whatever position it starts from.
    let input = Input::new(buf).span(start..buf.len());
    for m in ac.find_iter(input) {
        if m.start() >= end {
            break;
        }
        let lit = set.literal_kinds[m.pattern().as_usize()];
        let s = m.start();
        let body = s + lit.prefix_len;
        let word_before = before(buf, s).is_some_and(is_word);
        let (conf, len) = match lit.builtin {
            Builtin::PrivateKey => match private_key(buf, s) {
                Some(x) => x,
                None => continue,
            },
            _ if word_before => continue,
            Builtin::AwsAccessKey => {
                let n = span(buf, body, 16, |b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
                if n != 16 || buf.get(body + 16).is_some_and(|b| b.is_ascii_alphanumeric()) {
                    continue;
                }
                (Confidence::High, lit.prefix_len + 16)
            }
            Builtin::GithubToken => {
                let want = if lit.prefix_len == 11 { 82 } else { 36 };
                let n = span(buf, body, want, is_word);
                if n != want {
                    continue;
                }
                (Confidence::High, lit.prefix_len + want)
            }
            Builtin::SlackToken => {
                let n = span(buf, body, 200, |b| b.is_ascii_alphanumeric() || b == b'-');
                if !(10..=200).contains(&n) {
                    continue;
                }
                (Confidence::High, lit.prefix_len + n)
            }
            Builtin::StripeKey => {
                let n = span(buf, body, 99, |b| b.is_ascii_alphanumeric());
                if !(20..=99).contains(&n) {
                    continue;
                }
                (Confidence::High, lit.prefix_len + n)
            }
            Builtin::GoogleApiKey => {
                let n = span(buf, body, 35, b64url);
                if n != 35 {
                    continue;
                }
                (Confidence::High, lit.prefix_len + 35)
            }
            Builtin::GitlabToken => {
                let n = span(buf, body, 20, b64url);
                if n != 20 {
                    continue;
                }
                (Confidence::High, lit.prefix_len + 20)
            }
            Builtin::NpmToken => {
                let n = span(buf, body, 36, |b| b.is_ascii_alphanumeric());
                if n != 36 {
                    continue;
                }
                (Confidence::High, lit.prefix_len + 36)
            }
            Builtin::Jwt => match jwt(buf, s) {
                Some(len) => {
                    let mut c = Confidence::Medium;
                    if set.hotword_near(Builtin::Jwt.id(), context(buf, s, s + len)) {
                        c = c.raised();
                    }
                    (c, len)
                }
                None => continue,
            },
            _ => continue,
        };
        let e = (s + len).min(buf.len());
        found.report(lit.builtin.id(), conf, base + s as u64, &buf[s..e]);
    }
}

/// `-----BEGIN <label>PRIVATE KEY-----`: high with a base64 body after it, medium alone.
/// Returns the length of the header line only; the body is never part of evidence.
fn private_key(buf: &[u8], s: usize) -> Option<(Confidence, usize)> {
    let label_start = s + "-----BEGIN ".len();
    let n = span(buf, label_start, 40, |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
    let label = buf.get(label_start..label_start + n)?;
    let rest = buf.get(label_start + n..)?;
    if !rest.starts_with(b"-----") {
        return None;
    }
    let ok = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
    if !ok {
        return None;
    }
    let header_end = label_start + n + 5;
    // A body: a run of 40+ base64 characters within the next 512 bytes (after any
    // `Proc-Type:`/`DEK-Info:` header lines of old encrypted keys).
    let tail = &buf[header_end..(header_end + 512).min(buf.len())];
    let mut run = 0;
    let mut body = false;
    for &b in tail {
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=' {
            run += 1;
            if run >= 40 {
                body = true;
                break;
            }
        } else {
            run = 0;
        }
    }
    let conf = if body { Confidence::High } else { Confidence::Medium };
    Some((conf, header_end - s))
}

/// `eyJ<header>.eyJ<payload>.<signature>`, each part base64url of 10+ characters.
fn jwt(buf: &[u8], s: usize) -> Option<usize> {
    let h = span(buf, s, 2000, b64url);
    if !(10..=2000).contains(&h) || buf.get(s + h) != Some(&b'.') {
        return None;
    }
    let p0 = s + h + 1;
    if !buf.get(p0..)?.starts_with(b"eyJ") {
        return None;
    }
    let p = span(buf, p0, 4000, b64url);
    if !(10..=4000).contains(&p) || buf.get(p0 + p) != Some(&b'.') {
        return None;
    }
    let s0 = p0 + p + 1;
    let g = span(buf, s0, 1000, b64url);
    if !(10..=1000).contains(&g) {
        return None;
    }
    Some(s0 + g - s)
}

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Examines every `@` in `buf[start..end]` for an e-mail address around it.
pub(super) fn scan_email(buf: &[u8], base: u64, start: usize, end: usize, found: &mut Found<'_>) {
    for at in memchr::memchr_iter(b'@', &buf[start..end]).map(|k| start + k) {
        let mut l = at;
        while l > 0 && at - l < 64 && local_char(buf[l - 1]) {
            l -= 1;
        }
        while l < at && !buf[l].is_ascii_alphanumeric() {
            l += 1;
        }
        if l == at {
            continue;
        }
        // Domain: labels of [A-Za-z0-9-] joined by dots, ending in an alphabetic TLD.
        let mut j = at + 1;
        let mut last_dot = None;
        while j < buf.len() && j - at < 254 {
            let b = buf[j];
            if b.is_ascii_alphanumeric() || b == b'-' {
                j += 1;
            } else if b == b'.'
                && buf.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric())
                && buf[j - 1] != b'.'
                && j > at + 1
            {
                last_dot = Some(j);
                j += 1;
            } else {
                break;
            }
        }
        let Some(dot) = last_dot else { continue };
        let tld = &buf[dot + 1..j];
        if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
            continue;
        }
        found.report(Builtin::Email.id(), Confidence::Medium, base + l as u64, &buf[l..j]);
    }
}
