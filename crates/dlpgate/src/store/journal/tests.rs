//! The journal's promises: durable appends, torn tails dropped and never misread, damage
//! skipped, replay idempotent and concurrent with appends, one owner, private files.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::store::model::sample_incident;

fn incident(n: usize) -> Incident {
    let mut i = sample_incident(&format!("inc-{n:04}"));
    i.url = Some(format!("http://upload.test/{}", "x".repeat(n * 7)));
    i
}

fn ids(incidents: &[Incident]) -> Vec<String> {
    incidents.iter().map(|i| i.id.clone()).collect()
}

/// A journal in a fresh directory holding `n` incidents.
fn journal_with(n: usize) -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let (journal, report) = Journal::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(report, OpenReport::default());
    for k in 0..n {
        journal.append(&incident(k)).unwrap();
    }
    (dir, journal)
}

fn replay_all(journal: &Journal) -> (Vec<Incident>, ReplayReport) {
    let mut got = Vec::new();
    let report = journal
        .replay(&mut |batch| {
            got.extend_from_slice(batch);
            Ok(())
        })
        .unwrap();
    (got, report)
}

#[test]
fn appends_survive_a_reopen_and_replay_once() {
    let (dir, journal) = journal_with(3);
    assert_eq!(journal.pending(), 3);
    drop(journal);
    let (journal, report) = Journal::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(report, OpenReport { pending: 3, torn_bytes: 0 });
    assert_eq!(read_pending(dir.path()).unwrap().incidents, vec![incident(0), incident(1), incident(2)]);
    let (got, report) = replay_all(&journal);
    assert_eq!(got, vec![incident(0), incident(1), incident(2)]);
    assert_eq!(report, ReplayReport { replayed: 3, damaged_bytes: 0 });
    assert_eq!(journal.pending(), 0);
    assert!(!dir.path().join(REPLAYING_FILE).exists());
    assert_eq!(replay_all(&journal).0, vec![], "nothing is replayed twice");
    assert!(read_pending(dir.path()).unwrap().incidents.is_empty());
}

#[test]
fn a_torn_tail_is_dropped_and_the_complete_records_replay() {
    let (dir, journal) = journal_with(3);
    drop(journal);
    let path = dir.path().join(JOURNAL_FILE);
    let full = std::fs::metadata(&path).unwrap().len();
    // Cut the last record in the middle, as a crash during its write would.
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(full - 40).unwrap();
    let seen = read_pending(dir.path()).unwrap();
    assert_eq!(ids(&seen.incidents), ["inc-0000", "inc-0001"]);
    assert!(seen.damaged_bytes > 0, "the torn record is reported, not read");

    let (journal, report) = Journal::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(report.pending, 2);
    assert!(report.torn_bytes > 0);
    // New records follow the intact ones, not the torn bytes.
    journal.append(&incident(9)).unwrap();
    let (got, report) = replay_all(&journal);
    assert_eq!(ids(&got), ["inc-0000", "inc-0001", "inc-0009"]);
    assert_eq!(report.damaged_bytes, 0);
}

#[test]
fn every_cut_point_reads_back_a_prefix_and_nothing_else() {
    let (dir, journal) = journal_with(3);
    drop(journal);
    let bytes = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    let ends: Vec<usize> = {
        let mut ends = Vec::new();
        let mut at = FILE_MAGIC.len();
        for k in 0..3 {
            at += frame::encode(&incident(k)).unwrap().len();
            ends.push(at);
        }
        ends
    };
    assert_eq!(ends[2], bytes.len());
    let cut_dir = tempfile::tempdir().unwrap();
    for cut in 0..=bytes.len() {
        std::fs::write(cut_dir.path().join(JOURNAL_FILE), &bytes[..cut]).unwrap();
        let seen = read_pending(cut_dir.path()).unwrap();
        let whole = ends.iter().filter(|&&end| end <= cut).count();
        let expected: Vec<Incident> = (0..whole).map(incident).collect();
        assert_eq!(seen.incidents, expected, "cut at {cut}");
    }
}

