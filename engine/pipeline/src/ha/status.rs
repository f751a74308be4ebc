//! `aldebaran status --config FILE`: asks both nodes of the pair (this
//! config's `listen` and `peer` addresses) for their report over the
//! replication protocol, and renders them — a table for people, JSON for
//! scripts. A node that does not answer is listed as unreachable.

use std::time::Duration;

use pair::{Link, wire::Message};
use serde_json::{Value, json};

use super::setup::HaSetup;
use crate::{PipelineError, Result, config::Config};

/// How long a node gets to answer.
const ASK: Duration = Duration::from_secs(2);

/// What each node said (or that it did not).
#[derive(Debug, Clone)]
pub struct PairStatus {
    /// One object per node, in the order `listen`, `peer`.
    pub nodes: Vec<Value>,
}

/// Asks both nodes of the pair `config` describes.
pub fn pair_status(config: &Config) -> Result<PairStatus> {
    let Some(ha) = HaSetup::from_config(config)? else {
        return Err(PipelineError::Config(
            "status: the configuration has no [ha] section: a single node has no pair to show \
             (its /metrics and /healthz say how it is)"
                .into(),
        ));
    };
    let nodes = [ha.listen.as_str(), ha.peer.as_str()]
        .iter()
        .map(|addr| ask(addr))
        .collect();
    Ok(PairStatus { nodes })
}

fn ask(addr: &str) -> Value {
    let answer = (|| -> Result<Value> {
        let mut link = Link::connect(addr, ASK, ASK)?;
        link.send(&Message::Query)?;
        match link.recv()? {
            Message::Report(text) => serde_json::from_str(&text).map_err(|e| {
                PipelineError::Config(format!("{addr} answered a report that is not JSON: {e}"))
            }),
            other => Err(PipelineError::Config(format!(
                "{addr} answered {other:?} to a status query"
            ))),
        }
    })();
    match answer {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.insert("address".into(), json!(addr));
                o.insert("reachable".into(), json!(true));
            }
            v
        }
        Err(e) => json!({
            "address": addr,
            "reachable": false,
            "error": e.to_string(),
        }),
    }
}

impl PairStatus {
    /// The JSON document (`{"nodes": [...]}`).
    pub fn to_json(&self) -> String {
        json!({ "nodes": self.nodes }).to_string()
    }

    /// The table.
    pub fn to_table(&self) -> String {
        let mut rows = vec![
            [
                "NODE", "ADDRESS", "ROLE", "EPOCH", "LEASE", "PEER", "LAG", "HEARD", "SINKS",
            ]
            .map(String::from),
        ];
        for n in &self.nodes {
            let s = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
            let u = |k: &str| n.get(k).and_then(Value::as_u64);
            if n.get("reachable") != Some(&json!(true)) {
                rows.push([
                    "?".into(),
                    s("address"),
                    "unreachable".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    s("error"),
                ]);
                continue;
            }
            let sinks = n
                .get("sinks")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            format!(
                                "{}={}",
                                c.get("name").and_then(Value::as_str).unwrap_or("?"),
                                c.get("delivered").and_then(Value::as_u64).unwrap_or(0)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "-".into());
            let peer = match n.get("peer_up").and_then(Value::as_bool) {
                Some(true) => "up",
                _ => "down",
            };
            rows.push([
                s("node"),
                s("address"),
                s("role"),
                u("epoch").map_or("-".into(), |e| e.to_string()),
                s("lease_holder"),
                peer.into(),
                u("lag_events").map_or("-".into(), |l| format!("{l} events")),
                u("last_heartbeat_ms_ago").map_or("never".into(), |m| format!("{m} ms ago")),
                sinks,
            ]);
            if let Some(p) = n.get("problem").and_then(Value::as_str) {
                rows.push([
                    String::new(),
                    String::new(),
                    format!("! {p}"),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        let widths: Vec<usize> = (0..9)
            .map(|i| {
                rows.iter()
                    .filter(|r| !r[2].starts_with("! "))
                    .map(|r| r[i].len())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in &rows {
            if r[2].starts_with("! ") {
                out.push_str(&format!("  {}\n", r[2]));
                continue;
            }
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_node_and_says_which_did_not_answer() {
        let s = PairStatus {
            nodes: vec![
                json!({"node": "a", "address": "127.0.0.1:7101", "reachable": true,
                    "role": "active", "epoch": 3, "lease_holder": "a", "peer_up": false,
                    "lag_events": 120, "last_heartbeat_ms_ago": 4000,
                    "problem": null,
                    "sinks": [{"name": "archive", "delivered": 41, "in_flight_to": 41}]}),
                json!({"address": "127.0.0.1:7102", "reachable": false,
                    "error": "replication link: Connection refused"}),
            ],
        };
        let t = s.to_table();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with("NODE"), "{t}");
        for want in [
            "a",
            "active",
            "3",
            "down",
            "120 events",
            "4000 ms ago",
            "archive=41",
        ] {
            assert!(
                lines[1].split_whitespace().any(|w| w == want) || lines[1].contains(want),
                "{want}: {t}"
            );
        }
        assert!(
            lines[2].contains("unreachable") && lines[2].contains("Connection refused"),
            "{t}"
        );
        let v: Value = serde_json::from_str(&s.to_json()).expect("json");
        assert_eq!(v["nodes"][0]["role"], "active");
        assert_eq!(v["nodes"][1]["reachable"], false);
    }

    #[test]
    fn a_problem_is_its_own_line_under_its_node() {
        let s = PairStatus {
            nodes: vec![json!({"node": "b", "address": "x", "reachable": true,
                "role": "standby", "epoch": 2, "peer_up": false,
                "problem": "not eligible to take over: out of sync"})],
        };
        let t = s.to_table();
        assert!(
            t.lines()
                .nth(2)
                .is_some_and(|l| l.trim_start().starts_with("! not eligible")),
            "{t}"
        );
    }
}
