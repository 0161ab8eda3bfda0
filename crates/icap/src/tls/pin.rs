//! Pinned keys for both roles: a peer is accepted when the SHA-256 of its certificate's
//! SubjectPublicKeyInfo is pinned, within dates that dlpgate controls.
//!
//! The presented certificate's own dates are never used for a pin: whoever holds the pinned
//! key can sign a new certificate for it with any dates, so an expired pinned certificate
//! could be minted again and pass. The dates come from what the operator installed instead:
//! for a certificate in a trust bundle, that copy's validity; for an explicit [`Pin`], the
//! not-after date set when the pin was added.

use std::fmt;
use std::sync::Arc;

use rustls::{CertificateError, Error, OtherError};
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};

use super::describe;

/// An explicit pin: the SHA-256 of a server's SubjectPublicKeyInfo (what `dlpgate cert show`
/// prints as "SPKI SHA-256", and `openssl x509 -pubkey -noout | openssl pkey -pubin -outform
/// der | sha256sum`), trusted until `not_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The last moment the pin is trusted, Unix seconds.
    pub not_after: i64,
}

impl Pin {
    /// Parses `sha256:HEX` (64 hex digits; colons allowed, as fingerprints are often printed).
    pub fn parse(text: &str, not_after: i64) -> Result<Self, String> {
        let hex_digits = text
            .strip_prefix("sha256:")
            .or_else(|| text.strip_prefix("SHA256:"))
            .ok_or_else(|| format!("pin {text:?}: expected sha256:<64 hex digits of the SPKI SHA-256>"))?;
        let hex_digits: String = hex_digits.chars().filter(|c| *c != ':').collect();
        let mut spki_sha256 = [0u8; 32];
        hex::decode_to_slice(&hex_digits, &mut spki_sha256)
            .map_err(|e| format!("pin {text:?}: expected 64 hex digits after sha256: ({e})"))?;
        Ok(Self { spki_sha256, not_after })
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.spki_sha256))
    }
}

/// A key trusted by pin, and the dates it is trusted between.
#[derive(Debug, Clone)]
pub(crate) struct PinnedKey {
    spki_sha256: [u8; 32],
    not_before: i64,
    not_after: i64,
    /// Where the pin comes from, for messages.
    origin: String,
}

impl PinnedKey {
    /// An explicit pin.
    pub(crate) fn explicit(pin: &Pin) -> Self {
        Self {
            spki_sha256: pin.spki_sha256,
            not_before: i64::MIN,
            not_after: pin.not_after,
            origin: format!("pin {pin}"),
        }
    }
}

/// The keys of the certificates in a trust bundle, trusted within each copy's dates.
pub(crate) fn bundle_pins(bundle: &[CertificateDer<'_>]) -> Result<Vec<PinnedKey>, String> {
    bundle
        .iter()
        .map(|cert| {
            let info = describe::parse(cert)?;
            Ok(PinnedKey {
                spki_sha256: Sha256::digest(&info.spki_der).into(),
                not_before: info.not_before,
                not_after: info.not_after,
                origin: format!("the pinned certificate {} in the trust bundle", info.subject),
            })
        })
        .collect()
}

/// Accepts `end_entity` when its key is one of `pins` and `now` lies within that pin's dates.
/// A key pinned by none is `UnknownIssuer` (so a caller can try a chain instead); a pinned key
/// outside its dates gets an error that names the pin and its date.
pub(crate) fn check_pins(
    pins: &[PinnedKey],
    end_entity: &CertificateDer<'_>,
    now: UnixTime,
) -> Result<(), Error> {
    let info =
        describe::parse(end_entity).map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let digest: [u8; 32] = Sha256::digest(&info.spki_der).into();
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let mut matching = pins.iter().filter(|p| p.spki_sha256 == digest).peekable();
    if matching.peek().is_none() {
        return Err(Error::InvalidCertificate(CertificateError::UnknownIssuer));
    }
    let mut outside = None;
    for pin in matching {
        if pin.not_before <= now && now <= pin.not_after {
            return Ok(());
        }
        outside = Some(pin);
    }
    let pin = outside.map_or_else(String::new, |p| {
        if now > p.not_after {
            format!(
                "{} expired on {} (the presented certificate's own dates do not count)",
                p.origin,
                date(p.not_after)
            )
        } else {
            format!("{} is not valid before {}", p.origin, date(p.not_before))
        }
    });
    Err(Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(PinOutOfDates(pin))))))
}

