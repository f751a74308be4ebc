//! Layered configuration: the embedded `configs/default.toml`, then a file,
//! then `ALDEBARAN_*` environment variables; the binary applies its flags last.
//!
//! Every struct denies unknown fields, so a typo is an error that names the key.
//! The jobs' sections (`[overfill]`, `[exposure]`, …) are not fields here: they
//! are kept as tables in [`Config::jobs`] and each job parses its own (its keys
//! are still checked against `configs/default.toml` while layering).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use crate::{PipelineError, Result};

mod layer;
mod origin;

pub use origin::Origins;

/// The default configuration, embedded in the binary.
pub const DEFAULT_TOML: &str = include_str!("../../../configs/default.toml");

/// Prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "ALDEBARAN_";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The job to run.
    pub job: String,
    /// Batching and threads.
    pub engine: EngineSection,
    /// The alert journal.
    pub journal: JournalSection,
    /// File replay.
    pub replay: ReplaySection,
    /// The source of `aldebaran run`.
    pub source: SourceSection,
    /// The metrics endpoint.
    pub metrics: MetricsSection,
    /// Engine state across restarts.
    pub state: StateSection,
    /// Logging.
    pub log: LogSection,
    /// Shipping the journal to the sinks.
    pub delivery: DeliverySection,
    /// The sinks, by name: each a table with `kind`, `mode` and the kind's
    /// settings, checked by `alerts::delivery::SinkConfig::from_toml`.
    pub sinks: Table,
    /// The active-standby pair (SPEC §6); `run` is a single node unless a
    /// file or the environment sets a key of it ([`Config::ha_present`]).
    pub ha: HaSection,
    /// Each registered job's section, by job name (`[overfill]`, …), for the
    /// job to parse when it is built (`jobs::add_jobs`).
    #[serde(skip)]
    pub jobs: Table,
    /// Whether the file or the environment set any `[ha]` key.
    #[serde(skip)]
    pub ha_present: bool,
    /// Where each key set over the default was set, for errors found later
    /// (a job's section is checked when the job is built).
    #[serde(skip)]
    pub origins: Origins,
}

/// `[ha]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HaSection {
    /// "active", "standby" or "auto".
    pub role: String,
    /// This node's name.
    pub node: String,
    /// Replication address this node listens on.
    pub listen: String,
    /// The other node's replication address.
    pub peer: String,
    /// "sync" or "async".
    pub replication: String,
    /// A status goes each way at least this often.
    pub heartbeat_ms: u64,
    /// A link silent this long is dead.
    pub link_timeout_ms: u64,
    /// An active holds its releases this long after losing an in-sync standby.
    pub alone_after_ms: u64,
    /// The AMQP heartbeat of the lease connection, in seconds.
    pub broker_heartbeat_s: u16,
    /// Stop shipping after the broker has been silent this long.
    pub fence_after_ms: u64,
    /// How often a node tries the lease and probes the broker.
    pub probe_ms: u64,
    /// A starting `auto` node looks for its peer this long first.
    pub start_wait_ms: u64,
}

/// `[delivery]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeliverySection {
    /// At a graceful stop, time the shippers get to deliver what is durable.
    pub shutdown_grace_ms: u64,
    /// A finite input (`source.file` without follow): keep running after its
    /// end until every sink has delivered everything, then exit.
    pub wait_at_end: bool,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// A tracing filter for `run`.
    pub level: String,
}

/// `[source]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// Which source `run` consumes.
    pub kind: SourceKind,
    /// `[source.amqp]`
    pub amqp: AmqpSection,
    /// `[source.file]`
    pub file: FileSection,
}

/// The source of `aldebaran run`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// RabbitMQ.
    Amqp,
    /// A file, replayed or followed.
    File,
}

/// `[source.amqp]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AmqpSection {
    /// Broker URL, or several separated by commas.
    pub url: String,
    /// The nodes of a cluster as a list; when not empty, replaces `url`.
    pub urls: Vec<String>,
    /// Trade queue.
    pub queue: String,
    /// The type the queues are declared with.
    pub queue_type: broker::QueueType,
    /// The shard whose queue `Aldebaran.Trade_Data.<shard>` is consumed
    /// instead of `queue`; -1: not sharded.
    pub shard: i64,
    /// Prefetch count.
    pub prefetch: u16,
    /// Consumer tag.
    pub consumer_tag: String,
    /// First reconnect delay.
    pub reconnect_min_ms: u64,
    /// Longest reconnect delay.
    pub reconnect_max_ms: u64,
    /// `[source.amqp.tls]`: CA file and client certificate for `amqps://`.
    pub tls: ingest::amqp::TlsFiles,
}

