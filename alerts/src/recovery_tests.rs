//! Tests of the pure recovery decision: table cases, then a proptest against a
//! model that knows where every frame lies and what damage was done.

use super::*;
use crate::frame::{self, FRAME_HEADER_LEN};
use crate::segment::{scan_reader, segment_name};
use proptest::prelude::*;

/// One segment as built in memory: name, bytes and frame spans.
#[derive(Clone, Debug)]
struct Seg {
    name: u64,
    bytes: Vec<u8>,
    frames: Vec<(u64, u64)>,
}

impl Seg {
    fn path(&self) -> PathBuf {
        PathBuf::from(segment_name(self.name))
    }
}

/// Lays out `segs` (payloads per segment); record `skip` and later get seq + 1.
fn build(segs: &[Vec<Vec<u8>>], skip: Option<usize>) -> Vec<Seg> {
    let mut index = 0usize;
    let mut out = Vec::new();
    for payloads in segs {
        let mut seg = Seg {
            name: index as u64 + 1,
            bytes: frame::segment_header().to_vec(),
            frames: Vec::new(),
        };
        for p in payloads {
            let seq = index as u64 + 1 + u64::from(skip.is_some_and(|k| index >= k));
            let start = seg.bytes.len() as u64;
            frame::encode_into(&mut seg.bytes, seq, p);
            seg.frames.push((start, seg.bytes.len() as u64));
            index += 1;
        }
        out.push(seg);
    }
    out
}

fn decide_bytes(segs: &[Seg]) -> Recovery {
    let scans: Vec<SegmentScan> = segs
        .iter()
        .map(|s| {
            scan_reader(s.name, s.path(), s.bytes.len() as u64, &s.bytes[..])
                .expect("in-memory scan")
        })
        .collect();
    decide(&scans, 1)
}

fn records(segs: &[Seg]) -> u64 {
    segs.iter().map(|s| s.frames.len() as u64).sum()
}

#[derive(Debug)]
enum Expect {
    Clean {
        records: u64,
    },
    Torn {
        seg: PathBuf,
        at: u64,
        dropped: u64,
        records: u64,
    },
    Corrupt {
        seg: PathBuf,
        offset: u64,
    },
    /// A damaged length field: corruption or a torn tail, but exactly at this frame.
    CorruptOrTorn {
        seg: PathBuf,
        offset: u64,
    },
    /// A flipped version byte of a segment header: refused as a version
    /// this binary does not read, whichever segment it is in.
    UnknownVersion {
        seg: PathBuf,
        found: u64,
    },
}

#[derive(Clone, Debug)]
enum Damage {
    None,
    Cut(usize),
    ZeroTail(usize),
    Flip { seg: usize, pos: usize, mask: u8 },
    SkipSeq(usize),
    DropSegment(usize),
    EmptyLast { zero_len: bool },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        Just(Damage::None),
        any::<usize>().prop_map(Damage::Cut),
        (1usize..100).prop_map(Damage::ZeroTail),
        (any::<usize>(), any::<usize>(), 1u8..=255).prop_map(|(seg, pos, mask)| Damage::Flip {
            seg,
            pos,
            mask
        }),
        any::<usize>().prop_map(Damage::SkipSeq),
        any::<usize>().prop_map(Damage::DropSegment),
        any::<bool>().prop_map(|zero_len| Damage::EmptyLast { zero_len }),
    ]
}

