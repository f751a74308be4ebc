//! Tests of the pure retention plan: table cases, then a proptest against a
//! reference model that tries every cut and keeps the deepest allowed one.

use super::*;
use proptest::prelude::*;

const S: Duration = Duration::from_secs(1);

fn seg(first_seq: u64, bytes: u64, age_s: u64) -> SegmentFact {
    SegmentFact {
        first_seq,
        bytes,
        age: S * age_s as u32,
    }
}

fn policy(keep_bytes: u64, keep_segments: u64, keep_age_s: Option<u64>) -> RetentionPolicy {
    RetentionPolicy {
        keep_bytes,
        keep_segments,
        keep_age: keep_age_s.map(|s| S * s as u32),
    }
}

/// Four segments of 100 bytes: seqs 1..=10, 11..=20, 21..=30, 31.. (the newest).
fn four() -> Vec<SegmentFact> {
    vec![
        seg(1, 100, 40),
        seg(11, 100, 30),
        seg(21, 100, 20),
        seg(31, 100, 10),
    ]
}

#[test]
fn nothing_needed_nothing_kept_but_the_newest() {
    let p = plan(&four(), u64::MAX, &policy(0, 0, None));
    assert_eq!(p.remove, [1, 11, 21]);
    assert_eq!((p.oldest, p.held_by), (Some(31), Hold::Newest));
}

#[test]
fn the_floor_keeps_the_segment_that_holds_it() {
    // Seq 15 is still needed: segment 11 holds it, segment 1 may go.
    let p = plan(&four(), 15, &policy(0, 0, None));
    assert_eq!(
        (p.remove, p.oldest, p.held_by),
        (vec![1], Some(11), Hold::Needed)
    );
    // Seq 11 is the first of its segment: segment 1 holds nothing needed.
    let p = plan(&four(), 11, &policy(0, 0, None));
    assert_eq!(p.remove, [1]);
    // Seq 10 is the last of segment 1.
    let p = plan(&four(), 10, &policy(0, 0, None));
    assert_eq!((p.remove.len(), p.held_by), (0, Hold::Needed));
    // Nobody has anything yet (floor 0 or 1).
    for floor in [0, 1] {
        assert!(plan(&four(), floor, &policy(0, 0, None)).remove.is_empty());
    }
}

#[test]
fn keep_bytes_counts_the_newer_segments() {
    // The newest 200 bytes are segments 21 and 31: 1 and 11 may go.
    let p = plan(&four(), u64::MAX, &policy(200, 0, None));
    assert_eq!((p.remove, p.held_by), (vec![1, 11], Hold::KeepBytes));
    // 201 bytes need segment 11 too.
    let p = plan(&four(), u64::MAX, &policy(201, 0, None));
    assert_eq!(p.remove, [1]);
    // More than the journal holds: everything stays.
    let p = plan(&four(), u64::MAX, &policy(1 << 30, 0, None));
    assert_eq!((p.remove.len(), p.oldest), (0, Some(1)));
}

#[test]
fn keep_segments_counts_besides_the_newest() {
    let p = plan(&four(), u64::MAX, &policy(0, 1, None));
    assert_eq!((p.remove, p.held_by), (vec![1, 11], Hold::KeepSegments));
    let p = plan(&four(), u64::MAX, &policy(0, 3, None));
    assert!(p.remove.is_empty());
}

#[test]
fn keep_age_keeps_recent_segments() {
    // Segments 1 (40 s) and 11 (30 s) are older than 25 s.
    let p = plan(&four(), u64::MAX, &policy(0, 0, Some(25)));
    assert_eq!((p.remove, p.held_by), (vec![1, 11], Hold::KeepAge));
    // Only a prefix goes: a young segment keeps the older ones after it too.
    let odd = vec![seg(1, 100, 5), seg(11, 100, 50), seg(21, 100, 1)];
    assert!(
        plan(&odd, u64::MAX, &policy(0, 0, Some(25)))
            .remove
            .is_empty()
    );
}

