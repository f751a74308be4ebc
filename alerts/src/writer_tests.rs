//! Tests of `Journal` on real files: reopen, rolls, torn tails, corruption.

use super::*;
use crate::segment::list_segments;
use crate::{JournalReader, verify};

fn opts(segment_bytes: u64) -> JournalOptions {
    JournalOptions {
        segment_bytes,
        ..JournalOptions::default()
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("{{\"n\":{i}}}").into_bytes()
}

/// A synced journal of `n` records; returns its segment paths.
fn write_journal(dir: &Path, n: u64, segment_bytes: u64) -> Vec<PathBuf> {
    let (mut j, _) = Journal::open(dir, opts(segment_bytes)).expect("open");
    for i in 1..=n {
        assert_eq!(j.append(&payload(i)).expect("append"), i);
    }
    j.sync().expect("sync");
    segments(dir)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir)
        .expect("list")
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

fn read_all(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    JournalReader::open(dir, 1)
        .expect("reader")
        .collect::<Result<_>>()
        .expect("read")
}

fn corrupt_at(result: Result<(Journal, OpenReport)>) -> (PathBuf, u64, String) {
    match result {
        Err(AlertsError::Corrupt {
            segment,
            offset,
            reason,
        }) => (segment, offset, reason),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok((_, report)) => panic!("expected Corrupt, opened: {report:?}"),
    }
}

#[test]
fn new_journal_starts_at_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b");
    let (j, report) = Journal::open(&path, JournalOptions::default()).expect("open");
    assert_eq!(j.next_seq(), 1);
    assert_eq!(j.dir(), path);
    assert_eq!(
        report,
        OpenReport {
            segments: 1,
            records: 0,
            truncated: None
        }
    );
    assert_eq!(segments(&path), [path.join("00000000000000000001.seg")]);
}

#[test]
fn reopen_continues_across_rolls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frame = frame::frame_len(payload(1).len()); // payloads 1..=9 have equal length
    let per_segment = 3;
    let segment_bytes = HEADER_LEN + per_segment * frame;
    let mut next = 1;
    for round in 0..3 {
        let (mut j, report) = Journal::open(dir.path(), opts(segment_bytes)).expect("open");
        assert_eq!(
            (j.next_seq(), report.records, report.truncated),
            (next, next - 1, None)
        );
        for _ in 0..(2 + round) {
            assert_eq!(j.append(&payload(next % 10)).expect("append"), next);
            next += 1;
        }
        assert_eq!(j.bytes_written(), (2 + round) * frame);
        j.sync().expect("sync");
    }
    // 2 + 3 + 4 = 9 records, 3 per segment.
    let names: Vec<String> = segments(dir.path())
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "00000000000000000001.seg",
            "00000000000000000004.seg",
            "00000000000000000007.seg"
        ]
    );
    let seqs: Vec<u64> = read_all(dir.path()).into_iter().map(|(s, _)| s).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
}

#[test]
fn unsynced_records_reach_the_os_on_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    j.append(b"{}").expect("append");
    assert!(read_all(dir.path()).is_empty(), "append only buffers");
    j.flush().expect("flush");
    assert_eq!(read_all(dir.path()), [(1, b"{}".to_vec())]);
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segs = write_journal(dir.path(), 7, 100);
    let last = segs.last().expect("segment").clone();
    let full = std::fs::read(&last).expect("read");
    let record = frame::frame_len(payload(7).len()) as usize;
    let start = full.len() - record;
    for cut in start + 1..full.len() {
        std::fs::write(&last, &full[..cut]).expect("cut");
        let (j, report) = Journal::open(dir.path(), opts(100)).expect("open");
        let tail = report.truncated.expect("truncated");
        assert_eq!(
            (tail.segment.as_path(), tail.offset),
            (last.as_path(), start as u64)
        );
        assert_eq!(tail.bytes_dropped, (cut - start) as u64);
        assert_eq!((report.records, j.next_seq()), (6, 7));
        drop(j);
        let (mut j, report) = Journal::open(dir.path(), opts(100)).expect("reopen");
        assert_eq!((report.truncated, j.next_seq()), (None, 7));
        assert_eq!(j.append(&payload(7)).expect("append"), 7);
        j.sync().expect("sync");
        drop(j);
        assert!(
            std::fs::read(&last).expect("read") == full,
            "rewritten identically once closed"
        );
    }
}

