//! What a node reads of its own journal and input log for the handshake:
//! its [`Hello`] (where it stands) and, on the active, the [`ActiveView`]
//! of the joining node's positions that [`pair::join::decide_join`] needs.
//! Read from the files (readers never modify them), once per connection.

use std::path::Path;

use alerts::JournalReader;
use pair::{
    join::ActiveView,
    wire::{Hello, VERSION},
};

use crate::{Result, input_log};

/// The payload of record `seq` of the log in `dir`, if it holds it.
fn payload_at(dir: &Path, seq: u64) -> Result<Option<Vec<u8>>> {
    if seq == 0 || !dir.is_dir() {
        return Ok(None);
    }
    let oldest = alerts::oldest_kept(dir)?;
    if seq < oldest {
        return Ok(None);
    }
    match JournalReader::open(dir, seq)?.next() {
        Some(Ok((s, p))) if s == seq => Ok(Some(p)),
        Some(Err(e)) => Err(e.into()),
        _ => Ok(None),
    }
}

/// The `alert_id` of journal record `seq`, if the journal holds it.
pub(crate) fn alert_id_at(journal_dir: &Path, seq: u64) -> Result<Option<String>> {
    Ok(payload_at(journal_dir, seq)?.map(|p| alert_id(&p)))
}

/// A record's `alert_id` ("" if the payload has none: compared, it then
/// matches nothing real).
pub(crate) fn alert_id(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("alert_id")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A digest of journal record `seq`, every byte of it, if the journal
/// holds it.
pub(crate) fn record_digest_at(journal_dir: &Path, seq: u64) -> Result<Option<u64>> {
    Ok(payload_at(journal_dir, seq)?
        .map(|p| u64::from(crc32fast::hash(&p)) | ((p.len() as u64) << 32)))
}

/// The digest of input frame `seq`, if the log holds it.
pub(crate) fn frame_digest_at(input_dir: &Path, seq: u64) -> Result<Option<u64>> {
    Ok(payload_at(input_dir, seq)?.map(|p| input_log::digest(&p)))
}

/// Where a log stands: its oldest kept seq and the seq it appends next.
pub(crate) fn bounds(dir: &Path) -> Result<(u64, u64)> {
    if !dir.is_dir() {
        return Ok((1, 1));
    }
    let oldest = alerts::oldest_kept(dir)?;
    let next = alerts::journal_last_seq(dir)?.map_or(oldest, |s| s + 1);
    Ok((oldest, next.max(oldest)))
}

/// The highest seq any of the journal's sinks recorded as delivered or in
/// flight (0: none).
pub(crate) fn shipped_seq(journal_dir: &Path) -> Result<u64> {
    if !journal_dir.is_dir() {
        return Ok(0);
    }
    Ok(alerts::read_cursors(journal_dir)?
        .iter()
        .map(|c| c.delivered.max(c.in_flight_to))
        .max()
        .unwrap_or(0))
}

/// This node's introduction, read from its files.
pub(crate) fn hello(node: &str, epoch: u64, journal_dir: &Path, input_dir: &Path) -> Result<Hello> {
    let (_, journal_next) = bounds(journal_dir)?;
    let (_, input_next) = bounds(input_dir)?;
    let shipped = shipped_seq(journal_dir)?.min(journal_next.saturating_sub(1));
    Ok(Hello {
        version: VERSION,
        node: node.to_owned(),
        epoch,
        journal_next_seq: journal_next,
        journal_last_digest: record_digest_at(journal_dir, journal_next - 1)?.unwrap_or(0),
        shipped_seq: shipped,
        shipped_id: alert_id_at(journal_dir, shipped)?.unwrap_or_default(),
        input_next_seq: input_next,
        input_last_digest: frame_digest_at(input_dir, input_next - 1)?.unwrap_or(0),
    })
}

/// What the active finds at the joining node's positions.
pub(crate) fn active_view(journal_dir: &Path, input_dir: &Path, h: &Hello) -> Result<ActiveView> {
    let (journal_oldest, journal_next_seq) = bounds(journal_dir)?;
    let (input_oldest, input_next_seq) = bounds(input_dir)?;
    Ok(ActiveView {
        at_shipped: alert_id_at(journal_dir, h.shipped_seq)?,
        at_journal_last: record_digest_at(journal_dir, h.journal_next_seq.saturating_sub(1))?,
        at_input_last: frame_digest_at(input_dir, h.input_next_seq.saturating_sub(1))?,
        input_oldest,
        input_next_seq,
        journal_oldest,
        journal_next_seq,
    })
}
