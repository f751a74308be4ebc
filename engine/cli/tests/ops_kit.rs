//! The operations kit in `configs/`: every metric the Grafana dashboard and
//! the Prometheus alert rules use is one `/metrics` serves (a pair's node,
//! with a sink, so every family is there), the rules pass `promtool check
//! rules` and the systemd unit passes `systemd-analyze verify` where those
//! tools are installed.

mod amqp_support;

use std::{collections::BTreeSet, fs, path::Path, process::Command};

use amqp_support::{BIN, ServiceDirs, TestQueue, gen_file, publish};

fn configs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

/// The `aldebaran_*` names in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("aldebaran_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The PromQL expressions of the dashboard's panels.
fn dashboard_exprs() -> Vec<String> {
    let text = fs::read_to_string(configs().join("grafana/aldebaran.json")).expect("dashboard");
    let v: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    for p in v["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            exprs.push(t["expr"].as_str().expect("an expr").to_owned());
        }
    }
    assert!(exprs.len() >= 20, "the dashboard has its panels");
    exprs
}

#[test]
fn the_dashboard_and_the_alert_rules_use_only_served_metrics() {
    let queue = TestQueue::new("ops-kit");
    let dirs = ServiceDirs::new(&queue, 100, 1, false);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let sink = dirs.tmp.path().join("alerts.jsonl");
    let mut text = fs::read_to_string(&dirs.config).expect("config");
    text.push_str(&format!(
        "[ha]\nrole = \"active\"\nnode = \"a\"\nlisten = \"127.0.0.1:{port}\"\npeer = \"127.0.0.1:1\"\n\
         [sinks.archive]\nkind = \"file\"\npath = {}\n",
        serde_json::Value::from(sink.to_str().expect("utf-8"))
    ));
    fs::write(&dirs.config, text).expect("config");
    let mut svc = dirs.start(1);
    svc.wait_log("ha: this node is the active", 1);
    // Input with overfills and malformed lines: the labelled families
    // (alerts by kind, rejects by reason) appear with their first value.
    publish(&gen_file(dirs.tmp.path(), 300, 7), &queue, 50);
    let mut body = String::new();
    svc.wait_until(
        "/metrics serves the pair's and the sink's families",
        std::time::Duration::from_secs(60),
        |s| {
            body = s.get("/metrics").map(|(_, b)| b).unwrap_or_default();
            [
                "aldebaran_ha_role",
                "aldebaran_sink_up",
                "aldebaran_alerts_total",
                "aldebaran_events_rejected_total",
            ]
            .iter()
            .all(|f| body.contains(f))
        },
    );
    let served: BTreeSet<String> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(names_in)
        .collect();
    let dashboard: BTreeSet<String> = dashboard_exprs().iter().flat_map(|e| names_in(e)).collect();
    let rules = names_in(
        &fs::read_to_string(configs().join("prometheus/alerts.yml")).expect("alert rules"),
    );
    for (what, used) in [("dashboard", &dashboard), ("alert rules", &rules)] {
        let missing: Vec<&String> = used.difference(&served).collect();
        assert!(
            missing.is_empty(),
            "the {what} use metrics /metrics does not serve: {missing:?}\nserved: {served:?}"
        );
    }
    for family in [
        "aldebaran_events_in_total",
        "aldebaran_e2e_latency_seconds_bucket",
        "aldebaran_sink_lag",
        "aldebaran_source_connected",
        "aldebaran_ha_replication_lag_events",
        "aldebaran_journal_fsync_seconds_bucket",
    ] {
        assert!(dashboard.contains(family), "the dashboard shows {family}");
    }
    for family in [
        "aldebaran_sink_up",
        "aldebaran_sink_lag",
        "aldebaran_source_connected",
        "aldebaran_events_in_total",
        "aldebaran_journal_fsync_seconds_bucket",
    ] {
        assert!(rules.contains(family), "an alert rule watches {family}");
    }
    svc.terminate();
}

/// `promtool check rules` of the alert rules, and of the dashboard's
/// expressions written as recording rules (so their PromQL parses too),
/// when Prometheus' tools are installed.
#[test]
fn the_alert_rules_and_the_dashboard_queries_pass_promtool() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dash = tmp.path().join("dashboard-rules.yml");
    let mut text = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in dashboard_exprs().iter().enumerate() {
        text.push_str(&format!(
            "      - record: aldebaran_dashboard_{i}\n        expr: {}\n",
            serde_json::Value::from(e.replace("$instance", ".*"))
        ));
    }
    fs::write(&dash, text).expect("dashboard rules");
    for rules in [configs().join("prometheus/alerts.yml"), dash] {
        match Command::new("promtool")
            .arg("check")
            .arg("rules")
            .arg(&rules)
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "promtool check rules {}: {}{}",
                rules.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => {
                eprintln!("promtool not installed ({e}): the rules' syntax is not checked here");
                return;
            }
        }
    }
}

/// `systemd-analyze verify` of the unit, its ExecStart pointed at the
/// binary under test, when systemd's tools are installed.
#[test]
fn the_systemd_unit_verifies() {
    let unit = fs::read_to_string(configs().join("aldebaran.service")).expect("unit");
    assert!(unit.contains("KillSignal=SIGTERM") && unit.contains("StateDirectory=aldebaran"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("aldebaran.service");
    fs::write(&path, unit.replace("/usr/local/bin/aldebaran", BIN)).expect("unit copy");
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
    {
        Ok(out) => {
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // Without a running systemd (a container) verify may say so;
            // anything about the unit itself is a failure.
            let about_unit: Vec<&str> = said
                .lines()
                .filter(|l| l.contains("aldebaran.service"))
                .collect();
            assert!(about_unit.is_empty(), "systemd-analyze verify: {said}");
        }
        Err(e) => eprintln!("systemd-analyze not installed ({e}): the unit is not verified here"),
    }
}
