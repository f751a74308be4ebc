//! `aldebaran run` with sinks, as an operator sees it (SPEC §4): a finite
//! file is processed, every sink catches up, the run exits 0; `journal
//! cursors` shows each sink's position and lag; permanent refusals go to the
//! sink's dead-letter file with the reason; a bad sink config is a one-line
//! error naming the sink and key; a checkpoint refuses another source.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

mod sink_endpoints;

const BIN: &str = env!("CARGO_BIN_EXE_aldebaran");

fn q(p: &Path) -> String {
    Value::from(p.to_str().expect("utf-8")).to_string()
}

fn aldebaran(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run aldebaran")
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `run`'s summary, which it prints on stderr after its log (stdout is a
/// `stdout` sink's), once it succeeded.
#[track_caller]
fn ran(o: &Output) -> String {
    ok(o);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn one_line_error(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} not in {:?}", lines[0]);
    }
}

struct Fx {
    tmp: tempfile::TempDir,
}

impl Fx {
    fn new() -> Self {
        Fx {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn trades(&self) -> PathBuf {
        let f = self.p("trades.jsonl");
        ok(&aldebaran(&[
            "gen",
            "--orders",
            "500",
            "--seed",
            "3",
            "-o",
            f.to_str().expect("utf-8"),
        ]));
        f
    }

    /// A config reading `input` once, with `sinks` (TOML) appended.
    fn config(&self, input: &Path, sinks: &str) -> PathBuf {
        let c = self.p("aldebaran.toml");
        let text = format!(
            "[source]\nkind = \"file\"\n[source.file]\npath = {}\nfollow = false\n\
             [journal]\ndir = {}\n[state]\ndir = {}\n[metrics]\nlisten = \"\"\n{sinks}",
            q(input),
            q(&self.p("journal")),
            q(&self.p("state")),
        );
        fs::write(&c, text).expect("config");
        c
    }

    fn run(&self, config: &Path) -> Output {
        aldebaran(&["run", "--config", config.to_str().expect("utf-8")])
    }
}

#[test]
fn a_finite_run_delivers_everything_and_cursors_show_it() {
    let fx = Fx::new();
    let input = fx.trades();
    let archive = fx.p("alerts.jsonl");
    let refused = fx.p("refused.jsonl");
    let cfg = fx.config(
        &input,
        &format!(
            "[sinks.archive]\nkind = \"file\"\npath = {}\n\
             [sinks.strict]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"cat > /dev/null; echo no such pager >&2; exit 3\"]\ndead_letter = {}\n",
            q(&archive),
            q(&refused)
        ),
    );
    let summary = ran(&fx.run(&cfg));
    let journal = fx.p("journal");
    let dump = ok(&aldebaran(&[
        "journal",
        "dump",
        journal.to_str().expect("utf-8"),
    ]));
    let n = dump.lines().count();
    assert!(n > 10, "the file should alert: {summary}");
    assert_eq!(fs::read_to_string(&archive).expect("archive"), dump);
    assert!(
        summary.contains(&format!("sink archive (file, exactly-once): delivered {n}")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "sink strict (command, at-least-once): delivered 0, retried 0, failed {n}"
        )),
        "{summary}"
    );

    // Every refusal is in the dead-letter file with its reason.
    let dead = fs::read_to_string(&refused).expect("dead letters");
    assert_eq!(dead.lines().count(), n);
    for l in dead.lines() {
        let v: Value = serde_json::from_str(l).expect("json");
        assert_eq!(v["sink"], "strict");
        let reason = v["reason"].as_str().expect("reason");
        assert!(
            reason.contains('3') && reason.contains("no such pager"),
            "{reason}"
        );
    }

    let cursors = ok(&aldebaran(&[
        "journal",
        "cursors",
        journal.to_str().expect("utf-8"),
    ]));
    assert!(
        cursors.contains(&format!("journal last seq {n}")),
        "{cursors}"
    );
    for (name, kind, mode) in [
        ("archive", "file", "exactly-once"),
        ("strict", "command", "at-least-once"),
    ] {
        let row = cursors
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {cursors}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols, [name, kind, mode, &n.to_string(), "-", "0"], "{row}");
    }

