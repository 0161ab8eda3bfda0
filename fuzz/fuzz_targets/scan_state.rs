//! Feeds arbitrary bytes as the `dlpgate scan --state` file that an interrupted scan resumes
//! from: opening it must never panic or fail; every record kept is filed under its own path;
//! and writing the kept records to a new state file and reading that back gives the same
//! records (what one run writes, the next reads unchanged).
#![no_main]

use std::sync::OnceLock;

use dlpgate::scan::record::State;
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
}

fuzz_target!(|data: &[u8]| {
    let given = dir().path().join("given.state");
    let written = dir().path().join("written.state");
    std::fs::write(&given, data).expect("writing the state file");
    let _ = std::fs::remove_file(&written);
    let state = State::open(&given).expect("a state file of any content opens");
    for (path, record) in &state.done {
        assert_eq!(path, &record.path);
    }
    let mut again = State::open(&written).expect("a new state file");
    let mut records: Vec<_> = state.done.values().cloned().collect();
    records.sort_by(|a, b| a.path.cmp(&b.path));
    for record in &records {
        again.append(record).expect("appending");
    }
    drop(again);
    let reread = State::open(&written).expect("reading it back");
    assert_eq!(reread.done, state.done, "records changed through a write and a read");
});