#[test]
fn zero_filled_tail_is_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segs = write_journal(dir.path(), 5, 1 << 20);
    let seg = &segs[0];
    let len = std::fs::metadata(seg).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(seg)
        .expect("open")
        .set_len(len + 4096)
        .expect("extend");
    let (j, report) = Journal::open(dir.path(), opts(1 << 20)).expect("open");
    let tail = report.truncated.expect("truncated");
    assert_eq!(
        (tail.offset, tail.bytes_dropped, tail.reason.as_str()),
        (len, 4096, "zero-filled tail")
    );
    assert_eq!(j.next_seq(), 6);
    assert_eq!(std::fs::metadata(seg).expect("meta").len(), len);
}

#[test]
fn empty_last_segment_after_a_crash_during_roll() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_journal(dir.path(), 3, 1 << 20);
    let new = dir.path().join(segment_name(4));
    for content in [&b""[..], b"ALD", &[0u8; 8]] {
        std::fs::write(&new, content).expect("write");
        let (mut j, report) = Journal::open(dir.path(), opts(1 << 20)).expect("open");
        assert_eq!((report.segments, report.records, j.next_seq()), (2, 3, 4));
        assert_eq!(report.truncated.is_some(), !content.is_empty());
        assert_eq!(
            std::fs::read(&new).expect("read"),
            frame::segment_header(),
            "header rewritten"
        );
        assert_eq!(j.append(b"{}").expect("append"), 4);
        j.sync().expect("sync");
        drop(j);
        assert_eq!(read_all(dir.path()).len(), 4);
        std::fs::remove_file(&new).expect("reset");
    }
}

#[test]
fn corrupt_middle_record_of_the_last_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segs = write_journal(dir.path(), 5, 1 << 20);
    let record = frame::frame_len(payload(1).len());
    let third = HEADER_LEN + 2 * record;
    let mut bytes = std::fs::read(&segs[0]).expect("read");
    bytes[third as usize + 18] ^= 0x20;
    std::fs::write(&segs[0], &bytes).expect("write");
    let (segment, offset, reason) = corrupt_at(Journal::open(dir.path(), opts(1 << 20)));
    assert_eq!((segment, offset), (segs[0].clone(), third));
    assert!(reason.contains("checksum"), "{reason}");
    assert_eq!(
        std::fs::read(&segs[0]).expect("read"),
        bytes,
        "nothing truncated"
    );
    assert!(
        matches!(verify(dir.path()), Err(AlertsError::Corrupt { offset, .. }) if offset == third)
    );
}

#[test]
fn damage_in_a_non_last_segment_is_corrupt_even_at_its_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segs = write_journal(dir.path(), 6, 60);
    assert!(segs.len() >= 3);
    let len = std::fs::metadata(&segs[1]).expect("meta").len();
    let mut bytes = std::fs::read(&segs[1]).expect("read");
    let last_byte = bytes.len() - 1;
    bytes[last_byte] ^= 1;
    std::fs::write(&segs[1], &bytes).expect("write");
    let record = frame::frame_len(payload(1).len());
    let (segment, offset, _) = corrupt_at(Journal::open(dir.path(), opts(60)));
    assert_eq!((segment, offset), (segs[1].clone(), len - record));
    // A cut at the end of a non-last segment is corrupt too, never truncated.
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&segs[1], &bytes).expect("write");
    let (segment, offset, _) = corrupt_at(Journal::open(dir.path(), opts(60)));
    assert_eq!((segment, offset), (segs[1].clone(), len - record));
}

#[test]
fn seq_gaps_are_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segs = write_journal(dir.path(), 6, 60);
    let n = segs.len();
    assert!(n >= 3);
    // A missing middle segment.
    std::fs::remove_file(&segs[1]).expect("remove");
    let (segment, offset, reason) = corrupt_at(Journal::open(dir.path(), opts(60)));
    assert_eq!((segment, offset), (segs[2].clone(), 0));
    assert!(reason.contains("gap"), "{reason}");
    // A segment whose name disagrees with its first record: seqs 5, 6 named 3.
    let misnamed = dir.path().join(segment_name(3));
    std::fs::write(&misnamed, std::fs::read(&segs[2]).expect("read")).expect("write");
    let (segment, offset, reason) = corrupt_at(Journal::open(dir.path(), opts(60)));
    assert_eq!((segment, offset), (misnamed, HEADER_LEN), "{reason}");
    assert!(verify(dir.path()).is_err());
}

#[test]
fn second_writer_is_locked_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    assert!(matches!(
        Journal::open(dir.path(), JournalOptions::default()),
        Err(AlertsError::Locked { .. })
    ));
}

