//! Feeds arbitrary bytes to the two EDM readers of files a user or an attacker controls: the
//! CSV reader of `dlpgate edm index` (first byte 0) and the index loader (`EdmIndex::open`,
//! what `serve` maps from the data directory; first byte 1). Neither may panic, loop or
//! allocate without bound; an index that opens answers its size questions.
#![no_main]

use std::sync::Arc;

use dlpgate::edm::csv::CsvRecords;
use inspect::edm::{EdmIndex, EdmKey, IndexBytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let mut records = CsvRecords::new(rest);
        // Every record consumes input, so a bounded number of them reads everything.
        for _ in 0..=rest.len() {
            match records.next_record() {
                Ok(Some((line, fields))) => {
                    assert!(line >= 1);
                    assert!(fields.iter().map(|f| f.len()).sum::<usize>() <= rest.len());
                }
                Ok(None) | Err(_) => return,
            }
        }
        panic!("the CSV reader did not finish {} bytes", rest.len());
    } else {
        let _ = EdmIndex::peek_meta(rest);
        let bytes: IndexBytes = Arc::new(rest.to_vec());
        if let Ok(index) = EdmIndex::open(bytes, EdmKey::new(&[7u8; 32])) {
            let _ = (index.rows(), index.columns(), index.meta(), index.build_id());
        }
    }
});
