//! Feeds arbitrary bytes as a DER client certificate to what turns it into subject, SANs,
//! validity and the pinned key (`describe_cert`, `host_names`), and to the pin verifier of
//! `icaps://` (a bundle holding the input itself, and a fixed bundle): it must never panic, a
//! certificate is accepted by its own pin exactly when it is within its validity dates, and
//! never by a bundle that does not hold its key.
#![no_main]

use std::sync::OnceLock;

use icap::tls::{describe_cert, host_names, BundleVerifier, ClientVerifyMode};
use libfuzzer_sys::fuzz_target;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::{CertificateDer, UnixTime};

/// A fixed bundle: the first certificate of the seed corpus.
fn other_bundle() -> &'static Option<BundleVerifier> {
    static V: OnceLock<Option<BundleVerifier>> = OnceLock::new();
    V.get_or_init(|| {
        let der = include_bytes!("../corpus/client_cert/client-ecdsa.der");
        let cert = CertificateDer::from(der.to_vec());
        BundleVerifier::new(&[cert], ClientVerifyMode::Pin, true).ok()
    })
}

fuzz_target!(|data: &[u8]| {
    let cert = CertificateDer::from(data.to_vec());
    let names = host_names(&cert);
    let Ok(info) = describe_cert(&cert) else {
        assert!(names.is_empty(), "names {names:?} from a certificate that does not parse");
        return;
    };
    let _ = (info.days_left(), info.valid_at(0));
    // Mid-validity, when the period is not empty and the time is representable.
    let now = info.not_before.saturating_add(info.not_after.saturating_sub(info.not_before) / 2);
    let Ok(secs) = u64::try_from(now) else { return };
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    if let Ok(own) = BundleVerifier::new(std::slice::from_ref(&cert), ClientVerifyMode::Pin, true) {
        let accepted = own.verify_client_cert(&cert, &[], now).is_ok();
        assert_eq!(accepted, info.valid_at(secs as i64), "pin of its own key at {secs}");
    }
    if let Some(other) = other_bundle() {
        let fixed = describe_cert(&CertificateDer::from(
            include_bytes!("../corpus/client_cert/client-ecdsa.der").to_vec(),
        ));
        if fixed.map(|f| f.spki_der) != Ok(info.spki_der.clone()) {
            assert!(other.verify_client_cert(&cert, &[], now).is_err(), "pinned by a key it does not hold");
        }
    }
});