    // A restart finds the input done and the sinks caught up: nothing again.
    let again = ran(&fx.run(&cfg));
    assert!(again.contains("processed to its end"), "{again}");
    assert!(
        again.contains("sink archive (file, exactly-once): delivered 0"),
        "{again}"
    );
    assert_eq!(fs::read_to_string(&archive).expect("archive"), dump);

    // A checkpoint belongs to its input: not to another path, nor to a new
    // capture written at the same path.
    let other = fx.p("other.jsonl");
    fs::copy(&input, &other).expect("copy");
    one_line_error(
        &fx.run(&fx.config(&other, "")),
        &["checkpoint", "other.jsonl"],
    );
    let mut text = fs::read_to_string(&input).expect("input");
    text.insert_str(
        0,
        "{\"id\":\"new-capture\",\"#shares\":1,\"client\":\"c\",\"stock\":\"S\"}\n",
    );
    fs::write(&input, text).expect("rewrite");
    one_line_error(
        &fx.run(&fx.config(&input, "")),
        &["checkpoint", "another file"],
    );
}

#[test]
fn bad_sink_configs_are_one_line_errors_naming_the_sink() {
    let fx = Fx::new();
    let input = fx.trades();
    for (sinks, needles) in [
        (
            "[sinks.a]\nkind = \"file\"\npaht = \"x\"\n",
            &["\"a\"", "paht"][..],
        ),
        (
            "[sinks.b]\nkind = \"carrier-pigeon\"\n",
            &["\"b\"", "carrier-pigeon"],
        ),
        (
            "[sinks.c]\nkind = \"command\"\nmode = \"exactly-once\"\ncommand = [\"true\"]\n",
            &["\"c\"", "exactly-once", "deduplicate"],
        ),
        (
            "[sinks.d]\nkind = \"http\"\nurl = \"not a url\"\n",
            &["\"d\"", "url"],
        ),
        ("[sinks.\"e f\"]\nkind = \"stdout\"\n", &["e f"]),
    ] {
        let cfg = fx.config(&input, sinks);
        one_line_error(&fx.run(&cfg), needles);
        assert!(
            !fx.p("journal").exists(),
            "a bad sink stops the start before any output"
        );
    }
    let o = aldebaran(&[
        "journal",
        "cursors",
        fx.p("nowhere").to_str().expect("utf-8"),
    ]);
    one_line_error(&o, &["nowhere"]);
}

