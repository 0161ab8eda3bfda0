//! Feeds arbitrary text to the policy parser (`inspect::Policy::from_toml_str`, what
//! `--policy` files and reloads go through): it must never panic; an error names a line that
//! exists; and a policy it accepts must compile into an engine that scans a sample without
//! panicking.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use inspect::{Engine, Limits, Policy, ScanContext};
use libfuzzer_sys::fuzz_target;

const SAMPLE: &[u8] = b"name: Jane Roe\ncard 4111 1111 1111 1111 exp 12/29\nssn 123-45-6789\n\
    iban GB82 WEST 1234 5698 7654 32\nAKIAIOSFODNN7EXAMPLE confidential project\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml_str(text) {
        Err(e) => {
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= text.split('\n').count().max(1), "line {line}: {e}");
            }
        }
        Ok(policy) => {
            let limits = Limits { max_cpu_time: Duration::from_secs(5), ..Limits::default() };
            let engine = Engine::new(Arc::new(policy), limits);
            let verdict = engine.scan_bytes(ScanContext::default(), SAMPLE);
            assert_eq!(verdict.policy_version, engine.policy().version());
        }
    }
});
