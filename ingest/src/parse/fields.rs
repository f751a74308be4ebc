//! The SPEC §1 field rules, applied to what the visitor collected.
//!
//! Pure and separate from the JSON walk so that the precedence of reasons
//! (field order `id`, `#shares`, `client`, `stock`, `initial_order_id`, `ts`)
//! reads top to bottom in one function.

use columnar::{Field, RejectReason, TradeEventRef};

use super::scratch::{ParseScratch, StrRef};

/// Largest accepted integer: 2^53 − 1 (exactly representable as a double).
pub(super) const MAX_INT: u64 = (1 << 53) - 1;

/// Slots of [`RawFields::vals`], one per known key.
pub(super) const ID: usize = 0;
pub(super) const SHARES: usize = 1;
pub(super) const SHARES_ALIAS: usize = 2;
pub(super) const CLIENT: usize = 3;
pub(super) const STOCK: usize = 4;
pub(super) const INITIAL_ORDER_ID: usize = 5;
pub(super) const TS: usize = 6;
pub(super) const SLOTS: usize = 7;

/// The slot of a known key, compared after unescaping.
pub(super) fn slot_of(key: &str) -> Option<usize> {
    Some(match key {
        "id" => ID,
        "#shares" => SHARES,
        "shares" => SHARES_ALIAS,
        "client" => CLIENT,
        "stock" => STOCK,
        "initial_order_id" => INITIAL_ORDER_ID,
        "ts" => TS,
        _ => return None,
    })
}

/// A known field's value, classified only as far as the rules need.
#[derive(Debug, Clone, Copy)]
pub(super) enum Val<'a> {
    Str(StrRef<'a>),
    /// A non-negative JSON integer that fits a `u64`.
    Uint(u64),
    /// Anything else: null, bool, float, negative, array, object.
    Other,
}

/// What one pass over the object found.
#[derive(Debug, Default)]
pub(super) struct RawFields<'a> {
    pub(super) vals: [Option<Val<'a>>; SLOTS],
    pub(super) duplicate_known_key: bool,
}

/// A line that passed every rule; strings may still point into the scratch.
pub(super) struct Checked<'a> {
    id: StrRef<'a>,
    shares: u64,
    client: StrRef<'a>,
    stock: StrRef<'a>,
    initial_order_id: Option<StrRef<'a>>,
    ts: Option<u64>,
}

fn string(v: Option<Val<'_>>, field: Field, max: usize) -> Result<StrRef<'_>, RejectReason> {
    match v {
        None => Err(RejectReason::Missing(field)),
        Some(Val::Str(s)) if (1..=max).contains(&s.len()) => Ok(s),
        Some(_) => Err(RejectReason::Bad(field)),
    }
}

fn integer(v: Val<'_>, field: Field) -> Result<u64, RejectReason> {
    match v {
        Val::Uint(n) if n <= MAX_INT => Ok(n),
        _ => Err(RejectReason::Bad(field)),
    }
}

/// Applies the rules in SPEC §1 field order; the first failure wins.
pub(super) fn check<'a>(raw: &RawFields<'a>) -> Result<Checked<'a>, RejectReason> {
    let v = &raw.vals;
    let id = string(v[ID], Field::Id, 128)?;
    let shares = match (v[SHARES], v[SHARES_ALIAS]) {
        (Some(_), Some(_)) => return Err(RejectReason::Bad(Field::Shares)),
        (None, None) => return Err(RejectReason::Missing(Field::Shares)),
        (Some(s), None) | (None, Some(s)) => integer(s, Field::Shares)?,
    };
    let client = string(v[CLIENT], Field::Client, 256)?;
    let stock = string(v[STOCK], Field::Stock, 256)?;
    let initial_order_id = match v[INITIAL_ORDER_ID] {
        None => None,
        s => Some(string(s, Field::InitialOrderId, 128)?),
    };
    let ts = match v[TS] {
        None => None,
        Some(t) => Some(integer(t, Field::Ts)?),
    };
    Ok(Checked {
        id,
        shares,
        client,
        stock,
        initial_order_id,
        ts,
    })
}

impl<'a> Checked<'a> {
    /// Points every string at its final home. The `Malformed` arm is
    /// unreachable unless the scratch spans are wrong, which would be a bug;
    /// rejecting the line beats panicking on the ingest thread.
    pub(super) fn resolve(
        self,
        scratch: &'a ParseScratch,
    ) -> Result<TradeEventRef<'a>, RejectReason> {
        let get = |s: StrRef<'a>| s.resolve(scratch).ok_or(RejectReason::Malformed);
        Ok(TradeEventRef {
            id: get(self.id)?,
            shares: self.shares,
            client: get(self.client)?,
            stock: get(self.stock)?,
            initial_order_id: match self.initial_order_id {
                Some(s) => Some(get(s)?),
                None => None,
            },
            ts: self.ts,
        })
    }
}