/// A dead sink holds up nothing: the input is processed, the other sink
/// delivers everything, and the dead one's backlog stays in the journal,
/// shown as lag, for the next start.
#[test]
fn a_dead_sink_only_grows_its_own_lag() {
    let fx = Fx::new();
    let input = fx.trades();
    let archive = fx.p("alerts.jsonl");
    // Nothing listens on port 9 (discard) here: every POST is refused.
    let cfg = fx.config(
        &input,
        &format!(
            "[delivery]\nwait_at_end = false\nshutdown_grace_ms = 300\n\
             [sinks.archive]\nkind = \"file\"\npath = {}\n\
             [sinks.hook]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/alerts\"\nretry_min_ms = 10\nretry_max_ms = 50\n",
            q(&archive)
        ),
    );
    let summary = ran(&fx.run(&cfg));
    let journal = fx.p("journal");
    let dump = ok(&aldebaran(&[
        "journal",
        "dump",
        journal.to_str().expect("utf-8"),
    ]));
    let n = dump.lines().count();
    assert!(n > 10);
    assert_eq!(fs::read_to_string(&archive).expect("archive"), dump);
    let hook = summary
        .lines()
        .find(|l| l.contains("sink hook"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        hook.contains("delivered 0") && hook.contains(&format!("{n} left")),
        "{hook}"
    );
    let retried: u64 = hook
        .split("retried ")
        .nth(1)
        .and_then(|r| r.split(',').next()?.parse().ok())
        .expect("retried N");
    assert!(retried > 0, "{hook}");
    let cursors = ok(&aldebaran(&[
        "journal",
        "cursors",
        journal.to_str().expect("utf-8"),
    ]));
    let row = cursors
        .lines()
        .find(|l| l.starts_with("hook"))
        .expect("hook row");
    assert!(row.trim_end().ends_with(&format!(" {n}")), "lag {n}: {row}");
}

/// SPEC §3: an order that reopens after its tombstone expired is a new
/// episode with a new `alert_id`, so a receiver that deduplicates on the
/// `Idempotency-Key` keeps both of its alerts (overfill and orphan alike).
#[test]
fn an_order_reopened_after_its_tombstone_reaches_a_deduplicating_sink_twice() {
    let fx = Fx::new();
    let t = 1_700_000_000_000u64;
    let ev = |id: &str, order: Option<&str>, shares: u64, ts: u64| {
        let mut v =
            serde_json::json!({"id": id, "#shares": shares, "client": "c", "stock": "S", "ts": ts});
        if let Some(o) = order {
            v["initial_order_id"] = Value::from(o);
        }
        v.to_string()
    };
    let lines = [
        // Episode 1 of o1: overfilled by p1.
        ev("o1", None, 10, t),
        ev("p1", Some("o1"), 11, t + 1),
        // Episode 1 of o2: purchases without a request, expired as an orphan.
        ev("q1", Some("o2"), 5, t + 2),
        // o1's tombstone is forgotten: it reopens (and o2's book expires).
        ev("o1", None, 10, t + 10_000),
        ev("p2", Some("o1"), 11, t + 10_001),
        // o2's tombstone (from its expiry at t + 10_000) is forgotten too.
        ev("q2", Some("o2"), 5, t + 20_000),
    ];
    let input = fx.p("reopen.jsonl");
    fs::write(&input, lines.join("\n") + "\n").expect("input");
    let hook = sink_endpoints::HttpEndpoint::start(0);
    let cfg = fx.config(
        &input,
        &format!(
            "[overfill]\nbook_ttl_ms = 1000\ntombstone_ttl_ms = 2000\n\
             [sinks.hook]\nkind = \"http\"\nurl = \"{}\"\n",
            hook.url
        ),
    );
    ran(&fx.run(&cfg));
    let dump = ok(&aldebaran(&[
        "journal",
        "dump",
        fx.p("journal").to_str().expect("utf-8"),
    ]));
    let kinds: Vec<String> = dump
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json")["kind"].to_string())
        .collect();
    assert_eq!(kinds.len(), 4, "two episodes of two orders: {dump}");
    let mut keys: Vec<String> = hook.hits().into_iter().map(|h| h.idempotency_key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys,
        [
            "orphan:o2:q1",
            "orphan:o2:q2",
            "overfill:o1:p1",
            "overfill:o1:p2",
        ],
        "every episode is its own alert after deduplication"
    );
}

/// The third job end to end: `replay --job overfill,large_order` journals
/// both jobs' alerts, and `run` ships a large_order alert through an HTTP
/// form template built from that job's own fields; naming a field no
/// configured job has is a one-line error naming the field and the jobs.
#[test]
fn large_order_alerts_reach_a_template_of_their_own_fields() {
    let fx = Fx::new();
    let t = 1_700_000_000_000u64;
    let ev = |id: &str, order: Option<&str>, shares: u64, ts: u64| {
        let mut v = serde_json::json!({"id": id, "#shares": shares, "client": "desk-7", "stock": "ACME", "ts": ts});
        if let Some(o) = order {
            v["initial_order_id"] = Value::from(o);
        }
        v.to_string()
    };
    let lines = [
        ev("big", None, 5_000_000, t),
        ev("big", None, 5_000_000, t + 1), // redelivered: no second alert
        ev("p1", Some("big"), 5_000_001, t + 2),
        ev("small", None, 10, t + 3),
    ];
    let input = fx.p("large.jsonl");
    fs::write(&input, lines.join("\n") + "\n").expect("input");

    let journal = fx.p("replayed");
    ok(&aldebaran(&[
        "replay",
        input.to_str().expect("utf-8"),
        "--job",
        "overfill,large_order",
        "--journal",
        journal.to_str().expect("utf-8"),
        "-q",
    ]));
    let dump = ok(&aldebaran(&[
        "journal",
        "dump",
        journal.to_str().expect("utf-8"),
    ]));
    let ids: Vec<String> = dump
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["alert_id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["large_order:big", "overfill:big:p1"], "{dump}");

    let hook = sink_endpoints::HttpEndpoint::start(0);
    let sinks = format!(
        "[large_order]\nmax_shares = 1000000\n\
         [sinks.desk]\nkind = \"http\"\nurl = \"{}\"\nformat = \"form\"\n\
         form = {{ Body = \"{{kind}} {{order_id}} by {{client}}: {{shares}} > {{max_shares}}\" }}\n",
        hook.url
    );
    // A top-level key goes before the tables the fixture writes.
    let with_jobs = |jobs: &str| {
        let c = fx.config(&input, &sinks);
        let text = fs::read_to_string(&c).expect("config");
        fs::write(&c, format!("job = \"{jobs}\"\n{text}")).expect("config");
        c
    };
    ran(&fx.run(&with_jobs("overfill,large_order")));
    let bodies: Vec<String> = hook.hits().into_iter().map(|h| h.body).collect();
    assert!(
        bodies.contains(&"Body=large_order+big+by+desk-7%3A+5000000+%3E+1000000".to_owned()),
        "{bodies:?}"
    );
    // An overfill record has no shares: the field renders as nothing there.
    assert!(
        bodies.contains(&"Body=overfill+big+by+desk-7%3A++%3E+".to_owned()),
        "{bodies:?}"
    );

    // With overfill alone, {shares} is no field of any configured job.
    fs::remove_dir_all(fx.p("journal")).expect("fresh journal");
    fs::remove_dir_all(fx.p("state")).expect("fresh state");
    one_line_error(
        &fx.run(&with_jobs("overfill")),
        &["desk", "{shares}", "overfill"],
    );
}

/// Writes `<journal>/cursors/<sink>.cursor` as a crash during the send of
/// `delivered + 1 ..= in_flight_to` leaves it. The format is the shipper's
/// (`alerts/src/delivery/ship/cursor.rs`): two 32-byte slots 512 bytes
/// apart, each `magic, generation, delivered, in_flight_to, crc32`; the
/// valid slot with the highest generation wins, the other is left empty.
fn crashed_cursor(journal: &Path, sink: &str, delivered: u64, in_flight_to: u64) {
    let mut slot = Vec::with_capacity(32);
    slot.extend_from_slice(&0x4144_4355u32.to_le_bytes());
    slot.extend_from_slice(&2u64.to_le_bytes());
    slot.extend_from_slice(&delivered.to_le_bytes());
    slot.extend_from_slice(&in_flight_to.to_le_bytes());
    let crc = crc32fast::hash(&slot);
    slot.extend_from_slice(&crc.to_le_bytes());
    let mut bytes = vec![0u8; 512 + 32];
    bytes[..32].copy_from_slice(&slot);
    fs::write(
        journal.join("cursors").join(format!("{sink}.cursor")),
        bytes,
    )
    .expect("cursor");
}

/// The `alert_id` of each journal record, in seq order.
fn journal_ids(journal: &Path) -> Vec<String> {
    ok(&aldebaran(&[
        "journal",
        "dump",
        journal.to_str().expect("utf-8"),
    ]))
    .lines()
    .map(|l| {
        serde_json::from_str::<Value>(l).expect("json")["alert_id"]
            .as_str()
            .expect("alert_id")
            .to_owned()
    })
    .collect()
}

/// A send a crash interrupted is reported with its seq range, its size and
/// the first and last alert ids, in the log warning and the summary line;
/// a small range (16 records at most) lists every id.
#[test]
fn an_in_doubt_range_names_its_first_and_last_alert_ids() {
    let fx = Fx::new();
    let input = fx.trades();
    let archive = fx.p("alerts.jsonl");
    let cfg = fx.config(
        &input,
        &format!("[sinks.archive]\nkind = \"file\"\npath = {}\n", q(&archive)),
    );
    ran(&fx.run(&cfg));
    let journal = fx.p("journal");
    let ids = journal_ids(&journal);
    assert!(ids.len() > 20, "the file should alert: {ids:?}");

    // A large range: the count, the first and last ids, not an empty list.
    crashed_cursor(&journal, "archive", 0, 20);
    let o = fx.run(&cfg);
    let summary = ran(&o);
    let log = String::from_utf8_lossy(&o.stderr);
    let line = summary
        .lines()
        .find(|l| l.contains("sink archive"))
        .unwrap_or_else(|| panic!("{summary}"));
    for needle in ["seq 1..=20", "20 records", &ids[0], &ids[19]] {
        assert!(line.contains(needle), "{needle:?} not in {line:?}");
    }
    assert!(
        !line.contains(&ids[1]),
        "a large range lists no middle id: {line}"
    );
    let warning = log
        .lines()
        .find(|l| l.contains("delivery in doubt"))
        .unwrap_or_else(|| panic!("no in-doubt warning: {log}"));
    for needle in [
        "sink=archive ",
        "from=1",
        "to=20",
        "records=20",
        &ids[0],
        &ids[19],
    ] {
        assert!(warning.contains(needle), "{needle:?} not in {warning:?}");
    }
    assert!(!warning.contains("alert_ids=[]"), "{warning}");

    // A small range lists every id.
    crashed_cursor(&journal, "archive", 2, 5);
    let o = fx.run(&cfg);
    let summary = ran(&o);
    let log = String::from_utf8_lossy(&o.stderr);
    let line = summary
        .lines()
        .find(|l| l.contains("sink archive"))
        .unwrap_or_else(|| panic!("{summary}"));
    let warning = log
        .lines()
        .find(|l| l.contains("delivery in doubt"))
        .unwrap_or_else(|| panic!("no in-doubt warning: {log}"));
    for needle in ["seq 3..=5", "3 records", &ids[2], &ids[3], &ids[4]] {
        assert!(line.contains(needle), "{needle:?} not in {line:?}");
    }
    for needle in ["from=3", "to=5", "records=3", &ids[2], &ids[3], &ids[4]] {
        assert!(warning.contains(needle), "{needle:?} not in {warning:?}");
    }
    assert_eq!(
        fs::read_to_string(&archive)
            .expect("archive")
            .lines()
            .count(),
        ids.len()
    );
}

/// A sink that has shipped from a journal and lost its cursor file refuses
/// to start (starting over would resend or skip what it holds), naming the
/// sink, the file and the reset command; `journal cursors --reset` sets it,
/// refusing while a shipper holds it, and says what it did.
#[test]
fn a_deleted_cursor_refuses_to_start_until_it_is_reset() {
    let fx = Fx::new();
    let input = fx.trades();
    let hook = sink_endpoints::HttpEndpoint::start(0);
    let cfg = fx.config(
        &input,
        &format!("[sinks.hook]\nkind = \"http\"\nurl = \"{}\"\n", hook.url),
    );
    ran(&fx.run(&cfg));
    let journal = fx.p("journal");
    let dir = journal.to_str().expect("utf-8");
    let n = journal_ids(&journal).len();
    assert_eq!(hook.hits().len(), n);

    let cursor = journal.join("cursors").join("hook.cursor");
    fs::remove_file(&cursor).expect("delete the cursor");
    one_line_error(
        &fx.run(&cfg),
        &[
            "\"hook\"",
            "hook.cursor",
            "missing",
            &format!("aldebaran journal cursors --reset hook --to SEQ|head|oldest {dir}"),
        ],
    );
    assert_eq!(hook.hits().len(), n, "nothing was sent again");
    let listing = ok(&aldebaran(&["journal", "cursors", dir]));
    assert!(
        listing.contains("hook") && listing.contains("missing"),
        "{listing}"
    );

    // A typo, or a seq the journal does not have, is refused.
    one_line_error(
        &aldebaran(&[
            "journal", "cursors", "--reset", "hoook", "--to", "head", dir,
        ]),
        &["hoook", "hook"],
    );
    one_line_error(
        &aldebaran(&[
            "journal",
            "cursors",
            "--reset",
            "hook",
            "--to",
            &(n + 1).to_string(),
            dir,
        ]),
        &["hook", &(n + 1).to_string(), &format!("last seq {n}")],
    );

    let done = ok(&aldebaran(&[
        "journal", "cursors", "--reset", "hook", "--to", "head", dir,
    ]));
    assert!(
        done.contains("hook")
            && done.contains("was missing")
            && done.contains(&format!("seq {n}"))
            && done.contains(&format!("seq {}", n + 1)),
        "{done}"
    );
    // While a shipper holds the cursor, the reset is refused.
    let held = fs::File::open(&cursor).expect("cursor");
    held.try_lock().expect("lock");
    one_line_error(
        &aldebaran(&[
            "journal", "cursors", "--reset", "hook", "--to", "oldest", dir,
        ]),
        &["hook", "running"],
    );
    drop(held);

    let again = ran(&fx.run(&cfg));
    assert!(
        again.contains(&format!(
            "sink hook (http, exactly-once): delivered 0, retried 0, failed 0, cursor at seq {n}"
        )),
        "{again}"
    );
    assert_eq!(hook.hits().len(), n, "nothing was sent again");

    // Set back to the oldest record, everything goes again (the receiver
    // deduplicates on the Idempotency-Key).
    let done = ok(&aldebaran(&[
        "journal", "cursors", "--reset", "hook", "--to", "oldest", dir,
    ]));
    assert!(done.contains("seq 0") && done.contains("seq 1"), "{done}");
    ran(&fx.run(&cfg));
    assert_eq!(hook.hits().len(), 2 * n);
}

/// A `stdout` sink's stream holds the alerts and nothing else: `run`'s
/// summary goes to stderr, after the log.
#[test]
fn a_stdout_sink_gets_only_alerts_and_the_summary_goes_to_stderr() {
    let fx = Fx::new();
    let input = fx.trades();
    let cfg = fx.config(&input, "[sinks.screen]\nkind = \"stdout\"\n");
    let o = fx.run(&cfg);
    let summary = ran(&o);
    let ids = journal_ids(&fx.p("journal"));
    assert!(ids.len() > 10, "the file should alert: {summary}");
    let out = String::from_utf8_lossy(&o.stdout);
    let sent: Vec<String> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout line {l:?} is not an alert ({e}):\n{out}"));
            v["alert_id"].as_str().expect("alert_id").to_owned()
        })
        .collect();
    assert_eq!(sent, ids, "stdout is the journal's alerts, in order");
    assert!(
        summary.lines().any(|l| l.starts_with("events ")),
        "no summary on stderr: {summary}"
    );
    assert!(
        summary.contains(&format!(
            "sink screen (stdout, at-least-once): delivered {}",
            ids.len()
        )),
        "{summary}"
    );
}

