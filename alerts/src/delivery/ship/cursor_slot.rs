//! The slots of a cursor file and the pure choice between them
//! (`cursor.rs` owns the file and its I/O).
//!
//! ```text
//! file      = slot@0 slot@512                          (548 bytes; 544 in version 1)
//! slot v2   = "ADCV":u32le version:u16le !version:u16le generation:u64le
//!             delivered:u64le in_flight_to:u64le crc32:u32le   (36 bytes, written)
//! slot v1   = "ADCU":u32le generation:u64le delivered:u64le
//!             in_flight_to:u64le crc32:u32le           (32 bytes, read)
//! ```
//! The CRC covers the bytes before it; the version is followed by its
//! complement, so that a damaged version byte (or a write torn there) reads
//! as damage, which the other slot makes up for, not as another version:
//! every later version keeps these first 8 bytes. Version 1 is what the releases
//! before versioned formats wrote: its slots carry no version field, their
//! magic tells them apart; they are still read, so an upgrade keeps every
//! cursor, and each store replaces one with a version-2 slot (a file may
//! hold one of each until its second store).
//!
//! A slot with the versioned magic and a version this binary does not read
//! refuses the whole file: it may hold a newer state than the other slot,
//! and taking that one would move the cursor back.

use crate::delivery::ship::cursor::CursorState;
use crate::formats::{CURSOR, Unreadable};

const MAGIC_V1: u32 = 0x4144_4355; // "ADCU"
const MAGIC: u32 = 0x4144_4356; // "ADCV": a slot that says its version
const VERSION: u16 = CURSOR.current as u16;
const V1_SLOT_LEN: usize = 32;
pub(crate) const SLOT_LEN: usize = 36;
pub(crate) const SLOT_STRIDE: u64 = 512;
/// The length of a cursor file written by this release.
pub(crate) const FILE_LEN: u64 = SLOT_STRIDE + SLOT_LEN as u64;
/// The length of one whose second slot is still of version 1.
pub(crate) const V1_FILE_LEN: u64 = SLOT_STRIDE + V1_SLOT_LEN as u64;

/// One slot as found on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Valid {
        generation: u64,
        state: CursorState,
    },
    /// All zeros: never written.
    Empty,
    /// Another magic, a bad CRC, or a CRC-valid state breaking the invariant.
    Damaged,
    /// A versioned slot of a version this binary does not read.
    Version(u64),
}

/// What a cursor file's slots hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loaded {
    pub generation: u64,
    pub state: CursorState,
    /// The slot (0 or 1) found damaged, if any.
    pub damaged_slot: Option<u8>,
}

/// Where the slot of `generation` sits.
pub(crate) fn slot_offset(generation: u64) -> u64 {
    (generation % 2) * SLOT_STRIDE
}

/// The two slots of a file image of [`FILE_LEN`] bytes.
pub(crate) fn slots_of(image: &[u8]) -> [Slot; 2] {
    [0, 1].map(|i| {
        let at = i * SLOT_STRIDE as usize;
        let mut raw = [0u8; SLOT_LEN];
        if let Some(bytes) = image.get(at..at + SLOT_LEN) {
            raw.copy_from_slice(bytes);
        }
        decode_slot(&raw)
    })
}

/// The valid slot with the highest generation, and the other one if it is
/// damaged. The other slot may be empty only beside generation 0 (a new
/// file): every later generation was written next to an earlier one, so an
/// empty slot there was zeroed by damage. Refused if either slot is of a
/// version this binary does not read, or neither is valid.
pub(crate) fn pick(slots: &[Slot; 2]) -> Result<Loaded, Unreadable> {
    if let Some(found) = slots.iter().find_map(|s| match s {
        Slot::Version(v) => Some(*v),
        _ => None,
    }) {
        return Err(Unreadable::Version(found));
    }
    let (i, generation, state) = slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match *s {
            Slot::Valid { generation, state } => Some((i, generation, state)),
            _ => None,
        })
        .max_by_key(|(_, generation, _)| *generation)
        .ok_or_else(|| Unreadable::Damaged(NO_VALID_SLOT.to_owned()))?;
    let other = 1 - i;
    let damaged = match slots[other] {
        Slot::Damaged => true,
        Slot::Empty => generation > 0,
        Slot::Valid { .. } | Slot::Version(_) => false,
    };
    Ok(Loaded {
        generation,
        state,
        damaged_slot: damaged.then_some(other as u8),
    })
}

