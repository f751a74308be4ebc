//! Sink configuration: one `[sinks.<name>]` TOML table → [`SinkConfig`].
//!
//! The common keys (`kind`, `mode`, `start`, `retry_min_ms`, `retry_max_ms`,
//! `dead_letter`) are taken out first; the rest must deserialize into the
//! kind's own struct (`deny_unknown_fields`, so a typo is an error naming the
//! key and the sink). Templates (`{field}` placeholders) are checked against
//! the [`AlertFields`] of the configured jobs. Adding a kind: a variant in [`SinkSettings`] and one arm
//! in each `match` below (`parse_settings`, `kind`, `modes`, `open`).
//!
//! The `http`, `smtp` and `amqp` kinds are behind the cargo features of the
//! same names; a config naming one that was compiled out is refused here,
//! with the feature it needs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::delivery::fields::AlertFields;
use crate::delivery::mode::{DeliveryMode, Modes};
use crate::delivery::ship::cursor::CURSORS_DIR;
use crate::delivery::ship::{DurableHead, ShipperSpec, StartFrom};
use crate::delivery::sink::Sink;
#[cfg(feature = "amqp")]
use crate::delivery::sinks::amqp::{self, AmqpSink, AmqpSinkConfig};
use crate::delivery::sinks::command::{self, CommandSink, CommandSinkConfig};
use crate::delivery::sinks::file::{self, FileSink, FileSinkConfig};
#[cfg(feature = "http")]
use crate::delivery::sinks::http::{self, HttpSink, HttpSinkConfig};
#[cfg(feature = "smtp")]
use crate::delivery::sinks::smtp::{self, SmtpSink, SmtpSinkConfig};
use crate::delivery::sinks::stdout::{self, StdoutSink, StdoutSinkConfig};
use crate::error::{AlertsError, Result};

/// The keys every sink table may carry, besides its kind's own.
const COMMON_KEYS: [&str; 6] = [
    "kind",
    "mode",
    "start",
    "retry_min_ms",
    "retry_max_ms",
    "dead_letter",
];
/// The kinds that need the cargo feature of the same name, built in or not.
const OPTIONAL_KINDS: [&str; 3] = ["http", "smtp", "amqp"];
/// How often a caught-up shipper polls the journal.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// One configured sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// `[A-Za-z0-9_-]+`: it names files under `cursors/` and a metric label.
    pub name: String,
    pub mode: DeliveryMode,
    /// Where the sink starts the first time it ships from a journal.
    pub start: StartFrom,
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    /// Dead-letter JSON Lines file; empty means
    /// `<journal_dir>/cursors/<name>.dead.jsonl`.
    pub dead_letter: PathBuf,
    pub settings: SinkSettings,
    /// What the sink's templates were checked against, for [`Self::open_sink`].
    fields: AlertFields,
}

/// The kind-specific part of a sink's config.
#[derive(Debug, Clone)]
pub enum SinkSettings {
    File(FileSinkConfig),
    Stdout(StdoutSinkConfig),
    Command(CommandSinkConfig),
    #[cfg(feature = "http")]
    Http(HttpSinkConfig),
    #[cfg(feature = "smtp")]
    Smtp(SmtpSinkConfig),
    #[cfg(feature = "amqp")]
    Amqp(AmqpSinkConfig),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    kind: String,
    mode: Option<DeliveryMode>,
    #[serde(default)]
    start: StartFrom,
    #[serde(default = "default_retry_min_ms")]
    retry_min_ms: u64,
    #[serde(default = "default_retry_max_ms")]
    retry_max_ms: u64,
    #[serde(default)]
    dead_letter: PathBuf,
}

fn default_retry_min_ms() -> u64 {
    100
}

fn default_retry_max_ms() -> u64 {
    30_000
}

