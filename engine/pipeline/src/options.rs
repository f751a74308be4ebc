//! Each stage's settings, built once from the [`Config`] at the top of a run
//! ([`Stages::from_config`], [`ServiceSetup::from_config`]): past this file no
//! stage sees the whole configuration, only its own part.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alerts::delivery::{AlertField, AlertFields};
use engine_core::{Engine, EngineOptions};
use ingest::{CutPolicy, ReplayOptions};

use crate::{
    PipelineError, Result,
    config::{Config, Durability, Origins, SourceKind},
};

/// The engine stage: worker threads, partitions, pinning and the jobs.
#[derive(Debug, Clone)]
pub(crate) struct EngineSetup {
    /// Worker threads, resolved (at least 1).
    pub(crate) threads: usize,
    /// Shards per job; 0 picks from `threads`.
    pub(crate) partitions: usize,
    /// Pin the engine thread to core 1 and worker `i` to core `1 + i`.
    pub(crate) pin: bool,
    /// The `--job` spec.
    pub(crate) jobs: String,
    /// The jobs' config sections, by job name.
    pub(crate) sections: toml::Table,
    /// Where their keys were set, for the jobs' errors.
    pub(crate) origins: Origins,
}

impl EngineSetup {
    /// The engine with the configured jobs.
    pub(crate) fn build(&self) -> Result<Engine> {
        let on_worker_start = self.pin.then(|| {
            Arc::new(|i: usize| {
                ingest::pin_current(Some(1 + i));
            }) as engine_core::WorkerStart
        });
        let mut engine = Engine::new(EngineOptions {
            threads: self.threads,
            partitions: self.partitions,
            on_worker_start,
        })?;
        jobs::add_jobs(&mut engine, &self.jobs, &self.sections)
            .map_err(|e| self.origins.job_error(e))?;
        Ok(engine)
    }

    /// The fields the records of the configured jobs have, which sink
    /// templates may name (each job declares its own in the registry).
    pub(crate) fn alert_fields(&self) -> Result<AlertFields> {
        alert_fields(&self.jobs)
    }
}

/// The fields of the records of the jobs in `spec` (`"overfill,exposure"`),
/// which sink templates may name; an unknown job is an error.
pub fn alert_fields(spec: &str) -> Result<AlertFields> {
    let mut fields = AlertFields::new();
    for name in spec.split(',').map(str::trim) {
        let job = jobs::find(name).ok_or_else(|| jobs::JobsError::UnknownJob {
            name: name.to_owned(),
            known: jobs::known_names(),
        })?;
        let declared: Vec<AlertField> = job
            .alert_fields()
            .iter()
            .map(|f| AlertField::new(f.name, f.ty, f.doc))
            .collect();
        fields = fields.with_job(job.name(), &declared);
    }
    Ok(fields)
}

/// The journal stage.
#[derive(Debug, Clone)]
pub(crate) struct JournalSetup {
    pub(crate) dir: PathBuf,
    pub(crate) segment_bytes: u64,
    pub(crate) durability: Durability,
    pub(crate) fsync_interval: Duration,
    /// What `run` removes of it (`replay` removes nothing).
    pub(crate) retention: RetentionSetup,
}

/// `[journal.retention]`: how much to keep beyond what is needed, and
/// where removed segments go.
#[derive(Debug, Clone)]
pub(crate) struct RetentionSetup {
    pub(crate) policy: alerts::RetentionPolicy,
    /// Removed segments are moved here; `None` deletes them.
    pub(crate) archive_dir: Option<PathBuf>,
}

impl RetentionSetup {
    fn from_config(r: &crate::config::RetentionSection) -> Self {
        RetentionSetup {
            policy: alerts::RetentionPolicy {
                keep_bytes: r.keep_bytes,
                keep_segments: r.keep_segments,
                keep_age: (r.keep_age_ms > 0).then(|| Duration::from_millis(r.keep_age_ms)),
            },
            archive_dir: path_opt(&r.archive_dir),
        }
    }
}

/// The outputs beside the journal.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputSetup {
    /// Rejected lines as JSON Lines.
    pub(crate) dead_letter: Option<PathBuf>,
    /// One row per micro-batch, CSV or Parquet.
    pub(crate) stats: Option<PathBuf>,
}

/// What `replay` and `run` share: ingest, engine, journal, outputs.
#[derive(Debug, Clone)]
pub(crate) struct Stages {
    pub(crate) ingest: ReplayOptions,
    pub(crate) engine: EngineSetup,
    pub(crate) journal: JournalSetup,
    pub(crate) outputs: OutputSetup,
    /// Close all state at the end of a finite input.
    pub(crate) drain: bool,
}