/// `[source.file]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSection {
    /// The file.
    pub path: String,
    /// Follow it as it grows.
    pub follow: bool,
}

/// `[metrics]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Address for `run`, or "".
    pub listen: String,
    /// Address for `replay`, or "".
    pub replay_listen: String,
}

/// `[state]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// Directory of the checkpoint.
    pub dir: PathBuf,
    /// Make the input log durable and acknowledge at least this often.
    pub checkpoint_interval_ms: u64,
    /// A full snapshot waits for at least this much input log.
    pub snapshot_min_bytes: u64,
}

/// `[engine]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// Events per micro-batch at most.
    pub batch_events: usize,
    /// Milliseconds per micro-batch at most.
    pub batch_ms: u64,
    /// Worker threads; 0 = one per core less one (at least 1).
    pub threads: usize,
    /// Shards per job; 0 = automatic.
    pub partitions: usize,
    /// Pin threads to cores.
    pub pin: bool,
    /// Ingest ring size in bytes (one ring per parse thread).
    pub ring_bytes: usize,
    /// Threads parsing a replayed file in 1 MiB segments, read back in file
    /// order; 0 is read as 1. Streams and paced replays use one.
    pub parse_threads: usize,
}

/// When journal appends are made durable.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync per group of micro-batches with alerts (group commit).
    Batch,
    /// fsync at most every `fsync_interval_ms`.
    Interval,
    /// Never fsync while running (only at the end).
    Never,
}

/// `[journal]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JournalSection {
    /// Journal directory.
    pub dir: PathBuf,
    /// Segment roll size.
    pub segment_bytes: u64,
    /// fsync policy.
    pub durability: Durability,
    /// Interval for [`Durability::Interval`].
    pub fsync_interval_ms: u64,
    /// `[journal.retention]`
    pub retention: RetentionSection,
}

/// `[journal.retention]`: which segments `run` removes once nothing needs
/// them (every sink delivered them, the newest checkpoint is past them).
/// Each key keeps at least so much; none can remove what is needed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    /// Bytes of the newest segments always kept.
    pub keep_bytes: u64,
    /// Segments always kept besides the newest.
    pub keep_segments: u64,
    /// A segment written less than this long ago is kept; 0 = no age rule.
    pub keep_age_ms: u64,
    /// Move removed segments here instead of deleting them; "" = delete.
    pub archive_dir: String,
}

/// `[replay]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplaySection {
    /// Drain open books at the end.
    pub drain: bool,
    /// Events per second; 0 = unpaced.
    pub rate: u64,
    /// Dead-letter file, or "".
    pub dead_letter: String,
    /// Stats file, or "".
    pub stats: String,
    /// Replay into a journal that holds alerts, adding only new ones.
    pub append: bool,
}