/// Applies `damage` to a journal of `payloads` and predicts the decision.
fn model(payloads: &[Vec<Vec<u8>>], damage: &Damage) -> (Vec<Seg>, Expect) {
    let mut segs = build(payloads, None);
    let n = segs.len();
    let total = records(&segs);
    let expect = match *damage {
        Damage::None => Expect::Clean { records: total },
        Damage::Cut(c) => {
            let last = &mut segs[n - 1];
            let c = (c % (last.bytes.len() + 1)) as u64;
            last.bytes.truncate(c as usize);
            let before = total - last.frames.len() as u64;
            let path = last.path();
            let whole = last.frames.iter().filter(|f| f.1 <= c).count() as u64;
            if c == 0 || c == HEADER_LEN || last.frames.iter().any(|f| f.1 == c) {
                Expect::Clean {
                    records: before + whole,
                }
            } else if c < HEADER_LEN {
                Expect::Torn {
                    seg: path,
                    at: 0,
                    dropped: c,
                    records: before,
                }
            } else {
                let start = last
                    .frames
                    .iter()
                    .find(|f| f.0 < c && c < f.1)
                    .expect("inside a frame")
                    .0;
                Expect::Torn {
                    seg: path,
                    at: start,
                    dropped: c - start,
                    records: before + whole,
                }
            }
        }
        Damage::ZeroTail(z) => {
            let last = &mut segs[n - 1];
            let at = last.bytes.len() as u64;
            last.bytes.resize(last.bytes.len() + z, 0);
            Expect::Torn {
                seg: last.path(),
                at,
                dropped: z as u64,
                records: total,
            }
        }
        Damage::Flip { seg, pos, mask } => {
            let is_last = seg % n == n - 1;
            let s = &mut segs[seg % n];
            let pos = pos % s.bytes.len();
            s.bytes[pos] ^= mask;
            let p = pos as u64;
            let seg = s.path();
            match s.frames.iter().position(|f| f.0 <= p && p < f.1) {
                None if (6..8).contains(&p) => Expect::UnknownVersion {
                    seg,
                    found: u64::from(u16::from_le_bytes([s.bytes[6], s.bytes[7]])),
                },
                None => Expect::Corrupt { seg, offset: 0 },
                Some(k) => {
                    let (start, end) = s.frames[k];
                    if p - start < 4 {
                        if is_last {
                            Expect::CorruptOrTorn { seg, offset: start }
                        } else {
                            Expect::Corrupt { seg, offset: start }
                        }
                    } else if is_last && end == s.bytes.len() as u64 {
                        let before = total - (s.frames.len() - k) as u64;
                        Expect::Torn {
                            seg,
                            at: start,
                            dropped: end - start,
                            records: before,
                        }
                    } else {
                        Expect::Corrupt { seg, offset: start }
                    }
                }
            }
        }
        Damage::SkipSeq(k) => {
            let k = k % total as usize;
            segs = build(payloads, Some(k));
            let mut index = 0;
            let (seg, offset) = segs
                .iter()
                .flat_map(|s| s.frames.iter().map(move |f| (s.path(), f.0)))
                .find(|_| {
                    index += 1;
                    index == k + 1
                })
                .expect("record k exists");
            Expect::Corrupt { seg, offset }
        }
        Damage::DropSegment(i) if n > 1 => {
            let i = i % (n - 1);
            segs.remove(i);
            Expect::Corrupt {
                seg: segs[i].path(),
                offset: 0,
            }
        }
        Damage::DropSegment(_) => Expect::Clean { records: total },
        Damage::EmptyLast { zero_len } => {
            let bytes = if zero_len {
                Vec::new()
            } else {
                frame::segment_header().to_vec()
            };
            if segs[n - 1].frames.is_empty() {
                segs.pop();
            }
            segs.push(Seg {
                name: total + 1,
                bytes,
                frames: Vec::new(),
            });
            Expect::Clean { records: total }
        }
    };
    (segs, expect)
}