#[test]
fn damage_in_the_middle_is_skipped_and_kept_aside() {
    let (dir, journal) = journal_with(3);
    drop(journal);
    let path = dir.path().join(JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let second = FILE_MAGIC.len() + frame::encode(&incident(0)).unwrap().len();
    bytes[second + 30] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let (journal, report) = Journal::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(
        report,
        OpenReport { pending: 2, torn_bytes: 0 },
        "damage before an intact record is no torn tail"
    );
    let (got, report) = replay_all(&journal);
    assert_eq!(ids(&got), ["inc-0000", "inc-0002"]);
    assert!(report.damaged_bytes > 0);
    let aside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("incidents.journal.replaying.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

#[test]
fn traffic_cannot_forge_a_record() {
    // An URL and a file name crafted to hold a record's magic and a whole encoded record:
    // JSON escapes them, so the only record starts in the file are the real ones.
    let (dir, journal) = journal_with(0);
    let forged = String::from_utf8_lossy(&frame::encode(&incident(5)).unwrap()).to_string();
    let mut evil = incident(1);
    evil.url = Some(format!("http://x/\u{ff}JR\u{0}{forged}"));
    evil.file_name = Some(forged);
    journal.append(&evil).unwrap();
    drop(journal);
    let bytes = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    let magics = bytes.windows(4).filter(|w| *w == [0xFF, b'J', b'R', 0x00]).count();
    assert_eq!(magics, 1);
    // Even with the real record's head damaged, nothing inside it reads as a record.
    let mut damaged = bytes.clone();
    damaged[FILE_MAGIC.len() + 5] ^= 1;
    std::fs::write(dir.path().join(JOURNAL_FILE), &damaged).unwrap();
    assert!(read_pending(dir.path()).unwrap().incidents.is_empty());
}

#[test]
fn a_failed_replay_keeps_everything_for_the_next() {
    let (dir, journal) = journal_with(300);
    let mut calls = 0;
    let failed = journal.replay(&mut |_| {
        calls += 1;
        if calls == 2 {
            Err(StoreError::Query("database is down".to_string()))
        } else {
            Ok(())
        }
    });
    assert!(matches!(failed, Err(ReplayError::Store(_))), "{failed:?}");
    assert_eq!(journal.pending(), 300);
    assert!(dir.path().join(REPLAYING_FILE).exists());
    drop(journal);
    // Even across a restart: the rotated file is picked up again.
    let (journal, report) = Journal::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(report.pending, 300);
    journal.append(&incident(900)).unwrap();
    let (got, _) = replay_all(&journal);
    assert_eq!(got.len(), 301);
    assert_eq!(journal.pending(), 0);
}

#[test]
fn appends_during_a_replay_go_to_the_fresh_journal() {
    let (_dir, journal) = journal_with(2);
    let mut got = Vec::new();
    let mut appended = false;
    journal
        .replay(&mut |batch| {
            if !appended {
                journal.append(&incident(7)).unwrap();
                appended = true;
            }
            got.extend_from_slice(batch);
            Ok(())
        })
        .unwrap();
    assert_eq!(ids(&got), ["inc-0000", "inc-0001"]);
    assert_eq!(journal.pending(), 1);
    assert_eq!(ids(&replay_all(&journal).0), ["inc-0007"]);
}

#[test]
fn servers_sharing_a_directory_get_a_slot_each_and_orphans_are_replayed() {
    let (dir, first) = journal_with(1);
    // A second server on the same data directory (a restart that overlaps the old process).
    let (second, report) = Journal::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
    assert_eq!(report.pending, 0);
    second.append(&incident(5)).unwrap();
    assert!(dir.path().join("incidents-1.journal").exists());
    assert_eq!(ids(&read_pending(dir.path()).unwrap().incidents), ["inc-0000", "inc-0005"]);
    // While its owner runs, its slot is not touched.
    assert_eq!(ids(&replay_all(&first).0), ["inc-0000"]);
    assert_eq!(second.pending(), 1);
    // Its owner is gone: the next replay of any server takes its records.
    drop(second);
    assert_eq!(ids(&replay_all(&first).0), ["inc-0005"]);
    assert!(read_pending(dir.path()).unwrap().incidents.is_empty());
    let mut owners = vec![first];
    while owners.len() < MAX_SLOTS {
        owners.push(Journal::open(dir.path(), DEFAULT_MAX_BYTES).unwrap().0);
    }
    let taken = Journal::open(dir.path(), DEFAULT_MAX_BYTES);
    assert!(matches!(taken, Err(JournalError::InUse { .. })), "{taken:?}");
}

#[test]
fn private_files_no_symlinks_and_a_size_limit() {
    let (dir, journal) = journal_with(1);
    for name in [JOURNAL_FILE, "incidents.journal.lock"] {
        let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    drop(journal);

    let other = tempfile::tempdir().unwrap();
    let target = other.path().join("elsewhere");
    std::fs::write(&target, b"").unwrap();
    std::os::unix::fs::symlink(&target, other.path().join(JOURNAL_FILE)).unwrap();
    let refused = Journal::open(other.path(), DEFAULT_MAX_BYTES);
    assert!(matches!(refused, Err(JournalError::Io { .. })), "{refused:?}");
    assert_eq!(std::fs::read(&target).unwrap(), b"", "nothing written through the link");

    let not_ours = tempfile::tempdir().unwrap();
    std::fs::write(not_ours.path().join(JOURNAL_FILE), b"some other file\n").unwrap();
    let refused = Journal::open(not_ours.path(), DEFAULT_MAX_BYTES).unwrap_err();
    assert!(refused.to_string().contains("not a dlpgate incident journal"), "{refused}");

    let small = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(small.path(), 4096).unwrap();
    let mut full = None;
    for k in 0..100 {
        if let Err(e) = journal.append(&incident(k)) {
            full = Some(e);
            break;
        }
    }
    assert!(matches!(full, Some(JournalError::Full { max: 4096 })), "{full:?}");
    assert!(std::fs::metadata(small.path().join(JOURNAL_FILE)).unwrap().len() <= 4096);
}

#[test]
fn random_damage_never_panics_and_never_invents_an_incident() {
    // Flip, zero and drop bytes of a real journal at random (seeded): whatever is read back is
    // one of the incidents written, never anything else.
    let (dir, journal) = journal_with(6);
    drop(journal);
    let bytes = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    let written: Vec<Incident> = (0..6).map(incident).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let case = tempfile::tempdir().unwrap();
    for _ in 0..300 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + next(4) {
            let at = FILE_MAGIC.len() + next(damaged.len() - FILE_MAGIC.len());
            match next(3) {
                0 => damaged[at] ^= 1 << next(8),
                1 => damaged[at] = 0,
                _ => {
                    let end = (at + next(64)).min(damaged.len());
                    damaged.drain(at..end);
                }
            }
        }
        std::fs::write(case.path().join(JOURNAL_FILE), &damaged).unwrap();
        let seen = read_pending(case.path()).unwrap();
        assert!(seen.incidents.iter().all(|i| written.contains(i)), "an invented incident");
        assert!(seen.incidents.len() < 6 || seen.damaged_bytes == 0);
    }
}
