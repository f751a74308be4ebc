use std::fmt;

/// An input field named in a reject reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `id`
    Id,
    /// `#shares` / `shares`
    Shares,
    /// `client`
    Client,
    /// `stock`
    Stock,
    /// `initial_order_id`
    InitialOrderId,
    /// `ts`
    Ts,
}

impl Field {
    /// All fields, in the order reasons are reported.
    pub const ALL: [Field; 6] = [
        Field::Id,
        Field::Shares,
        Field::Client,
        Field::Stock,
        Field::InitialOrderId,
        Field::Ts,
    ];

    /// The field's name as written in the input (`#shares` for the shares field).
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Shares => "#shares",
            Field::Client => "client",
            Field::Stock => "stock",
            Field::InitialOrderId => "initial_order_id",
            Field::Ts => "ts",
        }
    }
}

/// Why an input line was rejected (SPEC §1 vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Not valid UTF-8, not valid JSON, or not a JSON object.
    Malformed,
    /// The line is longer than 64 KiB.
    TooLong,
    /// An object key occurs twice.
    DuplicateKey,
    /// A required field is absent.
    Missing(Field),
    /// A field has the wrong type or is out of range.
    Bad(Field),
}

impl RejectReason {
    /// Number of distinct reasons; [`RejectReason::index`] is below this.
    pub const COUNT: usize = 3 + 2 * Field::ALL.len();

    /// A dense index for per-reason counters.
    pub fn index(self) -> usize {
        match self {
            RejectReason::Malformed => 0,
            RejectReason::TooLong => 1,
            RejectReason::DuplicateKey => 2,
            RejectReason::Missing(f) => 3 + f as usize,
            RejectReason::Bad(f) => 3 + Field::ALL.len() + f as usize,
        }
    }

    /// The inverse of [`RejectReason::index`].
    pub fn from_index(i: usize) -> Option<Self> {
        let n = Field::ALL.len();
        Some(match i {
            0 => RejectReason::Malformed,
            1 => RejectReason::TooLong,
            2 => RejectReason::DuplicateKey,
            i if i < 3 + n => RejectReason::Missing(Field::ALL[i - 3]),
            i if i < 3 + 2 * n => RejectReason::Bad(Field::ALL[i - 3 - n]),
            _ => return None,
        })
    }

    /// The reason as written in dead letters and metrics labels.
    pub fn as_str(self) -> &'static str {
        const MISSING: [&str; 6] = [
            "missing:id",
            "missing:#shares",
            "missing:client",
            "missing:stock",
            "missing:initial_order_id",
            "missing:ts",
        ];
        const BAD: [&str; 6] = [
            "bad:id",
            "bad:#shares",
            "bad:client",
            "bad:stock",
            "bad:initial_order_id",
            "bad:ts",
        ];
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::TooLong => "too_long",
            RejectReason::DuplicateKey => "duplicate_key",
            RejectReason::Missing(f) => MISSING[f as usize],
            RejectReason::Bad(f) => BAD[f as usize],
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_is_dense() {
        for i in 0..RejectReason::COUNT {
            let r = RejectReason::from_index(i).unwrap();
            assert_eq!(r.index(), i, "{r}");
        }
        assert_eq!(RejectReason::from_index(RejectReason::COUNT), None);
    }

    #[test]
    fn names_follow_the_spec_vocabulary() {
        assert_eq!(
            RejectReason::Missing(Field::Shares).as_str(),
            "missing:#shares"
        );
        assert_eq!(RejectReason::Bad(Field::Ts).as_str(), "bad:ts");
        assert_eq!(RejectReason::DuplicateKey.to_string(), "duplicate_key");
    }
}