fn journal() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    let payload = prop::collection::vec(any::<u8>(), 0..24);
    (
        prop::collection::vec(prop::collection::vec(payload.clone(), 1..5), 1..4),
        prop::collection::vec(payload, 0..4),
    )
        .prop_map(|(mut segs, last)| {
            segs.push(last);
            segs
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn decide_matches_model(payloads in journal(), damage in damage()) {
        let (mut segs, expect) = model(&payloads, &damage);
        let got = decide_bytes(&segs);
        match (&expect, &got) {
            (Expect::Clean { records }, Recovery::Clean(kept)) => {
                prop_assert_eq!(kept.records, *records);
                prop_assert_eq!(kept.next_seq(), records + 1);
                prop_assert_eq!(kept.segments, segs.len());
            }
            (Expect::Torn { seg, at, dropped, records }, Recovery::TruncateTail { tail, kept }) => {
                prop_assert_eq!((&tail.segment, tail.offset, tail.bytes_dropped), (seg, *at, *dropped));
                prop_assert_eq!(kept.records, *records);
                prop_assert_eq!(kept.next_seq(), records + 1);
            }
            (Expect::Corrupt { seg, offset }, Recovery::Corrupt { segment, offset: o, .. }) => {
                prop_assert_eq!((seg, *offset), (segment, *o));
            }
            (Expect::CorruptOrTorn { seg, offset }, Recovery::Corrupt { segment, offset: o, .. }) => {
                prop_assert_eq!((seg, *offset), (segment, *o));
            }
            (Expect::CorruptOrTorn { seg, offset }, Recovery::TruncateTail { tail, .. }) => {
                prop_assert_eq!((seg, *offset), (&tail.segment, tail.offset));
            }
            (Expect::UnknownVersion { seg, found }, Recovery::UnknownVersion { segment, found: f }) => {
                prop_assert_eq!((seg, *found), (segment, *f));
            }
            _ => prop_assert!(false, "expected {:?}, decided {:?}", expect, got),
        }
        // Executing a truncation leaves a journal that recovers Clean.
        if let Recovery::TruncateTail { tail, kept } = got {
            let last = segs.last_mut().expect("segments");
            last.bytes.truncate(tail.offset as usize);
            prop_assert_eq!(decide_bytes(&segs), Recovery::Clean(kept));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// `require_durable` against its rule: a decision that would keep fewer
    /// records than were durable becomes `Lost`, naming exactly the missing
    /// seqs and where the journal stops; every other decision stands.
    #[test]
    fn a_decision_below_what_was_durable_is_lost(
        payloads in journal(),
        damage in damage(),
        through in 0u64..40,
    ) {
        let (segs, _) = model(&payloads, &damage);
        let base = decide_bytes(&segs);
        let last = segs.last().map(|s| (s.path(), s.bytes.len() as u64));
        let got = require_durable(base.clone(), through, last.as_ref().map(|(p, l)| (p.as_path(), *l)));
        let kept = match &base {
            Recovery::Clean(k) | Recovery::TruncateTail { kept: k, .. } => Some(k.clone()),
            _ => None,
        };
        match kept {
            Some(k) if k.next_seq() <= through => match got {
                Recovery::Lost { from, to, ref segment, offset, .. } => {
                    prop_assert_eq!((from, to), (k.next_seq(), through));
                    if let Recovery::TruncateTail { tail, .. } = &base {
                        prop_assert_eq!((segment, offset), (&tail.segment, tail.offset));
                    }
                }
                other => prop_assert!(false, "expected Lost, got {:?}", other),
            },
            _ => prop_assert_eq!(got, base),
        }
    }
}

#[test]
fn what_nothing_relied_on_is_still_a_torn_tail() {
    // Three records, the third torn: with the checkpoint at seq 2 the tail is
    // cut as before; at seq 3 it is a loss.
    let segs = build(
        &[vec![b"{}".to_vec(), b"{}".to_vec(), b"{}".to_vec()]],
        None,
    );
    let mut segs = segs;
    let cut = segs[0].bytes.len() - 3;
    segs[0].bytes.truncate(cut);
    let base = decide_bytes(&segs);
    assert!(matches!(base, Recovery::TruncateTail { .. }), "{base:?}");
    let path = segs[0].path();
    let last = Some((path.as_path(), cut as u64));
    assert_eq!(require_durable(base.clone(), 2, last), base);
    assert!(matches!(
        require_durable(base.clone(), 3, last),
        Recovery::Lost { from: 3, to: 3, .. }
    ));
    // A journal that simply ends before the claim: missing, not torn.
    let whole = build(&[vec![b"{}".to_vec()]], None);
    let end = whole[0].bytes.len() as u64;
    let p = whole[0].path();
    let got = require_durable(decide_bytes(&whole), 5, Some((p.as_path(), end)));
    assert!(
        matches!(&got, Recovery::Lost { from: 2, to: 5, what, .. } if what.contains("missing")),
        "{got:?}"
    );
}

#[test]
fn empty_journal_is_clean_from_seq_1() {
    let got = decide(&[], 1);
    assert_eq!(got, Recovery::Clean(Kept::default()));
    assert_eq!(Kept::default().next_seq(), 1);
}

#[test]
fn first_segment_must_start_at_1() {
    let mut segs = build(&[vec![b"a".to_vec()]], None);
    segs[0].name = 2;
    segs[0].bytes = Vec::new();
    frame::encode_into(&mut segs[0].bytes, 0, b""); // irrelevant: the name is checked first
    assert!(
        matches!(decide_bytes(&segs), Recovery::Corrupt { offset: 0, ref reason, .. } if reason.contains("expected 1"))
    );
}

#[test]
fn zeroed_or_short_last_segment_is_torn_but_earlier_is_corrupt() {
    for bytes in [vec![0u8; 4096], b"ALDJ".to_vec()] {
        let mut segs = build(&[vec![b"a".to_vec()], vec![]], None);
        segs[1].bytes = bytes.clone();
        let Recovery::TruncateTail { tail, kept } = decide_bytes(&segs) else {
            panic!("torn expected")
        };
        assert_eq!(
            (tail.offset, tail.bytes_dropped, kept.records),
            (0, bytes.len() as u64, 1)
        );

        let mut segs = build(&[vec![b"a".to_vec()], vec![b"b".to_vec()]], None);
        segs[0].bytes = bytes;
        assert!(matches!(
            decide_bytes(&segs),
            Recovery::Corrupt { offset: 0, .. }
        ));
    }
}

/// A segment of a format version this binary does not read is refused
/// where it is: first, in the middle or last (never cut as a torn tail),
/// in one line naming it, the version found and the version read.
#[test]
fn a_segment_of_an_unknown_version_is_refused_wherever_it_is() {
    for i in 0..3 {
        let mut segs = build(
            &[
                vec![b"a".to_vec()],
                vec![b"b".to_vec()],
                vec![b"c".to_vec()],
            ],
            None,
        );
        segs[i].bytes[6..8].copy_from_slice(&99u16.to_le_bytes());
        let got = decide_bytes(&segs);
        assert_eq!(
            got,
            Recovery::UnknownVersion {
                segment: segs[i].path(),
                found: 99
            }
        );
        let e = require_durable(got, 0, None)
            .accept("")
            .expect_err("refused");
        let line = e.to_string();
        assert!(!e.is_transient());
        assert!(
            line.starts_with(&format!(
                "journal segment {}: format version 99, but this aldebaran reads version 1; ",
                segs[i].path().display()
            )),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }
}

/// Today's segments (version 1 in their header) are what this binary
/// writes and reads: the header is byte for byte the one written before
/// formats were listed in one place.
#[test]
fn todays_segment_header_is_still_read() {
    let segs = build(&[vec![b"a".to_vec()]], None);
    assert_eq!(&segs[0].bytes[..8], b"ALDJNL\x01\x00");
    assert!(matches!(
        decide_bytes(&segs),
        Recovery::Clean(Kept { records: 1, .. })
    ));
}

#[test]
fn empty_segment_in_the_middle_is_corrupt() {
    let mut segs = build(&[vec![b"a".to_vec()], vec![], vec![b"b".to_vec()]], None);
    segs[2].name = 2;
    let got = decide_bytes(&segs);
    assert!(
        matches!(
            got,
            Recovery::Corrupt {
                offset: HEADER_LEN,
                ..
            }
        ),
        "{got:?}"
    );
}

#[test]
fn classify_table() {
    let bad = |kind, zeros_from_start, zeros_after| BadFrame {
        offset: 8,
        kind,
        zeros_from_start,
        zeros_after,
    };
    assert!(matches!(
        classify(&bad(BadKind::Incomplete, false, true)),
        Verdict::Torn(_)
    ));
    assert!(matches!(
        classify(&bad(BadKind::BadCrc, false, true)),
        Verdict::Torn(_)
    ));
    assert!(matches!(
        classify(&bad(BadKind::BadCrc, true, true)),
        Verdict::Torn("zero-filled tail")
    ));
    assert!(matches!(
        classify(&bad(BadKind::BadCrc, false, false)),
        Verdict::Corrupt(_)
    ));
    assert!(matches!(
        classify(&bad(BadKind::BadLength(u32::MAX), false, false)),
        Verdict::Corrupt(_)
    ));
    assert!(matches!(
        classify(&bad(BadKind::BadLength(u32::MAX), false, true)),
        Verdict::Torn(_)
    ));
    assert_eq!(FRAME_HEADER_LEN, 16);
}
