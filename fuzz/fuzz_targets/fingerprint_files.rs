//! Feeds arbitrary bytes to the two readers of fingerprint files a user or an attacker
//! controls: the per-document records beside an index (`read_records`, what `dlpgate
//! fingerprint add|remove` read back; first byte even) and the index loader
//! (`FingerprintIndex::open`, what `serve` maps from the data directory; first byte odd).
//! Neither may panic, loop or allocate without bound; an index that opens answers its
//! questions and can be scanned with.
#![no_main]

use std::sync::Arc;

use inspect::fingerprint::{read_records, FingerprintIndex, IndexBytes, MAX_NAME_BYTES};
use inspect::{Engine, IndexResolver, Limits, Policy, ScanContext};
use libfuzzer_sys::fuzz_target;

struct One(Arc<FingerprintIndex>);

impl IndexResolver for One {
    fn edm(&mut self, name: &str) -> Result<Arc<inspect::edm::EdmIndex>, String> {
        Err(format!("no EDM index {name}"))
    }
    fn fingerprint(&mut self, _: &str) -> Result<Arc<FingerprintIndex>, String> {
        Ok(self.0.clone())
    }
}

const TEXT: &[u8] = b"The licensee shall keep the source code of the compiler confidential and shall not \
    disclose it to any third party without the prior written consent of the licensor, except to its \
    employees who need to know it for the purposes of this agreement.";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let mut records = 0usize;
        let _ = read_records(rest, |r| {
            assert!(r.name.len() <= MAX_NAME_BYTES);
            records += 1;
            Ok(())
        });
        // Every record takes at least 49 bytes of input.
        assert!(records * 49 <= rest.len());
    } else {
        let _ = FingerprintIndex::peek_meta(rest);
        let bytes: IndexBytes = Arc::new(rest.to_vec());
        if let Ok(index) = FingerprintIndex::open(bytes) {
            let _ = (index.documents(), index.entries(), index.meta(), index.build_id(), index.max_doc_size());
            for d in 0..index.documents().min(16) {
                let _ = index.document(d as u32);
            }
            let rule = "[[rule]]\nname = \"c\"\nfingerprint = { index = \"c\", min_containment = 0.01 }\n";
            if let Ok(policy) = Policy::from_toml_str_with_indexes(rule, &mut One(Arc::new(index))) {
                let engine = Engine::new(Arc::new(policy), Limits::default());
                let _ = engine.scan_bytes(ScanContext::default(), TEXT);
            }
        }
    }
});
