//! `aldebaran journal dump|verify|cursors DIR`, and `journal cursors --reset`.

use std::{
    io::{ErrorKind, Write},
    path::Path,
    process::ExitCode,
};

use anyhow::{Context, Result};

pub fn dump(dir: &Path) -> Result<ExitCode> {
    require_dir(dir)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match alerts::dump(dir, &mut out) {
        // The reader went away (`journal dump DIR | head`): stop quietly.
        Err(alerts::AlertsError::Output(e)) if e.kind() == ErrorKind::BrokenPipe => {
            return Ok(ExitCode::SUCCESS);
        }
        r => r.with_context(|| format!("dumping journal {}", dir.display())),
    };
    written?;
    match out.flush() {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        r => r
            .context("writing to standard output")
            .map(|()| ExitCode::SUCCESS),
    }
}

pub fn verify(dir: &Path) -> Result<ExitCode> {
    require_dir(dir)?;
    match alerts::verify(dir) {
        Ok(r) => {
            let range = match (r.first_seq, r.last_seq) {
                (Some(a), Some(b)) => format!("seq {a}..={b}"),
                _ => "empty".to_owned(),
            };
            println!(
                "ok: {} records in {} segments ({range}, {} bytes)",
                r.records, r.segments, r.bytes
            );
            if let Some(t) = r.torn_tail.as_ref().filter(|t| t.zeros) {
                println!(
                    "note: {} zero bytes after the last record of {} (preallocated; a crash left them): no record is lost, the next open cuts them",
                    t.bytes_dropped,
                    t.segment.display()
                );
            } else if let Some(t) = r.torn_tail {
                println!(
                    "warning: torn tail in {} at offset {} ({} bytes; {}): it will be truncated on next open",
                    t.segment.display(),
                    t.offset,
                    t.bytes_dropped,
                    t.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ alerts::AlertsError::Corrupt { .. }) => {
            // `e` reads "corrupt journal: segment …, offset …: …".
            eprintln!("aldebaran: error: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e).with_context(|| format!("verifying journal {}", dir.display())),
    }
}

/// The journal's last seq and the oldest it keeps, then one line per sink:
/// name, kind, mode, delivered seq, in flight, lag behind the journal's last
/// record; then the sinks that cannot start (cursor missing, or behind the
/// oldest seq kept).
pub fn cursors(dir: &Path) -> Result<ExitCode> {
    require_dir(dir)?;
    let last = alerts::delivery::journal_last_seq(dir)
        .with_context(|| format!("reading journal {}", dir.display()))?
        .unwrap_or(0);
    let oldest = alerts::first_kept_seq(dir)
        .with_context(|| format!("reading journal {}", dir.display()))?;
    let cursors = alerts::delivery::read_cursors(dir)
        .with_context(|| format!("reading the cursors of journal {}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "journal last seq {last}")?;
    writeln!(out, "oldest seq kept {oldest}")?;
    if cursors.is_empty() {
        writeln!(out, "no sink cursors")?;
    } else {
        writeln!(
            out,
            "{:<16} {:<8} {:<14} {:>12} {:>12} {:>10}",
            "SINK", "KIND", "MODE", "DELIVERED", "IN FLIGHT", "LAG"
        )?;
    }
    let registered = alerts::delivery::registered_sinks(dir)
        .with_context(|| format!("reading the sink registry of journal {}", dir.display()))?;
    let missing: Vec<_> = registered
        .iter()
        .filter(|r| !cursors.iter().any(|c| c.name == r.name))
        .collect();
    let behind: Vec<(String, u64)> = cursors
        .iter()
        .filter(|c| c.delivered.saturating_add(1) < oldest)
        .map(|c| (c.name.clone(), c.delivered))
        .collect();
    for c in cursors {
        let in_flight = if c.in_flight_to > c.delivered {
            format!("..={}", c.in_flight_to)
        } else {
            "-".to_owned()
        };
        writeln!(
            out,
            "{:<16} {:<8} {:<14} {:>12} {:>12} {:>10}",
            c.name,
            c.kind.as_deref().unwrap_or("?"),
            c.mode.map_or("?", |m| m.as_str()),
            c.delivered,
            in_flight,
            last.saturating_sub(c.delivered)
        )?;
    }
    for r in missing {
        writeln!(
            out,
            "sink {} ({}, first shipped from seq {}): cursor missing; it refuses to start until \
             `aldebaran journal cursors --reset {} --to SEQ|head|oldest {}`",
            r.name,
            r.kind,
            r.first_seq,
            r.name,
            dir.display()
        )?;
    }
    for (name, delivered) in behind {
        writeln!(
            out,
            "sink {name}: cursor at seq {delivered} is behind the oldest seq kept {oldest}; it \
             refuses to start until the segments are moved back or `aldebaran journal cursors \
             --reset {name} --to oldest {}`",
            dir.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `journal cursors --reset NAME --to SEQ|head|oldest DIR`: sets the cursor
/// and says what it was, what it is now, and where the sink resumes.
pub fn reset_cursor(dir: &Path, sink: &str, to: alerts::delivery::ResetTo) -> Result<ExitCode> {
    use alerts::delivery::CursorBefore;
    require_dir(dir)?;
    let r = alerts::delivery::reset_cursor(dir, sink, to)
        .with_context(|| format!("journal {}", dir.display()))?;
    let before = match &r.before {
        CursorBefore::Missing => "was missing".to_owned(),
        CursorBefore::Damaged(why) => format!("was damaged ({why})"),
        CursorBefore::UnknownVersion { found } => {
            format!("was of format version {found}, which this release does not read")
        }
        CursorBefore::At {
            delivered,
            in_flight_to,
        } if in_flight_to > delivered => format!(
            "was at seq {delivered} with seq {}..={in_flight_to} in flight (that mark is cleared)",
            delivered + 1
        ),
        CursorBefore::At { delivered, .. } => format!("was at seq {delivered}"),
    };
    let to = match r.to {
        alerts::delivery::ResetTo::Seq(_) => String::new(),
        named => format!("{named}; "),
    };
    println!(
        "sink {}: cursor {} {before}; now at seq {} ({to}the journal's last seq is {}): seqs up \
         to {} count as delivered, and the next start ships from seq {}",
        r.sink,
        r.path.display(),
        r.delivered,
        r.journal_last,
        r.delivered,
        r.delivered + 1
    );
    Ok(ExitCode::SUCCESS)
}

fn require_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        anyhow::bail!("journal directory {} does not exist", dir.display());
    }
    if !dir.is_dir() {
        anyhow::bail!("journal path {} is not a directory", dir.display());
    }
    Ok(())
}