/// Why a file without a usable slot is refused (before what to do).
pub(crate) const NO_VALID_SLOT: &str = "no valid slot (both torn or damaged)";

/// A slot of this release's version.
pub(crate) fn encode_slot(generation: u64, state: CursorState) -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    slot[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    slot[4..6].copy_from_slice(&VERSION.to_le_bytes());
    slot[6..8].copy_from_slice(&(!VERSION).to_le_bytes());
    slot[8..16].copy_from_slice(&generation.to_le_bytes());
    slot[16..24].copy_from_slice(&state.delivered.to_le_bytes());
    slot[24..32].copy_from_slice(&state.in_flight_to.to_le_bytes());
    let crc = crc32fast::hash(&slot[..32]);
    slot[32..36].copy_from_slice(&crc.to_le_bytes());
    slot
}

pub(crate) fn decode_slot(slot: &[u8; SLOT_LEN]) -> Slot {
    if slot.iter().all(|&b| b == 0) {
        return Slot::Empty;
    }
    let u32_at = |i: usize| u32::from_le_bytes([slot[i], slot[i + 1], slot[i + 2], slot[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&slot[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let u16_at = |i: usize| u16::from_le_bytes([slot[i], slot[i + 1]]);
    // Where generation, delivered and in_flight_to start, and the CRC's.
    let fields = match u32_at(0) {
        // Version 1: no version field.
        MAGIC_V1 => 4,
        MAGIC if u16_at(6) != !u16_at(4) => return Slot::Damaged,
        MAGIC if u16_at(4) == VERSION => 8,
        // A newer release's.
        MAGIC if u16_at(4) > VERSION => return Slot::Version(u64::from(u16_at(4))),
        // No release wrote a versioned slot below this one's version.
        _ => return Slot::Damaged,
    };
    let crc_at = fields + 24;
    if u32_at(crc_at) != crc32fast::hash(&slot[..crc_at]) {
        return Slot::Damaged;
    }
    let state = CursorState {
        delivered: u64_at(fields + 8),
        in_flight_to: u64_at(fields + 16),
    };
    // A CRC-valid slot breaking the invariant was written by a bug: not trusted.
    if state.in_flight_to < state.delivered {
        return Slot::Damaged;
    }
    Slot::Valid {
        generation: u64_at(fields),
        state,
    }
}

/// A slot as the releases before versioned formats wrote it (version 1),
/// for tests of reading it.
#[cfg(test)]
pub(crate) fn v1_slot(generation: u64, s: CursorState) -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    slot[0..4].copy_from_slice(&MAGIC_V1.to_le_bytes());
    slot[4..12].copy_from_slice(&generation.to_le_bytes());
    slot[12..20].copy_from_slice(&s.delivered.to_le_bytes());
    slot[20..28].copy_from_slice(&s.in_flight_to.to_le_bytes());
    let crc = crc32fast::hash(&slot[..28]);
    slot[28..32].copy_from_slice(&crc.to_le_bytes());
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(delivered: u64, in_flight_to: u64) -> CursorState {
        CursorState {
            delivered,
            in_flight_to,
        }
    }

    #[test]
    fn slots_pick_the_newest_valid_and_name_a_damaged_other() {
        let valid = |generation, d| Slot::Valid {
            generation,
            state: state(d, d),
        };
        let loaded = |generation, d, damaged_slot| {
            Ok(Loaded {
                generation,
                state: state(d, d),
                damaged_slot,
            })
        };
        assert_eq!(pick(&[valid(4, 4), valid(5, 5)]), loaded(5, 5, None));
        assert_eq!(pick(&[valid(6, 6), valid(5, 5)]), loaded(6, 6, None));
        assert_eq!(pick(&[valid(0, 0), Slot::Empty]), loaded(0, 0, None));
        // Beside generation 1 or later, an empty slot was zeroed by damage.
        assert_eq!(pick(&[Slot::Empty, valid(1, 1)]), loaded(1, 1, Some(0)));
        assert_eq!(pick(&[valid(2, 2), Slot::Empty]), loaded(2, 2, Some(1)));
        assert_eq!(pick(&[valid(4, 4), Slot::Damaged]), loaded(4, 4, Some(1)));
        assert_eq!(pick(&[Slot::Damaged, valid(3, 3)]), loaded(3, 3, Some(0)));
        for none in [
            [Slot::Damaged, Slot::Damaged],
            [Slot::Empty, Slot::Empty],
            [Slot::Empty, Slot::Damaged],
        ] {
            assert!(
                matches!(pick(&none), Err(Unreadable::Damaged(_))),
                "{none:?}"
            );
        }
        assert_eq!(decode_slot(&[0; SLOT_LEN]), Slot::Empty);
        let mut bad = encode_slot(3, state(1, 2));
        bad[17] ^= 1;
        assert_eq!(decode_slot(&bad), Slot::Damaged);
        assert_eq!(decode_slot(&encode_slot(3, state(2, 1))), Slot::Damaged);
    }

    /// A slot of a version this binary does not read refuses the file,
    /// whatever the other slot holds: its state may be the newer one.
    #[test]
    fn a_slot_of_an_unknown_version_refuses_the_file() {
        let mut future = encode_slot(9, state(9, 9));
        future[4..6].copy_from_slice(&99u16.to_le_bytes());
        future[6..8].copy_from_slice(&(!99u16).to_le_bytes());
        assert_eq!(decode_slot(&future), Slot::Version(99));
        // No release wrote a versioned slot of version 0 or 1.
        for v in [0u16, 1] {
            future[4..6].copy_from_slice(&v.to_le_bytes());
            future[6..8].copy_from_slice(&(!v).to_le_bytes());
            assert_eq!(decode_slot(&future), Slot::Damaged, "version {v}");
        }
        // A version byte damaged is damage, not another version.
        for at in 4..8 {
            let mut bad = encode_slot(9, state(9, 9));
            bad[at] ^= 0x5a;
            assert_eq!(decode_slot(&bad), Slot::Damaged, "byte {at}");
        }
        let valid = Slot::Valid {
            generation: 8,
            state: state(8, 8),
        };
        for slots in [
            [Slot::Version(99), valid],
            [valid, Slot::Version(99)],
            [Slot::Version(99), Slot::Empty],
            [Slot::Damaged, Slot::Version(99)],
        ] {
            assert_eq!(pick(&slots), Err(Unreadable::Version(99)), "{slots:?}");
        }
    }

    /// Slots of today's unversioned form (version 1) are read as they are,
    /// next to this release's, and pick by generation across the two.
    #[test]
    fn version_1_slots_are_still_read() {
        let old = v1_slot(5, state(4, 6));
        assert_eq!(old[32..], [0; 4], "32 bytes, the rest of the image zero");
        assert_eq!(
            decode_slot(&old),
            Slot::Valid {
                generation: 5,
                state: state(4, 6)
            }
        );
        let mut bad = old;
        bad[13] ^= 1;
        assert_eq!(decode_slot(&bad), Slot::Damaged);
        let mut image = vec![0u8; V1_FILE_LEN as usize];
        image[SLOT_STRIDE as usize..].copy_from_slice(&old[..32]);
        image[..SLOT_LEN].copy_from_slice(&v1_slot(4, state(4, 4)));
        image.resize(FILE_LEN as usize, 0);
        assert_eq!(
            pick(&slots_of(&image)),
            Ok(Loaded {
                generation: 5,
                state: state(4, 6),
                damaged_slot: None
            })
        );
        // One slot rewritten in this release's form: the newer one wins.
        image[..SLOT_LEN].copy_from_slice(&encode_slot(6, state(6, 6)));
        assert_eq!(pick(&slots_of(&image)).map(|l| l.state), Ok(state(6, 6)));
    }

    #[test]
    fn layout() {
        let slot = encode_slot(1, state(2, 3));
        assert_eq!(&slot[..8], b"VCDA\x02\x00\xfd\xff");
        assert_eq!(&v1_slot(1, state(2, 3))[..4], b"UCDA");
        assert_eq!((FILE_LEN, V1_FILE_LEN), (548, 544));
    }
}
