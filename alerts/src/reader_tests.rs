//! Tests of `JournalReader`: start positions, tail-following, torn tails, damage.

use super::*;
use crate::{Journal, JournalOptions};

fn open(dir: &Path, segment_bytes: u64) -> Journal {
    Journal::open(
        dir,
        JournalOptions {
            segment_bytes,
            ..JournalOptions::default()
        },
    )
    .expect("open")
    .0
}

fn seqs(reader: &mut JournalReader) -> Vec<u64> {
    reader.by_ref().map(|r| r.expect("record").0).collect()
}

#[test]
fn reads_from_any_seq_across_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = open(dir.path(), 90);
    for i in 1..=20u64 {
        j.append(format!("p{i}").as_bytes()).expect("append");
    }
    j.sync().expect("sync");
    assert!(list_segments(dir.path()).expect("list").len() > 3);
    for from in [0, 1, 2, 7, 19, 20, 21, 100] {
        let mut r = JournalReader::open(dir.path(), from).expect("reader");
        let got: Vec<(u64, Vec<u8>)> = r.by_ref().collect::<Result<_>>().expect("read");
        let want: Vec<(u64, Vec<u8>)> = (from.max(1)..=20)
            .map(|i| (i, format!("p{i}").into_bytes()))
            .collect();
        assert_eq!(got, want, "from {from}");
    }
}

#[test]
fn follows_the_tail_across_rolls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut r = JournalReader::open(dir.path(), 1).expect("reader");
    assert_eq!(seqs(&mut r), Vec::<u64>::new());
    let mut j = open(dir.path(), 70);
    let mut want = Vec::new();
    for i in 1..=12u64 {
        j.append(b"{\"x\":1}").expect("append");
        if i % 4 == 0 {
            j.flush().expect("flush");
            want.extend(i - 3..=i);
            let mut got = Vec::new();
            while got.len() < 4 {
                got.extend(seqs(&mut r));
            }
            assert_eq!(got, want[want.len() - 4..]);
        }
    }
}

#[test]
fn stops_at_a_torn_tail_without_touching_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = open(dir.path(), 1 << 20);
    for _ in 0..3 {
        j.append(b"abc").expect("append");
    }
    j.sync().expect("sync");
    drop(j);
    let (_, path) = list_segments(dir.path())
        .expect("list")
        .pop()
        .expect("segment");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.truncate(bytes.len() - 2);
    std::fs::write(&path, &bytes).expect("write");
    let mut r = JournalReader::open(dir.path(), 1).expect("reader");
    assert_eq!(seqs(&mut r), [1, 2]);
    assert_eq!(seqs(&mut r), Vec::<u64>::new(), "still at the tail");
    assert_eq!(std::fs::read(&path).expect("read"), bytes);
}

#[test]
fn damage_is_an_error_then_the_reader_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = open(dir.path(), 1 << 20);
    for _ in 0..3 {
        j.append(b"abc").expect("append");
    }
    j.sync().expect("sync");
    drop(j);
    let (_, path) = list_segments(dir.path())
        .expect("list")
        .pop()
        .expect("segment");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[HEADER_LEN as usize + 17] ^= 1; // payload of seq 1
    std::fs::write(&path, &bytes).expect("write");
    let mut r = JournalReader::open(dir.path(), 1).expect("reader");
    match r.next() {
        Some(Err(AlertsError::Corrupt {
            segment, offset, ..
        })) => assert_eq!((segment, offset), (path, HEADER_LEN)),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(r.next().is_none());
}

#[test]
fn missing_dir_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        JournalReader::open(&dir.path().join("x"), 1),
        Err(AlertsError::Io { .. })
    ));
}
