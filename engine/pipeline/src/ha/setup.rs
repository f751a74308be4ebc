//! `[ha]` checked and resolved: the pair's settings, and the timing rules
//! that make its fencing safe (each one said in the error when broken).

use std::time::Duration;

use pair::{gate::Mode, role::Wanted, takeover::Windows};

use crate::{PipelineError, Result, config::Config};

/// Margin kept between the timing windows (scheduling, a slow fsync).
pub(crate) const MARGIN: Duration = Duration::from_millis(250);
/// What a fenced node's last send may still take after the check that
/// allowed it, and clock-rate error, within the broker's heartbeat window.
pub(crate) const FENCE_SAFETY: Duration = Duration::from_millis(400);

/// The pair's settings.
#[derive(Debug, Clone)]
pub(crate) struct HaSetup {
    pub(crate) wanted: Wanted,
    pub(crate) node: String,
    pub(crate) listen: String,
    pub(crate) peer: String,
    pub(crate) mode: Mode,
    pub(crate) heartbeat: Duration,
    pub(crate) link_timeout: Duration,
    pub(crate) alone_after: Duration,
    pub(crate) broker_heartbeat_s: u16,
    pub(crate) fence_after: Duration,
    pub(crate) probe: Duration,
    pub(crate) windows: Windows,
}