impl SinkConfig {
    /// Parses the table of sink `name` (see the module doc); its templates
    /// may use the fields in `fields`.
    pub fn from_toml(name: &str, table: &toml::Table, fields: &AlertFields) -> Result<SinkConfig> {
        let err = |reason: String| AlertsError::SinkConfig {
            sink: name.to_string(),
            reason,
        };
        check_name(name).map_err(err)?;
        let (common, rest): (toml::Table, toml::Table) = table
            .clone()
            .into_iter()
            .partition(|(k, _)| COMMON_KEYS.contains(&k.as_str()));
        let common: Common = deserialize(common).map_err(err)?;
        let settings = parse_settings(&common.kind, rest).map_err(err)?;
        let modes = settings.modes();
        let mode = common.mode.unwrap_or(modes.default);
        if !modes.allowed.contains(&mode) {
            let allowed: Vec<_> = modes.allowed.iter().map(|m| m.as_str()).collect();
            return Err(err(format!(
                "kind {:?} cannot be {}: {}; allowed: {}",
                settings.kind(),
                mode.as_str(),
                why_not(mode),
                allowed.join(", ")
            )));
        }
        // Builds the sink once (destinations untouched) so its own checks,
        // like an empty `command`, fail at parse time.
        settings.open(fields).map_err(err)?;
        if common.retry_min_ms == 0 || common.retry_max_ms < common.retry_min_ms {
            return Err(err(format!(
                "need 0 < retry_min_ms <= retry_max_ms, got {} and {}",
                common.retry_min_ms, common.retry_max_ms
            )));
        }
        Ok(SinkConfig {
            name: name.to_string(),
            mode,
            start: common.start,
            retry_min_ms: common.retry_min_ms,
            retry_max_ms: common.retry_max_ms,
            dead_letter: common.dead_letter,
            settings,
            fields: fields.clone(),
        })
    }

    /// Parses every sink of a `[sinks]` table (each value a table), in name
    /// order; their templates may use the fields in `fields`.
    pub fn all_from_toml(sinks: &toml::Table, fields: &AlertFields) -> Result<Vec<SinkConfig>> {
        sinks
            .iter()
            .map(|(name, value)| match value {
                toml::Value::Table(t) => SinkConfig::from_toml(name, t, fields),
                other => Err(AlertsError::SinkConfig {
                    sink: name.clone(),
                    reason: format!("expected a table, found a {}", other.type_str()),
                }),
            })
            .collect()
    }

    /// The kind's name as written in configs (`"file"`, ...).
    pub fn kind(&self) -> &'static str {
        self.settings.kind()
    }

    /// Builds the sink. Never touches the destination (that happens in the
    /// shipper, where failures are retried), so it fails only on config.
    pub fn open_sink(&self) -> Result<Box<dyn Sink>> {
        self.settings
            .open(&self.fields)
            .map_err(|reason| AlertsError::SinkConfig {
                sink: self.name.clone(),
                reason,
            })
    }

    /// The [`ShipperSpec`] of this sink over the journal in `journal_dir`.
    pub fn shipper_spec(&self, journal_dir: &Path, durable: Arc<DurableHead>) -> ShipperSpec {
        let dead_letter = if self.dead_letter.as_os_str().is_empty() {
            journal_dir
                .join(CURSORS_DIR)
                .join(format!("{}.dead.jsonl", self.name))
        } else {
            self.dead_letter.clone()
        };
        ShipperSpec {
            name: self.name.clone(),
            kind: self.kind().to_string(),
            mode: self.mode,
            start: self.start,
            journal_dir: journal_dir.to_path_buf(),
            durable,
            retry_min: Duration::from_millis(self.retry_min_ms),
            retry_max: Duration::from_millis(self.retry_max_ms),
            dead_letter,
            poll_interval: POLL_INTERVAL,
            // A single node until a pair sets them.
            gate: None,
            mirror: None,
        }
    }
}