impl Config {
    /// The embedded default, layered with `file` and the `ALDEBARAN_*`
    /// variables among `env`. An error names the key and where it was set
    /// (the file's line and column, or the variable).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let mut table: Table = DEFAULT_TOML
            .parse()
            .map_err(|e| PipelineError::Internal(format!("embedded default config: {e}")))?;
        let mut origins = Origins::default();
        let mut ha_present = false;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                PipelineError::Config(format!("cannot read {}: {e}", path.display()))
            })?;
            let over = origin::parse_file(path, &text, &mut origins)?;
            ha_present |= over.contains_key("ha");
            layer::merge(&mut table, over, "", &origins)?;
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            ha_present |= rest.to_ascii_lowercase().starts_with("ha__");
            let path: Vec<String> = rest
                .to_ascii_lowercase()
                .split("__")
                .map(str::to_owned)
                .collect();
            layer::set_env(&mut table, &path, &value, &name, &mut origins)?;
        }
        // The jobs' sections are theirs to parse (when the jobs are built).
        let mut jobs = Table::new();
        for job in jobs::JOBS {
            if let Some(section) = table.remove(job.name()) {
                jobs.insert(job.name().to_owned(), section);
            }
        }
        let mut config: Config = Value::Table(table)
            .try_into()
            .map_err(|e| origins.deserialize_error(&e))?;
        config.jobs = jobs;
        config.ha_present = ha_present;
        config.origins = origins;
        Ok(config)
    }

    /// Sets `key` of job `job`'s section (a command-line flag over the
    /// config); the job checks it when it is built.
    pub fn set_job_key(&mut self, job: &str, key: &str, value: impl Into<Value>) {
        let section = self
            .jobs
            .entry(job.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(t) = section {
            t.insert(key.to_owned(), value.into());
        }
        self.origins
            .set(format!("{job}.{key}"), "a command-line flag".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An integer in job `job`'s section, at the key path `path`.
    fn int(c: &Config, job: &str, path: &[&str]) -> Option<i64> {
        let mut v = c.jobs.get(job)?;
        for k in path {
            v = v.get(k)?;
        }
        v.as_integer()
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn default_parses_with_documented_values() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.job, "overfill");
        assert_eq!(c.engine.batch_ms, 1);
        assert_eq!(int(&c, "overfill", &["book_ttl_ms"]), Some(60_000));
        assert_eq!(int(&c, "overfill", &["tombstone_ttl_ms"]), Some(600_000));
        assert_eq!(c.journal.durability, Durability::Batch);
        assert!(c.replay.drain);
    }

    #[test]
    fn file_then_env_override() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[engine]\nthreads = 3\nbatch_ms = 5\n").unwrap();
        let c = Config::load(
            Some(&f),
            env(&[
                ("ALDEBARAN_ENGINE__THREADS", "2"),
                ("ALDEBARAN_JOURNAL__DURABILITY", "never"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.engine.threads, 2);
        assert_eq!(c.engine.batch_ms, 5);
        assert_eq!(c.journal.durability, Durability::Never);
    }

    #[test]
    fn example_configs_load() {
        for name in ["amqp.toml", "file.toml", "sinks.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../configs")
                .join(name);
            let c = Config::load(Some(&path), env(&[])).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c.job, "overfill", "{name}");
            let fields = crate::alert_fields(&c.job).expect("the example jobs are registered");
            for (sink, value) in &c.sinks {
                let table = value.as_table().expect("a table");
                match alerts::delivery::SinkConfig::from_toml(sink, table, &fields) {
                    Ok(_) => {}
                    // The Twilio example reads its token from the environment,
                    // and a missing secret stops the start.
                    Err(e) if sink == "sms" => {
                        assert!(e.to_string().contains("TWILIO_AUTH_TOKEN"), "{e}")
                    }
                    Err(e) => panic!("{name}: sinks.{sink}: {e}"),
                }
            }
        }
    }

    #[test]
    fn client_limits_take_any_client() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "job = \"overfill,exposure\"\n[exposure.client_limits]\n\"c-1\" = 5\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&f),
            env(&[("ALDEBARAN_EXPOSURE__CLIENT_LIMITS__C2", "7")]),
        )
        .unwrap();
        assert_eq!(int(&c, "exposure", &["client_limits", "c-1"]), Some(5));
        assert_eq!(int(&c, "exposure", &["client_limits", "c2"]), Some(7));
        assert_eq!(c.job, "overfill,exposure");
    }

    #[test]
    fn retention_defaults_keep_a_gibibyte_and_take_overrides() {
        let c = Config::load(None, env(&[])).unwrap();
        let r = &c.journal.retention;
        assert_eq!(
            (
                r.keep_bytes,
                r.keep_segments,
                r.keep_age_ms,
                r.archive_dir.as_str()
            ),
            (1 << 30, 0, 0, "")
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "[journal.retention]\nkeep_bytes = 4096\narchive_dir = \"/a\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&f),
            env(&[("ALDEBARAN_JOURNAL__RETENTION__KEEP_AGE_MS", "604800000")]),
        )
        .unwrap();
        let r = &c.journal.retention;
        assert_eq!(
            (r.keep_bytes, r.keep_age_ms, r.archive_dir.as_str()),
            (4096, 604_800_000, "/a")
        );
        std::fs::write(&f, "[journal.retention]\nkeep_byte = 1\n").unwrap();
        let e = Config::load(Some(&f), env(&[])).unwrap_err().to_string();
        assert!(e.contains("journal.retention.keep_byte"), "{e}");
        let e = Config::load(None, env(&[("ALDEBARAN_JOURNAL__RETENTION__KEEP", "1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("journal.retention.keep"), "{e}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[engine]\nbatch_evnts = 3\n").unwrap();
        let e = Config::load(Some(&f), env(&[])).unwrap_err().to_string();
        assert!(e.contains("engine.batch_evnts"), "{e}");
        let e = Config::load(None, env(&[("ALDEBARAN_ENGINE__NOPE", "1")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("engine.nope") && e.contains("ALDEBARAN_ENGINE__NOPE"),
            "{e}"
        );
        let e = Config::load(None, env(&[("ALDEBARAN_ENGINE__THREADS", "lots")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "config: environment variable ALDEBARAN_ENGINE__THREADS: \
             `engine.threads` must be an integer, found a string (\"lots\")"
        );
    }

    /// Every error about a key of a file says where it is: the file, the
    /// line and column, the key with its section; once, with no stutter.
    #[test]
    fn file_errors_name_the_file_line_column_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        let name = f.display().to_string();
        for (text, want) in [
            (
                "[overfill]\nbook_ttl_ms = \"abc\"\n",
                format!(
                    "config: {name}:2:1: `overfill.book_ttl_ms` must be an integer, \
                     found a string (\"abc\")"
                ),
            ),
            (
                "[engine]\n\nbatch_evnts = 3\n",
                format!("config: {name}:3:1: unknown key `engine.batch_evnts`"),
            ),
            (
                "[journal]\n  durability = \"sometimes\"\n",
                format!(
                    "config: {name}:2:3: `journal.durability`: unknown variant `sometimes`, \
                     expected one of `batch`, `interval`, `never`"
                ),
            ),
            (
                "[source.amqp]\nprefetch = 70000\n",
                format!("config: {name}:2:1: `source.amqp.prefetch`: "),
            ),
        ] {
            std::fs::write(&f, text).unwrap();
            let e = Config::load(Some(&f), env(&[])).unwrap_err().to_string();
            assert!(e.starts_with(&want), "{text:?}:\n{e}\nwanted {want}");
            assert!(!e.contains('\n'), "{e}");
        }
        std::fs::write(&f, "[engine]\nthreads = 2\nbatch_ms = \n").unwrap();
        let e = Config::load(Some(&f), env(&[])).unwrap_err().to_string();
        assert!(e.starts_with(&format!("config: {name}:3:12: ")), "{e}");
        // The environment beats the file, and is named instead.
        std::fs::write(&f, "[engine]\nthreads = 2\n").unwrap();
        let e = Config::load(
            Some(&f),
            env(&[("ALDEBARAN_JOURNAL__DURABILITY", "sometimes")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "config: environment variable ALDEBARAN_JOURNAL__DURABILITY: `journal.durability`: "
            ),
            "{e}"
        );
    }

    /// A job's section is checked when the job is built: its error, too,
    /// names where the key was set.
    #[test]
    fn a_jobs_error_names_where_its_key_was_set() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "job = \"large_order\"\n[large_order]\nttl_ms = 0\n").unwrap();
        let c = Config::load(Some(&f), env(&[])).unwrap();
        let Err(e) = crate::options::ReplaySetup::from_config(&c)
            .stages
            .engine
            .build()
        else {
            panic!("ttl_ms 0 was accepted");
        };
        let e = e.to_string();
        assert_eq!(
            e,
            format!(
                "config: {}:3:1: `large_order.ttl_ms`: must be at least 1",
                f.display()
            )
        );
    }

    /// An environment value for a key that holds a string is that string,
    /// even when it reads as a number.
    #[test]
    fn a_string_key_takes_a_numeric_environment_value() {
        let c = Config::load(None, env(&[("ALDEBARAN_JOURNAL__DIR", "2024")])).unwrap();
        assert_eq!(c.journal.dir, PathBuf::from("2024"));
    }
}