impl HaSetup {
    /// `None` without `[ha]`: a single node.
    pub(crate) fn from_config(cfg: &Config) -> Result<Option<Self>> {
        if !cfg.ha_present {
            return Ok(None);
        }
        let h = &cfg.ha;
        let bad = |m: String| Err(PipelineError::Config(format!("ha: {m}")));
        let wanted = match h.role.as_str() {
            "active" => Wanted::Active,
            "standby" => Wanted::Standby,
            "auto" => Wanted::Auto,
            other => {
                return bad(format!(
                    "role = {other:?}: expected active, standby or auto"
                ));
            }
        };
        let mode = match h.replication.as_str() {
            "sync" => Mode::Sync,
            "async" => Mode::Async,
            other => return bad(format!("replication = {other:?}: expected sync or async")),
        };
        for (key, v) in [("node", &h.node), ("listen", &h.listen), ("peer", &h.peer)] {
            if v.trim().is_empty() {
                return bad(format!("`{key}` is required in a pair"));
            }
        }
        if h.listen == h.peer {
            return bad(format!(
                "listen and peer are both {}: peer is the other node's address",
                h.listen
            ));
        }
        if cfg.source.kind != crate::config::SourceKind::Amqp {
            return bad(
                "a pair needs source.kind = \"amqp\": the broker holds the lease (an exclusive \
                 consumer on the input queue)"
                    .into(),
            );
        }
        let ms = Duration::from_millis;
        let heartbeat = ms(h.heartbeat_ms.max(1));
        let link_timeout = ms(h.link_timeout_ms);
        if link_timeout < heartbeat * 2 {
            return bad(format!(
                "link_timeout_ms = {} must be at least twice heartbeat_ms = {}",
                h.link_timeout_ms, h.heartbeat_ms
            ));
        }
        let alone_after = ms(h.alone_after_ms);
        let Some(takeover) = alone_after
            .checked_sub(link_timeout + MARGIN)
            .filter(|w| !w.is_zero())
        else {
            return bad(format!(
                "alone_after_ms = {} must exceed link_timeout_ms + {} ms: a standby takes over \
                 only within alone_after_ms - link_timeout_ms - {} ms of losing the link",
                h.alone_after_ms,
                MARGIN.as_millis(),
                MARGIN.as_millis()
            ));
        };
        if h.broker_heartbeat_s == 0 {
            return bad("broker_heartbeat_s must be at least 1: the broker then frees the lease of a silent node".into());
        }
        let probe = ms(h.probe_ms.max(1));
        let fence_after = ms(h.fence_after_ms);
        // RabbitMQ frees a silent node's connection (and its exclusive
        // consumer) no sooner than two heartbeats after the last byte it
        // received; ingest says how long a node may stay silent before that.
        let Some(latest) = ingest::amqp::fence_after(h.broker_heartbeat_s, probe, FENCE_SAFETY)
        else {
            return bad(format!(
                "broker_heartbeat_s = {} with probe_ms = {} leaves no time to fence: the broker \
                 frees a silent node's lease after 2 heartbeats",
                h.broker_heartbeat_s, h.probe_ms
            ));
        };
        if fence_after > latest {
            return bad(format!(
                "fence_after_ms = {} must stay at or below 2 * broker_heartbeat_s * 1000 - \
                 probe_ms - {} = {} ms: a node must stop shipping before the broker can give the \
                 lease away",
                h.fence_after_ms,
                FENCE_SAFETY.as_millis(),
                latest.as_millis()
            ));
        }
        if fence_after < probe * 3 {
            return bad(format!(
                "fence_after_ms = {} must be at least three probe intervals (probe_ms = {}): a \
                 healthy node would fence itself between probes",
                h.fence_after_ms, h.probe_ms
            ));
        }
        let freed = Duration::from_secs(3 * u64::from(h.broker_heartbeat_s));
        if link_timeout + takeover <= freed {
            tracing::warn!(
                alone_after_ms = h.alone_after_ms,
                "ha: after a silent loss of the active (host gone, no FIN) the broker frees its \
                 lease up to 3 heartbeats later, past the window in which this standby may take \
                 over: such a loss then needs the active back (raise alone_after_ms to take over)"
            );
        }
        Ok(Some(HaSetup {
            wanted,
            node: h.node.clone(),
            listen: h.listen.clone(),
            peer: h.peer.clone(),
            mode,
            heartbeat,
            link_timeout,
            alone_after,
            broker_heartbeat_s: h.broker_heartbeat_s,
            fence_after,
            probe,
            windows: Windows {
                takeover,
                start_wait: ms(h.start_wait_ms),
                // The standby's chance first: it notices the link's end at
                // once and tries every probe.
                handover: link_timeout,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str) -> Result<Option<HaSetup>> {
        let dir = tempfile::tempdir().map_err(|e| PipelineError::Internal(e.to_string()))?;
        let f = dir.path().join("c.toml");
        std::fs::write(&f, extra).map_err(|e| PipelineError::Internal(e.to_string()))?;
        let c = Config::load(Some(&f), Vec::new())?;
        HaSetup::from_config(&c)
    }

    const PAIR: &str =
        "[ha]\nnode = \"a\"\nlisten = \"127.0.0.1:7001\"\npeer = \"127.0.0.1:7002\"\n";

    #[test]
    fn without_ha_a_single_node_with_it_the_defaults_are_safe() {
        assert!(load("").expect("loads").is_none());
        let h = load(PAIR).expect("loads").expect("a pair");
        assert_eq!(h.wanted, Wanted::Auto);
        assert_eq!(h.mode, Mode::Sync);
        assert!(h.windows.takeover + h.link_timeout < h.alone_after);
        assert!(
            h.fence_after + h.probe + FENCE_SAFETY
                <= Duration::from_secs(2 * u64::from(h.broker_heartbeat_s))
        );
        // A silent loss of the active frees the lease within 3 heartbeats;
        // the standby is still eligible then.
        let freed = Duration::from_secs(3 * u64::from(h.broker_heartbeat_s));
        assert!(h.link_timeout + h.windows.takeover > freed);
    }

    #[test]
    fn mistakes_are_named() {
        let e = |extra: &str| {
            load(&format!("{PAIR}{extra}"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(e("role = \"leader\"\n").contains("role = \"leader\""));
        assert!(e("replication = \"semi\"\n").contains("sync or async"));
        assert!(e("fence_after_ms = 5000\n").contains("give the lease away"));
        assert!(e("fence_after_ms = 200\n").contains("three probe intervals"));
        assert!(e("alone_after_ms = 600\n").contains("alone_after_ms = 600"));
        let e = load("[ha]\nnode = \"a\"\n").err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("`listen` is required"));
        let e = load(&format!("{PAIR}[source]\nkind = \"file\"\n"))
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("amqp"));
    }
}