#[test]
fn the_rules_together_keep_the_most_any_one_asks() {
    let p = plan(&four(), 25, &policy(100, 0, Some(35)));
    // floor 25 allows 1 and 11; keep_bytes 100 allows 1, 11, 21; age allows 1.
    assert_eq!((p.remove, p.held_by), (vec![1], Hold::KeepAge));
}

#[test]
fn no_segment_or_one_segment_is_kept() {
    let p = plan(&[], u64::MAX, &policy(0, 0, None));
    assert_eq!(
        (p.remove.len(), p.oldest, p.held_by),
        (0, None, Hold::Newest)
    );
    let p = plan(&[seg(7, 1 << 40, 1000)], u64::MAX, &policy(0, 0, None));
    assert_eq!(
        (p.remove.len(), p.oldest, p.held_by),
        (0, Some(7), Hold::Newest)
    );
}

#[test]
fn the_default_keeps_a_gibibyte() {
    assert_eq!(RetentionPolicy::default(), policy(1 << 30, 0, None));
}

/// The model: the deepest cut `k` (remove segments `0..k`) such that every
/// rule holds of what is left and of what goes, tried exhaustively.
fn model(segments: &[SegmentFact], floor: u64, p: &RetentionPolicy) -> usize {
    let allowed = |k: usize| {
        if k == 0 {
            return true;
        }
        let (gone, kept) = segments.split_at(k);
        let newest_stays = !kept.is_empty();
        // Every seq that goes is below the floor: the last one that goes
        // is the seq before the first one kept.
        let nothing_needed_goes = kept.first().is_some_and(|s| s.first_seq <= floor);
        let segments_left = kept.len() as u64 > p.keep_segments;
        let bytes_left = kept.iter().map(|s| s.bytes).sum::<u64>() >= p.keep_bytes;
        let old_enough = gone.iter().all(|s| p.keep_age.is_none_or(|a| s.age >= a));
        newest_stays && nothing_needed_goes && segments_left && bytes_left && old_enough
    };
    (0..=segments.len())
        .filter(|&k| allowed(k))
        .max()
        .unwrap_or(0)
}

/// Segments with increasing first seqs (each holding at least one record,
/// but maybe the newest), sizes and ages in seconds.
fn segments() -> impl Strategy<Value = Vec<SegmentFact>> {
    prop::collection::vec((1u64..20, 0u64..300, 0u64..100), 0..9).prop_map(|specs| {
        let mut first = 1;
        specs
            .into_iter()
            .map(|(records, bytes, age)| {
                let s = seg(first, bytes, age);
                first += records;
                s
            })
            .collect()
    })
}

fn policies() -> impl Strategy<Value = RetentionPolicy> {
    (0u64..1500, 0u64..6, prop::option::of(0u64..100))
        .prop_map(|(bytes, segs, age)| policy(bytes, segs, age))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn plan_matches_model(
        segs in segments(),
        floor in prop_oneof![0u64..120, Just(u64::MAX)],
        p in policies(),
    ) {
        let got = plan(&segs, floor, &p);
        let k = model(&segs, floor, &p);
        let want: Vec<u64> = segs[..k].iter().map(|s| s.first_seq).collect();
        prop_assert_eq!(&got.remove, &want);
        prop_assert_eq!(got.oldest, segs.get(k).map(|s| s.first_seq));
        // Seq by seq: nothing at or past the floor goes, and the newest
        // segment always stays.
        if let Some(oldest) = got.oldest {
            prop_assert!(oldest <= floor.max(segs[0].first_seq));
            prop_assert!(segs.last().is_some_and(|s| s.first_seq >= oldest));
        }
        // The reason names a rule that holds the next segment.
        match got.held_by {
            Hold::Newest => prop_assert_eq!(k + 1, segs.len().max(1)),
            Hold::Needed => prop_assert!(segs[k + 1].first_seq > floor),
            Hold::KeepSegments => prop_assert!(((segs.len() - k - 2) as u64) < p.keep_segments),
            Hold::KeepBytes => {
                prop_assert!(segs[k + 1..].iter().map(|s| s.bytes).sum::<u64>() < p.keep_bytes)
            }
            Hold::KeepAge => prop_assert!(p.keep_age.is_some_and(|a| segs[k].age < a)),
        }
    }
}
