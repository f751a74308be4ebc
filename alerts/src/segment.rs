//! Segment files: naming, listing, and the scan that collects the facts recovery
//! decides on. Scanning reads; it never modifies a file.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Result, io_at};
use crate::formats::SEGMENT;
use crate::frame::{self, BadFrame, BadKind, FrameReader, HEADER_LEN, Next};

const SUFFIX: &str = ".seg";
const DIGITS: usize = 20;

/// `00000000000000000001.seg` for a segment whose first record is seq 1.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:0DIGITS$}{SUFFIX}")
}

pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files of `dir`, by first seq. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_name) {
            out.push((seq, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(seq, _)| *seq);
    Ok(out)
}

/// State of a segment's 8-byte header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderFact {
    Ok,
    /// Zero-length file: a crash between creating the segment and writing it.
    Missing,
    /// Fewer than 8 bytes.
    Short,
    /// The header and everything after it are zero bytes.
    Zeroed,
    /// A journal segment of a format version this binary does not read
    /// ([`crate::formats::SEGMENT`]): refused in any segment, never taken
    /// for a torn tail.
    Version(u16),
    /// Wrong magic, or a zero header followed by data.
    Bad(String),
}

/// Reads and checks the header. For a zero header it consumes the rest of `r`.
pub(crate) fn read_header(r: &mut impl Read) -> io::Result<HeaderFact> {
    let mut head = [0u8; HEADER_LEN as usize];
    let n = frame::read_full(r, &mut head)?;
    Ok(if n == 0 {
        HeaderFact::Missing
    } else if n < head.len() {
        HeaderFact::Short
    } else if frame::all_zero(&head) {
        if frame::rest_is_zero(r)? {
            HeaderFact::Zeroed
        } else {
            HeaderFact::Bad("zeroed segment header followed by data".into())
        }
    } else if head[..6] != frame::MAGIC {
        HeaderFact::Bad("not a journal segment (bad magic)".into())
    } else {
        let version = u16::from_le_bytes([head[6], head[7]]);
        match SEGMENT.reads(u64::from(version)) {
            true => HeaderFact::Ok,
            false => HeaderFact::Version(version),
        }
    })
}

/// Why a scan stopped before the end of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StopFact {
    /// A frame that could not be read.
    Bad(BadFrame),
    /// A good frame whose seq does not follow the previous one.
    SeqBreak {
        offset: u64,
        expected: u64,
        found: u64,
    },
}

/// Everything recovery needs to know about one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    pub path: PathBuf,
    /// First seq according to the file name.
    pub name_seq: u64,
    /// File length in bytes.
    pub len: u64,
    pub header: HeaderFact,
    /// Good, consecutive records before `stop` (or the end).
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// End of the last good record (the header length if none; 0 if the header is not ok).
    pub valid_end: u64,
    pub stop: Option<StopFact>,
}

pub(crate) fn scan_file(name_seq: u64, path: &Path) -> Result<SegmentScan> {
    let file = File::open(path).map_err(io_at(path))?;
    let len = file.metadata().map_err(io_at(path))?.len();
    scan_reader(
        name_seq,
        path.to_path_buf(),
        len,
        BufReader::with_capacity(256 * 1024, file),
    )
    .map_err(io_at(path))
}

/// Scans a segment of `len` bytes read from `r` (a file, or bytes in tests).
pub(crate) fn scan_reader(
    name_seq: u64,
    path: PathBuf,
    len: u64,
    mut r: impl Read,
) -> io::Result<SegmentScan> {
    let header = read_header(&mut r)?;
    let mut scan = SegmentScan {
        path,
        name_seq,
        len,
        header,
        records: 0,
        first_seq: None,
        last_seq: None,
        valid_end: 0,
        stop: None,
    };
    if scan.header != HeaderFact::Ok {
        return Ok(scan);
    }
    scan.valid_end = HEADER_LEN;
    let mut frames = FrameReader::new(r, HEADER_LEN);
    let mut payload = Vec::new();
    loop {
        match frames.next_frame(&mut payload)? {
            Next::End => break,
            Next::Zeros { offset } => {
                // The facts a zero header always gave: a zero-filled tail
                // (preallocated space) if nothing but zeros follows, a
                // checksum mismatch followed by data otherwise.
                let zeros = frame::rest_is_zero(frames.get_mut())?;
                scan.stop = Some(StopFact::Bad(BadFrame {
                    offset,
                    kind: BadKind::BadCrc,
                    zeros_from_start: zeros,
                    zeros_after: zeros,
                }));
                break;
            }
            Next::Bad(bad) => {
                scan.stop = Some(StopFact::Bad(bad));
                break;
            }
            Next::Frame { offset, seq } => {
                if let Some(last) = scan.last_seq {
                    let expected = last.saturating_add(1);
                    if seq != expected {
                        scan.stop = Some(StopFact::SeqBreak {
                            offset,
                            expected,
                            found: seq,
                        });
                        break;
                    }
                }
                scan.first_seq.get_or_insert(seq);
                scan.last_seq = Some(seq);
                scan.records += 1;
                scan.valid_end = frames.offset();
            }
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(segment_name(1), "00000000000000000001.seg");
        assert_eq!(parse_name("00000000000000000001.seg"), Some(1));
        assert_eq!(parse_name(&segment_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "1.seg",
            "0000000000000000001.seg",
            "00000000000000000001.seg.tmp",
            "LOCK",
            "0000000000000000000x.seg",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn listing_sorts_and_ignores_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            segment_name(12),
            segment_name(3),
            "LOCK".into(),
            "x.seg".into(),
        ] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        let seqs: Vec<u64> = list_segments(dir.path())
            .expect("list")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, [3, 12]);
    }

    #[test]
    fn scan_reports_seq_break() {
        let mut bytes = frame::segment_header().to_vec();
        frame::encode_into(&mut bytes, 5, b"a");
        let at = bytes.len() as u64;
        frame::encode_into(&mut bytes, 7, b"b");
        let scan = scan_reader(5, "s".into(), bytes.len() as u64, &bytes[..]).expect("scan");
        assert_eq!(scan.records, 1);
        assert_eq!(scan.valid_end, at);
        assert_eq!(
            scan.stop,
            Some(StopFact::SeqBreak {
                offset: at,
                expected: 6,
                found: 7
            })
        );
    }

    #[test]
    fn header_facts() {
        let fact = |b: &[u8]| read_header(&mut &b[..]).expect("read");
        assert_eq!(fact(b""), HeaderFact::Missing);
        assert_eq!(fact(b"ALDJ"), HeaderFact::Short);
        assert_eq!(fact(&[0u8; 100]), HeaderFact::Zeroed);
        assert_eq!(fact(b"ALDJNL\x63\x00"), HeaderFact::Version(99));
        assert_eq!(fact(b"ALDJNL\x00\x00"), HeaderFact::Version(0));
        assert!(matches!(fact(b"NOTAJOURNAL"), HeaderFact::Bad(_)));
        assert_eq!(fact(&frame::segment_header()), HeaderFact::Ok);
    }
}