fn parse_settings(kind: &str, rest: toml::Table) -> std::result::Result<SinkSettings, String> {
    match kind {
        file::KIND => deserialize(rest).map(SinkSettings::File),
        stdout::KIND => deserialize(rest).map(SinkSettings::Stdout),
        command::KIND => deserialize(rest).map(SinkSettings::Command),
        #[cfg(feature = "http")]
        http::KIND => deserialize(rest).map(SinkSettings::Http),
        #[cfg(feature = "smtp")]
        smtp::KIND => deserialize(rest).map(SinkSettings::Smtp),
        #[cfg(feature = "amqp")]
        amqp::KIND => deserialize(rest).map(SinkSettings::Amqp),
        // Reached only for a kind whose feature is off (its arm above is
        // compiled out).
        other if OPTIONAL_KINDS.contains(&other) => Err(format!(
            "kind {other:?} is not built into this binary \
             (it was built without the cargo feature {other:?})"
        )),
        other => Err(format!(
            "unknown kind {other:?}; known: {}, {}, {}, {}",
            file::KIND,
            stdout::KIND,
            command::KIND,
            OPTIONAL_KINDS.join(", ")
        )),
    }
}

impl SinkSettings {
    pub fn kind(&self) -> &'static str {
        match self {
            SinkSettings::File(_) => file::KIND,
            SinkSettings::Stdout(_) => stdout::KIND,
            SinkSettings::Command(_) => command::KIND,
            #[cfg(feature = "http")]
            SinkSettings::Http(_) => http::KIND,
            #[cfg(feature = "smtp")]
            SinkSettings::Smtp(_) => smtp::KIND,
            #[cfg(feature = "amqp")]
            SinkSettings::Amqp(_) => amqp::KIND,
        }
    }

    pub(crate) fn modes(&self) -> Modes {
        let (default, allowed) = match self {
            SinkSettings::File(_) => (file::DEFAULT_MODE, file::MODES),
            SinkSettings::Stdout(_) => (stdout::DEFAULT_MODE, stdout::MODES),
            SinkSettings::Command(_) => (command::DEFAULT_MODE, command::MODES),
            #[cfg(feature = "http")]
            SinkSettings::Http(_) => (http::DEFAULT_MODE, http::MODES),
            #[cfg(feature = "smtp")]
            SinkSettings::Smtp(_) => (smtp::DEFAULT_MODE, smtp::MODES),
            #[cfg(feature = "amqp")]
            SinkSettings::Amqp(_) => (amqp::DEFAULT_MODE, amqp::MODES),
        };
        Modes { default, allowed }
    }

    fn open(&self, fields: &AlertFields) -> std::result::Result<Box<dyn Sink>, String> {
        Ok(match self {
            SinkSettings::File(c) => Box::new(FileSink::new(c)),
            SinkSettings::Stdout(c) => Box::new(StdoutSink::new(c)),
            SinkSettings::Command(c) => Box::new(CommandSink::new(c, fields)?),
            #[cfg(feature = "http")]
            SinkSettings::Http(c) => Box::new(HttpSink::new(c.clone(), fields).map_err(reason)?),
            #[cfg(feature = "smtp")]
            SinkSettings::Smtp(c) => Box::new(SmtpSink::new(c.clone(), fields).map_err(reason)?),
            #[cfg(feature = "amqp")]
            SinkSettings::Amqp(c) => Box::new(AmqpSink::new(c.clone()).map_err(reason)?),
        })
    }
}

/// A kind's construction error as the reason of a [`AlertsError::SinkConfig`]
/// (which names the sink): without the kind's own `<kind> sink:` label, so
/// the error reads `sink "sms": form.Body: ...`.
#[cfg(any(feature = "http", feature = "smtp", feature = "amqp"))]
fn reason(e: AlertsError) -> String {
    match e {
        AlertsError::Sink { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Why a kind may refuse `mode`, for the error message.
fn why_not(mode: DeliveryMode) -> &'static str {
    match mode {
        DeliveryMode::ExactlyOnce => {
            "exactly-once needs a sink that can deduplicate on alert_id or read back what it holds"
        }
        DeliveryMode::AtLeastOnce | DeliveryMode::AtMostOnce => {
            "this sink deduplicates, so it is always exactly-once"
        }
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(
            "sink names must match [A-Za-z0-9_-]+ (they become file names and metric labels)"
                .into(),
        )
    }
}

fn deserialize<T: DeserializeOwned>(table: toml::Table) -> std::result::Result<T, String> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())
}

#[cfg(test)]
mod tests;