#[test]
fn oversized_payload_is_refused_without_side_effects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    let big = vec![b' '; MAX_PAYLOAD as usize + 1];
    assert!(matches!(
        j.append(&big),
        Err(AlertsError::PayloadTooLarge { .. })
    ));
    assert_eq!(j.append(b"{}").expect("append"), 1);
}

#[test]
fn large_batches_spill_to_the_os_before_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    let p = vec![b'x'; 4096];
    for _ in 0..(2 * FLUSH_AT / p.len()) {
        j.append(&p).expect("append");
    }
    assert!(j.buf.len() < FLUSH_AT + p.len() + 16);
    j.sync().expect("sync");
    assert_eq!(read_all(dir.path()).len(), 2 * FLUSH_AT / p.len());
}

/// As for the cursors (`lock.rs`): a journal closed while another thread
/// spawns processes can be opened again at once, although each child holds a
/// copy of the lock's descriptor until its exec.
#[test]
fn a_closed_journal_can_be_opened_again_while_processes_are_spawned() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let spawners: Vec<_> = (0..3)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::process::Command::new("true").status();
                }
            })
        })
        .collect();
    let mut refused = 0;
    for _ in 0..2000 {
        match Journal::open(dir.path(), JournalOptions::default()) {
            Ok(j) => drop(j),
            Err(AlertsError::Locked { .. }) => refused += 1,
            Err(e) => panic!("open: {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for s in spawners {
        s.join().expect("spawner");
    }
    assert_eq!(refused, 0, "a closed journal was still locked");
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("meta").len()
}

/// Copies the segment files of `from` into a new directory: what a crash
/// (SIGKILL or power) leaves of a journal still open.
fn crash_copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("tempdir");
    for seg in segments(from) {
        let name = seg.file_name().expect("name");
        std::fs::copy(&seg, to.path().join(name)).expect("copy");
    }
    to
}

#[test]
fn records_are_written_into_preallocated_zeros_cut_off_on_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    let mut end = HEADER_LEN;
    for i in 1..=3 {
        j.append(&payload(i)).expect("append");
        end += frame::frame_len(payload(i).len());
    }
    j.sync().expect("sync");
    let seg = segments(dir.path()).pop().expect("segment");
    // The sync did not grow the file past its records: the zeros were there.
    assert!(
        file_len(&seg) >= end + PREALLOCATE / 2,
        "{} bytes",
        file_len(&seg)
    );
    assert_eq!(read_all(dir.path()).len(), 3, "readers stop at the zeros");
    for i in 4..=5 {
        j.append(&payload(i)).expect("append");
        end += frame::frame_len(payload(i).len());
    }
    j.flush().expect("flush");
    assert_eq!(
        read_all(dir.path()).len(),
        5,
        "and see records written into them"
    );
    drop(j);
    assert_eq!(file_len(&seg), end, "closing cuts the zeros off");
    let (j, report) = Journal::open(dir.path(), JournalOptions::default()).expect("reopen");
    assert_eq!((report.truncated, j.next_seq()), (None, 6));
}

#[test]
fn the_zeros_a_crash_leaves_are_cut_and_no_record_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    for i in 1..=4 {
        j.append(&payload(i)).expect("append");
    }
    j.sync().expect("sync");
    let crashed = crash_copy(dir.path());
    drop(j);
    let closed = std::fs::read(segments(dir.path())[0].clone()).expect("read");

    let v = verify(crashed.path()).expect("verify");
    let tail = v.torn_tail.expect("the zeros are reported");
    assert!(tail.zeros, "{tail:?}");
    assert_eq!((v.records, tail.offset), (4, closed.len() as u64));

    let (mut j, report) = Journal::open(crashed.path(), JournalOptions::default()).expect("open");
    let tail = report.truncated.expect("cut");
    assert!(
        tail.zeros && tail.bytes_dropped >= PREALLOCATE / 2,
        "{tail:?}"
    );
    assert_eq!((report.records, j.next_seq()), (4, 5));
    assert_eq!(j.append(&payload(5)).expect("append"), 5);
    j.sync().expect("sync");
    drop(j);
    let seqs: Vec<u64> = read_all(crashed.path()).iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let seg = std::fs::read(segments(crashed.path())[0].clone()).expect("read");
    assert_eq!(
        &seg[..closed.len()],
        &closed[..],
        "the records before are untouched"
    );
}