fn path_opt(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

fn addr_opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl Stages {
    /// The shared stages of `cfg`.
    pub(crate) fn from_config(cfg: &Config) -> Self {
        let e = &cfg.engine;
        let threads = match e.threads {
            // The ingest thread keeps one core busy; the workers get the rest.
            0 => {
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
            }
            n => n,
        };
        Stages {
            ingest: ReplayOptions {
                cut: CutPolicy {
                    batch_events: e.batch_events,
                    batch_time: Duration::from_millis(e.batch_ms),
                },
                ring_bytes: e.ring_bytes,
                pin_core: e.pin.then_some(0),
                parse_threads: e.parse_threads.max(1),
                rate: (cfg.replay.rate > 0).then_some(cfg.replay.rate),
                start_offset: 0,
            },
            engine: EngineSetup {
                threads,
                partitions: e.partitions,
                pin: e.pin,
                jobs: cfg.job.clone(),
                sections: cfg.jobs.clone(),
                origins: cfg.origins.clone(),
            },
            journal: JournalSetup {
                dir: cfg.journal.dir.clone(),
                segment_bytes: cfg.journal.segment_bytes,
                durability: cfg.journal.durability,
                fsync_interval: Duration::from_millis(cfg.journal.fsync_interval_ms),
                retention: RetentionSetup::from_config(&cfg.journal.retention),
            },
            outputs: OutputSetup {
                dead_letter: path_opt(&cfg.replay.dead_letter),
                stats: path_opt(&cfg.replay.stats),
            },
            drain: cfg.replay.drain,
        }
    }
}

/// `replay`: the shared stages, plus where its metrics go (if anywhere).
#[derive(Debug, Clone)]
pub(crate) struct ReplaySetup {
    pub(crate) stages: Stages,
    pub(crate) metrics_listen: Option<String>,
    /// Add to a journal that holds alerts (only what it does not hold yet).
    pub(crate) append: bool,
}

impl ReplaySetup {
    pub(crate) fn from_config(cfg: &Config) -> Self {
        ReplaySetup {
            stages: Stages::from_config(cfg),
            metrics_listen: addr_opt(&cfg.metrics.replay_listen),
            append: cfg.replay.append,
        }
    }
}

/// The AMQP source of `run`.
#[derive(Debug, Clone)]
pub(crate) struct AmqpSetup {
    /// The broker URLs, comma-separated (`urls`, or else `url`).
    pub(crate) url: String,
    /// `[source.amqp.tls]`, read and checked.
    pub(crate) tls: ingest::amqp::Tls,
    /// The queue consumed: `queue`, or the shard's.
    pub(crate) queue: String,
    pub(crate) queue_type: broker::QueueType,
    /// `Some(k)`: shard `k`'s queue (checked to exist, never declared).
    pub(crate) shard: Option<u32>,
    pub(crate) prefetch: u16,
    pub(crate) consumer_tag: String,
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
}

impl AmqpSetup {
    /// What the source declares (or, for a shard, checks) on each connect.
    pub(crate) fn topology(&self) -> ingest::amqp::Topology {
        match self.shard {
            Some(k) => ingest::amqp::Topology::for_shard(k),
            None => ingest::amqp::Topology::with_trade_queue(&self.queue),
        }
        .with_queue_type(self.queue_type)
    }
}

/// The source of `run`.
#[derive(Debug, Clone)]
pub(crate) enum SourceSetup {
    Amqp(AmqpSetup),
    File { path: String, follow: bool },
}

impl SourceSetup {
    /// A file read to its end (not followed): `run` then exits once delivered.
    pub(crate) fn is_finite(&self) -> bool {
        matches!(self, SourceSetup::File { follow: false, .. })
    }

    /// The shard this node consumes, if the input is sharded.
    pub(crate) fn shard(&self) -> Option<u32> {
        match self {
            SourceSetup::Amqp(a) => a.shard,
            SourceSetup::File { .. } => None,
        }
    }

    /// Positions are byte offsets of a file the source can seek in.
    pub(crate) fn has_file_positions(&self) -> bool {
        matches!(self, SourceSetup::File { .. })
    }

    /// Messages after which a checkpoint is due (acknowledgements wait for
    /// checkpoints, and the broker stops delivering at the prefetch limit).
    pub(crate) fn ack_every(&self) -> u64 {
        match self {
            SourceSetup::Amqp(a) => u64::from(a.prefetch / 2).max(1),
            SourceSetup::File { .. } => u64::MAX,
        }
    }
}

/// The checkpoints of `run`.
#[derive(Debug, Clone)]
pub(crate) struct StateSetup {
    pub(crate) dir: PathBuf,
    /// The input log is made durable and the source acknowledged at least
    /// this often while input flows.
    pub(crate) checkpoint_interval: Duration,
    /// A full snapshot waits for at least this much input log.
    pub(crate) snapshot_min_bytes: u64,
}

/// The shippers of `run`.
#[derive(Debug, Clone)]
pub(crate) struct DeliverySetup {
    /// Every `[sinks.<name>]`, checked.
    pub(crate) sinks: Vec<alerts::delivery::SinkConfig>,
    pub(crate) shutdown_grace: Duration,
    pub(crate) wait_at_end: bool,
}

/// `run`: the shared stages plus source, state, delivery and metrics.
#[derive(Debug, Clone)]
pub(crate) struct ServiceSetup {
    pub(crate) stages: Stages,
    pub(crate) source: SourceSetup,
    pub(crate) state: StateSetup,
    pub(crate) delivery: DeliverySetup,
    pub(crate) metrics_listen: Option<String>,
}

impl ServiceSetup {
    /// Checks and resolves everything `run` needs, before any output is
    /// opened, so a mistake stops the start cleanly.
    pub(crate) fn from_config(cfg: &Config) -> Result<Self> {
        let stages = Stages::from_config(cfg);
        let fields = stages.engine.alert_fields()?;
        let sinks = alerts::delivery::SinkConfig::all_from_toml(&cfg.sinks, &fields)?;
        let source = match cfg.source.kind {
            SourceKind::Amqp => {
                let a = &cfg.source.amqp;
                if a.prefetch == 0 {
                    return Err(PipelineError::Config(
                        "source.amqp.prefetch must be at least 1".into(),
                    ));
                }
                // Read now, so that a missing or bad file stops the start
                // with one line naming it, before any output is opened.
                let tls = a
                    .tls
                    .load()
                    .map_err(|e| PipelineError::Config(format!("source.amqp.{e}")))?;
                let (url, key) = if a.urls.is_empty() {
                    (a.url.clone(), "source.amqp.url")
                } else {
                    (a.urls.join(","), "source.amqp.urls")
                };
                ingest::amqp::check_url(&url, &tls)
                    .map_err(|e| PipelineError::Config(format!("{key}: {e}")))?;
                let shard = match a.shard {
                    -1 => None,
                    k => Some(u32::try_from(k).map_err(|_| {
                        PipelineError::Config(format!(
                            "source.amqp.shard must be a shard number (0 or more) or -1, not {k}"
                        ))
                    })?),
                };
                SourceSetup::Amqp(AmqpSetup {
                    url,
                    tls,
                    queue: shard.map_or_else(|| a.queue.clone(), broker::names::shard_queue),
                    queue_type: a.queue_type,
                    shard,
                    prefetch: a.prefetch,
                    consumer_tag: a.consumer_tag.clone(),
                    reconnect_min: Duration::from_millis(a.reconnect_min_ms.max(1)),
                    reconnect_max: Duration::from_millis(
                        a.reconnect_max_ms.max(a.reconnect_min_ms).max(1),
                    ),
                })
            }
            SourceKind::File if cfg.source.amqp.shard != -1 => {
                return Err(PipelineError::Config(
                    "source.amqp.shard (or --shard) is set, but source.kind is \"file\": a shard \
                     is a queue of the broker"
                        .into(),
                ));
            }
            SourceKind::File => SourceSetup::File {
                path: cfg.source.file.path.clone(),
                follow: cfg.source.file.follow,
            },
        };
        Ok(ServiceSetup {
            stages,
            source,
            state: StateSetup {
                dir: cfg.state.dir.clone(),
                checkpoint_interval: Duration::from_millis(cfg.state.checkpoint_interval_ms.max(1)),
                snapshot_min_bytes: cfg.state.snapshot_min_bytes,
            },
            delivery: DeliverySetup {
                sinks,
                shutdown_grace: Duration::from_millis(cfg.delivery.shutdown_grace_ms),
                wait_at_end: cfg.delivery.wait_at_end,
            },
            metrics_listen: addr_opt(&cfg.metrics.listen),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn service(env: &[(&str, &str)]) -> Result<ServiceSetup> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        ServiceSetup::from_config(&Config::load(None, env).expect("the config loads"))
    }

    fn test_ca() -> String {
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../broker/src/tls/testdata/ca.pem");
        ca.to_str().expect("a UTF-8 path").to_owned()
    }

    #[test]
    fn source_tls_files_are_read_at_start() {
        let setup = service(&[
            ("ALDEBARAN_SOURCE__AMQP__URL", "amqps://u:p@broker/%2f"),
            ("ALDEBARAN_SOURCE__AMQP__TLS__CA_FILE", &test_ca()),
        ])
        .expect("a good CA file");
        let SourceSetup::Amqp(a) = setup.source else {
            panic!("the default source is amqp");
        };
        assert_eq!(a.tls.files().ca_file, Path::new(&test_ca()));
    }

    #[test]
    fn a_bad_source_tls_setting_stops_the_start_naming_it() {
        let e = service(&[
            ("ALDEBARAN_SOURCE__AMQP__URL", "amqps://u:p@broker/%2f"),
            (
                "ALDEBARAN_SOURCE__AMQP__TLS__CA_FILE",
                "/nonexistent/ca.pem",
            ),
        ])
        .expect_err("no such file")
        .to_string();
        assert!(
            e.starts_with("config: source.amqp.tls.ca_file /nonexistent/ca.pem: cannot read it"),
            "{e}"
        );
        // The default URL is amqp://: the CA file would be ignored.
        let e = service(&[("ALDEBARAN_SOURCE__AMQP__TLS__CA_FILE", &test_ca())])
            .expect_err("TLS files with amqp://")
            .to_string();
        assert!(e.starts_with("config: source.amqp.url: "), "{e}");
        assert!(e.contains("use amqps://") && !e.contains(":guest@"), "{e}");
    }
}