/// A new sink starts per its `start` key: "oldest" (the default) ships the
/// whole journal, "head" only what is journaled after it first starts.
#[test]
fn a_new_sink_starts_at_the_oldest_record_or_at_the_head() {
    let fx = Fx::new();
    let input = fx.trades();
    let cfg = fx.config(&input, "");
    ran(&fx.run(&cfg));
    let journal = fx.p("journal");
    let n = journal_ids(&journal).len();
    let (all, late) = (fx.p("all.jsonl"), fx.p("late.jsonl"));
    let cfg = fx.config(
        &input,
        &format!(
            "[sinks.all]\nkind = \"file\"\npath = {}\n\
             [sinks.late]\nkind = \"file\"\npath = {}\nstart = \"head\"\n",
            q(&all),
            q(&late)
        ),
    );
    let summary = ran(&fx.run(&cfg));
    assert_eq!(fs::read_to_string(&all).expect("all").lines().count(), n);
    assert_eq!(
        fs::read_to_string(&late)
            .unwrap_or_default()
            .lines()
            .count(),
        0,
        "{summary}"
    );
    let listing = ok(&aldebaran(&[
        "journal",
        "cursors",
        journal.to_str().expect("utf-8"),
    ]));
    let row = listing
        .lines()
        .find(|l| l.starts_with("late"))
        .unwrap_or_else(|| panic!("{listing}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols,
        ["late", "file", "exactly-once", &n.to_string(), "-", "0"]
    );
    let bad = fx.config(&input, "[sinks.x]\nkind = \"stdout\"\nstart = \"tail\"\n");
    one_line_error(&fx.run(&bad), &["\"x\"", "tail"]);
}

/// `GET path` on `addr` (HTTP/1.0); (status, body), or `None` if nothing
/// answers.
fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Polls `what` every 50 ms until it holds; panics with `log()` after 120 s.
#[track_caller]
fn eventually(what: &str, mut holds: impl FnMut() -> bool, log: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !holds() {
        assert!(
            std::time::Instant::now() < deadline,
            "never: {what}\n{}",
            log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// An HTTP sink answering 404 (a wrong URL path) pauses: nothing is
/// dead-lettered, `/healthz` answers 503 naming the sink and the reason,
/// the metrics say paused; once the endpoint answers 200 every alert is
/// delivered, once, and `/healthz` is 200 again.
#[test]
fn a_sink_answering_404_is_paused_and_health_names_it() {
    let fx = Fx::new();
    let input = fx.trades();
    let hook = sink_endpoints::HttpEndpoint::start(0);
    hook.answer.store(404, std::sync::atomic::Ordering::Relaxed);
    let dead = fx.p("hook.dead.jsonl");
    let cfg = fx.config(
        &input,
        &format!(
            "[sinks.hook]\nkind = \"http\"\nurl = \"{}\"\nretry_min_ms = 10\nretry_max_ms = 200\n\
             dead_letter = {}\n",
            hook.url,
            q(&dead)
        ),
    );
    // Follow the file (the service keeps running), with a metrics endpoint.
    let text = fs::read_to_string(&cfg)
        .expect("config")
        .replace("follow = false", "follow = true")
        .replace("listen = \"\"", "listen = \"127.0.0.1:0\"");
    fs::write(&cfg, text).expect("config");
    let log = fx.p("run.log");
    let child = Command::new(BIN)
        .args(["run", "--config", cfg.to_str().expect("utf-8")])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start run");
    let read_log = || fs::read_to_string(&log).unwrap_or_default();
    let mut addr = String::new();
    eventually(
        "the metrics endpoint is logged",
        || {
            let text = read_log();
            let Some(line) = text.lines().find(|l| l.contains("metrics at /metrics")) else {
                return false;
            };
            line.split("addr=")
                .nth(1)
                .and_then(|a| a.split_whitespace().next())
                .map(|a| addr = a.to_owned())
                .is_some()
        },
        read_log,
    );
    let health = || http_get(&addr, "/healthz").unwrap_or_default();
    eventually(
        "/healthz names the paused sink",
        || {
            let (status, body) = health();
            status == 503
                && body.contains("hook")
                && body.contains("paused")
                && body.contains("404")
        },
        || format!("{:?}\n{}", health(), read_log()),
    );
    let (_, body) = health();
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_ne!(v["status"], "ok", "{body}");
    let metrics = http_get(&addr, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("aldebaran_sink_paused{sink=\"hook\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aldebaran_sink_up{sink=\"hook\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aldebaran_sink_failed_total{sink=\"hook\"} 0"),
        "{metrics}"
    );
    assert!(!dead.exists(), "nothing dead-lettered");
    assert!(read_log().contains("sink paused"), "{}", read_log());

    // The sink pauses at its first send, which can come before the whole
    // file is journaled: count the alerts once every line has been read and
    // its batch is durable (the journal then stops growing).
    let lines = fs::read_to_string(&input)
        .expect("input")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let events_in = || {
        http_get(&addr, "/metrics")
            .map(|(_, m)| m)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("aldebaran_events_in_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    eventually(
        "every line of the file is read",
        || events_in() >= lines as f64,
        || format!("{} of {lines} lines read\n{}", events_in(), read_log()),
    );
    let seen = std::cell::Cell::new(journal_ids(&fx.p("journal")).len());
    eventually(
        "the journal stops growing",
        || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let now = journal_ids(&fx.p("journal")).len();
            seen.replace(now) == now
        },
        || format!("{} alerts so far\n{}", seen.get(), read_log()),
    );
    let n = seen.get();
    hook.answer.store(200, std::sync::atomic::Ordering::Relaxed);
    eventually(
        "every alert is delivered and /healthz is 200",
        || hook.hits().len() >= n && health() == (200, "{\"status\":\"ok\"}".to_owned()),
        || {
            format!(
                "{} of {n} delivered, {:?}\n{}",
                hook.hits().len(),
                health(),
                read_log()
            )
        },
    );
    assert!(read_log().contains("sink resumed"), "{}", read_log());
    let st = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let out = child.wait_with_output().expect("wait");
    ok(&out);
    let summary = read_log();
    assert!(
        summary.contains(&format!(
            "sink hook (http, exactly-once): delivered {n}, retried 0, failed 0"
        )),
        "{summary}"
    );
    assert!(!summary.contains("PAUSED"), "{summary}");
    let mut keys: Vec<String> = hook.hits().into_iter().map(|h| h.idempotency_key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "each alert once");
    assert!(!dead.exists(), "nothing dead-lettered");
}
