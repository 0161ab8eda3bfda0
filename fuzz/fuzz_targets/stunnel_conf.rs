//! Feeds arbitrary text to the stunnel.conf parser of `dlpgate tunnel`: it must never panic,
//! an error names a line of the text (or none), and a configuration it accepts holds only
//! services with `accept` and `connect`, and timeouts that a deadline can be made of (the
//! tunnel adds them to the clock).
#![no_main]

use std::path::Path;
use std::time::Instant;

use dlpgate::tunnel::config::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Relative includes resolve under a folder that does not exist.
    let path = Path::new("/nonexistent/dlpgate-fuzz/stunnel.conf");
    match parse(text, path) {
        Err(e) => {
            if let Some(origin) = &e.origin {
                if origin.file == path {
                    assert!(origin.line >= 1 && origin.line <= text.lines().count(), "{e}");
                }
            }
        }
        Ok(config) => {
            assert!(!config.services.is_empty());
            for service in &config.services {
                assert!(service.accept.is_some() && !service.connect.is_empty(), "{service:?}");
                let timeouts = [
                    service.timeout_close,
                    service.timeout_idle,
                    service.timeout_connect,
                    service.timeout_busy,
                ];
                for timeout in timeouts {
                    assert!(Instant::now().checked_add(timeout).is_some(), "timeout {timeout:?} accepted");
                }
            }
        }
    }
});