#[test]
fn a_torn_record_in_the_zeros_is_a_torn_tail_not_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    j.append(&payload(1)).expect("append");
    j.sync().expect("sync");
    j.append(&payload(2)).expect("append");
    j.flush().expect("flush");
    let crashed = crash_copy(dir.path());
    drop(j);
    let seg = segments(crashed.path()).pop().expect("segment");
    let bytes = std::fs::read(&seg).expect("read");
    let start = HEADER_LEN as usize + frame::frame_len(payload(1).len()) as usize;
    let end = start + frame::frame_len(payload(2).len()) as usize;
    // Record 2 half written: every cut of it, the rest zeros as preallocated.
    for cut in start + 1..end {
        let mut torn = bytes.clone();
        torn[cut..end].fill(0);
        std::fs::write(&seg, &torn).expect("tear");
        let (j, report) = Journal::open(crashed.path(), JournalOptions::default()).expect("open");
        let tail = report.truncated.expect("truncated");
        assert_eq!(
            (tail.offset, j.next_seq()),
            (start as u64, 2),
            "cut at {cut}"
        );
        drop(j);
        std::fs::write(&seg, &torn).expect("restore the crash image");
    }
}

#[test]
fn a_sealed_segment_ends_at_its_last_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), opts(300)).expect("open");
    for i in 1..=40 {
        j.append(&payload(i)).expect("append");
        if i % 3 == 0 {
            j.sync().expect("sync");
        }
    }
    j.sync().expect("sync");
    let segs = segments(dir.path());
    assert!(segs.len() > 3, "{} segments", segs.len());
    for seg in &segs[..segs.len() - 1] {
        let scan = scan_file(0, seg).expect("scan");
        assert_eq!(
            (scan.stop, scan.valid_end),
            (None, file_len(seg)),
            "{} while the journal is open",
            seg.display()
        );
    }
    let seqs: Vec<u64> = read_all(dir.path()).iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}

#[test]
fn a_follower_polling_the_zeros_sees_each_record_and_each_roll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), opts(200)).expect("open");
    let mut reader = JournalReader::open(dir.path(), 1).expect("reader");
    let mut seen = Vec::new();
    for i in 1..=30 {
        assert_eq!(j.append(&payload(i)).expect("append"), i);
        // Nothing handed to the OS yet: the follower is at the zeros.
        assert!(reader.next().is_none(), "record {i} before its flush");
        assert!(
            reader.next().is_none(),
            "record {i} before its flush, again"
        );
        j.flush().expect("flush");
        let (seq, p) = reader.next().expect("a record").expect("readable");
        seen.push(seq);
        assert_eq!(p, payload(i));
    }
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
    assert!(segments(dir.path()).len() > 3, "the follower crossed rolls");
}

#[test]
fn a_disk_without_room_for_the_zeros_appends_without_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    j.append(&payload(1)).expect("append");
    j.sync().expect("sync");
    let seg = segments(dir.path()).pop().expect("segment");
    let end = HEADER_LEN + frame::frame_len(payload(1).len());
    j.active.allocated = j.active.written;
    j.active.file.set_len(end).expect("cut the zeros");
    // The first 64 KiB of zeros land (partly, as on a full disk), then no room.
    let mut calls = 0;
    j.active
        .preallocate_with(|file, zeros, at| {
            calls += 1;
            match calls {
                1 => file.write_all_at(zeros, at),
                _ => {
                    file.write_all_at(&zeros[..100], at)?;
                    Err(std::io::ErrorKind::StorageFull.into())
                }
            }
        })
        .expect("no room for zeros is no error");
    assert_eq!(file_len(&seg), end, "the zeros are given back");
    assert!(!j.active.preallocating);
    for i in 2..=4 {
        j.append(&payload(i)).expect("append");
    }
    j.sync().expect("sync");
    let grown = HEADER_LEN
        + (1..=4)
            .map(|i| frame::frame_len(payload(i).len()))
            .sum::<u64>();
    assert_eq!(file_len(&seg), grown, "the segment grows as it is written");
    drop(j);
    assert_eq!(read_all(dir.path()).len(), 4);
}

#[test]
fn another_error_writing_the_zeros_poisons_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
    let err = j
        .guard(|j| {
            j.active
                .preallocate_with(|_, _, _| Err(std::io::ErrorKind::PermissionDenied.into()))
        })
        .expect_err("a failed write of zeros is an I/O error");
    assert!(matches!(err, AlertsError::Io { .. }), "{err}");
    assert!(matches!(j.append(b"{}"), Err(AlertsError::Poisoned)));
}