fn date(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .map(|s| httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)))
        .unwrap_or_else(|| unix.to_string())
}

/// A pinned key presented outside its pin's dates. Its `Debug` is its message: rustls shows
/// errors of this kind with `Debug`.
struct PinOutOfDates(String);

impl fmt::Debug for PinOutOfDates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for PinOutOfDates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PinOutOfDates {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A certificate for `key` valid between the two Unix times.
    fn cert(key: &rcgen::KeyPair, not_before: i64, not_after: i64) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec!["pinned.test".to_string()]).unwrap();
        params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
        params.self_signed(key).unwrap().der().clone()
    }

    fn at(unix: i64) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(u64::try_from(unix).unwrap()))
    }

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000;

    /// A certificate pinned in a bundle expired; its key holder mints a new one with fresh
    /// dates. The new one is refused: the dates are the bundle copy's, not the presented one's.
    #[test]
    fn a_re_minted_certificate_does_not_outlive_its_pinned_copy() {
        let key = rcgen::KeyPair::generate().unwrap();
        let pinned = cert(&key, NOW - 400 * DAY, NOW - DAY);
        let re_minted = cert(&key, NOW - DAY, NOW + 365 * DAY);
        let pins = bundle_pins(&[pinned]).unwrap();
        let e = check_pins(&pins, &re_minted, at(NOW)).unwrap_err().to_string();
        assert!(e.contains("expired") && e.contains("trust bundle"), "{e}");
        // While the pinned copy is valid, the key is accepted whatever the presented dates.
        let expired_presented = cert(&key, NOW - 400 * DAY, NOW - 300 * DAY);
        check_pins(&pins, &expired_presented, at(NOW - 10 * DAY)).unwrap();
        // Another key is not pinned at all.
        let other = cert(&rcgen::KeyPair::generate().unwrap(), NOW - DAY, NOW + DAY);
        assert_eq!(
            check_pins(&pins, &other, at(NOW)).unwrap_err(),
            Error::InvalidCertificate(CertificateError::UnknownIssuer)
        );
    }

    /// An explicit pin ends at its own not-after, even for a certificate whose dates are valid.
    #[test]
    fn an_explicit_pin_ends_at_its_own_date() {
        let key = rcgen::KeyPair::generate().unwrap();
        let presented = cert(&key, NOW - DAY, NOW + 365 * DAY);
        let digest: [u8; 32] = Sha256::digest(describe::parse(&presented).unwrap().spki_der).into();
        let text = format!("sha256:{}", hex::encode(digest));
        let live = Pin::parse(&text, NOW + DAY).unwrap();
        let expired = Pin::parse(&text, NOW - 1).unwrap();
        assert_eq!(live.to_string(), text);
        check_pins(&[PinnedKey::explicit(&live)], &presented, at(NOW)).unwrap();
        let e = check_pins(&[PinnedKey::explicit(&expired)], &presented, at(NOW)).unwrap_err().to_string();
        assert!(e.contains("expired") && e.contains(&text), "{e}");
        // Colons are allowed; a short or non-hex pin is refused.
        let colons: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(Pin::parse(&format!("sha256:{}", colons.join(":")), 0).unwrap().spki_sha256, digest);
        assert!(Pin::parse("sha256:abcd", 0).is_err());
        assert!(Pin::parse(&hex::encode(digest), 0).is_err(), "the sha256: prefix is required");
    }
}
